package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/vault"
)

// Stack is shoal:swarm:Stack: one compose stack deployed on the swarm with
// `docker stack deploy --prune --with-registry-auth` semantics
// (stacks/deploy), through the first answering manager. Its ID is the
// stack name. A shipped stack (traefik, portainer, registry) is rendered
// here from the platform options, with credentials generated on create and
// kept, secret, in the state, so every later deploy reuses them; with
// Vault inputs they are also written to Vault after each deploy and
// removed from it when the stack is deleted.
type Stack struct{}

// StackOverlay is the policy for the overlay networks a stack creates.
type StackOverlay struct {
	Unencrypted bool `pulumi:"unencrypted,optional"`
	Mtu         int  `pulumi:"mtu,optional"`
}

// StackRegistryAuth is a login for one registry, sent with the services
// whose images live there.
type StackRegistryAuth struct {
	Server   string `pulumi:"server"`
	Username string `pulumi:"username"`
	Password string `pulumi:"password" provider:"secret"`
}

// StackImages are image overrides of the shipped stacks.
type StackImages struct {
	Traefik        string `pulumi:"traefik,optional"`
	Portainer      string `pulumi:"portainer,optional"`
	PortainerAgent string `pulumi:"portainerAgent,optional"`
	Registry       string `pulumi:"registry,optional"`
}

// StackPlatform are the options a shipped stack is rendered from
// (stacks.Config).
type StackPlatform struct {
	Domain        string       `pulumi:"domain,optional"`
	ACMEEmail     string       `pulumi:"acmeEmail,optional"`
	TraefikHost   string       `pulumi:"traefikHost,optional"`
	PortainerHost string       `pulumi:"portainerHost,optional"`
	RegistryHost  string       `pulumi:"registryHost,optional"`
	PortainerNode string       `pulumi:"portainerNode,optional"`
	RegistryNode  string       `pulumi:"registryNode,optional"`
	EndpointMode  string       `pulumi:"endpointMode,optional"`
	PublicNetwork string       `pulumi:"publicNetwork,optional"`
	Images        *StackImages `pulumi:"images,optional"`
}

// StackArgs are the inputs of a Stack.
type StackArgs struct {
	Name string `pulumi:"name"`
	// Shipped names a stack shipped in shoal (traefik, portainer,
	// registry): it is rendered from Platform and Compose may be empty.
	Shipped  string         `pulumi:"shipped,optional"`
	Platform *StackPlatform `pulumi:"platform,optional"`
	// Compose replaces the shipped file when set; Overrides are merged
	// over it in order.
	Compose      string              `pulumi:"compose,optional"`
	Overrides    []string            `pulumi:"overrides,optional"`
	Env          map[string]string   `pulumi:"env,optional"`
	Overlay      *StackOverlay       `pulumi:"overlay,optional"`
	RegistryAuth []StackRegistryAuth `pulumi:"registryAuth,optional" provider:"secret"`
	ResolveImage string              `pulumi:"resolveImage,optional"`
	TimeoutSecs  int                 `pulumi:"timeoutSeconds,optional"`
	// Vault, when set, receives a shipped stack's generated credentials
	// (stackvault.go).
	Vault *StackVault `pulumi:"vault,optional"`

	// How to reach a manager, as for a Cluster.
	Cluster       string            `pulumi:"cluster"`
	Nodes         []ClusterNode     `pulumi:"nodes"`
	SSHPrivateKey string            `pulumi:"sshPrivateKey" provider:"secret"`
	HostKeys      map[string]string `pulumi:"hostKeys,optional"`
}

// StackService is where one service of a deployed stack stands.
type StackService struct {
	ID      string `pulumi:"id"`
	Version int    `pulumi:"version"`
}

// StackCredential is a login generated for a shipped stack.
type StackCredential struct {
	Username string `pulumi:"username"`
	Password string `pulumi:"password" provider:"secret"`
}

// StackState is a Stack's state: its inputs and what the last deploy left.
type StackState struct {
	StackArgs
	Services   map[string]StackService `pulumi:"services,optional"`
	ServiceIDs map[string]string       `pulumi:"serviceIds,optional"`
	Changed    bool                    `pulumi:"changed"`
	// Credentials of a shipped stack, by purpose ("dashboard", "admin",
	// "push and pull"); secret.
	Credentials map[string]StackCredential `pulumi:"credentials,optional" provider:"secret"`
}

var (
	_ infer.CustomResource[StackArgs, StackState]       = (*Stack)(nil)
	_ infer.CustomCheck[StackArgs]                      = (*Stack)(nil)
	_ infer.CustomUpdate[StackArgs, StackState]         = (*Stack)(nil)
	_ infer.CustomDelete[StackState]                    = (*Stack)(nil)
	_ infer.Annotated                                   = (*Stack)(nil)
	_ infer.ExplicitDependencies[StackArgs, StackState] = (*Stack)(nil)
)

