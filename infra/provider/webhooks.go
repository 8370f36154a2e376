package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/vault"
)

// Webhooks is shoal:portainer:Webhooks: exactly one Portainer service
// webhook for every service of a stack, and each webhook's token and URL
// in Vault (KV v2) at <mount>/<pathTemplate(project, env, service)>, where
// CI reads it. Services that leave the stack lose their webhook and their
// Vault entry. Its ID is the stack name.
type Webhooks struct{}

// WebhooksVault says where the tokens go.
type WebhooksVault struct {
	Address      string `pulumi:"address"`
	Mount        string `pulumi:"mount,optional"`
	PathTemplate string `pulumi:"pathTemplate,optional"`
	Token        string `pulumi:"token" provider:"secret"`
}

// WebhooksArgs are the inputs of a Webhooks.
type WebhooksArgs struct {
	// URL of Portainer as reachable from where Pulumi runs.
	URL           string `pulumi:"url"`
	AdminUser     string `pulumi:"adminUser,optional"`
	AdminPassword string `pulumi:"adminPassword" provider:"secret"`
	// Stack is the swarm stack whose services get webhooks.
	Stack string `pulumi:"stack"`
	// Endpoint is the Portainer environment: "local" (the Docker socket
	// Portainer has mounted) or the agent's URL (tcp://tasks.agent:9001).
	Endpoint     string `pulumi:"endpoint,optional"`
	EndpointName string `pulumi:"endpointName,optional"`
	// Services are the stack's service IDs by name (the Stack's
	// serviceIds output): a change re-runs the webhooks.
	Services map[string]string `pulumi:"services,optional"`
	Vault    WebhooksVault     `pulumi:"vault"`
	Project  string            `pulumi:"project"`
	Env      string            `pulumi:"env"`
	// WaitSeconds bounds the wait for Portainer to answer (default 180).
	WaitSeconds int `pulumi:"waitSeconds,optional"`
}

// ServiceWebhook is the webhook of one service; both fields are secret.
type ServiceWebhook struct {
	URL   string `pulumi:"url" provider:"secret"`
	Token string `pulumi:"token" provider:"secret"`
}

// WebhooksState is a Webhooks' state.
type WebhooksState struct {
	WebhooksArgs
	EndpointID int                       `pulumi:"endpointId,optional"`
	Webhooks   map[string]ServiceWebhook `pulumi:"webhooks,optional" provider:"secret"`
	// WebhookIDs are Portainer's numeric ids by service, for Delete.
	WebhookIDs map[string]int `pulumi:"webhookIds,optional"`
}

var (
	_ infer.CustomResource[WebhooksArgs, WebhooksState]       = (*Webhooks)(nil)
	_ infer.CustomUpdate[WebhooksArgs, WebhooksState]         = (*Webhooks)(nil)
	_ infer.CustomDelete[WebhooksState]                       = (*Webhooks)(nil)
	_ infer.Annotated                                         = (*Webhooks)(nil)
	_ infer.ExplicitDependencies[WebhooksArgs, WebhooksState] = (*Webhooks)(nil)
)

// Annotate sets the type token and describes the resource.
func (w *Webhooks) Annotate(a infer.Annotator) {
	a.SetToken("portainer", "Webhooks")
	a.Describe(w, "One Portainer service webhook per service of a stack, each token written to Vault (KV v2) where CI reads it; removed services lose both.")
}

// Annotate describes the inputs.
func (a *WebhooksArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.URL, "Portainer's base URL as reachable from where Pulumi runs.")
	an.Describe(&a.AdminPassword, "Portainer's administrator password; the administrator is created with it when Portainer has none yet (its 5-minute window).")
	an.Describe(&a.Endpoint, `"local" (default: the Docker socket Portainer mounts) or the agent URL, e.g. tcp://tasks.agent:9001.`)
	an.Describe(&a.Services, "Service IDs by name (the stack's serviceIds): a change re-runs the webhooks.")
}

// Annotate sets type tokens.
func (v *WebhooksVault) Annotate(a infer.Annotator)  { a.SetToken("portainer", "Vault") }
func (w *ServiceWebhook) Annotate(a infer.Annotator) { a.SetToken("portainer", "ServiceWebhook") }

// WireDependencies keeps the secrets secret in the state.
func (*Webhooks) WireDependencies(f infer.FieldSelector, _ *WebhooksArgs, state *WebhooksState) {
	f.OutputField(&state.AdminPassword).AlwaysSecret()
	f.OutputField(&state.Vault).AlwaysSecret()
	f.OutputField(&state.Webhooks).AlwaysSecret()
}

