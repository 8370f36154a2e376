package release

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func svc(image string, replicas uint64, state swarm.UpdateState) swarm.Service {
	s := swarm.Service{ID: "s1"}
	s.Spec.Name = "shop-dev_web"
	s.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: image}
	s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	if state != "" {
		done := t0.Add(time.Minute)
		s.UpdateStatus = &swarm.UpdateStatus{State: state, Message: "msg", CompletedAt: &done}
	}
	return s
}

func task(image string, desired, state swarm.TaskState, at time.Time, err string) swarm.Task {
	t := swarm.Task{ServiceID: "s1", DesiredState: desired}
	t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: image}
	t.Status = swarm.TaskStatus{State: state, Timestamp: at, Err: err}
	return t
}

func TestJudge(t *testing.T) {
	newImg, oldImg := "reg/shop/web:v2@"+d2, "reg/shop/web:v1@"+d1
	run, shut := swarm.TaskStateRunning, swarm.TaskStateShutdown
	for _, tc := range []struct {
		name     string
		svc      swarm.Service
		tasks    []swarm.Task
		want     string
		rollback bool
		phase    Phase
		reason   string
	}{
		{name: "every task on the new digest and the update completed is done",
			svc: svc(newImg, 2, swarm.UpdateStateCompleted), want: newImg, phase: PhaseDone,
			tasks: []swarm.Task{task(newImg, run, run, t0, ""), task(newImg, run, run, t0, ""), task(oldImg, shut, swarm.TaskStateShutdown, t0, "")}},
		{name: "an update in progress is pending even with tasks on the new digest",
			svc: svc(newImg, 2, swarm.UpdateStateUpdating), want: newImg, phase: PhasePending,
			tasks: []swarm.Task{task(newImg, run, run, t0, ""), task(oldImg, run, run, t0, "")}},
		{name: "a fresh spec whose update has not started (no status) with old tasks is pending",
			svc: svc(newImg, 1, ""), want: newImg, phase: PhasePending,
			tasks: []swarm.Task{task(oldImg, run, run, t0, "")}},
		{name: "a completed update with one task still starting is pending",
			svc: svc(newImg, 2, swarm.UpdateStateCompleted), want: newImg, phase: PhasePending,
			tasks: []swarm.Task{task(newImg, run, run, t0, ""), task(newImg, run, swarm.TaskStateStarting, t0, "")}},
		{name: "a paused update failed, with the task error",
			svc: svc(newImg, 1, swarm.UpdateStatePaused), want: newImg, phase: PhaseFailed, reason: "update paused",
			tasks: []swarm.Task{task(newImg, shut, swarm.TaskStateFailed, t0.Add(time.Second), "task: non-zero exit (1)")}},
		{name: "a rollback the swarm started itself is reported as such",
			svc: svc(oldImg, 1, swarm.UpdateStateRollbackStarted), want: newImg, phase: PhaseSwarmRollingBack},
		{name: "a rollback the swarm completed is reported as such",
			svc: svc(oldImg, 1, swarm.UpdateStateRollbackCompleted), want: newImg, phase: PhaseSwarmRolledBack},
		{name: "watching a rollback, a completed rollback with tasks on the old digest is done",
			svc: svc(oldImg, 1, swarm.UpdateStateRollbackCompleted), want: oldImg, rollback: true, phase: PhaseDone,
			tasks: []swarm.Task{task(oldImg, run, run, t0, "")}},
		{name: "a service pinned to another digest than wanted failed (the tag moved)",
			svc: svc("reg/shop/web:v2@"+d1, 1, swarm.UpdateStateCompleted), want: newImg, phase: PhaseFailed, reason: "not the wanted"},
		{name: "a service left unpinned by whoever updated it failed",
			svc: svc("reg/shop/web:v2", 1, swarm.UpdateStateCompleted), want: newImg, phase: PhaseFailed, reason: "not pinned"},
		{name: "failed tasks on the new digest since the change fail it when the swarm does not",
			svc: svc(newImg, 1, swarm.UpdateStateCompleted), want: newImg, phase: PhaseFailed, reason: "3 tasks",
			tasks: []swarm.Task{task(newImg, shut, swarm.TaskStateFailed, t0.Add(time.Second), "exit 1"), task(newImg, shut, swarm.TaskStateFailed, t0.Add(2*time.Second), "exit 1"),
				task(newImg, shut, swarm.TaskStateFailed, t0.Add(3*time.Second), "exit 1"), task(newImg, run, swarm.TaskStateStarting, t0, "")}},
		{name: "failed tasks from before the change do not count",
			svc: svc(newImg, 1, swarm.UpdateStateCompleted), want: newImg, phase: PhasePending,
			tasks: []swarm.Task{task(newImg, shut, swarm.TaskStateFailed, t0.Add(-time.Second), "x"), task(newImg, shut, swarm.TaskStateFailed, t0.Add(-time.Second), "x"),
				task(newImg, shut, swarm.TaskStateFailed, t0.Add(-time.Second), "x"), task(newImg, run, swarm.TaskStateStarting, t0, "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge(tc.svc, tc.tasks, tc.want, t0, tc.rollback, 3)
			if j.Phase != tc.phase || !strings.Contains(j.Reason, tc.reason) {
				t.Fatalf("Judge = %s %q, want %s containing %q", j.Phase, j.Reason, tc.phase, tc.reason)
			}
		})
	}
	j := Judge(svc(newImg, 1, swarm.UpdateStatePaused), []swarm.Task{task(newImg, shut, swarm.TaskStateFailed, t0.Add(time.Second), "task: non-zero exit (1)")}, newImg, t0, false, 3)
	if len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "non-zero exit (1)") || !strings.Contains(j.Line(), "task error") {
		t.Errorf("task errors = %v, line %q", j.Errors, j.Line())
	}
}

