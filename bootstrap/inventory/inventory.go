// Package inventory owns the description of a cluster for `shoal bootstrap`:
// the YAML inventory file, its types and its validation. Validation is pure:
// it never touches a host. Nothing here imports SSH, Docker or Pulumi.
package inventory

// Roles a node can have in the swarm.
const (
	RoleManager = "manager"
	RoleWorker  = "worker"
)

// Inventory is a parsed inventory file.
type Inventory struct {
	// Path is the file the inventory was read from ("" when built in code);
	// errors name it.
	Path    string  `yaml:"-"`
	Cluster Cluster `yaml:"cluster"`
	SSH     SSH     `yaml:"ssh"`
	Nodes   []Node  `yaml:"nodes"`
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
}
