package infra

import (
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

const testPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-ONLY\n-----END OPENSSH PRIVATE KEY-----\n"

// baseConfig is a stack config with keys and the given pools (JSON).
func baseConfig(pools string) map[string]any {
	return map[string]any{
		"shoal:cluster":       "acme",
		"shoal:sshPublicKey":  testPublicKey,
		"shoal:sshPrivateKey": testPrivateKey,
		"shoal:pools":         pools,
	}
}

var secretKeys = []string{"shoal:sshPrivateKey"}

// plain unwraps a secret property value.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func str(r registered, key string) string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	return text(v)
}

// text renders a string, number or bool property value as text.
func text(v resource.PropertyValue) string {
	v = plain(v)
	switch {
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64)
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue())
	}
	return v.String()
}

func strs(v resource.PropertyValue) []string {
	var out []string
	for _, e := range plain(v).ArrayValue() {
		out = append(out, plain(e).StringValue())
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// cidrs returns the fake addresses of servers as /32 CIDRs.
func cidrs(m *mocks, servers ...string) []string {
	var out []string
	for _, s := range servers {
		out = append(out, m.address(s)+"/32")
	}
	return sorted(out)
}

func TestProgramBuildsThreeHostersWithFirewallsAndOneSwarm(t *testing.T) {
	m, res, err := run(t, "prod", baseConfig(threeCloud), secretKeys, Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}

	// Components: one per hoster, one per node under its hoster.
	if got, want := m.names(HosterType), []string{"acme-hetzner", "acme-scaleway", "acme-vultr"}; !reflect.DeepEqual(got, want) {
		t.Errorf("hoster components = %q, want %q", got, want)
	}
	if got, want := m.names(NodeType), []string{"acme-hz-1", "acme-hzw-1", "acme-hzw-2", "acme-sw-1", "acme-vu-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("node components = %q, want %q", got, want)
	}
	if p := m.get(t, NodeType, "acme-vu-1").Parent; urnName(p) != "acme-vultr" {
		t.Errorf("node acme-vu-1's parent = %q, want the vultr hoster component", p)
	}

	t.Run("hcloud", func(t *testing.T) {
		key := m.get(t, "hcloud:index/sshKey:SshKey", "acme-default-ssh-key")
		if str(key, "publicKey") != testPublicKey || str(key, "name") != "acme-default" {
			t.Errorf("ssh key name %q publicKey %q", str(key, "name"), str(key, "publicKey"))
		}
		if got := m.names("hcloud:index/server:Server"); !reflect.DeepEqual(got, []string{"acme-hz-1-server", "acme-hzw-1-server", "acme-hzw-2-server"}) {
			t.Fatalf("hcloud servers = %q", got)
		}
		spread := m.get(t, "hcloud:index/placementGroup:PlacementGroup", "acme-hetzner-hzw-spread")
		if str(spread, "type") != "spread" {
			t.Errorf("placement group type = %q, want spread", str(spread, "type"))
		}
		public := m.get(t, "hcloud:index/firewall:Firewall", "acme-hetzner-firewall")
		srv := m.get(t, "hcloud:index/server:Server", "acme-hzw-2-server")
		for k, want := range map[string]string{"name": "acme-hzw-2", "serverType": "cx32", "location": "nbg1", "image": "debian-12",
			"placementGroupId": spread.ID, "ignoreRemoteFirewallIds": "true"} {
			if got := str(srv, k); got != want {
				t.Errorf("server %s = %q, want %q", k, got, want)
			}
		}
		if got := strs(srv.Inputs["sshKeys"]); !reflect.DeepEqual(got, []string{key.ID}) {
			t.Errorf("server sshKeys = %q, want the account's key id %s", got, key.ID)
		}
		if ud := str(srv, "userData"); !strings.Contains(ud, "ssh_pwauth: false") || strings.Contains(ud, "docker") {
			t.Errorf("server userData = %q, want cloud-init that only turns passwords off", ud)
		}
		if urnName(srv.Parent) != "acme-hzw-2" || !srv.DBR || srv.Trigger != float64(0) {
			t.Errorf("server parent %q, deleteBeforeReplace %v, replacement trigger %v; want node component, true, 0", srv.Parent, srv.DBR, srv.Trigger)
		}
		if got := srv.Inputs["labels"].ObjectValue(); text(got["shoal-cluster"]) != "acme" || text(got["shoal-hoster"]) != "hetzner" {
			t.Errorf("server labels = %v, want shoal-cluster=acme and shoal-hoster=hetzner (the peer firewall's selector)", got)
		}

		world := sorted(DefaultPublicSources)
		if got, want := hcloudRules(t, public), map[string][]string{"tcp/22": world, "tcp/80": world, "tcp/443": world}; !reflect.DeepEqual(got, want) {
			t.Errorf("hcloud public firewall rules =\n%v\nwant\n%v", got, want)
		}
		peersFw := m.get(t, "hcloud:index/firewall:Firewall", "acme-hetzner-peers-firewall")
		// Hetzner holds three nodes, so its firewall lets in all five: each
		// of its nodes is "other" to the rest.
		peers := cidrs(m, "acme-hz-1-server", "acme-vu-1-server", "acme-sw-1-ip", "acme-hzw-1-server", "acme-hzw-2-server")
		want := map[string][]string{"tcp/2377": peers, "tcp/7946": peers, "udp/7946": peers, "udp/4789": peers, "esp": peers}
		if got := hcloudRules(t, peersFw); !reflect.DeepEqual(got, want) {
			t.Errorf("hcloud peer firewall rules =\n%v\nwant\n%v", got, want)
		}
		applies := peersFw.Inputs["applyTos"].ArrayValue()
		if len(applies) != 1 || text(applies[0].ObjectValue()["labelSelector"]) != "shoal-cluster=acme,shoal-hoster=hetzner" {
			t.Errorf("peer firewall applyTos = %v, want the hoster's label selector", applies)
		}
		if got := m.all("hcloud:index/firewallAttachment:FirewallAttachment"); len(got) != 0 {
			t.Errorf("firewall attachments = %v: servers must carry the firewall from creation instead", got)
		}
	})

	t.Run("vultr", func(t *testing.T) {
		key := m.get(t, "vultr:index/sSHKey:SSHKey", "acme-vultr-ssh-key")
		group := m.get(t, "vultr:index/firewallGroup:FirewallGroup", "acme-vultr-firewall")
		inst := m.get(t, "vultr:index/instance:Instance", "acme-vu-1-server")
		for k, want := range map[string]string{"plan": "vc2-1c-2gb", "region": "ams", "osId": "2136", "label": "acme-vu-1", "firewallGroupId": group.ID} {
			if got := str(inst, k); got != want {
				t.Errorf("instance %s = %q, want %q", k, got, want)
			}
		}
		if got := strs(inst.Inputs["sshKeyIds"]); !reflect.DeepEqual(got, []string{key.ID}) {
			t.Errorf("instance sshKeyIds = %q, want %q", got, key.ID)
		}
		if !strings.Contains(str(inst, "userData"), "ssh_pwauth: false") {
			t.Errorf("instance userData lacks cloud-init")
		}
		rules := map[string]string{} // protocol/port -> sources
		bySource := map[string][]string{}
		for _, r := range m.all("vultr:index/firewallRule:FirewallRule") {
			if str(r, "firewallGroupId") != group.ID {
				t.Errorf("rule %s is in group %s, want %s", r.Name, str(r, "firewallGroupId"), group.ID)
			}
			k := str(r, "protocol") + "/" + str(r, "port")
			bySource[k] = append(bySource[k], str(r, "subnet")+"/"+str(r, "subnetSize")+" "+str(r, "ipType"))
			rules[r.Name] = k
		}
		for k := range bySource {
			sort.Strings(bySource[k])
		}
		// Vultr holds one node: its firewall lets in the four others, not itself.
		var peers []string
		for _, s := range []string{"acme-hz-1-server", "acme-sw-1-ip", "acme-hzw-1-server", "acme-hzw-2-server"} {
			peers = append(peers, m.address(s)+"/32 v4")
		}
		peers = sorted(peers)
		world := []string{"0.0.0.0/0 v4", "::/0 v6"}
		want := map[string][]string{"tcp/22": world, "tcp/80": world, "tcp/443": world,
			"tcp/2377": peers, "tcp/7946": peers, "udp/7946": peers, "udp/4789": peers, "esp/": peers}
		if !reflect.DeepEqual(bySource, want) {
			t.Errorf("vultr rules by port =\n%v\nwant\n%v", bySource, want)
		}
		for _, name := range []string{"acme-vultr-fw-tcp-2377-hz-1", "acme-vultr-fw-esp-hzw-2", "acme-vultr-fw-tcp-22-0-0-0-0-0", "acme-vultr-fw-tcp-22-v6-0"} {
			if _, ok := rules[name]; !ok {
				t.Errorf("no vultr rule %s; rules: %q", name, m.names("vultr:index/firewallRule:FirewallRule"))
			}
		}
		if _, ok := rules["acme-vultr-fw-tcp-2377-vu-1"]; ok {
			t.Errorf("vultr lets its only node in from itself")
		}
	})

	t.Run("scaleway", func(t *testing.T) {
		m.get(t, "scaleway:iam/sshKey:SshKey", "acme-scaleway-ssh-key")
		sg := m.get(t, "scaleway:instance/securityGroup:SecurityGroup", "acme-scaleway-firewall-fr-par-1")
		if str(sg, "inboundDefaultPolicy") != "drop" || str(sg, "externalRules") != "true" {
			t.Errorf("security group inbound %q external %q, want drop and true", str(sg, "inboundDefaultPolicy"), str(sg, "externalRules"))
		}
		pg := m.get(t, "scaleway:instance/placementGroup:PlacementGroup", "acme-scaleway-sw-placement")
		ip := m.get(t, "scaleway:instance/ip:Ip", "acme-sw-1-ip")
		srv := m.get(t, "scaleway:instance/server:Server", "acme-sw-1-server")
		for k, want := range map[string]string{"type": "DEV1-S", "zone": "fr-par-1", "image": "debian_bookworm", "ipId": ip.ID, "securityGroupId": sg.ID, "placementGroupId": pg.ID} {
			if got := str(srv, k); got != want {
				t.Errorf("server %s = %q, want %q", k, got, want)
			}
		}
		rulesRes := m.get(t, "scaleway:instance/securityGroupRules:SecurityGroupRules", "acme-scaleway-firewall-fr-par-1-rules")
		got := map[string][]string{}
		for _, r := range rulesRes.Inputs["inboundRules"].ArrayValue() {
			o := r.ObjectValue()
			k := plain(o["protocol"]).StringValue()
			if p, ok := o["port"]; ok && !p.IsNull() {
				k += "/" + text(p)
			}
			got[k] = append(got[k], plain(o["ipRange"]).StringValue())
		}
		for k := range got {
			sort.Strings(got[k])
		}
		peers := cidrs(m, "acme-hz-1-server", "acme-vu-1-server", "acme-hzw-1-server", "acme-hzw-2-server")
		world := sorted(DefaultPublicSources)
		want := map[string][]string{"TCP/22": world, "TCP/80": world, "TCP/443": world,
			"TCP/2377": peers, "TCP/7946": peers, "UDP/7946": peers, "UDP/4789": peers, "ANY": peers}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scaleway inbound rules =\n%v\nwant\n%v", got, want)
		}
	})

	t.Run("swarm", func(t *testing.T) {
		clusters := m.all(ClusterType)
		if len(clusters) != 1 || clusters[0].Name != "acme" {
			t.Fatalf("swarm resources = %q, want one named acme", m.names(ClusterType))
		}
		c := clusters[0]
		if !c.Inputs["sshPrivateKey"].IsSecret() || plain(c.Inputs["sshPrivateKey"]).StringValue() != testPrivateKey {
			t.Errorf("sshPrivateKey is not the secret private key: %v", c.Inputs["sshPrivateKey"])
		}
		var nodes []string
		for _, n := range c.Inputs["nodes"].ArrayValue() {
			o := n.ObjectValue()
			nodes = append(nodes, strings.Join([]string{plain(o["name"]).StringValue(), plain(o["role"]).StringValue(), plain(o["hoster"]).StringValue(),
				plain(o["address"]).StringValue(), plain(o["user"]).StringValue(), text(o["port"])}, " "))
			if _, ok := o["hostKey"]; ok {
				t.Errorf("cloud node %s has a hostKey; cloud host keys are trusted on first use", plain(o["name"]).StringValue())
			}
		}
		want := []string{
			"hz-1 manager hetzner " + m.address("acme-hz-1-server") + " root 22",
			"vu-1 manager vultr " + m.address("acme-vu-1-server") + " root 22",
			"sw-1 manager scaleway " + m.address("acme-sw-1-ip") + " root 22",
			"hzw-1 worker hetzner " + m.address("acme-hzw-1-server") + " root 22",
			"hzw-2 worker hetzner " + m.address("acme-hzw-2-server") + " root 22",
		}
		if !reflect.DeepEqual(nodes, want) {
			t.Errorf("swarm nodes =\n%q\nwant\n%q", nodes, want)
		}
		// The swarm waits for every server and firewall.
		for _, typ := range []string{"hcloud:index/server:Server", "hcloud:index/firewall:Firewall", "vultr:index/instance:Instance",
			"vultr:index/firewallRule:FirewallRule", "scaleway:instance/server:Server", "scaleway:instance/securityGroupRules:SecurityGroupRules"} {
			for _, r := range m.all(typ) {
				if !slices.ContainsFunc(c.Deps, func(u string) bool { return urnName(u) == r.Name }) {
					t.Errorf("swarm does not depend on %s %s", typ, r.Name)
				}
			}
		}
	})

	t.Run("outputs", func(t *testing.T) {
		if res.SwarmID != "swarm-acme" {
			t.Errorf("swarmId = %q", res.SwarmID)
		}
		wantM := []string{m.address("acme-hz-1-server"), m.address("acme-vu-1-server"), m.address("acme-sw-1-ip")}
		if !reflect.DeepEqual(res.ManagerAddresses, wantM) {
			t.Errorf("managerAddresses = %q, want %q", res.ManagerAddresses, wantM)
		}
		if len(res.Nodes) != 5 {
			t.Fatalf("nodes output = %v", res.Nodes)
		}
		n := res.Nodes[3]
		if n["name"] != "hzw-1" || n["hoster"] != "hetzner" || n["role"] != "worker" || n["address"] != m.address("acme-hzw-1-server") {
			t.Errorf("nodes[3] = %v", n)
		}
	})
}

// hcloudRules returns an hcloud firewall's rules as protocol/port to
// sorted sources, checking that each is inbound.
func hcloudRules(t *testing.T, fw registered) map[string][]string {
	t.Helper()
	rules := map[string][]string{}
	for _, r := range fw.Inputs["rules"].ArrayValue() {
		o := r.ObjectValue()
		if plain(o["direction"]).StringValue() != "in" {
			t.Errorf("rule %v is not inbound", o)
		}
		name := plain(o["protocol"]).StringValue()
		if p, ok := o["port"]; ok && !p.IsNull() {
			name += "/" + plain(p).StringValue()
		}
		rules[name] = sorted(strs(o["sourceIps"]))
	}
	return rules
}

// stringify turns an array of numbers into strings (hcloud ids are ints).
func stringify(v resource.PropertyValue) resource.PropertyValue {
	var out []resource.PropertyValue
	for _, e := range plain(v).ArrayValue() {
		out = append(out, resource.NewProperty(text(e)))
	}
	return resource.NewProperty(out)
}

func TestProgramBuildsTheLocalStackAsLabServersAndOneSwarm(t *testing.T) {
	cfg := stackFile(t, "../Pulumi.local.yaml")
	cfg["shoal:sshPublicKey"] = testPublicKey
	cfg["shoal:sshPrivateKey"] = testPrivateKey
	m, res, err := run(t, "local", cfg, secretKeys, Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	servers := m.all("shoal:local:Server")
	var got []string
	for _, s := range servers {
		got = append(got, s.Name+" "+str(s, "lab")+" "+str(s, "node")+" "+str(s, "hoster")+" "+str(s, "role"))
		if str(s, "sshPublicKey") != testPublicKey {
			t.Errorf("%s sshPublicKey = %q", s.Name, str(s, "sshPublicKey"))
		}
	}
	want := []string{
		"local-ma-1-server local ma-1 hoster-a manager",
		"local-mb-1-server local mb-1 hoster-b manager",
		"local-mc-1-server local mc-1 hoster-c manager",
		"local-w-1-server local w-1 hoster-a worker",
		"local-w-2-server local w-2 hoster-a worker",
	}
	sort.Strings(got) // mocks see registrations in whatever order the program's goroutines make them
	if !reflect.DeepEqual(got, want) {
		t.Errorf("local servers =\n%q\nwant\n%q", got, want)
	}
	var other []string
	for _, r := range m.all("") {
		if r.Custom && r.Type != "shoal:local:Server" && r.Type != ClusterType {
			other = append(other, r.Type+" "+r.Name)
		}
	}
	if len(other) > 0 {
		t.Errorf("the local stack registered other resources: %q", other)
	}

	clusters := m.all(ClusterType)
	if len(clusters) != 1 {
		t.Fatalf("swarm resources = %q, want 1", m.names(ClusterType))
	}
	c := clusters[0]
	if !c.Inputs["sshPrivateKey"].IsSecret() {
		t.Errorf("sshPrivateKey input is not secret")
	}
	managersByHoster := map[string]int{}
	for _, n := range c.Inputs["nodes"].ArrayValue() {
		o := n.ObjectValue()
		name := plain(o["name"]).StringValue()
		if plain(o["role"]).StringValue() == "manager" {
			managersByHoster[plain(o["hoster"]).StringValue()]++
		}
		if hk := plain(o["hostKey"]); !hk.IsString() || hk.StringValue() != "ssh-ed25519 HOSTKEY-"+name {
			t.Errorf("node %s hostKey = %v, want the lab server's hostKey output", name, o["hostKey"])
		}
		if addr := plain(o["address"]).StringValue(); addr != m.address("local-"+name+"-server") {
			t.Errorf("node %s address = %q, want the lab server's %q", name, addr, m.address("local-"+name+"-server"))
		}
	}
	if want := map[string]int{"hoster-a": 1, "hoster-b": 1, "hoster-c": 1}; !reflect.DeepEqual(managersByHoster, want) {
		t.Errorf("managers by hoster = %v, want %v", managersByHoster, want)
	}
	if len(res.ManagerAddresses) != 3 {
		t.Errorf("managerAddresses = %q, want 3", res.ManagerAddresses)
	}
}

func TestProgramRefusesBadLayoutsBeforeRegisteringAnything(t *testing.T) {
	tests := []struct {
		name    string
		pools   string
		opts    Options
		wantKey string
		wantMsg string
	}{
		{name: "two of three managers on one hoster",
			pools:   `[{"name":"hz","hoster":"hetzner","role":"manager","count":2,"type":"cx22","location":"fsn1"},` + vuManager + `]`,
			wantKey: "shoal:pools[0].hoster", wantMsg: `hoster "hetzner" holds 2 of 3 managers`},
		{name: "an even manager count",
			pools:   `[` + hzManager + `,` + vuManager + `,` + swManager + `,{"name":"l","provider":"local","hoster":"hoster-a","role":"manager"}]`,
			wantKey: "shoal:pools", wantMsg: "4 managers: an even count"},
		{name: "a replacement of a node that does not exist",
			pools: threeCloud, opts: Options{Generations: map[string]int{"hz-9": 1}},
			wantMsg: "replace hz-9: no such node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := run(t, "prod", baseConfig(tt.pools), secretKeys, tt.opts, false)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantMsg)
			}
			if tt.wantKey != "" && !strings.Contains(err.Error(), tt.wantKey+": ") {
				t.Errorf("err = %v, want it to name %s", err, tt.wantKey)
			}
			if got := m.all(""); len(got) != 0 {
				var names []string
				for _, r := range got {
					names = append(names, r.Type+" "+r.Name)
				}
				t.Errorf("registered %q before refusing", names)
			}
		})
	}
}

