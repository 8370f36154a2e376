// Package portainer is shoal's client for the part of Portainer CE's API
// (2.23) that shoal uses: first-run administrator setup inside Portainer's
// 5-minute window, login and API keys, the environment (endpoint) of the
// swarm, the services of a stack through Portainer's Docker proxy, and one
// service webhook per service (EnsureWebhooks, planned by the pure
// PlanWebhooks).
//
// Errors from Portainer are *APIError with Portainer's message and details.
// Passwords, JWTs, API keys and webhook tokens are Secret values: they never
// appear in errors, logs or %v output.
//
// The behaviour it relies on is pinned by the recorded contract in
// shared/contracts/portainer-2.23/; its tests run against
// portainer/portainertest, an emulator replayed against that contract, in
// front of a real lab swarm. It must not import Pulumi, cobra, infra or heal.
//
// Usage:
//
//	c := portainer.New("https://portainer.example")
//	if _, err := c.EnsureAdmin(ctx, "admin", password); err != nil { ... }
//	c, err := c.Login(ctx, "admin", password)
//	env, _, err := c.EnsureEndpoint(ctx, portainer.EndpointSpec{Name: "swarm", AgentURL: "tcp://tasks.agent:9001"})
//	set, err := c.EnsureWebhooks(ctx, env.ID, "acme-dev")
//	for name, h := range set.Webhooks { vault.Write(name, h.Token.Reveal(), c.WebhookURL(h.Token)) }
package portainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Secret is a value that must never be printed: String and JSON give
// "<redacted>". Reveal returns the value for the one place that needs it.
type Secret string

// Redacted is what a Secret prints as.
const Redacted = "<redacted>"

func (s Secret) String() string   { return Redacted }
func (s Secret) GoString() string { return Redacted }

// MarshalJSON keeps secrets out of JSON output too.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// UnmarshalJSON reads the real value (Portainer sends it as a string).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// Client talks to one Portainer instance. It holds no request state; an
// authenticated client is a copy made by Login or WithJWT/WithAPIKey.
type Client struct {
	base   string
	http   *http.Client
	jwt    Secret
	apiKey Secret
}

// String names the instance and how the client authenticates, never with
// what.
func (c Client) String() string {
	auth := "anonymous"
	switch {
	case c.apiKey != "":
		auth = "api key"
	case c.jwt != "":
		auth = "jwt"
	}
	return "portainer " + c.base + " (" + auth + ")"
}

// GoString is String: %#v must not print credentials either.
func (c Client) GoString() string { return c.String() }

// Option configures New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 60 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithJWT authenticates with a JWT from Login.
func WithJWT(token Secret) Option { return func(c *Client) { c.jwt = token } }

// WithAPIKey authenticates with an API key (X-API-Key).
func WithAPIKey(key Secret) Option { return func(c *Client) { c.apiKey = key } }

// New returns a client for the Portainer at baseURL (scheme://host[:port],
// without /api).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{Timeout: 60 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// with returns a copy of c with opts applied.
func (c *Client) with(opts ...Option) *Client {
	cp := *c
	for _, o := range opts {
		o(&cp)
	}
	return &cp
}

// call is one request to Portainer.
type call struct {
	method, path string
	query        url.Values
	body         any       // JSON-encoded unless nil
	raw          io.Reader // a body already encoded, with contentType
	contentType  string
	public       bool   // sent without credentials
	redactPath   string // path as errors show it ("" = path)
	want         []int  // success statuses (default 200)
}

// do sends a call and decodes a JSON answer into out (unless nil).
func (c *Client) do(ctx context.Context, k call, out any) error {
	shown := k.path
	if k.redactPath != "" {
		shown = k.redactPath
	}
	u := c.base + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	body, ct := k.raw, k.contentType
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return fmt.Errorf("portainer %s %s: encode request: %w", k.method, shown, err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, body)
	if err != nil {
		return fmt.Errorf("portainer %s %s: %w", k.method, shown, err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if !k.public {
		switch {
		case c.apiKey != "":
			req.Header.Set("X-API-Key", c.apiKey.Reveal())
		case c.jwt != "":
			req.Header.Set("Authorization", "Bearer "+c.jwt.Reveal())
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http errors quote the URL, which may hold a webhook token.
		return fmt.Errorf("portainer %s %s: %s", k.method, shown, redactURL(err.Error(), u, c.base+shown))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("portainer %s %s: read answer: %w", k.method, shown, err)
	}
	want := k.want
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	for _, s := range want {
		if resp.StatusCode == s {
			if out == nil || len(bytes.TrimSpace(data)) == 0 {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("portainer %s %s: decode answer: %w", k.method, shown, err)
			}
			return nil
		}
	}
	return newAPIError(k.method, shown, resp, data)
}

// redactURL replaces the full URL (which may carry a secret) in an error
// text with the redacted one.
func redactURL(s, full, shown string) string {
	return strings.ReplaceAll(s, full, shown)
}
