package vault

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Keys of an entry. KeyToken holds the Portainer webhook token; the name is
// the one the existing CI pipelines read.
const (
	KeyToken = "service_hash"
	KeyURL   = "webhook_url"
)

// Webhook is what shoal wants stored for one service. String hides Token.
type Webhook struct {
	Service string
	Token   string
	URL     string
}

func (w Webhook) String() string {
	return fmt.Sprintf("webhook{service: %s, url: %s, token: <redacted>}", w.Service, redactURL(w.URL, w.Token))
}

// GoString keeps %#v from printing the token.
func (w Webhook) GoString() string { return w.String() }

// Entry is what Vault holds for one service: the live data of the latest
// version. String hides the token.
type Entry struct {
	Service string
	Path    string // below the mount, e.g. "acme/dev/web"
	Token   string // KeyToken
	URL     string // KeyURL
	Version int    // latest version
}

func (e Entry) String() string {
	return fmt.Sprintf("entry{service: %s, path: %s, version: %d, url: %s, token: <redacted>}", e.Service, e.Path, e.Version, redactURL(e.URL, e.Token))
}

// GoString keeps %#v from printing the token.
func (e Entry) GoString() string { return e.String() }

// WriteResult says what WriteWebhook did.
type WriteResult struct {
	Path    string // below the mount
	Version int    // the latest version after the call
	Written bool   // false: the content was already there, no version was added
}

// current is the latest version of a key as read: data is nil when the key
// has no version or its latest version is deleted or destroyed.
type current struct {
	data    map[string]any
	version int // latest version number (0: never written); the check-and-set value
}

func (c *Client) read(ctx context.Context, path string) (current, error) {
	s, err := c.kv.Get(ctx, path)
	switch {
	case isNotFound(err):
		return current{}, nil
	case err != nil:
		return current{}, wrapErr("read", c.mount+"/data/"+path, err, c.token)
	}
	cur := current{data: s.Data}
	if s.VersionMetadata != nil {
		cur.version = s.VersionMetadata.Version
		if !s.VersionMetadata.DeletionTime.IsZero() || s.VersionMetadata.Destroyed {
			cur.data = nil
		}
	}
	return cur, nil
}

// ReadWebhook returns the service's entry; ok is false when there is none
// (never written, deleted, or the latest version deleted or destroyed).
func (c *Client) ReadWebhook(ctx context.Context, project, env, service string) (e Entry, ok bool, err error) {
	p, err := c.tmpl.Path(project, env, service)
	if err != nil {
		return Entry{}, false, err
	}
	cur, err := c.read(ctx, p)
	if err != nil || cur.data == nil {
		return Entry{}, false, err
	}
	return entryOf(service, p, cur), true, nil
}

func entryOf(service, path string, cur current) Entry {
	s := func(k string) string { v, _ := cur.data[k].(string); return v }
	return Entry{Service: service, Path: path, Token: s(KeyToken), URL: s(KeyURL), Version: cur.version}
}

// WriteWebhook stores the service's token and webhook URL at the templated
// path. It reads first and writes a new version only when one of the two
// keys differs (other keys of the entry are kept), so a second run adds no
// version. The write is a check-and-set against the version read: a
// concurrent writer makes it fail with a 400 *APIError instead of being lost.
func (c *Client) WriteWebhook(ctx context.Context, project, env, service, token, url string) (WriteResult, error) {
	if token == "" {
		return WriteResult{}, fmt.Errorf("vault write %s/%s/%s: empty webhook token", project, env, service)
	}
	p, err := c.tmpl.Path(project, env, service)
	if err != nil {
		return WriteResult{}, err
	}
	return c.write(ctx, p, map[string]string{KeyToken: token, KeyURL: url})
}

// DeleteService removes the service's entry for good: every version and the
// key's metadata. Deleting an entry that does not exist is not an error.
func (c *Client) DeleteService(ctx context.Context, project, env, service string) error {
	p, err := c.tmpl.Path(project, env, service)
	if err != nil {
		return err
	}
	return c.DeleteSecret(ctx, p)
}

// List returns the entries of one project and environment, sorted by
// service: the keys of the template's folder that hold a live KeyToken.
// Sub-folders, keys whose latest version is deleted and keys without
// KeyToken (not shoal's) are left out, so Sync never deletes them.
func (c *Client) List(ctx context.Context, project, env string) ([]Entry, error) {
	dir, err := c.tmpl.Dir(project, env)
	if err != nil {
		return nil, err
	}
	listPath := c.mount + "/metadata/" + dir
	s, err := c.api.Logical().ListWithContext(ctx, listPath)
	if err != nil {
		return nil, wrapErr("list", listPath, err, c.token)
	}
	var keys []string
	if s != nil {
		raw, _ := s.Data["keys"].([]any)
		for _, k := range raw {
			if k, ok := k.(string); ok && k != "" && !strings.HasSuffix(k, "/") {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	var out []Entry
	for _, k := range keys {
		p := k
		if dir != "" {
			p = dir + "/" + k
		}
		cur, err := c.read(ctx, p)
		if err != nil {
			return nil, err
		}
		if cur.data == nil {
			continue
		}
		if _, ok := cur.data[KeyToken].(string); !ok {
			continue
		}
		out = append(out, entryOf(k, p, cur))
	}
	return out, nil
}

// redactURL hides the token inside a webhook URL: Portainer's webhook URLs
// end in the token itself, so printing the URL would print the secret.
func redactURL(url, token string) string {
	if token != "" {
		url = strings.ReplaceAll(url, token, "<redacted>")
	}
	if i := strings.Index(url, "/webhooks/"); i >= 0 {
		url = url[:i+len("/webhooks/")] + "<redacted>"
	}
	return url
}
