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
	Cmd  remote.Cmd
}

// UnsupportedOSError says Docker is missing on a system shoal cannot install it on.
type UnsupportedOSError struct{ OS, Version string }

func (e *UnsupportedOSError) Error() string {
	return fmt.Sprintf("docker engine is not installed and shoal installs it only on Debian or Ubuntu (found %q %q): install Docker Engine yourself, then re-run", e.OS, e.Version)
}

// Plan decides, from the facts alone, what must change on a host. An empty
// plan means the host is ready and nothing will be touched.
func Plan(f Facts) ([]Action, error) {
	var acts []Action
	sudo := f.User != "root"
	daemon, changed, err := MergeDaemonConfig(f.DaemonJSON)
	if err != nil {
		return nil, err
	}
	if changed {
		acts = append(acts, Action{
			Name: "write daemon.json",
			Why:  "log rotation on, live-restore off (swarm needs both)",
			Cmd:  writeDaemonConfigCmd(daemon, sudo),
		})
	}
	if !f.HasDocker {
		if !f.Debianish() {
			return nil, &UnsupportedOSError{OS: f.OS, Version: f.Version}
		}
		acts = append(acts, Action{
			Name: "install docker",
			Why:  "dockerd not found",
			Cmd:  installDockerCmd(sudo),
		})
	}
	switch {
	case !f.HasDocker || !f.DockerRunning:
		acts = append(acts, Action{Name: "start docker", Why: "daemon not running", Cmd: startDockerCmd(f.Systemd, false, sudo)})
	case changed:
		acts = append(acts, Action{Name: "restart docker", Why: "daemon.json changed", Cmd: startDockerCmd(f.Systemd, true, sudo)})
	}
	if sudo && !f.InDockerGroup {
		acts = append(acts, Action{
			Name: "add user to docker group",
			Why:  fmt.Sprintf("%s must open the Docker socket over SSH", f.User),
			Cmd:  remote.Cmd{Script: "usermod -aG docker " + shellQuote(f.User), Sudo: true},
		})
	}
	return acts, nil
}

// NeedsReconnect tells whether the SSH session must be opened again for a
// new group membership to apply.
func NeedsReconnect(acts []Action) bool {
	for _, a := range acts {
		if a.Name == "add user to docker group" {
			return true
		}
	}
	return false
}

// writeDaemonConfigCmd writes the file atomically; the content travels on stdin.
func writeDaemonConfigCmd(content string, sudo bool) remote.Cmd {
	return remote.Cmd{
		Script: "mkdir -p /etc/docker && cat > /etc/docker/daemon.json.shoal && mv /etc/docker/daemon.json.shoal /etc/docker/daemon.json",
		Stdin:  []byte(content),
		Sudo:   sudo,
	}
}

// installDockerCmd installs the distribution's docker.io (see
// docs/decisions/0002-docker-from-distribution.md).
func installDockerCmd(sudo bool) remote.Cmd {
	return remote.Cmd{
		Script: strings.Join([]string{
			"export DEBIAN_FRONTEND=noninteractive",
			"apt-get update -q",
			"apt-get install -y -q --no-install-recommends docker.io iptables ca-certificates",
		}, " && "),
		Sudo: sudo,
	}
}

// startDockerCmd starts (or restarts) the daemon and waits until it answers.
// Without systemd (containers, some minimal images) it falls back to the
// SysV script docker.io ships, then to starting dockerd by hand.
func startDockerCmd(systemd, restart, sudo bool) remote.Cmd {
	var start string
	switch {
	case systemd && restart:
		start = "systemctl restart docker"
	case systemd:
		start = "systemctl enable --now docker"
	case restart:
		start = "(service docker restart || { pkill -x dockerd; sleep 2; (setsid dockerd >/var/log/dockerd.log 2>&1 &); })"
	default:
		start = "(service docker start || (setsid dockerd >/var/log/dockerd.log 2>&1 &))"
	}
	wait := "i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); if [ $i -ge 300 ]; then echo 'docker did not answer within 60s' >&2; tail -n 20 /var/log/dockerd.log /var/log/docker.log 2>/dev/null >&2; exit 1; fi; sleep 0.2; done"
	return remote.Cmd{Script: start + " >/dev/null 2>&1; " + wait, Sudo: sudo}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
