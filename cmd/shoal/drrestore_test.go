package main

import (
	"context"
	"strings"
	"testing"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
)

func restoreInv(path, prefix string) *inventory.Inventory {
	inv := &inventory.Inventory{Path: path, Cluster: inventory.Cluster{Name: "prod"}}
	for i, n := range []struct{ name, role, hoster string }{
		{"m1", "manager", "a"}, {"m2", "manager", "b"}, {"m3", "manager", "c"}, {"w1", "worker", "a"},
	} {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.name, Role: n.role, Hoster: n.hoster, Address: prefix + string(rune('1'+i))})
	}
	return inv
}

func TestPlanRestoreOntoNewAddressesMovesTheRaftAddress(t *testing.T) {
	old := restoreInv("", "10.0.0.")
	p := planRestore(old, restoreInv("new.yaml", "192.0.2."), "m2", nil)
	want := []string{
		"use the 4 servers of new.yaml:",
		"put the backup's raft state onto m2",
		"remove the entries of the lost nodes (every node but m2)",
		"move m2's raft address from 10.0.0.2:2377 to 192.0.2.2:2377: on m1 only, send raft traffic for 10.0.0.2:2377 to 192.0.2.2:2377",
		"join m1, m3, w1 with their roles and labels",
		"wait until the managers have quorum and every service runs",
	}
	if len(p.steps) != len(want) || p.rehome != 4 || p.join != 5 {
		t.Fatalf("steps %q (rehome %d, join %d), want %d steps, rehome 4, join 5", p.steps, p.rehome, p.join, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(p.steps[i], w) {
			t.Errorf("step %d = %q, want it to start %q", i+1, p.steps[i], w)
		}
	}
	if !strings.Contains(p.steps[3], "check every manager's raft address") {
		t.Errorf("step 4 does not say the addresses are checked: %q", p.steps[3])
	}
}

func TestPlanRestoreOntoTheOldAddressesMovesNothing(t *testing.T) {
	old := restoreInv("", "10.0.0.")
	p := planRestore(old, restoreInv("same.yaml", "10.0.0."), "m2", nil)
	if p.rehome != 0 || len(p.steps) != 5 || p.join != 4 {
		t.Errorf("steps %q (rehome %d, join %d), want 5 without a move", p.steps, p.rehome, p.join)
	}
}

func TestPlanRestoreOnALabMovesTheAddressIfItIsKept(t *testing.T) {
	p := planRestore(restoreInv("", "10.0.0."), nil, "m2", nil)
	if !strings.HasPrefix(p.steps[0], "create 4 new lab VPSes") || p.rehome != 4 ||
		!strings.HasPrefix(p.steps[3], "if m2 kept its old raft address 10.0.0.2:2377: on m1 only, send raft traffic for 10.0.0.2:2377 to its new address") {
		t.Errorf("steps %q (rehome %d)", p.steps, p.rehome)
	}
	one := &inventory.Inventory{Nodes: []inventory.Node{{Name: "m1", Role: "manager", Hoster: "a", Address: "10.0.0.1"}}}
	if p := planRestore(one, nil, "m1", nil); p.rehome != 0 || p.join != 0 || len(p.steps) != 4 {
		t.Errorf("one node: steps %q (rehome %d, join %d), want 4 without move or join", p.steps, p.rehome, p.join)
	}
}

func TestRehomeWaitsReadTheNodeList(t *testing.T) {
	mgr := func(id, addr string, leader bool, r swarmtypes.Reachability) swarmtypes.Node {
		return swarmtypes.Node{ID: id, ManagerStatus: &swarmtypes.ManagerStatus{Addr: addr, Leader: leader, Reachability: r}}
	}
	ok := swarmtypes.ReachabilityReachable
	if done, why := demotedUnder([]swarmtypes.Node{mgr("r", "10.0.0.2:2377", true, ok), mgr("h", "192.0.2.1:2377", false, ok)}, "r", "h"); done || !strings.Contains(why, "still a manager") {
		t.Errorf("r still leads: %v %q", done, why)
	}
	if done, why := demotedUnder([]swarmtypes.Node{{ID: "r"}, mgr("h", "192.0.2.1:2377", false, ok)}, "r", "h"); done || !strings.Contains(why, "does not lead") {
		t.Errorf("no leader yet: %v %q", done, why)
	}
	if done, _ := demotedUnder([]swarmtypes.Node{{ID: "r"}, mgr("h", "192.0.2.1:2377", true, ok)}, "r", "h"); !done {
		t.Errorf("r a worker, h leads: not done")
	}
	for _, c := range []struct {
		n    swarmtypes.Node
		want string
	}{
		{swarmtypes.Node{ID: "r"}, "not a manager yet"},
		{mgr("r", "192.0.2.2:2377", false, swarmtypes.ReachabilityUnreachable), "manager, unreachable"},
		{mgr("r", "10.0.0.2:2377", false, ok), "raft address 10.0.0.2:2377, not 192.0.2.2:2377"},
		{mgr("r", "192.0.2.2:2377", false, ok), ""},
	} {
		done, why := reachableAt([]swarmtypes.Node{c.n}, "r", "192.0.2.2:2377")
		if done != (c.want == "") || why != c.want {
			t.Errorf("%+v: %v %q, want %q", c.n.ManagerStatus, done, why, c.want)
		}
	}
}

func TestSurvivingWorkersAreKeptAndManagersRefuse(t *testing.T) {
	old := restoreInv("", "10.0.0.")
	if kept, err := survivingWorkers(old, []string{"w1"}); err != nil || len(kept) != 1 || kept[0] != "w1" {
		t.Errorf("w1 alone: kept %q, %v; want w1", kept, err)
	}
	if _, err := survivingWorkers(old, []string{"w1", "m3"}); err == nil || !strings.Contains(err.Error(), "managers m3 still run") || !strings.Contains(err.Error(), "dr recover") {
		t.Errorf("m3 alive: %v, want refused naming m3 and dr recover", err)
	}
	if _, err := survivingWorkers(old, []string{"w7"}); err == nil || !strings.Contains(err.Error(), "w7 not in the backup's inventory") {
		t.Errorf("unknown w7: %v", err)
	}
	p := planRestore(old, nil, "m2", []string{"w1"})
	if !strings.HasPrefix(p.steps[0], "create 3 new lab VPSes: m1 (manager at a), m2 (manager at b), m3 (manager at c); pin their host keys; keep the surviving workers w1;") ||
		!strings.HasPrefix(p.steps[2], "make the surviving workers w1 leave the lost swarm") || !strings.HasPrefix(p.steps[p.join-1], "join m1, m3, w1 ") {
		t.Errorf("steps with a survivor: %q", p.steps)
	}
}

func TestDataRoot(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "/var/lib/docker",
		`{"log-driver":"json-file"}`:    "/var/lib/docker",
		`{"data-root":"/srv/docker/"}`:  "/srv/docker",
		`{"data-root":"relative"}`:      "/var/lib/docker",
		`{"data-root":"/srv/docker"`:    "/var/lib/docker", // not JSON: dockerd refuses it anyway
		`{"data-root":"/mnt/d o'cker"}`: "/mnt/d o'cker",
	} {
		if got := dataRoot(in); got != want {
			t.Errorf("dataRoot(%q) = %q, want %q", in, got, want)
		}
	}
}

