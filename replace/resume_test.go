package replace

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// unlist drops the named entries from the inventory (a lab's inventory
// has the successor in NAME's place; a plain one lists NAME only).
func unlist(inv *inventory.Inventory, names ...string) {
	inv.Nodes = slices.DeleteFunc(inv.Nodes, func(n inventory.Node) bool { return slices.Contains(names, n.Name) })
}

// member is the observed member of the named node, to change it.
func member(obs swarm.Observed, name string) *swarm.Member {
	for i := range obs.Members {
		if memberName(obs.Members[i]) == name {
			return &obs.Members[i]
		}
	}
	return nil
}

func TestComputeResumesAfterAStoppedRun(t *testing.T) {
	tests := []struct {
		name      string
		nodes     []node
		unlisted  []string // entries not in the inventory
		change    func(obs swarm.Observed)
		req       Request
		wantSteps []string
		wantNew   Node
		wantTexts []string
	}{
		{
			name: "a lab worker: its successor joined and is Ready; the plan takes it over and goes on from the drain",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "w2", role: "worker", hoster: "b", labels: map[string]string{"disk": "ssd"}},
				{name: "w2-r1", role: "worker", hoster: "b", labels: map[string]string{"disk": "ssd"}},
			},
			unlisted:  []string{"w2"}, // the lab's join put w2-r1 in its place
			change:    func(obs swarm.Observed) { member(obs, "w2").Availability = "drain" },
			req:       Request{Node: "w2", Source: SourceLab},
			wantSteps: []string{"resume w2-r1", "drain w2", "wait tasks moved w2", "remove w2", "delete server w2"},
			wantNew:   Node{Name: "w2-r1", Role: "worker", Hoster: "b", Region: "b-1", Labels: map[string]string{"disk": "ssd"}},
			wantTexts: []string{"resume with w2-r1 (worker at b/b-1, Ready, joined beside w2 by an earlier run): no new server, no join"},
		},
		{
			name: "a lab manager: the successor counts as a reachable manager from the resume step; the managers end as many as before",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "m1-r1", role: "manager", hoster: "d"},
			},
			unlisted:  []string{"m1"},
			req:       Request{Node: "m1", Source: SourceLab, Hoster: "d"},
			wantSteps: []string{"resume m1-r1", "drain m1", "wait tasks moved m1", "demote m1", "remove m1", "delete server m1"},
			wantNew:   Node{Name: "m1-r1", Role: "manager", Hoster: "d", Region: "d-1"},
		},
		{
			name: "a plain inventory lists NAME only (its file is not written): the successor is taken over at the --address given",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "w1", role: "worker", hoster: "a"}, {name: "w1-r1", role: "worker", hoster: "a"},
			},
			unlisted:  []string{"w1-r1"},
			req:       Request{Node: "w1", Source: SourceInventory, Address: "203.0.113.9"},
			wantSteps: []string{"resume w1-r1", "drain w1", "wait tasks moved w1", "remove w1"},
			wantNew:   Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1", Address: "203.0.113.9"},
		},
		{
			name: "a node replaced before (w1-r1) resumes with its successor w1-r2",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "w1-r1", role: "worker", hoster: "a"}, {name: "w1-r2", role: "worker", hoster: "a"},
			},
			unlisted:  []string{"w1-r1"},
			req:       Request{Node: "w1-r1", Source: SourceLab},
			wantSteps: []string{"resume w1-r2", "drain w1-r1", "wait tasks moved w1-r1", "remove w1-r1", "delete server w1-r1"},
			wantNew:   Node{Name: "w1-r2", Role: "worker", Hoster: "a", Region: "a-1"},
		},
		{
			name: "a node the inventory lists beside NAME is a node of its own, not a successor: a new one is named",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "w1", role: "worker", hoster: "a"}, {name: "w1-r1", role: "worker", hoster: "a"},
			},
			req:       Request{Node: "w1", Source: SourceLab},
			wantSteps: []string{"create server w1-r2", "join w1-r2", "wait ready w1-r2", "drain w1", "wait tasks moved w1", "remove w1", "delete server w1"},
			wantNew:   Node{Name: "w1-r2", Role: "worker", Hoster: "a", Region: "a-1"},
		},
		{
			name: "names that only look alike are no successors (w10, w1-r1x, w1-rr)",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"},
				{name: "w1", role: "worker", hoster: "a"}, {name: "w10", role: "worker", hoster: "a"}, {name: "w1-r1x", role: "worker", hoster: "a"},
				{name: "w1-rr", role: "worker", hoster: "a"},
			},
			unlisted:  []string{"w10", "w1-r1x", "w1-rr"},
			req:       Request{Node: "w1", Source: SourceLab},
			wantSteps: []string{"create server w1-r1", "join w1-r1", "wait ready w1-r1", "drain w1", "wait tasks moved w1", "remove w1", "delete server w1"},
			wantNew:   Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, obs := observed(tt.nodes...)
			unlist(inv, tt.unlisted...)
			if tt.change != nil {
				tt.change(obs)
			}
			p, err := Compute(inv, obs, tt.req)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if got := kinds(p); strings.Join(got, "; ") != strings.Join(tt.wantSteps, "; ") {
				t.Errorf("steps:\n got %q\nwant %q", got, tt.wantSteps)
			}
			wantResumed := tt.wantSteps[0] == "resume "+tt.wantNew.Name
			if p.Resumed != wantResumed {
				t.Errorf("resumed = %v, want %v", p.Resumed, wantResumed)
			}
			n := p.New
			if n.Name != tt.wantNew.Name || n.Role != tt.wantNew.Role || n.Hoster != tt.wantNew.Hoster || n.Region != tt.wantNew.Region ||
				(tt.wantNew.Address != "" && n.Address != tt.wantNew.Address) {
				t.Errorf("new node = %+v, want %+v", n, tt.wantNew)
			}
			if len(n.Labels) != len(tt.wantNew.Labels) {
				t.Errorf("new node labels = %v, want %v", n.Labels, tt.wantNew.Labels)
			}
			for i, want := range tt.wantTexts {
				if !strings.Contains(p.Steps[i].Text, want) {
					t.Errorf("step %d = %q, want it to contain %q", i+1, p.Steps[i].Text, want)
				}
			}
			if !strings.Contains(p.Next, "run the same `shoal node replace "+tt.req.Node+"` again") {
				t.Errorf("next = %q, want it to say the command resumes", p.Next)
			}
		})
	}
}

