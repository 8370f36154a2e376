package portainer

import (
	"context"
	"fmt"
)

// WebhookSet is the outcome of EnsureWebhooks: one webhook per service of
// the stack, and what the run changed.
type WebhookSet struct {
	// Webhooks by service name.
	Webhooks map[string]Webhook
	// Services of the stack by name.
	Services map[string]Service
	// Applied are the plan's Create and Delete steps, in the order done.
	Applied []Change
}

// EnsureWebhooks gives every service of stack on the environment exactly
// one service webhook and deletes the webhooks of services that are gone
// (PlanWebhooks). It is idempotent: on a converged stack it changes nothing
// and returns the existing webhooks. A create answered with Portainer's
// duplicate error (a concurrent run) takes the existing webhook.
func (c *Client) EnsureWebhooks(ctx context.Context, endpointID int, stack string) (WebhookSet, error) {
	if stack == "" {
		return WebhookSet{}, fmt.Errorf("portainer webhooks: no stack name")
	}
	services, err := c.Services(ctx, endpointID, stack)
	if err != nil {
		return WebhookSet{}, fmt.Errorf("webhooks of stack %s: list services: %w", stack, err)
	}
	all, err := c.Services(ctx, endpointID, "")
	if err != nil {
		return WebhookSet{}, fmt.Errorf("webhooks of stack %s: list services: %w", stack, err)
	}
	hooks, err := c.Webhooks(ctx, endpointID)
	if err != nil {
		return WebhookSet{}, fmt.Errorf("webhooks of stack %s: list webhooks: %w", stack, err)
	}
	plan := PlanWebhooks(services, StackWebhooks(hooks, services, all))

	set := WebhookSet{Webhooks: map[string]Webhook{}, Services: map[string]Service{}}
	for _, s := range services {
		set.Services[s.Name] = s
	}
	for _, ch := range plan {
		switch ch.Action {
		case Keep:
			set.Webhooks[ch.Service.Name] = ch.Webhook
		case Create:
			h, created, err := c.CreateServiceWebhook(ctx, endpointID, ch.Service.ID)
			if err != nil {
				return set, fmt.Errorf("webhooks of stack %s: %s: %w", stack, ch, err)
			}
			set.Webhooks[ch.Service.Name] = h
			if created {
				ch.Webhook = h
				set.Applied = append(set.Applied, ch)
			}
		case Delete:
			if err := c.DeleteWebhook(ctx, ch.Webhook.ID); err != nil {
				return set, fmt.Errorf("webhooks of stack %s: %s: %w", stack, ch, err)
			}
			set.Applied = append(set.Applied, ch)
		}
	}
	return set, nil
}
