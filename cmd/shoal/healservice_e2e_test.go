package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// Heal on the cluster (ADR 0026): with shoal:heal.enabled and the state in
// the lab's S3 server, `shoal up` runs heal as a swarm service on the
// managers and no shoal process is left on the host; a worker's VPS
// container killed is replaced (same name, new server) and Ready by the
// service alone; a second `shoal up` changes nothing, resources or
// service.
func TestHealServiceOnTheClusterReplacesAKilledWorker(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()

	// The shared backend: the lab's real S3 server, on the lab network the
	// nodes (and so the heal task) reach.
	s3img, err := images.EnsureS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := lab.StartS3(ctx, docker, lab.Ref(name, filepath.Join(c.home, "lab", name)), s3img, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(ctx, "state"); err != nil {
		t.Fatal(err)
	}
	backend := s3.PulumiBackend("state")
	for k, v := range s3.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")

	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(heal string) {
		t.Helper()
		cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n  shoal:heal: "+heal+"\n", 1)
		cfg = strings.Replace(cfg, "role: worker, count: 2", "role: worker, count: 1", 1)
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	up := func() (stackResult, string) {
		t.Helper()
		code, out, errs := c.run("up", "--yes", "--stack", name, "--dir", dir, "--backend", backend, "-o", "json")
		if code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", code, out, errs)
		}
		var r stackResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		return r, errs
	}

	// The servers first; then the heal image on the managers, as an
	// air-gapped user puts it there (or in their registry).
	write(`{grace: 1s}`)
	start := time.Now()
	up()
	t.Logf("up: %s", time.Since(start).Round(time.Second))
	shoalBin := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", shoalBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build shoal: %v\n%s", err, out)
	}
	image, err := images.EnsureHeal(ctx, shoalBin, filepath.Join(os.Getenv("SHOAL_PULUMI_DIR"), "bin", "pulumi"))
	if err != nil {
		t.Fatal(err)
	}
	managers := []string{lab.ContainerName(name, "ma-1"), lab.ContainerName(name, "mb-1"), lab.ContainerName(name, "mc-1")}
	if err := images.LoadInto(ctx, image, managers...); err != nil {
		t.Fatal(err)
	}

	// Heal on: the service comes up; the resources do not change.
	write(`{enabled: true, image: "` + image + `", grace: 1s}`)
	r, errs := up()
	if !r.noChanges() || !strings.Contains(errs, "heal service shoal-heal: deployed") {
		t.Fatalf("up with heal enabled: changes %+v\n%s", r.Changes, errs)
	}
	running := func() string {
		out, _ := exec.CommandContext(ctx, "docker", "exec", managers[0], "docker", "service", "ps", "shoal-heal_heal",
			"--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}} {{.Error}}").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	logs := func() string {
		out, _ := exec.CommandContext(ctx, "docker", "exec", managers[0], "docker", "service", "logs", "--tail", "40", "shoal-heal_heal").CombinedOutput()
		return string(out)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(running(), "Running") {
		if time.Now().After(deadline) {
			t.Fatalf("the heal task is not running: %s\n%s", running(), logs())
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("heal task: %s", running())
	// No shoal process is left on the host: the test binary's own process
	// (shoal.test) is the only one running it, and no provider plugin runs.
	// Matched on the process name (-x: the whole name; the kernel keeps 15
	// characters of it), not on arguments, which name the packages of the
	// `go test` running this test. (stdout only: pgrep warns on stderr that
	// the pattern is longer than 15 characters, though each name is not.)
	if ps, _ := exec.Command("pgrep", "-ax", "shoal|pulumi-resource").Output(); len(strings.TrimSpace(string(ps))) > 0 {
		// pgrep matches inside the lab containers' pid namespaces too: keep
		// only processes of this host's namespace.
		for _, line := range strings.Split(strings.TrimSpace(string(ps)), "\n") {
			pid := strings.Fields(line)[0]
			if ns, err := os.Readlink("/proc/" + pid + "/ns/pid"); err == nil {
				self, _ := os.Readlink("/proc/self/ns/pid")
				if ns == self {
					t.Errorf("a shoal process runs on the host: %s", line)
				}
			}
		}
	}

	// Idle RSS of the heal process (docs/benchmarks.md; measured, not
	// asserted): after 30s of watching a healthy cluster.
	time.Sleep(30 * time.Second)
	node := strings.Fields(running())[0]
	if out, err := exec.CommandContext(ctx, "docker", "exec", lab.ContainerName(name, node), "sh", "-c",
		`for p in $(pgrep -f "heal --stack"); do grep VmRSS /proc/$p/status; done`).CombinedOutput(); err == nil {
		t.Logf("heal service idle RSS on %s: %s", node, strings.Join(strings.Fields(string(out)), " "))
	} else {
		t.Logf("heal service idle RSS: %v: %s", err, out)
	}

	before := c.status()
	old := entriesNamed(before, "w-1")
	if len(old) != 1 || before.Quorum != "ok" {
		t.Fatalf("before the kill: %+v", before)
	}
	if err := lab.KillNode(ctx, docker, c.labRef(name), "w-1"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	st := c.waitStatus(12*time.Minute, "the heal service replacing w-1", func(st swarm.Status) bool {
		e := entriesNamed(st, "w-1")
		return len(e) == 1 && e[0].State == "ready" && e[0].ID != old[0].ID && len(st.Nodes) == 4 && st.Quorum == "ok"
	}, logs)
	t.Logf("w-1 replaced and Ready %s after the kill: %+v", time.Since(killed).Round(time.Second), entriesNamed(st, "w-1"))

	// The state is still the truth: another up changes nothing.
	r, errs = up()
	if !r.noChanges() || !strings.Contains(errs, "heal service shoal-heal: unchanged") {
		t.Errorf("second up after heal: changes %+v\n%s", r.Changes, errs)
	}
	if testing.Verbose() {
		t.Logf("heal service logs:\n%s", logs())
	}
	c.must("destroy", "--stack", name, "--dir", dir, "--backend", backend, "--yes")
}
