package inventory

import (
	"strings"
	"testing"
)

func TestReplaceNodeKeepsTheRestOfTheFile(t *testing.T) {
	succ := Node{Name: "w2-r1", Address: "192.0.2.40", Role: "worker", Hoster: "b", Labels: map[string]string{"disk": "ssd"}}
	tests := []struct {
		name, in, want string
	}{
		{
			name: "a flow entry becomes a flow entry on its line",
			in: `# prod cluster
cluster: {name: prod}

nodes:
  # managers
  - {name: m1, address: 192.0.2.1, role: manager, hoster: a}
  - {name: w2, address: "192.0.2.4", role: worker, hoster: b, labels: {disk: ssd}}

  - {name: w3, address: 192.0.2.5, role: worker, hoster: c} # the big one
`,
			want: `# prod cluster
cluster: {name: prod}

nodes:
  # managers
  - {name: m1, address: 192.0.2.1, role: manager, hoster: a}
  - {name: w2-r1, address: 192.0.2.40, role: worker, hoster: b, labels: {disk: ssd}}

  - {name: w3, address: 192.0.2.5, role: worker, hoster: c} # the big one
`,
		},
		{
			name: "a block entry becomes block lines at its indentation, the last one too",
			in: `nodes:
    - name: m1
      address: 192.0.2.1
      role: manager
      hoster: a
    # the worker
    - name: w2
      address: 192.0.2.4
      role: worker
      hoster: b
      labels:
        disk: ssd
# end
`,
			want: `nodes:
    - name: m1
      address: 192.0.2.1
      role: manager
      hoster: a
    # the worker
    - name: w2-r1
      address: 192.0.2.40
      role: worker
      hoster: b
      labels:
        disk: ssd
# end
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReplaceNode("/x/inv.yaml", []byte(tt.in), "w2", succ)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestReplaceNodeRefusesWhatItCannotKeep(t *testing.T) {
	succ := Node{Name: "w2-r1", Address: "192.0.2.40", Role: "worker", Hoster: "b"}
	tests := []struct{ name, in, want string }{
		{"a comment inside the entry", "nodes:\n  - name: w2\n    address: 192.0.2.4 # old box\n    role: worker\n    hoster: b\n", "holds a comment"},
		{"a flow node list", "nodes: [{name: w2, address: 192.0.2.4, role: worker, hoster: b}]\n", "flow style"},
		{"no such node", "nodes:\n  - {name: w3, address: 192.0.2.4, role: worker, hoster: b}\n", "no node named w2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReplaceNode("/x/inv.yaml", []byte(tt.in), "w2", succ)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("err = %v, want a refusal naming %q", err, tt.want)
			}
		})
	}
}
