package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Progress receives one line per node per step (swarm.Progress).
type Progress = swarm.Progress

// Resolver looks host names up; *net.Resolver satisfies it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

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
	// Host is what host preparation may do (host.Options: restarting an
	// engine that runs containers).
	Host host.Options
	// Resolver checks that every node's address resolves before anything
	// else; nil is net.DefaultResolver.
	Resolver Resolver
	// Adopt takes over a swarm that records another cluster name (or none,
	// while it has members the inventory does not list) and records the
	// inventory's cluster.name in it; see swarm.ComputeOptions.
	Adopt bool
	// Partial: inv lists only some of the swarm's nodes on purpose (see
	// JoinNode and swarm.ComputeOptions.Partial).
	Partial bool
	Log     *slog.Logger
}

// Report is what Run found and did.
type Report struct {
	Hosts  map[string]host.Report `json:"-"`
	Plan   swarm.Plan             `json:"-"`
	Result swarm.Result           `json:"-"`
	// DryRun: HostActions are the planned actions, not done ones.
	DryRun bool `json:"-"`
}

// HostActions lists, per node, the host preparation actions (done, or
// planned under DryRun), each with its cost ("restart docker (4 running
// containers restart)").
func (r Report) HostActions() map[string][]string {
	out := map[string][]string{}
	for n, h := range r.Hosts {
		acts := h.Done
		if r.DryRun {
			acts = h.Plan.Actions
		}
		for _, a := range acts {
			out[n] = append(out[n], a.String())
		}
	}
	return out
}

// Pending lists, per node "node: what", the host changes that wait for the
// operator (a daemon restart shoal did not make), sorted.
func (r Report) Pending() []string {
	var out []string
	for n, h := range r.Hosts {
		for _, p := range h.Plan.Pending {
			out = append(out, n+": "+p)
		}
	}
	sort.Strings(out)
	return out
}

// Changed tells whether the run changed (or, under DryRun, would change)
// anything.
func (r Report) Changed() bool {
	return len(r.HostActions()) > 0 || !r.Plan.Empty()
}

// RefusedError is a run stopped by a safety rule or the operator before
// anything changed on any host.
type RefusedError struct {
	Reason string
	Err    error // the rule's own error, when there is one
}

func (e *RefusedError) Error() string { return "refused, nothing was changed: " + e.Reason }

func (e *RefusedError) Unwrap() error { return e.Err }

// NotConvergedError reports nodes a run could not bring into the swarm.
type NotConvergedError struct{ Blocked []swarm.Blocked }

func (e *NotConvergedError) Error() string {
	msg := fmt.Sprintf("%d node(s) not converged:", len(e.Blocked))
	for _, b := range e.Blocked {
		msg += fmt.Sprintf("\n  %s: %s", b.Node, b.Reason)
	}
	return msg + "\nfix what blocks them and re-run; finished steps are skipped"
}