// Create ensures the webhooks and writes their tokens to Vault. Under
// DryRun it touches nothing.
func (*Webhooks) Create(ctx context.Context, req infer.CreateRequest[WebhooksArgs]) (infer.CreateResponse[WebhooksState], error) {
	if req.DryRun {
		return infer.CreateResponse[WebhooksState]{ID: req.Inputs.Stack, Output: WebhooksState{WebhooksArgs: req.Inputs}}, nil
	}
	st, err := ensureWebhooks(ctx, req.Inputs, nil)
	if err != nil {
		return infer.CreateResponse[WebhooksState]{}, err
	}
	return infer.CreateResponse[WebhooksState]{ID: req.Inputs.Stack, Output: st}, nil
}

// Update ensures the webhooks again: new services get one, removed ones
// lose theirs and their Vault entry. Under DryRun it touches nothing.
func (*Webhooks) Update(ctx context.Context, req infer.UpdateRequest[WebhooksArgs, WebhooksState]) (infer.UpdateResponse[WebhooksState], error) {
	if req.DryRun {
		st := req.State
		st.WebhooksArgs = req.Inputs
		return infer.UpdateResponse[WebhooksState]{Output: st}, nil
	}
	prev := req.State
	st, err := ensureWebhooks(ctx, req.Inputs, &prev)
	if err != nil {
		return infer.UpdateResponse[WebhooksState]{}, err
	}
	return infer.UpdateResponse[WebhooksState]{Output: st}, nil
}

// Delete removes the webhooks and the Vault entries. A Portainer that no
// longer answers is skipped with a warning (its webhooks went with it);
// Vault errors fail the delete.
func (*Webhooks) Delete(ctx context.Context, req infer.DeleteRequest[WebhooksState]) (infer.DeleteResponse, error) {
	st := req.State
	log := p.GetLogger(ctx)
	c, err := portainerLogin(ctx, st.WebhooksArgs, 20*time.Second)
	if err != nil {
		log.Warningf("webhooks of %s: Portainer: %v; leaving its webhooks", st.Stack, err)
	} else {
		for _, svc := range slices.Sorted(maps.Keys(st.WebhookIDs)) {
			if err := c.DeleteWebhook(ctx, st.WebhookIDs[svc]); err != nil {
				return infer.DeleteResponse{}, fmt.Errorf("webhooks of %s: delete the webhook of %s: %w", st.Stack, svc, err)
			}
		}
	}
	vc, err := vaultClient(ctx, st.Vault)
	if err != nil {
		return infer.DeleteResponse{}, fmt.Errorf("webhooks of %s: %w", st.Stack, err)
	}
	changes, err := vc.Sync(ctx, st.Project, st.Env, nil)
	if err != nil {
		return infer.DeleteResponse{}, fmt.Errorf("webhooks of %s: vault: %w", st.Stack, err)
	}
	log.Infof("webhooks of %s: %d webhooks and %d Vault entries removed", st.Stack, len(st.WebhookIDs), len(changes))
	return infer.DeleteResponse{}, nil
}

func vaultClient(ctx context.Context, v WebhooksVault) (*vault.Client, error) {
	return vault.New(ctx, vault.Config{Address: v.Address, Mount: v.Mount, PathTemplate: v.PathTemplate,
		Credentials: vault.Credentials{Token: v.Token}})
}

