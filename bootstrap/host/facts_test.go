package host

import (
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"strings"
	"testing"
)

// factsOut builds the facts script's output from key=value lines.
func factsOut(daemon string, kv ...string) string {
	return strings.Join(kv, "\n") + "\n---daemon.json\n" + daemon
}

const infoJSON = `{"ServerVersion":"20.10.24+dfsg1","ContainersRunning":4,"Swarm":{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","Cluster":null},"ClientInfo":{"Debug":false}}`

func TestParseFacts(t *testing.T) {
	tests := []struct {
		name  string
		out   string
		check func(t *testing.T, f Facts)
	}{
		{
			name: "debian docker.io by an init script, seen through sudo by a non-root user",
			out: factsOut(`{"storage-driver":"vfs"}`+"\n", "os=debian", `version="12"`, "codename=bookworm", "user=admin", "sudo=yes",
				"dockerd=/usr/sbin/dockerd", "cli=/usr/bin/docker", "socket=yes", "package=ii  docker.io", "package=rc  docker-ce", "access=sudo",
				"info="+infoJSON, "pid=57", "systemd=no", "initscript=yes", "ssdpid=57",
				"mtime=1000 /var/run/docker.pid", "mtime=700 /etc/docker/daemon.json"),
			check: func(t *testing.T, f Facts) {
				if !f.Running() || f.Engine.ContainersRunning != 4 || f.Access != AccessSudo || f.Engine.Swarm.LocalNodeState != "inactive" {
					t.Errorf("engine: %+v access %q", f.Engine, f.Access)
				}
				if f.Manager() != ManagerSysV || f.Source() != "docker.io" || !f.Installed() || f.ConfigNewerThanDaemon() || f.DockerdStarted != 1000 {
					t.Errorf("manager %q source %q installed %v newer %v", f.Manager(), f.Source(), f.Installed(), f.ConfigNewerThanDaemon())
				}
				if f.Version != "12" || f.User != "admin" || !f.Sudo || f.DaemonJSON != "{\"storage-driver\":\"vfs\"}\n" {
					t.Errorf("got %+v", f)
				}
			},
		},
		{
			name: "docker-ce under systemd",
			out: factsOut("", "os=ubuntu", "user=root", "sudo=yes", "dockerd=/usr/bin/dockerd", "package=ii  docker-ce",
				"access=direct", "info="+infoJSON, "pid=812", "now=10000", "age=50", "systemd=yes", "unitpid=812", "initscript=yes", "ssdpid="),
			check: func(t *testing.T, f Facts) {
				if f.Manager() != ManagerSystemd || f.Source() != "docker-ce" || f.DaemonJSONTime != 0 || f.DockerdStarted != 9950 {
					t.Errorf("manager %q source %q daemon.json %d started %d", f.Manager(), f.Source(), f.DaemonJSONTime, f.DockerdStarted)
				}
			},
		},
		{
			name: "an engine started by hand is driven by nothing; a newer daemon.json waits for it",
			out: factsOut("{}", "os=debian", "user=root", "sudo=yes", "dockerd=/usr/local/bin/dockerd",
				"access=direct", "info="+infoJSON, "pid=99", "now=10000", "age=3000", "systemd=no", "initscript=no", "mtime=9980 /etc/docker/daemon.json"),
			check: func(t *testing.T, f Facts) {
				if f.Manager() != "" || f.Source() != "not from a package" || !f.ConfigNewerThanDaemon() {
					t.Errorf("manager %q source %q newer %v", f.Manager(), f.Source(), f.ConfigNewerThanDaemon())
				}
				if !strings.Contains(f.StartedBy(), "no service manager") {
					t.Errorf("started by %q", f.StartedBy())
				}
			},
		},
		{
			name: "a lab VPS's init is seen, and its engine is not a service manager's",
			out: factsOut("", "os=debian", "user=root", "sudo=yes", "dockerd=/usr/sbin/dockerd",
				"access=direct", "info="+infoJSON, "pid=42", "systemd=no", "initscript=yes", "labinit=yes", "ssdpid="),
			check: func(t *testing.T, f Facts) {
				if !f.LabInit || f.Manager() != "" {
					t.Errorf("lab init %v, manager %q", f.LabInit, f.Manager())
				}
			},
		},
		{
			name: "dockerd as PID 1 is never driven",
			out:  factsOut("", "user=root", "info="+infoJSON, "pid=1", "initscript=yes", "ssdpid=1"),
			check: func(t *testing.T, f Facts) {
				if f.Manager() != "" || !strings.Contains(f.StartedBy(), "PID 1") {
					t.Errorf("manager %q, started by %q", f.Manager(), f.StartedBy())
				}
			},
		},
		{
			name: "a client that reached no server means no engine",
			out:  factsOut("", "user=root", "cli=/usr/bin/docker", "access=direct", `info={"ServerVersion":"","ClientInfo":{}}`, "pid="),
			check: func(t *testing.T, f Facts) {
				if f.Running() || f.Access != "" || f.Installed() {
					t.Errorf("running %v access %q installed %v", f.Running(), f.Access, f.Installed())
				}
			},
		},
		{
			name: "a fresh host",
			out:  factsOut("", "os=debian", "user=root", "sudo=yes", "dockerd=", "cli=", "socket=no", "info=", "pid=", "systemd=no", "initscript=no", "ssdpid="),
			check: func(t *testing.T, f Facts) {
				if f.Installed() || f.Running() || f.Source() != "missing" {
					t.Errorf("got %+v", f)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFacts(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f)
		})
	}
	if _, err := parseFacts("sh: 1: not found\n"); err == nil {
		t.Error("garbage output parsed without error")
	}
	if _, err := parseFacts(factsOut("", "info={broken")); err == nil {
		t.Error("broken docker info parsed without error")
	}
}

func TestParseFactsReadsCurlsAnswersAndAManagersSwarm(t *testing.T) {
	head := strings.Join([]string{"os=debian", "user=admin", "sudo=yes", "access=sudo", "pid=57", "initscript=yes", "ssdpid=57"}, "\n") + "\n"
	swarmJSON := `{"ID":"sw1","Spec":{"Labels":{"shoal.cluster":"prod"}}}`
	nodesJSON := `[{"ID":"n1","Spec":{"Role":"manager"},"ManagerStatus":{"Leader":true,"Reachability":"reachable"}}]`
	tests := []struct {
		name      string
		engine    string
		wantSwarm string // "": no swarm read; else its ID, or "err:" + the error
	}{
		{name: "a worker's facts: /info only", engine: infoJSON + "\n\n---http:200"},
		{name: "a manager's facts: /info, /swarm and /nodes",
			engine:    infoJSON + "\n\n---http:200\n" + swarmJSON + "\n\n---http:200\n" + nodesJSON + "\n\n---http:200",
			wantSwarm: "sw1"},
		{name: "a manager without a leader",
			engine:    infoJSON + "\n\n---http:200\n" + `{"message":"The swarm does not have a leader."}` + "\n\n---http:503\n\n---http:000",
			wantSwarm: "err:The swarm does not have a leader."},
		{name: "a manager that did not answer in time",
			engine:    infoJSON + "\n\n---http:200\n---http:000\n---http:000",
			wantSwarm: "err:no answer within 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFacts(head + "---engine\n" + tt.engine + "\n---daemon.json\n{}\n")
			if err != nil {
				t.Fatal(err)
			}
			if !f.Running() || f.Engine.ContainersRunning != 4 || f.Access != AccessSudo || f.DaemonJSON != "{}\n" {
				t.Fatalf("engine %+v access %q daemon.json %q", f.Engine, f.Access, f.DaemonJSON)
			}
			switch {
			case tt.wantSwarm == "":
				if f.Swarm != nil {
					t.Errorf("swarm read without being asked: %+v", f.Swarm)
				}
			case strings.HasPrefix(tt.wantSwarm, "err:"):
				if f.Swarm == nil || f.Swarm.Err != strings.TrimPrefix(tt.wantSwarm, "err:") {
					t.Errorf("swarm %+v, want error %q", f.Swarm, tt.wantSwarm)
				}
			default:
				if f.Swarm == nil || f.Swarm.Err != "" || f.Swarm.Swarm.ID != tt.wantSwarm || len(f.Swarm.Nodes) != 1 || f.Swarm.Nodes[0].ManagerStatus == nil || !f.Swarm.Nodes[0].ManagerStatus.Leader {
					t.Errorf("swarm %+v", f.Swarm)
				}
			}
		})
	}
}

