// Package hcloud is shoal's Hetzner Cloud driver: one SSH key per hoster,
// a spread placement group per pool, a server per node booting the shared
// cloud-init, and a firewall attached to the hoster's servers. It imports
// infra/node and the pulumi-hcloud SDK; it must not import infra.
package hcloud

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/node"
)

// Hoster builds a hoster's nodes at Hetzner Cloud.
type Hoster struct {
	h      node.Hoster
	key    *hcloud.SshKey
	spread map[string]*hcloud.PlacementGroup // by pool name
}

// New registers the hoster's SSH key and one spread placement group per
// pool (Hetzner puts each server of a spread group on its own host).
func New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (*Hoster, error) {
	d := &Hoster{h: h, spread: map[string]*hcloud.PlacementGroup{}}
	name := h.ResourceName()
	key, err := hcloud.NewSshKey(ctx, name+"-ssh-key", &hcloud.SshKeyArgs{
		Name:      pulumi.String(name),
		PublicKey: pulumi.String(h.SSHPublicKey),
		Labels:    labels(h.Cluster, nil),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("hcloud %s: ssh key: %w", h.Name, err)
	}
	d.key = key
	for _, p := range h.Pools {
		if p.Count == 0 {
			continue
		}
		pg, err := hcloud.NewPlacementGroup(ctx, name+"-"+p.Name+"-spread", &hcloud.PlacementGroupArgs{
			Name:   pulumi.String(name + "-" + p.Name),
			Type:   pulumi.String("spread"),
			Labels: labels(h.Cluster, map[string]string{"shoal-pool": p.Name}),
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("hcloud %s: placement group for pool %s: %w", h.Name, p.Name, err)
		}
		d.spread[p.Name] = pg
	}
	return d, nil
}

// Name returns "hcloud".
func (d *Hoster) Name() string { return node.ProviderHcloud }

// Server registers n's server. Its name is "<cluster>-<node>"; a change of
// n.Generation replaces it (deleted first: Hetzner server names are unique).
// Image and user data are read at creation only, so a new default image
// or cloud-init never replaces running servers.
func (d *Hoster) Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error) {
	args := &hcloud.ServerArgs{
		Name:       pulumi.String(n.ResourceName()),
		ServerType: pulumi.String(n.Type),
		Location:   pulumi.String(n.Location),
		Image:      pulumi.String(n.Image),
		SshKeys:    pulumi.StringArray{d.key.ID().ToStringOutput()},
		UserData:   pulumi.String(node.CloudInit(n)),
		Labels:     labels(n.Cluster, map[string]string{"shoal-node": n.Name, "shoal-role": n.Role, "shoal-pool": n.Pool}),
		PublicNets: hcloud.ServerPublicNetArray{hcloud.ServerPublicNetArgs{Ipv4Enabled: pulumi.Bool(true), Ipv6Enabled: pulumi.Bool(true)}},
	}
	if pg, ok := d.spread[n.Pool]; ok {
		args.PlacementGroupId = intID(pg.ID())
	}
	srv, err := hcloud.NewServer(ctx, n.ResourceName()+"-server", args,
		pulumi.Parent(parent),
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplacementTrigger(pulumi.Int(n.Generation)),
		pulumi.IgnoreChanges([]string{"image", "userData"}),
	)
	if err != nil {
		return node.Server{}, fmt.Errorf("hcloud %s: server %s: %w", n.Hoster, n.Name, err)
	}
	return node.Server{Name: n.Name, Address: srv.Ipv4Address, Resources: []pulumi.Resource{srv}, ID: srv.ID()}, nil
}

// Firewall registers one firewall for the hoster, with a rule per
// node.Rule (public rules from their CIDRs, peer rules from the peers'
// addresses), and attaches it to the hoster's servers.
func (d *Hoster) Firewall(ctx *pulumi.Context, fw node.Firewall, parent pulumi.Resource) ([]pulumi.Resource, error) {
	var peers pulumi.StringArray
	for _, p := range fw.Peers {
		peers = append(peers, p.CIDR)
	}
	var rules hcloud.FirewallRuleArray
	for _, r := range fw.Rules {
		rule := hcloud.FirewallRuleArgs{
			Direction:   pulumi.String("in"),
			Protocol:    pulumi.String(r.Protocol),
			Description: pulumi.String(r.Why),
		}
		if p := r.PortString(); p != "" {
			rule.Port = pulumi.String(p)
		}
		switch {
		case r.Peers && len(peers) == 0:
			continue // a single node: nobody to let in
		case r.Peers:
			rule.SourceIps = peers
		default:
			rule.SourceIps = pulumi.ToStringArray(r.Public)
		}
		rules = append(rules, rule)
	}
	name := d.h.ResourceName()
	f, err := hcloud.NewFirewall(ctx, name+"-firewall", &hcloud.FirewallArgs{
		Name:   pulumi.String(name),
		Labels: labels(d.h.Cluster, nil),
		Rules:  rules,
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("hcloud %s: firewall: %w", d.h.Name, err)
	}
	if len(fw.Servers) == 0 {
		return []pulumi.Resource{f}, nil
	}
	var ids pulumi.IntArray
	for _, s := range fw.Servers {
		ids = append(ids, intID(s.ID))
	}
	att, err := hcloud.NewFirewallAttachment(ctx, name+"-firewall-attachment", &hcloud.FirewallAttachmentArgs{
		FirewallId: intID(f.ID()),
		ServerIds:  ids,
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("hcloud %s: firewall attachment: %w", d.h.Name, err)
	}
	return []pulumi.Resource{f, att}, nil
}

// intID turns an hcloud resource id ("42") into the integer other hcloud
// resources take.
func intID(id pulumi.IDOutput) pulumi.IntOutput {
	return id.ApplyT(func(id pulumi.ID) (int, error) {
		n, err := strconv.Atoi(string(id))
		if err != nil {
			return 0, fmt.Errorf("hcloud id %q is no number: %w", id, err)
		}
		return n, nil
	}).(pulumi.IntOutput)
}

// labels are the hcloud labels on every resource shoal creates there.
func labels(cluster string, extra map[string]string) pulumi.StringMap {
	m := pulumi.StringMap{"shoal-cluster": pulumi.String(cluster)}
	for k, v := range extra {
		m[k] = pulumi.String(v)
	}
	return m
}
