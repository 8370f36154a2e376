package portainer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/stacks/portainer/portainertest"
)

const testPassword = Secret("correct-horse-battery-staple")

// Tests without a swarm: the emulator (pinned to the recorded contract)
// serves everything but the Docker proxy and triggers without an engine.

func TestAdminInitInsideTheWindowThenAlreadyInitialised(t *testing.T) {
	srv := portainertest.New(portainertest.Options{})
	defer srv.Close()
	c := New(srv.URL())
	ctx := context.Background()

	created, err := c.EnsureAdmin(ctx, "admin", testPassword)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin = %v, %v; want created", created, err)
	}
	created, err = c.EnsureAdmin(ctx, "admin", testPassword)
	if err != nil || created {
		t.Fatalf("second EnsureAdmin = %v, %v; want nothing to do", created, err)
	}
	_, err = c.AdminInit(ctx, "admin", testPassword)
	if !errors.Is(err, ErrAlreadyInitialised) {
		t.Fatalf("second AdminInit: %v, want ErrAlreadyInitialised", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Details != "An administrator user already exists" {
		t.Fatalf("error %#v, want Portainer's 409 with its details", err)
	}
	assertNoSecret(t, err, testPassword.Reveal())
}

func TestAdminInitRefusesAShortPasswordBeforeAsking(t *testing.T) {
	srv := portainertest.New(portainertest.Options{})
	defer srv.Close()
	_, err := New(srv.URL()).AdminInit(context.Background(), "admin", "short")
	if err == nil || !strings.Contains(err.Error(), "12 characters") {
		t.Fatalf("AdminInit with a short password: %v", err)
	}
	assertNoSecret(t, err, "short")
}

func TestAdminInitAfterTheWindowSaysRestart(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := portainertest.New(portainertest.Options{Now: func() time.Time { return now }})
	defer srv.Close()
	now = now.Add(5*time.Minute + time.Second)
	_, err := New(srv.URL()).EnsureAdmin(context.Background(), "admin", testPassword)
	if !errors.Is(err, ErrAdminInitTimeout) {
		t.Fatalf("EnsureAdmin after 5 minutes: %v, want ErrAdminInitTimeout", err)
	}
}

func TestLogin(t *testing.T) {
	srv := portainertest.New(portainertest.Options{})
	defer srv.Close()
	c := New(srv.URL())
	ctx := context.Background()
	if _, err := c.EnsureAdmin(ctx, "admin", testPassword); err != nil {
		t.Fatal(err)
	}

	t.Run("without credentials the API says so", func(t *testing.T) {
		_, err := c.Endpoints(ctx, "")
		var e *APIError
		if !errors.As(err, &e) || e.Status != 401 || e.Message != "A valid authorization token is missing" {
			t.Fatalf("Endpoints without login: %v", err)
		}
	})
	t.Run("a wrong password is Portainer's 422 and is not in the error", func(t *testing.T) {
		_, err := c.Login(ctx, "admin", "wrong-password-123")
		var e *APIError
		if !errors.As(err, &e) || e.Status != 422 || e.Message != "Invalid credentials" {
			t.Fatalf("Login with a wrong password: %v", err)
		}
		assertNoSecret(t, err, "wrong-password-123")
	})
	t.Run("the right password gives a client that is let in", func(t *testing.T) {
		authed, err := c.Login(ctx, "admin", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := authed.Endpoints(ctx, ""); err != nil {
			t.Fatalf("Endpoints after login: %v", err)
		}
		if s := fmt.Sprintf("%v %+v %v %+v %#v %s", authed.jwt, authed.jwt, authed, *authed, authed.jwt, authed); strings.Contains(s, authed.jwt.Reveal()) {
			t.Fatalf("the JWT shows in formatted output: %s", s)
		}
	})
	t.Run("an API key made with the JWT works alone", func(t *testing.T) {
		authed, err := c.Login(ctx, "admin", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		key, err := authed.CreateAPIKey(ctx, 1, "shoal", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key.Raw.Reveal(), "ptr_") || key.Prefix != key.Raw.Reveal()[:7] {
			t.Fatalf("API key %+v", key)
		}
		byKey := New(srv.URL(), WithAPIKey(key.Raw))
		if _, err := byKey.Endpoints(ctx, ""); err != nil {
			t.Fatalf("Endpoints with the API key: %v", err)
		}
		_, err = byKey.CreateAPIKey(ctx, 1, "again", testPassword)
		if !IsStatus(err, 401) {
			t.Fatalf("an API key creating an API key: %v, want 401", err)
		}
	})
}

func TestEnsureEndpointCreatesOnce(t *testing.T) {
	srv := portainertest.New(portainertest.Options{})
	defer srv.Close()
	ctx := context.Background()
	c := loggedIn(t, srv)
	spec := EndpointSpec{Name: "swarm", AgentURL: "tcp://tasks.agent:9001"}
	e, created, err := c.EnsureEndpoint(ctx, spec)
	if err != nil || !created || e.ID != 1 || e.Type != EndpointAgent || e.Name != "swarm" {
		t.Fatalf("EnsureEndpoint = %+v, %v, %v", e, created, err)
	}
	again, created, err := c.EnsureEndpoint(ctx, spec)
	if err != nil || created || again.ID != e.ID {
		t.Fatalf("second EnsureEndpoint = %+v, %v, %v; want the same environment", again, created, err)
	}
}

func TestCreateServiceWebhookHandlesTheDuplicate(t *testing.T) {
	srv := portainertest.New(portainertest.Options{})
	defer srv.Close()
	ctx := context.Background()
	c := loggedIn(t, srv)
	e, _, err := c.EnsureEndpoint(ctx, EndpointSpec{Name: "local"})
	if err != nil {
		t.Fatal(err)
	}
	h, created, err := c.CreateServiceWebhook(ctx, e.ID, "svc1")
	if err != nil || !created || h.ResourceID != "svc1" || h.EndpointID != e.ID || h.Token == "" {
		t.Fatalf("CreateServiceWebhook = %+v, %v, %v", h, created, err)
	}
	dup, created, err := c.CreateServiceWebhook(ctx, e.ID, "svc1")
	if err != nil || created || dup.ID != h.ID || dup.Token != h.Token {
		t.Fatalf("duplicate CreateServiceWebhook = %+v, %v, %v; want the existing webhook", dup, created, err)
	}
	if err := c.DeleteWebhook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx, h.ID); err != nil {
		t.Fatalf("deleting a deleted webhook: %v", err)
	}
	list, err := c.Webhooks(ctx, e.ID)
	if err != nil || len(list) != 0 {
		t.Fatalf("Webhooks after delete = %v, %v", list, err)
	}
	// The token of a deleted webhook: 404, and the error does not show it.
	err = c.TriggerWebhook(ctx, c.WebhookURL(h.Token), "")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Message != "Unable to find a webhook with this token" {
		t.Fatalf("trigger of a deleted webhook: %v", err)
	}
	assertNoSecret(t, err, h.Token.Reveal())
	if s := fmt.Sprintf("%v %+v", h, h); strings.Contains(s, h.Token.Reveal()) {
		t.Fatalf("a webhook's token shows in formatted output: %s", s)
	}
}

func TestTriggerWebhookRefusesWhatIsNoWebhookURL(t *testing.T) {
	err := New("http://127.0.0.1:1").TriggerWebhook(context.Background(), "http://127.0.0.1:1/api/endpoints", "")
	if err == nil {
		t.Fatal("no error")
	}
}

func loggedIn(t *testing.T, srv *portainertest.Server) *Client {
	t.Helper()
	ctx := context.Background()
	c := New(srv.URL())
	if _, err := c.EnsureAdmin(ctx, "admin", testPassword); err != nil {
		t.Fatal(err)
	}
	authed, err := c.Login(ctx, "admin", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return authed
}

func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows a secret: %v", err)
	}
}
