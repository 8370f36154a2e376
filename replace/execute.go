package replace

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Executor carries out the steps of a Plan, one method per step kind.
// Every method takes ctx first and stops waiting when it is cancelled.
//
// Implementations: replace/labexec (labs: the new server is a lab VPS
// container, joined with the code of `shoal bootstrap`).
type Executor interface {
	// Resume takes over n, joined beside old by an earlier run (a plan's
	// Resume step): it checks n is Ready and makes it the node the later
	// steps count on in old's place.
	Resume(ctx context.Context, n, old Node) error
	// CreateServer creates the new server n (its role, hoster, region).
	CreateServer(ctx context.Context, n Node) error
	// Join joins n to the swarm with its role and labels, in the place
	// of old.
	Join(ctx context.Context, n, old Node) error
	// WaitReady returns once node name is Ready (and, as a manager,
	// reachable).
	WaitReady(ctx context.Context, name string) error
	// Drain sets node name's availability to drain.
	Drain(ctx context.Context, name string) error
	// WaitMoved returns once no task runs on node name any more and every
	// replicated service runs as many tasks as it wants.
	WaitMoved(ctx context.Context, name string) error
	// Demote makes manager name a worker.
	Demote(ctx context.Context, name string) error
	// Remove removes node name from the swarm.
	Remove(ctx context.Context, name string) error
	// DeleteServer deletes node name's server.
	DeleteServer(ctx context.Context, name string) error
}

// StepError is a step that failed (the CLI exits 1): it names the step and
// what the finished steps left.
type StepError struct {
	Step, Steps int
	Action      string
	Done        []string // the finished steps' texts
	Err         error
	// Next is what to do now ("" for the general advice).
	Next string
}

func (e *StepError) Error() string {
	state := "nothing was changed"
	if len(e.Done) > 0 {
		state = "done before it: " + strings.Join(e.Done, "; ")
	}
	next := e.Next
	if next == "" {
		next = "look at `shoal status`, then finish or undo the remaining steps by hand"
	}
	return fmt.Sprintf("node replace: step %d/%d %q failed: %v\n  state: %s\n  next: %s", e.Step, e.Steps, e.Action, e.Err, state, next)
}

func (e *StepError) Unwrap() error { return e.Err }

// Execute runs the steps of p in order through x, printing each step to
// progress as it starts and ends. It stops at the first failure with a
// *StepError.
func Execute(ctx context.Context, p Plan, x Executor, progress io.Writer) error {
	var done []string
	for i, s := range p.Steps {
		start := time.Now()
		fmt.Fprintf(progress, "step %d/%d: %s\n", i+1, len(p.Steps), s.Text)
		var err error
		switch s.Kind {
		case Resume:
			err = x.Resume(ctx, p.New, p.Old)
		case CreateServer:
			err = x.CreateServer(ctx, p.New)
		case Join:
			err = x.Join(ctx, p.New, p.Old)
		case WaitReady:
			err = x.WaitReady(ctx, s.Node)
		case Drain:
			err = x.Drain(ctx, s.Node)
		case WaitMoved:
			err = x.WaitMoved(ctx, s.Node)
		case Demote:
			err = x.Demote(ctx, s.Node)
		case Remove:
			err = x.Remove(ctx, s.Node)
		case DeleteServer:
			err = x.DeleteServer(ctx, s.Node)
		default:
			err = fmt.Errorf("unknown step kind %q", s.Kind)
		}
		if err != nil {
			return &StepError{Step: i + 1, Steps: len(p.Steps), Action: s.Text, Done: done, Err: err, Next: p.Next}
		}
		fmt.Fprintf(progress, "step %d/%d: done in %s\n", i+1, len(p.Steps), time.Since(start).Round(100*time.Millisecond))
		done = append(done, s.Text)
	}
	return nil
}
