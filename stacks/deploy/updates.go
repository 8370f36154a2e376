package deploy

import (
	"time"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// DefaultMonitor is how long after each task's update the swarm watches it
// for failure, for services whose compose file says nothing.
const DefaultMonitor = 10 * time.Second

// ApplyUpdateDefaults gives every service of a loaded stack safe update and
// rollback settings, field by field wherever its compose file sets none:
// update_config parallelism 1, failure_action rollback, monitor
// DefaultMonitor, order start-first (a new task runs before the old one
// stops: no gap), but stop-first for a service that publishes a port in
// host mode (two tasks on one node cannot bind the same port);
// rollback_config parallelism 1, failure_action pause, and the update's
// monitor and order. What the file sets always wins.
func ApplyUpdateDefaults(cfg *composetypes.Config) {
	one := uint64(1)
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		order := "start-first"
		for _, p := range svc.Ports {
			if p.Mode == "host" {
				order = "stop-first"
			}
		}
		u := svc.Deploy.UpdateConfig
		if u == nil {
			u = &composetypes.UpdateConfig{}
			svc.Deploy.UpdateConfig = u
		}
		if u.Parallelism == nil {
			u.Parallelism = &one
		}
		if u.FailureAction == "" {
			u.FailureAction = "rollback"
		}
		if u.Monitor == 0 {
			u.Monitor = composetypes.Duration(DefaultMonitor)
		}
		if u.Order == "" {
			u.Order = order
		}
		r := svc.Deploy.RollbackConfig
		if r == nil {
			r = &composetypes.UpdateConfig{}
			svc.Deploy.RollbackConfig = r
		}
		if r.Parallelism == nil {
			r.Parallelism = &one
		}
		if r.FailureAction == "" {
			r.FailureAction = "pause"
		}
		if r.Monitor == 0 {
			r.Monitor = u.Monitor
		}
		if r.Order == "" {
			r.Order = u.Order
		}
	}
}
