package infra

import (
	"strings"
	"testing"

	"github.com/shoalops/shoal/infra/node"
)

func successorSpec3p2() Spec {
	return Spec{Cluster: "c", Pools: []Pool{
		{Name: "ma", Provider: "local", Hoster: "hoster-a", Role: "manager", Count: 1},
		{Name: "mb", Provider: "local", Hoster: "hoster-b", Role: "manager", Count: 1},
		{Name: "mc", Provider: "hcloud", Hoster: "hetzner", Role: "manager", Count: 1, Type: "cx22", Location: "fsn1", Image: "debian-12"},
		{Name: "w", Provider: "local", Hoster: "hoster-a", Role: "worker", Count: 2, Labels: map[string]string{"disk": "ssd"}},
	}, Generations: map[string]int{"w-1-r1": 2}}
}

func names(ns []node.Spec) string {
	var out []string
	for _, n := range ns {
		s := n.Name + "@" + n.Hoster
		if n.Type != "" {
			s += ":" + n.Type
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestPlace(t *testing.T) {
	s := successorSpec3p2()
	tests := []struct {
		name     string
		deployed []Successor
		r        *Replacement
		want     string
	}{
		{"nothing replaced: the pools' nodes", nil, nil,
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-2@hoster-a"},
		{"the first run adds the successor right after the node it succeeds, which stays", nil,
			&Replacement{Node: "w-1", Successor: "w-1-r1"},
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-1-r1@hoster-a w-2@hoster-a"},
		{"the last run puts the successor in the node's place", []Successor{{Slot: "w-1", Name: "w-1-r1", Joining: true}},
			&Replacement{Node: "w-1", Successor: "w-1-r1", Done: true},
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1-r1@hoster-a w-2@hoster-a"},
		{"a later run keeps a deployed successor", []Successor{{Slot: "w-1", Name: "w-1-r1"}}, nil,
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1-r1@hoster-a w-2@hoster-a"},
		{"a later run keeps an unfinished replacement as it is: both nodes", []Successor{{Slot: "w-1", Name: "w-1-r1", Joining: true}}, nil,
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-1-r1@hoster-a w-2@hoster-a"},
		{"--type changes the successor's type only", nil,
			&Replacement{Node: "w-2", Successor: "w-2-r1", Type: "fresh", Done: true},
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-2-r1@hoster-a:fresh"},
		{"a successor replaced again keeps its type unless told", []Successor{{Slot: "w-2", Name: "w-2-r1", Type: "fresh"}},
			&Replacement{Node: "w-2-r1", Successor: "w-2-r2", Done: true},
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-2-r2@hoster-a:fresh"},
		{"--hoster takes the pool there: its provider, location and type", nil,
			&Replacement{Node: "w-1", Successor: "w-1-r1", Hoster: "hetzner", Done: true},
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1-r1@hetzner:cx22 w-2@hoster-a"},
		{"deployed successors of slots the pools no longer have are dropped", []Successor{{Slot: "w-3", Name: "w-3-r1"}}, nil,
			"ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1@hoster-a w-2@hoster-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Place(tt.deployed, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tt.want {
				t.Errorf("Place =\n  %s\nwant\n  %s", names(got), tt.want)
			}
		})
	}
}

func TestPlaceSuccessorIsTheNodeUnderANewName(t *testing.T) {
	s := successorSpec3p2()
	pl, err := s.place(nil, &Replacement{Node: "w-1", Successor: "w-1-r1", Hoster: "hetzner"})
	if err != nil {
		t.Fatal(err)
	}
	var got placed
	for _, p := range pl {
		if p.spec.Name == "w-1-r1" {
			got = p
		}
	}
	n := got.spec
	if n.Role != "worker" || n.Labels["disk"] != "ssd" || n.Provider != "hcloud" || n.Location != "fsn1" || n.Image != "debian-12" || n.Pool != "mc" || n.Generation != 2 {
		t.Errorf("successor spec %+v", n)
	}
	if got.succ == nil || *got.succ != (Successor{Slot: "w-1", Name: "w-1-r1", Hoster: "hetzner", Joining: true}) {
		t.Errorf("successor record %+v", got.succ)
	}
}

func TestPlaceRefuses(t *testing.T) {
	s := successorSpec3p2()
	tests := []struct {
		name     string
		deployed []Successor
		r        Replacement
		want     string
	}{
		{"an unknown node", nil, Replacement{Node: "w-9", Successor: "w-9-r1"}, "replace w-9: no such node in the stack (nodes: ma-1, mb-1, mc-1, w-1, w-2)"},
		{"a node already replaced, by its old name", []Successor{{Slot: "w-1", Name: "w-1-r1"}}, Replacement{Node: "w-1", Successor: "w-1-r2"}, "no such node"},
		{"a taken successor name", nil, Replacement{Node: "w-1", Successor: "w-2"}, `successor name "w-2" is empty or taken`},
		{"a second replacement while one is unfinished", []Successor{{Slot: "w-1", Name: "w-1-r1", Joining: true}}, Replacement{Node: "w-1", Successor: "w-1-r2"}, "w-1-r1 is already joining in its place"},
		{"a hoster without a pool", nil, Replacement{Node: "w-1", Successor: "w-1-r1", Hoster: "ovh"}, "hoster ovh has no pool in shoal:pools (hosters: hoster-a, hoster-b, hetzner)"},
		{"a manager moved where its hoster would hold a majority", nil, Replacement{Node: "mb-1", Successor: "mb-1-r1", Hoster: "hoster-a", Done: true}, `hoster "hoster-a" holds 2 of 3 managers`},
		{"the check sees the layout the swap ends in, also while the successor joins", nil, Replacement{Node: "mb-1", Successor: "mb-1-r1", Hoster: "hoster-a"}, `hoster "hoster-a" holds 2 of 3 managers`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Place(tt.deployed, &tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Place = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPlaceFinishesAJoiningSuccessorAsItWasCreated(t *testing.T) {
	s := successorSpec3p2()
	deployed := []Successor{{Slot: "w-1", Name: "w-1-r1", Hoster: "hetzner", Type: "cx32", Joining: true}}
	got, err := s.Place(deployed, &Replacement{Node: "w-1", Successor: "w-1-r1", Done: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ma-1@hoster-a mb-1@hoster-b mc-1@hetzner:cx22 w-1-r1@hetzner:cx32 w-2@hoster-a"; names(got) != want {
		t.Errorf("Place =\n  %s\nwant\n  %s", names(got), want)
	}
}

func TestUnfinishedNamesTheNodeEachJoiningSuccessorReplaces(t *testing.T) {
	got := Unfinished([]Successor{
		{Slot: "w-1", Name: "w-1-r1", Joining: true},
		{Slot: "w-2", Name: "w-2-r1"},
		{Slot: "w-2", Name: "w-2-r2", Joining: true},
		{Slot: "ma-1", Name: "ma-1-r1"},
	})
	if len(got) != 2 || got["w-1"].Name != "w-1-r1" || got["w-2-r1"].Name != "w-2-r2" {
		t.Errorf("Unfinished = %+v", got)
	}
}

func TestPlaceRefusesANodeThatKeepsAStacksData(t *testing.T) {
	s := successorSpec3p2()
	s.Platform.Stacks.Portainer = ShippedStack{Enabled: true, Node: "ma-1"}
	_, err := s.Place(nil, &Replacement{Node: "ma-1", Successor: "ma-1-r1"})
	if err == nil || !strings.Contains(err.Error(), "it keeps the data of the portainer stack (shoal:stacks.portainer.node is ma-1") {
		t.Fatalf("Place = %v, want a refusal naming portainer's data", err)
	}
	if _, err := s.Place(nil, &Replacement{Node: "mb-1", Successor: "mb-1-r1"}); err != nil {
		t.Errorf("another manager: %v", err)
	}
	s.Platform.Stacks.Portainer.Enabled = false
	if _, err := s.Place(nil, &Replacement{Node: "ma-1", Successor: "ma-1-r1"}); err != nil {
		t.Errorf("a disabled stack keeps no data: %v", err)
	}
}
