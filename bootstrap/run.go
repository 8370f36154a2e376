package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Progress receives one line per node per step (swarm.Progress).
type Progress = swarm.Progress

// Options tune Run.
type Options struct {
	// DryRun observes and plans, and changes nothing.
	DryRun bool
	// Parallel bounds how many hosts are worked on at once (default 16).
	Parallel int
	// Dial says how to reach hosts; see DialOptions.
	Dial remote.DialOptions
	// Confirm is asked before a plan that demotes or removes a manager or
	// removes a node; nil refuses such plans.
	Confirm func(p swarm.Plan) bool
	// Exec tunes the swarm executor.
	Exec swarm.ExecOptions
	// Prune removes swarm members that shoal manages (label shoal.node)
	// but the inventory no longer lists (see swarm.ComputeOptions). Such a
	// plan is destructive: Confirm is asked.
	Prune bool
	// Departing are nodes that left the inventory and are still in the
	// swarm: Run connects to them (one attempt each, with the inventory's
	// SSH settings) only so that they can `swarm leave` before their entry
	// is removed. They are not prepared, joined or labelled. One that
	// cannot be reached is removed by force.
	Departing []inventory.Node
	// Adopt takes over a swarm that records another cluster name (or none,
	// while it has members the inventory does not list) and records the
	// inventory's cluster.name in it; see swarm.ComputeOptions.
	Adopt bool
	Log   *slog.Logger
}

// Report is what Run found and did.
type Report struct {
	Hosts  map[string]host.Report `json:"-"`
	Plan   swarm.Plan             `json:"-"`
	Result swarm.Result           `json:"-"`
}

// HostActions lists, per node, the host preparation actions (done, or
// planned under DryRun).
func (r Report) HostActions() map[string][]string {
	out := map[string][]string{}
	for n, h := range r.Hosts {
		for _, a := range h.Done {
			out[n] = append(out[n], a.Name)
		}
	}
	return out
}

// Changed tells whether the run changed (or, under DryRun, would change)
// anything.
func (r Report) Changed() bool {
	return len(r.HostActions()) > 0 || !r.Plan.Empty()
}

// RefusedError is a run stopped by a safety rule or the operator before
// anything in the swarm changed.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// NotConvergedError reports nodes a run could not bring into the swarm.
type NotConvergedError struct{ Blocked []swarm.Blocked }

func (e *NotConvergedError) Error() string {
	msg := fmt.Sprintf("%d node(s) not converged:", len(e.Blocked))
	for _, b := range e.Blocked {
		msg += fmt.Sprintf("\n  %s: %s", b.Node, b.Reason)
	}
	return msg + "\nfix what blocks them and re-run; finished steps are skipped"
}

// Run converges the hosts of inv into the swarm it describes: connect,
// prepare each host, observe, plan, execute. inv must be validated.
func Run(ctx context.Context, inv *inventory.Inventory, o Options, prog Progress) (Report, error) {
	rep := Report{Hosts: map[string]host.Report{}}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	for _, d := range o.Departing {
		if _, ok := inv.Node(d.Name); ok {
			return rep, fmt.Errorf("node %s is listed as departing but is in the inventory", d.Name)
		}
	}
	fleet := Connect(ctx, inv, nil, o.Dial, o.Parallel, prog)
	defer fleet.Close()
	if len(fleet.Fatal) > 0 {
		return rep, errors.Join(fleet.Fatal...)
	}
	departing := departingInventory(inv, o.Departing)
	if o.Prune && len(o.Departing) > 0 {
		connectDeparting(ctx, departing, fleet, o, prog, log)
	}

	// Prepare every reachable host in parallel.
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism(o.Parallel))
	var prepErrs []error
	for _, n := range inv.Nodes {
		c, ok := fleet.Conns[n.Name]
		if !ok {
			continue
		}
		g.Go(func() error {
			prog.Node(n.Name, "prepare host ...")
			hr, err := host.Prepare(gctx, c, o.DryRun)
			mu.Lock()
			defer mu.Unlock()
			rep.Hosts[n.Name] = hr
			if err != nil {
				prepErrs = append(prepErrs, fmt.Errorf("prepare %s: %w", c.Target(), err))
				prog.Node(n.Name, "prepare host failed")
				return nil
			}
			prog.Node(n.Name, describePrep(hr, o.DryRun))
			return nil
		})
	}
	_ = g.Wait()
	if len(prepErrs) > 0 {
		return rep, errors.Join(prepErrs...)
	}
	// A new docker group membership only applies to a new SSH session.
	for name, hr := range rep.Hosts {
		if hr.Reconnect {
			fleet.Conns[name].Close()
			delete(fleet.Conns, name)
			re := Connect(ctx, inv, []string{name}, o.Dial, 1, prog)
			if len(re.Fatal) > 0 {
				return rep, errors.Join(re.Fatal...)
			}
			for k, v := range re.Conns {
				fleet.Conns[k] = v
			}
		}
	}

	fleet.OpenEngines(ctx)
	obs, err := swarm.Observe(ctx, inv, fleet.Engines, fleet.Unreachable)
	if err != nil {
		return rep, err
	}
	if o.Prune {
		obs.Departing = swarm.ObserveDeparting(ctx, departing, departing.Nodes, fleet.Engines, fleet.Unreachable)
	}
	if o.DryRun {
		// Hosts that would get Docker installed first count as fresh.
		for name, hr := range rep.Hosts {
			if len(hr.Done) > 0 && !hr.Facts.DockerRunning {
				obs.Hosts[name] = swarm.HostState{Reachable: true, Local: swarm.LocalInactive}
			}
		}
	}
	plan, err := swarm.ComputeWith(inv, obs, swarm.ComputeOptions{Prune: o.Prune, Adopt: o.Adopt})
	if err != nil {
		return rep, err
	}
	rep.Plan = plan
	for _, w := range plan.Warnings {
		log.Warn(w)
	}
	if o.DryRun || plan.Empty() {
		return rep, blockedErr(plan)
	}
	if destructive(plan) && (o.Confirm == nil || !o.Confirm(plan)) {
		return rep, &RefusedError{Reason: "the plan demotes or removes swarm nodes and was not confirmed (use --yes)"}
	}
	res, err := swarm.Execute(ctx, inv, plan, fleet.Engines, prog, o.Exec)
	rep.Result = res
	if err != nil {
		return rep, err
	}
	return rep, blockedErr(plan)
}

