package heal

import (
	"context"
	"errors"
	"fmt"
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
	DryRun bool
	Log    *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Now is the clock (default time.Now); read once per decision.
	Now func() time.Time
	// OnDecision, if set, sees every decision (tests, benchmarks).
	OnDecision func(Snapshot, Decision)
	// OnActionStart, if set, is called as an action starts (benchmarks).
	OnActionStart func(Action)

	lastEvents map[string]string
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

// Once does one pass: a snapshot, a decision, and (unless DryRun) its
// actions, one after the other. The error joins the actions' errors.
func (c *Controller) Once(ctx context.Context) (Decision, error) {
	snap := c.Source.Snapshot(ctx)
	d := c.decide(snap, nil)
	if c.DryRun {
		return d, nil
	}
	var errs []error
	for _, a := range d.Actions {
		if err := c.execute(ctx, a, d.At); err != nil {
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

// Run loops until ctx is done: it decides on every new snapshot and when a
// decision asks to look again, starting each action in its own goroutine
// (one per node slot; Decide sees which are running). On cancellation it
// stops starting actions, cancels the running ones (they resume from their
// record next time) and waits for them.
func (c *Controller) Run(ctx context.Context) error {
	snaps := make(chan Snapshot, 1)
	obsCtx, stopObs := context.WithCancel(ctx)
	var obsDone sync.WaitGroup
	obsDone.Add(1)
	go func() {
		defer obsDone.Done()
		_ = c.Source.Run(obsCtx, func(s Snapshot) {
			select { // keep only the latest
			case <-snaps:
			default:
			}
			snaps <- s
		})
	}()
	actCtx, cancelActs := context.WithCancel(context.WithoutCancel(ctx))
	running := map[string]bool{}
	done := make(chan result)
	var acts sync.WaitGroup
	defer func() {
		stopObs()
		cancelActs()
		go func() {
			for range done {
			}
		}()
		acts.Wait()
		close(done)
		obsDone.Wait()
	}()

	var latest Snapshot
	var settled time.Time // a decision needs a snapshot newer than this
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			c.log().Info("heal: stopping", "running", len(running))
			return nil
		case s := <-snaps:
			latest = s
		case r := <-done:
			delete(running, r.a.Key())
			settled = r.at
			c.report(r)
			go func() { // look again at once: the action changed the swarm
				s := c.Source.Snapshot(obsCtx)
				if obsCtx.Err() == nil {
					select {
					case <-snaps:
					default:
					}
					snaps <- s
				}
			}()
			continue
		case <-timer.C:
		}
		if latest.At.IsZero() || !latest.At.After(settled) {
			continue
		}
		d := c.decide(latest, maps.Clone(running))
		for _, a := range d.Actions {
			if c.DryRun {
				continue
			}
			running[a.Key()] = true
			acts.Add(1)
			go func() {
				defer acts.Done()
				err := c.execute(actCtx, a, d.At)
				done <- result{a: a, err: err, at: c.now()}
			}()
		}
		wait := d.Requeue
		if wait <= 0 {
			wait = time.Minute
		}
		timer.Reset(wait)
	}
}

// decide runs Decide on snap and logs and counts the decision.
func (c *Controller) decide(snap Snapshot, running map[string]bool) Decision {
	now := c.now()
	hist := ReadHistory(snap.Nodes)
	hist.Running = running
	var spec Desired
	if c.Spec != nil {
		spec = c.Spec()
	}
	spec.SameName = spec.SameName || c.keepsNames()
	d := Decide(now, c.Policy, spec, snap, hist)
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
		if c.DryRun {
			msg = "heal: would " + string(a.Kind)
			c.Metrics.remediation(a.Kind, "dry-run")
		}
		log.Info(msg, "node", a.Node.Name, "target", a.Target, "attempt", a.Attempt, "reason", a.Reason)
	}
	c.Metrics.observe(snap, d)
	if c.OnDecision != nil {
		c.OnDecision(snap, d)
	}
	return d
}

func (c *Controller) report(r result) {
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
		r := a.Record
		if !a.Resume {
			r = Record{Node: a.Node.Name, Replacement: a.Target, Spare: a.Kind == ActivateSpare, Role: a.Spec.Role, Since: now, Attempts: a.Attempt, Last: now}
			if err := c.writeDeadRecord(ctx, a.Node, r); err != nil {
				return fmt.Errorf("record the attempt before acting: %w", err)
			}
		}
		sameName := c.keepsNames() && a.Target == a.Node.Name
		if a.Node.Role == RoleManager {
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
		// The replacement inherits the slot's attempts, so a flapping slot
		// is counted across generations.
		if err := c.Swarm.WriteRecord(ctx, Record{Node: a.Target, Attempts: a.Record.Attempts, Last: a.Record.Last}); err != nil {
			return fmt.Errorf("carry the record over to %s: %w", a.Target, err)
		}
		return c.Actor.RemoveDeadNode(ctx, a.Node, a.Target)
	case Abandon:
		if err := c.Actor.AbandonReplacement(ctx, a.Node, a.Target); err != nil {
			return err
		}
		return c.writeDeadRecord(ctx, a.Node, Record{Node: a.Node.Name, Attempts: a.Record.Attempts, Last: now})
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
