package host

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	swarmapi "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// FullPath is the PATH the facts script uses. A non-root login shell's PATH
// often lacks /usr/sbin and /sbin, where Debian puts dockerd.
const FullPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Service managers that can (re)start dockerd.
const (
	ManagerSystemd = "systemd" // docker.service's MainPID is the running dockerd
	ManagerSysV    = "sysv"    // /etc/init.d/docker started the running dockerd (its pid file names it)
)

// Engine access: how the SSH user reached the engine.
const (
	AccessDirect = "direct" // the user opens the socket (root, docker group)
	AccessSudo   = "sudo"   // only through sudo -n
)

// Facts is what Gather read off a host. It is read with one script, as the
// login user, with sudo -n only where the user cannot see otherwise.
type Facts struct {
	OS       string // os-release ID, e.g. "debian"
	OSLike   string // os-release ID_LIKE
	Version  string // os-release VERSION_ID
	Codename string // os-release VERSION_CODENAME
	User     string // the SSH user
	Sudo     bool   // the user may run sudo -n (always true for root)

	DockerdPath string   // where dockerd is, found with FullPath ("" if nowhere)
	DockerCLI   string   // where the docker client is ("" if nowhere)
	Packages    []string // installed Docker packages: docker.io, docker-ce, moby-engine
	Socket      bool     // /var/run/docker.sock exists

	// Engine is what the engine said about itself (docker info); nil when
	// no engine answered.
	Engine *EngineInfo
	// Access is how the engine answered: AccessDirect or AccessSudo.
	Access string

	DockerdPID int // the running dockerd's pid (0: none)
	// DockerdStarted is when the running dockerd started (host clock,
	// unix seconds; 0: unknown).
	DockerdStarted int64
	Systemd        bool // systemd is PID 1
	UnitPID        int  // docker.service's MainPID (systemd only)
	InitScript     bool // /etc/init.d/docker exists
	SSDPID         int  // the pid in /var/run/docker-ssd.pid (what the init script started)
	// LabInit is true on a shoal lab VPS, whose init (shoal-vps-init)
	// keeps dockerd running unless HoldDockerd exists.
	LabInit bool

	// Swarm is what the engine said when asked for the swarm and its node
	// list (GatherManager, through the socket with curl); nil when it was
	// not asked.
	Swarm *SwarmRead

	// DaemonJSON is /etc/docker/daemon.json as found ("" if absent).
	DaemonJSON string
	// DaemonJSONTime is when daemon.json was last written (host clock,
	// unix seconds; 0: absent).
	DaemonJSONTime int64
}

// EngineInfo is the part of `docker info` host preparation and the swarm
// observation need: the swarm observation takes the node's own view from
// here (swarm.HostFromInfo) instead of asking the engine again.
type EngineInfo struct {
	ServerVersion     string
	ContainersRunning int
	Swarm             swarmapi.Info
}

// SwarmRead is a manager's answer to the swarm questions, read with the
// host facts: the swarm and its nodes, or why the engine gave none (a
// worker, a manager without a leader, no answer within 5s).
type SwarmRead struct {
	Swarm swarmapi.Swarm
	Nodes []swarmapi.Node
	Err   string // "" when both answered
}

// Running tells whether a Docker Engine answered.
func (f Facts) Running() bool { return f.Engine != nil }

// Installed tells whether Docker Engine is on the host, running or not.
func (f Facts) Installed() bool {
	return f.Running() || f.DockerdPath != "" || len(f.Packages) > 0
}

// Manager is the service manager that runs the engine and that shoal can ask
// to restart it: ManagerSystemd, ManagerSysV, or "" when dockerd was started
// by hand, by a container's init, or by anything else shoal cannot drive.
func (f Facts) Manager() string {
	switch {
	case f.DockerdPID == 0 || f.DockerdPID == 1:
		return ""
	case f.Systemd && f.UnitPID == f.DockerdPID:
		return ManagerSystemd
	case f.InitScript && f.SSDPID == f.DockerdPID:
		return ManagerSysV
	}
	return ""
}

// StartedBy says, for messages, what runs the engine.
func (f Facts) StartedBy() string {
	switch {
	case f.DockerdPID == 1:
		return "dockerd is PID 1 (the host's init): stopping it ends the host"
	case f.Manager() == ManagerSystemd:
		return "systemd (docker.service)"
	case f.Manager() == ManagerSysV:
		return "the init script /etc/init.d/docker"
	case f.DockerdPID != 0:
		return "no service manager shoal can drive (started by hand or by another init)"
	}
	return "not running"
}

