package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab"
)

type backupFlags struct {
	to, recipient string
	// schedule is "" (one backup now), scheduleConfig (the configured
	// schedule) or a schedule ("every 6h", "daily 03:00").
	schedule        string
	keep, keepDaily int
	inCluster       bool
	stack           stackFlags
	// ifScheduled: stop after reading the settings when no schedule is
	// configured (heal asks whether it has backups to take; a cluster
	// without shoal:backup has none, and no location to open).
	ifScheduled bool
}

// scheduleConfig is --schedule given without a value: the schedule of
// shoal:backup or the inventory's backup.schedule.
const scheduleConfig = "config"

func newBackupCmd(a *app) *cobra.Command {
	var fl backupFlags
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Take an encrypted backup of the swarm's raft state and shoal's state",
		Long: `backup copies the swarm's state so that ` + "`shoal dr restore`" + ` can bring the
cluster back after every manager is lost.

It reads the swarm through a manager (services, networks, configs and
secrets, by name), picks a manager that does not lead and whose stop leaves
the others with quorum (it refuses, exit 3, with the reason, when the
cluster cannot spare one manager for the moment), stops that manager's
engine through what runs it (systemd, /etc/init.d/docker, or a lab VPS's
init), copies <docker data root>/swarm, starts the engine again and waits
until the manager is Ready and reachable. It says how long the engine was
stopped.

The backup is one tar: the raft state (swarm.tar.gz), the unlock key when
autolock is on, the inventory and its pinned host keys, and manifest.json
(cluster, swarm ID, node, time, shoal version, the swarm's objects, each
member's size and SHA-256). It is encrypted with age to the recipient of
the inventory's backup.recipient (or --recipient): an age public key
(age1..., made with age-keygen). Keep the identity (private key) off the
cluster: without it the backup cannot be read.

For a cluster made by ` + "`shoal up`" + ` (--stack, or the inventory the last
` + "`shoal up`" + ` wrote), the defaults come from the stack config's shoal:backup
{recipient, to}, and the archive also holds the stack's state
(shoal/stack.json, as ` + "`pulumi stack export`" + ` writes it: its secrets stay
encrypted with the stack's secrets provider).

--to (default: shoal:backup.to or the inventory's backup.to) is a directory (a path or
file://DIR) or an S3-compatible bucket: s3://BUCKET/PREFIX, with the
endpoint in ?endpoint=http(s)://HOST:PORT or $AWS_ENDPOINT_URL, and the
credentials in $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (never in the
URL).

Check a backup with ` + "`shoal backup verify`" + `; see them with ` + "`shoal backup list`" + ` and
delete old ones with ` + "`shoal backup prune`" + `.

--schedule keeps running and backs up on a schedule: "every DURATION"
(--schedule='every 6h') or "daily HH:MM" in UTC (--schedule='daily 03:00');
--schedule alone uses shoal:backup.schedule or the inventory's
backup.schedule. The next backup is due one interval after the newest
backup in the location (the location is the record: a backup missed while
nothing ran is taken once, at start). Before each backup it takes the heal
lease (one writer per cluster: heal does not replace nodes while a manager's
engine is stopped for a copy) and releases it after; then it prunes with
--keep/--keep-daily (default shoal:backup {keep, keepDaily}). A failed
backup is tried again after one interval, at most 5 minutes.

On a ` + "`shoal up`" + ` cluster, shoal:backup.schedule (with recipient and an
s3://...?endpoint=... destination the nodes reach) makes the cluster back
itself up: the heal service does it when shoal:heal.enabled, else ` + "`shoal up`" + `
runs the one-replica service shoal-backup (the heal image, the same
secrets; the S3 keys of the environment ` + "`shoal up`" + ` ran in are swarm secrets).
Neither ever stops the engine of the node it runs on.`,
		Example: `  shoal backup --to /var/backups/shoal
  shoal backup --to 's3://backups/prod?endpoint=https://s3.example.net' --recipient age1...
  shoal backup verify /var/backups/shoal/prod-20261203T070000Z.backup.age --identity ~/.shoal/backup.key
  shoal backup --schedule='every 6h' --keep 28   # until stopped
  shoal backup list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackup(cmd, a, fl) },
	}
	cmd.Flags().StringVar(&fl.to, "to", "", "where the backup goes: a directory or s3://BUCKET/PREFIX (default: the inventory's backup.to)")
	cmd.Flags().StringVar(&fl.recipient, "recipient", "", "age public key to encrypt to (default: the stack's shoal:backup.recipient or the inventory's backup.recipient)")
	f := cmd.Flags()
	f.StringVar(&fl.schedule, "schedule", "", "keep running and back up on a schedule: --schedule alone uses shoal:backup.schedule (or the inventory's backup.schedule), --schedule='every 6h' or --schedule='daily 03:00' (UTC) sets one")
	f.Lookup("schedule").NoOptDefVal = scheduleConfig
	f.IntVar(&fl.keep, "keep", 0, "with --schedule: after each backup, prune to the N newest (default: shoal:backup.keep or the inventory's backup.keep; --keep 0 keeps all, whatever they say)")
	f.IntVar(&fl.keepDaily, "keep-daily", 0, "with --schedule: also keep the newest backup of each of the N latest days (default: shoal:backup.keepDaily or backup.keep_daily)")
	f.BoolVar(&fl.inCluster, "in-cluster", false, "run as the scheduled backup service `shoal up` deploys (shoal:backup.schedule with shoal:heal off): secrets from the files the *_FILE variables name, the inventory from the stack's outputs; needs --schedule, --stack and --dir")
	addStackFlags(cmd, &fl.stack)
	cmd.AddCommand(newBackupVerifyCmd(a), newBackupListCmd(a), newBackupPruneCmd(a))
	return cmd
}

// backupJSON is backup's --output json document.
type backupJSON struct {
	Cluster         string         `json:"cluster"`
	SwarmID         string         `json:"swarm_id"`
	Node            string         `json:"node"`
	Why             string         `json:"why"`
	EngineStoppedMS int64          `json:"engine_stopped_ms"`
	Backup          string         `json:"backup"`
	Bytes           int            `json:"bytes"`
	Objects         backup.Objects `json:"objects"`
}

func runBackup(cmd *cobra.Command, a *app, fl backupFlags) error {
	ctx := cmd.Context()
	if fl.inCluster && fl.schedule == "" {
		return withCode(exitUsage, errors.New("--in-cluster runs the scheduled backup service: it needs --schedule"))
	}
	t, err := a.openBackupTarget(cmd, fl, true)
	if err != nil {
		return err
	}
	if fl.schedule != "" {
		return a.runBackupSchedule(ctx, cmd, fl, t)
	}
	j, err := a.takeBackup(ctx, t, "")
	if err != nil {
		return err
	}
	if a.json() {
		return writeJSON(a.stdout, j)
	}
	o := j.Objects
	fmt.Fprintf(a.stdout, "backup %s (%d bytes, encrypted to %s)\n", j.Backup, j.Bytes, t.set.Recipient)
	fmt.Fprintf(a.stdout, "swarm %s of %s, raft state of %s; engine stopped %s\n", j.SwarmID, j.Cluster, j.Node, (time.Duration(j.EngineStoppedMS) * time.Millisecond).Round(time.Millisecond))
	fmt.Fprintf(a.stdout, "holds %d services, %d networks, %d configs, %d secrets\n", len(o.Services), len(o.Networks), len(o.Configs), len(o.Secrets))
	return nil
}

// backupTarget is what backups of one cluster need, resolved once: the
// inventory (read again before each backup: heal rewrites it), the
// settings (flags over the stack's shoal:backup over the inventory's
// backup:), where backups go, and the stack whose state each backup
// holds (nil for a plain inventory, and for list and prune).
type backupTarget struct {
	invPath string
	inv     *inventory.Inventory
	set     infra.Backup
	loc     backup.Location
	store   backup.Store
	stack   string
	ws      *automation.Workspace
}

// openBackupTarget resolves the target of backup, list and prune. With
// openStack a `shoal up` stack is opened (for its state); with
// --in-cluster the process is the service's (secrets from files, the
// inventory from the stack's outputs).
func (a *app) openBackupTarget(cmd *cobra.Command, fl backupFlags, openStack bool) (*backupTarget, error) {
	ctx := cmd.Context()
	t := &backupTarget{}
	if fl.inCluster {
		if !cmd.Flags().Changed("stack") || fl.stack.dir == "" {
			return nil, withCode(exitUsage, errors.New("--in-cluster needs --stack and --dir (the backup service passes both)"))
		}
		ws, err := a.inClusterStack(cmd, fl.stack)
		if err != nil {
			return nil, err
		}
		t.ws = ws
	}
	if (fl.inCluster || cmd.Flags().Changed("stack")) && a.inventory == "" {
		a.inventory = automation.InventoryPath(a.home, fl.stack.stack)
	}
	inv, err := a.loadInventory()
	if err != nil {
		return nil, err
	}
	t.inv, t.invPath = inv, inv.Path
	if t.invPath == "" {
		if t.invPath, err = a.inventoryPath(); err != nil {
			return nil, err
		}
	}
	t.set = infra.Backup{Recipient: inv.Backup.Recipient, To: inv.Backup.To, Schedule: inv.Backup.Schedule, Keep: inv.Backup.Keep, KeepDaily: inv.Backup.KeepDaily}
	// A `shoal up` stack: shoal:backup, and the stack's state.
	if t.stack = stackOf(a.home, t.invPath); t.stack != "" {
		o, err := a.stackOptions(fl.stack, t.stack, labProgress(a))
		if err != nil {
			return nil, err
		}
		c, err := automation.ReadConfig(o)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("backup stack %s (pass the --dir and --backend `shoal up` used): %w", t.stack, err))
		}
		cfg, err := infra.BackupOf(c)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		t.set = infra.Backup{Recipient: cmp.Or(cfg.Recipient, t.set.Recipient), To: cmp.Or(cfg.To, t.set.To),
			Schedule: cmp.Or(cfg.Schedule, t.set.Schedule), Keep: cmp.Or(cfg.Keep, t.set.Keep), KeepDaily: cmp.Or(cfg.KeepDaily, t.set.KeepDaily)}
		if openStack && t.ws == nil {
			o.Existing = true
			if t.ws, err = automation.Open(ctx, o); err != nil {
				return nil, withCode(exitUsage, fmt.Errorf("backup stack %s (pass the --dir and --backend `shoal up` used): %w", t.stack, err))
			}
		}
	}
	t.set.Recipient = cmp.Or(fl.recipient, t.set.Recipient)
	t.set.To = cmp.Or(fl.to, t.set.To)
	// A flag given wins, 0 (keep all) too.
	if cmd.Flags().Changed("keep") {
		t.set.Keep = fl.keep
	}
	if cmd.Flags().Changed("keep-daily") {
		t.set.KeepDaily = fl.keepDaily
	}
	if fl.keep < 0 || fl.keepDaily < 0 {
		return nil, withCode(exitUsage, errors.New("--keep and --keep-daily must be 0 (keep all) or more"))
	}
	if fl.ifScheduled && t.set.Schedule == "" {
		return t, nil
	}
	if openStack {
		if _, err := backup.ParseRecipient(t.set.Recipient); err != nil {
			return nil, withCode(exitUsage, err)
		}
	}
	if t.loc, err = backup.ParseLocation(t.set.To, os.Getenv); err != nil {
		return nil, withCode(exitUsage, err)
	}
	if t.store, err = t.loc.Open(os.Getenv); err != nil {
		return nil, withCode(exitUsage, err)
	}
	return t, nil
}

// takeBackup takes one backup of t's cluster and puts it in t's store.
// selfNodeID is the swarm node this process runs on (never stopped).
func (a *app) takeBackup(ctx context.Context, t *backupTarget, selfNodeID string) (backupJSON, error) {
	start := time.Now()
	inv := t.inv
	if fresh, err := inventory.Load(t.invPath); err == nil {
		if fresh.SSH.KnownHosts == "" {
			fresh.SSH.KnownHosts = t.inv.SSH.KnownHosts
		}
		inv = fresh
	}
	rcp, err := backup.ParseRecipient(t.set.Recipient)
	if err != nil {
		return backupJSON{}, withCode(exitUsage, err)
	}
	extra := map[string][]byte{}
	if t.ws != nil {
		if extra[backup.StackFile], err = t.ws.Export(ctx); err != nil {
			return backupJSON{}, err
		}
		fmt.Fprintf(a.stderr, "stack %s: state exported (%d bytes)\n", t.stack, len(extra[backup.StackFile]))
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return backupJSON{}, withCode(exitUsage, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	dial.Attempts = 2
	tk, err := backup.Take(ctx, inv, backup.TakeOptions{Dial: dial, Progress: a.stderr, Extra: extra, SelfNodeID: selfNodeID})
	if err != nil {
		return backupJSON{}, err
	}
	sealed, err := backup.Seal(tk.Archive, rcp)
	if err != nil {
		return backupJSON{}, err
	}
	where, err := t.store.Put(ctx, backup.Name(inv.Cluster.Name, tk.Manifest.Taken), sealed)
	if err != nil {
		return backupJSON{}, withCode(exitFailed, err)
	}
	fmt.Fprintf(a.stderr, "backup of %s taken in %s; %s's engine was stopped for %s\n", inv.Cluster.Name,
		time.Since(start).Round(100*time.Millisecond), tk.Pick.Node, tk.EngineStopped.Round(time.Millisecond))
	return backupJSON{Cluster: inv.Cluster.Name, SwarmID: tk.Manifest.SwarmID, Node: tk.Pick.Node, Why: tk.Pick.Why,
		EngineStoppedMS: tk.EngineStopped.Milliseconds(), Backup: where, Bytes: len(sealed), Objects: tk.Manifest.Objects}, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type backupVerifyFlags struct {
	identity string
}

func newBackupVerifyCmd(a *app) *cobra.Command {
	var fl backupVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify BACKUP",
		Short: "Decrypt a backup, check it whole and restore it into a throwaway one-node lab swarm",
		Long: `verify reads BACKUP (a file, file://PATH or s3://BUCKET/KEY, as ` + "`shoal backup`" + `
printed it), decrypts it with the age identity, and checks it whole: age
checks every chunk and the end of the file, the tar must hold manifest.json
(written last) and every member it lists with its size and SHA-256, and the
raft state must be a whole gzip'd tar with swarm/raft in it. Each failure
names what is wrong (exit 1).

Then it restores the raft state into a throwaway one-node swarm on this
machine (a lab VPS container: the state put in place, the engine started,
swarm init --force-new-cluster), compares the services, networks, configs
and secrets it holds (names and counts) with the manifest, and removes the
throwaway node, whatever happened. It needs the local Docker Engine.`,
		Example: `  shoal backup verify /var/backups/shoal/prod-20261203T070000Z.backup.age --identity ~/.shoal/backup.key
  shoal backup verify 's3://backups/prod/prod-20261203T070000Z.backup.age?endpoint=https://s3.example.net' --identity key.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runBackupVerify(cmd, a, args[0], fl) },
	}
	cmd.Flags().StringVar(&fl.identity, "identity", "", "age identity file (the private key) that opens the backup")
	return cmd
}

