package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// projectFile is the part of Pulumi.yaml the program depends on.
type projectFile struct {
	Name    string `yaml:"name"`
	Runtime string `yaml:"runtime"`
	Main    string `yaml:"main"`
	Config  map[string]struct {
		Type        string `yaml:"type"`
		Description string `yaml:"description"`
		Secret      bool   `yaml:"secret"`
		Default     any    `yaml:"default"`
		Items       *struct {
			Type string `yaml:"type"`
		} `yaml:"items"`
	} `yaml:"config"`
}

func TestPulumiYamlDeclaresEveryKeyWithTheProgramsDefaults(t *testing.T) {
	b, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p projectFile
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != Namespace || p.Runtime != "go" || p.Main != "./cmd/shoal-program" {
		t.Errorf("project name %q runtime %q main %q, want shoal, go, ./cmd/shoal-program", p.Name, p.Runtime, p.Main)
	}
	if _, err := os.Stat(filepath.Join("..", p.Main, "main.go")); err != nil {
		t.Errorf("main: %v", err)
	}
	var declared []string
	for k, c := range p.Config {
		declared = append(declared, k)
		if c.Type == "" || strings.TrimSpace(c.Description) == "" {
			t.Errorf("config %s lacks a type or a description", k)
		}
		if c.Type == "array" && c.Items == nil {
			t.Errorf("config %s is an array without items", k)
		}
	}
	slices.Sort(declared)
	keys := slices.Sorted(slices.Values(Keys))
	if !reflect.DeepEqual(declared, keys) {
		t.Errorf("Pulumi.yaml declares %q, the program reads %q", declared, keys)
	}
	for _, k := range []string{KeySSHPrivateKey, KeyVaultToken} {
		// Pulumi refuses a default for a key declared secret; the program
		// refuses these keys unless they are secrets.
		if c := p.Config[k]; c.Secret || c.Default != "" {
			t.Errorf("%s must have the empty default (not set), and so cannot be declared secret: %+v", k, c)
		}
	}
	if c := p.Config[KeyPools]; c.Default != nil {
		t.Errorf("pools must have no default (required)")
	}
	for k, c := range p.Config {
		if c.Default == nil && k != KeyPools {
			t.Errorf("%s has no default: Pulumi requires every such key, but the program does not", k)
		}
	}

	// Defaults written in Pulumi.yaml must be what Parse assumes when a key
	// is missing: a stack file with only the required keys, read with
	// Pulumi.yaml as Pulumi merges them, parses to the same spec.
	stackFile := "config:\n  shoal:sshPublicKey: " + testPublicKey + "\n  shoal:sshPrivateKey: {secure: v1:abc}\n  shoal:pools: " + threeCloud + "\n"
	withDefaults, err := ConfigFromFiles("prod", b, []byte(stackFile))
	if err != nil {
		t.Fatalf("ConfigFromFiles: %v", err)
	}
	if len(withDefaults.Values) != len(Keys)-1 {
		t.Errorf("with Pulumi.yaml's defaults the program sees %d keys, want all %d but vaultToken: %v", len(withDefaults.Values), len(Keys)-1, withDefaults.Values)
	}
	got, _, err := Parse(withDefaults)
	if err != nil {
		t.Fatalf("Parse with Pulumi.yaml's defaults: %v", err)
	}
	want, _, err := Parse(testConfig("prod", nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pulumi.yaml's defaults give\n%+v\nthe program's\n%+v", got, want)
	}
}

func TestStackFilesAreValid(t *testing.T) {
	files, err := filepath.Glob("../examples/*/Pulumi.*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../Pulumi.local.yaml")
	if len(files) < 3 {
		t.Fatalf("stack files = %q, want the local stack and two examples", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			cfg := stackFile(t, f)
			c := Config{Stack: "prod", Values: map[string]string{KeySSHPrivateKey: ""}, Secret: map[string]bool{KeySSHPrivateKey: true}}
			if _, ok := cfg["shoal:sshPublicKey"]; !ok {
				c.Values[KeySSHPublicKey] = testPublicKey // the local stack gets its key from shoal up
			}
			for k, v := range cfg {
				name, ok := strings.CutPrefix(k, Namespace+":")
				if !ok {
					continue
				}
				if s, ok := v.(string); ok {
					c.Values[name] = s
					continue
				}
				j, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				c.Values[name] = string(j)
			}
			if _, warnings, err := Parse(c); err != nil || len(warnings) > 0 {
				t.Errorf("%s: warnings %q, err %v", f, warnings, err)
			}
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "secure:") && !strings.Contains(string(b), "pulumi config set --secret") {
				t.Errorf("%s has secure placeholders but does not say how to set them", f)
			}
		})
	}
}

// TestPulumiYamlDescribesEveryHoster holds Pulumi.yaml's descriptions to
// the drivers' descriptors: a registered hoster is listed with its
// aliases and default image, and accounts name exactly the cloud ones.
func TestPulumiYamlDescribesEveryHoster(t *testing.T) {
	var p projectFile
	if err := yaml.Unmarshal(mustRead(t, "../Pulumi.yaml"), &p); err != nil {
		t.Fatal(err)
	}
	pools, accounts := p.Config[KeyPools].Description, p.Config[KeyAccounts].Description
	if want := "(" + strings.Join(providerNames(false), "|"); !strings.Contains(pools, want) {
		t.Errorf("shoal:pools' description does not list the providers as %s...)", want)
	}
	if want := "(" + strings.Join(providerNames(true), "|") + ")"; !strings.Contains(accounts, want) {
		t.Errorf("shoal:accounts' description does not list the cloud providers as %s", want)
	}
	for _, d := range Descriptors() {
		for _, a := range d.Aliases {
			if !strings.Contains(pools, a+" meaning "+d.Provider) {
				t.Errorf("shoal:pools' description does not say that %s means %s", a, d.Provider)
			}
		}
		if d.Cloud && !strings.Contains(pools, d.DefaultImage) {
			t.Errorf("shoal:pools' description lacks %s's default image %s", d.Provider, d.DefaultImage)
		}
		if d.Cloud && (d.ExampleType == "" || d.ExampleLocation == "" || len(d.ConfigKeys) == 0 || d.NewProvider == nil) {
			t.Errorf("cloud descriptor %s lacks an example type, location, config keys or accounts", d.Provider)
		}
	}
}