func blockedErr(p swarm.Plan) error {
	if len(p.Blocked) > 0 {
		return &NotConvergedError{Blocked: p.Blocked}
	}
	return nil
}

// destructive tells whether a plan demotes or removes anything.
func destructive(p swarm.Plan) bool {
	return slices.ContainsFunc(p.Steps, swarm.Step.Destructive)
}

// departingInventory is inv with the departing nodes in place of its own:
// the same SSH settings reach them.
func departingInventory(inv *inventory.Inventory, nodes []inventory.Node) *inventory.Inventory {
	d := *inv
	d.Nodes = nodes
	return &d
}

// connectDeparting adds the departing nodes to fleet, one attempt each. A
// departing node that cannot be reached, or whose host key changed, is only
// a warning: it is removed from the swarm by force without being asked.
func connectDeparting(ctx context.Context, departing *inventory.Inventory, fleet *Fleet, o Options, prog Progress, log *slog.Logger) {
	dial := o.Dial
	dial.Attempts = 1
	dep := Connect(ctx, departing, nil, dial, o.Parallel, prog)
	for _, err := range dep.Fatal {
		log.Warn("departing node: not asking it to leave the swarm", "err", err)
	}
	for name, c := range dep.Conns {
		fleet.Conns[name] = c
	}
	for name, why := range dep.Unreachable {
		fleet.Unreachable[name] = why
	}
}

func describePrep(hr host.Report, dry bool) string {
	if len(hr.Done) == 0 {
		return fmt.Sprintf("host ready (%s %s, docker %s)", hr.Facts.OS, hr.Facts.Version, yesNo(hr.Facts.HasDocker))
	}
	verb := "prepared:"
	if dry {
		verb = "would:"
	}
	s := verb
	for i, a := range hr.Done {
		if i > 0 {
			s += ","
		}
		s += " " + a.Name
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "installed"
	}
	return "missing"
}

func parallelism(p int) int {
	if p <= 0 {
		return 16
	}
	return p
}

// Status reads the cluster's state: it asks the inventory's managers in
// turn until one answers with a leader and a reachable majority of managers
// (swarm.ObserveWith), and reports which one answered (Status.Via) and what
// each one asked said (Status.Asked). It dials managers only, once each, so a
// dead node costs one timeout, not a boot wait. When no manager answers with
// quorum the error is a *swarm.NoQuorumError naming every answer, and the
// Status returned with it is the best view there is (a cut-off manager's
// node list, or every node unknown).
func Status(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions, prog Progress) (swarm.Status, error) {
	obs, err := ObserveSwarm(ctx, inv, dial, prog)
	var nq *swarm.NoQuorumError
	if err != nil && !errors.As(err, &nq) {
		return swarm.Status{}, err
	}
	return swarm.Summarize(inv, obs), err
}

// ObserveSwarm is what Status reads, before it is summed up: the swarm as
// the first manager with quorum sees it. When no manager answers with
// quorum the error is a *swarm.NoQuorumError and the Observed returned with
// it is the best view there is.
func ObserveSwarm(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions, prog Progress) (swarm.Observed, error) {
	var names []string
	for _, m := range inv.Managers() {
		names = append(names, m.Name)
	}
	fleet := Connect(ctx, inv, names, dial, len(names), prog)
	defer fleet.Close()
	if len(fleet.Fatal) > 0 {
		return swarm.Observed{}, errors.Join(fleet.Fatal...)
	}
	fleet.OpenEngines(ctx)
	obs, err := swarm.ObserveWith(ctx, inv, fleet.Engines, fleet.Unreachable, swarm.ObserveOptions{Progress: prog})
	var nq *swarm.NoQuorumError
	if err != nil && !errors.As(err, &nq) {
		return swarm.Observed{}, err
	}
	if i := swarm.Choose(obs.Asked); i < 0 || !obs.Asked[i].Quorum {
		return obs, &swarm.NoQuorumError{Cluster: inv.Cluster.Name, Asked: obs.Asked}
	}
	return obs, nil
}
