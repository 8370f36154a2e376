package host

import (
	"context"
	"fmt"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// Report says what was found and planned on one host, and what was done.
type Report struct {
	Facts Facts
	Plan  HostPlan
	Done  []Action
}

// Observe gathers the facts of one host and plans its preparation. It
// changes nothing.
func Observe(ctx context.Context, r remote.Runner, o Options) (Report, error) {
	return observe(ctx, r, o, Gather)
}

// ObserveManager is Observe on a swarm manager: its facts also hold its
// answer to the swarm questions (GatherManager).
func ObserveManager(ctx context.Context, r remote.Runner, o Options) (Report, error) {
	return observe(ctx, r, o, GatherManager)
}

func observe(ctx context.Context, r remote.Runner, o Options, gather func(context.Context, remote.Runner) (Facts, error)) (Report, error) {
	f, err := gather(ctx, r)
	if err != nil {
		return Report{}, err
	}
	p, err := Plan(f, o)
	if err != nil {
		return Report{Facts: f}, err
	}
	return Report{Facts: f, Plan: p}, nil
}

// Apply runs the planned actions in order and records each one done. It
// stops at the first that fails.
func Apply(ctx context.Context, r remote.Runner, rep *Report) error {
	for _, a := range rep.Plan.Actions {
		if _, err := r.Run(ctx, a.Cmd); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		rep.Done = append(rep.Done, a)
	}
	return nil
}
