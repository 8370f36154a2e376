package host

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// Facts is what Gather read off a host.
type Facts struct {
	OS            string // os-release ID, e.g. "debian"
	OSLike        string // os-release ID_LIKE
	Version       string // os-release VERSION_ID
	Codename      string // os-release VERSION_CODENAME
	HasDocker     bool   // dockerd is installed
	DockerRunning bool   // the daemon answers on its socket
	Systemd       bool   // systemd is PID 1
	User          string // the SSH user
	InDockerGroup bool   // the SSH user may open the Docker socket without sudo
	// DaemonJSON is /etc/docker/daemon.json as found ("" if absent).
	DaemonJSON string
}

// gatherScript prints key=value lines, then the daemon config after a marker.
const gatherScript = `set -u
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os=${ID:-}"
echo "like=${ID_LIKE:-}"
echo "version=${VERSION_ID:-}"
echo "codename=${VERSION_CODENAME:-}"
if command -v dockerd >/dev/null 2>&1; then echo docker=yes; else echo docker=no; fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo running=yes; elif [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n docker info >/dev/null 2>&1; then echo running=yes; else echo running=no; fi
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
echo "user=$(id -un)"
if [ "$(id -u)" = 0 ] || id -nG | tr ' ' '\n' | grep -qx docker; then echo dockergroup=yes; else echo dockergroup=no; fi
echo "---daemon.json"
cat /etc/docker/daemon.json 2>/dev/null || true
`

// Gather reads the facts of the host behind r in one round trip.
func Gather(ctx context.Context, r remote.Runner) (Facts, error) {
	res, err := r.Run(ctx, remote.Cmd{Script: gatherScript})
	if err != nil {
		return Facts{}, fmt.Errorf("read host facts: %w", err)
	}
	return parseFacts(string(res.Stdout))
}

// parseFacts is the pure half of Gather.
func parseFacts(out string) (Facts, error) {
	var f Facts
	head, daemon, found := strings.Cut(out, "---daemon.json\n")
	if !found {
		return Facts{}, fmt.Errorf("read host facts: unexpected output %q", firstLine(out))
	}
	f.DaemonJSON = daemon
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "os":
			f.OS = v
		case "like":
			f.OSLike = v
		case "version":
			f.Version = v
		case "codename":
			f.Codename = v
		case "docker":
			f.HasDocker = v == "yes"
		case "running":
			f.DockerRunning = v == "yes"
		case "systemd":
			f.Systemd = v == "yes"
		case "user":
			f.User = v
		case "dockergroup":
			f.InDockerGroup = v == "yes"
		}
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
