package node

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Descriptor is everything shoal knows of one hoster driver: spec parsing,
// defaults, help, Pulumi.yaml's descriptions and `shoal init` read it, and
// the program builds hosters with it. Each driver package returns its own
// from Describe; infra.Descriptors lists them, one line per driver, so a
// new hoster is one package and one registration line.
type Descriptor struct {
	// Provider is the name pools use ("provider: hcloud").
	Provider string
	// Aliases are hoster names that name the provider ("hetzner").
	Aliases []string
	// Title is the hoster's name for people: "Hetzner Cloud".
	Title string
	// Cloud: the driver creates servers at a cloud provider: pools need a
	// type and a location, can name an account, and get DefaultImage.
	Cloud bool
	// DefaultImage is the image of a pool that names none; ImageHelp says
	// what an image is at this provider ("image name", "os id").
	DefaultImage string
	ImageHelp    string
	// ExampleType and ExampleLocation appear in messages, help and the
	// projects `shoal init` writes.
	ExampleType     string
	ExampleLocation string
	// ConfigKeys are the keys the provider's default configuration needs
	// ("hcloud:token"), each a secret unless listed in PlainKeys.
	ConfigKeys []string
	PlainKeys  []string
	// EnvVars are the environment variables the provider plugin reads
	// instead of ConfigKeys, in the same order.
	EnvVars []string
	// MaxPerPool is the most nodes a pool may hold (0: no limit), and why.
	MaxPerPool    int
	MaxPerPoolWhy string
	// CheckImage returns a problem with an image ("" when it is fine);
	// nil accepts any.
	CheckImage func(image string) string
	// NewDriver returns the driver for one run of the program.
	NewDriver func() Driver
	// NewProvider registers an account's explicit provider with its
	// token (a secret); nil for drivers without accounts.
	NewProvider func(ctx *pulumi.Context, name string, a Account, token pulumi.StringOutput) (pulumi.ProviderResource, error)
}

// Driver builds the hosters of one provider in one run; it may keep what
// they share (hcloud: one SSH key per account).
type Driver interface {
	New(ctx *pulumi.Context, h Hoster, parent pulumi.Resource) (HosterDriver, error)
}

// HosterDriver is one hoster's driver. Its constructor registers what the
// hoster needs once (SSH key, placement groups, the firewall a server must
// name at creation) under the hoster's component; Server then builds one
// node's server under the node's component, and Firewall, called once
// every server of the cluster exists, lets the other nodes in. Firewall
// returns the resources the swarm must wait for.
type HosterDriver interface {
	Name() string // the provider: "hcloud", "vultr", "scaleway", "existing", "local"
	Server(ctx *pulumi.Context, n Spec, parent pulumi.Resource) (Server, error)
	Firewall(ctx *pulumi.Context, fw Firewall, parent pulumi.Resource) ([]pulumi.Resource, error)
}

// Account is one entry of shoal:accounts: a project or account at a
// cloud provider other than the provider's default configuration
// (hcloud:token, vultr:apiKey, scaleway:*).
type Account struct {
	Name     string
	Provider string
	// TokenKey is the config key that holds the account's API token as a
	// secret, outside namespace shoal: "hetznerB:token" (hcloud: the
	// token; vultr: the API key; scaleway: the secret key).
	TokenKey string
	// AccessKey and ProjectID are scaleway's (required there).
	AccessKey string
	ProjectID string
}
