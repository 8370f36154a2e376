// Package stacktest gives lab tests of stacks a real swarm: lab VPS
// containers (package lab) bootstrapped by shoal's own bootstrap.Run, with
// the Docker API of the first manager reached over SSH exactly as the CLI
// reaches it. Everything is named per run and removed in t.Cleanup.
package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// Swarm is a lab swarm for one test.
type Swarm struct {
	Lab    *lab.Lab
	Inv    *inventory.Inventory
	Conn   *remote.Conn   // SSH to the first manager
	Docker *client.Client // its Engine API over that connection
}

// Name returns prefix plus a random suffix, for per-run names.
func Name(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }

type nodeLog struct{ t testing.TB }

func (p nodeLog) Node(name, msg string) { p.t.Logf("[%s] %s", name, msg) }

// Start brings up a lab of `managers` managers and `workers` workers,
// bootstraps it and connects to its first manager. It skips under -short.
func Start(t testing.TB, managers, workers int) *Swarm {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs the local Docker Engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	local, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("lab test without a local Docker Engine (run scripts/ensure-engine.sh; go test -short skips it): %v", err)
	}
	if _, err := local.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("lab test without a local Docker Engine (run scripts/ensure-engine.sh; go test -short skips it): %v", err)
	}
	name := Name("st")
	dir := t.TempDir()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if err := lab.Down(cctx, local, name, io.Discard); err != nil {
			t.Errorf("lab down %s: %v", name, err)
		}
		_ = local.Close()
	})
	l, err := lab.Up(ctx, local, lab.Options{Name: name, Managers: managers, Workers: workers, Dir: dir}, tlog{t})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: l.Name, DataPathPort: 4789},
		SSH:     inventory.SSH{User: "root", Port: 22, IdentityFile: l.KeyPath, KnownHosts: filepath.Join(dir, "known_hosts")},
	}
	for _, n := range l.Nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.Name, Address: n.Address, Role: string(n.Role), Hoster: n.Hoster, Region: n.Region})
	}
	inv.SetDefaults()
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	if _, err := bootstrap.Run(ctx, inv, bootstrap.Options{Dial: dial, Parallel: 4}, nodeLog{t}); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, inv.Nodes[0]), dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	docker, err := conn.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = docker.Close() })
	return &Swarm{Lab: l, Inv: inv, Conn: conn, Docker: docker}
}

// Load copies local images into every node of the lab.
func (s *Swarm) Load(t testing.TB, imgs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var containers []string
	for _, n := range s.Lab.Nodes {
		containers = append(containers, lab.ContainerName(s.Lab.Name, n.Name))
	}
	for _, img := range imgs {
		start := time.Now()
		if err := images.LoadInto(ctx, img, containers...); err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %s into %d nodes in %s", img, len(containers), time.Since(start).Round(time.Millisecond))
	}
}

// Address is the address of the named lab node (reachable from this host).
func (s *Swarm) Address(node string) string {
	for _, n := range s.Lab.Nodes {
		if n.Name == node {
			return n.Address
		}
	}
	panic(fmt.Sprintf("no node %s", node))
}
