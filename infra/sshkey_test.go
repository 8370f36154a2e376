package infra

import (
	"os"
	"strings"
	"testing"
)

var generatedKey = &KeyPair{Private: testPrivateKey, Public: testPublicKey}

func TestProgramUsesTheGeneratedKeyOnlyForAStackOfLocalPools(t *testing.T) {
	t.Run("the local stack without keys gets the generated pair, the private key as a secret", func(t *testing.T) {
		cfg := stackFile(t, "../Pulumi.local.yaml")
		m, _, err := run(t, "local", cfg, nil, Options{SSHKey: generatedKey}, false)
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		for _, s := range m.all("shoal:local:Server") {
			if str(s, "sshPublicKey") != testPublicKey {
				t.Errorf("%s sshPublicKey = %q, want the generated one", s.Name, str(s, "sshPublicKey"))
			}
		}
		c := m.all(ClusterType)
		if len(c) != 1 || !c[0].Inputs["sshPrivateKey"].IsSecret() || text(c[0].Inputs["sshPrivateKey"]) != testPrivateKey {
			t.Fatalf("swarm resource: want the generated private key as a secret input, got %+v", c)
		}
	})
	t.Run("a cloud stack without keys is refused, generated pair or not", func(t *testing.T) {
		cfg := baseConfig(threeCloud)
		delete(cfg, "shoal:sshPrivateKey")
		delete(cfg, "shoal:sshPublicKey")
		m, _, err := run(t, "prod", cfg, nil, Options{SSHKey: generatedKey}, false)
		if err == nil || !strings.Contains(err.Error(), "shoal:sshPrivateKey: is required") {
			t.Fatalf("err = %v, want shoal:sshPrivateKey required", err)
		}
		if len(m.all("")) != 0 {
			t.Errorf("registered resources before refusing")
		}
	})
	t.Run("a local stack with its own keys keeps them", func(t *testing.T) {
		cfg := stackFile(t, "../Pulumi.local.yaml")
		cfg["shoal:sshPublicKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwn0t5CGJ9a3U8NVBmQdw7yfT3kqcRWc0jz4oNfcyKJ own"
		cfg["shoal:sshPrivateKey"] = testPrivateKey
		m, _, err := run(t, "local", cfg, secretKeys, Options{SSHKey: generatedKey}, false)
		if err != nil {
			t.Fatalf("program: %v", err)
		}
		for _, s := range m.all("shoal:local:Server") {
			if !strings.HasSuffix(str(s, "sshPublicKey"), " own") {
				t.Errorf("%s sshPublicKey = %q, want the stack's own", s.Name, str(s, "sshPublicKey"))
			}
		}
	})
}

func TestPreflightChecksTheStackFilesBeforeAnythingExists(t *testing.T) {
	project, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	local, err := os.ReadFile("../Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	needsKey, _, err := Preflight("local", project, local)
	if err != nil || !needsKey {
		t.Fatalf("the local stack: needsKey %v, err %v; want a generated key and no problem", needsKey, err)
	}
	typo := strings.Replace(string(local), "shoal:swarm:", "shoal:swarn:", 1)
	if _, _, err := Preflight("local", project, []byte(typo)); err == nil || !strings.Contains(err.Error(), "shoal:swarn: is not a key shoal reads: did you mean shoal:swarm?") {
		t.Errorf("misspelt key: %v", err)
	}
	noPools := "config:\n  shoal:cluster: x\n"
	_, _, err = Preflight("prod", project, []byte(noPools))
	errs := ConfigErrors(err)
	var pools []string
	for _, ce := range errs {
		if ce.Key == "shoal:pools" {
			pools = append(pools, ce.Msg)
		}
	}
	if len(pools) != 1 || !strings.Contains(pools[0], "list the node pools") {
		t.Errorf("a stack without pools: want one problem at shoal:pools, the program's; got %v", err)
	}
}
