package heal

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// newServer is the entry a replacement under n's own name joins as.
func newServer(name, role, h string, opts ...func(*NodeInfo)) NodeInfo {
	n := node(name, role, h, opts...)
	n.ID = "id-" + name + "-new"
	return n
}

// Decide with an actor that keeps names (Pulumi: the node's logical name
// is its identity, only its server changes). The history is read from the
// labels, as the controller does.
func TestDecideSameName(t *testing.T) {
	pol := DefaultPolicy()
	sameName := spec()
	sameName.SameName = true
	// withRecord: the labels of an attempt started ago that replaces the
	// node under name.
	withRecord := func(name string, ago time.Duration) func(*NodeInfo) {
		ts := now.Add(-ago).Format(time.RFC3339)
		return labels(LabelReplacement, name, LabelSince, ts, LabelAttempts, "1", LabelLast, ts)
	}
	type tc struct {
		name    string
		obs     Snapshot
		running []string
		acts    []string
		event   string
		check   func(t *testing.T, d Decision)
	}
	cases := []tc{
		{
			name: "a dead worker is replaced under its own name at its hoster with its labels",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(90*time.Second))),
			acts: []string{"replace w1"},
			check: func(t *testing.T, d Decision) {
				a := d.Actions[0]
				if a.Target != "w1" || a.Spec.Name != "w1" || a.Spec.Hoster != "hoster-a" || a.Spec.Labels["tier"] != "web" {
					t.Fatalf("target %q spec %+v", a.Target, a.Spec)
				}
				wantIn(t, a.Reason, "replacing it with w1, attempt 1 of 3")
			},
		},
		{
			name: "a dead manager is replaced under its own name after being demoted",
			obs:  cluster(node("m1", RoleManager, "hoster-a", down(2*time.Minute))),
			acts: []string{"replace m1"},
			check: func(t *testing.T, d Decision) {
				wantIn(t, d.Actions[0].Reason, "demoting m1 first (managers 3 -> 2, 2 reachable)")
			},
		},
		{
			name: "after a restart mid-remediation the recorded attempt is resumed, not doubled",
			obs:  cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute), withRecord("w1", time.Minute))),
			acts: []string{"replace w1 (resume)"},
			check: func(t *testing.T, d Decision) {
				wantIn(t, d.Actions[0].Reason, "resuming it, not starting another")
				if d.Unhealthy != 1 {
					t.Fatalf("unhealthy = %d, want 1 (the dead entry)", d.Unhealthy)
				}
			},
		},
		{
			name: "the new server joining under the same name is not judged as a node of its own",
			obs: Snapshot{At: now, Nodes: append(cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute), withRecord("w1", time.Minute))).Nodes,
				newServer("w1", RoleWorker, "hoster-a", down(3*time.Second)))},
			running: []string{"node/w1"},
			event:   "replacement w1 of w1 in progress for 1m0s",
			check: func(t *testing.T, d Decision) {
				if d.Unhealthy != 1 {
					t.Fatalf("unhealthy = %d, want 1 (the dead entry, not its twin)", d.Unhealthy)
				}
			},
		},
		{
			name: "a dead entry left beside its Ready replacement is removed by its ID",
			obs: Snapshot{At: now, Nodes: append(cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute), withRecord("w1", time.Minute))).Nodes,
				newServer("w1", RoleWorker, "hoster-a"))},
			acts: []string{"remove-dead w1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Node.ID != "id-w1" {
					t.Fatalf("removing entry %s, want the dead id-w1", d.Actions[0].Node.ID)
				}
			},
		},
		{
			name: "the dead entry is found whichever of the two the manager lists first",
			obs: Snapshot{At: now, Nodes: append([]NodeInfo{newServer("w1", RoleWorker, "hoster-a")},
				cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute), withRecord("w1", time.Minute))).Nodes...)},
			acts: []string{"remove-dead w1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Node.ID != "id-w1" {
					t.Fatalf("removing entry %s, want the dead id-w1", d.Actions[0].Node.ID)
				}
			},
		},
		{
			name: "a replacement under the same name never Ready within the startup timeout is abandoned",
			obs: Snapshot{At: now, Nodes: append(cluster(node("w1", RoleWorker, "hoster-a", down(15*time.Minute), withRecord("w1", 11*time.Minute))).Nodes,
				newServer("w1", RoleWorker, "hoster-a", down(time.Minute)))},
			acts: []string{"abandon w1"},
			check: func(t *testing.T, d Decision) {
				if d.Actions[0].Node.ID != "id-w1" {
					t.Fatalf("abandon names entry %s, want the dead id-w1", d.Actions[0].Node.ID)
				}
			},
		},
		{
			name:  "a stale down entry beside a Ready node of the same name is not a dead node",
			obs:   Snapshot{At: now, Nodes: append(cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute))).Nodes, newServer("w1", RoleWorker, "hoster-a"))},
			event: "stale entry id-w1 of w1 is down beside a Ready w1",
			check: func(t *testing.T, d Decision) {
				if d.Unhealthy != 0 {
					t.Fatalf("unhealthy = %d, want 0", d.Unhealthy)
				}
			},
		},
		{
			name: "a slot replaced under its own name keeps counting its attempts",
			obs: cluster(node("w1", RoleWorker, "hoster-a", down(2*time.Minute),
				labels(LabelAttempts, "3", LabelLast, now.Add(-20*time.Minute).Format(time.RFC3339)))),
			event: "its slot had 3 replacement attempts",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hist := ReadHistory(c.obs.Nodes)
			hist.Running = map[string]bool{}
			for _, k := range c.running {
				hist.Running[k] = true
			}
			d := Decide(now, pol, sameName, c.obs, hist)
			acts, events := summary(d)
			if fmt.Sprint(acts) != fmt.Sprint(c.acts) {
				t.Errorf("actions = %q, want %q\nevents: %q", acts, c.acts, events)
			}
			if c.event != "" && !strings.Contains(strings.Join(events, "\n"), c.event) {
				t.Errorf("no event contains %q; events:\n%s", c.event, strings.Join(events, "\n"))
			}
			if c.check != nil && !t.Failed() {
				c.check(t, d)
			}
		})
	}
}
