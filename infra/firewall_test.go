package infra

import (
	"reflect"
	"testing"

	"github.com/shoalops/shoal/infra/node"
)

func TestFirewallRules(t *testing.T) {
	world := []string{"0.0.0.0/0", "::/0"}
	swarm := func(dataPath int) []node.Rule {
		return []node.Rule{
			{Protocol: "tcp", Port: 2377, Peers: true, Why: "swarm cluster management"},
			{Protocol: "tcp", Port: 7946, Peers: true, Why: "swarm gossip"},
			{Protocol: "udp", Port: 7946, Peers: true, Why: "swarm gossip"},
			{Protocol: "udp", Port: dataPath, Peers: true, Why: "swarm overlay data path"},
			{Protocol: "esp", Peers: true, Why: "swarm encrypted overlays"},
		}
	}
	tests := []struct {
		name     string
		fw       Firewall
		dataPath int
		want     []node.Rule
	}{
		{name: "the defaults open ssh, http and https to the world and swarm to peers only",
			fw: Firewall{PublicTCP: DefaultPublicTCP, PublicSources: world}, dataPath: 4789,
			want: append([]node.Rule{
				{Protocol: "tcp", Port: 22, Public: world, Why: "public"},
				{Protocol: "tcp", Port: 80, Public: world, Why: "public"},
				{Protocol: "tcp", Port: 443, Public: world, Why: "public"},
			}, swarm(4789)...)},
		{name: "a custom data path port is what peers may send overlay traffic to",
			fw: Firewall{PublicTCP: []int{22}, PublicSources: []string{"203.0.113.0/24"}}, dataPath: 4790,
			want: append([]node.Rule{{Protocol: "tcp", Port: 22, Public: []string{"203.0.113.0/24"}, Why: "public"}}, swarm(4790)...)},
		{name: "no public ports leaves only the peer rules",
			fw: Firewall{PublicSources: world}, dataPath: 0,
			want: swarm(4789)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FirewallRules(tt.fw, tt.dataPath)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FirewallRules =\n%+v\nwant\n%+v", got, tt.want)
			}
			for _, r := range got {
				if r.Peers && len(r.Public) > 0 {
					t.Errorf("rule %s is both public and peers-only", r.Name())
				}
			}
		})
	}
}

func TestPeersFor(t *testing.T) {
	nodes := []node.Spec{
		{Name: "hz-1", Hoster: "hetzner"}, {Name: "vu-1", Hoster: "vultr"}, {Name: "sw-1", Hoster: "scaleway"},
		{Name: "hzw-1", Hoster: "hetzner"}, {Name: "hzw-2", Hoster: "hetzner"},
	}
	tests := []struct {
		name, hoster string
		want         []string
	}{
		{"a hoster with one node lets in every other node but not itself", "vultr", []string{"hz-1", "sw-1", "hzw-1", "hzw-2"}},
		{"a hoster with several nodes lets its own nodes reach each other", "hetzner", []string{"hz-1", "vu-1", "sw-1", "hzw-1", "hzw-2"}},
		{"a hoster without nodes lets in all of them", "ovh", []string{"hz-1", "vu-1", "sw-1", "hzw-1", "hzw-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PeersFor(tt.hoster, nodes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PeersFor(%q) = %q, want %q", tt.hoster, got, tt.want)
			}
		})
	}
}
