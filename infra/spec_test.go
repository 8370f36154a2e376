package infra

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/shoalops/shoal/infra/node"
)

const testPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuFEMUkGc879kD3w0m47fuFAOjRkLh/FeYQdJ9uM3p8 shoal-test"

// Pools used across the tests, as JSON the engine passes.
const (
	hzManager  = `{"name":"hz","hoster":"hetzner","role":"manager","count":1,"type":"cx22","location":"fsn1"}`
	vuManager  = `{"name":"vu","hoster":"vultr","role":"manager","count":1,"type":"vc2-1c-2gb","location":"ams"}`
	swManager  = `{"name":"sw","hoster":"scaleway","role":"manager","count":1,"type":"DEV1-S","location":"fr-par-1"}`
	hzWorkers  = `{"name":"hzw","hoster":"hetzner","role":"worker","count":2,"type":"cx32","location":"nbg1","labels":{"tier":"web"}}`
	threeCloud = `[` + hzManager + `,` + vuManager + `,` + swManager + `,` + hzWorkers + `]`
)

// testConfig returns a valid config of three managers on three hosters plus
// two workers, with the given keys replaced ("" deletes a key).
func testConfig(stack string, override map[string]string) Config {
	c := Config{
		Stack: stack,
		Values: map[string]string{
			KeySSHPublicKey:  testPublicKey,
			KeySSHPrivateKey: "",
			KeyPools:         threeCloud,
		},
		Secret: map[string]bool{KeySSHPrivateKey: true},
	}
	for k, v := range override {
		if v == "" && k != KeySSHPrivateKey {
			delete(c.Values, k)
			continue
		}
		c.Values[k] = v
	}
	return c
}

func TestParseAcceptsAValidConfig(t *testing.T) {
	s, warnings, err := Parse(testConfig("prod", nil))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if s.Cluster != "prod" {
		t.Errorf("cluster = %q, want the stack name prod", s.Cluster)
	}
	var names, hosters, providers []string
	for _, n := range s.Nodes() {
		names = append(names, n.Name)
		hosters = append(hosters, n.Hoster)
		providers = append(providers, n.Provider)
	}
	if want := []string{"hz-1", "vu-1", "sw-1", "hzw-1", "hzw-2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("node names = %q, want %q", names, want)
	}
	if want := []string{"hetzner", "vultr", "scaleway", "hetzner", "hetzner"}; !reflect.DeepEqual(hosters, want) {
		t.Errorf("hosters = %q, want %q", hosters, want)
	}
	if want := []string{"hcloud", "vultr", "scaleway", "hcloud", "hcloud"}; !reflect.DeepEqual(providers, want) {
		t.Errorf("providers = %q, want %q", providers, want)
	}
	var hs []string
	for _, h := range s.Hosters() {
		hs = append(hs, h.Name+"/"+h.Provider)
	}
	if want := []string{"hetzner/hcloud", "vultr/vultr", "scaleway/scaleway"}; !reflect.DeepEqual(hs, want) {
		t.Errorf("hosters = %q, want %q", hs, want)
	}
	if got := s.Hosters()[0].Pools; len(got) != 2 || got[1].Name != "hzw" || got[1].Count != 2 {
		t.Errorf("hetzner pools = %+v, want hz and hzw (2)", got)
	}
	if s.Swarm.DataPathPort != 4789 || !reflect.DeepEqual(s.Firewall.PublicTCP, []int{22, 80, 443}) ||
		!reflect.DeepEqual(s.Firewall.PublicSources, []string{"0.0.0.0/0", "::/0"}) {
		t.Errorf("defaults: swarm %+v firewall %+v", s.Swarm, s.Firewall)
	}
	if img := s.Pools[1].Image; img != "2136" {
		t.Errorf("vultr image = %q, want the default os id %s", img, "2136")
	}
}

