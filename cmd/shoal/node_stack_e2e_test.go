package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/replace"
	"github.com/shoalops/shoal/replace/stackexec"
)

// TestNodeReplaceOnAShoalUpStack replaces the worker of a `shoal up` stack
// (3 managers on 3 hosters + 1 worker, local pools) through the Pulumi
// program: one up creates and joins w-1-r1 beside w-1 (here as a run that
// stops there: a later `shoal up` keeps both, and the same command run
// again resumes), w-1 is drained (its task seen running on w-1-r1) and
// removed, another up deletes w-1's server. Then manager mc-1 is moved to
// another hoster in one uninterrupted run (its successor joins
// as a worker and is promoted before mc-1 is demoted). Quorum, sampled
// every 500 ms through ma-1, stays ok throughout; the user's stack file is
// not written; the old containers are gone; and afterwards `shoal preview`
// and `shoal up` find nothing to change.
func TestNodeReplaceOnAShoalUpStack(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n", 1)
	cfg = strings.Replace(cfg, "role: worker, count: 2", "role: worker, count: 1, labels: {disk: ssd}", 1)
	// A fourth hoster with no server yet, for the manager to move to.
	cfg = strings.Replace(cfg, "    - {name: w,", "    - {name: md, provider: local, hoster: hoster-d, role: manager, count: 0}\n    - {name: w,", 1)
	cfgPath := filepath.Join(dir, "Pulumi."+name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stack := []string{"--stack", name, "--dir", dir}
	start := time.Now()
	c.must(append([]string{"up", "--yes"}, stack...)...)
	t.Logf("up: %s", time.Since(start).Round(time.Second))
	invPath := automation.InventoryPath(c.home, name)
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}

	// A service with its one task on w-1, from an image only w-1 holds
	// (a lab VPS cannot pull: the successor gets it from w-1).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	demo, err := images.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.LoadInto(ctx, demo, lab.ContainerName(name, "w-1")); err != nil {
		t.Fatal(err)
	}
	ma := stackManagerDocker(ctx, t, inv, "ma-1")
	one := uint64(1)
	web, err := ma.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: "web"},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: &swarmtypes.ContainerSpec{Image: demo, Env: []string{"LISTEN=:8080", "DEMO_NAME=web"}},
			Placement:     &swarmtypes.Placement{Constraints: []string{"node.role==worker"}},
		},
		Mode: swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: &one}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitRuns(ctx, t, ma, web.ID, 2*time.Minute, "web running on w-1", func(r serviceRuns) bool {
		return r.Running == 1 && strings.Join(r.On, ",") == "w-1"
	})

	// --dry-run prints the steps, the Pulumi runs among them, and changes
	// nothing (exit 4).
	code, out, errs := c.run(append([]string{"node", "replace", "w-1", "--dry-run"}, stack...)...)
	if code != exitWork || !strings.Contains(out, "1. create server w-1-r1 at hoster-a and join it as worker with labels disk=ssd (pulumi up of stack "+name) ||
		!strings.Contains(out, "6. delete the server of w-1 (pulumi up of stack "+name+": w-1-r1 in its place)") {
		t.Fatalf("dry run: exit %d, want %d with 6 numbered steps\nstdout:\n%s\nstderr:\n%s", code, exitWork, out, errs)
	}

	// The program's own check runs before anything changes.
	if code, _, errs := c.run(append([]string{"node", "replace", "w-1", "--hoster", "hoster-z", "--dry-run"}, stack...)...); code != exitUsage ||
		!strings.Contains(errs, "hoster hoster-z has no pool in shoal:pools") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("replace onto a hoster without a pool: exit %d, want %d naming it\n%s", code, exitUsage, errs)
	}

	// A run that stopped after its first step (the program's first up,
	// made here through the executor): w-1-r1 runs beside w-1, and a
	// later `shoal up` keeps both.
	stopSampling := sampleQuorum(t, inv, "ma-1")
	start = time.Now()
	stopAfterJoin(ctx, t, c.home, name, dir, invPath, replace.Node{Name: "w-1-r1", Role: "worker", Hoster: "hoster-a"}, replace.Node{Name: "w-1", Role: "worker", Hoster: "hoster-a"})
	if n := members(t, invPath); n["w-1"].ID == "" || n["w-1-r1"].State != "ready" {
		t.Fatalf("after the first up: w-1 %+v, w-1-r1 %+v; want both, w-1-r1 ready", n["w-1"], n["w-1-r1"])
	}
	if code, out, errs := c.run(append([]string{"preview"}, stack...)...); code != 0 {
		t.Errorf("preview between the two runs: exit %d, want 0 (the successor and its predecessor both kept)\n%s\n%s", code, out, errs)
	}
	// The same command resumes with that successor.
	code, out, errs = c.run(append([]string{"node", "replace", "w-1", "--yes"}, stack...)...)
	took := time.Since(start)
	samples := stopSampling()
	if code != 0 {
		t.Fatalf("node replace: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace w-1 took %s; %d quorum samples", took.Round(100*time.Millisecond), len(samples))
	if testing.Verbose() {
		t.Logf("node replace w-1:\n%s", errs)
	}
	for _, want := range []string{"resuming its unfinished replacement by w-1-r1", "step 1/6: make sure server w-1-r1", "step 4/6: wait until the tasks of w-1 run elsewhere", "step 6/6: done", "replaced w-1 by w-1-r1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}
	checkSamples(t, samples)

	got := members(t, invPath)
	if _, ok := got["w-1"]; ok {
		t.Errorf("w-1 is still in the swarm: %+v", got["w-1"])
	}
	if nw, ok := got["w-1-r1"]; !ok || nw.State != "ready" || nw.Role != "worker" || nw.Availability != "active" || nw.Labels["disk"] != "ssd" {
		t.Errorf("w-1-r1 = %+v (present %v), want a ready, active worker with disk=ssd", nw, ok)
	}
	waitRuns(ctx, t, ma, web.ID, time.Minute, "web running on w-1-r1", func(r serviceRuns) bool {
		return r.Running == 1 && strings.Join(r.On, ",") == "w-1-r1"
	})
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()

	// A manager, moved to hoster-d: its successor joins as a worker, is
	// promoted and Ready before mc-1 is drained, demoted and removed.
	stopSampling = sampleQuorum(t, inv, "ma-1")
	start = time.Now()
	code, out, errs = c.run(append([]string{"node", "replace", "mc-1", "--hoster", "hoster-d", "--yes"}, stack...)...)
	took = time.Since(start)
	samples = stopSampling()
	if code != 0 {
		t.Fatalf("node replace mc-1: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace mc-1 took %s; %d quorum samples", took.Round(100*time.Millisecond), len(samples))
	if testing.Verbose() {
		t.Logf("node replace mc-1:\n%s", errs)
	}
	for _, want := range []string{"step 1/7: create server mc-1-r1 at hoster-d and join it as manager", "step 5/7: demote mc-1", "step 7/7: done", "replaced mc-1 by mc-1-r1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}
	checkSamples(t, samples)
	st := c.status()
	hosters := map[string]bool{}
	for _, n := range st.Nodes {
		if n.Role == "manager" {
			hosters[n.Hoster] = true
		}
	}
	if st.Quorum != "ok" || st.Managers != 3 || st.ManagersReachable != 3 || len(hosters) != 3 || len(st.HosterRisk) != 0 {
		t.Errorf("after replacing mc-1: %+v, want 3 reachable managers on 3 hosters", st)
	}
	if m, ok := nodeNamed(st, "mc-1-r1"); !ok || m.Role != "manager" || m.Hoster != "hoster-d" {
		t.Errorf("mc-1-r1 = %+v (present %v), want a manager at hoster-d", m, ok)
	}
	if _, ok := nodeNamed(st, "mc-1"); ok {
		t.Errorf("mc-1 is still in the swarm")
	}
	for _, gone := range []string{"w-1", "mc-1"} {
		if _, err := docker.ContainerInspect(ctx, lab.ContainerName(name, gone), client.ContainerInspectOptions{}); err == nil {
			t.Errorf("%s's container is still there", gone)
		}
	}
	if b, err := os.ReadFile(cfgPath); err != nil || string(b) != cfg {
		t.Errorf("node replace wrote the user's stack file (%v):\n%s", err, b)
	}

	// The stack's state keeps w-1-r1 in w-1's place: nothing to change.
	if code, out, errs := c.run(append([]string{"preview"}, stack...)...); code != 0 {
		t.Errorf("preview after the replacement: exit %d, want 0 (no changes)\n%s\n%s", code, out, errs)
	}
	var r stackResult
	if out := c.must(append([]string{"up", "--yes", "-o", "json"}, stack...)...); json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("up -o json:\n%s", out)
	}
	if !r.noChanges() {
		t.Errorf("up after the replacement changed resources: %+v", r.Changes)
	}
	if st := c.status(); st.Quorum != "ok" || len(st.Nodes) != 4 {
		t.Errorf("final status %+v", st)
	}
}

// stackManagerDocker is the Docker API of manager node of a stack's
// inventory inv, closed when the test ends.
func stackManagerDocker(ctx context.Context, t *testing.T, inv *inventory.Inventory, node string) *client.Client {
	t.Helper()
	n, ok := inv.Node(node)
	if !ok {
		t.Fatalf("%s is not in the inventory", node)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d, err := conn.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// stopAfterJoin makes the first step of a stack's replacement of old by nu
// (the program's first up) and stops, as a `shoal node replace` run that
// ended there would.
func stopAfterJoin(ctx context.Context, t *testing.T, home, stack, dir, invPath string, nu, old replace.Node) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := automation.Open(ctx, automation.Options{Home: home, Stack: stack, Dir: dir, Self: self, BuiltIn: builtIn()})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if err := stackexec.New(ws, invPath, stackexec.Options{Dial: dial}).Join(ctx, nu, old); err != nil {
		t.Fatalf("the first up: %v", err)
	}
}
