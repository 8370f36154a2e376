package lab

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/shoalops/shoal/bootstrap/host"
)

// Variant is the kind of VPS a node image stands for.
type Variant string

const (
	// VariantDocker is a VPS with Debian's docker.io installed and dockerd running.
	VariantDocker Variant = "docker"
	// VariantFresh is a freshly installed VPS without Docker: shoal's bootstrap
	// has to install it with apt.
	VariantFresh Variant = "fresh"
	// VariantForeign is a server as a hoster or an earlier admin hands it
	// over: a non-root login user (ForeignUser) with passwordless sudo, sshd
	// on ForeignPort with root login refused, and Debian's docker.io started
	// once at boot by its SysV init script /etc/init.d/docker (no systemd;
	// nothing restarts dockerd if it stops).
	VariantForeign Variant = "foreign"
)

// The login of VariantForeign nodes.
const (
	ForeignUser = "admin"
	ForeignUID  = 1000
	ForeignPort = 2222
)

func (v Variant) valid() bool { return v == VariantDocker || v == VariantFresh || v == VariantForeign }

// variantsText lists the variants for messages.
const variantsText = `"docker", "fresh" or "foreign"`

// HasDocker tells whether nodes of the variant run dockerd from the start.
func (v Variant) HasDocker() bool { return v == VariantDocker || v == VariantForeign }

// SSHUser is the login user of the variant's nodes.
func (v Variant) SSHUser() string {
	if v == VariantForeign {
		return ForeignUser
	}
	return "root"
}

// SSHPort is the port sshd listens on in the variant's nodes.
func (v Variant) SSHPort() int {
	if v == VariantForeign {
		return ForeignPort
	}
	return 22
}

// home is the login user's home directory.
func (v Variant) home() string {
	if v == VariantForeign {
		return "/home/" + ForeignUser
	}
	return "/root"
}

const (
	suite         = "bookworm"
	defaultMirror = "http://deb.debian.org/debian"
	imageRepo     = "shoal-lab/vps"
	initPath      = "/usr/local/sbin/shoal-vps-init"
)

// HoldDockerd is the file that keeps a lab VPS's init from starting dockerd
// while it exists, as a stopped docker.service stays stopped on a VPS with
// systemd. bootstrap/host's engine control uses it on lab nodes.
const HoldDockerd = "/run/shoal-hold-dockerd"

// basePackages are installed in every node image on top of debootstrap's minbase.
var basePackages = []string{
	"openssh-server", "iproute2", "ca-certificates", "iptables", "procps", "tini", "curl", "gnupg",
}

// initScript runs under tini as the container's main process. It plays the
// part systemd plays on a real VPS: it keeps sshd running and starts dockerd
// once Docker is installed (also when bootstrap installs it later with apt).
const initScript = `#!/bin/sh
# shoal-vps-init: the init of a shoal lab VPS container (runs under tini).
# Keeps sshd running, and dockerd once it is installed, as systemd would.
set -u
mkdir -p /run/sshd /var/log
ssh-keygen -A

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_sshd() {
	alive /run/sshd.pid && return
	echo "shoal-vps-init: starting sshd"
	/usr/sbin/sshd -E /var/log/sshd.log
}

# dockerd starts once its package is configured (the docker group exists),
# not while dpkg is still unpacking it. While /run/shoal-hold-dockerd exists
# it is not started: that is ` + "`systemctl stop docker`" + ` here (shoal backup
# stops the engine so).
start_dockerd() {
	command -v dockerd >/dev/null 2>&1 || return
	getent group docker >/dev/null 2>&1 || return
	[ -e ` + HoldDockerd + ` ] && return
	alive /var/run/docker.pid && return
	echo "shoal-vps-init: starting dockerd"
	dockerd >>/var/log/dockerd.log 2>&1 &
	sleep 1
}

trap 'echo "shoal-vps-init: stopping"; wait; exit 0' TERM INT
while :; do
	start_sshd
	start_dockerd
	sleep 2
done
`

