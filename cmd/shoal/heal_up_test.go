package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
)

// entriesNamed lists the swarm entries of node name (two while a dead
// entry waits beside its replacement of the same name).
func entriesNamed(st swarm.Status, name string) []swarm.NodeStatus {
	var out []swarm.NodeStatus
	for _, n := range st.Nodes {
		if n.Name == name {
			out = append(out, n)
		}
	}
	return out
}

// On a `shoal up` stack heal replaces a dead worker through the Pulumi
// program: the node keeps its name and gets a new server at its hoster
// (its generation raised for that up, never in the user's stack file), the dead entry leaves the
// swarm, and a following `shoal up` has nothing to change.
func TestHealReplacesADeadStackWorkerThroughPulumi(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The grace comes from the stack's shoal:heal, not a flag.
	cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n  shoal:heal:\n    grace: 1s\n", 1)
	cfg = strings.Replace(cfg, "role: worker, count: 2", "role: worker, count: 1", 1)
	cfgPath := filepath.Join(dir, "Pulumi."+name+".yaml")
	cfgBefore := []byte(cfg)
	if err := os.WriteFile(cfgPath, cfgBefore, 0o600); err != nil {
		t.Fatal(err)
	}
	up := func() stackResult {
		t.Helper()
		out := c.must("up", "--yes", "--stack", name, "--dir", dir, "-o", "json")
		var r stackResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		return r
	}
	start := time.Now()
	up()
	before := c.status()
	old := entriesNamed(before, "w-1")
	if before.Quorum != "ok" || len(before.Nodes) != 4 || len(old) != 1 {
		t.Fatalf("after up: %+v", before)
	}
	t.Logf("up: %s", time.Since(start).Round(time.Second))

	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := lab.KillNode(ctx, docker, c.labRef(name), "w-1"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	nolog := func() string { return "" }
	c.waitStatus(time.Minute, "the swarm marking w-1 down", func(st swarm.Status) bool {
		e := entriesNamed(st, "w-1")
		return len(e) == 1 && e[0].State == "down"
	}, nolog)
	t.Logf("w-1 down after %s", time.Since(killed).Round(time.Second))

	// A dry run decides as the real run will: w-1 under its own name. The
	// swarm may have marked w-1 down less than the grace ago: then heal
	// rightly says it is waiting (exit 0), and the dry run is asked again.
	var code int
	var dry, errs string
	for range 30 {
		code, dry, errs = c.run("heal", "--once", "--dry-run", "--stack", name, "--dir", dir)
		if code != 0 || !strings.Contains(dry, "waiting: w-1 down for") {
			break
		}
		time.Sleep(time.Second)
	}
	if code != 4 || !strings.Contains(dry, "replacing it with w-1, attempt 1 of 3") {
		t.Fatalf("heal --once --dry-run: exit %d, want 4 and w-1 replaced under its name\n%s%s", code, dry, errs)
	}

	// heal --once until it has nothing left to do (bounded).
	var outs []string
	healed := false
	for i := 0; i < 4 && !healed; i++ {
		code, out, errs := c.run("heal", "--once", "--stack", name, "--dir", dir)
		outs = append(outs, fmt.Sprintf("--- heal --once #%d: exit %d\n%s%s", i+1, code, out, errs))
		if code != 0 {
			continue
		}
		st := c.status()
		e := entriesNamed(st, "w-1")
		healed = len(e) == 1 && e[0].State == "ready" && e[0].ID != old[0].ID && len(st.Nodes) == 4
	}
	log := strings.Join(outs, "\n")
	if !healed {
		t.Fatalf("w-1 not replaced after %d passes of heal --once; status %+v\n%s", len(outs), c.status(), log)
	}
	t.Logf("healed %s after the kill, in %d passes", time.Since(killed).Round(time.Second), len(outs))
	if testing.Verbose() {
		t.Logf("heal output:\n%s", log)
	}
	if !strings.Contains(log, "did replace: w-1 (worker at hoster-a) down") || !strings.Contains(log, "replacing it with w-1, attempt 1 of 3") {
		t.Errorf("heal did not say it replaced w-1 under its own name:\n%s", log)
	}

	st := c.status()
	n := entriesNamed(st, "w-1")[0]
	if n.Hoster != old[0].Hoster || n.Role != "worker" || !n.InInventory || st.Quorum != "ok" {
		t.Fatalf("after heal: w-1 %+v, quorum %s", n, st.Quorum)
	}
	l, ok, err := lab.Find(ctx, docker, name)
	if err != nil || !ok {
		t.Fatalf("find lab %s: %v %v", name, ok, err)
	}
	if srv, ok := l.Node("w-1"); !ok || srv.Address == "" || srv.Address != n.Address {
		t.Errorf("w-1's new server %+v, swarm says address %s", srv, n.Address)
	}
	// Heal wrote nothing into the user's stack file (it may run on the
	// cluster, where the file is a read-only secret): the deployed
	// generation is the floor of the next run, so another up changes
	// nothing and another heal does nothing.
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(cfgBefore) {
		t.Errorf("heal wrote the user's stack file:\n%s", b)
	}
	if r := up(); !r.noChanges() {
		t.Errorf("up after heal changed resources: %+v", r.Changes)
	}
	if out := c.must("heal", "--once", "--stack", name, "--dir", dir); strings.Contains(out, "did ") {
		t.Errorf("a second heal acted:\n%s", out)
	}
	if st := c.status(); st.Quorum != "ok" || len(st.Nodes) != 4 {
		t.Errorf("final status %+v", st)
	}
	c.must("destroy", "--stack", name, "--dir", dir, "--yes")
}
