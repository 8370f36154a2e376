package infra

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	hcloudrv "github.com/shoalops/shoal/infra/hcloud"
)

const (
	typHcloudServer   = "hcloud:index/server:Server"
	typHcloudKey      = "hcloud:index/sshKey:SshKey"
	typHcloudFirewall = "hcloud:index/firewall:Firewall"
	typHcloudSpread   = "hcloud:index/placementGroup:PlacementGroup"
	typHcloudProvider = "pulumi:providers:hcloud"
)

// twoHetznerProjects is a stack with managers at two Hetzner projects
// (the default configuration and account hzb) and one at Vultr.
func twoHetznerProjects() (map[string]any, []string) {
	cfg := baseConfig(`[` + hzManager + `,` + vuManager + `,{"name":"hb","hoster":"hetzner-b","account":"hzb","role":"manager","type":"cx22","location":"hel1"}]`)
	cfg["shoal:accounts"] = map[string]any{"hzb": map[string]any{"provider": "hcloud", "tokenKey": "hzb:token"}}
	cfg["hzb:token"] = strings.Repeat("b", 64)
	return cfg, append([]string{"hzb:token"}, secretKeys...)
}

func TestHcloudServersCarryTheFirewallFromCreation(t *testing.T) {
	for _, preview := range []bool{false, true} {
		t.Run(fmt.Sprintf("preview=%v", preview), func(t *testing.T) {
			m, _, err := run(t, "prod", baseConfig(threeCloud), secretKeys, Options{}, preview)
			if err != nil {
				t.Fatalf("program: %v", err)
			}
			public := m.get(t, typHcloudFirewall, "acme-hetzner-firewall")
			for _, srv := range m.all(typHcloudServer) {
				ids := plain(srv.Inputs["firewallIds"])
				if !ids.IsArray() || len(ids.ArrayValue()) != 1 || text(ids.ArrayValue()[0]) != public.ID {
					t.Errorf("server %s firewallIds = %v, want [%s] (the public firewall) at creation", srv.Name, srv.Inputs["firewallIds"], public.ID)
				}
				// The firewall is created before the server: it is one of
				// the server's dependencies.
				if !containsName(srv.Deps, public.Name) {
					t.Errorf("server %s does not depend on the firewall %s: deps %q", srv.Name, public.Name, srv.Deps)
				}
			}
			// The firewall a server names at creation holds no peer rule: it
			// does not depend on any server's address.
			for _, r := range public.Inputs["rules"].ArrayValue() {
				if p := text(r.ObjectValue()["port"]); p == "2377" || p == "7946" {
					t.Errorf("the public firewall lets in the swarm port %s", p)
				}
			}
			if len(public.Deps) != 0 {
				t.Errorf("the public firewall depends on %q; it must exist before any server", public.Deps)
			}
		})
	}
}

func containsName(urns []string, name string) bool {
	for _, u := range urns {
		if urnName(u) == name {
			return true
		}
	}
	return false
}

