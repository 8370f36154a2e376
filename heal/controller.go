package heal

import (
	"context"
	"errors"

	"fmt"
	"github.com/containerd/errdefs"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Source gives the controller snapshots: Observer is the real one.
type Source interface {
	Snapshot(ctx context.Context) Snapshot
	Run(ctx context.Context, emit func(Snapshot)) error
}

var _ Source = (*Observer)(nil)

// Controller is the loop: observe -> decide -> act. Every decision is
// logged with its reason; under DryRun actions are only logged.
type Controller struct {
	Policy Policy
	// Spec returns the desired spec; called on every decision, since the
	// actor may rewrite it.
	Spec   func() Desired
	Source Source
	Swarm  *Swarm
	Actor  Actor
	// SameName says the cluster's replacements keep the dead node's name
	// (a `shoal up` stack) even when Actor is nil (--dry-run), so a dry run
	// decides exactly as a real run of that cluster would.
	SameName bool
	DryRun   bool
	Log      *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Now is the clock (default time.Now); read once per decision.
	Now func() time.Time
	// Lease, when set, is the one-writer lock: only its holder acts. Holder
	// names this process in it and in the records it claims.
	Lease    Lease
	Holder   string
	LeaseTTL time.Duration // default DefaultLeaseTTL
	// OnDecision, if set, sees every decision (tests, benchmarks).
	OnDecision func(Snapshot, Decision)
	// OnActionStart, if set, is called as an action starts (benchmarks).
	OnActionStart func(Action)

	lastEvents map[string]string
	lease      LeaseState
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Controller) ttl() time.Duration {
	if c.LeaseTTL > 0 {
		return c.LeaseTTL
	}
	return DefaultLeaseTTL
}

// holdLease takes or renews the lease; without a Lease every process acts.
// It logs when the holder changes.
func (c *Controller) holdLease(ctx context.Context) (LeaseState, bool, error) {
	if c.Lease == nil {
		return LeaseState{Holder: c.Holder, Held: true}, true, nil
	}
	st, err := c.Lease.Acquire(ctx, c.Holder, c.now(), c.ttl())
	if err != nil {
		c.log().Warn("heal: lease", "err", err)
		// Keep acting only while the lease we hold has not run out.
		held := c.lease.Held && c.now().Before(c.lease.Expires)
		return c.lease, held, err
	}
	if st.Holder != c.lease.Holder || st.Held != c.lease.Held {
		if st.Held {
			c.log().Info("heal: holding the lease", "holder", st.Holder, "expires", st.Expires)
		} else {
			c.log().Info("heal: another heal process holds the lease; watching only", "holder", st.Holder, "expires", st.Expires)
		}
	}
	c.lease = st
	return st, st.Held, nil
}

func (c *Controller) releaseLease(ctx context.Context) {
	if c.Lease == nil || !c.lease.Held {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.Lease.Release(rctx, c.Holder, c.now()); err != nil {
		c.log().Warn("heal: release the lease", "err", err)
	}
	c.lease = LeaseState{}
}

// LeaseHeldError is Once's answer when another process holds the lease:
// errdefs.IsConflict (ErrNotLeaseHolder), not a failure.
type LeaseHeldError struct{ Lease LeaseState }

func (e *LeaseHeldError) Error() string {
	return "heal: the lease is held by " + e.Lease.String() + ": that process acts; this one did nothing"
}

func (e *LeaseHeldError) Unwrap() error { return ErrNotLeaseHolder }

// Once does one pass: the lease (when set), a snapshot, a decision, and
// (unless DryRun) its actions, one after the other. The error joins the
// actions' errors; *LeaseHeldError when another process holds the lease
// (the decision is still returned, nothing was done).
func (c *Controller) Once(ctx context.Context) (Decision, error) {
	if !c.DryRun {
		st, held, err := c.holdLease(ctx)
		if !held {
			d := c.decide(c.Source.Snapshot(ctx), nil)
			if err != nil {
				if len(d.Actions) == 0 {
					return d, nil // the swarm cannot be written (quorum lost, no manager): the decision says why
				}
				return d, fmt.Errorf("heal: could not take the lease, so nothing was done: %w", err)
			}
			return d, &LeaseHeldError{Lease: st}
		}
		defer c.releaseLease(ctx)
	}
	snap := c.Source.Snapshot(ctx)
	d := c.decide(snap, nil)
	if c.DryRun {
		return d, nil
	}
	var errs []error
	for _, a := range d.Actions {
		if err := c.execute(ctx, a, d.At); err != nil {
			if errdefs.IsConflict(err) {
				c.log().Info("heal: not done", "kind", a.Kind, "node", a.Node.Name, "why", err)
				continue
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return d, fmt.Errorf("heal: %d of %d actions failed: %w", len(errs), len(d.Actions), errors.Join(errs...))
	}
	return d, nil
}

type result struct {
	a   Action
	err error
	at  time.Time
}

// latest is a one-slot mailbox that never blocks its senders: the newest
// snapshot wins, and a sender after the loop has stopped goes nowhere.
type latest struct {
	mu     sync.Mutex
	snap   *Snapshot
	notify chan struct{}
}

func (l *latest) put(s Snapshot) {
	l.mu.Lock()
	l.snap = &s
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *latest) take() (Snapshot, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snap == nil {
		return Snapshot{}, false
	}
	s := *l.snap
	l.snap = nil
	return s, true
}

// Run loops until ctx is done: it decides on every new snapshot and when a
// decision asks to look again, starting each action in its own goroutine
// (one per node slot; Decide sees which are running). A decision with
// actions is made again from a fresh node list before anything starts, so
// nothing is started from a snapshot the swarm has moved on from. With a
// Lease it acts only while it holds the lease (renewed every third of its
// TTL); otherwise it decides and logs, like a dry run. On cancellation it
// stops starting actions, cancels the running ones (they resume from their
// record next time), waits for them and releases the lease.
func (c *Controller) Run(ctx context.Context) error {
	box := &latest{notify: make(chan struct{}, 1)}
	obsCtx, stopObs := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		_ = c.Source.Run(obsCtx, box.put)
	}()
	// Actions outlive ctx's cancellation only until they are cancelled
	// themselves (below); a lost lease cancels them too.
	var scope struct {
		ctx    context.Context
		cancel context.CancelFunc
	}
	newScope := func() { scope.ctx, scope.cancel = context.WithCancel(context.WithoutCancel(ctx)) }
	newScope()
	running := map[string]bool{}
	done := make(chan result)
	var acts sync.WaitGroup
	defer func() {
		stopObs()
		scope.cancel()
		go func() {
			for range done {
			}
		}()
		acts.Wait()
		close(done)
		bg.Wait()
		c.releaseLease(ctx)
	}()

	_, held, _ := c.holdLease(ctx)
	renew := time.NewTicker(c.ttl() / 3)
	defer renew.Stop()
	var snap Snapshot
	var settled time.Time // a decision needs a snapshot read no earlier than this
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			c.log().Info("heal: stopping", "running", len(running))
			return nil
		case <-box.notify:
			if s, ok := box.take(); ok {
				snap = s
			}
		case r := <-done:
			delete(running, r.a.Key())
			settled = r.at
			c.report(r)
			bg.Add(1)
			go func() { // look again at once: the action changed the swarm
				defer bg.Done()
				if s := c.Source.Snapshot(obsCtx); obsCtx.Err() == nil {
					box.put(s)
				}
			}()
			continue
		case <-renew.C:
			was := held
			_, held, _ = c.holdLease(ctx)
			if was && !held {
				// Someone else may act now: stop ours (they resume from the
				// records under the new holder).
				c.log().Warn("heal: lost the lease; stopping running actions", "running", len(running))
				scope.cancel()
				newScope()
			}
			if was == held {
				continue
			}
		case <-timer.C:
		}
		if snap.At.IsZero() || snap.At.Before(settled) {
			continue
		}
		d := Decide(c.now(), c.Policy, c.spec(), snap, c.history(snap, running))
		if len(d.Actions) > 0 {
			// Act only on what a fresh node list still calls for.
			snap = c.Source.Snapshot(ctx)
			if ctx.Err() != nil {
				continue
			}
			d = Decide(c.now(), c.Policy, c.spec(), snap, c.history(snap, maps.Clone(running)))
		}
		c.record(snap, d)
		for _, a := range d.Actions {
			if c.DryRun || !held {
				continue
			}
			running[a.Key()] = true
			acts.Add(1)
			go func(ctx context.Context) {
				defer acts.Done()
				err := c.execute(ctx, a, d.At)
				done <- result{a: a, err: err, at: c.now()}
			}(scope.ctx)
		}
		wait := d.Requeue
		if wait <= 0 {
			wait = time.Minute
		}
		timer.Reset(wait)
	}
}

func (c *Controller) spec() Desired {
	var spec Desired
	if c.Spec != nil {
		spec = c.Spec()
	}
	spec.SameName = spec.SameName || c.keepsNames()
	return spec
}

func (c *Controller) history(snap Snapshot, running map[string]bool) History {
	hist := ReadHistory(snap.Nodes)
	hist.Running = running
	return hist
}

// decide runs Decide on snap and logs and counts the decision.
func (c *Controller) decide(snap Snapshot, running map[string]bool) Decision {
	d := Decide(c.now(), c.Policy, c.spec(), snap, c.history(snap, running))
	c.record(snap, d)
	return d
}

// record logs and counts decision d.
func (c *Controller) record(snap Snapshot, d Decision) {
	log := c.log()
	if c.lastEvents == nil {
		c.lastEvents = map[string]string{}
	}
	seen := map[string]bool{}
	for _, e := range d.Events {
		key := string(e.Kind) + "/" + e.Node
		seen[key] = true
		level := slog.LevelInfo
		switch e.Kind {
		case EventQuorumLost, EventHeld, EventRefused, EventGaveUp, EventNoManager:
			level = slog.LevelWarn
		}
		if _, again := c.lastEvents[key]; again && e.Kind == EventWaiting {
			level = slog.LevelDebug // the same wait, a little later
		}
		c.lastEvents[key] = e.Reason
		log.Log(context.Background(), level, "heal: "+string(e.Kind), "node", e.Node, "reason", e.Reason, "via", snap.Via)
	}
	for k := range c.lastEvents {
		if !seen[k] {
			delete(c.lastEvents, k)
		}
	}
	for _, a := range d.Actions {
		msg := "heal: " + string(a.Kind)
		switch {
		case c.DryRun:
			msg = "heal: would " + string(a.Kind)
			c.Metrics.remediation(a.Kind, "dry-run")
		case c.Lease != nil && !c.lease.Held:
			// Another process holds the lease and acts; this one watches.
			msg = "heal: would " + string(a.Kind) + " (lease held by " + c.lease.String() + ")"
			c.Metrics.remediation(a.Kind, "watching")
		}
		log.Info(msg, "node", a.Node.Name, "target", a.Target, "attempt", a.Attempt, "reason", a.Reason)
	}
	c.Metrics.observe(snap, d)
	if c.OnDecision != nil {
		c.OnDecision(snap, d)
	}
}

func (c *Controller) report(r result) {
	if errdefs.IsConflict(r.err) {
		// Another heal process owns the slot, or the node moved on since
		// the snapshot: nothing was started; the next decision sees why.
		c.log().Info("heal: not done", "kind", r.a.Kind, "node", r.a.Node.Name, "target", r.a.Target, "why", r.err)
		c.Metrics.remediation(r.a.Kind, "lost")
		return
	}
	if errdefs.IsFailedPrecondition(r.err) {
		c.log().Warn("heal: refused on a fresh read", "kind", r.a.Kind, "node", r.a.Node.Name, "target", r.a.Target, "why", r.err)
		c.Metrics.remediation(r.a.Kind, "refused")
		return
	}
	if r.err != nil {
		c.log().Error("heal: action failed", "kind", r.a.Kind, "node", r.a.Node.Name, "target", r.a.Target, "err", r.err)
		c.Metrics.remediation(r.a.Kind, "failed")
		return
	}
	c.log().Info("heal: action done", "kind", r.a.Kind, "node", r.a.Node.Name, "target", r.a.Target)
	c.Metrics.remediation(r.a.Kind, "ok")
}

// keepsNames tells whether the actor replaces nodes under their own names.
func (c *Controller) keepsNames() bool {
	if c.SameName {
		return true
	}
	k, ok := c.Actor.(NameKeeper)
	return ok && k.KeepsNames()
}

// writeDeadRecord stores r on the dead node's entry: by ID when the
// replacement shares its name.
func (c *Controller) writeDeadRecord(ctx context.Context, dead NodeInfo, r Record) error {
	if c.keepsNames() && dead.ID != "" {
		return c.Swarm.WriteRecordAt(ctx, dead.ID, r)
	}
	return c.Swarm.WriteRecord(ctx, r)
}

// execute carries out one action: the durable record first, then the
// actor.
func (c *Controller) execute(ctx context.Context, a Action, now time.Time) error {
	if c.OnActionStart != nil {
		c.OnActionStart(a)
	}
	err := c.act(ctx, a, now)
	if err != nil {
		return fmt.Errorf("%s %s: %w", a.Kind, a.Node.Name, err)
	}
	return nil
}

func (c *Controller) act(ctx context.Context, a Action, now time.Time) error {
	switch a.Kind {
	case Replace, ActivateSpare:
		// The record is the lock: claimed (compare-and-set on the entry's
		// version) before anything starts; losing means another process
		// owns the slot, or the node moved on since the snapshot.
		r := a.Record
		if !a.Resume {
			r = Record{Node: a.Node.Name, Replacement: a.Target, Spare: a.Kind == ActivateSpare, Role: a.Spec.Role, Since: now, Attempts: a.Attempt, Last: now}
		}
		r.Holder = c.Holder
		if err := c.Swarm.Claim(ctx, a.Node, r, a.Resume); err != nil {
			return fmt.Errorf("record the attempt before acting: %w", err)
		}
		sameName := c.keepsNames() && a.Target == a.Node.Name
		if a.Node.Role == RoleManager {
			if err := c.Swarm.Guard(ctx, a.Node.ID, a.Node.Name); err != nil {
				return err
			}
			// Demote the dead manager before its replacement adds a voter
			// (Decide checked the numbers; Demote refuses a reachable one).
			demote := func() error { return c.Swarm.Demote(ctx, a.Node.Name) }
			if sameName && a.Node.ID != "" {
				demote = func() error { return c.Swarm.DemoteEntry(ctx, a.Node.ID, a.Node.Name) }
			}
			if err := demote(); err != nil {
				return err
			}
		}
		actx, cancel := context.WithDeadline(ctx, r.Since.Add(c.Policy.StartupTimeout))
		defer cancel()
		if a.Kind == ActivateSpare {
			return c.Actor.ActivateSpare(actx, a.Target, a.Node, a.Spec)
		}
		if err := c.Actor.ReplaceServer(actx, a.Node, a.Spec); err != nil {
			return err
		}
		if sameName {
			// The dead entry, and the record on it, went with the server:
			// the node (now its Ready entry) keeps the slot's attempts, so
			// a flapping slot is counted across servers.
			if err := c.Swarm.WriteRecord(ctx, Record{Node: a.Target, Attempts: r.Attempts, Last: r.Last}); err != nil {
				return fmt.Errorf("carry the record over to the new %s: %w", a.Target, err)
			}
		}
		return nil
	case CreateSpare:
		actx, cancel := context.WithTimeout(ctx, c.Policy.StartupTimeout)
		defer cancel()
		s := a.Spec
		s.Spare = true
		return c.Actor.ReplaceServer(actx, NodeInfo{}, s)
	case RemoveDead:
		id := ""
		if c.keepsNames() {
			id = a.Node.ID
		}
		if err := c.Swarm.Guard(ctx, id, a.Node.Name); err != nil {
			return err
		}
		// The replacement inherits the slot's attempts, so a flapping slot
		// is counted across generations.
		if err := c.Swarm.WriteRecord(ctx, Record{Node: a.Target, Attempts: a.Record.Attempts, Last: a.Record.Last}); err != nil {
			return fmt.Errorf("carry the record over to %s: %w", a.Target, err)
		}
		return c.Actor.RemoveDeadNode(ctx, a.Node, a.Target)
	case Abandon:
		if a.Target != a.Node.Name {
			// Never destroy a replacement that became Ready after all.
			if err := c.Swarm.Guard(ctx, "", a.Target); err != nil {
				return err
			}
		}
		if err := c.Actor.AbandonReplacement(ctx, a.Node, a.Target); err != nil {
			return err
		}
		// The role stays recorded: a manager heal demoted gets its seat
		// back if it returns (Promote).
		return c.writeDeadRecord(ctx, a.Node, Record{Node: a.Node.Name, Attempts: a.Record.Attempts, Last: now, Role: a.Record.Role})
	case Promote:
		if err := c.Actor.PromoteNode(ctx, a.Node.Name); err != nil {
			return err
		}
		return c.Swarm.WriteRecord(ctx, Record{Node: a.Node.Name, Attempts: a.Record.Attempts, Last: a.Record.Last})
	case PromoteWorker:
		if err := c.Swarm.WriteRecord(ctx, Record{Node: a.Target, PromotedFor: a.Node.Name}); err != nil {
			return err
		}
		return c.Actor.PromoteNode(ctx, a.Target)
	case DemoteWorker:
		if err := c.Actor.DemoteNode(ctx, a.Target); err != nil {
			return err
		}
		return c.Swarm.WriteRecord(ctx, Record{Node: a.Target})
	case Unlock:
		return c.Actor.Unlock(ctx, a.Node)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}
