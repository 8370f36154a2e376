package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/stacks/registry"
)

// Verdict is how a run, or one service in it, ended.
type Verdict string

const (
	// Deployed: every task runs the new digest and the update completed.
	Deployed Verdict = "deployed"
	// AlreadyRunning: the digest ran everywhere already; nothing restarted.
	AlreadyRunning Verdict = "already-running"
	// RolledBack: the rollout failed and the service runs what it ran before.
	RolledBack Verdict = "rolled-back"
	// Failed: the rollout failed and so did the rollback, or the change
	// could not be started.
	Failed Verdict = "failed"
	// Untouched: the run failed before this service was changed.
	Untouched Verdict = "untouched"
)

// Resolver resolves a tag to a digest at the registry.
type Resolver interface {
	Resolve(ctx context.Context, repo, tag string) (string, error)
}

var _ Resolver = (*registry.Resolver)(nil)

// Options tune a run. Tests set Poll to a few milliseconds.
type Options struct {
	// Poll is the interval between looks at the swarm while waiting
	// (default 250ms): the verdict follows the swarm's within about that.
	Poll time.Duration
	// Timeout bounds the wait for a rollout, and again for a rollback
	// (default 10m).
	Timeout time.Duration
	// FailAfter failed tasks on the new image make a rollout fail while the
	// swarm does not handle the failure itself (default 3).
	FailAfter int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Progress receives one line per service when its state changes.
	Progress func(service, msg string)
}

func (o Options) withDefaults() Options {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.FailAfter <= 0 {
		o.FailAfter = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = func(string, string) {}
	}
	return o
}

// Request is what to deploy.
type Request struct {
	Project, Env string
	Services     []string // short names; none: every service of the stack
	Tag          string
	Force        bool
}

// Stack is the swarm stack of a project in an environment.
func Stack(project, env string) string { return project + "-" + env }

// ServiceReport is how one service's rollout ended.
type ServiceReport struct {
	Service   string  `json:"service"`
	Image     string  `json:"image"` // repository
	Tag       string  `json:"tag,omitempty"`
	OldImage  string  `json:"old_image"`
	NewImage  string  `json:"new_image"`
	OldDigest string  `json:"old_digest"`
	NewDigest string  `json:"new_digest"`
	Verdict   Verdict `json:"verdict"`
	Error     string  `json:"error,omitempty"`
	// UpdateCompletedAt is when the swarm said the update (or rollback)
	// completed, by its clock; VerdictAt when shoal concluded, by its own.
	UpdateCompletedAt time.Time `json:"update_completed_at,omitzero"`
	VerdictAt         time.Time `json:"verdict_at,omitzero"`
}

// Report is how a run ended.
type Report struct {
	Kind     string          `json:"kind"` // "deploy" or "rollback"
	Project  string          `json:"project"`
	Env      string          `json:"env"`
	Stack    string          `json:"stack"`
	Via      string          `json:"via"`
	Started  time.Time       `json:"started"`
	Duration time.Duration   `json:"duration_ns"`
	Verdict  Verdict         `json:"verdict"`
	Services []ServiceReport `json:"services"`
	Error    string          `json:"error,omitempty"`
}

// Plan observes the stack, resolves the tag for every selected service and
// decides, before anything changes, what each needs. Unknown services and
// tags the registry lacks are *InputError.
func Plan(ctx context.Context, sw Swarm, res Resolver, req Request) ([]Change, map[string]swarm.Service, error) {
	stack := Stack(req.Project, req.Env)
	all, err := sw.Services(ctx, stack)
	if err != nil {
		return nil, nil, err
	}
	sel, err := Select(stack, all, req.Services)
	if err != nil {
		return nil, nil, err
	}
	svcs := map[string]swarm.Service{}
	var changes []Change
	for _, s := range sel {
		img := specImage(s)
		repo, oldTag, _, err := registry.Split(img)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %w", s.Spec.Name, err)
		}
		d, err := res.Resolve(ctx, repo, req.Tag)
		var nf *registry.NotFoundError
		if errors.As(err, &nf) {
			return nil, nil, &InputError{Msg: fmt.Sprintf("service %s: %v; nothing was changed", ShortName(stack, s.Spec.Name), err)}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %w", ShortName(stack, s.Spec.Name), err)
		}
		if !strings.HasPrefix(d, "sha256:") {
			return nil, nil, fmt.Errorf("service %s: the registry answered %s:%s with no sha256 digest (%q)", ShortName(stack, s.Spec.Name), repo, req.Tag, d)
		}
		tasks, err := sw.Tasks(ctx, s.ID)
		if err != nil {
			return nil, nil, err
		}
		running := Judge(s, tasks, img, time.Time{}, false, 1).Phase == PhaseDone
		changes = append(changes, PlanChange(stack, s, repo, oldTag, req.Tag, d, running, req.Force))
		svcs[s.ID] = s
	}
	return changes, svcs, nil
}