func TestTwoHcloudHostersInOneStackGetDistinctKeyNames(t *testing.T) {
	t.Run("two accounts", func(t *testing.T) {
		cfg, secrets := twoHetznerProjects()
		m, _, err := run(t, "prod", cfg, secrets, Options{}, false)
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		keys := m.all(typHcloudKey)
		if got := m.names(typHcloudKey); !reflect.DeepEqual(got, []string{"acme-default-ssh-key", "acme-hzb-ssh-key"}) {
			t.Fatalf("hcloud ssh keys = %q, want one per account", got)
		}
		if str(keys[0], "name") == str(keys[1], "name") {
			t.Errorf("both keys are named %q at Hetzner", str(keys[0], "name"))
		}
		b := m.get(t, typHcloudKey, "acme-hzb-ssh-key")
		if !strings.Contains(b.Provider, typHcloudProvider+"::acme-account-hzb::") {
			t.Errorf("account hzb's key uses provider %q, want the account's", b.Provider)
		}
		srv := m.get(t, typHcloudServer, "acme-hb-1-server")
		if got := strs(srv.Inputs["sshKeys"]); !reflect.DeepEqual(got, []string{b.ID}) {
			t.Errorf("server hb-1 sshKeys = %q, want its account's key %s", got, b.ID)
		}
	})
	t.Run("one account", func(t *testing.T) {
		// Hetzner refuses a second key with the same fingerprint in one
		// project: two hosters there share the account's key.
		pools := `[` + hzManager + `,` + vuManager + `,{"name":"hb","hoster":"hetzner-b","provider":"hcloud","role":"manager","type":"cx22","location":"hel1"}]`
		m, _, err := run(t, "prod", baseConfig(pools), secretKeys, Options{}, false)
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		key := m.get(t, typHcloudKey, "acme-default-ssh-key")
		if n := len(m.all(typHcloudKey)); n != 1 {
			t.Errorf("%d hcloud ssh keys in one project, want 1", n)
		}
		for _, s := range []string{"acme-hz-1-server", "acme-hb-1-server"} {
			if got := strs(m.get(t, typHcloudServer, s).Inputs["sshKeys"]); !reflect.DeepEqual(got, []string{key.ID}) {
				t.Errorf("%s sshKeys = %q, want %s", s, got, key.ID)
			}
		}
		// Each hoster still has its own firewalls and label selector.
		for _, h := range []string{"hetzner", "hetzner-b"} {
			fw := m.get(t, typHcloudFirewall, "acme-"+h+"-peers-firewall")
			if sel := text(fw.Inputs["applyTos"].ArrayValue()[0].ObjectValue()["labelSelector"]); sel != "shoal-cluster=acme,shoal-hoster="+h {
				t.Errorf("%s peer firewall selector = %q", h, sel)
			}
		}
	})
}

func TestHcloudReusesAProjectKeyWithTheSameFingerprint(t *testing.T) {
	fp, err := hcloudrv.Fingerprint(testPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		labels map[string]any
		reuse  bool
	}{
		{"another cluster's key", map[string]any{"shoal-cluster": "other"}, true},
		{"a key a person uploaded", map[string]any{}, true},
		{"this cluster's own key", map[string]any{"shoal-cluster": "acme"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(threeCloud)
			m := &mocks{hcloudKeys: []map[string]any{
				{"id": 77, "name": "ops", "fingerprint": "00:11", "labels": map[string]any{}, "publicKey": "ssh-ed25519 OTHER"},
				{"id": 42, "name": "laptop", "fingerprint": fp, "labels": tt.labels, "publicKey": testPublicKey},
			}}
			if _, err := runWith(t, m, "prod", cfg, secretKeys, Options{}, false); err != nil {
				t.Fatalf("program: %v", err)
			}
			want := "42"
			if !tt.reuse {
				want = m.get(t, typHcloudKey, "acme-default-ssh-key").ID
			} else if n := len(m.all(typHcloudKey)); n != 0 {
				t.Errorf("registered %d ssh keys, want the project's key reused", n)
			}
			for _, s := range m.all(typHcloudServer) {
				if got := strs(s.Inputs["sshKeys"]); !reflect.DeepEqual(got, []string{want}) {
					t.Errorf("%s sshKeys = %q, want %s", s.Name, got, want)
				}
			}
		})
	}
}

func TestHcloudPoolOfElevenNodesSplitsAcrossSpreadGroups(t *testing.T) {
	pools := `[` + hzManager + `,` + vuManager + `,` + swManager + `,{"name":"w","hoster":"hetzner","role":"worker","count":11,"type":"cx22","location":"fsn1"}]`
	m, _, err := run(t, "prod", baseConfig(pools), secretKeys, Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	g1 := m.get(t, typHcloudSpread, "acme-hetzner-w-spread")
	g2 := m.get(t, typHcloudSpread, "acme-hetzner-w-spread-2")
	if str(g1, "name") == str(g2, "name") {
		t.Errorf("both groups are named %q", str(g1, "name"))
	}
	members := map[string][]string{}
	for i := 1; i <= 11; i++ {
		srv := m.get(t, typHcloudServer, fmt.Sprintf("acme-w-%d-server", i))
		members[str(srv, "placementGroupId")] = append(members[str(srv, "placementGroupId")], srv.Name)
	}
	if len(members[g1.ID]) != hcloudrv.MaxSpread || len(members[g2.ID]) != 1 || members[g2.ID][0] != "acme-w-11-server" {
		t.Errorf("spread groups hold %v, want w-1..w-10 in %s and w-11 in %s", members, g1.ID, g2.ID)
	}
	for _, g := range m.all(typHcloudSpread) {
		if n := len(members[g.ID]); n > hcloudrv.MaxSpread {
			t.Errorf("group %s holds %d servers, Hetzner's limit is %d", g.Name, n, hcloudrv.MaxSpread)
		}
	}
}

func TestTwoAccountsOfOneProviderGiveTwoProviderResources(t *testing.T) {
	cfg, secrets := twoHetznerProjects()
	cfg["shoal:accounts"] = map[string]any{
		"hzb": map[string]any{"provider": "hcloud", "tokenKey": "hzb:token"},
		"hzc": map[string]any{"provider": "hetzner", "tokenKey": "hzc:token"},
	}
	cfg["hzc:token"] = strings.Repeat("c", 64)
	secrets = append(secrets, "hzc:token")
	cfg["shoal:pools"] = `[{"name":"hb","hoster":"hetzner-b","account":"hzb","role":"manager","type":"cx22","location":"hel1"},` +
		`{"name":"hc","hoster":"hetzner-c","account":"hzc","role":"manager","type":"cx22","location":"fsn1"},` + vuManager + `]`
	m, _, err := run(t, "prod", cfg, secrets, Options{}, false)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	if got := m.names(typHcloudProvider); !reflect.DeepEqual(got, []string{"acme-account-hzb", "acme-account-hzc"}) {
		t.Fatalf("hcloud providers = %q, want one per account", got)
	}
	for _, acct := range []string{"hzb", "hzc"} {
		p := m.get(t, typHcloudProvider, "acme-account-"+acct)
		if tok := p.Inputs["token"]; !tok.IsSecret() || plain(tok).StringValue() != strings.Repeat(acct[2:], 64) {
			t.Errorf("provider %s token = %v, want the secret of %s:token", p.Name, tok, acct)
		}
	}
	// Every hcloud resource of a hoster uses its account's provider.
	for _, typ := range []string{typHcloudServer, typHcloudKey, typHcloudFirewall, typHcloudSpread} {
		for _, r := range m.all(typ) {
			acct := "hzb"
			if strings.Contains(r.Name, "hc-") || strings.Contains(r.Name, "hetzner-c") || strings.Contains(r.Name, "hzc") {
				acct = "hzc"
			}
			if !strings.Contains(r.Provider, typHcloudProvider+"::acme-account-"+acct+"::") {
				t.Errorf("%s %s uses provider %q, want account %s's", typ, r.Name, r.Provider, acct)
			}
		}
	}
	// The invoke that looks for the project's keys goes to each account.
	for _, acct := range []string{"hzb", "hzc"} {
		found := false
		for _, c := range m.calls {
			found = found || strings.Contains(c, "::acme-account-"+acct+"::")
		}
		if !found {
			t.Errorf("no getSshKeys invoke on account %s: %q", acct, m.calls)
		}
	}
	// The vultr hoster keeps the default configuration.
	if p := m.get(t, "vultr:index/instance:Instance", "acme-vu-1-server").Provider; strings.Contains(p, "account") {
		t.Errorf("vultr instance uses provider %q, want the default", p)
	}
}

func TestParseChecksAccounts(t *testing.T) {
	pools := `[` + hzManager + `,` + vuManager + `,{"name":"hb","hoster":"hetzner-b","account":"hzb","role":"manager","type":"cx22","location":"hel1"}]`
	for _, tt := range []struct {
		name     string
		accounts string
		pools    string
		external map[string]bool
		wantKey  string
		wantMsg  string
	}{
		{"a token in plain text", `{"hzb":{"provider":"hcloud","tokenKey":"hzb:token"}}`, pools, map[string]bool{"hzb:token": false},
			"shoal:accounts.hzb.tokenKey", "stored in plain text"},
		{"a token not set", `{"hzb":{"provider":"hcloud","tokenKey":"hzb:token"}}`, pools, nil,
			"shoal:accounts.hzb.tokenKey", "which the stack does not set"},
		{"a token key in namespace shoal", `{"hzb":{"provider":"hcloud","tokenKey":"shoal:hzbToken"}}`, pools, nil,
			"shoal:accounts.hzb.tokenKey", "outside namespace shoal"},
		{"an unknown account", `{}`, pools, nil, "shoal:pools[2].account", "names no account"},
		{"an account of another provider", `{"hzb":{"provider":"vultr","tokenKey":"hzb:token"}}`,
			`[` + hzManager + `,` + vuManager + `,{"name":"hb","hoster":"hetzner-b","provider":"hcloud","account":"hzb","role":"manager","type":"cx22","location":"hel1"}]`,
			map[string]bool{"hzb:token": true}, "shoal:pools[2].account", "account \"hzb\" is at vultr, the pool at hcloud"},
		{"two accounts for one hoster", `{"hzb":{"provider":"hcloud","tokenKey":"hzb:token"}}`,
			`[{"name":"hz","hoster":"hetzner","role":"manager","type":"cx22","location":"fsn1"},` + vuManager + `,{"name":"hb","hoster":"hetzner","account":"hzb","role":"manager","type":"cx22","location":"hel1"}]`,
			map[string]bool{"hzb:token": true}, "shoal:pools[2].account", "one hoster, one account"},
		{"a scaleway account without a project", `{"sb":{"provider":"scaleway","tokenKey":"sb:secretKey","accessKey":"SCWX"}}`, threeCloud,
			map[string]bool{"sb:secretKey": true}, "shoal:accounts.sb.projectId", "is required for scaleway accounts"},
		{"an unknown account field", `{"hzb":{"provider":"hcloud","token":"hzb:token"}}`, pools, nil, "shoal:accounts.hzb.token", "is not a field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig("prod", map[string]string{KeyAccounts: tt.accounts, KeyPools: tt.pools})
			c.External = tt.external
			_, _, err := Parse(c)
			if err == nil || !strings.Contains(err.Error(), tt.wantKey+": ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %s: ...%s", err, tt.wantKey, tt.wantMsg)
			}
		})
	}
	c := testConfig("prod", map[string]string{KeyAccounts: `{"hzb":{"provider":"hcloud","tokenKey":"hzb:token"}}`, KeyPools: pools})
	c.External = map[string]bool{"hzb:token": true}
	s, _, err := Parse(c)
	if err != nil {
		t.Fatalf("a valid account: %v", err)
	}
	if got := s.Pools[2]; got.Provider != "hcloud" || got.Account != "hzb" {
		t.Errorf("pool hb = provider %q account %q, want hcloud (from the account) and hzb", got.Provider, got.Account)
	}
}

