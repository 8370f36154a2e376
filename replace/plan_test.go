package replace

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// node is one swarm member for a test: name, role, hoster, reachable.
type node struct {
	name, role, hoster string
	down               bool
	labels             map[string]string
}

func observed(nodes ...node) (*inventory.Inventory, swarm.Observed) {
	inv := &inventory.Inventory{Cluster: inventory.Cluster{Name: "t"}}
	var obs swarm.Observed
	for i, n := range nodes {
		labels := map[string]string{swarm.LabelNode: n.name, swarm.LabelHoster: n.hoster, swarm.LabelRegion: n.hoster + "-1", swarm.LabelManaged: ""}
		for k, v := range n.labels {
			labels[k] = v
		}
		m := swarm.Member{ID: "id-" + n.name, Hostname: "host-" + n.name, Role: n.role, State: "ready", Availability: "active",
			Addr: "10.0.0." + string(rune('1'+i)), Labels: labels}
		if n.down {
			m.State = "down"
		}
		if n.role == "manager" {
			m.Reachability = "reachable"
			if n.down {
				m.Reachability = "unreachable"
			}
		}
		obs.Members = append(obs.Members, m)
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.name, Address: m.Addr, Role: n.role, Hoster: n.hoster, Region: n.hoster + "-1"})
	}
	return inv, obs
}

func kinds(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, string(s.Kind)+" "+s.Node)
	}
	return out
}