// Annotate sets the type token and describes the resource.
func (s *Stack) Annotate(a infer.Annotator) {
	a.SetToken("swarm", "Stack")
	a.Describe(s, "A compose stack deployed on the swarm like `docker stack deploy --prune --with-registry-auth`; shipped stacks (traefik, portainer, registry) are rendered with generated credentials kept secret in the state and, with vault set, written to Vault KV v2 at <mount>/<project>/platform/<stack> (registry: <mount>/<project>/platform/registry/<user>), keys username and password.")
}

// Annotate describes the inputs.
func (a *StackArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Shipped, "traefik, portainer or registry: render the stack shipped in shoal from platform; empty for a user's stack.")
	an.Describe(&a.Compose, "The compose file (its content); for a shipped stack it replaces the shipped file.")
	an.Describe(&a.Overrides, "Compose files merged over it in order, as `docker stack deploy -c base -c override`.")
	an.Describe(&a.Env, "What ${VAR} in the files resolves to (the process environment is not read).")
	an.Describe(&a.ResolveImage, "always (default) or never: whether the engine resolves image digests at deploy.")
	an.Describe(&a.Vault, "Where a shipped stack's generated credentials are written (KV v2, only on change; removed with the stack): <mount>/<pathTemplate(project, platform, stack)>, and for the registry one entry per user below it.")
	an.Describe(&a.HostKeys, "Pinned SSH host keys by node name (the Cluster's hostKeys output); a node without one is trusted on first use.")
}

// Annotate sets type tokens.
func (o *StackOverlay) Annotate(a infer.Annotator)      { a.SetToken("swarm", "StackOverlay") }
func (r *StackRegistryAuth) Annotate(a infer.Annotator) { a.SetToken("swarm", "RegistryAuth") }
func (i *StackImages) Annotate(a infer.Annotator)       { a.SetToken("swarm", "StackImages") }
func (pl *StackPlatform) Annotate(a infer.Annotator)    { a.SetToken("swarm", "StackPlatform") }
func (s *StackService) Annotate(a infer.Annotator)      { a.SetToken("swarm", "StackService") }
func (c *StackCredential) Annotate(a infer.Annotator)   { a.SetToken("swarm", "StackCredential") }

// WireDependencies keeps every secret secret in the state.
func (*Stack) WireDependencies(f infer.FieldSelector, _ *StackArgs, state *StackState) {
	f.OutputField(&state.SSHPrivateKey).AlwaysSecret()
	f.OutputField(&state.RegistryAuth).AlwaysSecret()
	f.OutputField(&state.Credentials).AlwaysSecret()
	f.OutputField(&state.Vault).AlwaysSecret()
}

// Check validates the inputs that are known.
func (*Stack) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StackArgs], error) {
	args, failures, err := infer.DefaultCheck[StackArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[StackArgs]{Inputs: args, Failures: failures}, err
	}
	return infer.CheckResponse[StackArgs]{Inputs: args, Failures: checkStack(args)}, nil
}

// checkStack returns one failure per invalid known input. Pure.
func checkStack(a StackArgs) []p.CheckFailure {
	var f []p.CheckFailure
	if a.Name != "" {
		if err := deploy.ValidateName(a.Name); err != nil {
			f = append(f, p.CheckFailure{Property: "name", Reason: err.Error()})
		}
	}
	switch a.Shipped {
	case "":
		if a.Compose == "" && a.Name != "" && len(a.Nodes) > 0 {
			f = append(f, p.CheckFailure{Property: "compose", Reason: "is required for a stack that is not shipped in shoal"})
		}
	case "traefik", "portainer", "registry":
	default:
		f = append(f, p.CheckFailure{Property: "shipped", Reason: fmt.Sprintf("must be traefik, portainer or registry, got %q", a.Shipped)})
	}
	if v := a.Vault; v != nil && v.Address != "" && a.Name != "" {
		tmpl, err := vault.ParseTemplate(v.PathTemplate)
		if err == nil {
			_, err = tmpl.CredentialPath(v.Project, a.Name, "")
		}
		if err != nil {
			f = append(f, p.CheckFailure{Property: "vault", Reason: err.Error()})
		}
	}
	switch deploy.ResolveImage(a.ResolveImage) {
	case "", deploy.ResolveAlways, deploy.ResolveNever:
	default:
		f = append(f, p.CheckFailure{Property: "resolveImage", Reason: fmt.Sprintf("must be always or never, got %q", a.ResolveImage)})
	}
	return f
}

