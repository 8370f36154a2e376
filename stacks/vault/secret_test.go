package vault_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

func TestCredentialPath(t *testing.T) {
	tests := []struct {
		name                 string
		template             string
		project, stack, user string
		want                 string
		wantErr              string
	}{
		{name: "the default template puts a stack's login at project/platform/stack",
			project: "prod", stack: "traefik", want: "prod/platform/traefik"},
		{name: "a user gets its own entry below the stack",
			project: "prod", stack: "registry", user: "shoal", want: "prod/platform/registry/shoal"},
		{name: "a custom template places the platform like an environment",
			template: "ci/{env}/{project}/{service}", project: "prod", stack: "portainer", want: "ci/platform/prod/portainer"},
		{name: "a user with a slash is refused",
			project: "prod", stack: "registry", user: "a/b", wantErr: `vault user "a/b"`},
		{name: "an empty project is refused",
			project: "", stack: "traefik", wantErr: `vault project ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := vault.MustTemplate(cmpOr(tt.template, vault.DefaultPathTemplate))
			got, err := tmpl.CredentialPath(tt.project, tt.stack, tt.user)
			if tt.wantErr != "" {
				var pe *vault.PathError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CredentialPath = %q, %v; want *PathError containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CredentialPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestSecretPrintsNoValue(t *testing.T) {
	s := vault.Secret{Path: "prod/platform/traefik", Version: 2, Data: map[string]string{"username": "admin", "password": "pw-0123456789"}}
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v", s, s, s)} {
		if strings.Contains(out, "pw-0123456789") || !strings.Contains(out, "password") {
			t.Errorf("printed secret: %s", out)
		}
	}
}

func TestWriteSecretRefusesBadPathsBeforeAnyCall(t *testing.T) {
	// Nothing listens at this address: a call would fail with a transport error.
	c, err := vault.New(context.Background(), vault.Config{Address: "http://127.0.0.1:1", Credentials: vault.Credentials{Token: "t"}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "prod/../x", "/prod", "prod/platform/", "prod/*"} {
		var pe *vault.PathError
		if _, err := c.WriteSecret(context.Background(), p, map[string]string{"k": "v"}); !errors.As(err, &pe) {
			t.Errorf("WriteSecret(%q): %v, want *PathError", p, err)
		}
		if err := c.DeleteSecret(context.Background(), p); !errors.As(err, &pe) {
			t.Errorf("DeleteSecret(%q): %v, want *PathError", p, err)
		}
		if _, _, err := c.ReadSecret(context.Background(), p); !errors.As(err, &pe) {
			t.Errorf("ReadSecret(%q): %v, want *PathError", p, err)
		}
	}
}

func TestWriteSecretWritesOnlyChangesAndDeleteSecretRemovesEveryVersion(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	c := newClient(t, srv, vault.Credentials{Token: srv.RootToken})
	const path = "prod/platform/registry/shoal"

	steps := []struct {
		name        string
		password    string
		wantWritten bool
		wantVersion int
	}{
		{name: "the first write creates version 1", password: "pw-1", wantWritten: true, wantVersion: 1},
		{name: "an identical second write creates no version 2", password: "pw-1", wantWritten: false, wantVersion: 1},
		{name: "a changed password creates version 2", password: "pw-2", wantWritten: true, wantVersion: 2},
	}
	for _, st := range steps {
		res, err := c.WriteSecret(ctx, path, map[string]string{vault.KeyUsername: "shoal", vault.KeyPassword: st.password})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Written != st.wantWritten || res.Version != st.wantVersion || res.Path != path {
			t.Fatalf("%s: got %+v", st.name, res)
		}
		if got := currentVersion(t, root, path); got != st.wantVersion {
			t.Fatalf("%s: the server holds version %d, want %d", st.name, got, st.wantVersion)
		}
	}

	// An operator's note is kept, and equal keys do not rewrite the entry.
	kv := root.KVv2("secret")
	if _, err := kv.Put(ctx, path, map[string]any{"username": "shoal", "password": "pw-2", "note": "by hand"}); err != nil {
		t.Fatal(err)
	}
	if res, err := c.WriteSecret(ctx, path, map[string]string{vault.KeyUsername: "shoal", vault.KeyPassword: "pw-2"}); err != nil || res.Written || res.Version != 3 {
		t.Fatalf("equal keys under an operator's note: %+v, %v", res, err)
	}
	if _, err := c.WriteSecret(ctx, path, map[string]string{vault.KeyPassword: "pw-3"}); err != nil {
		t.Fatal(err)
	}
	s, ok, err := c.ReadSecret(ctx, path)
	if err != nil || !ok || s.Version != 4 || s.Data["note"] != "by hand" || s.Data["username"] != "shoal" || s.Data["password"] != "pw-3" {
		t.Fatalf("ReadSecret after a change: %v, ok %v, err %v, note %q", s, ok, err, s.Data["note"])
	}

	// Delete removes every version and the metadata: nothing readable with ?version=.
	if err := c.DeleteSecret(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := currentVersion(t, root, path); got != 0 {
		t.Fatalf("after DeleteSecret the key has version %d, want no metadata", got)
	}
	if _, err := kv.GetVersion(ctx, path, 1); !errors.Is(err, vaultapi.ErrSecretNotFound) {
		t.Fatalf("version 1 after DeleteSecret: %v, want not found", err)
	}
	if _, ok, err := c.ReadSecret(ctx, path); ok || err != nil {
		t.Fatalf("ReadSecret after DeleteSecret: ok %v, err %v", ok, err)
	}
	if err := c.DeleteSecret(ctx, path); err != nil {
		t.Fatalf("deleting a missing entry: %v", err)
	}
}

func TestWriteSecretRefusedByPolicyNamesThePathNotTheValues(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	if err := root.Sys().PutPolicyWithContext(ctx, "read-only", `path "secret/data/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"read-only"}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, vault.Credentials{Token: tok.Auth.ClientToken})
	const password = "pw-never-printed-0123"
	_, err = c.WriteSecret(ctx, "prod/platform/portainer", map[string]string{vault.KeyUsername: "admin", vault.KeyPassword: password})
	var ae *vault.APIError
	if !errors.As(err, &ae) || !ae.Forbidden() || ae.Op != "write" || !strings.Contains(err.Error(), "secret/data/prod/platform/portainer") {
		t.Fatalf("write under a read-only policy: %v, want a 403 *APIError of the write naming the path", err)
	}
	if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), tok.Auth.ClientToken) {
		t.Fatalf("the error shows a secret: %v", err)
	}
	if got := currentVersion(t, root, "prod/platform/portainer"); got != 0 {
		t.Fatalf("a refused write left version %d", got)
	}
}
