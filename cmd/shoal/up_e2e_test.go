package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/provider"
	"github.com/shoalops/shoal/internal/testlanghost"
	"github.com/shoalops/shoal/lab"
)

// TestMain lets the test binary serve shoal's provider when the Pulumi
// engine starts it through the pulumi-resource-shoal link, exactly as the
// shoal binary does, and serve as the test stand-in for pulumi-language-go
// when the Pulumi CLI starts it under that name.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case testlanghost.Name:
		// The Pulumi CLI starts the test stand-in for pulumi-language-go
		// (TestPulumiCLI...): see internal/testlanghost.
		if err := testlanghost.Main(context.Background(), os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case automation.ProviderPlugin:
		if err := provider.Serve(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Run with runAsShoal set, the test binary is the shoal command (its
	// Main, as main runs it): tests run a built shoal in another directory
	// and environment without a second build.
	if os.Getenv(runAsShoal) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const runAsShoal = "SHOAL_TEST_RUN_AS_SHOAL"

// shoalBinary is the shoal command as a separate process: this test binary
// with runAsShoal set in the environment the caller gives it.
func shoalBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// requirePulumi skips under -short and fails when the Pulumi CLI build is
// missing: CI builds it (scripts/ensure-pulumi.sh). It returns the CLI's
// root directory (the CLI is DIR/bin/pulumi).
func requirePulumi(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker Engine and the Pulumi CLI (skipped with -short)")
	}
	if d := os.Getenv("SHOAL_PULUMI_DIR"); d != "" {
		return d
	}
	cache, _ := os.UserCacheDir()
	dir := filepath.Join(cache, "shoal", "pulumi", "v"+automation.PulumiVersion)
	if _, err := os.Stat(filepath.Join(dir, "bin", "pulumi")); err != nil {
		t.Fatalf("no Pulumi CLI: run scripts/ensure-pulumi.sh or set SHOAL_PULUMI_DIR")
	}
	return dir
}

// cloneRepository clones the repository this test runs in (its committed
// HEAD) into a temporary directory: a user's fresh clone.
func cloneRepository(t *testing.T) string {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.Command("git", "clone", "--quiet", strings.TrimSpace(string(top)), dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	return dir
}

// gitStatus is `git status --porcelain --ignored` of dir: empty when a run
// left the clone exactly as it was.
func gitStatus(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--ignored").CombinedOutput()
	if err != nil {
		t.Fatalf("git status: %v\n%s", err, out)
	}
	return string(out)
}

// TestUpLocalStackLifecycle runs shoal (this binary as the command) in a fresh clone of the
// repository, as a user who just cloned it: refusals first (touching
// nothing, no stack in the backend), then the default stack's preview, up,
// a second up from outside the clone (the built-in copy of the same local
// stack: no changes), a worker removed, destroy. The clone's files are
// never written: git status stays empty after every verb.
func TestUpLocalStackLifecycle(t *testing.T) {
	requirePulumi(t)
	if testing.Short() {
		return
	}
	start := time.Now()
	clone := cloneRepository(t)
	bin := shoalBinary(t)
	t.Logf("clone: %s", time.Since(start).Round(100*time.Millisecond))
	home := t.TempDir()
	elsewhere := t.TempDir()
	name := "local-" + lab.HomeID(home) // the local stack's cluster and lab: its name carries this home's id
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
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULUMI_CONFIG_PASSPHRASE=") && !strings.HasPrefix(kv, "SHOAL_") && !strings.HasPrefix(kv, "PULUMI_BACKEND_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "SHOAL_HOME="+home, runAsShoal+"=1")
	if d := os.Getenv("SHOAL_PULUMI_DIR"); d != "" {
		env = append(env, "SHOAL_PULUMI_DIR="+d)
	}
	run := func(dir string, args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = dir, env // stdin: /dev/null, no terminal
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	expect := func(dir string, want int, args ...string) string {
		t.Helper()
		start := time.Now()
		code, out, errs := run(dir, args...)
		if code != want {
			t.Fatalf("shoal %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
		}
		t.Logf("shoal %s: exit %d in %s", strings.Join(args, " "), code, time.Since(start).Round(100*time.Millisecond))
		if st := gitStatus(t, clone); st != "" {
			t.Fatalf("shoal %s changed the clone:\n%s", strings.Join(args, " "), st)
		}
		return out + errs
	}
	stateFile := func(stack string) string {
		return filepath.Join(home, "pulumi", "state", ".pulumi", "stacks", "shoal", stack+".json")
	}
	noStack := func(stack string) {
		t.Helper()
		if _, err := os.Stat(stateFile(stack)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stack %s exists in the backend after a refusal (%v)", stack, err)
		}
		if _, err := os.Stat(filepath.Join(home, "stacks", stack)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("shoal kept files for stack %s after a refusal (%v)", stack, err)
		}
	}

	// Refusals touch nothing. Without a terminal, up and destroy need --yes.
	if out := expect(clone, exitRefused, "up"); !strings.Contains(out, "--yes") {
		t.Errorf("up without a terminal does not say to pass --yes:\n%s", out)
	}
	expect(clone, exitRefused, "destroy")
	noStack("local")
	// A misspelt key, and a layout the program refuses, in a stack file of
	// the user's: exit 2 naming the key, no stack, no key, no file changed.
	local, err := os.ReadFile(filepath.Join(clone, "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"typo": strings.Replace(string(local), "  shoal:swarm:", "  shoal:firewal: {publicTcp: [22]}\n  shoal:swarm:", 1),
		"even": strings.Replace(string(local), "    - {name: mc, provider: local, hoster: hoster-c, role: manager, count: 1}\n", "", 1),
	}
	want := map[string]string{"typo": "shoal:firewal: is not a key shoal reads: did you mean shoal:firewall?", "even": "shoal:pools: 2 managers"}
	for stack, cfg := range bad {
		path := filepath.Join(elsewhere, "Pulumi."+stack+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := expect(elsewhere, exitUsage, "preview", "--stack", stack, "--dir", elsewhere); !strings.Contains(out, want[stack]) {
			t.Errorf("stack %s: output lacks %q:\n%s", stack, want[stack], out)
		}
		noStack(stack)
		if b, _ := os.ReadFile(path); string(b) != cfg {
			t.Errorf("the refused stack file %s was changed", path)
		}
	}

	// The default stack, from the clone's root: preview, up, and its status.
	expect(clone, exitWork, "preview")
	stackUp := func(dir string) stackResult {
		t.Helper()
		out := expect(dir, exitOK, "up", "--yes", "-o", "json")
		var r stackResult
		if err := json.Unmarshal([]byte(out[:strings.Index(out, "\n")+1]), &r); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		return r
	}
	r := stackUp(clone)
	if r.Changes["create"] == 0 {
		t.Fatalf("first up created nothing: %+v", r)
	}
	c := cli{t: t, home: home}
	st := c.status()
	if st.Quorum != "ok" || st.Managers != 3 || len(st.Nodes) != 5 || len(st.HosterRisk) != 0 || st.Cluster != name {
		t.Fatalf("after up (want cluster %s): %+v", name, st)
	}
	// Everything shoal wrote for the lab is under SHOAL_HOME: its state
	// directory (the containers' shoal.lab.dir label) and its lock file.
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if l, ok, err := lab.Find(context.Background(), docker, name); err != nil || !ok || !strings.HasPrefix(l.Dir, home+string(filepath.Separator)) {
		t.Errorf("lab %s: found %v (%v), state directory %q, want one under SHOAL_HOME %s", name, ok, err, l.Dir, home)
	}
	if _, err := os.Stat(filepath.Join(home, "lab", name+".lock")); err != nil {
		t.Errorf("the lab's lock file is not under SHOAL_HOME: %v", err)
	}
	state, err := os.ReadFile(stateFile("local"))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	for _, secret := range []string{"PRIVATE KEY", "SWMTKN-"} {
		if bytes.Contains(state, []byte(secret)) {
			t.Errorf("Pulumi state holds %q in plain text", secret)
		}
	}

	// The same stack from outside any project (the built-in copy of the
	// repository's project and local stack): nothing to change.
	if r = stackUp(elsewhere); !r.noChanges() {
		t.Fatalf("up outside the clone changed resources: %+v", r.Changes)
	}

	// One worker fewer: it leaves the swarm, then its server goes.
	fewer := strings.Replace(string(local), "role: worker, count: 2", "role: worker, count: 1", 1)
	if err := os.WriteFile(filepath.Join(clone, "Pulumi.local.yaml"), []byte(fewer), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	code, out, errs := run(clone, "up", "--yes", "-o", "json")
	t.Logf("up with one worker fewer: %s", time.Since(start).Round(100*time.Millisecond))
	if code != 0 {
		t.Fatalf("up with one worker: exit %d\n%s\n%s", code, out, errs)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Changes["delete"] != 2 || r.Changes["create"] != 0 { // the server and its node component
		t.Errorf("removing one worker: %+v (%v)", r.Changes, err)
	}
	if err := os.WriteFile(filepath.Join(clone, "Pulumi.local.yaml"), local, 0o644); err != nil {
		t.Fatal(err)
	}
	st = c.status()
	if len(st.Nodes) != 4 || st.Quorum != "ok" {
		t.Fatalf("after removing w-2: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.Name == "w-2" {
			t.Errorf("w-2 is still a swarm member: %+v", n)
		}
	}

	expect(clone, exitOK, "destroy", "--yes")
	if names, err := lab.List(context.Background(), docker); err != nil {
		t.Fatal(err)
	} else if slices.Contains(names, name) {
		t.Errorf("lab containers of %s left after destroy", name)
	}
}

type stackResult struct {
	Stack   string         `json:"stack"`
	Changes map[string]int `json:"changes"`
	Nodes   []outputNode   `json:"nodes"`
}

func (r stackResult) noChanges() bool {
	for op, n := range r.Changes {
		if op != "same" && n > 0 {
			return false
		}
	}
	return true
}
