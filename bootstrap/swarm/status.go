package swarm

import (
	"sort"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
)

// NodeStatus is one node as `shoal status` shows it.
type NodeStatus struct {
	Name         string `json:"name"`
	Hoster       string `json:"hoster"`
	Region       string `json:"region,omitempty"`
	Role         string `json:"role"`
	State        string `json:"state"`
	Availability string `json:"availability"`
	// Reachability is the manager's raft reachability ("reachable",
	// "unreachable", "unknown"); "n/a" for workers.
	Reachability string `json:"reachability"`
	Leader       bool   `json:"leader"`
	Engine       string `json:"engine_version"`
	Address      string `json:"address"`
	ID           string `json:"id,omitempty"`
	// InInventory is false for swarm nodes the inventory does not list.
	InInventory bool `json:"in_inventory"`
}

// Status is the cluster as seen from one manager, with quorum health.
type Status struct {
	Cluster string `json:"cluster"`
	SwarmID string `json:"swarm_id,omitempty"`
	// SwarmName is the cluster name the swarm records (shoal.cluster);
	// empty for a swarm that records none.
	SwarmName string `json:"swarm_name,omitempty"`
	// Via is the manager whose answer this status shows: the first, in
	// inventory order, that sees a leader and a reachable majority.
	Via string `json:"via,omitempty"`
	// Asked is what each manager asked answered, in order.
	Asked             []Answer     `json:"asked"`
	Nodes             []NodeStatus `json:"nodes"`
	Managers          int          `json:"managers"`
	ManagersReachable int          `json:"managers_reachable"`
	// Quorum is "ok" (every manager reachable), "degraded" (a majority is)
	// or "lost".
	Quorum string `json:"quorum"`
	// CanLose is how many more managers the swarm survives losing.
	CanLose int `json:"can_lose"`
	// HosterRisk names the hosters whose outage alone would lose quorum.
	HosterRisk []string `json:"hoster_risk"`
	// Missing names inventory nodes that are not in the swarm.
	Missing []string `json:"missing"`
}

// Summarize builds the status from the inventory and the node list read
// through a manager. With no member list (no manager answered) every
// inventory node is reported unknown and quorum is lost.
func Summarize(inv *inventory.Inventory, obs Observed) Status {
	st := Status{Cluster: inv.Cluster.Name, Via: obs.Via, Asked: append([]Answer{}, obs.Asked...), Nodes: []NodeStatus{}, HosterRisk: []string{}, Missing: []string{}}
	if obs.Swarm != nil {
		st.SwarmID = obs.Swarm.ID
		st.SwarmName = obs.Swarm.Name
	}
	seen := map[string]bool{}
	perHoster := map[string]int{}
	for _, m := range obs.Members {
		name := m.Labels[LabelNode]
		n, inInv := inv.Node(name)
		if name == "" {
			name = m.Hostname
		}
		ns := NodeStatus{
			Name: name, Hoster: m.Labels[LabelHoster], Region: m.Labels[LabelRegion],
			Role: m.Role, State: m.State, Availability: m.Availability, Reachability: "n/a",
			Leader: m.Leader, Engine: m.Engine, Address: m.Addr, ID: m.ID, InInventory: inInv,
		}
		if inInv {
			seen[name] = true
			if ns.Hoster == "" {
				ns.Hoster = n.Hoster
			}
		}
		if m.Role == "manager" {
			ns.Reachability = m.Reachability
			st.Managers++
			perHoster[ns.Hoster]++
			if m.Reachable() {
				st.ManagersReachable++
			}
		}
		st.Nodes = append(st.Nodes, ns)
	}
	for _, n := range inv.Nodes {
		if seen[n.Name] {
			continue
		}
		st.Missing = append(st.Missing, n.Name)
		if len(obs.Members) == 0 {
			reach := "n/a"
			if n.Role == inventory.RoleManager {
				reach = "unknown"
				st.Managers++
				perHoster[n.Hoster]++
			}
			st.Nodes = append(st.Nodes, NodeStatus{Name: n.Name, Hoster: n.Hoster, Region: n.Region, Role: n.Role,
				State: "unknown", Reachability: reach, Address: n.Address, InInventory: true})
		}
	}
	order := map[string]int{}
	for i, n := range inv.Nodes {
		order[n.Name] = i
	}
	sort.SliceStable(st.Nodes, func(i, j int) bool {
		oi, iok := order[st.Nodes[i].Name]
		oj, jok := order[st.Nodes[j].Name]
		if iok != jok {
			return iok
		}
		if iok {
			return oi < oj
		}
		return st.Nodes[i].Name < st.Nodes[j].Name
	})
	st.Quorum = quorum.Health(st.Managers, st.ManagersReachable)
	if c := st.ManagersReachable - quorum.Majority(st.Managers); c > 0 {
		st.CanLose = c
	}
	st.HosterRisk = append(st.HosterRisk, quorum.HosterRisk(perHoster)...)
	return st
}
