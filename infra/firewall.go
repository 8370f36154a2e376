package infra

import (
	"slices"

	"github.com/shoalops/shoal/infra/node"
)

// FirewallRules computes what every hoster's firewall lets in: each port of
// fw.PublicTCP from fw.PublicSources, and swarm's own traffic only from
// the cluster's other nodes (peer rules): 2377/tcp (cluster management),
// 7946/tcp and udp (gossip), the data path port over udp (VXLAN overlay
// traffic) and ESP (IP protocol 50, encrypted overlays). Everything else
// inbound is dropped. FirewallRules is pure.
func FirewallRules(fw Firewall, dataPathPort int) []node.Rule {
	if dataPathPort == 0 {
		dataPathPort = DefaultDataPathPort
	}
	var rules []node.Rule
	for _, port := range fw.PublicTCP {
		rules = append(rules, node.Rule{Protocol: node.TCP, Port: port, Public: slices.Clone(fw.PublicSources), Why: "public"})
	}
	return append(rules,
		node.Rule{Protocol: node.TCP, Port: SwarmManagementPort, Peers: true, Why: "swarm cluster management"},
		node.Rule{Protocol: node.TCP, Port: SwarmGossipPort, Peers: true, Why: "swarm gossip"},
		node.Rule{Protocol: node.UDP, Port: SwarmGossipPort, Peers: true, Why: "swarm gossip"},
		node.Rule{Protocol: node.UDP, Port: dataPathPort, Peers: true, Why: "swarm overlay data path"},
		node.Rule{Protocol: node.ESP, Peers: true, Why: "swarm encrypted overlays"},
	)
}

// PeersFor returns the names of the nodes a hoster's firewall lets swarm
// traffic in from: the nodes that are "other" to at least one node behind
// it. That is every node at another hoster, and the hoster's own nodes
// when it has more than one (they talk to each other); a hoster's only
// node never appears in its own firewall. Order follows nodes. PeersFor is
// pure.
func PeersFor(hoster string, nodes []node.Spec) []string {
	own := 0
	for _, n := range nodes {
		if n.Hoster == hoster {
			own++
		}
	}
	var out []string
	for _, n := range nodes {
		if n.Hoster != hoster || own > 1 {
			out = append(out, n.Name)
		}
	}
	return out
}
