package main

// Lab tests on servers shoal did not make (lab.VariantForeign): a non-root
// login with passwordless sudo, sshd on 2222, root login refused, Debian's
// docker.io started by /etc/init.d/docker, a container already running.

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// foreignLab creates lab name of foreign nodes under c's SHOAL_HOME.
func foreignLab(t testing.TB, c cli, name string, managers, workers int) *lab.Lab {
	t.Helper()
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, docker, lab.Options{Name: name, Managers: managers, Workers: workers,
		Variant: lab.VariantForeign, Dir: filepath.Join(c.home, "lab", name)}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeInventory writes inv into the lab's directory and returns its path.
func writeInventory(t testing.TB, l *lab.Lab, file string, inv *inventory.Inventory) string {
	t.Helper()
	b, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(l.Dir, file)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// inNode runs script as root inside a node's container (the lab's view,
// not shoal's) and returns its output.
func inNode(t testing.TB, container, script string) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", container, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("docker exec %s: %v\n%s", container, err, out)
	}
	return string(out)
}

// hostSnapshot is everything a run must not change on a host that it
// should leave alone: installed packages, daemon.json, the engine's swarm
// state, the swarm's node labels as this node sees them, the dockerd
// process, the docker group and the start time of every container.
const hostSnapshot = `exec 2>&1
echo "== packages"; dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n'
echo "== daemon.json"; cat /etc/docker/daemon.json
echo "== swarm"; docker info --format '{{.Swarm.LocalNodeState}} node={{.Swarm.NodeID}} manager={{.Swarm.ControlAvailable}} cluster={{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}'
echo "== labels"; docker node ls -q 2>/dev/null | while read id; do docker node inspect --format '{{.ID}} {{.Spec.Role}} {{json .Spec.Labels}}' "$id"; done
echo "== dockerd"; cat /var/run/docker.pid; echo
echo "== docker group"; getent group docker
echo "== containers"; docker ps -aq | while read id; do docker inspect --format '{{.Name}} {{.State.Status}} {{.State.StartedAt}}' "$id"; done
`

func snapshots(t testing.TB, l *lab.Lab) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range l.Nodes {
		out[n.Name] = inNode(t, n.Container, hostSnapshot)
	}
	return out
}

func sameSnapshots(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for name, b := range before {
		if a := after[name]; a != b {
			t.Errorf("%s changed host %s:\nbefore:\n%s\nafter:\n%s", what, name, b, a)
		}
	}
}

// sections splits a host snapshot into its "== name" parts.
func sections(snap string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(snap, "\n") {
		if h, ok := strings.CutPrefix(line, "== "); ok {
			name = h
			out[name] = ""
			continue
		}
		out[name] += line + "\n"
	}
	return out
}

// section is one "== name" part of a host snapshot.
func section(snap, name string) string { return sections(snap)[name] }

// runPreexisting starts a container the earlier admin runs ("preexisting",
// restart unless-stopped) on every node of l.
func runPreexisting(t testing.TB, l *lab.Lab) {
	t.Helper()
	ctx := context.Background()
	img, err := images.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var containers []string
	for _, n := range l.Nodes {
		containers = append(containers, n.Container)
	}
	if err := images.LoadInto(ctx, img, containers...); err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes {
		inNode(t, n.Container, "docker run -d --name preexisting --restart unless-stopped -e LISTEN=:8080 "+img+" >/dev/null")
	}
}

