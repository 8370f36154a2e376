package infra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/infra/node"
)

// Namespace is the config namespace the program reads: "shoal:pools".
const Namespace = "shoal"

// Config keys below Namespace.
const (
	KeyCluster       = "cluster"
	KeySSHPublicKey  = "sshPublicKey"
	KeySSHPrivateKey = "sshPrivateKey"
	KeyPools         = "pools"
	KeySwarm         = "swarm"
	KeyFirewall      = "firewall"
	KeyGenerations   = "generations"
	KeyAccounts      = "accounts"
	KeyHeal          = "heal"
)

// Keys lists every config key the program reads, in the order Pulumi.yaml
// declares them. It is the one list of known keys: a shoal:* key not in it
// is refused (UnknownKeys, Preflight). A new key goes here and into
// Pulumi.yaml, with a default unless the program requires it (Pulumi
// requires every key declared without one); infra/project_test.go holds
// the two equal.
var Keys = []string{KeyCluster, KeySSHPublicKey, KeySSHPrivateKey, KeyPools, KeyAccounts, KeySwarm, KeyFirewall, KeyGenerations,
	KeyNetwork, KeyStacks, KeyApps, KeyEnvironments, KeyVault, KeyVaultToken, KeyHeal, KeyBackup}

// Defaults of the config.
const (
	DefaultDataPathPort = inventory.DefaultDataPathPort
	SwarmManagementPort = 2377
	SwarmGossipPort     = 7946
)

// DefaultPublicTCP and DefaultPublicSources are shoal:firewall's defaults:
// SSH, HTTP and HTTPS from anywhere.
var (
	DefaultPublicTCP     = []int{22, 80, 443}
	DefaultPublicSources = []string{"0.0.0.0/0", "::/0"}
)

const (
	allowSingleKey    = "shoal:swarm.allowSingleHosterQuorum"
	placeholderDomain = "shoal.invalid"
)

// Config is the raw stack config of namespace shoal, as the engine hands
// it to the program: strings, with objects and arrays as JSON. Load reads
// it from a *pulumi.Context; tests build it by hand.
type Config struct {
	// Stack is the stack's name, the default of shoal:cluster.
	Stack string
	// Values maps keys without the namespace ("pools") to their raw
	// values. The value of shoal:sshPrivateKey is never copied here: a
	// set private key shows as "".
	Values map[string]string
	// Secret holds the keys whose values are stored as secrets.
	Secret map[string]bool
	// LocalSuffix follows the stack name in the default cluster name of a
	// stack of only local pools ("local-3fa2c1"): their lab shares this
	// machine's Docker Engine, so two shoal homes must not default to the
	// same name. `shoal up` sets it to lab.HomeID($SHOAL_HOME).
	LocalSuffix string
	// External maps keys of other namespaces that are set (the accounts'
	// token keys, "hetznerB:token") to whether they are secrets; their
	// values are never copied here.
	External map[string]bool
}

// Load reads the raw config of namespace shoal from the program's
// context. It never copies the private key's value: Parse only needs to
// know that it is set, and set as a secret.
func Load(ctx *pulumi.Context) Config {
	c := Config{Stack: ctx.Stack(), Values: map[string]string{}, Secret: map[string]bool{}}
	for _, k := range Keys {
		v, ok := ctx.GetConfig(key(k))
		if !ok {
			continue
		}
		if k == KeySSHPrivateKey || k == KeyVaultToken {
			if v == "" {
				continue // Pulumi.yaml's default: not set
			}
			v = ""
		}
		c.Values[k] = v
		c.Secret[k] = ctx.IsConfigSecret(key(k))
	}
	c.External = map[string]bool{}
	for _, tk := range tokenKeys(c.Values[KeyAccounts]) {
		if _, ok := ctx.GetConfig(tk); ok {
			c.External[tk] = ctx.IsConfigSecret(tk)
		}
	}
	return c
}

// tokenKeys reads the token keys out of a raw shoal:accounts, leniently:
// Parse judges the rest.
func tokenKeys(raw string) []string {
	var accts map[string]struct {
		TokenKey string `json:"tokenKey"`
	}
	if json.Unmarshal([]byte(raw), &accts) != nil {
		return nil
	}
	var out []string
	for _, a := range accts {
		if strings.Contains(a.TokenKey, ":") {
			out = append(out, a.TokenKey)
		}
	}
	slices.Sort(out)
	return out
}

