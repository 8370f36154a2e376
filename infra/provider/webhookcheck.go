package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shoalops/shoal/infra/wire"
	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/vault"
)

// WebhookCheck is what CheckWebhooks found for one stack's webhooks.
type WebhookCheck struct {
	Stack string
	// Checked is the number of the stack's services it checked.
	Checked int
	// Drift says, per service, what was not as it should be (empty: every
	// webhook targets its service and Vault holds its token).
	Drift []string
	// Resynced is set when the drift was repaired (ensureWebhooks, the
	// code `shoal up` runs): webhooks re-created, new tokens in Vault.
	Resynced bool
}

// CheckWebhooks checks the webhooks of one app stack against the swarm
// and Vault, after a disaster recovery: every service of the stack has
// exactly one Portainer webhook that targets its current ID (the rule
// EnsureWebhooks applies, portainer.PlanWebhooks), the service's ID is the
// one the state recorded, and Vault holds that webhook's token and URL
// (vault.Plan). When anything differs it re-syncs with the code `shoal up`
// runs (ensureWebhooks: a new webhook for a service whose ID changed or
// whose webhook is gone, the new token written to Vault) and says what it
// found. st is the resource's recorded state (RecordedWebhooks).
func CheckWebhooks(ctx context.Context, st WebhooksState) (WebhookCheck, error) {
	res := WebhookCheck{Stack: st.Stack}
	c, err := portainerLogin(ctx, st.WebhooksArgs, 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("webhooks of %s: Portainer at %s: %w", st.Stack, st.URL, err)
	}
	vc, err := vaultClient(ctx, st.Vault)
	if err != nil {
		return res, fmt.Errorf("webhooks of %s: %w", st.Stack, err)
	}
	envs, err := c.Endpoints(ctx, endpointSpec(st.WebhooksArgs).Name)
	if err != nil {
		return res, fmt.Errorf("webhooks of %s: environments: %w", st.Stack, err)
	}
	if len(envs) == 0 {
		res.Drift = []string{fmt.Sprintf("Portainer has no environment %s (its data was lost?)", endpointSpec(st.WebhooksArgs).Name)}
	} else {
		id := envs[0].ID
		services, err := c.Services(ctx, id, st.Stack)
		if err != nil {
			return res, fmt.Errorf("webhooks of %s: services: %w", st.Stack, err)
		}
		all, err := c.Services(ctx, id, "")
		if err != nil {
			return res, fmt.Errorf("webhooks of %s: services: %w", st.Stack, err)
		}
		hooks, err := c.Webhooks(ctx, id)
		if err != nil {
			return res, fmt.Errorf("webhooks of %s: webhooks: %w", st.Stack, err)
		}
		entries, err := vc.List(ctx, st.Project, st.Env)
		if err != nil {
			return res, fmt.Errorf("webhooks of %s: vault: %w", st.Stack, err)
		}
		res.Checked = len(services)
		res.Drift = WebhookDrift(st, services, portainer.StackWebhooks(hooks, services, all), entries, c.WebhookURL)
	}
	if len(res.Drift) == 0 {
		return res, nil
	}
	if _, err := ensureWebhooks(ctx, st.WebhooksArgs, &st); err != nil {
		return res, fmt.Errorf("re-sync: %w", err)
	}
	res.Resynced = true
	return res, nil
}

