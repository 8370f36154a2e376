package infra

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/infra/node"
)

// InitOptions describe the project `shoal init` writes.
type InitOptions struct {
	// Project is shoal's Pulumi.yaml, the project the new one copies.
	Project []byte
	Stack   string // the stack file's stack, e.g. "prod"
	Cluster string
	// Hosters are provider names or aliases ("hetzner", "vultr",
	// "scaleway") and "existing"; each cloud hoster is one site.
	Hosters []string
	// Addresses are the existing hosts: "203.0.113.7" or "ovh=203.0.113.7"
	// (the hoster they run at); each hoster is one site.
	Addresses []string
	// Passphrase encrypts the generated private key in the stack file, as
	// Pulumi's passphrase secrets provider does.
	Passphrase string
	// Rand is the randomness of the key and the salt (crypto/rand if nil).
	Rand io.Reader
	// TokenFromEnv, when set, looks up the environment variable of every
	// API token the cloud hosters need (HCLOUD_TOKEN for hcloud:token, ...):
	// each is written into the stack file as a Pulumi secret, and one that
	// is not set is an error naming it.
	TokenFromEnv func(name string) (string, bool)
}

// InitProject is what `shoal init` writes: file name to content.
type InitProject struct {
	Files map[string][]byte
	// PublicKey is the generated key's public half (authorized_keys).
	PublicKey string
	// TokenKeys are the provider config keys the user still has to set,
	// and TokenEnv the environment variables that can stand in for them.
	TokenKeys []string
	TokenEnv  []string
	// TokensWritten are the keys written as secrets (TokenFromEnv), each
	// with the variable it came from: "hcloud:token (HCLOUD_TOKEN)".
	TokensWritten []string
	// HasExisting says that hosts must be given the public key.
	HasExisting bool
}

// site is one failure domain of the generated layout.
type site struct {
	provider, hoster string
	addresses        []string
}

