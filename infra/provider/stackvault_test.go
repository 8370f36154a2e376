package provider

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	p "github.com/pulumi/pulumi-go-provider"

	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

func TestCredentialEntriesPlaceEachCredentialAtItsDocumentedPath(t *testing.T) {
	v := &StackVault{Address: "https://vault.acme.example/", Project: "prod", Token: "t"}
	admin := map[string]StackCredential{"admin": {Username: "admin", Password: "pw-a"}}
	reg := map[string]StackCredential{"push and pull": {Username: "shoal", Password: "pw-r"}}
	tests := []struct {
		name  string
		args  StackArgs
		creds map[string]StackCredential
		want  []string // address|mount|path
	}{
		{"a stack's login sits at project/platform/stack under the default mount",
			StackArgs{Name: "portainer", Shipped: "portainer", Vault: v}, admin,
			[]string{"https://vault.acme.example|secret|prod/platform/portainer"}},
		{"the registry has one entry per user below its stack",
			StackArgs{Name: "registry", Shipped: "registry", Vault: v}, reg,
			[]string{"https://vault.acme.example|secret|prod/platform/registry/shoal"}},
		{"mount and template are the configured ones",
			StackArgs{Name: "traefik", Shipped: "traefik", Vault: &StackVault{Address: "https://v", Mount: "/kv/shoal/", PathTemplate: "ci/{env}/{project}/{service}", Project: "prod"}},
			map[string]StackCredential{"dashboard": {Username: "admin", Password: "pw"}},
			[]string{"https://v|kv/shoal|ci/platform/prod/traefik"}},
		{"without Vault nothing is placed", StackArgs{Name: "portainer", Shipped: "portainer"}, admin, nil},
		{"a stack without credentials places nothing", StackArgs{Name: "shop-dev", Vault: v}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := credentialEntries(tt.args, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			var places []string
			for pl, data := range got {
				places = append(places, pl.Address+"|"+pl.Mount+"|"+pl.Path)
				c := slices.Collect(maps.Values(tt.creds))[0]
				if want := map[string]string{"username": c.Username, "password": c.Password}; !reflect.DeepEqual(data, want) {
					t.Errorf("data at %s has keys %v, want username and password of the credential", pl.Path, slices.Sorted(maps.Keys(data)))
				}
			}
			slices.Sort(places)
			if !reflect.DeepEqual(places, tt.want) {
				t.Errorf("places %q, want %q", places, tt.want)
			}
		})
	}
	if _, err := credentialEntries(StackArgs{Name: "registry", Shipped: "registry", Vault: v},
		map[string]StackCredential{"push and pull": {Username: "a/b", Password: "pw"}}); err == nil {
		t.Error("a user name with a slash was placed")
	}
}

func TestCheckStackRefusesAVaultPathThatCannotBeBuilt(t *testing.T) {
	f := checkStack(StackArgs{Name: "traefik", Shipped: "traefik", Vault: &StackVault{Address: "https://v", Project: "Bad Project"}})
	if len(f) != 1 || f[0].Property != "vault" || !strings.Contains(f[0].Reason, "project") {
		t.Errorf("failures %+v, want one on vault naming the project", f)
	}
	f = checkStack(StackArgs{Name: "traefik", Shipped: "traefik", Vault: &StackVault{Address: "https://v", Project: "prod", PathTemplate: "{service}/{env}"}})
	if len(f) != 1 || f[0].Property != "vault" {
		t.Errorf("failures %+v, want one on vault for the template", f)
	}
}

