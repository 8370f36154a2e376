package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

// portainerLabOverride runs the Portainer stand-in in place of Portainer:
// its own flags (its state kept on Portainer's data volume, as Portainer
// keeps its database), the manager's Docker socket, and its API published
// on the node (the lab has no Traefik routing to it).
const portainerLabOverride = `version: "3.8"
services:
  portainer:
    command: ["-addr", ":9000", "-data", "/data"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
    ports:
      - {target: 9000, published: 9000, protocol: tcp, mode: host}
`

// registryLabOverride publishes the registry on its node: no Traefik routes
// registry.DOMAIN in the lab.
const registryLabOverride = `version: "3.8"
services:
  registry:
    ports:
      - {target: 5000, published: 5000, protocol: tcp, mode: host}
`

// ensurePortainerStandIn builds the lab's Portainer stand-in as a FROM
// scratch image tagged by the hash of its binary, once per machine.
func ensurePortainerStandIn(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "portainer-stand-in")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/shoalops/shoal/stacks/portainer/portainertest/cmd/portainer-stand-in")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build portainer-stand-in: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	img := "shoal-lab/portainer-standin:" + hex.EncodeToString(sum[:])[:12]
	if exec.CommandContext(ctx, "docker", "image", "inspect", img).Run() == nil {
		return img
	}
	df := "FROM scratch\nCOPY portainer-stand-in /portainer-stand-in\nENTRYPOINT [\"/portainer-stand-in\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", img, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", img, err, out)
	}
	return img
}

// rootVault is a plain api client with the dev server's root token, to
// check what shoal wrote independently of shoal's own client.
func rootVault(t *testing.T, v *vaulttest.Server) *vaultapi.Client {
	t.Helper()
	conf := vaultapi.DefaultConfig()
	conf.Address, conf.MaxRetries = v.Addr, 0
	c, err := vaultapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	return c
}

