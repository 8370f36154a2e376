package infra

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/shoalops/shoal/infra/node"
)

// Component type tokens.
const (
	HosterType = "shoal:infra:Hoster"
	NodeType   = "shoal:infra:Node"
)

// Stack output names. The CLI and heal read them: keep them stable.
const (
	OutputCluster          = "cluster"
	OutputNodes            = "nodes" // [{name, hoster, provider, role, region, generation, address}]
	OutputSwarmID          = "swarmId"
	OutputManagerAddresses = "managerAddresses"
	// OutputHostKeys maps node name to the SSH host key the swarm resource
	// pinned; the CLI writes them into the stack's known_hosts, so status
	// and heal never trust a key on first use that Pulumi already knows.
	OutputHostKeys = "hostKeys"
	// OutputUnlockKey is the swarm's autolock unlock key, a secret ("" when
	// autolock is off): `shoal heal` unlocks a restarted manager with it.
	OutputUnlockKey = "unlockKey"
	// OutputStacks lists the swarm stacks the program deploys; exported
	// only when shoal:stacks or shoal:apps configure any.
	OutputStacks = "stacks"
	// OutputRegistry is {host, username, password (secret)} of the
	// registry stack's generated user; exported only with the registry.
	OutputRegistry = "registry"
)

// Options change one run of the program.
type Options struct {
	// Generations sets the server generation of nodes for this run,
	// overriding shoal:generations: a node whose generation differs from
	// the last run gets a new server under the same logical name. Heal
	// replaces a stack's server this way; Deployed keeps it replaced.
	Generations map[string]int
	// Deployed are the node generations of the last run (its `nodes`
	// output). A node's generation is never below its deployed one, so a
	// replacement made through Generations stays made at the next run
	// whatever shoal:generations says: heal, which may run on the
	// cluster, never writes the user's stack file (ADR 0026).
	Deployed map[string]int
	// Root is the project directory relative file paths in the config
	// (shoal:apps compose files) are read from. Empty: the engine's root
	// directory (`pulumi up`), else the current directory. `shoal up` runs
	// the program inline and sets it to its --dir.
	Root string
	// SSHKey is the key pair of a stack that sets none in its config and
	// whose pools are all local (KeyPair); ignored for any other stack.
	SSHKey *KeyPair
	// LocalSuffix: Config.LocalSuffix.
	LocalSuffix string
	// Successors are the successors of the last run (its `nodes`
	// output): each keeps serving its pool's place at every later run,
	// as Deployed keeps generations (ADR 0034).
	Successors []Successor
	// Replace is the step of `shoal node replace` this run makes (nil:
	// none): a successor created beside the node, or put in its place.
	Replace *Replacement
	// ConfigKeys lists every key of the stack's config when the caller can
	// (cmd/shoal-program reads them from the engine); an unknown shoal:*
	// key among them is refused. `shoal up` checks the stack file itself
	// before the stack exists (Preflight).
	ConfigKeys []string
}

// GenerationConfigKey is the config key of node's generation, to set with
// path syntax (`pulumi config set --path shoal:generations.m2 1`, or
// auto.ConfigOptions{Path: true}).
func GenerationConfigKey(node string) string {
	return Namespace + ":" + KeyGenerations + "." + node
}

// Program is shoal's Pulumi program with no options:
// `pulumi.Run(infra.Program)`.
func Program(ctx *pulumi.Context) error { return ProgramWith(Options{})(ctx) }

// ProgramWith returns the program for one run with opts, for the
// Automation API (`shoal up`, heal).
func ProgramWith(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		out, err := deploy(ctx, opts)
		if err != nil {
			return err
		}
		ctx.Export(OutputCluster, pulumi.String(out.Cluster))
		ctx.Export(OutputNodes, out.Nodes)
		ctx.Export(OutputSwarmID, out.SwarmID)
		ctx.Export(OutputManagerAddresses, out.ManagerAddresses)
		ctx.Export(OutputHostKeys, out.HostKeys)
		ctx.Export(OutputUnlockKey, pulumi.ToSecret(out.UnlockKey))
		if len(out.Platform.Stacks) > 0 {
			ctx.Export(OutputStacks, out.Platform.Stacks)
		}
		if out.Platform.Registry != nil {
			ctx.Export(OutputRegistry, out.Platform.Registry)
		}
		return nil
	}
}

// Outputs are what a run exports.
type Outputs struct {
	Cluster          string
	Nodes            pulumi.ArrayOutput
	SwarmID          pulumi.StringOutput
	ManagerAddresses pulumi.StringArrayOutput
	HostKeys         pulumi.StringMapOutput
	UnlockKey        pulumi.StringOutput
	Platform         PlatformOutputs
}

// component is a shoal:infra:Hoster or shoal:infra:Node.
type component struct {
	pulumi.ResourceState
}

