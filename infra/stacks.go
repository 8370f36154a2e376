package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra/local"
	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/infra/wire"
	"github.com/shoalops/shoal/stacks"
)

// Config keys of what runs on the swarm.
const (
	KeyStacks       = "stacks"
	KeyApps         = "apps"
	KeyEnvironments = "environments"
	KeyVault        = "vault"
	KeyVaultToken   = "vaultToken"
	KeyNetwork      = "network"
)

// Resource type tokens of the stacks.
const (
	StackType    = wire.StackType
	WebhooksType = wire.WebhooksType
)

// DefaultEnvironments are shoal:environments' default.
var DefaultEnvironments = []string{"dev", "prod"}

// PortainerAddressPlaceholder in shoal:stacks.portainer.url is replaced by
// the address of the node Portainer runs on (labs and clusters without
// DNS): "http://{address}:9000".
const PortainerAddressPlaceholder = "{address}"

// ShippedStack is one of shoal:stacks' traefik, portainer and registry.
type ShippedStack struct {
	Enabled    bool     `json:"enabled"`
	Image      string   `json:"image,omitempty"`
	AgentImage string   `json:"agentImage,omitempty"` // portainer only
	Host       string   `json:"host,omitempty"`
	Node       string   `json:"node,omitempty"`     // portainer, registry: the node that keeps the data
	URL        string   `json:"url,omitempty"`      // portainer: as reachable from where Pulumi runs
	Endpoint   string   `json:"endpoint,omitempty"` // portainer: "local" or the agent URL
	Overrides  []string `json:"overrides,omitempty"`
}

// Stacks is shoal:stacks: shoal's own stacks and what they share.
type Stacks struct {
	Domain       string       `json:"domain,omitempty"`
	ACMEEmail    string       `json:"acmeEmail,omitempty"`
	EndpointMode string       `json:"endpointMode,omitempty"` // vip (default) or dnsrr
	ResolveImage string       `json:"resolveImage,omitempty"` // always (default) or never
	Traefik      ShippedStack `json:"traefik"`
	Portainer    ShippedStack `json:"portainer"`
	Registry     ShippedStack `json:"registry"`
}

// App is one entry of shoal:apps: a user's stack, deployed once per
// environment as <project>-<env>.
type App struct {
	Name      string            `json:"name"`
	Compose   string            `json:"compose"`
	Project   string            `json:"project,omitempty"` // default: Name
	Env       map[string]string `json:"env,omitempty"`
	Overrides []string          `json:"overrides,omitempty"`
}

// Vault is shoal:vault: where the webhook tokens and the shipped stacks'
// generated credentials go. The token is the secret config
// shoal:vaultToken.
type Vault struct {
	Address      string `json:"address"`
	Mount        string `json:"mount,omitempty"`
	PathTemplate string `json:"pathTemplate,omitempty"`
}

// Network is shoal:network: the overlay policy of every stack.
type Network struct {
	EncryptedOverlays bool `json:"encryptedOverlays"`
	// MTU of created overlays; 0 = shoal:swarm.overlayMtu, else derived
	// from a 1500-byte link (stacks.OverlayMTU).
	MTU int `json:"mtu"`
}

// Platform is what the program deploys on the swarm.
type Platform struct {
	Stacks       Stacks
	Apps         []App
	Environments []string
	Vault        *Vault
	Network      Network
}

// StackName is the swarm stack of an app in one environment.
func (a App) StackName(env string) string {
	if a.Project != "" {
		return a.Project + "-" + env
	}
	return a.Name + "-" + env
}

// ProjectName is the app's project: Vault paths and stack names use it.
func (a App) ProjectName() string {
	if a.Project != "" {
		return a.Project
	}
	return a.Name
}

// ImageTag is the default image tag of an environment: dev -> dev, prod ->
// latest, any other -> its name.
func ImageTag(env string) string { return stacks.ImageTag(env) }

var stackNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// platform parses the stacks, apps, environments, vault and network keys.
func (p *parser) platform(s *Spec) Platform {
	v := p.c.Values
	pl := Platform{Environments: append([]string(nil), DefaultEnvironments...), Network: Network{EncryptedOverlays: true}}
	if raw, ok := v[KeyStacks]; ok && strings.TrimSpace(raw) != "" {
		if err := decode(raw, &pl.Stacks); err != nil {
			p.fail(key(KeyStacks), "must be an object {domain, acmeEmail, endpointMode, resolveImage, traefik, portainer, registry}: %v", err)
		}
	}
	if raw, ok := v[KeyNetwork]; ok && strings.TrimSpace(raw) != "" {
		if err := decode(raw, &pl.Network); err != nil {
			p.fail(key(KeyNetwork), "must be an object {encryptedOverlays, mtu}: %v", err)
		}
	}
	if pl.Network.MTU < 0 || (pl.Network.MTU > 0 && pl.Network.MTU < 576) {
		p.fail(key(KeyNetwork)+".mtu", "must be 0 (auto) or at least 576, got %d", pl.Network.MTU)
	}
	if raw, ok := v[KeyEnvironments]; ok && strings.TrimSpace(raw) != "" {
		var envs []string
		if err := decode(raw, &envs); err != nil || len(envs) == 0 {
			p.fail(key(KeyEnvironments), "must be a non-empty list of environment names, e.g. [dev, prod]")
		} else {
			pl.Environments = envs
		}
	}
	for i, e := range pl.Environments {
		if !stackNameRE.MatchString(e) {
			p.fail(fmt.Sprintf("%s[%d]", key(KeyEnvironments), i), "must be lowercase letters, digits, '-' or '_', got %q", e)
		}
	}
	if raw, ok := v[KeyApps]; ok && strings.TrimSpace(raw) != "" {
		if err := decode(raw, &pl.Apps); err != nil {
			p.fail(key(KeyApps), "must be a list of {name, compose, project, env, overrides}: %v", err)
		}
		if len(pl.Apps) == 0 {
			pl.Apps = nil // [] is Pulumi.yaml's default: no apps
		}
	}
	if raw, ok := v[KeyVault]; ok && strings.TrimSpace(raw) != "" {
		var vc Vault
		if err := decode(raw, &vc); err != nil {
			p.fail(key(KeyVault), "must be an object {address, mount, pathTemplate}: %v", err)
		} else if vc != (Vault{}) { // {} is Pulumi.yaml's default: no Vault
			pl.Vault = &vc
		}
	}

	st := &pl.Stacks
	switch st.EndpointMode {
	case "", "vip", "dnsrr":
	default:
		p.fail(key(KeyStacks)+".endpointMode", "must be vip or dnsrr, got %q", st.EndpointMode)
	}
	switch st.ResolveImage {
	case "", "always", "never":
	default:
		p.fail(key(KeyStacks)+".resolveImage", "must be always or never, got %q", st.ResolveImage)
	}
	needHost := func(name string, sh ShippedStack) {
		if sh.Enabled && sh.Host == "" && st.Domain == "" {
			p.fail(key(KeyStacks)+"."+name+".host", "is required without shoal:stacks.domain: the host %s is routed at", name)
		}
	}
	needHost("traefik", st.Traefik)
	needHost("portainer", st.Portainer)
	needHost("registry", st.Registry)
	if st.Traefik.Enabled && st.ACMEEmail == "" {
		p.fail(key(KeyStacks)+".acmeEmail", "is required with traefik: the Let's Encrypt account e-mail")
	}
	firstManager := ""
	nodes := map[string]string{}
	for _, n := range s.Nodes() {
		nodes[n.Name] = n.Role
		if firstManager == "" && n.Role == node.RoleManager {
			firstManager = n.Name
		}
	}
	for _, sh := range []struct {
		name string
		s    *ShippedStack
	}{{"portainer", &st.Portainer}, {"registry", &st.Registry}} {
		if !sh.s.Enabled {
			continue
		}
		if sh.s.Node == "" {
			sh.s.Node = firstManager
		} else if _, ok := nodes[sh.s.Node]; !ok {
			p.fail(key(KeyStacks)+"."+sh.name+".node", "no node %s in shoal:pools", sh.s.Node)
		}
	}
	if st.Portainer.Enabled && nodes[st.Portainer.Node] != node.RoleManager && st.Portainer.Node != "" {
		p.fail(key(KeyStacks)+".portainer.node", "%s is no manager: Portainer runs on a manager", st.Portainer.Node)
	}

	seen := map[string]int{}
	for i, a := range pl.Apps {
		k := fmt.Sprintf("%s[%d]", key(KeyApps), i)
		if a.Name == "" || !stackNameRE.MatchString(a.Name) {
			p.fail(k+".name", "is required: lowercase letters, digits, '-' or '_', got %q", a.Name)
		}
		if a.Project != "" && !stackNameRE.MatchString(a.Project) {
			p.fail(k+".project", "must be lowercase letters, digits, '-' or '_', got %q", a.Project)
		}
		if a.Compose == "" {
			p.fail(k+".compose", "is required: the path of the app's compose file")
		}
		if j, dup := seen[a.ProjectName()]; dup {
			p.fail(k+".project", "project %q is already %s[%d]'s: stacks <project>-<env> would collide", a.ProjectName(), key(KeyApps), j)
		}
		seen[a.ProjectName()] = i
	}
	webhooks := len(pl.Apps) > 0 && st.Portainer.Enabled
	shipped := st.Traefik.Enabled || st.Portainer.Enabled || st.Registry.Enabled
	vaultSet := pl.Vault != nil && pl.Vault.Address != ""
	switch {
	case webhooks && !vaultSet:
		p.fail(key(KeyVault)+".address", "is required with apps and portainer: each service's webhook token is written to Vault")
	case (webhooks || shipped && vaultSet) && !p.c.Secret[KeyVaultToken]:
		why := "with apps and portainer"
		if !webhooks {
			why = "with shoal:vault and shoal's stacks: their generated credentials are written to Vault"
		}
		if _, set := v[KeyVaultToken]; set {
			p.fail(key(KeyVaultToken), "is stored in plain text: set it again with `pulumi config set --secret %s`", key(KeyVaultToken))
		} else {
			p.fail(key(KeyVaultToken), "is required %s: `pulumi config set --secret %s`", why, key(KeyVaultToken))
		}
	}
	return pl
}

