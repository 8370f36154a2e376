package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/stacks"
)

// backupLeaseTTL bounds how long a backup service holds the heal lease
// for one backup (it releases it after; a crashed one's lease expires).
const backupLeaseTTL = 5 * time.Minute

func newBackupListCmd(a *app) *cobra.Command {
	var fl backupFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's backups in the backup location, newest first",
		Long: `list names the backups of the cluster in the backup location (--to, default
shoal:backup.to or the inventory's backup.to), newest first, with the time
each was taken and whether ` + "`shoal backup verify`" + ` restored it successfully.
Objects that are not this cluster's backups are not listed (and never pruned).`,
		Example: `  shoal backup list
  shoal backup list --to 's3://backups/prod?endpoint=https://s3.example.net' -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.openBackupTarget(cmd, fl, false)
			if err != nil {
				return err
			}
			entries, err := listBackups(cmd.Context(), t)
			if err != nil {
				return withCode(exitFailed, err)
			}
			if a.json() {
				if entries == nil {
					entries = []backup.Entry{}
				}
				return writeJSON(a.stdout, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(a.stderr, "no backup of %s in %s\n", t.inv.Cluster.Name, t.loc)
				return nil
			}
			for _, e := range entries {
				v := ""
				if e.Verified {
					v = "  verified"
				}
				fmt.Fprintf(a.stdout, "%s  %s%s\n", e.Name, e.Taken.Format(time.RFC3339), v)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fl.to, "to", "", "the backup location: a directory or s3://BUCKET/PREFIX (default: shoal:backup.to or the inventory's backup.to)")
	addStackFlags(cmd, &fl.stack)
	return cmd
}

type backupPruneFlags struct {
	backupFlags
	dryRun bool
}

func newBackupPruneCmd(a *app) *cobra.Command {
	var fl backupPruneFlags
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete the cluster's backups that the retention does not keep",
		Long: `prune deletes the cluster's backups in the backup location that the retention
does not keep, and says which and why. The retention is --keep N (the N
newest) and --keep-daily N (the newest of each of the N latest days that
have a backup, UTC); a backup either keeps is kept. The defaults are
shoal:backup {keep, keepDaily} or the inventory's backup {keep, keep_daily}.

Whatever the retention, prune never deletes the newest backup, nor the
newest one ` + "`shoal backup verify`" + ` restored successfully, nor anything that is not
exactly this cluster's backup name (CLUSTER-YYYYMMDDTHHMMSSZ.backup.age).
A scheduled backup (` + "`shoal backup --schedule`" + `) prunes the same way after each
backup.

--dry-run prints what would be deleted (exit 4 when something would be).
Without --yes it asks first; with no terminal it refuses (exit 3).`,
		Example: `  shoal backup prune --keep 7 --dry-run
  shoal backup prune --keep 7 --keep-daily 30 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackupPrune(cmd, a, fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.to, "to", "", "the backup location: a directory or s3://BUCKET/PREFIX (default: shoal:backup.to or the inventory's backup.to)")
	f.IntVar(&fl.keep, "keep", 0, "keep the N newest backups (default: shoal:backup.keep or the inventory's backup.keep)")
	f.IntVar(&fl.keepDaily, "keep-daily", 0, "keep the newest backup of each of the N latest days (default: shoal:backup.keepDaily or backup.keep_daily)")
	f.BoolVar(&fl.dryRun, "dry-run", false, "only say what would be deleted (exit 4 when something would be)")
	f.BoolVarP(&fl.stack.yes, "yes", "y", false, "delete without asking")
	addStackFlags(cmd, &fl.stack)
	return cmd
}

// pruneJSON is prune's --output json document.
type pruneJSON struct {
	Location  string           `json:"location"`
	Retention backup.Retention `json:"retention"`
	DryRun    bool             `json:"dry_run"`
	Backups   []backup.Kept    `json:"backups"`
	Deleted   []string         `json:"deleted"`
}