// Create deploys the stack and writes its generated credentials to Vault
// when Vault inputs are set. Under DryRun it touches nothing.
func (*Stack) Create(ctx context.Context, req infer.CreateRequest[StackArgs]) (infer.CreateResponse[StackState], error) {
	if req.DryRun {
		return infer.CreateResponse[StackState]{ID: req.Inputs.Name, Output: StackState{StackArgs: req.Inputs}}, nil
	}
	st, err := deployStack(ctx, req.Inputs, nil)
	if err != nil {
		if st.Services == nil {
			return infer.CreateResponse[StackState]{}, err
		}
		return infer.CreateResponse[StackState]{ID: req.Inputs.Name, Output: st},
			infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	if err := syncStackVault(ctx, &st, nil); err != nil {
		// The stack runs with these credentials: keep them in the state.
		return infer.CreateResponse[StackState]{ID: req.Inputs.Name, Output: st},
			infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	return infer.CreateResponse[StackState]{ID: req.Inputs.Name, Output: st}, nil
}

// Update deploys the changed stack: services no longer in the file are
// removed (prune); then Vault gets the credentials and loses the entries
// the previous inputs placed elsewhere. Under DryRun it touches nothing.
func (*Stack) Update(ctx context.Context, req infer.UpdateRequest[StackArgs, StackState]) (infer.UpdateResponse[StackState], error) {
	if req.DryRun {
		st := req.State
		st.StackArgs = req.Inputs
		return infer.UpdateResponse[StackState]{Output: st}, nil
	}
	prev := req.State
	st, err := deployStack(ctx, req.Inputs, &prev)
	if err != nil {
		return infer.UpdateResponse[StackState]{}, err
	}
	if err := syncStackVault(ctx, &st, &prev); err != nil {
		return infer.UpdateResponse[StackState]{}, err
	}
	return infer.UpdateResponse[StackState]{Output: st}, nil
}

// Delete removes the stack like `docker stack rm`, then its credentials'
// Vault entries. A stack that is already gone, or a swarm with no manager
// left, counts as removed (with a warning for the latter); a Vault error
// fails the delete.
func (*Stack) Delete(ctx context.Context, req infer.DeleteRequest[StackState]) (infer.DeleteResponse, error) {
	st := req.State
	if err := removeStack(ctx, st); err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := syncStackVault(ctx, nil, &st); err != nil {
		return infer.DeleteResponse{}, err
	}
	return infer.DeleteResponse{}, nil
}

// removeStack removes the stack's services, secrets, configs and networks
// from the swarm.
func removeStack(ctx context.Context, st StackState) error {
	m, closeFn, err := connectStackManager(ctx, st.StackArgs)
	if err != nil {
		var none *stacks.NoManagerError
		if errors.As(err, &none) {
			p.GetLogger(ctx).Warningf("stack %s: no manager answers (%v); counting the stack as removed", st.Name, err)
			return nil
		}
		return err
	}
	defer closeFn()
	rm, err := deploy.Remove(ctx, m.Docker, st.Name, stackOptions(ctx, st.StackArgs))
	if err != nil {
		return fmt.Errorf("remove stack %s: %w", st.Name, err)
	}
	p.GetLogger(ctx).Infof("stack %s: removed %d services, %d secrets, %d configs, %d networks",
		st.Name, len(rm.Services), len(rm.Secrets), len(rm.Configs), len(rm.Networks))
	return nil
}

// connectStackManager reaches the first answering manager of the stack's
// nodes, with host keys pinned as the Cluster pinned them.
func connectStackManager(ctx context.Context, a StackArgs) (*stacks.Manager, func(), error) {
	s, err := newSession(ctx, ClusterArgs{Name: a.Cluster, Nodes: a.Nodes, SSHPrivateKey: a.SSHPrivateKey}, a.Nodes, a.HostKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", a.Name, err)
	}
	m, err := stacks.ConnectManager(ctx, s.inv, s.dial)
	if err != nil {
		s.close()
		return nil, nil, fmt.Errorf("stack %s: %w", a.Name, err)
	}
	return m, func() { m.Close(); s.close() }, nil
}

func stackOptions(ctx context.Context, a StackArgs) deploy.Options {
	o := deploy.Options{
		ResolveImage: deploy.ResolveImage(a.ResolveImage),
		// A user's app stack gets safe rollout settings where its file
		// sets none; shoal's own stacks keep what their files say.
		UpdateDefaults: a.Shipped == "",
		Progress: deploy.ProgressFunc(func(svc, msg string) {
			p.GetLogger(ctx).Infof("[%s] %s", svc, msg)
		}),
	}
	if a.Overlay != nil {
		o.Overlay = deploy.Overlay{Unencrypted: a.Overlay.Unencrypted, MTU: a.Overlay.Mtu}
	}
	if a.TimeoutSecs > 0 {
		o.Timeout = time.Duration(a.TimeoutSecs) * time.Second
	}
	return o
}

// renderStack builds the deploy.Stack from the inputs; a shipped stack is
// rendered with prev's credentials (generated when there are none) and
// returns the credentials it used. Pure but for password generation.
func renderStack(a StackArgs, prev map[string]StackCredential) (deploy.Stack, map[string]StackCredential, error) {
	var s deploy.Stack
	var creds map[string]StackCredential
	if a.Shipped != "" {
		cfg := stacks.Config{}
		if pl := a.Platform; pl != nil {
			cfg = stacks.Config{
				Domain: pl.Domain, ACMEEmail: pl.ACMEEmail,
				TraefikHost: pl.TraefikHost, PortainerHost: pl.PortainerHost, RegistryHost: pl.RegistryHost,
				PortainerNode: pl.PortainerNode, RegistryNode: pl.RegistryNode,
				EndpointMode: pl.EndpointMode, PublicNetwork: pl.PublicNetwork,
			}
			if im := pl.Images; im != nil {
				cfg.Images = stacks.Images{Traefik: im.Traefik, Portainer: im.Portainer, PortainerAgent: im.PortainerAgent, Registry: im.Registry}
			}
		}
		var render func(stacks.Config) (stacks.Rendered, error)
		var purpose string
		switch a.Shipped {
		case "traefik":
			render, purpose = stacks.Traefik, "dashboard"
		case "portainer":
			render, purpose = stacks.Portainer, "admin"
		case "registry":
			render, purpose = stacks.Registry, "push and pull"
		default:
			return s, nil, fmt.Errorf("stack %s: unknown shipped stack %q", a.Name, a.Shipped)
		}
		if c, ok := prev[purpose]; ok {
			cred := stacks.Credential{Username: c.Username, Password: c.Password}
			cfg.DashboardUser, cfg.PortainerAdmin, cfg.RegistryUser = cred, cred, cred
		}
		r, err := render(cfg)
		if err != nil {
			return s, nil, fmt.Errorf("stack %s: %w", a.Name, err)
		}
		s = r.Stack
		creds = map[string]StackCredential{}
		for _, c := range r.Credentials {
			creds[c.Purpose] = StackCredential{Username: c.Username, Password: c.Password}
		}
		// The inputs' env wins over the rendered one.
		env := maps.Clone(s.Env)
		maps.Copy(env, a.Env)
		s.Env = env
	} else {
		s.Env = maps.Clone(a.Env)
	}
	s.Name = a.Name
	if a.Compose != "" {
		s.Compose = []byte(a.Compose)
	}
	for _, o := range a.Overrides {
		s.Overrides = append(s.Overrides, []byte(o))
	}
	for _, ra := range a.RegistryAuth {
		s.RegistryAuth = append(s.RegistryAuth, deploy.RegistryAuth{Server: ra.Server, Username: ra.Username, Password: ra.Password})
	}
	return s, creds, nil
}

// deployStack deploys the inputs and returns the state. On error the
// state's Services is nil unless the deploy got far enough to read them.
func deployStack(ctx context.Context, in StackArgs, prev *StackState) (StackState, error) {
	st := StackState{StackArgs: in}
	var prevCreds map[string]StackCredential
	if prev != nil {
		prevCreds = prev.Credentials
	}
	s, creds, err := renderStack(in, prevCreds)
	if err != nil {
		return st, err
	}
	st.Credentials = creds
	m, closeFn, err := connectStackManager(ctx, in)
	if err != nil {
		return st, err
	}
	defer closeFn()
	res, err := deploy.Deploy(ctx, m.Docker, s, stackOptions(ctx, in))
	for _, w := range res.Warnings {
		p.GetLogger(ctx).Warningf("stack %s: %s", in.Name, w)
	}
	st.Services, st.ServiceIDs = servicesOf(in.Name, res.Services)
	st.Changed = res.Changed()
	if err != nil {
		return st, fmt.Errorf("deploy stack %s on %s: %w", in.Name, m.Node, err)
	}
	if !st.Changed {
		p.GetLogger(ctx).Infof("stack %s: converged, no changes", in.Name)
	}
	return st, nil
}

// servicesOf maps the deployed services by their name within the stack
// ("web" for STACK_web); pruned services are left out.
func servicesOf(stack string, rs []deploy.ServiceResult) (map[string]StackService, map[string]string) {
	svcs, ids := map[string]StackService{}, map[string]string{}
	for _, r := range rs {
		if r.Action == deploy.Prune {
			continue
		}
		name := shortName(stack, r.Name)
		svcs[name] = StackService{ID: r.ID, Version: int(r.Version)}
		ids[name] = r.ID
	}
	return svcs, ids
}
