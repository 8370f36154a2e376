package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
)

// pulumiUpLine is the pulumi actor's log line as it starts an up.
var pulumiUpLine = regexp.MustCompile(`msg="heal: pulumi up" nodes=(\S+) generations=map\[\S+:(\d+)\]`)

// Heal is stopped while the Pulumi actor is in the middle of replacing a
// dead worker of a `shoal up` stack (its up running), and started again:
// the second process resumes the recorded attempt instead of starting
// another, so exactly one new server is made (one generation raise), the
// node is Ready under its name, and the Pulumi state is still the truth: a
// second `shoal up` has no changes.
func TestHealRestartedMidRemediationOnAShoalUpStackReplacesOnce(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n  shoal:heal:\n    grace: 1s\n", 1)
	cfg = strings.Replace(cfg, "role: worker, count: 2", "role: worker, count: 1", 1)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(cfg), 0o600); err != nil {
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
	t.Logf("up: %s", time.Since(start).Round(time.Second))
	before := c.status()
	old := entriesNamed(before, "w-1")
	if before.Quorum != "ok" || len(before.Nodes) != 4 || len(old) != 1 {
		t.Fatalf("after up: %+v", before)
	}
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	oldServer, _ := c.labRef(name).Node("w-1")

	// The first heal is a process of its own (stopped with SIGTERM, as the
	// swarm stops a service task), so its idle RSS can be read: the heal
	// service's code path, on the host (docs/benchmarks.md).
	healArgs := []string{"--stack", name, "--dir", dir, "--resync", "5s"}
	shoalBin := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", shoalBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build shoal: %v\n%s", err, out)
	}
	var firstOut syncBuffer
	proc := exec.Command(shoalBin, append([]string{"--home", c.home, "heal", "--metrics-addr", ""}, healArgs...)...)
	proc.Stdout, proc.Stderr = &firstOut, &firstOut
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	stopProc := func() (int, string) {
		_ = proc.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = proc.Process.Kill()
			<-exited
			t.Errorf("the first heal did not stop within 2m of SIGTERM")
		}
		return proc.ProcessState.ExitCode(), firstOut.String()
	}
	stop := stopProc
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	firstLog := firstOut.String
	idle := time.Now().Add(2 * time.Minute)
	for !strings.Contains(firstLog(), "heal: released start-up memory") && time.Now().Before(idle) {
		time.Sleep(time.Second)
	}
	time.Sleep(30 * time.Second) // watching a healthy cluster
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", proc.Process.Pid)); err == nil {
		var rss []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "RssAnon") || strings.HasPrefix(line, "RssFile") {
				rss = append(rss, strings.Join(strings.Fields(line), " "))
			}
		}
		t.Logf("heal --stack idle RSS after 30s: %s; %s", strings.Join(rss, ", "), regexp.MustCompile(`msg="heal: released start-up memory".*`).FindString(firstLog()))
	}
	if err := lab.KillNode(ctx, docker, c.labRef(name), "w-1"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	// Mid-remediation: the attempt is recorded and the actor's up runs.
	deadline := time.Now().Add(4 * time.Minute)
	for !pulumiUpLine.MatchString(firstLog()) {
		if time.Now().After(deadline) {
			t.Fatalf("the pulumi actor did not start an up within 4m of the kill:\n%s", firstLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Into the up (on an idle machine the lab's up takes about 4s): the
	// Pulumi CLI gets SIGINT while it works on the new server.
	time.Sleep(1500 * time.Millisecond)
	code, first := stop()
	stop = nil
	if code != 0 {
		t.Errorf("first heal: exit %d after SIGTERM\n%s", code, first)
	}
	t.Logf("first heal stopped %s after the kill (exit %d)", time.Since(killed).Round(time.Second), code)
	if strings.Contains(first, `msg="heal: action done" kind=replace`) {
		t.Fatalf("the first heal finished the replacement before it was stopped: not mid-remediation\n%s", first)
	}

	stop, secondLog := c.startHeal(healArgs...)
	st := c.waitStatus(10*time.Minute, "w-1 replaced (a new Ready entry) and its dead entry gone", func(st swarm.Status) bool {
		e := entriesNamed(st, "w-1")
		return len(e) == 1 && e[0].State == "ready" && e[0].ID != old[0].ID && len(st.Nodes) == 4 && st.Quorum == "ok"
	}, func() string { return "first heal:\n" + first + "\nsecond heal:\n" + secondLog() })
	t.Logf("w-1 Ready again %s after the kill", time.Since(killed).Round(time.Second))
	time.Sleep(10 * time.Second) // heal keeps watching: nothing more happens
	_, second := stop()
	stop = nil
	if testing.Verbose() {
		t.Logf("first heal:\n%s\nsecond heal:\n%s", first, second)
	}

	if !strings.Contains(second, "resuming it, not starting another") {
		t.Errorf("the second heal did not resume the recorded attempt:\n%s", second)
	}
	if n := strings.Count(first+second, `msg="heal: action done" kind=replace`); n != 1 {
		t.Errorf("%d replacements finished, want 1", n)
	}
	// One attempt: every up either process started deployed generation 1.
	for _, m := range pulumiUpLine.FindAllStringSubmatch(first+second, -1) {
		if m[1] != "w-1" || m[2] != "1" {
			t.Errorf("an up for %s generation %s: want only w-1 generation 1 (one new server)", m[1], m[2])
		}
	}
	if names := labNodeNames(ctx, t, docker, name); strings.Join(names, ",") != "ma-1,mb-1,mc-1,w-1" {
		t.Errorf("servers %v, want ma-1,mb-1,mc-1,w-1", names)
	}
	srv, ok := c.labRef(name).Node("w-1")
	n := entriesNamed(st, "w-1")[0]
	if !ok || srv.Container == "" || srv.Address != n.Address {
		t.Errorf("w-1's server %+v, the swarm says address %s", srv, n.Address)
	}
	if srv.Address == oldServer.Address && srv.HostKey == oldServer.HostKey {
		t.Errorf("w-1's server is the old one: %+v", srv)
	}
	if r := up(); !r.noChanges() {
		t.Errorf("up after heal changed resources: %+v", r.Changes)
	}
	if out := c.must("heal", "--once", "--stack", name, "--dir", dir); strings.Contains(out, "did ") {
		t.Errorf("a heal after the second up acted:\n%s", out)
	}
	c.must("destroy", "--stack", name, "--dir", dir, "--yes")
}
