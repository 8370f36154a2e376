package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVaultPolicyCLI(t *testing.T) {
	const wantDefault = `# Read-only access for CI to the Portainer webhook tokens shoal keeps in Vault.
# project "acme", environments dev, prod; KV v2 mount "secret", path template "{project}/{env}/{service}".
# Load it with: vault policy write shoal-ci <this file>

path "secret/data/acme/dev/*" {
  capabilities = ["read"]
}

path "secret/metadata/acme/dev/*" {
  capabilities = ["list"]
}

path "secret/data/acme/prod/*" {
  capabilities = ["read"]
}

path "secret/metadata/acme/prod/*" {
  capabilities = ["list"]
}

# shoal deploy records each release in the environment's .releases folder.

path "secret/data/acme/dev/.releases/*" {
  capabilities = ["create", "update", "read"]
}

path "secret/data/acme/prod/.releases/*" {
  capabilities = ["create", "update", "read"]
}
`
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string   // exact stdout, when set
		outHas   []string // in stdout
		errHas   []string // in stderr
	}{
		{name: "two environments print the exact policy on stdout and nothing on stderr",
			args: []string{"vault", "policy", "--project", "acme", "--env", "dev", "--env", "prod"}, wantCode: exitOK, wantOut: wantDefault},
		{name: "mount and template flags shape the paths",
			args:     []string{"vault", "policy", "--mount", "kv", "--path-template", "ci/{project}/{env}/{service}", "--project", "acme", "--env", "prod"},
			wantCode: exitOK, outHas: []string{`path "kv/data/ci/acme/prod/*"`, `path "kv/metadata/ci/acme/prod/*"`}},
		{name: "with --cluster the registry login and the Portainer CI entry are readable",
			args:     []string{"vault", "policy", "--project", "acme", "--env", "dev", "--cluster", "prod"},
			wantCode: exitOK, outHas: []string{`path "secret/data/prod/platform/registry/shoal"`, `path "secret/data/prod/platform/portainer/ci"`}},
		{name: "a missing project is bad usage",
			args: []string{"vault", "policy", "--env", "dev"}, wantCode: exitUsage, errHas: []string{"--project is required"}},
		{name: "a missing env is bad usage",
			args: []string{"vault", "policy", "--project", "acme"}, wantCode: exitUsage, errHas: []string{"at least one --env"}},
		{name: "an unknown placeholder is bad usage naming it",
			args:     []string{"vault", "policy", "--project", "acme", "--env", "dev", "--path-template", "{project}/{stage}/{service}"},
			wantCode: exitUsage, errHas: []string{"unknown placeholder {stage}"}},
		{name: "a dot-dot project is bad usage",
			args: []string{"vault", "policy", "--project", "..", "--env", "dev"}, wantCode: exitUsage, errHas: []string{`vault project ".."`}},
		{name: "help explains how to load the policy",
			args: []string{"vault", "policy", "--help"}, wantCode: exitOK,
			outHas: []string{"vault policy write shoal-ci -", "--path-template", "--env", "read", "list"}},
		{name: "the root help lists the vault verb",
			args: []string{"vault", "--help"}, wantCode: exitOK, outHas: []string{"policy", "service_hash", "webhook_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			if tt.wantOut != "" {
				if out != tt.wantOut {
					t.Fatalf("stdout =\n%s\nwant\n%s", out, tt.wantOut)
				}
				if errs != "" {
					t.Fatalf("stderr not empty: %s", errs)
				}
			}
			for _, s := range tt.outHas {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.errHas {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
		})
	}
}

func TestVaultPolicyCLIJSON(t *testing.T) {
	code, out, errs := runCLI(t, "vault", "policy", "-o", "json", "--project", "acme", "--env", "dev")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Mount        string   `json:"mount"`
		PathTemplate string   `json:"path_template"`
		Project      string   `json:"project"`
		Envs         []string `json:"envs"`
		Policy       string   `json:"policy"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document on stdout:\n%s", out)
	}
	if doc.Project != "acme" || doc.Mount != "secret" || doc.PathTemplate != "{project}/{env}/{service}" || len(doc.Envs) != 1 || !strings.Contains(doc.Policy, `path "secret/data/acme/dev/*"`) {
		t.Fatalf("unexpected document: %+v", doc)
	}
}
