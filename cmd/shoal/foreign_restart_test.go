package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

// TestManagersRestartOneAtATime: on a converged cluster of foreign hosts
// whose daemon.json waits for a restart everywhere (each runs a container),
// `bootstrap --restart-docker` restarts every engine, the managers' one at a
// time: each manager's dockerd starts after the previous manager's is back
// in the swarm, and the swarm keeps its quorum (ADR 0030).
func TestManagersRestartOneAtATime(t *testing.T) {
	c, name := newLab(t)
	l := foreignLab(t, c, name, 3, 1)
	inv := LabInventory(l)
	invPath := writeInventory(t, l, "inventory.yaml", inv)
	runPreexisting(t, l)

	c.must("bootstrap", "--inventory", invPath)
	// started is when each node's dockerd started (its pid file's mtime, ns).
	started := func() map[string]float64 {
		out := map[string]float64{}
		for _, n := range l.Nodes {
			s := strings.TrimSpace(inNode(t, n.Container, "stat -c %.9Y /var/run/docker.pid"))
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: docker.pid mtime %q: %v", n.Name, s, err)
			}
			out[n.Name] = f
		}
		return out
	}
	before := started()

	out := c.must("bootstrap", "--inventory", invPath, "--restart-docker", "--yes")
	for _, n := range l.Nodes {
		if !strings.Contains(out, "host "+n.Name+": restart docker (1 running containers restart)") {
			t.Errorf("%s was not restarted:\n%s", n.Name, out)
		}
	}
	after := started()
	for _, n := range l.Nodes {
		if after[n.Name] <= before[n.Name] {
			t.Errorf("%s: dockerd did not restart (started %.3f, before %.3f)", n.Name, after[n.Name], before[n.Name])
		}
	}
	// A manager is back in the swarm well after its dockerd starts: managers
	// restarted together would start within a fraction of a second.
	for _, pair := range [][2]string{{"m1", "m2"}, {"m2", "m3"}} {
		if gap := after[pair[1]] - after[pair[0]]; gap < 0.3 {
			t.Errorf("%s's dockerd started %.3fs after %s's: managers restarted together", pair[1], gap, pair[0])
		}
	}
	t.Logf("dockerd start, seconds after m1's: m2 %.2f, m3 %.2f, w1 %.2f", after["m2"]-after["m1"], after["m3"]-after["m1"], after["w1"]-after["m1"])

	var st swarm.Status
	if err := json.Unmarshal([]byte(c.must("status", "--inventory", invPath, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Managers != 3 || len(st.Nodes) != 4 || st.Quorum != "ok" {
		t.Errorf("status after the restarts: %+v", st)
	}
	if out := c.must("bootstrap", "--inventory", invPath); !strings.Contains(out, "no changes") || strings.Contains(out, "pending") {
		t.Errorf("re-run after the restarts:\n%s", out)
	}
}