func TestParseDefaultsAndExistingPools(t *testing.T) {
	c := testConfig("lab", map[string]string{
		KeyCluster: "acme",
		KeyPools: `[{"name":"m","provider":"local","hoster":"hoster-a","role":"manager"},` +
			`{"name":"old","provider":"existing","hoster":"ovh","role":"manager","addresses":["198.51.100.7","198.51.100.8"],"user":"admin","port":2222},` +
			`{"name":"n","hoster":"local","role":"worker","count":0,"region":"lab-1"}]`,
		KeySwarm:       `{"allowSingleHosterQuorum":true,"dataPathPort":4790}`,
		KeyGenerations: `{"m-1":2,"gone-1":1}`,
	})
	s, warnings, err := Parse(c)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	nodes := s.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("nodes = %+v, want m-1, old-1, old-2", nodes)
	}
	if n := nodes[0]; n.Name != "m-1" || n.Provider != "local" || n.Generation != 2 || n.SSHPublicKey != testPublicKey {
		t.Errorf("local node = %+v", n)
	}
	if n := nodes[2]; n.Name != "old-2" || n.Address != "198.51.100.8" || n.User != "admin" || n.Port != 2222 || n.SSHPublicKey != "" {
		t.Errorf("existing node = %+v", n)
	}
	if s.Pools[2].Provider != "local" || s.Pools[2].Hoster != "local" || s.Pools[2].Location != "lab-1" {
		t.Errorf("a hoster naming a provider defaults both: %+v", s.Pools[2])
	}
	want := []string{`hoster "ovh" holds 2 of 3 managers`, "shoal:generations.gone-1: no node gone-1"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", warnings, len(want))
	}
	for i, w := range want {
		if !strings.Contains(warnings[i], w) {
			t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
		}
	}
}