// Spec is the validated description of a cluster from the stack config.
type Spec struct {
	Cluster      string
	SSHPublicKey string
	Pools        []Pool
	Swarm        Swarm
	Firewall     Firewall
	// Generations maps a node name to its server generation (default 0);
	// a change replaces that node's server.
	Generations map[string]int
	// Platform is what runs on the swarm: shoal's stacks, the apps,
	// webhooks and Vault (stacks.go).
	Platform Platform
	// Accounts are shoal:accounts by name: provider configurations of
	// their own, for pools at a second project or account of a provider.
	Accounts map[string]Account
	// Heal is shoal:heal, the policy of `shoal heal` (heal.go).
	Heal heal.Policy
	// HealService is shoal:heal's enabled and image: heal as a swarm service.
	HealService HealService
}

// accountConfig is one entry of shoal:accounts as written.
type accountConfig struct {
	Provider  string `json:"provider"`
	TokenKey  string `json:"tokenKey"`
	AccessKey string `json:"accessKey"`
	ProjectID string `json:"projectId"`
}

// Pool is one entry of shoal:pools: Count identical nodes named
// "<Name>-<n>" at one hoster.
type Pool struct {
	Name      string
	Provider  string // hcloud, vultr, scaleway, existing, local
	Hoster    string // hoster name for labels and quorum
	Role      string
	Count     int
	Type      string // server type or plan; the lab variant for local pools
	Location  string // location, region or zone
	Image     string
	Labels    map[string]string
	Addresses []string // existing pools
	User      string   // existing pools
	Port      int      // existing pools
	Account   string   // a key of shoal:accounts; "" = the provider's default configuration

	locationKey string // "location" or "region": the key the config used
	unread      bool   // the entry could not be read; checks of the whole layout are skipped
}

// Swarm is shoal:swarm: options of the swarm as a whole.
type Swarm struct {
	AdvertiseInterface      string `json:"advertiseInterface,omitempty"`
	DataPathPort            int    `json:"dataPathPort,omitempty"`
	OverlayMTU              int    `json:"overlayMtu,omitempty"`
	Autolock                bool   `json:"autolock,omitempty"`
	AllowSingleHosterQuorum bool   `json:"allowSingleHosterQuorum,omitempty"`
}

// Firewall is shoal:firewall: what the hosters' firewalls let in from
// outside the cluster.
type Firewall struct {
	PublicTCP     []int    `json:"publicTcp"`
	PublicSources []string `json:"publicSources"`
}

// ConfigError is one problem of the stack config: the key, as `pulumi
// config` spells it ("shoal:pools[1].role"), and what is wrong.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// ConfigErrors returns every *ConfigError in err's tree, in order.
func ConfigErrors(err error) []*ConfigError { return inventory.ErrorsOf[*ConfigError](err) }

// poolConfig is one entry of shoal:pools as written.
type poolConfig struct {
	Name      string            `json:"name"`
	Provider  string            `json:"provider"`
	Hoster    string            `json:"hoster"`
	Role      string            `json:"role"`
	Count     *int              `json:"count"`
	Type      string            `json:"type"`
	Location  string            `json:"location"`
	Region    string            `json:"region"`
	Image     string            `json:"image"`
	Labels    map[string]string `json:"labels"`
	Addresses []string          `json:"addresses"`
	User      string            `json:"user"`
	Port      int               `json:"port"`
	Account   string            `json:"account"`
}

// providerOf returns the provider a pool's provider field or hoster
// name names ("hetzner" -> hcloud), or "".
func providerOf(name string) string {
	if d, ok := Descriptor(name); ok {
		return d.Provider
	}
	return ""
}

// providerNames lists the providers, as help and messages name them.
func providerNames(cloudOnly bool) []string {
	var out []string
	for _, d := range Descriptors() {
		if d.Cloud || !cloudOnly {
			out = append(out, d.Provider)
		}
	}
	return out
}

// cloud reports whether provider creates servers at a cloud hoster.
func cloud(provider string) bool {
	d, ok := Descriptor(provider)
	return ok && d.Cloud
}

