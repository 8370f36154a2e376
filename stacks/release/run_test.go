package release

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// simSwarm is a scripted swarm for Run's orchestration: an update to a
// "bad" digest ends as the script says (the swarm's rollback, or a pause);
// any other update completes at the next look. It checks calls, not Docker.
type simSwarm struct {
	mu        sync.Mutex
	svcs      map[string]*swarm.Service
	prev      map[string]string // previous image by id
	bad       map[string]swarm.UpdateState
	looks     map[string]int
	rollbacks []string
	applyErr  map[string]error
	history   map[string][]swarm.Task // failed tasks kept, as task history is
}

func newSim(images map[string]string) *simSwarm {
	s := &simSwarm{svcs: map[string]*swarm.Service{}, prev: map[string]string{}, bad: map[string]swarm.UpdateState{}, looks: map[string]int{}, applyErr: map[string]error{}, history: map[string][]swarm.Task{}}
	for name, img := range images {
		one := uint64(1)
		sv := &swarm.Service{ID: name}
		sv.Spec.Name = "shop-dev_" + name
		sv.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: img}
		sv.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
		sv.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateCompleted}
		s.svcs[name] = sv
	}
	return s
}

func (s *simSwarm) Services(_ context.Context, _ string) ([]swarm.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []swarm.Service
	for _, v := range s.svcs {
		out = append(out, *v)
	}
	return out, nil
}

// Service advances the script: a look after an update completes it, or
// fails it as scripted.
func (s *simSwarm) Service(_ context.Context, id string) (swarm.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.svcs[id]
	s.looks[id]++
	if sv.UpdateStatus == nil {
		sv.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
	} else if sv.UpdateStatus.State == swarm.UpdateStateUpdating || sv.UpdateStatus.State == swarm.UpdateStateRollbackStarted {
		now := time.Now()
		st := swarm.UpdateStateCompleted
		if sv.UpdateStatus.State == swarm.UpdateStateRollbackStarted {
			st = swarm.UpdateStateRollbackCompleted
		} else if b, ok := s.bad[Digest(specImage(*sv))]; ok {
			st = b
			if b == swarm.UpdateStateRollbackCompleted {
				sv.Spec.TaskTemplate.ContainerSpec.Image = s.prev[id]
			}
		}
		sv.UpdateStatus = &swarm.UpdateStatus{State: st, CompletedAt: &now, Message: "scripted"}
	}
	return *sv, nil
}

func (s *simSwarm) Tasks(_ context.Context, id string) ([]swarm.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.svcs[id]
	t := swarm.Task{ServiceID: id, DesiredState: swarm.TaskStateRunning}
	t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: specImage(*sv)}
	t.Status.State = swarm.TaskStateRunning
	if _, bad := s.bad[Digest(specImage(*sv))]; bad {
		t.Status.State = swarm.TaskStateStarting
	}
	return append([]swarm.Task{t}, s.history[id]...), nil
}

func (s *simSwarm) Rollback(_ context.Context, svc swarm.Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.svcs[svc.ID]
	s.rollbacks = append(s.rollbacks, svc.ID)
	sv.Spec.TaskTemplate.ContainerSpec.Image = s.prev[svc.ID]
	sv.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackStarted}
	return nil
}

func (s *simSwarm) SetImage(_ context.Context, svc swarm.Service, image string, _ bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.applyErr[svc.ID]; err != nil {
		return err
	}
	sv := s.svcs[svc.ID]
	s.prev[svc.ID] = specImage(*sv)
	sv.Spec.TaskTemplate.ContainerSpec.Image = image
	sv.UpdatedAt = time.Now().Add(-time.Millisecond)
	if _, bad := s.bad[Digest(image)]; bad {
		f := swarm.Task{ServiceID: svc.ID, DesiredState: swarm.TaskStateShutdown}
		f.Spec.ContainerSpec = &swarm.ContainerSpec{Image: image}
		f.Status = swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "task: non-zero exit (1)", Timestamp: time.Now()}
		s.history[svc.ID] = append(s.history[svc.ID], f)
	}
	sv.UpdateStatus = nil
	return nil
}

