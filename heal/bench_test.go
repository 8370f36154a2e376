package heal_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/lab"
)

// timedActor is the real lab actor, with the time each replacement became
// Ready noted.
type timedActor struct {
	heal.Actor
	ready chan time.Time
}

func (a timedActor) ReplaceServer(ctx context.Context, dead heal.NodeInfo, spec heal.NodeSpec) error {
	err := a.Actor.ReplaceServer(ctx, dead, spec)
	if err == nil {
		a.ready <- time.Now()
	}
	return err
}

// BenchmarkHealWorker measures, on the lab, per killed worker: how long the
// swarm takes to mark it down (kill -> down), from the swarm marking it
// down to the start of remediation (target <= 2s; grace 0), and to a Ready
// replacement. Run:
//
//	go test -run '^$' -bench BenchmarkHealWorker -benchtime 1x ./heal/
func BenchmarkHealWorker(b *testing.B) {
	c := newLabCluster(b, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	obs := heal.NewObserver(c.targets(b), heal.ObserverOptions{Dial: c.dial, Resync: time.Minute, Log: quiet()})
	sw := &heal.Swarm{With: obs.WithManager}
	la, err := labactor.New(c.docker, c.invPath, sw, labactor.Options{Dial: c.dial, Progress: io.Discard, Log: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	actor := timedActor{Actor: la, ready: make(chan time.Time, 4)}
	pol := heal.DefaultPolicy()
	// Grace 0, and no back-off or retry limit: each round is a fresh
	// failure, not a flapping slot (which the policy would slow down).
	pol.Grace, pol.Backoff, pol.RetryLimit = 0, 0, 1000
	var mu sync.Mutex
	var downAt, startAt time.Time
	started := make(chan struct{}, 4)
	ctl := &heal.Controller{
		Policy: pol, Source: obs, Swarm: sw, Actor: actor, Log: quiet(),
		Spec: func() heal.Desired {
			inv, _ := inventory.Load(c.invPath)
			var d heal.Desired
			for _, n := range inv.Nodes {
				d.Nodes = append(d.Nodes, heal.NodeSpec{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region, Labels: n.Labels})
			}
			return d
		},
		OnActionStart: func(a heal.Action) {
			if a.Kind == heal.Replace && !a.Resume {
				mu.Lock()
				downAt, startAt = a.Node.DownSince, time.Now()
				mu.Unlock()
				started <- struct{}{}
			}
		},
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctl.Run(runCtx) }()
	defer func() { stop(); <-done }()
	time.Sleep(2 * time.Second) // the controller's first look

	victim := "w1"
	var killToDown, downToStart, downToReady time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, _, err := lab.Find(ctx, c.docker, c.lab.Name)
		if err != nil {
			b.Fatal(err)
		}
		killed := time.Now()
		if err := lab.KillNode(ctx, c.docker, l, victim); err != nil {
			b.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(3 * time.Minute):
			b.Fatal("no remediation started within 3m of the kill")
		}
		var ready time.Time
		select {
		case ready = <-actor.ready:
		case <-time.After(5 * time.Minute):
			b.Fatal("no Ready replacement within 5m")
		}
		mu.Lock()
		killToDown += downAt.Sub(killed)
		downToStart += startAt.Sub(downAt)
		downToReady += ready.Sub(downAt)
		mu.Unlock()
		// The next round kills the replacement once the dead node is gone.
		victim = fmt.Sprintf("w1-r%d", i+1)
		waitGone(b, ctx, obs)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(killToDown.Seconds()/n, "s-kill-to-down")
	b.ReportMetric(downToStart.Seconds()/n, "s-down-to-remediation")
	b.ReportMetric(downToReady.Seconds()/n, "s-down-to-ready")
}

// waitGone waits until no node is Down (the dead one was removed).
func waitGone(b *testing.B, ctx context.Context, obs *heal.Observer) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		s := obs.Snapshot(ctx)
		down := false
		for _, n := range s.Nodes {
			down = down || !n.Ready()
		}
		if s.Via != "" && !down {
			return
		}
		time.Sleep(time.Second)
	}
	b.Fatal("the dead node was not removed within 2m")
}
