// Package vultr is shoal's Vultr driver: one SSH key and one firewall
// group per hoster, an instance per node booting the shared cloud-init in
// that group, and one firewall rule per rule and source (Vultr rules take
// a single subnet each). It imports infra/node and the pulumi-vultr SDK;
// it must not import infra.
package vultr

import (
	"fmt"
	"strconv"

	"github.com/dirien/pulumi-vultr/sdk/v2/go/vultr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/node"
)

// Hoster builds a hoster's nodes at Vultr.
type Hoster struct {
	h     node.Hoster
	key   *vultr.SSHKey
	group *vultr.FirewallGroup
}

// Describe is the vultr driver's registration.
func Describe() node.Descriptor {
	return node.Descriptor{
		Provider: node.ProviderVultr, Title: "Vultr", Cloud: true,
		DefaultImage: "2136", ImageHelp: "os id (2136: Debian 12 x64)",
		ExampleType: "vc2-1c-2gb", ExampleLocation: "ams",
		ConfigKeys: []string{"vultr:apiKey"},
		EnvVars:    []string{"VULTR_API_KEY"},
		CheckImage: func(image string) string {
			if _, err := strconv.Atoi(image); err != nil {
				return fmt.Sprintf("must be a vultr os id such as 2136 (Debian 12), got %q", image)
			}
			return ""
		},
		NewDriver: func() node.Driver { return driver{} },
		NewProvider: func(ctx *pulumi.Context, name string, a node.Account, token pulumi.StringOutput) (pulumi.ProviderResource, error) {
			return vultr.NewProvider(ctx, name, &vultr.ProviderArgs{ApiKey: token})
		},
	}
}

type driver struct{}

func (driver) New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (node.HosterDriver, error) {
	return New(ctx, h, parent)
}

// New registers the hoster's SSH key and its firewall group; instances
// join the group at creation, rules come with Firewall.
func New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (*Hoster, error) {
	name := h.ResourceName()
	key, err := vultr.NewSSHKey(ctx, name+"-ssh-key", &vultr.SSHKeyArgs{
		Name:   pulumi.String(name),
		SshKey: pulumi.String(h.SSHPublicKey),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("vultr %s: ssh key: %w", h.Name, err)
	}
	group, err := vultr.NewFirewallGroup(ctx, name+"-firewall", &vultr.FirewallGroupArgs{
		Description: pulumi.String("shoal " + name),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("vultr %s: firewall group: %w", h.Name, err)
	}
	return &Hoster{h: h, key: key, group: group}, nil
}

// Name returns "vultr".
func (d *Hoster) Name() string { return node.ProviderVultr }

// Server registers n's instance, labelled "<cluster>-<node>", in the
// hoster's firewall group. A change of n.Generation replaces it; the OS
// and user data are read at creation only.
func (d *Hoster) Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error) {
	osID, err := strconv.Atoi(n.Image)
	if err != nil {
		return node.Server{}, fmt.Errorf("vultr %s: node %s: image %q is no os id: %w", n.Hoster, n.Name, n.Image, err)
	}
	inst, err := vultr.NewInstance(ctx, n.ResourceName()+"-server", &vultr.InstanceArgs{
		Label:           pulumi.String(n.ResourceName()),
		Hostname:        pulumi.String(n.ResourceName()),
		Plan:            pulumi.String(n.Type),
		Region:          pulumi.String(n.Location),
		OsId:            pulumi.Int(osID),
		SshKeyIds:       pulumi.StringArray{d.key.ID().ToStringOutput()},
		FirewallGroupId: d.group.ID().ToStringOutput(),
		UserData:        pulumi.String(node.CloudInit(n)),
		EnableIpv6:      pulumi.Bool(true),
		Backups:         pulumi.String("disabled"),
		ActivationEmail: pulumi.Bool(false),
		Tags:            pulumi.StringArray{pulumi.String("shoal-cluster-" + n.Cluster), pulumi.String("shoal-" + n.Role)},
	},
		pulumi.Parent(parent),
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplacementTrigger(pulumi.Int(n.Generation)),
		pulumi.IgnoreChanges([]string{"osId", "userData"}),
	)
	if err != nil {
		return node.Server{}, fmt.Errorf("vultr %s: instance %s: %w", n.Hoster, n.Name, err)
	}
	return node.Server{Name: n.Name, Address: inst.MainIp, Resources: []pulumi.Resource{inst}, ID: inst.ID()}, nil
}

// Firewall registers the group's rules: for a public rule one per source
// CIDR ("<hoster>-fw-tcp-22-0-0-0-0-0"), for a peer rule one per peer
// ("<hoster>-fw-tcp-2377-hz-1"). Names come from rules, CIDRs and node
// names, never positions.
func (d *Hoster) Firewall(ctx *pulumi.Context, fw node.Firewall, parent pulumi.Resource) ([]pulumi.Resource, error) {
	name := d.h.ResourceName()
	out := []pulumi.Resource{d.group}
	add := func(r node.Rule, part, notes string, ipType, subnet pulumi.StringInput, size pulumi.IntInput) error {
		args := &vultr.FirewallRuleArgs{
			FirewallGroupId: d.group.ID().ToStringOutput(),
			Protocol:        pulumi.String(r.Protocol),
			IpType:          ipType,
			Subnet:          subnet,
			SubnetSize:      size,
			Notes:           pulumi.String(notes),
		}
		if p := r.PortString(); p != "" {
			args.Port = pulumi.String(p)
		}
		rule, err := vultr.NewFirewallRule(ctx, name+"-fw-"+r.Name()+"-"+part, args, pulumi.Parent(parent))
		if err != nil {
			return fmt.Errorf("vultr %s: firewall rule %s from %s: %w", d.h.Name, r.Name(), part, err)
		}
		out = append(out, rule)
		return nil
	}
	for _, r := range fw.Rules {
		if r.Peers {
			for _, p := range fw.Peers {
				addr := p.CIDR.ApplyT(func(c string) string { a, _, _, _ := node.SplitCIDR(c); return a }).(pulumi.StringOutput)
				bits := p.CIDR.ApplyT(func(c string) int { _, b, _, _ := node.SplitCIDR(c); return b }).(pulumi.IntOutput)
				family := p.CIDR.ApplyT(func(c string) string { _, _, f, _ := node.SplitCIDR(c); return f }).(pulumi.StringOutput)
				if err := add(r, p.Name, r.Why+" from "+p.Name, family, addr, bits); err != nil {
					return nil, err
				}
			}
			continue
		}
		for _, src := range r.Public {
			addr, bits, family, ok := node.SplitCIDR(src)
			if !ok {
				return nil, fmt.Errorf("vultr %s: firewall source %q is no CIDR", d.h.Name, src)
			}
			if err := add(r, node.SourceName(src), r.Why, pulumi.String(family), pulumi.String(addr), pulumi.Int(bits)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