func (s *simSwarm) Apply(ctx context.Context, svc swarm.Service, ch Change) error {
	return s.SetImage(ctx, svc, ch.New, ch.Force)
}
func (s *simSwarm) Via() string { return "sim" }

type digests map[string]string

func (d digests) Resolve(_ context.Context, repo, tag string) (string, error) {
	return d[repo+":"+tag], nil
}

func runSim(t *testing.T, s *simSwarm, res Resolver, req Request) (Report, error) {
	t.Helper()
	ctx := context.Background()
	changes, svcs, err := Plan(ctx, s, res, req)
	if err != nil {
		t.Fatal(err)
	}
	return Run(ctx, s, s, "deploy", req, changes, svcs, Options{Poll: time.Millisecond, Timeout: 5 * time.Second})
}

func TestRun(t *testing.T) {
	const d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	res := digests{"reg/web:v2": d2, "reg/worker:v2": d2, "reg/web:bad": d3, "reg/worker:bad": d2}
	start := map[string]string{"web": "reg/web:v1@" + d1, "worker": "reg/worker:v1@" + d1}

	t.Run("a new digest on every service is deployed", func(t *testing.T) {
		s := newSim(start)
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "v2"})
		if err != nil || rep.Verdict != Deployed || len(rep.Services) != 2 || rep.Services[0].NewDigest != d2 || rep.Services[0].UpdateCompletedAt.IsZero() {
			t.Fatalf("%v %+v", err, rep)
		}
	})
	t.Run("a digest already running is skipped", func(t *testing.T) {
		s := newSim(map[string]string{"web": "reg/web:v2@" + d2})
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "v2"})
		if err != nil || rep.Verdict != AlreadyRunning || s.looks["web"] != 0 {
			t.Fatalf("%v %+v looks %v", err, rep, s.looks)
		}
	})
	t.Run("when the swarm rolls one service back, the other goes back too", func(t *testing.T) {
		s := newSim(start)
		s.bad[d3] = swarm.UpdateStateRollbackCompleted
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "bad"})
		var re *RunError
		if !errors.As(err, &re) || re.RollbackErr != nil || rep.Verdict != RolledBack {
			t.Fatalf("%v %+v", err, rep)
		}
		if len(s.rollbacks) != 1 || s.rollbacks[0] != "worker" {
			t.Errorf("shoal rolled back %v, want only worker (the swarm rolled web back)", s.rollbacks)
		}
		for _, sv := range rep.Services {
			if sv.Verdict != RolledBack {
				t.Errorf("%s: %s", sv.Service, sv.Verdict)
			}
		}
		if !strings.Contains(err.Error(), "non-zero exit (1)") || !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("message: %v", err)
		}
	})
	t.Run("a paused update is rolled back by shoal", func(t *testing.T) {
		s := newSim(map[string]string{"web": "reg/web:v1@" + d1})
		s.bad[d3] = swarm.UpdateStatePaused
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "bad"})
		if err == nil || rep.Verdict != RolledBack || len(s.rollbacks) != 1 || specImage(*s.svcs["web"]) != "reg/web:v1@"+d1 {
			t.Fatalf("%v %+v %v", err, rep, s.rollbacks)
		}
	})
	t.Run("a failed start of the second service takes the first back", func(t *testing.T) {
		s := newSim(start)
		s.applyErr["worker"] = errors.New("portainer: 404 Error pulling image")
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "v2"})
		if err == nil || rep.Verdict != RolledBack || len(s.rollbacks) != 1 || s.rollbacks[0] != "web" || !strings.Contains(err.Error(), "404") {
			t.Fatalf("%v %+v %v", err, rep, s.rollbacks)
		}
	})
	t.Run("a failed start of the only service changes nothing", func(t *testing.T) {
		s := newSim(map[string]string{"web": "reg/web:v1@" + d1})
		s.applyErr["web"] = errors.New("refused")
		rep, err := runSim(t, s, res, Request{Project: "shop", Env: "dev", Tag: "v2"})
		var re *RunError
		if !errors.As(err, &re) || re.Changed || rep.Verdict != Failed || len(s.rollbacks) != 0 || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("%v %+v", err, rep)
		}
	})
}
