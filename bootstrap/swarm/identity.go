package swarm

import (
	"fmt"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// ClusterNameError refuses an inventory that reaches a swarm belonging to
// another cluster: the swarm records a different cluster name (Swarm), or
// records none and has members this inventory does not list (Strangers).
// Nothing is changed; `shoal bootstrap --adopt` takes the swarm over.
type ClusterNameError struct {
	Inventory string   // the inventory's cluster.name
	Swarm     string   // the name the swarm records; empty: unnamed
	SwarmID   string   // the swarm's ID
	Via       string   // the manager that answered
	Strangers []string // members of an unnamed swarm the inventory does not list
}

func (e *ClusterNameError) Error() string {
	where := fmt.Sprintf("the swarm reached through %s (swarm %s)", e.Via, short(e.SwarmID))
	if e.Swarm != "" {
		return fmt.Sprintf("inventory cluster.name is %q but %s belongs to cluster %q: nothing was changed; use the inventory of cluster %q, or run `shoal bootstrap --adopt` to rename the swarm to %q",
			e.Inventory, where, e.Swarm, e.Swarm, e.Inventory)
	}
	return fmt.Sprintf("%s records no cluster name and has nodes the inventory of cluster %q does not list (%s): nothing was changed; run `shoal bootstrap --adopt` to take it over as cluster %q",
		where, e.Inventory, strings.Join(e.Strangers, ", "), e.Inventory)
}

// checkClusterName decides whether the swarm obs reaches may be used under
// the inventory's cluster.name, and whether the name must be recorded:
//   - no swarm yet: nothing to check (the Init step records the name);
//   - the swarm records the inventory's name: go on;
//   - it records another name: refused, unless adopt (then renamed);
//   - it records none (made by hand, or by a shoal before names were
//     recorded): accepted and named when every member is a node of this
//     inventory, else refused unless adopt.
//
// A member is a node of the inventory when an inventory host reports its
// node ID, or when its shoal.node label names an inventory node (a host that
// cannot be reached, or a stale entry of a rebuilt one).
func checkClusterName(inv *inventory.Inventory, obs Observed, adopt bool) (*Step, error) {
	if obs.Swarm == nil {
		return nil, nil
	}
	want := inv.Cluster.Name
	have := obs.Swarm.Name
	if have == want {
		return nil, nil
	}
	step := &Step{Action: NameCluster, Node: obs.Via, ClusterName: want}
	if have != "" {
		if !adopt {
			return nil, &ClusterNameError{Inventory: want, Swarm: have, SwarmID: obs.Swarm.ID, Via: obs.Via}
		}
		step.Why = fmt.Sprintf("adopted (--adopt): the swarm was cluster %q", have)
		return step, nil
	}
	if adopt {
		step.Why = "adopted (--adopt): the swarm recorded no cluster name"
		return step, nil
	}
	ours := map[string]bool{}
	for _, n := range inv.Nodes {
		if h := obs.Hosts[n.Name]; h.Reachable && h.Local == LocalActive && h.NodeID != "" {
			ours[h.NodeID] = true
		}
	}
	var strangers []string
	for _, m := range obs.Members {
		if ours[m.ID] {
			continue
		}
		if _, ok := inv.Node(m.Labels[LabelNode]); ok {
			continue
		}
		label := m.Hostname
		if name := m.Labels[LabelNode]; name != "" {
			label = name
		}
		strangers = append(strangers, fmt.Sprintf("%s (%s, %s)", label, m.Role, short(m.ID)))
	}
	if len(strangers) > 0 {
		return nil, &ClusterNameError{Inventory: want, SwarmID: obs.Swarm.ID, Via: obs.Via, Strangers: strangers}
	}
	step.Why = "the swarm records no cluster name and every member is a node of this inventory"
	return step, nil
}
