package main

// The lab tests of shoal deploy, rollback and releases: one lab shared by
// all of them (one manager with the shipped registry stack behind a login,
// a second registry without one, a real Vault, the Portainer emulator in
// front of the swarm, a notification receiver), run through the CLI.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/portainer/portainertest"
	"github.com/shoalops/shoal/stacks/registry"
	"github.com/shoalops/shoal/stacks/release"
	"github.com/shoalops/shoal/stacks/stacktest"
	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

const (
	privateReg = "127.0.0.1:5000" // the shipped registry stack, with a login (the nodes' name for it)
	publicReg  = "127.0.0.1:5001" // a registry without one (for the webhook path: see docs/decisions/0011)
)

// deployLab is the shared lab.
type deployLab struct {
	t         testing.TB
	s         *stacktest.Swarm
	home      string // SHOAL_HOME of the CLI runs
	inv       string // inventory file
	vault     *vaulttest.Server
	addr      string // the manager's address, reachable from here
	portainer *portainertest.Server
	digests   map[string]string // "web:v1" -> digest on the private registry; "ci/web:dev2" on the public one
	notes     chan string       // notification bodies
	notifyURL string
	ciToken   string
	login     stacks.Credential
}

const appCompose = `version: "3.8"
services:
  web:
    image: ${REG}/shop/web:${TAG}
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      update_config: {monitor: 1s}
  worker:
    image: ${REG}/shop/worker:${TAG}
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      update_config: {monitor: 1s}
`

const publicRegistryCompose = `version: "3.8"
services:
  registry:
    image: ${IMAGE}
    command: ["serve", "/etc/distribution/config.yml"]
    configs:
      - {source: config, target: /etc/distribution/config.yml}
    ports:
      - {target: 5000, published: 5001, protocol: tcp, mode: host}
    deploy:
      endpoint_mode: dnsrr
configs:
  config:
    file: ./config.yml
`

const publicRegistryConfig = `version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: ":5000"
`

func newDeployLab(t testing.TB) *deployLab {
	t.Helper()
	l := newSwarmLab(t)
	l.vault = vaulttest.Start(t)
	l.withVault(t)
	return l
}

