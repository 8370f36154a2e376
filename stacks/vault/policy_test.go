package vault

import (
	"strings"
	"testing"
)

func TestPolicyHCL(t *testing.T) {
	tests := []struct {
		name     string
		mount    string
		template string
		project  string
		envs     []string
		want     string
		wantErr  string
	}{
		{name: "two environments get read on data and list on metadata each",
			mount: "", template: "", project: "acme", envs: []string{"dev", "prod"},
			want: `# Read-only access for CI to the Portainer webhook tokens shoal keeps in Vault.
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
`},
		{name: "a custom mount and template shape the paths and a repeated env is dropped",
			mount: "/kv/", template: "ci/{env}.{project}/{service}", project: "acme", envs: []string{"dev", "dev"},
			want: `# Read-only access for CI to the Portainer webhook tokens shoal keeps in Vault.
# project "acme", environments dev, dev; KV v2 mount "kv", path template "ci/{env}.{project}/{service}".
# Load it with: vault policy write shoal-ci <this file>

path "kv/data/ci/dev.acme/*" {
  capabilities = ["read"]
}

path "kv/metadata/ci/dev.acme/*" {
  capabilities = ["list"]
}
`},
		{name: "a template of only the service covers the whole mount",
			mount: "webhooks", template: "{service}", project: "acme", envs: []string{"dev"},
			want: `# Read-only access for CI to the Portainer webhook tokens shoal keeps in Vault.
# project "acme", environments dev; KV v2 mount "webhooks", path template "{service}".
# Load it with: vault policy write shoal-ci <this file>

path "webhooks/data/*" {
  capabilities = ["read"]
}

path "webhooks/metadata/*" {
  capabilities = ["list"]
}
`},
		{name: "no environment is refused", project: "acme", wantErr: "at least one environment"},
		{name: "a glob in the project is refused", project: "ac*", envs: []string{"dev"}, wantErr: `vault project "ac*"`},
		{name: "a quote in the mount is refused", mount: `sec"ret`, project: "acme", envs: []string{"dev"}, wantErr: "vault mount"},
		{name: "an empty environment is refused", project: "acme", envs: []string{"dev", ""}, wantErr: `vault env ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := MustTemplate(tt.template)
			got, err := PolicyHCL(tt.mount, tmpl, tt.project, tt.envs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PolicyHCL = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("PolicyHCL =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
