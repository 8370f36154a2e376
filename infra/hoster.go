package infra

import (
	"fmt"

	vultrsdk "github.com/dirien/pulumi-vultr/sdk/v2/go/vultr"
	hcloudsdk "github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	scalewaysdk "github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway"

	"github.com/shoalops/shoal/infra/existing"
	"github.com/shoalops/shoal/infra/hcloud"
	"github.com/shoalops/shoal/infra/local"
	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/infra/scaleway"
	"github.com/shoalops/shoal/infra/vultr"
)

// Hoster is one hoster's driver. Its constructor registers what the
// hoster needs once (SSH key, placement groups, the firewall a server must
// name at creation) under the hoster's component; Server then builds one
// node's server under the node's component, and Firewall, called once
// every server of the cluster exists, lets the other nodes in. Firewall
// returns the resources the swarm must wait for.
type Hoster interface {
	Name() string // the provider: "hcloud", "vultr", "scaleway", "existing", "local"
	Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error)
	Firewall(ctx *pulumi.Context, fw node.Firewall, parent pulumi.Resource) ([]pulumi.Resource, error)
}

var (
	_ Hoster = (*hcloud.Hoster)(nil)
	_ Hoster = (*vultr.Hoster)(nil)
	_ Hoster = (*scaleway.Hoster)(nil)
	_ Hoster = (*existing.Hoster)(nil)
	_ Hoster = (*local.Hoster)(nil)
)

// runDrivers holds the drivers' state shared by the hosters of one run.
type runDrivers struct {
	hcloud *hcloud.Driver
}

func newRunDrivers() *runDrivers { return &runDrivers{hcloud: hcloud.NewDriver()} }

// newHoster returns the driver of h's provider, its per-hoster resources
// registered under parent.
func (r *runDrivers) newHoster(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (Hoster, error) {
	switch h.Provider {
	case node.ProviderHcloud:
		return r.hcloud.New(ctx, h, parent)
	case node.ProviderVultr:
		return vultr.New(ctx, h, parent)
	case node.ProviderScaleway:
		return scaleway.New(ctx, h, parent)
	case node.ProviderExisting:
		return existing.New(ctx, h, parent)
	case node.ProviderLocal:
		return local.New(ctx, h, parent)
	}
	return nil, fmt.Errorf("hoster %s: unknown provider %q", h.Name, h.Provider)
}

// AccountProviderName is the logical name of an account's provider
// resource: "<cluster>-account-<account>".
func AccountProviderName(cluster, account string) string { return cluster + "-account-" + account }

// newAccountProvider registers a's explicit provider with its token (a
// secret output).
func newAccountProvider(ctx *pulumi.Context, cluster string, a Account, token pulumi.StringOutput) (pulumi.ProviderResource, error) {
	name := AccountProviderName(cluster, a.Name)
	switch a.Provider {
	case node.ProviderHcloud:
		return hcloudsdk.NewProvider(ctx, name, &hcloudsdk.ProviderArgs{Token: token})
	case node.ProviderVultr:
		return vultrsdk.NewProvider(ctx, name, &vultrsdk.ProviderArgs{ApiKey: token})
	case node.ProviderScaleway:
		return scalewaysdk.NewProvider(ctx, name, &scalewaysdk.ProviderArgs{
			AccessKey: pulumi.String(a.AccessKey), SecretKey: token, ProjectId: pulumi.String(a.ProjectID),
		})
	}
	return nil, fmt.Errorf("account %s: provider %q has no accounts", a.Name, a.Provider)
}
