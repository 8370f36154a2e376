// Package registry resolves image tags to manifest digests at the image's
// registry, through the Registry HTTP API v2 (the OCI distribution API):
// HEAD /v2/<repository>/manifests/<tag> with Accept headers for the
// manifest kinds a swarm pulls (OCI image index and manifest, Docker
// manifest list and schema 2 manifest), reading Docker-Content-Digest.
// It authenticates the way registries ask in their 401 challenge: HTTP
// basic auth, or the bearer token flow (a token fetched from the realm the
// challenge names, with the login as basic auth, for the pull scope).
//
// Passwords and tokens never appear in errors or String output. The
// package does no Docker Engine calls and must not import Pulumi, cobra,
// infra or heal.
//
// Usage:
//
//	r := registry.New(registry.Options{Logins: []registry.Login{{Host: "registry.acme.example", Username: u, Password: p}}})
//	d, err := r.Resolve(ctx, "registry.acme.example/shop/web", "v42")
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// Accept lists the manifest media types a resolve asks for, most specific
// first. A registry answers with the digest of what it would serve a
// docker pull: the index for multi-platform images, else the manifest.
var Accept = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// Login is a registry login. String never shows the password.
type Login struct {
	Host     string // as in image references: registry.acme.example, 127.0.0.1:5000
	Username string
	Password string
}

func (l Login) String() string { return l.Username + "@" + l.Host + " (password <redacted>)" }

// GoString keeps %#v from printing the password.
func (l Login) GoString() string { return "registry.Login{" + l.String() + "}" }

// Options configure a Resolver.
type Options struct {
	// Logins by registry host; a registry without one is asked anonymously.
	Logins []Login
	// Endpoints maps a registry host as images name it to the base URL
	// shoal reaches it at (scheme://host[:port]), for registries whose name
	// differs from where shoal runs (a lab's 127.0.0.1:5000). Default:
	// https://<host>, or http:// for localhost and 127.0.0.0/8 (what the
	// Docker Engine treats as insecure without configuration).
	Endpoints map[string]string
	// HTTP is the client (default: 30 s timeout).
	HTTP *http.Client
}

// Resolver resolves tags to digests. It is safe for concurrent use.
type Resolver struct {
	logins    map[string]Login
	endpoints map[string]string
	http      *http.Client
}

// New returns a Resolver.
func New(o Options) *Resolver {
	r := &Resolver{logins: map[string]Login{}, endpoints: map[string]string{}, http: o.HTTP}
	for _, l := range o.Logins {
		r.logins[l.Host] = l
	}
	for h, u := range o.Endpoints {
		r.endpoints[h] = strings.TrimRight(u, "/")
	}
	if r.http == nil {
		r.http = &http.Client{Timeout: 30 * time.Second}
	}
	return r
}

// NotFoundError says that the registry has no such tag (or repository).
type NotFoundError struct {
	Image string // repository:tag as looked up
	URL   string // the manifest URL asked
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("registry has no image %s (HEAD %s: 404 manifest unknown)", e.Image, e.URL)
}

// AuthError says that the registry refused the login (or its absence).
type AuthError struct {
	Image  string
	Status int
	Login  string // "user@host" or "anonymous"
	Detail string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("registry refused %s for %s: %d %s", e.Login, e.Image, e.Status, e.Detail)
}

// Split splits an image reference into its repository as written (Docker's
// familiar form: "redis", "registry.acme.example/shop/web"), tag and digest
// ("" when absent).
func Split(image string) (repo, tag, digest string, err error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", "", "", fmt.Errorf("invalid image reference %q: %w", image, err)
	}
	repo = reference.FamiliarName(named)
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	return repo, tag, digest, nil
}

// hostPath splits a normalised repository into registry host and path.
func hostPath(repo string) (host, path string) {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		i := strings.IndexByte(repo, '/')
		return repo[:i], repo[i+1:]
	}
	return reference.Domain(named), reference.Path(named)
}

// BaseURL is where the registry of host is reached.
func (r *Resolver) BaseURL(host string) string {
	if u, ok := r.endpoints[host]; ok {
		return u
	}
	if host == "docker.io" {
		return "https://registry-1.docker.io"
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return "http://" + host
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return "http://" + host
	}
	return "https://" + host
}

