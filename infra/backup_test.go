package infra

import (
	"strings"
	"testing"
)

func TestBackupOfReadsShoalBackupStrictly(t *testing.T) {
	tests := []struct {
		name, raw string
		want      Backup
		wantErr   string
	}{
		{name: "absent is empty", raw: ""},
		{name: "recipient and destination", raw: `{"recipient": "age1xyz", "to": "s3://bk/prod"}`, want: Backup{Recipient: "age1xyz", To: "s3://bk/prod"}},
		{name: "an unknown field names the nearest", raw: `{"recipients": "age1xyz"}`, wantErr: "shoal:backup.recipients: is not a field of backup: did you mean recipient?"},
		{name: "a recipient that is no age key", raw: `{"recipient": "ssh-ed25519 AAAA"}`, wantErr: "shoal:backup.recipient: must be an age public key"},
		{name: "a schedule and a retention", raw: `{"recipient": "age1xyz", "to": "s3://bk/prod?endpoint=http://10.0.0.5:7070", "schedule": "every 6h", "keep": 7, "keepDaily": 14}`,
			want: Backup{Recipient: "age1xyz", To: "s3://bk/prod?endpoint=http://10.0.0.5:7070", Schedule: "every 6h", Keep: 7, KeepDaily: 14}},
		{name: "a retention without a schedule (for shoal backup prune)", raw: `{"to": "/var/backups", "keep": 3}`, want: Backup{To: "/var/backups", Keep: 3}},
		{name: "an unknown retention key names the nearest", raw: `{"keep_daily": 7}`, wantErr: "shoal:backup.keep_daily: is not a field of backup: did you mean keepDaily?"},
		{name: "a schedule that does not parse", raw: `{"recipient": "age1xyz", "to": "s3://bk", "schedule": "0 3 * * *"}`, wantErr: "shoal:backup.schedule: schedule \"0 3 * * *\": want"},
		{name: "a schedule to a directory", raw: `{"recipient": "age1xyz", "to": "/var/backups", "schedule": "daily 03:00"}`, wantErr: "shoal:backup.to: must be s3://"},
		{name: "a schedule without a recipient", raw: `{"to": "s3://bk", "schedule": "every 1h"}`, wantErr: "shoal:backup.recipient: is needed by shoal:backup.schedule"},
		{name: "a negative keep", raw: `{"keep": -1}`, wantErr: "shoal:backup.keep: must be 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Values: map[string]string{}}
			if tt.raw != "" {
				c.Values[KeyBackup] = tt.raw
			}
			got, err := BackupOf(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
