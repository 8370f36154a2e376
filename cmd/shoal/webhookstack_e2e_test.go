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
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

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

// webhookStack is a `shoal up` stack of the dr tests: one manager at each
// of three hosters (plus extra pools), traefik and portainer (stand-ins),
// and the app examples/app with environment dev whose webhook tokens sit
// in a real Vault. Lab nodes cannot pull: the images are loaded into each
// node, and a plain registry on ma-1 (Portainer's node) serves the app's
// tags dev and v2.
type webhookStack struct {
	t        *testing.T
	c        cli
	name     string
	dir      string
	v        *vaulttest.Server
	start    time.Time
	appImage string
	// images: traefik, registry, demo (agent and app), portainer stand-ins
	traefik, registry, demo, portainer string
}

// wsvc is a service as the dr tests compare it.
type wsvc struct {
	ID, Image, Version string
}

// newWebhookStack makes the stack: a first up with the servers only, the
// images, then the platform, the app and Vault.
func newWebhookStack(t *testing.T, ctx context.Context, extra string) *webhookStack {
	t.Helper()
	requirePulumi(t)
	v := vaulttest.Start(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	s := &webhookStack{t: t, c: c, name: name, dir: t.TempDir(), v: v, start: time.Now(), appImage: "127.0.0.1:5000/shop"}
	var imgs []string
	for _, ensure := range []func(context.Context) (string, error){images.EnsureTraefikStandIn, images.EnsureRegistry, images.EnsureDemo} {
		img, err := ensure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	s.traefik, s.registry, s.demo, s.portainer = imgs[0], imgs[1], imgs[2], ensurePortainerStandIn(t, ctx)

	cfgPath := filepath.Join(s.dir, "Pulumi."+name+".yaml")
	base := fmt.Sprintf(`config:
  shoal:cluster: %s
  shoal:pools:
    - {name: ma, provider: local, hoster: hoster-a, role: manager, count: 1}
    - {name: mb, provider: local, hoster: hoster-b, role: manager, count: 1}
    - {name: mc, provider: local, hoster: hoster-c, role: manager, count: 1}
%s`, name, extra)
	if err := os.WriteFile(cfgPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range s.up().Nodes {
		if err := s.loadNode(ctx, n.Name); err != nil {
			t.Fatal(err)
		}
	}
	s.startRegistry(ctx)

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w, err := automation.Open(ctx, automation.Options{Home: c.home, Stack: name, Dir: s.dir, Self: self, BuiltIn: builtIn(), Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Stack.SetConfigWithOptions(ctx, "shoal:vaultToken", auto.ConfigValue{Value: v.RootToken, Secret: true}, &auto.ConfigOptions{ConfigFile: cfgPath}); err != nil {
		t.Fatal(err)
	}
	write := func(p, body string) string {
		if err := os.WriteFile(filepath.Join(s.dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(s.dir, p)
	}
	app, err := os.ReadFile(filepath.Join("..", "..", "examples", "app", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	editConfig(t, cfgPath, map[string]any{
		"network": map[string]any{"encryptedOverlays": false},
		"stacks": map[string]any{
			"domain": "lab.test", "acmeEmail": "ops@lab.test", "endpointMode": "dnsrr", "resolveImage": "never",
			"traefik":   map[string]any{"enabled": true, "image": s.traefik},
			"portainer": map[string]any{"enabled": true, "image": s.portainer, "agentImage": s.demo, "url": "http://{address}:9000", "endpoint": "local", "overrides": []string{write("portainer-lab.yml", portainerLabOverride)}},
		},
		"apps":         []any{map[string]any{"name": "shop", "compose": write("app.yml", string(app)), "env": map[string]string{"APP_IMAGE": s.appImage}}},
		"environments": []string{"dev"},
		"vault":        map[string]any{"address": v.Addr},
	})
	s.up()
	return s
}

// up runs `shoal up --yes` on the stack.
func (s *webhookStack) up() stackResult {
	s.t.Helper()
	code, out, errs := s.c.run("up", "--yes", "--stack", s.name, "--dir", s.dir, "-o", "json")
	if code != 0 {
		s.t.Fatalf("shoal up: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	var r stackResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		s.t.Fatalf("up -o json: %v\n%s", err, out)
	}
	s.t.Logf("up after %s: %v", time.Since(s.start).Round(time.Second), r.Changes)
	return r
}

func (s *webhookStack) container(node string) string { return lab.ContainerName(s.name, node) }

// loadNode puts the images every node runs into node's engine (traefik,
// the agent, the app's dev tag), and on ma-1 Portainer's and the
// registry's.
func (s *webhookStack) loadNode(ctx context.Context, node string) error {
	ctr := s.container(node)
	imgs := []string{s.traefik, s.demo}
	if node == "ma-1" {
		imgs = append(imgs, s.portainer, s.registry)
	}
	for _, img := range imgs {
		if err := images.LoadInto(ctx, img, ctr); err != nil {
			return err
		}
	}
	_, err := nodeDocker(ctx, ctr, "", "tag", s.demo, s.appImage+":dev")
	return err
}

// startRegistry runs the plain registry on ma-1 and pushes the app's tags.
func (s *webhookStack) startRegistry(ctx context.Context) {
	s.t.Helper()
	if err := s.registryOn(ctx); err != nil {
		s.t.Fatal(err)
	}
}

func (s *webhookStack) registryOn(ctx context.Context) error {
	ctr := s.container("ma-1")
	if _, err := nodeDocker(ctx, ctr, "", "tag", s.demo, s.appImage+":v2"); err != nil {
		return err
	}
	cp := exec.CommandContext(ctx, "docker", "exec", "-i", ctr, "sh", "-c", "mkdir -p /etc/plainreg && cat > /etc/plainreg/config.yml")
	cp.Stdin = strings.NewReader(plainRegistryConfig)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("registry config: %v\n%s", err, out)
	}
	if _, err := nodeDocker(ctx, ctr, "", "run", "-d", "--name", "plainreg", "-p", "5000:5000", "-v", "/etc/plainreg/config.yml:/etc/distribution/config.yml:ro", s.registry); err != nil {
		return err
	}
	for _, tag := range []string{"dev", "v2"} {
		var err error
		for range 20 { // the registry may take a moment to listen
			if _, err = nodeDocker(ctx, ctr, "", "push", s.appImage+":"+tag); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reloadWhenReplaced loads the images into each node's new server as soon
// as its container is a new one and runs (real servers would pull them),
// and on ma-1 starts the registry again. The channel gets one result per
// node.
func (s *webhookStack) reloadWhenReplaced(ctx context.Context, docker *client.Client, nodes []string) <-chan error {
	s.t.Helper()
	loaded := make(chan error, len(nodes))
	for _, m := range nodes {
		old, err := docker.ContainerInspect(ctx, s.container(m), client.ContainerInspectOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		go func() {
			err := ctx.Err()
			for ctx.Err() == nil {
				ins, ierr := docker.ContainerInspect(ctx, s.container(m), client.ContainerInspectOptions{})
				if ierr == nil && ins.Container.ID != old.Container.ID && ins.Container.State != nil && ins.Container.State.Running {
					if err = s.loadNode(ctx, m); err == nil && m == "ma-1" {
						err = s.registryOn(ctx)
					}
					if err == nil {
						break
					}
				}
				time.Sleep(2 * time.Second)
			}
			loaded <- err
		}()
	}
	return loaded
}

// services are the swarm's services as node's engine lists them.
func (s *webhookStack) services(ctx context.Context, node string) map[string]wsvc {
	s.t.Helper()
	ctr := s.container(node)
	out, err := nodeDocker(ctx, ctr, "", "service", "ls", "-q")
	if err != nil {
		s.t.Fatal(err)
	}
	got := map[string]wsvc{}
	for _, id := range strings.Fields(out) {
		line, err := nodeDocker(ctx, ctr, "", "service", "inspect", "--format", "{{.Spec.Name}} {{.ID}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Version.Index}}", id)
		if err != nil {
			s.t.Fatal(err)
		}
		f := strings.Fields(line)
		got[f[0]] = wsvc{ID: f[1], Image: f[2], Version: f[3]}
	}
	for _, name := range []string{"traefik_traefik", "portainer_portainer", "portainer_agent", "shop-dev_web", "shop-dev_worker"} {
		if _, ok := got[name]; !ok {
			s.t.Fatalf("service %s missing; services: %v", name, got)
		}
	}
	return got
}

// webhook reads the web service's webhook from Vault, as CI reads it.
func (s *webhookStack) webhook(ctx context.Context) (hookURL, token string) {
	s.t.Helper()
	kv, err := rootVault(s.t, s.v).KVv2("secret").Get(ctx, "shop/dev/web")
	if err != nil {
		s.t.Fatal(err)
	}
	hookURL, _ = kv.Data[vault.KeyURL].(string)
	token, _ = kv.Data[vault.KeyToken].(string)
	if token == "" || !strings.HasSuffix(hookURL, "/api/webhooks/"+token) {
		s.t.Fatalf("vault secret/shop/dev/web: token set %v, url holds it %v", token != "", strings.HasSuffix(hookURL, token))
	}
	return hookURL, token
}

// postWebhookUpdatesOnlyWeb POSTs the webhook with ?tag=v2 and checks that
// exactly shop-dev_web changed, to the new tag (services as node lists
// them).
func (s *webhookStack) postWebhookUpdatesOnlyWeb(ctx context.Context, node, hookURL, token string) {
	s.t.Helper()
	before := s.services(ctx, node)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL+"?tag=v2", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST the webhook: %v", strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		s.t.Fatalf("POST the webhook: %d, want 204", resp.StatusCode)
	}
	after := s.services(ctx, node)
	for name, was := range before {
		now := after[name]
		switch {
		case name == "shop-dev_web" && !strings.HasPrefix(now.Image, s.appImage+":v2"):
			s.t.Errorf("%s: image %s after the webhook, want %s:v2", name, now.Image, s.appImage)
		case name != "shop-dev_web" && now != was:
			s.t.Errorf("%s changed: %+v -> %+v", name, was, now)
		}
	}
}
