// Package node owns the values that pass between shoal's Pulumi program
// (package infra) and its hoster drivers (infra/hcloud, infra/vultr,
// infra/scaleway, infra/existing, infra/local): the hoster and node a
// driver is asked to build, the server it hands back, the firewall it
// applies, and the cloud-init every fresh server boots with.
//
// Everything here is a value or a pure function. It imports the Pulumi SDK
// for output types only and must not import infra or any driver.
package node

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Providers a pool can run on.
const (
	ProviderHcloud   = "hcloud"
	ProviderVultr    = "vultr"
	ProviderScaleway = "scaleway"
	ProviderExisting = "existing"
	ProviderLocal    = "local"
)

// Roles a node can have in the swarm.
const (
	RoleManager = "manager"
	RoleWorker  = "worker"
)

// Hoster is one hoster of the cluster as its driver sees it: every pool
// whose nodes run there.
type Hoster struct {
	Cluster  string // cluster name; prefixes every resource name
	Name     string // hoster name used for labels and quorum: "hetzner", "hoster-a"
	Provider string // one of the Provider constants
	// SSHPublicKey is the authorized_keys line root accepts on fresh
	// servers ("" for existing hosts).
	SSHPublicKey string
	Pools        []Pool
	// Rules are what every firewall of the cluster lets in
	// (infra.FirewallRules). The public ones are known before any server
	// exists, so a driver can create a firewall that covers its servers
	// from their creation; the peer rules follow with Firewall.
	Rules []Rule
	// Account names the hoster's account, its own provider configuration
	// (shoal:accounts); "" is the provider's default configuration.
	Account string
	// ProviderResource is the account's explicit provider, nil for the
	// default configuration. The hoster's component passes it on to every
	// resource below it; a driver names it only where it registers or
	// invokes outside that component.
	ProviderResource pulumi.ProviderResource
}

// DefaultAccount names the provider's default configuration (hcloud:token,
// vultr:apiKey, ...) where an account name is needed.
const DefaultAccount = "default"

// AccountName is h.Account, or DefaultAccount.
func (h Hoster) AccountName() string {
	if h.Account == "" {
		return DefaultAccount
	}
	return h.Account
}

// ResourceName is the logical name of the hoster's component,
// "<cluster>-<hoster>"; the driver names its children
// "<ResourceName>-<part>".
func (h Hoster) ResourceName() string { return h.Cluster + "-" + h.Name }

// Pool is a group of identical nodes at one hoster.
type Pool struct {
	Name     string
	Role     string
	Count    int
	Type     string // server type or plan; for local pools the lab variant
	Location string // location, region or zone as the provider names it
	Image    string
}

// Spec is one node to build. Names come from the stack config
// ("<pool>-<n>"), never from positions or generated values.
type Spec struct {
	Cluster  string
	Name     string // "<pool>-<n>", 1-based
	Pool     string
	Index    int // n of the name: the node's 1-based position in its pool
	Hoster   string
	Provider string
	Role     string
	Type     string
	Location string
	Image    string
	Labels   map[string]string
	// Address, User and Port are set for existing hosts only.
	Address string
	User    string
	Port    int
	// Generation is bumped to replace the node's server: the driver passes
	// it as pulumi.ReplacementTrigger, so a change replaces the server
	// under the same logical name.
	Generation   int
	SSHPublicKey string
}

// ResourceName is the logical name of the node's component,
// "<cluster>-<node>"; drivers name the node's children
// "<ResourceName>-<part>" and use it as the server's own name where the
// hoster has one.
func (s Spec) ResourceName() string { return s.Cluster + "-" + s.Name }

// Server is what a driver built for one node.
type Server struct {
	Name string // node name
	// Address is the public address bootstrap connects to and the other
	// nodes' firewalls let in.
	Address pulumi.StringOutput
	// HostKey is the server's SSH host key in authorized_keys format when
	// the driver knows it (HasHostKey); else the swarm trusts it on first
	// use.
	HostKey    pulumi.StringOutput
	HasHostKey bool
	User       string // "" = the swarm's default (root)
	Port       int    // 0 = the swarm's default (22)
	// Resources are what the swarm has to wait for (the server and
	// whatever makes it reachable); empty for existing hosts.
	Resources []pulumi.Resource
	// ID is the hoster's id of the server ("" output for existing hosts).
	ID pulumi.IDOutput
}
