// Package scaleway is shoal's Scaleway driver: one IAM SSH key per hoster
// (Scaleway puts the project's keys on new instances), a placement group
// per pool, a security group per zone, and per node a flexible IP and an
// instance booting the shared cloud-init. Scaleway security groups cannot
// name ESP, so the ESP peer rule becomes "any protocol from the peers".
// It imports infra/node and the pulumi-scaleway SDK; it must not import
// infra.
package scaleway

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway"
	"github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway/iam"
	"github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway/instance"

	"github.com/shoalops/shoal/infra/node"
)

// Hoster builds a hoster's nodes at Scaleway.
type Hoster struct {
	h      node.Hoster
	key    *iam.SshKey
	groups map[string]*instance.PlacementGroup // by pool name
	sgs    map[string]*instance.SecurityGroup  // by zone
	zones  []string                            // zones with a security group, in pool order
}

// MaxPerGroup is how many instances a Scaleway placement group holds.
const MaxPerGroup = 20

// Describe is the scaleway driver's registration.
func Describe() node.Descriptor {
	return node.Descriptor{
		Provider: node.ProviderScaleway, Title: "Scaleway", Cloud: true,
		DefaultImage: "debian_bookworm", ImageHelp: "image label",
		ExampleType: "DEV1-S", ExampleLocation: "fr-par-1",
		ConfigKeys: []string{"scaleway:accessKey", "scaleway:secretKey", "scaleway:projectId"},
		PlainKeys:  []string{"scaleway:accessKey", "scaleway:projectId"},
		EnvVars:    []string{"SCW_ACCESS_KEY", "SCW_SECRET_KEY", "SCW_DEFAULT_PROJECT_ID"},
		MaxPerPool: MaxPerGroup, MaxPerPoolWhy: "scaleway placement groups hold at most 20 servers",
		NewDriver: func() node.Driver { return driver{} },
		NewProvider: func(ctx *pulumi.Context, name string, a node.Account, token pulumi.StringOutput) (pulumi.ProviderResource, error) {
			return scaleway.NewProvider(ctx, name, &scaleway.ProviderArgs{
				AccessKey: pulumi.String(a.AccessKey), SecretKey: token, ProjectId: pulumi.String(a.ProjectID),
			})
		},
	}
}

type driver struct{}

func (driver) New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (node.HosterDriver, error) {
	return New(ctx, h, parent)
}

