package inventory

import (
	"maps"
	"slices"
	"testing"
)

func testInventory() *Inventory {
	return &Inventory{
		SSH: SSH{User: "deploy", Port: 2222},
		Nodes: []Node{
			{Name: "m1", Role: RoleManager, Hoster: "hcloud", Region: "fsn1"},
			{Name: "w1", Role: RoleWorker, Hoster: "hcloud", User: "admin", Port: 22},
			{Name: "m2", Role: RoleManager, Hoster: "vultr"},
			{Name: "w2", Role: RoleWorker, Hoster: "vultr", Labels: map[string]string{"tier": "edge"}},
		},
	}
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestManagersAndWorkersKeepInventoryOrder(t *testing.T) {
	inv := testInventory()
	if got, want := names(inv.Managers()), []string{"m1", "m2"}; !slices.Equal(got, want) {
		t.Errorf("Managers = %q, want %q", got, want)
	}
	if got, want := names(inv.Workers()), []string{"w1", "w2"}; !slices.Equal(got, want) {
		t.Errorf("Workers = %q, want %q", got, want)
	}
}

func TestNodeLooksUpByName(t *testing.T) {
	inv := testInventory()
	tests := []struct {
		name   string
		lookup string
		wantOK bool
	}{
		{"a listed node is found", "w2", true},
		{"an unknown node is not found", "w9", false},
		{"an empty name is not found", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := inv.Node(tt.lookup)
			if ok != tt.wantOK || (ok && n.Name != tt.lookup) {
				t.Errorf("Node(%q) = %q, %v; want ok=%v", tt.lookup, n.Name, ok, tt.wantOK)
			}
		})
	}
}

func TestUserAndPortFor(t *testing.T) {
	tests := []struct {
		name     string
		ssh      SSH
		node     Node
		wantUser string
		wantPort int
	}{
		{"the node's own settings win", SSH{User: "deploy", Port: 2222}, Node{User: "admin", Port: 22}, "admin", 22},
		{"ssh settings apply when the node has none", SSH{User: "deploy", Port: 2222}, Node{}, "deploy", 2222},
		{"defaults apply when neither has any", SSH{}, Node{}, "root", 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Inventory{SSH: tt.ssh}
			if got := inv.UserFor(tt.node); got != tt.wantUser {
				t.Errorf("UserFor = %q, want %q", got, tt.wantUser)
			}
			if got := inv.PortFor(tt.node); got != tt.wantPort {
				t.Errorf("PortFor = %d, want %d", got, tt.wantPort)
			}
		})
	}
}

func TestSwarmLabels(t *testing.T) {
	tests := []struct {
		name string
		node Node
		want map[string]string
	}{
		{"a node without labels gets its hoster", Node{Hoster: "hcloud"},
			map[string]string{"shoal.hoster": "hcloud"}},
		{"a node with a region gets hoster and region", Node{Hoster: "hcloud", Region: "fsn1"},
			map[string]string{"shoal.hoster": "hcloud", "shoal.region": "fsn1"}},
		{"inventory labels are kept beside shoal's", Node{Hoster: "vultr", Labels: map[string]string{"tier": "edge"}},
			map[string]string{"shoal.hoster": "vultr", "tier": "edge"}},
		{"shoal's labels win over reserved inventory labels", Node{Hoster: "vultr", Labels: map[string]string{"shoal.hoster": "aws"}},
			map[string]string{"shoal.hoster": "vultr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.node.Labels)
			if got := tt.node.SwarmLabels(); !maps.Equal(got, tt.want) {
				t.Errorf("SwarmLabels = %v, want %v", got, tt.want)
			}
			if !maps.Equal(tt.node.Labels, before) {
				t.Errorf("SwarmLabels changed the node's labels to %v", tt.node.Labels)
			}
		})
	}
}

func TestSetDefaultsKeepsWhatIsSet(t *testing.T) {
	inv := &Inventory{Cluster: Cluster{Name: "prod", DataPathPort: 4800}, SSH: SSH{User: "deploy", Port: 2222}}
	inv.SetDefaults()
	if inv.Cluster.Name != "prod" || inv.Cluster.DataPathPort != 4800 || inv.SSH.User != "deploy" || inv.SSH.Port != 2222 {
		t.Errorf("SetDefaults overwrote set fields: %+v %+v", inv.Cluster, inv.SSH)
	}
}