// Run converges the hosts of inv into the swarm it describes. It observes
// everything before it changes anything: every address must resolve; it
// connects to every host, reads each one's facts and plans its preparation,
// opens the engines that run, reads the swarm and computes the swarm plan.
// Any refusal (an unresolvable address, a node in another swarm, lost
// quorum, a host it may not change, an unconfirmed destructive plan) comes
// then, with nothing changed anywhere. Only after that it prepares the hosts,
// observes again and executes the swarm plan. inv must be validated.
func Run(ctx context.Context, inv *inventory.Inventory, o Options, prog Progress) (Report, error) {
	rep := Report{Hosts: map[string]host.Report{}, DryRun: o.DryRun}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	for _, d := range o.Departing {
		if _, ok := inv.Node(d.Name); ok {
			return rep, fmt.Errorf("node %s is listed as departing but is in the inventory", d.Name)
		}
	}

	// 1. Names: an address that does not resolve is refused before any connection.
	done := phase(log, "resolve")
	if err := checkResolve(ctx, inv, o.Resolver); err != nil {
		return rep, err
	}
	done()

	// 2. Connect to every host and, as soon as a host is connected, read its
	// facts and plan its preparation (3); nothing changes.
	done = phase(log, "connect and host facts")
	ho := &hostObserver{o: o, prog: prog, out: rep.Hosts, managers: managerSet(inv)}
	fleet := connectThen(ctx, inv, nil, o.Dial, o.Parallel, prog, ho.observe)
	defer fleet.Close()
	done()
	if len(fleet.Fatal) > 0 {
		return rep, &RefusedError{Reason: errors.Join(fleet.Fatal...).Error(), Err: errors.Join(fleet.Fatal...)}
	}
	departing := departingInventory(inv, o.Departing)
	if o.Prune && len(o.Departing) > 0 {
		connectDeparting(ctx, departing, fleet, o, prog, log)
	}
	if err := ho.err(); err != nil {
		return rep, err
	}

	// 4. Engines where Docker runs, the swarm, the plan.
	plan, err := observeAndPlan(ctx, inv, fleet, departing, o, rep.Hosts, nil)
	if err != nil {
		return rep, err
	}
	rep.Plan = plan
	if destructive(plan) && !o.DryRun && (o.Confirm == nil || !o.Confirm(plan)) {
		return rep, &RefusedError{Reason: "the plan demotes or removes swarm nodes and was not confirmed (use --yes)"}
	}
	for _, p := range rep.Pending() {
		log.Warn("pending host change", "change", p)
	}
	if o.DryRun {
		for _, w := range plan.Warnings {
			log.Warn(w)
		}
		return rep, blockedErr(plan)
	}

	// 5. Change: prepare the hosts that need it, then observe again.
	changed, err := applyHosts(ctx, inv, fleet, o, prog, rep.Hosts)
	if err != nil {
		return rep, err
	}
	if len(changed) > 0 {
		for _, name := range changed {
			fleet.ForgetEngine(name)
		}
		fleet.EnginesOnDemand(engineAccess(rep.Hosts))
		settle(ctx, inv, fleet, changed, 60*time.Second)
		if plan, err = observeAndPlan(ctx, inv, fleet, departing, o, rep.Hosts, changed); err != nil {
			var re *RefusedError
			if errors.As(err, &re) {
				// Hosts were changed: this is no refusal before any change.
				return rep, fmt.Errorf("after preparing %s: %s", strings.Join(changed, ", "), re.Reason)
			}
			return rep, err
		}
		rep.Plan = plan
		if destructive(plan) && (o.Confirm == nil || !o.Confirm(plan)) {
			return rep, &RefusedError{Reason: "the plan demotes or removes swarm nodes and was not confirmed (use --yes)"}
		}
	}
	for _, w := range plan.Warnings {
		log.Warn(w)
	}
	if plan.Empty() {
		return rep, blockedErr(plan)
	}
	res, err := swarm.Execute(ctx, inv, plan, fleet.Engines, prog, o.Exec)
	rep.Result = res
	if err != nil {
		return rep, err
	}
	return rep, blockedErr(plan)
}

// unresolved lists the nodes whose address is a name that lookup cannot
// resolve, "name (address): why". IP addresses are not looked up.
func unresolved(ctx context.Context, nodes []inventory.Node, lookup func(ctx context.Context, host string) error) []string {
	var out []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		if _, err := netip.ParseAddr(n.Address); err == nil || n.Address == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lookup(ctx, n.Address); err != nil {
				mu.Lock()
				out = append(out, fmt.Sprintf("%s (%s): %v", n.Name, n.Address, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(out)
	return out
}

// checkResolve refuses an inventory with an address that does not resolve.
func checkResolve(ctx context.Context, inv *inventory.Inventory, r Resolver) error {
	if r == nil {
		r = net.DefaultResolver
	}
	bad := unresolved(ctx, inv.Nodes, func(ctx context.Context, h string) error {
		addrs, err := r.LookupHost(ctx, h)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no addresses")
		}
		return err
	})
	if len(bad) > 0 {
		return &RefusedError{Reason: "these node addresses do not resolve (fix the inventory or DNS, then re-run):\n  " + strings.Join(bad, "\n  ")}
	}
	return nil
}

// hostObserver reads the facts of connected nodes and plans their
// preparation, one node per call of observe (from the connecting
// goroutines). It changes nothing. A host shoal may not or cannot prepare
// is a refusal (err). The inventory's managers also read their answer to
// the swarm questions with their facts.
type hostObserver struct {
	o        Options
	prog     Progress
	managers map[string]bool

	mu   sync.Mutex
	out  map[string]host.Report
	errs []error
}

func (h *hostObserver) observe(ctx context.Context, n inventory.Node, c *remote.Conn) {
	h.prog.Node(n.Name, "read host facts ...")
	observe := host.Observe
	if h.managers[n.Name] {
		observe = host.ObserveManager
	}
	hr, err := observe(ctx, c, h.o.Host)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out[n.Name] = hr
	if err != nil {
		h.errs = append(h.errs, fmt.Errorf("%s: %w", c.Target(), err))
		h.prog.Node(n.Name, "host cannot be prepared")
		return
	}
	h.prog.Node(n.Name, describeHost(hr, h.o.DryRun))
}

// err is what the observed hosts refuse, or fail with.
func (h *hostObserver) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return nil
	}
	err := errors.Join(h.errs...)
	var noPriv *host.NoPrivilegeError
	var unsupported *host.UnsupportedOSError
	if errors.As(err, &noPriv) || errors.As(err, &unsupported) {
		return &RefusedError{Reason: err.Error(), Err: err}
	}
	return err
}

