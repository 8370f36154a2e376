package swarm

import "fmt"

// ForeignSwarmError reports a node that already belongs to a swarm other
// than the one the inventory describes. shoal never re-joins it silently:
// that would tear it out of the other swarm.
type ForeignSwarmError struct {
	Node   string
	Detail string
}

func (e *ForeignSwarmError) Error() string {
	return fmt.Sprintf("node %s is already in another swarm (%s): run `docker swarm leave --force` on it if it really belongs to this cluster, then re-run", e.Node, e.Detail)
}

// QuorumError refuses any swarm change while the managers have no majority:
// raft cannot commit, and that is disaster recovery, not bootstrap.
type QuorumError struct {
	Reachable, Total int
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("manager quorum is lost (%d of %d managers reachable, %d needed): nothing was changed; restore the lost managers or recover the swarm (docker swarm init --force-new-cluster on a surviving manager)", e.Reachable, e.Total, e.Total/2+1)
}

// NodeStateError reports a node whose daemon is in a swarm state bootstrap
// cannot work with (locked, pending, error).
type NodeStateError struct {
	Node, State, Detail string
}

func (e *NodeStateError) Error() string {
	switch e.State {
	case LocalLocked:
		return fmt.Sprintf("node %s is locked (autolock): unlock it with `docker swarm unlock` and the cluster's unlock key, then re-run", e.Node)
	default:
		msg := fmt.Sprintf("node %s reports swarm state %q", e.Node, e.State)
		if e.Detail != "" {
			msg += ": " + e.Detail
		}
		return msg
	}
}