func TestCompute(t *testing.T) {
	threeOnThree := []node{
		{name: "m1", role: "manager", hoster: "a"},
		{name: "m2", role: "manager", hoster: "b"},
		{name: "m3", role: "manager", hoster: "c"},
		{name: "w1", role: "worker", hoster: "a", labels: map[string]string{"disk": "ssd"}},
	}
	tests := []struct {
		name      string
		nodes     []node
		req       Request
		wantSteps []string
		wantNew   Node
		wantTexts []string // substrings of the steps' texts, in order
		wantNotes int
	}{
		{
			name:  "a manager is replaced in a lab: the new one joins and is Ready before the old one is demoted",
			nodes: threeOnThree,
			req:   Request{Node: "m1", Source: SourceLab},
			wantSteps: []string{"create server m1-r1", "join m1-r1", "wait ready m1-r1", "drain m1", "wait tasks moved m1",
				"demote m1", "remove m1", "delete server m1"},
			wantNew:   Node{Name: "m1-r1", Role: "manager", Hoster: "a", Region: "a-1"},
			wantTexts: []string{"create server m1-r1 at a/a-1 (lab)", "join m1-r1 (a/a-1) as manager with no labels"},
		},
		{
			name:  "a worker is replaced in a lab with its labels and without a demote",
			nodes: threeOnThree,
			req:   Request{Node: "w1", Source: SourceLab},
			wantSteps: []string{"create server w1-r1", "join w1-r1", "wait ready w1-r1", "drain w1", "wait tasks moved w1",
				"remove w1", "delete server w1"},
			wantNew:   Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1", Labels: map[string]string{"disk": "ssd"}},
			wantTexts: []string{"", "join w1-r1 (a/a-1) as worker with labels disk=ssd"},
		},
		{
			name:  "a manager moves to another hoster that holds no manager yet",
			nodes: threeOnThree,
			req:   Request{Node: "m1", Source: SourceLab, Hoster: "d"},
			wantSteps: []string{"create server m1-r1", "join m1-r1", "wait ready m1-r1", "drain m1", "wait tasks moved m1",
				"demote m1", "remove m1", "delete server m1"},
			wantNew:   Node{Name: "m1-r1", Role: "manager", Hoster: "d"},
			wantTexts: []string{"create server m1-r1 at d (lab)"},
		},
		{
			name:  "a node of a plain inventory is replaced by the server at --address; creating and deleting servers is left to the operator",
			nodes: threeOnThree,
			req:   Request{Node: "m2", Source: SourceInventory, Address: "203.0.113.9"},
			wantSteps: []string{"join m2-r1", "wait ready m2-r1", "drain m2", "wait tasks moved m2",
				"demote m2", "remove m2"},
			wantNew:   Node{Name: "m2-r1", Role: "manager", Hoster: "b", Region: "b-1", Address: "203.0.113.9"},
			wantTexts: []string{"join m2-r1 (b/b-1 203.0.113.9) as manager"},
			wantNotes: 2,
		},
		{
			name:  "a worker of a `shoal up` stack: one program run creates and joins the successor, another deletes the old server",
			nodes: threeOnThree,
			req:   Request{Node: "w1", Source: SourceStack, Stack: "prod", Type: "cx32"},
			wantSteps: []string{"join w1-r1", "wait ready w1-r1", "drain w1", "wait tasks moved w1",
				"remove w1", "delete server w1"},
			wantNew: Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1", Labels: map[string]string{"disk": "ssd"}},
			wantTexts: []string{"create server w1-r1 at a/a-1 type cx32 and join it as worker with labels disk=ssd (pulumi up of stack prod: w1-r1 listed beside w1, which keeps its server)",
				"", "", "", "", "delete the server of w1 (pulumi up of stack prod: w1-r1 in its place)"},
		},
		{
			name:  "a stack's replacement resumed: the join step makes sure the earlier run's successor is there, it does not say it creates one",
			nodes: threeOnThree,
			req:   Request{Node: "w1", Source: SourceStack, Stack: "prod", Successor: "w1-r1"},
			wantSteps: []string{"join w1-r1", "wait ready w1-r1", "drain w1", "wait tasks moved w1",
				"remove w1", "delete server w1"},
			wantNew:   Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1", Labels: map[string]string{"disk": "ssd"}},
			wantTexts: []string{"make sure server w1-r1 at a/a-1, deployed beside w1 by an earlier run, is there and joined as worker with labels disk=ssd (pulumi up of stack prod: no change when it is)"},
		},
		{
			name:  "a manager of a `shoal up` stack joins as a worker and is promoted in the join step",
			nodes: threeOnThree,
			req:   Request{Node: "m2", Source: SourceStack, Stack: "prod"},
			wantSteps: []string{"join m2-r1", "wait ready m2-r1", "drain m2", "wait tasks moved m2",
				"demote m2", "remove m2", "delete server m2"},
			wantNew:   Node{Name: "m2-r1", Role: "manager", Hoster: "b", Region: "b-1"},
			wantTexts: []string{"create server m2-r1 at b/b-1 and join it as manager with no labels (pulumi up of stack prod: m2-r1 listed beside m2, which keeps its server; it joins as a worker and is promoted)"},
		},
		{
			name: "a node replaced before is followed by -r2, not -r1-r1",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"},
				{name: "m2", role: "manager", hoster: "b"},
				{name: "m3", role: "manager", hoster: "c"},
				{name: "w1-r1", role: "worker", hoster: "a"},
			},
			req:       Request{Node: "w1-r1", Source: SourceLab},
			wantSteps: []string{"create server w1-r2", "join w1-r2", "wait ready w1-r2", "drain w1-r1", "wait tasks moved w1-r1", "remove w1-r1", "delete server w1-r1"},
			wantNew:   Node{Name: "w1-r2", Role: "worker", Hoster: "a", Region: "a-1"},
		},
		{
			name: "a worker is replaced while a manager is down: no manager count changes",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"},
				{name: "m2", role: "manager", hoster: "b"},
				{name: "m3", role: "manager", hoster: "c", down: true},
				{name: "w1", role: "worker", hoster: "a"},
			},
			req:       Request{Node: "w1", Source: SourceLab},
			wantSteps: []string{"create server w1-r1", "join w1-r1", "wait ready w1-r1", "drain w1", "wait tasks moved w1", "remove w1", "delete server w1"},
			wantNew:   Node{Name: "w1-r1", Role: "worker", Hoster: "a", Region: "a-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, obs := observed(tt.nodes...)
			p, err := Compute(inv, obs, tt.req)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if got := kinds(p); strings.Join(got, "; ") != strings.Join(tt.wantSteps, "; ") {
				t.Errorf("steps:\n got %q\nwant %q", got, tt.wantSteps)
			}
			n := p.New
			if n.Name != tt.wantNew.Name || n.Role != tt.wantNew.Role || n.Hoster != tt.wantNew.Hoster || n.Region != tt.wantNew.Region || n.Address != tt.wantNew.Address {
				t.Errorf("new node = %+v, want %+v", n, tt.wantNew)
			}
			if len(n.Labels) != len(tt.wantNew.Labels) {
				t.Errorf("new node labels = %v, want %v (shoal's own labels are not copied)", n.Labels, tt.wantNew.Labels)
			}
			for k, v := range tt.wantNew.Labels {
				if n.Labels[k] != v {
					t.Errorf("new node label %s = %q, want %q", k, n.Labels[k], v)
				}
			}
			for i, want := range tt.wantTexts {
				if want != "" && !strings.Contains(p.Steps[i].Text, want) {
					t.Errorf("step %d = %q, want it to contain %q", i+1, p.Steps[i].Text, want)
				}
			}
			if len(p.Notes) != tt.wantNotes {
				t.Errorf("notes = %q, want %d", p.Notes, tt.wantNotes)
			}
		})
	}
}

