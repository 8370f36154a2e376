package provider

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"

	"github.com/shoalops/shoal/infra/wire"
)

// newServer runs the provider in-process, as the engine would talk to it.
func newServer(t *testing.T) integration.Server {
	t.Helper()
	prov, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), Name, semver.MustParse(Version), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaHasTheWireTokensAndSecrets(t *testing.T) {
	s := newServer(t)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Name      string
		Version   string
		Resources map[string]struct {
			InputProperties map[string]struct {
				Secret bool
			}
			Properties map[string]struct {
				Secret bool
			}
			RequiredInputs []string
		}
	}
	if err := json.Unmarshal([]byte(resp.Schema), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Name != "shoal" {
		t.Errorf("package name %q", spec.Name)
	}
	srv, ok := spec.Resources["shoal:local:Server"]
	if !ok {
		t.Fatalf("no shoal:local:Server in %v", keys(spec.Resources))
	}
	for _, in := range []string{"lab", "node", "hoster", "region", "role", "variant", "image", "sshPublicKey"} {
		if _, ok := srv.InputProperties[in]; !ok {
			t.Errorf("Server lacks input %s", in)
		}
	}
	for _, out := range []string{"address", "container", "hostKey", "lab", "node"} {
		if _, ok := srv.Properties[out]; !ok {
			t.Errorf("Server lacks output %s", out)
		}
	}
	slices.Sort(srv.RequiredInputs)
	if got := strings.Join(srv.RequiredInputs, ","); got != "hoster,lab,node,sshPublicKey" {
		t.Errorf("Server required inputs %s", got)
	}
	cl, ok := spec.Resources["shoal:swarm:Cluster"]
	if !ok {
		t.Fatalf("no shoal:swarm:Cluster in %v", keys(spec.Resources))
	}
	if !cl.InputProperties["sshPrivateKey"].Secret {
		t.Error("sshPrivateKey is not secret")
	}
	for _, out := range []string{"joinTokens", "unlockKey", "sshPrivateKey"} {
		if !cl.Properties[out].Secret {
			t.Errorf("output %s is not secret", out)
		}
	}
	for _, out := range []string{"swarmId", "managerAddresses", "nodeIds", "hostKeys", "nodes", "options", "name"} {
		if _, ok := cl.Properties[out]; !ok {
			t.Errorf("Cluster lacks output %s", out)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSchemaServesExactlyTheWireTypes(t *testing.T) {
	s := newServer(t)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Name      string
		Version   string
		Resources map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(resp.Schema), &spec); err != nil {
		t.Fatal(err)
	}
	got := keys(spec.Resources)
	slices.Sort(got)
	want := wire.Types()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the provider serves %q, the program registers %q", got, want)
	}
	if spec.Name != wire.Package {
		t.Errorf("package %q, want %q", spec.Name, wire.Package)
	}
}