func TestProgramRefusesAPlainPrivateKey(t *testing.T) {
	m, _, err := run(t, "prod", baseConfig(threeCloud), nil, Options{}, false)
	if err == nil || !strings.Contains(err.Error(), "shoal:sshPrivateKey: is stored in plain text") {
		t.Fatalf("err = %v, want the plain private key refused", err)
	}
	if len(m.all("")) != 0 {
		t.Errorf("registered resources before refusing")
	}
	if strings.Contains(err.Error(), "TEST-ONLY") {
		t.Errorf("the error shows the private key: %v", err)
	}
}

func TestProgramReplacesOnlyTheNodeWhoseGenerationChanged(t *testing.T) {
	cfg := baseConfig(threeCloud)
	cfg["shoal:generations"] = map[string]int{"vu-1": 1}
	m, res, err := run(t, "prod", cfg, secretKeys, Options{Generations: map[string]int{"hz-1": 2}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"hcloud:index/server:Server/acme-hz-1-server":      float64(2),
		"hcloud:index/server:Server/acme-hzw-1-server":     float64(0),
		"vultr:index/instance:Instance/acme-vu-1-server":   float64(1),
		"scaleway:instance/server:Server/acme-sw-1-server": float64(0),
	}
	for k, w := range want {
		typ, name, _ := strings.Cut(k, "/acme-")
		r := m.get(t, typ, "acme-"+name)
		if r.Trigger != w {
			t.Errorf("%s replacement trigger = %v, want %v", r.Name, r.Trigger, w)
		}
	}
	// The scaleway IP is not replaced with its server: no trigger.
	if ip := m.get(t, "scaleway:instance/ip:Ip", "acme-sw-1-ip"); ip.Trigger != nil {
		t.Errorf("scaleway ip has a replacement trigger %v", ip.Trigger)
	}
	gens := map[any]any{}
	for _, n := range res.Nodes {
		gens[n["name"]] = n["generation"]
	}
	if gens["hz-1"] != 2 || gens["vu-1"] != 1 || gens["sw-1"] != 0 {
		t.Errorf("generations in the nodes output = %v", gens)
	}
}

func TestProgramKeepsAReplacementHealMadeWithoutTheStackFile(t *testing.T) {
	// Heal deployed hz-1 at generation 2 (Options.Generations) and wrote no
	// stack file; the config still says 1 for vu-1 and nothing for hz-1. The
	// next run keeps hz-1 at 2 (no second replacement), vu-1 at its deployed
	// 3 over the config's 1, and a config ahead of the deployed one still
	// replaces (sw-1: config 1, deployed 0). A node gone from the spec is
	// ignored.
	cfg := baseConfig(threeCloud)
	cfg["shoal:generations"] = map[string]int{"vu-1": 1, "sw-1": 1}
	_, res, err := run(t, "prod", cfg, secretKeys, Options{Deployed: map[string]int{"hz-1": 2, "vu-1": 3, "gone-1": 7}}, false)
	if err != nil {
		t.Fatal(err)
	}
	gens := map[any]any{}
	for _, n := range res.Nodes {
		gens[n["name"]] = n["generation"]
	}
	if gens["hz-1"] != 2 || gens["vu-1"] != 3 || gens["sw-1"] != 1 || gens["hzw-1"] != 0 {
		t.Errorf("generations in the nodes output = %v", gens)
	}
}

func TestProgramHandsExistingHostsToTheSwarmAndLetsThemThroughFirewalls(t *testing.T) {
	cfg := stackFile(t, "../examples/hetzner-existing/Pulumi.prod.yaml")
	cfg["shoal:sshPrivateKey"] = testPrivateKey
	m, _, err := run(t, "prod", cfg, secretKeys, Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	if got := m.names("hcloud:index/server:Server"); !reflect.DeepEqual(got, []string{"acme-hz-1-server", "acme-hzw-1-server", "acme-hzw-2-server"}) {
		t.Errorf("hcloud servers = %q", got)
	}
	for _, r := range m.all("") {
		if r.Custom && !strings.HasPrefix(r.Type, "hcloud:") && r.Type != ClusterType {
			t.Errorf("existing hosts got a resource: %s %s", r.Type, r.Name)
		}
	}
	c := m.all(ClusterType)[0]
	var got []string
	for _, n := range c.Inputs["nodes"].ArrayValue() {
		o := n.ObjectValue()
		if h := plain(o["hoster"]).StringValue(); h != "hetzner" {
			got = append(got, plain(o["name"]).StringValue()+" "+h+" "+plain(o["address"]).StringValue()+" "+plain(o["user"]).StringValue()+" "+text(o["port"]))
		}
	}
	if want := []string{"ovh-1 ovh 198.51.100.7 root 22", "nc-1 netcup 192.0.2.44 admin 2222"}; !reflect.DeepEqual(got, want) {
		t.Errorf("existing nodes in the swarm = %q, want %q", got, want)
	}
	fw := m.get(t, "hcloud:index/firewall:Firewall", "acme-hetzner-peers-firewall")
	for _, r := range fw.Inputs["rules"].ArrayValue() {
		o := r.ObjectValue()
		if p, ok := o["port"]; ok && plain(p).StringValue() == "2377" {
			srcs := strs(o["sourceIps"])
			for _, want := range []string{"198.51.100.7/32", "192.0.2.44/32"} {
				if !slices.Contains(srcs, want) {
					t.Errorf("hcloud 2377 sources %q lack existing host %s", srcs, want)
				}
			}
		}
	}
}

func TestProgramPreviewsWithoutKnownAddresses(t *testing.T) {
	m, _, err := run(t, "prod", baseConfig(threeCloud), secretKeys, Options{}, true)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if got := m.names(ClusterType); !reflect.DeepEqual(got, []string{"acme"}) {
		t.Errorf("preview registered swarm %q", got)
	}
	if got := len(m.names("vultr:index/firewallRule:FirewallRule")); got != 3*2+5*4 {
		t.Errorf("preview registered %d vultr rules, want %d", got, 3*2+5*4)
	}
}

// stackFile reads a Pulumi.<stack>.yaml into program config: objects and
// arrays as JSON, secure values dropped.
func stackFile(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]any{}
	for k, v := range f.Config {
		if m, ok := v.(map[string]any); ok {
			if _, secure := m["secure"]; secure {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// `shoal node replace` on a stack: the first run lists the successor
// beside the node it replaces (a manager's as a worker in the swarm
// resource), the last puts it in the node's place, and a later run keeps
// it from the deployed successors alone.
func TestProgramCreatesASuccessorBesideTheNodeThenInItsPlace(t *testing.T) {
	cfg := stackFile(t, "../Pulumi.local.yaml")
	cfg["shoal:sshPublicKey"] = testPublicKey
	cfg["shoal:sshPrivateKey"] = testPrivateKey
	look := func(opts Options) (servers []string, swarmRoles map[string]string, succ map[string]any) {
		t.Helper()
		m, res, err := run(t, "local", cfg, secretKeys, opts, false)
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		for _, s := range m.all("shoal:local:Server") {
			servers = append(servers, str(s, "node")+"@"+str(s, "hoster")+"/"+str(s, "role"))
		}
		sort.Strings(servers)
		swarmRoles = map[string]string{}
		for _, n := range m.all(ClusterType)[0].Inputs["nodes"].ArrayValue() {
			o := n.ObjectValue()
			swarmRoles[plain(o["name"]).StringValue()] = plain(o["role"]).StringValue()
		}
		for _, n := range res.Nodes {
			if n["name"] == "mc-1-r1" {
				succ, _ = n["successor"].(map[string]any)
			}
		}
		return servers, swarmRoles, succ
	}
	r := &Replacement{Node: "mc-1", Successor: "mc-1-r1"}
	servers, roles, succ := look(Options{Replace: r})
	want := []string{"ma-1@hoster-a/manager", "mb-1@hoster-b/manager", "mc-1-r1@hoster-c/manager", "mc-1@hoster-c/manager", "w-1@hoster-a/worker", "w-2@hoster-a/worker"}
	if !reflect.DeepEqual(servers, want) {
		t.Errorf("first run: servers %q, want %q", servers, want)
	}
	if roles["mc-1"] != "manager" || roles["mc-1-r1"] != "worker" {
		t.Errorf("first run: swarm roles %v, want mc-1 a manager and its successor joining as a worker", roles)
	}
	if succ["slot"] != "mc-1" || succ["joining"] != true {
		t.Errorf("first run: successor output %v", succ)
	}

	deployed := []Successor{{Slot: "mc-1", Name: "mc-1-r1", Joining: true}}
	done := *r
	done.Done = true
	servers, roles, succ = look(Options{Successors: deployed, Replace: &done})
	want = []string{"ma-1@hoster-a/manager", "mb-1@hoster-b/manager", "mc-1-r1@hoster-c/manager", "w-1@hoster-a/worker", "w-2@hoster-a/worker"}
	if !reflect.DeepEqual(servers, want) {
		t.Errorf("last run: servers %q, want %q", servers, want)
	}
	if _, ok := roles["mc-1"]; ok || roles["mc-1-r1"] != "manager" {
		t.Errorf("last run: swarm roles %v, want mc-1 gone and mc-1-r1 a manager", roles)
	}
	if succ["slot"] != "mc-1" || succ["joining"] != nil {
		t.Errorf("last run: successor output %v", succ)
	}

	later, _, _ := look(Options{Successors: []Successor{{Slot: "mc-1", Name: "mc-1-r1"}}})
	if !reflect.DeepEqual(later, want) {
		t.Errorf("a later run: servers %q, want %q (the successor kept from the state, the stack file unchanged)", later, want)
	}
}