func TestForeignHosts(t *testing.T) {
	c, name := newLab(t)
	l := foreignLab(t, c, name, 3, 2)
	inv := LabInventory(l)
	invPath := writeInventory(t, l, "inventory.yaml", inv)

	ctx := context.Background()
	runPreexisting(t, l)
	before := snapshots(t, l)

	t.Run("the node kind is what a hoster hands over", func(t *testing.T) {
		n := l.Nodes[0]
		got := strings.Fields(inNode(t, n.Container, "test -d /run/systemd/system && echo systemd; cat /var/run/docker-ssd.pid; echo; cat /var/run/docker.pid"))
		if len(got) != 2 || got[0] != got[1] {
			t.Errorf("dockerd is not the one /etc/init.d/docker started (want ssd pid = docker pid, no systemd): %q", got)
		}
		dial, closer, err := bootstrap.DialOptions(inv)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		dial.Attempts = 1
		root := bootstrap.Target(inv, inventory.Node{Name: n.Name, Address: n.Address})
		root.User = "root"
		_, err = remote.Dial(ctx, root, dial)
		var ae *remote.AuthError
		if !errors.As(err, &ae) {
			t.Errorf("root login on %s:%d: err = %v, want refused", n.Address, lab.ForeignPort, err)
		}
		if got := section(before[n.Name], "packages"); !strings.Contains(got, "ii  docker.io ") {
			t.Errorf("docker.io is not installed:\n%s", got)
		}
	})

	var first time.Duration
	t.Run("bootstrap installs nothing and restarts no container", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		start := time.Now()
		code, out, errs := c.run("bootstrap", "--inventory", invPath, "-o", "json")
		first = time.Since(start)
		if code != 0 {
			t.Fatalf("bootstrap: exit %d\n%s\n%s", code, out, errs)
		}
		t.Logf("first bootstrap took %s\n%s", first.Round(100*time.Millisecond), errs)
		var doc bootstrapJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("bootstrap -o json: %v\n%s", err, out)
		}
		for node, acts := range doc.Hosts {
			for _, a := range acts {
				if a != "write daemon.json" {
					t.Errorf("host %s: action %q on a server with a working engine", node, a)
				}
			}
		}
		if len(doc.Pending) != len(l.Nodes) {
			t.Errorf("want one pending restart per node (each runs a container), got %q", doc.Pending)
		}
		for _, p := range doc.Pending {
			if !strings.Contains(p, "1 running containers restart") || !strings.Contains(p, "--restart-docker") {
				t.Errorf("pending change does not say its cost and the flag: %q", p)
			}
		}
		after := snapshots(t, l)
		for _, n := range l.Nodes {
			for _, part := range []string{"packages", "dockerd", "docker group", "containers"} {
				if b, a := section(before[n.Name], part), section(after[n.Name], part); a != b {
					t.Errorf("%s: %s changed:\nbefore:\n%s\nafter:\n%s", n.Name, part, b, a)
				}
			}
			if got := section(after[n.Name], "daemon.json"); !strings.Contains(got, `"max-size": "10m"`) || !strings.Contains(got, `"storage-driver": "vfs"`) {
				t.Errorf("%s: daemon.json is not the merged one:\n%s", n.Name, got)
			}
		}
		var st swarm.Status
		if err := json.Unmarshal([]byte(c.must("status", "--inventory", invPath, "-o", "json")), &st); err != nil {
			t.Fatal(err)
		}
		if st.Managers != 3 || len(st.Nodes) != 5 || st.Quorum != "ok" {
			t.Errorf("status after bootstrap: %+v", st)
		}
	})

	t.Run("a re-run says no changes", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		start := time.Now()
		out := c.must("bootstrap", "--inventory", invPath)
		second := time.Since(start)
		t.Logf("re-run took %s, first run %s: ratio %.3f (goal <= 0.10)", second.Round(10*time.Millisecond), first.Round(10*time.Millisecond), float64(second)/float64(first))
		if !strings.Contains(out, "no changes") || strings.Contains(out, "host ") {
			t.Errorf("re-run output:\n%s", out)
		}
		if !strings.Contains(out, "pending: ") {
			t.Errorf("re-run does not repeat the pending restart:\n%s", out)
		}
		sameSnapshots(t, "nothing", snapshotsExcept(before, "daemon.json", "swarm", "labels"), snapshotsExcept(snapshots(t, l), "daemon.json", "swarm", "labels"))
	})

	t.Run("--restart-docker restarts the engine through its init script", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		// Only w1 keeps its change pending: the others' daemon.json is
		// dated before their dockerd started, as if their admin had
		// restarted it since (their content is the merged one already).
		for _, n := range l.Nodes {
			if n.Name != "w1" {
				inNode(t, n.Container, "touch -d @$(( $(stat -c %Y /var/run/docker.pid) - 60 )) /etc/docker/daemon.json")
			}
		}
		w1, _ := l.Node("w1")
		pidBefore := strings.TrimSpace(inNode(t, w1.Container, "cat /var/run/docker.pid"))
		startedBefore := strings.TrimSpace(inNode(t, w1.Container, "docker inspect -f '{{.State.StartedAt}}' preexisting"))

		code, out, errs := c.run("bootstrap", "--inventory", invPath, "--restart-docker", "--dry-run")
		if code != exitWork || !strings.Contains(out, "host w1: restart docker (1 running containers restart)") {
			t.Fatalf("dry run: exit %d, want %d and the restart with its cost on w1 only\n%s\n%s", code, exitWork, out, errs)
		}
		if strings.Count(out, "restart docker") != 1 {
			t.Errorf("dry run restarts more than w1:\n%s", out)
		}
		out = c.must("bootstrap", "--inventory", invPath, "--restart-docker", "--yes")
		if !strings.Contains(out, "host w1: restart docker (1 running containers restart)") || strings.Contains(out, "pending:") {
			t.Errorf("bootstrap --restart-docker output:\n%s", out)
		}
		pids := strings.Fields(inNode(t, w1.Container, "cat /var/run/docker.pid; echo; cat /var/run/docker-ssd.pid"))
		if len(pids) != 2 || pids[0] == pidBefore || pids[0] != pids[1] {
			t.Errorf("dockerd on w1 was not restarted by /etc/init.d/docker: pid before %s, now docker.pid/docker-ssd.pid %q", pidBefore, pids)
		}
		state := strings.Fields(inNode(t, w1.Container, "docker inspect -f '{{.State.Status}} {{.State.StartedAt}}' preexisting"))
		if len(state) != 2 || state[0] != "running" || state[1] == startedBefore {
			t.Errorf("the container on w1 did not restart as the plan said (before: started %s; now %q)", startedBefore, state)
		}
		// The engine runs with the merged daemon.json: a new container gets its log rotation.
		logCfg := inNode(t, w1.Container, "docker create --name probe $(docker inspect -f '{{.Config.Image}}' preexisting) >/dev/null && docker inspect -f '{{json .HostConfig.LogConfig}}' probe; docker rm probe >/dev/null")
		if !strings.Contains(logCfg, `"max-size":"10m"`) {
			t.Errorf("w1's engine does not apply daemon.json's log rotation: %s", logCfg)
		}
		now := snapshots(t, l)
		for _, n := range l.Nodes {
			if n.Name != "w1" && section(now[n.Name], "dockerd") != section(before[n.Name], "dockerd") {
				t.Errorf("%s: dockerd restarted, only w1's was to", n.Name)
			}
		}
		out = c.must("bootstrap", "--inventory", invPath)
		if !strings.Contains(out, "no changes") || strings.Contains(out, "pending") {
			t.Errorf("re-run after the restart:\n%s", out)
		}
	})
}