// deploy runs config -> spec -> validation -> hosters -> servers ->
// firewalls -> swarm -> stacks and webhooks. Nothing is registered before the config is valid.
func deploy(ctx *pulumi.Context, opts Options) (*Outputs, error) {
	if err := UnknownKeys(opts.ConfigKeys); err != nil {
		return nil, fmt.Errorf("invalid stack config: %w", err)
	}
	cfg := Load(ctx)
	cfg.LocalSuffix = opts.LocalSuffix
	spec, warnings, usesKey, err := parseWithKey(cfg, opts.SSHKey)
	if err != nil {
		return nil, fmt.Errorf("invalid stack config: %w", err)
	}
	placedNodes, err := spec.place(opts.Successors, opts.Replace)
	if err != nil {
		return nil, fmt.Errorf("invalid stack config or replacement: %w", err)
	}
	var names []string
	for _, p := range placedNodes {
		names = append(names, p.spec.Name)
	}
	floorGenerations(&spec, opts.Deployed, names)
	if err := applyGenerations(&spec, opts.Generations, names); err != nil {
		return nil, err
	}
	nodes := make([]node.Spec, len(placedNodes))
	succs := map[string]*Successor{}
	for i, p := range placedNodes {
		nodes[i] = p.spec
		nodes[i].Generation = spec.Generations[p.spec.Name]
		succs[p.spec.Name] = p.succ
	}
	var privateKey pulumi.StringOutput
	if usesKey {
		privateKey = pulumi.ToSecret(pulumi.String(opts.SSHKey.Private)).(pulumi.StringOutput)
	} else if privateKey, err = config.TrySecret(ctx, key(KeySSHPrivateKey)); err != nil {
		return nil, fmt.Errorf("invalid stack config: %w", &ConfigError{Key: key(KeySSHPrivateKey), Msg: err.Error()})
	}
	for _, w := range warnings {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, err
		}
	}

	hosters := spec.Hosters()
	hosterComps := map[string]*component{}
	drivers := map[string]Hoster{}
	run := newRunDrivers()
	accountProviders := map[string]pulumi.ProviderResource{}
	for _, h := range hosters {
		a, ok := spec.Accounts[h.Account]
		if h.Account == "" || !ok || accountProviders[a.Name] != nil {
			continue
		}
		token, err := config.TrySecret(ctx, a.TokenKey)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", a.Name, &ConfigError{Key: a.TokenKey, Msg: err.Error()})
		}
		if accountProviders[a.Name], err = newAccountProvider(ctx, spec.Cluster, a, token); err != nil {
			return nil, fmt.Errorf("account %s: %w", a.Name, err)
		}
	}
	for _, h := range hosters {
		comp := &component{}
		var copts []pulumi.ResourceOption
		if p := accountProviders[h.Account]; p != nil {
			// Everything below the hoster's component uses the account.
			h.ProviderResource = p
			copts = append(copts, pulumi.Providers(p))
		}
		if err := ctx.RegisterComponentResource(HosterType, h.ResourceName(), comp, copts...); err != nil {
			return nil, fmt.Errorf("hoster %s: %w", h.Name, err)
		}
		drv, err := run.newHoster(ctx, h, comp)
		if err != nil {
			return nil, err
		}
		hosterComps[h.Name], drivers[h.Name] = comp, drv
	}

	servers := map[string]node.Server{}
	for _, n := range nodes {
		comp := &component{}
		if err := ctx.RegisterComponentResource(NodeType, n.ResourceName(), comp, pulumi.Parent(hosterComps[n.Hoster])); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		srv, err := drivers[n.Hoster].Server(ctx, n, comp)
		if err != nil {
			return nil, err
		}
		servers[n.Name] = srv
		if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
			"name": pulumi.String(n.Name), "hoster": pulumi.String(n.Hoster), "role": pulumi.String(n.Role), "address": srv.Address,
		}); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
	}

	rules := FirewallRules(spec.Firewall, spec.Swarm.DataPathPort)
	var waitFor []pulumi.Resource
	for _, h := range hosters {
		fw := node.Firewall{Rules: rules}
		for _, name := range PeersFor(h.Name, nodes) {
			cidr := servers[name].Address.ApplyT(node.HostCIDR).(pulumi.StringOutput)
			fw.Peers = append(fw.Peers, node.Peer{Name: name, CIDR: cidr})
		}
		var names []string
		for _, n := range nodes {
			if n.Hoster == h.Name {
				fw.Servers = append(fw.Servers, servers[n.Name])
				waitFor = append(waitFor, servers[n.Name].Resources...)
				names = append(names, n.Name)
			}
		}
		res, err := drivers[h.Name].Firewall(ctx, fw, hosterComps[h.Name])
		if err != nil {
			return nil, err
		}
		waitFor = append(waitFor, res...)
		if err := ctx.RegisterResourceOutputs(hosterComps[h.Name], pulumi.Map{
			"provider": pulumi.String(h.Provider), "nodes": pulumi.ToStringArray(names),
		}); err != nil {
			return nil, fmt.Errorf("hoster %s: %w", h.Name, err)
		}
	}

	args := ClusterArgs{
		Name:          spec.Cluster,
		SSHPrivateKey: privateKey,
		Options: ClusterOptions{
			AdvertiseInterface:      spec.Swarm.AdvertiseInterface,
			DataPathPort:            spec.Swarm.DataPathPort,
			OverlayMTU:              spec.Swarm.OverlayMTU,
			Autolock:                spec.Swarm.Autolock,
			AllowSingleHosterQuorum: spec.Swarm.AllowSingleHosterQuorum,
		},
	}
	out := pulumi.Array{}
	for _, n := range nodes {
		srv := servers[n.Name]
		cn := ClusterNode{Name: n.Name, Address: srv.Address, Role: swarmRole(n, succs[n.Name]), Hoster: n.Hoster, Region: n.Location,
			Labels: n.Labels, User: srv.User, Port: srv.Port}
		if srv.HasHostKey {
			cn.HostKey = srv.HostKey
		}
		args.Nodes = append(args.Nodes, cn)
		entry := pulumi.Map{
			"name": pulumi.String(n.Name), "hoster": pulumi.String(n.Hoster), "provider": pulumi.String(n.Provider),
			"role": pulumi.String(n.Role), "region": pulumi.String(n.Location), "generation": pulumi.Int(n.Generation),
			"address": srv.Address,
		}
		if sc := succs[n.Name]; sc != nil {
			entry["successor"] = successorMap(*sc)
		}
		if srv.HasHostKey {
			// Current after a run that leaves the swarm resource out
			// (`shoal dr restore`), when its hostKeys output is not.
			entry["hostKey"] = srv.HostKey
		}
		out = append(out, entry)
	}
	cluster, err := NewCluster(ctx, spec.Cluster, args, pulumi.DependsOn(waitFor))
	if err != nil {
		return nil, fmt.Errorf("swarm %s: %w", spec.Cluster, err)
	}
	addresses := map[string]pulumi.StringOutput{}
	for name, srv := range servers {
		addresses[name] = srv.Address
	}
	platform, err := deployStacks(ctx, spec, args, cluster, addresses, projectRoot(ctx, opts))
	if err != nil {
		return nil, err
	}
	return &Outputs{
		Platform:         *platform,
		Cluster:          spec.Cluster,
		Nodes:            out.ToArrayOutput(),
		SwarmID:          cluster.SwarmID,
		ManagerAddresses: cluster.ManagerAddresses,
		HostKeys:         cluster.HostKeys,
		UnlockKey:        cluster.UnlockKey,
	}, nil
}

