package provider

import (
	"strings"
	"testing"

	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/vault"
)

func TestWebhookDriftAfterARecovery(t *testing.T) {
	url := func(tok portainer.Secret) portainer.Secret { return "http://p/api/webhooks/" + tok }
	st := WebhooksState{WebhooksArgs: WebhooksArgs{Stack: "shop-dev", Services: map[string]string{"web": "s1", "worker": "s2"}}}
	services := []portainer.Service{{ID: "s1", Name: "shop-dev_web"}, {ID: "s2", Name: "shop-dev_worker"}}
	hooks := []portainer.Webhook{{ID: 1, Token: "t1", ResourceID: "s1"}, {ID: 2, Token: "t2", ResourceID: "s2"}}
	entries := []vault.Entry{{Service: "web", Token: "t1", URL: "http://p/api/webhooks/t1"}, {Service: "worker", Token: "t2", URL: "http://p/api/webhooks/t2"}}

	// Service IDs kept: nothing to re-sync.
	if d := WebhookDrift(st, services, hooks, entries, url); len(d) != 0 {
		t.Errorf("kept IDs: drift %v, want none", d)
	}
	// worker got a new ID: its webhook targets the old one, Vault holds
	// the old token.
	moved := []portainer.Service{services[0], {ID: "s9", Name: "shop-dev_worker"}}
	d := strings.Join(WebhookDrift(st, moved, hooks, entries, url), "\n")
	for _, want := range []string{"worker: service ID changed (s9, was s2)", "worker: no webhook targets service s9", "webhook 2: service no longer exists (service s2)"} {
		if !strings.Contains(d, want) {
			t.Errorf("changed ID: drift lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "web:") {
		t.Errorf("web was kept, but named:\n%s", d)
	}
	// A webhook whose token is not the one in Vault.
	d = strings.Join(WebhookDrift(st, services, hooks, []vault.Entry{entries[0], {Service: "worker", Token: "old", URL: "x"}}, url), "\n")
	if d != "worker: Vault holds another token or URL than its webhook's" {
		t.Errorf("stale token: drift %q", d)
	}
}

func TestRecordedWebhooksReadsTheShownSecrets(t *testing.T) {
	export := `{"version":3,"deployment":{"resources":[
 {"urn":"u1","type":"shoal:local:Server","outputs":{"node":"m-1"}},
 {"urn":"u2","type":"shoal:portainer:Webhooks","outputs":{"url":"http://10.0.0.2:9000","stack":"shop-dev","project":"shop","env":"dev",
  "services":{"web":"s1"},"endpointId":3,"webhookIds":{"web":7},
  "adminPassword":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"pw\""},
  "vault":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"{\"address\":\"http://v:8200\",\"token\":\"root\"}"}}}]}}`
	got, err := RecordedWebhooks([]byte(export))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Stack != "shop-dev" || got[0].AdminPassword != "pw" || got[0].Vault.Token != "root" ||
		got[0].Vault.Address != "http://v:8200" || got[0].Services["web"] != "s1" || got[0].WebhookIDs["web"] != 7 {
		t.Errorf("recorded = %+v", got)
	}
	enc := strings.Replace(export, `"plaintext":"\"pw\""`, `"ciphertext":"abc"`, 1)
	if _, err := RecordedWebhooks([]byte(enc)); err == nil || !strings.Contains(err.Error(), "--show-secrets") {
		t.Errorf("encrypted secret: err %v", err)
	}
}
