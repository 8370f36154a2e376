package vault

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	web := Webhook{Service: "web", Token: "tok-web", URL: "https://p/api/webhooks/tok-web"}
	api := Webhook{Service: "api", Token: "tok-api", URL: "https://p/api/webhooks/tok-api"}
	entry := func(w Webhook) Entry {
		return Entry{Service: w.Service, Path: "acme/dev/" + w.Service, Token: w.Token, URL: w.URL, Version: 1}
	}
	tests := []struct {
		name    string
		cur     []Entry
		desired []Webhook
		want    []Change
	}{
		{name: "nothing in vault and two services creates both, sorted by service",
			desired: []Webhook{web, api},
			want:    []Change{{Op: OpCreate, Service: "api", Want: api}, {Op: OpCreate, Service: "web", Want: web}}},
		{name: "a converged state plans nothing",
			cur: []Entry{entry(web), entry(api)}, desired: []Webhook{api, web}, want: nil},
		{name: "a changed token updates that service only",
			cur:     []Entry{entry(web), entry(api)},
			desired: []Webhook{api, {Service: "web", Token: "tok-new", URL: web.URL}},
			want:    []Change{{Op: OpUpdate, Service: "web", Want: Webhook{Service: "web", Token: "tok-new", URL: web.URL}}}},
		{name: "a changed url updates that service",
			cur:     []Entry{entry(web)},
			desired: []Webhook{{Service: "web", Token: web.Token, URL: "https://q/x"}},
			want:    []Change{{Op: OpUpdate, Service: "web", Want: Webhook{Service: "web", Token: web.Token, URL: "https://q/x"}}}},
		{name: "an entry of a service that no longer exists is deleted",
			cur: []Entry{entry(web), entry(api)}, desired: []Webhook{web},
			want: []Change{{Op: OpDelete, Service: "api"}}},
		{name: "no services deletes every entry",
			cur:  []Entry{entry(web), entry(api)},
			want: []Change{{Op: OpDelete, Service: "api"}, {Op: OpDelete, Service: "web"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.cur, tt.desired)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Plan = %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	const tok = "tok-s3cr3t"
	values := []any{
		Webhook{Service: "web", Token: tok, URL: "u"},
		Entry{Service: "web", Token: tok},
		Change{Op: OpCreate, Service: "web", Want: Webhook{Service: "web", Token: tok}},
		[]Change{{Op: OpUpdate, Service: "web", Want: Webhook{Token: tok}}},
		Credentials{Token: tok},
		Credentials{RoleID: tok, SecretID: tok},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, tok) {
				t.Errorf("%s of %T prints the secret: %s", verb, v, s)
			}
		}
	}
}
