package backup

import (
	"slices"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

func TestPlanServers(t *testing.T) {
	inv := &inventory.Inventory{Nodes: []inventory.Node{
		{Name: "m1", Role: "manager", Address: "10.0.0.1"}, {Name: "m2", Role: "manager", Address: "10.0.0.2", AdvertiseAddress: "192.168.0.2"},
		{Name: "m3", Role: "manager", Address: "10.0.0.3"}, {Name: "w1", Role: "worker", Address: "10.0.0.4"}, {Name: "w2", Role: "worker", Address: "10.0.0.5"},
	}}
	gone := NodeSeen{Why: "connection refused"}
	lost := []string{"10.0.0.3:2377", "192.168.0.2:2377"} // m3, and m2 by its advertise address
	for _, c := range []struct {
		name                 string
		seen                 map[string]NodeSeen
		replace, leave, keep []string
		err                  string
	}{
		{name: "every server gone",
			seen:    map[string]NodeSeen{"m1": gone, "m2": gone, "m3": gone, "w1": gone, "w2": gone},
			replace: []string{"m1", "m2", "m3", "w1", "w2"}},
		{name: "managers gone, a worker still in the lost swarm, one in no swarm",
			seen:    map[string]NodeSeen{"m1": gone, "m2": gone, "m3": gone, "w1": {Reachable: true, Swarm: "active", Managers: lost}, "w2": {Reachable: true, Swarm: "inactive"}},
			replace: []string{"m1", "m2", "m3"}, leave: []string{"w1"}, keep: []string{"w2"}},
		{name: "an interrupted restore: new servers in no swarm, one with its engine stopped",
			seen:    map[string]NodeSeen{"m1": {Reachable: true, Swarm: "inactive"}, "m2": {Reachable: true}, "m3": gone, "w1": gone, "w2": gone},
			replace: []string{"m3", "w1", "w2"}, keep: []string{"m1", "m2"}},
		{name: "a manager alive",
			seen: map[string]NodeSeen{"m1": gone, "m2": {Reachable: true, Swarm: "active"}, "m3": {Reachable: true, Swarm: "locked"}, "w1": gone, "w2": gone},
			err:  "managers m2 (swarm active), m3 (swarm locked) still run in a swarm"},
		{name: "a worker in another swarm",
			seen: map[string]NodeSeen{"m1": gone, "m2": gone, "m3": gone, "w1": {Reachable: true, Swarm: "active", Managers: []string{"10.9.9.9:2377"}}, "w2": gone},
			err:  "w1 (swarm active, managers 10.9.9.9:2377) in a swarm whose managers are not the lost cluster's"},
		{name: "a worker in a swarm that knows no manager",
			seen: map[string]NodeSeen{"m1": gone, "m2": gone, "m3": gone, "w1": {Reachable: true, Swarm: "pending"}, "w2": gone},
			err:  "w1 (swarm pending, managers ) in a swarm whose managers are not the lost cluster's"},
		{name: "a node not observed",
			seen: map[string]NodeSeen{"m1": gone},
			err:  "node m2 was not observed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanServers(inv, c.seen)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				if c.err[:8] == "managers" && !strings.Contains(err.Error(), "shoal dr recover") {
					t.Errorf("the refusal does not name dr recover: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Replace, c.replace) || !slices.Equal(p.Leave, c.leave) || !slices.Equal(p.Keep, c.keep) {
				t.Errorf("replace %v leave %v keep %v, want %v %v %v", p.Replace, p.Leave, p.Keep, c.replace, c.leave, c.keep)
			}
		})
	}
}