// verifyJSON is verify's --output json document.
type verifyJSON struct {
	Backup   string          `json:"backup"`
	OK       bool            `json:"ok"`
	Manifest backup.Manifest `json:"manifest"`
	Restored backup.Objects  `json:"restored"`
	Diff     []string        `json:"diff"`
}

// openBackup fetches, decrypts and checks the backup at addr.
func openBackup(ctx context.Context, addr, identity string) (*backup.Contents, error) {
	if identity == "" {
		return nil, withCode(exitUsage, errors.New("--identity is required: the age identity file that opens the backup"))
	}
	ids, err := backup.ReadIdentities(identity)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	loc, name, err := backup.SplitObject(addr, os.Getenv)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	store, err := loc.Open(os.Getenv)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	sealed, err := store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	plain, err := backup.Open(sealed, ids...)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", addr, err)
	}
	c, err := backup.ReadArchive(bytes.NewReader(plain))
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", addr, err)
	}
	if _, err := backup.CheckSwarmTar(c.Files[backup.SwarmFile]); err != nil {
		return nil, fmt.Errorf("backup %s: %w", addr, err)
	}
	return c, nil
}

func runBackupVerify(cmd *cobra.Command, a *app, addr string, fl backupVerifyFlags) error {
	ctx := cmd.Context()
	start := time.Now()
	c, err := openBackup(ctx, addr, fl.identity)
	if err != nil {
		return err
	}
	m := c.Manifest
	fmt.Fprintf(a.stderr, "backup %s: whole; swarm %s of %s, raft state of %s taken %s\n", addr, m.SwarmID, m.Cluster, m.Node, m.Taken.Format(time.RFC3339))
	docker, err := localDocker()
	if err != nil {
		return err
	}
	defer docker.Close()
	got, err := restoreThrowaway(ctx, a, docker, c)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("backup %s: restore into a throwaway swarm: %w", addr, err))
	}
	diff := m.Objects.Diff(got)
	fmt.Fprintf(a.stderr, "verified in %s\n", time.Since(start).Round(100*time.Millisecond))
	if diff == nil {
		diff = []string{}
	}
	if a.json() {
		if err := writeJSON(a.stdout, verifyJSON{Backup: addr, OK: len(diff) == 0, Manifest: m, Restored: got, Diff: diff}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "restored: %d services, %d networks, %d configs, %d secrets\n", len(got.Services), len(got.Networks), len(got.Configs), len(got.Secrets))
	}
	if len(diff) > 0 {
		if a.json() {
			return withCode(exitFailed, errors.New(""))
		}
		return withCode(exitFailed, fmt.Errorf("backup %s restores a swarm that differs from its manifest:\n%s", addr, joinLines(diff)))
	}
	markVerified(ctx, a, addr)
	if !a.json() {
		fmt.Fprintf(a.stdout, "backup %s: ok (the restored swarm holds what the manifest lists)\n", addr)
	}
	return nil
}

