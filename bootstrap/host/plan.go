package host

import (
	"fmt"
	"strings"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// Action is one change host preparation makes.
type Action struct {
	Name string // "install docker", "write daemon.json", ...
	Why  string
	// Cost says what the action costs beyond itself, for the plan
	// ("4 running containers restart"); "" when nothing.
	Cost string
	Cmd  remote.Cmd
}

// String renders the action for a plan: "restart docker (4 running containers restart)".
func (a Action) String() string {
	if a.Cost == "" {
		return a.Name
	}
	return a.Name + " (" + a.Cost + ")"
}

// Action names that other packages order by.
const (
	ActionRestartDocker = "restart docker"
)

// Options are what the operator allows host preparation to do.
type Options struct {
	// RestartDocker allows restarting a running engine that runs
	// containers, to apply a changed daemon.json (every container on it
	// restarts: swarm needs live-restore off).
	RestartDocker bool
}

// HostPlan is what must change on one host, and what must wait.
type HostPlan struct {
	Actions []Action
	// Pending are changes not made, each with what applies them (a
	// warning; the run goes on).
	Pending []string
}

// UnsupportedOSError says Docker is missing on a system shoal cannot install it on.
type UnsupportedOSError struct{ OS, Version string }

func (e *UnsupportedOSError) Error() string {
	return fmt.Sprintf("docker engine is not installed and shoal installs it only on Debian or Ubuntu (found %q %q): install Docker Engine yourself, then re-run", e.OS, e.Version)
}

// NoPrivilegeError says the SSH user can do neither what is needed nor sudo.
type NoPrivilegeError struct{ User, Need string }

func (e *NoPrivilegeError) Error() string {
	return fmt.Sprintf("user %s cannot %s: it is not root and `sudo -n` asks for a password; allow it passwordless sudo (or log in as root), then re-run", e.User, e.Need)
}

// Plan decides, from the facts alone, what must change on a host. An empty
// plan means the host is ready and nothing will be touched. A working engine
// is never reinstalled; a running one is restarted only when a service
// manager shoal can drive runs it and it runs no containers, or the operator
// allowed it (o.RestartDocker). dockerd is never killed.
func Plan(f Facts, o Options) (HostPlan, error) {
	var p HostPlan
	root := f.User == "root"
	sudo := !root
	if !root && !f.Sudo && f.Running() && f.Access != AccessDirect {
		return p, &NoPrivilegeError{User: f.User, Need: "open the Docker socket (not in the docker group)"}
	}
	daemon, changed, err := MergeDaemonConfig(f.DaemonJSON)
	if err != nil {
		return p, err
	}
	if changed {
		p.Actions = append(p.Actions, Action{
			Name: "write daemon.json",
			Why:  "log rotation on, live-restore off (swarm needs both)",
			Cmd:  writeDaemonConfigCmd(daemon, sudo),
		})
	}
	if !f.Installed() {
		if !f.Debianish() {
			return p, &UnsupportedOSError{OS: f.OS, Version: f.Version}
		}
		p.Actions = append(p.Actions, Action{
			Name: "install docker",
			Why:  "no dockerd, no docker package and no engine answering",
			Cmd:  installDockerCmd(sudo),
		})
	}
	switch {
	case !f.Running():
		p.Actions = append(p.Actions, Action{Name: "start docker", Why: "daemon not running", Cmd: startDockerCmd(f, sudo)})
	case changed || f.ConfigNewerThanDaemon():
		running := f.Engine.ContainersRunning
		cost := fmt.Sprintf("%d running containers restart", running)
		switch mgr := f.Manager(); {
		case mgr == "":
			p.Pending = append(p.Pending, fmt.Sprintf(
				"daemon.json waits for a docker restart (log rotation): dockerd is run by %s, so shoal does not restart it; restart it yourself when convenient (%s)",
				f.StartedBy(), cost))
		case running == 0 || o.RestartDocker:
			p.Actions = append(p.Actions, Action{Name: ActionRestartDocker, Why: "apply daemon.json", Cost: cost, Cmd: restartDockerCmd(mgr, sudo)})
		default:
			p.Pending = append(p.Pending, fmt.Sprintf(
				"daemon.json waits for a docker restart (log rotation): %s; re-run with --restart-docker to let shoal restart it through %s",
				cost, f.StartedBy()))
		}
	}
	if len(p.Actions) > 0 && !root && !f.Sudo {
		return HostPlan{}, &NoPrivilegeError{User: f.User, Need: p.Actions[0].Name}
	}
	return p, nil
}

// pathPrefix gives every action the full PATH: sudo's secure_path and a
// login shell's PATH differ between systems.
const pathPrefix = "PATH=" + FullPath + "; export PATH; "

// writeDaemonConfigCmd writes the file atomically; the content travels on stdin.
func writeDaemonConfigCmd(content string, sudo bool) remote.Cmd {
	return remote.Cmd{
		Script: pathPrefix + "mkdir -p /etc/docker && cat > /etc/docker/daemon.json.shoal && mv /etc/docker/daemon.json.shoal /etc/docker/daemon.json",
		Stdin:  []byte(content),
		Sudo:   sudo,
	}
}

// installDockerCmd installs the distribution's docker.io (see
// docs/decisions/0002-docker-from-distribution.md).
func installDockerCmd(sudo bool) remote.Cmd {
	return remote.Cmd{
		Script: pathPrefix + strings.Join([]string{
			"export DEBIAN_FRONTEND=noninteractive",
			"apt-get update -q",
			"apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates",
		}, " && "),
		Sudo: sudo,
	}
}

// waitDocker waits until the engine answers its socket's /_ping (with curl;
// the docker client, a much heavier process, only where curl is missing),
// polling twice a second: nine hosts restarting at once on small machines
// must not spend their CPU on the probe instead of the daemon.
const waitDocker = "if command -v curl >/dev/null 2>&1; then probe='curl -sf --max-time 5 --unix-socket /var/run/docker.sock http://docker/_ping'; else probe='docker info'; fi; " +
	"i=0; until $probe >/dev/null 2>&1; do i=$((i+1)); if [ $i -ge 120 ]; then echo 'docker did not answer within 60s' >&2; tail -n 20 /var/log/dockerd.log /var/log/docker.log 2>/dev/null >&2; exit 1; fi; sleep 0.5; done"

// startDockerCmd starts a daemon that is not running and waits until it
// answers: through systemd, else the init script docker.io ships, else by
// hand (a host without a service manager).
func startDockerCmd(f Facts, sudo bool) remote.Cmd {
	var start string
	switch {
	case f.Systemd:
		start = "systemctl enable --now docker"
	default:
		start = "(service docker start || /etc/init.d/docker start || (setsid dockerd >>/var/log/dockerd.log 2>&1 < /dev/null &))"
	}
	return remote.Cmd{Script: pathPrefix + start + " >/dev/null 2>&1; " + waitDocker, Sudo: sudo}
}

// restartDockerCmd restarts a daemon through the service manager that runs
// it, and waits until it answers. There is no fallback: a daemon no manager
// runs is never restarted.
func restartDockerCmd(manager string, sudo bool) remote.Cmd {
	start := "systemctl restart docker"
	if manager == ManagerSysV {
		start = "/etc/init.d/docker restart"
	}
	return remote.Cmd{Script: pathPrefix + start + " >/dev/null; " + waitDocker, Sudo: sudo}
}
