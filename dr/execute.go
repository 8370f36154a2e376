package dr

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Service is one swarm service as CheckServices saw it after the recovery.
type Service struct {
	ID, Name         string
	Running, Desired uint64
}

// WebhookReport is what CheckWebhooks found: how many app services with a
// webhook it checked, and what it re-synced (each line names the service
// and why; empty when every webhook and Vault token was as it should be).
type WebhookReport struct {
	Checked  int      `json:"checked"`
	Resynced []string `json:"resynced"`
}

// Result is what a recovery ended with: the services CheckServices saw
// and, on stacks, the webhook check.
type Result struct {
	Services []Service
	Webhooks *WebhookReport
}

// Executor carries out the steps of a Plan, one method per step kind.
// Every method takes ctx first and stops waiting when it is cancelled.
//
// Implementation: dr/drexec (the swarm over SSH; lab servers through
// heal/labactor).
type Executor interface {
	// ForceNewCluster re-forms the swarm on survivor m (swarm init
	// --force-new-cluster with its advertise address).
	ForceNewCluster(ctx context.Context, m Manager) error
	// WaitLeader returns once manager name leads a swarm that answers.
	WaitLeader(ctx context.Context, name string) error
	// Rejoin makes alive manager name leave its old raft and join the
	// re-formed swarm as a manager through via, and waits until it is
	// Ready and reachable.
	Rejoin(ctx context.Context, name, via string) error
	// RemoveEntry demotes and removes the swarm entry of dead manager name.
	RemoveEntry(ctx context.Context, name string) error
	// ReplaceManager creates server newName at dead's hoster, joins it as
	// a manager in dead's place, waits until it is Ready and deletes
	// dead's server.
	ReplaceManager(ctx context.Context, dead Manager, newName string) error
	// ReplaceThroughProgram gives the dead managers of a `shoal up` stack
	// new servers under their names in one run of the stack's Pulumi
	// program, and waits until each is Ready.
	ReplaceThroughProgram(ctx context.Context, dead []Manager) error
	// CheckServices waits until every service runs as many tasks as it
	// wants and the managers have quorum, and returns the services.
	CheckServices(ctx context.Context) ([]Service, error)
	// CheckWebhooks checks each app service's webhook and Vault token and
	// re-syncs those whose service ID changed or whose webhook is gone.
	CheckWebhooks(ctx context.Context) (WebhookReport, error)
}

// StepError is a step that failed (the CLI exits 1): it names the step,
// the finished steps, and what a human must look at.
type StepError struct {
	Step, Steps int
	Action      string
	Done        []string
	Err         error
}

func (e *StepError) Error() string {
	state := "nothing was changed"
	if len(e.Done) > 0 {
		state = "done before it: " + strings.Join(e.Done, "; ")
	}
	next := "look at `shoal status`: while quorum is still lost, dr recover can run again (re-forming on the same survivor again is harmless); once it is ok, dr recover refuses, and the steps after this one are left to finish by hand"
	if e.Step == 1 {
		next = "the survivor refused to re-form the swarm: read its engine's error above; choose another survivor with --from NAME, or fix the node and run dr recover again"
	}
	return fmt.Sprintf("dr recover: step %d/%d %q failed: %v\n  state: %s\n  next: %s", e.Step, e.Steps, e.Action, e.Err, state, next)
}

func (e *StepError) Unwrap() error { return e.Err }

// Execute runs the steps of p in order through x, printing each step to
// progress as it starts and ends, and returns the services CheckServices
// saw and what CheckWebhooks found. It stops at the first failure with a
// *StepError.
func Execute(ctx context.Context, p Plan, x Executor, progress io.Writer) (Result, error) {
	var done []string
	var res Result
	for i, s := range p.Steps {
		start := time.Now()
		fmt.Fprintf(progress, "step %d/%d: %s\n", i+1, len(p.Steps), s.Text)
		var err error
		switch s.Kind {
		case ForceNewCluster:
			err = x.ForceNewCluster(ctx, p.Survivor)
		case WaitLeader:
			err = x.WaitLeader(ctx, s.Node)
		case Rejoin:
			err = x.Rejoin(ctx, s.Node, p.Survivor.Name)
		case RemoveEntry:
			err = x.RemoveEntry(ctx, s.Node)
		case ReplaceManager:
			err = x.ReplaceManager(ctx, manager(p, s.Node), s.New)
		case ReplaceThroughProgram:
			var ms []Manager
			for _, n := range s.Nodes {
				ms = append(ms, manager(p, n))
			}
			err = x.ReplaceThroughProgram(ctx, ms)
		case CheckServices:
			res.Services, err = x.CheckServices(ctx)
		case CheckWebhooks:
			var r WebhookReport
			if r, err = x.CheckWebhooks(ctx); err == nil {
				res.Webhooks = &r
			}
		default:
			err = fmt.Errorf("unknown step kind %q", s.Kind)
		}
		if err != nil {
			return res, &StepError{Step: i + 1, Steps: len(p.Steps), Action: s.Text, Done: done, Err: err}
		}
		fmt.Fprintf(progress, "step %d/%d: done in %s\n", i+1, len(p.Steps), time.Since(start).Round(100*time.Millisecond))
		done = append(done, s.Text)
	}
	return res, nil
}

// manager is the plan's record of manager name (its hoster and region,
// for a replacement).
func manager(p Plan, name string) Manager {
	for _, m := range p.Managers {
		if m.Name == name {
			return m
		}
	}
	return Manager{Name: name}
}
