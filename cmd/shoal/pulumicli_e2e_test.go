package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	pulumirun "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/wire"
	"github.com/shoalops/shoal/internal/testlanghost"
	"github.com/shoalops/shoal/lab"
)

// TestPulumiCLIUpUpAgainDestroyOnTheLocalStack is the README's "`pulumi up`
// with your own Pulumi CLI", command by command, with the real Pulumi CLI on
// the repository's own Pulumi.yaml, cmd/shoal-program and local stack: the
// plugin built from cmd/pulumi-resource-shoal and installed into the
// Pulumi home with `pulumi plugin install --file`, a file backend, the SSH
// key set as config (the private key as a secret), `pulumi up` (quorum ok
// through `shoal status` on an inventory made from the stack outputs),
// `pulumi up` again with --expect-no-changes, a heal of w-2 and the first
// step of `shoal node replace w-1` the way shoal makes them (a new server at
// generation 1, the successor w-1-r1 joined beside w-1: state, not in the
// stack file) and then `pulumi up --expect-no-changes` again: the program
// reads both back from its stack's outputs and replaces and deletes nothing
// (ADR 0036), `pulumi destroy` (no lab container or network left). A stack file with a string where Pulumi.yaml
// says array is refused by the CLI's own schema check, naming the key.
//
// The one part that is not the user's: pulumi-language-go cannot be built
// here (the Go module proxy does not serve it), so this test binary stands
// in for it on PATH (internal/testlanghost, docs/decisions/0024-test-language-host.md).
// Pulumi writes the stack's files (encryption salt, config) beside
// Pulumi.yaml, so everything runs in a clone; the repository itself must
// stay exactly as it was.
func TestPulumiCLIUpUpAgainDestroyOnTheLocalStack(t *testing.T) {
	pulumiDir := requirePulumi(t)
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository: %v", err)
	}
	repo := strings.TrimSpace(string(top))
	repoBefore := gitStatus(t, repo)
	const passphrase = "correct horse battery staple"
	clone := cloneRepository(t)
	work := t.TempDir()
	home := filepath.Join(work, "shoal-home")
	name := "local-" + lab.HomeID(home) // the local stack's cluster and lab
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

	// The language host: this binary, as pulumi-language-go first on PATH.
	langDir := filepath.Join(work, "langhost")
	if err := os.MkdirAll(langDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shoalBinary(t), filepath.Join(langDir, testlanghost.Name)); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + langDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_HOME=" + filepath.Join(work, "pulumi-home"),
		"PULUMI_CONFIG_PASSPHRASE=" + passphrase,
		"PULUMI_SKIP_UPDATE_CHECK=1",
		"SHOAL_HOME=" + home,
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "PATH" && !strings.HasPrefix(k, "PULUMI_") && !strings.HasPrefix(k, "SHOAL_") && k != runAsShoal {
			env = append(env, kv)
		}
	}
	pulumiBin := filepath.Join(pulumiDir, "bin", "pulumi")
	// run runs a command in the clone and returns its exit code and output.
	run := func(stdin []byte, bin string, args ...string) (int, string) {
		t.Helper()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = clone, env
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
		}
		t.Logf("%s %s: exit %d in %s", filepath.Base(bin), strings.Join(args, " "), cmd.ProcessState.ExitCode(), time.Since(start).Round(100*time.Millisecond))
		return cmd.ProcessState.ExitCode(), string(out)
	}
	must := func(stdin []byte, bin string, args ...string) string {
		t.Helper()
		code, out := run(stdin, bin, args...)
		if code != 0 {
			t.Fatalf("%s %s: exit %d\n%s", filepath.Base(bin), strings.Join(args, " "), code, out)
		}
		return out
	}
	pulumi := func(args ...string) string { t.Helper(); return must(nil, pulumiBin, args...) }

	// The README's steps: the plugin, the backend, the stack, the key.
	must(nil, "go", "build", "-o", "bin/pulumi-resource-shoal", "./cmd/pulumi-resource-shoal")
	pulumi("plugin", "install", "resource", wire.Package, wire.Version, "--file", "bin/pulumi-resource-shoal")
	must(nil, "mkdir", "-p", filepath.Join(work, "state")) // a file backend's directory must exist
	pulumi("login", "file://"+filepath.Join(work, "state"))

	// A string where Pulumi.yaml declares an array: the CLI refuses the
	// stack before any program runs, naming the key.
	local, err := os.ReadFile(filepath.Join(clone, "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(local), "config:\n", "config:\n  shoal:environments: dev\n", 1)
	if err := os.WriteFile(filepath.Join(clone, "Pulumi.badtype.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	pulumi("stack", "init", "badtype", "--no-select")
	code, out := run(nil, pulumiBin, "preview", "--stack", "badtype")
	if want := "Stack 'badtype' with configuration key 'environments' must be of type 'array<string>'"; code == 0 || !strings.Contains(out, want) {
		t.Fatalf("preview of a stack with a string for an array: exit %d, want an error containing %q:\n%s", code, want, out)
	}

	pulumi("stack", "select", "--create", "local")
	keyFile := filepath.Join(work, "id_ed25519")
	must(nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shoal pulumi-cli test", "-f", keyFile)
	pub, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	private, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pulumi("config", "set", "shoal:sshPublicKey", strings.TrimSpace(string(pub)))
	must(private, pulumiBin, "config", "set", "--secret", "shoal:sshPrivateKey")
	if stackFile, _ := os.ReadFile(filepath.Join(clone, "Pulumi.local.yaml")); bytes.Contains(stackFile, []byte("PRIVATE KEY")) {
		t.Fatalf("the private key is in the stack file in plain text:\n%s", stackFile)
	}

	out = pulumi("up", "--yes", "--skip-preview")
	t.Logf("pulumi up: ...%s", summary(out))
	if strings.Contains(out, "pulumi-resource-shoal from $PATH") {
		t.Errorf("the engine took pulumi-resource-shoal from PATH, not the installed plugin:\n%s", out)
	}
	var outputs map[string]any
	if err := json.Unmarshal([]byte(pulumi("stack", "output", "--json")), &outputs); err != nil {
		t.Fatalf("stack output --json: %v", err)
	}
	om := auto.OutputMap{}
	for k, v := range outputs {
		om[k] = auto.OutputValue{Value: v}
	}
	inv := filepath.Join(work, "inventory", "inventory.yaml")
	if err := automation.WriteInventoryFile(inv, keyFile, "local", om); err != nil {
		t.Fatalf("inventory from the stack outputs: %v\n%v", err, outputs)
	}
	c := cli{t: t, home: home}
	var st swarm.Status
	if err := json.Unmarshal([]byte(c.must("status", "--inventory", inv, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Quorum != "ok" || st.Managers != 3 || len(st.Nodes) != 5 || len(st.HosterRisk) != 0 || st.Cluster != name {
		t.Fatalf("after pulumi up (want cluster %s, quorum ok, 3 managers, 5 nodes): %+v", name, st)
	}
	state, err := os.ReadFile(filepath.Join(work, "state", ".pulumi", "stacks", "shoal", "local.json"))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	for _, secret := range []string{"PRIVATE KEY", "SWMTKN-"} {
		if bytes.Contains(state, []byte(secret)) {
			t.Errorf("Pulumi state holds %q in plain text", secret)
		}
	}

	// Again: preview and update both find nothing to do.
	out = pulumi("up", "--yes", "--expect-no-changes")
	t.Logf("pulumi up again: ...%s", summary(out))
	if !strings.Contains(out, "15 unchanged") {
		t.Errorf("the second pulumi up does not say its 15 resources are unchanged:\n%s", out)
	}

	// Two day-2 changes the way shoal's verbs make them, through shoal's own
	// Pulumi run on this stack and backend, the stack file untouched: a heal
	// raises w-2's generation (heal's actor: Workspace.UpGenerations; a new
	// server under the same name), and `shoal node replace w-1` takes its
	// first step (replace/stackexec: Workspace.UpReplacement; the successor
	// w-1-r1 made and joined beside w-1). Both are state, kept in the `nodes`
	// output. The user's plain `pulumi up` then reads them back
	// (cmd/shoal-program, infra.ProgramKeepingDeployed): nothing to replace,
	// nothing to delete, nothing to do.
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", passphrase) // shoal reads it from the environment
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	suffix := lab.HomeID(home)
	ws, err := automation.Open(ctx, automation.Options{
		Home: home, Stack: "local", Dir: clone, Backend: "file://" + filepath.Join(work, "state"),
		PulumiDir: pulumiDir, Self: shoalBinary(t), Progress: io.Discard,
		Program: func(o infra.Options) pulumirun.RunFunc { o.LocalSuffix = suffix; return infra.ProgramWith(o) },
	})
	if err != nil {
		t.Fatalf("open the stack as shoal does: %v", err)
	}
	healed, _, err := ws.UpGenerations(ctx, map[string]int{"w-2": 1})
	if err != nil {
		t.Fatalf("heal w-2 (generation 1): %v", err)
	}
	if healed["replace"] != 1 {
		t.Fatalf("heal w-2 (generation 1): %s, want its server replaced", healed)
	}
	joined, _, err := ws.UpReplacement(ctx, infra.Replacement{Node: "w-1", Successor: "w-1-r1"})
	if err != nil {
		t.Fatalf("node replace w-1, first step (w-1-r1 beside it): %v", err)
	}
	if joined["create"] == 0 || joined["delete"] != 0 {
		t.Fatalf("node replace w-1, first step: %s, want w-1-r1 created and nothing deleted", joined)
	}
	code, out = run(nil, pulumiBin, "up", "--yes", "--expect-no-changes")
	t.Logf("pulumi up after the heal and the replacement's first step: ...%s", summary(out))
	if code != 0 || strings.Contains(out, "replaced") || strings.Contains(out, "deleted") {
		t.Fatalf("pulumi up after a heal and a node replace: exit %d, want nothing to do "+
			"(w-2 kept at generation 1, not replaced again; w-1-r1 kept, not deleted):\n%s", code, out)
	}
	var nodes []map[string]any
	if err := json.Unmarshal([]byte(pulumi("stack", "output", "--json", "nodes")), &nodes); err != nil {
		t.Fatalf("stack output nodes: %v", err)
	}
	gens, succ := map[any]any{}, map[string]any(nil)
	for _, n := range nodes {
		gens[n["name"]] = n["generation"]
		if n["name"] == "w-1-r1" {
			succ, _ = n["successor"].(map[string]any)
		}
	}
	if gens["w-2"] != 1.0 || len(gens) != 6 {
		t.Errorf("after pulumi up: generations %v, want w-2 at 1 of 6 nodes", gens)
	}
	if succ["slot"] != "w-1" || succ["joining"] != true {
		t.Errorf("after pulumi up: w-1-r1's successor output %v, want slot w-1, joining", succ)
	}

	pulumi("destroy", "--yes", "--skip-preview")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if labs, err := lab.List(context.Background(), docker); err != nil {
		t.Fatal(err)
	} else if slices.Contains(labs, name) {
		t.Errorf("lab containers or network of %s left after pulumi destroy", name)
	}
	if now := gitStatus(t, repo); now != repoBefore {
		t.Errorf("the repository changed:\nbefore:\n%s\nafter:\n%s", repoBefore, now)
	}
}

// summary is the end of a `pulumi up` output: from its last resource count.
func summary(out string) string {
	if i := strings.LastIndex(out, "\nResources:"); i >= 0 {
		return out[i:]
	}
	return out
}

// TestPulumiCLIReadmeInstallsTheProgramsPluginVersion keeps the README's
// install line on the plugin version the program asks the engine for.
func TestPulumiCLIReadmeInstallsTheProgramsPluginVersion(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "pulumi plugin install resource " + wire.Package + " " + wire.Version + " --file bin/pulumi-resource-shoal"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md lacks %q", want)
	}
}