// tracked is one service being watched.
type tracked struct {
	ch    Change
	since time.Time // engine time of the change
	j     Judgement
	rep   *ServiceReport
	line  string
}

// Run applies the changes through up and watches them: every service must
// reach Done. When one fails, every service this run changed is taken back
// (by the swarm itself when its update_config says rollback, else with
// Swarm.Rollback) and watched until it runs its old image again. The
// report says what happened to each; the error (nil on success) is a
// *RunError.
func Run(ctx context.Context, sw Swarm, up Updater, kind string, req Request, changes []Change, svcs map[string]swarm.Service, o Options) (Report, error) {
	o = o.withDefaults()
	rep := Report{Kind: kind, Project: req.Project, Env: req.Env, Stack: Stack(req.Project, req.Env), Via: up.Via(), Started: o.Now()}
	for _, ch := range changes {
		rep.Services = append(rep.Services, ServiceReport{Service: ch.Short, Image: ch.Repo, Tag: ch.Tag,
			OldImage: ch.Old, NewImage: ch.New, OldDigest: ch.OldDigest(), NewDigest: ch.NewDigest(), Verdict: Untouched})
	}
	finish := func(err error) (Report, error) {
		rep.Duration = o.Now().Sub(rep.Started)
		rep.Verdict = overall(rep.Services)
		if err != nil {
			rep.Error = err.Error()
		}
		return rep, err
	}

	var items []*tracked
	for i, ch := range changes {
		r := &rep.Services[i]
		if ch.Skip {
			r.Verdict, r.VerdictAt = AlreadyRunning, o.Now()
			o.Progress(ch.Short, "already running "+ch.NewDigest())
			continue
		}
		svc, err := sw.Service(ctx, ch.ID) // fresh version: a concurrent change is refused, not overwritten
		if err == nil {
			o.Progress(ch.Short, fmt.Sprintf("%s -> %s", short(ch.OldDigest()), ch.New))
			err = up.Apply(ctx, svc, ch)
		}
		if err != nil {
			r.Verdict, r.Error, r.VerdictAt = Failed, err.Error(), o.Now()
			if len(items) == 0 {
				return finish(&RunError{Stack: rep.Stack, Cause: err, Changed: false})
			}
			r.Verdict = Untouched
			back := rollBack(ctx, sw, items, o)
			return finish(&RunError{Stack: rep.Stack, Cause: fmt.Errorf("service %s: %w", ch.Short, err), Changed: true, RollbackErr: back})
		}
		t := &tracked{ch: ch, rep: r}
		if after, err := sw.Service(ctx, ch.ID); err == nil {
			t.since = after.UpdatedAt
		}
		items = append(items, t)
	}
	if len(items) == 0 {
		return finish(nil)
	}
	failed := watch(ctx, sw, items, false, o)
	if failed == nil {
		for _, t := range items {
			t.rep.Verdict, t.rep.UpdateCompletedAt, t.rep.VerdictAt = Deployed, t.j.CompletedAt, o.Now()
		}
		return finish(nil)
	}
	failed.rep.Error = failed.j.Line()
	cause := fmt.Errorf("service %s: %s", failed.ch.Short, failureText(failed.j))
	back := rollBack(ctx, sw, items, o)
	return finish(&RunError{Stack: rep.Stack, Cause: cause, Changed: true, RollbackErr: back, TaskErrors: failed.j.Errors})
}

func short(d string) string {
	if d == "" {
		return "(no digest)"
	}
	return d
}

func failureText(j Judgement) string {
	s := j.Reason
	if len(j.Errors) > 0 {
		s += "; task error: " + strings.Join(j.Errors, "; ")
	}
	return s
}

