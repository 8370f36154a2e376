package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// withoutLines drops what only says where an inventory was read from.
func withoutLines(inv *Inventory) *Inventory {
	out := *inv
	out.lines = nil
	out.Nodes = append([]Node(nil), inv.Nodes...)
	for i := range out.Nodes {
		out.Nodes[i].Line = 0
	}
	return &out
}

func TestMarshalRoundTrips(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	full, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	minimal, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	built := &Inventory{
		Path:    "lab/inventory.yaml",
		Cluster: Cluster{Name: "lab", AllowSingleHosterQuorum: true, Autolock: true},
		SSH:     SSH{IdentityFile: "/tmp/lab/id_ed25519", KnownHosts: "lab/known_hosts"},
		Nodes: []Node{
			{Name: "m1", Address: "127.0.0.1", Port: 2201, Role: RoleManager, Hoster: "local", Labels: map[string]string{"lab": "yes"}},
			{Name: "w1", Address: "127.0.0.1", Port: 2202, User: "shoal", Role: RoleWorker, Hoster: "local", Region: "here"},
		},
	}
	built.SetDefaults()

	tests := []struct {
		name string
		inv  *Inventory
	}{
		{"an inventory using every field reads back equal", full},
		{"a minimal inventory reads back equal with its defaults", minimal},
		{"an inventory built in code reads back equal", built},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Marshal(tt.inv)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			back, err := Parse(tt.inv.Path, data)
			if err != nil {
				t.Fatalf("Parse(Marshal):\n%s\n%v", data, err)
			}
			if got, want := withoutLines(back), withoutLines(tt.inv); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip =\n%+v\nwant\n%+v\nyaml:\n%s", got, want, data)
			}
			_, errBefore := tt.inv.Validate()
			_, errAfter := back.Validate()
			if (errBefore == nil) != (errAfter == nil) {
				t.Errorf("Validate before = %v, after = %v", errBefore, errAfter)
			}
		})
	}
}

func TestMarshalWritesFilesThatLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.yaml")
	in := &Inventory{
		Path: path,
		SSH:  SSH{IdentityFile: filepath.Join(dir, "keys", "id")},
		Nodes: []Node{
			{Name: "m1", Address: "10.0.0.1", Role: RoleManager, Hoster: "a"},
			{Name: "m2", Address: "10.0.0.2", Role: RoleManager, Hoster: "b"},
			{Name: "m3", Address: "10.0.0.3", Role: RoleManager, Hoster: "c"},
		},
	}
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "cluster:\n  name: shoal\n") {
		t.Errorf("Marshal does not start with the cluster, indented by two spaces:\n%s", data)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatalf("Load:\n%s\n%v", data, err)
	}
	if warnings, err := back.Validate(); err != nil || len(warnings) != 0 {
		t.Errorf("Validate = %q, %v", warnings, err)
	}
	if back.SSH.IdentityFile != filepath.Join(dir, "keys", "id") {
		t.Errorf("identity file = %q", back.SSH.IdentityFile)
	}
	if back.Cluster.Name != DefaultClusterName || back.SSH.Port != DefaultSSHPort {
		t.Errorf("defaults not written: %+v %+v", back.Cluster, back.SSH)
	}
	if in.Cluster.Name != "" {
		t.Error("Marshal changed its argument")
	}
	if _, err := Marshal(nil); err == nil {
		t.Error("Marshal(nil) returned no error")
	}
}
