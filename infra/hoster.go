package infra

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/existing"
	"github.com/shoalops/shoal/infra/hcloud"
	"github.com/shoalops/shoal/infra/local"
	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/infra/scaleway"
	"github.com/shoalops/shoal/infra/vultr"
)

// Descriptors lists the hoster drivers, in the order help and messages
// name them. It is the one registration of a driver: spec parsing,
// defaults, help, Pulumi.yaml's descriptions (checked by a test) and
// `shoal init` read it, and the program builds hosters with it. A new
// hoster is one package with a Describe and one line here.
func Descriptors() []node.Descriptor {
	return []node.Descriptor{
		hcloud.Describe(),
		vultr.Describe(),
		scaleway.Describe(),
		existing.Describe(),
		local.Describe(),
	}
}

// Descriptor returns the descriptor of provider, or of the provider a
// hoster name is an alias of ("hetzner").
func Descriptor(provider string) (node.Descriptor, bool) {
	for _, d := range Descriptors() {
		if d.Provider == provider || slices.Contains(d.Aliases, provider) {
			return d, true
		}
	}
	return node.Descriptor{}, false
}

// Hoster is one hoster's driver (node.HosterDriver).
type Hoster = node.HosterDriver

// Account is one entry of shoal:accounts (node.Account).
type Account = node.Account

// runDrivers holds the drivers of one run: what hosters of one provider
// share (hcloud: one SSH key per account) lives in their driver.
type runDrivers struct {
	drivers map[string]node.Driver
}

func newRunDrivers() *runDrivers {
	r := &runDrivers{drivers: map[string]node.Driver{}}
	for _, d := range Descriptors() {
		r.drivers[d.Provider] = d.NewDriver()
	}
	return r
}

// newHoster returns the driver of h's provider, its per-hoster resources
// registered under parent.
func (r *runDrivers) newHoster(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (Hoster, error) {
	d, ok := r.drivers[h.Provider]
	if !ok {
		return nil, fmt.Errorf("hoster %s: unknown provider %q", h.Name, h.Provider)
	}
	return d.New(ctx, h, parent)
}

// AccountProviderName is the logical name of an account's provider
// resource: "<cluster>-account-<account>".
func AccountProviderName(cluster, account string) string { return cluster + "-account-" + account }

// newAccountProvider registers a's explicit provider with its token (a
// secret output).
func newAccountProvider(ctx *pulumi.Context, cluster string, a Account, token pulumi.StringOutput) (pulumi.ProviderResource, error) {
	d, ok := Descriptor(a.Provider)
	if !ok || d.NewProvider == nil {
		return nil, fmt.Errorf("account %s: provider %q has no accounts", a.Name, a.Provider)
	}
	return d.NewProvider(ctx, AccountProviderName(cluster, a.Name), a, token)
}