// Parse turns the raw stack config into a Spec and validates it with the
// same rules as the inventory (bootstrap/inventory): odd manager count, no
// hoster whose outage alone loses quorum unless
// shoal:swarm.allowSingleHosterQuorum, unique names, no labels starting
// with "shoal.". It returns every problem as a *ConfigError naming the key,
// joined with errors.Join, and warnings for layouts it accepts but advises
// against. Parse is pure.
func Parse(c Config) (Spec, []string, error) {
	p := &parser{c: c}
	s := p.parse()
	return s, p.warnings, errors.Join(p.errs...)
}

type parser struct {
	c        Config
	accounts map[string]Account
	errs     []error
	warnings []string
	seen     map[string]bool // "key\x00msg" already reported
}

func (p *parser) fail(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[key+"\x00"+msg] {
		return
	}
	p.seen[key+"\x00"+msg] = true
	p.errs = append(p.errs, &ConfigError{Key: key, Msg: msg})
}

func key(k string) string { return Namespace + ":" + k }

func poolKey(i int, field string) string {
	k := fmt.Sprintf("%s:%s[%d]", Namespace, KeyPools, i)
	if field != "" {
		k += "." + field
	}
	return k
}

// decode reads a JSON value strictly: unknown fields are problems.
func decode(raw string, v any) error {
	d := json.NewDecoder(strings.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("extra data after the value")
	}
	return nil
}

func (p *parser) parse() Spec {
	var s Spec
	v := p.c.Values

	s.Cluster = p.c.Stack
	if name, ok := v[KeyCluster]; ok && name != "" {
		s.Cluster = name
	}

	// The private key: required, and only as a secret.
	if _, set := v[KeySSHPrivateKey]; !set {
		p.fail(key(KeySSHPrivateKey), "is required: the swarm connects to every node with it; set it with `pulumi config set --secret %s < ~/.ssh/id_ed25519`", key(KeySSHPrivateKey))
	} else if !p.c.Secret[KeySSHPrivateKey] {
		p.fail(key(KeySSHPrivateKey), "is stored in plain text: set it again with `pulumi config set --secret %s < ~/.ssh/id_ed25519`", key(KeySSHPrivateKey))
	}

	s.Swarm = p.swarm()
	s.Firewall = p.firewall(s.Swarm)
	s.Accounts = p.parseAccounts()
	p.accounts = s.Accounts
	s.Pools = p.pools()
	if name := v[KeyCluster]; name == "" && p.c.LocalSuffix != "" && s.LocalOnly() {
		s.Cluster += "-" + p.c.LocalSuffix
	}

	needsKey := slices.ContainsFunc(s.Pools, func(pl Pool) bool { return pl.Provider != node.ProviderExisting && pl.Provider != "" })
	if pub, ok := v[KeySSHPublicKey]; ok && strings.TrimSpace(pub) != "" {
		pub = strings.TrimSpace(pub)
		if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(pub)); err != nil || len(bytes.TrimSpace(rest)) > 0 {
			p.fail(key(KeySSHPublicKey), "must be one public key in authorized_keys format (ssh-ed25519 AAAA... comment)")
		}
		s.SSHPublicKey = pub
	} else if needsKey {
		p.fail(key(KeySSHPublicKey), "is required: root's authorized key on the servers shoal creates; set it with `pulumi config set %s \"$(cat ~/.ssh/id_ed25519.pub)\"`", key(KeySSHPublicKey))
	}

	s.Generations = p.generations()
	s.Heal, s.HealService = p.heal()
	p.validate(&s)
	s.Platform = p.platform(&s)
	return s
}

func (p *parser) swarm() Swarm {
	var sw Swarm
	if raw, ok := p.c.Values[KeySwarm]; ok {
		p.decodeAt(key(KeySwarm), raw, &sw, "an object {advertiseInterface, dataPathPort, overlayMtu, autolock, allowSingleHosterQuorum}")
	}
	if sw.DataPathPort == 0 {
		sw.DataPathPort = DefaultDataPathPort
	}
	return sw
}

