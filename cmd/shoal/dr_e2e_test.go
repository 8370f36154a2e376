package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// drLab is a 3+1 lab with two services on its worker and two of its three
// managers killed: quorum lost, m1 alive.
type drLab struct {
	c        cli
	name     string
	services map[string]string // name -> ID, read before the kill
}

// newDRLab builds the lab, checks that dr recover refuses while quorum
// holds, and kills m2 and m3.
func newDRLab(ctx context.Context, tb testing.TB) drLab {
	tb.Helper()
	c, name := newLab(tb)
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "1")

	// Two services on the worker (lab VPSes cannot pull: the demo image
	// is loaded into w1; the new managers will not have it).
	demo, err := images.EnsureDemo(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := images.LoadInto(ctx, demo, lab.ContainerName(name, "w1")); err != nil {
		tb.Fatal(err)
	}
	m1 := c.managerDocker(ctx, name, "m1")
	d := drLab{c: c, name: name, services: map[string]string{}}
	for _, s := range []string{"web", "api"} {
		d.services[s] = createWorkerService(ctx, tb, m1, s, demo)
	}
	for s, id := range d.services {
		if _, err := waitServiceRunning(ctx, m1, id, time.Minute); err != nil {
			tb.Fatalf("service %s: %v", s, err)
		}
	}

	// With quorum, dr recover refuses and changes nothing.
	code, out, errs := c.run("dr", "recover", "--yes")
	if code != exitRefused || !strings.Contains(errs, "the swarm has quorum") || !strings.Contains(errs, "nothing was changed") {
		tb.Fatalf("dr recover with quorum: exit %d, want %d naming quorum\nstdout:\n%s\nstderr:\n%s", code, exitRefused, out, errs)
	}

	docker, err := localDocker()
	if err != nil {
		tb.Fatal(err)
	}
	defer docker.Close()
	for _, m := range []string{"m2", "m3"} {
		if err := lab.KillNode(ctx, docker, c.labRef(name), m); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

// waitServiceRunning waits until service id runs all its tasks.
func waitServiceRunning(ctx context.Context, d *client.Client, id string, within time.Duration) (uint64, error) {
	deadline := time.Now().Add(within)
	var r serviceRuns
	var err error
	for time.Now().Before(deadline) {
		if r, err = runsOf(ctx, d, id); err == nil && r.Desired > 0 && r.Running == r.Desired {
			return r.Running, nil
		}
		time.Sleep(time.Second)
	}
	return r.Running, fmt.Errorf("%d of %d tasks running after %s (last error: %v)", r.Running, r.Desired, within, err)
}

// TestDRRecoverAfterLosingTwoOfThreeManagers kills 2 of the 3 managers of
// a 3+1 lab running two services; `shoal dr recover --yes` re-forms the
// swarm on m1 and replaces m2 and m3 at their hosters: quorum ok, 3
// reachable managers on 3 hosters, the same services with the same IDs,
// running. While quorum held, it refused (exit 3).
func TestDRRecoverAfterLosingTwoOfThreeManagers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	d := newDRLab(ctx, t)
	c := d.c

	// The dry run observes and plans: m1 is the survivor with its raft
	// state read from disk, and nothing changes (exit 4).
	code, out, errs := c.run("dr", "recover", "--dry-run")
	if code != exitWork || !strings.Contains(out, "survivor: m1 is the only manager alive (raft term ") ||
		!strings.Contains(out, "replace m2 by m2-r1 at hoster-b") || !strings.Contains(out, "replace m3 by m3-r1 at hoster-c") {
		t.Fatalf("dry run: exit %d, want %d with the plan\nstdout:\n%s\nstderr:\n%s", code, exitWork, out, errs)
	}
	t.Logf("dry run:\n%s", out)

	start := time.Now()
	code, out, errs = c.run("dr", "recover", "--yes")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("dr recover: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("dr recover took %s\nstdout:\n%s\nstderr:\n%s", took.Round(100*time.Millisecond), out, errs)
	for _, want := range []string{"step 1/7: re-form the swarm on m1", "step 7/7: done", "recovered " + d.name + " on m1"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q", want)
		}
	}

	st := c.status()
	hosters := map[string]bool{}
	var managers []string
	for _, n := range st.Nodes {
		if n.Role == "manager" {
			managers = append(managers, n.Name)
			hosters[n.Hoster] = true
			if n.Reachability != "reachable" || n.State != "ready" {
				t.Errorf("manager %s is %s/%s, want ready and reachable", n.Name, n.State, n.Reachability)
			}
		}
	}
	slices.Sort(managers)
	if st.Quorum != quorum.OK || st.Managers != 3 || st.ManagersReachable != 3 || len(hosters) != 3 || len(st.HosterRisk) != 0 {
		t.Errorf("after recovery: quorum %s, %d/%d managers on %d hosters, hoster risk %v; want ok, 3/3 on 3, none",
			st.Quorum, st.ManagersReachable, st.Managers, len(hosters), st.HosterRisk)
	}
	if want := []string{"m1", "m2-r1", "m3-r1"}; !slices.Equal(managers, want) {
		t.Errorf("managers = %v, want %v (the dead entries removed)", managers, want)
	}

	// The same services, with the same IDs, running again.
	m1 := c.managerDocker(ctx, d.name, "m1")
	svcs, err := m1.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range svcs.Items {
		got[s.Spec.Name] = s.ID
	}
	if len(got) != len(d.services) {
		t.Errorf("services after recovery = %v, want %v", got, d.services)
	}
	for name, id := range d.services {
		if got[name] != id {
			t.Errorf("service %s: ID %q after recovery, want %q", name, got[name], id)
		}
		if !strings.Contains(out, id+"  "+name) {
			t.Errorf("dr recover's service list lacks %s %s:\n%s", id, name, out)
		}
		if _, err := waitServiceRunning(ctx, m1, id, time.Minute); err != nil {
			t.Errorf("service %s does not run after recovery: %v", name, err)
		}
	}

	// The dead managers' containers are gone from the lab; the inventory
	// names the new ones.
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if names := labNodeNames(ctx, t, docker, d.name); !slices.Equal(names, []string{"m1", "m2-r1", "m3-r1", "w1"}) {
		t.Errorf("lab nodes = %v, want m1 m2-r1 m3-r1 w1", names)
	}
	// Recovered: a second run refuses (quorum), and bootstrap has nothing to do.
	if code, _, errs := c.run("dr", "recover", "--yes"); code != exitRefused {
		t.Errorf("second dr recover: exit %d, want %d\n%s", code, exitRefused, errs)
	}
	if code, out, errs := c.run("bootstrap", "--dry-run"); code != 0 {
		t.Errorf("bootstrap --dry-run after recovery: exit %d, want 0\n%s\n%s", code, out, errs)
	}
}

// BenchmarkDRRecover measures `shoal dr recover --yes` from the command to
// quorum ok (the command returns only after its last step saw quorum ok
// and every service running) on a 3+1 lab that lost m2 and m3. Building
// the lab is not timed. Goal: <= 60 s. Run with:
//
//	go test -run '^$' -bench DRRecover -benchtime 1x ./cmd/shoal
func BenchmarkDRRecover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		d := newDRLab(ctx, b)
		b.StartTimer()
		start := time.Now()
		code, out, errs := d.c.run("dr", "recover", "--yes")
		took := time.Since(start)
		b.StopTimer()
		cancel()
		if code != 0 {
			b.Fatalf("dr recover: exit %d\n%s\n%s", code, out, errs)
		}
		if st := d.c.status(); st.Quorum != quorum.OK || st.ManagersReachable != 3 {
			b.Fatalf("after recovery: quorum %s, %d managers reachable", st.Quorum, st.ManagersReachable)
		}
		b.ReportMetric(took.Seconds(), "s/recover")
	}
}
