package heal_test

// Tests against the real lab: VPS containers with sshd and dockerd, a real
// swarm, reached over SSH. Skipped with -short.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/lab"
)

type labCluster struct {
	docker  *client.Client
	lab     *lab.Lab
	invPath string
	dial    remote.DialOptions
}

// inv reads the current inventory (the lab actor rewrites it).
func (c *labCluster) inv(t testing.TB) *inventory.Inventory {
	inv, err := inventory.Load(c.invPath)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (c *labCluster) targets(t testing.TB) func() []remote.Target {
	return func() []remote.Target {
		inv, err := inventory.Load(c.invPath)
		if err != nil {
			return nil
		}
		var ts []remote.Target
		for _, m := range inv.Managers() {
			ts = append(ts, bootstrap.Target(inv, m))
		}
		return ts
	}
}

// newLabCluster brings up a lab named per run, bootstraps it into a swarm
// and removes it when the test ends, whatever happened.
func newLabCluster(t testing.TB, managers, workers int) *labCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs Docker Engine (skipped with -short)")
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "h" + hex.EncodeToString(b)
	dir := t.TempDir()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := lab.Down(ctx, docker, name, io.Discard); err != nil {
			t.Errorf("cleanup lab %s: %v", name, err)
		}
		docker.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, docker, lab.Options{Name: name, Managers: managers, Workers: workers, Dir: dir}, io.Discard)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	inv := labactor.Inventory(l)
	inv.Path = filepath.Join(dir, "inventory.yaml")
	data, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv.Path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if inv, err = inventory.Load(inv.Path); err != nil {
		t.Fatal(err)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	dial.Logger = quiet()
	if _, err := bootstrap.Run(ctx, inv, bootstrap.Options{Dial: dial, Log: quiet()}, nopProgress{}); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return &labCluster{docker: docker, lab: l, invPath: inv.Path, dial: dial}
}

type nopProgress struct{}

func (nopProgress) Node(string, string) {}

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestObserverSeesAKilledWorkerDown(t *testing.T) {
	c := newLabCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	obs := heal.NewObserver(c.targets(t), heal.ObserverOptions{Dial: c.dial, Resync: time.Hour, Log: quiet()})
	snaps := make(chan heal.Snapshot, 64)
	go func() {
		_ = obs.Run(ctx, func(s heal.Snapshot) {
			select {
			case snaps <- s:
			default:
			}
		})
	}()
	first := <-snaps
	if len(first.Nodes) != 4 || first.Via == "" {
		t.Fatalf("first snapshot: via %q, %d nodes, err %s", first.Via, len(first.Nodes), first.Err)
	}
	for _, n := range first.Nodes {
		if !n.Ready() || !n.DownSince.IsZero() || n.Hoster == "" {
			t.Fatalf("node %+v: want Ready with a hoster and no DownSince", n)
		}
	}

	killed := time.Now()
	if err := lab.KillNode(ctx, c.docker, c.lab, "w1"); err != nil {
		t.Fatal(err)
	}
	// Resync is an hour: only the node event can bring the news.
	deadline := time.After(90 * time.Second)
	for {
		select {
		case s := <-snaps:
			n, ok := s.Node("w1")
			if ok && n.State == heal.StateDown {
				if n.DownSince.IsZero() || n.DownSince.Before(killed.Add(-time.Second)) {
					t.Fatalf("w1 down since %v, killed at %v", n.DownSince, killed)
				}
				t.Logf("w1 reported down %s after the kill (swarm marked it at %s)", time.Since(killed).Round(time.Millisecond), n.DownSince.Sub(killed).Round(time.Millisecond))
				return
			}
		case <-deadline:
			t.Fatal("the observer did not report w1 Down within 90s of the kill")
		}
	}
}

func TestObserverFailsOverWhenItsManagerDies(t *testing.T) {
	c := newLabCluster(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	obs := heal.NewObserver(c.targets(t), heal.ObserverOptions{Dial: c.dial, Resync: 2 * time.Second, Log: quiet()})
	defer obs.Close()
	s := obs.Snapshot(ctx)
	if s.Via == "" {
		t.Fatalf("no manager answered: %s", s.Err)
	}
	if err := lab.KillNode(ctx, c.docker, c.lab, s.Via); err != nil {
		t.Fatal(err)
	}
	s2 := obs.Snapshot(ctx)
	if s2.Via == "" || s2.Via == s.Via {
		t.Fatalf("after killing %s the snapshot came via %q (err %s)", s.Via, s2.Via, s2.Err)
	}
	if len(s2.Nodes) != 3 {
		t.Fatalf("want 3 nodes via %s, got %d", s2.Via, len(s2.Nodes))
	}
}
