// Package local is shoal's driver for the local lab: each node is a
// shoal:local:Server resource of shoal's own provider (infra/provider), a
// VPS container on the local Docker Engine on the lab network of the
// cluster. There is no firewall in the lab. It imports infra/node and the
// Pulumi SDK; it must not import infra or infra/provider (the engine
// finds the provider plugin, pulumi-resource-shoal).
package local

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/infra/wire"
)

// ProviderVersion is the version of shoal's provider plugin the resources
// ask the engine for.
const ProviderVersion = wire.Version

// ServerType is the type token of a lab VPS container.
const ServerType = wire.ServerType

// Server is a shoal:local:Server: one lab VPS container. Its outputs are
// its inputs plus address, container and hostKey.
type Server struct {
	pulumi.CustomResourceState

	Lab          pulumi.StringOutput `pulumi:"lab"`
	Node         pulumi.StringOutput `pulumi:"node"`
	Hoster       pulumi.StringOutput `pulumi:"hoster"`
	Region       pulumi.StringOutput `pulumi:"region"`
	Role         pulumi.StringOutput `pulumi:"role"`
	Variant      pulumi.StringOutput `pulumi:"variant"`
	Image        pulumi.StringOutput `pulumi:"image"`
	SSHPublicKey pulumi.StringOutput `pulumi:"sshPublicKey"`
	// Address is the container's IPv4 address on the lab network.
	Address   pulumi.StringOutput `pulumi:"address"`
	Container pulumi.StringOutput `pulumi:"container"`
	// HostKey is sshd's ed25519 host key in authorized_keys format.
	HostKey pulumi.StringOutput `pulumi:"hostKey"`
}

// ServerArgs are the inputs of a shoal:local:Server. Empty optional
// strings are left out.
type ServerArgs struct {
	Lab          string // lab (cluster) name: container shoal-<lab>-<node>
	Node         string
	Hoster       string // the simulated hoster, e.g. hoster-a
	Region       string
	Role         string
	Variant      string // "docker" (default) or "fresh"
	Image        string
	SSHPublicKey string
}

// Map returns the args as the property map the provider reads.
func (a ServerArgs) Map() pulumi.Map {
	m := pulumi.Map{
		"lab":          pulumi.String(a.Lab),
		"node":         pulumi.String(a.Node),
		"hoster":       pulumi.String(a.Hoster),
		"role":         pulumi.String(a.Role),
		"sshPublicKey": pulumi.String(a.SSHPublicKey),
	}
	for k, v := range map[string]string{"region": a.Region, "variant": a.Variant, "image": a.Image} {
		if v != "" {
			m[k] = pulumi.String(v)
		}
	}
	return m
}

// NewServer registers a shoal:local:Server.
func NewServer(ctx *pulumi.Context, name string, args ServerArgs, opts ...pulumi.ResourceOption) (*Server, error) {
	var res Server
	opts = append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)
	if err := ctx.RegisterResource(ServerType, name, args.Map(), &res, opts...); err != nil {
		return nil, err
	}
	return &res, nil
}

// Describe is the local driver's registration.
func Describe() node.Descriptor {
	return node.Descriptor{Provider: node.ProviderLocal, Title: "the local lab: VPS containers on this machine's Docker Engine", NewDriver: func() node.Driver { return driver{} }}
}

type driver struct{}

func (driver) New(ctx *pulumi.Context, h node.Hoster, parent pulumi.Resource) (node.HosterDriver, error) {
	return New(ctx, h, parent)
}

// Hoster builds a simulated hoster's nodes as lab containers.
type Hoster struct {
	h node.Hoster
}

// New registers nothing: the lab needs no per-hoster resources.
func New(_ *pulumi.Context, h node.Hoster, _ pulumi.Resource) (*Hoster, error) {
	return &Hoster{h: h}, nil
}

// Name returns "local".
func (d *Hoster) Name() string { return node.ProviderLocal }

// Server registers n's lab container. The lab is named after the cluster;
// a change of n.Generation replaces the container (deleted first: its
// name is fixed).
func (d *Hoster) Server(ctx *pulumi.Context, n node.Spec, parent pulumi.Resource) (node.Server, error) {
	srv, err := NewServer(ctx, n.ResourceName()+"-server", ServerArgs{
		Lab: n.Cluster, Node: n.Name, Hoster: n.Hoster, Region: n.Location, Role: n.Role,
		Variant: n.Type, Image: n.Image, SSHPublicKey: n.SSHPublicKey,
	},
		pulumi.Parent(parent),
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplacementTrigger(pulumi.Int(n.Generation)),
	)
	if err != nil {
		return node.Server{}, fmt.Errorf("local %s: server %s: %w", n.Hoster, n.Name, err)
	}
	return node.Server{Name: n.Name, Address: srv.Address, HostKey: srv.HostKey, HasHostKey: true,
		Resources: []pulumi.Resource{srv}, ID: srv.ID()}, nil
}

// Firewall does nothing: lab containers share one Docker network.
func (d *Hoster) Firewall(*pulumi.Context, node.Firewall, pulumi.Resource) ([]pulumi.Resource, error) {
	return nil, nil
}