// markVerified writes NAME.verified beside the backup at addr: prune never
// deletes the newest verified backup, and list shows it. A marker that
// cannot be written is a warning: the backup is verified all the same.
func markVerified(ctx context.Context, a *app, addr string) {
	loc, name, err := backup.SplitObject(addr, os.Getenv)
	if err == nil {
		var st backup.Store
		if st, err = loc.Open(os.Getenv); err == nil {
			b, _ := json.Marshal(map[string]string{"verified": time.Now().UTC().Format(time.RFC3339), "shoal": backup.Version()})
			_, err = st.Put(ctx, name+backup.VerifiedSuffix, append(b, '\n'))
		}
	}
	if err != nil && !strings.Contains(err.Error(), "never overwritten") {
		fmt.Fprintf(a.stderr, "warning: backup %s is verified, but its marker %s was not written: %v\n", addr, name+backup.VerifiedSuffix, err)
	}
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for i, s := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}

// restoreThrowaway restores c's raft state into a new one-node lab and
// reads what the re-formed swarm holds; the lab is removed on return.
func restoreThrowaway(ctx context.Context, a *app, docker *client.Client, c *backup.Contents) (backup.Objects, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "verify-" + hex.EncodeToString(b)
	dir, err := os.MkdirTemp("", "shoal-verify-")
	if err != nil {
		return backup.Objects{}, err
	}
	defer os.RemoveAll(dir)
	l := lab.Ref(name, dir)
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := lab.Down(dctx, docker, name, labProgress(a)); err != nil {
			fmt.Fprintf(a.stderr, "warning: remove the throwaway lab %s: %v\n", name, err)
		} else {
			fmt.Fprintf(a.stderr, "removed the throwaway lab %s\n", name)
		}
	}()
	fmt.Fprintf(a.stderr, "starting a throwaway lab node (lab %s)\n", name)
	n, conn, err := labNodeConn(ctx, a, docker, l, lab.NodeSpec{Name: "m1", Role: lab.RoleManager, Hoster: "verify"})
	if err != nil {
		return backup.Objects{}, err
	}
	defer conn.Close()
	say := func(f string, args ...any) { fmt.Fprintf(a.stderr, f+"\n", args...) }
	err = backup.RestoreSwarm(ctx, conn, c.Files[backup.SwarmFile], backup.RestoreOptions{
		Init:      client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: n.Address},
		UnlockKey: string(c.Files[backup.UnlockKeyFile]), Say: say})
	if err != nil {
		return backup.Objects{}, err
	}
	api, err := conn.Docker(ctx)
	if err != nil {
		return backup.Objects{}, err
	}
	defer api.Close()
	return backup.ReadObjects(ctx, api)
}