func (p *parser) firewall(sw Swarm) Firewall {
	var fw Firewall
	if raw, ok := p.c.Values[KeyFirewall]; ok {
		p.decodeAt(key(KeyFirewall), raw, &fw, "an object {publicTcp: [ports], publicSources: [CIDRs]}")
	}
	if fw.PublicTCP == nil {
		fw.PublicTCP = slices.Clone(DefaultPublicTCP)
	}
	if fw.PublicSources == nil {
		fw.PublicSources = slices.Clone(DefaultPublicSources)
	}
	swarmPorts := map[int]string{
		SwarmManagementPort: "swarm's management port (2377/tcp)",
		SwarmGossipPort:     "swarm's gossip port (7946)",
		sw.DataPathPort:     fmt.Sprintf("swarm's data path port (%d/udp)", sw.DataPathPort),
	}
	seen := map[int]bool{}
	for i, port := range fw.PublicTCP {
		k := fmt.Sprintf("%s.publicTcp[%d]", key(KeyFirewall), i)
		switch {
		case port < 1 || port > 65535:
			p.fail(k, "must be a port between 1 and 65535, got %d", port)
		case swarmPorts[port] != "":
			p.fail(k, "%d is %s: shoal opens it to the cluster's own nodes only, never to the public", port, swarmPorts[port])
		case seen[port]:
			p.fail(k, "%d is listed twice", port)
		}
		seen[port] = true
	}
	for i, src := range fw.PublicSources {
		k := fmt.Sprintf("%s.publicSources[%d]", key(KeyFirewall), i)
		pfx, err := netip.ParsePrefix(src)
		switch {
		case err != nil:
			p.fail(k, "must be a CIDR such as 0.0.0.0/0 or 203.0.113.0/24, got %q", src)
		case pfx != pfx.Masked():
			p.fail(k, "%s is no network address: did you mean %s?", src, pfx.Masked())
		}
	}
	return fw
}

func (p *parser) pools() []Pool {
	raw, ok := p.c.Values[KeyPools]
	if !ok || strings.TrimSpace(raw) == "" {
		p.fail(key(KeyPools), "is required: list the node pools, e.g. [{name: hz, hoster: hetzner, role: manager, count: 1, type: cx22, location: fsn1}, ...]")
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		p.fail(key(KeyPools), "must be a list of pools: %v", err)
		return nil
	}
	if len(items) == 0 {
		p.fail(key(KeyPools), "is empty: list at least one pool of managers")
	}
	var out []Pool
	hosterProvider := map[string]int{} // hoster -> first pool index
	hosterAccount := map[string]int{}  // hoster -> first pool index
	for i, item := range items {
		var pc poolConfig
		if !p.decodeAt(poolKey(i, ""), string(item), &pc, "an object {name, provider, hoster, account, role, count, type, location, image, labels, addresses, user, port}") {
			out = append(out, Pool{unread: true}) // keeps pools[i] at index i in every later message
			continue
		}
		pl := p.pool(i, pc)
		if j, ok := hosterProvider[pl.Hoster]; ok && pl.Hoster != "" && out[j].Provider != pl.Provider && pl.Provider != "" && out[j].Provider != "" {
			p.fail(poolKey(i, "provider"), "hoster %q already runs on provider %s (%s): one hoster, one provider", pl.Hoster, out[j].Provider, poolKey(j, ""))
		} else if !ok {
			hosterProvider[pl.Hoster] = len(out)
		}
		if j, ok := hosterAccount[pl.Hoster]; ok && pl.Hoster != "" && out[j].Account != pl.Account {
			p.fail(poolKey(i, "account"), "hoster %q already uses account %q (%s): one hoster, one account", pl.Hoster, out[j].Account, poolKey(j, ""))
		} else if !ok {
			hosterAccount[pl.Hoster] = len(out)
		}
		out = append(out, pl)
	}
	return out
}

