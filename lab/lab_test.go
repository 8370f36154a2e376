package lab

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

func TestPlanNodes(t *testing.T) {
	hosters := []string{"hoster-a", "hoster-b", "hoster-c"}
	type want struct{ name, role, hoster string }
	for _, tc := range []struct {
		name  string
		opts  Options
		nodes []want
	}{
		{
			name: "three managers land on three hosters",
			opts: Options{Name: "x", Managers: 3, Hosters: hosters},
			nodes: []want{
				{"m1", "manager", "hoster-a"}, {"m2", "manager", "hoster-b"}, {"m3", "manager", "hoster-c"},
			},
		},
		{
			name: "workers start again at the first hoster",
			opts: Options{Name: "x", Managers: 2, Workers: 2, Hosters: hosters},
			nodes: []want{
				{"m1", "manager", "hoster-a"}, {"m2", "manager", "hoster-b"},
				{"w1", "worker", "hoster-a"}, {"w2", "worker", "hoster-b"},
			},
		},
		{
			name: "more managers than hosters wrap around",
			opts: Options{Name: "x", Managers: 4, Hosters: []string{"h1", "h2"}},
			nodes: []want{
				{"m1", "manager", "h1"}, {"m2", "manager", "h2"}, {"m3", "manager", "h1"}, {"m4", "manager", "h2"},
			},
		},
		{
			name:  "workers only",
			opts:  Options{Name: "x", Workers: 1, Hosters: hosters},
			nodes: []want{{"w1", "worker", "hoster-a"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planNodes(tc.opts)
			if len(got) != len(tc.nodes) {
				t.Fatalf("got %d nodes, want %d: %+v", len(got), len(tc.nodes), got)
			}
			for i, w := range tc.nodes {
				n := got[i]
				if n.Name != w.name || string(n.Role) != w.role || n.Hoster != w.hoster {
					t.Errorf("node %d: got %s %s %s, want %s %s %s", i, n.Name, n.Role, n.Hoster, w.name, w.role, w.hoster)
				}
				if n.Region != w.hoster+"-1" {
					t.Errorf("node %s: region %q, want %q", n.Name, n.Region, w.hoster+"-1")
				}
				if n.Container != "shoal-x-"+w.name {
					t.Errorf("node %s: container %q, want shoal-x-%s", n.Name, n.Container, w.name)
				}
			}
		})
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	t.Run("an empty name becomes lab, with three hosters, the docker variant and a dir under home", func(t *testing.T) {
		o, err := Options{Managers: 1}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		home, _ := os.UserHomeDir()
		if o.Name != "lab" || !slices.Equal(o.Hosters, DefaultHosters) || o.Variant != VariantDocker ||
			o.Dir != filepath.Join(home, ".shoal", "lab", "lab") || o.Parallel != 4 || o.Wait.Timeout != 3*time.Minute {
			t.Errorf("defaults: %+v", o)
		}
	})
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no nodes is refused", Options{Name: "x"}, "at least one node"},
		{"negative counts are refused", Options{Name: "x", Managers: 2, Workers: -1}, "at least one node"},
		{"upper case names are refused", Options{Name: "Lab", Managers: 1}, "lower-case"},
		{"names with slashes are refused", Options{Name: "a/b", Managers: 1}, "lower-case"},
		{"a hoster listed twice is refused", Options{Name: "x", Managers: 1, Hosters: []string{"a", "a"}}, "twice"},
		{"hoster names with spaces are refused", Options{Name: "x", Managers: 1, Hosters: []string{"a b"}}, "hoster name"},
		{"unknown variants are refused", Options{Name: "x", Managers: 1, Variant: "alpine"}, "unknown variant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.opts.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestContainerSpecUsesTheFlagsThatWorkWithoutPrivileged(t *testing.T) {
	o, _ := Options{Name: "x", Managers: 1, Dir: "/state"}.withDefaults()
	n := planNodes(o)[0]
	spec := containerSpec(nodeConfig{lab: o.Name, dir: o.Dir, variant: o.Variant, image: "img"}, n)
	hc := spec.HostConfig
	if hc.Privileged {
		t.Error("privileged: fails in this sandbox")
	}
	if !slices.Equal(hc.CapAdd, []string{"ALL"}) || !slices.Equal(hc.CapDrop, []string{"SYS_RESOURCE"}) {
		t.Errorf("caps: add %v drop %v", hc.CapAdd, hc.CapDrop)
	}
	if !slices.Equal(hc.SecurityOpt, []string{"seccomp=unconfined", "apparmor=unconfined"}) {
		t.Errorf("security opts %v", hc.SecurityOpt)
	}
	if hc.MaskedPaths == nil || len(hc.MaskedPaths) != 0 || hc.ReadonlyPaths == nil || len(hc.ReadonlyPaths) != 0 {
		t.Errorf("systempaths=unconfined needs empty, non-nil lists: masked %#v readonly %#v", hc.MaskedPaths, hc.ReadonlyPaths)
	}
	if _, ok := hc.Tmpfs["/run"]; !ok {
		t.Errorf("tmpfs %v lacks /run", hc.Tmpfs)
	}
	if _, ok := hc.Tmpfs["/var/run"]; !ok {
		t.Errorf("tmpfs %v lacks /var/run", hc.Tmpfs)
	}
	if !slices.Equal(hc.Binds, []string{"/sys/fs/cgroup:/sys/fs/cgroup:rw"}) {
		t.Errorf("binds %v", hc.Binds)
	}
	if len(hc.Mounts) != 0 {
		t.Errorf("mounts %v without an engine socket", hc.Mounts)
	}
	withEngine := containerSpec(nodeConfig{lab: o.Name, dir: o.Dir, variant: o.Variant, image: "img", engine: "/var/run/docker.sock"}, n).HostConfig.Mounts
	if len(withEngine) != 1 || withEngine[0].Source != "/var/run/docker.sock" || withEngine[0].Target != EngineSocketInNode || withEngine[0].Type != "bind" {
		t.Errorf("engine mount %+v", withEngine)
	}
	wantLabels := map[string]string{
		"shoal.lab": "x", "shoal.lab.node": "m1", "shoal.lab.role": "manager", "shoal.lab.hoster": "hoster-a",
		"shoal.lab.dir": "/state", "shoal.lab.variant": "docker", "shoal.lab.region": "hoster-a-1",
	}
	for k, v := range wantLabels {
		if spec.Config.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, spec.Config.Labels[k], v)
		}
	}
	if spec.Config.Hostname != "m1" || spec.Name != "shoal-x-m1" || string(hc.NetworkMode) != "shoal-lab-x" {
		t.Errorf("hostname %q name %q network %q", spec.Config.Hostname, spec.Name, hc.NetworkMode)
	}
}

func TestUpDownLifecycle(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	l := newLab(t, docker, Options{Managers: 2, Workers: 1})

	t.Run("containers run with the lab's labels", func(t *testing.T) {
		cs, err := docker.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", LabelLab+"="+l.Name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Items) != 3 {
			t.Fatalf("%d running containers, want 3", len(cs.Items))
		}
		want := map[string][3]string{"m1": {"manager", "hoster-a"}, "m2": {"manager", "hoster-b"}, "w1": {"worker", "hoster-a"}}
		for _, c := range cs.Items {
			node := c.Labels[LabelNode]
			w, ok := want[node]
			if !ok {
				t.Errorf("unexpected node label %q", node)
				continue
			}
			if c.Labels[LabelRole] != w[0] || c.Labels[LabelHoster] != w[1] {
				t.Errorf("%s: role %q hoster %q, want %v", node, c.Labels[LabelRole], c.Labels[LabelHoster], w)
			}
			if c.Names[0] != "/shoal-"+l.Name+"-"+node {
				t.Errorf("%s: container name %q", node, c.Names[0])
			}
		}
		for _, n := range l.Nodes {
			if net.ParseIP(n.Address) == nil || n.HostKey == "" || n.Region != n.Hoster+"-1" {
				t.Errorf("node %+v: want an address, a host key and a region", n)
			}
		}
		if st, err := os.Stat(l.KeyPath); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("key %s: %v %v, want mode 0600", l.KeyPath, st, err)
		}
	})

	t.Run("sshd lets root in with the lab key and docker works inside", func(t *testing.T) {
		for _, n := range l.Nodes {
			c := dialNode(t, l, n)
			out, err := run(c, "hostname && docker info --format '{{.ServerVersion}} {{.Driver}}'")
			if err != nil {
				t.Fatalf("%s: %v: %s", n.Name, err, out)
			}
			if !strings.HasPrefix(out, n.Name+"\n") || !strings.Contains(out, " vfs") {
				t.Errorf("%s: got %q, want hostname and a vfs docker", n.Name, out)
			}
		}
	})

	t.Run("the Docker API answers through an SSH tunnel to the socket", func(t *testing.T) {
		c := dialNode(t, l, l.Nodes[0])
		remote, err := client.New(client.WithHost("http://docker"), client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.DialContext(ctx, "unix", "/var/run/docker.sock")
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer remote.Close()
		v, err := remote.ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v.Version, "20.10") {
			t.Errorf("inner engine %q, want Debian's 20.10", v.Version)
		}
	})

	t.Run("a wrong host key is refused", func(t *testing.T) {
		cfg, err := l.ClientConfig(l.Nodes[1]) // pins m2's key
		if err != nil {
			t.Fatal(err)
		}
		_, err = ssh.Dial("tcp", net.JoinHostPort(l.Nodes[0].Address, "22"), cfg)
		if err == nil {
			t.Error("m1 accepted with m2's host key: host keys are shared between nodes")
		}
	})

	t.Run("Find and List see the lab", func(t *testing.T) {
		names, err := List(ctx, docker)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, l.Name) {
			t.Errorf("List %v lacks %s", names, l.Name)
		}
		found, ok, err := Find(ctx, docker, l.Name)
		if err != nil || !ok {
			t.Fatalf("Find: %v %v", ok, err)
		}
		if found.Dir != l.Dir || found.KeyPath != l.KeyPath || found.Network != l.Network || found.Variant != l.Variant || found.Image != l.Image {
			t.Errorf("Find: %+v\nUp:   %+v", found, l)
		}
		if !slices.Equal(found.Nodes, l.Nodes) {
			t.Errorf("Find nodes:\n%+v\nUp nodes:\n%+v", found.Nodes, l.Nodes)
		}
	})

	t.Run("Up again replaces stale containers, also exited ones", func(t *testing.T) {
		if err := KillNode(ctx, docker, l, "w1"); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		// With Image given, Up builds or looks up no image.
		again, err := Up(ctx, docker, Options{Name: l.Name, Dir: l.Dir, Managers: 2, Workers: 1, Image: l.Image}, &out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if strings.Contains(out.String(), "[image") {
			t.Errorf("Up with Image looked at images:\n%s", out.String())
		}
		for _, want := range []string{
			"removed stale container shoal-" + l.Name + "-w1 (exited)",
			"removed stale container shoal-" + l.Name + "-m1 (running)",
			"removed stale network shoal-lab-" + l.Name,
			"using SSH key",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("Up output lacks %q:\n%s", want, out.String())
			}
		}
		if again.Nodes[0].HostKey == l.Nodes[0].HostKey {
			t.Error("a new m1 kept the old host key")
		}
		dialNode(t, again, again.Nodes[2])
		*l = *again
	})

	t.Run("Down removes everything, and again finds nothing", func(t *testing.T) {
		var out strings.Builder
		if err := Down(ctx, docker, l.Name, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "removed 4 objects") {
			t.Errorf("Down said:\n%s", out.String())
		}
		cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelLab+"="+l.Name)})
		if err != nil || len(cs.Items) != 0 {
			t.Errorf("after Down: %d containers, %v", len(cs.Items), err)
		}
		if _, ok, err := Find(ctx, docker, l.Name); ok || err != nil {
			t.Errorf("Find after Down: %v %v", ok, err)
		}
		out.Reset()
		if err := Down(ctx, docker, l.Name, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "nothing to remove") {
			t.Errorf("second Down said:\n%s", out.String())
		}
	})
}

