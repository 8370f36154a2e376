package heal

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 3, 14, 3, 0, 0, 0, time.UTC)

// node builds a Ready node at hoster h; opts change it.
func node(name, role, h string, opts ...func(*NodeInfo)) NodeInfo {
	n := NodeInfo{ID: "id-" + name, Name: name, Hostname: name, Role: role, State: StateReady, Availability: "active", Hoster: h, Region: h + "-1",
		Labels: map[string]string{"shoal.node": name, "shoal.hoster": h, "shoal.region": h + "-1"}}
	if role == RoleManager {
		n.Reachability = "reachable"
	}
	for _, o := range opts {
		o(&n)
	}
	return n
}

// down marks a node Down for d (and, for a manager, unreachable).
func down(d time.Duration) func(*NodeInfo) {
	return func(n *NodeInfo) {
		n.State, n.DownSince = StateDown, now.Add(-d)
		if n.Role == RoleManager {
			n.Reachability = "unreachable"
		}
	}
}

func labels(kv ...string) func(*NodeInfo) {
	return func(n *NodeInfo) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func spare() func(*NodeInfo) {
	return func(n *NodeInfo) { n.Availability = "drain"; n.Labels[LabelSpare] = "true" }
}

func asWorker() func(*NodeInfo) {
	return func(n *NodeInfo) { n.Role = RoleWorker; n.Reachability = "" }
}

// cluster: m1..m3 at hoster-a..c, w1 at a, w2 at b, plus extra nodes;
// a node in over replaces the default of the same name.
func cluster(over ...NodeInfo) Snapshot {
	base := []NodeInfo{
		node("m1", RoleManager, "hoster-a"), node("m2", RoleManager, "hoster-b"), node("m3", RoleManager, "hoster-c"),
		node("w1", RoleWorker, "hoster-a"), node("w2", RoleWorker, "hoster-b"),
	}
	for _, o := range over {
		found := false
		for i := range base {
			if base[i].Name == o.Name {
				base[i], found = o, true
			}
		}
		if !found {
			base = append(base, o)
		}
	}
	return Snapshot{At: now, Via: "m2", Nodes: base}
}

func spec() Desired {
	d := Desired{Cluster: "t"}
	for _, n := range cluster().Nodes {
		s := NodeSpec{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region}
		if n.Name == "w1" {
			s.Labels = map[string]string{"tier": "web"}
		}
		d.Nodes = append(d.Nodes, s)
	}
	return d
}

func rec(r Record) History { return History{Records: map[string]Record{r.Node: r}} }

// summary renders actions and events compactly: "replace w1->w1-r1".
func summary(d Decision) (acts, events []string) {
	for _, a := range d.Actions {
		s := string(a.Kind) + " " + a.Node.Name
		if a.Target != "" && a.Target != a.Node.Name {
			s += "->" + a.Target
		}
		if a.Kind == CreateSpare {
			s = string(a.Kind) + " " + a.Spec.Name
		}
		if a.Resume {
			s += " (resume)"
		}
		acts = append(acts, s)
	}
	for _, e := range d.Events {
		events = append(events, string(e.Kind)+": "+e.Reason)
	}
	return acts, events
}

func TestDecide(t *testing.T) {
	pol := DefaultPolicy()
	pol.MaxUnhealthy = Threshold{Count: 1}
	type tc struct {
		name    string
		pol     func(p *Policy)
		obs     Snapshot
		hist    History
		acts    []string // exactly these actions, in order
		event   string   // some event contains this text
		refused bool
		check   func(t *testing.T, d Decision)
	}
	cases := []tc{
		{
			name: "a healthy cluster needs nothing",
			obs:  cluster(),
		},
		{
			name: "a worker down longer than the grace period is replaced at its hoster with its labels",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(90*time.Second))),
			acts: []string{"replace w1->w1-r1"},
			check: func(t *testing.T, d Decision) {
				a := d.Actions[0]
				if a.Spec.Hoster != "hoster-a" || a.Spec.Role != RoleWorker || a.Spec.Labels["tier"] != "web" || a.Attempt != 1 {
					t.Fatalf("spec = %+v attempt %d", a.Spec, a.Attempt)
				}
				if !strings.Contains(a.Reason, "down for 1m30s, grace 1m0s") || !strings.Contains(a.Reason, "unhealthy 1 of 5, maxUnhealthy 1") {
					t.Fatalf("reason lacks the numbers: %s", a.Reason)
				}
			},
		},
		{
			name:  "a node back within the grace period is left alone",
			obs:   cluster(node("w1", RoleWorker, "hoster-a", down(20*time.Second))),
			event: "w1 down for 20s, grace 1m0s: waiting",
			check: func(t *testing.T, d Decision) {
				if d.Requeue != 40*time.Second {
					t.Fatalf("requeue = %s, want 40s (when the grace runs out)", d.Requeue)
				}
			},
		},
		{
			name: "a manager down longer than the grace period is replaced",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(2*time.Minute))),
			acts: []string{"replace m1->m1-r1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Spec.Role != RoleManager || d.Managers != 3 || d.ManagersReachable != 2 {
					t.Fatalf("spec %+v, managers %d/%d", d.Actions[0].Spec, d.ManagersReachable, d.Managers)
				}
			},
		},
		{
			name: "two of three managers down is quorum lost: no action, and what to run",
			obs: cluster(node("m1", RoleManager, "hoster-a", down(5*time.Minute)),
				node("m2", RoleManager, "hoster-b", down(5*time.Minute))),
			event:   "quorum lost: 1 of 3 managers reachable; recover it with `shoal dr recover` (it re-forms the swarm on the surviving manager with the most recent raft state)",
			refused: true,
		},
		{
			name:    "no leader reported by the managers that answered is quorum lost",
			obs:     Snapshot{At: now, NoLeader: true, ManagersAnswered: 1, ManagersKnown: 3},
			event:   "quorum lost: 1 of 3 managers reachable; recover it with `shoal dr recover` (it re-forms the swarm on the surviving manager with the most recent raft state)",
			refused: true,
		},
		{
			name: "more unhealthy nodes than maxUnhealthy holds everything, with the numbers",
			obs: cluster(node("w1", RoleWorker, "hoster-a", down(3*time.Minute)),
				node("w2", RoleWorker, "hoster-b", down(2*time.Minute))),
			event:   "remediation is not allowed, the number of unhealthy nodes exceeds maxUnhealthy (total: 5, unhealthy: 2, maxUnhealthy: 1)",
			refused: true,
		},
		{
			name: "a percentage maxUnhealthy allows two of five",
			pol:  func(p *Policy) { p.MaxUnhealthy = Threshold{Percent: 40, IsPct: true} },
			obs: cluster(node("w1", RoleWorker, "hoster-a", down(3*time.Minute)),
				node("w2", RoleWorker, "hoster-b", down(2*time.Minute))),
			acts: []string{"replace w1->w1-r1", "replace w2->w2-r1"},
		},
		{
			name: "a watcher cut off from most nodes sees them down and holds",
			pol:  func(p *Policy) { p.MaxUnhealthy = Threshold{Percent: 40, IsPct: true} },
			obs: cluster(node("w1", RoleWorker, "hoster-a", down(3*time.Minute)),
				node("w2", RoleWorker, "hoster-b", down(3*time.Minute)),
				node("w3", RoleWorker, "hoster-c", down(3*time.Minute))),
			event:   "(total: 6, unhealthy: 3, maxUnhealthy: 40%)",
			refused: true,
		},
		{
			name:    "a watcher that reaches no manager does nothing",
			obs:     Snapshot{At: now, Err: "m1: dial timeout; m2: dial timeout; m3: dial timeout"},
			event:   "no manager answered the watcher",
			refused: true,
		},
		{
			name: "only one manager is remediated at a time",
			pol:  func(p *Policy) { p.MaxUnhealthy = Threshold{Count: 2} },
			obs: cluster(node("m1", RoleManager, "hoster-a", down(3*time.Minute)),
				node("m4", RoleManager, "hoster-a"), node("m5", RoleManager, "hoster-b"),
				node("m2", RoleManager, "hoster-b", down(2*time.Minute))),
			acts:  []string{"replace m1->m1-r1"},
			event: "one manager at a time: m2 waits until m1 is replaced (3 of 5 managers reachable)",
		},
		{
			name:  "a manager waits while another manager's replacement is in flight",
			pol:   func(p *Policy) { p.MaxUnhealthy = Threshold{Count: 2} },
			obs:   cluster(node("m1", RoleManager, "hoster-a", down(5*time.Minute)), node("m4", RoleManager, "hoster-a"), node("m5", RoleManager, "hoster-b"), node("m2", RoleManager, "hoster-b", down(2*time.Minute))),
			hist:  History{Records: map[string]Record{"m1": {Node: "m1", Replacement: "m1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}}, Running: map[string]bool{"node/m1": true}},
			event: "one manager at a time: m2 waits until m1 is replaced",
		},
		{
			name: "an in-flight replacement that this process runs is not duplicated",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute))),
			hist: History{Records: map[string]Record{"w1": {Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}},
				Running: map[string]bool{"node/w1": true}},
			event: "replacement w1-r1 of w1 in progress for 1m0s",
		},
		{
			name:  "after a restart mid-remediation the recorded attempt is resumed, not doubled",
			obs:   cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute))),
			hist:  rec(Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts:  []string{"replace w1->w1-r1 (resume)"},
			check: func(t *testing.T, d Decision) { wantIn(t, d.Actions[0].Reason, "resuming it, not starting another") },
		},
		{
			name: "a replacement that joined but is not Ready yet is not judged as a node of its own",
			obs: cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)),
				node("w1-r1", RoleWorker, "hoster-a", down(5*time.Second))),
			hist: History{Records: map[string]Record{"w1": {Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}},
				Running: map[string]bool{"node/w1": true}},
		},
		{
			name: "the dead worker is removed once its replacement is Ready",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)), node("w1-r1", RoleWorker, "hoster-a")),
			hist: rec(Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts: []string{"remove-dead w1->w1-r1"},
		},
		{
			name: "the dead manager is demoted and removed once its replacement is a reachable manager",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(5*time.Minute)), node("m1-r1", RoleManager, "hoster-a")),
			hist: rec(Record{Node: "m1", Replacement: "m1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts: []string{"remove-dead m1->m1-r1"},
		},
		{
			name: "the dead manager is not removed while its replacement is only a worker",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(5*time.Minute)), node("m1-r1", RoleWorker, "hoster-a")),
			hist: rec(Record{Node: "m1", Replacement: "m1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts: []string{"replace m1->m1-r1 (resume)"},
		},
		{
			name:  "a manager that came back is never demoted, even with its replacement Ready",
			obs:   cluster(node("m1-r1", RoleManager, "hoster-a")),
			hist:  rec(Record{Node: "m1", Replacement: "m1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			event: "m1 came back (manager, ready) after m1-r1 became Ready: heal removes only dead nodes",
		},
		{
			name:  "a worker that came back after its replacement is Ready is not removed",
			obs:   cluster(node("w1-r1", RoleWorker, "hoster-a")),
			hist:  rec(Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			event: "w1 came back (worker, ready) after w1-r1 became Ready",
		},
		{
			name: "a dead manager is demoted before its replacement joins, and the reason says so",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(2*time.Minute))),
			acts: []string{"replace m1->m1-r1"},
			check: func(t *testing.T, d Decision) {
				wantIn(t, d.Actions[0].Reason, "demoting m1 first (managers 3 -> 2, 2 reachable)")
			},
		},
		{
			name: "a demoted dead manager still waits for a manager, not a worker, as its replacement",
			obs: cluster(node("m1", RoleWorker, "hoster-a", down(2*time.Minute), asWorker()),
				node("m1-r1", RoleWorker, "hoster-a")),
			hist: rec(Record{Node: "m1", Replacement: "m1-r1", Role: RoleManager, Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts: []string{"replace m1->m1-r1 (resume)"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Spec.Role != RoleManager {
					t.Fatalf("resumed spec role %q, want manager", d.Actions[0].Spec.Role)
				}
			},
		},
		{
			name: "a demoted dead manager is removed once its replacement is a reachable manager",
			obs: cluster(node("m1", RoleWorker, "hoster-a", down(2*time.Minute), asWorker()),
				node("m1-r1", RoleManager, "hoster-a")),
			hist: rec(Record{Node: "m1", Replacement: "m1-r1", Role: RoleManager, Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}),
			acts: []string{"remove-dead m1->m1-r1"},
		},
		{
			name: "a replacement never Ready within the startup timeout is abandoned",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(15*time.Minute))),
			hist: rec(Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-11 * time.Minute), Attempts: 1, Last: now.Add(-11 * time.Minute)}),
			acts: []string{"abandon w1->w1-r1"},
			check: func(t *testing.T, d Decision) {
				wantIn(t, d.Actions[0].Reason, "w1-r1 not Ready 11m0s after the attempt started (startup timeout 10m0s, attempt 1 of 3)")
			},
		},
		{
			name:  "after an abandoned attempt the next one waits for the back-off",
			obs:   cluster(node("w1", RoleWorker, "hoster-a", down(15*time.Minute))),
			hist:  rec(Record{Node: "w1", Attempts: 1, Last: now.Add(-20 * time.Second)}),
			event: "w1: attempt 2 of 3 after back-off, in 40s",
		},
		{
			name: "after the back-off the next attempt gets the next generation",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(15*time.Minute))),
			hist: rec(Record{Node: "w1", Attempts: 1, Last: now.Add(-2 * time.Minute)}),
			acts: []string{"replace w1->w1-r1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Attempt != 2 {
					t.Fatalf("attempt = %d, want 2", d.Actions[0].Attempt)
				}
			},
		},
		{
			name:  "a flapping slot is not replaced more often than the retry limit",
			obs:   cluster(node("w1-r3", RoleWorker, "hoster-a", down(2*time.Minute), labels(LabelAttempts, "3", LabelLast, now.Add(-20*time.Minute).Format(time.RFC3339)))),
			hist:  History{Records: map[string]Record{"w1-r3": {Node: "w1-r3", Attempts: 3, Last: now.Add(-20 * time.Minute)}}},
			event: "its slot had 3 replacement attempts since 2025-03-14T02:40:00Z (retry limit 3 per 1h0m0s): not trying again",
		},
		{
			name: "a flapping slot gets a fresh start once the retry window has passed",
			obs:  cluster(node("w1-r3", RoleWorker, "hoster-a", down(2*time.Minute))),
			hist: History{Records: map[string]Record{"w1-r3": {Node: "w1-r3", Attempts: 3, Last: now.Add(-2 * time.Hour)}}},
			acts: []string{"replace w1-r3->w1-r4"},
		},
		{
			name: "a warm spare at the dead node's hoster is activated first",
			pol:  func(p *Policy) { p.Spares = map[string]int{"hoster-a": 1} },
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(2*time.Minute)), node("hoster-a-spare1", RoleWorker, "hoster-a", spare())),
			acts: []string{"activate-spare m1->hoster-a-spare1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Spec.Role != RoleManager {
					t.Fatalf("spare should become a manager, spec %+v", d.Actions[0].Spec)
				}
			},
		},
		{
			name: "a spare at another hoster is not used",
			pol:  func(p *Policy) { p.Spares = map[string]int{"hoster-b": 1} },
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(2*time.Minute)), node("hoster-b-spare1", RoleWorker, "hoster-b", spare())),
			acts: []string{"replace m1->m1-r1"},
		},
		{
			name: "the dead manager goes once the promoted spare is an active manager",
			pol:  func(p *Policy) { p.Spares = map[string]int{"hoster-a": 1} },
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(3*time.Minute)), node("hoster-a-spare1", RoleManager, "hoster-a")),
			hist: rec(Record{Node: "m1", Replacement: "hoster-a-spare1", Spare: true, Since: now.Add(-5 * time.Second), Attempts: 1, Last: now.Add(-5 * time.Second)}),
			acts: []string{"remove-dead m1->hoster-a-spare1"},
		},
		{
			name: "a used spare is backfilled once the cluster is quiet",
			pol:  func(p *Policy) { p.Spares = map[string]int{"hoster-a": 1} },
			obs:  cluster(node("hoster-a-spare1", RoleManager, "hoster-a")),
			acts: []string{"create-spare hoster-a-spare2"},
		},
		{
			name: "a spare being created by this process is not created twice",
			pol:  func(p *Policy) { p.Spares = map[string]int{"hoster-a": 1} },
			obs:  cluster(),
			hist: History{Running: map[string]bool{"spare/hoster-a-spare1": true}},
		},
		{
			name: "a slow manager replacement with two managers left promotes a worker at a hoster without a manager",
			pol:  func(p *Policy) { p.PromoteWorkerAfter = 2 * time.Minute },
			obs: cluster(node("m1", RoleManager, "hoster-a", down(6*time.Minute)),
				node("m3", RoleWorker, "hoster-c", asWorker()), node("m3w", RoleWorker, "hoster-c")),
			hist: History{Records: map[string]Record{"m1": {Node: "m1", Replacement: "m1-r1", Since: now.Add(-3 * time.Minute), Attempts: 1, Last: now.Add(-3 * time.Minute)}},
				Running: map[string]bool{"node/m1": true}},
			check: func(t *testing.T, d Decision) {
				// m3 is a worker here, so managers are m1 (down) and m2: 1 of 2 reachable is quorum lost.
				if !d.Refused {
					t.Fatalf("2 managers with 1 reachable must be quorum lost, got %+v", d)
				}
			},
		},
		{
			name: "a slow manager replacement with only two managers reachable promotes a worker where no manager is",
			pol:  func(p *Policy) { p.PromoteWorkerAfter = 2 * time.Minute },
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(6*time.Minute))),
			hist: History{Records: map[string]Record{"m1": {Node: "m1", Replacement: "m1-r1", Since: now.Add(-3 * time.Minute), Attempts: 1, Last: now.Add(-3 * time.Minute)}},
				Running: map[string]bool{"node/m1": true}},
			acts: []string{"promote-worker m1->w1"},
		},
		{
			name: "promotion waits for promoteWorkerAfter",
			pol:  func(p *Policy) { p.PromoteWorkerAfter = 5 * time.Minute },
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(6*time.Minute))),
			hist: History{Records: map[string]Record{"m1": {Node: "m1", Replacement: "m1-r1", Since: now.Add(-3 * time.Minute), Attempts: 1, Last: now.Add(-3 * time.Minute)}},
				Running: map[string]bool{"node/m1": true}},
			check: func(t *testing.T, d Decision) {
				if len(d.Actions) != 0 || d.Requeue != 2*time.Minute {
					t.Fatalf("actions %v, requeue %s; want none and 2m", d.Actions, d.Requeue)
				}
			},
		},
		{
			name: "a worker heal promoted is demoted once the replacement finished",
			obs:  cluster(node("m1-r1", RoleManager, "hoster-a"), node("w1", RoleManager, "hoster-a", labels(LabelPromotedFor, "m1"))),
			hist: History{Records: map[string]Record{"w1": {Node: "w1", PromotedFor: "m1"}}},
			acts: []string{"demote-worker w1"},
		},
		{
			name: "a locked manager is unlocked, not replaced",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(10*time.Minute), func(n *NodeInfo) { n.Locked = true })),
			acts: []string{"unlock m1"},
		},
		{
			name:  "a node neither the spec nor its labels describe is left alone",
			obs:   cluster(NodeInfo{ID: "x", Name: "stray", Role: RoleWorker, State: StateDown, DownSince: now.Add(-time.Hour), Labels: map[string]string{}}),
			event: "stray is down for 1h0m0s but neither the spec nor its labels say what it is",
			check: func(t *testing.T, d Decision) {
				if d.Unhealthy != 0 {
					t.Fatalf("a stray counts as unhealthy: %d", d.Unhealthy)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pol
			if c.pol != nil {
				c.pol(&p)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.hist.Records == nil {
				c.hist.Records = map[string]Record{}
			}
			d := Decide(now, p, spec(), c.obs, c.hist)
			acts, events := summary(d)
			if fmt.Sprint(acts) != fmt.Sprint(c.acts) {
				t.Errorf("actions = %q, want %q\nevents: %q", acts, c.acts, events)
			}
			if c.event != "" && !strings.Contains(strings.Join(events, "\n"), c.event) {
				t.Errorf("no event contains %q; events:\n%s", c.event, strings.Join(events, "\n"))
			}
			if d.Refused != c.refused && c.check == nil {
				t.Errorf("refused = %v, want %v", d.Refused, c.refused)
			}
			for _, a := range d.Actions {
				if a.Reason == "" {
					t.Errorf("action %s %s has no reason", a.Kind, a.Node.Name)
				}
			}
			if c.check != nil && !t.Failed() {
				c.check(t, d)
			}
		})
	}
}

