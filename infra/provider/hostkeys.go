package provider

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// pinnedKeys decides the host key to pin for each node, by name: the
// node's hostKey input, else the key the previous state recorded for the
// same node at the same address and port. A node with neither is trusted on
// first use. Pure.
func pinnedKeys(nodes, prev []ClusterNode, prevKeys map[string]string) map[string]string {
	was := map[string]ClusterNode{}
	for _, n := range prev {
		was[n.Name] = n
	}
	pins := map[string]string{}
	for _, n := range nodes {
		switch o, ok := was[n.Name]; {
		case n.HostKey != "":
			pins[n.Name] = n.HostKey
		case ok && prevKeys[n.Name] != "" && o.Address == n.Address && portOf(o) == portOf(n):
			pins[n.Name] = prevKeys[n.Name]
		}
	}
	return pins
}

// knownHostsFile is a temporary known_hosts file that pins host keys for
// one run. Host keys are public: the file holds no secret.
type knownHostsFile struct {
	dir, Path string
}

// writeKnownHosts writes the pinned keys of nodes (by name) into a new
// temporary known_hosts file.
func writeKnownHosts(nodes []ClusterNode, pins map[string]string) (*knownHostsFile, error) {
	var buf bytes.Buffer
	for _, n := range nodes {
		key := pins[n.Name]
		if key == "" {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
		if err != nil {
			return nil, fmt.Errorf("node %s: host key %q: %w", n.Name, key, err)
		}
		buf.WriteString(knownhosts.Line([]string{hostPort(n)}, pk) + "\n")
	}
	dir, err := os.MkdirTemp("", "shoal-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	f := &knownHostsFile{dir: dir, Path: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(f.Path, buf.Bytes(), 0o600); err != nil {
		f.Remove()
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	return f, nil
}

// Remove deletes the file.
func (f *knownHostsFile) Remove() { _ = os.RemoveAll(f.dir) }

// Keys reads back the key of each node (pinned, or recorded on first use),
// by name, in authorized_keys format without a comment.
func (f *knownHostsFile) Keys(nodes []ClusterNode) (map[string]string, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	byHost := map[string]string{}
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		var hosts []string
		var key ssh.PublicKey
		_, hosts, key, _, rest, err = ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, fmt.Errorf("known hosts %s: %w", f.Path, err)
		}
		for _, h := range hosts {
			if _, seen := byHost[h]; !seen {
				byHost[h] = authorizedKey(key)
			}
		}
	}
	out := map[string]string{}
	for _, n := range nodes {
		if k, ok := byHost[knownhosts.Normalize(hostPort(n))]; ok {
			out[n.Name] = k
		}
	}
	return out, nil
}

func hostPort(n ClusterNode) string {
	return net.JoinHostPort(n.Address, strconv.Itoa(portOf(n)))
}

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}
