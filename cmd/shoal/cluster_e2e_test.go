package main

// Lab tests of how shoal reaches an existing cluster: through a manager
// that has quorum, and only when the swarm is the inventory's cluster.

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/stacks"
)

// labInventory loads the inventory `shoal lab up --name name` wrote.
func labInventory(t *testing.T, c cli, name string) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Load(filepath.Join(c.home, "lab", name, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// engines opens the Docker API of inv's managers over SSH, as shoal does.
func engines(t *testing.T, inv *inventory.Inventory) map[string]swarm.Engine {
	t.Helper()
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	dial.Attempts = 2
	var names []string
	for _, m := range inv.Managers() {
		names = append(names, m.Name)
	}
	fleet := bootstrap.Connect(context.Background(), inv, names, dial, len(names), newNodePrinter(io.Discard, inv))
	t.Cleanup(fleet.Close)
	fleet.OpenEngines(context.Background())
	if len(fleet.Engines) != len(names) {
		t.Fatalf("could not open every manager's engine: %v", fleet.Unreachable)
	}
	return fleet.Engines
}

// judge asks one manager for the node list directly (not through the code
// under test) and judges its answer.
func judge(e swarm.Engine, node string) swarm.Answer {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return swarm.Judge(node, nil, err)
	}
	return swarm.Judge(node, swarm.Members(list.Items), nil)
}

// waitFor polls cond every 2s until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, seen := cond()
		if ok {
			t.Logf("%s: %s", what, seen)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, limit, seen)
		}
		time.Sleep(2 * time.Second)
	}
}

func statusDoc(t *testing.T, out string) statusJSON {
	t.Helper()
	var doc statusJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status -o json is not one JSON document: %v\n%s", err, out)
	}
	return doc
}

func TestStatusAnswersFromAManagerWithQuorum(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "0")
	inv := labInventory(t, c, name)
	mgrs := inv.Managers()
	m1, m2, m3 := mgrs[0], mgrs[1], mgrs[2]

	if st := c.status(); st.Via != m1.Name || st.Quorum != "ok" {
		t.Fatalf("before the partition: via %q, quorum %q; want m1 and ok", st.Via, st.Quorum)
	}

	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, ok, err := lab.Find(ctx, docker, name)
	if err != nil || !ok {
		t.Fatalf("find lab %s: %v (found %v)", name, err, ok)
	}
	eng := engines(t, inv)

	// Cut the first manager off from the other two; wait, asking the
	// managers directly, until it no longer answers with quorum and the
	// other two have elected a leader among themselves.
	if err := lab.Partition(ctx, docker, l, m1.Hoster); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "m1 cut off, m2 and m3 with a leader", 3*time.Minute, func() (bool, string) {
		a1, a2, a3 := judge(eng[m1.Name], m1.Name), judge(eng[m2.Name], m2.Name), judge(eng[m3.Name], m3.Name)
		return !a1.Quorum && a2.Quorum && a3.Quorum, strings.Join([]string{a1.String(), a2.String(), a3.String()}, "; ")
	})

	t.Run("status answers from the next manager, which has quorum, and names it", func(t *testing.T) {
		code, out, errs := c.run("status", "-o", "json")
		if code != 0 {
			t.Fatalf("status with m1 cut off: exit %d\n%s\n%s", code, out, errs)
		}
		st := statusDoc(t, out)
		if st.Via != m2.Name {
			t.Errorf("answered via %q, want %s (the first manager with quorum)", st.Via, m2.Name)
		}
		if len(st.Asked) != 2 || st.Asked[0].Node != m1.Name || st.Asked[0].Quorum || st.Asked[1].Node != m2.Name || !st.Asked[1].Quorum {
			t.Errorf("asked: %+v; want m1 (not counted), then m2 (counted)", st.Asked)
		}
		if st.Quorum != "degraded" || st.ManagersReachable != 2 || st.Managers != 3 {
			t.Errorf("quorum %q, %d/%d managers reachable; want degraded, 2/3", st.Quorum, st.ManagersReachable, st.Managers)
		}
		if !strings.Contains(errs, m1.Name) || !strings.Contains(errs, "does not count") {
			t.Errorf("stderr does not say why m1 was passed over:\n%s", errs)
		}

		code, out, errs = c.run("status")
		if code != 0 {
			t.Fatalf("status (text): exit %d\n%s\n%s", code, out, errs)
		}
		for _, want := range []string{"answered by: " + m2.Name, "not counted: " + m1.Name} {
			if !strings.Contains(out, want) {
				t.Errorf("text status does not say %q:\n%s", want, out)
			}
		}
	})

	t.Run("stack verbs and deploy reach the cluster through the manager with quorum", func(t *testing.T) {
		dial, closer, err := bootstrap.DialOptions(inv)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		dial.Attempts = 2
		m, err := stacks.ConnectManager(ctx, inv, dial)
		if err != nil {
			t.Fatalf("connect a manager with m1 cut off: %v", err)
		}
		defer m.Close()
		if m.Node != m2.Name {
			t.Errorf("stack verbs would go through %s, want %s (m1 has no quorum)", m.Node, m2.Name)
		}
	})

	t.Run("with no manager on a majority side, status says so naming each answer, exit 1", func(t *testing.T) {
		if err := lab.Partition(ctx, docker, l, m2.Hoster); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "no manager with quorum", 3*time.Minute, func() (bool, string) {
			a1, a2, a3 := judge(eng[m1.Name], m1.Name), judge(eng[m2.Name], m2.Name), judge(eng[m3.Name], m3.Name)
			return !a1.Quorum && !a2.Quorum && !a3.Quorum, strings.Join([]string{a1.String(), a2.String(), a3.String()}, "; ")
		})
		code, out, errs := c.run("status", "-o", "json")
		if code != exitFailed {
			t.Fatalf("status without quorum: exit %d, want %d\n%s\n%s", code, exitFailed, out, errs)
		}
		st := statusDoc(t, out)
		if len(st.Asked) != 3 || st.Error == "" {
			t.Errorf("want every manager's answer and an error in the document: %+v", st)
		}
		for _, n := range []string{m1.Name, m2.Name, m3.Name} {
			if !strings.Contains(st.Error, n+": ") {
				t.Errorf("error does not name %s's answer:\n%s", n, st.Error)
			}
		}
		if !strings.Contains(st.Error, "no manager of cluster "+inv.Cluster.Name) {
			t.Errorf("error does not say no manager has quorum:\n%s", st.Error)
		}
	})
}

