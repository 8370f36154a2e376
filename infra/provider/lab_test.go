package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/ssh"

	"github.com/shoalops/shoal/lab"
)

// Lab tests run the provider in-process (integration.NewServer) against
// the real lab: VPS containers on the local Docker Engine and a real swarm.

func dockerForTest(t *testing.T) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("provider lab tests use the local Docker Engine; skipped under -short")
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { docker.Close() })
	return docker
}

// testLab is a per-test lab name, removed with everything in it at the end.
func testLab(t *testing.T, docker *client.Client) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "p" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := lab.Down(ctx, docker, name, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// keyPair is an SSH key as the Pulumi program holds it: the private key in
// PEM (a secret) and the authorized_keys line.
type keyPair struct {
	signer     ssh.Signer
	pem        string
	authorized string
}

func newKeyPair(t *testing.T) keyPair {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{signer: signer, pem: string(pem.EncodeToMemory(block)), authorized: authorizedKey(signer.PublicKey())}
}

// sshRun runs cmd on addr as root, pinning hostKey.
func sshRun(t *testing.T, addr, hostKey string, signer ssh.Signer, cmd string) string {
	t.Helper()
	hk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(addr, "22"), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hk), HostKeyAlgorithms: []string{hk.Type()}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh root@%s: %v", addr, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s on %s: %v: %s", cmd, addr, err, out)
	}
	return strings.TrimSpace(string(out))
}

func urn(typ, name string) presource.URN {
	return presource.NewURN("test", "shoal", "", tokens.Type(typ), name)
}

func mustMap(t *testing.T, m map[string]any) property.Map {
	t.Helper()
	return toValue(t, m).AsMap()
}

// toValue converts plain Go values (strings, ints, bools, maps, slices) to
// property values, as the engine sends inputs.
func toValue(t *testing.T, v any) property.Value {
	switch v := v.(type) {
	case string:
		return property.New(v)
	case int:
		return property.New(float64(v))
	case bool:
		return property.New(v)
	case map[string]any:
		m := map[string]property.Value{}
		for k, x := range v {
			m[k] = toValue(t, x)
		}
		return property.New(m)
	case []any:
		var a []property.Value
		for _, x := range v {
			a = append(a, toValue(t, x))
		}
		return property.New(a)
	}
	t.Fatalf("no property value for %T", v)
	return property.Value{}
}

