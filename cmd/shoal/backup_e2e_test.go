package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/moby/moby/api/types/container"
	mswarm "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// backupLab is a 3+1 lab with the lab's S3 server, an age identity whose
// recipient is the inventory's backup.recipient, and a swarm holding an
// overlay network, a config, a secret and two services on the worker; web
// runs only while the secret it mounts holds the expected value.
type backupLab struct {
	c        cli
	name     string
	s3       *lab.S3
	to       string // s3://backups/NAME?endpoint=...
	identity string // identity file
	id       *age.X25519Identity
	demo     string
	services map[string]string // name -> ID
	swarmID  string
	workers  int
}

const backupSecretValue = "s3cr3t value of the restore test\n"

func newBackupLab(ctx context.Context, t testing.TB) backupLab {
	t.Helper()
	return newBackupLabWith(ctx, t, 1)
}

// newBackupLabWith is newBackupLab with workers workers (w1, w2, ...).
func newBackupLabWith(ctx context.Context, t testing.TB, workers int) backupLab {
	t.Helper()
	c, name := newLab(t)
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	s3img, err := images.EnsureS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := images.EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.must("lab", "up", "--name", name, "--managers", "3", "--workers", strconv.Itoa(workers))
	s3, err := lab.StartS3(ctx, docker, lab.Ref(name, filepath.Join(c.home, "lab", name)), s3img, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(ctx, "backups"); err != nil {
		t.Fatal(err)
	}
	for k, v := range s3.Env() {
		t.Setenv(k, v)
	}
	for i := 1; i <= workers; i++ {
		if err := images.LoadInto(ctx, demo, lab.ContainerName(name, fmt.Sprintf("w%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	// The recipient in the inventory, the identity off the cluster.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join(c.home, "lab", name, "inventory.yaml")
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	inv.Backup.Recipient = id.Recipient().String()
	b, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(invPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	m1 := c.managerDocker(ctx, name, "m1")
	bl := backupLab{c: c, name: name, s3: s3, workers: workers, to: "s3://backups/" + name + "?endpoint=" + s3.URL(), identity: idFile, id: id, demo: demo,
		services: map[string]string{}}
	if _, err := m1.NetworkCreate(ctx, "backend", client.NetworkCreateOptions{Driver: "overlay", Scope: "swarm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: mswarm.ConfigSpec{Annotations: mswarm.Annotations{Name: "app-config"}, Data: []byte("level=info\n")}}); err != nil {
		t.Fatal(err)
	}
	sec, err := m1.SecretCreate(ctx, client.SecretCreateOptions{Spec: mswarm.SecretSpec{Annotations: mswarm.Annotations{Name: "db-password"}, Data: []byte(backupSecretValue)}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(backupSecretValue))
	one, delay := uint64(1), time.Second
	r, err := m1.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: mswarm.ServiceSpec{
		Annotations: mswarm.Annotations{Name: "web"},
		TaskTemplate: mswarm.TaskSpec{
			ContainerSpec: &mswarm.ContainerSpec{Image: demo,
				Env: []string{"DEMO_EXPECT_FILE=/run/secrets/db-password", "DEMO_EXPECT_SHA256=" + hex.EncodeToString(sum[:])},
				Secrets: []*mswarm.SecretReference{{SecretID: sec.ID, SecretName: "db-password",
					File: &mswarm.SecretReferenceFileTarget{Name: "db-password", UID: "0", GID: "0", Mode: 0o400}}}},
			Placement:     &mswarm.Placement{Constraints: []string{"node.role==worker"}},
			RestartPolicy: &mswarm.RestartPolicy{Condition: mswarm.RestartPolicyConditionAny, Delay: &delay},
		},
		Mode: mswarm.ServiceMode{Replicated: &mswarm.ReplicatedService{Replicas: &one}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	bl.services["web"] = r.ID
	bl.services["api"] = createWorkerService(ctx, t, m1, "api", demo)
	for s, id := range bl.services {
		if _, err := waitServiceRunning(ctx, m1, id, 2*time.Minute); err != nil {
			t.Fatalf("service %s: %v", s, err)
		}
	}
	sw, err := m1.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bl.swarmID = sw.Swarm.ID
	return bl
}

// take runs `shoal backup --to` the lab's bucket and returns its JSON.
func (bl backupLab) take(t testing.TB) backupJSON {
	t.Helper()
	code, out, errs := bl.c.run("backup", "--to", bl.to, "-o", "json")
	if code != 0 {
		t.Fatalf("backup: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	var j backupJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("backup -o json: %v\n%s", err, out)
	}
	t.Logf("backup: %s (engine of %s stopped %d ms)\nstderr:\n%s", j.Backup, j.Node, j.EngineStoppedMS, errs)
	return j
}

// object reads the backup object straight from the bucket.
func (bl backupLab) object(ctx context.Context, t *testing.T, url string) []byte {
	t.Helper()
	key := strings.TrimPrefix(url, "s3://backups/")
	cl, err := bl.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	o, err := cl.GetObject(ctx, "backups", key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return b
}

// removeEveryNode removes every VPS of the lab (its S3 server stays).
func (bl backupLab) removeEveryNode(ctx context.Context, t testing.TB) {
	t.Helper()
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	l := bl.c.labRef(bl.name)
	for _, n := range slices.Clone(l.Nodes) { // RemoveNode drops each from l.Nodes
		if err := lab.RemoveNode(ctx, docker, l, n.Name, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
}

// loadDemoWhenUp loads the demo image into the new workers as soon as
// their engines answer (lab VPSes cannot pull, a registry would serve
// it); the channel says how it went.
func (bl backupLab) loadDemoWhenUp(ctx context.Context) <-chan error {
	loaded := make(chan error, 1)
	go func() {
		var errs []error
		for i := 1; i <= bl.workers; i++ {
			var err error
			deadline := time.Now().Add(5 * time.Minute)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err = images.LoadInto(ctx, bl.demo, lab.ContainerName(bl.name, fmt.Sprintf("w%d", i))); err == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
			errs = append(errs, err)
		}
		loaded <- errors.Join(errs...)
	}()
	return loaded
}

// assertRestored checks a restored lab of 3 managers and bl.workers
// workers: quorum ok, the swarm's ID, the services with their IDs (in
// restore's output out) running, and web's log showing its secret's value
// checked. It returns the restored manager's Docker API.
func (bl backupLab) assertRestored(ctx context.Context, t *testing.T, node, out string) *client.Client {
	t.Helper()
	st := bl.c.status()
	if st.Quorum != quorum.OK || st.Managers != 3 || st.ManagersReachable != 3 || len(st.Nodes) != 3+bl.workers {
		t.Errorf("after restore: quorum %s, %d/%d managers, %d nodes; want ok, 3/3, %d", st.Quorum, st.ManagersReachable, st.Managers, len(st.Nodes), 3+bl.workers)
	}
	m := bl.c.managerDocker(ctx, bl.name, node)
	sw, err := m.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil || sw.Swarm.ID != bl.swarmID {
		t.Errorf("swarm ID after restore = %q (%v), want %s", sw.Swarm.ID, err, bl.swarmID)
	}
	for name, id := range bl.services {
		if !strings.Contains(out, id+"  "+name) {
			t.Errorf("restore's service list lacks %s %s", id, name)
		}
		if _, err := waitServiceRunning(ctx, m, id, time.Minute); err != nil {
			t.Errorf("service %s (%s) does not run after restore: %v", name, id, err)
		}
	}
	// web's task read the secret and found the value it expects.
	rc, err := m.ServiceLogs(ctx, bl.services["web"], client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if !bytes.Contains(logs, []byte("/run/secrets/db-password holds the expected content")) {
		t.Errorf("web's log does not show the secret's value checked:\n%s", logs)
	}
	return m
}

// TestDRBackupVerifyPassesOnAGoodBackupAndFailsOnATruncatedOne takes a
// backup of a 3+1 lab to the lab's S3 server: a manager that does not lead
// is copied, its engine stopped for a while and back, the object in the
// bucket is an age file that shows none of the swarm's names and opens
// with no other identity; `shoal backup verify` restores it into a
// throwaway swarm with the manifest's services, networks, configs and
// secrets (exit 0), and fails on the same backup cut short, naming it.
// Last, with one manager killed, a backup is refused (exit 3): the
// cluster cannot spare another manager, and none is stopped.
func TestDRBackupVerifyPassesOnAGoodBackupAndFailsOnATruncatedOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bl := newBackupLab(ctx, t)
	c := bl.c

	j := bl.take(t)
	if j.Node == "" || j.Node == "m1" || j.EngineStoppedMS <= 0 || j.SwarmID != bl.swarmID {
		t.Errorf("backup copied %q (engine stopped %d ms) of swarm %s; want a manager that does not lead (m1 leads), stopped a while, swarm %s",
			j.Node, j.EngineStoppedMS, j.SwarmID, bl.swarmID)
	}
	want := backup.Objects{Services: []string{"api", "web"}, Configs: []string{"app-config"}, Secrets: []string{"db-password"}}
	if d := want.Diff(backup.Objects{Services: j.Objects.Services, Configs: j.Objects.Configs, Secrets: j.Objects.Secrets}); len(d) > 0 {
		t.Errorf("manifest objects: %v", d)
	}
	if !strings.Contains(strings.Join(j.Objects.Networks, ","), "backend") {
		t.Errorf("manifest networks %v lack backend", j.Objects.Networks)
	}
	if st := c.status(); st.Quorum != quorum.OK || st.ManagersReachable != 3 {
		t.Errorf("after the backup: quorum %s, %d managers reachable", st.Quorum, st.ManagersReachable)
	}

	// Not readable without the identity.
	sealed := bl.object(ctx, t, j.Backup)
	if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n")) {
		t.Errorf("the object is not an age file: %q", sealed[:min(40, len(sealed))])
	}
	for _, s := range []string{"manifest.json", "swarm.tar.gz", "db-password", "app-config", bl.swarmID, bl.name} {
		if bytes.Contains(sealed, []byte(s)) {
			t.Errorf("the object shows %q in clear", s)
		}
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := backup.Open(sealed, other); err == nil {
		t.Errorf("another identity opened the backup")
	}

	// A good backup verifies.
	url := j.Backup + "?endpoint=" + bl.s3.URL()
	start := time.Now()
	code, out, errs := c.run("backup", "verify", url, "--identity", bl.identity)
	t.Logf("verify took %s\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(100*time.Millisecond), out, errs)
	if code != 0 || !strings.Contains(out, "ok (the restored swarm holds what the manifest lists)") {
		t.Fatalf("verify of a good backup: exit %d", code)
	}
	// Verified, it is marked so in the bucket: list says it (and prune
	// keeps the newest verified one).
	var entries []backup.Entry
	if code, out, errs := c.run("backup", "list", "--to", bl.to, "-o", "json"); code != 0 || json.Unmarshal([]byte(out), &entries) != nil ||
		len(entries) != 1 || !entries[0].Verified || !strings.HasSuffix(j.Backup, "/"+entries[0].Name) {
		t.Errorf("backup list after verify: exit %d, want %s verified\n%s\n%s", code, j.Backup, out, errs)
	}
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if ls, err := lab.List(ctx, docker); err == nil {
		for _, l := range ls {
			if strings.HasPrefix(l, "verify-") {
				t.Errorf("verify left its throwaway lab %s", l)
			}
		}
	}

	// Cut short, it fails naming what is wrong, before any lab is made.
	cut := filepath.Join(t.TempDir(), "cut.backup.age")
	if err := os.WriteFile(cut, sealed[:len(sealed)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = c.run("backup", "verify", cut, "--identity", bl.identity)
	if code != exitFailed || !strings.Contains(errs, "cut short") || strings.Contains(errs, "throwaway") {
		t.Errorf("verify of a truncated backup: exit %d, want %d naming it cut short\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, errs)
	}
	t.Logf("truncated: %s", strings.TrimSpace(errs))
	// With the wrong identity it says so.
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	_ = os.WriteFile(wrong, []byte(other.String()+"\n"), 0o600)
	if code, _, errs := c.run("backup", "verify", url, "--identity", wrong); code != exitFailed || !strings.Contains(errs, "does not open it") {
		t.Errorf("verify with another identity: exit %d\n%s", code, errs)
	}

	// With one manager of three lost, the cluster cannot spare another for
	// a backup: refused (exit 3), saying why, and no engine stopped.
	if err := lab.KillNode(ctx, docker, c.labRef(bl.name), "m3"); err != nil {
		t.Fatal(err)
	}
	m1 := c.managerDocker(ctx, bl.name, "m1")
	managers := func() map[string]string {
		st := map[string]string{}
		res, err := m1.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return st
		}
		for _, n := range res.Items {
			if n.ManagerStatus != nil {
				st[n.Description.Hostname] = string(n.ManagerStatus.Reachability)
			}
		}
		return st
	}
	waitFor(t, "m3 unreachable", 2*time.Minute, func() (bool, string) {
		st := managers()
		return st["m3"] == "unreachable", fmt.Sprint(st)
	})
	code, out, errs = c.run("backup", "--to", bl.to)
	if code != exitRefused || !strings.Contains(errs, "2 of 3 managers are reachable") || !strings.Contains(errs, "nothing was stopped") {
		t.Errorf("backup with a manager lost: exit %d, want %d saying 2 of 3 managers are reachable\nstdout:\n%s\nstderr:\n%s", code, exitRefused, out, errs)
	}
	if st := managers(); st["m1"] != "reachable" || st["m2"] != "reachable" {
		t.Errorf("after the refused backup the managers are %v, want m1 and m2 reachable", st)
	}
}

// TestDRRestoreFromS3AfterLosingEveryNode takes a backup of a 3+1 lab to
// the lab's S3 server, removes every VPS of the lab, and runs `shoal dr
// restore --lab --from` it: new VPSes, the swarm re-formed from the raft
// state, the managers and the worker joined, the same services with the
// same IDs running, and web, which runs only while its secret holds the
// expected value, runs: the secret's value came back. While the nodes ran,
// restore refused (exit 3).
func TestDRRestoreFromS3AfterLosingEveryNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bl := newBackupLab(ctx, t)
	c := bl.c
	j := bl.take(t)
	from := j.Backup + "?endpoint=" + bl.s3.URL()

	if code, out, errs := c.run("dr", "restore", "--lab", "--from", from, "--identity", bl.identity, "--yes"); code != exitRefused || !strings.Contains(errs, "still has nodes") {
		t.Fatalf("dr restore while the lab runs: exit %d, want %d\n%s\n%s", code, exitRefused, out, errs)
	}
	if code, _, errs := c.run("dr", "restore", "--from", from, "--identity", bl.identity, "--yes"); code != exitUsage || !strings.Contains(errs, "--inventory NEW.yaml") {
		t.Errorf("dr restore without --lab or --inventory: exit %d, want %d asking for the new servers\n%s", code, exitUsage, errs)
	}

	bl.removeEveryNode(ctx, t)
	code, out, errs := c.run("dr", "restore", "--lab", "--from", from, "--identity", bl.identity, "--dry-run")
	if code != exitWork || !strings.Contains(out, "put the backup's raft state onto "+j.Node) {
		t.Fatalf("dry run: exit %d, want %d with the plan\n%s\n%s", code, exitWork, out, errs)
	}

	loaded := bl.loadDemoWhenUp(ctx)
	start := time.Now()
	code, out, errs = c.run("dr", "restore", "--lab", "--from", from, "--identity", bl.identity, "--yes")
	took := time.Since(start)
	t.Logf("dr restore took %s\nstdout:\n%s\nstderr:\n%s", took.Round(100*time.Millisecond), out, errs)
	if code != 0 {
		t.Fatalf("dr restore: exit %d", code)
	}
	if err := <-loaded; err != nil {
		t.Errorf("load the demo image into the new w1: %v", err)
	}

	bl.assertRestored(ctx, t, j.Node, out)
	// Restored: bootstrap has nothing left to do.
	if code, out, errs := c.run("bootstrap", "--dry-run"); code != 0 {
		t.Errorf("bootstrap --dry-run after restore: exit %d, want 0\n%s\n%s", code, out, errs)
	}
}

// serversAtNewAddresses makes new VPSes for every node of old (the lab's
// inventory before every node was removed) at addresses the lost cluster
// never used, as new servers at any hoster would have: placeholders take
// the lowest free addresses of the lab network, the old ones, first
// (lab.Down removes them with the lab). It writes the lab's inventory for
// them (host keys pinned from the Docker Engine) and returns their
// addresses.
func (bl backupLab) serversAtNewAddresses(ctx context.Context, t testing.TB, old *inventory.Inventory) []string {
	t.Helper()
	labDir := lab.Ref(bl.name, filepath.Join(bl.c.home, "lab", bl.name))
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	oldAddrs := map[string]string{} // address -> node
	for _, n := range old.Nodes {
		oldAddrs[n.Address] = n.Name
	}
	nodeImage, err := lab.EnsureImage(ctx, docker, lab.VariantDocker, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i := range old.Nodes {
		name := fmt.Sprintf("shoal-%s-placeholder-%d", bl.name, i)
		if _, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
			Config:     &container.Config{Image: nodeImage, Entrypoint: []string{"sleep", "infinity"}, Labels: map[string]string{lab.LabelLab: bl.name, lab.LabelService: "placeholder"}},
			HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(lab.NetworkName(bl.name))},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := docker.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The new servers, in parallel, and their inventory.
	nodes := make([]lab.Node, len(old.Nodes))
	errs := make([]error, len(old.Nodes))
	var wg sync.WaitGroup
	for i, n := range old.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			role := lab.RoleWorker
			if n.Role == inventory.RoleManager {
				role = lab.RoleManager
			}
			nodes[i], errs[i] = lab.AddNode(ctx, docker, lab.Ref(bl.name, labDir.Dir), lab.NodeSpec{Name: n.Name, Role: role, Hoster: n.Hoster, Region: n.Region}, io.Discard)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	inv := *old
	inv.Nodes = slices.Clone(old.Nodes)
	if err := os.Remove(inv.SSH.KnownHosts); err != nil {
		t.Fatal(err)
	}
	var newAddrs []string
	for i := range inv.Nodes {
		if was, ok := oldAddrs[nodes[i].Address]; ok {
			t.Fatalf("setup: new %s got %s, the address of the lost %s; the test needs new addresses only", nodes[i].Name, nodes[i].Address, was)
		}
		t.Logf("%s: %s, was %s", nodes[i].Name, nodes[i].Address, inv.Nodes[i].Address)
		inv.Nodes[i].Address = nodes[i].Address
		newAddrs = append(newAddrs, nodes[i].Address)
		key, err := nodes[i].HostPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := appendKnownHost(inv.SSH.KnownHosts, nodes[i].Address, key); err != nil {
			t.Fatal(err)
		}
	}
	writeInventory(t, labDir, "inventory.yaml", &inv)
	return newAddrs

}

// TestDRRestoreOntoServersWithNewAddresses takes a backup of a 3+2 lab
// with services and a secret, removes every VPS, takes the lab network's
// old addresses with placeholder containers, and makes new VPSes, which
// thus all get addresses the lost cluster never used, as new servers at
// any hoster would. It writes a plain inventory for them (the backup's
// names, roles and hosters, the new addresses, host keys pinned from the
// Docker Engine) and runs `shoal dr restore --from ... --inventory ...`:
// quorum ok with 3 managers, every manager's raft address a new one, the
// services back with their IDs and running (web only runs while its secret
// holds the expected value). Before, restore refused servers still in a
// swarm (exit 3) and an inventory whose node names differ from the backup's
// (exit 2, naming the node).
func TestDRRestoreOntoServersWithNewAddresses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	bl := newBackupLabWith(ctx, t, 2)
	c := bl.c
	j := bl.take(t)
	from := j.Backup + "?endpoint=" + bl.s3.URL()
	invPath := filepath.Join(c.home, "lab", bl.name, "inventory.yaml")
	old, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}

	// The servers of the live cluster are in a swarm: refused.
	if code, out, errs := c.run("dr", "restore", "--from", from, "--identity", bl.identity, "--inventory", invPath, "--yes"); code != exitRefused || !strings.Contains(errs, "in a swarm already") {
		t.Fatalf("dr restore onto servers in a swarm: exit %d, want %d\n%s\n%s", code, exitRefused, out, errs)
	}
	// An inventory whose names differ: refused naming the field.
	swapped := *old
	swapped.Nodes = slices.Clone(old.Nodes)
	for i := range swapped.Nodes {
		if swapped.Nodes[i].Name == "w2" {
			swapped.Nodes[i].Name = "w9"
		}
	}
	labDir := lab.Ref(bl.name, filepath.Join(c.home, "lab", bl.name))
	swappedPath := writeInventory(t, labDir, "swapped.yaml", &swapped)
	if code, _, errs := c.run("dr", "restore", "--from", from, "--identity", bl.identity, "--inventory", swappedPath, "--yes"); code != exitUsage || !strings.Contains(errs, "nodes: no node w2") {
		t.Errorf("dr restore onto an inventory without w2: exit %d, want %d naming the node\n%s", code, exitUsage, errs)
	}

	bl.removeEveryNode(ctx, t)
	newAddrs := bl.serversAtNewAddresses(ctx, t, old)
	code, out, errs2 := c.run("dr", "restore", "--from", from, "--identity", bl.identity, "--inventory", invPath, "--dry-run")
	if code != exitWork || !strings.Contains(out, "move "+j.Node+"'s raft address from ") {
		t.Fatalf("dry run: exit %d, want %d with the plan moving the raft address\n%s\n%s", code, exitWork, out, errs2)
	}
	t.Logf("plan:\n%s", out)

	loaded := bl.loadDemoWhenUp(ctx)
	start := time.Now()
	code, out, errs2 = c.run("dr", "restore", "--from", from, "--identity", bl.identity, "--inventory", invPath, "--yes")
	t.Logf("dr restore took %s\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(100*time.Millisecond), out, errs2)
	if code != 0 {
		t.Fatalf("dr restore: exit %d", code)
	}
	if err := <-loaded; err != nil {
		t.Errorf("load the demo image into the new workers: %v", err)
	}
	m := bl.assertRestored(ctx, t, j.Node, out)
	list, err := m.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managers := 0
	for _, n := range list.Items {
		if n.ManagerStatus == nil {
			continue
		}
		managers++
		if bad := backup.StaleRaftAddrs([]mswarm.Node{n}, newAddrs); len(bad) > 0 {
			t.Errorf("raft address not a new server's: %v", bad)
		}
	}
	if managers != 3 {
		t.Errorf("%d managers in the node list, want 3", managers)
	}
	if code, out, errs := c.run("bootstrap", "--dry-run"); code != 0 {
		t.Errorf("bootstrap --dry-run after restore: exit %d, want 0\n%s\n%s", code, out, errs)
	}
}

// TestDRRestoreRejoinsSurvivingWorkers takes a backup of a 3+2 lab,
// removes its three managers only, and runs `shoal dr restore --lab`: the
// two workers still running are kept (the same containers), leave the
// lost swarm and join the restored one; quorum ok, the services back with
// their IDs and running on them.
func TestDRRestoreRejoinsSurvivingWorkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bl := newBackupLabWith(ctx, t, 2)
	c := bl.c
	j := bl.take(t)
	docker, err := localDocker()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ids := map[string]string{}
	l := c.labRef(bl.name)
	for _, n := range slices.Clone(l.Nodes) {
		if n.Role == lab.RoleManager {
			if err := lab.RemoveNode(ctx, docker, l, n.Name, io.Discard); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ins, err := docker.ContainerInspect(ctx, n.Container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[n.Name] = ins.Container.ID
	}
	start := time.Now()
	code, out, errs := c.run("dr", "restore", "--lab", "--from", j.Backup+"?endpoint="+bl.s3.URL(), "--identity", bl.identity, "--yes")
	t.Logf("dr restore took %s\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(100*time.Millisecond), out, errs)
	if code != 0 {
		t.Fatalf("dr restore: exit %d", code)
	}
	for name, id := range ids {
		if !strings.Contains(errs, "["+name+"] surviving worker: leaving the lost swarm") {
			t.Errorf("restore did not say %s leaves the lost swarm", name)
		}
		ins, err := docker.ContainerInspect(ctx, lab.ContainerName(bl.name, name), client.ContainerInspectOptions{})
		if err != nil || ins.Container.ID != id {
			t.Errorf("%s is not the surviving container %s any more (%v)", name, id[:12], err)
		}
	}
	bl.assertRestored(ctx, t, j.Node, out)
}

// BenchmarkBackup measures how long `shoal backup` keeps the copied
// manager's engine stopped (s/engine-stopped, from the stop command to the
// engine answering again) and the whole backup (s/backup), on a 3+1 lab
// with two services, to the lab's S3 server. Building the lab is not
// timed. Run with:
//
//	go test -run '^$' -bench 'Backup$' -benchtime 1x ./cmd/shoal
func BenchmarkBackup(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bl := newBackupLab(ctx, b)
	var stopped, total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		j := bl.take(b)
		total += time.Since(start)
		stopped += time.Duration(j.EngineStoppedMS) * time.Millisecond
	}
	b.ReportMetric(stopped.Seconds()/float64(b.N), "s/engine-stopped")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/backup")
}

// BenchmarkDRRestore measures `shoal dr restore --lab --yes` from the
// command to every service converged (the command returns only after it
// saw quorum ok and every service running) on a 3+1 lab whose nodes were
// all removed after a backup to the lab's S3 server. Goal: <= 5 min. Run
// with:
//
//	go test -run '^$' -bench DRRestore -benchtime 1x ./cmd/shoal
func BenchmarkDRRestore(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		bl := newBackupLab(ctx, b)
		j := bl.take(b)
		bl.removeEveryNode(ctx, b)
		_ = bl.loadDemoWhenUp(ctx) // as in the test
		b.StartTimer()
		start := time.Now()
		code, out, errs := bl.c.run("dr", "restore", "--lab", "--from", j.Backup+"?endpoint="+bl.s3.URL(), "--identity", bl.identity, "--yes")
		took := time.Since(start)
		b.StopTimer()
		cancel()
		if code != 0 {
			b.Fatalf("dr restore: exit %d\n%s\n%s", code, out, errs)
		}
		b.ReportMetric(took.Seconds(), "s/restore")
	}
}

// BenchmarkDRRestoreOntoNewAddresses measures `shoal dr restore --from
// ... --inventory ... --yes` onto new VPSes at addresses the lost 3+2 lab
// never used (as in TestDRRestoreOntoServersWithNewAddresses), from the
// command to every service converged (s/restore), and the move of the
// restored manager's raft address within it (s/move, as restore reports
// it). Run with:
//
//	go test -run '^$' -bench DRRestoreOntoNewAddresses -benchtime 1x ./cmd/shoal
func BenchmarkDRRestoreOntoNewAddresses(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		bl := newBackupLabWith(ctx, b, 2)
		j := bl.take(b)
		invPath := filepath.Join(bl.c.home, "lab", bl.name, "inventory.yaml")
		old, err := inventory.Load(invPath)
		if err != nil {
			b.Fatal(err)
		}
		bl.removeEveryNode(ctx, b)
		bl.serversAtNewAddresses(ctx, b, old)
		_ = bl.loadDemoWhenUp(ctx)
		b.StartTimer()
		start := time.Now()
		code, out, errs := bl.c.run("dr", "restore", "--from", j.Backup+"?endpoint="+bl.s3.URL(), "--identity", bl.identity, "--inventory", invPath, "--yes")
		took := time.Since(start)
		b.StopTimer()
		cancel()
		if code != 0 {
			b.Fatalf("dr restore: exit %d\n%s\n%s", code, out, errs)
		}
		b.ReportMetric(took.Seconds(), "s/restore")
		if m := regexp.MustCompile(`\(moved in ([0-9.]+m?s)\)`).FindStringSubmatch(errs); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				b.ReportMetric(d.Seconds(), "s/move")
			}
		}
	}
}
