package heal

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/errdefs"
	swarmtypes "github.com/moby/moby/api/types/swarm"
)

// threeAndW1Down is m1-m3 Ready and w1 Down, in a simulated swarm.
func threeAndW1Down(t *testing.T) (*simSwarm, *Swarm) {
	t.Helper()
	s := newSimSwarm()
	s.mu.Lock()
	for _, n := range []NodeSpec{{Name: "m1", Role: RoleManager, Hoster: "a"}, {Name: "m2", Role: RoleManager, Hoster: "b"}, {Name: "m3", Role: RoleManager, Hoster: "c"}, {Name: "w1", Role: RoleWorker, Hoster: "a"}} {
		s.spec[n.Name] = n
		s.add(n.Name, n.Role, n.Hoster)
	}
	w1 := s.byName("w1")
	w1.up, w1.Status.State = false, swarmtypes.NodeStateDown
	s.bump(w1)
	s.mu.Unlock()
	return s, &Swarm{With: func(ctx context.Context, fn func(context.Context, Manager) error) error { return fn(ctx, s) }, Poll: time.Millisecond}
}

func TestClaimIsACompareAndSet(t *testing.T) {
	ctx := context.Background()
	s, sw := threeAndW1Down(t)
	s.mu.Lock()
	w1 := nodeInfoOf(copyNode(s.byName("w1").Node))
	s.mu.Unlock()
	r := Record{Node: "w1", Replacement: "w1-r1", Since: now, Attempts: 1, Last: now}

	// Two heal processes decided from the same list: exactly one wins.
	a, b := r, r
	a.Holder, b.Holder = "heal-a", "heal-b"
	if err := sw.Claim(ctx, w1, a, false); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	err := sw.Claim(ctx, w1, b, false)
	if !errors.Is(err, ErrClaimLost) || !errdefs.IsConflict(err) {
		t.Fatalf("second claim: %v, want ErrClaimLost (a conflict)", err)
	}
	if got := ReadHistory([]NodeInfo{nodeInfoOf(copyNode(s.byName("w1").Node))}).Records["w1"]; got.Holder != "heal-a" {
		t.Fatalf("record holder %q, want heal-a", got.Holder)
	}

	// A decision from before the node changed is stale.
	_, sw2 := threeAndW1Down(t)
	old := w1
	old.Version = 1
	if err := sw2.Claim(ctx, old, a, false); !errors.Is(err, ErrStale) {
		t.Fatalf("stale claim: %v, want ErrStale", err)
	}

	// A node that is Ready again is refused.
	s3, sw3 := threeAndW1Down(t)
	s3.mu.Lock()
	n := s3.byName("w1")
	n.Status.State = swarmtypes.NodeStateReady
	s3.bump(n)
	back := nodeInfoOf(copyNode(n.Node))
	s3.mu.Unlock()
	if err := sw3.Claim(ctx, back, a, false); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("claim on a Ready node: %v, want a refusal", err)
	}
}

func TestGuardRefusesAReachableNode(t *testing.T) {
	ctx := context.Background()
	_, sw := threeAndW1Down(t)
	if err := sw.Guard(ctx, "", "w1"); err != nil {
		t.Fatalf("guard on a Down node: %v", err)
	}
	err := sw.Guard(ctx, "", "m2")
	var ref *RefusedError
	if !errors.As(err, &ref) || !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("guard on a reachable manager: %v", err)
	}
	if err := sw.Guard(ctx, "", "gone"); err != nil {
		t.Fatalf("guard on a node not in the swarm: %v", err)
	}
}

func TestLeaseHasOneHolder(t *testing.T) {
	ctx := context.Background()
	_, sw := threeAndW1Down(t)
	ttl := 30 * time.Second
	a, err := sw.Acquire(ctx, "heal-a", now, ttl)
	if err != nil || !a.Held {
		t.Fatalf("a: %+v %v", a, err)
	}
	b, err := sw.Acquire(ctx, "heal-b", now.Add(time.Second), ttl)
	if err != nil || b.Held || b.Holder != "heal-a" {
		t.Fatalf("b while a holds it: %+v %v", b, err)
	}
	if a, err = sw.Acquire(ctx, "heal-a", now.Add(10*time.Second), ttl); err != nil || !a.Held || !a.Expires.Equal(now.Add(40*time.Second)) {
		t.Fatalf("a renews: %+v %v", a, err)
	}
	if b, _ = sw.Acquire(ctx, "heal-b", now.Add(39*time.Second), ttl); b.Held {
		t.Fatal("b took the lease before it expired")
	}
	if b, _ = sw.Acquire(ctx, "heal-b", now.Add(41*time.Second), ttl); !b.Held {
		t.Fatalf("b after expiry: %+v", b)
	}
	if a, _ = sw.Acquire(ctx, "heal-a", now.Add(42*time.Second), ttl); a.Held || a.Holder != "heal-b" {
		t.Fatalf("a after b took over: %+v", a)
	}
	if err := sw.Release(ctx, "heal-b", now.Add(43*time.Second)); err != nil {
		t.Fatal(err)
	}
	if a, _ = sw.Acquire(ctx, "heal-a", now.Add(44*time.Second), ttl); !a.Held {
		t.Fatalf("a after b released: %+v", a)
	}
}