var clusterName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// NewInitProject decides the files of a new project: Pulumi.yaml (shoal's,
// running the prebuilt program ./bin/shoal-program under `pulumi up`),
// Pulumi.<stack>.yaml with one manager per site for the first three sites
// (a single site gets one manager and allowSingleHosterQuorum, with a
// comment saying why) and a worker at every further site, a generated SSH
// key (the private half as a Pulumi secret under the passphrase, with the
// stack's encryptionsalt), and a .gitignore. The stack file is checked as
// `shoal up` checks it (Preflight) before it is returned. It writes
// nothing.
func NewInitProject(o InitOptions) (*InitProject, error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if !clusterName.MatchString(o.Cluster) {
		return nil, &ConfigError{Key: "--cluster", Msg: fmt.Sprintf("must be lowercase letters, digits and '-', got %q", o.Cluster)}
	}
	sites, err := initSites(o.Hosters, o.Addresses)
	if err != nil {
		return nil, err
	}
	p := &InitProject{Files: map[string][]byte{}}

	pub, priv, err := ed25519.GenerateKey(o.Rand)
	if err != nil {
		return nil, fmt.Errorf("generate ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "shoal "+o.Cluster)
	if err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	p.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " shoal-" + o.Cluster
	salt, crypter, err := stackCrypter(o.Passphrase, o.Rand)
	if err != nil {
		return nil, err
	}
	secure, err := crypter.EncryptValue(context.Background(), string(pem.EncodeToMemory(block)))
	if err != nil {
		return nil, err
	}

	var pools []string
	managers := 1
	if len(sites) >= 3 {
		managers = 3
	}
	for i, s := range sites {
		role := node.RoleWorker
		if i < managers {
			role = node.RoleManager
		}
		name := fmt.Sprintf("%s%d", poolPrefix(s), i+1)
		if s.provider == node.ProviderExisting {
			p.HasExisting = true
			addrs := s.addresses
			if role == node.RoleManager {
				// One manager per site; the site's other hosts work.
				pools = append(pools, fmt.Sprintf("    - {name: %s, provider: existing, hoster: %s, role: manager, addresses: [%s]}",
					name, s.hoster, strconv.Quote(addrs[0])))
				addrs, name = addrs[1:], name+"w"
			}
			if len(addrs) > 0 {
				pools = append(pools, fmt.Sprintf("    - {name: %s, provider: existing, hoster: %s, role: worker, addresses: [%s]}",
					name, s.hoster, strings.Join(quoted(addrs), ", ")))
			}
			continue
		}
		d, _ := Descriptor(s.provider)
		pools = append(pools, fmt.Sprintf("    - {name: %s, hoster: %s, role: %s, count: 1, type: %s, location: %s}",
			name, s.hoster, role, d.ExampleType, d.ExampleLocation))
		for i, k := range d.ConfigKeys {
			if !containsString(p.TokenKeys, k) {
				p.TokenKeys = append(p.TokenKeys, k)
				if i < len(d.EnvVars) {
					p.TokenEnv = append(p.TokenEnv, d.EnvVars[i])
				}
			}
		}
	}
	tokens, err := tokenSecrets(p, o.TokenFromEnv, crypter)
	if err != nil {
		return nil, err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Stack %s of cluster %s, written by `shoal init`. Yours to edit: server\n", o.Stack, o.Cluster)
	b.WriteString("# types and locations are examples. shoal reads this file and never writes it.\n")
	if len(tokens) > 0 {
		b.WriteString("# The private key and the hosters' API tokens are Pulumi secrets under the\n# passphrase `shoal init` used\n")
	} else {
		b.WriteString("# The private key is a Pulumi secret under the passphrase `shoal init` used\n")
	}
	b.WriteString("# (encryptionsalt below); the public key is root's authorized key on new servers.\n")
	fmt.Fprintf(&b, "encryptionsalt: %s\n", salt)
	b.WriteString("config:\n")
	fmt.Fprintf(&b, "  shoal:cluster: %s\n", o.Cluster)
	fmt.Fprintf(&b, "  shoal:sshPublicKey: %s\n", p.PublicKey)
	fmt.Fprintf(&b, "  shoal:sshPrivateKey:\n    secure: %s\n", secure)
	for _, t := range tokens {
		fmt.Fprintf(&b, "  %s:\n    secure: %s\n", t[0], t[1])
	}
	b.WriteString("  shoal:pools:\n")
	b.WriteString(strings.Join(pools, "\n") + "\n")
	if len(sites) < 3 {
		b.WriteString("  # Fewer than three sites: the outage of one hoster can cost manager quorum.\n")
		b.WriteString("  # Add sites (three managers at three hosters) and drop this to be safe.\n")
		b.WriteString("  shoal:swarm:\n    allowSingleHosterQuorum: true\n")
	}
	stackFile := []byte(b.String())

	project, err := initPulumiYaml(o.Project)
	if err != nil {
		return nil, err
	}
	if _, _, err := Preflight(o.Stack, project, stackFile); err != nil {
		return nil, fmt.Errorf("the generated stack is not valid: %w", err)
	}
	p.Files["Pulumi.yaml"] = project
	p.Files["Pulumi."+o.Stack+".yaml"] = stackFile
	p.Files[".gitignore"] = []byte("# the prebuilt program `pulumi up` runs (see Pulumi.yaml)\n/bin/\n")
	return p, nil
}

func quoted(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

func containsString(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func poolPrefix(s site) string {
	switch s.provider {
	case node.ProviderHcloud:
		return "hz"
	case node.ProviderExisting:
		return "ex"
	}
	return s.provider[:2]
}

// initSites turns --hosters and --address into sites, in order: cloud
// hosters as given, existing hosts grouped by the hoster they run at.
func initSites(hosters, addresses []string) ([]site, error) {
	var sites []site
	wantExisting := false
	for _, h := range hosters {
		h = strings.TrimSpace(strings.ToLower(h))
		if h == node.ProviderExisting {
			wantExisting = true
			continue
		}
		d, ok := Descriptor(h)
		if !ok || !d.Cloud {
			return nil, &ConfigError{Key: "--hosters", Msg: fmt.Sprintf("%q is no hoster: use %s or existing", h, strings.Join(initHosterNames(), ", "))}
		}
		for _, s := range sites {
			if s.hoster == h {
				return nil, &ConfigError{Key: "--hosters", Msg: fmt.Sprintf("%s is named twice", h)}
			}
		}
		sites = append(sites, site{provider: d.Provider, hoster: h})
	}
	if wantExisting != (len(addresses) > 0) {
		return nil, &ConfigError{Key: "--address", Msg: "give existing hosts as --hosters existing with their --address (IP or HOSTER=IP), both or neither"}
	}
	at := map[string]int{}
	for i, a := range addresses {
		hoster, ip, ok := strings.Cut(a, "=")
		if !ok {
			hoster, ip = fmt.Sprintf("site-%d", i+1), a
		}
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, &ConfigError{Key: "--address", Msg: fmt.Sprintf("%q is no IP address (the other nodes' firewalls let it in)", ip)}
		}
		if !clusterName.MatchString(hoster) {
			return nil, &ConfigError{Key: "--address", Msg: fmt.Sprintf("hoster %q: lowercase letters, digits and '-'", hoster)}
		}
		if j, ok := at[hoster]; ok {
			sites[j].addresses = append(sites[j].addresses, ip)
			continue
		}
		at[hoster] = len(sites)
		sites = append(sites, site{provider: node.ProviderExisting, hoster: hoster, addresses: []string{ip}})
	}
	if len(sites) == 0 {
		return nil, &ConfigError{Key: "--hosters", Msg: "name at least one: " + strings.Join(initHosterNames(), ", ") + " or existing"}
	}
	return sites, nil
}

// initHosterNames are the cloud hosters init knows, by their aliases
// where they have one ("hetzner").
func initHosterNames() []string {
	var out []string
	for _, d := range Descriptors() {
		if !d.Cloud {
			continue
		}
		if len(d.Aliases) > 0 {
			out = append(out, d.Aliases[0])
			continue
		}
		out = append(out, d.Provider)
	}
	return out
}

// initPulumiYaml is shoal's Pulumi.yaml for a project of the user's own:
// the same config schema, and under `pulumi up` the prebuilt program
// ./bin/shoal-program instead of the repository's source.
func initPulumiYaml(project []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(project, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("shoal's Pulumi.yaml: %v", err)
	}
	m := doc.Content[0]
	doc.HeadComment = ""
	m.HeadComment = "# A shoal project (`shoal init`). `shoal preview|up|destroy --dir DIR --stack S` run\n" +
		"# shoal's program built into shoal. Under `pulumi up` the Go runtime runs the prebuilt\n" +
		"# program ./bin/shoal-program (go install github.com/shoalops/shoal/cmd/shoal-program\n" +
		"# with GOBIN=$PWD/bin)."
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		k.HeadComment = ""
		switch k.Value {
		case "runtime":
			var rt yaml.Node
			if err := yaml.Unmarshal([]byte("name: go\noptions:\n  binary: ./bin/shoal-program\n"), &rt); err != nil {
				return nil, err
			}
			m.Content[i+1] = rt.Content[0]
		case "main":
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			i -= 2
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

// stackCrypter is what Pulumi's passphrase secrets provider makes for a
// new stack: a random 8-byte salt, the state "v1:<salt>:<the word pulumi
// encrypted>" for the stack file's encryptionsalt, and the crypter with the
// key derived from the passphrase and salt, for the stack's secrets.
func stackCrypter(passphrase string, r io.Reader) (encryptionSalt string, c config.Crypter, err error) {
	if passphrase == "" {
		return "", nil, errors.New("no passphrase to encrypt the stack's secrets with")
	}
	salt := make([]byte, 8)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", nil, err
	}
	c = config.NewSymmetricCrypterFromPassphrase(passphrase, salt)
	check, err := c.EncryptValue(context.Background(), "pulumi")
	if err != nil {
		return "", nil, err
	}
	return "v1:" + base64.StdEncoding.EncodeToString(salt) + ":" + check, c, nil
}

// tokenSecrets reads the API tokens p still needs through lookup (nil:
// none are read) and encrypts them: config key and ciphertext, in p's
// order. It moves them from p.TokenKeys to p.TokensWritten. Every variable
// that is not set is named in one error.
func tokenSecrets(p *InitProject, lookup func(string) (string, bool), c config.Crypter) ([][2]string, error) {
	if lookup == nil || len(p.TokenKeys) == 0 {
		return nil, nil
	}
	if len(p.TokenEnv) != len(p.TokenKeys) {
		return nil, &ConfigError{Key: "--token-from-env", Msg: fmt.Sprintf("not every key of %s has an environment variable", strings.Join(p.TokenKeys, ", "))}
	}
	var missing []error
	var out [][2]string
	for i, k := range p.TokenKeys {
		v, ok := lookup(p.TokenEnv[i])
		if !ok || v == "" {
			missing = append(missing, &ConfigError{Key: "--token-from-env", Msg: fmt.Sprintf("%s is not set (the value of %s)", p.TokenEnv[i], k)})
			continue
		}
		secure, err := c.EncryptValue(context.Background(), v)
		if err != nil {
			return nil, fmt.Errorf("encrypt %s: %w", k, err)
		}
		out = append(out, [2]string{k, secure})
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	for i, k := range p.TokenKeys {
		p.TokensWritten = append(p.TokensWritten, fmt.Sprintf("%s (%s)", k, p.TokenEnv[i]))
	}
	p.TokenKeys, p.TokenEnv = nil, nil
	return out, nil
}