// newSwarmLab is the lab without Vault and Portainer: the swarm, both
// registries with the app's images, and the two app stacks.
func newSwarmLab(t testing.TB) *deployLab {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs Docker Engine (skipped with -short)")
	}
	if d, err := localDocker(); err != nil {
		t.Fatalf("lab test needs the local Docker Engine (scripts/ensure-engine.sh): %v", err)
	} else {
		d.Close()
	}
	start := time.Now()
	l := &deployLab{t: t, digests: map[string]string{}, notes: make(chan string, 32)}
	l.s = stacktest.Start(t, 1, 0)
	l.addr = l.s.Address("m1")
	// The CLI: its own home, the lab's inventory, Vault from the environment.
	l.home = t.TempDir()
	inv := *l.s.Inv
	inv.Cluster.AllowSingleHosterQuorum = true // a one-manager lab
	b, err := yaml.Marshal(&inv)
	if err != nil {
		t.Fatal(err)
	}
	l.inv = filepath.Join(l.home, "inventory.yaml")
	if err := os.WriteFile(l.inv, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	d := l.s.Docker

	// Images: the registry, and the app in three versions.
	var imgs []string
	for _, ensure := range []func(context.Context) (string, error){
		images.EnsureRegistry,
		func(ctx context.Context) (string, error) { return images.EnsureApp(ctx, "v1") },
		func(ctx context.Context) (string, error) { return images.EnsureApp(ctx, "v2") },
		func(ctx context.Context) (string, error) { return images.EnsureApp(ctx, "crash") },
	} {
		img, err := ensure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	l.s.Load(t, imgs...)
	registryImg, v1, v2, crash := imgs[0], imgs[1], imgs[2], imgs[3]

	// The shipped registry stack (with its generated login) and an open one.
	if _, err := d.NetworkCreate(ctx, "traefik-public", client.NetworkCreateOptions{Driver: "overlay", Attachable: true}); err != nil {
		t.Fatal(err)
	}
	opts := deploy.Options{ResolveImage: deploy.ResolveNever, Poll: 300 * time.Millisecond, Timeout: 2 * time.Minute,
		Overlay: deploy.Overlay{Unencrypted: true}}
	reg, err := stacks.Registry(stacks.Config{Domain: "lab.test", ACMEEmail: "ops@lab.test", RegistryNode: "m1", PortainerNode: "m1",
		EndpointMode: "dnsrr", Images: stacks.Images{Registry: registryImg}})
	if err != nil {
		t.Fatal(err)
	}
	reg.Stack.Overrides = [][]byte{[]byte(labOverridePorts)}
	if _, err := deploy.Deploy(ctx, d, reg.Stack, opts); err != nil {
		t.Fatalf("deploy registry: %v", err)
	}
	login := reg.Credentials[0]
	l.login = login
	pub := deploy.Stack{Name: "pubreg", Compose: []byte(publicRegistryCompose), Env: map[string]string{"IMAGE": registryImg},
		Files: fstest.MapFS{"config.yml": {Data: []byte(publicRegistryConfig)}}}
	if _, err := deploy.Deploy(ctx, d, pub, opts); err != nil {
		t.Fatalf("deploy the open registry: %v", err)
	}
	auth := []deploy.RegistryAuth{{Server: privateReg, Username: login.Username, Password: login.Password}}
	push := func(src, ref string) string {
		if _, err := d.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: ref}); err != nil {
			t.Fatal(err)
		}
		enc, err := deploy.EncodedAuth(ref, auth)
		if err != nil {
			t.Fatal(err)
		}
		if enc == "" {
			enc = base64.URLEncoding.EncodeToString([]byte("{}"))
		}
		for attempt := 0; ; attempt++ { // the registries may still be starting
			err = pushImage(ctx, d, ref, enc)
			if err == nil || attempt == 30 {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		ins, err := d.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		repo := ref[:strings.LastIndex(ref, ":")]
		for _, rd := range ins.RepoDigests {
			if strings.HasPrefix(rd, repo+"@") {
				return rd[len(repo)+1:]
			}
		}
		t.Fatalf("no digest of %s after the push: %v", ref, ins.RepoDigests)
		return ""
	}
	for _, p := range []struct{ key, src, ref string }{
		{"web:v1", v1, privateReg + "/shop/web:v1"}, {"web:v2", v2, privateReg + "/shop/web:v2"}, {"web:v3", crash, privateReg + "/shop/web:v3"},
		{"worker:v1", v1, privateReg + "/shop/worker:v1"},
		{"ci/web:dev1", v1, publicReg + "/shop/web:dev"}, {"ci/worker:dev1", v1, publicReg + "/shop/worker:dev"},
	} {
		l.digests[p.key] = push(p.src, p.ref)
	}
	if l.digests["web:v1"] == l.digests["web:v2"] || l.digests["web:v2"] == l.digests["web:v3"] {
		t.Fatalf("the app versions share a digest: %v", l.digests)
	}
	t.Logf("registries and images ready after %s", time.Since(start).Round(time.Second))

	// The app stacks, as shoal deploys them (update defaults, the login
	// with the services, digests pinned).
	appOpts := opts
	appOpts.ResolveImage, appOpts.UpdateDefaults = deploy.ResolveAlways, true
	for _, st := range []deploy.Stack{
		{Name: "shop-dev", Compose: []byte(appCompose), Env: map[string]string{"REG": privateReg, "TAG": "v1"}, RegistryAuth: auth},
		{Name: "cishop-dev", Compose: []byte(appCompose), Env: map[string]string{"REG": publicReg, "TAG": "dev"}},
	} {
		if _, err := deploy.Deploy(ctx, d, st, appOpts); err != nil {
			t.Fatalf("deploy %s: %v", st.Name, err)
		}
	}

	t.Logf("swarm lab ready after %s", time.Since(start).Round(time.Second))
	return l
}

// withVault adds Vault's entries, Portainer and the notification receiver.
func (l *deployLab) withVault(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, login := l.s.Docker, l.login
	// Vault: the registry login where shoal up writes it.
	vc, err := vault.New(ctx, vault.Config{Address: l.vault.Addr, Credentials: vault.Credentials{Token: l.vault.RootToken}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	cluster := l.s.Inv.Cluster.Name
	regPath, _ := vc.Template().CredentialPath(cluster, "registry", login.Username)
	if _, err := vc.WriteSecret(ctx, regPath, map[string]string{vault.KeyUsername: login.Username, vault.KeyPassword: login.Password}); err != nil {
		t.Fatal(err)
	}

	// Portainer (the emulator, driving the lab swarm): admin, environment,
	// one webhook per service of cishop-dev with its token in Vault, and
	// the CI entry with an API key.
	l.portainer = portainertest.New(portainertest.Options{Docker: d})
	t.Cleanup(l.portainer.Close)
	pc := portainer.New(l.portainer.URL())
	pw := portainer.Secret("lab-admin-password-123")
	if _, err := pc.EnsureAdmin(ctx, "admin", pw); err != nil {
		t.Fatal(err)
	}
	admin, err := pc.Login(ctx, "admin", pw)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := admin.EnsureEndpoint(ctx, portainer.EndpointSpec{Name: "local"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := admin.EnsureWebhooks(ctx, env.ID, "cishop-dev")
	if err != nil || len(set.Webhooks) != 2 {
		t.Fatalf("webhooks: %v (%d)", err, len(set.Webhooks))
	}
	var hooks []vault.Webhook
	for name, h := range set.Webhooks {
		hooks = append(hooks, vault.Webhook{Service: release.ShortName("cishop-dev", name), Token: h.Token.Reveal(), URL: admin.WebhookURL(h.Token).Reveal()})
	}
	if _, err := vc.Sync(ctx, "cishop", "dev", hooks); err != nil {
		t.Fatal(err)
	}
	// The Portainer CI entry, by shoal ci setup from the admin login in
	// Vault (where shoal up writes it); a second run keeps the key.
	adminPath, _ := vc.Template().CredentialPath(cluster, "portainer", "")
	if _, err := vc.WriteSecret(ctx, adminPath, map[string]string{vault.KeyUsername: "admin", vault.KeyPassword: pw.Reveal()}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{": written", ": unchanged"} {
		code, out, errs := l.run(l.vault.RootToken, "ci", "setup", "--cluster", cluster, "--portainer-url", l.portainer.URL(), "--endpoint", env.Name)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("ci setup run %d: exit %d, want %q\n%s\n%s", i+1, code, want, out, errs)
		}
	}

	// A token with exactly the CI policy `shoal vault policy` prints.
	code, hcl, errs := l.main("vault", "policy", "--project", "cishop", "--env", "dev", "--cluster", cluster, "--registry-user", login.Username)
	if code != 0 {
		t.Fatalf("vault policy: %d %s", code, errs)
	}
	conf := vaultapi.DefaultConfig()
	conf.Address, conf.MaxRetries = l.vault.Addr, 0
	root, err := vaultapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(l.vault.RootToken)
	if err := root.Sys().PutPolicy("shoal-ci-cishop", hcl); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"shoal-ci-cishop"}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	l.ciToken = tok.Auth.ClientToken

	// The notification receiver: Shoutrrr's generic webhook posts here.
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		l.notes <- string(b)
	}))
	t.Cleanup(recv.Close)
	l.notifyURL = "generic://" + strings.TrimPrefix(recv.URL, "http://") + "/hook?disabletls=yes"

}

// labOverridePorts publishes the shipped registry on its node (no Traefik).
const labOverridePorts = `version: "3.8"
services:
  registry:
    ports:
      - {target: 5000, published: 5000, protocol: tcp, mode: host}
`

func pushImage(ctx context.Context, d *client.Client, ref, auth string) error {
	resp, err := d.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return msg.Error
		}
	}
	return nil
}