func (p *parser) pool(i int, pc poolConfig) Pool {
	pl := Pool{Name: pc.Name, Hoster: pc.Hoster, Role: pc.Role, Type: pc.Type, Image: pc.Image,
		Labels: pc.Labels, Addresses: pc.Addresses, User: pc.User, Port: pc.Port, Account: pc.Account, locationKey: "location"}
	acct, hasAcct := p.accounts[pc.Account]
	if pc.Account != "" && !hasAcct {
		p.fail(poolKey(i, "account"), "names no account of %s (accounts: %q)", key(KeyAccounts), sortedKeys(p.accounts))
	}

	if pl.Name == "" {
		p.fail(poolKey(i, "name"), "is required: nodes are named <name>-1, <name>-2, ...")
	}

	// Provider and hoster: each defaults to the other where it can.
	switch {
	case pc.Provider != "":
		if d, ok := Descriptor(pc.Provider); !ok || d.Provider != pc.Provider {
			p.fail(poolKey(i, "provider"), "must be one of %s, got %q", strings.Join(providerNames(false), ", "), pc.Provider)
		} else {
			pl.Provider = pc.Provider
		}
	case providerOf(pc.Hoster) != "":
		pl.Provider = providerOf(pc.Hoster)
	case hasAcct && acct.Provider != "":
		pl.Provider = acct.Provider
	case pc.Hoster == "":
		p.fail(poolKey(i, "provider"), "is required: one of %s", strings.Join(providerNames(false), ", "))
	default:
		p.fail(poolKey(i, "provider"), "is required: hoster %q names no provider; set one of %s", pc.Hoster, strings.Join(providerNames(false), ", "))
	}
	if hasAcct && acct.Provider != "" && pl.Provider != "" && acct.Provider != pl.Provider {
		p.fail(poolKey(i, "account"), "account %q is at %s, the pool at %s", pc.Account, acct.Provider, pl.Provider)
	}
	if pl.Hoster == "" {
		switch pl.Provider {
		case node.ProviderLocal:
			p.fail(poolKey(i, "hoster"), "is required for local pools: the simulated hoster, e.g. hoster-a")
		case node.ProviderExisting:
			p.fail(poolKey(i, "hoster"), "is required for existing pools: where the hosts run, e.g. ovh")
		default:
			pl.Hoster = pl.Provider
		}
	}

	switch pl.Role {
	case node.RoleManager, node.RoleWorker:
	case "":
		p.fail(poolKey(i, "role"), "is required: %q or %q", node.RoleManager, node.RoleWorker)
	default:
		p.fail(poolKey(i, "role"), "must be %q or %q, got %q", node.RoleManager, node.RoleWorker, pl.Role)
	}

	switch {
	case pc.Location != "" && pc.Region != "" && pc.Location != pc.Region:
		p.fail(poolKey(i, "region"), "set location or region, not both (got %q and %q)", pc.Location, pc.Region)
		pl.Location = pc.Location
	case pc.Location != "":
		pl.Location = pc.Location
	case pc.Region != "":
		pl.Location, pl.locationKey = pc.Region, "region"
	}

	// Count: default one server, or one per address of an existing pool.
	switch {
	case pc.Count == nil && pl.Provider == node.ProviderExisting:
		pl.Count = len(pc.Addresses)
	case pc.Count == nil:
		pl.Count = 1
	case *pc.Count < 0:
		p.fail(poolKey(i, "count"), "must be 0 or more, got %d", *pc.Count)
	default:
		pl.Count = *pc.Count
	}

	if d, _ := Descriptor(pl.Provider); d.Cloud {
		if pl.Type == "" {
			p.fail(poolKey(i, "type"), "is required for %s pools: the server type or plan, e.g. %s", pl.Provider, d.ExampleType)
		}
		if pl.Location == "" {
			p.fail(poolKey(i, "location"), "is required for %s pools: e.g. %s", pl.Provider, d.ExampleLocation)
		}
		if pl.Image == "" {
			pl.Image = d.DefaultImage
		}
		if d.CheckImage != nil {
			if msg := d.CheckImage(pl.Image); msg != "" {
				p.fail(poolKey(i, "image"), "%s", msg)
			}
		}
		if d.MaxPerPool > 0 && pl.Count > d.MaxPerPool {
			p.fail(poolKey(i, "count"), "%s, got %d: split the pool", d.MaxPerPoolWhy, pl.Count)
		}
		if len(pc.Addresses) > 0 || pc.User != "" || pc.Port != 0 {
			p.fail(poolKey(i, "addresses"), "addresses, user and port are for existing pools; %s pools get new servers", pl.Provider)
		}
	}
	switch pl.Provider {
	case node.ProviderLocal:
		switch pl.Type {
		case "", "docker", "fresh":
		default:
			p.fail(poolKey(i, "type"), "is the lab variant for local pools: \"docker\" (Docker installed) or \"fresh\" (bootstrap installs it), got %q", pl.Type)
		}
		if len(pc.Addresses) > 0 || pc.User != "" || pc.Port != 0 {
			p.fail(poolKey(i, "addresses"), "addresses, user and port are for existing pools; local pools get new lab containers")
		}
	case node.ProviderExisting:
		if len(pc.Addresses) == 0 && pl.Count > 0 {
			p.fail(poolKey(i, "addresses"), "is required for existing pools: the hosts' IP addresses")
		}
		if pc.Count != nil && *pc.Count != len(pc.Addresses) {
			p.fail(poolKey(i, "count"), "is %d but the pool lists %d addresses: leave count out or make them agree", *pc.Count, len(pc.Addresses))
		}
		for m, a := range pc.Addresses {
			if _, err := netip.ParseAddr(a); err != nil {
				p.fail(poolKey(i, fmt.Sprintf("addresses[%d]", m)), "must be an IP address (the other nodes' firewalls let it in), got %q", a)
			}
		}
		if pl.Type != "" || pl.Image != "" {
			p.fail(poolKey(i, "type"), "type and image are for pools shoal creates servers in; existing hosts keep theirs")
		}
	}
	return pl
}

