package automation

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra"
)

// requirePulumi skips under -short and fails without the Pulumi CLI.
func requirePulumi(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Pulumi CLI (skipped with -short)")
	}
	if _, err := pulumiCommand(Options{}); err != nil {
		t.Fatalf("%v (run scripts/ensure-pulumi.sh or set SHOAL_PULUMI_DIR)", err)
	}
}

// project is a project directory holding the repository's Pulumi.yaml and
// a stack file; files returns their bytes to compare after a run.
func project(t *testing.T, stack string, stackFile []byte) (dir string, files func() map[string][]byte) {
	t.Helper()
	dir = t.TempDir()
	proj, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"Pulumi.yaml": proj, "Pulumi." + stack + ".yaml": stackFile} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func() map[string][]byte {
		out := map[string][]byte{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
		return out
	}
}

// program is a stand-in for infra.ProgramWith that creates nothing: it
// exports whether it got a generated key and, as a secret, a value of the
// config, so the workspace's part is tested without servers.
func program(o infra.Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		ctx.Export("generatedKey", pulumi.Bool(o.SSHKey != nil))
		if o.SSHKey != nil {
			ctx.Export("privateKey", pulumi.ToSecret(pulumi.String(o.SSHKey.Private)))
		}
		v, _ := ctx.GetConfig("shoal:vaultToken")
		ctx.Export("vaultToken", pulumi.ToSecret(pulumi.String(v)))
		return nil
	}
}

func TestOpenReadsTheProjectAndNeverWritesIt(t *testing.T) {
	requirePulumi(t)
	local, err := os.ReadFile("../../Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, files := project(t, "local", local)
	before := files()
	home := t.TempDir()
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := Options{Home: home, Stack: "local", Dir: dir, Self: self, Program: program}

	w, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Preview(ctx); err != nil {
		t.Fatal(err)
	}
	_, out, err := w.Up(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["generatedKey"].Value != true {
		t.Errorf("the local stack's program got no generated key: %v", out)
	}
	key, err := os.ReadFile(filepath.Join(home, "stacks", "local", "id_ed25519"))
	if err != nil || out["privateKey"].Value != string(key) {
		t.Errorf("the generated key is not the one kept in $SHOAL_HOME (%v)", err)
	}
	state, err := os.ReadFile(filepath.Join(home, "pulumi", "state", ".pulumi", "stacks", "shoal", "local.json"))
	if err != nil || bytes.Contains(state, []byte("PRIVATE KEY")) {
		t.Errorf("the state holds the private key in plain text (or cannot be read: %v)", err)
	}

	// A second run reuses the key and the stack; the user's stack file gets
	// a secret the way a user sets one (their salt differs from the one
	// Pulumi made in shoal's copy), and the program sees it.
	if err := w.Stack.SetConfigWithOptions(ctx, "shoal:vaultToken", auto.ConfigValue{Value: "s3cret", Secret: true},
		&auto.ConfigOptions{ConfigFile: filepath.Join(dir, "Pulumi.local.yaml")}); err != nil {
		t.Fatal(err)
	}
	before["Pulumi.local.yaml"], _ = os.ReadFile(filepath.Join(dir, "Pulumi.local.yaml"))
	w, err = Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, out, err = w.Up(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if out["vaultToken"].Value != "s3cret" {
		t.Errorf("the secret set in the user's stack file did not reach the program: %v", out["vaultToken"])
	}
	if again, _ := os.ReadFile(filepath.Join(home, "stacks", "local", "id_ed25519")); !bytes.Equal(again, key) {
		t.Errorf("a second run made a new key")
	}
	if _, err := w.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	after := files()
	if len(after) != len(before) {
		t.Errorf("the project directory holds %d files after the runs, %d before", len(after), len(before))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s was rewritten:\n%s", name, after[name])
		}
	}
}

func TestOpenRefusesAnInvalidStackBeforeCreatingIt(t *testing.T) {
	requirePulumi(t)
	local, err := os.ReadFile("../../Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(local), "shoal:swarm:", "shoal:swarn:", 1)
	dir, files := project(t, "typo", []byte(bad))
	before := files()
	home := t.TempDir()
	self, _ := os.Executable()
	_, err = Open(context.Background(), Options{Home: home, Stack: "typo", Dir: dir, Self: self, Program: program})
	var ce *infra.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "did you mean shoal:swarm?") {
		t.Fatalf("err = %v, want a *infra.ConfigError naming shoal:swarm", err)
	}
	if _, err := os.Stat(filepath.Join(home, "pulumi", "state", ".pulumi", "stacks", "shoal", "typo.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused stack exists in the backend (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(home, "stacks", "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key was made for the refused stack (%v)", err)
	}
	for name, b := range files() {
		if !bytes.Equal(before[name], b) {
			t.Errorf("%s was changed", name)
		}
	}
}

// Day-2 verbs open a stack with Existing: a stack that is not in the
// backend is refused, not created, and so is a stack whose generated SSH
// key is gone (a new one would not be the key its servers trust).
func TestOpenExistingRefusesAMissingStackOrKey(t *testing.T) {
	requirePulumi(t)
	local, err := os.ReadFile("../../Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := project(t, "day2", local)
	home := t.TempDir()
	self, _ := os.Executable()
	o := Options{Home: home, Stack: "day2", Dir: dir, Self: self, Program: program, Existing: true}
	stateFile := filepath.Join(home, "pulumi", "state", ".pulumi", "stacks", "shoal", "day2.json")
	if _, err := Open(context.Background(), o); err == nil || !strings.Contains(err.Error(), "stack day2 does not exist in the backend") {
		t.Fatalf("a missing stack: %v", err)
	}
	if _, err := os.Stat(stateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stack was created in the backend (%v)", err)
	}
	o.Existing = false
	w, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Up(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	o.Existing = true
	if _, err := Open(context.Background(), o); err != nil {
		t.Fatalf("the stack and its key exist: %v", err)
	}
	if err := os.Remove(w.KeyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), o); err == nil || !strings.Contains(err.Error(), "its generated SSH key") {
		t.Fatalf("the key gone: %v", err)
	}
	if _, err := os.Stat(w.KeyPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a new key was made (%v)", err)
	}
}

// UpServers leaves the swarm resource out of its run; a stack that records
// none is refused, never run whole (that would form a new swarm).
func TestUpServersRefusesAStackWithoutASwarmResource(t *testing.T) {
	requirePulumi(t)
	local, err := os.ReadFile("../../Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := project(t, "noswarm", local)
	self, _ := os.Executable()
	w, err := Open(context.Background(), Options{Home: t.TempDir(), Stack: "noswarm", Dir: dir, Self: self, Program: program})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Up(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.UpServers(context.Background(), map[string]int{"ma-1": 1}); err == nil || !strings.Contains(err.Error(), "records no swarm resource (shoal:swarm:Cluster) to leave out") {
		t.Fatalf("UpServers on a stack without a swarm resource: %v", err)
	}
}