// portainerLogin creates the administrator if Portainer has none yet and
// logs in, retrying while Portainer does not answer (it may still be
// starting after its stack was deployed), for at most wait.
func portainerLogin(ctx context.Context, a WebhooksArgs, wait time.Duration) (*portainer.Client, error) {
	c := portainer.New(a.URL)
	user := cmp.Or(a.AdminUser, "admin")
	pw := portainer.Secret(a.AdminPassword)
	deadline := time.Now().Add(wait)
	for {
		_, err := c.EnsureAdmin(ctx, user, pw)
		if err == nil {
			return c.Login(ctx, user, pw)
		}
		var apiErr *portainer.APIError
		var netErr net.Error
		retry := errors.As(err, &netErr) || (errors.As(err, &apiErr) && apiErr.Status >= 500 && !apiErr.AdminInitTimedOut())
		if !retry || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// ensureWebhooks gives every service of the stack one webhook and syncs
// Vault with them.
func ensureWebhooks(ctx context.Context, in WebhooksArgs, prev *WebhooksState) (WebhooksState, error) {
	st := WebhooksState{WebhooksArgs: in}
	log := p.GetLogger(ctx)
	wait := 180 * time.Second
	if in.WaitSeconds > 0 {
		wait = time.Duration(in.WaitSeconds) * time.Second
	}
	vc, err := vaultClient(ctx, in.Vault)
	if err != nil {
		return st, fmt.Errorf("webhooks of %s: %w", in.Stack, err)
	}
	c, err := portainerLogin(ctx, in, wait)
	if err != nil {
		return st, fmt.Errorf("webhooks of %s: Portainer at %s: %w", in.Stack, in.URL, err)
	}
	spec := endpointSpec(in)
	env, created, err := c.EnsureEndpoint(ctx, spec)
	if err != nil {
		return st, fmt.Errorf("webhooks of %s: environment %s: %w", in.Stack, spec.Name, err)
	}
	if created {
		log.Infof("webhooks of %s: Portainer environment %s created", in.Stack, spec.Name)
	}
	st.EndpointID = env.ID
	set, err := ensureWebhookSet(ctx, c, env.ID, in, wait)
	if err != nil {
		return st, err
	}
	for _, ch := range set.Applied {
		log.Infof("webhooks of %s: %s", in.Stack, ch)
	}
	st.Webhooks, st.WebhookIDs = map[string]ServiceWebhook{}, map[string]int{}
	desired := vaultWebhooks(in.Stack, set.Webhooks, c.WebhookURL)
	for _, w := range desired {
		st.Webhooks[w.Service] = ServiceWebhook{URL: w.URL, Token: w.Token}
		st.WebhookIDs[w.Service] = set.Webhooks[w.Name].ID
	}
	changes, err := vc.Sync(ctx, in.Project, in.Env, plainWebhooks(desired))
	if err != nil {
		return st, fmt.Errorf("webhooks of %s: vault: %w", in.Stack, err)
	}
	for _, ch := range changes {
		// Not Change.String: it prints the webhook URL, which holds the token.
		log.Infof("webhooks of %s: vault %s %s", in.Stack, ch.Op, ch.Service)
	}
	if !portainer.Changed(set.Applied) && len(changes) == 0 {
		log.Infof("webhooks of %s: %d webhooks, no changes", in.Stack, len(set.Webhooks))
	}
	return st, nil
}

// endpointSpec is the Portainer environment the webhooks live in.
func endpointSpec(in WebhooksArgs) portainer.EndpointSpec {
	spec := portainer.EndpointSpec{Name: cmp.Or(in.EndpointName, "swarm")}
	if in.Endpoint != "" && in.Endpoint != "local" {
		spec.AgentURL = in.Endpoint
	}
	return spec
}

// vaultWebhook is a Vault entry as it should be, and the full name of the
// service whose webhook it is.
type vaultWebhook struct {
	vault.Webhook
	Name string
}

// vaultWebhooks are the Vault entries the webhooks of stack's services
// (by full service name) should have, sorted: the service's name within
// the stack, the webhook's token, and its URL (urlOf).
func vaultWebhooks(stack string, hooks map[string]portainer.Webhook, urlOf func(portainer.Secret) portainer.Secret) []vaultWebhook {
	var out []vaultWebhook
	for _, name := range slices.Sorted(maps.Keys(hooks)) {
		h := hooks[name]
		out = append(out, vaultWebhook{Name: name, Webhook: vault.Webhook{Service: shortName(stack, name), Token: h.Token.Reveal(), URL: urlOf(h.Token).Reveal()}})
	}
	return out
}

// ensureWebhookSet runs EnsureWebhooks until it covers every service the
// inputs name: Portainer's view of a just-deployed stack may lag briefly.
func ensureWebhookSet(ctx context.Context, c *portainer.Client, endpointID int, in WebhooksArgs, wait time.Duration) (portainer.WebhookSet, error) {
	deadline := time.Now().Add(wait)
	for {
		set, err := c.EnsureWebhooks(ctx, endpointID, in.Stack)
		if err != nil {
			return set, fmt.Errorf("webhooks of %s: %w", in.Stack, err)
		}
		var missing []string
		for svc := range in.Services {
			if _, ok := set.Webhooks[in.Stack+"_"+svc]; !ok {
				if _, ok := set.Webhooks[svc]; !ok {
					missing = append(missing, svc)
				}
			}
		}
		if len(missing) == 0 {
			return set, nil
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			return set, fmt.Errorf("webhooks of %s: Portainer does not list services %v", in.Stack, missing)
		}
		select {
		case <-ctx.Done():
			return set, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func plainWebhooks(ws []vaultWebhook) []vault.Webhook {
	out := make([]vault.Webhook, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Webhook)
	}
	return out
}

// shortName is a service's name within its stack: "web" for STACK_web.
func shortName(stack, name string) string {
	if len(name) > len(stack)+1 && name[:len(stack)+1] == stack+"_" {
		return name[len(stack)+1:]
	}
	return name
}