// stackDeps is what every Stack resource needs to reach a manager.
type stackDeps struct {
	cluster       string
	nodes         pulumi.Array
	sshPrivateKey pulumi.StringInput
	hostKeys      pulumi.StringMapOutput
	overlay       pulumi.Map
	resolve       string
	dependsOn     []pulumi.Resource
}

// StackResource is a shoal:swarm:Stack as the program sees it.
type StackResource struct {
	pulumi.CustomResourceState

	Name        pulumi.StringOutput    `pulumi:"name"`
	ServiceIDs  pulumi.StringMapOutput `pulumi:"serviceIds"`
	Credentials pulumi.MapOutput       `pulumi:"credentials"`
	Changed     pulumi.BoolOutput      `pulumi:"changed"`
}

// WebhooksResource is a shoal:portainer:Webhooks as the program sees it.
type WebhooksResource struct {
	pulumi.CustomResourceState

	Webhooks pulumi.MapOutput `pulumi:"webhooks"`
}

func newStack(ctx *pulumi.Context, name string, d stackDeps, m pulumi.Map, deps ...pulumi.Resource) (*StackResource, error) {
	m["cluster"] = pulumi.String(d.cluster)
	m["nodes"] = d.nodes
	m["sshPrivateKey"] = d.sshPrivateKey
	m["hostKeys"] = d.hostKeys
	m["overlay"] = d.overlay
	if d.resolve != "" {
		m["resolveImage"] = pulumi.String(d.resolve)
	}
	var res StackResource
	err := ctx.RegisterResource(StackType, name, m, &res,
		pulumi.Version(local.ProviderVersion),
		pulumi.AdditionalSecretOutputs([]string{"sshPrivateKey", "registryAuth", "credentials", "vault"}),
		pulumi.DependsOn(append(append([]pulumi.Resource{}, d.dependsOn...), deps...)))
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	return &res, nil
}