func TestComputeRefusesToResume(t *testing.T) {
	three := []node{{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"}}
	with := func(extra ...node) []node { return append(slices.Clone(three), extra...) }
	tests := []struct {
		name     string
		nodes    []node
		unlisted []string
		change   func(obs swarm.Observed)
		req      Request
		wantMsg  []string
		wantRule string // a *RefusedError by this rule instead of a *ResumeError
		wantStep int
	}{
		{
			name:     "the successor is not Ready",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "worker", hoster: "a", down: true}),
			unlisted: []string{"w1"},
			req:      Request{Node: "w1", Source: SourceLab},
			wantMsg:  []string{"refusing to resume the replacement of w1 by w1-r1", "it is not Ready (state down)", "bring it back", "docker node rm --force w1-r1", "nothing was changed"},
		},
		{
			name:     "the successor has another role",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "manager", hoster: "d"}),
			unlisted: []string{"w1"},
			req:      Request{Node: "w1", Source: SourceLab},
			wantMsg:  []string{"it is a manager, w1 is a worker", "`docker node demote w1-r1`"},
		},
		{
			name:     "the successor is drained",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "worker", hoster: "a"}),
			unlisted: []string{"w1"},
			change:   func(obs swarm.Observed) { member(obs, "w1-r1").Availability = "drain" },
			req:      Request{Node: "w1", Source: SourceLab},
			wantMsg:  []string{"its availability is drain", "docker node update --availability active w1-r1"},
		},
		{
			name:     "a manager successor raft does not reach",
			nodes:    with(node{name: "m1-r1", role: "manager", hoster: "d"}),
			unlisted: []string{"m1"},
			change:   func(obs swarm.Observed) { member(obs, "m1-r1").Reachability = "unreachable" },
			req:      Request{Node: "m1", Source: SourceLab},
			wantMsg:  []string{"it is a manager raft does not reach (unreachable)"},
		},
		{
			name:     "the successor runs at another hoster than --hoster",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "worker", hoster: "a"}),
			unlisted: []string{"w1"},
			req:      Request{Node: "w1", Source: SourceLab, Hoster: "d"},
			wantMsg:  []string{"it runs at hoster a, not at --hoster d", "drop --hoster"},
		},
		{
			name:     "two successors: which one is not clear",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "worker", hoster: "a"}, node{name: "w1-r2", role: "worker", hoster: "a"}),
			unlisted: []string{"w1", "w1-r1"},
			req:      Request{Node: "w1", Source: SourceLab},
			wantMsg:  []string{"by w1-r1, w1-r2", "several successors", "keep one"},
		},
		{
			name:     "the hoster rule holds on the resumed plan: the successor at m2's hoster would give it 2 of 3 managers",
			nodes:    with(node{name: "m1-r1", role: "manager", hoster: "b"}),
			unlisted: []string{"m1"},
			req:      Request{Node: "m1", Source: SourceLab},
			wantRule: RuleHoster, wantStep: 4,
			wantMsg: []string{`step 4/6 "demote m1"`, "hoster b would hold 2 of 3 managers"},
		},
		{
			name:     "the quorum rule holds on the resumed plan: without quorum nothing changes",
			nodes:    with(node{name: "w1", role: "worker", hoster: "a"}, node{name: "w1-r1", role: "worker", hoster: "a"}),
			unlisted: []string{"w1"},
			change: func(obs swarm.Observed) {
				for _, n := range []string{"m2", "m3"} {
					member(obs, n).Reachability, member(obs, n).State = "unreachable", "down"
				}
			},
			req:      Request{Node: "w1", Source: SourceLab},
			wantRule: RuleQuorum, wantStep: 0,
			wantMsg: []string{"1 of 3 managers are reachable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, obs := observed(tt.nodes...)
			unlist(inv, tt.unlisted...)
			if tt.change != nil {
				tt.change(obs)
			}
			_, err := Compute(inv, obs, tt.req)
			if tt.wantRule != "" {
				var re *RefusedError
				if !errors.As(err, &re) || re.Rule != tt.wantRule || re.Step != tt.wantStep {
					t.Fatalf("Compute err = %v, want a *RefusedError by %q at step %d", err, tt.wantRule, tt.wantStep)
				}
			} else {
				var re *ResumeError
				if !errors.As(err, &re) || re.Node != tt.req.Node {
					t.Fatalf("Compute err = %v, want a *ResumeError for %s", err, tt.req.Node)
				}
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestIsSuccessorName(t *testing.T) {
	for _, tt := range []struct {
		old, name string
		want      bool
	}{
		{"w1", "w1-r1", true},
		{"w1", "w1-r12", true},
		{"w1-r1", "w1-r2", true},
		{"w1-r3", "w1-r1", true},
		{"w1", "w1", false},
		{"w1", "w10", false},
		{"w1", "w1-r", false},
		{"w1", "w1-r1x", false},
		{"w1", "w1-r1-r1", false},
		{"w1", "w2-r1", false},
		{"w1-r1", "w1", false},
	} {
		if got := IsSuccessorName(tt.old, tt.name); got != tt.want {
			t.Errorf("IsSuccessorName(%q, %q) = %v, want %v", tt.old, tt.name, got, tt.want)
		}
	}
}
