package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/infra"
)

// OutputNode is one entry of the program's `nodes` stack output.
type OutputNode struct {
	Name       string `json:"name"`
	Hoster     string `json:"hoster"`
	Provider   string `json:"provider,omitempty"`
	Role       string `json:"role"`
	Address    string `json:"address"`
	Region     string `json:"region,omitempty"`
	Generation int    `json:"generation,omitempty"`
	// HostKey is the server's own SSH host key (authorized_keys format)
	// when its driver knows it: current after a run that left the swarm
	// resource out (UpServers), whose hostKeys output is then stale.
	HostKey string `json:"hostKey,omitempty"`
	// Successor: the node serves a pool's place in the place of the node
	// the pool names there (`shoal node replace`, ADR 0034).
	Successor *infra.Successor `json:"successor,omitempty"`
}

// OutputNodes reads the `nodes` stack output.
func OutputNodes(outputs auto.OutputMap) ([]OutputNode, error) {
	raw, ok := outputs["nodes"]
	if !ok {
		return nil, errors.New("stack output `nodes` missing")
	}
	b, err := json.Marshal(raw.Value)
	if err != nil {
		return nil, err
	}
	var nodes []OutputNode
	if err := json.Unmarshal(b, &nodes); err != nil {
		return nil, fmt.Errorf("stack output `nodes`: %w", err)
	}
	return nodes, nil
}

// OutputHostKeys reads the `hostKeys` stack output (node name -> the SSH
// host key the swarm resource pinned); none is an empty map.
func OutputHostKeys(outputs auto.OutputMap) (map[string]string, error) {
	keys := map[string]string{}
	raw, ok := outputs["hostKeys"]
	if !ok {
		return keys, nil
	}
	b, err := json.Marshal(raw.Value)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("stack output `hostKeys`: %w", err)
	}
	return keys, nil
}

// InventoryPath is where the inventory of stack's nodes lives:
// $home/stacks/<stack>/inventory.yaml, beside its known_hosts and SSH key.
func InventoryPath(home, stack string) string {
	return filepath.Join(home, "stacks", stack, "inventory.yaml")
}

// WriteInventory writes the inventory of the stack's nodes (so status,
// bootstrap and heal work on it) and its known_hosts, both from the stack
// outputs, and returns the inventory's path. Both files are replaced
// atomically: heal reads them while it rewrites them.
func (w *Workspace) WriteInventory(outputs auto.OutputMap) (string, error) {
	path := InventoryPath(w.o.Home, w.o.Stack)
	if err := WriteInventoryFile(path, w.KeyPath, w.o.Stack, outputs); err != nil {
		return "", err
	}
	return path, nil
}

// WriteInventoryFile writes the inventory of a stack's nodes to path and
// their pinned host keys to known_hosts beside it, from the stack outputs
// (of `shoal up`, or `pulumi stack output --json` after a plain `pulumi
// up`); identityFile is the SSH private key of shoal:sshPrivateKey, stack
// the cluster name when the outputs name none.
func WriteInventoryFile(path, identityFile, stack string, outputs auto.OutputMap) error {
	nodes, err := OutputNodes(outputs)
	if err != nil {
		return err
	}
	hostKeys, err := OutputHostKeys(outputs)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	cluster := stack
	if c, ok := outputs[infra.OutputCluster].Value.(string); ok && c != "" {
		cluster = c // the program's name for it (local-<id> for a local stack)
	}
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: cluster},
		SSH:     inventory.SSH{User: "root", Port: 22, IdentityFile: identityFile, KnownHosts: filepath.Join(dir, "known_hosts")},
	}
	for _, n := range nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.Name, Address: n.Address, Role: n.Role, Hoster: n.Hoster, Region: n.Region})
	}
	b, err := inventory.Marshal(inv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The servers' own host keys, else those the swarm resource pinned,
	// are the truth: known_hosts is rewritten from them, nothing is
	// trusted on first use afterwards.
	var kh strings.Builder
	for _, n := range nodes {
		k, ok := hostKeys[n.Name]
		if n.HostKey != "" {
			k, ok = n.HostKey, true
		}
		if !ok {
			continue
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			return fmt.Errorf("host key of %s in stack output: %w", n.Name, err)
		}
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(n.Address, "22"))}, pub) + "\n")
	}
	if err := writeAtomic(inv.SSH.KnownHosts, []byte(kh.String())); err != nil {
		return fmt.Errorf("write stack known_hosts: %w", err)
	}
	if err := writeAtomic(path, b); err != nil {
		return fmt.Errorf("write stack inventory: %w", err)
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