func runBackupPrune(cmd *cobra.Command, a *app, fl backupPruneFlags) error {
	ctx := cmd.Context()
	t, err := a.openBackupTarget(cmd, fl.backupFlags, false)
	if err != nil {
		return err
	}
	r := t.set.Retention()
	if r.Off() {
		return withCode(exitUsage, errors.New("no retention: pass --keep N or --keep-daily N (or set shoal:backup.keep / the inventory's backup.keep)"))
	}
	entries, err := listBackups(ctx, t)
	if err != nil {
		return withCode(exitFailed, err)
	}
	kept := backup.Prune(entries, r)
	var del []string
	for _, k := range kept {
		if !k.Keep {
			del = append(del, k.Name)
		}
	}
	j := pruneJSON{Location: t.loc.String(), Retention: r, DryRun: fl.dryRun, Backups: kept, Deleted: []string{}}
	say := func(verb string) {
		if a.json() {
			return
		}
		for _, k := range kept {
			if k.Keep {
				fmt.Fprintf(a.stderr, "keep %s: %s\n", k.Name, k.Why)
			} else {
				fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, k.Name, k.Why)
			}
		}
	}
	switch {
	case len(del) == 0:
		say("")
		if a.json() {
			return writeJSON(a.stdout, j)
		}
		fmt.Fprintf(a.stderr, "nothing to prune in %s (%s)\n", t.loc, r)
		return nil
	case fl.dryRun:
		say("would delete")
		if a.json() {
			j.Deleted = del
			if err := writeJSON(a.stdout, j); err != nil {
				return err
			}
		}
		return withCode(exitWork, nil)
	}
	if !fl.stack.yes && !a.confirm(fmt.Sprintf("delete %d backups of %s from %s (%s)?", len(del), t.inv.Cluster.Name, t.loc, strings.Join(del, ", "))) {
		return withCode(exitRefused, errors.New("prune not confirmed (pass --yes): nothing deleted"))
	}
	done, err := deleteBackups(ctx, t.store, kept, func(name, why string) {
		if !a.json() {
			fmt.Fprintf(a.stdout, "deleted %s: %s\n", name, why)
		}
	})
	j.Deleted = append(j.Deleted, done...)
	if a.json() {
		if werr := writeJSON(a.stdout, j); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("prune %s: deleted %d of %d: %w", t.loc, len(done), len(del), err))
	}
	return nil
}

// listBackups lists t's cluster's backups, newest first.
func listBackups(ctx context.Context, t *backupTarget) ([]backup.Entry, error) {
	names, err := t.store.List(ctx)
	if err != nil {
		return nil, err
	}
	return backup.Entries(t.inv.Cluster.Name, names), nil
}

// deleteBackups deletes what kept does not keep (each with its verified
// marker), saying each, and returns the names deleted.
func deleteBackups(ctx context.Context, st backup.Store, kept []backup.Kept, said func(name, why string)) ([]string, error) {
	var done []string
	for _, k := range kept {
		if k.Keep {
			continue
		}
		if err := st.Delete(ctx, k.Name); err != nil {
			return done, err
		}
		if err := st.Delete(ctx, k.Name+backup.VerifiedSuffix); err != nil {
			return done, err
		}
		done = append(done, k.Name)
		said(k.Name, k.Why)
	}
	return done, nil
}

// backupScheduler runs backups on a schedule: it waits until the next is
// due (from the newest backup in the store: the store is the record, so a
// restarted service neither repeats nor skips one), takes the heal lease
// (one writer per cluster: a backup stops a manager's engine, heal
// replaces nodes), takes a backup and prunes. A failed run is tried again
// after backup.Schedule.RetryAfter.
type backupScheduler struct {
	a      *app
	t      *backupTarget
	sched  backup.Schedule
	ret    backup.Retention
	lease  heal.Lease
	holder string
	// release gives the lease up after each backup (a backup service);
	// heal's own process keeps it (its controller renews it).
	release bool
	selfID  string
	now     func() time.Time
}

func (s *backupScheduler) run(ctx context.Context) error {
	log := s.a.log.With("cluster", s.t.inv.Cluster.Name, "to", s.t.loc.String())
	log.Info("backup: scheduled", "schedule", s.sched.String(), "retention", s.ret.String())
	retry := s.sched.RetryAfter()
	wait := func(d time.Duration) error {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			return nil
		}
	}
	for {
		entries, err := listBackups(ctx, s.t)
		if err != nil {
			log.Warn("backup: cannot list the backups; trying again", "err", err, "in", retry)
			if wait(retry) != nil {
				return nil
			}
			continue
		}
		var last time.Time
		if len(entries) > 0 {
			last = entries[0].Taken
		}
		now := s.now()
		next := s.sched.Next(last, now)
		if next.After(now) {
			log.Info("backup: next", "at", next.UTC().Format(time.RFC3339), "last", last.UTC().Format(time.RFC3339))
			if wait(next.Sub(now)) != nil {
				return nil
			}
			continue // list again: another process may have backed up
		}
		st, err := s.lease.Acquire(ctx, s.holder, s.now(), s.leaseTTL())
		if err != nil || !st.Held {
			log.Warn("backup: due, but the heal lease is not this process's: waiting", "holder", st.Holder, "err", err, "in", retry)
			if wait(retry) != nil {
				return nil
			}
			continue
		}
		j, err := s.a.takeBackup(ctx, s.t, s.selfID)
		if s.release {
			if rerr := s.lease.Release(context.WithoutCancel(ctx), s.holder, s.now()); rerr != nil {
				log.Warn("backup: release the heal lease", "err", rerr)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Error("backup: failed; trying again", "err", err, "in", retry)
			if wait(retry) != nil {
				return nil
			}
			continue
		}
		log.Info("backup: taken", "backup", j.Backup, "node", j.Node, "engine_stopped_ms", j.EngineStoppedMS, "bytes", j.Bytes)
		if s.ret.Off() {
			continue
		}
		if entries, err = listBackups(ctx, s.t); err != nil {
			log.Warn("backup: cannot list the backups to prune", "err", err)
			continue
		}
		if _, err := deleteBackups(ctx, s.t.store, backup.Prune(entries, s.ret), func(name, why string) {
			log.Info("backup: pruned", "backup", name, "why", why)
		}); err != nil {
			log.Warn("backup: prune", "err", err)
		}
	}
}