// WebhookDrift decides (pure) what is not as it should be among one
// stack's webhooks: the recorded service IDs (st.Services, by the name
// within the stack) against the live services, Portainer's webhooks (only
// those the stack may touch) against the rule EnsureWebhooks applies
// (portainer.PlanWebhooks: one per service, none for a gone service), and
// Vault's entries against those webhooks (vault.Plan). One line per
// finding, sorted by service; none on a stack the recovery kept whole.
func WebhookDrift(st WebhooksState, services []portainer.Service, hooks []portainer.Webhook, entries []vault.Entry, urlOf func(portainer.Secret) portainer.Secret) []string {
	var out []string
	live := map[string]string{}
	for _, s := range services {
		short := shortName(st.Stack, s.Name)
		live[short] = s.ID
		if was, ok := st.Services[short]; ok && was != s.ID {
			out = append(out, fmt.Sprintf("%s: service ID changed (%s, was %s)", short, s.ID, was))
		}
	}
	for _, short := range slices.Sorted(maps.Keys(st.Services)) {
		if _, ok := live[short]; !ok {
			out = append(out, fmt.Sprintf("%s: the service is gone", short))
		}
	}
	kept := map[string]portainer.Webhook{}
	for _, ch := range portainer.PlanWebhooks(services, hooks) {
		switch ch.Action {
		case portainer.Keep:
			kept[ch.Service.Name] = ch.Webhook
		case portainer.Create:
			out = append(out, fmt.Sprintf("%s: no webhook targets service %s", shortName(st.Stack, ch.Service.Name), ch.Service.ID))
		case portainer.Delete:
			out = append(out, fmt.Sprintf("webhook %d: %s (service %s)", ch.Webhook.ID, ch.Reason, ch.Webhook.ResourceID))
		}
	}
	for _, ch := range vault.Plan(entries, plainWebhooks(vaultWebhooks(st.Stack, kept, urlOf))) {
		switch ch.Op {
		case vault.OpCreate:
			out = append(out, fmt.Sprintf("%s: Vault has no entry for its webhook", ch.Service))
		case vault.OpUpdate:
			out = append(out, fmt.Sprintf("%s: Vault holds another token or URL than its webhook's", ch.Service))
		case vault.OpDelete:
			if _, ok := live[ch.Service]; ok {
				out = append(out, fmt.Sprintf("%s: its Vault entry names no live webhook", ch.Service))
			} else {
				out = append(out, fmt.Sprintf("%s: Vault holds an entry for a service that is gone", ch.Service))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RecordedWebhooks reads the state of every shoal:portainer:Webhooks
// resource from a stack export WITH its secrets (`pulumi stack export
// --show-secrets`, as automation.Workspace.Export runs it). The result
// holds secrets (the Vault token, Portainer's password): keep it in
// memory only.
func RecordedWebhooks(export []byte) ([]WebhooksState, error) {
	var doc struct {
		Deployment struct {
			Resources []struct {
				URN     string         `json:"urn"`
				Type    string         `json:"type"`
				Delete  bool           `json:"delete"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("stack export: %w", err)
	}
	var out []WebhooksState
	for _, r := range doc.Deployment.Resources {
		if r.Type != wire.WebhooksType || r.Delete {
			continue
		}
		plain, err := revealed(r.Outputs)
		if err != nil {
			return nil, fmt.Errorf("stack export: %s: %w", r.URN, err)
		}
		b, err := json.Marshal(plain)
		if err != nil {
			return nil, err
		}
		var rec recordedWebhooks
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("stack export: %s: %w", r.URN, err)
		}
		out = append(out, rec.state())
	}
	return out, nil
}

// recordedWebhooks is WebhooksState as the export spells it.
type recordedWebhooks struct {
	URL           string            `json:"url"`
	AdminUser     string            `json:"adminUser"`
	AdminPassword string            `json:"adminPassword"`
	Stack         string            `json:"stack"`
	Endpoint      string            `json:"endpoint"`
	EndpointName  string            `json:"endpointName"`
	Services      map[string]string `json:"services"`
	Vault         struct {
		Address      string `json:"address"`
		Mount        string `json:"mount"`
		PathTemplate string `json:"pathTemplate"`
		Token        string `json:"token"`
	} `json:"vault"`
	Project     string         `json:"project"`
	Env         string         `json:"env"`
	WaitSeconds int            `json:"waitSeconds"`
	EndpointID  int            `json:"endpointId"`
	WebhookIDs  map[string]int `json:"webhookIds"`
}

func (r recordedWebhooks) state() WebhooksState {
	return WebhooksState{
		WebhooksArgs: WebhooksArgs{URL: r.URL, AdminUser: r.AdminUser, AdminPassword: r.AdminPassword, Stack: r.Stack,
			Endpoint: r.Endpoint, EndpointName: r.EndpointName, Services: r.Services,
			Vault:   WebhooksVault{Address: r.Vault.Address, Mount: r.Vault.Mount, PathTemplate: r.Vault.PathTemplate, Token: r.Vault.Token},
			Project: r.Project, Env: r.Env, WaitSeconds: r.WaitSeconds},
		EndpointID: r.EndpointID, WebhookIDs: r.WebhookIDs,
	}
}

// Pulumi's secret signature in a state export: a secret is an object with
// this key and value, and its value JSON-encoded in "plaintext" (shown) or
// encrypted in "ciphertext".
const (
	sigKey    = "4dabf18193072939515e22adb298388d"
	secretSig = "1b47061264138c4ac30d75fd1eb44270"
)

// revealed replaces every shown secret in v by its value; an encrypted
// one is an error (the export was taken without --show-secrets).
func revealed(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if x[sigKey] == secretSig {
			p, ok := x["plaintext"].(string)
			if !ok {
				return nil, fmt.Errorf("a secret is encrypted in the export (not exported with --show-secrets)")
			}
			var inner any
			if err := json.Unmarshal([]byte(p), &inner); err != nil {
				return nil, fmt.Errorf("a secret's plaintext: %w", err)
			}
			return revealed(inner)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := revealed(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := revealed(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}