// accountName is what an account may be called: it names a provider
// resource ("<cluster>-account-<name>").
var accountName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func (p *parser) parseAccounts() map[string]Account {
	out := map[string]Account{}
	raw, ok := p.c.Values[KeyAccounts]
	if !ok || strings.TrimSpace(raw) == "" {
		return out
	}
	var items map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		p.fail(key(KeyAccounts), "must be an object of account name to {provider, tokenKey, accessKey, projectId}: %v", err)
		return out
	}
	for _, name := range sortedKeys(items) {
		k := key(KeyAccounts) + "." + name
		var ac accountConfig
		if !p.decodeAt(k, string(items[name]), &ac, "an object {provider, tokenKey, accessKey, projectId}") {
			continue
		}
		a := Account{Name: name, Provider: providerOf(ac.Provider), TokenKey: ac.TokenKey, AccessKey: ac.AccessKey, ProjectID: ac.ProjectID}
		if !accountName.MatchString(name) || name == node.DefaultAccount {
			p.fail(k, "an account name is lowercase letters, digits and '-', starting with a letter, and not %q", node.DefaultAccount)
		}
		if !cloud(a.Provider) {
			p.fail(k+".provider", "must be one of %s, got %q", strings.Join(providerNames(true), ", "), ac.Provider)
		}
		ns, _, _ := strings.Cut(ac.TokenKey, ":")
		switch {
		case ac.TokenKey == "":
			p.fail(k+".tokenKey", "is required: the config key holding the account's API token, e.g. %s:token, set with `pulumi config set --secret %s:token`", name, name)
		case !strings.Contains(ac.TokenKey, ":") || ns == "" || ns == Namespace:
			p.fail(k+".tokenKey", "must be a config key outside namespace %s, such as %s:token, got %q", Namespace, name, ac.TokenKey)
		default:
			secret, set := p.c.External[ac.TokenKey]
			if !set {
				p.fail(k+".tokenKey", "names %s, which the stack does not set: `pulumi config set --secret %s`", ac.TokenKey, ac.TokenKey)
			} else if !secret {
				p.fail(k+".tokenKey", "names %s, which is stored in plain text: set it again with `pulumi config set --secret %s`", ac.TokenKey, ac.TokenKey)
			}
		}
		if a.Provider == node.ProviderScaleway {
			if a.AccessKey == "" {
				p.fail(k+".accessKey", "is required for scaleway accounts: the API key's access key (SCW...)")
			}
			if a.ProjectID == "" {
				p.fail(k+".projectId", "is required for scaleway accounts: the project the servers go to")
			}
		} else if a.AccessKey != "" || a.ProjectID != "" {
			p.fail(k+".accessKey", "accessKey and projectId are for scaleway accounts")
		}
		out[name] = a
	}
	return out
}