// New registers the hoster's SSH key, a placement group per pool
// (max_availability: instances on different hypervisors) and a security
// group per zone that drops inbound traffic its rules do not allow.
func New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (*Hoster, error) {
	d := &Hoster{h: h, groups: map[string]*instance.PlacementGroup{}, sgs: map[string]*instance.SecurityGroup{}}
	name := h.ResourceName()
	key, err := iam.NewSshKey(ctx, name+"-ssh-key", &iam.SshKeyArgs{
		Name:      pulumi.String(name),
		PublicKey: pulumi.String(h.SSHPublicKey),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("scaleway %s: ssh key: %w", h.Name, err)
	}
	d.key = key
	for _, p := range h.Pools {
		if p.Count == 0 {
			continue
		}
		pg, err := instance.NewPlacementGroup(ctx, name+"-"+p.Name+"-placement", &instance.PlacementGroupArgs{
			Name: pulumi.String(name + "-" + p.Name),
			Zone: pulumi.String(p.Location),
			// max_availability: instances on different hypervisors. The
			// policy mode is deprecated (Instance API v1 drops it).
			PolicyType: pulumi.String("max_availability"),
			Tags:       tags(h.Cluster),
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("scaleway %s: placement group for pool %s: %w", h.Name, p.Name, err)
		}
		d.groups[p.Name] = pg
		if _, ok := d.sgs[p.Location]; ok {
			continue
		}
		sg, err := instance.NewSecurityGroup(ctx, name+"-firewall-"+p.Location, &instance.SecurityGroupArgs{
			Name:                  pulumi.String(name),
			Description:           pulumi.String("shoal " + name),
			Zone:                  pulumi.String(p.Location),
			InboundDefaultPolicy:  pulumi.String("drop"),
			OutboundDefaultPolicy: pulumi.String("accept"),
			Stateful:              pulumi.Bool(true),
			ExternalRules:         pulumi.Bool(true),
			Tags:                  tags(h.Cluster),
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("scaleway %s: security group in %s: %w", h.Name, p.Location, err)
		}
		d.sgs[p.Location] = sg
		d.zones = append(d.zones, p.Location)
	}
	return d, nil
}

// Name returns "scaleway".
func (d *Hoster) Name() string { return node.ProviderScaleway }

// Server registers n's flexible IP and instance. The IP outlives a
// replacement (n.Generation changes only the instance), so a replaced node
// keeps its address. Image and cloud-init are read at creation only.
func (d *Hoster) Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error) {
	sg, ok := d.sgs[n.Location]
	if !ok {
		return node.Server{}, fmt.Errorf("scaleway %s: node %s: no security group in zone %q", n.Hoster, n.Name, n.Location)
	}
	ip, err := instance.NewIp(ctx, n.ResourceName()+"-ip", &instance.IpArgs{
		Zone: pulumi.String(n.Location),
		Type: pulumi.String("routed_ipv4"),
		Tags: tags(n.Cluster),
	}, pulumi.Parent(parent))
	if err != nil {
		return node.Server{}, fmt.Errorf("scaleway %s: ip of %s: %w", n.Hoster, n.Name, err)
	}
	args := &instance.ServerArgs{
		Name:            pulumi.String(n.ResourceName()),
		Type:            pulumi.String(n.Type),
		Image:           pulumi.String(n.Image),
		Zone:            pulumi.String(n.Location),
		IpId:            ip.ID().ToStringOutput(),
		SecurityGroupId: sg.ID().ToStringOutput(),
		CloudInit:       pulumi.String(node.CloudInit(n)),
		Tags:            append(tags(n.Cluster), pulumi.String("shoal-node="+n.Name), pulumi.String("shoal-role="+n.Role)),
	}
	if pg, ok := d.groups[n.Pool]; ok {
		args.PlacementGroupId = pg.ID().ToStringOutput()
	}
	srv, err := instance.NewServer(ctx, n.ResourceName()+"-server", args,
		pulumi.Parent(parent),
		pulumi.DependsOn([]pulumi.Resource{d.key}), // the key must exist when the instance boots
		pulumi.DeleteBeforeReplace(true),           // the IP moves to the new instance
		pulumi.ReplacementTrigger(pulumi.Int(n.Generation)),
		pulumi.IgnoreChanges([]string{"image", "cloudInit"}),
	)
	if err != nil {
		return node.Server{}, fmt.Errorf("scaleway %s: server %s: %w", n.Hoster, n.Name, err)
	}
	return node.Server{Name: n.Name, Address: ip.Address, Resources: []pulumi.Resource{ip, srv}, ID: srv.ID()}, nil
}

// Firewall registers the rules of each zone's security group: a public
// rule per source CIDR, a peer rule per peer; ESP becomes ANY from peers.
func (d *Hoster) Firewall(ctx *pulumi.Context, fw node.Firewall, parent pulumi.Resource) ([]pulumi.Resource, error) {
	var inbound instance.SecurityGroupRulesInboundRuleArray
	for _, r := range fw.Rules {
		proto := strings.ToUpper(r.Protocol)
		if r.Protocol == node.ESP {
			proto = "ANY"
		}
		rule := func(src pulumi.StringInput) instance.SecurityGroupRulesInboundRuleArgs {
			a := instance.SecurityGroupRulesInboundRuleArgs{Action: pulumi.String("accept"), Protocol: pulumi.String(proto), IpRange: src}
			if r.Port != 0 {
				a.Port = pulumi.Int(r.Port)
			}
			return a
		}
		if r.Peers {
			for _, p := range fw.Peers {
				inbound = append(inbound, rule(p.CIDR))
			}
			continue
		}
		for _, src := range r.Public {
			inbound = append(inbound, rule(pulumi.String(src)))
		}
	}
	var out []pulumi.Resource
	for _, zone := range d.zones {
		sg := d.sgs[zone]
		rules, err := instance.NewSecurityGroupRules(ctx, d.h.ResourceName()+"-firewall-"+zone+"-rules", &instance.SecurityGroupRulesArgs{
			SecurityGroupId: sg.ID().ToStringOutput(),
			InboundRules:    inbound,
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("scaleway %s: security group rules in %s: %w", d.h.Name, zone, err)
		}
		out = append(out, sg, rules)
	}
	return out, nil
}

func tags(cluster string) pulumi.StringArray {
	return pulumi.StringArray{pulumi.String("shoal"), pulumi.String("shoal-cluster=" + cluster)}
}