// watch polls until every item is Done (nil) or one is not (returned).
// In rollback mode the items are watched going back to their old image.
func watch(ctx context.Context, sw Swarm, items []*tracked, rollback bool, o Options) *tracked {
	deadline := o.Now().Add(o.Timeout)
	for {
		done := 0
		for _, t := range items {
			if t.j.Phase == PhaseDone && t.line != "" {
				done++
				continue
			}
			want := t.ch.New
			if rollback {
				want = t.ch.Old
			}
			svc, err := sw.Service(ctx, t.ch.ID)
			var tasks []swarm.Task
			if err == nil {
				tasks, err = sw.Tasks(ctx, t.ch.ID)
			}
			if err != nil {
				if ctx.Err() != nil {
					t.j = Judgement{Phase: PhaseFailed, Reason: ctx.Err().Error()}
					return t
				}
				o.Progress(t.ch.Short, "cannot look: "+err.Error())
				continue
			}
			t.j = Judge(svc, tasks, want, t.since, rollback, o.FailAfter)
			if line := t.j.Line(); line != t.line {
				o.Progress(t.ch.Short, line)
				t.line = line
			}
			switch t.j.Phase {
			case PhaseDone:
				done++
			case PhaseFailed, PhaseSwarmRolledBack, PhaseSwarmRollingBack:
				return t
			}
		}
		if done == len(items) {
			return nil
		}
		if !o.Now().Before(deadline) {
			for _, t := range items {
				if t.j.Phase != PhaseDone {
					t.j.Phase = PhaseFailed
					t.j.Reason = fmt.Sprintf("not done after %s (%s)", o.Timeout, t.j.Reason)
					return t
				}
			}
		}
		select {
		case <-ctx.Done():
			for _, t := range items {
				if t.j.Phase != PhaseDone {
					t.j = Judgement{Phase: PhaseFailed, Reason: ctx.Err().Error()}
					return t
				}
			}
			return nil
		case <-time.After(o.Poll):
		}
	}
}

// rollBack takes every changed service back to its old image and waits for
// it; the error names the services that did not make it.
func rollBack(ctx context.Context, sw Swarm, items []*tracked, o Options) error {
	var back []*tracked
	var errs []string
	for _, t := range items {
		if t.j.Phase != PhaseSwarmRolledBack && t.j.Phase != PhaseSwarmRollingBack {
			svc, err := sw.Service(ctx, t.ch.ID)
			if err == nil {
				o.Progress(t.ch.Short, "rolling back to "+short(t.ch.OldDigest()))
				err = sw.Rollback(ctx, svc)
			}
			if err != nil {
				t.rep.Verdict, t.rep.VerdictAt = Failed, o.Now()
				errs = append(errs, fmt.Sprintf("service %s: %v", t.ch.Short, err))
				continue
			}
			if after, err := sw.Service(ctx, t.ch.ID); err == nil {
				t.since = after.UpdatedAt
			}
		}
		t.j, t.line = Judgement{}, ""
		back = append(back, t)
	}
	for len(back) > 0 {
		bad := watch(ctx, sw, back, true, o)
		var rest []*tracked
		for _, t := range back {
			switch {
			case t == bad:
				t.rep.Verdict, t.rep.VerdictAt = Failed, o.Now()
				errs = append(errs, fmt.Sprintf("service %s: rollback: %s", t.ch.Short, failureText(t.j)))
			case t.j.Phase == PhaseDone:
				t.rep.Verdict, t.rep.UpdateCompletedAt, t.rep.VerdictAt = RolledBack, t.j.CompletedAt, o.Now()
			default:
				rest = append(rest, t)
			}
		}
		if bad == nil {
			break
		}
		back = rest
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func overall(rs []ServiceReport) Verdict {
	v := AlreadyRunning
	for _, r := range rs {
		switch r.Verdict {
		case Failed:
			return Failed
		case RolledBack, Untouched:
			v = RolledBack
		case Deployed:
			if v == AlreadyRunning {
				v = Deployed
			}
		}
	}
	if v == RolledBack {
		for _, r := range rs {
			if r.Verdict == RolledBack {
				return RolledBack
			}
		}
		return Failed // failed before anything changed
	}
	return v
}

// RunError is a failed run: what failed, whether the swarm was changed,
// and how the rollback went.
type RunError struct {
	Stack       string
	Cause       error
	Changed     bool  // false: failed before any service changed
	RollbackErr error // nil: every changed service runs its old image again
	TaskErrors  []string
}

func (e *RunError) Error() string {
	switch {
	case !e.Changed:
		return fmt.Sprintf("deploy to %s not started: %v; nothing was changed", e.Stack, e.Cause)
	case e.RollbackErr == nil:
		return fmt.Sprintf("deploy to %s failed and was rolled back (every service this run changed runs its previous image again): %v", e.Stack, e.Cause)
	}
	return fmt.Sprintf("deploy to %s failed: %v\nrollback failed too, the stack is left as it is:\n%v", e.Stack, e.Cause, e.RollbackErr)
}

func (e *RunError) Unwrap() error { return e.Cause }
