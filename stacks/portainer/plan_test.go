package portainer

import (
	"reflect"
	"strings"
	"testing"
)

func svc(id, name string) Service { return Service{ID: id, Name: name, Stack: "app-dev"} }

func hook(id int, resource string) Webhook {
	return Webhook{ID: id, Token: Secret("tok-" + resource), ResourceID: resource, EndpointID: 1, Type: WebhookTypeService}
}

// steps renders a plan as "action:service-or-webhook" strings.
func steps(plan []Change) []string {
	out := []string{}
	for _, c := range plan {
		switch c.Action {
		case Delete:
			out = append(out, "delete:"+c.Webhook.ResourceID)
		default:
			out = append(out, string(c.Action)+":"+c.Service.Name)
		}
	}
	return out
}

func TestPlanWebhooks(t *testing.T) {
	web, worker, api := svc("s1", "app-dev_web"), svc("s2", "app-dev_worker"), svc("s3", "app-dev_api")
	tests := []struct {
		name     string
		services []Service
		existing []Webhook
		want     []string
	}{
		{"a new stack gets one webhook per service, in name order",
			[]Service{worker, web}, nil,
			[]string{"create:app-dev_web", "create:app-dev_worker"}},
		{"a converged stack keeps its webhooks and changes nothing",
			[]Service{web, worker}, []Webhook{hook(1, "s1"), hook(2, "s2")},
			[]string{"keep:app-dev_web", "keep:app-dev_worker"}},
		{"a service added to the stack gets a webhook, the others are kept",
			[]Service{web, worker, api}, []Webhook{hook(1, "s1"), hook(2, "s2")},
			[]string{"create:app-dev_api", "keep:app-dev_web", "keep:app-dev_worker"}},
		{"the webhook of a removed service is deleted",
			[]Service{web}, []Webhook{hook(1, "s1"), hook(2, "s2")},
			[]string{"keep:app-dev_web", "delete:s2"}},
		{"a stack whose services are all gone deletes every webhook",
			nil, []Webhook{hook(2, "s2"), hook(1, "s1")},
			[]string{"delete:s1", "delete:s2"}},
		{"a second webhook of one service is deleted and the oldest kept",
			[]Service{web}, []Webhook{hook(7, "s1"), hook(3, "s1")},
			[]string{"keep:app-dev_web", "delete:s1"}},
		{"a service listed twice still gets one webhook",
			[]Service{web, web}, nil,
			[]string{"create:app-dev_web"}},
		{"nothing in, nothing out",
			nil, nil,
			[]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanWebhooks(tt.services, tt.existing)
			if got := steps(plan); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan = %v, want %v", got, tt.want)
			}
			creates := 0
			for _, c := range plan {
				if c.Action == Create {
					creates++
				}
			}
			if want := strings.Count(strings.Join(tt.want, " "), "create:"); creates != want {
				t.Fatalf("creates = %d, want %d", creates, want)
			}
		})
	}
}

func TestPlanWebhooksKeepsTheOldestOfTwo(t *testing.T) {
	plan := PlanWebhooks([]Service{svc("s1", "web")}, []Webhook{hook(7, "s1"), hook(3, "s1")})
	if plan[0].Action != Keep || plan[0].Webhook.ID != 3 {
		t.Fatalf("kept %+v, want webhook 3", plan[0])
	}
	if plan[1].Action != Delete || plan[1].Webhook.ID != 7 {
		t.Fatalf("deleted %+v, want webhook 7", plan[1])
	}
}

func TestChanged(t *testing.T) {
	tests := []struct {
		name string
		plan []Change
		want bool
	}{
		{"an empty plan changes nothing", nil, false},
		{"a plan of keeps changes nothing", []Change{{Action: Keep}, {Action: Keep}}, false},
		{"a create is a change", []Change{{Action: Keep}, {Action: Create}}, true},
		{"a delete is a change", []Change{{Action: Delete}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Changed(tt.plan); got != tt.want {
				t.Fatalf("Changed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStackWebhooks(t *testing.T) {
	stack := []Service{svc("s1", "app-dev_web")}
	all := []Service{svc("s1", "app-dev_web"), {ID: "o1", Name: "other_api", Stack: "other"}}
	tests := []struct {
		name  string
		hooks []Webhook
		want  []int
	}{
		{"the webhook of a stack service is the stack's", []Webhook{hook(1, "s1")}, []int{1}},
		{"the webhook of another stack's live service is left alone", []Webhook{hook(2, "o1")}, []int{}},
		{"the webhook of a service that exists nowhere is the stack's to delete", []Webhook{hook(3, "gone")}, []int{3}},
		{"a webhook of another kind is left alone", []Webhook{{ID: 4, ResourceID: "gone", Type: 2}}, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []int{}
			for _, h := range StackWebhooks(tt.hooks, stack, all) {
				got = append(got, h.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("StackWebhooks = %v, want %v", got, tt.want)
			}
		})
	}
}