// foreignInitScript is the init of a VariantForeign node: sshd on
// ForeignPort kept running, and Docker started once, at boot, by the init
// script Debian's docker.io ships, as on a server without systemd.
const foreignInitScript = `#!/bin/sh
# shoal-vps-init (foreign): a server an earlier admin set up. sshd is kept
# running; Docker is started once at boot by its SysV init script.
set -u
mkdir -p /run/sshd /var/log
ssh-keygen -A

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

/etc/init.d/docker start >>/var/log/boot.log 2>&1

trap 'echo "shoal-vps-init: stopping"; wait; exit 0' TERM INT
while :; do
	if ! alive /run/sshd.pid; then
		echo "shoal-vps-init: starting sshd"
		/usr/sbin/sshd -E /var/log/sshd.log
	fi
	sleep 2
done
`

// foreignSSHDConfig: the login user only, on another port.
const foreignSSHDConfig = `# shoal lab (foreign): sshd on another port, no root login, keys only.
Port 2222
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
`

// daemonJSON is dockerd's configuration: vfs is the storage driver that works
// for Docker inside these containers.
const daemonJSON = `{"storage-driver": "vfs"}
`

// preparedDaemonJSON is daemonJSON with what bootstrap asks of every engine
// (host.MergeDaemonConfig: log rotation, no live-restore). The docker
// variant's engine is shoal's own install, so its configuration is in place
// before the daemon first starts and a first bootstrap has no restart to
// leave pending. The foreign and fresh variants keep the bare file: they
// are hosts as others hand them over, and bootstrap's merge is what they
// test.
func preparedDaemonJSON() string {
	out, _, err := host.MergeDaemonConfig(daemonJSON)
	if err != nil {
		panic("lab: daemonJSON is not valid JSON: " + err.Error())
	}
	return out
}

const sshdConfig = `# shoal lab: root logs in with its key only.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
`

// recipeFile is one file or directory the recipe writes into the root fs.
type recipeFile struct {
	Path    string // absolute inside the image
	Mode    fs.FileMode
	Content string // empty for a directory
	Dir     bool
}

// recipe is everything that decides a node image. Its hash names the image, so
// a changed recipe builds a new image and an unchanged one reuses the cache.
type recipe struct {
	Variant  Variant
	Suite    string
	Mirror   string
	Packages []string
	Files    []recipeFile
	Chroot   [][]string // commands run in the root fs (chroot) before Files are written
	Changes  []string   // docker import --change lines
}