func (s *backupScheduler) leaseTTL() time.Duration {
	if s.release {
		return backupLeaseTTL
	}
	return heal.DefaultLeaseTTL // heal's controller renews it
}

// scheduleOf is the schedule --schedule asks for.
func scheduleOf(flag string, t *backupTarget) (backup.Schedule, error) {
	spec := flag
	if flag == scheduleConfig {
		spec = t.set.Schedule
		if spec == "" {
			return backup.Schedule{}, errors.New("--schedule: no schedule configured (shoal:backup.schedule or the inventory's backup.schedule): pass --schedule='every 6h' or --schedule='daily 03:00'")
		}
	}
	s, err := backup.ParseSchedule(spec)
	if err == nil && s.Off() {
		err = errors.New("--schedule: empty")
	}
	return s, err
}

// runBackupSchedule is `shoal backup --schedule`: backups on the schedule
// until the process is stopped. It takes the heal lease before each
// backup and releases it after.
func (a *app) runBackupSchedule(ctx context.Context, cmd *cobra.Command, fl backupFlags, t *backupTarget) error {
	sched, err := scheduleOf(fl.schedule, t)
	if err != nil {
		return withCode(exitUsage, err)
	}
	dial, closer, err := bootstrap.DialOptions(t.inv)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	obs := heal.NewObserver(func() []remote.Target {
		var ts []remote.Target
		for _, m := range t.inv.Managers() {
			ts = append(ts, bootstrap.Target(t.inv, m))
		}
		return ts
	}, heal.ObserverOptions{Dial: dial, Log: a.log})
	defer obs.Close()
	s := &backupScheduler{a: a, t: t, sched: sched, ret: t.set.Retention(), lease: &heal.Swarm{With: obs.WithManager},
		holder: "backup/" + healHolder(), release: true, selfID: os.Getenv(stacks.EnvNodeID), now: time.Now}
	return s.run(ctx)
}

// healBackups is the backup scheduler of a heal process for stack ws when
// its shoal:backup.schedule is set (nil otherwise): it backs up only while
// this process holds the heal lease (holder is the controller's), which it
// leaves to the controller.
func (a *app) healBackups(cmd *cobra.Command, fl stackFlags, ws *automation.Workspace, lease heal.Lease, holder string, grace time.Duration) (*backupScheduler, error) {
	t, err := a.openBackupTarget(cmd, backupFlags{stack: fl, ifScheduled: true}, false)
	if err != nil {
		return nil, err
	}
	if t.set.Schedule == "" {
		return nil, nil
	}
	if err := checkGraceForBackups(grace); err != nil {
		return nil, err
	}
	sched, err := scheduleOf(scheduleConfig, t)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if _, err := backup.ParseRecipient(t.set.Recipient); err != nil {
		return nil, withCode(exitUsage, err)
	}
	t.ws = ws
	return &backupScheduler{a: a, t: t, sched: sched, ret: t.set.Retention(), lease: lease, holder: holder,
		selfID: os.Getenv(stacks.EnvNodeID), now: time.Now}, nil
}

// minGraceWithBackups is the shortest heal grace under which the heal
// process also takes scheduled backups: a backup keeps a manager's engine
// stopped for seconds (3.5-11 s measured in the lab), and heal, which holds
// the lease the backup runs under, must not count that manager as dead.
const minGraceWithBackups = 30 * time.Second

// checkGraceForBackups refuses a heal grace too short for backups taken
// by heal's own process.
func checkGraceForBackups(grace time.Duration) error {
	if grace < minGraceWithBackups {
		return fmt.Errorf("shoal:heal.grace %s is shorter than %s: the heal service takes shoal:backup.schedule's backups, which stop a manager's engine for seconds, and heal would replace that manager; raise shoal:heal.grace", grace, minGraceWithBackups)
	}
	return nil
}
