package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/client"
)

// A partition cuts a hoster's nodes off from the nodes of the other hosters,
// as if that hoster's network were down, while all nodes stay on the one lab
// network and the host keeps reaching every node over SSH. It is made of
// iptables DROP rules inside the node containers: every node drops packets
// (INPUT, and FORWARD towards its inner containers) that come from a node on
// the other side. Packets are dropped, not refused, so connections time out
// as in a real outage. The rules carry the comment shoal-partition:<hoster>,
// so partitions of different hosters can overlap and be lifted one by one.
// The rules live in the container's network namespace: a node that is killed
// and started again has none.

// partitionComment tags the rules of hoster's partition.
func partitionComment(hoster string) string { return "shoal-partition:" + hoster }

// partitionDrops says, for each node, which addresses it must drop to cut
// hoster off: nodes of hoster drop everyone else, the others drop hoster's
// nodes. Nodes without an address are left out.
func partitionDrops(nodes []Node, hoster string) map[string][]string {
	drops := map[string][]string{}
	for _, n := range nodes {
		if n.Address == "" {
			continue
		}
		for _, o := range nodes {
			if o.Address == "" || o.Name == n.Name {
				continue
			}
			if (n.Hoster == hoster) != (o.Hoster == hoster) {
				drops[n.Name] = append(drops[n.Name], o.Address)
			}
		}
		slices.Sort(drops[n.Name])
	}
	return drops
}

// partitionScript installs the DROP rules for addrs, once: rules already
// there are not added again.
func partitionScript(hoster string, addrs []string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, chain := range []string{"INPUT", "FORWARD"} {
		for _, a := range addrs {
			rule := fmt.Sprintf("%s -s %s -m comment --comment %s -j DROP", chain, a, partitionComment(hoster))
			fmt.Fprintf(&b, "iptables -C %s 2>/dev/null || iptables -I %s\n", rule, rule)
		}
	}
	return b.String()
}

// unpartitionScript deletes every rule tagged with hoster's comment, whatever
// address it names (a node may have a new address since).
func unpartitionScript(hoster string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, chain := range []string{"INPUT", "FORWARD"} {
		fmt.Fprintf(&b, "rules=$(iptables -S %s)\n", chain)
		fmt.Fprintf(&b, "printf '%%s\\n' \"$rules\" | grep -E -- '--comment \"?%s\"? ' | sed 's/^-A /-D /' | while read -r rule; do eval \"iptables $rule\"; done\n",
			partitionComment(hoster))
	}
	return b.String()
}

// Partition cuts hoster's nodes off from the nodes of all other hosters (see
// above). Every node must be running. Partitioning again changes nothing.
func Partition(ctx context.Context, docker Docker, l *Lab, hoster string) error {
	nodes, err := currentNodes(ctx, docker, l, hoster)
	if err != nil {
		return fmt.Errorf("lab %s: partition %s: %w", l.Name, hoster, err)
	}
	for _, n := range nodes {
		if n.Address == "" {
			return fmt.Errorf("lab %s: partition %s: node %s (container %s) is not running; start it first", l.Name, hoster, n.Name, n.Container)
		}
	}
	for _, n := range nodes {
		addrs := partitionDrops(nodes, hoster)[n.Name]
		if len(addrs) == 0 {
			continue
		}
		if _, err := execIn(ctx, docker, n.Container, "sh", "-c", partitionScript(hoster, addrs)); err != nil {
			return fmt.Errorf("lab %s: partition %s: node %s: %w", l.Name, hoster, n.Name, err)
		}
	}
	return nil
}

// Unpartition lifts hoster's partition: it removes the rules Partition
// installed for hoster from every running node. Partitions of other hosters
// stay. Lifting a partition that is not there changes nothing.
func Unpartition(ctx context.Context, docker Docker, l *Lab, hoster string) error {
	nodes, err := currentNodes(ctx, docker, l, hoster)
	if err != nil {
		return fmt.Errorf("lab %s: unpartition %s: %w", l.Name, hoster, err)
	}
	for _, n := range nodes {
		if n.Address == "" {
			continue // stopped: its rules went with its network namespace
		}
		if _, err := execIn(ctx, docker, n.Container, "sh", "-c", unpartitionScript(hoster)); err != nil {
			return fmt.Errorf("lab %s: unpartition %s: node %s: %w", l.Name, hoster, n.Name, err)
		}
	}
	return nil
}

// currentNodes is l.Nodes with the addresses the containers have now (empty
// for stopped ones). hoster must be one of the lab's.
func currentNodes(ctx context.Context, docker Docker, l *Lab, hoster string) ([]Node, error) {
	if !nameRE.MatchString(hoster) {
		return nil, fmt.Errorf("hoster name %q: use lower-case letters, digits and dashes", hoster)
	}
	if !slices.ContainsFunc(l.Nodes, func(n Node) bool { return n.Hoster == hoster }) {
		return nil, fmt.Errorf("no node of the lab is on hoster %q", hoster)
	}
	nodes := slices.Clone(l.Nodes)
	for i, n := range nodes {
		ins, err := docker.ContainerInspect(ctx, n.Container, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("node %s: inspect %s: %w", n.Name, n.Container, err)
		}
		nodes[i].Address = ""
		c := ins.Container
		if c.State != nil && c.State.Running && c.NetworkSettings != nil {
			if ep := c.NetworkSettings.Networks[l.Network]; ep != nil && ep.IPAddress.IsValid() {
				nodes[i].Address = ep.IPAddress.String()
			}
		}
	}
	return nodes, nil
}
