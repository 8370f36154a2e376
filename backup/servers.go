package backup

import (
	"fmt"
	"net"
	"slices"
	"strings"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// NodeSeen is what a restore observed of one node's server before it
// changed anything.
type NodeSeen struct {
	Reachable bool
	Why       string // unreachable: the connection's error
	// Swarm is the engine's swarm state ("inactive", "active", "pending",
	// "locked", "error"); "" when no engine answered.
	Swarm string
	// Managers are the raft addresses of the managers the engine knows
	// (docker info's RemoteManagers).
	Managers []string
}

// Seen is what a node's engine says of its swarm, as NodeSeen holds it.
func Seen(sw swarmtypes.Info) NodeSeen {
	s := NodeSeen{Reachable: true, Swarm: string(sw.LocalNodeState)}
	for _, p := range sw.RemoteManagers {
		s.Managers = append(s.Managers, p.Addr)
	}
	return s
}

// OfLostCluster tells whether a node's engine, in a swarm, knows the
// managers of the lost cluster described by old (their addresses there):
// then it is a worker of that cluster that survived, and may be made to
// leave the lost swarm. A node in any other swarm is no restore's to
// touch. Pure.
func OfLostCluster(old *inventory.Inventory, s NodeSeen) bool {
	var known []string
	for _, m := range old.Managers() {
		known = append(known, m.Address, swarm.AdvertiseAddr(old, m))
	}
	for _, addr := range s.Managers {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		if slices.Contains(known, host) {
			return true
		}
	}
	return false
}

// ServerPlan says what a restore of a stack does with each node's server
// (ADR 0039).
type ServerPlan struct {
	// Replace are the nodes whose server is gone (unreachable): each gets
	// a new one.
	Replace []string
	// Leave are workers still running in the lost swarm: kept; they leave
	// it and join the restored one.
	Leave []string
	// Keep are reachable servers in no swarm (a new server an interrupted
	// restore made, say): used as they are.
	Keep []string
}

// PlanServers decides, from what was seen of each node of inv (the
// stack's inventory before the restore), which servers a restore
// replaces, which it keeps and which must leave the lost swarm. A manager
// that still runs in a swarm means the cluster is not lost: refused (dr
// recover's work); so is a worker in a swarm whose managers are not the
// lost cluster's (OfLostCluster). Pure.
func PlanServers(inv *inventory.Inventory, seen map[string]NodeSeen) (ServerPlan, error) {
	var p ServerPlan
	var alive, foreign []string
	for _, n := range inv.Nodes {
		s, ok := seen[n.Name]
		switch {
		case !ok:
			return ServerPlan{}, fmt.Errorf("node %s was not observed", n.Name)
		case !s.Reachable:
			p.Replace = append(p.Replace, n.Name)
		case s.Swarm == "" || s.Swarm == "inactive":
			p.Keep = append(p.Keep, n.Name)
		case n.Role == inventory.RoleManager:
			alive = append(alive, fmt.Sprintf("%s (swarm %s)", n.Name, s.Swarm))
		case !OfLostCluster(inv, s):
			foreign = append(foreign, fmt.Sprintf("%s (swarm %s, managers %s)", n.Name, s.Swarm, strings.Join(s.Managers, ", ")))
		default:
			p.Leave = append(p.Leave, n.Name)
		}
	}
	switch {
	case len(alive) > 0:
		return ServerPlan{}, fmt.Errorf("managers %s still run in a swarm: dr restore is for a cluster that lost every manager; with a manager alive use `shoal dr recover`", strings.Join(alive, ", "))
	case len(foreign) > 0:
		return ServerPlan{}, fmt.Errorf("%s in a swarm whose managers are not the lost cluster's: not this cluster's to take over; make them leave (`docker swarm leave --force`) or take them out of the stack", strings.Join(foreign, "; "))
	}
	return p, nil
}
