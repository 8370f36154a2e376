package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

// plainRegistryConfig is a registry without auth, run on the Portainer
// node: the webhook's ?tag= makes Portainer pull the new tag, and lab
// nodes cannot pull from anywhere else.
const plainRegistryConfig = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n"

// TestDRRecoverOnAShoalUpStackKeepsWebhookTokens: a `shoal up` stack with
// 3 managers on 3 hosters runs traefik and portainer (stand-ins) and an
// app whose webhook tokens sit in a real Vault. Two managers are killed
// (quorum lost); `shoal dr recover --yes --stack` re-forms the swarm on the
// survivor and gives the dead managers new servers under their names
// through the Pulumi program: quorum ok, 3 reachable managers on 3
// hosters, the same services with the same IDs, the webhooks checked
// unchanged; a second `shoal up` has nothing to change; and the token read
// from Vault with a plain client, POSTed with a new tag, updates exactly
// its service.
func TestDRRecoverOnAShoalUpStackKeepsWebhookTokens(t *testing.T) {
	requirePulumi(t)
	v := vaulttest.Start(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()

	var imgs []string
	for _, ensure := range []func(context.Context) (string, error){images.EnsureTraefikStandIn, images.EnsureRegistry, images.EnsureDemo} {
		img, err := ensure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	traefikImg, registryImg, demoImg, portainerImg := imgs[0], imgs[1], imgs[2], ensurePortainerStandIn(t, ctx)
	appImage := "127.0.0.1:5000/shop"

	// 1. The cluster: one manager at each of three hosters.
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "Pulumi."+name+".yaml")
	base := fmt.Sprintf(`config:
  shoal:cluster: %s
  shoal:pools:
    - {name: ma, provider: local, hoster: hoster-a, role: manager, count: 1}
    - {name: mb, provider: local, hoster: hoster-b, role: manager, count: 1}
    - {name: mc, provider: local, hoster: hoster-c, role: manager, count: 1}
`, name)
	if err := os.WriteFile(cfgPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	up := func() stackResult {
		t.Helper()
		code, out, errs := c.run("up", "--yes", "--stack", name, "--dir", dir, "-o", "json")
		if code != 0 {
			t.Fatalf("shoal up: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		var r stackResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("up -o json: %v\n%s", err, out)
		}
		t.Logf("up after %s: %v", time.Since(start).Round(time.Second), r.Changes)
		return r
	}
	up()

	// Images into the nodes (lab nodes cannot pull): traefik and the agent
	// run on every manager, Portainer and the plain registry on ma-1.
	survivor := lab.ContainerName(name, "ma-1")
	loadNode := func(ctx context.Context, node string) error {
		ctr := lab.ContainerName(name, node)
		if err := images.LoadInto(ctx, traefikImg, ctr); err != nil {
			return err
		}
		if err := images.LoadInto(ctx, demoImg, ctr); err != nil {
			return err
		}
		_, err := nodeDocker(ctx, ctr, "", "tag", demoImg, appImage+":dev")
		return err
	}
	for _, n := range []string{"ma-1", "mb-1", "mc-1"} {
		if err := loadNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, img := range []string{portainerImg, registryImg} {
		if err := images.LoadInto(ctx, img, survivor); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nodeDocker(ctx, survivor, "", "tag", demoImg, appImage+":v2"); err != nil {
		t.Fatal(err)
	}
	cp := exec.CommandContext(ctx, "docker", "exec", "-i", survivor, "sh", "-c", "mkdir -p /etc/plainreg && cat > /etc/plainreg/config.yml")
	cp.Stdin = strings.NewReader(plainRegistryConfig)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("registry config: %v\n%s", err, out)
	}
	if _, err := nodeDocker(ctx, survivor, "", "run", "-d", "--name", "plainreg", "-p", "5000:5000", "-v", "/etc/plainreg/config.yml:/etc/distribution/config.yml:ro", registryImg); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"dev", "v2"} {
		var err error
		for range 20 { // the registry may take a moment to listen
			if _, err = nodeDocker(ctx, survivor, "", "push", appImage+":"+tag); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// 2. The platform stacks, the app and Vault.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w, err := automation.Open(ctx, automation.Options{Home: c.home, Stack: name, Dir: dir, Self: self, BuiltIn: builtIn(), Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Stack.SetConfigWithOptions(ctx, "shoal:vaultToken", auto.ConfigValue{Value: v.RootToken, Secret: true}, &auto.ConfigOptions{ConfigFile: cfgPath}); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) string {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, p)
	}
	app, err := os.ReadFile(filepath.Join("..", "..", "examples", "app", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	editConfig(t, cfgPath, map[string]any{
		"network": map[string]any{"encryptedOverlays": false},
		"stacks": map[string]any{
			"domain": "lab.test", "acmeEmail": "ops@lab.test", "endpointMode": "dnsrr", "resolveImage": "never",
			"traefik":   map[string]any{"enabled": true, "image": traefikImg},
			"portainer": map[string]any{"enabled": true, "image": portainerImg, "agentImage": demoImg, "url": "http://{address}:9000", "endpoint": "local", "overrides": []string{write("portainer-lab.yml", portainerLabOverride)}},
		},
		"apps":         []any{map[string]any{"name": "shop", "compose": write("app.yml", string(app)), "env": map[string]string{"APP_IMAGE": appImage}}},
		"environments": []string{"dev"},
		"vault":        map[string]any{"address": v.Addr},
	})
	up()

	type svc struct {
		ID, Image, Version string
	}
	services := func() map[string]svc {
		t.Helper()
		out, err := nodeDocker(ctx, survivor, "", "service", "ls", "-q")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]svc{}
		for _, id := range strings.Fields(out) {
			line, err := nodeDocker(ctx, survivor, "", "service", "inspect", "--format", "{{.Spec.Name}} {{.ID}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Version.Index}}", id)
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(line)
			got[f[0]] = svc{ID: f[1], Image: f[2], Version: f[3]}
		}
		return got
	}
	before := services()
	for _, s := range []string{"traefik_traefik", "portainer_portainer", "portainer_agent", "shop-dev_web", "shop-dev_worker"} {
		if _, ok := before[s]; !ok {
			t.Fatalf("service %s missing; services: %v", s, before)
		}
	}

	// The web service's webhook, read from Vault as CI reads it.
	kv, err := rootVault(t, v).KVv2("secret").Get(ctx, "shop/dev/web")
	if err != nil {
		t.Fatal(err)
	}
	hookURL, _ := kv.Data[vault.KeyURL].(string)
	token, _ := kv.Data[vault.KeyToken].(string)
	if token == "" || !strings.HasSuffix(hookURL, "/api/webhooks/"+token) {
		t.Fatalf("vault secret/shop/dev/web: token set %v, url holds it %v", token != "", strings.HasSuffix(hookURL, token))
	}

	// 3. Two of three managers die: quorum is lost.
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	for _, m := range []string{"mb-1", "mc-1"} {
		if err := lab.KillNode(ctx, docker, c.labRef(name), m); err != nil {
			t.Fatal(err)
		}
	}
	// The new servers get the images as real ones would pull them.
	loaded := make(chan error, 2)
	for _, m := range []string{"mb-1", "mc-1"} {
		old, err := docker.ContainerInspect(ctx, lab.ContainerName(name, m), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			var err error
			for ctx.Err() == nil {
				ins, ierr := docker.ContainerInspect(ctx, lab.ContainerName(name, m), client.ContainerInspectOptions{})
				if ierr == nil && ins.Container.ID != old.Container.ID && ins.Container.State != nil && ins.Container.State.Running {
					if err = loadNode(ctx, m); err == nil {
						break
					}
				}
				time.Sleep(2 * time.Second)
			}
			loaded <- err
		}()
	}

	recStart := time.Now()
	code, out, errs := c.run("dr", "recover", "--yes", "--stack", name, "--dir", dir)
	took := time.Since(recStart)
	if code != 0 {
		t.Fatalf("dr recover: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("dr recover took %s\nstdout:\n%s\nstderr:\n%s", took.Round(100*time.Millisecond), out, errs)
	for range 2 {
		if err := <-loaded; err != nil {
			t.Errorf("images into a new server: %v", err)
		}
	}
	if !strings.Contains(errs, "replace mb-1 at hoster-b, mc-1 at hoster-c through the stack's Pulumi program") {
		t.Errorf("dr recover did not replace mb-1 and mc-1 through the program")
	}
	if !strings.Contains(out, "webhooks and Vault tokens: 2 checked, unchanged") {
		t.Errorf("dr recover did not report the webhooks checked and unchanged")
	}

	st := c.status()
	hosters := map[string]bool{}
	var managers []string
	for _, n := range st.Nodes {
		if n.Role == "manager" {
			managers = append(managers, n.Name)
			hosters[n.Hoster] = true
			if n.Reachability != "reachable" || n.State != "ready" {
				t.Errorf("manager %s is %s/%s, want ready and reachable", n.Name, n.State, n.Reachability)
			}
		}
	}
	slices.Sort(managers)
	if st.Quorum != quorum.OK || st.Managers != 3 || st.ManagersReachable != 3 || len(hosters) != 3 || !slices.Equal(managers, []string{"ma-1", "mb-1", "mc-1"}) {
		t.Errorf("after recovery: quorum %s, %d/%d managers %v on %d hosters; want ok, 3/3 ma-1 mb-1 mc-1 on 3",
			st.Quorum, st.ManagersReachable, st.Managers, managers, len(hosters))
	}

	// The same services with the same IDs.
	after := services()
	if len(after) != len(before) {
		t.Errorf("services after recovery: %v, want %v", after, before)
	}
	for s, was := range before {
		if after[s].ID != was.ID {
			t.Errorf("service %s: ID %q after recovery, want %q", s, after[s].ID, was.ID)
		}
	}

	// The recovered stack is what the program says: nothing to change.
	if r := up(); !r.noChanges() {
		t.Errorf("up after dr recover changed resources: %v", r.Changes)
	}

	// The token read from Vault before the disaster updates exactly its
	// service, to the new tag.
	before = services()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL+"?tag=v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST the webhook: %v", strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST the webhook: %d, want 204", resp.StatusCode)
	}
	after = services()
	for s, was := range before {
		now := after[s]
		switch {
		case s == "shop-dev_web" && !strings.HasPrefix(now.Image, appImage+":v2"):
			t.Errorf("%s: image %s after the webhook, want %s:v2", s, now.Image, appImage)
		case s != "shop-dev_web" && now != was:
			t.Errorf("%s changed: %+v -> %+v", s, was, now)
		}
	}
}