// floorGenerations raises the spec's generation of each node of names to
// its deployed one where the config's is lower. Nodes no longer in the
// spec are ignored.
func floorGenerations(s *Spec, deployed map[string]int, names []string) {
	for _, n := range names {
		if g := deployed[n]; g > s.Generations[n] {
			if s.Generations == nil {
				s.Generations = map[string]int{}
			}
			s.Generations[n] = g
		}
	}
}

// swarmRole is the role the swarm resource gives node n: a manager's
// successor joins as a worker while its predecessor is still listed (the
// swarm resource holds its nodes to the manager rules as one layout, and
// one manager more is an even count); `shoal node replace` promotes it
// once it has joined, and the run that puts it in its predecessor's place
// lists it as the manager it then is.
func swarmRole(n node.Spec, c *Successor) string {
	if c != nil && c.Joining && n.Role == node.RoleManager {
		return node.RoleWorker
	}
	return n.Role
}

// successorMap is successor c as the `nodes` output carries it.
func successorMap(c Successor) pulumi.Map {
	m := pulumi.Map{"slot": pulumi.String(c.Slot), "name": pulumi.String(c.Name)}
	if c.Hoster != "" {
		m["hoster"] = pulumi.String(c.Hoster)
	}
	if c.Type != "" {
		m["type"] = pulumi.String(c.Type)
	}
	if c.Joining {
		m["joining"] = pulumi.Bool(true)
	}
	return m
}

// applyGenerations lays opts' generations over the spec's; names are the
// run's nodes.
func applyGenerations(s *Spec, gens map[string]int, names []string) error {
	if len(gens) == 0 {
		return nil
	}
	for n, g := range gens {
		if !slices.Contains(names, n) {
			return fmt.Errorf("replace %s: no such node in shoal:pools (nodes: %v)", n, names)
		}
		if g < 0 {
			return fmt.Errorf("replace %s: generation must be 0 or more, got %d", n, g)
		}
		if s.Generations == nil {
			s.Generations = map[string]int{}
		}
		s.Generations[n] = g
	}
	return nil
}

// projectRoot is where relative config paths are read from.
func projectRoot(ctx *pulumi.Context, opts Options) string {
	if opts.Root != "" {
		return opts.Root
	}
	return ctx.RootDirectory()
}