// ConfigNewerThanDaemon tells whether daemon.json was written after the
// running dockerd started: a change that waits for a restart.
func (f Facts) ConfigNewerThanDaemon() bool {
	return f.DockerdPID != 0 && f.DockerdStarted > 0 && f.DaemonJSONTime > f.DockerdStarted
}

// Source names where the engine came from, for messages.
func (f Facts) Source() string {
	if len(f.Packages) > 0 {
		return strings.Join(f.Packages, "+")
	}
	if f.Installed() {
		return "not from a package"
	}
	return "missing"
}

// dockerPackages are the Debian/Ubuntu packages that ship a Docker Engine.
var dockerPackages = []string{"docker.io", "docker-ce", "moby-engine"}

// gatherScript prints key=value lines, then the daemon config after a marker.
// It changes nothing. It is one round trip and few processes: a re-run of
// bootstrap on ready hosts is mostly this script, so every process counts
// (the engine is asked through its socket with curl, lighter than the
// docker client, which is the fallback; sudo runs once, for the engine).
// The engine is asked as the user where the user may open the socket (root,
// docker group), else through sudo -n.
var gatherScript = `set -u
readswarm=${readswarm:-}
PATH=` + FullPath + `; export PATH
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os=${ID:-}"
echo "like=${ID_LIKE:-}"
echo "version=${VERSION_ID:-}"
echo "codename=${VERSION_CODENAME:-}"
# The uid from the shell's own status (no process); the name as sshd set
# it, else from id.
uid=""
while read -r k v _; do if [ "$k" = Uid: ]; then uid=$v; break; fi; done 2>/dev/null < /proc/self/status || true
user=${USER:-${LOGNAME:-}}
if [ -z "$uid" ] || [ -z "$user" ]; then
	ids=$(id)  # uid=1000(admin) gid=...
	uid=${ids#uid=}; uid=${uid%%(*}
	user=${ids#*(}; user=${user%%)*}
fi
echo "user=$user"
dockerd=$(command -v dockerd 2>/dev/null || true)
cli=$(command -v docker 2>/dev/null || true)
curl=$(command -v curl 2>/dev/null || true)
sudo=$(command -v sudo 2>/dev/null || true)
sock=/var/run/docker.sock
echo "dockerd=$dockerd"
echo "cli=$cli"
if [ -S $sock ]; then echo socket=yes; else echo socket=no; fi
info=""
# ask CMD...: info is CMD's output if it names a server version (a client
# that reached no server still prints its own part, and may exit 0; curl
# may fail on a later URL after /info answered).
ask() { out=$("$@" 2>/dev/null); case "$out" in *'"ServerVersion":"'[!\"]*) info=$out; return 0;; esac; return 1; }
# engine [sudo -n]: ask the engine through its socket, else the docker
# client. With curl, each answer is followed by a "---http:CODE" line; a
# manager (readswarm=1) is also asked for the swarm and its nodes in the
# same curl, each within 5s (a manager cut off from its leader may hang).
engine() {
	w='\n---http:%{http_code}\n'
	more=""
	if [ "$readswarm" = 1 ]; then more="--next -s -m 5 --unix-socket $sock -w $w http://docker/swarm http://docker/nodes"; fi
	# shellcheck disable=SC2086 # $more is split into curl's arguments on purpose
	if [ -n "$curl" ] && [ -S $sock ] && ask "$@" "$curl" -s --unix-socket $sock -w "$w" http://docker/info $more; then curled=1; return 0; fi
	[ -n "$cli" ] && ask "$@" "$cli" info --format '{{json .}}'
}
curled=""
S=""
if [ "$uid" = 0 ]; then
	echo sudo=yes
	if engine; then echo access=direct; fi
else
	# The user opens the socket directly only if it may write to it (docker group).
	if [ -S $sock ] && [ -w $sock ] && engine; then echo access=direct
	elif [ -n "$sudo" ] && engine "$sudo" -n; then echo access=sudo; S="$sudo -n"
	fi
	if [ -z "$S" ] && [ -n "$sudo" ] && "$sudo" -n true >/dev/null 2>&1; then S="$sudo -n"; fi
	if [ -n "$S" ]; then echo sudo=yes; else echo sudo=no; fi
fi
if [ -z "$curled" ]; then printf 'info=%s\n' "$info"; fi
# Docker's packages: when an engine answered they only name its source, and
# the files dpkg keeps for an unpacked package say it (no process); else
# dpkg's status decides whether Docker must be installed.
if [ -n "$info" ]; then
	for p in ` + strings.Join(dockerPackages, " ") + `; do
		for l in /var/lib/dpkg/info/$p.list /var/lib/dpkg/info/$p:*.list; do
			if [ -f "$l" ]; then echo "package=ii  $p"; break; fi
		done
	done
else
	dpkg-query -W -f 'package=${db:Status-Abbrev} ${Package}\n' ` + strings.Join(dockerPackages, " ") + ` 2>/dev/null || true
fi
# The running dockerd: the one its pid file names (dockerd writes the file as
# it starts: its mtime is the start), else the oldest one (ps tells its age).
pid=""
pidfile=""
if [ -r /var/run/docker.pid ]; then read -r pid < /var/run/docker.pid || true; fi
case "$pid" in *[!0-9]*) pid="";; esac
if [ -n "$pid" ]; then
	comm=""; { read -r comm < /proc/$pid/comm; } 2>/dev/null || true
	if [ "$comm" = dockerd ]; then pidfile=/var/run/docker.pid; else pid=""; fi
fi
if [ -z "$pid" ]; then pid=$(pgrep -xo dockerd 2>/dev/null || true); fi
echo "pid=$pid"
if [ -n "$pid" ] && [ -z "$pidfile" ]; then echo "now=$(date +%s)"; echo "age=$(ps -o etimes= -p "$pid" 2>/dev/null)"; fi
if [ -d /run/systemd/system ]; then
	echo systemd=yes
	echo "unitpid=$(systemctl show -p MainPID --value docker.service 2>/dev/null || true)"
else echo systemd=no; fi
if [ -f /etc/init.d/docker ]; then echo initscript=yes; else echo initscript=no; fi
if [ -x /usr/local/sbin/shoal-vps-init ]; then echo labinit=yes; fi
ssd=""
if [ -r /var/run/docker-ssd.pid ]; then read -r ssd < /var/run/docker-ssd.pid || true
elif [ -n "$S" ]; then ssd=$($S cat /var/run/docker-ssd.pid 2>/dev/null || true); fi
echo "ssdpid=$ssd"
stat -c 'mtime=%Y %n' $pidfile /etc/docker/daemon.json 2>/dev/null || true
if [ -n "$curled" ]; then echo "---engine"; printf '%s\n' "$info"; fi
echo "---daemon.json"
# daemon.json with the shell's read (no process), else through sudo.
if [ -r /etc/docker/daemon.json ]; then
	while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < /etc/docker/daemon.json
else
	$S cat /etc/docker/daemon.json 2>/dev/null || true
fi
`

