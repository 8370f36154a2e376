package bootstrap

import (
	"slices"

	swarmapi "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/bootstrap/host"
)

// restartsSwarmManager tells whether hr's plan restarts the engine of a
// manager of an active swarm: while it restarts, that manager is out of the
// swarm's quorum.
func restartsSwarmManager(hr host.Report) bool {
	f := hr.Facts
	if !f.Running() || f.Engine.Swarm.LocalNodeState != swarmapi.LocalNodeStateActive || !f.Engine.Swarm.ControlAvailable {
		return false
	}
	return slices.ContainsFunc(hr.Plan.Actions, func(a host.Action) bool { return a.Name == host.ActionRestartDocker })
}

// prepareWaves orders host preparation (nodes in inventory order): every
// node whose plan restarts no swarm manager's engine goes in the first wave,
// together with the first manager that restarts; every other restarting
// manager gets a wave of its own, so that managers restart one at a time
// and the next one starts only after the previous one is back in the swarm
// (two managers of three down at once is a swarm without quorum). Nodes
// without actions are left out.
func prepareWaves(order []string, hosts map[string]host.Report) [][]string {
	var first []string
	var later [][]string
	managerInFirst := false
	for _, name := range order {
		hr, ok := hosts[name]
		if !ok || len(hr.Plan.Actions) == 0 {
			continue
		}
		switch {
		case !restartsSwarmManager(hr):
			first = append(first, name)
		case !managerInFirst:
			first = append(first, name)
			managerInFirst = true
		default:
			later = append(later, []string{name})
		}
	}
	if len(first) == 0 {
		return later
	}
	return append([][]string{first}, later...)
}
