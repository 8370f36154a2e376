package host

import (
	"strings"
	"testing"
)

func TestStopStartGoesThroughWhatRunsTheEngine(t *testing.T) {
	running := &EngineInfo{ServerVersion: "20.10.24"}
	tests := []struct {
		name              string
		f                 Facts
		wantStop, wantRun string
		wantErr           string
	}{
		{name: "systemd stops the socket too, so nothing starts it again",
			f:        Facts{User: "root", Sudo: true, Engine: running, DockerdPID: 42, Systemd: true, UnitPID: 42},
			wantStop: "systemctl stop docker.socket docker.service", wantRun: "systemctl start docker.socket docker.service"},
		{name: "the init script stops and starts a SysV engine",
			f:        Facts{User: "admin", Sudo: true, Engine: running, DockerdPID: 42, InitScript: true, SSDPID: 42},
			wantStop: "/etc/init.d/docker stop", wantRun: "/etc/init.d/docker start"},
		{name: "a lab VPS's init is held off while the engine is stopped",
			f:        Facts{User: "root", Sudo: true, Engine: running, DockerdPID: 42, LabInit: true},
			wantStop: "touch /run/shoal-hold-dockerd && kill -TERM 42", wantRun: "rm -f /run/shoal-hold-dockerd"},
		{name: "a dockerd started by hand is refused",
			f:       Facts{User: "root", Sudo: true, Engine: running, DockerdPID: 42},
			wantErr: "no service manager shoal can drive"},
		{name: "a dockerd that is PID 1 is refused",
			f:       Facts{User: "root", Sudo: true, Engine: running, DockerdPID: 1, LabInit: true},
			wantErr: "PID 1"},
		{name: "a stopped engine is refused",
			f:       Facts{User: "root", Sudo: true},
			wantErr: "not running"},
		{name: "a user without sudo is refused",
			f:       Facts{User: "admin", Engine: running, DockerdPID: 42, Systemd: true, UnitPID: 42},
			wantErr: "cannot stop and start docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := StopStart(tt.f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(c.Stop.Script, tt.wantStop) || !strings.Contains(c.Stop.Script, "kill -0 42") {
				t.Errorf("stop = %q, want %q and a wait for pid 42 to exit", c.Stop.Script, tt.wantStop)
			}
			if !strings.Contains(c.Start.Script, tt.wantRun) || !strings.Contains(c.Start.Script, "_ping") {
				t.Errorf("start = %q, want %q and a wait until the engine answers", c.Start.Script, tt.wantRun)
			}
			if c.Stop.Sudo != (tt.f.User != "root") {
				t.Errorf("stop sudo = %v for user %s", c.Stop.Sudo, tt.f.User)
			}
		})
	}
}