func (p *parser) generations() map[string]int {
	out := map[string]int{}
	raw, ok := p.c.Values[KeyGenerations]
	if !ok || strings.TrimSpace(raw) == "" {
		return out
	}
	var gens map[string]int
	if err := decode(raw, &gens); err != nil {
		p.fail(key(KeyGenerations), "must be an object of node name to generation, e.g. {\"hz-1\": 1}: %v", err)
		return out
	}
	for n, g := range gens {
		if g < 0 {
			p.fail(key(KeyGenerations)+"."+n, "must be 0 or more, got %d", g)
			continue
		}
		out[n] = g
	}
	return out
}

// nodeRef remembers which pool (and address) an inventory node came from.
type nodeRef struct {
	pool, addr int
}

// validate checks the parts of the spec the inventory knows about by
// building an inventory and running its validation, then maps each
// inventory field back to the config key it came from. The manager layout
// is checked with inventory.CheckManagers, naming pools.
func (p *parser) validate(s *Spec) {
	inv := &inventory.Inventory{Cluster: inventory.Cluster{
		Name:                    s.Cluster,
		AdvertiseInterface:      s.Swarm.AdvertiseInterface,
		DataPathPort:            uint32(max(s.Swarm.DataPathPort, 0)),
		OverlayMTU:              s.Swarm.OverlayMTU,
		Autolock:                s.Swarm.Autolock,
		AllowSingleHosterQuorum: s.Swarm.AllowSingleHosterQuorum,
	}}
	var refs []nodeRef
	for i, pl := range s.Pools {
		for n := range pl.Count {
			nd := inventory.Node{Name: nodeName(pl, n), Role: pl.Role, Hoster: pl.Hoster, Region: pl.Location, Labels: pl.Labels, User: pl.User, Port: pl.Port}
			if pl.Provider == node.ProviderExisting && n < len(pl.Addresses) {
				nd.Address = pl.Addresses[n]
			} else {
				nd.Address = nd.Name + "." + placeholderDomain // not known yet; must only be unique and valid
			}
			inv.Nodes = append(inv.Nodes, nd)
			refs = append(refs, nodeRef{pool: i, addr: n})
		}
	}

	if len(s.Pools) == 0 || slices.ContainsFunc(s.Pools, func(pl Pool) bool { return pl.unread }) {
		return // no layout, or an incomplete one: its checks would blame the pools that were read
	}
	_, err := inv.Validate()
	for _, fe := range inventory.FieldErrors(err) {
		k, ok := p.configKey(s, refs, fe.Field)
		if !ok {
			continue
		}
		msg := fe.Msg
		if k == key(KeyCluster) && p.c.Values[KeyCluster] == "" {
			msg += fmt.Sprintf(" (it defaults to the stack name %q; set %s)", p.c.Stack, key(KeyCluster))
		}
		p.fail(k, "%s", msg)
	}

	// The manager layout, with keys that name pools.
	layout := inventory.ManagerLayout{AllowSingleHosterQuorum: s.Swarm.AllowSingleHosterQuorum, AllowKey: allowSingleKey}
	managerPools := map[string][]int{} // hoster -> pools with managers there
	var allManagerPools []int
	for i, pl := range s.Pools {
		if pl.Role != node.RoleManager || pl.Count == 0 {
			continue
		}
		for range pl.Count {
			layout.Hosters = append(layout.Hosters, pl.Hoster)
		}
		managerPools[pl.Hoster] = append(managerPools[pl.Hoster], i)
		allManagerPools = append(allManagerPools, i)
	}
	warnings, problems := inventory.CheckManagers(layout)
	p.warnings = append(p.warnings, warnings...)
	for _, pr := range problems {
		if pr.Hoster == "" {
			k := key(KeyPools)
			if len(allManagerPools) == 1 {
				k = poolKey(allManagerPools[0], "count")
			}
			p.fail(k, "%s%s", pr.Msg, p.fromPools(s, allManagerPools))
			continue
		}
		pools := managerPools[pr.Hoster]
		p.fail(poolKey(pools[0], "hoster"), "%s%s", pr.Msg, p.fromPools(s, pools))
	}

	for n := range s.Generations {
		if _, ok := inv.Node(n); !ok {
			p.warnings = append(p.warnings, fmt.Sprintf("%s.%s: no node %s in shoal:pools; the generation is ignored unless `shoal node replace` made a successor of that name", key(KeyGenerations), n, n))
		}
	}
}

