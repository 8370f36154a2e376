// Package hcloud is shoal's Hetzner Cloud driver. Per account (Hetzner
// project) of a run: one SSH key, or the project's key with the same
// fingerprint when one exists. Per hoster: a firewall with the public
// rules that every server names at creation (so no server is ever
// reachable on other ports), a second firewall with the swarm's peer rules
// applied by label selector, and spread placement groups of at most ten
// servers per pool. Per node: a server booting the shared cloud-init. It
// imports infra/node and the pulumi-hcloud SDK; it must not import infra.
package hcloud

import (
	"crypto/md5"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/shoalops/shoal/infra/node"
)

// MaxSpread is how many servers Hetzner puts in one spread placement
// group; a larger pool gets one group per ten nodes.
const MaxSpread = 10

// Labels shoal puts on what it creates at Hetzner.
const (
	LabelCluster = "shoal-cluster"
	LabelHoster  = "shoal-hoster"
	LabelPool    = "shoal-pool"
	LabelNode    = "shoal-node"
	LabelRole    = "shoal-role"
)

// Driver builds the hcloud hosters of one run of the program. It keeps
// what hosters of one account share: Hetzner refuses a second SSH key
// with the same fingerprint in a project, so there is one key per account.
type Driver struct {
	keys map[string]pulumi.StringOutput // key id by account ("" = the default provider configuration)
}

// NewDriver returns a driver for one run.
func NewDriver() *Driver { return &Driver{keys: map[string]pulumi.StringOutput{}} }

// Describe is the hcloud driver's registration.
func Describe() node.Descriptor {
	return node.Descriptor{
		Provider: node.ProviderHcloud, Aliases: []string{"hetzner"}, Title: "Hetzner Cloud", Cloud: true,
		DefaultImage: "debian-12", ImageHelp: "image name",
		ExampleType: "cx22", ExampleLocation: "fsn1",
		ConfigKeys: []string{"hcloud:token"},
		EnvVars:    []string{"HCLOUD_TOKEN"},
		NewDriver:  func() node.Driver { return NewDriver() },
		NewProvider: func(ctx *pulumi.Context, name string, a node.Account, token pulumi.StringOutput) (pulumi.ProviderResource, error) {
			return hcloud.NewProvider(ctx, name, &hcloud.ProviderArgs{Token: token})
		},
	}
}

// Hoster builds a hoster's nodes at Hetzner Cloud.
type Hoster struct {
	h      node.Hoster
	key    pulumi.StringOutput
	public *hcloud.Firewall
	spread map[string][]*hcloud.PlacementGroup // by pool name, one group per MaxSpread nodes
}

