package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
)

// TestNodeReplaceResumesAfterAStoppedRun replaces worker w2 of a 3+2 lab
// while a service cannot run anywhere (its image does not exist): the
// first run joins w2-r1, drains w2 and stops at "wait until the tasks of
// w2 run elsewhere" after --stuck-after, naming the service. Once the
// operator removes the service, the same command resumes with w2-r1 (the
// plan says so; no w2-r2 is made), w2 is gone from the swarm and the lab,
// w2-r1 is a Ready worker, and bootstrap finds nothing to do. Then the
// same for w1 on a plain inventory.
func TestNodeReplaceResumesAfterAStoppedRun(t *testing.T) {
	c, name := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "2")
	invPath := filepath.Join(c.home, "lab", name, "inventory.yaml")
	dockerIn := func(node string, args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", lab.ContainerName(name, node), "docker"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s on %s: %v\n%s", strings.Join(args, " "), node, err, out)
		}
	}
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	// The server for the plain inventory's part, started now: a container
	// made after w2's removal could get w2's address, whose pinned host key
	// would then stop its join (as it would an operator's).
	srv, err := lab.AddNode(ctx, docker, lab.Ref(name, filepath.Dir(invPath)), lab.NodeSpec{Name: "new-vps", Role: lab.RoleWorker, Hoster: "hoster-a"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dockerIn("m1", "service", "create", "--name", "broken", "--no-resolve-image", "--detach", "nosuch:image", "sleep", "1d")

	start := time.Now()
	code, out, errs := c.run("node", "replace", "w2", "--yes", "--stuck-after", "10s")
	t.Logf("first run: exit %d after %s", code, time.Since(start).Round(100*time.Millisecond))
	if code != exitFailed || !strings.Contains(errs, `step 5/7 "wait until the tasks of w2 run elsewhere" failed`) || !strings.Contains(errs, "broken (") ||
		!strings.Contains(errs, "run the same `shoal node replace w2` again") {
		t.Fatalf("first run: exit %d, want %d stopping at step 5 naming the service broken and how to resume\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, errs)
	}
	got := members(t, invPath)
	if got["w2"].Availability != "drain" || got["w2-r1"].State != "ready" {
		t.Fatalf("after the stopped run: w2 %+v, w2-r1 %+v; want w2 drained beside a Ready w2-r1", got["w2"], got["w2-r1"])
	}

	dockerIn("m1", "service", "rm", "broken")

	// The plan says it resumes, and with which node; --dry-run changes nothing.
	code, out, errs = c.run("node", "replace", "w2", "--dry-run")
	if code != exitWork || !strings.Contains(out, "resume the replacement of w2 (worker") || !strings.Contains(out, "by w2-r1") ||
		!strings.Contains(out, "1. resume with w2-r1 (worker at") || !strings.Contains(out, "2. drain w2") || strings.Contains(out, "w2-r2") {
		t.Fatalf("dry run of the second run: exit %d, want %d resuming with w2-r1\nstdout:\n%s\nstderr:\n%s", code, exitWork, out, errs)
	}

	start = time.Now()
	code, out, errs = c.run("node", "replace", "w2", "--yes")
	t.Logf("second run: exit %d after %s", code, time.Since(start).Round(100*time.Millisecond))
	if code != 0 {
		t.Fatalf("second run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"step 1/5: resume with w2-r1", "step 5/5: delete the server of w2 (lab)", "replaced w2 by w2-r1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(out+errs, "w2-r2") {
		t.Errorf("the second run made another successor:\n%s%s", out, errs)
	}

	got = members(t, invPath)
	for _, gone := range []string{"w2", "w2-r2"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s is in the swarm: %+v", gone, got[gone])
		}
	}
	if nw := got["w2-r1"]; nw.State != "ready" || nw.Role != "worker" || nw.Availability != "active" {
		t.Errorf("w2-r1 = %+v, want a ready, active worker", nw)
	}
	l, ok, err := lab.Find(ctx, docker, name)
	if err != nil || !ok {
		t.Fatalf("find lab %s: %v %v", name, ok, err)
	}
	if _, ok := l.Node("w2"); ok {
		t.Errorf("the lab still has w2's container")
	}
	if _, ok := l.Node("w2-r2"); ok {
		t.Errorf("the lab has a w2-r2 container")
	}
	if st := c.status(); st.Quorum != quorum.OK || st.Managers != 3 || len(st.Nodes) != 5 {
		t.Errorf("after the replacement: quorum %s, %d managers, %d nodes; want ok, 3, 5", st.Quorum, st.Managers, len(st.Nodes))
	}
	if out := c.must("bootstrap"); !strings.Contains(out, "no changes") {
		t.Errorf("bootstrap after the replacement does not report no changes:\n%s", out)
	}

	// The same on a plain inventory (the lab's copied elsewhere): its file
	// is not written, so it lists w1 and not w1-r1 after the stopped run;
	// the second run, with the same --address, takes w1-r1 over and w1
	// leaves the swarm from its own engine.
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.yaml")
	inv.Path = plain
	saveInventory(t, plain, inv)
	dockerIn("m1", "service", "create", "--name", "broken", "--no-resolve-image", "--detach", "nosuch:image", "sleep", "1d")
	code, out, errs = c.run("node", "replace", "w1", "-i", plain, "--address", srv.Address, "--yes", "--stuck-after", "10s")
	if code != exitFailed || !strings.Contains(errs, `step 4/5 "wait until the tasks of w1 run elsewhere" failed`) {
		t.Fatalf("first run on the plain inventory: exit %d, want %d stopping at step 4\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, errs)
	}
	dockerIn("m1", "service", "rm", "broken")
	code, out, errs = c.run("node", "replace", "w1", "-i", plain, "--address", srv.Address, "--yes")
	if code != 0 || !strings.Contains(out, "resume the replacement of w1") || !strings.Contains(errs, "step 1/4: resume with w1-r1") ||
		!strings.Contains(out, "replace the entry of w1 with:\n  - name: w1-r1\n    address: "+srv.Address) {
		t.Fatalf("second run on the plain inventory: exit %d, want 0 resuming with w1-r1 and printing its entry\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	got = members(t, plain)
	if _, ok := got["w1"]; ok {
		t.Errorf("w1 is still in the swarm: %+v", got["w1"])
	}
	if _, ok := got["w1-r2"]; ok {
		t.Errorf("the second run made w1-r2")
	}
	if nw := got["w1-r1"]; nw.State != "ready" || nw.Role != "worker" || nw.Availability != "active" {
		t.Errorf("w1-r1 = %+v, want a ready, active worker", nw)
	}
	state, err := exec.CommandContext(ctx, "docker", "exec", lab.ContainerName(name, "w1"), "docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if err != nil || strings.TrimSpace(string(state)) != "inactive" {
		t.Errorf("w1's engine swarm state = %q (%v), want inactive (it left from its own engine)", state, err)
	}
}
