package backup

import (
	"fmt"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// NodeSeen is what a restore observed of one node's server before it
// changed anything.
type NodeSeen struct {
	Reachable bool
	Why       string // unreachable: the connection's error
	// Swarm is the engine's swarm state ("inactive", "active", "pending",
	// "locked", "error"); "" when no engine answered.
	Swarm string
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
// recover's work). Pure.
func PlanServers(inv *inventory.Inventory, seen map[string]NodeSeen) (ServerPlan, error) {
	var p ServerPlan
	var alive []string
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
		default:
			p.Leave = append(p.Leave, n.Name)
		}
	}
	if len(alive) > 0 {
		return ServerPlan{}, fmt.Errorf("managers %s still run in a swarm: dr restore is for a cluster that lost every manager; with a manager alive use `shoal dr recover`", strings.Join(alive, ", "))
	}
	return p, nil
}
