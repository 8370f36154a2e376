package infra

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const onePool = `[{"name":"m","provider":"local","hoster":"hoster-a","role":"manager","count":1}]`

// platformConfig is a local one-manager stack with every stack enabled,
// one app in the default environments and Vault.
func platformConfig(t *testing.T) map[string]any {
	t.Helper()
	compose := filepath.Join(t.TempDir(), "app.yml")
	if err := os.WriteFile(compose, []byte("version: \"3.8\"\nservices:\n  web:\n    image: ${APP_IMAGE}:${APP_TAG}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(onePool)
	cfg["shoal:swarm"] = map[string]any{"allowSingleHosterQuorum": true}
	cfg["shoal:stacks"] = map[string]any{
		"domain": "acme.example", "acmeEmail": "ops@acme.example",
		"traefik": map[string]any{"enabled": true}, "portainer": map[string]any{"enabled": true, "url": "http://{address}:9000"},
		"registry": map[string]any{"enabled": true},
	}
	cfg["shoal:apps"] = []any{map[string]any{"name": "shop", "compose": compose, "env": map[string]string{"APP_IMAGE": "registry.acme.example/shop"}}}
	cfg["shoal:vault"] = map[string]any{"address": "https://vault.acme.example"}
	cfg["shoal:vaultToken"] = "VAULT-TOKEN-TEST"
	return cfg
}

func TestProgramRegistersTheStacksEachAppPerEnvironmentAndItsWebhooks(t *testing.T) {
	m, _, err := run(t, "prod", platformConfig(t), append(slices.Clone(secretKeys), "shoal:vaultToken"), Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	want := []string{"acme-stack-portainer", "acme-stack-registry", "acme-stack-shop-dev", "acme-stack-shop-prod", "acme-stack-traefik"}
	if got := m.names(StackType); !reflect.DeepEqual(got, want) {
		t.Fatalf("stacks = %q, want %q", got, want)
	}
	cluster := m.get(t, ClusterType, "acme")
	for _, name := range want {
		s := m.get(t, StackType, name)
		if !s.Inputs["sshPrivateKey"].IsSecret() {
			t.Errorf("%s: sshPrivateKey is not secret", name)
		}
		ov := s.Inputs["overlay"].ObjectValue()
		if text(ov["unencrypted"]) != "false" || text(ov["mtu"]) != "1392" {
			t.Errorf("%s: overlay = %v, want encrypted with MTU 1392 (1500 - VXLAN - ESP)", name, ov)
		}
		if !slices.ContainsFunc(s.Deps, func(u string) bool { return urnName(u) == cluster.Name }) {
			t.Errorf("%s does not depend on the cluster: %q", name, s.Deps)
		}
	}
	for _, env := range []string{"dev", "prod"} {
		s := m.get(t, StackType, "acme-stack-shop-"+env)
		vars := s.Inputs["env"].ObjectValue()
		tag := map[string]string{"dev": "dev", "prod": "latest"}[env]
		if text(vars["APP_TAG"]) != tag || text(vars["STACK_NAME"]) != "shop-"+env || text(vars["APP_IMAGE"]) != "registry.acme.example/shop" {
			t.Errorf("shop-%s env = %v", env, vars)
		}
		if str(s, "name") != "shop-"+env || !strings.Contains(str(s, "compose"), "${APP_TAG}") {
			t.Errorf("shop-%s: name %q, compose %q", env, str(s, "name"), str(s, "compose"))
		}
		if !slices.ContainsFunc(s.Deps, func(u string) bool { return urnName(u) == "acme-stack-traefik" }) {
			t.Errorf("shop-%s does not wait for traefik (its network): %q", env, s.Deps)
		}
		if ra := s.Inputs["registryAuth"]; ra.IsNull() || !strings.Contains(ra.String(), "registry.acme.example") {
			t.Errorf("shop-%s registryAuth = %v, want the registry's login", env, ra)
		}
		w := m.get(t, WebhooksType, "acme-webhooks-shop-"+env)
		if str(w, "stack") != "shop-"+env || str(w, "project") != "shop" || str(w, "env") != env {
			t.Errorf("webhooks %s: stack %q project %q env %q", env, str(w, "stack"), str(w, "project"), str(w, "env"))
		}
		if tok := w.Inputs["vault"].ObjectValue()["token"]; !tok.IsSecret() {
			t.Errorf("webhooks %s: the vault token is not secret", env)
		}
		if url := str(w, "url"); url != "http://"+m.address("acme-m-1-server")+":9000" {
			t.Errorf("webhooks %s: url %q, want the portainer node's address", env, url)
		}
	}
	for _, name := range []string{"traefik", "portainer", "registry"} {
		s := m.get(t, StackType, "acme-stack-"+name)
		if str(s, "shipped") != name || str(s, "compose") != "" {
			t.Errorf("%s: shipped %q compose %q", name, str(s, "shipped"), str(s, "compose"))
		}
		pl := s.Inputs["platform"].ObjectValue()
		if text(pl["portainerNode"]) != "m-1" || text(pl["registryNode"]) != "m-1" {
			t.Errorf("%s platform nodes = %v, want the first manager", name, pl)
		}
		// Its generated credentials go to Vault under the cluster's name.
		if !s.Inputs["vault"].IsObject() {
			t.Errorf("%s has no vault inputs: its credentials would not reach Vault", name)
			continue
		}
		v := s.Inputs["vault"].ObjectValue()
		if text(v["address"]) != "https://vault.acme.example" || text(v["project"]) != "acme" || !v["token"].IsSecret() {
			t.Errorf("%s vault = address %v project %v token secret %v, want the cluster's Vault, project acme, a secret token",
				name, v["address"], v["project"], v["token"].IsSecret())
		}
	}
	for _, env := range []string{"dev", "prod"} {
		if v := m.get(t, StackType, "acme-stack-shop-"+env).Inputs["vault"]; !v.IsNull() {
			t.Errorf("the app stack shop-%s has vault inputs %v: it generates no credentials", env, v)
		}
	}
}

func TestParsePlatformDefaultsToNothingAndRefusesWhatCannotWork(t *testing.T) {
	s, _, err := Parse(testConfig("prod", nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Platform{Environments: []string{"dev", "prod"}, Network: Network{EncryptedOverlays: true}}); !reflect.DeepEqual(s.Platform, want) {
		t.Errorf("default platform = %+v, want %+v", s.Platform, want)
	}
	for _, tc := range []struct {
		name     string
		override map[string]string
		secret   bool
		key      string
	}{
		{"apps with portainer need Vault", map[string]string{
			KeyStacks: `{"domain":"a.example","portainer":{"enabled":true}}`, KeyApps: `[{"name":"shop","compose":"a.yml"}]`}, false, "shoal:vault.address"},
		{"the vault token must be secret", map[string]string{
			KeyStacks: `{"domain":"a.example","portainer":{"enabled":true}}`, KeyApps: `[{"name":"shop","compose":"a.yml"}]`,
			KeyVault: `{"address":"https://v"}`, KeyVaultToken: "plain"}, false, "shoal:vaultToken"},
		{"shoal's stacks with Vault need the token", map[string]string{
			KeyStacks: `{"domain":"a.example","registry":{"enabled":true}}`, KeyVault: `{"address":"https://v"}`}, false, "shoal:vaultToken"},
		{"traefik needs an ACME e-mail", map[string]string{KeyStacks: `{"domain":"a.example","traefik":{"enabled":true}}`}, false, "shoal:stacks.acmeEmail"},
		{"a stack needs a host", map[string]string{KeyStacks: `{"registry":{"enabled":true}}`}, false, "shoal:stacks.registry.host"},
		{"two apps of one project collide", map[string]string{
			KeyApps: `[{"name":"a","compose":"a.yml","project":"p"},{"name":"b","compose":"b.yml","project":"p"}]`}, false, "shoal:apps[1].project"},
		{"unknown fields are refused", map[string]string{KeyStacks: `{"traefick":{}}`}, false, "shoal:stacks"},
		{"an app needs its compose file", map[string]string{KeyApps: `[{"name":"shop"}]`}, false, "shoal:apps[0].compose"},
		{"environments are names", map[string]string{KeyEnvironments: `["Dev"]`}, false, "shoal:environments[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(testConfig("prod", tc.override))
			var keys []string
			for _, ce := range ConfigErrors(err) {
				keys = append(keys, ce.Key)
			}
			if !slices.Contains(keys, tc.key) {
				t.Errorf("errors name %q, want %s (err: %v)", keys, tc.key, err)
			}
		})
	}
}

func TestRelativeComposePathsAreReadFromTheProjectRoot(t *testing.T) {
	cfg := platformConfig(t)
	abs := cfg["shoal:apps"].([]any)[0].(map[string]any)["compose"].(string)
	cfg["shoal:apps"].([]any)[0].(map[string]any)["compose"] = filepath.Base(abs)
	secrets := append(slices.Clone(secretKeys), "shoal:vaultToken")
	t.Chdir(t.TempDir()) // the current directory has no app.yml
	if _, _, err := run(t, "prod", cfg, secrets, Options{Root: filepath.Dir(abs)}, false); err != nil {
		t.Fatalf("with Root set to the project dir: %v", err)
	}
	if _, _, err := run(t, "prod", cfg, secrets, Options{}, false); err == nil {
		t.Fatal("without Root the relative path was found somewhere else")
	}
}
