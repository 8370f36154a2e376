package stacks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/stacks/deploy"
)

// Images are the images of shoal's stacks; empty fields take the file's
// default. Point them at a mirror for air-gapped installs.
type Images struct {
	Traefik        string `yaml:"traefik,omitempty" json:"traefik,omitempty"`
	Portainer      string `yaml:"portainer,omitempty" json:"portainer,omitempty"`
	PortainerAgent string `yaml:"portainer_agent,omitempty" json:"portainer_agent,omitempty"`
	Registry       string `yaml:"registry,omitempty" json:"registry,omitempty"`
}

// S3 is registry storage in an S3-compatible bucket.
type S3 struct {
	Bucket         string `yaml:"bucket" json:"bucket"`
	Region         string `yaml:"region" json:"region"`
	RegionEndpoint string `yaml:"region_endpoint,omitempty" json:"region_endpoint,omitempty"` // non-AWS providers
	AccessKey      string `yaml:"access_key" json:"-"`
	SecretKey      string `yaml:"secret_key" json:"-"` // secret
}

// Config is what shoal's own stacks are rendered from.
type Config struct {
	// Domain hosts the stacks' routes: traefik.DOMAIN, portainer.DOMAIN,
	// registry.DOMAIN (each overridable below).
	Domain                                   string
	TraefikHost, PortainerHost, RegistryHost string
	// ACMEEmail is the Let's Encrypt account e-mail.
	ACMEEmail string
	Images    Images
	// PublicNetwork is the overlay Traefik routes on (default
	// traefik-public).
	PublicNetwork string
	// EndpointMode is vip (default) or dnsrr (kernels without IPVS: the lab).
	EndpointMode string
	// TraefikPlacement constrains where Traefik runs (default
	// node.role == manager); point DNS at those nodes.
	TraefikPlacement string
	// PortainerNode is the inventory name (shoal.node label) of the manager
	// that keeps Portainer's data.
	PortainerNode string
	// RegistryNode is the inventory name of the node that keeps the
	// registry's data on its disk; ignored with S3.
	RegistryNode string
	RegistryS3   *S3
	// Existing credentials (from Vault); empty ones are generated.
	DashboardUser, RegistryUser, PortainerAdmin Credential
}

func (c Config) host(explicit, prefix string) string {
	if explicit != "" {
		return explicit
	}
	if c.Domain == "" {
		return ""
	}
	return prefix + "." + c.Domain
}

func (c Config) common() map[string]string {
	env := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	set("PUBLIC_NETWORK", c.PublicNetwork)
	set("ENDPOINT_MODE", c.EndpointMode)
	return env
}

// Rendered is a stack ready for deploy.Deploy, with the credentials it was
// rendered with. Credentials are secret: store them (Vault), never log them.
type Rendered struct {
	Stack       deploy.Stack
	Credentials []Credential
}

// Traefik renders the traefik stack: its dashboard behind basic auth with
// the dashboard user (generated when empty).
func Traefik(c Config) (Rendered, error) {
	if c.ACMEEmail == "" {
		return Rendered{}, errors.New("traefik: an ACME e-mail is required for Let's Encrypt")
	}
	host := c.host(c.TraefikHost, "traefik")
	if host == "" {
		return Rendered{}, errors.New("traefik: set a domain or the dashboard host")
	}
	cred, err := c.DashboardUser.ensure("traefik", "dashboard", "admin")
	if err != nil {
		return Rendered{}, err
	}
	users, err := htpasswd(cred)
	if err != nil {
		return Rendered{}, err
	}
	file, _ := File("traefik")
	env := c.common()
	env["TRAEFIK_HOST"] = host
	env["ACME_EMAIL"] = c.ACMEEmail
	env["DASHBOARD_USERS_VERSION"] = version(cred.Username, cred.Password)
	if c.Images.Traefik != "" {
		env["TRAEFIK_IMAGE"] = c.Images.Traefik
	}
	if c.TraefikPlacement != "" {
		env["TRAEFIK_PLACEMENT"] = c.TraefikPlacement
	}
	return Rendered{
		Stack: deploy.Stack{Name: "traefik", Compose: file, Env: env,
			Files: fstest.MapFS{"dashboard_users.htpasswd": {Data: users, Mode: 0o600}}},
		Credentials: []Credential{cred},
	}, nil
}

