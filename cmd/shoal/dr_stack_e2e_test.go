package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
)

// TestDRRecoverOnAShoalUpStackKeepsWebhookTokens: a `shoal up` stack with
// 3 managers on 3 hosters runs traefik and portainer (stand-ins) and an
// app whose webhook tokens sit in a real Vault. Two managers are killed
// (quorum lost); `shoal dr recover --yes --stack` re-forms the swarm on the
// survivor and gives the dead managers new servers under their names
// through the Pulumi program: quorum ok, 3 reachable managers on 3
// hosters, the same services with the same IDs, the webhooks checked
// unchanged; a second `shoal up` has nothing to change; and the token read
// from Vault with a plain client, POSTed with a new tag, updates exactly
// its service.
func TestDRRecoverOnAShoalUpStackKeepsWebhookTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// 1-2. The cluster, the platform stacks, the app and Vault.
	s := newWebhookStack(t, ctx, "")
	c, name := s.c, s.name
	survivor := "ma-1"
	up := s.up
	before := s.services(ctx, survivor)
	hookURL, token := s.webhook(ctx)

	// 3. Two of three managers die: quorum is lost.
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	for _, m := range []string{"mb-1", "mc-1"} {
		if err := lab.KillNode(ctx, docker, c.labRef(name), m); err != nil {
			t.Fatal(err)
		}
	}
	// The new servers get the images as real ones would pull them.
	loaded := s.reloadWhenReplaced(ctx, docker, []string{"mb-1", "mc-1"})

	recStart := time.Now()
	code, out, errs := c.run("dr", "recover", "--yes", "--stack", name, "--dir", s.dir)
	took := time.Since(recStart)
	if code != 0 {
		t.Fatalf("dr recover: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("dr recover took %s\nstdout:\n%s\nstderr:\n%s", took.Round(100*time.Millisecond), out, errs)
	for range 2 {
		if err := <-loaded; err != nil {
			t.Errorf("images into a new server: %v", err)
		}
	}
	if !strings.Contains(errs, "replace mb-1 at hoster-b, mc-1 at hoster-c through the stack's Pulumi program") {
		t.Errorf("dr recover did not replace mb-1 and mc-1 through the program")
	}
	if !strings.Contains(out, "webhooks and Vault tokens: 2 checked, unchanged") {
		t.Errorf("dr recover did not report the webhooks checked and unchanged")
	}

	st := c.status()
	hosters := map[string]bool{}
	var managers []string
	for _, n := range st.Nodes {
		if n.Role == "manager" {
			managers = append(managers, n.Name)
			hosters[n.Hoster] = true
			if n.Reachability != "reachable" || n.State != "ready" {
				t.Errorf("manager %s is %s/%s, want ready and reachable", n.Name, n.State, n.Reachability)
			}
		}
	}
	slices.Sort(managers)
	if st.Quorum != quorum.OK || st.Managers != 3 || st.ManagersReachable != 3 || len(hosters) != 3 || !slices.Equal(managers, []string{"ma-1", "mb-1", "mc-1"}) {
		t.Errorf("after recovery: quorum %s, %d/%d managers %v on %d hosters; want ok, 3/3 ma-1 mb-1 mc-1 on 3",
			st.Quorum, st.ManagersReachable, st.Managers, managers, len(hosters))
	}

	// The same services with the same IDs.
	after := s.services(ctx, survivor)
	if len(after) != len(before) {
		t.Errorf("services after recovery: %v, want %v", after, before)
	}
	for s, was := range before {
		if after[s].ID != was.ID {
			t.Errorf("service %s: ID %q after recovery, want %q", s, after[s].ID, was.ID)
		}
	}

	// The recovered stack is what the program says: nothing to change.
	if r := up(); !r.noChanges() {
		t.Errorf("up after dr recover changed resources: %v", r.Changes)
	}

	// The token read from Vault before the disaster updates exactly its
	// service, to the new tag.
	s.postWebhookUpdatesOnlyWeb(ctx, survivor, hookURL, token)
}
