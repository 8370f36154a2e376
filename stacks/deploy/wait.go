package deploy

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// failureWindow is when a watched service's failed tasks start to count.
// Converge counts them from the service's last change; for a service this
// deploy left unchanged, only from when the deploy began (the engine's
// clock), if that is later: failures before it are not this deploy's doing
// (a node lost earlier, a disaster recovery re-forming the swarm, a node
// that was joining), and a re-run of an unchanged stack must not fail on
// them. A service that keeps failing still fails the deploy.
type failureWindow struct {
	unchanged map[string]bool
	begun     time.Time
}

// apply is svc as Converge should judge it.
func (fw failureWindow) apply(svc swarm.Service) swarm.Service {
	if fw.unchanged[svc.ID] && fw.begun.After(svc.UpdatedAt) {
		svc.UpdatedAt = fw.begun
	}
	return svc
}

type watched struct {
	state   ServiceState
	version uint64
}

// wait polls the stack's services until every watched one converged, one
// failed, or o.Timeout passed. It prints a progress line per service when
// its line changes. The result maps service IDs to their last state.
func wait(ctx context.Context, e Engine, stack string, ids []string, fw failureWindow, o Options) (map[string]watched, error) {
	out := map[string]watched{}
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	nodes := map[string]string{}
	if nl, err := e.NodeList(ctx, client.NodeListOptions{}); err == nil {
		for _, n := range nl.Items {
			nodes[n.ID] = n.Description.Hostname
		}
	}
	last := map[string]string{}
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for {
		svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(stack)})
		if err != nil {
			return out, waitErr(ctx, stack, out, o, fmt.Errorf("list services: %w", err))
		}
		f := make(client.Filters)
		for _, id := range ids {
			f.Add("service", id)
		}
		tasks, err := e.TaskList(ctx, client.TaskListOptions{Filters: f})
		if err != nil {
			return out, waitErr(ctx, stack, out, o, fmt.Errorf("list tasks: %w", err))
		}
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		done, failed := 0, []ServiceState{}
		for _, svc := range svcs.Items {
			if !want[svc.ID] {
				continue
			}
			st := Converge(fw.apply(svc), tasks.Items, nodes, o.FailAfter)
			out[svc.ID] = watched{state: st, version: svc.Version.Index}
			if line := st.Line(); line != last[svc.ID] {
				o.Progress.Service(svc.Spec.Name, line)
				last[svc.ID] = line
			}
			switch {
			case st.Failed:
				failed = append(failed, st)
			case st.Converged:
				done++
			}
		}
		if len(failed) > 0 {
			return out, &ConvergeError{Stack: stack, Services: failed}
		}
		if done == len(ids) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, waitErr(ctx, stack, out, o, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitErr turns the end of the wait into a *ConvergeError listing the
// services not converged, when the timeout (not the caller) ended it.
func waitErr(ctx context.Context, stack string, out map[string]watched, o Options, err error) error {
	if ctx.Err() != context.DeadlineExceeded {
		return err
	}
	ce := &ConvergeError{Stack: stack, Timeout: o.Timeout}
	for _, w := range out {
		if !w.state.Converged {
			ce.Services = append(ce.Services, w.state)
		}
	}
	sort.Slice(ce.Services, func(i, j int) bool { return ce.Services[i].Name < ce.Services[j].Name })
	return ce
}
