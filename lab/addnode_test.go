package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

func TestNodeSpecWithDefaults(t *testing.T) {
	l := Ref("x", "/state")
	t.Run("region and variant default from the hoster and the lab", func(t *testing.T) {
		s, err := NodeSpec{Name: "m1", Role: RoleManager, Hoster: "hoster-a"}.withDefaults(l)
		if err != nil {
			t.Fatal(err)
		}
		if s.Region != "hoster-a-1" || s.Variant != VariantDocker {
			t.Errorf("defaults: %+v", s)
		}
	})
	for _, tc := range []struct {
		name string
		spec NodeSpec
		lab  *Lab
		want string
	}{
		{"an upper-case node name is refused", NodeSpec{Name: "M1", Role: RoleManager, Hoster: "a"}, l, "node name"},
		{"an unknown role is refused", NodeSpec{Name: "m1", Role: "boss", Hoster: "a"}, l, "role"},
		{"a missing hoster is refused", NodeSpec{Name: "m1", Role: RoleWorker}, l, "hoster name"},
		{"an unknown variant is refused", NodeSpec{Name: "m1", Role: RoleWorker, Hoster: "a", Variant: "alpine"}, l, "unknown variant"},
		{"no key and no state directory is refused", NodeSpec{Name: "m1", Role: RoleWorker, Hoster: "a"}, &Lab{Name: "x"}, "no authorized key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.withDefaults(tc.lab)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAddAndRemoveNode(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := testLabName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Down(ctx, docker, name, testWriter(t)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	l := Ref(name, t.TempDir())

	m1, err := AddNode(ctx, docker, l, NodeSpec{Name: "m1", Role: RoleManager, Hoster: "hoster-a"}, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the node answers ssh with the lab's own key and runs docker", func(t *testing.T) {
		if net.ParseIP(m1.Address) == nil || m1.HostKey == "" || m1.Container != "shoal-"+name+"-m1" || m1.Region != "hoster-a-1" {
			t.Fatalf("node %+v: want address, host key, container and region", m1)
		}
		c := dialNode(t, l, m1)
		if out, err := run(c, "docker info --format '{{.ServerVersion}}'"); err != nil {
			t.Fatalf("docker in m1: %v %s", err, out)
		}
	})

	// A key of the caller's own, on a fresh VPS with a region of its own.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	authorized := string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	w1, err := AddNode(ctx, docker, l, NodeSpec{Name: "w1", Role: RoleWorker, Hoster: "hoster-b", Region: "eu-2", Variant: VariantFresh, AuthorizedKey: authorized}, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a node gets the caller's key, its region and its variant", func(t *testing.T) {
		hk, err := w1.HostPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		c, err := ssh.Dial("tcp", net.JoinHostPort(w1.Address, "22"), &ssh.ClientConfig{
			User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.FixedHostKey(hk), HostKeyAlgorithms: []string{hk.Type()}, Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatalf("ssh with the caller's key: %v", err)
		}
		defer c.Close()
		if out, err := run(c, "command -v dockerd || echo none"); err != nil || strings.TrimSpace(out) != "none" {
			t.Errorf("a fresh node has dockerd: %q %v", out, err)
		}
		found, ok, err := Find(ctx, docker, name)
		if err != nil || !ok {
			t.Fatalf("find: %v %v", ok, err)
		}
		if n, _ := found.Node("w1"); n.Region != "eu-2" || n.Role != RoleWorker || n.Address != w1.Address {
			t.Errorf("found %+v", n)
		}
		if len(l.Nodes) != 2 || l.Nodes[0].Name != "m1" || l.Nodes[1].Name != "w1" {
			t.Errorf("lab nodes %+v", l.Nodes)
		}
	})

	t.Run("an exited leftover of the same name is replaced", func(t *testing.T) {
		if err := KillNode(ctx, docker, l, "m1"); err != nil {
			t.Fatal(err)
		}
		again, err := AddNode(ctx, docker, l, NodeSpec{Name: "m1", Role: RoleManager, Hoster: "hoster-a"}, testWriter(t))
		if err != nil {
			t.Fatal(err)
		}
		if again.HostKey == m1.HostKey {
			t.Error("the host key did not change: the old container was not replaced")
		}
		ins, err := docker.ContainerInspect(ctx, again.Container, client.ContainerInspectOptions{})
		if err != nil || !ins.Container.State.Running {
			t.Fatalf("m1 after replacement: %v", err)
		}
		if len(l.Nodes) != 2 {
			t.Errorf("lab nodes %+v, want m1 once", l.Nodes)
		}
	})

	t.Run("a container of that name that is not the lab's is refused", func(t *testing.T) {
		foreign := ContainerName(name, "x1")
		if _, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{Name: foreign, Config: &container.Config{Image: l.Image, Cmd: []string{"true"}}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			docker.ContainerRemove(context.Background(), foreign, client.ContainerRemoveOptions{Force: true})
		})
		_, err := AddNode(ctx, docker, l, NodeSpec{Name: "x1", Role: RoleWorker, Hoster: "hoster-c"}, testWriter(t))
		if err == nil || !strings.Contains(err.Error(), "not part of the lab") {
			t.Errorf("AddNode over a foreign container: %v", err)
		}
		if err := RemoveNode(ctx, docker, l, "x1", testWriter(t)); err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Errorf("RemoveNode of a foreign container: %v", err)
		}
		if _, err := docker.ContainerInspect(ctx, foreign, client.ContainerInspectOptions{}); err != nil {
			t.Errorf("the foreign container is gone: %v", err)
		}
	})

	t.Run("removing nodes keeps the network until the last one goes", func(t *testing.T) {
		if err := RemoveNode(ctx, docker, l, "w1", testWriter(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := docker.ContainerInspect(ctx, w1.Container, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("w1 still there: %v", err)
		}
		if err := RemoveNode(ctx, docker, l, "w1", testWriter(t)); err != nil {
			t.Errorf("removing a removed node: %v", err)
		}
		if _, err := docker.NetworkInspect(ctx, NetworkName(name), client.NetworkInspectOptions{}); err != nil {
			t.Errorf("network gone while m1 is left: %v", err)
		}
		if err := RemoveNode(ctx, docker, l, "m1", testWriter(t)); err != nil {
			t.Fatal(err)
		}
		// The foreign container carries no lab label, so m1 was the last.
		if _, err := docker.NetworkInspect(ctx, NetworkName(name), client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("network still there after the last node: %v", err)
		}
		if len(l.Nodes) != 0 {
			t.Errorf("lab nodes %+v, want none", l.Nodes)
		}
	})
}
