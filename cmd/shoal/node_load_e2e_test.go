package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// failedRequestBudget is how many of the probe's requests may fail while
// a manager and then a worker are replaced. The goal is 0, and so is the
// budget: both replicas of the service never stop together (drain moves
// one task at a time, the successor already Ready and holding the image),
// and Docker takes a draining task out of the service's DNS name before
// it stops the container.
const failedRequestBudget = 0

// TestNodeReplaceManagerThenWorkerUnderLoad replaces manager m1 and then
// worker w1 of a 3+2 lab, one lab for both, while a client on the
// cluster's overlay network (the probe, on m2) sends GET requests in a
// loop (every 100 ms, 1 s timeout, a new connection each) to a 2-replica
// HTTP service whose replicas run on exactly the two nodes replaced (label
// web=yes, one per node; the successors inherit the label). Quorum,
// sampled every 500 ms through m2, is never lost; failed requests stay
// within failedRequestBudget; the replicas end on the successors; and a
// second `shoal bootstrap`, a lab's `shoal up`, reports no changes.
func TestNodeReplaceManagerThenWorkerUnderLoad(t *testing.T) {
	c, name := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	start := time.Now()
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", "2")
	invPath := filepath.Join(c.home, "lab", name, "inventory.yaml")
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range inv.Nodes {
		if n := inv.Nodes[i].Name; n == "m1" || n == "w1" {
			inv.Nodes[i].Labels = map[string]string{"web": "yes"}
		}
	}
	saveInventory(t, invPath, inv)
	c.must("bootstrap", "--yes")
	t.Logf("lab up and labelled in %s", time.Since(start).Round(time.Second))

	// The server and the client, FROM scratch images loaded into every
	// node (a lab VPS cannot pull; node replace gives a successor the
	// images of its predecessor).
	demo, err := images.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := images.EnsureProbe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var containers []string
	for _, n := range inv.Nodes {
		containers = append(containers, lab.ContainerName(name, n.Name))
	}
	for _, img := range []string{demo, probe} {
		if err := images.LoadInto(ctx, img, containers...); err != nil {
			t.Fatal(err)
		}
	}
	m2 := c.managerDocker(ctx, name, "m2")
	// Unencrypted: the lab's kernel cannot carry encrypted overlays.
	if _, err := m2.NetworkCreate(ctx, "load", client.NetworkCreateOptions{Driver: "overlay"}); err != nil {
		t.Fatal(err)
	}
	two, one := uint64(2), uint64(1)
	web, err := m2.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: "web"},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: &swarmtypes.ContainerSpec{Image: demo, Env: []string{"LISTEN=:8080", "DEMO_NAME=web"}},
			Placement:     &swarmtypes.Placement{Constraints: []string{"node.labels.web==yes"}, MaxReplicas: 1},
			Networks:      []swarmtypes.NetworkAttachmentConfig{{Target: "load"}},
		},
		Mode: swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: &two}},
		// The lab's kernel has no IPVS, so no VIP: the name resolves to
		// the tasks' addresses.
		EndpointSpec: &swarmtypes.EndpointSpec{Mode: swarmtypes.ResolutionModeDNSRR},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitRuns(ctx, t, m2, web.ID, 2*time.Minute, "web running on m1 and w1", func(r serviceRuns) bool {
		slices.Sort(r.On)
		return r.Running == 2 && strings.Join(r.On, ",") == "m1,w1"
	})
	if _, err := m2.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarmtypes.ServiceSpec{
		Annotations: swarmtypes.Annotations{Name: "probe"},
		TaskTemplate: swarmtypes.TaskSpec{
			ContainerSpec: &swarmtypes.ContainerSpec{Image: probe, Env: []string{"TARGET=http://web:8080/", "INTERVAL=100ms", "TIMEOUT=1s", "MAX_DURATION=10m"}},
			Placement:     &swarmtypes.Placement{Constraints: []string{"node.labels.shoal.node==m2"}},
			Networks:      []swarmtypes.NetworkAttachmentConfig{{Target: "load"}},
		},
		Mode: swarmtypes.ServiceMode{Replicated: &swarmtypes.ReplicatedService{Replicas: &one}},
	}}); err != nil {
		t.Fatal(err)
	}
	probeCon := lab.ContainerName(name, "m2")
	var ok0, fail0 int
	deadline := time.Now().Add(time.Minute)
	for ok0 < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the probe sent no 20 good requests within a minute (ok %d, fail %d):\n%s", ok0, fail0, probeLog(ctx, t, probeCon))
		}
		time.Sleep(time.Second)
		ok0, fail0 = probeCounts(t, probeLog(ctx, t, probeCon))
	}
	t.Logf("probe running: ok %d fail %d, %s after the start", ok0, fail0, time.Since(start).Round(time.Second))
	if fail0 > 0 {
		t.Logf("failures before the replacements (not counted):\n%s", failures(probeLog(ctx, t, probeCon)))
	}

	stopSampling := sampleQuorum(t, inv, "m2")
	for _, node := range []string{"m1", "w1"} {
		begin := time.Now()
		code, out, errs := c.run("node", "replace", node, "--yes")
		if code != 0 {
			stopSampling()
			t.Fatalf("node replace %s: exit %d\nstdout:\n%s\nstderr:\n%s\nprobe:\n%s", node, code, out, errs, probeLog(ctx, t, probeCon))
		}
		ok, fail := probeCounts(t, probeLog(ctx, t, probeCon))
		t.Logf("node replace %s took %s; probe ok %d fail %d", node, time.Since(begin).Round(100*time.Millisecond), ok, fail)
		if testing.Verbose() {
			t.Logf("node replace %s:\n%s", node, errs)
		}
	}
	time.Sleep(3 * time.Second) // the probe logs its counts once a second
	samples := stopSampling()
	log := probeLog(ctx, t, probeCon)
	ok1, fail1 := probeCounts(t, log)
	sent, failed := ok1+fail1-ok0-fail0, fail1-fail0
	t.Logf("during both replacements: %d requests, %d failed (budget %d); %d quorum samples; %s after the start",
		sent, failed, failedRequestBudget, len(samples), time.Since(start).Round(time.Second))
	checkSamples(t, samples)
	if failed > failedRequestBudget {
		t.Errorf("%d requests failed during the replacements, budget %d; probe log:\n%s", failed, failedRequestBudget, failures(log))
	}
	if sent < 100 {
		t.Errorf("only %d requests were sent during the replacements: the probe did not run", sent)
	}

	r, err := runsOf(ctx, m2, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.On)
	if r.Running != 2 || strings.Join(r.On, ",") != "m1-r1,w1-r1" {
		t.Errorf("web runs %d tasks on %v, want 2 on m1-r1 and w1-r1", r.Running, r.On)
	}
	st := c.status()
	if st.Quorum != quorum.OK || st.Managers != 3 || len(st.Nodes) != 5 || len(st.HosterRisk) != 0 {
		t.Errorf("after both replacements: quorum %s, %d managers, %d nodes, hoster risk %v; want ok, 3, 5, none", st.Quorum, st.Managers, len(st.Nodes), st.HosterRisk)
	}
	// A lab's `shoal up` is `shoal bootstrap`: the second run has nothing
	// to change.
	if out := c.must("bootstrap"); !strings.Contains(out, "no changes") {
		t.Errorf("bootstrap after the replacements does not report no changes:\n%s", out)
	}
}

// probeLog is the probe's container log on the lab node container con.
func probeLog(ctx context.Context, t *testing.T, con string) string {
	t.Helper()
	id, err := exec.CommandContext(ctx, "docker", "exec", con, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=probe").Output()
	if err != nil || strings.TrimSpace(string(id)) == "" {
		return "(no probe container on " + con + ")"
	}
	out, err := exec.CommandContext(ctx, "docker", "exec", con, "docker", "logs", "--tail", "400", strings.Fields(string(id))[0]).CombinedOutput()
	if err != nil {
		t.Logf("probe logs: %v", err)
	}
	return string(out)
}

var probeLine = regexp.MustCompile(`probe ok=(\d+) fail=(\d+)`)

// probeCounts are the last counts the probe logged (0, 0 before the first).
func probeCounts(t *testing.T, log string) (ok, fail int) {
	t.Helper()
	m := probeLine.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0, 0
	}
	last := m[len(m)-1]
	ok, _ = strconv.Atoi(last[1])
	fail, _ = strconv.Atoi(last[2])
	return ok, fail
}

// failures are the probe's failure lines.
func failures(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "probe fail:") || strings.Contains(l, "probe:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
