// Package existing is shoal's driver for hosts that already run anywhere:
// it creates nothing and hands the addresses from the stack config to the
// swarm. Their firewalls stay the operator's. It imports infra/node and
// the Pulumi SDK; it must not import infra.
package existing

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/node"
)

// Describe is the existing driver's registration.
func Describe() node.Descriptor {
	return node.Descriptor{Provider: node.ProviderExisting, Title: "hosts you already run", NewDriver: func() node.Driver { return driver{} }}
}

type driver struct{}

func (driver) New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (node.HosterDriver, error) {
	return New(ctx, h, parent)
}

// Hoster hands over existing hosts.
type Hoster struct {
	h node.Hoster
}

// New registers nothing.
func New(_ *pulumi.Context, h node.Hoster, _ pulumi.Resource) (*Hoster, error) {
	return &Hoster{h: h}, nil
}

// Name returns "existing".
func (d *Hoster) Name() string { return node.ProviderExisting }

// Server returns n's configured address, user and port; nothing is
// registered.
func (d *Hoster) Server(_ *pulumi.Context, n node.Spec, _ pulumi.Resource) (node.Server, error) {
	if n.Address == "" {
		return node.Server{}, fmt.Errorf("existing %s: node %s has no address", n.Hoster, n.Name)
	}
	return node.Server{
		Name:    n.Name,
		Address: pulumi.String(n.Address).ToStringOutput(),
		User:    n.User,
		Port:    n.Port,
		ID:      pulumi.ID("").ToIDOutput(),
	}, nil
}

// Firewall manages nothing: it says which traffic the operator must let
// in on these hosts.
func (d *Hoster) Firewall(ctx *pulumi.Context, fw node.Firewall, _ pulumi.Resource) ([]pulumi.Resource, error) {
	var need []string
	for _, r := range fw.Rules {
		if r.Peers {
			need = append(need, r.Name())
		}
	}
	if len(need) > 0 && len(fw.Servers) > 0 {
		var peers []string
		for _, p := range fw.Peers {
			peers = append(peers, p.Name)
		}
		msg := fmt.Sprintf("hoster %s: shoal manages no firewall on existing hosts; let %s in from %s",
			d.h.Name, strings.Join(need, ", "), strings.Join(peers, ", "))
		if err := ctx.Log.Warn(msg, nil); err != nil {
			return nil, fmt.Errorf("existing %s: %w", d.h.Name, err)
		}
	}
	return nil, nil
}
