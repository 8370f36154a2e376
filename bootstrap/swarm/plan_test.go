package swarm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// testInv is 3 managers on 3 hosters and 2 workers.
func testInv() *inventory.Inventory {
	return &inventory.Inventory{
		Cluster: inventory.Cluster{Name: "lab", DataPathPort: 4789},
		Nodes: []inventory.Node{
			{Name: "m1", Address: "10.0.0.1", Role: "manager", Hoster: "a", Region: "a-1"},
			{Name: "m2", Address: "10.0.0.2", Role: "manager", Hoster: "b", Region: "b-1"},
			{Name: "m3", Address: "10.0.0.3", Role: "manager", Hoster: "c", Region: "c-1"},
			{Name: "w1", Address: "10.0.0.4", Role: "worker", Hoster: "a", Region: "a-1", Labels: map[string]string{"tier": "web"}},
			{Name: "w2", Address: "10.0.0.5", Role: "worker", Hoster: "b", Region: "b-1"},
		},
	}
}

// world builds observations: every node reachable and inactive.
type world struct {
	inv *inventory.Inventory
	obs Observed
}

func fresh(inv *inventory.Inventory) *world {
	w := &world{inv: inv, obs: Observed{Hosts: map[string]HostState{}}}
	for _, n := range inv.Nodes {
		w.obs.Hosts[n.Name] = HostState{Reachable: true, Local: LocalInactive, Advertise: n.Address}
	}
	return w
}

// converged makes every inventory node a labelled member with its role.
func converged(inv *inventory.Inventory) *world {
	w := fresh(inv)
	w.obs.Swarm = &SwarmInfo{ID: "swarm-1", Name: "lab", DataPathPort: 4789}
	w.obs.Via = "m1"
	for _, n := range inv.Nodes {
		w.member(n.Name, n.Role, "ready")
	}
	return w
}

func (w *world) member(name, role, state string) {
	n, _ := w.inv.Node(name)
	m := Member{ID: "id-" + name, Hostname: name, Role: role, State: state, Availability: "active", Labels: DesiredLabels(n)}
	if role == "manager" {
		m.Reachability = "reachable"
		if state == "down" {
			m.Reachability = "unreachable"
		}
	}
	w.obs.Members = append(w.obs.Members, m)
	h := HostState{Reachable: true, Local: LocalActive, NodeID: m.ID, Manager: role == "manager", Advertise: n.Address}
	if role == "manager" {
		h.ClusterID = "swarm-1"
	}
	w.obs.Hosts[name] = h
}

func (w *world) unreachable(name string) {
	w.obs.Hosts[name] = HostState{Err: "dial tcp: connection refused"}
}

func (w *world) setMember(name string, f func(*Member)) {
	for i := range w.obs.Members {
		if w.obs.Members[i].ID == "id-"+name {
			f(&w.obs.Members[i])
		}
	}
}