// TestSyncStackVaultAgainstRealVault: credentials land at their paths
// and a second sync writes no version; moving the mount, renaming the
// registry user and turning Vault off remove what the previous inputs
// placed; deleting the stack removes the rest.
func TestSyncStackVaultAgainstRealVault(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	conf := vaultapi.DefaultConfig()
	conf.Address, conf.MaxRetries = srv.Addr, 0
	root, err := vaultapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(srv.RootToken)
	if err := root.Sys().MountWithContext(ctx, "kv2", &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	version := func(mount, path string) int {
		t.Helper()
		md, err := root.KVv2(mount).GetMetadata(ctx, path)
		if errors.Is(err, vaultapi.ErrSecretNotFound) {
			return 0
		}
		if err != nil {
			t.Fatalf("metadata of %s/%s: %v", mount, path, err)
		}
		return md.CurrentVersion
	}
	read := func(mount, path string) map[string]any {
		t.Helper()
		s, err := root.KVv2(mount).Get(ctx, path)
		if err != nil {
			t.Fatalf("read %s/%s: %v", mount, path, err)
		}
		return s.Data
	}
	state := func(mount, user string) *StackState {
		return &StackState{
			StackArgs:   StackArgs{Name: "registry", Shipped: "registry", Vault: &StackVault{Address: srv.Addr, Mount: mount, Project: "lab", Token: srv.RootToken}},
			Credentials: map[string]StackCredential{"push and pull": {Username: user, Password: "pw-" + user}},
		}
	}

	first := state("", "shoal")
	if err := syncStackVault(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	if got := read("secret", "lab/platform/registry/shoal"); got["username"] != "shoal" || got["password"] != "pw-shoal" {
		t.Fatalf("entry after create has username %v and the password set %v", got["username"], got["password"] == "pw-shoal")
	}
	if err := syncStackVault(ctx, first, first); err != nil {
		t.Fatal(err)
	}
	if v := version("secret", "lab/platform/registry/shoal"); v != 1 {
		t.Fatalf("a second sync left version %d, want 1", v)
	}

	moved := state("kv2", "shoal")
	if err := syncStackVault(ctx, moved, first); err != nil {
		t.Fatal(err)
	}
	if version("secret", "lab/platform/registry/shoal") != 0 || version("kv2", "lab/platform/registry/shoal") != 1 {
		t.Fatal("moving the mount did not move the entry")
	}

	renamed := state("kv2", "ci")
	if err := syncStackVault(ctx, renamed, moved); err != nil {
		t.Fatal(err)
	}
	if version("kv2", "lab/platform/registry/shoal") != 0 || read("kv2", "lab/platform/registry/ci")["password"] != "pw-ci" {
		t.Fatal("renaming the user did not replace its entry")
	}

	off := state("kv2", "ci")
	off.Vault = nil
	if err := syncStackVault(ctx, off, renamed); err != nil {
		t.Fatal(err)
	}
	if version("kv2", "lab/platform/registry/ci") != 0 {
		t.Fatal("turning Vault off left the entry")
	}

	if err := syncStackVault(ctx, renamed, nil); err != nil {
		t.Fatal(err)
	}
	if err := syncStackVault(ctx, nil, renamed); err != nil {
		t.Fatal(err)
	}
	if version("kv2", "lab/platform/registry/ci") != 0 {
		t.Fatal("deleting the stack left its entry")
	}

	// A delete that Vault refuses fails, and names no secret.
	bad := state("kv2", "ci")
	bad.Vault.Token = "hvs.not-a-token-0123"
	err = syncStackVault(ctx, nil, bad)
	var ae *vault.APIError
	if !errors.As(err, &ae) || !ae.Forbidden() || strings.Contains(err.Error(), "hvs.not-a-token-0123") {
		t.Fatalf("delete with a bad token: %v, want a 403 without the token", err)
	}
}

func TestSchemaKeepsTheStackVaultTokenSecret(t *testing.T) {
	resp, err := newServer(t).GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Resources map[string]struct {
			InputProperties map[string]struct {
				Ref string `json:"$ref"`
			}
		}
		Types map[string]struct {
			Properties map[string]struct{ Secret bool }
		}
	}
	if err := json.Unmarshal([]byte(resp.Schema), &spec); err != nil {
		t.Fatal(err)
	}
	if ref := spec.Resources["shoal:swarm:Stack"].InputProperties["vault"].Ref; ref != "#/types/shoal:swarm:StackVault" {
		t.Fatalf("Stack input vault refers to %q", ref)
	}
	if !spec.Types["shoal:swarm:StackVault"].Properties["token"].Secret {
		t.Error("StackVault.token is not secret")
	}
}
