package main

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
)

// demotionWatch samples a manager's node list and notes every manager whose
// role became worker while its last sample said it was reachable: a
// reachable manager demoted.
type demotionWatch struct {
	mu         sync.Mutex
	last       map[string][2]string // node ID -> role, reachability
	name       map[string]string
	violations []string
	samples    int
}

func (w *demotionWatch) run(ctx context.Context, d *client.Client) {
	w.last, w.name = map[string][2]string{}, map[string]string{}
	for ctx.Err() == nil {
		res, err := d.NodeList(ctx, client.NodeListOptions{})
		if err == nil {
			w.mu.Lock()
			w.samples++
			for _, n := range res.Items {
				reach := ""
				if n.ManagerStatus != nil {
					reach = string(n.ManagerStatus.Reachability)
				}
				now := [2]string{string(n.Spec.Role), reach}
				if prev, ok := w.last[n.ID]; ok && prev[0] == "manager" && now[0] == "worker" && prev[1] == "reachable" {
					w.violations = append(w.violations, n.Description.Hostname+" ("+n.ID[:12]+") demoted while reachable at "+time.Now().Format(time.TimeOnly))
				}
				w.last[n.ID], w.name[n.ID] = now, n.Description.Hostname
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (w *demotionWatch) report() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples, slices.Clone(w.violations)
}

// demoteDecision matches the reason heal gives when it demotes a manager
// before replacing it: "demoting m3 first (managers 3 -> 2, 2 reachable)".
var demoteDecision = regexp.MustCompile(`demoting (\S+) first \(managers (\d+) -> (\d+), (\d+) reachable\)`)

// One simulated hoster holding a manager is cut off from the others for
// twice the grace period (counted from the swarm marking the manager down,
// so the replacement has surely started), then restored. Heal creates
// exactly one replacement server, the cluster ends with 3 managers on 3
// hosters, and no reachable manager is ever demoted: neither in heal's
// decisions (their reasons count the reachable managers) nor in the swarm
// (sampled from a manager on the other side throughout).
func TestHealHosterPartitionedTwiceTheGraceReplacesOnce(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "0")
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const grace = 15 * time.Second

	// The victim: a manager that is not the leader, at its own hoster; the
	// watcher samples the swarm through the leader, on the other side.
	before := c.status()
	var victim, leader swarm.NodeStatus
	for _, n := range before.Nodes {
		switch {
		case n.Role != "manager":
		case n.Leader:
			leader = n
		default:
			victim = n
		}
	}
	if victim.Name == "" || leader.Name == "" || before.Quorum != "ok" {
		t.Fatalf("want 3 managers with a leader: %+v", before)
	}
	original := labNodeNames(ctx, t, docker, name)
	watch := &demotionWatch{}
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); watch.run(wctx, c.managerDocker(ctx, name, leader.Name)) }()
	defer func() { stopWatch(); <-watched }()

	stop, healLog := c.startHeal("--grace", grace.String(), "--resync", "5s")
	defer func() {
		if stop != nil {
			if _, out := stop(); t.Failed() {
				t.Logf("heal log:\n%s", out)
			}
		}
	}()
	l := c.labRef(name)
	partitioned := false
	defer func() {
		if partitioned {
			_ = lab.Unpartition(context.Background(), docker, c.labRef(name), victim.Hoster)
		}
	}()
	if err := lab.Partition(ctx, docker, l, victim.Hoster); err != nil {
		t.Fatal(err)
	}
	partitioned = true
	cut := time.Now()
	c.waitStatus(2*time.Minute, victim.Name+" marked down", func(st swarm.Status) bool {
		n, ok := nodeNamed(st, victim.Name)
		return ok && n.State == "down"
	}, healLog)
	down := time.Now()
	t.Logf("%s (%s) partitioned; marked down %s later", victim.Name, victim.Hoster, down.Sub(cut).Round(time.Second))
	time.Sleep(2 * grace)
	// Read the lab again: heal may have removed the victim's container.
	if err := lab.Unpartition(ctx, docker, c.labRef(name), victim.Hoster); err != nil {
		t.Fatal(err)
	}
	partitioned = false
	t.Logf("partition lifted %s after the cut (%s after down)", time.Since(cut).Round(time.Second), time.Since(down).Round(time.Second))

	replacement := victim.Name + "-r1"
	st := c.waitStatus(3*time.Minute, "3 reachable managers on 3 hosters with "+replacement+" one of them", func(st swarm.Status) bool {
		r, ok := nodeNamed(st, replacement)
		hosters := map[string]bool{}
		for _, n := range st.Nodes {
			if n.Role == "manager" && n.Reachability == "reachable" {
				hosters[n.Hoster] = true
			}
		}
		return ok && r.Role == "manager" && r.State == "ready" && st.Managers == 3 && st.ManagersReachable == 3 && len(hosters) == 3 && st.Quorum == "ok"
	}, healLog)
	t.Logf("healed %s after the cut: %d nodes", time.Since(cut).Round(time.Second), len(st.Nodes))
	// Heal keeps watching a while: nothing more is created or demoted.
	time.Sleep(20 * time.Second)
	final := c.status()
	code, out := stop()
	stop = nil
	stopWatch()
	<-watched
	if testing.Verbose() {
		t.Logf("heal log:\n%s", out)
	}
	if code != 0 {
		t.Fatalf("heal exit %d\n%s", code, out)
	}

	// Exactly one replacement server: the lab's containers.
	var created []string
	for _, n := range labNodeNames(ctx, t, docker, name) {
		if !slices.Contains(original, n) {
			created = append(created, n)
		}
	}
	if strings.Join(created, ",") != replacement {
		t.Errorf("servers created %v, want exactly [%s]", created, replacement)
	}
	managers := map[string]string{}
	for _, n := range final.Nodes {
		if n.Role == "manager" {
			managers[n.Name] = n.Hoster
		}
	}
	hosters := map[string]bool{}
	for _, h := range managers {
		hosters[h] = true
	}
	if len(managers) != 3 || len(hosters) != 3 || final.ManagersReachable != 3 || final.Quorum != "ok" {
		t.Errorf("after heal: managers %v (reachable %d, quorum %s), want 3 on 3 hosters", managers, final.ManagersReachable, final.Quorum)
	}

	// No reachable manager demoted: in the swarm ...
	samples, violations := watch.report()
	if samples < 10 {
		t.Errorf("the watcher sampled the swarm only %d times", samples)
	}
	for _, v := range violations {
		t.Errorf("swarm: %s", v)
	}
	// ... and in heal's decisions: every demotion it decided was of a
	// manager the swarm counted unreachable (fewer reachable than managers),
	// and only of the victim; the actor never had to refuse one.
	demotions := 0
	for _, m := range demoteDecision.FindAllStringSubmatch(out, -1) {
		demotions++
		managersN, _ := strconv.Atoi(m[2])
		reach, _ := strconv.Atoi(m[4])
		if m[1] != victim.Name || reach >= managersN {
			t.Errorf("heal decided to demote %s with %d of %d managers reachable (victim %s)", m[1], reach, managersN, victim.Name)
		}
	}
	if demotions == 0 {
		t.Errorf("heal never decided to demote %s:\n%s", victim.Name, out)
	}
	for _, bad := range []string{"refused (reachable manager)", `msg="heal: refused on a fresh read" kind=remove-dead`, `msg="heal: action failed"`} {
		if strings.Contains(out, bad) {
			t.Errorf("heal log has %q:\n%s", bad, out)
		}
	}
	if n := strings.Count(out, `msg="heal: action done" kind=replace`); n != 1 {
		t.Errorf("heal finished %d replacements, want 1:\n%s", n, out)
	}
}
