package vault

import (
	"context"
	"fmt"
	"sort"
)

// Op is what a Change does to one entry.
type Op string

const (
	OpCreate Op = "create" // no entry yet
	OpUpdate Op = "update" // the token or the URL differs
	OpDelete Op = "delete" // the service is gone: all versions and metadata go
)

// Change is one step of a Plan. String hides the token.
type Change struct {
	Op      Op
	Service string
	Want    Webhook // for create and update
}

func (c Change) String() string {
	if c.Op == OpDelete {
		return fmt.Sprintf("%s %s", c.Op, c.Service)
	}
	return fmt.Sprintf("%s %s (url %s, token <redacted>)", c.Op, c.Service, redactURL(c.Want.URL, c.Want.Token))
}

// GoString keeps %#v from printing the token.
func (c Change) GoString() string { return c.String() }

// Plan compares the entries Vault holds (List) with the webhooks the
// services have and returns the changes, sorted by service: create what is
// missing, update what differs, delete entries of services that no longer
// exist. Equal entries give no change, so a converged state plans nothing.
// When desired names a service twice, the last one counts (Sync refuses it).
func Plan(cur []Entry, desired []Webhook) []Change {
	have := make(map[string]Entry, len(cur))
	for _, e := range cur {
		have[e.Service] = e
	}
	want := make(map[string]Webhook, len(desired))
	for _, w := range desired {
		want[w.Service] = w
	}
	var out []Change
	for name, w := range want {
		e, ok := have[name]
		switch {
		case !ok:
			out = append(out, Change{Op: OpCreate, Service: name, Want: w})
		case e.Token != w.Token || e.URL != w.URL:
			out = append(out, Change{Op: OpUpdate, Service: name, Want: w})
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			out = append(out, Change{Op: OpDelete, Service: name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Apply carries out changes for one project and environment, in order,
// and stops at the first failure; the error names the service and says how
// many changes were done before it.
func (c *Client) Apply(ctx context.Context, project, env string, changes []Change) error {
	for i, ch := range changes {
		var err error
		switch ch.Op {
		case OpCreate, OpUpdate:
			_, err = c.WriteWebhook(ctx, project, env, ch.Service, ch.Want.Token, ch.Want.URL)
		case OpDelete:
			err = c.DeleteService(ctx, project, env, ch.Service)
		default:
			err = fmt.Errorf("unknown change %q", ch.Op)
		}
		if err != nil {
			return fmt.Errorf("vault sync %s/%s: %s (change %d of %d; %d done): %w", project, env, ch, i+1, len(changes), i, err)
		}
	}
	return nil
}

// Sync makes the entries of one project and environment match desired
// (List, Plan, Apply) and returns the changes it made; on a converged state
// it returns none and writes nothing.
func (c *Client) Sync(ctx context.Context, project, env string, desired []Webhook) ([]Change, error) {
	seen := map[string]bool{}
	for _, w := range desired {
		if _, err := c.tmpl.Path(project, env, w.Service); err != nil {
			return nil, err
		}
		if seen[w.Service] {
			return nil, fmt.Errorf("vault sync %s/%s: service %q is listed twice", project, env, w.Service)
		}
		seen[w.Service] = true
	}
	cur, err := c.List(ctx, project, env)
	if err != nil {
		return nil, err
	}
	changes := Plan(cur, desired)
	return changes, c.Apply(ctx, project, env, changes)
}