// snapshotsExcept drops the named sections (the ones a first bootstrap
// changes on purpose).
func snapshotsExcept(snaps map[string]string, drop ...string) map[string]string {
	out := map[string]string{}
	for name, s := range snaps {
		parts := sections(s)
		for _, d := range drop {
			delete(parts, d)
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(parts)) {
			b.WriteString("== " + k + "\n" + parts[k])
		}
		out[name] = b.String()
	}
	return out
}

func TestRefusalsChangeNothing(t *testing.T) {
	c, name := newLab(t)
	l := foreignLab(t, c, name, 1, 2) // m1, w1 in our swarm; w2 will be in another
	full := LabInventory(l)
	m1, _ := full.Node("m1")
	w1, _ := full.Node("w1")
	w2, _ := full.Node("w2")

	// Our swarm: m1 and w1.
	ours := LabInventory(l)
	ours.Nodes = []inventory.Node{m1, w1}
	c.must("bootstrap", "--inventory", writeInventory(t, l, "ours.yaml", ours))
	// w2 is in a swarm of its own.
	w2c, _ := l.Node("w2")
	inNode(t, w2c.Container, "docker swarm init --advertise-addr "+w2c.Address+" >/dev/null")

	// A run now would set a label on w1 and prepare w2: it must do neither.
	w1.Labels = map[string]string{"tier": "web"}
	before := snapshots(t, l)

	t.Run("a node in another swarm", func(t *testing.T) {
		inv := LabInventory(l)
		inv.Nodes = []inventory.Node{m1, w1, w2}
		code, out, errs := c.run("bootstrap", "--inventory", writeInventory(t, l, "foreign-swarm.yaml", inv))
		if code != exitRefused {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRefused, out, errs)
		}
		if !strings.Contains(errs, "node w2 is already in another swarm") || !strings.Contains(errs, "nothing was changed") {
			t.Errorf("refusal does not name w2 and say nothing changed:\n%s", errs)
		}
		sameSnapshots(t, "a refused run", before, snapshots(t, l))
	})

	t.Run("an address that does not resolve", func(t *testing.T) {
		inv := LabInventory(l)
		ghost := inventory.Node{Name: "w9", Address: "w9.shoal-lab.invalid", Role: "worker", Hoster: "hoster-c"}
		inv.Nodes = []inventory.Node{m1, w1, ghost}
		code, out, errs := c.run("bootstrap", "--inventory", writeInventory(t, l, "unresolvable.yaml", inv))
		if code != exitRefused {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRefused, out, errs)
		}
		if !strings.Contains(errs, "w9 (w9.shoal-lab.invalid)") || !strings.Contains(errs, "do not resolve") {
			t.Errorf("refusal does not name the address:\n%s", errs)
		}
		sameSnapshots(t, "a refused run", before, snapshots(t, l))
	})
}