// fromPools says which pools put managers where: " (managers from
// shoal:pools[0] hz: 1, shoal:pools[2] hz2: 1)".
func (p *parser) fromPools(s *Spec, pools []int) string {
	if len(pools) == 0 {
		return ""
	}
	var parts []string
	for _, i := range pools {
		parts = append(parts, fmt.Sprintf("%s %s at %s: %d", poolKey(i, ""), s.Pools[i].Name, s.Pools[i].Hoster, s.Pools[i].Count))
	}
	return " (managers from " + strings.Join(parts, ", ") + ")"
}

// configKey maps an inventory field ("nodes[3].labels", "cluster.name") to
// the config key it came from; ok is false for fields the program reports
// itself or that cannot apply (addresses not known yet).
func (p *parser) configKey(s *Spec, refs []nodeRef, field string) (string, bool) {
	switch field {
	case "cluster.name":
		return key(KeyCluster), true
	case "cluster.data_path_port":
		return key(KeySwarm) + ".dataPathPort", true
	case "cluster.overlay_mtu":
		return key(KeySwarm) + ".overlayMtu", true
	case "cluster.advertise_interface":
		return key(KeySwarm) + ".advertiseInterface", true
	case "nodes":
		return key(KeyPools), true
	}
	var idx int
	var rest string
	if _, err := fmt.Sscanf(field, "nodes[%d].", &idx); err != nil || idx < 0 || idx >= len(refs) {
		return "", false // nodes[].role, nodes[].hoster: CheckManagers reports these
	}
	rest = field[strings.Index(field, "].")+2:]
	ref := refs[idx]
	pl := s.Pools[ref.pool]
	switch rest {
	case "name":
		return poolKey(ref.pool, rest), pl.Name != "" // "" is reported as required
	case "hoster", "labels", "user", "port":
		return poolKey(ref.pool, rest), true
	case "region":
		return poolKey(ref.pool, pl.locationKey), true
	case "address":
		if pl.Provider == node.ProviderExisting {
			return poolKey(ref.pool, fmt.Sprintf("addresses[%d]", ref.addr)), true
		}
	}
	return "", false // role: checked per pool; placeholder addresses
}

func nodeName(pl Pool, n int) string { return fmt.Sprintf("%s-%d", pl.Name, n+1) }

// Nodes returns the spec's nodes in config order: pool by pool, each
// "<pool>-1" to "<pool>-<count>".
func (s Spec) Nodes() []node.Spec {
	var out []node.Spec
	for _, pl := range s.Pools {
		for n := range pl.Count {
			ns := node.Spec{
				Cluster: s.Cluster, Name: nodeName(pl, n), Pool: pl.Name, Index: n + 1, Hoster: pl.Hoster, Provider: pl.Provider,
				Role: pl.Role, Type: pl.Type, Location: pl.Location, Image: pl.Image, Labels: pl.Labels,
				SSHPublicKey: s.SSHPublicKey,
			}
			if pl.Provider == node.ProviderExisting {
				ns.SSHPublicKey = ""
				ns.User, ns.Port = pl.User, pl.Port
				if n < len(pl.Addresses) {
					ns.Address = pl.Addresses[n]
				}
			}
			ns.Generation = s.Generations[ns.Name]
			out = append(out, ns)
		}
	}
	return out
}

// Hosters returns the spec's hosters in the order their first pool
// appears, each with all its pools.
func (s Spec) Hosters() []node.Hoster {
	var out []node.Hoster
	at := map[string]int{}
	for _, pl := range s.Pools {
		i, ok := at[pl.Hoster]
		if !ok {
			i = len(out)
			at[pl.Hoster] = i
			h := node.Hoster{Cluster: s.Cluster, Name: pl.Hoster, Provider: pl.Provider, Account: pl.Account, Rules: FirewallRules(s.Firewall, s.Swarm.DataPathPort)}
			if pl.Provider != node.ProviderExisting {
				h.SSHPublicKey = s.SSHPublicKey
			}
			out = append(out, h)
		}
		out[i].Pools = append(out[i].Pools, node.Pool{Name: pl.Name, Role: pl.Role, Count: pl.Count, Type: pl.Type, Location: pl.Location, Image: pl.Image})
	}
	return out
}