func managerSet(inv *inventory.Inventory) map[string]bool {
	out := map[string]bool{}
	for _, m := range inv.Managers() {
		out[m.Name] = true
	}
	return out
}

// swarmAnswers are the managers' answers to the swarm questions that their
// host facts read, for swarm.ObserveOptions.Swarms.
func swarmAnswers(hosts map[string]host.Report) map[string]swarm.SwarmAnswer {
	out := map[string]swarm.SwarmAnswer{}
	for name, hr := range hosts {
		sr := hr.Facts.Swarm
		switch {
		case sr == nil:
		case sr.Err != "":
			out[name] = swarm.SwarmAnswer{Err: errors.New(sr.Err)}
		default:
			out[name] = swarm.SwarmAnswer{Swarm: swarm.InfoFromSwarm(sr.Swarm), Members: swarm.Members(sr.Nodes)}
		}
	}
	return out
}

// observeAndPlan reads the swarm and computes the plan. Each node's own
// view is the one its host facts read (docker info), except for the nodes
// in fresh (their engine was started or restarted since): those, and the
// swarm, are asked through Docker APIs opened on demand, so that on ready
// hosts only the manager the swarm is read through is opened. Before host
// preparation (fresh is nil), a host whose Docker preparation will install
// or start counts as a fresh engine outside any swarm. A plan the safety
// rules refuse is a RefusedError.
func observeAndPlan(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, departing *inventory.Inventory, o Options, hosts map[string]host.Report, fresh []string) (swarm.Plan, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	done := phase(log, "observe swarm")
	fleet.EnginesOnDemand(engineAccess(hosts))
	oo := swarm.ObserveOptions{Hosts: hostViews(inv, hosts, fresh)}
	if fresh == nil {
		// Before any change, the managers' answers read with their facts
		// are current; after host preparation they are asked again.
		oo.Swarms = swarmAnswers(hosts)
	}
	obs, err := swarm.ObserveWith(ctx, inv, fleet.Engines, fleet.Unreachable, oo)
	if err != nil {
		return swarm.Plan{}, err
	}
	if o.Prune {
		obs.Departing = swarm.ObserveDeparting(ctx, departing, departing.Nodes, fleet.Engines, fleet.Unreachable)
	}
	done()
	plan, err := swarm.ComputeWith(inv, obs, swarm.ComputeOptions{Prune: o.Prune, Adopt: o.Adopt, Partial: o.Partial})
	if err != nil {
		var fs *swarm.ForeignSwarmError
		var qe *swarm.QuorumError
		var ns *swarm.NodeStateError
		var cn *swarm.ClusterNameError
		if errors.As(err, &fs) || errors.As(err, &qe) || errors.As(err, &ns) || errors.As(err, &cn) {
			return plan, &RefusedError{Reason: err.Error(), Err: err}
		}
		return plan, err
	}
	return plan, nil
}

// settle waits (up to limit, in parallel) until the engines of the named nodes, started
// or restarted by host preparation, are past the swarm's "pending" state:
// a swarm node's engine answers before it has reconnected to the swarm.
func settle(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, names []string, limit time.Duration) {
	settleUntil(ctx, inv, fleet, names, limit, func(h swarm.HostState) bool { return h.Local != swarm.LocalPending })
}