// Resolve returns the digest (sha256:...) that repo:tag points to now.
// repo is a repository as Split returns it. A missing tag is a
// *NotFoundError; a refused login an *AuthError.
func (r *Resolver) Resolve(ctx context.Context, repo, tag string) (string, error) {
	if tag == "" {
		tag = "latest"
	}
	host, path := hostPath(repo)
	image := repo + ":" + tag
	u := r.BaseURL(host) + "/v2/" + path + "/manifests/" + url.PathEscape(tag)
	login, hasLogin := r.logins[host]
	fail := func(err error) (string, error) { return "", fmt.Errorf("resolve %s: %w", image, r.scrub(err, login)) }
	auth := ""
	resp, body, err := r.send(ctx, http.MethodHead, u, auth)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode == http.StatusUnauthorized && hasLogin {
		if auth, err = r.authorize(ctx, resp.Header.Get("Www-Authenticate"), login, path); err != nil {
			return fail(err)
		}
		if resp, body, err = r.send(ctx, http.MethodHead, u, auth); err != nil {
			return fail(err)
		}
	}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Docker-Content-Digest") == "" {
		// A registry that does not send the header on HEAD: GET the
		// manifest and hash its bytes, which is what the digest is.
		if resp, body, err = r.send(ctx, http.MethodGet, u, auth); err != nil {
			return fail(err)
		}
		if resp.StatusCode == http.StatusOK && resp.Header.Get("Docker-Content-Digest") == "" {
			sum := sha256.Sum256(body)
			return "sha256:" + hex.EncodeToString(sum[:]), nil
		}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("Docker-Content-Digest"), nil
	case http.StatusNotFound:
		return "", &NotFoundError{Image: image, URL: u}
	case http.StatusUnauthorized, http.StatusForbidden:
		who := "anonymous access"
		if hasLogin {
			who = "login " + login.Username + "@" + host
		}
		return "", &AuthError{Image: image, Status: resp.StatusCode, Login: who, Detail: errorText(body)}
	}
	return fail(fmt.Errorf("%s: %s %s", u, resp.Status, errorText(body)))
}

func (r *Resolver) send(ctx context.Context, method, u, auth string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", strings.Join(Accept, ", "))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// authorize answers a 401 challenge: Basic gets the login as basic auth;
// Bearer gets a token from the realm for pull on the repository.
func (r *Resolver) authorize(ctx context.Context, challenge string, l Login, path string) (string, error) {
	scheme, params := parseChallenge(challenge)
	switch strings.ToLower(scheme) {
	case "basic", "":
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		req.SetBasicAuth(l.Username, l.Password)
		return req.Header.Get("Authorization"), nil
	case "bearer":
		realm := params["realm"]
		if realm == "" {
			return "", errors.New("bearer challenge without a realm")
		}
		q := url.Values{}
		if s := params["service"]; s != "" {
			q.Set("service", s)
		}
		scope := params["scope"]
		if scope == "" {
			scope = "repository:" + path + ":pull"
		}
		q.Set("scope", scope)
		tu := realm
		if strings.Contains(tu, "?") {
			tu += "&" + q.Encode()
		} else {
			tu += "?" + q.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tu, nil)
		if err != nil {
			return "", err
		}
		req.SetBasicAuth(l.Username, l.Password)
		resp, err := r.http.Do(req)
		if err != nil {
			return "", fmt.Errorf("token from %s: %w", realm, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return "", &AuthError{Image: path, Status: resp.StatusCode, Login: "login " + l.Username + " at token service " + realm, Detail: errorText(body)}
		}
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil {
			return "", fmt.Errorf("token from %s: %w", realm, err)
		}
		t := tok.Token
		if t == "" {
			t = tok.AccessToken
		}
		if t == "" {
			return "", fmt.Errorf("token from %s: the answer holds no token", realm)
		}
		return "Bearer " + t, nil
	}
	return "", fmt.Errorf("unsupported authentication scheme %q", scheme)
}

// parseChallenge parses `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) (string, map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				params[k] = v[1:]
				break
			}
			params[k] = v[1 : end+1]
			rest = v[end+2:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			params[k] = strings.TrimSpace(val)
			rest = r
		}
	}
	return scheme, params
}

// errorText is the registry's error message ({"errors":[{"message"}]}) or
// the start of the body.
func errorText(body []byte) string {
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		var parts []string
		for _, x := range e.Errors {
			parts = append(parts, strings.ToLower(x.Code)+": "+x.Message)
		}
		return strings.Join(parts, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// scrub removes a password from an error's text (net/http errors quote URLs).
func (r *Resolver) scrub(err error, l Login) error {
	if l.Password == "" || !strings.Contains(err.Error(), l.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), l.Password, "<redacted>"))
}
