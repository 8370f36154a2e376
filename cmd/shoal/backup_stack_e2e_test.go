package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/shoalops/shoal/backup"
)

// TestBackupOfAShoalUpStackTakesItsConfigAndState runs `shoal up` for a
// local stack (3 managers, no worker) whose shoal:backup names the
// recipient and a directory, then `shoal backup --stack` with no other
// flag: the backup goes where the stack config says, encrypted to its
// recipient, and holds the stack's state (shoal/stack.json) beside the raft
// state and the inventory `shoal up` wrote.
func TestBackupOfAShoalUpStackTakesItsConfigAndState(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir, to := t.TempDir(), t.TempDir()
	cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n  shoal:backup: {recipient: "+id.Recipient().String()+", to: "+to+"}\n", 1)
	cfg = strings.Replace(cfg, "    - {name: w, provider: local, hoster: hoster-a, role: worker, count: 2}\n", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := c.run("up", "--yes", "--stack", name, "--dir", dir); code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := c.run("backup", "--stack", name, "--dir", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("backup --stack: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("backup:\n%s\n%s", out, errs)
	var j backupJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("backup -o json: %v\n%s", err, out)
	}
	if filepath.Dir(j.Backup) != to || j.EngineStoppedMS <= 0 {
		t.Errorf("backup at %s (engine stopped %d ms), want it in %s", j.Backup, j.EngineStoppedMS, to)
	}
	sealed, err := os.ReadFile(j.Backup)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := backup.Open(sealed, id)
	if err != nil {
		t.Fatalf("the stack's recipient's identity does not open it: %v", err)
	}
	got, err := backup.ReadArchive(strings.NewReader(string(plain)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{backup.SwarmFile, backup.InventoryFile, backup.KnownHosts, backup.StackFile} {
		if len(got.Files[f]) == 0 {
			t.Errorf("the archive lacks %s", f)
		}
	}
	if !strings.Contains(string(got.Files[backup.StackFile]), "shoal:local:Server") {
		t.Errorf("shoal/stack.json is not the stack's state:\n%.400s", got.Files[backup.StackFile])
	}
}
