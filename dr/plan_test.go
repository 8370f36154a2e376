package dr

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

func alive(name, hoster string, term, index uint64) Manager {
	return Manager{Name: name, Hoster: hoster, Reachable: true, Local: swarm.LocalActive, Control: true, ClusterID: "cluster-1",
		Advertise: "10.0.0." + name[1:], Raft: &RaftState{Term: term, Index: index, Commit: index}}
}

func dead(name, hoster string) Manager {
	return Manager{Name: name, Hoster: hoster, Err: "dial tcp: no route to host"}
}

func kinds(p Plan) string {
	var out []string
	for _, s := range p.Steps {
		k := string(s.Kind)
		if s.Node != "" {
			k += " " + s.Node
		}
		if s.New != "" {
			k += "->" + s.New
		}
		out = append(out, k)
	}
	return strings.Join(out, "; ")
}

func TestCompute(t *testing.T) {
	unread := alive("m3", "c", 0, 0)
	unread.Raft, unread.RaftErr = nil, "sudo: a password is required"
	locked := Manager{Name: "m2", Hoster: "b", Reachable: true, Local: swarm.LocalLocked}
	other := alive("m3", "c", 9, 9)
	other.ClusterID = "cluster-2"
	inactive := Manager{Name: "m3", Hoster: "c", Reachable: true, Local: swarm.LocalInactive}

	cases := []struct {
		name     string
		obs      Observed
		req      Request
		survivor string
		steps    string
		refused  string // part of the reason
		decide   string // part of what a human must decide
		notes    string
	}{
		{
			name:     "two of three dead on a lab: re-form on the survivor, replace both",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), dead("m3", "c")}},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; remove entry m2; remove entry m3; replace manager m2->m2-r1; replace manager m3->m3-r1; check services",
		},
		{
			name:     "two alive without quorum (a split): the more recent term wins over the longer log, the other rejoins",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 90), alive("m2", "b", 3, 50), dead("m3", "c")}},
			survivor: "m2",
			steps:    "force new cluster m2; wait leader m2; rejoin m1; remove entry m3; replace manager m3->m3-r1; check services",
		},
		{
			name:     "same term: the longer log wins",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 3, 40), alive("m2", "b", 3, 41), dead("m3", "c"), dead("m4", "d"), dead("m5", "e")}},
			survivor: "m2",
			steps:    "force new cluster m2; wait leader m2; rejoin m1; remove entry m3; remove entry m4; remove entry m5; replace manager m3->m3-r1; replace manager m4->m4-r1; replace manager m5->m5-r1; check services",
		},
		{
			name:     "a tie goes to inventory order",
			obs:      Observed{Source: SourceLab, Managers: []Manager{dead("m1", "a"), alive("m2", "b", 3, 40), alive("m3", "c", 3, 40)}},
			survivor: "m2",
			steps:    "force new cluster m2; wait leader m2; rejoin m3; remove entry m1; replace manager m1->m1-r1; check services",
		},
		{
			name:     "a plain inventory: quorum restored, missing servers are the operator's",
			obs:      Observed{Source: SourceInventory, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), dead("m3", "c")}, DownWorkers: []string{"w2"}},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; remove entry m2; remove entry m3; check services",
			notes: "m2 (b) is gone: start a new server at b, put it in the inventory in m2's place as a manager, and run `shoal bootstrap`; until then the swarm has 1 of 3 managers|" +
				"m3 (c) is gone: start a new server at c, put it in the inventory in m3's place as a manager, and run `shoal bootstrap`; until then the swarm has 1 of 3 managers|" +
				"workers w2 did not answer: heal replaces them once quorum is back (`shoal heal --once`), or bring them back by hand",
		},
		{
			name:     "an alive manager out of the swarm rejoins, it is no survivor",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), inactive}},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; rejoin m3; remove entry m2; replace manager m2->m2-r1; check services",
		},
		{
			name:     "a replacement's replacement is named by generation",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2-r1", "b"), dead("m3", "c")}},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; remove entry m2-r1; remove entry m3; replace manager m2-r1->m2-r2; replace manager m3->m3-r1; check services",
		},
		{
			name:     "the only survivor is used even when its raft state could not be read",
			obs:      Observed{Source: SourceLab, Managers: []Manager{dead("m1", "a"), dead("m2", "b"), unread}},
			survivor: "m3",
			steps:    "force new cluster m3; wait leader m3; remove entry m1; remove entry m2; replace manager m1->m1-r1; replace manager m2->m2-r1; check services",
		},
		{
			name:     "--from chooses a survivor that is behind, and the plan says what is lost",
			obs:      Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), alive("m2", "b", 2, 45), dead("m3", "c")}},
			req:      Request{From: "m1"},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; rejoin m2; remove entry m3; replace manager m3->m3-r1; check services",
		},
		{
			name:     "--force with quorum",
			obs:      Observed{Source: SourceLab, Quorum: true, Via: "m1", Managers: []Manager{alive("m1", "a", 2, 40), alive("m2", "b", 2, 40), dead("m3", "c")}},
			req:      Request{Force: true},
			survivor: "m1",
			steps:    "force new cluster m1; wait leader m1; rejoin m2; remove entry m3; replace manager m3->m3-r1; check services",
		},

		{name: "quorum exists", obs: Observed{Quorum: true, Via: "m2", Managers: []Manager{alive("m1", "a", 2, 40), alive("m2", "b", 2, 40), dead("m3", "c")}},
			refused: "the swarm has quorum (m2 answered", decide: "pass --force"},
		{name: "no manager alive", obs: Observed{Managers: []Manager{dead("m1", "a"), dead("m2", "b"), dead("m3", "c")}},
			refused: "no manager is alive", decide: "bring one manager's server back"},
		{name: "a locked survivor", obs: Observed{Managers: []Manager{alive("m1", "a", 2, 40), locked, dead("m3", "c")}},
			refused: "m2 restarted locked", decide: "docker swarm unlock"},
		{name: "survivors of two swarms", obs: Observed{Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), other}},
			refused: "different swarms", decide: "which swarm is the cluster's"},
		{name: "a survivor's raft state unread among several", obs: Observed{Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), unread}},
			refused: "m3: sudo: a password is required", decide: "pass --from NAME"},
		{name: "--from a dead manager", obs: Observed{Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), dead("m3", "c")}}, req: Request{From: "m2"},
			refused: "--from m2: not an alive manager", decide: "which alive manager"},
		{name: "no manager in the inventory", obs: Observed{}, refused: "names no manager", decide: "role: manager"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compute(c.obs, c.req)
			if c.refused != "" {
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a *RefusedError", err)
				}
				if !strings.Contains(re.Reason, c.refused) || !strings.Contains(re.Decide, c.decide) {
					t.Errorf("refusal = %q / %q, want %q / %q", re.Reason, re.Decide, c.refused, c.decide)
				}
				if !strings.Contains(err.Error(), "nothing was changed") {
					t.Errorf("refusal does not say nothing was changed: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Survivor.Name != c.survivor {
				t.Errorf("survivor = %s (%s), want %s", p.Survivor.Name, p.Why, c.survivor)
			}
			if got := kinds(p); got != c.steps {
				t.Errorf("steps:\n got %s\nwant %s", got, c.steps)
			}
			if c.notes != "" {
				if got := strings.Join(p.Notes, "|"); got != c.notes {
					t.Errorf("notes:\n got %s\nwant %s", got, c.notes)
				}
			}
		})
	}
}

func TestComputeSaysWhy(t *testing.T) {
	obs := Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), alive("m2", "b", 2, 45), dead("m3", "c")}}
	p, err := Compute(obs, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "m2 has the most recent raft state (term 2 index 45 commit 45; m1 term 2 index 40 commit 40)"; p.Why != want {
		t.Errorf("why = %q, want %q", p.Why, want)
	}
	p, err = Compute(obs, Request{From: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Why, "m2 is further") || !strings.Contains(p.Why, "changes only m2 holds are lost") {
		t.Errorf("why = %q: does not warn that m1 is behind m2", p.Why)
	}
	if !strings.Contains(p.Steps[0].Text, "advertise 10.0.0.1") {
		t.Errorf("the re-forming step does not name the advertise address: %q", p.Steps[0].Text)
	}
}
