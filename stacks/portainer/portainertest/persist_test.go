package portainertest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/shoalops/shoal/stacks/portainer"
)

// A stand-in with a state file is a Portainer whose task was re-created on
// its node: the administrator and the webhooks are there again, with the
// same tokens.
func TestStateFileKeepsAdminAndWebhooksAcrossARestart(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "state.json")
	h, err := NewHandler(Options{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	if _, err := portainer.New(srv.URL).EnsureAdmin(ctx, "admin", "a-long-password-1"); err != nil {
		t.Fatal(err)
	}
	s := h.(*Server)
	s.mu.Lock()
	s.webhooks = append(s.webhooks, &webhook{ID: s.seq("webhook"), Token: "tok", ResourceID: "svc1", EndpointID: 1, Type: 1})
	s.mu.Unlock()
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	h2, err := NewHandler(Options{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	c, err := portainer.New(srv2.URL).Login(ctx, "admin", "a-long-password-1")
	if err != nil {
		t.Fatalf("login after the restart: %v", err)
	}
	s2 := h2.(*Server)
	if len(s2.webhooks) != 1 || s2.webhooks[0].Token != "tok" || s2.seq("webhook") != 2 || c == nil {
		t.Errorf("after the restart: webhooks %+v", s2.webhooks)
	}
}