// A second heal process with --once: it reports the holder and does
// nothing.
func TestOnceWithoutTheLeaseReportsTheHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, sw := threeAndW1Down(t)
		if _, err := sw.Acquire(ctx, "heal-a", time.Now(), time.Minute); err != nil {
			t.Fatal(err)
		}
		act := &simActor{sw: s, swarm: sw, who: "heal-b", calm: func() bool { return true }}
		time.Sleep(time.Minute / 2) // w1 is past the grace
		s.mu.Lock()
		s.byName("w1").downAt = time.Now().Add(-time.Minute)
		s.mu.Unlock()
		c := &Controller{Policy: simPolicy(), Spec: s.desired, Source: &simSource{sw: s, rnd: newRand(1)}, Swarm: sw, Actor: act,
			Lease: sw, Holder: "heal-b", Log: slog.New(slog.DiscardHandler)}
		d, err := c.Once(ctx)
		var held *LeaseHeldError
		if !errors.As(err, &held) || held.Lease.Holder != "heal-a" || !errdefs.IsConflict(err) {
			t.Fatalf("err = %v, want the lease held by heal-a", err)
		}
		if len(d.Actions) != 1 || d.Actions[0].Kind != Replace {
			t.Fatalf("the decision is still made and reported: %+v", d.Actions)
		}
		if s.byName("w1-r1") != nil || len(s.slots) != 0 {
			t.Fatal("a process without the lease acted")
		}
		wantIn(t, err.Error(), "the lease is held by heal-a")
	})
}

// Point 6 of the issue: the observer and the look-again snapshot can send
// after the loop stopped; Run still returns.
func TestRunStopsWithSnapshotsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, sw := threeAndW1Down(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := &Controller{Policy: simPolicy(), Spec: s.desired, Source: &flood{&simSource{sw: s, rnd: newRand(2)}}, Swarm: sw,
			Actor: &simActor{sw: s, swarm: sw, who: "x", rnd: newRand(3), mu: new(sync.Mutex), calm: func() bool { return true }},
			Lease: sw, Holder: "x", Log: slog.New(slog.DiscardHandler)}
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		time.Sleep(90 * time.Second)
		cancel()
		time.Sleep(10 * time.Second) // a slow read finishes; nothing is left blocked on a send
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return after cancellation")
		}
	})
}

// flood emits snapshots as fast as it can and ignores cancellation for a
// while, like an observer in the middle of a read.
type flood struct{ *simSource }

func (f *flood) Run(ctx context.Context, emit func(Snapshot)) error {
	for ctx.Err() == nil {
		emit(f.Snapshot(ctx))
	}
	emit(f.Snapshot(context.Background())) // one more after the loop stopped
	return nil
}

// Point 5: a dry run of a stack decides exactly as the real run (same
// names: the actor keeps them).
func TestDryRunDecidesAsTheRealRun(t *testing.T) {
	obs := cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)))
	real := &Controller{Policy: DefaultPolicy(), Spec: spec, Actor: keeper{}, Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	dry := &Controller{Policy: DefaultPolicy(), Spec: spec, SameName: true, DryRun: true, Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	a, b := real.decide(obs, nil), dry.decide(obs, nil)
	sa, _ := summary(a)
	sb, _ := summary(b)
	if len(sa) != 1 || sa[0] != "replace w1" || len(sb) != 1 || sb[0] != sa[0] {
		t.Fatalf("real %q, dry run %q", sa, sb)
	}
}

type keeper struct{ Actor }

func (keeper) KeepsNames() bool { return true }

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// Without quorum the lease cannot be read: --once reports the decision
// (quorum lost), not a lease holder.
func TestOnceWithoutQuorumReportsTheDecision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, sw := threeAndW1Down(t)
		s.mu.Lock()
		for _, m := range []string{"m1", "m2"} {
			n := s.byName(m)
			n.Status.State, n.ManagerStatus.Reachability = swarmtypes.NodeStateDown, swarmtypes.ReachabilityUnreachable
			s.bump(n)
		}
		s.mu.Unlock()
		c := &Controller{Policy: simPolicy(), Spec: s.desired, Source: &simSource{sw: s, rnd: newRand(1)}, Swarm: sw,
			Actor: &simActor{sw: s, swarm: sw, who: "x", calm: func() bool { return true }}, Lease: sw, Holder: "x", Log: slog.New(slog.DiscardHandler)}
		d, err := c.Once(context.Background())
		if err != nil || !d.Refused || len(d.Events) == 0 || d.Events[0].Kind != EventQuorumLost {
			t.Fatalf("err %v, decision %+v", err, d)
		}
	})
}
