package host

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMergeDaemonConfig(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantChanged bool
		want        map[string]any
		wantErr     string
	}{
		{name: "an absent file gets log rotation", in: "", wantChanged: true,
			want: map[string]any{"log-opts": map[string]any{"max-size": "10m", "max-file": "3"}}},
		{name: "other settings are kept", in: `{"storage-driver":"vfs"}`, wantChanged: true,
			want: map[string]any{"storage-driver": "vfs", "log-opts": map[string]any{"max-size": "10m", "max-file": "3"}}},
		{name: "live-restore is turned off", in: `{"live-restore":true,"log-opts":{"max-size":"5m"}}`, wantChanged: true,
			want: map[string]any{"live-restore": false, "log-opts": map[string]any{"max-size": "5m"}}},
		{name: "an operator's rotation is kept", in: `{"log-opts":{"max-size":"50m","max-file":"9"}}`, wantChanged: false,
			want: map[string]any{"log-opts": map[string]any{"max-size": "50m", "max-file": "9"}}},
		{name: "another log driver is left alone", in: `{"log-driver":"journald"}`, wantChanged: false,
			want: map[string]any{"log-driver": "journald"}},
		{name: "a converged file is unchanged", in: `{"log-opts":{"max-file":"3","max-size":"10m"},"storage-driver":"vfs"}`, wantChanged: false,
			want: map[string]any{"storage-driver": "vfs", "log-opts": map[string]any{"max-size": "10m", "max-file": "3"}}},
		{name: "broken JSON is an error naming the file", in: `{"log-opts":`, wantErr: "/etc/docker/daemon.json is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := MergeDaemonConfig(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(tt.want)
			if string(gb) != string(wb) {
				t.Errorf("got %s, want %s", gb, wb)
			}
			// Merging the output again changes nothing: the second run is a no-op.
			if _, again, _ := MergeDaemonConfig(out); again {
				t.Errorf("second merge changed the file again")
			}
		})
	}
}