// run runs shoal with the lab's inventory and Vault; token is the Vault
// token (root unless the CI token is given).
func (l *deployLab) run(token string, args ...string) (int, string, string) {
	l.t.Helper()
	os.Setenv("VAULT_ADDR", l.vault.Addr)
	os.Setenv("VAULT_TOKEN", token)
	defer os.Unsetenv("VAULT_TOKEN")
	defer os.Unsetenv("VAULT_ADDR")
	return l.main(append([]string{"--inventory", l.inv}, args...)...)
}

// main runs the CLI in process with the lab's home.
func (l *deployLab) main(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code := Main(ctx, append([]string{"--home", l.home}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// sshArgs are the flags of a deploy over SSH against the private registry.
func (l *deployLab) sshArgs() []string {
	return []string{"--registry", privateReg, "--registry-endpoint", privateReg + "=http://" + l.addr + ":5000", "--poll", "100ms", "--timeout", "2m"}
}

// tasks returns the tasks of a service that should be running.
func (l *deployLab) tasks(name string) []swarm.Task {
	l.t.Helper()
	r, err := l.s.Docker.TaskList(context.Background(), client.TaskListOptions{Filters: make(client.Filters).Add("service", name).Add("desired-state", "running")})
	if err != nil {
		l.t.Fatal(err)
	}
	return r.Items
}

// onDigest checks that every task of a service that should run does, on digest.
func (l *deployLab) onDigest(t testing.TB, name, digest string, replicas int) {
	t.Helper()
	ts := l.tasks(name)
	if len(ts) != replicas {
		t.Errorf("%s: %d tasks should run, want %d", name, len(ts), replicas)
	}
	for _, tk := range ts {
		if tk.Status.State != swarm.TaskStateRunning || release.Digest(tk.Spec.ContainerSpec.Image) != digest {
			t.Errorf("%s: task %s is %s on %s, want running on %s", name, tk.ID, tk.Status.State, tk.Spec.ContainerSpec.Image, digest)
		}
	}
}

func (l *deployLab) note(t *testing.T, wants ...string) string {
	t.Helper()
	select {
	case n := <-l.notes:
		for _, w := range wants {
			if !strings.Contains(n, w) {
				t.Errorf("notification lacks %q:\n%s", w, n)
			}
		}
		return n
	case <-time.After(10 * time.Second):
		t.Errorf("no notification received")
		return ""
	}
}

func (l *deployLab) version(name string) uint64 {
	r, err := l.s.Docker.ServiceInspect(context.Background(), name, client.ServiceInspectOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return r.Service.Version.Index
}

// TestDeployOnLab: the must-show of shoal deploy, rollback and releases on
// one shared lab, in order (each step starts from where the last left).
func TestDeployOnLab(t *testing.T) {
	start := time.Now()
	l := newDeployLab(t)
	setup := time.Since(start)
	d1, d2, d3 := l.digests["web:v1"], l.digests["web:v2"], l.digests["web:v3"]

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		before := l.version("shop-dev_web")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"deploy", "shop", "--env", "dev", "--service", "db", "--tag", "v2"}, `stack shop-dev has no service "db"`},
			{[]string{"deploy", "shop", "--env", "qa", "--tag", "v2"}, "stack shop-qa has no services"},
			{[]string{"deploy", "shop", "--env", "dev", "--service", "web", "--tag", "nope"}, "registry has no image " + privateReg + "/shop/web:nope"},
		} {
			code, _, errs := l.run(l.vault.RootToken, append(tc.args, l.sshArgs()...)...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Errorf("%v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, errs)
			}
		}
		// A Vault token whose policy is another project's.
		code, _, errs := l.run(l.ciToken, append([]string{"deploy", "shop", "--env", "dev", "--tag", "v2"}, l.sshArgs()...)...)
		if code != exitUsage || !strings.Contains(errs, "shop/dev/.releases") || !strings.Contains(errs, "403") {
			t.Errorf("token without the path: exit %d:\n%s", code, errs)
		}
		// An unreachable Portainer.
		code, _, errs = l.run(l.vault.RootToken, "deploy", "cishop", "--env", "dev", "--via", "portainer", "--cluster", l.s.Inv.Cluster.Name, "--portainer-url", "http://127.0.0.1:9")
		if code != exitFailed || !strings.Contains(errs, "127.0.0.1:9") {
			t.Errorf("unreachable Portainer: exit %d:\n%s", code, errs)
		}
		if after := l.version("shop-dev_web"); after != before {
			t.Errorf("bad input changed the service: version %d -> %d", before, after)
		}
	})

	t.Run("NewTagRunsEverywhereRecordedAndAnnounced", func(t *testing.T) {
		code, out, errs := l.run(l.vault.RootToken, append([]string{"deploy", "shop", "--env", "dev", "--service", "web", "--tag", "v2",
			"--notify", l.notifyURL, "--who", "alice", "-o", "json"}, l.sshArgs()...)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		var rep release.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if rep.Verdict != release.Deployed || len(rep.Services) != 1 || rep.Services[0].OldDigest != d1 || rep.Services[0].NewDigest != d2 {
			t.Fatalf("report: %+v", rep)
		}
		l.onDigest(t, "shop-dev_web", d2, 2)
		l.onDigest(t, "shop-dev_worker", l.digests["worker:v1"], 1) // not selected, not touched
		l.note(t, "shop/dev", "deployed", "web: "+d1+" -> "+d2, "alice")
		code, out, _ = l.run(l.vault.RootToken, "releases", "shop", "--env", "dev", "-o", "json")
		var recs []release.Record
		if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 1 ||
			recs[0].Service != "web" || recs[0].OldDigest != d1 || recs[0].NewDigest != d2 || recs[0].Verdict != release.Deployed || recs[0].Who != "alice" || recs[0].Via != "ssh" {
			t.Errorf("releases: exit %d %s", code, out)
		}
	})

	t.Run("SameTagAgainIsAlreadyRunningAndRestartsNothing", func(t *testing.T) {
		before, ids := l.version("shop-dev_web"), taskIDs(l.tasks("shop-dev_web"))
		code, out, errs := l.run(l.vault.RootToken, append([]string{"deploy", "shop", "--env", "dev", "--service", "web", "--tag", "v2", "--notify", l.notifyURL}, l.sshArgs()...)...)
		if code != 0 || !strings.Contains(out, "already running "+d2) {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		if after := taskIDs(l.tasks("shop-dev_web")); l.version("shop-dev_web") != before || !slices.Equal(after, ids) {
			t.Errorf("tasks restarted: %v -> %v", ids, after)
		}
		l.note(t, "already-running")
	})

	t.Run("AnImageThatExitsAtStartIsRolledBack", func(t *testing.T) {
		code, out, errs := l.run(l.vault.RootToken, append([]string{"deploy", "shop", "--env", "dev", "--service", "web", "--tag", "v3", "--notify", l.notifyURL}, l.sshArgs()...)...)
		if code != exitFailed {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
		}
		for _, want := range []string{"rolled back", "non-zero exit"} {
			if !strings.Contains(errs, want) {
				t.Errorf("message lacks %q:\n%s", want, errs)
			}
		}
		l.onDigest(t, "shop-dev_web", d2, 2)
		l.note(t, "rolled-back", "non-zero exit", d3)
	})

	t.Run("RollbackReturnsToThePreviousDigest", func(t *testing.T) {
		code, out, errs := l.run(l.vault.RootToken, append([]string{"rollback", "shop", "--env", "dev", "--service", "web"}, l.sshArgs()...)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		l.onDigest(t, "shop-dev_web", d1, 2)
		code, out, _ = l.run(l.vault.RootToken, "releases", "shop", "--env", "dev", "--service", "web", "-o", "json")
		var recs []release.Record
		if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 3 || recs[0].Kind != "rollback" || recs[0].NewDigest != d1 || recs[1].Verdict != release.RolledBack {
			t.Errorf("history after the rollback: %s", out)
		}
	})

	t.Run("TheWholeStackThroughWebhooksWithTheCIPolicyOnly", func(t *testing.T) {
		// CI pushed a new build as :dev and as its commit.
		ctx := context.Background()
		v2, err := images.EnsureApp(ctx, "v2")
		if err != nil {
			t.Fatal(err)
		}
		var want string
		for _, svc := range []string{"web", "worker"} {
			for _, tag := range []string{"dev", "c0ffee1"} {
				ref := publicReg + "/shop/" + svc + ":" + tag
				if _, err := l.s.Docker.ImageTag(ctx, client.ImageTagOptions{Source: v2, Target: ref}); err != nil {
					t.Fatal(err)
				}
				if err := pushImage(ctx, l.s.Docker, ref, base64.URLEncoding.EncodeToString([]byte("{}"))); err != nil {
					t.Fatal(err)
				}
			}
			ins, _ := l.s.Docker.ImageInspect(ctx, publicReg+"/shop/"+svc+":c0ffee1")
			for _, rd := range ins.RepoDigests {
				if strings.HasPrefix(rd, publicReg+"/shop/"+svc+"@") {
					want = release.Digest(rd)
				}
			}
		}
		code, out, errs := l.run(l.ciToken, "deploy", "cishop", "--env", "dev", "--tag", "c0ffee1", "--via", "portainer",
			"--cluster", l.s.Inv.Cluster.Name, "--registry-endpoint", publicReg+"=http://"+l.addr+":5001", "--poll", "100ms", "--notify", l.notifyURL)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		l.onDigest(t, "cishop-dev_web", want, 2)
		l.onDigest(t, "cishop-dev_worker", want, 1)
		l.note(t, "cishop/dev", "deployed", "via portainer", "web: ", "worker: ")
		code, out, _ = l.run(l.ciToken, "releases", "cishop", "--env", "dev", "-o", "json")
		var recs []release.Record
		if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 2 || recs[0].Via != "portainer" {
			t.Errorf("releases with the CI token: exit %d %s", code, out)
		}
	})
	t.Logf("lab setup %s, tests %s", setup.Round(time.Second), (time.Since(start) - setup).Round(time.Second))
}

func taskIDs(ts []swarm.Task) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

// BenchmarkDeployVerdictLatency deploys the lab's web service (2 tasks,
// start-first, 1 s monitor) 10 times over SSH through release.Run, the code
// `shoal deploy` runs, alternating two digests, and reports how long after
// the swarm's update completed (UpdateStatus.CompletedAt, engine clock; the
// lab's engines share this host's clock) the verdict came: median and worst.
// Run with -benchtime=1x (it builds its own lab; no Vault needed).
func BenchmarkDeployVerdictLatency(b *testing.B) {
	l := newSwarmLab(b)
	ctx := context.Background()
	res := registry.New(registry.Options{Endpoints: map[string]string{privateReg: "http://" + l.addr + ":5000"},
		Logins: []registry.Login{{Host: privateReg, Username: l.login.Username, Password: l.login.Password}}})
	auths := []deploy.RegistryAuth{{Server: privateReg, Username: l.login.Username, Password: l.login.Password}}
	es := &release.EngineSwarm{Docker: l.s.Docker, Auth: func(image string) (string, error) { return deploy.EncodedAuth(image, auths) }}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < 10; i++ {
		req := release.Request{Project: "shop", Env: "dev", Services: []string{"web"}, Tag: []string{"v2", "v1"}[i%2]}
		changes, svcs, err := release.Plan(ctx, es, res, req)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := release.Run(ctx, es, es, "deploy", req, changes, svcs, release.Options{Timeout: 2 * time.Minute})
		if err != nil || rep.Verdict != release.Deployed || rep.Services[0].UpdateCompletedAt.IsZero() {
			b.Fatalf("deploy %s: %v %+v", req.Tag, err, rep)
		}
		lat = append(lat, rep.Services[0].VerdictAt.Sub(rep.Services[0].UpdateCompletedAt))
	}
	b.StopTimer()
	slices.Sort(lat)
	med := (lat[len(lat)/2-1] + lat[len(lat)/2]) / 2
	b.ReportMetric(float64(med.Milliseconds()), "ms-median")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "ms-worst")
	b.Logf("verdict latency over %d deploys (default poll 250ms): %v", len(lat), lat)
}
