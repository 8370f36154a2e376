package main

// End-to-end tests on the local lab: real containers running sshd and
// dockerd, reached over SSH by the same code users run. They need a Docker
// Engine (scripts/ensure-engine.sh) and are skipped by `go test -short`.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
)

// cli runs shoal in process with its own SHOAL_HOME and returns exit code,
// stdout and stderr.
type cli struct {
	t    testing.TB
	home string
}

func (c cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	code := Main(ctx, append([]string{"--home", c.home}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func (c cli) must(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("shoal %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (c cli) status() swarm.Status {
	c.t.Helper()
	var st swarm.Status
	out := c.must("status", "-o", "json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("status -o json is not one JSON document: %v\n%s", err, out)
	}
	return st
}

// newLab names a lab per test run and removes it when the test ends,
// whatever happened.
func newLab(t testing.TB) (cli, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs Docker Engine (skipped with -short)")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "t" + hex.EncodeToString(b)
	c := cli{t: t, home: t.TempDir()}
	t.Cleanup(func() {
		docker, err := localDocker()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer docker.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := lab.Down(ctx, docker, name, os.Stderr); err != nil {
			t.Errorf("cleanup lab %s: %v", name, err)
		}
	})
	return c, name
}

func TestLabClusterConvergesAndStaysConverged(t *testing.T) {
	c, name := newLab(t)

	start := time.Now()
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "2")
	first := time.Since(start)

	st := c.status()
	if st.Quorum != "ok" || st.Managers != 3 || st.ManagersReachable != 3 {
		t.Fatalf("status: quorum %q, managers %d/%d", st.Quorum, st.ManagersReachable, st.Managers)
	}
	hosters := map[string]bool{}
	ids := map[string]string{}
	for _, n := range st.Nodes {
		if n.State != "ready" {
			t.Errorf("node %s is %s, want ready", n.Name, n.State)
		}
		if n.Role == "manager" {
			hosters[n.Hoster] = true
		}
		ids[n.Name] = n.ID
	}
	if len(st.Nodes) != 5 || len(hosters) != 3 || len(st.HosterRisk) != 0 {
		t.Fatalf("want 5 nodes with managers on 3 hosters and no hoster risk, got %+v", st)
	}

	// A second bootstrap plans nothing, changes nothing and is quick.
	start = time.Now()
	code, out, errs := c.run("bootstrap", "-o", "json")
	second := time.Since(start)
	if code != 0 {
		t.Fatalf("second bootstrap: exit %d\n%s\n%s", code, out, errs)
	}
	var doc bootstrapJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("bootstrap -o json: %v\n%s", err, out)
	}
	if doc.Changed || len(doc.Steps) != 0 || len(doc.Hosts) != 0 {
		t.Fatalf("second bootstrap changed things: %+v", doc)
	}
	if second > first/2 {
		t.Errorf("second bootstrap took %s, first lab up %s: a no-op should be much quicker", second, first)
	}
	if out := c.must("bootstrap"); !strings.Contains(out, "no changes") {
		t.Errorf("text output does not say no changes:\n%s", out)
	}
	for _, n := range c.status().Nodes {
		if ids[n.Name] != n.ID {
			t.Errorf("node %s changed ID from %s to %s", n.Name, ids[n.Name], n.ID)
		}
	}

	// --dry-run on a converged cluster finds no work: exit 0.
	if code, out, errs := c.run("bootstrap", "--dry-run"); code != 0 {
		t.Errorf("dry run on a converged cluster: exit %d\n%s\n%s", code, out, errs)
	}

	// A VPS whose host key changed (rebuilt, or someone in the middle) is refused.
	inv, err := inventory.Load(filepath.Join(c.home, "lab", name, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := inv.Node("w1")
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	conn, err := remote.Dial(context.Background(), bootstrap.Target(inv, w1), dial)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Run(context.Background(), remote.Cmd{Script: "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP $(cat /run/sshd.pid)"}); err != nil {
		t.Fatalf("change w1's host key: %v", err)
	}
	code, out, errs = c.run("bootstrap")
	if code == 0 {
		t.Fatalf("bootstrap accepted a changed host key\n%s\n%s", out, errs)
	}
	for _, want := range []string{w1.Address, "SHA256:", "changed"} {
		if !strings.Contains(errs, want) {
			t.Errorf("host key error does not mention %q:\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, "SHA256:"); n < 2 {
		t.Errorf("host key error should name both fingerprints, found %d:\n%s", n, errs)
	}
}

func TestFreshVPSGetsDockerInstalled(t *testing.T) {
	c, name := newLab(t)
	out := c.must("lab", "up", "--name", name, "--fresh", "--managers", "1", "--workers", "0")
	if !strings.Contains(out, "install docker") {
		t.Errorf("lab up on a fresh VPS did not report installing docker:\n%s", out)
	}
	st := c.status()
	if st.Quorum != "ok" || st.Managers != 1 || len(st.Nodes) != 1 || st.Nodes[0].Engine == "" {
		t.Fatalf("status after install: %+v", st)
	}
	if out := c.must("bootstrap"); !strings.Contains(out, "no changes") {
		t.Errorf("second bootstrap after install changed things:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(c.home, "lab", name, "inventory.yaml")); err != nil {
		t.Errorf("lab inventory not written: %v", err)
	}
}
