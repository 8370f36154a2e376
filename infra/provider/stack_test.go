package provider

import (
	"encoding/json"
	"reflect"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
)

func TestSchemaMarksTheSecretsOfStacksAndWebhooks(t *testing.T) {
	s := newServer(t)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Resources map[string]struct {
			InputProperties map[string]struct{ Secret bool }
			Properties      map[string]struct{ Secret bool }
		}
	}
	if err := json.Unmarshal([]byte(resp.Schema), &spec); err != nil {
		t.Fatal(err)
	}
	for token, secrets := range map[string][]string{
		"shoal:swarm:Stack":        {"sshPrivateKey", "registryAuth", "credentials"},
		"shoal:portainer:Webhooks": {"adminPassword", "webhooks"},
	} {
		r, ok := spec.Resources[token]
		if !ok {
			t.Fatalf("no %s in %v", token, keys(spec.Resources))
		}
		for _, name := range secrets {
			_, isInput := r.InputProperties[name]
			if isInput && !r.InputProperties[name].Secret {
				t.Errorf("%s input %s is not secret", token, name)
			}
			if !r.Properties[name].Secret {
				t.Errorf("%s output %s is not secret", token, name)
			}
		}
	}
	for _, out := range []string{"services", "serviceIds", "changed"} {
		if _, ok := spec.Resources["shoal:swarm:Stack"].Properties[out]; !ok {
			t.Errorf("Stack lacks output %s", out)
		}
	}
}

func TestRenderStackReusesTheCredentialsOfTheState(t *testing.T) {
	in := StackArgs{Name: "registry", Shipped: "registry", Platform: &StackPlatform{Domain: "acme.example", RegistryNode: "m1"},
		Env: map[string]string{"EXTRA": "1"}, Overrides: []string{"version: \"3.8\"\n"}}
	first, creds, err := renderStack(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := creds["push and pull"]
	if c.Username != "shoal" || len(c.Password) < 24 {
		t.Fatalf("generated credential: user %q, password of %d characters", c.Username, len(c.Password))
	}
	again, creds2, err := renderStack(in, creds)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(creds, creds2) || !reflect.DeepEqual(first.Env, again.Env) {
		t.Errorf("a second render with the state's credentials differs: env %v vs %v", first.Env, again.Env)
	}
	if first.Env["EXTRA"] != "1" || first.Env["REGISTRY_HOST"] != "registry.acme.example" || len(first.Overrides) != 1 || first.Name != "registry" {
		t.Errorf("rendered stack: env %v, %d overrides, name %q", first.Env, len(first.Overrides), first.Name)
	}
	other, creds3, err := renderStack(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if creds3["push and pull"].Password == c.Password || other.Env["REGISTRY_USERS_VERSION"] == first.Env["REGISTRY_USERS_VERSION"] {
		t.Error("a render without state reused a password")
	}
}

func TestCheckStackNamesTheBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   StackArgs
		want string
	}{
		{"an unknown shipped stack", StackArgs{Name: "x", Shipped: "nginx"}, "shipped"},
		{"a user's stack without compose", StackArgs{Name: "x", Nodes: []ClusterNode{{Name: "m1"}}}, "compose"},
		{"a bad resolve mode", StackArgs{Name: "x", Shipped: "traefik", ResolveImage: "sometimes"}, "resolveImage"},
		{"a bad name", StackArgs{Name: "Bad Name", Shipped: "traefik"}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := checkStack(tc.in)
			if len(f) != 1 || f[0].Property != tc.want {
				t.Errorf("failures %+v, want one on %s", f, tc.want)
			}
		})
	}
	if f := checkStack(StackArgs{Name: "shop-dev", Compose: "services: {}", Nodes: []ClusterNode{{Name: "m1"}}}); len(f) != 0 {
		t.Errorf("a valid stack: %+v", f)
	}
}
