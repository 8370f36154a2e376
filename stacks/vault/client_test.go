package vault_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/shoalops/shoal/stacks/vault"
	"github.com/shoalops/shoal/stacks/vault/vaulttest"
)

// rootAPI is a plain api client with the dev server's root token, to set up
// and to check what the package under test did, independently of it.
func rootAPI(t *testing.T, srv *vaulttest.Server) *vaultapi.Client {
	t.Helper()
	conf := vaultapi.DefaultConfig()
	conf.Address = srv.Addr
	conf.MaxRetries = 0
	c, err := vaultapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(srv.RootToken)
	return c
}

func newClient(t *testing.T, srv *vaulttest.Server, cr vault.Credentials) *vault.Client {
	t.Helper()
	c, err := vault.New(context.Background(), vault.Config{Address: srv.Addr, Credentials: cr, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// currentVersion reads the key's metadata with the root token: 0 when the key does not exist.
func currentVersion(t *testing.T, root *vaultapi.Client, path string) int {
	t.Helper()
	md, err := root.KVv2("secret").GetMetadata(context.Background(), path)
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("metadata of %s: %v", path, err)
	}
	return md.CurrentVersion
}

func TestWriteWebhookWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	c := newClient(t, srv, vault.Credentials{Token: srv.RootToken})
	const url = "https://portainer.acme.example/api/webhooks/"

	steps := []struct {
		name        string
		token       string
		wantWritten bool
		wantVersion int
	}{
		{name: "the first write creates version 1", token: "tok-1", wantWritten: true, wantVersion: 1},
		{name: "an identical second write creates no version 2", token: "tok-1", wantWritten: false, wantVersion: 1},
		{name: "a changed token creates version 2", token: "tok-2", wantWritten: true, wantVersion: 2},
		{name: "the same changed token again writes nothing", token: "tok-2", wantWritten: false, wantVersion: 2},
	}
	for _, st := range steps {
		res, err := c.WriteWebhook(ctx, "acme", "dev", "web", st.token, url+st.token)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Written != st.wantWritten || res.Version != st.wantVersion || res.Path != "acme/dev/web" {
			t.Fatalf("%s: got %+v", st.name, res)
		}
		if got := currentVersion(t, root, "acme/dev/web"); got != st.wantVersion {
			t.Fatalf("%s: vault's current_version is %d, want %d", st.name, got, st.wantVersion)
		}
	}

	// What CI reads, with the plain api client: the documented keys at the documented path.
	s, err := root.KVv2("secret").Get(ctx, "acme/dev/web")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"service_hash": "tok-2", "webhook_url": url + "tok-2"}; !reflect.DeepEqual(s.Data, want) {
		t.Fatalf("vault holds %v, want %v", s.Data, want)
	}

	e, ok, err := c.ReadWebhook(ctx, "acme", "dev", "web")
	if err != nil || !ok || e.Token != "tok-2" || e.URL != url+"tok-2" || e.Version != 2 {
		t.Fatalf("ReadWebhook = %v, %v, %v", e, ok, err)
	}

	if err := c.DeleteService(ctx, "acme", "dev", "web"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.ReadWebhook(ctx, "acme", "dev", "web"); ok || err != nil {
		t.Fatalf("after delete: ok=%v err=%v, want not found", ok, err)
	}
	if got := currentVersion(t, root, "acme/dev/web"); got != 0 {
		t.Fatalf("after delete the key's metadata still exists (current_version %d)", got)
	}
	if err := c.DeleteService(ctx, "acme", "dev", "web"); err != nil {
		t.Fatalf("deleting a missing entry: %v", err)
	}
	res, err := c.WriteWebhook(ctx, "acme", "dev", "web", "tok-3", url)
	if err != nil || !res.Written || res.Version != 1 {
		t.Fatalf("a write after delete starts again at version 1: %+v, %v", res, err)
	}
}

func TestWriteWebhookKeepsOtherKeysAndRevivesDeletedVersions(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	kv := root.KVv2("secret")
	c := newClient(t, srv, vault.Credentials{Token: srv.RootToken})

	// An operator added a note to the entry: shoal's unchanged keys do not rewrite it, a change keeps it.
	if _, err := kv.Put(ctx, "acme/dev/api", map[string]any{"service_hash": "t", "webhook_url": "u", "note": "by hand"}); err != nil {
		t.Fatal(err)
	}
	if res, err := c.WriteWebhook(ctx, "acme", "dev", "api", "t", "u"); err != nil || res.Written {
		t.Fatalf("equal shoal keys must not write: %+v, %v", res, err)
	}
	if res, err := c.WriteWebhook(ctx, "acme", "dev", "api", "t2", "u"); err != nil || !res.Written || res.Version != 2 {
		t.Fatalf("changed token: %+v, %v", res, err)
	}
	s, err := kv.Get(ctx, "acme/dev/api")
	if err != nil || s.Data["note"] != "by hand" || s.Data["service_hash"] != "t2" {
		t.Fatalf("after update: %v, %v", s, err)
	}

	// Someone soft-deleted the latest version (`vault kv delete`): the check-and-set
	// write must use the deleted version's number and bring the entry back.
	if err := kv.Delete(ctx, "acme/dev/api"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.ReadWebhook(ctx, "acme", "dev", "api"); ok || err != nil {
		t.Fatalf("a soft-deleted entry reads as missing: ok=%v err=%v", ok, err)
	}
	if res, err := c.WriteWebhook(ctx, "acme", "dev", "api", "t2", "u"); err != nil || !res.Written || res.Version != 3 {
		t.Fatalf("write over a soft-deleted version: %+v, %v", res, err)
	}

	// A mount that requires check-and-set on every write still takes shoal's writes.
	if _, err := root.Logical().WriteWithContext(ctx, "secret/config", map[string]any{"cas_required": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "acme/dev/probe", map[string]any{"x": "1"}); err == nil {
		t.Fatal("the mount accepted a write without cas; the check below would prove nothing")
	}
	for want := 1; want <= 2; want++ {
		res, err := c.WriteWebhook(ctx, "acme", "dev", "cas", "t"+strings.Repeat("x", want), "u")
		if err != nil || res.Version != want {
			t.Fatalf("write %d under cas_required: %+v, %v", want, res, err)
		}
	}
}

func TestSyncConvergesAndDeletesRemovedServices(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	kv := root.KVv2("secret")
	c := newClient(t, srv, vault.Credentials{Token: srv.RootToken})

	// Not shoal's: a sub-folder and a key without service_hash in the same folder.
	if _, err := kv.Put(ctx, "acme/dev/extra/deep", map[string]any{"x": "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "acme/dev/notes", map[string]any{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	web := vault.Webhook{Service: "web", Token: "tw", URL: "https://p/api/webhooks/tw"}
	api := vault.Webhook{Service: "api", Token: "ta", URL: "https://p/api/webhooks/ta"}
	worker := vault.Webhook{Service: "worker", Token: "tk", URL: "https://p/api/webhooks/tk"}

	ops := func(chs []vault.Change) []string {
		var out []string
		for _, ch := range chs {
			out = append(out, string(ch.Op)+" "+ch.Service)
		}
		return out
	}
	runs := []struct {
		name    string
		desired []vault.Webhook
		want    []string
	}{
		{name: "the first sync creates every entry", desired: []vault.Webhook{web, api, worker},
			want: []string{"create api", "create web", "create worker"}},
		{name: "a second sync changes nothing", desired: []vault.Webhook{worker, web, api}, want: nil},
		{name: "a removed service loses its entry", desired: []vault.Webhook{web, api},
			want: []string{"delete worker"}},
		{name: "a rotated token is updated", desired: []vault.Webhook{{Service: "web", Token: "tw2", URL: web.URL}, api},
			want: []string{"update web"}},
		{name: "converged again", desired: []vault.Webhook{{Service: "web", Token: "tw2", URL: web.URL}, api}, want: nil},
	}
	for _, r := range runs {
		before := map[string]int{}
		for _, s := range []string{"web", "api", "worker"} {
			before[s] = currentVersion(t, root, "acme/dev/"+s)
		}
		got, err := c.Sync(ctx, "acme", "dev", r.desired)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if !reflect.DeepEqual(ops(got), r.want) {
			t.Fatalf("%s: changes %v, want %v", r.name, ops(got), r.want)
		}
		if r.want == nil {
			for s, v := range before {
				if now := currentVersion(t, root, "acme/dev/"+s); now != v {
					t.Fatalf("%s: %s went from version %d to %d", r.name, s, v, now)
				}
			}
		}
	}
	if v := currentVersion(t, root, "acme/dev/worker"); v != 0 {
		t.Fatalf("worker's metadata survived its deletion (version %d)", v)
	}
	if v := currentVersion(t, root, "acme/dev/web"); v != 2 {
		t.Fatalf("web is at version %d, want 2", v)
	}
	for _, p := range []string{"acme/dev/extra/deep", "acme/dev/notes"} {
		if currentVersion(t, root, p) != 1 {
			t.Fatalf("sync touched %s, which is not shoal's", p)
		}
	}
	entries, err := c.List(ctx, "acme", "dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Service)
	}
	if !reflect.DeepEqual(names, []string{"api", "web"}) {
		t.Fatalf("List = %v", names)
	}
	if got, err := c.List(ctx, "acme", "prod"); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty folder = %v, %v", got, err)
	}
	if _, err := c.Sync(ctx, "acme", "dev", []vault.Webhook{web, web}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("a duplicate service must be refused, got %v", err)
	}
}

// setupAppRole enables AppRole, loads the CI policy shoal generates and
// returns role_id and secret_id of a role bound to it.
func setupAppRole(t *testing.T, root *vaultapi.Client, policy string) (roleID, secretID string) {
	t.Helper()
	ctx := context.Background()
	if err := root.Sys().EnableAuthWithOptionsWithContext(ctx, "approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicyWithContext(ctx, "shoal-ci", policy); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "auth/approle/role/shoal-ci", map[string]any{
		"token_policies": []string{"shoal-ci"}, "token_ttl": "20m", "secret_id_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}
	s, err := root.Logical().ReadWithContext(ctx, "auth/approle/role/shoal-ci/role-id")
	if err != nil {
		t.Fatal(err)
	}
	roleID = s.Data["role_id"].(string)
	s, err = root.Logical().WriteWithContext(ctx, "auth/approle/role/shoal-ci/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	return roleID, s.Data["secret_id"].(string)
}

func TestAppRoleLoginWithGeneratedPolicy(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.Start(t)
	root := rootAPI(t, srv)
	admin := newClient(t, srv, vault.Credentials{Token: srv.RootToken})

	policy, err := vault.PolicyHCL("secret", vault.MustTemplate(""), "acme", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	roleID, secretID := setupAppRole(t, root, policy)
	for _, env := range []string{"dev", "prod"} {
		if _, err := admin.WriteWebhook(ctx, "acme", env, "web", "tok-"+env, "https://p/"+env); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.WriteWebhook(ctx, "other", "dev", "web", "tok-other", "https://p/o"); err != nil {
		t.Fatal(err)
	}

	// CI's credentials come from files, as a runner mounts them.
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"VAULT_ROLE_ID_FILE": write("role-id", roleID), "VAULT_SECRET_ID_FILE": write("secret-id", secretID)}
	cr, err := vault.CredentialsFromEnv(func(k string) string { return env[k] }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	ci := newClient(t, srv, cr)

	e, ok, err := ci.ReadWebhook(ctx, "acme", "dev", "web")
	if err != nil || !ok || e.Token != "tok-dev" {
		t.Fatalf("CI reads its allowed path: %v, %v, %v", e, ok, err)
	}
	if l, err := ci.List(ctx, "acme", "dev"); err != nil || len(l) != 1 || l[0].Service != "web" {
		t.Fatalf("CI lists its folder: %v, %v", l, err)
	}

	// What a pipeline runs: the vault CLI with the AppRole's token (from the
	// environment) reads the token at the documented path, and only there.
	login, err := root.Logical().WriteWithContext(ctx, "auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := vaulttest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	cliGet := func(path string) (string, error) {
		cmd := exec.Command(bin, "kv", "get", "-mount=secret", "-field=service_hash", path)
		cmd.Env = []string{"VAULT_ADDR=" + srv.Addr, "VAULT_TOKEN=" + login.Auth.ClientToken, "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cliGet("acme/dev/web"); err != nil || out != "tok-dev" {
		t.Fatalf("vault kv get acme/dev/web as CI: %q, %v", out, err)
	}
	if out, err := cliGet("acme/prod/web"); err == nil || !strings.Contains(out, "permission denied") {
		t.Fatalf("vault kv get acme/prod/web as CI should be denied: %q, %v", out, err)
	}

	secrets := []string{"tok-dev", "tok-prod", "tok-other", "tok-new", roleID, secretID, srv.RootToken}
	denied := []struct {
		name string
		call func() error
		op   string
	}{
		{"a write to an allowed path is denied", func() error {
			_, err := ci.WriteWebhook(ctx, "acme", "dev", "web", "tok-new", "https://p/x")
			return err
		}, "write"},
		{"a read of another environment is denied", func() error {
			_, _, err := ci.ReadWebhook(ctx, "acme", "prod", "web")
			return err
		}, "read"},
		{"a read of another project is denied", func() error {
			_, _, err := ci.ReadWebhook(ctx, "other", "dev", "web")
			return err
		}, "read"},
		{"a delete is denied", func() error { return ci.DeleteService(ctx, "acme", "dev", "web") }, "delete"},
		{"a list of another environment is denied", func() error {
			_, err := ci.List(ctx, "acme", "prod")
			return err
		}, "list"},
	}
	for _, d := range denied {
		t.Run(d.name, func(t *testing.T) {
			err := d.call()
			var ae *vault.APIError
			if !errors.As(err, &ae) || ae.Status != 403 || !ae.Forbidden() || ae.Op != d.op {
				t.Fatalf("want a 403 *APIError for %s, got %#v (%v)", d.op, err, err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
		})
	}
	if got := currentVersion(t, root, "acme/dev/web"); got != 1 {
		t.Fatalf("the denied write changed the entry: version %d", got)
	}

	// Wrong credentials: a typed error without the secret.
	_, err = vault.New(ctx, vault.Config{Address: srv.Addr, MaxRetries: -1,
		Credentials: vault.Credentials{RoleID: roleID, SecretID: "d0d0d0d0-0000-4000-8000-000000000000"}})
	var ae *vault.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Op != "login" || !strings.Contains(err.Error(), "invalid role or secret ID") {
		t.Fatalf("bad secret id: %v", err)
	}
	if strings.Contains(err.Error(), roleID) || strings.Contains(err.Error(), "d0d0d0d0") {
		t.Fatalf("login error shows a credential: %v", err)
	}

	// A bogus token: 403 on the first call, and the token is not in the message.
	bogus := newClient(t, srv, vault.Credentials{Token: "hvs.bogus-token-value"})
	_, _, err = bogus.ReadWebhook(ctx, "acme", "dev", "web")
	if !errors.As(err, &ae) || ae.Status != 403 || strings.Contains(err.Error(), "hvs.bogus-token-value") {
		t.Fatalf("bogus token: %v", err)
	}
}

func TestTransportErrorsNameThePathAndCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := vaulttest.Start(t)
	c := newClient(t, srv, vault.Credentials{Token: srv.RootToken})
	_, err := c.WriteWebhook(ctx, "acme", "dev", "web", "tok-secret", "u")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "secret/data/acme/dev/web") || strings.Contains(err.Error(), "tok-secret") {
		t.Fatalf("cancelled write: %v", err)
	}
}