// newRecipe is the node image recipe for variant. mirror is where debootstrap
// and apt fetch packages from; aptSources is the image's /etc/apt/sources.list.
func newRecipe(variant Variant, mirror, aptSources string) recipe {
	pkgs := slices.Clone(basePackages)
	if variant.HasDocker() {
		pkgs = append(pkgs, "docker.io")
	}
	if variant == VariantForeign {
		pkgs = append(pkgs, "sudo")
	}
	slices.Sort(pkgs)
	r := recipe{
		Variant:  variant,
		Suite:    suite,
		Mirror:   mirror,
		Packages: pkgs,
		Files: []recipeFile{
			{Path: initPath, Mode: 0o755, Content: initScript},
			{Path: "/etc/docker/daemon.json", Mode: 0o644, Content: daemonJSON},
			{Path: "/etc/ssh/sshd_config.d/shoal-lab.conf", Mode: 0o644, Content: sshdConfig},
			{Path: "/etc/apt/sources.list", Mode: 0o644, Content: aptSources},
			{Path: "/root/.ssh", Mode: 0o700, Dir: true},
		},
		Changes: []string{
			`ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
			`CMD ["/usr/bin/tini", "-g", "--", "` + initPath + `"]`,
			`LABEL shoal.lab.image=vps shoal.lab.variant=` + string(variant),
		},
	}
	if variant == VariantDocker {
		r.Files[1].Content = preparedDaemonJSON()
	}
	if variant == VariantForeign {
		r.Chroot = [][]string{
			{"useradd", "--create-home", "--uid", fmt.Sprint(ForeignUID), "--shell", "/bin/bash", ForeignUser},
			// The init script raises the open-files and process limits; this
			// sandbox cannot (no CAP_SYS_RESOURCE, hard limit 20000), and
			// under its `set -e` that failure stops the start. The lab
			// tolerates it; everything else of the script is Debian's.
			{"sed", "-i", `s/^\(\s*ulimit .*\)$/\1 || true/`, "/etc/init.d/docker"},
		}
		r.Files[0].Content = foreignInitScript
		r.Files[2].Content = foreignSSHDConfig
		r.Files = append(r.Files, recipeFile{Path: "/etc/sudoers.d/" + ForeignUser, Mode: 0o440, Content: ForeignUser + " ALL=(ALL) NOPASSWD:ALL\n"})
	}
	return r
}

// Hash is a hex digest over every input of the recipe.
func (r recipe) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "variant=%s\nsuite=%s\nmirror=%s\n", r.Variant, r.Suite, r.Mirror)
	fmt.Fprintf(h, "packages=%s\n", strings.Join(r.Packages, ","))
	for _, f := range r.Files {
		fmt.Fprintf(h, "file=%s mode=%o dir=%t len=%d\n%s\n", f.Path, f.Mode, f.Dir, len(f.Content), f.Content)
	}
	for _, c := range r.Chroot {
		fmt.Fprintf(h, "chroot=%q\n", c)
	}
	for _, c := range r.Changes {
		fmt.Fprintf(h, "change=%s\n", c)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Tag is the image reference: shoal-lab/vps:<variant>-<10 hex of the hash>.
func (r recipe) Tag() string {
	return fmt.Sprintf("%s:%s-%s", imageRepo, r.Variant, r.Hash()[:10])
}

// DebootstrapArgs is the debootstrap command line that makes the root fs in root.
func (r recipe) DebootstrapArgs(root string) []string {
	return []string{"debootstrap", "--variant=minbase", "--include=" + strings.Join(r.Packages, ","), r.Suite, root, r.Mirror}
}

// aptConfig is the host's apt configuration, as read from disk.
type aptConfig struct {
	DebianSources string // /etc/apt/sources.list.d/debian.sources (deb822)
	SourcesList   string // /etc/apt/sources.list (one-line style)
}

// mirror is the Debian mirror to build from: the first URIs of debian.sources,
// else the first deb line of sources.list, else deb.debian.org.
func (c aptConfig) mirror() string {
	for _, st := range deb822Stanzas(c.DebianSources) {
		if uris := strings.Fields(st["uris"]); len(uris) > 0 {
			return uris[0]
		}
	}
	for _, l := range debLines(c.SourcesList) {
		if f := strings.Fields(l); len(f) >= 2 {
			return f[1]
		}
	}
	return defaultMirror
}

// sourcesList is the image's /etc/apt/sources.list: the host's deb sources for
// the suite (which work from this machine), else mirror with the suite and its
// updates.
func (c aptConfig) sourcesList(mirror string) string {
	var b strings.Builder
	for _, st := range deb822Stanzas(c.DebianSources) {
		if !slices.Contains(strings.Fields(st["types"]), "deb") {
			continue
		}
		comps := strings.Join(strings.Fields(st["components"]), " ")
		if comps == "" {
			comps = "main"
		}
		for _, uri := range strings.Fields(st["uris"]) {
			for _, s := range strings.Fields(st["suites"]) {
				if strings.HasPrefix(s, suite) {
					fmt.Fprintf(&b, "deb %s %s %s\n", uri, s, comps)
				}
			}
		}
	}
	if b.Len() == 0 {
		for _, l := range debLines(c.SourcesList) {
			if f := strings.Fields(l); len(f) >= 4 && strings.HasPrefix(f[2], suite) {
				b.WriteString(strings.Join(f, " ") + "\n")
			}
		}
	}
	if b.Len() == 0 {
		fmt.Fprintf(&b, "deb %s %s main\ndeb %s %s-updates main\n", mirror, suite, mirror, suite)
	}
	return b.String()
}

// deb822Stanzas parses deb822 text into stanzas with lower-case keys.
// Comments are skipped; continuation lines are joined with spaces.
func deb822Stanzas(text string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			cur[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// debLines are the "deb ..." lines of a one-line-style sources.list, with
// options in brackets dropped.
func debLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "deb ") {
			continue
		}
		if i := strings.Index(l, "["); i >= 0 {
			if j := strings.Index(l, "]"); j > i {
				l = l[:i] + l[j+1:]
			}
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}
