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

func TestParseFacts(t *testing.T) {
	out := "os=debian\nlike=\nversion=\"12\"\ncodename=bookworm\ndocker=yes\nrunning=no\nsystemd=no\nuser=deploy\ndockergroup=no\n---daemon.json\n{\"storage-driver\":\"vfs\"}\n"
	f, err := parseFacts(out)
	if err != nil {
		t.Fatal(err)
	}
	want := Facts{OS: "debian", Version: "12", Codename: "bookworm", HasDocker: true, User: "deploy", DaemonJSON: "{\"storage-driver\":\"vfs\"}\n"}
	if f != want {
		t.Errorf("got %+v\nwant %+v", f, want)
	}
	if _, err := parseFacts("sh: 1: not found\n"); err == nil {
		t.Error("garbage output parsed without error")
	}
}

func TestPlan(t *testing.T) {
	ready := `{"log-opts":{"max-size":"10m","max-file":"3"}}`
	tests := []struct {
		name    string
		facts   Facts
		want    []string
		wantErr string
	}{
		{name: "a ready host needs nothing",
			facts: Facts{OS: "debian", HasDocker: true, DockerRunning: true, User: "root", DaemonJSON: ready}},
		{name: "a fresh debian host gets config, docker and a start in that order",
			facts: Facts{OS: "debian", User: "root"},
			want:  []string{"write daemon.json", "install docker", "start docker"}},
		{name: "an ubuntu derivative counts as debianish",
			facts: Facts{OS: "pop", OSLike: "ubuntu debian", User: "root", DaemonJSON: ready},
			want:  []string{"install docker", "start docker"}},
		{name: "a changed config on a running daemon restarts it",
			facts: Facts{OS: "debian", HasDocker: true, DockerRunning: true, User: "root"},
			want:  []string{"write daemon.json", "restart docker"}},
		{name: "a stopped daemon is started",
			facts: Facts{OS: "debian", HasDocker: true, User: "root", DaemonJSON: ready},
			want:  []string{"start docker"}},
		{name: "a non-root user outside the docker group is added to it",
			facts: Facts{OS: "ubuntu", HasDocker: true, DockerRunning: true, User: "deploy", DaemonJSON: ready},
			want:  []string{"add user to docker group"}},
		{name: "docker missing on an unsupported OS is refused",
			facts:   Facts{OS: "alpine", Version: "3.20", User: "root", DaemonJSON: ready},
			wantErr: `only on Debian or Ubuntu (found "alpine" "3.20")`},
		{name: "an unsupported OS that already runs docker is fine",
			facts: Facts{OS: "alpine", HasDocker: true, DockerRunning: true, User: "root", DaemonJSON: ready}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, err := Plan(tt.facts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range acts {
				got = append(got, a.Name)
				if a.Cmd.Sudo != (tt.facts.User != "root") {
					t.Errorf("%s: sudo = %v for user %q", a.Name, a.Cmd.Sudo, tt.facts.User)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
