package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
)

// TestNodeReplaceWorker replaces the worker of a 3+1 lab with `shoal node
// replace`: the new node is Ready with the old node's labels, the old one is
// gone from the swarm and the lab, and quorum (sampled every 500 ms during
// the swap) stays ok.
func TestNodeReplaceWorker(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	invPath := filepath.Join(c.home, "lab", name, "inventory.yaml")

	// Give w1 a label of the operator's, as an inventory would.
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range inv.Nodes {
		if inv.Nodes[i].Name == "w1" {
			inv.Nodes[i].Labels = map[string]string{"disk": "ssd"}
		}
	}
	saveInventory(t, invPath, inv)
	c.must("bootstrap", "--yes")

	// --dry-run prints the numbered steps and changes nothing (exit 4).
	code, out, errs := c.run("node", "replace", "w1", "--dry-run")
	if code != exitWork || !strings.Contains(out, "1. create server w1-r1 at") || !strings.Contains(out, "7. delete the server of w1 (lab)") ||
		!strings.Contains(out, "labels disk=ssd") {
		t.Fatalf("dry run: exit %d, want %d with 7 numbered steps\nstdout:\n%s\nstderr:\n%s", code, exitWork, out, errs)
	}
	if n := members(t, invPath); n["w1"].ID == "" || n["w1-r1"].ID != "" {
		t.Fatalf("the dry run changed the swarm: %v", n)
	}

	stopSampling := sampleQuorum(t, inv, "m1")
	start := time.Now()
	code, out, errs = c.run("node", "replace", "w1", "--yes")
	took := time.Since(start)
	samples := stopSampling()
	if code != 0 {
		t.Fatalf("node replace: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace w1 took %s; %d quorum samples", took.Round(100*time.Millisecond), len(samples))
	for _, want := range []string{"step 1/7: create server w1-r1", "step 5/7: wait until the tasks of w1 run elsewhere", "step 7/7: done", "replaced w1 by w1-r1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}
	checkSamples(t, samples)

	got := members(t, invPath)
	if _, ok := got["w1"]; ok {
		t.Errorf("w1 is still in the swarm: %+v", got["w1"])
	}
	nw, ok := got["w1-r1"]
	switch {
	case !ok:
		t.Fatalf("w1-r1 is not in the swarm: %v", got)
	case nw.State != "ready" || nw.Role != "worker" || nw.Availability != "active":
		t.Errorf("w1-r1 is %s %s %s, want a ready, active worker", nw.State, nw.Role, nw.Availability)
	case nw.Labels["disk"] != "ssd":
		t.Errorf("w1-r1 labels = %v, want w1's disk=ssd", nw.Labels)
	}
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	l, ok, err := lab.Find(context.Background(), docker, name)
	if err != nil || !ok {
		t.Fatalf("find lab %s: %v %v", name, ok, err)
	}
	if _, ok := l.Node("w1"); ok {
		t.Errorf("the lab still has w1's container")
	}
	if _, ok := l.Node("w1-r1"); !ok {
		t.Errorf("the lab has no w1-r1 container")
	}

	// Run twice: w1 is gone, so a second replace names it unknown (exit
	// 2), and bootstrap finds nothing to do.
	if code, _, errs := c.run("node", "replace", "w1", "--dry-run"); code != exitUsage || !strings.Contains(errs, "the swarm has no node w1") {
		t.Errorf("second replace: exit %d, want %d naming w1\n%s", code, exitUsage, errs)
	}
	if code, out, errs := c.run("bootstrap", "--dry-run"); code != 0 {
		t.Errorf("bootstrap --dry-run after the replacement: exit %d, want 0 (nothing to do)\n%s\n%s", code, out, errs)
	}
}

type discardProgress struct{}

func (discardProgress) Node(string, string) {}

func members(t *testing.T, invPath string) map[string]swarm.Member {
	t.Helper()
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := bootstrap.ObserveSwarm(ctx, inv, dial, discardProgress{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]swarm.Member{}
	for _, m := range obs.Members {
		out[m.Labels[swarm.LabelNode]] = m
	}
	return out
}

func saveInventory(t *testing.T, path string, inv *inventory.Inventory) {
	t.Helper()
	b, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// quorumSample is the quorum health seen at one moment of a swap.
type quorumSample struct {
	at    time.Duration
	state string
}

// sampleQuorum samples quorum every 500 ms, through one SSH connection to
// manager via (one that stays): the node list as the swarm's raft sees it.
// A manager that cannot answer (no leader) is a failed sample. The returned
// func stops sampling and returns the samples.
func sampleQuorum(t *testing.T, inv *inventory.Inventory, via string) func() []quorumSample {
	t.Helper()
	m, ok := inv.Node(via)
	if !ok {
		t.Fatalf("the lab has no %s", via)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	conn, err := remote.Dial(context.Background(), bootstrap.Target(inv, m), dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cli, err := conn.Docker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var samples []quorumSample
	begin := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			res, err := cli.NodeList(sctx, client.NodeListOptions{})
			cancel()
			if ctx.Err() != nil {
				return
			}
			state := ""
			if err != nil {
				state = "node list: " + err.Error()
			} else {
				total, reach := 0, 0
				for _, n := range res.Items {
					if n.ManagerStatus != nil {
						total++
						if n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable {
							reach++
						}
					}
				}
				state = quorum.Health(total, reach)
			}
			samples = append(samples, quorumSample{at: time.Since(begin), state: state})
		}
	}()
	return func() []quorumSample {
		stop()
		wg.Wait()
		return samples
	}
}

func checkSamples(t *testing.T, samples []quorumSample) {
	t.Helper()
	if len(samples) == 0 {
		t.Errorf("no quorum sample was taken during the swap")
	}
	for i, s := range samples {
		if s.state != quorum.OK {
			t.Errorf("quorum sample %d (%s after the start) = %q, want ok", i, s.at.Round(100*time.Millisecond), s.state)
		}
	}
}

// TestNodeReplaceManagerToAnotherHoster moves manager m1 of a 3+1 lab to a
// hoster that holds no manager: the successor is a reachable manager there,
// m1 is gone, there are 3 managers again and no hoster risk, and quorum
// (sampled every 500 ms through m2) stays ok.
func TestNodeReplaceManagerToAnotherHoster(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	invPath := filepath.Join(c.home, "lab", name, "inventory.yaml")
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	stopSampling := sampleQuorum(t, inv, "m2")
	start := time.Now()
	code, out, errs := c.run("node", "replace", "m1", "--hoster", "hoster-d", "--yes")
	took := time.Since(start)
	samples := stopSampling()
	if code != 0 {
		t.Fatalf("node replace: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace m1 --hoster hoster-d took %s; %d quorum samples", took.Round(100*time.Millisecond), len(samples))
	checkSamples(t, samples)
	if !strings.Contains(errs, "step 6/8: demote m1") {
		t.Errorf("progress lacks the demote step:\n%s", errs)
	}
	st := c.status()
	if st.Quorum != quorum.OK || st.Managers != 3 || len(st.HosterRisk) != 0 {
		t.Errorf("after the swap: quorum %s, %d managers, hoster risk %v; want ok, 3, none", st.Quorum, st.Managers, st.HosterRisk)
	}
	found := false
	for _, n := range st.Nodes {
		switch n.Name {
		case "m1":
			t.Errorf("m1 is still in the swarm: %+v", n)
		case "m1-r1":
			found = true
			if n.Role != "manager" || n.Reachability != "reachable" || n.Hoster != "hoster-d" {
				t.Errorf("m1-r1 = %+v, want a reachable manager at hoster-d", n)
			}
		}
	}
	if !found {
		t.Errorf("m1-r1 is not in the swarm: %+v", st.Nodes)
	}
}

// TestNodeReplaceOnAPlainInventory replaces the worker and then a manager
// of a 3+1 lab whose inventory is copied elsewhere, so shoal sees a plain inventory of
// servers it did not make: the new server is one more lab container
// started by hand (lab.AddNode, as an operator orders a VPS), passed with
// --address. shoal joins it with w1's role and labels, w1 leaves the swarm
// from its own engine, and --write-inventory puts w1-r1 in w1's place with
// every other line of the file (a comment included) kept; a second
// bootstrap on that file reports no changes. m1 is then replaced without
// the flag: quorum (sampled every 500 ms) holds, the file is not written,
// the entry to paste is printed, and once it is pasted bootstrap again
// reports no changes.
func TestNodeReplaceOnAPlainInventory(t *testing.T) {
	c, name := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	labDir := filepath.Join(c.home, "lab", name)
	inv, err := inventory.Load(filepath.Join(labDir, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.yaml")
	for i := range inv.Nodes {
		if inv.Nodes[i].Name == "w1" {
			inv.Nodes[i].Labels = map[string]string{"disk": "ssd"}
		}
	}
	inv.Path = plain
	b, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte("# servers we rent by hand\n"), b...)
	if err := os.WriteFile(plain, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.must("bootstrap", "--yes", "-i", plain)

	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	srv, err := lab.AddNode(ctx, docker, lab.Ref(name, labDir), lab.NodeSpec{Name: "new-vps", Role: lab.RoleWorker, Hoster: "hoster-b"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	// --write-inventory refuses before anything changes when it would
	// lose a comment inside w1's entry.
	w1Addr := "address: " + func() string { n, _ := inv.Node("w1"); return n.Address }()
	commented := strings.Replace(string(b), w1Addr+"\n", w1Addr+" # rented in 2024\n", 1)
	if err := os.WriteFile(plain, []byte(commented), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := c.run("node", "replace", "w1", "--address", srv.Address, "-i", plain, "--yes", "--write-inventory")
	if code != exitRefused || !strings.Contains(errs, "holds a comment") || !strings.Contains(errs, "nothing was written") {
		t.Fatalf("--write-inventory over a commented entry: exit %d, want %d naming the comment\n%s%s", code, exitRefused, out, errs)
	}
	if got := members(t, plain); got["w1"].ID == "" || got["w1-r1"].ID != "" {
		t.Fatalf("the refused replacement changed the swarm: %v", got)
	}
	if err := os.WriteFile(plain, b, 0o600); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	code, out, errs = c.run("node", "replace", "w1", "--address", srv.Address, "-i", plain, "--yes", "--write-inventory")
	if code != 0 {
		t.Fatalf("node replace on a plain inventory: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace w1 --address %s took %s\n%s%s", srv.Address, time.Since(start).Round(100*time.Millisecond), errs, out)
	for _, want := range []string{"step 1/5: join w1-r1", "step 5/5: remove w1 from the swarm", "replaced w1 by w1-r1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(out, "wrote "+plain) || !strings.Contains(out, "delete the server of w1") {
		t.Errorf("stdout does not say what was written and what is left:\n%s", out)
	}
	after, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(after), "# servers we rent by hand\n") || !strings.Contains(string(after), "name: w1-r1") ||
		!strings.Contains(string(after), "address: "+srv.Address) || strings.Contains(string(after), "name: w1\n") {
		t.Errorf("inventory after --write-inventory:\n%s", after)
	}
	got := members(t, plain)
	if _, ok := got["w1"]; ok {
		t.Errorf("w1 is still in the swarm: %+v", got["w1"])
	}
	w1, _ := inv.Node("w1")
	if nw := got["w1-r1"]; nw.State != "ready" || nw.Role != "worker" || nw.Labels["disk"] != "ssd" || nw.Labels[swarm.LabelHoster] != w1.Hoster {
		t.Errorf("w1-r1 = %+v, want a ready worker with disk=ssd at w1's hoster", nw)
	}
	// w1's server is the operator's to delete; it has left the swarm.
	state, err := exec.CommandContext(ctx, "docker", "exec", lab.ContainerName(name, "w1"), "docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if err != nil || strings.TrimSpace(string(state)) != "inactive" {
		t.Errorf("w1's engine swarm state = %q (%v), want inactive", state, err)
	}
	if out := c.must("bootstrap", "-i", plain); !strings.Contains(out, "no changes") {
		t.Errorf("bootstrap after the replacement does not report no changes:\n%s", out)
	}

	// A manager, without --write-inventory: the file is left alone and
	// the entry to paste is printed; quorum holds throughout.
	m1, _ := inv.Node("m1")
	srv2, err := lab.AddNode(ctx, docker, lab.Ref(name, labDir), lab.NodeSpec{Name: "new-vps-2", Role: lab.RoleManager, Hoster: m1.Hoster}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	stopSampling := sampleQuorum(t, inv, "m2")
	start = time.Now()
	code, out, errs = c.run("node", "replace", "m1", "--address", srv2.Address, "-i", plain, "--yes")
	samples := stopSampling()
	if code != 0 {
		t.Fatalf("node replace m1 on a plain inventory: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("node replace m1 --address %s took %s; %d quorum samples", srv2.Address, time.Since(start).Round(100*time.Millisecond), len(samples))
	checkSamples(t, samples)
	if !strings.Contains(errs, "step 5/6: demote m1") || !strings.Contains(out, "replace the entry of m1 with:\n  - name: m1-r1\n    address: "+srv2.Address) {
		t.Errorf("progress lacks the demote, or stdout the entry to paste:\n%s%s", errs, out)
	}
	if now, _ := os.ReadFile(plain); string(now) != string(before) {
		t.Errorf("the inventory was written without --write-inventory:\n%s", now)
	}
	st := c.status()
	if st.Managers != 3 || st.ManagersReachable != 3 || st.Quorum != quorum.OK {
		t.Errorf("after replacing m1: %d managers, %d reachable, quorum %s; want 3, 3, ok", st.Managers, st.ManagersReachable, st.Quorum)
	}
	if got := members(t, plain); got["m1-r1"].Role != "manager" || got["m1"].ID != "" {
		t.Errorf("m1-r1 = %+v, m1 = %+v; want m1-r1 a manager and m1 gone", got["m1-r1"], got["m1"])
	}
	// The operator makes the printed edit; then bootstrap has nothing to do.
	edited, err := inventory.ReplaceNode(plain, before, "m1", inventory.Node{Name: "m1-r1", Address: srv2.Address, Role: "manager", Hoster: m1.Hoster, Region: m1.Region})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.must("bootstrap", "-i", plain); !strings.Contains(out, "no changes") {
		t.Errorf("bootstrap after the manager's replacement and the edit does not report no changes:\n%s", out)
	}
}