// readFiles reads compose files: relative paths from the project root
// when the engine names one (`pulumi up`), else from the current directory
// (`shoal up` runs the program inline, from where it was started).
func readFiles(root string, paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if !filepath.IsAbs(p) && root != "" {
			p = filepath.Join(root, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// credential picks one generated credential's field out of a Stack's
// credentials output (a formatting step: no I/O).
func credential(res *StackResource, purpose, field string) pulumi.StringOutput {
	return pulumi.ToSecret(res.Credentials.ApplyT(func(m map[string]any) string {
		c, _ := m[purpose].(map[string]any)
		s, _ := c[field].(string)
		return s
	})).(pulumi.StringOutput)
}

// PlatformOutputs are what deployStacks exports.
type PlatformOutputs struct {
	Stacks   pulumi.StringArray
	Registry pulumi.Map // {host, username, password (secret)}
}

// deployStacks registers shoal's own stacks, then every app in every
// environment with its Webhooks, all after the cluster. Nothing is
// registered when nothing is configured.
func deployStacks(ctx *pulumi.Context, spec Spec, args ClusterArgs, cluster *Cluster, addresses map[string]pulumi.StringOutput, root string) (*PlatformOutputs, error) {
	pl := spec.Platform
	st := pl.Stacks
	out := &PlatformOutputs{}
	if !st.Traefik.Enabled && !st.Portainer.Enabled && !st.Registry.Enabled && len(pl.Apps) == 0 {
		return out, nil
	}
	mtu := pl.Network.MTU
	if mtu == 0 {
		mtu = spec.Swarm.OverlayMTU
	}
	if mtu == 0 {
		mtu = stacks.OverlayMTU(1500, pl.Network.EncryptedOverlays)
	}
	d := stackDeps{
		cluster:       spec.Cluster,
		nodes:         args.Map()["nodes"].(pulumi.Array),
		sshPrivateKey: args.SSHPrivateKey,
		hostKeys:      cluster.HostKeys,
		overlay:       pulumi.Map{"unencrypted": pulumi.Bool(!pl.Network.EncryptedOverlays), "mtu": pulumi.Int(mtu)},
		resolve:       st.ResolveImage,
		dependsOn:     []pulumi.Resource{cluster},
	}
	platform := pulumi.Map{
		"domain":        pulumi.String(st.Domain),
		"acmeEmail":     pulumi.String(st.ACMEEmail),
		"traefikHost":   pulumi.String(st.Traefik.Host),
		"portainerHost": pulumi.String(st.Portainer.Host),
		"registryHost":  pulumi.String(st.Registry.Host),
		"portainerNode": pulumi.String(st.Portainer.Node),
		"registryNode":  pulumi.String(st.Registry.Node),
		"endpointMode":  pulumi.String(st.EndpointMode),
		"images": pulumi.Map{
			"traefik": pulumi.String(st.Traefik.Image), "portainer": pulumi.String(st.Portainer.Image),
			"portainerAgent": pulumi.String(st.Portainer.AgentImage), "registry": pulumi.String(st.Registry.Image),
		},
	}
	// The shipped stacks' credentials go to Vault at
	// <mount>/<cluster>/platform/<stack> (registry: .../registry/<user>).
	var credVault pulumi.Map
	var vaultToken pulumi.StringOutput
	var err error
	if pl.Vault != nil && pl.Vault.Address != "" {
		if vaultToken, err = secretConfig(ctx, KeyVaultToken); err != nil {
			return nil, err
		}
		credVault = pulumi.Map{"address": pulumi.String(pl.Vault.Address), "mount": pulumi.String(pl.Vault.Mount),
			"pathTemplate": pulumi.String(pl.Vault.PathTemplate), "project": pulumi.String(spec.Cluster), "token": vaultToken}
	}
	shipped := func(name string, sh ShippedStack, deps ...pulumi.Resource) (*StackResource, error) {
		overrides, err := readFiles(root, sh.Overrides...)
		if err != nil {
			return nil, fmt.Errorf("%s.%s.overrides: %w", key(KeyStacks), name, err)
		}
		m := pulumi.Map{"name": pulumi.String(name), "shipped": pulumi.String(name), "platform": platform,
			"overrides": pulumi.ToStringArray(overrides)}
		if credVault != nil {
			m["vault"] = credVault
		}
		out.Stacks = append(out.Stacks, pulumi.String(name))
		return newStack(ctx, spec.Cluster+"-stack-"+name, d, m, deps...)
	}

	var traefik, portainer, registry *StackResource
	var after []pulumi.Resource // what app stacks wait for (traefik's network)
	if st.Traefik.Enabled {
		if traefik, err = shipped("traefik", st.Traefik); err != nil {
			return nil, err
		}
		after = append(after, traefik)
	}
	if st.Portainer.Enabled {
		if portainer, err = shipped("portainer", st.Portainer, after...); err != nil {
			return nil, err
		}
	}
	var registryAuth pulumi.Array
	if st.Registry.Enabled {
		if registry, err = shipped("registry", st.Registry, after...); err != nil {
			return nil, err
		}
		host := st.Registry.Host
		if host == "" {
			host = "registry." + st.Domain
		}
		user, pass := credential(registry, "push and pull", "username"), credential(registry, "push and pull", "password")
		registryAuth = pulumi.Array{pulumi.Map{"server": pulumi.String(host), "username": user, "password": pass}}
		out.Registry = pulumi.Map{"host": pulumi.String(host), "username": user, "password": pass}
	}

	if len(pl.Apps) == 0 {
		return out, nil
	}
	var portainerURL pulumi.StringInput
	var adminPassword pulumi.StringOutput
	if portainer != nil {
		u := st.Portainer.URL
		if u == "" {
			host := st.Portainer.Host
			if host == "" {
				host = "portainer." + st.Domain
			}
			u = "https://" + host
		}
		portainerURL = pulumi.String(u)
		if strings.Contains(u, PortainerAddressPlaceholder) {
			portainerURL = addresses[st.Portainer.Node].ApplyT(func(a string) string {
				return strings.ReplaceAll(u, PortainerAddressPlaceholder, a)
			}).(pulumi.StringOutput)
		}
		adminPassword = credential(portainer, "admin", "password")
	} else if err := ctx.Log.Warn("shoal:apps without shoal:stacks.portainer.enabled: no webhooks, no Vault entries", nil); err != nil {
		return nil, err
	}
	for i, app := range pl.Apps {
		files, err := readFiles(root, append([]string{app.Compose}, app.Overrides...)...)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", key(KeyApps), i, err)
		}
		for _, env := range pl.Environments {
			name := app.StackName(env)
			vars := pulumi.StringMap{"STACK_NAME": pulumi.String(name), "APP_TAG": pulumi.String(ImageTag(env)), "SHOAL_ENV": pulumi.String(env)}
			if st.EndpointMode != "" {
				vars["ENDPOINT_MODE"] = pulumi.String(st.EndpointMode)
			}
			for k, v := range app.Env {
				vars[k] = pulumi.String(v)
			}
			m := pulumi.Map{"name": pulumi.String(name), "compose": pulumi.String(files[0]),
				"overrides": pulumi.ToStringArray(files[1:]), "env": vars}
			if registryAuth != nil {
				m["registryAuth"] = registryAuth
			}
			deps := append([]pulumi.Resource{}, after...)
			if registry != nil {
				deps = append(deps, registry)
			}
			res, err := newStack(ctx, spec.Cluster+"-stack-"+name, d, m, deps...)
			if err != nil {
				return nil, err
			}
			out.Stacks = append(out.Stacks, pulumi.String(name))
			if portainer == nil {
				continue
			}
			wm := pulumi.Map{
				"url": portainerURL, "adminPassword": adminPassword, "stack": pulumi.String(name),
				"endpoint": pulumi.String(st.Portainer.Endpoint), "services": res.ServiceIDs,
				"vault": pulumi.Map{"address": pulumi.String(pl.Vault.Address), "mount": pulumi.String(pl.Vault.Mount),
					"pathTemplate": pulumi.String(pl.Vault.PathTemplate), "token": vaultToken},
				"project": pulumi.String(app.ProjectName()), "env": pulumi.String(env),
			}
			var wh WebhooksResource
			if err := ctx.RegisterResource(WebhooksType, spec.Cluster+"-webhooks-"+name, wm, &wh,
				pulumi.Version(local.ProviderVersion),
				pulumi.AdditionalSecretOutputs([]string{"adminPassword", "vault", "webhooks"}),
				pulumi.DependsOn([]pulumi.Resource{res, portainer})); err != nil {
				return nil, fmt.Errorf("webhooks %s: %w", name, err)
			}
		}
	}
	return out, nil
}

// secretConfig reads a secret config value of namespace shoal, as an
// output that stays secret.
func secretConfig(ctx *pulumi.Context, k string) (pulumi.StringOutput, error) {
	v, ok := ctx.GetConfig(key(k))
	if !ok {
		return pulumi.String("").ToStringOutput(), nil
	}
	if !ctx.IsConfigSecret(key(k)) {
		return pulumi.StringOutput{}, &ConfigError{Key: key(k), Msg: "must be a secret"}
	}
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput), nil
}