// Gather reads the facts of the host behind r in one round trip. It changes
// nothing on the host.
func Gather(ctx context.Context, r remote.Runner) (Facts, error) {
	return gather(ctx, r, false)
}

// GatherManager is Gather on a swarm manager (as the inventory has it): in
// the same round trip, where the engine is asked through its socket, it
// also asks for the swarm and its node list (Facts.Swarm), so that reading
// the swarm needs no Docker API connection of its own.
func GatherManager(ctx context.Context, r remote.Runner) (Facts, error) {
	return gather(ctx, r, true)
}

func gather(ctx context.Context, r remote.Runner, readSwarm bool) (Facts, error) {
	script := gatherScript
	if readSwarm {
		script = "readswarm=1\n" + script
	}
	res, err := r.Run(ctx, remote.Cmd{Script: script})
	if err != nil {
		return Facts{}, fmt.Errorf("read host facts: %w", err)
	}
	return parseFacts(string(res.Stdout))
}

// engineAnswer is one answer of the engine in the facts' engine section.
type engineAnswer struct {
	code int
	body string
}

// parseEngine splits the facts' engine section (curl's answers, each
// followed by a "---http:CODE" line) into answers.
func parseEngine(sec string) []engineAnswer {
	var out []engineAnswer
	for {
		body, rest, ok := strings.Cut(sec, "\n---http:")
		if !ok {
			if strings.HasPrefix(sec, "---http:") { // an empty body
				body, rest, ok = "", strings.TrimPrefix(sec, "---http:"), true
			} else {
				return out
			}
		}
		code, next, _ := strings.Cut(rest, "\n")
		n, _ := strconv.Atoi(strings.TrimSpace(code))
		out = append(out, engineAnswer{code: n, body: strings.TrimSpace(body)})
		sec = next
	}
}