// labNodeConn adds a node to lab l, pins its host key (read through the
// Docker Engine, as a hoster's API reports it) in the lab's known_hosts
// and dials it.
func labNodeConn(ctx context.Context, a *app, docker *client.Client, l *lab.Lab, spec lab.NodeSpec) (lab.Node, *remote.Conn, error) {
	n, err := lab.AddNode(ctx, docker, l, spec, labProgress(a))
	if err != nil {
		return n, nil, err
	}
	key, err := n.HostPublicKey()
	if err != nil {
		return n, nil, err
	}
	kh := filepath.Join(l.Dir, "known_hosts")
	if err := appendKnownHost(kh, n.Address, key); err != nil {
		return n, nil, err
	}
	signer, err := l.Signer()
	if err != nil {
		return n, nil, err
	}
	conn, err := remote.Dial(ctx, remote.Target{Name: n.Name, Hoster: n.Hoster, Region: n.Region, Host: n.Address, Port: 22, User: "root"},
		remote.DialOptions{Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeys: remote.NewHostKeys(kh), Logger: a.log})
	if err != nil {
		return n, nil, err
	}
	return n, conn, nil
}

// appendKnownHost pins key for addr in known_hosts file path, dropping an
// older line for the address (Docker may hand a new container the address
// of a removed one).
func appendKnownHost(path, addr string, key ssh.PublicKey) error {
	host := knownhosts.Normalize(addr)
	var keep []byte
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range bytes.Split(b, []byte("\n")) {
			f := bytes.Fields(line)
			if len(f) == 0 || string(f[0]) == host {
				continue
			}
			keep = append(append(keep, line...), '\n')
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	keep = append(keep, knownhosts.Line([]string{host}, key)+"\n"...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, keep, 0o600)
}
