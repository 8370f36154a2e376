package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Config says where Vault is, how to log in and where the entries live.
type Config struct {
	Address      string // e.g. https://vault.acme.example:8200; "" means $VAULT_ADDR, else the api default
	Mount        string // KV v2 mount; "" means DefaultMount
	PathTemplate string // "" means DefaultPathTemplate
	Credentials  Credentials

	// MaxRetries is how often the api client retries 5xx, 412 and 429
	// answers and connection errors (1-1.5 s apart): 0 means its default
	// (2), a negative value means never (tests).
	MaxRetries int
	Timeout    time.Duration // per request; 0 means the api default (60 s)
}

// Client reads and writes shoal's entries in one KV v2 mount. It holds a
// logged-in api client; it keeps no context.
type Client struct {
	api   *vaultapi.Client
	kv    *vaultapi.KVv2
	mount string
	tmpl  Template
	// token is the client token after login, kept to scrub it from errors.
	token string
}

// New validates cfg and logs in: a token is used as is; an AppRole logs in at
// auth/<mount>/login and uses the token it gets. TLS settings come from the
// usual VAULT_CACERT / VAULT_CAPATH / VAULT_SKIP_VERIFY variables.
func New(ctx context.Context, cfg Config) (*Client, error) {
	mount, err := cleanMount(cfg.Mount)
	if err != nil {
		return nil, err
	}
	tmpl, err := ParseTemplate(cfg.PathTemplate)
	if err != nil {
		return nil, err
	}
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, err
	}
	conf := vaultapi.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("vault client configuration: %w", conf.Error)
	}
	if cfg.Address != "" {
		conf.Address = cfg.Address
	}
	switch {
	case cfg.MaxRetries < 0:
		conf.MaxRetries = 0
	case cfg.MaxRetries > 0:
		conf.MaxRetries = cfg.MaxRetries
	}
	if cfg.Timeout > 0 {
		conf.Timeout = cfg.Timeout
	}
	api, err := vaultapi.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", conf.Address, err)
	}
	api.ClearToken() // NewClient picks up $VAULT_TOKEN; only cfg.Credentials count
	c := &Client{api: api, kv: api.KVv2(mount), mount: mount, tmpl: tmpl}
	if err := c.login(ctx, cfg.Credentials); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) login(ctx context.Context, cr Credentials) error {
	if cr.Token != "" {
		c.setToken(cr.Token)
		return nil
	}
	path := "auth/" + cr.appRoleMount() + "/login"
	s, err := c.api.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": cr.RoleID, "secret_id": cr.SecretID})
	if err != nil {
		return wrapErr("login", path, err, cr.RoleID, cr.SecretID)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("vault login %s: the answer holds no client token", path)
	}
	c.setToken(s.Auth.ClientToken)
	return nil
}

func (c *Client) setToken(t string) {
	c.token = t
	c.api.SetToken(t)
}

// Mount is the KV v2 mount the client works in.
func (c *Client) Mount() string { return c.mount }

// Template is the path template the client places entries with.
func (c *Client) Template() Template { return c.tmpl }

// Path is the entry's full API path for reading, e.g. "secret/data/acme/dev/web"
// (what `vault kv get -mount=secret acme/dev/web` reads).
func (c *Client) Path(project, env, service string) (string, error) {
	p, err := c.tmpl.Path(project, env, service)
	if err != nil {
		return "", err
	}
	return c.mount + "/data/" + p, nil
}

// isNotFound reports the api package's "no secret here".
func isNotFound(err error) bool { return errors.Is(err, vaultapi.ErrSecretNotFound) }