func TestClusterNameMismatchIsRefused(t *testing.T) {
	c, name := newLab(t)
	c.must("lab", "up", "--name", name, "--managers", "1", "--workers", "0")
	inv := labInventory(t, c, name)
	m1 := inv.Managers()[0]

	if st := c.status(); st.SwarmName != name {
		t.Fatalf("the new swarm records cluster name %q, want %q", st.SwarmName, name)
	}

	// The same hosts under another cluster name.
	renamed := *inv
	renamed.Cluster.Name = name + "-renamed"
	data, err := inventory.Marshal(&renamed)
	if err != nil {
		t.Fatal(err)
	}
	renamedPath := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(renamedPath, data, 0o600); err != nil {
		t.Fatal(err)
	}

	e := engines(t, inv)[m1.Name]
	// snapshot is what a change would show: the swarm's spec version and
	// labels, and the node's spec version.
	snapshot := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sw, err := e.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := e.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal([]any{sw.Swarm.Version, sw.Swarm.Spec.Labels, nodes.Items[0].Version, nodes.Items[0].Spec.Labels})
		return string(b)
	}
	before := snapshot()

	for _, flags := range [][]string{nil, {"--dry-run"}, {"--yes"}} {
		t.Run(strings.TrimSpace("the renamed inventory is refused, nothing changed "+strings.Join(flags, " ")), func(t *testing.T) {
			code, out, errs := c.run(append([]string{"bootstrap", "-i", renamedPath}, flags...)...)
			t.Logf("refusal:\n%s", errs)
			if code != exitRefused {
				t.Fatalf("exit %d, want %d (refused)\n%s\n%s", code, exitRefused, out, errs)
			}
			for _, want := range []string{`"` + name + `"`, `"` + renamed.Cluster.Name + `"`, "--adopt", "nothing was changed"} {
				if !strings.Contains(errs, want) {
					t.Errorf("refusal does not say %s:\n%s", want, errs)
				}
			}
			if after := snapshot(); after != before {
				t.Errorf("the swarm changed although the run was refused:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("with --adopt the swarm is taken over under the new name", func(t *testing.T) {
		code, out, errs := c.run("bootstrap", "-i", renamedPath, "--adopt", "-o", "json")
		if code != 0 {
			t.Fatalf("bootstrap --adopt: exit %d\n%s\n%s", code, out, errs)
		}
		var doc bootstrapJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Steps) != 1 || !strings.HasPrefix(doc.Steps[0], string(swarm.NameCluster)) {
			t.Errorf("adopt steps: %v; want one %q step", doc.Steps, swarm.NameCluster)
		}
		code, out, errs = c.run("status", "-i", renamedPath, "-o", "json")
		if code != 0 {
			t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
		}
		if st := statusDoc(t, out); st.SwarmName != renamed.Cluster.Name {
			t.Errorf("swarm records %q after adopt, want %q", st.SwarmName, renamed.Cluster.Name)
		}
		// Adopted: a plain re-run changes nothing, and the old name is now
		// the one refused.
		if out := c.must("bootstrap", "-i", renamedPath); !strings.Contains(out, "no changes") {
			t.Errorf("re-run after adopt changed things:\n%s", out)
		}
		if code, _, errs := c.run("bootstrap"); code != exitRefused || !strings.Contains(errs, `"`+renamed.Cluster.Name+`"`) {
			t.Errorf("the old inventory after adopt: exit %d, want %d naming the new name\n%s", code, exitRefused, errs)
		}
	})
}