// New registers the hoster's firewall with the public rules and the
// spread placement groups of its pools (Hetzner puts each server of a
// spread group on its own host), and finds or registers its account's SSH
// key.
func (dr *Driver) New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (node.HosterDriver, error) {
	d := &Hoster{h: h, spread: map[string][]*hcloud.PlacementGroup{}}
	name := h.ResourceName()
	key, err := dr.key(ctx, h)
	if err != nil {
		return nil, err
	}
	d.key = key
	for _, p := range h.Pools {
		for g := range SpreadGroups(p.Count) {
			res, group := name+"-"+p.Name+"-spread", name+"-"+p.Name
			if g > 0 {
				res += fmt.Sprintf("-%d", g+1)
				group += fmt.Sprintf("-%d", g+1)
			}
			pg, err := hcloud.NewPlacementGroup(ctx, res, &hcloud.PlacementGroupArgs{
				Name:   pulumi.String(group),
				Type:   pulumi.String("spread"),
				Labels: labels(h, map[string]string{LabelPool: p.Name}),
			}, pulumi.Parent(parent))
			if err != nil {
				return nil, fmt.Errorf("hcloud %s: placement group %s: %w", h.Name, group, err)
			}
			d.spread[p.Name] = append(d.spread[p.Name], pg)
		}
	}
	public, err := hcloud.NewFirewall(ctx, name+"-firewall", &hcloud.FirewallArgs{
		Name:   pulumi.String(name),
		Labels: labels(h, nil),
		Rules:  rules(h.Rules, nil),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("hcloud %s: firewall: %w", h.Name, err)
	}
	d.public = public
	return d, nil
}

// SpreadGroups is how many spread placement groups a pool of count nodes
// needs. Node n (1-based) is in group (n-1)/MaxSpread, so growing a pool
// never moves a node to another group.
func SpreadGroups(count int) int { return (count + MaxSpread - 1) / MaxSpread }

// key returns the id of the SSH key root gets on h's servers: the key
// this run registered for h's account, else a key with the same
// fingerprint that the project already holds and another cluster (or a
// person) made, else a new key "<cluster>-<account>". Servers read it at
// creation only.
func (dr *Driver) key(ctx *pulumi.Context, h node.Hoster) (pulumi.StringOutput, error) {
	acct := h.AccountName()
	if k, ok := dr.keys[acct]; ok {
		return k, nil
	}
	fp, err := Fingerprint(h.SSHPublicKey)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("hcloud %s: ssh key: %w", h.Name, err)
	}
	var invoke []pulumi.InvokeOption
	if h.ProviderResource != nil {
		invoke = append(invoke, pulumi.Provider(h.ProviderResource))
	}
	found, err := hcloud.GetSshKeys(ctx, &hcloud.GetSshKeysArgs{}, invoke...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("hcloud %s: list the project's ssh keys: %w", h.Name, err)
	}
	if id, name, ok := Reusable(found.SshKeys, fp, h.Cluster); ok {
		if err := ctx.Log.Info(fmt.Sprintf("hcloud %s: using the project's ssh key %q (id %d): it has the same fingerprint %s", h.Name, name, id, fp), nil); err != nil {
			return pulumi.StringOutput{}, err
		}
		k := pulumi.String(strconv.Itoa(id)).ToStringOutput()
		dr.keys[acct] = k
		return k, nil
	}
	var opts []pulumi.ResourceOption
	if h.ProviderResource != nil {
		opts = append(opts, pulumi.Provider(h.ProviderResource))
	}
	k, err := hcloud.NewSshKey(ctx, h.Cluster+"-"+acct+"-ssh-key", &hcloud.SshKeyArgs{
		Name:      pulumi.String(h.Cluster + "-" + acct),
		PublicKey: pulumi.String(h.SSHPublicKey),
		Labels:    pulumi.StringMap{LabelCluster: pulumi.String(h.Cluster)},
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("hcloud %s: ssh key: %w", h.Name, err)
	}
	dr.keys[acct] = k.ID().ToStringOutput()
	return dr.keys[acct], nil
}

// Fingerprint is the MD5 fingerprint Hetzner keeps SSH keys unique by:
// "b7:2f:...".
func Fingerprint(authorizedKey string) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	sum := md5.Sum(pub.Marshal())
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}

// Reusable picks the key of the project with fingerprint fp that cluster
// may use without owning it: one not labelled as cluster's own (cluster's
// own key is a resource of this stack and stays one). Reusable is pure.
func Reusable(keys []hcloud.GetSshKeysSshKey, fp, cluster string) (id int, name string, ok bool) {
	for _, k := range keys {
		if k.Fingerprint == fp && k.Labels[LabelCluster] != cluster {
			return k.Id, k.Name, true
		}
	}
	return 0, "", false
}

// Name returns "hcloud".
func (d *Hoster) Name() string { return node.ProviderHcloud }