func render(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, fmt.Sprintf("%s %s", s.Action, s.Node))
	}
	return out
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name        string
		world       func() *world
		want        []string
		wantBlocked []string
		wantWarn    string
		wantErr     any // pointer to a typed error for errors.As
		errText     string
	}{
		{
			name:  "a fresh cluster is initialised on the first manager, then managers and workers join",
			world: func() *world { return fresh(testInv()) },
			want: []string{"init swarm m1", "name cluster m1", "join as manager m2", "join as manager m3", "join as worker w1", "join as worker w2",
				"set labels m1", "set labels m2", "set labels m3", "set labels w1", "set labels w2"},
		},
		{
			name:  "a converged cluster needs no step",
			world: func() *world { return converged(testInv()) },
		},
		{
			name: "a partially joined cluster joins only the missing nodes",
			world: func() *world {
				inv := testInv()
				w := fresh(inv)
				w.obs.Swarm = &SwarmInfo{ID: "swarm-1", Name: "lab", DataPathPort: 4789}
				w.obs.Via = "m1"
				w.member("m1", "manager", "ready")
				w.member("w1", "worker", "ready")
				return w
			},
			want: []string{"join as manager m2", "join as manager m3", "join as worker w2", "set labels m2", "set labels m3", "set labels w2"},
		},
		{
			name: "an extra manager is demoted once the others vote",
			world: func() *world {
				w := converged(testInv())
				w.setMember("w1", func(m *Member) { m.Role = "manager"; m.Reachability = "reachable" })
				return w
			},
			want: []string{"demote w1"},
		},
		{
			name: "a lost manager is left to heal and blocks only itself",
			world: func() *world {
				w := converged(testInv())
				w.setMember("m3", func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
				w.unreachable("m3")
				return w
			},
			wantBlocked: []string{"m3"},
		},
		{
			name: "two lost managers of three refuse every change",
			world: func() *world {
				w := converged(testInv())
				for _, n := range []string{"m2", "m3"} {
					w.setMember(n, func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
					w.unreachable(n)
				}
				w.obs.Hosts["w2"] = HostState{Reachable: true, Local: LocalInactive}
				return w
			},
			wantErr: new(*QuorumError),
			errText: "1 of 3 managers reachable, 2 needed",
		},
		{
			name: "swapping roles promotes the new manager before demoting the old one",
			world: func() *world {
				inv := testInv()
				w := converged(inv)
				inv.Nodes[2].Role = "worker"  // m3
				inv.Nodes[3].Role = "manager" // w1
				inv.Nodes[3].Hoster = "c"
				return w
			},
			want: []string{"promote w1", "demote m3", "set labels w1"},
		},
		{
			name: "a node in another swarm is an error, not re-joined",
			world: func() *world {
				w := converged(testInv())
				w.obs.Members = w.obs.Members[:4] // w2 is not in our node list
				w.obs.Hosts["w2"] = HostState{Reachable: true, Local: LocalActive, NodeID: "other-node"}
				return w
			},
			wantErr: new(*ForeignSwarmError),
			errText: "node w2 is already in another swarm",
		},
		{
			name: "a manager of another swarm is an error",
			world: func() *world {
				w := converged(testInv())
				h := w.obs.Hosts["m3"]
				h.ClusterID = "swarm-2"
				w.obs.Hosts["m3"] = h
				return w
			},
			wantErr: new(*ForeignSwarmError),
			errText: "swarm swarm-2",
		},
		{
			name: "a worker in a swarm while no manager is in one is foreign",
			world: func() *world {
				w := fresh(testInv())
				w.obs.Hosts["w1"] = HostState{Reachable: true, Local: LocalActive, NodeID: "x"}
				return w
			},
			wantErr: new(*ForeignSwarmError),
			errText: "node w1",
		},
		{
			name: "a locked manager is refused with the way out",
			world: func() *world {
				w := converged(testInv())
				w.obs.Hosts["m2"] = HostState{Reachable: true, Local: LocalLocked}
				return w
			},
			wantErr: new(*NodeStateError),
			errText: "docker swarm unlock",
		},
		{
			name: "a rebuilt manager's stale entry is demoted and removed before it joins again",
			world: func() *world {
				w := converged(testInv())
				w.setMember("m2", func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
				w.obs.Hosts["m2"] = HostState{Reachable: true, Local: LocalInactive}
				return w
			},
			want: []string{"remove stale entry m2", "join as manager m2", "set labels m2"},
		},
		{
			name: "label drift is repaired and a label dropped from the inventory is removed",
			world: func() *world {
				inv := testInv()
				w := converged(inv)
				inv.Nodes[3].Labels = map[string]string{"tier": "api"}
				w.setMember("w2", func(m *Member) { m.Labels["ssd"] = "yes"; m.Labels[LabelManaged] = "ssd" })
				w.setMember("m1", func(m *Member) { m.Labels["owner"] = "ops" }) // someone else's label stays
				return w
			},
			want: []string{"set labels w1", "set labels w2"},
		},
		{
			name: "turning autolock on is one swarm update",
			world: func() *world {
				inv := testInv()
				inv.Cluster.Autolock = true
				return converged(inv)
			},
			want: []string{"set autolock m1"},
		},
		{
			name: "a demotion that would lose quorum is refused",
			world: func() *world {
				inv := testInv()
				w := converged(inv)
				w.setMember("m3", func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
				w.unreachable("m3")
				inv.Nodes[1].Role = "worker" // demote m2: 2 managers, 1 reachable
				return w
			},
			wantErr: new(*QuorumError),
		},
		{
			name: "swarm nodes outside the inventory are reported and left alone",
			world: func() *world {
				w := converged(testInv())
				w.obs.Members = append(w.obs.Members, Member{ID: "zz", Hostname: "legacy", Role: "worker", State: "ready"})
				return w
			},
			wantWarn: "legacy (worker, ready)",
		},
		{
			name: "an unreachable new node is blocked while the rest converges",
			world: func() *world {
				w := fresh(testInv())
				w.unreachable("w2")
				return w
			},
			want: []string{"init swarm m1", "name cluster m1", "join as manager m2", "join as manager m3", "join as worker w1",
				"set labels m1", "set labels m2", "set labels m3", "set labels w1"},
			wantBlocked: []string{"w2"},
		},
		{
			name: "an unreachable first manager moves the init to the next one",
			world: func() *world {
				w := fresh(testInv())
				w.unreachable("m1")
				return w
			},
			want: []string{"init swarm m2", "name cluster m2", "join as manager m3", "join as worker w1", "join as worker w2",
				"set labels m2", "set labels m3", "set labels w1", "set labels w2"},
			wantBlocked: []string{"m1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world()
			p, err := Compute(w.inv, w.obs)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; plan %q", render(p))
				}
				if !errors.As(err, tt.wantErr) {
					t.Fatalf("error %v is not %T", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error %q does not say %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(render(p), "; "); got != strings.Join(tt.want, "; ") {
				t.Errorf("steps:\n got %s\nwant %s", got, strings.Join(tt.want, "; "))
			}
			var blocked []string
			for _, b := range p.Blocked {
				blocked = append(blocked, b.Node)
			}
			if strings.Join(blocked, ",") != strings.Join(tt.wantBlocked, ",") {
				t.Errorf("blocked = %v, want %v", blocked, tt.wantBlocked)
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tt.wantWarn) {
				t.Errorf("warnings %q lack %q", p.Warnings, tt.wantWarn)
			}
		})
	}
}

func TestComputeLabelSteps(t *testing.T) {
	inv := testInv()
	w := converged(inv)
	inv.Nodes[3].Labels = map[string]string{"tier": "api"}
	w.setMember("w2", func(m *Member) { m.Labels["ssd"] = "yes"; m.Labels[LabelManaged] = "ssd" })
	p, err := Compute(inv, w.obs)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 2 {
		t.Fatalf("steps %q", render(p))
	}
	if got := p.Steps[0].Labels; len(got) != 1 || got["tier"] != "api" {
		t.Errorf("w1 sets %v, want only tier=api", got)
	}
	if got := p.Steps[1].Remove; strings.Join(got, ",") != "shoal.managed,ssd" {
		t.Errorf("w2 removes %v, want shoal.managed and ssd", got)
	}
}

func TestSummarize(t *testing.T) {
	inv := testInv()
	w := converged(inv)
	st := Summarize(inv, w.obs)
	if st.Quorum != "ok" || st.Managers != 3 || st.ManagersReachable != 3 || st.CanLose != 1 || len(st.HosterRisk) != 0 {
		t.Errorf("healthy cluster: %+v", st)
	}
	if len(st.Nodes) != 5 || st.Nodes[0].Name != "m1" || st.Nodes[3].Reachability != "n/a" || st.Nodes[0].Hoster != "a" {
		t.Errorf("nodes: %+v", st.Nodes)
	}

	w.setMember("m3", func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
	st = Summarize(inv, w.obs)
	if st.Quorum != "degraded" || st.CanLose != 0 || st.ManagersReachable != 2 {
		t.Errorf("one manager down: %+v", st)
	}

	w.setMember("m2", func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
	if st = Summarize(inv, w.obs); st.Quorum != "lost" {
		t.Errorf("two managers down: quorum %q", st.Quorum)
	}

	st = Summarize(inv, Observed{})
	if st.Quorum != "lost" || st.Managers != 3 || len(st.Missing) != 5 || st.Nodes[0].State != "unknown" {
		t.Errorf("nothing answered: %+v", st)
	}

	inv.Nodes[1].Hoster = "a" // m1 and m2 at hoster a
	w = converged(inv)
	if st = Summarize(inv, w.obs); strings.Join(st.HosterRisk, ",") != "a" {
		t.Errorf("hoster risk = %v, want [a]", st.HosterRisk)
	}
}

// extra adds a shoal-managed member that the inventory does not list, and
// its host as the departing node's daemon sees itself: reachable and active
// unless gone is set.
func (w *world) extra(name, role, state string, gone bool) {
	m := Member{ID: "id-" + name, Hostname: name, Role: role, State: state, Availability: "active",
		Labels: map[string]string{LabelNode: name, LabelHoster: "d"}}
	if role == "manager" {
		m.Reachability = "reachable"
		if state == "down" {
			m.Reachability = "unreachable"
		}
	}
	w.obs.Members = append(w.obs.Members, m)
	if w.obs.Departing == nil {
		w.obs.Departing = map[string]HostState{}
	}
	if gone {
		w.obs.Departing[name] = HostState{Err: "dial tcp: no route to host"}
		return
	}
	w.obs.Departing[name] = HostState{Reachable: true, Local: LocalActive, NodeID: m.ID, Manager: role == "manager"}
}

// renderRemovals shows the steps with the flags of removals.
func renderRemovals(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		line := fmt.Sprintf("%s %s", s.Action, s.Node)
		if s.Action == Remove {
			var flags []string
			if s.Demote {
				flags = append(flags, "demote")
			}
			if s.Leave {
				flags = append(flags, "leave")
			}
			if s.Force {
				flags = append(flags, "force")
			}
			line += " (" + strings.Join(flags, ", ") + ")"
		}
		out = append(out, line)
	}
	return out
}

func TestComputePrune(t *testing.T) {
	tests := []struct {
		name     string
		world    func() *world
		noPrune  bool
		want     []string
		wantWarn string
		wantErr  string // text of a *QuorumError
	}{
		{
			name:  "a worker that left the inventory is drained, leaves on its own engine and is removed",
			world: func() *world { w := converged(testInv()); w.extra("w3", "worker", "ready", false); return w },
			want:  []string{"remove node w3 (leave)"},
		},
		{
			name:     "without prune a shoal node outside the inventory is only reported",
			world:    func() *world { w := converged(testInv()); w.extra("w3", "worker", "ready", false); return w },
			noPrune:  true,
			wantWarn: "w3 (worker, ready)",
		},
		{
			name: "two managers that left the inventory are demoted and removed one at a time (5 to 3)",
			world: func() *world {
				w := converged(testInv())
				w.extra("m5", "manager", "ready", false)
				w.extra("m4", "manager", "ready", false)
				return w
			},
			want: []string{"remove node m4 (demote, leave)", "remove node m5 (demote, leave)"},
		},
		{
			name: "removing a manager that would leave the reachable managers without a majority is refused",
			world: func() *world {
				w := converged(testInv())
				for _, n := range []string{"m2", "m3"} {
					w.setMember(n, func(m *Member) { m.State = "down"; m.Reachability = "unreachable" })
					w.unreachable(n)
				}
				w.extra("m4", "manager", "ready", false)
				w.extra("m5", "manager", "ready", false)
				return w
			},
			wantErr: "2 of 4 managers reachable, 3 needed",
		},
		{
			name:     "an unreachable departing worker is removed by force without leaving",
			world:    func() *world { w := converged(testInv()); w.extra("w3", "worker", "ready", true); return w },
			want:     []string{"remove node w3 (force)"},
			wantWarn: "w3 is removed from the swarm without `swarm leave`",
		},
		{
			name: "a departing host that runs no swarm any more leaves only a down entry to remove",
			world: func() *world {
				w := converged(testInv())
				w.extra("w3", "worker", "down", false)
				w.obs.Departing["w3"] = HostState{Reachable: true, Local: LocalInactive}
				return w
			},
			want: []string{"remove node w3 ()"},
		},
		{
			name: "removals come after joins and labels, workers and lost managers first",
			world: func() *world {
				inv := testInv()
				w := fresh(inv)
				w.obs.Swarm = &SwarmInfo{ID: "swarm-1", Name: "lab", DataPathPort: 4789}
				w.obs.Via = "m1"
				for _, n := range []string{"m1", "m2", "m3", "w1"} {
					nd, _ := inv.Node(n)
					w.member(n, nd.Role, "ready")
				}
				w.extra("m5", "manager", "ready", false)
				w.extra("m4", "manager", "down", true)
				w.extra("w9", "worker", "ready", false)
				return w
			},
			want: []string{"join as worker w2", "set labels w2", "remove node w9 (leave)", "remove node m4 (demote, force)", "remove node m5 (demote, leave)"},
		},
		{
			name: "a member without the shoal.node label is left alone even when pruning",
			world: func() *world {
				w := converged(testInv())
				w.obs.Members = append(w.obs.Members, Member{ID: "zz", Hostname: "legacy", Role: "worker", State: "ready"})
				return w
			},
			wantWarn: "without a shoal.node label are left alone: legacy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world()
			p, err := ComputeWith(w.inv, w.obs, ComputeOptions{Prune: !tt.noPrune})
			if tt.wantErr != "" {
				var qe *QuorumError
				if !errors.As(err, &qe) {
					t.Fatalf("error %v is not a *QuorumError; plan %q", err, renderRemovals(p))
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(renderRemovals(p), "; "); got != strings.Join(tt.want, "; ") {
				t.Errorf("steps:\n got %s\nwant %s", got, strings.Join(tt.want, "; "))
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tt.wantWarn) {
				t.Errorf("warnings %q lack %q", p.Warnings, tt.wantWarn)
			}
			for _, s := range p.Steps {
				if s.Action == Remove && !s.Destructive() {
					t.Errorf("%s is not destructive", s)
				}
			}
		})
	}
}

// A partial inventory (JoinNode's: the managers and the joining node)
// neither warns about the members it leaves out nor plans anything for
// them; a full one reports them.
func TestComputePartialInventoryDoesNotWarnAboutTheRest(t *testing.T) {
	for _, partial := range []bool{false, true} {
		w := converged(testInv())
		w.extra("w3", "worker", "ready", false)
		p, err := ComputeWith(w.inv, w.obs, ComputeOptions{Partial: partial})
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(strings.Join(p.Warnings, "\n"), "w3 (worker, ready)")
		if warned == partial {
			t.Errorf("partial %v: warnings %q (w3 reported: %v)", partial, p.Warnings, warned)
		}
		if !p.Empty() {
			t.Errorf("partial %v: steps %v, want none", partial, p.Steps)
		}
	}
}
