package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mswarm "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startHeal runs `shoal heal ARGS` in process until stop is called; stop
// returns its exit code and output.
func (c cli) startHeal(args ...string) (stop func() (int, string), log func() string) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"--home", c.home, "heal", "--metrics-addr", ""}, args...), strings.NewReader(""), &out, &out)
	}()
	stop = func() (int, string) {
		cancel()
		select {
		case code := <-done:
			return code, out.String()
		case <-time.After(2 * time.Minute):
			c.t.Fatalf("shoal heal did not stop within 2m of SIGTERM\n%s", out.String())
			return -1, ""
		}
	}
	return stop, out.String
}

// labRef reads lab name back from its containers (for KillNode).
func (c cli) labRef(name string) *lab.Lab {
	c.t.Helper()
	docker, err := localDocker()
	if err != nil {
		c.t.Fatal(err)
	}
	defer docker.Close()
	l, ok, err := lab.Find(context.Background(), docker, name)
	if err != nil || !ok {
		c.t.Fatalf("find lab %s: ok %v, %v", name, ok, err)
	}
	return l
}

// waitStatus polls `shoal status` until ok says done or the time is up.
func (c cli) waitStatus(d time.Duration, what string, ok func(swarm.Status) bool, log func() string) swarm.Status {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var st swarm.Status
	for time.Now().Before(deadline) {
		code, out, _ := c.run("status", "-o", "json")
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return st
		}
		time.Sleep(2 * time.Second)
	}
	c.t.Fatalf("timed out after %s waiting for %s; last status %+v\nheal log:\n%s", d, what, st, log())
	return st
}

