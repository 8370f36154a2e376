package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// `shoal backup list` and `shoal backup prune` on a directory location of
// a plain inventory: list shows the cluster's backups newest first (not
// another cluster's, not a stray file), prune --dry-run says what it would
// delete (exit 4) and deletes nothing, prune --yes deletes exactly that
// (with the verified marker of a deleted one) and never the newest
// verified backup; without a retention it is bad usage.
func TestBackupListAndPruneOnADirectory(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{
		"prod-20261201T030000Z.backup.age", "prod-20261201T030000Z.backup.age.verified",
		"prod-20261202T030000Z.backup.age", "prod-20261203T030000Z.backup.age", "prod-20261204T030000Z.backup.age",
		"prod-20261203T030000Z.backup.age.verified",
		"staging-20261201T030000Z.backup.age", "prod-notes.txt",
	} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inv := writeFile(t, "inventory.yaml", "cluster:\n  name: prod\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\nbackup:\n  to: "+dir+"\n  keep: 1\n")

	code, out, errs := runCLI(t, "--inventory", inv, "backup", "list")
	want := "prod-20261204T030000Z.backup.age  2026-12-04T03:00:00Z\nprod-20261203T030000Z.backup.age  2026-12-03T03:00:00Z  verified\n" +
		"prod-20261202T030000Z.backup.age  2026-12-02T03:00:00Z\nprod-20261201T030000Z.backup.age  2026-12-01T03:00:00Z  verified\n"
	if code != 0 || out != want {
		t.Fatalf("list: exit %d\n%s\nwant\n%s\n%s", code, out, want, errs)
	}

	code, out, errs = runCLI(t, "--inventory", inv, "backup", "prune", "--dry-run")
	if code != exitWork || !strings.Contains(out, "would delete prod-20261202T030000Z.backup.age") || !strings.Contains(out, "would delete prod-20261201T030000Z.backup.age") ||
		strings.Contains(out, "20261203") || strings.Contains(out, "20261204") {
		t.Fatalf("prune --dry-run: exit %d, want %d\n%s\n%s", code, exitWork, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "prod-20261201T030000Z.backup.age")); err != nil {
		t.Errorf("--dry-run deleted: %v", err)
	}
	if code, _, errs := runCLI(t, "--inventory", inv, "backup", "prune"); code != exitRefused || !strings.Contains(errs, "--yes") {
		t.Errorf("prune without --yes and no terminal: exit %d, want %d\n%s", code, exitRefused, errs)
	}

	// --keep 0 overrides the inventory's keep: 1 (no retention left, so
	// nothing to prune by).
	if code, _, errs := runCLI(t, "--inventory", inv, "backup", "prune", "--keep", "0", "--dry-run"); code != exitUsage || !strings.Contains(errs, "no retention") {
		t.Errorf("prune --keep 0 over backup.keep 1: exit %d, want %d saying no retention\n%s", code, exitUsage, errs)
	}

	code, out, errs = runCLI(t, "--inventory", inv, "backup", "prune", "--keep", "1", "--yes", "-o", "json")
	var j pruneJSON
	if err := json.Unmarshal([]byte(out), &j); code != 0 || err != nil {
		t.Fatalf("prune: exit %d, %v\n%s\n%s", code, err, out, errs)
	}
	if strings.Join(j.Deleted, ",") != "prod-20261202T030000Z.backup.age,prod-20261201T030000Z.backup.age" {
		t.Errorf("deleted %v", j.Deleted)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "prod-20261203T030000Z.backup.age,prod-20261203T030000Z.backup.age.verified,prod-20261204T030000Z.backup.age,prod-notes.txt,staging-20261201T030000Z.backup.age" {
		t.Errorf("left: %s", got)
	}

	noKeep := writeFile(t, "inventory.yaml", "cluster:\n  name: prod\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\nbackup:\n  to: "+dir+"\n")
	if code, _, errs := runCLI(t, "--inventory", noKeep, "backup", "prune", "--yes"); code != exitUsage || !strings.Contains(errs, "--keep") {
		t.Errorf("prune without a retention: exit %d, want %d\n%s", code, exitUsage, errs)
	}
	id, _ := age.GenerateX25519Identity()
	withRecipient := writeFile(t, "inventory.yaml", "cluster:\n  name: prod\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\nbackup:\n  to: "+dir+"\n  recipient: "+id.Recipient().String()+"\n")
	if code, _, errs := runCLI(t, "--inventory", withRecipient, "backup", "--schedule"); code != exitUsage || !strings.Contains(errs, "no schedule configured") {
		t.Errorf("backup --schedule without one: exit %d, want %d\n%s", code, exitUsage, errs)
	}
}
