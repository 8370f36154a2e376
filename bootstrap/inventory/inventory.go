// Package inventory owns the description of a cluster for `shoal bootstrap`:
// the YAML inventory file, its types and its validation. Validation is pure:
// it never touches a host. Nothing here imports SSH, Docker or Pulumi.
package inventory

import "maps"

// Roles a node can have in the swarm.
const (
	RoleManager = "manager"
	RoleWorker  = "worker"
)

// Defaults Parse and SetDefaults fill in for fields left empty.
const (
	DefaultUser         = "root"
	DefaultSSHPort      = 22
	DefaultClusterName  = "shoal"
	DefaultDataPathPort = 4789
)

// Node labels shoal sets on every swarm node itself. Inventory labels must
// not use the ReservedLabelPrefix.
const (
	ReservedLabelPrefix = "shoal."
	LabelHoster         = "shoal.hoster"
	LabelRegion         = "shoal.region"
)

// Inventory is a parsed inventory file.
type Inventory struct {
	// Path is the file the inventory was read from ("" when built in code);
	// errors name it.
	Path    string  `yaml:"-"`
	Cluster Cluster `yaml:"cluster"`
	SSH     SSH     `yaml:"ssh"`
	Nodes   []Node  `yaml:"nodes"`
	// Backup configures `shoal backup` (optional).
	Backup Backup `yaml:"backup,omitempty"`

	// lines maps YAML paths ("cluster.name", "nodes[2].role") to the line
	// they were read from, so that Validate can point at them. Nil when the
	// inventory was built in code.
	lines map[string]int
}

// Cluster holds the options of the swarm as a whole.
type Cluster struct {
	// Name names the cluster; state (known hosts, unlock key) is kept under it.
	Name string `yaml:"name"`
	// AdvertiseInterface, if set, makes each node advertise the address of
	// this interface (e.g. eth1 for a private network) instead of Address.
	AdvertiseInterface string `yaml:"advertise_interface,omitempty"`
	// DataPathPort is the VXLAN port of overlay traffic (default 4789).
	DataPathPort uint32 `yaml:"data_path_port,omitempty"`
	// OverlayMTU is the MTU for overlay networks shoal creates (0: auto).
	OverlayMTU int `yaml:"overlay_mtu,omitempty"`
	// Autolock turns on swarm autolock (managers restart locked).
	Autolock bool `yaml:"autolock,omitempty"`
	// AllowSingleHosterQuorum accepts a layout where one hoster's outage
	// loses manager quorum.
	AllowSingleHosterQuorum bool `yaml:"allow_single_hoster_quorum,omitempty"`
}

// SSH holds connection defaults for every node.
type SSH struct {
	User string `yaml:"user,omitempty"` // default root
	Port int    `yaml:"port,omitempty"` // default 22
	// IdentityFile is a private key file; empty means use ssh-agent.
	IdentityFile string `yaml:"identity_file,omitempty"`
	// KnownHosts is the known_hosts file shoal manages (trust on first use).
	KnownHosts string `yaml:"known_hosts,omitempty"`
}

// Backup configures `shoal backup`.
type Backup struct {
	// Recipient is the age public key (age1...) backups are encrypted
	// to. Its identity (the private key) is kept off the cluster.
	Recipient string `yaml:"recipient,omitempty"`
	// To is where backups go when --to is not given: a directory or
	// s3://BUCKET/PREFIX (see `shoal backup --help`).
	To string `yaml:"to,omitempty"`
	// Schedule is when `shoal backup --schedule` backs up: "every
	// DURATION" or "daily HH:MM" (UTC); see backup.ParseSchedule.
	Schedule string `yaml:"schedule,omitempty"`
	// Keep and KeepDaily are the retention of `shoal backup prune` and
	// of each scheduled backup (backup.Retention); 0 keeps all.
	Keep      int `yaml:"keep,omitempty"`
	KeepDaily int `yaml:"keep_daily,omitempty"`
}

// Node is one host of the cluster.
type Node struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"` // IP or DNS name SSH reaches
	// AdvertiseAddress overrides the address the node advertises to the
	// swarm (e.g. a private address); default: Cluster.AdvertiseInterface's
	// address, else Address.
	AdvertiseAddress string            `yaml:"advertise_address,omitempty"`
	User             string            `yaml:"user,omitempty"` // overrides SSH.User
	Port             int               `yaml:"port,omitempty"` // overrides SSH.Port
	Role             string            `yaml:"role"`
	Hoster           string            `yaml:"hoster"`
	Region           string            `yaml:"region,omitempty"`
	Labels           map[string]string `yaml:"labels,omitempty"`

	// Line is the line of the file the node was read from (0 when built in
	// code); errors name it.
	Line int `yaml:"-"`
}

// SetDefaults fills in the defaults for fields left empty: ssh.user root,
// ssh.port 22, cluster.name "shoal" and cluster.data_path_port 4789. Parse
// calls it; call it on an inventory built in code.
func (inv *Inventory) SetDefaults() {
	if inv.SSH.User == "" {
		inv.SSH.User = DefaultUser
	}
	if inv.SSH.Port == 0 {
		inv.SSH.Port = DefaultSSHPort
	}
	if inv.Cluster.Name == "" {
		inv.Cluster.Name = DefaultClusterName
	}
	if inv.Cluster.DataPathPort == 0 {
		inv.Cluster.DataPathPort = DefaultDataPathPort
	}
}

// Managers returns the manager nodes in inventory order.
func (inv *Inventory) Managers() []Node { return inv.withRole(RoleManager) }

// Workers returns the worker nodes in inventory order.
func (inv *Inventory) Workers() []Node { return inv.withRole(RoleWorker) }

func (inv *Inventory) withRole(role string) []Node {
	var out []Node
	for _, n := range inv.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node called name; ok is false when there is none.
func (inv *Inventory) Node(name string) (n Node, ok bool) {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// UserFor returns the SSH user for n: the node's own, else ssh.user, else
// DefaultUser.
func (inv *Inventory) UserFor(n Node) string {
	switch {
	case n.User != "":
		return n.User
	case inv.SSH.User != "":
		return inv.SSH.User
	default:
		return DefaultUser
	}
}

// PortFor returns the SSH port for n: the node's own, else ssh.port, else
// DefaultSSHPort.
func (inv *Inventory) PortFor(n Node) int {
	switch {
	case n.Port != 0:
		return n.Port
	case inv.SSH.Port != 0:
		return inv.SSH.Port
	default:
		return DefaultSSHPort
	}
}

// SwarmLabels returns the labels to set on n's swarm node: a copy of
// n.Labels plus shoal.hoster and, when the node has a region, shoal.region.
// Shoal's own labels win over inventory labels of the same key (Validate
// refuses those).
func (n Node) SwarmLabels() map[string]string {
	out := make(map[string]string, len(n.Labels)+2)
	maps.Copy(out, n.Labels)
	out[LabelHoster] = n.Hoster
	if n.Region != "" {
		out[LabelRegion] = n.Region
	}
	return out
}
