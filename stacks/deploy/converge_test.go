package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestConverge(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	two := uint64(2)
	replicated := swarm.Service{ID: "svc", Meta: swarm.Meta{UpdatedAt: t0}, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s_web"}, Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &two}}}}
	global := replicated
	global.Spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	task := func(state swarm.TaskState, desired swarm.TaskState, at time.Time, err string) swarm.Task {
		return swarm.Task{ServiceID: "svc", NodeID: "n1", DesiredState: desired, Status: swarm.TaskStatus{State: state, Timestamp: at, Err: err}}
	}
	run := swarm.TaskStateRunning
	shut := swarm.TaskStateShutdown
	failed := swarm.TaskStateFailed
	nodes := map[string]string{"n1": "m1"}
	cases := []struct {
		name          string
		svc           swarm.Service
		tasks         []swarm.Task
		wantRun       int
		wantDesired   int
		wantConverged bool
		wantFailed    bool
		wantLine      string
	}{
		{name: "all replicas running is converged", svc: replicated, tasks: []swarm.Task{task(run, run, t0, ""), task(run, run, t0, "")},
			wantRun: 2, wantDesired: 2, wantConverged: true, wantLine: "2/2 running: converged"},
		{name: "one replica starting is not converged", svc: replicated, tasks: []swarm.Task{task(run, run, t0, ""), task(swarm.TaskStateStarting, run, t0, "")},
			wantRun: 1, wantDesired: 2, wantLine: "1/2 running"},
		{name: "old tasks shutting down do not count", svc: replicated, tasks: []swarm.Task{task(run, run, t0, ""), task(run, run, t0, ""), task(run, shut, t0, "")},
			wantRun: 2, wantDesired: 2, wantConverged: true},
		{name: "three failures since the last change fail the service with the task error", svc: replicated,
			tasks:       []swarm.Task{task(failed, shut, t0.Add(time.Second), "exec: no such file"), task(failed, shut, t0.Add(2*time.Second), "exec: no such file"), task(failed, shut, t0.Add(3*time.Second), "exec: /bad: not found"), task(swarm.TaskStateStarting, run, t0.Add(4*time.Second), "")},
			wantDesired: 2, wantFailed: true, wantLine: "failed: 3 tasks failed since the last change; last task failed on m1: exec: /bad: not found"},
		{name: "failures before the last change are history", svc: replicated,
			tasks:   []swarm.Task{task(failed, shut, t0.Add(-3*time.Second), "x"), task(failed, shut, t0.Add(-2*time.Second), "x"), task(failed, shut, t0.Add(-time.Second), "x"), task(run, run, t0, ""), task(run, run, t0, "")},
			wantRun: 2, wantDesired: 2, wantConverged: true},
		{name: "a task that cannot be scheduled shows its error", svc: replicated,
			tasks:   []swarm.Task{task(run, run, t0, ""), {ServiceID: "svc", DesiredState: run, Status: swarm.TaskStatus{State: swarm.TaskStatePending, Timestamp: t0, Err: "no suitable node (scheduling constraints not satisfied on 3 nodes)"}}},
			wantRun: 1, wantDesired: 2, wantLine: "1/2 running; last task pending on no node: no suitable node (scheduling constraints not satisfied on 3 nodes)"},
		{name: "a global service needs every task it was given", svc: global, tasks: []swarm.Task{task(run, run, t0, ""), task(swarm.TaskStatePreparing, run, t0, "")},
			wantRun: 1, wantDesired: 2},
		{name: "a paused update fails the service", svc: func() swarm.Service {
			s := replicated
			s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task x"}
			return s
		}(), tasks: []swarm.Task{task(run, run, t0, ""), task(run, run, t0, "")}, wantRun: 2, wantDesired: 2, wantFailed: true, wantLine: "failed: update paused: update paused due to failure"},
		{name: "an update in progress is not converged", svc: func() swarm.Service {
			s := replicated
			s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
			return s
		}(), tasks: []swarm.Task{task(run, run, t0, ""), task(run, run, t0, "")}, wantRun: 2, wantDesired: 2},
		{name: "tasks of other services are ignored", svc: replicated, tasks: []swarm.Task{{ServiceID: "other", DesiredState: run, Status: swarm.TaskStatus{State: run}}},
			wantDesired: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := Converge(c.svc, c.tasks, nodes, 3)
			if st.Running != c.wantRun || st.Desired != c.wantDesired || st.Converged != c.wantConverged || st.Failed != c.wantFailed {
				t.Errorf("got running %d desired %d converged %t failed %t (%s)", st.Running, st.Desired, st.Converged, st.Failed, st.Line())
			}
			if c.wantLine != "" && !strings.HasPrefix(st.Line(), c.wantLine) {
				t.Errorf("line = %q, want prefix %q", st.Line(), c.wantLine)
			}
		})
	}
}

func TestConvergeErrorNamesServiceAndTaskErrors(t *testing.T) {
	err := &ConvergeError{Stack: "app-dev", Services: []ServiceState{{Name: "app-dev_broken", Failed: true, Reason: "3 tasks failed since the last change",
		Errors: []TaskError{{Node: "m1", State: swarm.TaskStateFailed, Err: `starting container failed: exec: "/nope": no such file`}}}}}
	msg := err.Error()
	for _, want := range []string{"app-dev_broken", "task failed on m1", `exec: "/nope"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

// Failures of a service the deploy left unchanged count only from the
// deploy's start: older ones (a node lost before, a disaster recovery) are
// not the deploy's doing; a changed service counts from its change.
func TestFailureWindowOfAnUnchangedService(t *testing.T) {
	changed := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	begun := changed.Add(time.Hour)
	one := uint64(1)
	svc := swarm.Service{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}}
	svc.UpdatedAt = changed
	var tasks []swarm.Task
	for i := range 3 { // failed between the change and the deploy
		tasks = append(tasks, swarm.Task{ServiceID: "s1", DesiredState: swarm.TaskStateShutdown,
			Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "No such container", Timestamp: changed.Add(time.Duration(i+1) * time.Minute)}})
	}
	tasks = append(tasks, swarm.Task{ServiceID: "s1", DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Timestamp: begun.Add(-time.Minute)}})

	fw := failureWindow{unchanged: map[string]bool{"s1": true}, begun: begun}
	if st := Converge(fw.apply(svc), tasks, nil, 3); st.Failed || !st.Converged {
		t.Errorf("unchanged service with old failures: %+v, want converged", st)
	}
	if st := Converge(failureWindow{begun: begun}.apply(svc), tasks, nil, 3); !st.Failed {
		t.Errorf("changed service with 3 failures since its change: %+v, want failed", st)
	}
	// Failures after the deploy began still count.
	for i := range 3 {
		tasks = append(tasks, swarm.Task{ServiceID: "s1", DesiredState: swarm.TaskStateShutdown,
			Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "exit 1", Timestamp: begun.Add(time.Duration(i+1) * time.Second)}})
	}
	if st := Converge(fw.apply(svc), tasks, nil, 3); !st.Failed {
		t.Errorf("unchanged service failing again: %+v, want failed", st)
	}
}
