package swarmexec

import (
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
)

func svc(id, name string, replicas uint64) swarmtypes.Service {
	s := swarmtypes.Service{ID: id}
	s.Spec.Name = name
	if replicas > 0 {
		s.Spec.Mode.Replicated = &swarmtypes.ReplicatedService{Replicas: &replicas}
	} else {
		s.Spec.Mode.Global = &swarmtypes.GlobalService{}
	}
	return s
}

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// task is a task of svc on node meant to run, in state, with err, whose
// status changed ago before now.
func task(svc, node string, state swarmtypes.TaskState, err string) swarmtypes.Task {
	return taskAt(svc, node, swarmtypes.TaskStateRunning, state, err, time.Second)
}

func taskAt(svc, node string, desired, state swarmtypes.TaskState, err string, ago time.Duration) swarmtypes.Task {
	t := swarmtypes.Task{ServiceID: svc, NodeID: node, DesiredState: desired}
	t.Status.State, t.Status.Err, t.Status.Timestamp = state, err, now.Add(-ago)
	return t
}

func TestMoveState(t *testing.T) {
	svcs := []swarmtypes.Service{svc("s1", "web", 2), svc("s2", "pinned", 1), svc("s3", "agent", 0)}
	const noNode = "no suitable node (scheduling constraints not satisfied on 4 nodes)"
	shut := swarmtypes.TaskStateShutdown
	ok := []swarmtypes.Task{task("s1", "n2", "running", ""), task("s1", "n3", "running", ""), task("s3", "n2", "running", "")}
	tests := []struct {
		name      string
		tasks     []swarmtypes.Task
		wantLeft  string
		wantStuck string
	}{
		{
			name:  "every task moved: nothing left (old failures and shut down tasks aside)",
			tasks: append([]swarmtypes.Task{task("s2", "n2", "running", ""), taskAt("s2", "old", shut, "failed", "task: non-zero exit (1)", 2*time.Minute), taskAt("s1", "old", shut, "shutdown", "", time.Second)}, ok...),
		},
		{
			name:     "a task still on the node, and its service short of one",
			tasks:    []swarmtypes.Task{task("s1", "old", "running", ""), task("s1", "n3", "running", ""), task("s2", "n2", "running", "")},
			wantLeft: "a task of web on the node; web runs 1 of 2",
		},
		{
			name:     "a task starting elsewhere (an image pull) is not stuck",
			tasks:    []swarmtypes.Task{task("s1", "n2", "running", ""), task("s1", "n3", "preparing", ""), task("s2", "n2", "running", "")},
			wantLeft: "web runs 1 of 2",
		},
		{
			name:      "a task the scheduler cannot place is stuck, with its reason",
			tasks:     append([]swarmtypes.Task{task("s2", "", "pending", noNode)}, ok...),
			wantLeft:  "pinned runs 0 of 1",
			wantStuck: "pinned: " + noNode,
		},
		{
			name:     "pending without a reason yet is not stuck",
			tasks:    append([]swarmtypes.Task{task("s2", "", "pending", "")}, ok...),
			wantLeft: "pinned runs 0 of 1",
		},
		{
			name: "a service whose tasks keep being rejected is stuck, with the newest reason",
			tasks: append([]swarmtypes.Task{
				taskAt("s2", "n2", shut, "rejected", "No such image: old", 20*time.Second),
				taskAt("s2", "n2", shut, "rejected", "No such image: nosuch:image", 3*time.Second),
				task("s2", "n2", "assigned", ""),
			}, ok...),
			wantLeft:  "pinned runs 0 of 1",
			wantStuck: "pinned: No such image: nosuch:image",
		},
		{
			name:     "a failure long ago does not make a short service stuck",
			tasks:    append([]swarmtypes.Task{taskAt("s2", "n2", shut, "failed", "task: non-zero exit (1)", time.Minute), task("s2", "n2", "starting", "")}, ok...),
			wantLeft: "pinned runs 0 of 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, stuck := moveState(svcs, tt.tasks, "old", now)
			if got := strings.Join(left, "; "); got != tt.wantLeft {
				t.Errorf("left %q, want %q", got, tt.wantLeft)
			}
			var s []string
			for n, why := range stuck {
				s = append(s, n+": "+why)
			}
			if got := strings.Join(s, "; "); got != tt.wantStuck {
				t.Errorf("stuck %q, want %q", got, tt.wantStuck)
			}
		})
	}
}

func TestStuckLongEnough(t *testing.T) {
	t0 := now
	since := map[string]time.Time{}
	why := map[string]string{"pinned": "no suitable node"}
	if e := stuckLongEnough(since, why, t0, time.Minute); e != nil {
		t.Fatalf("first sight: %v", e)
	}
	if e := stuckLongEnough(since, why, t0.Add(59*time.Second), time.Minute); e != nil {
		t.Fatalf("after 59s: %v", e)
	}
	// Placed once in between: the clock starts again.
	if e := stuckLongEnough(since, nil, t0.Add(60*time.Second), time.Minute); e != nil {
		t.Fatalf("placed: %v", e)
	}
	if e := stuckLongEnough(since, why, t0.Add(61*time.Second), time.Minute); e != nil {
		t.Fatalf("stuck again, just now: %v", e)
	}
	e := stuckLongEnough(since, why, t0.Add(121*time.Second), time.Minute)
	if e == nil {
		t.Fatal("stuck for a minute: no error")
	}
	e.Node = "w1"
	for _, want := range []string{"for 1m0s", "away from w1: pinned (no suitable node)", "w1 is drained", "run the same `shoal node replace w1` again: it resumes", "docker node update --availability active w1"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("error %q lacks %q", e, want)
		}
	}
}