func TestFreshVariantHasNoDockerButApt(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	l := newLab(t, docker, Options{Managers: 1, Variant: VariantFresh})
	c := dialNode(t, l, l.Nodes[0])
	if out, err := run(c, "command -v dockerd"); err == nil {
		t.Errorf("dockerd found on a fresh VPS: %s", out)
	}
	if out, err := run(c, "timeout 120 apt-get update -q"); err != nil {
		t.Errorf("apt-get update: %v\n%s", err, out)
	}
	if out, err := run(c, "apt-cache policy docker.io | grep Candidate"); err != nil || strings.Contains(out, "(none)") {
		t.Errorf("docker.io not installable: %v %s", err, out)
	}
}

func TestUpRefusesANameTakenByAnotherLab(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	image, err := EnsureImage(ctx, docker, VariantFresh, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	name := testLabName(t)
	other := name + "-other"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		Down(ctx, docker, other, testWriter(t))
		Down(ctx, docker, name, testWriter(t))
	})
	// A container of lab <name>-other that happens to bear the name Up wants for m1.
	if _, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   ContainerName(name, "m1"),
		Config: &container.Config{Image: image, Labels: map[string]string{LabelLab: other}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = Up(ctx, docker, Options{Name: name, Managers: 1, Dir: t.TempDir(), Image: image}, testWriter(t))
	if err == nil || !strings.Contains(err.Error(), "is taken by container") {
		t.Fatalf("Up: %v, want a refusal naming the container", err)
	}
	if _, ok, err := Find(ctx, docker, name); ok || err != nil {
		t.Errorf("Up left objects behind after refusing: %v %v", ok, err)
	}
	if _, ok, _ := Find(ctx, docker, other); !ok {
		t.Error("Up removed the other lab's container")
	}
}

func TestEngineSocketIsWhereTheOuterEngineListens(t *testing.T) {
	for _, c := range []struct{ name, dockerHost, override, want string }{
		{"no DOCKER_HOST is the default socket", "", "", "/var/run/docker.sock"},
		{"a unix DOCKER_HOST is its path", "unix:///run/user/0/docker.sock", "", "/run/user/0/docker.sock"},
		{"an engine over TCP has no socket to mount", "tcp://10.0.0.1:2375", "", ""},
		{"heal on a lab node is told the outer path", "unix:///shoal-lab/docker.sock", "/var/run/docker.sock", "/var/run/docker.sock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", c.dockerHost)
			t.Setenv(EnvEngineSocket, c.override)
			if got := EngineSocket(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