func TestPreflightReadsAccountTokensFromTheStackFile(t *testing.T) {
	project := mustRead(t, "../Pulumi.yaml")
	stack := "config:\n  shoal:sshPublicKey: " + testPublicKey + "\n  shoal:sshPrivateKey: {secure: v1:abc}\n" +
		"  shoal:accounts: {hzb: {provider: hcloud, tokenKey: 'hzb:token'}}\n" +
		"  shoal:pools: [" + hzManager + "," + vuManager + `,{"name":"hb","hoster":"hetzner-b","account":"hzb","role":"manager","type":"cx22","location":"hel1"}]` + "\n"
	if _, _, err := Preflight("prod", project, []byte(stack+"  hzb:token: {secure: v1:xyz}\n")); err != nil {
		t.Errorf("a secret token: %v", err)
	}
	if _, _, err := Preflight("prod", project, []byte(stack+"  hzb:token: plain\n")); err == nil || !strings.Contains(err.Error(), "shoal:accounts.hzb.tokenKey: names hzb:token, which is stored in plain text") {
		t.Errorf("a plain token: err = %v", err)
	}
}

func TestMockArgumentCheckRefusesWrongArguments(t *testing.T) {
	obj := func(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }
	rule := func(proto string, port any) map[string]any {
		r := map[string]any{"direction": "in", "protocol": proto, "sourceIps": []any{"0.0.0.0/0"}}
		if port != nil {
			r["port"] = port
		}
		return r
	}
	for _, tt := range []struct {
		name, typ string
		in        resource.PropertyMap
		want      string
	}{
		{"an upper-case firewall protocol", typHcloudFirewall, obj(map[string]any{"name": "f", "rules": []any{rule("TCP", "22")}}), `rules[].protocol is "TCP"`},
		{"a port on an esp rule", typHcloudFirewall, obj(map[string]any{"name": "f", "rules": []any{rule("esp", "0")}}), "rules[0].port"},
		{"a tcp rule without a port", typHcloudFirewall, obj(map[string]any{"name": "f", "rules": []any{rule("tcp", nil)}}), "rules[0].port"},
		{"a rule without a direction", typHcloudFirewall, obj(map[string]any{"name": "f", "rules": []any{map[string]any{"protocol": "esp", "sourceIps": []any{"1.2.3.4/32"}}}}), "rules[].direction is required"},
		{"an applyTo with two targets", typHcloudFirewall, obj(map[string]any{"name": "f", "applyTos": []any{map[string]any{"labelSelector": "a=b", "server": 3}}}), "applyTos[0]"},
		{"a string id where hcloud wants an integer", typHcloudServer, obj(map[string]any{"name": "s", "serverType": "cx22", "image": "debian-12", "location": "fsn1", "placementGroupId": "1001"}), "placementGroupId is string"},
		{"firewall ids as strings", typHcloudServer, obj(map[string]any{"name": "s", "serverType": "cx22", "image": "debian-12", "location": "fsn1", "firewallIds": []any{"1001"}}), "firewallIds[] is string"},
		{"a missing server type", typHcloudServer, obj(map[string]any{"name": "s", "image": "debian-12", "location": "fsn1"}), "serverType is required"},
		{"an unknown argument", typHcloudServer, obj(map[string]any{"name": "s", "serverType": "cx22", "image": "debian-12", "location": "fsn1", "firewalls": []any{1}}), "firewalls is no argument"},
		{"a deprecated argument", "scaleway:instance/placementGroup:PlacementGroup", obj(map[string]any{"policyType": "max_availability", "policyMode": "enforced"}), "policyMode is deprecated"},
		{"a placement policy in camel case", "scaleway:instance/placementGroup:PlacementGroup", obj(map[string]any{"policyType": "maxAvailability"}), "policyType is"},
		{"a vultr rule without a subnet size", "vultr:index/firewallRule:FirewallRule", obj(map[string]any{"firewallGroupId": "g", "protocol": "esp", "ipType": "v4", "subnet": "1.2.3.4"}), "subnetSize is required"},
		{"a hoster type the check does not know", "hcloud:index/volume:Volume", obj(map[string]any{}), "no argument check"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkArgs(tt.typ, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkArgs = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	ok := obj(map[string]any{"name": "f", "rules": []any{rule("tcp", "22"), rule("esp", nil)}, "applyTos": []any{map[string]any{"labelSelector": "a=b"}}})
	if err := checkArgs(typHcloudFirewall, ok); err != nil {
		t.Errorf("a valid firewall: %v", err)
	}
}