// nodeDocker runs the docker CLI inside a lab VPS container; stdin may
// carry a secret (never an argument).
func nodeDocker(ctx context.Context, container string, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "-i", container, "docker"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s in %s: %w: %s", args[0], container, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// editConfig sets shoal: keys in a stack file, keeping everything else
// (the encryption salt, the SSH keys and secrets shoal up stored).
func editConfig(t *testing.T, path string, set map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	cfg, _ := doc["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
	}
	for k, v := range set {
		cfg["shoal:"+k] = v
	}
	doc["config"] = cfg
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUpDeploysStacksAndWebhooksOnLab: shoal up on a one-manager local
// cluster deploys traefik (stand-in), portainer (stand-in) with its agent,
// the real registry and the example app as <project>-dev; every app
// service gets a webhook whose token sits in a real Vault; a second up
// changes nothing; a service removed from the app loses its webhook and
// its Vault entry; the state holds no secret in plain text. The generated
// credentials of the shipped stacks sit in Vault at
// secret/<cluster>/platform/<stack> (registry: .../registry/<user>), the
// registry's are the ones a push works with, a second up writes no new
// version of them, and destroy removes them.
func TestUpDeploysStacksAndWebhooksOnLab(t *testing.T) {
	requirePulumi(t)
	v := vaulttest.Start(t)
	c, name := newLab(t)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
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
	imgs = append(imgs, ensurePortainerStandIn(t, ctx))
	traefikImg, registryImg, demoImg, portainerImg := imgs[0], imgs[1], imgs[2], imgs[3]
	t.Logf("images ready after %s", time.Since(start).Round(time.Second))

	// 1. The cluster alone: one manager (the lab VPS must exist before the
	// lab's images can be loaded into it; real nodes pull them).
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "Pulumi."+name+".yaml")
	base := fmt.Sprintf(`config:
  shoal:cluster: %s
  shoal:pools:
    - {name: m, provider: local, hoster: hoster-a, role: manager, count: 1}
  shoal:swarm:
    allowSingleHosterQuorum: true
`, name)
	if err := os.WriteFile(cfgPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // everything shoal up printed, checked for secrets at the end
	up := func() stackResult {
		t.Helper()
		code, out, errs := c.run("up", "--yes", "--stack", name, "--dir", dir, "-o", "json")
		logs.WriteString(out + errs)
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
	node := lab.ContainerName(name, "m-1")
	for _, img := range []string{traefikImg, registryImg, demoImg, portainerImg} {
		if err := images.LoadInto(ctx, img, node); err != nil {
			t.Fatal(err)
		}
	}
	appImage := "shoal-lab/shop"
	if _, err := nodeDocker(ctx, node, "", "tag", demoImg, appImage+":dev"); err != nil {
		t.Fatal(err)
	}
	t.Logf("images loaded after %s", time.Since(start).Round(time.Second))

	// 2. The stacks, the app and Vault.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w, err := automation.Open(ctx, automation.Options{Home: c.home, Stack: name, Dir: dir, Self: self, BuiltIn: builtIn(), Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// The token goes into the test's stack file, as a user sets it (shoal
	// itself never writes there).
	if err := w.Stack.SetConfigWithOptions(ctx, "shoal:vaultToken", auto.ConfigValue{Value: v.RootToken, Secret: true}, &auto.ConfigOptions{ConfigFile: cfgPath}); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) string {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, p)
	}
	write("portainer-lab.yml", portainerLabOverride)
	write("registry-lab.yml", registryLabOverride)
	app, err := os.ReadFile(filepath.Join("..", "..", "examples", "app", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	appPath := write("app.yml", string(app))
	editConfig(t, cfgPath, map[string]any{
		"network": map[string]any{"encryptedOverlays": false},
		"stacks": map[string]any{
			"domain": "lab.test", "acmeEmail": "ops@lab.test", "endpointMode": "dnsrr", "resolveImage": "never",
			"traefik":   map[string]any{"enabled": true, "image": traefikImg},
			"portainer": map[string]any{"enabled": true, "image": portainerImg, "agentImage": demoImg, "url": "http://{address}:9000", "endpoint": "local", "overrides": []string{filepath.Join(dir, "portainer-lab.yml")}},
			"registry":  map[string]any{"enabled": true, "image": registryImg, "overrides": []string{filepath.Join(dir, "registry-lab.yml")}},
		},
		"apps":         []any{map[string]any{"name": "shop", "compose": appPath, "env": map[string]string{"APP_IMAGE": appImage}}},
		"environments": []string{"dev"},
		"vault":        map[string]any{"address": v.Addr},
	})

	r := up()
	if r.Changes["create"] == 0 {
		t.Fatalf("up with stacks created nothing: %v", r.Changes)
	}

	services := func() map[string]uint64 {
		t.Helper()
		out, err := nodeDocker(ctx, node, "", "service", "ls", "--format", "{{.Name}}")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, s := range strings.Fields(out) {
			idx, err := nodeDocker(ctx, node, "", "service", "inspect", "--format", "{{.Version.Index}}", s)
			if err != nil {
				t.Fatal(err)
			}
			got[s], _ = strconv.ParseUint(idx, 10, 64)
		}
		return got
	}
	before := services()
	for _, s := range []string{"traefik_traefik", "portainer_portainer", "portainer_agent", "registry_registry", "shop-dev_web", "shop-dev_worker"} {
		if _, ok := before[s]; !ok {
			t.Errorf("service %s missing; services: %v", s, before)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Run("every service runs all its tasks", func(t *testing.T) {
		var pending string
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			out, err := nodeDocker(ctx, node, "", "service", "ls", "--format", "{{.Name}} {{.Replicas}}")
			if err != nil {
				t.Fatal(err)
			}
			pending = ""
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) < 2 {
					continue
				}
				run, want, _ := strings.Cut(f[1], "/")
				if run != want || run == "0" {
					pending += " " + line
				}
			}
			if pending == "" {
				return
			}
		}
		t.Errorf("services not running all tasks after 60 s:%s", pending)
	})

	outs, err := w.Outputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := outs[infra.OutputRegistry].Value.(map[string]any)
	regUser, _ := reg["username"].(string)
	regPass, _ := reg["password"].(string)
	if regUser == "" || len(regPass) < 16 || !outs[infra.OutputRegistry].Secret {
		t.Fatalf("registry output: user %q, password of %d characters, secret %v", regUser, len(regPass), outs[infra.OutputRegistry].Secret)
	}
	var nodes []struct{ Address string }
	nb, _ := json.Marshal(outs[infra.OutputNodes].Value)
	_ = json.Unmarshal(nb, &nodes)
	if len(nodes) != 1 || nodes[0].Address == "" {
		t.Fatalf("nodes output: %s", nb)
	}
	addr := nodes[0].Address

	vc, err := vault.New(ctx, vault.Config{Address: v.Addr, Credentials: vault.Credentials{Token: v.RootToken}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The generated credentials in Vault, by path below the mount.
	platform := map[string]vault.Secret{}
	readPlatform := func(path string) (vault.Secret, bool) {
		t.Helper()
		s, ok, err := vc.ReadSecret(ctx, path)
		if err != nil {
			t.Fatalf("vault read secret/%s: %v", path, err)
		}
		return s, ok
	}
	// The registry's users are the keys below its entry: exactly the one shoal generated.
	regDir := name + "/" + vault.PlatformEnv + "/registry"
	list, err := rootVault(t, v).Logical().ListWithContext(ctx, "secret/metadata/"+regDir)
	if err != nil || list == nil {
		t.Fatalf("list secret/%s: %v (nothing listed: %v)", regDir, err, list == nil)
	}
	if users, _ := list.Data["keys"].([]any); len(users) != 1 || users[0] != regUser {
		t.Fatalf("users below secret/%s: %v, want only %s", regDir, users, regUser)
	}
	for _, stack := range []string{"traefik", "portainer", "registry"} {
		user := ""
		if stack == "registry" {
			user = regUser
		}
		path, err := vc.Template().CredentialPath(name, stack, user)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := readPlatform(path)
		if !ok || s.Data[vault.KeyUsername] == "" || len(s.Data[vault.KeyPassword]) < 24 || s.Version != 1 {
			t.Fatalf("vault secret/%s: ok %v, version %d, username %q, password of %d characters", path, ok, s.Version, s.Data[vault.KeyUsername], len(s.Data[vault.KeyPassword]))
		}
		platform[path] = s
	}
	vaultReg := platform[regDir+"/"+regUser]
	if vaultReg.Data[vault.KeyUsername] != regUser || vaultReg.Data[vault.KeyPassword] != regPass {
		t.Fatal("the registry login in Vault is not the one in the stack's registry output")
	}
	// From here on the push uses what CI would read from Vault.
	regUser, regPass = vaultReg.Data[vault.KeyUsername], vaultReg.Data[vault.KeyPassword]

	t.Run("a push to the registry with the generated credentials from Vault works", func(t *testing.T) {
		hc := http.Client{Timeout: 5 * time.Second}
		for _, auth := range []bool{false, true} {
			req, _ := http.NewRequest("GET", "http://"+addr+":5000/v2/", nil)
			if auth {
				req.SetBasicAuth(regUser, regPass)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: 401, true: 200}[auth]; resp.StatusCode != want {
				t.Errorf("GET /v2/ with auth %v: %d, want %d", auth, resp.StatusCode, want)
			}
		}
		if _, err := nodeDocker(ctx, node, regPass, "login", "-u", regUser, "--password-stdin", "127.0.0.1:5000"); err != nil {
			t.Fatal(err)
		}
		ref := "127.0.0.1:5000/shop:dev"
		if _, err := nodeDocker(ctx, node, "", "tag", demoImg, ref); err != nil {
			t.Fatal(err)
		}
		if out, err := nodeDocker(ctx, node, "", "push", ref); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	})

	entries := map[string]vault.Entry{}
	for _, svc := range []string{"web", "worker"} {
		e, ok, err := vc.ReadWebhook(ctx, "shop", "dev", svc)
		if err != nil || !ok || e.Token == "" || !strings.Contains(e.URL, e.Token) {
			t.Fatalf("vault entry secret/shop/dev/%s: ok %v, err %v, token set %v", svc, ok, err, e.Token != "")
		}
		entries[svc] = e
	}

	t.Run("the token in Vault force-updates exactly its service", func(t *testing.T) {
		pc := portainer.New("http://" + addr + ":9000")
		if err := pc.TriggerWebhook(ctx, portainer.Secret(entries["web"].URL), ""); err != nil {
			t.Fatal(err)
		}
		after := services()
		for s, ver := range before {
			switch {
			case s == "shop-dev_web" && after[s] <= ver:
				t.Errorf("%s: version %d -> %d, want it to grow", s, ver, after[s])
			case s != "shop-dev_web" && after[s] != ver:
				t.Errorf("%s: version %d -> %d, want it unchanged", s, ver, after[s])
			}
		}
	})

	t.Run("a second up changes nothing and writes no Vault version", func(t *testing.T) {
		if r := up(); !r.noChanges() {
			t.Errorf("second up changed resources: %v", r.Changes)
		}
		for svc, was := range entries {
			e, ok, err := vc.ReadWebhook(ctx, "shop", "dev", svc)
			if err != nil || !ok || e.Version != was.Version || e.Token != was.Token {
				t.Errorf("vault entry %s: version %d -> %d (ok %v, err %v), same token %v", svc, was.Version, e.Version, ok, err, e.Token == was.Token)
			}
		}
		for path, was := range platform {
			s, ok := readPlatform(path)
			if !ok || s.Version != was.Version || s.Data[vault.KeyPassword] != was.Data[vault.KeyPassword] {
				t.Errorf("vault secret/%s: version %d -> %d (ok %v), same password %v", path, was.Version, s.Version, ok, s.Data[vault.KeyPassword] == was.Data[vault.KeyPassword])
			}
		}
	})

	t.Run("the state holds no secret in plain text", func(t *testing.T) {
		state, err := os.ReadFile(filepath.Join(c.home, "pulumi", "state", ".pulumi", "stacks", "shoal", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		plain := map[string]string{
			"registry password": regPass, "vault token": v.RootToken, "private key": "PRIVATE KEY",
			"web webhook token": entries["web"].Token, "worker webhook token": entries["worker"].Token,
		}
		for path, sec := range platform {
			plain["password at secret/"+path] = sec.Data[vault.KeyPassword]
		}
		for what, s := range plain {
			if bytes.Contains(state, []byte(s)) {
				t.Errorf("Pulumi state holds the %s in plain text", what)
			}
		}
		// Generated credentials of every stack and the admin password are
		// secret objects in the state.
		var doc struct {
			Checkpoint struct {
				Latest struct {
					Resources []struct {
						Type    string
						Outputs map[string]json.RawMessage
					}
				}
			}
		}
		if err := json.Unmarshal(state, &doc); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, res := range doc.Checkpoint.Latest.Resources {
			for _, field := range map[string][]string{infra.StackType: {"credentials", "vault", "sshPrivateKey"}, infra.WebhooksType: {"adminPassword", "vault", "webhooks"}}[res.Type] {
				raw, ok := res.Outputs[field]
				if !ok && res.Type == infra.StackType && (field == "credentials" || field == "vault") {
					continue // a user's stack has none
				}
				checked++
				if !bytes.Contains(raw, []byte("ciphertext")) {
					t.Errorf("%s output %s is not a secret in the state: %.60s", res.Type, field, raw)
				}
			}
		}
		if checked != 13 { // 4 stacks' keys, 3 shipped stacks' credentials and Vault inputs, 1 webhooks x 3
			t.Errorf("checked %d secret outputs, want 13", checked)
		}
	})

	t.Run("a service removed from the app loses its webhook and its Vault entry", func(t *testing.T) {
		i := strings.Index(string(app), "  worker:")
		j := strings.Index(string(app), "\nnetworks:")
		if i < 0 || j < i {
			t.Fatal("examples/app/stack.yml changed shape: update this test")
		}
		write("app.yml", string(app[:i])+string(app[j+1:]))
		if r := up(); r.Changes["update"] == 0 {
			t.Errorf("up after removing worker: %v", r.Changes)
		}
		if _, ok := services()["shop-dev_worker"]; ok {
			t.Error("shop-dev_worker still runs")
		}
		if _, ok, err := vc.ReadWebhook(ctx, "shop", "dev", "worker"); ok || err != nil {
			t.Errorf("vault entry of worker: ok %v, err %v; want it gone", ok, err)
		}
		if e, ok, _ := vc.ReadWebhook(ctx, "shop", "dev", "web"); !ok || e.Version != entries["web"].Version {
			t.Errorf("vault entry of web: ok %v, version %d -> %d", ok, entries["web"].Version, e.Version)
		}
		pc := portainer.New("http://" + addr + ":9000")
		err := pc.TriggerWebhook(ctx, portainer.Secret(entries["worker"].URL), "")
		if !portainer.IsStatus(err, http.StatusNotFound) {
			t.Errorf("trigger of the removed worker's webhook: %v, want Portainer's 404", err)
		}
	})

	t.Run("shoal up printed no secret", func(t *testing.T) {
		printed := map[string]string{
			"registry password": regPass, "vault token": v.RootToken,
			"web webhook token": entries["web"].Token, "worker webhook token": entries["worker"].Token,
		}
		for path, sec := range platform {
			printed["password at secret/"+path] = sec.Data[vault.KeyPassword]
		}
		for what, s := range printed {
			if strings.Contains(logs.String(), s) {
				t.Errorf("shoal up printed the %s", what)
			}
		}
	})

	c.must("destroy", "--stack", name, "--dir", dir, "--yes")
	if e, ok, err := vc.ReadWebhook(ctx, "shop", "dev", "web"); ok || err != nil {
		t.Errorf("after destroy: vault entry of web ok %v (version %d), err %v", ok, e.Version, err)
	}
	for path := range platform {
		if _, ok := readPlatform(path); ok {
			t.Errorf("after destroy: vault secret/%s is still there", path)
		}
	}
	t.Logf("done after %s", time.Since(start).Round(time.Second))
}
