package infra

import (
	"context"
	"encoding/base64"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// initMixes are the hoster mixes `shoal init` is asked for.
var initMixes = []struct {
	name      string
	hosters   []string
	addresses []string
	wantHost  []string // hoster components, sorted
	managers  int
}{
	{"three clouds", []string{"hetzner", "vultr", "scaleway"}, nil, []string{"acme-hetzner", "acme-scaleway", "acme-vultr"}, 3},
	{"existing hosts", []string{"existing"}, []string{"ovh=198.51.100.7", "netcup=192.0.2.44", "home=2001:db8::1"}, []string{"acme-home", "acme-netcup", "acme-ovh"}, 3},
	{"hetzner and existing hosts", []string{"hetzner", "existing"}, []string{"ovh=198.51.100.7", "ovh=198.51.100.8", "netcup=192.0.2.44"}, []string{"acme-hetzner", "acme-netcup", "acme-ovh"}, 3},
	{"two clouds", []string{"vultr", "scaleway"}, nil, []string{"acme-scaleway", "acme-vultr"}, 1},
	{"one cloud", []string{"hetzner"}, nil, []string{"acme-hetzner"}, 1},
	{"one existing host", []string{"existing"}, []string{"203.0.113.9"}, []string{"acme-site-1"}, 1},
}

func TestShoalInitOutputPreviewsCleanlyWithMocks(t *testing.T) {
	project := mustRead(t, "../Pulumi.yaml")
	for _, mix := range initMixes {
		t.Run(mix.name, func(t *testing.T) {
			t.Parallel() // each derives Pulumi's passphrase key twice (PBKDF2, about a second)
			p, err := NewInitProject(InitOptions{Project: project, Stack: "prod", Cluster: "acme", Hosters: mix.hosters, Addresses: mix.addresses, Passphrase: "correct horse"})
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			var names []string
			for n := range p.Files {
				names = append(names, n)
			}
			sort.Strings(names)
			if want := []string{".gitignore", "Pulumi.prod.yaml", "Pulumi.yaml"}; !reflect.DeepEqual(names, want) {
				t.Fatalf("files = %q, want %q", names, want)
			}
			stackFile := p.Files["Pulumi.prod.yaml"]

			// The private key is a Pulumi secret: it decrypts with the
			// passphrase and the stack's salt to the key of sshPublicKey.
			private := decryptInitKey(t, stackFile, "correct horse")
			signer, err := ssh.ParsePrivateKey([]byte(private))
			if err != nil {
				t.Fatalf("the secret private key: %v", err)
			}
			if strings.Contains(string(stackFile), "PRIVATE KEY") {
				t.Errorf("the stack file holds the private key in plain text")
			}

			// Pulumi reads the project: `pulumi up` runs the prebuilt program.
			var proj struct {
				Name    string `yaml:"name"`
				Runtime struct {
					Name    string            `yaml:"name"`
					Options map[string]string `yaml:"options"`
				} `yaml:"runtime"`
				Main string `yaml:"main"`
			}
			if err := yaml.Unmarshal(p.Files["Pulumi.yaml"], &proj); err != nil {
				t.Fatal(err)
			}
			if proj.Name != Namespace || proj.Runtime.Name != "go" || proj.Runtime.Options["binary"] != "./bin/shoal-program" || proj.Main != "" {
				t.Errorf("Pulumi.yaml: %+v", proj)
			}

			// shoal up's checks pass on the files as written.
			c, err := ConfigFromFiles("prod", p.Files["Pulumi.yaml"], stackFile)
			if err != nil {
				t.Fatalf("ConfigFromFiles: %v", err)
			}
			if _, warnings, err := Preflight("prod", p.Files["Pulumi.yaml"], stackFile); err != nil {
				t.Fatalf("Preflight: %v (warnings %q)", err, warnings)
			}
			pub := strings.Fields(c.Values[KeySSHPublicKey])
			if want := strings.Fields(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); len(pub) < 2 || pub[1] != want[1] {
				t.Errorf("sshPublicKey %q is not the private key's %q", pub, want)
			}

			// The program previews them with mocks.
			cfg := map[string]any{}
			for k, v := range c.Values {
				cfg[Namespace+":"+k] = v
			}
			cfg[key(KeySSHPrivateKey)] = private
			m, _, err := run(t, "prod", cfg, secretKeys, Options{}, true)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			if got := m.names(HosterType); !reflect.DeepEqual(got, mix.wantHost) {
				t.Errorf("hosters = %q, want %q", got, mix.wantHost)
			}
			clusters := m.all(ClusterType)
			if len(clusters) != 1 {
				t.Fatalf("swarm resources = %q", m.names(ClusterType))
			}
			managers := 0
			for _, n := range clusters[0].Inputs["nodes"].ArrayValue() {
				if plain(n.ObjectValue()["role"]).StringValue() == "manager" {
					managers++
				}
			}
			if managers != mix.managers {
				t.Errorf("%d managers, want %d", managers, mix.managers)
			}
		})
	}
}

// decryptInitKey decrypts shoal:sshPrivateKey of a stack file as Pulumi's
// passphrase provider does.
func decryptInitKey(t *testing.T, stackFile []byte, passphrase string) string {
	t.Helper()
	return decryptInitSecret(t, stackFile, passphrase, key(KeySSHPrivateKey))
}

// decryptInitSecret decrypts the secret of configKey in a stack file `shoal
// init` wrote, with the passphrase and the file's encryptionsalt.
func decryptInitSecret(t *testing.T, stackFile []byte, passphrase, configKey string) string {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal(stackFile, &raw); err != nil {
		t.Fatal(err)
	}
	salt, _ := raw["encryptionsalt"].(string)
	sec, _ := raw["config"].(map[string]any)[configKey].(map[string]any)
	secure, ok := sec["secure"].(string)
	if !ok {
		t.Fatalf("%s is no secret in the stack file:\n%s", configKey, stackFile)
	}
	parts := strings.SplitN(salt, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		t.Fatalf("encryptionsalt %q", salt)
	}
	b, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	c := config.NewSymmetricCrypterFromPassphrase(passphrase, b)
	if check, err := c.DecryptValue(context.Background(), parts[2]); err != nil || check != "pulumi" {
		t.Fatalf("the salt's check value decrypts to %q, %v", check, err)
	}
	v, err := c.DecryptValue(context.Background(), secure)
	if err != nil {
		t.Fatalf("decrypt %s: %v", configKey, err)
	}
	return v
}

func TestShoalInitRefusesBadHosters(t *testing.T) {
	project := mustRead(t, "../Pulumi.yaml")
	for _, tt := range []struct {
		hosters, addresses []string
		want               string
	}{
		{[]string{"digitalocean"}, nil, `"digitalocean" is no hoster: use hetzner, vultr, scaleway or existing`},
		{[]string{"existing"}, nil, "--address: give existing hosts"},
		{[]string{"hetzner"}, []string{"198.51.100.7"}, "--address: give existing hosts"},
		{[]string{"existing"}, []string{"ovh=host.example"}, "is no IP address"},
		{nil, nil, "--hosters: name at least one"},
		{[]string{"hetzner", "hetzner"}, nil, "named twice"},
	} {
		_, err := NewInitProject(InitOptions{Project: project, Stack: "prod", Cluster: "acme", Hosters: tt.hosters, Addresses: tt.addresses, Passphrase: "p"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("init %v %v: err = %v, want %q", tt.hosters, tt.addresses, err, tt.want)
		}
	}
}

func TestShoalInitWritesTheHostersTokensFromTheEnvironmentAsSecrets(t *testing.T) {
	project := mustRead(t, "../Pulumi.yaml")
	env := map[string]string{
		"HCLOUD_TOKEN": strings.Repeat("h", 64), "VULTR_API_KEY": "vultr-key-1",
		"SCW_ACCESS_KEY": "SCWACCESS", "SCW_SECRET_KEY": "scw-secret-2", "SCW_DEFAULT_PROJECT_ID": "project-3",
	}
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	p, err := NewInitProject(InitOptions{Project: project, Stack: "prod", Cluster: "acme", Hosters: []string{"hetzner", "vultr", "scaleway"}, Passphrase: "correct horse", TokenFromEnv: lookup(env)})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	stackFile := p.Files["Pulumi.prod.yaml"]
	for k, v := range map[string]string{
		"hcloud:token": env["HCLOUD_TOKEN"], "vultr:apiKey": env["VULTR_API_KEY"], "scaleway:accessKey": env["SCW_ACCESS_KEY"],
		"scaleway:secretKey": env["SCW_SECRET_KEY"], "scaleway:projectId": env["SCW_DEFAULT_PROJECT_ID"],
	} {
		if got := decryptInitSecret(t, stackFile, "correct horse", k); got != v {
			t.Errorf("%s decrypts to %q, want %q", k, got, v)
		}
		if strings.Contains(string(stackFile), v) {
			t.Errorf("the stack file holds the value of %s in plain text", k)
		}
	}
	if len(p.TokenKeys) != 0 || len(p.TokensWritten) != 5 || p.TokensWritten[0] != "hcloud:token (HCLOUD_TOKEN)" {
		t.Errorf("left to set %q, written %q", p.TokenKeys, p.TokensWritten)
	}
	if _, _, err := Preflight("prod", p.Files["Pulumi.yaml"], stackFile); err != nil {
		t.Errorf("the stack with tokens fails shoal up's checks: %v", err)
	}

	// Every variable that is not set is named; nothing is returned.
	delete(env, "VULTR_API_KEY")
	env["SCW_SECRET_KEY"] = ""
	_, err = NewInitProject(InitOptions{Project: project, Stack: "prod", Cluster: "acme", Hosters: []string{"hetzner", "vultr", "scaleway"}, Passphrase: "p", TokenFromEnv: lookup(env)})
	for _, want := range []string{"VULTR_API_KEY is not set (the value of vultr:apiKey)", "SCW_SECRET_KEY is not set (the value of scaleway:secretKey)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %q", err, want)
		}
	}
	if len(ConfigErrors(err)) != 2 {
		t.Errorf("want 2 config errors (exit 2), got %v", ConfigErrors(err))
	}

	// Existing hosts need no token: nothing is looked up.
	p, err = NewInitProject(InitOptions{Project: project, Stack: "prod", Cluster: "acme", Hosters: []string{"existing"}, Addresses: []string{"198.51.100.7"}, Passphrase: "p",
		TokenFromEnv: func(k string) (string, bool) { t.Errorf("looked up %s", k); return "", false }})
	if err != nil || len(p.TokensWritten) != 0 {
		t.Errorf("existing only: %v, written %q", err, p.TokensWritten)
	}
}
