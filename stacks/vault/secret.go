package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// PlatformEnv is the {env} under which the credentials shoal generates for
// its own stacks live: with the default template the Traefik dashboard login
// of cluster "prod" is at prod/platform/traefik (CredentialPath).
const PlatformEnv = "platform"

// Keys of a credential entry.
const (
	KeyUsername = "username"
	KeyPassword = "password"
)

// CredentialPath is where a generated credential of one of shoal's stacks
// lives below the mount: the template's path for (project, PlatformEnv,
// stack), and below it one entry per user when user is set (the registry's
// users): "prod/platform/traefik", "prod/platform/registry/shoal".
func (t Template) CredentialPath(project, stack, user string) (string, error) {
	p, err := t.Path(project, PlatformEnv, stack)
	if err != nil {
		return "", err
	}
	if user == "" {
		return p, nil
	}
	if err := checkValue("user", user); err != nil {
		return "", err
	}
	return p + "/" + user, nil
}

// Secret is the live data of an entry's latest version. String shows the
// path, version and key names, never a value.
type Secret struct {
	Path    string // below the mount
	Data    map[string]string
	Version int
}

func (s Secret) String() string {
	return fmt.Sprintf("secret{path: %s, version: %d, keys: %s, values: <redacted>}",
		s.Path, s.Version, strings.Join(slices.Sorted(maps.Keys(s.Data)), ","))
}

// GoString keeps %#v from printing the values.
func (s Secret) GoString() string { return s.String() }

// checkPath validates a path below the mount: one or more safe segments.
func checkPath(p string) error {
	if p == "" {
		return &PathError{What: "path", Value: p, Reason: "must not be empty"}
	}
	for _, seg := range strings.Split(p, "/") {
		if err := checkValue("path", seg); err != nil {
			return &PathError{What: "path", Value: p, Reason: err.(*PathError).Reason}
		}
	}
	return nil
}

// ReadSecret returns the string values of the latest version at path
// (below the mount); ok is false when there is none (never written,
// deleted, or the latest version deleted or destroyed).
func (c *Client) ReadSecret(ctx context.Context, path string) (s Secret, ok bool, err error) {
	if err := checkPath(path); err != nil {
		return Secret{}, false, err
	}
	cur, err := c.read(ctx, path)
	if err != nil || cur.data == nil {
		return Secret{}, false, err
	}
	s = Secret{Path: path, Version: cur.version, Data: map[string]string{}}
	for k, v := range cur.data {
		if v, ok := v.(string); ok {
			s.Data[k] = v
		}
	}
	return s, true, nil
}

// WriteSecret stores data at path (below the mount). Like WriteWebhook it
// reads first and writes a new version only when one of data's keys
// differs, keeps the entry's other keys, and writes with check-and-set
// against the version read. Every value of data is scrubbed from errors.
func (c *Client) WriteSecret(ctx context.Context, path string, data map[string]string) (WriteResult, error) {
	if err := checkPath(path); err != nil {
		return WriteResult{}, err
	}
	if len(data) == 0 {
		return WriteResult{}, fmt.Errorf("vault write %s/data/%s: no data", c.mount, path)
	}
	return c.write(ctx, path, data)
}

// write is WriteSecret without the checks; WriteWebhook shares it.
func (c *Client) write(ctx context.Context, path string, data map[string]string) (WriteResult, error) {
	cur, err := c.read(ctx, path)
	if err != nil {
		return WriteResult{}, err
	}
	same := cur.data != nil
	for k, v := range data {
		if !same {
			break
		}
		have, ok := cur.data[k].(string)
		same = ok && have == v
	}
	if same {
		return WriteResult{Path: path, Version: cur.version}, nil
	}
	out := make(map[string]any, len(cur.data)+len(data))
	maps.Copy(out, cur.data)
	secrets := []string{c.token}
	for k, v := range data {
		out[k] = v
		secrets = append(secrets, v)
	}
	s, err := c.kv.Put(ctx, path, out, vaultapi.WithCheckAndSet(cur.version))
	if err != nil {
		return WriteResult{}, wrapErr("write", c.mount+"/data/"+path, err, secrets...)
	}
	res := WriteResult{Path: path, Written: true}
	if s != nil && s.VersionMetadata != nil {
		res.Version = s.VersionMetadata.Version
	}
	return res, nil
}

// DeleteSecret removes the entry at path (below the mount) for good: every
// version and the key's metadata. Deleting an entry that does not exist is
// not an error.
func (c *Client) DeleteSecret(ctx context.Context, path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := c.kv.DeleteMetadata(ctx, path); err != nil {
		return wrapErr("delete", c.mount+"/metadata/"+path, err, c.token)
	}
	return nil
}

// UpdateSecret changes the entry at path (below the mount) from its
// current data: change gets the latest version's values (nil when there is
// none) and returns the new values, which replace the entry's data. The
// write is a check-and-set against the version read; when another writer
// came first it reads again and retries, at most 5 times, so concurrent
// updates (two deploys appending to one history) are never lost.
func (c *Client) UpdateSecret(ctx context.Context, path string, change func(cur map[string]string) (map[string]string, error)) (WriteResult, error) {
	if err := checkPath(path); err != nil {
		return WriteResult{}, err
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := c.read(ctx, path)
		if err != nil {
			return WriteResult{}, err
		}
		var have map[string]string
		if cur.data != nil {
			have = map[string]string{}
			for k, v := range cur.data {
				if s, ok := v.(string); ok {
					have[k] = s
				}
			}
		}
		next, err := change(have)
		if err != nil {
			return WriteResult{}, err
		}
		out := make(map[string]any, len(next))
		secrets := []string{c.token}
		for k, v := range next {
			out[k] = v
			secrets = append(secrets, v)
		}
		s, err := c.kv.Put(ctx, path, out, vaultapi.WithCheckAndSet(cur.version))
		if err == nil {
			res := WriteResult{Path: path, Written: true}
			if s != nil && s.VersionMetadata != nil {
				res.Version = s.VersionMetadata.Version
			}
			return res, nil
		}
		last = wrapErr("write", c.mount+"/data/"+path, err, secrets...)
		var ae *APIError
		if !errors.As(last, &ae) || ae.Status != 400 || !strings.Contains(strings.Join(ae.Errors, " "), "check-and-set") {
			return WriteResult{}, last
		}
	}
	return WriteResult{}, last
}

// ListKeys returns the entry names directly below a folder (below the
// mount), sorted, without sub-folders; a folder that does not exist has
// none.
func (c *Client) ListKeys(ctx context.Context, dir string) ([]string, error) {
	if err := checkPath(dir); err != nil {
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
	slices.Sort(keys)
	return keys, nil
}