// scriptRunner answers every command with out and records the scripts.
type scriptRunner struct {
	out     string
	scripts []string
	sudo    []bool
}

func (r *scriptRunner) Run(_ context.Context, c remote.Cmd) (remote.Result, error) {
	r.scripts = append(r.scripts, c.Script)
	r.sudo = append(r.sudo, c.Sudo)
	return remote.Result{Stdout: []byte(r.out)}, nil
}

// A stopped engine's data root is looked at (through sudo) for an earlier
// swarm's state file; an engine that answers, or no Docker at all, is
// not asked.
func TestSwarmStateLeft(t *testing.T) {
	stopped := host.Facts{DockerdPath: "/usr/sbin/dockerd", DaemonJSON: `{"data-root":"/srv/d'x"}`}
	r := &scriptRunner{out: "yes\n"}
	dir, left, err := swarmStateLeft(context.Background(), r, stopped)
	if err != nil || !left || dir != "/srv/d'x/swarm" {
		t.Fatalf("stopped engine with state: %q %v %v", dir, left, err)
	}
	if len(r.scripts) != 1 || !r.sudo[0] || !strings.Contains(r.scripts[0], `'/srv/d'\''x/swarm/docker-state.json'`) {
		t.Errorf("scripts %q (sudo %v)", r.scripts, r.sudo)
	}
	if _, left, _ := swarmStateLeft(context.Background(), &scriptRunner{out: "no\n"}, stopped); left {
		t.Error("no state file: reported left")
	}
	for name, f := range map[string]host.Facts{
		"an engine that answers": {DockerdPath: "/usr/sbin/dockerd", Engine: &host.EngineInfo{}},
		"no Docker":              {},
	} {
		r := &scriptRunner{out: "yes\n"}
		if _, left, err := swarmStateLeft(context.Background(), r, f); left || err != nil || len(r.scripts) > 0 {
			t.Errorf("%s: left %v, err %v, ran %q", name, left, err, r.scripts)
		}
	}
}

func TestPlanStackRestore(t *testing.T) {
	old := restoreInv("", "10.0.0.")
	sp := backup.ServerPlan{Replace: []string{"m1", "m2", "m3"}, Leave: []string{"w1"}}
	p := planStackRestore(old, "m2", "prod", sp, map[string]int{"m1": 1, "m2": 3, "m3": 1})
	want := []string{
		"make new servers for m1 (manager at a, generation 1), m2 (manager at b, generation 3), m3 (manager at c, generation 1) through the stack's Pulumi program, in a run that leaves the swarm resource and all that depends on it out",
		"put the backup's raft state onto m2",
		"make the surviving workers w1 leave the lost swarm",
		"if m2 kept its old raft address 10.0.0.2:2377",
		"join m1, m3, w1 with their roles and labels",
		"wait until the managers have quorum and every service runs",
		"run the stack's Pulumi program in full (as `shoal up --stack prod`)",
		"check every app service's webhook, if any, against Portainer and Vault",
	}
	if len(p.steps) != len(want) || p.rehome != 4 || p.join != 5 || p.wait != 6 || p.up != 7 || p.hooks != 8 {
		t.Fatalf("steps %q (rehome %d, join %d, wait %d, up %d, hooks %d)", p.steps, p.rehome, p.join, p.wait, p.up, p.hooks)
	}
	for i, w := range want {
		if !strings.HasPrefix(p.steps[i], w) {
			t.Errorf("step %d = %q, want it to start %q", i+1, p.steps[i], w)
		}
	}
	if !strings.Contains(p.steps[0], "keep the surviving workers w1; write the inventory of stack prod") {
		t.Errorf("step 1 does not keep w1 and write the inventory: %q", p.steps[0])
	}
	// A second run after step 1 made the servers: nothing to make.
	p = planStackRestore(old, "m2", "prod", backup.ServerPlan{Keep: []string{"m1", "m2", "m3", "w1"}}, nil)
	if !strings.HasPrefix(p.steps[0], "no server to make: every server of the stack answers; use m1, m2, m3, w1 as they are (in no swarm)") {
		t.Errorf("resumed step 1: %q", p.steps[0])
	}
}
