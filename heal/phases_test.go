package heal

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The table case of point 1: a replacement this process runs but
// has not recorded yet is never emitted again.
func TestDecideRunningUnrecordedSlotEmitsNothing(t *testing.T) {
	obs := cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)))
	hist := History{Records: map[string]Record{}, Running: map[string]bool{"node/w1": true}}
	d := Decide(now, DefaultPolicy(), spec(), obs, hist)
	if len(d.Actions) != 0 {
		acts, _ := summary(d)
		t.Fatalf("actions = %q, want none: node/w1 is running", acts)
	}
}

// The case of point 3: a manager heal demoted, whose replacement
// was abandoned, comes back Ready as a worker: it is promoted back.
func TestDecidePromotesADemotedManagerBack(t *testing.T) {
	m3 := node("m3", RoleManager, "hoster-c", asWorker(), labels(LabelAttempts, "1", LabelLast, now.Add(-20*time.Minute).Format(time.RFC3339), LabelRole, RoleManager))
	obs := cluster(m3)
	d := Decide(now, DefaultPolicy(), spec(), obs, ReadHistory(obs.Nodes))
	acts, events := summary(d)
	if !slices.Equal(acts, []string{"promote m3"}) {
		t.Fatalf("actions = %q, want [promote m3]; events %q", acts, events)
	}
	wantIn(t, d.Actions[0].Reason, "hoster hoster-c has 0 of 1 managers, 2 of 2 reachable")
	// Not while it runs, and one at a time.
	d = Decide(now, DefaultPolicy(), spec(), obs, History{Records: ReadHistory(obs.Nodes).Records, Running: map[string]bool{"node/m3": true}})
	if len(d.Actions) != 0 {
		t.Fatalf("promote emitted while running: %+v", d.Actions)
	}
}