// Server registers n's server, with the hoster's public firewall from its
// creation. Its name is "<cluster>-<node>"; a change of n.Generation
// replaces it (deleted first: Hetzner server names are unique). Image,
// user data and SSH keys are read at creation only, so a new default
// image, cloud-init or key never replaces running servers.
func (d *Hoster) Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error) {
	args := &hcloud.ServerArgs{
		Name:        pulumi.String(n.ResourceName()),
		ServerType:  pulumi.String(n.Type),
		Location:    pulumi.String(n.Location),
		Image:       pulumi.String(n.Image),
		SshKeys:     pulumi.StringArray{d.key},
		FirewallIds: pulumi.IntArray{intID(d.public.ID())},
		// The peer firewall is applied by label selector: the server's
		// firewall list as Hetzner reports it is not ours to reconcile.
		IgnoreRemoteFirewallIds: pulumi.Bool(true),
		UserData:                pulumi.String(node.CloudInit(n)),
		Labels:                  labels(d.h, map[string]string{LabelNode: n.Name, LabelRole: n.Role, LabelPool: n.Pool}),
		PublicNets:              hcloud.ServerPublicNetArray{hcloud.ServerPublicNetArgs{Ipv4Enabled: pulumi.Bool(true), Ipv6Enabled: pulumi.Bool(true)}},
	}
	if groups := d.spread[n.Pool]; n.Index > 0 && (n.Index-1)/MaxSpread < len(groups) {
		args.PlacementGroupId = intID(groups[(n.Index-1)/MaxSpread].ID())
	}
	srv, err := hcloud.NewServer(ctx, n.ResourceName()+"-server", args,
		pulumi.Parent(parent),
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplacementTrigger(pulumi.Int(n.Generation)),
		pulumi.IgnoreChanges([]string{"image", "userData", "sshKeys"}),
	)
	if err != nil {
		return node.Server{}, fmt.Errorf("hcloud %s: server %s: %w", n.Hoster, n.Name, err)
	}
	return node.Server{Name: n.Name, Address: srv.Ipv4Address, Resources: []pulumi.Resource{srv}, ID: srv.ID()}, nil
}

// Firewall registers the hoster's peer firewall: the peer rules from the
// peers' addresses, applied to every server labelled with the cluster and
// hoster (so a replacement server gets it at creation too). A hoster with
// no peers (a cluster of one node) gets none.
func (d *Hoster) Firewall(ctx *pulumi.Context, fw node.Firewall, parent pulumi.Resource) ([]pulumi.Resource, error) {
	out := []pulumi.Resource{d.public}
	if len(fw.Peers) == 0 {
		return out, nil
	}
	var peers pulumi.StringArray
	for _, p := range fw.Peers {
		peers = append(peers, p.CIDR)
	}
	peerRules := rules(fw.Rules, peers)
	name := d.h.ResourceName()
	f, err := hcloud.NewFirewall(ctx, name+"-peers-firewall", &hcloud.FirewallArgs{
		Name:   pulumi.String(name + "-peers"),
		Labels: labels(d.h, nil),
		Rules:  peerRules,
		ApplyTos: hcloud.FirewallApplyToArray{hcloud.FirewallApplyToArgs{
			LabelSelector: pulumi.String(Selector(d.h)),
		}},
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("hcloud %s: peer firewall: %w", d.h.Name, err)
	}
	return append(out, f), nil
}

// Selector is the label selector of h's servers:
// "shoal-cluster=acme,shoal-hoster=hetzner".
func Selector(h node.Hoster) string {
	return LabelCluster + "=" + h.Cluster + "," + LabelHoster + "=" + h.Name
}

// rules turns node rules into hcloud rules: the public ones when peers is
// nil, else the peer ones from peers.
func rules(rs []node.Rule, peers pulumi.StringArray) hcloud.FirewallRuleArray {
	var out hcloud.FirewallRuleArray
	for _, r := range rs {
		if r.Peers != (peers != nil) {
			continue
		}
		rule := hcloud.FirewallRuleArgs{
			Direction:   pulumi.String("in"),
			Protocol:    pulumi.String(r.Protocol),
			Description: pulumi.String(r.Why),
			SourceIps:   peers,
		}
		if !r.Peers {
			rule.SourceIps = pulumi.ToStringArray(r.Public)
		}
		if p := r.PortString(); p != "" {
			rule.Port = pulumi.String(p)
		}
		out = append(out, rule)
	}
	return out
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

// labels are the hcloud labels on every resource shoal creates for a
// hoster.
func labels(h node.Hoster, extra map[string]string) pulumi.StringMap {
	m := pulumi.StringMap{LabelCluster: pulumi.String(h.Cluster), LabelHoster: pulumi.String(h.Name)}
	for k, v := range extra {
		m[k] = pulumi.String(v)
	}
	return m
}
