package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCIGenerateCLI(t *testing.T) {
	dir := t.TempDir()
	compose := writeFile(t, "stack.yml", `version: "3.8"
services:
  web:
    image: registry.acme.example/shop/web:${APP_TAG:-dev}
    build: {context: ./web, dockerfile: Dockerfile.prod}
  worker:
    image: registry.acme.example/shop/worker:${APP_TAG:-dev}
`)
	cfg := `config:
  shoal:cluster: prod
  shoal:vault: {address: https://vault.acme.example}
  shoal:stacks: {domain: acme.example, registry: {enabled: true}}
  shoal:apps: [{name: shop, compose: ` + compose + `}]
`
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.prod.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := []string{"ci", "generate", "--project", "shop", "--dir", dir, "--stack", "prod", "--out", out}
	code, stdout, errs := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, f := range []string{"shoal-deploy.yml", "deploy-web.yml", "deploy-worker.yml"} {
		if !strings.Contains(stdout, f) {
			t.Errorf("stdout does not name %s:\n%s", f, stdout)
		}
	}
	web, err := os.ReadFile(filepath.Join(out, ".github", "workflows", "deploy-web.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`image: "registry.acme.example/shop/web"`, `context: "web"`, `dockerfile: "web/Dockerfile.prod"`} {
		if !strings.Contains(string(web), want) {
			t.Errorf("deploy-web.yml lacks %s:\n%s", want, web)
		}
	}
	reusable, _ := os.ReadFile(filepath.Join(out, ".github", "workflows", "shoal-deploy.yml"))
	for _, want := range []string{`SHOAL_REGISTRY: "registry.acme.example"`, `VAULT_ADDR: "https://vault.acme.example"`, "secret/data/prod/platform/registry/shoal"} {
		if !strings.Contains(string(reusable), want) {
			t.Errorf("shoal-deploy.yml lacks %s", want)
		}
	}
	// A second run refuses and writes nothing; --force overwrites.
	if err := os.WriteFile(filepath.Join(out, ".github", "workflows", "deploy-web.yml"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, args...)
	if code != exitRefused || !strings.Contains(errs, "not overwriting") {
		t.Fatalf("second run: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(out, ".github", "workflows", "deploy-web.yml")); string(b) != "mine" {
		t.Error("the refused run overwrote a file")
	}
	if code, _, errs = runCLI(t, append(args, "--force")...); code != exitOK {
		t.Fatalf("--force: exit %d: %s", code, errs)
	}
	if code, _, errs = runCLI(t, "ci", "generate", "--project", "nope", "--dir", dir, "--stack", "prod", "--out", out); code != exitUsage || !strings.Contains(errs, `no app with project "nope"`) {
		t.Errorf("unknown project: exit %d: %s", code, errs)
	}
}

func TestDeployBadUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no environment", []string{"deploy", "shop"}, nil, "--env is required"},
		{"a bad project name", []string{"deploy", "Shop!", "--env", "dev"}, nil, "invalid stack name"},
		{"no Vault", []string{"deploy", "shop", "--env", "dev"}, map[string]string{"VAULT_ADDR": ""}, "no Vault"},
		{"a Vault without a login", []string{"deploy", "shop", "--env", "dev", "--vault-addr", "http://127.0.0.1:1"}, map[string]string{"VAULT_TOKEN": "", "VAULT_ROLE_ID": "", "VAULT_SECRET_ID": ""}, "no vault credentials"},
		{"portainer without a cluster", []string{"deploy", "shop", "--env", "dev", "--vault-addr", "http://127.0.0.1:1", "--via", "portainer"}, map[string]string{"VAULT_TOKEN": "x", "SHOAL_CLUSTER": ""}, "needs --cluster"},
		{"a bad registry endpoint", []string{"deploy", "shop", "--env", "dev", "--registry-endpoint", "nope"}, nil, "want HOST=URL"},
		{"releases of two services", []string{"releases", "shop", "--env", "dev", "--service", "a", "--service", "b"}, nil, "at most one --service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, errs := runCLI(t, tc.args...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 with %q", code, errs, tc.want)
			}
		})
	}
}
