package infra

import (
	"os"
	"strings"
	"testing"
)

func TestConfigFromFilesIsStrictAboutShoalKeys(t *testing.T) {
	project, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const valid = "config:\n  shoal:sshPrivateKey: {secure: v1:abc}\n  shoal:sshPublicKey: " + testPublicKey + "\n  shoal:pools: " + threeCloud + "\n"
	tests := []struct {
		name      string
		project   string // default: the repository's Pulumi.yaml
		stack     string
		wantKey   string // "" means no problem
		wantMsg   string
		wantValue map[string]string
		wantSec   []string
	}{
		{name: "a valid stack file reads with Pulumi.yaml's defaults for what it leaves out",
			stack: valid, wantValue: map[string]string{KeyCluster: "", KeyFirewall: `{"publicSources":["0.0.0.0/0","::/0"],"publicTcp":[22,80,443]}`},
			wantSec: []string{KeySSHPrivateKey}},
		{name: "a misspelt key is refused naming the key and the nearest known one",
			stack: valid + "  shoal:firewal: {publicTcp: [22]}\n", wantKey: "shoal:firewal", wantMsg: "did you mean shoal:firewall?"},
		{name: "a key without a namespace is the project's and is checked too",
			stack: valid + "  firewal: {publicTcp: [22]}\n", wantKey: "shoal:firewal", wantMsg: "did you mean shoal:firewall?"},
		{name: "a key like no known one lists the known keys",
			stack: valid + "  shoal:colour: blue\n", wantKey: "shoal:colour", wantMsg: "known keys: shoal:cluster, shoal:sshPublicKey"},
		{name: "keys of other namespaces are the providers' business",
			stack: valid + "  hcloud:token: {secure: v1:xyz}\n  vultr:apiKey: x\n"},
		{name: "a key Pulumi.yaml declares without a default must be set",
			project: "name: shoal\nconfig:\n  cluster: {type: string, description: d}\n", stack: valid,
			wantKey: "shoal:cluster", wantMsg: "is required: Pulumi.yaml declares it without a default"},
		{name: "a project's own default applies, as under pulumi up",
			project: "name: shoal\nconfig:\n  firewall: {type: object, description: d, default: {publicTcp: [22]}}\n", stack: valid,
			wantValue: map[string]string{KeyFirewall: `{"publicTcp":[22]}`}},
		{name: "a value of another type than Pulumi.yaml declares is refused, as Pulumi would after creating the stack",
			stack: valid + "  shoal:firewall: open\n", wantKey: "shoal:firewall", wantMsg: "must be of type object"},
		{name: "a key Pulumi.yaml declares secret must be set as one",
			project: "name: shoal\nconfig:\n  vaultToken: {type: string, description: d, secret: true}\n", stack: valid + "  shoal:vaultToken: plain\n",
			wantKey: "shoal:vaultToken", wantMsg: "must be a secret"},
		{name: "an unknown key declared in Pulumi.yaml is refused as well",
			project: "name: shoal\nconfig:\n  firewal: {type: object, description: d, default: {}}\n", stack: valid,
			wantKey: "shoal:firewal", wantMsg: "did you mean shoal:firewall?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proj := project
			if tt.project != "" {
				proj = []byte(tt.project)
			}
			c, err := ConfigFromFiles("prod", proj, []byte(tt.stack))
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("ConfigFromFiles: %v", err)
				}
			} else {
				found := false
				for _, ce := range ConfigErrors(err) {
					found = found || ce.Key == tt.wantKey && strings.Contains(ce.Msg, tt.wantMsg)
				}
				if !found {
					t.Fatalf("want a problem at %s containing %q, got %v", tt.wantKey, tt.wantMsg, err)
				}
			}
			for k, v := range tt.wantValue {
				if c.Values[k] != v {
					t.Errorf("%s = %q, want %q", k, c.Values[k], v)
				}
			}
			for _, k := range tt.wantSec {
				if !c.Secret[k] || c.Values[k] != "" {
					t.Errorf("%s: secret %v value %q, want a secret whose value is not read", k, c.Secret[k], c.Values[k])
				}
			}
		})
	}
}

func TestParseNamesThePoolAProblemIsIn(t *testing.T) {
	local := func(name, hoster, extra string) string {
		return `{"name":"` + name + `","provider":"local","hoster":"` + hoster + `","role":"manager","count":1` + extra + `}`
	}
	pools := "[" + local("ma", "hoster-a", `,"hostr":"x"`) + "," + local("mb", "hoster-b", "") + "," + local("mc", "hoster-c", "") + "]"
	_, _, err := Parse(testConfig("prod", map[string]string{KeyPools: pools}))
	errs := ConfigErrors(err)
	if len(errs) != 1 || errs[0].Key != "shoal:pools[0].hostr" || !strings.Contains(errs[0].Msg, "did you mean hoster?") {
		t.Fatalf("want exactly one problem, at shoal:pools[0].hostr suggesting hoster; got %v", err)
	}
}

func TestProgramRefusesUnknownKeysItIsShown(t *testing.T) {
	cfg := baseConfig(threeCloud)
	m, _, err := run(t, "prod", cfg, secretKeys, Options{ConfigKeys: []string{"shoal:pools", "shoal:firewal", "hcloud:token"}}, false)
	if err == nil || !strings.Contains(err.Error(), "shoal:firewal: is not a key shoal reads: did you mean shoal:firewall?") || strings.Contains(err.Error(), "hcloud:token") {
		t.Fatalf("err = %v, want shoal:firewal refused and hcloud:token left alone", err)
	}
	if len(m.all("")) != 0 {
		t.Errorf("registered resources before refusing")
	}
}
