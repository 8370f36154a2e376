package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
)

// TestDRRestoreOfAShoalUpStack: a `shoal up` stack (3 managers on 3
// hosters and a worker; traefik, portainer, an app whose webhook tokens sit
// in a real Vault) is backed up with `shoal backup --stack`, then loses
// every manager; the worker survives. `shoal dr restore --stack` (first
// --dry-run, which changes nothing) makes the managers' servers again
// through the stack's program, puts the backup onto them, keeps the
// worker (it leaves the lost swarm and joins again), runs the program in
// full and checks the webhooks: the same swarm and services with the same
// IDs, quorum ok with 3 reachable managers on 3 hosters, the worker's
// container the one that ran before; the webhook token read from Vault
// afterwards updates exactly its service, and a second `shoal up` has
// nothing to change (ADR 0039).
func TestDRRestoreOfAShoalUpStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys, to := t.TempDir(), t.TempDir()
	idFile := filepath.Join(keys, "backup.key")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newWebhookStack(t, ctx, fmt.Sprintf(`    - {name: w, provider: local, hoster: hoster-a, role: worker, count: 1}
  shoal:backup: {recipient: %s, to: %s}
`, id.Recipient().String(), to))
	c, name := s.c, s.name
	managers := []string{"ma-1", "mb-1", "mc-1"}

	before := s.services(ctx, "ma-1")
	swarmID := func() string {
		t.Helper()
		out, err := nodeDocker(ctx, s.container("ma-1"), "", "info", "--format", "{{.Swarm.Cluster.ID}}")
		if err != nil || out == "" {
			t.Fatalf("swarm ID on ma-1: %q %v", out, err)
		}
		return out
	}
	swarmBefore := swarmID()
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	worker := func() (id, started string) {
		t.Helper()
		ins, err := docker.ContainerInspect(ctx, s.container("w-1"), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ins.Container.ID, ins.Container.State.StartedAt
	}
	workerID, workerStarted := worker()

	code, out, errs := c.run("backup", "--stack", name, "--dir", s.dir, "-o", "json")
	if code != 0 {
		t.Fatalf("backup --stack: exit %d\n%s\n%s", code, out, errs)
	}
	var j backupJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("backup -o json: %v\n%s", err, out)
	}

	// Every manager dies; the worker runs on.
	ids := map[string]string{}
	for _, m := range managers {
		if err := lab.KillNode(ctx, docker, c.labRef(name), m); err != nil {
			t.Fatal(err)
		}
		ins, err := docker.ContainerInspect(ctx, s.container(m), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[m] = ins.Container.ID
	}
	restore := []string{"dr", "restore", "--stack", name, "--dir", s.dir, "--from", j.Backup, "--identity", idFile}

	// --dry-run: the plan, nothing made.
	code, out, errs = c.run(append(restore, "--dry-run")...)
	if code != exitWork {
		t.Fatalf("dr restore --dry-run: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitWork, out, errs)
	}
	for _, want := range []string{
		"make new servers for ma-1 (manager at hoster-a, generation 1), mb-1 (manager at hoster-b, generation 1), mc-1 (manager at hoster-c, generation 1) through the stack's Pulumi program",
		"keep the surviving workers w-1",
		"run the stack's Pulumi program in full",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run's plan does not say %q:\n%s", want, out)
		}
	}
	for _, m := range managers {
		if ins, err := docker.ContainerInspect(ctx, s.container(m), client.ContainerInspectOptions{}); err != nil || ins.Container.ID != ids[m] {
			t.Errorf("the dry run touched %s's server: %v", m, err)
		}
	}

	// The restore; the new servers get the images as real ones would
	// pull them.
	loaded := s.reloadWhenReplaced(ctx, docker, managers)
	rs := time.Now()
	code, out, errs = c.run(append(restore, "--yes")...)
	took := time.Since(rs)
	if code != 0 {
		t.Fatalf("dr restore --stack: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("dr restore --stack took %s\nstdout:\n%s\nstderr:\n%s", took.Round(100*time.Millisecond), out, errs)
	for range managers {
		if err := <-loaded; err != nil {
			t.Errorf("images into a new server: %v", err)
		}
	}
	// Portainer's data died with its server. When Portainer came back at
	// another address the full run made its webhooks again (the check then
	// finds them as they should be); at the same address the program saw
	// no change, and the check re-synced them. Either way nothing is left
	// merely "found".
	if !strings.Contains(out, "webhooks and Vault tokens: 2 checked, unchanged") && !strings.Contains(out, "(re-synced)") || strings.Contains(out, "(found)") {
		t.Errorf("dr restore did not report the webhooks checked and, where needed, re-synced")
	}

	if got := swarmID(); got != swarmBefore {
		t.Errorf("swarm %s after the restore, want %s", got, swarmBefore)
	}
	after := s.services(ctx, "ma-1")
	for n, was := range before {
		if after[n].ID != was.ID {
			t.Errorf("service %s: ID %q after the restore, want %q", n, after[n].ID, was.ID)
		}
	}
	if id, started := worker(); id != workerID || started != workerStarted {
		t.Errorf("w-1's server is not the one that ran: container %s started %s, was %s started %s", id, started, workerID, workerStarted)
	}
	st := c.status()
	hosters := map[string]bool{}
	var mgrs []string
	workerReady := false
	for _, n := range st.Nodes {
		switch {
		case n.Role == "manager":
			mgrs = append(mgrs, n.Name)
			hosters[n.Hoster] = true
		case n.Name == "w-1":
			workerReady = n.State == "ready"
		}
	}
	slices.Sort(mgrs)
	if st.Quorum != quorum.OK || st.ManagersReachable != 3 || len(hosters) != 3 || !slices.Equal(mgrs, managers) || !workerReady {
		t.Errorf("after the restore: quorum %s, %d/%d managers %v on %d hosters, w-1 ready %v; want ok, 3/3 %v on 3, ready",
			st.Quorum, st.ManagersReachable, st.Managers, mgrs, len(hosters), workerReady, managers)
	}

	// The token Vault holds now (Portainer's data died with its server:
	// the full run made the webhooks again) updates exactly its service.
	hookURL, token := s.webhook(ctx)
	s.postWebhookUpdatesOnlyWeb(ctx, "ma-1", hookURL, token)
	if r := s.up(); !r.noChanges() {
		t.Errorf("up after dr restore changed resources: %v", r.Changes)
	}
}
