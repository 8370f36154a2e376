package infra

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/local"
	"github.com/shoalops/shoal/infra/wire"
)

// ClusterType is the type token of the swarm resource of shoal's provider.
const ClusterType = wire.ClusterType

// Cluster is a shoal:swarm:Cluster: the swarm converged on a list of
// nodes by shoal's provider (infra/provider). Its outputs are its inputs
// plus the fields below; joinTokens and unlockKey are secrets.
type Cluster struct {
	pulumi.CustomResourceState

	Name             pulumi.StringOutput      `pulumi:"name"`
	SwarmID          pulumi.StringOutput      `pulumi:"swarmId"`
	ManagerAddresses pulumi.StringArrayOutput `pulumi:"managerAddresses"`
	NodeIDs          pulumi.StringMapOutput   `pulumi:"nodeIds"`
	HostKeys         pulumi.StringMapOutput   `pulumi:"hostKeys"`
	JoinTokens       pulumi.StringMapOutput   `pulumi:"joinTokens"`
	UnlockKey        pulumi.StringOutput      `pulumi:"unlockKey"`
}

// ClusterNode is one node of a ClusterArgs.
type ClusterNode struct {
	Name    string
	Address pulumi.StringInput
	Role    string
	Hoster  string
	Region  string
	Labels  map[string]string
	User    string // "" = root
	Port    int    // 0 = 22
	// HostKey pins the node's SSH host key (authorized_keys format); nil
	// leaves it to trust on first use.
	HostKey pulumi.StringInput
}

// ClusterOptions are the swarm-wide options of a ClusterArgs.
type ClusterOptions struct {
	AdvertiseInterface      string
	DataPathPort            int
	OverlayMTU              int
	Autolock                bool
	AllowSingleHosterQuorum bool
}

// ClusterArgs are the inputs of a shoal:swarm:Cluster.
type ClusterArgs struct {
	Name  string
	Nodes []ClusterNode
	// SSHPrivateKey must be a secret output: it stays one in the state.
	SSHPrivateKey pulumi.StringInput
	Options       ClusterOptions
}

// Map returns the args as the property map the provider reads (the wire
// schema in infra/provider).
func (a ClusterArgs) Map() pulumi.Map {
	nodes := pulumi.Array{}
	for _, n := range a.Nodes {
		user, port := n.User, n.Port
		if user == "" {
			user = "root"
		}
		if port == 0 {
			port = 22
		}
		m := pulumi.Map{
			"name":    pulumi.String(n.Name),
			"address": n.Address,
			"role":    pulumi.String(n.Role),
			"hoster":  pulumi.String(n.Hoster),
			"user":    pulumi.String(user),
			"port":    pulumi.Int(port),
		}
		if n.Region != "" {
			m["region"] = pulumi.String(n.Region)
		}
		if len(n.Labels) > 0 {
			m["labels"] = pulumi.ToStringMap(n.Labels)
		}
		if n.HostKey != nil {
			m["hostKey"] = n.HostKey
		}
		nodes = append(nodes, m)
	}
	o := a.Options
	return pulumi.Map{
		"name":          pulumi.String(a.Name),
		"nodes":         nodes,
		"sshPrivateKey": a.SSHPrivateKey,
		"options": pulumi.Map{
			"advertiseInterface":      pulumi.String(o.AdvertiseInterface),
			"dataPathPort":            pulumi.Int(o.DataPathPort),
			"overlayMtu":              pulumi.Int(o.OverlayMTU),
			"autolock":                pulumi.Bool(o.Autolock),
			"allowSingleHosterQuorum": pulumi.Bool(o.AllowSingleHosterQuorum),
		},
	}
}

// NewCluster registers a shoal:swarm:Cluster. Its join tokens and unlock
// key are kept secret in the state whatever the provider says.
func NewCluster(ctx *pulumi.Context, name string, args ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	var res Cluster
	opts = append([]pulumi.ResourceOption{
		pulumi.Version(local.ProviderVersion),
		pulumi.AdditionalSecretOutputs([]string{"sshPrivateKey", "joinTokens", "unlockKey"}),
	}, opts...)
	if err := ctx.RegisterResource(ClusterType, name, args.Map(), &res, opts...); err != nil {
		return nil, err
	}
	return &res, nil
}
