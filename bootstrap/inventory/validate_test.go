package inventory

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Flow-style nodes for the test inventories. inv puts the cluster mapping
// on line 1, ssh on line 2, "nodes:" on line 3 and node k on line 4+k.
const (
	m1 = "{name: m1, address: 10.0.0.1, role: manager, hoster: hcloud}"
	m2 = "{name: m2, address: 10.0.0.2, role: manager, hoster: vultr}"
	m3 = "{name: m3, address: 10.0.0.3, role: manager, hoster: scaleway}"
)

// w1 returns worker w1 with extra flow fields (", port: 70000").
func w1(extra string) string {
	return "{name: w1, address: 10.0.1.1, role: worker, hoster: hcloud" + extra + "}"
}

// mgr returns manager m<i> on hoster h.
func mgr(i int, h string) string {
	return fmt.Sprintf("{name: m%d, address: 10.0.0.%d, role: manager, hoster: %s}", i, i, h)
}

func inv(cluster, ssh string, nodes ...string) string {
	if cluster == "" {
		cluster = "{name: prod}"
	}
	if ssh == "" {
		ssh = "{}"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster: %s\nssh: %s\nnodes:\n", cluster, ssh)
	for _, n := range nodes {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	return b.String()
}

// check parses and validates doc as prod.yaml.
func check(doc string) (warnings []string, err error) {
	parsed, err := Parse("prod.yaml", []byte(doc))
	if err != nil {
		return nil, err
	}
	return parsed.Validate()
}

func TestBadInventoriesAreRefused(t *testing.T) {
	long := "w" + strings.Repeat("x", 63)
	tests := []struct {
		name  string
		doc   string
		line  int    // 0: not checked
		node  string // "" for problems outside a node
		field string // "" for problems outside a field
		msg   string
	}{
		// Node names.
		{"a node without a name is refused", inv("", "", m1, m2, "{address: 10.0.0.3, role: manager, hoster: scaleway}"),
			6, "", "nodes[2].name", "is required"},
		{"a node name with capitals is refused", inv("", "", m1, "{name: M2, address: 10.0.0.2, role: manager, hoster: vultr}", m3),
			5, "M2", "nodes[1].name", `must start with a lowercase letter, got "M2"`},
		{"a node name starting with a digit is refused", inv("", "", m1, m2, m3, "{name: 1w, address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, "1w", "nodes[3].name", "must start with a lowercase letter"},
		{"a node name with an underscore is refused", inv("", "", m1, m2, m3, "{name: w_1, address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, "w_1", "nodes[3].name", "may only contain lowercase letters, digits and '-'"},
		{"a node name longer than 63 characters is refused", inv("", "", m1, m2, m3, "{name: "+long+", address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, long, "nodes[3].name", "must be at most 63 characters, got 64"},
		{"a node name ending in a dash is refused", inv("", "", m1, m2, m3, "{name: w1-, address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, "w1-", "nodes[3].name", "must not end with '-'"},
		{"two nodes with the same name are refused", inv("", "", m1, m2, m3, "{name: m1, address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, "m1", "nodes[3].name", `is also used by node "m1" (line 4)`},

		// Addresses and ports.
		{"a node without an address is refused", inv("", "", m1, m2, m3, "{name: w1, role: worker, hoster: hcloud}"),
			7, "w1", "nodes[3].address", "is required"},
		{"an address with a port is refused", inv("", "", m1, m2, m3, `{name: w1, address: "10.0.1.1:2222", role: worker, hoster: hcloud}`),
			7, "w1", "nodes[3].address", "without a port"},
		{"an address with a user is refused", inv("", "", m1, m2, m3, `{name: w1, address: "root@10.0.1.1", role: worker, hoster: hcloud}`),
			7, "w1", "nodes[3].address", "set the user with user"},
		{"an address that is no host name is refused", inv("", "", m1, m2, m3, `{name: w1, address: "w1..example.com", role: worker, hoster: hcloud}`),
			7, "w1", "nodes[3].address", `must be an IP address or host name, got "w1..example.com"`},
		{"two nodes on the same address and ssh port are refused", inv("", "", m1, m2, m3, "{name: w1, address: 10.0.0.1, role: worker, hoster: hcloud}"),
			7, "w1", "nodes[3].address", `10.0.0.1 port 22 is also used by node "m1" (line 4)`},
		{"an explicit port equal to ssh.port clashes too", inv("", "{port: 2222}", m1, m2, m3, "{name: w1, address: 10.0.0.2, port: 2222, role: worker, hoster: hcloud}"),
			7, "w1", "nodes[3].address", `10.0.0.2 port 2222 is also used by node "m2"`},
		{"the same address written as ipv4-mapped ipv6 clashes too", inv("", "", m1, m2, m3, `{name: w1, address: "::ffff:10.0.0.3", role: worker, hoster: hcloud}`),
			7, "w1", "nodes[3].address", `is also used by node "m3"`},
		{"a node port above 65535 is refused", inv("", "", m1, m2, m3, w1(", port: 70000")),
			7, "w1", "nodes[3].port", "must be between 1 and 65535, got 70000"},
		{"a negative node port is refused", inv("", "", m1, m2, m3, w1(", port: -1")),
			7, "w1", "nodes[3].port", "must be between 1 and 65535, got -1"},
		{"an ssh port above 65535 is refused", inv("", "{port: 65536}", m1, m2, m3),
			2, "", "ssh.port", "must be between 1 and 65535, got 65536"},
		{"a port that is no number is refused", inv("", "", m1, m2, m3, w1(", port: twenty-two")),
			7, "w1", "nodes[3].port", `want a whole number, got "twenty-two"`},

		// Users.
		{"a node user with a space is refused", inv("", "", m1, m2, m3, w1(`, user: "ad min"`)),
			7, "w1", "nodes[3].user", `must not contain spaces, got "ad min"`},
		{"an ssh user starting with a dash is refused", inv("", `{user: "-oProxyCommand=x"}`, m1, m2, m3),
			2, "", "ssh.user", "must not start with '-'"},
		{"a blank ssh user is refused", inv("", `{user: "  "}`, m1, m2, m3),
			2, "", "ssh.user", "must not be empty"},

		// Roles and hosters.
		{"a role of master is refused", inv("", "", m1, m2, m3, "{name: w1, address: 10.0.1.1, role: master, hoster: hcloud}"),
			7, "w1", "nodes[3].role", `must be "manager" or "worker", got "master"`},
		{"a node without a role is refused", inv("", "", m1, m2, m3, "{name: w1, address: 10.0.1.1, hoster: hcloud}"),
			7, "w1", "nodes[3].role", `is required: "manager" or "worker"`},
		{"a node without a hoster is refused", inv("", "", m1, m2, m3, "{name: w1, address: 10.0.1.1, role: worker}"),
			7, "w1", "nodes[3].hoster", "is required"},
		{"a hoster with a space is refused", inv("", "", m1, m2, m3, `{name: w1, address: 10.0.1.1, role: worker, hoster: "hetzner cloud"}`),
			7, "w1", "nodes[3].hoster", `may only contain lowercase letters, digits and '-', got "hetzner cloud"`},
		{"a region with a space is refused", inv("", "", m1, m2, m3, w1(`, region: "eu central"`)),
			7, "w1", "nodes[3].region", `must not contain spaces or '=', got "eu central"`},

		// Labels.
		{"a reserved shoal label is refused", inv("", "", m1, m2, m3, w1(", labels: {shoal.hoster: aws}")),
			7, "w1", "nodes[3].labels", `label key "shoal.hoster" is reserved: shoal sets shoal.hoster and shoal.region itself`},
		{"a label key with '=' is refused", inv("", "", m1, m2, m3, w1(`, labels: {"a=b": c}`)),
			7, "w1", "nodes[3].labels", `label key "a=b" must not contain spaces or '='`},
		{"a label key with a space is refused", inv("", "", m1, m2, m3, w1(`, labels: {"a b": c}`)),
			7, "w1", "nodes[3].labels", `label key "a b" must not contain spaces or '='`},
		{"a label with an empty value is refused", inv("", "", m1, m2, m3, w1(`, labels: {tier: ""}`)),
			7, "w1", "nodes[3].labels", `label "tier" has an empty value`},
		{"a label value with a space is refused", inv("", "", m1, m2, m3, w1(`, labels: {tier: "front end"}`)),
			7, "w1", "nodes[3].labels", `label "tier": value "front end" must not contain spaces or '='`},
		{"labels that are not a mapping are refused", inv("", "", m1, m2, m3, w1(", labels: [a, b]")),
			7, "w1", "nodes[3].labels", "want a mapping, got a list"},

		// Cluster options.
		{"a cluster name with capitals is refused", inv("{name: Prod}", "", m1, m2, m3),
			1, "", "cluster.name", `must start with a lowercase letter, got "Prod"`},
		{"a data path port below 1024 is refused", inv("{name: prod, data_path_port: 80}", "", m1, m2, m3),
			1, "", "cluster.data_path_port", "must be between 1024 and 49151 (docker's rule for the data path port), got 80"},
		{"a data path port above 49151 is refused", inv("{name: prod, data_path_port: 50000}", "", m1, m2, m3),
			1, "", "cluster.data_path_port", "got 50000"},
		{"a negative data path port is refused", inv("{name: prod, data_path_port: -1}", "", m1, m2, m3),
			1, "", "cluster.data_path_port", "want a whole number of 0 or more, got -1"},
		{"an overlay mtu below 1280 is refused", inv("{name: prod, overlay_mtu: 1000}", "", m1, m2, m3),
			1, "", "cluster.overlay_mtu", "must be 0 (auto) or between 1280 and 9000, got 1000"},
		{"an overlay mtu above 9000 is refused", inv("{name: prod, overlay_mtu: 9001}", "", m1, m2, m3),
			1, "", "cluster.overlay_mtu", "got 9001"},
		{"an advertise interface given as an address is refused", inv("{name: prod, advertise_interface: 10.0.0.1}", "", m1, m2, m3),
			1, "", "cluster.advertise_interface", "got the address \"10.0.0.1\"; set addresses with a node's advertise_address"},
		{"an advertise interface name longer than 15 characters is refused", inv("{name: prod, advertise_interface: enp0s31f6-private}", "", m1, m2, m3),
			1, "", "cluster.advertise_interface", "at most 15 characters"},
		{"an advertise address that is no ip is refused", inv("", "", m1, m2, m3, w1(", advertise_address: eth1")),
			7, "w1", "nodes[3].advertise_address", `must be an IP address, got "eth1"`},
		{"two nodes advertising the same address are refused", inv("", "", m1, m2, "{name: m3, address: 10.0.0.3, advertise_address: 10.1.0.1, role: manager, hoster: scaleway}", w1(", advertise_address: 10.1.0.1")),
			7, "w1", "nodes[3].advertise_address", `10.1.0.1 is also advertised by node "m3" (line 6)`},

		// Manager count.
		{"no managers are refused", inv("", "", w1("")),
			3, "", "nodes[].role", "no manager: the swarm needs at least one; use 3 managers on 3 hosters"},
		{"two managers are refused as an even count", inv("", "", m1, m2),
			3, "", "nodes[].role", "2 managers: an even count tolerates no more failures than 1 manager does (0), and a 2-way network split leaves neither half the majority of 2; use 3 managers on 3 hosters"},
		{"four managers are refused as an even count", inv("", "", m1, m2, m3, mgr(4, "ovh")),
			3, "", "nodes[].role", "4 managers: an even count tolerates no more failures than 3 managers do (1), and a 2-way network split leaves neither half the majority of 3; use an odd count: 3 or 5 managers"},
		{"eight managers are refused and pointed at seven", inv("", "", mgr(1, "a"), mgr(2, "b"), mgr(3, "c"), mgr(4, "d"), mgr(5, "e"), mgr(6, "f"), mgr(7, "g"), mgr(8, "h")),
			3, "", "nodes[].role", "use an odd count: 7 managers"},

		// Hoster quorum.
		{"two of three managers on one hoster are refused", inv("", "", m1, mgr(2, "hcloud"), m3),
			4, "", "nodes[].hoster", `hoster "hcloud" holds 2 of 3 managers: its outage alone leaves 1, fewer than the 2 quorum needs; spread the managers so that no hoster holds more than 1, or accept the risk with cluster.allow_single_hoster_quorum: true`},
		{"five managers with three on one hoster are refused", inv("", "", mgr(1, "vultr"), mgr(2, "hcloud"), mgr(3, "hcloud"), mgr(4, "scaleway"), mgr(5, "hcloud")),
			5, "", "nodes[].hoster", `hoster "hcloud" holds 3 of 5 managers: its outage alone leaves 2, fewer than the 3 quorum needs; spread the managers so that no hoster holds more than 2`},
		{"three managers on a single hoster are refused", inv("", "", mgr(1, "local"), mgr(2, "local"), mgr(3, "local")),
			4, "", "nodes[].hoster", `hoster "local" holds 3 of 3 managers: its outage alone leaves 0`},
		{"two managers on two hosters are refused for each hoster too", inv("", "", m1, m2),
			5, "", "nodes[].hoster", `hoster "vultr" holds 1 of 2 managers: its outage alone leaves 1, fewer than the 2 quorum needs; use 3 managers on 3 hosters`},

		// Structure and syntax.
		{"an unknown top-level field is refused with its line", inv("", "", m1, m2, m3) + "colour: blue\n",
			7, "", "colour", "unknown field; known fields: cluster, ssh, nodes"},
		{"an unknown field in a node is refused with its line and node", inv("", "", m1, m2, m3, w1(", colour: blue")),
			7, "w1", "nodes[3].colour", "unknown field; known fields: name, address"},
		{"an unknown field in a block-style node is reported on its own line",
			inv("", "", m1, m2, m3) + "  - name: w1\n    address: 10.0.1.1\n    role: worker\n    hoster: hcloud\n    colur: red\n",
			11, "w1", "nodes[3].colur", "unknown field"},
		{"an unknown field in cluster is refused", inv("{nmae: prod}", "", m1, m2, m3),
			1, "", "cluster.nmae", "unknown field; known fields: name, advertise_interface"},
		{"an unknown field in ssh is refused", inv("", "{identity: ~/.ssh/id}", m1, m2, m3),
			2, "", "ssh.identity", "unknown field; known fields: user, port, identity_file, known_hosts"},
		{"a duplicate key in a node is refused", inv("", "", m1, m2, m3, w1(", role: worker")),
			7, "w1", "nodes[3].role", "duplicate key, first set at line 7"},
		{"a value that is a list where a string belongs is refused", inv("", "", m1, m2, m3, "{name: [w1], address: 10.0.1.1, role: worker, hoster: hcloud}"),
			7, "", "nodes[3].name", "want a string, got a list"},
		{"malformed yaml is refused with its line", "cluster: {name: prod}\nnodes:\n  - name: m1\n     address: 10.0.0.1\n",
			4, "", "", "invalid yaml: mapping values are not allowed in this context"},
		{"a tab used for indentation is refused with a hint", "nodes:\n\t- {name: m1}\n",
			2, "", "", "use spaces"},
		{"an unclosed flow mapping is refused", "cluster: {name: prod\nnodes: []\n",
			0, "", "", "invalid yaml: did not find expected ',' or '}'"},
		{"an empty file is refused", "",
			0, "", "", "empty inventory"},
		{"a file of only comments is refused", "# nodes: later\n",
			0, "", "", "empty inventory"},
		{"a null document is refused", "~\n",
			0, "", "", "empty inventory"},
		{"an inventory without nodes is refused", "cluster: {name: prod}\n",
			0, "", "nodes", "no nodes: list at least one manager"},
		{"an empty node list is refused", "cluster: {name: prod}\nnodes: []\n",
			2, "", "nodes", "no nodes"},
		{"nodes that are not a list are refused", "nodes: m1\n",
			1, "", "nodes", `want a list, got "m1"`},
		{"a node that is not a mapping is refused", "nodes:\n  - m1\n",
			2, "", "nodes[0]", `want a mapping, got "m1"`},
		{"a document that is a list is refused", "- m1\n- m2\n",
			1, "", "", "want a mapping, got a list"},
		{"two yaml documents are refused", inv("", "", m1, m2, m3) + "---\nnodes: []\n",
			8, "", "", "more than one yaml document"},
		{"an identity file under another user's home is refused", inv("", "{identity_file: ~bob/.ssh/id}", m1, m2, m3),
			2, "", "ssh.identity_file", `cannot expand "~bob/.ssh/id": only ~/ (your $HOME) is expanded`},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check(tt.doc)
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.doc)
			}
			text := err.Error()
			want := []string{"prod.yaml", tt.msg}
			if tt.line > 0 {
				want = append(want, fmt.Sprintf("prod.yaml:%d: ", tt.line))
			}
			if tt.node != "" {
				want = append(want, fmt.Sprintf("node %q", tt.node))
			}
			if tt.field != "" {
				want = append(want, fmt.Sprintf("field %q", tt.field))
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("error does not contain %q:\n%s", w, text)
				}
			}
			// One *FieldError carries the problem in its fields, too.
			var found bool
			for _, fe := range FieldErrors(err) {
				if fe.File == "prod.yaml" && fe.Node == tt.node && fe.Field == tt.field &&
					(tt.line == 0 || fe.Line == tt.line) && strings.Contains(fe.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no *FieldError{Line: %d, Node: %q, Field: %q, Msg: ~%q} in:\n%s", tt.line, tt.node, tt.field, tt.msg, dump(FieldErrors(err)))
			}
		})
	}
}

func TestGoodInventoriesAreAccepted(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		warnings []string // substrings, one per expected warning
	}{
		{"one manager is accepted with a warning", inv("", "", mgr(1, "local")),
			[]string{"1 manager: the swarm does not survive its loss; use 3 managers on 3 hosters"}},
		{"one manager with workers on the same hoster warns only once", inv("", "", mgr(1, "hcloud"), w1("")),
			[]string{"1 manager: the swarm does not survive its loss"}},
		{"three managers on three hosters with workers are accepted", inv("", "", m1, m2, m3, w1(""), "{name: w2, address: 10.0.1.2, role: worker, hoster: vultr}"),
			nil},
		{"five managers on hosters of two, two and one are accepted", inv("", "", mgr(1, "a"), mgr(2, "a"), mgr(3, "b"), mgr(4, "b"), mgr(5, "c")),
			nil},
		{"seven managers on hosters of three, two and two are accepted", inv("", "", mgr(1, "a"), mgr(2, "a"), mgr(3, "a"), mgr(4, "b"), mgr(5, "b"), mgr(6, "c"), mgr(7, "c")),
			nil},
		{"two of three managers on one hoster are accepted with the allow flag", inv("{name: prod, allow_single_hoster_quorum: true}", "", m1, mgr(2, "hcloud"), m3),
			[]string{`hoster "hcloud" holds 2 of 3 managers: its outage alone leaves 1, fewer than the 2 quorum needs; accepted because cluster.allow_single_hoster_quorum is true`}},
		{"nine managers on nine hosters are accepted with a warning", inv("", "", mgr(1, "a"), mgr(2, "b"), mgr(3, "c"), mgr(4, "d"), mgr(5, "e"), mgr(6, "f"), mgr(7, "g"), mgr(8, "h"), mgr(9, "i")),
			[]string{"9 managers: every raft write waits for a majority"}},
		{"two nodes on one address with different ports are accepted", inv("", "", m1, m2, m3, "{name: w1, address: 10.0.0.1, port: 2222, role: worker, hoster: hcloud}"),
			nil},
		{"host names, ipv6 and per-node ssh settings are accepted",
			inv("{name: prod-eu, data_path_port: 4800, overlay_mtu: 1400, advertise_interface: eth1}", "{user: deploy, port: 2222}",
				"{name: m1, address: m1.example.com, role: manager, hoster: hcloud, region: fsn1}",
				`{name: m2, address: "2001:db8::2", user: ubuntu, port: 22, role: manager, hoster: vultr, advertise_address: "10.1.0.2"}`,
				"{name: m3, address: M3.Example.Com., role: manager, hoster: scaleway, labels: {disk: ssd, zone.id: fr-par-1}}"),
			nil},
		{"the data path port and mtu limits are inclusive", inv("{name: prod, data_path_port: 49151, overlay_mtu: 9000}", "{port: 65535}", m1, m2, m3),
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := check(tt.doc)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := inv("{name: Prod, data_path_port: 80}", "{port: 0}",
		"{name: m1, address: 10.0.0.1, role: manager, hoster: hcloud}",
		"{name: m1, address: 10.0.0.1, role: manager, hoster: hcloud}",
		"{name: w1, address: 10.0.1.1, role: master, hoster: hcloud, labels: {shoal.region: x}}",
	)
	_, err := check(doc)
	var got []string
	for _, fe := range FieldErrors(err) {
		got = append(got, fmt.Sprintf("%d %s %s", fe.Line, fe.Node, fe.Field))
	}
	want := []string{
		"1  cluster.name",
		"1  cluster.data_path_port",
		"5 m1 nodes[1].name",
		"5 m1 nodes[1].address",
		"6 w1 nodes[2].role",
		"6 w1 nodes[2].labels",
		"3  nodes[].role",   // 2 managers
		"4  nodes[].hoster", // both on hcloud
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateInventoryBuiltInCode(t *testing.T) {
	built := &Inventory{Nodes: []Node{
		{Name: "m1", Address: "10.0.0.1", Role: RoleManager, Hoster: "a"},
		{Name: "m2", Address: "10.0.0.2", Role: RoleManager, Hoster: "b"},
		{Name: "m3", Address: "10.0.0.3", Role: RoleManager, Hoster: "c"},
	}}
	if warnings, err := built.Validate(); err != nil || len(warnings) != 0 {
		t.Fatalf("Validate = %q, %v; want empty fields checked with their defaults", warnings, err)
	}
	if built.Cluster.Name != "" || built.SSH.Port != 0 {
		t.Errorf("Validate changed the inventory: %+v", built)
	}

	built.Nodes[2].Role = "master"
	_, err := built.Validate()
	if want := `node "m3": field "nodes[2].role": must be "manager" or "worker", got "master"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate error = %v, want %q without file or line", err, want)
	}
}

func TestValidateOfNoInventory(t *testing.T) {
	var none *Inventory
	if _, err := none.Validate(); err == nil {
		t.Fatal("Validate of a nil inventory returned no error")
	}
	empty := &Inventory{Path: "x.yaml"}
	_, err := empty.Validate()
	if want := `x.yaml: field "nodes": no nodes`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate = %v, want %q", err, want)
	}
	if n := len(FieldErrors(err)); n != 1 {
		t.Errorf("%d problems for an inventory without nodes, want only the missing nodes", n)
	}
}

func TestValidateKeepsNodeLinesWhenNodesMove(t *testing.T) {
	doc := inv("", "", m1, m2, m3, "{name: w1, address: 10.0.1.1,\n      role: master, hoster: hcloud}")
	parsed, err := Parse("prod.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// w1 starts on line 7; its role is on line 8.
	_, err = parsed.Validate()
	if want := `prod.yaml:8: node "w1": field "nodes[3].role"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate = %v, want %q", err, want)
	}
	// Moved to the front, w1 is reported at its own line, not at the
	// line recorded for the position it now has.
	parsed.Nodes = append(parsed.Nodes[3:], parsed.Nodes[:3]...)
	_, err = parsed.Validate()
	if want := `prod.yaml:7: node "w1": field "nodes[0].role"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate after reordering = %v, want %q", err, want)
	}
}

func TestFieldErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  FieldError
		want string
	}{
		{"every part is shown in order",
			FieldError{File: "inventory.yaml", Line: 12, Node: "m2", Field: "nodes[1].role", Msg: `must be "manager" or "worker", got "master"`},
			`inventory.yaml:12: node "m2": field "nodes[1].role": must be "manager" or "worker", got "master"`},
		{"a file without a line is shown alone", FieldError{File: "inventory.yaml", Field: "nodes", Msg: "no nodes"},
			`inventory.yaml: field "nodes": no nodes`},
		{"a line without a file is shown as line", FieldError{Line: 3, Msg: "invalid yaml"},
			`line 3: invalid yaml`},
		{"a node without a field is shown", FieldError{Node: "w1", Msg: "unreachable"},
			`node "w1": unreachable`},
		{"only the message is left when nothing else is known", FieldError{Msg: "no inventory"},
			`no inventory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldErrorsSeesThroughWrapping(t *testing.T) {
	a := &FieldError{Field: "a", Msg: "x"}
	b := &FieldError{Field: "b", Msg: "y"}
	err := fmt.Errorf("bootstrap: %w", errors.Join(a, fmt.Errorf("more: %w", b)))
	got := FieldErrors(err)
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("FieldErrors = %v, want [a b]", got)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe != a {
		t.Errorf("errors.As found %v, want the first problem", fe)
	}
	if FieldErrors(nil) != nil {
		t.Error("FieldErrors(nil) is not nil")
	}
}

func TestNameRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"a short lowercase name is fine", "m1", true},
		{"dashes inside are fine", "edge-node-1", true},
		{"63 characters are fine", "a" + strings.Repeat("b", 62), true},
		{"an empty name is not", "", false},
		{"a dot is not", "m.1", false},
		{"a leading dash is not", "-m1", false},
		{"non-ascii letters are not", "knötchen", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := labelProblem(tt.in) == ""; got != tt.ok {
				t.Errorf("labelProblem(%q) = %q, want ok=%v", tt.in, labelProblem(tt.in), tt.ok)
			}
		})
	}
}