// scrape finds the metrics address in a heal log and reads /metrics.
func scrape(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`msg="heal: metrics" addr=(\S+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", log)
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHealRefusesABadPolicy(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inv, []byte("cluster: {name: x}\nssh: {identity_file: k, known_hosts: kh}\nnodes:\n  - {name: m1, address: 192.0.2.1, role: manager, hoster: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, home: dir}
	for _, args := range [][]string{
		{"heal", "--once", "--retry-limit", "0"},
		{"heal", "--once", "--backoff", "1h", "--max-backoff", "1m"},
	} {
		code, _, errs := c.run(append(args, "--inventory", inv)...)
		if code != exitUsage {
			t.Errorf("shoal %v: exit %d, want %d\n%s", args, code, exitUsage, errs)
		}
	}
}

// managerDocker opens the Docker API of a lab node over SSH, the way shoal
// reaches it (inventory SSH options, pinned host keys); closed at cleanup.
func (c cli) managerDocker(ctx context.Context, lab, node string) *client.Client {
	c.t.Helper()
	inv, err := inventory.Load(filepath.Join(c.home, "lab", lab, "inventory.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	n, ok := inv.Node(node)
	if !ok {
		c.t.Fatalf("%s is not in the inventory", node)
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { closer.Close() })
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	d, err := conn.Docker(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.Close() })
	return d
}

// createWorkerService creates a one-replica service of image constrained
// to workers, restarted a second after a failed attempt.
func createWorkerService(ctx context.Context, t testing.TB, d *client.Client, name, image string) string {
	t.Helper()
	one, delay := uint64(1), time.Second
	r, err := d.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: mswarm.ServiceSpec{
		Annotations: mswarm.Annotations{Name: name},
		TaskTemplate: mswarm.TaskSpec{
			ContainerSpec: &mswarm.ContainerSpec{Image: image},
			Placement:     &mswarm.Placement{Constraints: []string{"node.role==worker"}},
			RestartPolicy: &mswarm.RestartPolicy{Condition: mswarm.RestartPolicyConditionAny, Delay: &delay},
		},
		Mode: mswarm.ServiceMode{Replicated: &mswarm.ReplicatedService{Replicas: &one}},
	}})
	if err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
	return r.ID
}

// serviceRuns is where a service runs: the nodes (hostname, or ID when the
// node is gone) of its tasks in state running, and the running and desired
// counts the manager reports for it.
type serviceRuns struct {
	On               []string
	NodeIDs          []string
	Running, Desired uint64
}

// runsOf reads serviceRuns of service id from a manager.
func runsOf(ctx context.Context, d *client.Client, id string) (serviceRuns, error) {
	var r serviceRuns
	nodes, err := d.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return r, err
	}
	host := map[string]string{}
	for _, n := range nodes.Items {
		host[n.ID] = n.Description.Hostname
	}
	tasks, err := d.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", id)})
	if err != nil {
		return r, err
	}
	for _, tk := range tasks.Items {
		if tk.Status.State != mswarm.TaskStateRunning {
			continue
		}
		on := host[tk.NodeID]
		if on == "" {
			on = tk.NodeID
		}
		r.On = append(r.On, on)
		r.NodeIDs = append(r.NodeIDs, tk.NodeID)
	}
	svcs, err := d.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("id", id), Status: true})
	if err != nil {
		return r, err
	}
	for _, s := range svcs.Items {
		if s.ID == id && s.ServiceStatus != nil {
			r.Running, r.Desired = s.ServiceStatus.RunningTasks, s.ServiceStatus.DesiredTasks
		}
	}
	return r, nil
}

// waitRuns polls runsOf until ok says done or d has passed.
func waitRuns(ctx context.Context, t *testing.T, d *client.Client, id string, within time.Duration, what string, ok func(serviceRuns) bool) serviceRuns {
	t.Helper()
	deadline := time.Now().Add(within)
	var r serviceRuns
	var err error
	for time.Now().Before(deadline) {
		if r, err = runsOf(ctx, d, id); err == nil && ok(r) {
			return r
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("timed out after %s waiting for %s; last %+v (err %v)", within, what, r, err)
	return r
}

func nodeNamed(st swarm.Status, name string) (swarm.NodeStatus, bool) {
	for _, n := range st.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return swarm.NodeStatus{}, false
}

func TestHealReplacesAKilledWorker(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	before := c.status()
	w1, _ := nodeNamed(before, "w1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()

	// A service runs on w1: one replica, workers only (w1 is the only one).
	// Lab VPSes cannot pull, so the demo image is loaded into w1 first.
	demo, err := images.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.LoadInto(ctx, demo, lab.ContainerName(name, "w1")); err != nil {
		t.Fatal(err)
	}
	m1 := c.managerDocker(ctx, name, "m1")
	svc := createWorkerService(ctx, t, m1, "demo", demo)
	onW1 := waitRuns(ctx, t, m1, svc, time.Minute, "the service's task running on w1", func(r serviceRuns) bool {
		return strings.Join(r.On, ",") == "w1" && r.Running == 1
	})
	t.Logf("service running on w1 %s after the lab was up", time.Since(start).Round(time.Second))

	stop, healLog := c.startHeal("--grace", "3s", "--resync", "10s", "--metrics-addr", "127.0.0.1:0")
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	killed := time.Now()
	if err := lab.KillNode(ctx, docker, c.labRef(name), "w1"); err != nil {
		t.Fatal(err)
	}
	st := c.waitStatus(3*time.Minute, "w1-r1 Ready at w1's hoster and w1 gone", func(st swarm.Status) bool {
		r, ok := nodeNamed(st, "w1-r1")
		_, old := nodeNamed(st, "w1")
		return ok && r.State == "ready" && !old && len(st.Nodes) == 4
	}, healLog)
	t.Logf("w1-r1 ready and w1 removed %s after the kill", time.Since(killed).Round(time.Second))

	// The service that ran on w1 runs on its replacement (the only worker
	// left), once the image is there: a new VPS would pull it.
	if err := images.LoadInto(ctx, demo, lab.ContainerName(name, "w1-r1")); err != nil {
		t.Fatal(err)
	}
	moved := waitRuns(ctx, t, m1, svc, time.Minute, "the service's one task running on w1-r1", func(r serviceRuns) bool {
		return strings.Join(r.On, ",") == "w1-r1" && r.Running == 1 && r.Desired == 1
	})
	if moved.NodeIDs[0] == onW1.NodeIDs[0] {
		t.Fatalf("the service's task is still on w1's node %s", onW1.NodeIDs[0])
	}
	t.Logf("service running on w1-r1 %s after the kill", time.Since(killed).Round(time.Second))
	r, _ := nodeNamed(st, "w1-r1")
	if r.Hoster != w1.Hoster || r.Role != "worker" || !r.InInventory {
		t.Fatalf("replacement %+v: want a worker at %s in the inventory", r, w1.Hoster)
	}
	if st.Quorum != "ok" {
		t.Fatalf("quorum %s", st.Quorum)
	}
	metrics := scrape(t, healLog())
	for _, want := range []string{`shoal_heal_remediations_total{kind="replace",outcome="ok"} 1`, `shoal_heal_remediations_total{kind="remove-dead",outcome="ok"} 1`,
		`shoal_heal_nodes{role="worker",state="ready"} 1`, `shoal_heal_managers{which="reachable"} 3`, "shoal_heal_last_decision_timestamp_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	code, out := stop()
	stop = nil
	if code != 0 {
		t.Fatalf("heal exit %d\n%s", code, out)
	}
	if testing.Verbose() {
		t.Logf("heal log:\n%s", out)
	}
	for _, want := range []string{"heal: replace", "w1 (worker at hoster-", "heal: remove-dead", "heal: stopping"} {
		if !strings.Contains(out, want) {
			t.Errorf("heal log lacks %q:\n%s", want, out)
		}
	}
	// The dead node's container is gone, the inventory names the new one.
	l, _, err := lab.Find(ctx, docker, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Node("w1"); ok {
		t.Errorf("w1's container is still there")
	}
	inv, err := inventory.Load(filepath.Join(c.home, "lab", name, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inv.Node("w1"); ok {
		t.Errorf("w1 is still in the inventory")
	}
	// A second pass finds nothing to do.
	code, once, errs := c.run("heal", "--once", "--dry-run")
	if code != 0 || !strings.Contains(once, "nothing to do") {
		t.Fatalf("heal --once --dry-run after healing: exit %d\n%s\n%s", code, once, errs)
	}
}

func TestHealDoesNothingWithoutQuorum(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "0")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, m := range []string{"m1", "m2"} {
		if err := lab.KillNode(ctx, docker, c.labRef(name), m); err != nil {
			t.Fatal(err)
		}
	}
	// Give the swarm time to notice; then one pass must refuse, and keep refusing.
	time.Sleep(5 * time.Second)
	for range 2 {
		code, out, errs := c.run("heal", "--once", "--grace", "1s")
		if code != exitRefused {
			t.Fatalf("heal --once without quorum: exit %d, want %d\n%s\n%s", code, exitRefused, out, errs)
		}
		if !strings.Contains(out, "quorum lost: 1 of 3 managers reachable; recover it with `shoal dr recover` (it re-forms the swarm on the surviving manager with the most recent raft state)") {
			t.Fatalf("no quorum-lost event:\n%s\n%s", out, errs)
		}
		if strings.Contains(out, "did ") {
			t.Fatalf("acted without quorum:\n%s", out)
		}
	}
	l, _, err := lab.Find(ctx, docker, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Nodes) != 3 {
		t.Fatalf("lab has %d nodes, want the 3 it started with: nothing created", len(l.Nodes))
	}
}

func TestHealReplacesAKilledManagerOnePerHoster(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "0")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	stop, healLog := c.startHeal("--grace", "3s", "--resync", "10s")
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := lab.KillNode(ctx, docker, c.labRef(name), "m1"); err != nil {
		t.Fatal(err)
	}
	st := c.waitStatus(3*time.Minute, "3 managers, one per hoster, quorum ok", func(st swarm.Status) bool {
		_, old := nodeNamed(st, "m1")
		return !old && st.Managers == 3 && st.ManagersReachable == 3 && st.Quorum == "ok"
	}, healLog)
	hosters := map[string]bool{}
	for _, n := range st.Nodes {
		if n.Role == "manager" {
			hosters[n.Hoster] = true
		}
	}
	if len(hosters) != 3 || len(st.HosterRisk) != 0 {
		t.Fatalf("managers on %v, hoster risk %v", hosters, st.HosterRisk)
	}
	code, out := stop()
	stop = nil
	if code != 0 {
		t.Fatalf("heal exit %d\n%s", code, out)
	}
	if strings.Contains(out, "refused (reachable manager)") {
		t.Fatalf("heal tried to remove a reachable manager:\n%s", out)
	}
}

func TestHealRestartedMidRemediationDoesNotReplaceTwice(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	stop, _ := c.startHeal("--grace", "3s", "--resync", "10s")
	if err := lab.KillNode(ctx, docker, c.labRef(name), "w1"); err != nil {
		stop()
		t.Fatal(err)
	}
	// Stop heal as soon as the attempt is recorded on w1's entry.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out, _ := c.run("heal", "--once", "--dry-run", "-o", "json")
		var d heal.Decision
		_ = json.Unmarshal([]byte(out), &d)
		recorded := false
		for _, e := range d.Events {
			recorded = recorded || strings.Contains(e.Reason, "replacement w1-r1 of w1")
		}
		for _, a := range d.Actions {
			recorded = recorded || (a.Resume && a.Target == "w1-r1")
		}
		if recorded {
			if code != exitWork {
				t.Errorf("heal --once --dry-run with a replacement pending: exit %d, want %d", code, exitWork)
			}
			break
		}
		if time.Now().After(deadline) {
			_, log := stop()
			t.Fatalf("no recorded attempt after 2m (last exit %d)\n%s\n%s", code, out, log)
		}
		time.Sleep(500 * time.Millisecond)
	}
	code, first := stop()
	if code != 0 {
		t.Fatalf("first heal exit %d\n%s", code, first)
	}
	stop, secondLog := c.startHeal("--grace", "3s", "--resync", "10s")
	c.waitStatus(3*time.Minute, "w1-r1 Ready and w1 gone", func(st swarm.Status) bool {
		r, ok := nodeNamed(st, "w1-r1")
		_, old := nodeNamed(st, "w1")
		return ok && r.State == "ready" && !old
	}, secondLog)
	_, second := stop()
	if testing.Verbose() {
		t.Logf("first heal:\n%s\nsecond heal:\n%s", first, second)
	}
	if !strings.Contains(second, "resuming it, not starting another") && !strings.Contains(second, "remove-dead") {
		t.Errorf("second heal neither resumed nor finished the attempt:\n%s", second)
	}
	if names := labNodeNames(ctx, t, docker, name); strings.Join(names, ",") != "m1,m2,m3,w1-r1" {
		t.Fatalf("lab nodes %v: want exactly one replacement (w1-r1)", names)
	}
}

func TestHealPromotesAWarmSpareAndBackfillsIt(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "0")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	stop, healLog := c.startHeal("--grace", "3s", "--resync", "5s", "--spares", "hoster-a=1")
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	isSpare := func(n swarm.NodeStatus) bool {
		return n.State == "ready" && n.Availability == "drain" && n.Role == "worker"
	}
	c.waitStatus(2*time.Minute, "a warm spare at hoster-a", func(st swarm.Status) bool {
		n, ok := nodeNamed(st, "hoster-a-spare1")
		return ok && isSpare(n) && n.Hoster == "hoster-a"
	}, healLog)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	killed := time.Now()
	if err := lab.KillNode(ctx, docker, c.labRef(name), "m1"); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(2*time.Minute, "the spare promoted in m1's place", func(st swarm.Status) bool {
		n, ok := nodeNamed(st, "hoster-a-spare1")
		_, old := nodeNamed(st, "m1")
		return ok && n.Role == "manager" && n.Reachability == "reachable" && n.Availability == "active" && !old && st.Quorum == "ok" && st.Managers == 3
	}, healLog)
	t.Logf("spare promoted and m1 removed %s after the kill", time.Since(killed).Round(time.Second))
	c.waitStatus(2*time.Minute, "a new spare backfilled at hoster-a", func(st swarm.Status) bool {
		n, ok := nodeNamed(st, "hoster-a-spare2")
		return ok && isSpare(n) && n.Hoster == "hoster-a"
	}, healLog)
	code, out := stop()
	stop = nil
	if code != 0 {
		t.Fatalf("heal exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "warm spare hoster-a-spare1 at hoster-a takes its place") {
		t.Errorf("no activate-spare decision in the log:\n%s", out)
	}
}

// Two heal processes watch one cluster: exactly one holds the lease and
// replaces the killed worker, once; the other says who holds it, and so
// does `shoal heal --once`.
func TestHealTwoProcessesReplaceOnce(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	waitLog := func(log func() string, want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(log(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the heal log within 1m:\n%s", want, log())
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	stopA, logA := c.startHeal("--grace", "3s", "--resync", "10s")
	defer func() {
		if stopA != nil {
			stopA()
		}
	}()
	waitLog(logA, "heal: holding the lease")
	stopB, logB := c.startHeal("--grace", "3s", "--resync", "10s")
	defer func() {
		if stopB != nil {
			stopB()
		}
	}()
	waitLog(logB, "another heal process holds the lease; watching only")

	if err := lab.KillNode(ctx, docker, c.labRef(name), "w1"); err != nil {
		t.Fatal(err)
	}
	both := func() string { return "A:\n" + logA() + "\nB:\n" + logB() }
	c.waitStatus(4*time.Minute, "w1-r1 Ready and w1 gone", func(st swarm.Status) bool {
		r, ok := nodeNamed(st, "w1-r1")
		_, old := nodeNamed(st, "w1")
		return ok && r.State == "ready" && !old && len(st.Nodes) == 4
	}, both)

	// While A holds the lease, a one-shot pass says so and does nothing.
	code, once, errs := c.run("heal", "--once", "--grace", "3s")
	if code != 0 || !strings.Contains(once, "the lease is held by") || !strings.Contains(once, "this one did nothing") {
		t.Fatalf("heal --once beside a daemon: exit %d\n%s\n%s", code, once, errs)
	}

	codeB, outB := stopB()
	stopB = nil
	codeA, outA := stopA()
	stopA = nil
	if codeA != 0 || codeB != 0 {
		t.Fatalf("exit codes %d, %d\nA:\n%s\nB:\n%s", codeA, codeB, outA, outB)
	}
	if n := strings.Count(outA, `msg="heal: action done" kind=replace`); n != 1 {
		t.Errorf("A finished %d replacements, want 1:\n%s", n, outA)
	}
	if strings.Contains(outB, `msg="heal: action done"`) || strings.Contains(outB, `msg="heal: replace"`) {
		t.Errorf("B acted without the lease:\n%s", outB)
	}
	// Exactly one replacement server exists: the lab's containers.
	if names := labNodeNames(ctx, t, docker, name); strings.Join(names, ",") != "m1,m2,m3,w1-r1" {
		t.Fatalf("lab containers %v, want m1,m2,m3,w1-r1 (one replacement)", names)
	}
}

// labNodeNames are the names of lab name's node containers, sorted.
func labNodeNames(ctx context.Context, t *testing.T, docker lab.Docker, name string) []string {
	t.Helper()
	l, _, err := lab.Find(ctx, docker, name)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range l.Nodes {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return names
}
