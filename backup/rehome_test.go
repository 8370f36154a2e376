package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

func threeTwo(addr string) *inventory.Inventory {
	inv := &inventory.Inventory{Path: "new.yaml", Cluster: inventory.Cluster{Name: "prod"}}
	for i, n := range []struct{ name, role, hoster string }{
		{"m1", "manager", "a"}, {"m2", "manager", "b"}, {"m3", "manager", "c"}, {"w1", "worker", "a"}, {"w2", "worker", "b"},
	} {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.name, Role: n.role, Hoster: n.hoster, Address: addr + string(rune('1'+i))})
	}
	return inv
}

func TestCheckTargetNamesTheFieldThatDiffers(t *testing.T) {
	old := threeTwo("10.0.0.")
	for _, c := range []struct {
		name   string
		change func(*inventory.Inventory)
		want   string // "" = accepted
	}{
		{"other addresses and ssh", func(inv *inventory.Inventory) { inv.SSH.User = "ops" }, ""},
		{"cluster name", func(inv *inventory.Inventory) { inv.Cluster.Name = "staging" }, `new.yaml: cluster.name is "staging", the backup's is "prod"`},
		{"role", func(inv *inventory.Inventory) { inv.Nodes[3].Role = "manager" }, "new.yaml: node w1: role is manager, the backup's is worker"},
		{"hoster", func(inv *inventory.Inventory) { inv.Nodes[1].Hoster = "z" }, "new.yaml: node m2: hoster is z, the backup's is b"},
		{"missing node", func(inv *inventory.Inventory) { inv.Nodes = inv.Nodes[:4] }, "new.yaml: nodes: no node w2 (the backup's inventory has w2, worker at b)"},
		{"renamed node", func(inv *inventory.Inventory) { inv.Nodes[4].Name = "w9" }, "new.yaml: nodes: no node w2"},
		{"extra node", func(inv *inventory.Inventory) {
			inv.Nodes = append(inv.Nodes, inventory.Node{Name: "w3", Role: "worker", Hoster: "c", Address: "192.0.2.9"})
		}, "new.yaml: node w3: the backup's inventory has no such node"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := threeTwo("192.0.2.")
			c.change(tgt)
			err := CheckTarget(old, tgt)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want it to say %q", err, c.want)
			}
		})
	}
}

func TestPlanRehomeMovesOnlyAStaleAddressWithTheFirstOtherManager(t *testing.T) {
	inv := threeTwo("192.0.2.")
	r := PlanRehome(inv, "m2", "10.0.0.2:2377", "192.0.2.2")
	if !r.Needed || r.Helper != "m1" || r.HelperIsWorker || r.Old != "10.0.0.2:2377" || r.New != "192.0.2.2:2377" {
		t.Fatalf("got %+v, want m1 helping move 10.0.0.2:2377 to 192.0.2.2:2377", r)
	}
	if got := r.Steps(); len(got) != 4 || !strings.Contains(got[0], "on m1 only") || !strings.Contains(got[2], "demote m2 (leadership moves to m1)") || !strings.Contains(got[3], "remove the DNAT rule from m1") {
		t.Errorf("steps: %q", got)
	}
	// The restored manager is m1: the helper is the next manager.
	if r := PlanRehome(inv, "m1", "10.0.0.1", "192.0.2.1"); r.Helper != "m2" {
		t.Errorf("restored m1: helper %s, want m2", r.Helper)
	}
	// Same address (also written differently): nothing to do.
	for _, adv := range []string{"192.0.2.2", "192.0.2.2:2377"} {
		if r := PlanRehome(inv, "m2", "192.0.2.2:2377", adv); r.Needed || r.Steps() != nil || !strings.Contains(r.Why, "its own already") {
			t.Errorf("advertise %s: got %+v, want nothing to move", adv, r)
		}
	}
	// Not known yet (a lab's plan): needed, in words.
	if r := PlanRehome(inv, "m2", "10.0.0.2", ""); !r.Needed || !strings.Contains(r.Steps()[0], "to its new address") {
		t.Errorf("unknown new address: %+v %q", r, r.Steps())
	}
}

func TestPlanRehomeBorrowsAWorkerWhenThereIsOneManager(t *testing.T) {
	inv := threeTwo("192.0.2.")
	inv.Nodes = slices.DeleteFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == "m1" || n.Name == "m3" })
	r := PlanRehome(inv, "m2", "10.0.0.2", "192.0.2.2")
	if !r.Needed || r.Helper != "w1" || !r.HelperIsWorker {
		t.Fatalf("got %+v, want w1 borrowed as a manager", r)
	}
	if s := r.Steps(); len(s) != 5 || !strings.Contains(s[4], "demote w1 back to the worker it is") {
		t.Errorf("steps: %q", s)
	}
	inv.Nodes = inv.Nodes[:1]
	if r := PlanRehome(inv, "m2", "10.0.0.2", "192.0.2.2"); r.Needed || !strings.Contains(r.Why, "only node") {
		t.Errorf("one node: got %+v, want not done, saying why", r)
	}
}