// Registry renders the registry stack: distribution v3 with htpasswd auth
// for the registry user (generated when empty), storage on RegistryNode's
// disk or in S3.
func Registry(c Config) (Rendered, error) {
	host := c.host(c.RegistryHost, "registry")
	if host == "" {
		return Rendered{}, errors.New("registry: set a domain or the registry host")
	}
	if c.RegistryS3 == nil && c.RegistryNode == "" {
		return Rendered{}, errors.New("registry: set the node that keeps its data, or S3 storage")
	}
	cred, err := c.RegistryUser.ensure("registry", "push and pull", "shoal")
	if err != nil {
		return Rendered{}, err
	}
	users, err := htpasswd(cred)
	if err != nil {
		return Rendered{}, err
	}
	cfg, err := RegistryConfig(c.RegistryS3, cred)
	if err != nil {
		return Rendered{}, err
	}
	file, _ := File("registry")
	env := c.common()
	env["REGISTRY_HOST"] = host
	env["REGISTRY_USERS_VERSION"] = version(cred.Username, cred.Password)
	env["REGISTRY_CONFIG_VERSION"] = version(string(cfg))
	env["REGISTRY_PLACEMENT"] = "node.role == manager"
	if c.RegistryS3 == nil {
		env["REGISTRY_PLACEMENT"] = "node.labels.shoal.node == " + c.RegistryNode
	}
	if c.Images.Registry != "" {
		env["REGISTRY_IMAGE"] = c.Images.Registry
	}
	return Rendered{
		Stack: deploy.Stack{Name: "registry", Compose: file, Env: env, Files: fstest.MapFS{
			"config.yml": {Data: cfg, Mode: 0o600},
			"htpasswd":   {Data: users, Mode: 0o600},
		}},
		Credentials: []Credential{cred},
	}, nil
}

// RegistryConfig renders distribution's config.yml: htpasswd auth, delete
// enabled (so garbage collection can reclaim space), filesystem or S3
// storage. http.secret, which signs upload state, is derived from the
// registry password so the file is the same on every render.
func RegistryConfig(s3 *S3, cred Credential) ([]byte, error) {
	mac := hmac.New(sha256.New, []byte(cred.Password))
	mac.Write([]byte("shoal registry http.secret"))
	storage := map[string]any{
		"delete": map[string]any{"enabled": true},
		"cache":  map[string]any{"blobdescriptor": "inmemory"},
	}
	if s3 != nil {
		if s3.Bucket == "" || s3.Region == "" {
			return nil, errors.New("registry: S3 storage needs a bucket and a region")
		}
		o := map[string]any{"bucket": s3.Bucket, "region": s3.Region, "accesskey": s3.AccessKey, "secretkey": s3.SecretKey}
		if s3.RegionEndpoint != "" {
			o["regionendpoint"] = s3.RegionEndpoint
		}
		storage["s3"] = o
	} else {
		storage["filesystem"] = map[string]any{"rootdirectory": "/var/lib/registry"}
	}
	cfg := map[string]any{
		"version": 0.1,
		"log":     map[string]any{"fields": map[string]any{"service": "registry"}},
		"storage": storage,
		"http": map[string]any{
			"addr":    ":5000",
			"secret":  hex.EncodeToString(mac.Sum(nil)),
			"headers": map[string]any{"X-Content-Type-Options": []string{"nosniff"}},
		},
		"auth": map[string]any{"htpasswd": map[string]any{"realm": "shoal-registry", "path": "/etc/distribution/htpasswd"}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("registry config: %w", err)
	}
	return b, nil
}

// Portainer renders the portainer stack: the server pinned to
// PortainerNode, its admin password (generated when empty) handed over as a
// swarm secret through --admin-password-file.
func Portainer(c Config) (Rendered, error) {
	host := c.host(c.PortainerHost, "portainer")
	if host == "" {
		return Rendered{}, errors.New("portainer: set a domain or the Portainer host")
	}
	if c.PortainerNode == "" {
		return Rendered{}, errors.New("portainer: set the manager that keeps its data")
	}
	cred, err := c.PortainerAdmin.ensure("portainer", "admin", "admin")
	if err != nil {
		return Rendered{}, err
	}
	file, _ := File("portainer")
	env := c.common()
	env["PORTAINER_HOST"] = host
	env["PORTAINER_NODE"] = c.PortainerNode
	env["PORTAINER_ADMIN_VERSION"] = version(cred.Username, cred.Password)
	if c.Images.Portainer != "" {
		env["PORTAINER_IMAGE"] = c.Images.Portainer
	}
	if c.Images.PortainerAgent != "" {
		env["PORTAINER_AGENT_IMAGE"] = c.Images.PortainerAgent
	}
	return Rendered{
		Stack: deploy.Stack{Name: "portainer", Compose: file, Env: env,
			Files: fstest.MapFS{"admin_password": {Data: []byte(cred.Password), Mode: 0o600}}},
		Credentials: []Credential{cred},
	}, nil
}

// Encapsulation overheads of an overlay packet: VXLAN over UDP over IPv4,
// and ESP (IPsec, AES-GCM) when the overlay is encrypted, padding included.
const (
	vxlanOverhead = 50
	espOverhead   = 58
)

// OverlayMTU is the largest overlay MTU whose packets fit a link of
// linkMTU bytes without fragmentation. A wrong (too large) overlay MTU on a
// VPS link is the classic "small requests work, large ones hang" failure:
// the encapsulated packets exceed the link and are dropped. linkMTU <= 0
// means 1500. Hoster private networks often have smaller links (Hetzner
// Cloud networks: 1450), so pass the smallest link MTU of the cluster.
func OverlayMTU(linkMTU int, encrypted bool) int {
	if linkMTU <= 0 {
		linkMTU = 1500
	}
	mtu := linkMTU - vxlanOverhead
	if encrypted {
		mtu -= espOverhead
	}
	return mtu
}