func TestParseRefusesInvalidConfigNamingTheKey(t *testing.T) {
	pools := func(ps ...string) string { return "[" + strings.Join(ps, ",") + "]" }
	tests := []struct {
		name     string
		stack    string
		override map[string]string
		secret   map[string]bool
		wantKey  string
		wantMsg  string
	}{
		{name: "two of three managers on one hoster are refused at that hoster's pool",
			override: map[string]string{KeyPools: pools(`{"name":"hz","hoster":"hetzner","role":"manager","count":2,"type":"cx22","location":"fsn1"}`, vuManager)},
			wantKey:  "shoal:pools[0].hoster", wantMsg: `hoster "hetzner" holds 2 of 3 managers: its outage alone leaves 1, fewer than the 2 quorum needs; spread the managers so that no hoster holds more than 1, or accept the risk with shoal:swarm.allowSingleHosterQuorum: true (managers from shoal:pools[0] hz at hetzner: 2)`},
		{name: "two manager pools at one hoster are both named",
			override: map[string]string{KeyPools: pools(hzManager, `{"name":"hz2","hoster":"hetzner","role":"manager","type":"cx22","location":"nbg1"}`, vuManager)},
			wantKey:  "shoal:pools[0].hoster", wantMsg: "shoal:pools[0] hz at hetzner: 1, shoal:pools[1] hz2 at hetzner: 1"},
		{name: "an even manager count is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"ex","provider":"existing","hoster":"ovh","role":"manager","addresses":["198.51.100.7"]}`)},
			wantKey:  "shoal:pools", wantMsg: "4 managers: an even count"},
		{name: "an even count from one pool names its count",
			override: map[string]string{KeySwarm: `{"allowSingleHosterQuorum":true}`, KeyPools: pools(`{"name":"hz","hoster":"hetzner","role":"manager","count":2,"type":"cx22","location":"fsn1"}`)},
			wantKey:  "shoal:pools[0].count", wantMsg: "2 managers: an even count"},
		{name: "no managers are refused",
			override: map[string]string{KeyPools: pools(hzWorkers)},
			wantKey:  "shoal:pools", wantMsg: "no manager"},
		{name: "a role that is neither manager nor worker is refused",
			override: map[string]string{KeyPools: pools(hzManager, `{"name":"vu","hoster":"vultr","role":"boss","type":"vc2-1c-2gb","location":"ams"}`, swManager)},
			wantKey:  "shoal:pools[1].role", wantMsg: `must be "manager" or "worker", got "boss"`},
		{name: "two pools of the same name are refused as duplicate node names",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"hz","hoster":"hetzner","role":"worker","type":"cx22","location":"fsn1"}`)},
			wantKey:  "shoal:pools[3].name", wantMsg: `is also used by node "hz-1"`},
		{name: "a pool name with capitals is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"SW","hoster":"scaleway","role":"manager","type":"DEV1-S","location":"fr-par-1"}`)},
			wantKey:  "shoal:pools[2].name", wantMsg: "must start with a lowercase letter"},
		{name: "a label starting with shoal. is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"w","hoster":"hetzner","role":"worker","type":"cx22","location":"fsn1","labels":{"shoal.hoster":"x"}}`)},
			wantKey:  "shoal:pools[3].labels", wantMsg: `label key "shoal.hoster" is reserved`},
		{name: "a negative count is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"w","hoster":"hetzner","role":"worker","count":-1,"type":"cx22","location":"fsn1"}`)},
			wantKey:  "shoal:pools[3].count", wantMsg: "must be 0 or more, got -1"},
		{name: "an unknown provider is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"do","provider":"digitalocean","role":"manager","type":"s-1vcpu-1gb","location":"fra1"}`)},
			wantKey:  "shoal:pools[2].provider", wantMsg: "must be one of hcloud, vultr, scaleway, existing, local"},
		{name: "a hoster that names no provider needs one",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"ov","hoster":"ovh","role":"manager"}`)},
			wantKey:  "shoal:pools[2].provider", wantMsg: `hoster "ovh" names no provider`},
		{name: "a cloud pool without a type is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"sw","hoster":"scaleway","role":"manager","location":"fr-par-1"}`)},
			wantKey:  "shoal:pools[2].type", wantMsg: "is required for scaleway pools"},
		{name: "a cloud pool without a location is refused",
			override: map[string]string{KeyPools: pools(`{"name":"hz","hoster":"hetzner","role":"manager","type":"cx22"}`, vuManager, swManager)},
			wantKey:  "shoal:pools[0].location", wantMsg: "is required for hcloud pools"},
		{name: "a vultr image that is no os id is refused",
			override: map[string]string{KeyPools: pools(hzManager, `{"name":"vu","hoster":"vultr","role":"manager","type":"vc2-1c-2gb","location":"ams","image":"debian-12"}`, swManager)},
			wantKey:  "shoal:pools[1].image", wantMsg: "must be a vultr os id"},
		{name: "a scaleway pool larger than a placement group is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"w","hoster":"scaleway","role":"worker","count":21,"type":"DEV1-S","location":"fr-par-1"}`)},
			wantKey:  "shoal:pools[3].count", wantMsg: "at most 20 servers"},
		{name: "an unknown pool field is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"sw","hoster":"scaleway","role":"manager","cont":1,"type":"DEV1-S","location":"fr-par-1"}`)},
			wantKey:  "shoal:pools[2].cont", wantMsg: `did you mean count?`},
		{name: "an existing host given by name is refused: firewalls need addresses",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"ex","provider":"existing","hoster":"ovh","role":"manager","addresses":["m1.example.com"]}`)},
			wantKey:  "shoal:pools[2].addresses[0]", wantMsg: "must be an IP address"},
		{name: "an existing pool whose count disagrees with its addresses is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, `{"name":"ex","provider":"existing","hoster":"ovh","role":"manager","count":2,"addresses":["198.51.100.7"]}`)},
			wantKey:  "shoal:pools[2].count", wantMsg: "is 2 but the pool lists 1 addresses"},
		{name: "two existing hosts on one address are refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"ex","provider":"existing","hoster":"ovh","role":"worker","addresses":["198.51.100.7","198.51.100.7"]}`)},
			wantKey:  "shoal:pools[3].addresses[1]", wantMsg: "is also used by"},
		{name: "a local pool without a simulated hoster is refused",
			override: map[string]string{KeyPools: pools(`{"name":"m","provider":"local","role":"manager"}`)},
			wantKey:  "shoal:pools[0].hoster", wantMsg: "is required for local pools"},
		{name: "one hoster on two providers is refused",
			override: map[string]string{KeyPools: pools(hzManager, vuManager, swManager, `{"name":"ex","provider":"existing","hoster":"hetzner","role":"worker","addresses":["198.51.100.7"]}`)},
			wantKey:  "shoal:pools[3].provider", wantMsg: `hoster "hetzner" already runs on provider hcloud`},
		{name: "a private key stored in plain text is refused",
			override: map[string]string{}, secret: map[string]bool{KeySSHPrivateKey: false},
			wantKey: "shoal:sshPrivateKey", wantMsg: "is stored in plain text"},
		{name: "a missing public key is refused when shoal creates servers",
			override: map[string]string{KeySSHPublicKey: ""},
			wantKey:  "shoal:sshPublicKey", wantMsg: "is required"},
		{name: "a public key that is no key is refused",
			override: map[string]string{KeySSHPublicKey: "AAAAC3NzaC1lZDI1NTE5"},
			wantKey:  "shoal:sshPublicKey", wantMsg: "authorized_keys format"},
		{name: "a swarm port opened to the public is refused",
			override: map[string]string{KeyFirewall: `{"publicTcp":[2377,22]}`},
			wantKey:  "shoal:firewall.publicTcp[0]", wantMsg: "2377 is swarm's management port"},
		{name: "a public source that is no network address is refused",
			override: map[string]string{KeyFirewall: `{"publicSources":["203.0.113.7/24"]}`},
			wantKey:  "shoal:firewall.publicSources[0]", wantMsg: "did you mean 203.0.113.0/24"},
		{name: "a data path port docker refuses is refused",
			override: map[string]string{KeySwarm: `{"dataPathPort":80}`},
			wantKey:  "shoal:swarm.dataPathPort", wantMsg: "must be between 1024 and 49151"},
		{name: "an unknown swarm option is refused",
			override: map[string]string{KeySwarm: `{"encrypt":true}`},
			wantKey:  "shoal:swarm.encrypt", wantMsg: `is not a field of swarm (fields: advertiseInterface,`},
		{name: "a stack name that is no cluster name points at shoal:cluster",
			stack:   "Prod",
			wantKey: "shoal:cluster", wantMsg: `(it defaults to the stack name "Prod"; set shoal:cluster)`},
		{name: "missing pools are refused",
			override: map[string]string{KeyPools: ""},
			wantKey:  "shoal:pools", wantMsg: "is required"},
		{name: "a negative generation is refused",
			override: map[string]string{KeyGenerations: `{"hz-1":-1}`},
			wantKey:  "shoal:generations.hz-1", wantMsg: "must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := tt.stack
			if stack == "" {
				stack = "prod"
			}
			c := testConfig(stack, tt.override)
			maps.Copy(c.Secret, tt.secret)
			_, _, err := Parse(c)
			if err == nil {
				t.Fatalf("Parse accepted the config, want %s: %s", tt.wantKey, tt.wantMsg)
			}
			var keys []string
			for _, ce := range ConfigErrors(err) {
				keys = append(keys, ce.Key)
				if ce.Key == tt.wantKey && strings.Contains(ce.Msg, tt.wantMsg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got keys %q:\n%v", tt.wantKey, tt.wantMsg, keys, err)
		})
	}
}

