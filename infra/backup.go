package infra

import (
	"errors"
	"strings"

	"github.com/shoalops/shoal/backup"
)

// KeyBackup is shoal:backup: where `shoal backup` writes, to whom it
// encrypts, and when the cluster backs itself up and what it keeps (see
// docs/decisions/0028-backup-and-restore.md and 0033-scheduled-backups.md).
const KeyBackup = "backup"

// Backup is shoal:backup.
type Backup struct {
	// Recipient is the age public key (age1...) backups are encrypted to.
	Recipient string `json:"recipient"`
	// To is a directory or s3://BUCKET/PREFIX.
	To string `json:"to"`
	// Schedule runs backups on the cluster: "every DURATION" or "daily
	// HH:MM" (UTC); empty is off (backup.ParseSchedule).
	Schedule string `json:"schedule"`
	// Keep and KeepDaily are the retention after each scheduled backup
	// and of `shoal backup prune` (backup.Retention); 0 keeps all.
	Keep      int `json:"keep"`
	KeepDaily int `json:"keepDaily"`
}

// Retention is b's retention.
func (b Backup) Retention() backup.Retention {
	return backup.Retention{Keep: b.Keep, KeepDaily: b.KeepDaily}
}

// BackupOf reads shoal:backup of config c strictly: unknown fields are
// refused, naming the nearest known one. A schedule runs on the cluster,
// so it needs a recipient and an s3:// destination the cluster reaches (a
// directory would be inside the task).
func BackupOf(c Config) (Backup, error) {
	p := &parser{c: c}
	var b Backup
	raw, ok := c.Values[KeyBackup]
	if !ok || strings.TrimSpace(raw) == "" {
		return b, nil
	}
	k := key(KeyBackup)
	if !p.decodeAt(k, raw, &b, "an object {recipient, to, schedule, keep, keepDaily}") {
		return b, errors.Join(p.errs...)
	}
	if b.Recipient != "" && !strings.HasPrefix(b.Recipient, "age1") {
		p.fail(k+".recipient", "must be an age public key (age1..., made with age-keygen), got %q", b.Recipient)
	}
	if b.Keep < 0 {
		p.fail(k+".keep", "must be 0 (keep all) or more, got %d", b.Keep)
	}
	if b.KeepDaily < 0 {
		p.fail(k+".keepDaily", "must be 0 (off) or more, got %d", b.KeepDaily)
	}
	s, err := backup.ParseSchedule(b.Schedule)
	switch {
	case err != nil:
		p.fail(k+".schedule", "%v", err)
	case !s.Off() && b.Recipient == "":
		p.fail(k+".recipient", "is needed by shoal:backup.schedule (scheduled backups are encrypted to it)")
	case !s.Off() && !strings.HasPrefix(b.To, "s3://"):
		p.fail(k+".to", "must be s3://BUCKET/PREFIX?endpoint=... with shoal:backup.schedule: scheduled backups run on the cluster, where %q would be inside a task", b.To)
	}
	return b, errors.Join(p.errs...)
}