// apiMessage is the message of a Docker API error body, else the body.
func apiMessage(a engineAnswer) string {
	var m struct{ Message string }
	if json.Unmarshal([]byte(a.body), &m) == nil && m.Message != "" {
		return m.Message
	}
	if a.code == 0 {
		return "no answer within 5s"
	}
	return fmt.Sprintf("HTTP %d: %s", a.code, a.body)
}

// parseSwarm reads the answers to /swarm and /nodes.
func parseSwarm(ans []engineAnswer) *SwarmRead {
	sr := &SwarmRead{}
	if len(ans) < 2 {
		sr.Err = "no answer within 5s"
		return sr
	}
	for i, a := range ans[:2] {
		if a.code != 200 {
			sr.Err = apiMessage(a)
			return sr
		}
		var err error
		if i == 0 {
			err = json.Unmarshal([]byte(a.body), &sr.Swarm)
		} else {
			err = json.Unmarshal([]byte(a.body), &sr.Nodes)
		}
		if err != nil {
			sr.Err = fmt.Sprintf("unreadable answer: %v", err)
			return sr
		}
	}
	return sr
}

// parseFacts is the pure half of Gather.
func parseFacts(out string) (Facts, error) {
	var f Facts
	var now, age int64
	head, daemon, found := strings.Cut(out, "---daemon.json\n")
	if !found {
		return Facts{}, fmt.Errorf("read host facts: unexpected output %q", firstLine(out))
	}
	f.DaemonJSON = daemon
	head, engineSec, curled := strings.Cut(head, "---engine\n")
	if curled {
		ans := parseEngine(engineSec)
		if len(ans) > 0 && ans[0].code == 200 {
			head += "\ninfo=" + ans[0].body + "\n"
		}
		if len(ans) > 1 {
			f.Swarm = parseSwarm(ans[1:])
		}
	}
	num := func(v string) int {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0
		}
		return n
	}
	sc := bufio.NewScanner(strings.NewReader(head))
	sc.Buffer(make([]byte, 64<<10), 4<<20) // docker info is one long line
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k != "info" {
			v = strings.Trim(v, `"`)
		}
		switch k {
		case "os":
			f.OS = v
		case "like":
			f.OSLike = v
		case "version":
			f.Version = v
		case "codename":
			f.Codename = v
		case "user":
			f.User = v
		case "sudo":
			f.Sudo = v == "yes"
		case "dockerd":
			f.DockerdPath = v
		case "cli":
			f.DockerCLI = v
		case "socket":
			f.Socket = v == "yes"
		case "package": // dpkg's status abbreviation and the name: "ii  docker.io"
			if st := strings.Fields(v); len(st) == 2 && st[0] == "ii" {
				f.Packages = append(f.Packages, st[1])
			}
		case "access":
			f.Access = v
		case "info":
			if strings.TrimSpace(v) == "" {
				continue
			}
			var info EngineInfo
			if err := json.Unmarshal([]byte(v), &info); err != nil {
				return Facts{}, fmt.Errorf("read host facts: docker info is not JSON: %w", err)
			}
			if info.ServerVersion != "" { // a client that reached no server prints only its own part
				f.Engine = &info
			}
		case "pid":
			f.DockerdPID = num(v)
		case "now":
			now = int64(num(v))
		case "age":
			age = int64(num(v))
		case "mtime": // "1733150000 /etc/docker/daemon.json"
			t, file, _ := strings.Cut(v, " ")
			n, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				continue
			}
			switch file {
			case "/etc/docker/daemon.json":
				f.DaemonJSONTime = n
			case "/var/run/docker.pid":
				f.DockerdStarted = n
			}
		case "systemd":
			f.Systemd = v == "yes"
		case "unitpid":
			f.UnitPID = num(v)
		case "initscript":
			f.InitScript = v == "yes"
		case "ssdpid":
			f.SSDPID = num(v)
		case "labinit":
			f.LabInit = v == "yes"
		}
	}
	if err := sc.Err(); err != nil {
		return Facts{}, fmt.Errorf("read host facts: %w", err)
	}
	if f.Engine == nil {
		f.Access = ""
	}
	if f.DockerdStarted == 0 && now > 0 && age > 0 {
		f.DockerdStarted = now - age
	}
	return f, nil
}

// Debianish tells whether apt and the distribution's docker.io package can be used.
func (f Facts) Debianish() bool {
	if f.OS == "debian" || f.OS == "ubuntu" {
		return true
	}
	for _, l := range strings.Fields(f.OSLike) {
		if l == "debian" || l == "ubuntu" {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