// settleManagers waits (up to limit, in parallel) until the named swarm
// managers, whose engines restarted, are back in the swarm as managers, and
// returns "name (what it is)" for each one that is not.
func settleManagers(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, names []string, limit time.Duration) []string {
	last := settleUntil(ctx, inv, fleet, names, limit, func(h swarm.HostState) bool { return h.Local == swarm.LocalActive && h.Manager })
	var out []string
	for _, name := range names {
		h, ok := last[name]
		switch {
		case !ok:
			out = append(out, name+" (its Docker API could not be opened)")
		case h.Err != "" && h.Local == "":
			out = append(out, fmt.Sprintf("%s (%s)", name, h.Err))
		case h.Local != swarm.LocalActive || !h.Manager:
			out = append(out, fmt.Sprintf("%s (swarm state %q, manager %t)", name, h.Local, h.Manager))
		}
	}
	return out
}

// settleUntil reads the named nodes' own views twice a second until back
// says each one is back, or limit passes, and returns the last view of
// each node it could read.
func settleUntil(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, names []string, limit time.Duration, back func(swarm.HostState) bool) map[string]swarm.HostState {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var mu sync.Mutex
	last := map[string]swarm.HostState{}
	var wg sync.WaitGroup
	for _, name := range names {
		n, ok := inv.Node(name)
		e, open := fleet.Engines[name]
		if !ok || !open {
			continue
		}
		wg.Go(func() {
			for {
				h := swarm.ReadHost(ctx, inv, n, e)
				mu.Lock()
				last[name] = h
				mu.Unlock()
				if back(h) {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	return last
}

// hostViews are the nodes' own swarm views as their host facts read them,
// for swarm.ObserveOptions.Hosts: a running engine's docker info; before
// preparation (fresh is nil), an engine preparation will install or start
// is a fresh one outside any swarm. Nodes in fresh are left out (asked
// again through their engine), and so are nodes without facts.
func hostViews(inv *inventory.Inventory, hosts map[string]host.Report, fresh []string) map[string]swarm.HostState {
	out := map[string]swarm.HostState{}
	for _, n := range inv.Nodes {
		hr, ok := hosts[n.Name]
		if !ok || slices.Contains(fresh, n.Name) {
			continue
		}
		switch f := hr.Facts; {
		case f.Running():
			out[n.Name] = swarm.HostFromInfo(inv, n, f.Engine.ServerVersion, f.Engine.Swarm)
		case fresh == nil:
			out[n.Name] = swarm.HostState{Reachable: true, Local: swarm.LocalInactive, Advertise: swarm.AdvertiseAddr(inv, n)}
		}
	}
	return out
}

// engineAccess says, per node with a running engine, how to open it: ""
// for the socket, else the docker client to run through sudo.
func engineAccess(hosts map[string]host.Report) map[string]string {
	out := map[string]string{}
	for name, hr := range hosts {
		f := hr.Facts
		if f.Access == host.AccessSudo && f.User != "root" {
			out[name] = f.DockerCLI
		}
	}
	return out
}

// applyHosts runs the planned host actions and returns the nodes it
// changed: in waves (prepareWaves), the nodes of a wave in parallel. A swarm
// manager whose engine restarted is waited for (back in the swarm as a
// manager) before the next wave; a failed wave stops the run before the next.
func applyHosts(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, o Options, prog Progress, hosts map[string]host.Report) ([]string, error) {
	var order []string
	for _, n := range inv.Nodes {
		order = append(order, n.Name)
	}
	var changed []string
	waves := prepareWaves(order, hosts)
	for i, wave := range waves {
		var restarted []string
		for _, name := range wave {
			if restartsSwarmManager(hosts[name]) {
				restarted = append(restarted, name)
			}
		}
		done, err := applyWave(ctx, inv, fleet, o, prog, hosts, wave)
		changed = append(changed, done...)
		if err != nil {
			sort.Strings(changed)
			return changed, err
		}
		if i < len(waves)-1 && len(restarted) > 0 {
			for _, name := range restarted {
				fleet.ForgetEngine(name)
			}
			fleet.EnginesOnDemand(engineAccess(hosts))
			if notBack := settleManagers(ctx, inv, fleet, restarted, 60*time.Second); len(notBack) > 0 {
				// Restarting the next manager could cost the swarm its quorum.
				sort.Strings(changed)
				return changed, fmt.Errorf("not restarting the other managers' engines: after its restart, %s is not back in the swarm as a manager within 60s (unlock it if the swarm is autolocked, then re-run)", strings.Join(notBack, ", "))
			}
		}
	}
	// Re-reading facts finds a host whose engine now runs; the engine
	// access of a fresh install is the socket for root, sudo otherwise.
	for _, name := range changed {
		hr := hosts[name]
		if c, ok := fleet.Conns[name]; ok && !hr.Facts.Running() {
			if f, err := host.Gather(ctx, c); err == nil {
				hr.Facts = f
				hosts[name] = hr
			}
		}
	}
	sort.Strings(changed)
	return changed, nil
}

// applyWave runs the planned host actions of the nodes in wave, in
// parallel, and returns the nodes it changed.
func applyWave(ctx context.Context, inv *inventory.Inventory, fleet *Fleet, o Options, prog Progress, hosts map[string]host.Report, wave []string) ([]string, error) {
	var mu sync.Mutex
	var errs []error
	var changed []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism(o.Parallel))
	for _, name := range wave {
		n, inInv := inv.Node(name)
		hr, ok := hosts[n.Name]
		c, connected := fleet.Conns[n.Name]
		if !inInv || !ok || !connected || len(hr.Plan.Actions) == 0 {
			continue
		}
		g.Go(func() error {
			prog.Node(n.Name, "prepare host: "+joinActions(hr.Plan.Actions)+" ...")
			err := host.Apply(gctx, c, &hr)
			mu.Lock()
			defer mu.Unlock()
			hosts[n.Name] = hr
			if len(hr.Done) > 0 {
				changed = append(changed, n.Name)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("prepare %s: %w", c.Target(), err))
				prog.Node(n.Name, "prepare host failed")
				return nil
			}
			prog.Node(n.Name, "prepared: "+joinActions(hr.Done))
			return nil
		})
	}
	_ = g.Wait()
	return changed, errors.Join(errs...)
}

func joinActions(acts []host.Action) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
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

// describeHost is the progress line after a host's facts were read.
func describeHost(hr host.Report, dry bool) string {
	f := hr.Facts
	engine := "docker missing"
	if f.Running() {
		engine = fmt.Sprintf("docker %s (%s, %s, %d running containers)", f.Engine.ServerVersion, f.Source(), f.StartedBy(), f.Engine.ContainersRunning)
	} else if f.Installed() {
		engine = "docker installed (" + f.Source() + "), not running"
	}
	s := fmt.Sprintf("%s %s, %s", f.OS, f.Version, engine)
	if len(hr.Plan.Actions) == 0 {
		s = "host ready: " + s
	} else {
		verb := "to do: "
		if dry {
			verb = "would: "
		}
		s += "; " + verb + joinActions(hr.Plan.Actions)
	}
	if len(hr.Plan.Pending) > 0 {
		s += "; pending: daemon restart (see the end)"
	}
	return s
}

// phase logs, at debug level, how long a phase of Run took when the
// returned function is called.
func phase(log *slog.Logger, name string) func() {
	start := time.Now()
	return func() {
		log.Debug("bootstrap phase", "phase", name, "took", time.Since(start).Round(time.Millisecond))
	}
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
	fleet, obs, err := ObserveManagers(ctx, inv, dial, prog)
	if fleet != nil {
		fleet.Close()
	}
	return obs, err
}

// ObserveManagers is ObserveSwarm that leaves the connections open for more
// questions to the manager that answered: fleet.Engines[obs.Via] is the
// first manager, in inventory order, whose answer counts (swarm.Judge).
// The caller closes the fleet, which is nil only when no connection was
// made. Without such a manager the error is a *swarm.NoQuorumError.
func ObserveManagers(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions, prog Progress) (*Fleet, swarm.Observed, error) {
	var names []string
	for _, m := range inv.Managers() {
		names = append(names, m.Name)
	}
	fleet := Connect(ctx, inv, names, dial, len(names), prog)
	if len(fleet.Fatal) > 0 {
		return fleet, swarm.Observed{}, errors.Join(fleet.Fatal...)
	}
	fleet.OpenEngines(ctx)
	obs, err := swarm.ObserveWith(ctx, inv, fleet.Engines, fleet.Unreachable, swarm.ObserveOptions{Progress: prog})
	var nq *swarm.NoQuorumError
	if err != nil && !errors.As(err, &nq) {
		return fleet, swarm.Observed{}, err
	}
	if i := swarm.Choose(obs.Asked); i < 0 || !obs.Asked[i].Quorum {
		return fleet, obs, &swarm.NoQuorumError{Cluster: inv.Cluster.Name, Asked: obs.Asked}
	}
	return fleet, obs, nil
}
