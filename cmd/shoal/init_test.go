package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoalops/shoal/infra"
)

func TestShoalInitWritesAProjectAndRefusesTheSecondTime(t *testing.T) {
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "") // unset below: shoal's own passphrase
	os.Unsetenv("PULUMI_CONFIG_PASSPHRASE")
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "Acme Prod")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"--home", home}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errOut := run("init", dir, "--hosters", "hetzner,existing", "--address", "ovh=198.51.100.7", "--address", "netcup=192.0.2.44")
	if code != exitOK {
		t.Fatalf("init: exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"cluster acme-prod", "export HCLOUD_TOKEN=", "/root/.ssh/authorized_keys", "shoal preview --dir " + dir + " --stack prod", "shoal up --dir " + dir + " --stack prod", "PULUMI_CONFIG_PASSPHRASE_FILE"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	files := map[string][]byte{}
	for _, n := range []string{"Pulumi.yaml", "Pulumi.prod.yaml", ".gitignore"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("init wrote no %s: %v", n, err)
		}
		files[n] = b
	}
	// The stack is what `shoal up --dir` checks before it creates anything.
	if _, _, err := infra.Preflight("prod", files["Pulumi.yaml"], files["Pulumi.prod.yaml"]); err != nil {
		t.Errorf("the written stack fails shoal up's checks: %v", err)
	}
	// The secret is under the passphrase shoal up uses.
	if _, err := os.Stat(filepath.Join(home, "pulumi", "passphrase")); err != nil {
		t.Errorf("shoal's passphrase was not kept: %v", err)
	}

	code, _, errOut = run("init", dir, "--hosters", "vultr")
	if code != exitRefused || !strings.Contains(errOut, "Pulumi.yaml exists") {
		t.Fatalf("second init: exit %d, stderr %q; want 3 naming the file", code, errOut)
	}
	for n, b := range files {
		if now, _ := os.ReadFile(filepath.Join(dir, n)); !bytes.Equal(now, b) {
			t.Errorf("the second init changed %s", n)
		}
	}

	// A directory with only a stack file of that name is refused too.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "Pulumi.prod.yaml"), []byte("config: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = run("init", other, "--hosters", "hetzner"); code != exitRefused {
		t.Errorf("init over a stack file: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "Pulumi.yaml")); err == nil {
		t.Errorf("init wrote Pulumi.yaml beside an existing stack file")
	}

	// --token-from-env: the hosters' tokens from the environment into the
	// stack file as secrets; one not set is usage (exit 2), nothing written.
	t.Setenv("HCLOUD_TOKEN", strings.Repeat("t", 64))
	t.Setenv("VULTR_API_KEY", "") // empty counts as not set
	withTokens := filepath.Join(t.TempDir(), "tokens")
	code, out, errOut = run("init", withTokens, "--hosters", "hetzner", "--token-from-env")
	if code != exitOK || strings.Contains(out, "export HCLOUD_TOKEN") || !strings.Contains(out, "secrets in the stack file: hcloud:token (HCLOUD_TOKEN)") {
		t.Errorf("init --token-from-env: exit %d\n%s%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(withTokens, "Pulumi.prod.yaml")); err != nil || !strings.Contains(string(b), "  hcloud:token:\n    secure: ") || strings.Contains(string(b), strings.Repeat("t", 64)) {
		t.Errorf("the stack file lacks hcloud:token as a secret (%v):\n%s", err, b)
	}
	noToken := filepath.Join(t.TempDir(), "no-token")
	if code, _, errOut = run("init", noToken, "--hosters", "hetzner,vultr", "--token-from-env"); code != exitUsage || !strings.Contains(errOut, "VULTR_API_KEY is not set") {
		t.Errorf("init --token-from-env without VULTR_API_KEY: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(noToken); err == nil {
		t.Errorf("init made %s although a token was missing", noToken)
	}

	// Bad input is usage (exit 2), nothing written.
	bad := filepath.Join(t.TempDir(), "bad")
	if code, _, errOut = run("init", bad, "--hosters", "digitalocean"); code != exitUsage || !strings.Contains(errOut, "is no hoster") {
		t.Errorf("unknown hoster: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("init made %s for bad input", bad)
	}
}

// TestShoalInitOutputPreviewsWithThePulumiCLI runs `shoal preview` with the
// real Pulumi CLI on a project `shoal init` wrote for existing hosts (the
// only mix whose plugins exist here: shoal's own): Pulumi reads the
// written Pulumi.yaml, decrypts the generated key with the stack's
// encryptionsalt and shoal's passphrase, and plans the swarm.
func TestShoalInitOutputPreviewsWithThePulumiCLI(t *testing.T) {
	requirePulumi(t)
	work := t.TempDir()
	env := append(os.Environ(), runAsShoal+"=1", "SHOAL_HOME="+filepath.Join(work, "home"))
	env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, "PULUMI_CONFIG_PASSPHRASE=") })
	shoal := func(args ...string) (int, string) {
		cmd := exec.CommandContext(t.Context(), shoalBinary(t), args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("shoal %v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := shoal("init", "proj", "--hosters", "existing", "--address", "ovh=198.51.100.7", "--address", "netcup=192.0.2.44", "--address", "home=203.0.113.9"); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	code, out := shoal("preview", "--dir", "proj", "--stack", "prod")
	if code != exitWork || !strings.Contains(out, "shoal:swarm:Cluster proj create") || !strings.Contains(out, "preview prod: 8 to create") {
		t.Fatalf("preview: exit %d, want 4 with the swarm planned:\n%s", code, out)
	}
}
