package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/lab"
)

// BenchmarkBootstrapScale measures the wall time of `shoal bootstrap` (host
// preparation, observation, plan, execution, wait for Ready) on fresh lab
// VPSes: 3 managers alone, then 3 managers + 6 workers, in the same run.
// The target is time(9)/time(3) <= 1.3: work per node runs in parallel.
// Container creation is not timed. Run with:
//
//	go test -run '^$' -bench BootstrapScale -benchtime 1x ./cmd/shoal
func BenchmarkBootstrapScale(b *testing.B) {
	if testing.Short() {
		b.Skip("lab benchmark")
	}
	docker, err := localDocker()
	if err != nil {
		b.Fatal(err)
	}
	defer docker.Close()
	ctx := context.Background()

	measure := func(workers int) time.Duration {
		rb := make([]byte, 3)
		_, _ = rand.Read(rb)
		name := "b" + hex.EncodeToString(rb)
		dir := filepath.Join(b.TempDir(), name)
		defer func() { _ = lab.Down(context.Background(), docker, name, io.Discard) }()
		l, err := lab.Up(ctx, docker, lab.Options{Name: name, Managers: 3, Workers: workers, Dir: dir}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		inv := LabInventory(l)
		dial, closer, err := bootstrap.DialOptions(inv)
		if err != nil {
			b.Fatal(err)
		}
		defer closer.Close()
		start := time.Now()
		if _, err := bootstrap.Run(ctx, inv, benchOptions(dial), nopProgress{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	var t3, t9 time.Duration
	for b.Loop() {
		t3 += measure(0)
		t9 += measure(6)
	}
	n := float64(b.N)
	b.ReportMetric(t3.Seconds()/n, "s/bootstrap-3")
	b.ReportMetric(t9.Seconds()/n, "s/bootstrap-9")
	b.ReportMetric(float64(t9)/float64(t3), "ratio-9/3")
}

// benchOptions are bootstrap.Options for a benchmark: with -v, phase
// timings and every remote command's duration go to stderr (debug level),
// so that a run can be profiled phase by phase.
func benchOptions(dial remote.DialOptions) bootstrap.Options {
	if !testing.Verbose() {
		return bootstrap.Options{Dial: dial}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dial.Logger = log
	return bootstrap.Options{Dial: dial, Log: log}
}

type nopProgress struct{}

func (nopProgress) Node(string, string) {}

// BenchmarkBootstrapVsManual measures, on 9 fresh lab VPSes of the foreign
// kind (login admin with sudo, sshd on 2222, docker.io started by its init
// script, nothing running), in one run: the manual procedure scripted as
// sequential ssh (swarm init on m1, read both join tokens, join every other
// node, label every node), then — after every node left that swarm again —
// `shoal bootstrap` (bootstrap.Run: facts, plan, host preparation, swarm,
// labels, wait for Ready). Goal: shoal/manual <= 1.0. Run with:
//
//	go test -run '^$' -bench BootstrapVsManual -benchtime 1x ./cmd/shoal
func BenchmarkBootstrapVsManual(b *testing.B) {
	if testing.Short() {
		b.Skip("lab benchmark")
	}
	rb := make([]byte, 3)
	_, _ = rand.Read(rb)
	name := "b" + hex.EncodeToString(rb)
	c := cli{home: b.TempDir()}
	docker, err := localDocker()
	if err != nil {
		b.Fatal(err)
	}
	defer docker.Close()
	defer func() { _ = lab.Down(context.Background(), docker, name, io.Discard) }()
	l := foreignLab(b, c, name, 3, 6)
	inv := LabInventory(l)
	ctx := context.Background()

	sshArgs := func(n lab.Node) []string {
		return []string{"-i", l.KeyPath, "-p", strconv.Itoa(lab.ForeignPort), "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=" + filepath.Join(l.Dir, "manual_known_hosts"),
			lab.ForeignUser + "@" + n.Address}
	}
	ssh := func(n lab.Node, cmd string) string {
		out, err := exec.CommandContext(ctx, "ssh", append(sshArgs(n), cmd)...).Output()
		if err != nil {
			b.Fatalf("ssh %s %q: %v", n.Name, cmd, err)
		}
		return strings.TrimSpace(string(out))
	}
	manual := func() time.Duration {
		start := time.Now()
		m1 := l.Nodes[0]
		ssh(m1, "sudo docker swarm init --advertise-addr "+m1.Address)
		mtok := ssh(m1, "sudo docker swarm join-token -q manager")
		wtok := ssh(m1, "sudo docker swarm join-token -q worker")
		for _, n := range l.Nodes[1:] {
			tok := wtok
			if n.Role == lab.RoleManager {
				tok = mtok
			}
			ssh(n, "sudo docker swarm join --advertise-addr "+n.Address+" --token "+tok+" "+m1.Address+":2377")
		}
		for _, n := range l.Nodes {
			ssh(m1, "sudo docker node update --label-add shoal.node="+n.Name+" --label-add shoal.hoster="+n.Hoster+
				" --label-add shoal.region="+n.Region+" "+n.Name)
		}
		return time.Since(start)
	}
	reset := func() {
		for i := len(l.Nodes) - 1; i >= 0; i-- {
			inNode(b, l.Nodes[i].Container, "docker swarm leave --force >/dev/null")
		}
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		b.Fatal(err)
	}
	defer closer.Close()
	var tm, ts time.Duration
	for b.Loop() {
		tm += manual()
		reset()
		start := time.Now()
		if _, err := bootstrap.Run(ctx, inv, benchOptions(dial), nopProgress{}); err != nil {
			b.Fatal(err)
		}
		ts += time.Since(start)
		reset()
	}
	n := float64(b.N)
	b.ReportMetric(tm.Seconds()/n, "s/manual-9")
	b.ReportMetric(ts.Seconds()/n, "s/shoal-9")
	b.ReportMetric(float64(ts)/float64(tm), "ratio-shoal/manual")
}

// BenchmarkBootstrapRerun measures, on 3 managers + 2 workers of the foreign
// kind (login admin with sudo, sshd on 2222, docker.io started by its init
// script, one container running on each, as in TestForeignHosts), the first
// `shoal bootstrap` (bootstrap.Run), then each re-run on the converged
// cluster, which only reads (host facts, the swarm) and changes nothing.
// Goal (issue 8): re-run / first run <= 0.10. Run with:
//
//	go test -run '^$' -bench BootstrapRerun -benchtime 5x ./cmd/shoal
func BenchmarkBootstrapRerun(b *testing.B) {
	if testing.Short() {
		b.Skip("lab benchmark")
	}
	rb := make([]byte, 3)
	_, _ = rand.Read(rb)
	name := "b" + hex.EncodeToString(rb)
	c := cli{home: b.TempDir()}
	docker, err := localDocker()
	if err != nil {
		b.Fatal(err)
	}
	defer docker.Close()
	defer func() { _ = lab.Down(context.Background(), docker, name, io.Discard) }()
	l := foreignLab(b, c, name, 3, 2)
	runPreexisting(b, l)
	inv := LabInventory(l)
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		b.Fatal(err)
	}
	defer closer.Close()
	ctx := context.Background()

	start := time.Now()
	if _, err := bootstrap.Run(ctx, inv, benchOptions(dial), nopProgress{}); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)
	// A re-run meets servers that have settled; right after the first run
	// the five engines are still doing the swarm's post-join work (raft,
	// gossip, allocation) on this machine's own cores, which would be
	// measured instead of shoal. On separate servers that work does not
	// slow the operator's re-run.
	settle, busy := waitLabIdle(ctx, b, docker, l, 30*time.Second)
	var rerun time.Duration
	for b.Loop() {
		start := time.Now()
		rep, err := bootstrap.Run(ctx, inv, benchOptions(dial), nopProgress{})
		rerun += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Changed() {
			b.Fatalf("a re-run changed something: %v %v", rep.HostActions(), rep.Plan.Steps)
		}
	}
	avg := rerun.Seconds() / float64(b.N)
	b.ReportMetric(first.Seconds(), "s/first")
	b.ReportMetric(avg, "s/rerun")
	b.ReportMetric(avg/first.Seconds(), "ratio-rerun/first")
	b.ReportMetric(settle.Seconds(), "s/settle")
	b.ReportMetric(busy, "lab-cpu-cores/settled")
}

// waitLabIdle waits, for at most max, until the lab's VPS containers
// together use less than a tenth of a core over one second, and returns
// how long it waited and the last second's use (cores). Their use is read
// from their cgroups (v1 or v2); where neither can be read, the whole
// machine's busy time stands in (/proc/stat). Past max it returns anyway:
// the benchmark then measures a busy lab, and its metric says so.
func waitLabIdle(ctx context.Context, tb testing.TB, docker *client.Client, l *lab.Lab, max time.Duration) (time.Duration, float64) {
	tb.Helper()
	var files []string
	for _, n := range l.Nodes {
		res, err := docker.ContainerInspect(ctx, lab.ContainerName(l.Name, n.Name), client.ContainerInspectOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		id := res.Container.ID
		for _, f := range []string{
			"/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage",
			"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat",
			"/sys/fs/cgroup/docker/" + id + "/cpu.stat",
		} {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
				break
			}
		}
	}
	if len(files) != len(l.Nodes) {
		files = []string{"/proc/stat"}
	}
	start := time.Now()
	for {
		t0, u0 := time.Now(), cpuUsed(tb, files)
		time.Sleep(time.Second)
		cores := float64(cpuUsed(tb, files)-u0) / float64(time.Since(t0))
		if cores < 0.1 || time.Since(start) > max {
			return time.Since(start), cores
		}
	}
}

// cpuUsed sums the CPU time the files account: cgroup v1 cpuacct.usage
// (ns), cgroup v2 cpu.stat (usage_usec), or /proc/stat's first line (busy
// ticks, 100 a second).
func cpuUsed(tb testing.TB, files []string) time.Duration {
	tb.Helper()
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		switch {
		case strings.HasSuffix(f, "cpuacct.usage"):
			ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			total += time.Duration(ns)
		case strings.HasSuffix(f, "cpu.stat"):
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, _ := strconv.ParseInt(v, 10, 64)
					total += time.Duration(us) * time.Microsecond
				}
			}
		default: // /proc/stat: cpu user nice system idle iowait irq softirq steal
			fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
			for i, v := range fields[1:] {
				if i == 3 || i == 4 { // idle, iowait
					continue
				}
				t, _ := strconv.ParseInt(v, 10, 64)
				total += time.Duration(t) * 10 * time.Millisecond
			}
		}
	}
	return total
}
