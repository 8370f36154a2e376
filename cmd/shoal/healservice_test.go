package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `shoal up` with heal on the cluster refuses a file state backend before
// anything exists: exit 3, "nothing was changed", what to use instead, and
// no state, work directory or key under $SHOAL_HOME.
func TestUpWithHealRefusesAFileBackend(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		backend []string
	}{
		{"the default file backend under $SHOAL_HOME", nil},
		{"a file backend named with --backend", []string{"--backend", "file://" + t.TempDir()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PULUMI_BACKEND_URL", "")
			dir := t.TempDir()
			cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:heal:\n    enabled: true\n", 1)
			if err := os.WriteFile(filepath.Join(dir, "Pulumi.local.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			home := t.TempDir()
			var out, errb bytes.Buffer
			args := append([]string{"--home", home, "up", "--yes", "--dir", dir}, c.backend...)
			code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
			if code != exitRefused {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitRefused, out.String(), errb.String())
			}
			msg := errb.String()
			for _, want := range []string{"nothing was changed", "cannot reach the state backend", "--backend 's3://"} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			}
			entries, _ := os.ReadDir(home)
			for _, e := range entries {
				t.Errorf("$SHOAL_HOME has %s after a refusal", e.Name())
			}
		})
	}
}

// `shoal heal` is a verb with a sub-verb (`image`): bare, it still runs
// heal; an unknown sub-verb is a usage error.
func TestHealIsAVerbWithASubVerb(t *testing.T) {
	code, _, errText := runCLI(t, "heal", "--once", "--dry-run", "--inventory", filepath.Join(t.TempDir(), "none.yaml"))
	if strings.Contains(errText, "needs a verb") || code == 0 {
		t.Errorf("bare heal: exit %d, %s", code, errText)
	}
	code, _, errText = runCLI(t, "heal", "imag")
	if code != exitUsage || !strings.Contains(errText, "did you mean") {
		t.Errorf("heal imag: exit %d, %s", code, errText)
	}
}

// Which of shoal's stacks run on the cluster: heal when enabled (and it
// takes the scheduled backups), else the backup service when a schedule
// is set; the other is removed.
func TestClusterServicesRunHealOrTheBackupServiceNeverBoth(t *testing.T) {
	for _, c := range []struct {
		heal, backups bool
		run, remove   string
	}{
		{false, false, "", "shoal-heal,shoal-backup"},
		{true, false, "shoal-heal", "shoal-backup"},
		{true, true, "shoal-heal", "shoal-backup"},
		{false, true, "shoal-backup", "shoal-heal"},
	} {
		cs := clusterServices{backups: c.backups}
		cs.heal.Enabled = c.heal
		run, remove := cs.stacks()
		if strings.Join(run, ",") != c.run || strings.Join(remove, ",") != c.remove {
			t.Errorf("heal %v, backups %v: run %v, remove %v; want %s and %s", c.heal, c.backups, run, remove, c.run, c.remove)
		}
	}
}

// `shoal up` refuses, before anything exists, what scheduled backups on
// the cluster cannot do: heal's grace too short for the backups heal's
// process takes (exit 2), and a state backend the backup service cannot
// reach (exit 3, as for heal).
func TestUpRefusesScheduledBackupsThatCannotRun(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const bk = "  shoal:backup: {recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq, to: \"s3://bk/p?endpoint=http://10.0.0.5:7070\", schedule: every 1h, keep: 3}\n"
	for _, c := range []struct {
		name, extra string
		code        int
		want        []string
	}{
		{"heal's grace shorter than a backup's engine stop", bk + "  shoal:heal: {enabled: true, grace: 1s}\n", exitUsage, []string{"shoal:heal.grace 1s is shorter than 30s"}},
		{"the backup service and a file backend", bk, exitRefused, []string{"nothing was changed", "shoal:backup.schedule runs backups on the cluster", "cannot reach the state backend"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PULUMI_BACKEND_URL", "")
			dir := t.TempDir()
			cfg := strings.Replace(string(base), "config:\n", "config:\n"+c.extra, 1)
			if err := os.WriteFile(filepath.Join(dir, "Pulumi.local.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			home := t.TempDir()
			var out, errb bytes.Buffer
			code := Main(context.Background(), []string{"--home", home, "up", "--yes", "--dir", dir}, strings.NewReader(""), &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, c.code, errb.String())
			}
			for _, want := range c.want {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errb.String())
				}
			}
			entries, _ := os.ReadDir(home)
			for _, e := range entries {
				t.Errorf("$SHOAL_HOME has %s after a refusal", e.Name())
			}
		})
	}
}
