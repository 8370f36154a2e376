package provider

import (
	"slices"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Teardown demotes managers through the one whose answer counts
// (swarm.Judge) and lets it leave last; a manager cut off from the others is
// not the one.
func TestTeardownOrderDemotesThroughTheManagerWithQuorum(t *testing.T) {
	nodes := []inventory.Node{{Name: "m1"}, {Name: "m2"}, {Name: "m3"}, {Name: "w1"}, {Name: "w2"}}
	engines := map[string]swarm.Engine{"m1": nil, "m2": nil, "m3": nil, "w1": nil}
	mgr := swarm.HostState{Reachable: true, Local: swarm.LocalActive, Manager: true}
	obs := swarm.Observed{
		Hosts: map[string]swarm.HostState{"m1": mgr, "m2": mgr, "m3": mgr,
			"w1": {Reachable: true, Local: swarm.LocalActive}, "w2": {Err: "connect refused"}},
		Asked: []swarm.Answer{
			{Node: "m1", Listed: true, Said: "leader m1, but only 1 of 3 managers reachable"},
			{Node: "m2", Listed: true, Quorum: true, Said: "leader m3, 2 of 3 managers reachable"},
		},
	}
	names := func(ms []member) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	workers, managers, skipped := teardownOrder(nodes, obs, engines)
	if got := names(managers); !slices.Equal(got, []string{"m1", "m3", "m2"}) {
		t.Errorf("managers in order %q, want m2 (the answer that counts) last", got)
	}
	if got := names(workers); !slices.Equal(got, []string{"w1"}) {
		t.Errorf("workers %q", got)
	}
	if why := skipped["w2"]; !strings.Contains(why, "connect refused") {
		t.Errorf("w2 skipped because %q", why)
	}

	// No answer counts: inventory order, the last manager leaves last.
	obs.Asked[1].Quorum = false
	_, managers, _ = teardownOrder(nodes, obs, engines)
	if got := names(managers); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Errorf("without quorum: managers in order %q", got)
	}
}