func TestComputeRefuses(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []node
		req      Request
		wantRule string
		wantStep int
		wantMsg  []string
	}{
		{
			name: "quorum cannot spare it: with one of three managers down, a fourth joining leaves 2 of 4 reachable",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"},
				{name: "m2", role: "manager", hoster: "b"},
				{name: "m3", role: "manager", hoster: "c", down: true},
			},
			req:      Request{Node: "m1", Source: SourceLab},
			wantRule: RuleQuorum, wantStep: 2,
			wantMsg: []string{`step 2/8 "join m1-r1 (a/a-1) as manager with no labels"`, "2 of 4 managers would be reachable, quorum needs 3", "unreachable now: m3", "nothing was changed"},
		},
		{
			name: "a single manager cannot be replaced: while its successor joins, 1 of 2 is no majority",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"},
				{name: "w1", role: "worker", hoster: "b"},
			},
			req:      Request{Node: "m1", Source: SourceLab},
			wantRule: RuleQuorum, wantStep: 2,
			wantMsg: []string{"1 of 2 managers would be reachable, quorum needs 2"},
		},
		{
			name: "a swarm without quorum is refused before the first step",
			nodes: []node{
				{name: "m1", role: "manager", hoster: "a"},
				{name: "m2", role: "manager", hoster: "b", down: true},
				{name: "m3", role: "manager", hoster: "c", down: true},
				{name: "w1", role: "worker", hoster: "a"},
			},
			req:      Request{Node: "w1", Source: SourceLab},
			wantRule: RuleQuorum, wantStep: 0,
			wantMsg: []string{"before the first step", "1 of 3 managers are reachable, quorum needs 2"},
		},
		{
			name:  "the hoster rule would break: moving m1 to the hoster of m2 gives it 2 of 3 managers",
			nodes: []node{{name: "m1", role: "manager", hoster: "a"}, {name: "m2", role: "manager", hoster: "b"}, {name: "m3", role: "manager", hoster: "c"}},
			req:   Request{Node: "m1", Source: SourceLab, Hoster: "b"},
			// join: b holds 2 of 4 (no majority); demote m1: b holds 2 of 3.
			wantRule: RuleHoster, wantStep: 6,
			wantMsg: []string{`step 6/8 "demote m1"`, "hoster b would hold 2 of 3 managers, a majority", "pick another --hoster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, obs := observed(tt.nodes...)
			_, err := Compute(inv, obs, tt.req)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Compute err = %v, want a *RefusedError", err)
			}
			if re.Rule != tt.wantRule || re.Step != tt.wantStep {
				t.Errorf("refused at step %d by %q, want step %d by %q (%v)", re.Step, re.Rule, tt.wantStep, tt.wantRule, err)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestComputeBadRequest(t *testing.T) {
	inv, obs := observed(
		node{name: "m1", role: "manager", hoster: "a"},
		node{name: "m2", role: "manager", hoster: "b"},
		node{name: "m3", role: "manager", hoster: "c"},
		node{name: "w1", role: "worker", hoster: "a"},
	)
	inv.Nodes = append(inv.Nodes, inventory.Node{Name: "w2", Address: "10.0.0.9", Role: "worker", Hoster: "b"})
	tests := []struct {
		name      string
		req       Request
		wantField string // a *RequestError on this field, or "" for an *UnknownNodeError
		wantMsg   []string
	}{
		{"an unknown node is named with the nearest name", Request{Node: "m4", Source: SourceLab}, "",
			[]string{"the swarm has no node m4: did you mean m1?", "(nodes: m1, m2, m3, w1)"}},
		{"a name far from every node gets the list only", Request{Node: "database", Source: SourceLab}, "",
			[]string{"the swarm has no node database (nodes: m1, m2, m3, w1)"}},
		{"a node of the inventory that is not in the swarm points at bootstrap", Request{Node: "w2", Source: SourceLab}, "",
			[]string{"the swarm has no node w2 (the inventory lists it", "`shoal bootstrap` joins it"}},
		{"a plain inventory needs --address", Request{Node: "w1", Source: SourceInventory}, "--address", []string{"--address is required"}},
		{"a lab takes no --address", Request{Node: "w1", Source: SourceLab, Address: "10.1.1.1"}, "--address", []string{"not used for a lab"}},
		{"an empty name is refused", Request{Source: SourceLab}, "NAME", []string{"name the node to replace"}},
		{"--type is for stacks", Request{Node: "w1", Source: SourceLab, Type: "cx32"}, "--type", []string{"--type is for `shoal up` stacks"}},
		{"a stack takes no --address", Request{Node: "w1", Source: SourceStack, Address: "10.1.1.1"}, "--address", []string{"not used for a `shoal up` stack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(inv, obs, tt.req)
			if tt.wantField != "" {
				var re *RequestError
				if !errors.As(err, &re) || re.Field != tt.wantField {
					t.Fatalf("err = %v, want a *RequestError on %s", err, tt.wantField)
				}
			} else {
				var ue *UnknownNodeError
				if !errors.As(err, &ue) || ue.Name != tt.req.Node {
					t.Fatalf("err = %v, want an *UnknownNodeError naming %s", err, tt.req.Node)
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

// TestCheckCatchesAWrongOrder proves that the rules bite on the order of
// the steps, not only on the layout: demoting a manager before its
// successor is Ready leaves fewer reachable managers than before.
func TestCheckCatchesAWrongOrder(t *testing.T) {
	inv, obs := observed(
		node{name: "m1", role: "manager", hoster: "a"},
		node{name: "m2", role: "manager", hoster: "b"},
		node{name: "m3", role: "manager", hoster: "c"},
	)
	p, err := Compute(inv, obs, Request{Node: "m1", Source: SourceLab})
	if err != nil {
		t.Fatal(err)
	}
	// Move "demote m1" (step 6) to the front.
	var demote Step
	var rest []Step
	for _, s := range p.Steps {
		if s.Kind == Demote {
			demote = s
		} else {
			rest = append(rest, s)
		}
	}
	p.Steps = append([]Step{demote}, rest...)
	err = check(layoutOf(inv, obs), p)
	var re *RefusedError
	if !errors.As(err, &re) || re.Rule != RuleFewer || re.Step != 1 {
		t.Fatalf("check = %v, want step 1 refused by %q", err, RuleFewer)
	}
}

// A stack's replacement resumed: the successor an earlier run deployed is
// in the swarm already (here promoted); the plan keeps its name and is
// checked from the layout it joins, so it is not refused for ending with
// one manager fewer than the swarm has now.
func TestComputeResumesAStackReplacement(t *testing.T) {
	inv, obs := observed(
		node{name: "m1", role: "manager", hoster: "a"},
		node{name: "m2", role: "manager", hoster: "b"},
		node{name: "m3", role: "manager", hoster: "c"},
		node{name: "m2-r1", role: "manager", hoster: "b"},
	)
	p, err := Compute(inv, obs, Request{Node: "m2", Source: SourceStack, Stack: "prod", Successor: "m2-r1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.New.Name != "m2-r1" || len(p.Steps) != 7 {
		t.Errorf("plan %+v", p)
	}
	if !strings.Contains(p.Next, "run `shoal node replace m2 --stack prod` again") {
		t.Errorf("next = %q", p.Next)
	}
	msg := (&StepError{Step: 3, Steps: 7, Action: "drain m2", Err: errors.New("boom"), Next: p.Next}).Error()
	if !strings.Contains(msg, "next: run `shoal node replace m2 --stack prod` again") {
		t.Errorf("step error %q does not say how to resume", msg)
	}

	f := Finish(Request{Node: "m2", Source: SourceStack, Stack: "prod"}, "m2-r1")
	if len(f.Steps) != 1 || f.Steps[0].Kind != DeleteServer || f.Steps[0].Node != "m2" ||
		!strings.Contains(f.Steps[0].Text, "delete the server of m2 (pulumi up of stack prod: m2-r1 in its place; m2 has left the swarm already)") {
		t.Errorf("finish plan %+v", f)
	}
}