func check(t *testing.T, s integration.Server, u presource.URN, olds, news property.Map) property.Map {
	t.Helper()
	resp, err := s.Check(p.CheckRequest{Urn: u, State: olds, Inputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("check failures: %+v", resp.Failures)
	}
	return resp.Inputs
}

func str(m property.Map, key string) string {
	v := m.Get(key)
	if !v.IsString() {
		return ""
	}
	return v.AsString()
}

func TestServerLifecycle(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx := t.Context()
	s := newServer(t)
	name := testLab(t, docker)
	key := newKeyPair(t)
	u := urn("shoal:local:Server", name+"-m1")
	container := lab.ContainerName(name, "m1")

	in := check(t, s, u, property.Map{}, mustMap(t, map[string]any{
		"lab": name, "node": "m1", "hoster": "hoster-a", "role": "manager", "sshPublicKey": key.authorized,
	}))

	t.Run("a preview creates nothing and leaves address and host key unknown", func(t *testing.T) {
		resp, err := s.Create(p.CreateRequest{Urn: u, Properties: in, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Properties.Get("address").IsComputed() || !resp.Properties.Get("hostKey").IsComputed() {
			t.Errorf("preview outputs: %v", resp.Properties)
		}
		if _, err := docker.ContainerInspect(ctx, container, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("preview made container %s: %v", container, err)
		}
	})

	created, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	out := created.Properties
	t.Run("create runs the container with the key, its address and host key", func(t *testing.T) {
		ins, err := docker.ContainerInspect(ctx, container, client.ContainerInspectOptions{})
		if err != nil || !ins.Container.State.Running || ins.Container.ID != created.ID {
			t.Fatalf("container %s: %v (id %s, resource id %s)", container, err, ins.Container.ID, created.ID)
		}
		if net.ParseIP(str(out, "address")) == nil || str(out, "container") != container || str(out, "variant") != "docker" {
			t.Fatalf("outputs %v", out)
		}
		got := sshRun(t, str(out, "address"), str(out, "hostKey"), key.signer, "hostname; docker info --format '{{.Swarm.LocalNodeState}}'")
		if got != "m1\ninactive" {
			t.Errorf("on the node: %q", got)
		}
	})

	t.Run("a new role updates in place and keeps the container", func(t *testing.T) {
		news := check(t, s, u, out, in.Set("role", property.New("worker")))
		diff, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: out, Inputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if !diff.HasChanges || diff.DetailedDiff["role"].Kind != p.Update || len(diff.DetailedDiff) != 1 {
			t.Fatalf("diff %+v", diff)
		}
		for _, dry := range []bool{true, false} {
			resp, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: u, State: out, Inputs: news, OldInputs: in, DryRun: dry})
			if err != nil {
				t.Fatal(err)
			}
			if !dry {
				if str(resp.Properties, "role") != "worker" || str(resp.Properties, "address") != str(out, "address") {
					t.Errorf("after update: %v", resp.Properties)
				}
			}
		}
		ins, err := docker.ContainerInspect(ctx, container, client.ContainerInspectOptions{})
		if err != nil || ins.Container.ID != created.ID || !ins.Container.State.Running {
			t.Errorf("the container changed: %v", err)
		}
	})

	t.Run("a new key replaces the container", func(t *testing.T) {
		news := check(t, s, u, out, in.Set("sshPublicKey", property.New(newKeyPair(t).authorized)))
		diff, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: out, Inputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if diff.DetailedDiff["sshPublicKey"].Kind != p.UpdateReplace || !diff.DeleteBeforeReplace {
			t.Errorf("diff %+v", diff)
		}
	})

	t.Run("refresh reads the running container back", func(t *testing.T) {
		resp, err := s.Read(p.ReadRequest{ID: created.ID, Urn: u, Properties: out, Inputs: in})
		if err != nil {
			t.Fatal(err)
		}
		if resp.ID != created.ID || str(resp.Properties, "hostKey") != str(out, "hostKey") {
			t.Errorf("read %s %v", resp.ID, resp.Properties)
		}
	})

	t.Run("delete removes the container and, as the last, the network; twice is fine", func(t *testing.T) {
		for range 2 {
			if err := s.Delete(p.DeleteRequest{ID: created.ID, Urn: u, Properties: out}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := docker.ContainerInspect(ctx, container, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("container %s still there: %v", container, err)
		}
		if _, err := docker.NetworkInspect(ctx, lab.NetworkName(name), client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("network still there: %v", err)
		}
		resp, err := s.Read(p.ReadRequest{ID: created.ID, Urn: u, Properties: out, Inputs: in})
		if err != nil || resp.ID != "" {
			t.Errorf("read of a deleted server: id %q, %v", resp.ID, err)
		}
	})
}

// labNodes makes the named nodes in parallel with lab.AddNode.
func labNodes(t *testing.T, docker *client.Client, name string, key keyPair, specs ...lab.NodeSpec) map[string]lab.Node {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	nodes := map[string]lab.Node{}
	// One directory for the whole lab: it holds the lab's lock, which
	// serialises the parallel adds' network creation (a directory per
	// add would give each its own lock and the engine several networks
	// of one name).
	l := lab.Ref(name, t.TempDir())
	for _, spec := range specs {
		wg.Go(func() {
			spec.AuthorizedKey = key.authorized
			n, err := lab.AddNode(ctx, docker, lab.Ref(name, l.Dir), spec, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("add %s: %v", spec.Name, err)
			}
			nodes[spec.Name] = n
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return nodes
}

func TestClusterLifecycle(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	s := newServer(t)
	name := testLab(t, docker)
	key := newKeyPair(t)
	nodes := labNodes(t, docker, name, key,
		lab.NodeSpec{Name: "m1", Role: lab.RoleManager, Hoster: "hoster-a"},
		lab.NodeSpec{Name: "m2", Role: lab.RoleManager, Hoster: "hoster-b"},
		lab.NodeSpec{Name: "m3", Role: lab.RoleManager, Hoster: "hoster-c"},
		lab.NodeSpec{Name: "w1", Role: lab.RoleWorker, Hoster: "hoster-a"},
		lab.NodeSpec{Name: "w2", Role: lab.RoleWorker, Hoster: "hoster-b"},
	)
	on := func(node, cmd string) string {
		n := nodes[node]
		return sshRun(t, n.Address, n.HostKey, key.signer, cmd)
	}
	state := func(node string) string { return on(node, "docker info --format '{{.Swarm.LocalNodeState}}'") }
	entry := func(name string, labels map[string]any) map[string]any {
		n := nodes[name]
		e := map[string]any{"name": name, "address": n.Address, "role": string(n.Role), "hoster": n.Hoster, "region": n.Region}
		if labels != nil {
			e["labels"] = labels
		}
		return e
	}
	inputs := func(names ...string) property.Map {
		var list []any
		for _, n := range names {
			var labels map[string]any
			if n == "w1" {
				labels = map[string]any{"tier": "web"}
			}
			e := entry(n, labels)
			if n == "m1" {
				e["hostKey"] = nodes[n].HostKey // pinned; the others are trusted on first use
			}
			list = append(list, e)
		}
		m := mustMap(t, map[string]any{"name": name, "nodes": list})
		return m.Set("sshPrivateKey", property.New(key.pem).WithSecret(true))
	}
	u := urn("shoal:swarm:Cluster", name)

	in := check(t, s, u, property.Map{}, inputs("m1", "m2", "m3"))
	if _, err := s.Create(p.CreateRequest{Urn: u, Properties: in, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if got := state("m1"); got != "inactive" {
		t.Fatalf("a preview touched m1: swarm state %s", got)
	}

	start := time.Now()
	created, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create: %s", time.Since(start).Round(time.Second))
	out := created.Properties
	t.Run("create forms a 3-manager swarm and records ids, keys and secrets", func(t *testing.T) {
		ls := on("m1", "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}' | sort")
		if !regexpMatch(ls, `^m1 (Leader|Reachable)\nm2 (Leader|Reachable)\nm3 (Leader|Reachable)$`) {
			t.Errorf("node list:\n%s", ls)
		}
		if created.ID != name || str(out, "swarmId") == "" {
			t.Errorf("id %q swarm %q", created.ID, str(out, "swarmId"))
		}
		if ids := out.Get("nodeIds").AsMap(); ids.Len() != 3 {
			t.Errorf("node ids %v", ids)
		}
		keys := out.Get("hostKeys").AsMap()
		if keys.Len() != 3 || str(keys, "m1") != nodes["m1"].HostKey {
			t.Errorf("host keys %v", keys)
		}
		if v := out.Get("joinTokens"); !v.Secret() || !strings.HasPrefix(str(v.AsMap(), "worker"), "SWMTKN-") {
			t.Errorf("join tokens: secret %v", v.Secret())
		}
		if !out.Get("sshPrivateKey").Secret() || !out.Get("unlockKey").Secret() {
			t.Error("the key or the unlock key is not secret in the state")
		}
		if got := out.Get("managerAddresses").AsArray().Len(); got != 3 {
			t.Errorf("%d manager addresses", got)
		}
	})

	update := func(t *testing.T, olds, oldIn, news property.Map) property.Map {
		t.Helper()
		diff, err := s.Diff(p.DiffRequest{ID: name, Urn: u, State: olds, Inputs: news, OldInputs: oldIn})
		if err != nil {
			t.Fatal(err)
		}
		for k, d := range diff.DetailedDiff {
			if d.Kind == p.UpdateReplace {
				t.Fatalf("diff replaces the cluster over %s", k)
			}
		}
		if _, err := s.Update(p.UpdateRequest{ID: name, Urn: u, State: olds, Inputs: news, OldInputs: oldIn, DryRun: true}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := s.Update(p.UpdateRequest{ID: name, Urn: u, State: olds, Inputs: news, OldInputs: oldIn})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("update: %s", time.Since(start).Round(time.Second))
		return resp.Properties
	}

	in2 := check(t, s, u, out, inputs("m1", "m2", "m3", "w1", "w2"))
	t.Run("a preview of added workers touches nothing", func(t *testing.T) {
		if _, err := s.Update(p.UpdateRequest{ID: name, Urn: u, State: out, Inputs: in2, OldInputs: in, DryRun: true}); err != nil {
			t.Fatal(err)
		}
		if got := state("w1"); got != "inactive" {
			t.Errorf("w1 after preview: %s", got)
		}
	})
	out2 := update(t, out, in, in2)
	t.Run("added workers join with their labels", func(t *testing.T) {
		ls := on("m1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort")
		if !regexpMatch(ls, `(?m)^w1 Ready\s*$`) || !regexpMatch(ls, `(?m)^w2 Ready\s*$`) {
			t.Errorf("node list:\n%s", ls)
		}
		labels := on("m1", "docker node inspect w1 --format '{{index .Spec.Labels \"tier\"}} {{index .Spec.Labels \"shoal.node\"}} {{index .Spec.Labels \"shoal.hoster\"}}'")
		if labels != "web w1 hoster-a" {
			t.Errorf("w1 labels %q", labels)
		}
		if ids := out2.Get("nodeIds").AsMap(); ids.Len() != 5 || str(ids, "m1") != str(out.Get("nodeIds").AsMap(), "m1") {
			t.Errorf("node ids %v", ids)
		}
	})
	t.Run("a second run with the same nodes changes nothing", func(t *testing.T) {
		again := update(t, out2, in2, in2)
		if !again.Get("nodeIds").Equals(out2.Get("nodeIds")) || str(again, "swarmId") != str(out2, "swarmId") {
			t.Errorf("ids changed: %v -> %v", out2.Get("nodeIds"), again.Get("nodeIds"))
		}
	})

	in3 := check(t, s, u, out2, inputs("m1", "m2", "m3", "w1"))
	out3 := update(t, out2, in2, in3)
	t.Run("a removed worker left the swarm and its entry is gone", func(t *testing.T) {
		if got := state("w2"); got != "inactive" {
			t.Errorf("w2 swarm state %s", got)
		}
		ls := on("m1", "docker node ls --format '{{.Hostname}}' | sort | tr '\\n' ' '")
		if ls != "m1 m2 m3 w1" {
			t.Errorf("node list %q", ls)
		}
		if ids := out3.Get("nodeIds").AsMap(); ids.Len() != 4 || ids.Get("w2").IsString() {
			t.Errorf("node ids %v", ids)
		}
	})

	t.Run("refresh reads roles and ids back", func(t *testing.T) {
		resp, err := s.Read(p.ReadRequest{ID: name, Urn: u, Properties: out3, Inputs: in3})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Properties.Get("nodeIds").Equals(out3.Get("nodeIds")) {
			t.Errorf("ids %v, want %v", resp.Properties.Get("nodeIds"), out3.Get("nodeIds"))
		}
	})

	t.Run("a host key that differs from the recorded one fails the update naming the node", func(t *testing.T) {
		forged := out3.Set("hostKeys", property.New(out3.Get("hostKeys").AsMap().Set("m2", property.New(newKeyPair(t).authorized))))
		_, err := s.Update(p.UpdateRequest{ID: name, Urn: u, State: forged, Inputs: in3, OldInputs: in3})
		t.Logf("the update says: %v", err)
		if err == nil || !strings.Contains(err.Error(), "m2") || strings.Count(err.Error(), "SHA256:") < 2 {
			t.Errorf("update with a changed host key: %v", err)
		}
	})

	t.Run("delete makes every node leave the swarm", func(t *testing.T) {
		if err := s.Delete(p.DeleteRequest{ID: name, Urn: u, Properties: out3}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"m1", "m2", "m3", "w1"} {
			if got := state(n); got != "inactive" {
				t.Errorf("%s swarm state %s after delete", n, got)
			}
		}
	})
}

func regexpMatch(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }
