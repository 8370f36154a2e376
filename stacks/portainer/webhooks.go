package portainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// WebhookTypeService is Portainer's WebhookType of a swarm service webhook.
const WebhookTypeService = 1

// Webhook is a Portainer webhook. Portainer answers with ResourceId and
// EndpointId where the create request says ResourceID and EndpointID.
type Webhook struct {
	ID         int    `json:"Id"`
	Token      Secret `json:"Token"`
	ResourceID string `json:"ResourceId"` // the service id
	EndpointID int    `json:"EndpointId"`
	RegistryID int    `json:"RegistryId"`
	Type       int    `json:"Type"`
}

// Webhooks lists the webhooks of an environment.
func (c *Client) Webhooks(ctx context.Context, endpointID int) ([]Webhook, error) {
	var all []Webhook
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/webhooks"}, &all); err != nil {
		return nil, err
	}
	out := []Webhook{}
	for _, h := range all {
		if h.EndpointID == endpointID {
			out = append(out, h)
		}
	}
	return out, nil
}

// WebhookFor returns the webhook of a service; ok is false when there is none.
func (c *Client) WebhookFor(ctx context.Context, endpointID int, serviceID string) (h Webhook, ok bool, err error) {
	f, err := json.Marshal(struct {
		ResourceID string `json:"ResourceID"`
		EndpointID int    `json:"EndpointID"`
	}{serviceID, endpointID})
	if err != nil {
		return Webhook{}, false, err
	}
	var list []Webhook
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/webhooks", query: url.Values{"filters": {string(f)}}}, &list); err != nil {
		return Webhook{}, false, err
	}
	for _, h := range list {
		if h.ResourceID == serviceID && h.EndpointID == endpointID {
			return h, true, nil
		}
	}
	return Webhook{}, false, nil
}

// CreateServiceWebhook creates the webhook of a service. Portainer allows
// one per service and answers a second create with 409; then the existing
// webhook is returned with created false.
func (c *Client) CreateServiceWebhook(ctx context.Context, endpointID int, serviceID string) (h Webhook, created bool, err error) {
	body := struct {
		ResourceID  string `json:"ResourceID"`
		EndpointID  int    `json:"EndpointID"`
		WebhookType int    `json:"WebhookType"`
	}{serviceID, endpointID, WebhookTypeService}
	err = c.do(ctx, call{method: http.MethodPost, path: "/api/webhooks", body: body}, &h)
	if err == nil {
		return h, true, nil
	}
	if !IsStatus(err, http.StatusConflict) {
		return Webhook{}, false, err
	}
	h, ok, ferr := c.WebhookFor(ctx, endpointID, serviceID)
	if ferr != nil {
		return Webhook{}, false, ferr
	}
	if !ok {
		// The duplicate check is by service id alone: the webhook is on
		// another environment.
		return Webhook{}, false, fmt.Errorf("service %s has a webhook on another environment: %w", serviceID, err)
	}
	return h, false, nil
}

// DeleteWebhook deletes a webhook by its numeric id (not its token);
// deleting one that is already gone is not an error.
func (c *Client) DeleteWebhook(ctx context.Context, id int) error {
	return c.do(ctx, call{method: http.MethodDelete, path: "/api/webhooks/" + strconv.Itoa(id), want: []int{http.StatusNoContent}}, nil)
}

// WebhookURL is the URL that triggers the webhook with token. It holds the
// token: treat it as a secret.
func (c *Client) WebhookURL(token Secret) Secret {
	return Secret(c.base + "/api/webhooks/" + token.Reveal())
}

// TriggerWebhook POSTs a webhook URL, as CI does: Portainer force-updates
// the service (204). A non-empty tag replaces the image's tag; Portainer
// pulls it first and answers 404 if that fails. The URL's token never
// appears in the error.
func (c *Client) TriggerWebhook(ctx context.Context, webhookURL Secret, tag string) error {
	u, err := url.Parse(webhookURL.Reveal())
	if err != nil || !strings.HasPrefix(u.Path, "/api/webhooks/") || strings.Count(u.Path, "/") != 3 {
		return errors.New("portainer webhook trigger: not a webhook URL (scheme://host/api/webhooks/TOKEN)")
	}
	tc := c.with()
	tc.base = u.Scheme + "://" + u.Host
	var q url.Values
	if tag != "" {
		q = url.Values{"tag": {tag}}
	}
	return tc.do(ctx, call{method: http.MethodPost, path: u.Path, query: q, public: true,
		redactPath: "/api/webhooks/" + Redacted, want: []int{http.StatusNoContent}}, nil)
}
