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