func TestGatherScriptUsesFullPathAndChangesNothing(t *testing.T) {
	if !strings.Contains(gatherScript, "PATH="+FullPath) {
		t.Error("the facts script does not set the full PATH")
	}
	for _, bad := range []string{"apt-get", "usermod", "systemctl restart", "service docker", "pkill", "kill -", "echo \"info=", "> /etc", ">/etc"} {
		if strings.Contains(gatherScript, bad) {
			t.Errorf("the facts script contains %q: reading facts must change nothing", bad)
		}
	}
	// mv and rm as commands (not inside words such as "swarm "), and no
	// request to the engine other than GET.
	if bad := regexp.MustCompile(`(^|[\s;|&(])(mv|rm)\s|-X|--request|POST`).FindString(gatherScript); bad != "" {
		t.Errorf("the facts script contains %q: reading facts must change nothing", bad)
	}
}

func engine(running int) *EngineInfo {
	e := &EngineInfo{ServerVersion: "20.10.24", ContainersRunning: running}
	e.Swarm.LocalNodeState = "inactive"
	return e
}

func TestPlan(t *testing.T) {
	ready := `{"log-opts":{"max-size":"10m","max-file":"3"}}`
	sysv := func(f Facts) Facts { f.DockerdPID, f.InitScript, f.SSDPID = 40, true, 40; return f }
	systemd := func(f Facts) Facts { f.DockerdPID, f.Systemd, f.UnitPID = 40, true, 40; return f }
	byHand := func(f Facts) Facts { f.DockerdPID, f.InitScript, f.SSDPID = 40, true, 0; return f }
	tests := []struct {
		name        string
		facts       Facts
		opts        Options
		want        []string
		wantPending string
		wantErr     string
	}{
		{name: "a ready host needs nothing",
			facts: sysv(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(3), User: "root", DaemonJSON: ready, DaemonJSONTime: 9000})},
		{name: "a fresh debian host gets config, docker and a start in that order",
			facts: Facts{OS: "debian", User: "root"},
			want:  []string{"write daemon.json", "install docker", "start docker"}},
		{name: "an ubuntu derivative counts as debianish",
			facts: Facts{OS: "pop", OSLike: "ubuntu debian", User: "root", DaemonJSON: ready},
			want:  []string{"install docker", "start docker"}},
		{name: "docker.io found only by its package is not reinstalled, only started",
			facts: Facts{OS: "debian", Packages: []string{"docker.io"}, User: "admin", Sudo: true, DaemonJSON: ready},
			want:  []string{"start docker"}},
		{name: "a running engine the user reaches through sudo is not reinstalled",
			facts: sysv(Facts{OS: "debian", Engine: engine(0), Access: AccessSudo, User: "admin", Sudo: true, DaemonJSON: ready})},
		{name: "a changed config on an idle engine run by systemd restarts it",
			facts: systemd(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(0), User: "root"}),
			want:  []string{"write daemon.json", "restart docker (0 running containers restart)"}},
		{name: "a changed config on an engine with containers waits for the operator",
			facts:       systemd(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(4), User: "root"}),
			want:        []string{"write daemon.json"},
			wantPending: "4 running containers restart; re-run with --restart-docker"},
		{name: "--restart-docker restarts it and the plan says the cost",
			facts: sysv(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(4), User: "admin", Sudo: true}),
			opts:  Options{RestartDocker: true},
			want:  []string{"write daemon.json", "restart docker (4 running containers restart)"}},
		{name: "an engine started by hand is never restarted, even when asked",
			facts:       byHand(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(0), User: "root"}),
			opts:        Options{RestartDocker: true},
			want:        []string{"write daemon.json"},
			wantPending: "no service manager shoal can drive"},
		{name: "a config written earlier and not yet applied stays pending, with nothing to do",
			facts:       byHand(Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", Engine: engine(1), User: "root", DaemonJSON: ready, DaemonJSONTime: 9990, DockerdStarted: 9500}),
			wantPending: "waits for a docker restart"},
		{name: "a stopped daemon is started",
			facts: Facts{OS: "debian", DockerdPath: "/usr/sbin/dockerd", User: "root", DaemonJSON: ready},
			want:  []string{"start docker"}},
		{name: "a non-root user without sudo who must change something is refused",
			facts:   Facts{OS: "debian", User: "deploy"},
			wantErr: "user deploy cannot write daemon.json"},
		{name: "a non-root user without sudo or socket access is refused",
			facts:   sysv(Facts{OS: "debian", Engine: engine(0), Access: AccessSudo, User: "deploy", DaemonJSON: ready}),
			wantErr: "cannot open the Docker socket"},
		{name: "docker missing on an unsupported OS is refused",
			facts:   Facts{OS: "alpine", Version: "3.20", User: "root", DaemonJSON: ready},
			wantErr: `only on Debian or Ubuntu (found "alpine" "3.20")`},
		{name: "an unsupported OS that already runs docker is fine",
			facts: sysv(Facts{OS: "alpine", DockerdPath: "/usr/bin/dockerd", Engine: engine(0), User: "root", DaemonJSON: ready})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Plan(tt.facts, tt.opts)
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
			for _, a := range p.Actions {
				got = append(got, a.String())
				if a.Cmd.Sudo != (tt.facts.User != "root") {
					t.Errorf("%s: sudo = %v for user %q", a.Name, a.Cmd.Sudo, tt.facts.User)
				}
				if !strings.HasPrefix(a.Cmd.Script, "PATH="+FullPath) {
					t.Errorf("%s: script does not set the full PATH: %s", a.Name, a.Cmd.Script)
				}
				if strings.Contains(a.Cmd.Script, "pkill") || strings.Contains(a.Cmd.Script, "kill ") {
					t.Errorf("%s kills a process: %s", a.Name, a.Cmd.Script)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			pending := strings.Join(p.Pending, "\n")
			if tt.wantPending == "" && pending != "" || !strings.Contains(pending, tt.wantPending) {
				t.Errorf("pending = %q, want %q", pending, tt.wantPending)
			}
		})
	}
}

// The facts script runs as it is (sh is dash on Debian) on this machine and
// its output parses: a syntax error, a dash-ism or a changed output format
// fails here before it fails on a host.
func TestGatherScriptRunsHere(t *testing.T) {
	out, err := exec.Command("sh", "-c", gatherScript).Output()
	if err != nil {
		t.Fatalf("facts script: %v\n%s", err, out)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if f.User != me.Username {
		t.Errorf("user = %q, want %q\n%s", f.User, me.Username, out)
	}
	if f.User == "root" && !f.Sudo {
		t.Errorf("root without sudo\n%s", out)
	}
	if _, err := os.Stat("/etc/os-release"); err == nil && f.OS == "" {
		t.Errorf("no os from /etc/os-release\n%s", out)
	}
	if f.Running() && (f.Engine.ServerVersion == "" || f.Access == "" || f.DockerdPID != 0 && f.DockerdStarted == 0) {
		t.Errorf("engine answered but facts are incomplete: %+v\n%s", f, out)
	}
}
