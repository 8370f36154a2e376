package heal

import (
	"time"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Node roles and the swarm states heal looks at.
const (
	RoleManager = "manager"
	RoleWorker  = "worker"

	StateReady = "ready"
	StateDown  = "down"
)

// NodeInfo is one swarm node as the observer last saw it.
type NodeInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"` // the shoal.node label, else the hostname
	Hostname string `json:"hostname"`
	Role     string `json:"role"`  // manager or worker
	State    string `json:"state"` // ready, down, unknown, disconnected
	// Availability is active, pause or drain.
	Availability string `json:"availability"`
	// Reachability is the manager's raft reachability; "" for workers.
	Reachability string            `json:"reachability,omitempty"`
	Leader       bool              `json:"leader,omitempty"`
	Addr         string            `json:"addr,omitempty"`
	Hoster       string            `json:"hoster,omitempty"`
	Region       string            `json:"region,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// DownSince is when the observer saw the node leave Ready (zero while
	// Ready).
	DownSince time.Time `json:"down_since,omitzero"`
	// Version is the swarm entry's object version when it was read: the
	// record of a new attempt is written with it (compare-and-set), so a
	// decision from a snapshot the node has moved on from is not carried out.
	Version uint64 `json:"version,omitempty"`
	// Locked is set for a manager whose daemon answered over SSH as
	// locked (an autolocked swarm after a restart).
	Locked bool `json:"locked,omitempty"`
}

// Ready tells whether the node is Ready (and, for a manager, reachable).
func (n NodeInfo) Ready() bool {
	if n.State != StateReady {
		return false
	}
	return n.Role != RoleManager || n.Reachability == "reachable"
}

// Snapshot is the swarm as one manager reported it at At.
type Snapshot struct {
	At time.Time `json:"at"`
	// Via is the manager that answered; "" when none did.
	Via   string     `json:"via,omitempty"`
	Nodes []NodeInfo `json:"nodes"`
	// Err says why there is no node list (Nodes is nil).
	Err string `json:"error,omitempty"`
	// NoLeader is set when managers answered but the swarm had no leader:
	// quorum is lost. ManagersAnswered of ManagersKnown managers answered.
	NoLeader         bool `json:"no_leader,omitempty"`
	ManagersAnswered int  `json:"managers_answered,omitempty"`
	ManagersKnown    int  `json:"managers_known,omitempty"`
}

// Node returns the node called name.
func (s Snapshot) Node(name string) (NodeInfo, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// nodeInfo converts a swarm member (without DownSince).
func nodeInfo(m swarm.Member) NodeInfo {
	name := m.Name()
	if name == "" { // a node that is joining right now has no description yet
		name = "node-" + m.ID
	}
	return NodeInfo{
		ID: m.ID, Name: name, Hostname: m.Hostname, Role: m.Role, State: m.State,
		Availability: m.Availability, Reachability: m.Reachability, Leader: m.Leader, Addr: m.Addr,
		Hoster: m.Labels[swarm.LabelHoster], Region: m.Labels[swarm.LabelRegion], Labels: m.Labels,
		Version: m.Version,
	}
}

// NodeSpec is what a node should be: the desired spec's entry for it, or
// what a replacement or a new spare is created as.
type NodeSpec struct {
	Name   string            `json:"name"`
	Role   string            `json:"role"`
	Hoster string            `json:"hoster"`
	Region string            `json:"region,omitempty"`
	Labels map[string]string `json:"labels,omitempty"` // the user's labels, without shoal's
	Spare  bool              `json:"spare,omitempty"`
}

// Desired is the cluster spec heal restores.
type Desired struct {
	Cluster  string
	Nodes    []NodeSpec
	Autolock bool
	// SameName is set when a replacement keeps the dead node's name (the
	// actor is a NameKeeper: with Pulumi the logical name is the node's
	// identity and only its server changes). The dead entry and its
	// replacement then share the name until the dead entry is removed,
	// which the actor's ReplaceServer does itself.
	SameName bool
}

// Node returns the spec of node name.
func (d Desired) Node(name string) (NodeSpec, bool) {
	for _, n := range d.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return NodeSpec{}, false
}
