package portainer

import (
	"fmt"
	"sort"
)

// Action is what a Change does.
type Action string

const (
	// Keep leaves a service's webhook as it is.
	Keep Action = "keep"
	// Create makes a webhook for a service that has none.
	Create Action = "create"
	// Delete removes a webhook whose service is gone, or a second webhook
	// of one service.
	Delete Action = "delete"
)

// Change is one step of a webhook plan.
type Change struct {
	Action  Action
	Service Service // the service (Keep, Create; Delete of a duplicate)
	Webhook Webhook // the webhook (Keep, Delete)
	Reason  string  // why (Delete)
}

func (c Change) String() string {
	switch c.Action {
	case Create:
		return fmt.Sprintf("create webhook for service %s", c.Service.Name)
	case Delete:
		return fmt.Sprintf("delete webhook %d of service %s: %s", c.Webhook.ID, c.Webhook.ResourceID, c.Reason)
	default:
		return fmt.Sprintf("keep webhook %d for service %s", c.Webhook.ID, c.Service.Name)
	}
}

// Changed reports whether a plan creates or deletes anything.
func Changed(plan []Change) bool {
	for _, c := range plan {
		if c.Action != Keep {
			return true
		}
	}
	return false
}

// PlanWebhooks decides the webhooks of a stack: exactly one per service
// (the oldest, i.e. lowest id, is kept; a missing one is created) and none
// for anything else in existing. existing must hold only webhooks this
// stack may touch: those of its services and those whose service no longer
// exists (see StackWebhooks); webhooks of other stacks' services must not be
// passed. The plan lists Keep and Create by service name, then Delete by
// webhook id.
func PlanWebhooks(services []Service, existing []Webhook) []Change {
	byService := map[string][]Webhook{}
	for _, h := range existing {
		byService[h.ResourceID] = append(byService[h.ResourceID], h)
	}
	for _, hs := range byService {
		sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	}
	svcs := append([]Service(nil), services...)
	sort.SliceStable(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })

	var plan, deletes []Change
	seen := map[string]bool{}
	for _, s := range svcs {
		if seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		hs := byService[s.ID]
		if len(hs) == 0 {
			plan = append(plan, Change{Action: Create, Service: s})
			continue
		}
		plan = append(plan, Change{Action: Keep, Service: s, Webhook: hs[0]})
		for _, h := range hs[1:] {
			deletes = append(deletes, Change{Action: Delete, Service: s, Webhook: h, Reason: "second webhook of the service"})
		}
	}
	for id, hs := range byService {
		if seen[id] {
			continue
		}
		for _, h := range hs {
			deletes = append(deletes, Change{Action: Delete, Webhook: h, Reason: "service no longer exists"})
		}
	}
	sort.Slice(deletes, func(i, j int) bool { return deletes[i].Webhook.ID < deletes[j].Webhook.ID })
	return append(plan, deletes...)
}

// StackWebhooks selects, from an environment's webhooks, those a stack's
// plan may touch: webhooks of the stack's services, and webhooks whose
// service exists nowhere on the swarm any more (all = every service of the
// environment). Webhooks of other live services are left alone.
func StackWebhooks(hooks []Webhook, stack, all []Service) []Webhook {
	mine, live := map[string]bool{}, map[string]bool{}
	for _, s := range stack {
		mine[s.ID] = true
	}
	for _, s := range all {
		live[s.ID] = true
	}
	out := []Webhook{}
	for _, h := range hooks {
		if h.Type != 0 && h.Type != WebhookTypeService {
			continue
		}
		if mine[h.ResourceID] || !live[h.ResourceID] {
			out = append(out, h)
		}
	}
	return out
}