func TestDecidePhases(t *testing.T) {
	pol := DefaultPolicy()
	t.Run("gate", func(t *testing.T) {
		for _, c := range []struct {
			name string
			obs  Snapshot
			pass bool
			want string
		}{
			{"no list", Snapshot{At: now, Err: "dial"}, false, "no manager answered"},
			{"no leader", Snapshot{At: now, NoLeader: true, ManagersAnswered: 1, ManagersKnown: 3}, false, "quorum lost: 1 of 3"},
			{"two of three managers down", cluster(node("m1", RoleManager, "hoster-a", down(time.Minute)), node("m2", RoleManager, "hoster-b", down(time.Minute))), false, "quorum lost: 1 of 3"},
			{"one of three down", cluster(node("m1", RoleManager, "hoster-a", down(time.Minute))), true, ""},
		} {
			p := newDecider(now, pol, spec(), c.obs, History{})
			if got := p.gate(); got != c.pass {
				t.Errorf("%s: gate = %v, want %v", c.name, got, c.pass)
			}
			if c.want != "" && (len(p.d.Events) == 0 || !strings.Contains(p.d.Events[0].Reason, c.want)) {
				t.Errorf("%s: events %+v, want %q", c.name, p.d.Events, c.want)
			}
		}
	})
	t.Run("classify", func(t *testing.T) {
		obs := cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)), node("w2", RoleWorker, "hoster-b", down(10*time.Second)),
			node("x", RoleWorker, "", down(time.Hour), func(n *NodeInfo) { n.Hoster = ""; n.Labels = map[string]string{} }),
			node("m1", RoleManager, "hoster-a", func(n *NodeInfo) { n.Locked, n.State, n.Reachability = true, StateDown, "unreachable" }))
		p := newDecider(now, pol, spec(), obs, History{})
		p.gate()
		p.classify()
		var names []string
		for _, n := range p.unhealthy {
			names = append(names, n.Name)
		}
		if !slices.Equal(names, []string{"w1"}) {
			t.Errorf("unhealthy = %v, want [w1] (w2 in grace, x not shoal's, m1 locked)", names)
		}
		if len(p.d.Actions) != 1 || p.d.Actions[0].Kind != Unlock {
			t.Errorf("actions = %+v, want one unlock of m1", p.d.Actions)
		}
	})
	t.Run("in-flight", func(t *testing.T) {
		r := Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Minute), Attempts: 1, Last: now.Add(-time.Minute)}
		obs := cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)))
		for _, c := range []struct {
			name    string
			obs     Snapshot
			running map[string]bool
			r       Record
			want    []string
		}{
			{"resumed", obs, nil, r, []string{"replace w1->w1-r1 (resume)"}},
			{"running: nothing", obs, map[string]bool{"node/w1": true}, r, nil},
			{"finished", cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)), node("w1-r1", RoleWorker, "hoster-a")), nil, r, []string{"remove-dead w1->w1-r1"}},
			{"timed out", obs, nil, Record{Node: "w1", Replacement: "w1-r1", Since: now.Add(-time.Hour), Attempts: 1}, []string{"abandon w1->w1-r1"}},
		} {
			p := newDecider(now, pol, spec(), c.obs, History{Records: map[string]Record{"w1": c.r}, Running: c.running})
			p.gate()
			p.classify()
			p.inFlight()
			if acts, _ := summary(p.d); !slices.Equal(acts, c.want) {
				t.Errorf("%s: actions %q, want %q", c.name, acts, c.want)
			}
		}
	})
	t.Run("brake", func(t *testing.T) {
		for _, c := range []struct {
			obs  Snapshot
			pass bool
		}{
			{cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute))), true},
			{cluster(node("w1", RoleWorker, "hoster-a", down(5*time.Minute)), node("w2", RoleWorker, "hoster-b", down(5*time.Minute))), false},
		} {
			p := newDecider(now, pol, spec(), c.obs, History{})
			p.gate()
			p.classify()
			if got := p.brake(); got != c.pass || p.d.Refused == c.pass {
				t.Errorf("brake = %v refused %v with %d unhealthy", got, p.d.Refused, len(p.unhealthy))
			}
		}
	})
	t.Run("remediate", func(t *testing.T) {
		two := cluster(node("m1", RoleManager, "hoster-a", down(5*time.Minute)), node("m2", RoleManager, "hoster-b", down(4*time.Minute)),
			node("m4", RoleManager, "hoster-c"), node("m5", RoleManager, "hoster-c"))
		p2 := pol
		p2.MaxUnhealthy = Threshold{Count: 2}
		p := newDecider(now, p2, spec(), two, History{})
		p.gate()
		p.classify()
		p.remediate()
		if acts, _ := summary(p.d); !slices.Equal(acts, []string{"replace m1->m1-r1"}) {
			t.Errorf("two managers down: actions %q, want only m1 (one manager at a time)", acts)
		}
	})
	t.Run("seats", func(t *testing.T) {
		// A spec manager back as a worker while another manager is being
		// replaced waits: one manager at a time.
		obs := cluster(node("m3", RoleManager, "hoster-c", asWorker()), node("m1", RoleManager, "hoster-a", down(5*time.Minute)))
		p := newDecider(now, pol, spec(), obs, History{Records: map[string]Record{"m1": {Node: "m1", Replacement: "m1-r1", Role: RoleManager, Since: now, Attempts: 1}}})
		p.gate()
		p.classify()
		p.inFlight()
		p.seats()
		for _, a := range p.d.Actions {
			if a.Kind == Promote {
				t.Fatalf("promoted %s while m1 is being replaced", a.Node.Name)
			}
		}
		// Two managers reachable of two: promoting a third is safe.
		obs = cluster(node("m3", RoleManager, "hoster-c", asWorker()))
		p = newDecider(now, pol, spec(), obs, History{})
		p.gate()
		p.seats()
		if acts, _ := summary(p.d); !slices.Equal(acts, []string{"promote m3"}) {
			t.Errorf("actions %q, want [promote m3]", acts)
		}
		// A worker the spec calls a worker is never promoted.
		p = newDecider(now, pol, spec(), cluster(), History{})
		p.gate()
		p.seats()
		if len(p.d.Actions) != 0 {
			t.Errorf("healthy cluster: %+v", p.d.Actions)
		}
	})
	t.Run("backfill", func(t *testing.T) {
		p2 := pol
		p2.Spares = map[string]int{"hoster-a": 1}
		p := newDecider(now, p2, spec(), cluster(), History{})
		p.gate()
		p.backfill()
		if acts, _ := summary(p.d); !slices.Equal(acts, []string{"create-spare hoster-a-spare1"}) {
			t.Errorf("actions %q", acts)
		}
		p = newDecider(now, p2, spec(), cluster(), History{Running: map[string]bool{"spare/hoster-a-spare1": true}})
		p.gate()
		p.backfill()
		if len(p.d.Actions) != 0 {
			t.Errorf("spare being created is created again: %+v", p.d.Actions)
		}
	})
}
