package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// TestBackupScheduleOnTheClusterKeepsTheNewest runs `shoal up` for a local
// stack of 3 managers with its state in the lab's real S3 server, then
// again with shoal:backup {schedule: every 20s, keep: 2} and heal off: the
// backup service (shoal-backup) runs on a manager and, with no shoal
// process on the host, backs the cluster up to the lab's S3 server on the
// schedule (backups at least an interval apart, a manager that is neither
// the leader nor its own node stopped each time, the task never killed),
// and after each backup deletes all but the two newest. Then with
// shoal:heal enabled the backup service is removed and the heal service
// takes the backups over, with the same retention.
func TestBackupScheduleOnTheClusterKeepsTheNewest(t *testing.T) {
	requirePulumi(t)
	c, name := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()

	s3img, err := images.EnsureS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := lab.StartS3(ctx, docker, lab.Ref(name, filepath.Join(c.home, "lab", name)), s3img, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"state", "backups"} {
		if err := s3.EnsureBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	backend := s3.PulumiBackend("state")
	for k, v := range s3.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	base, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(extra string) {
		t.Helper()
		cfg := strings.Replace(string(base), "config:\n", "config:\n  shoal:cluster: "+name+"\n"+extra, 1)
		cfg = strings.Replace(cfg, "    - {name: w, provider: local, hoster: hoster-a, role: worker, count: 2}\n", "", 1)
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	up := func() string {
		t.Helper()
		start := time.Now()
		code, out, errs := c.run("up", "--yes", "--stack", name, "--dir", dir, "--backend", backend)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", code, out, errs)
		}
		t.Logf("up: %s", time.Since(start).Round(time.Second))
		return errs
	}

	// The servers first; then the image on the managers, as an air-gapped
	// user puts it there (or in their registry).
	write("")
	up()
	shoalBin := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", shoalBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build shoal: %v\n%s", err, out)
	}
	image, err := images.EnsureHeal(ctx, shoalBin, filepath.Join(os.Getenv("SHOAL_PULUMI_DIR"), "bin", "pulumi"))
	if err != nil {
		t.Fatal(err)
	}
	managers := []string{lab.ContainerName(name, "ma-1"), lab.ContainerName(name, "mb-1"), lab.ContainerName(name, "mc-1")}
	if err := images.LoadInto(ctx, image, managers...); err != nil {
		t.Fatal(err)
	}

	// Backups on a schedule, heal off: the backup service.
	const every = 20 * time.Second
	bk := `  shoal:backup: {recipient: ` + id.Recipient().String() + `, to: "s3://backups/` + name + `?endpoint=` + s3.URL() + `", schedule: every 20s, keep: 2}` + "\n"
	write(bk + `  shoal:heal: {image: "` + image + `"}` + "\n")
	if errs := up(); !strings.Contains(errs, "heal service shoal-backup: deployed") {
		t.Fatalf("up with a backup schedule did not deploy the backup service:\n%s", errs)
	}
	docker0 := func(args ...string) string {
		out, _ := exec.CommandContext(ctx, "docker", append([]string{"exec", managers[0], "docker"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	logsOf := func(svc string) func() string {
		return func() string { return docker0("service", "logs", "--tail", "60", svc) }
	}

	cl, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		var names []string
		for o := range cl.ListObjects(ctx, "backups", minio.ListObjectsOptions{Prefix: name + "/"}) {
			if o.Err == nil {
				names = append(names, strings.TrimPrefix(o.Key, name+"/"))
			}
		}
		return names
	}
	seen := map[string]time.Time{}
	// waitBackups waits until n backups were seen in all and the bucket
	// holds exactly the two newest seen.
	waitBackups := func(n int, d time.Duration, logs func() string) []string {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			now := backup.Entries(name, list())
			for _, e := range now {
				seen[e.Name] = e.Taken
			}
			all := make([]string, 0, len(seen))
			for s := range seen {
				all = append(all, s)
			}
			slices.SortFunc(all, func(a, b string) int { return seen[b].Compare(seen[a]) })
			var have []string
			for _, e := range now {
				have = append(have, e.Name)
			}
			if len(all) >= n && slices.Equal(have, all[:2]) {
				return all
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited %s for %d backups with the 2 newest kept: seen %v, in the bucket %v\nlogs:\n%s", d, n, all, have, logs())
			}
			time.Sleep(time.Second)
		}
	}
	all := waitBackups(3, 6*time.Minute, logsOf("shoal-backup_backup"))
	t.Logf("backups seen (newest first): %v", all)
	for i := 0; i+1 < len(all); i++ {
		gap := seen[all[i]].Sub(seen[all[i+1]])
		t.Logf("%s after %s", all[i], gap)
		// Names have a second's resolution; the schedule counts from the
		// last backup's time.
		if gap < every-time.Second {
			t.Errorf("%s came %s after %s: sooner than the schedule (every %s)", all[i], gap, all[i+1], every)
		}
	}
	if !strings.Contains(logsOf("shoal-backup_backup")(), "backup: pruned") {
		t.Errorf("the backup service's log does not say what it pruned:\n%s", logsOf("shoal-backup_backup")())
	}
	// The task was never killed (its own engine is never stopped), and it
	// is not the node it copied.
	tasks := docker0("service", "ps", "shoal-backup_backup", "--format", "{{.Node}}|{{.CurrentState}}|{{.Error}}")
	if lines := strings.Split(tasks, "\n"); len(lines) != 1 || !strings.Contains(lines[0], "Running") {
		t.Errorf("backup service tasks (want one, running):\n%s", tasks)
	}
	taskNode := strings.Split(tasks, "|")[0]

	// A backup opens with the identity: the cluster's raft state, from a
	// manager other than the task's, and the stack's state.
	open := func(object string) *backup.Contents {
		t.Helper()
		o, err := cl.GetObject(ctx, "backups", name+"/"+object, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := io.ReadAll(o)
		o.Close()
		plain, err := backup.Open(sealed, id)
		if err != nil {
			t.Fatalf("open %s: %v", object, err)
		}
		got, err := backup.ReadArchive(bytes.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		if got.Manifest.Cluster != name || len(got.Files[backup.StackFile]) == 0 || len(got.Files[backup.SwarmFile]) == 0 {
			t.Errorf("%s holds cluster %q, %d bytes of stack state, %d of raft state", object, got.Manifest.Cluster, len(got.Files[backup.StackFile]), len(got.Files[backup.SwarmFile]))
		}
		return got
	}
	got := open(all[0])
	t.Logf("newest backup: raft state of %s, the task runs on %s, engine stopped %d ms", got.Manifest.Node, taskNode, got.Manifest.EngineStoppedMS)
	if got.Manifest.Node == "" || strings.Contains(taskNode, got.Manifest.Node) {
		t.Errorf("the backup copied %q, the node its task runs on (%s)", got.Manifest.Node, taskNode)
	}

	// The task on the first manager that does not lead (the one a backup
	// would copy): the next backup copies the third manager, never the
	// task's own.
	leader := ""
	for _, l := range strings.Split(docker0("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "Leader" {
			leader = f[0]
		}
	}
	var target, other string
	for _, m := range []string{"ma-1", "mb-1", "mc-1"} {
		switch {
		case m == leader:
		case target == "":
			target = m
		default:
			other = m
		}
	}
	if leader == "" || other == "" {
		t.Fatalf("leader %q among ma-1, mb-1, mc-1?\n%s", leader, docker0("node", "ls"))
	}
	if out := docker0("service", "update", "--detach", "--constraint-add", "node.hostname=="+target, "shoal-backup_backup"); strings.Contains(out, "rror") {
		t.Fatalf("move the backup task to %s: %s", target, out)
	}
	// A backup the old task took while the update went on is not the
	// new task's: wait until the new one runs, then for its backup.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.HasPrefix(docker0("service", "ps", "shoal-backup_backup", "--filter", "desired-state=running", "--format", "{{.Node}}|{{.CurrentState}}"), target+"|Running") {
		if time.Now().After(deadline) {
			t.Fatalf("the backup task does not run on %s:\n%s", target, docker0("service", "ps", "shoal-backup_backup"))
		}
		time.Sleep(time.Second)
	}
	for _, e := range backup.Entries(name, list()) {
		seen[e.Name] = e.Taken
	}
	all = waitBackups(len(seen)+1, 3*time.Minute, logsOf("shoal-backup_backup"))
	tasks = docker0("service", "ps", "shoal-backup_backup", "--filter", "desired-state=running", "--format", "{{.Node}}|{{.CurrentState}}")
	got = open(all[0])
	t.Logf("with the task on %s (%s leads): %s copied %s", tasks, leader, all[0], got.Manifest.Node)
	if !strings.HasPrefix(tasks, target+"|Running") || got.Manifest.Node != other {
		t.Errorf("with the task on %s and %s leading, the backup copied %s; want %s (task: %s)", target, leader, got.Manifest.Node, other, tasks)
	}
	if st := c.status(); st.Quorum != "ok" || st.ManagersReachable != 3 {
		t.Errorf("after the scheduled backups: quorum %s, %d managers reachable", st.Quorum, st.ManagersReachable)
	}

	// Heal on: the heal service takes the backups over.
	write(bk + `  shoal:heal: {enabled: true, image: "` + image + `"}` + "\n")
	errs := up()
	if !strings.Contains(errs, "heal service shoal-heal: deployed") || !strings.Contains(errs, "heal service shoal-backup: removed") {
		t.Fatalf("up with heal enabled: want the heal service deployed and the backup service removed:\n%s", errs)
	}
	all = waitBackups(len(all)+2, 5*time.Minute, logsOf("shoal-heal_heal"))
	t.Logf("backups seen after heal took over (newest first): %v", all)
	if l := logsOf("shoal-heal_heal")(); !strings.Contains(l, "backup: taken") {
		t.Errorf("the heal service's log does not show its backups:\n%s", l)
	}
	if testing.Verbose() {
		t.Logf("heal service logs:\n%s", logsOf("shoal-heal_heal")())
	}
	var j []backup.Entry
	if code, out, errs := c.run("backup", "list", "--stack", name, "--dir", dir, "--backend", backend, "-o", "json"); code != 0 || json.Unmarshal([]byte(out), &j) != nil || len(j) != 2 {
		t.Errorf("backup list: exit %d, %d entries\n%s\n%s", code, len(j), out, errs)
	}
}