func TestPlanChangeSkipsARunningDigestUnlessForced(t *testing.T) {
	s := svc("reg/shop/web:dev@"+d2, 1, swarm.UpdateStateCompleted)
	if ch := PlanChange("shop-dev", s, "reg/shop/web", "dev", "dev", d2, true, false); !ch.Skip || ch.Short != "web" || ch.New != "reg/shop/web:dev@"+d2 {
		t.Errorf("same digest: %+v", ch)
	}
	if ch := PlanChange("shop-dev", s, "reg/shop/web", "dev", "dev", d2, true, true); ch.Skip {
		t.Error("--force must not skip")
	}
	if ch := PlanChange("shop-dev", s, "reg/shop/web", "dev", "v3", d1, true, false); ch.Skip || ch.OldDigest() != d2 || ch.NewDigest() != d1 {
		t.Errorf("new digest: %+v", ch)
	}
	if ch := PlanChange("shop-dev", s, "reg/shop/web", "dev", "dev", d2, false, false); ch.Skip {
		t.Error("a digest in the spec whose tasks do not all run it must be rolled out again")
	}
}

func TestSelect(t *testing.T) {
	a, b := svc("x", 1, ""), svc("y", 1, "")
	a.ID, a.Spec.Name = "a", "shop-dev_web"
	b.ID, b.Spec.Name = "b", "shop-dev_worker"
	if got, err := Select("shop-dev", []swarm.Service{b, a}, nil); err != nil || len(got) != 2 || got[0].ID != "a" {
		t.Errorf("all: %v %v", got, err)
	}
	if got, err := Select("shop-dev", []swarm.Service{a, b}, []string{"worker"}); err != nil || len(got) != 1 || got[0].ID != "b" {
		t.Errorf("worker: %v %v", got, err)
	}
	_, err := Select("shop-dev", []swarm.Service{a, b}, []string{"db"})
	if err == nil || !strings.Contains(err.Error(), `no service "db" (services: web, worker)`) {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := Select("shop-prod", nil, nil); err == nil || !strings.Contains(err.Error(), "stack shop-prod has no services") {
		t.Errorf("unknown stack: %v", err)
	}
}

func TestPreviousGood(t *testing.T) {
	d0 := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	img := func(d string) string { return "reg/w:t@" + d }
	recs := []Record{ // newest first
		{Service: "web", Kind: "deploy", Verdict: RolledBack, OldDigest: d2, NewDigest: "sha256:3333333333333333333333333333333333333333333333333333333333333333"},
		{Service: "web", Kind: "deploy", Verdict: Deployed, OldImage: img(d1), OldDigest: d1, NewDigest: d2},
		{Service: "web", Kind: "deploy", Verdict: Deployed, OldImage: img(d0), OldDigest: d0, NewDigest: d1},
	}
	if r, ok := PreviousGood(recs, "web", d2); !ok || r.NewDigest != d1 || r.NewImage != img(d1) || r.Tag != "t" {
		t.Errorf("from d2: %+v %v", r, ok)
	}
	// After a rollback to d1, the next rollback goes on to d0, not back to d2.
	back := append([]Record{{Service: "web", Kind: "rollback", Verdict: Deployed, OldDigest: d2, NewDigest: d1}}, recs...)
	if r, ok := PreviousGood(back, "web", d1); !ok || r.NewDigest != d0 {
		t.Errorf("from d1 after a rollback: %+v %v", r, ok)
	}
	if _, ok := PreviousGood(nil, "web", d1); ok {
		t.Error("empty history has nothing to go back to")
	}
}

func TestMessageAndRedaction(t *testing.T) {
	rep := Report{Kind: "deploy", Project: "shop", Env: "dev", Via: "ssh", Verdict: RolledBack, Duration: 12300 * time.Millisecond,
		Services: []ServiceReport{{Service: "web", Tag: "v3", OldDigest: d1, NewDigest: d2, Verdict: RolledBack}},
		Error:    "deploy to shop-dev failed and was rolled back: service web: update paused; task error: failed: task: non-zero exit (1)"}
	m := Message(rep, "alice")
	for _, want := range []string{"shop/dev", "rolled-back", "web: " + d1 + " -> " + d2 + " (v3)", "12.3s", "alice", "non-zero exit (1)"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	for raw, want := range map[string]string{
		"telegram://123456:ABCDEF@telegram?chats=@ops":     "telegram://<redacted>@telegram/<redacted>",
		"generic://hooks.example.com/T0K3N?disabletls=yes": "generic://hooks.example.com/<redacted>",
		"::bad": "<redacted URL>",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", raw, got, want)
		}
	}
	if s := scrubURL(`Post "https://hooks.example.com/T0K3N": refused`, "generic://hooks.example.com/T0K3N"); strings.Contains(s, "T0K3N") {
		t.Errorf("scrub left the token: %s", s)
	}
}
