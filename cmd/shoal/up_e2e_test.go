package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/provider"
	"github.com/shoalops/shoal/lab"
)

// TestMain lets the test binary serve shoal's provider when the Pulumi
// engine starts it through the pulumi-resource-shoal link, exactly as the
// shoal binary does.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == automation.ProviderPlugin {
		if err := provider.Serve(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pulumiAvailable skips under -short and fails when the Pulumi CLI build is
// missing: CI builds it (scripts/ensure-pulumi.sh).
func requirePulumi(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker Engine and the Pulumi CLI (skipped with -short)")
	}
	if os.Getenv("SHOAL_PULUMI_DIR") != "" {
		return
	}
	cache, _ := os.UserCacheDir()
	if _, err := os.Stat(filepath.Join(cache, "shoal", "pulumi", "v"+automation.PulumiVersion, "bin", "pulumi")); err != nil {
		t.Fatalf("no Pulumi CLI: run scripts/ensure-pulumi.sh or set SHOAL_PULUMI_DIR")
	}
}

func TestUpLocalStackLifecycle(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t) // the stack's cluster name is a per-run lab name; cleanup removes its containers
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "Pulumi."+name+".yaml")
	writeCfg := func(workers int) {
		cfg := strings.Replace(string(base), "shoal:cluster: local", "shoal:cluster: "+name, 1)
		cfg = strings.Replace(cfg, "role: worker, count: 2", fmt.Sprintf("role: worker, count: %d", workers), 1)
		if cfg == string(base) {
			t.Fatal("Pulumi.local.yaml changed shape: update this test")
		}
		// Keep the SSH key shoal up put into the config on the first run.
		if old, err := os.ReadFile(cfgPath); err == nil {
			if i := strings.Index(string(old), "  shoal:ssh"); i >= 0 {
				cfg += string(old[i:])
			}
		}
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(2)
	up := func() stackResult {
		t.Helper()
		out := c.must("up", "--stack", name, "--dir", dir, "-o", "json")
		var r stackResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		return r
	}

	r := up()
	if r.Changes["create"] == 0 {
		t.Fatalf("first up created nothing: %+v", r)
	}
	st := c.status()
	if st.Quorum != "ok" || st.Managers != 3 || len(st.Nodes) != 5 || len(st.HosterRisk) != 0 {
		t.Fatalf("after up: %+v", st)
	}
	state, err := os.ReadFile(filepath.Join(c.home, "pulumi", "state", ".pulumi", "stacks", "shoal", name+".json"))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	for _, secret := range []string{"PRIVATE KEY", "SWMTKN-"} {
		if bytes.Contains(state, []byte(secret)) {
			t.Errorf("Pulumi state holds %q in plain text", secret)
		}
	}

	if r = up(); !r.noChanges() {
		t.Fatalf("second up changed resources: %+v", r.Changes)
	}

	writeCfg(1)
	r = up()
	if r.Changes["delete"] != 2 || r.Changes["create"] != 0 { // the server and its node component
		t.Errorf("removing one worker: %+v", r.Changes)
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

	c.must("destroy", "--stack", name, "--dir", dir, "--yes")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if names, err := lab.List(context.Background(), docker); err != nil {
		t.Fatal(err)
	} else {
		for _, n := range names {
			if n == name {
				t.Errorf("lab containers of %s left after destroy", name)
			}
		}
	}
}

type stackResult struct {
	Stack   string         `json:"stack"`
	Changes map[string]int `json:"changes"`
}

func (r stackResult) noChanges() bool {
	for op, n := range r.Changes {
		if op != "same" && n > 0 {
			return false
		}
	}
	return true
}
