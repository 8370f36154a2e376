package infra

import (
	"errors"
	"strings"
)

// KeyBackup is shoal:backup: where `shoal backup` writes and to whom it
// encrypts (see docs/decisions/0028-backup-and-restore.md).
const KeyBackup = "backup"

// Backup is shoal:backup.
type Backup struct {
	// Recipient is the age public key (age1...) backups are encrypted to.
	Recipient string `json:"recipient"`
	// To is a directory or s3://BUCKET/PREFIX.
	To string `json:"to"`
}

// BackupOf reads shoal:backup of config c strictly: unknown fields are
// refused, naming the nearest known one.
func BackupOf(c Config) (Backup, error) {
	p := &parser{c: c}
	var b Backup
	raw, ok := c.Values[KeyBackup]
	if !ok || strings.TrimSpace(raw) == "" {
		return b, nil
	}
	if p.decodeAt(key(KeyBackup), raw, &b, "an object {recipient, to}") && b.Recipient != "" && !strings.HasPrefix(b.Recipient, "age1") {
		p.fail(key(KeyBackup)+".recipient", "must be an age public key (age1..., made with age-keygen), got %q", b.Recipient)
	}
	return b, errors.Join(p.errs...)
}