func TestParseRefusesAPrivateKeyThatIsNotSet(t *testing.T) {
	c := testConfig("prod", nil)
	delete(c.Values, KeySSHPrivateKey)
	_, _, err := Parse(c)
	ces := ConfigErrors(err)
	if len(ces) != 1 || ces[0].Key != "shoal:sshPrivateKey" || !strings.Contains(ces[0].Msg, "pulumi config set --secret") {
		t.Errorf("errors = %v, want one at shoal:sshPrivateKey saying how to set it", err)
	}
}

func TestParseReportsEveryProblemOnce(t *testing.T) {
	// A pool of three workers with a reserved label: one problem, not three.
	c := testConfig("prod", map[string]string{KeyPools: "[" + hzManager + "," + vuManager + "," + swManager +
		`,{"name":"w","hoster":"hetzner","role":"worker","count":3,"type":"cx22","location":"fsn1","labels":{"shoal.x":"y"}}]`})
	_, _, err := Parse(c)
	if got := len(ConfigErrors(err)); got != 1 {
		t.Errorf("got %d problems, want 1:\n%v", got, err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "shoal:pools[3].labels: ") {
		t.Errorf("error = %q, want it to start with the key", err)
	}
}

func TestSpecNodesCarryWhatDriversNeed(t *testing.T) {
	s, _, err := Parse(testConfig("prod", map[string]string{KeyGenerations: `{"vu-1":3}`}))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Nodes()[1]
	want := node.Spec{Cluster: "prod", Name: "vu-1", Pool: "vu", Index: 1, Hoster: "vultr", Provider: "vultr", Role: "manager",
		Type: "vc2-1c-2gb", Location: "ams", Image: "2136", Generation: 3, SSHPublicKey: testPublicKey}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("node = %+v\nwant   %+v", got, want)
	}
}