func TestDNATCmdAddsOnceAndRemovesEveryCopy(t *testing.T) {
	r := Rehome{Old: "10.0.0.2:2377", New: "192.0.2.2:2377"}
	rule := "OUTPUT -d 10.0.0.2 -p tcp --dport 2377 -j DNAT --to-destination 192.0.2.2:2377"
	add, del := r.DNATCmd(true), r.DNATCmd(false)
	if !add.Sudo || !del.Sudo {
		t.Errorf("not through sudo: %+v %+v", add, del)
	}
	if !strings.Contains(add.Script, "iptables -t nat -C "+rule+" 2>/dev/null || iptables -t nat -I "+rule) {
		t.Errorf("add: %s", add.Script)
	}
	if !strings.Contains(del.Script, "while iptables -t nat -D "+rule+" 2>/dev/null; do :; done; true") {
		t.Errorf("remove: %s", del.Script)
	}
}

func TestStaleRaftAddrsNamesManagersNotAtANewAddress(t *testing.T) {
	mgr := func(name, addr string) swarmtypes.Node {
		return swarmtypes.Node{ID: "id-" + name, Spec: swarmtypes.NodeSpec{Annotations: swarmtypes.Annotations{Labels: map[string]string{"shoal.node": name}}},
			ManagerStatus: &swarmtypes.ManagerStatus{Addr: addr}}
	}
	nodes := []swarmtypes.Node{mgr("m1", "192.0.2.1:2377"), mgr("m2", "10.0.0.2:2377"), {ID: "w1"}}
	got := StaleRaftAddrs(nodes, []string{"192.0.2.1", "192.0.2.2:2377"})
	if len(got) != 1 || got[0] != "m2 at 10.0.0.2:2377" {
		t.Errorf("got %q, want m2 only", got)
	}
}

// rehomeRecorder records RehomeExec calls and fails the one named fail.
type rehomeRecorder struct {
	calls []string
	fail  string
}

func (r *rehomeRecorder) do(call string) error {
	r.calls = append(r.calls, call)
	if call == r.fail {
		return errors.New("boom")
	}
	return nil
}
func (r *rehomeRecorder) AddRule(context.Context) error    { return r.do("add-rule") }
func (r *rehomeRecorder) RemoveRule(context.Context) error { return r.do("remove-rule") }
func (r *rehomeRecorder) JoinHelper(context.Context) error { return r.do("join-helper") }
func (r *rehomeRecorder) Demote(_ context.Context, n string) error {
	return r.do("demote " + n)
}
func (r *rehomeRecorder) Promote(_ context.Context, n string) error {
	return r.do("promote " + n)
}
func (r *rehomeRecorder) CheckAddrs(context.Context) error { return r.do("check") }

func TestRunRehomeOrderAndTheRuleAlwaysRemoved(t *testing.T) {
	r := PlanRehome(threeTwo("192.0.2."), "m2", "10.0.0.2", "192.0.2.2")
	say := func(string, ...any) {}
	for _, c := range []struct {
		fail, want, says string
	}{
		{"", "add-rule join-helper demote m2 promote m2 remove-rule check", ""},
		{"add-rule", "add-rule", "the swarm runs on m2 alone, raft address 10.0.0.2:2377"},
		{"join-helper", "add-rule join-helper remove-rule", "join m1 as a manager: boom"},
		{"demote m2", "add-rule join-helper demote m2 remove-rule", "promote m2 again with `docker node promote` once m1 leads"},
		{"promote m2", "add-rule join-helper demote m2 promote m2 remove-rule", "run `docker node promote m2` there"},
		{"remove-rule", "add-rule join-helper demote m2 promote m2 remove-rule", "remove it by hand: while iptables -t nat -D OUTPUT -d 10.0.0.2"},
		{"check", "add-rule join-helper demote m2 promote m2 remove-rule check", "check the raft addresses: boom"},
	} {
		x := &rehomeRecorder{fail: c.fail}
		err := RunRehome(context.Background(), r, x, say)
		if got := strings.Join(x.calls, " "); got != c.want {
			t.Errorf("fail %q: calls %q, want %q", c.fail, got, c.want)
		}
		if (err == nil) != (c.fail == "") || (err != nil && !strings.Contains(err.Error(), c.says)) {
			t.Errorf("fail %q: %v, want it to say %q", c.fail, err, c.says)
		}
	}
	// The rule left after a failed step and a failed removal: both said.
	x := &rehomeRecorder{fail: "join-helper"}
	x2 := &failTwice{rehomeRecorder: x}
	if err := RunRehome(context.Background(), r, x2, say); err == nil || !strings.Contains(err.Error(), "join m1") || !strings.Contains(err.Error(), "remove it by hand") {
		t.Errorf("join and removal failing: %v", err)
	}
}

type failTwice struct{ *rehomeRecorder }

func (f *failTwice) RemoveRule(context.Context) error { return errors.New("gone") }

func TestRunRehomeDemotesABorrowedWorkerAndSkipsWhenNotNeeded(t *testing.T) {
	inv := threeTwo("192.0.2.")
	inv.Nodes = slices.DeleteFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == "m1" || n.Name == "m3" })
	x := &rehomeRecorder{}
	var said []string
	say := func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
	if err := RunRehome(context.Background(), PlanRehome(inv, "m2", "10.0.0.2", "192.0.2.2"), x, say); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(x.calls, " "); got != "add-rule join-helper demote m2 promote m2 remove-rule demote w1 check" {
		t.Errorf("calls %q", got)
	}
	if len(said) < 6 || !strings.HasPrefix(said[0], "[w1] on w1 only") {
		t.Errorf("said %q", said)
	}
	x = &rehomeRecorder{}
	if err := RunRehome(context.Background(), PlanRehome(inv, "m2", "192.0.2.2", "192.0.2.2"), x, say); err != nil || len(x.calls) != 0 {
		t.Errorf("not needed: %v, calls %q", err, x.calls)
	}
}
