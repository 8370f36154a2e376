package automation

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/crypto/ssh"
)

func hostKey(t *testing.T) (line, fingerprint string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), ssh.FingerprintSHA256(k)
}

// After a run that left the swarm resource out (dr restore), its hostKeys
// output still names the lost servers' keys: the servers' own keys in
// `nodes` win, and a node without one keeps the swarm's.
func TestWriteInventoryFilePrefersTheServersOwnHostKey(t *testing.T) {
	stale, _ := hostKey(t)
	fresh, _ := hostKey(t)
	other, _ := hostKey(t)
	outputs := auto.OutputMap{
		"cluster": {Value: "prod"},
		"nodes": {Value: []any{
			map[string]any{"name": "m1", "hoster": "a", "role": "manager", "address": "10.0.0.1", "hostKey": fresh},
			map[string]any{"name": "m2", "hoster": "b", "role": "manager", "address": "10.0.0.2"},
		}},
		"hostKeys": {Value: map[string]any{"m1": stale, "m2": other}},
	}
	dir := t.TempDir()
	if err := WriteInventoryFile(filepath.Join(dir, "inventory.yaml"), "/k", "prod", outputs); err != nil {
		t.Fatal(err)
	}
	kh, err := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	body := func(k string) string { return strings.Fields(k)[1] }
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "10.0.0.1 ") || !strings.HasSuffix(lines[0], body(fresh)) ||
		!strings.HasPrefix(lines[1], "10.0.0.2 ") || !strings.HasSuffix(lines[1], body(other)) {
		t.Errorf("known_hosts:\n%s\nwant m1's own key %s and m2's pinned %s", kh, body(fresh), body(other))
	}
	if strings.Contains(string(kh), body(stale)) {
		t.Errorf("known_hosts pins the stale key of m1:\n%s", kh)
	}
}

func TestResourcesOfType(t *testing.T) {
	dep := []byte(`{"resources":[
	  {"urn":"urn:pulumi:s::p::pulumi:pulumi:Stack::p-s","type":"pulumi:pulumi:Stack"},
	  {"urn":"urn:pulumi:s::p::shoal:swarm:Cluster::c","type":"shoal:swarm:Cluster"},
	  {"urn":"urn:pulumi:s::p::shoal:local:Server::c-m1-server","type":"shoal:local:Server"}]}`)
	got, err := resourcesOfType(dep, ClusterType)
	if err != nil || len(got) != 1 || got[0] != "urn:pulumi:s::p::shoal:swarm:Cluster::c" {
		t.Errorf("resourcesOfType = %v, %v", got, err)
	}
	if got, err := resourcesOfType(nil, ClusterType); err != nil || got != nil {
		t.Errorf("a stack never deployed: %v, %v", got, err)
	}
	if _, err := resourcesOfType([]byte(`{"resources":`), ClusterType); err == nil {
		t.Error("a broken deployment read without an error")
	}
}
