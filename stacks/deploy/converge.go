package deploy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// TaskError is what one task of a service reported.
type TaskError struct {
	Node  string // hostname, or node ID when unknown
	State swarm.TaskState
	Err   string // Status.Err, else Status.Message
	At    time.Time
	// Repeats counts older tasks that failed the same way.
	Repeats int
}

func (t TaskError) String() string {
	node := t.Node
	if node == "" {
		node = "no node"
	}
	s := fmt.Sprintf("%s on %s: %s", t.State, node, t.Err)
	if t.Repeats > 0 {
		s += fmt.Sprintf(" (and %d more like it)", t.Repeats)
	}
	return s
}

// ServiceState is how far one service is from converged.
type ServiceState struct {
	Name             string
	Running, Desired int
	Converged        bool
	// Failed is set when the service cannot converge on its own: enough
	// tasks failed since its last change, or its update paused or rolled
	// back. Reason says which.
	Failed bool
	Reason string
	// Errors are the errors of its most recent problem tasks, newest first
	// (at most 5).
	Errors []TaskError
}

// Line renders the state as a progress line.
func (s ServiceState) Line() string {
	switch {
	case s.Failed:
		return fmt.Sprintf("failed: %s", s.Reason)
	case s.Converged:
		return fmt.Sprintf("%d/%d running: converged", s.Running, s.Desired)
	}
	line := fmt.Sprintf("%d/%d running", s.Running, s.Desired)
	if len(s.Errors) > 0 {
		line += "; last task " + s.Errors[0].String()
	}
	return line
}

// Converge judges one service from its tasks: replicated services need
// Replicas running tasks, global ones every task they were given; an update
// in progress is not converged; failAfter failed or rejected tasks since the
// service's last change (by the engine's clock) make it Failed. nodes maps
// node IDs to hostnames for the errors.
func Converge(svc swarm.Service, tasks []swarm.Task, nodes map[string]string, failAfter int) ServiceState {
	st := ServiceState{Name: svc.Spec.Name}
	since := svc.UpdatedAt
	failed := 0
	var problems []TaskError
	for _, t := range tasks {
		if t.ServiceID != svc.ID {
			continue
		}
		if t.DesiredState == swarm.TaskStateRunning {
			if svc.Spec.Mode.Global != nil {
				st.Desired++
			}
			if t.Status.State == swarm.TaskStateRunning {
				st.Running++
			}
		}
		msg := t.Status.Err
		if msg == "" && t.Status.State != swarm.TaskStateRunning {
			msg = t.Status.Message
		}
		bad := t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected
		if bad && !t.Status.Timestamp.Before(since) {
			failed++
		}
		if (bad && !t.Status.Timestamp.Before(since)) || (t.DesiredState == swarm.TaskStateRunning && t.Status.Err != "") {
			problems = append(problems, TaskError{Node: nodeName(nodes, t.NodeID), State: t.Status.State, Err: msg, At: t.Status.Timestamp})
		}
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		st.Desired = int(*r.Replicas)
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].At.After(problems[j].At) })
	problems = dedupe(problems)
	if len(problems) > 5 {
		problems = problems[:5]
	}
	st.Errors = problems

	updating := false
	if u := svc.UpdateStatus; u != nil {
		switch u.State {
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			updating = true
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
			st.Failed, st.Reason = true, fmt.Sprintf("update %s: %s", u.State, u.Message)
		case swarm.UpdateStateRollbackCompleted:
			st.Failed, st.Reason = true, fmt.Sprintf("update rolled back: %s", u.Message)
		}
	}
	if !st.Failed && failed >= failAfter {
		st.Failed = true
		st.Reason = fmt.Sprintf("%d tasks failed since the last change", failed)
	}
	if st.Failed && len(st.Errors) > 0 {
		st.Reason += "; last task " + st.Errors[0].String()
	}
	st.Converged = !st.Failed && !updating && st.Running >= st.Desired
	return st
}

// dedupe keeps the newest of identical task errors, counting repeats.
func dedupe(ts []TaskError) []TaskError {
	var out []TaskError
	seen := map[string]int{}
	for _, t := range ts {
		k := t.Node + "\x00" + string(t.State) + "\x00" + t.Err
		if i, ok := seen[k]; ok {
			out[i].Repeats++
			continue
		}
		seen[k] = len(out)
		out = append(out, t)
	}
	return out
}

func nodeName(nodes map[string]string, id string) string {
	if n, ok := nodes[id]; ok {
		return n
	}
	return id
}

// ConvergeError says which services did not converge and why.
type ConvergeError struct {
	Stack string
	// Services that failed or were still pending, with their task errors.
	Services []ServiceState
	// Timeout is set when the wait ran out (the services may still
	// converge later); otherwise a service failed.
	Timeout time.Duration
}

func (e *ConvergeError) Error() string {
	var b strings.Builder
	if e.Timeout > 0 {
		fmt.Fprintf(&b, "stack %s: not converged after %s:", e.Stack, e.Timeout)
	} else {
		fmt.Fprintf(&b, "stack %s: service failed:", e.Stack)
	}
	for _, s := range e.Services {
		fmt.Fprintf(&b, "\nservice %s: %s", s.Name, s.Line())
		for _, t := range s.Errors {
			fmt.Fprintf(&b, "\n  task %s", t)
		}
	}
	return b.String()
}