func TestDecideIsPure(t *testing.T) {
	obs := cluster(node("w1", RoleWorker, "hoster-a", down(90*time.Second)))
	a := Decide(now, DefaultPolicy(), spec(), obs, History{})
	b := Decide(now, DefaultPolicy(), spec(), obs, History{})
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Fatal("same inputs, different decisions")
	}
}

func TestRecordLabelsRoundTrip(t *testing.T) {
	r := Record{Node: "w1", Replacement: "w1-r2", Since: now, Attempts: 2, Last: now}
	set, remove := r.Labels()
	n := node("w1", RoleWorker, "hoster-a")
	for k, v := range set {
		n.Labels[k] = v
	}
	got := ReadHistory([]NodeInfo{n}).Records["w1"]
	if got.Replacement != "w1-r2" || got.Attempts != 2 || !got.Since.Equal(now) || got.Spare {
		t.Fatalf("read back %+v", got)
	}
	if strings.Join(remove, ",") != LabelVia+","+LabelPromotedFor+","+LabelRole+","+LabelHolder {
		t.Fatalf("remove = %v", remove)
	}
	if _, ok := ReadHistory([]NodeInfo{node("w2", RoleWorker, "hoster-b")}).Records["w2"]; ok {
		t.Fatal("a node without heal labels has no record")
	}
}

func wantIn(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
