package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// Host files the image recipe reads its Debian mirror and apt sources from.
const (
	hostDebianSources = "/etc/apt/sources.list.d/debian.sources"
	hostSourcesList   = "/etc/apt/sources.list"
)

// EnsureImage returns the tag of the node image for variant, building it first
// if no image with that tag exists. A build runs debootstrap as root (about
// 40 s and 560 MB for VariantDocker) and imports the root fs; builds of the
// same image in parallel processes wait for each other through a file lock in
// the user's cache directory. Progress lines go to progress (which may be nil).
func EnsureImage(ctx context.Context, docker Docker, variant Variant, progress io.Writer) (string, error) {
	if !variant.valid() {
		return "", fmt.Errorf("lab image: unknown variant %q (want %s)", variant, variantsText)
	}
	rep := newReporter(progress)
	mirror, sources := readAptConfig()
	rcp := newRecipe(variant, mirror, sources)
	tag := rcp.Tag()

	if ok, err := imageExists(ctx, docker, tag); err != nil {
		return "", err
	} else if ok {
		rep.printf("[image %s] using cached image %s", variant, tag)
		return tag, nil
	}

	unlock, err := lockFile(ctx, rep, "", fmt.Sprintf("image-%s-%s.lock", variant, rcp.Hash()[:10]), "another process is building the image")
	if err != nil {
		return "", fmt.Errorf("lab image %s: %w", tag, err)
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if ok, err := imageExists(ctx, docker, tag); err != nil {
		return "", err
	} else if ok {
		rep.printf("[image %s] using cached image %s (built by another process)", variant, tag)
		return tag, nil
	}

	start := time.Now()
	rep.printf("[image %s] building %s (debootstrap %s from %s)", variant, tag, rcp.Suite, rcp.Mirror)
	if err := buildImage(ctx, docker, rep, rcp, tag); err != nil {
		return "", fmt.Errorf("lab image %s: %w", tag, err)
	}
	rep.printf("[image %s] built %s in %s", variant, tag, time.Since(start).Round(time.Second))
	return tag, nil
}

// readAptConfig reads the host's apt sources; missing files are empty.
func readAptConfig() (mirror, sources string) {
	var c aptConfig
	if b, err := os.ReadFile(hostDebianSources); err == nil {
		c.DebianSources = string(b)
	}
	if b, err := os.ReadFile(hostSourcesList); err == nil {
		c.SourcesList = string(b)
	}
	mirror = c.mirror()
	return mirror, c.sourcesList(mirror)
}

func imageExists(ctx context.Context, docker Docker, tag string) (bool, error) {
	res, err := docker.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", tag)})
	if err != nil {
		return false, fmt.Errorf("lab image: look for %s: %w", tag, err)
	}
	return len(res.Items) > 0, nil
}

// cacheDir is ~/.cache/shoal/lab (or $XDG_CACHE_HOME/shoal/lab).
func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "shoal", "lab")
	return dir, os.MkdirAll(dir, 0o755)
}

// lockFile takes an exclusive flock on name in dir ("": the cache
// directory), waiting until ctx ends; while it waits it says once what it
// waits for (holder). The lock excludes other processes and other callers
// in this process alike: each call opens the file anew. The returned func
// releases it.
func lockFile(ctx context.Context, rep *reporter, dir, name, holder string) (func(), error) {
	if dir == "" {
		var err error
		if dir, err = cacheDir(); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !said {
			rep.printf("waiting for %s (%s)", path, holder)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func buildImage(ctx context.Context, docker Docker, rep *reporter, rcp recipe, tag string) (err error) {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("debootstrap not found (apt-get install -y debootstrap): %w", err)
	}
	tmp, err := os.MkdirTemp("", "shoal-lab-rootfs-")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := removeRootfs(tmp); rmErr != nil {
			rep.printf("[image %s] %v", rcp.Variant, rmErr)
			if err == nil {
				err = rmErr
			}
		}
	}()
	root := filepath.Join(tmp, "root")

	out := rep.lines(fmt.Sprintf("[image %s] ", rcp.Variant))
	out.skip = debootstrapChatter
	args := rcp.DebootstrapArgs(root)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	// debootstrap runs dpkg in the chroot: on cancel, kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	out.Flush()
	if err != nil {
		return fmt.Errorf("%s: %w (see debootstrap output above; %s/debootstrap/debootstrap.log)", strings.Join(args, " "), err, root)
	}

	for _, c := range rcp.Chroot {
		args := append([]string{"chroot", root}, c...)
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
		}
	}
	if err := finishRootfs(root, rcp); err != nil {
		return fmt.Errorf("prepare root fs: %w", err)
	}
	rep.printf("[image %s] importing %s", rcp.Variant, tag)
	return importRootfs(ctx, docker, root, rcp, tag)
}

// debootstrapChatter are debootstrap's lines about single packages (hundreds
// of them); the lines about its phases are kept.
func debootstrapChatter(line string) bool {
	for _, p := range []string{"I: Retrieving ", "I: Validating ", "I: Extracting ", "I: Unpacking ", "I: Configuring "} {
		if strings.HasPrefix(line, p) {
			return !strings.Contains(line, "required packages") && !strings.Contains(line, "base system")
		}
	}
	return false
}

// finishRootfs writes the recipe's files and removes what must differ per
// container (host keys, Docker's identity) or is just weight (apt caches).
func finishRootfs(root string, rcp recipe) error {
	for _, f := range rcp.Files {
		p := filepath.Join(root, f.Path)
		if f.Dir {
			if err := os.MkdirAll(p, f.Mode); err != nil {
				return err
			}
			if err := os.Chmod(p, f.Mode); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.Content), f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.Mode); err != nil {
			return err
		}
	}
	var remove []string
	for _, pattern := range []string{
		"etc/ssh/ssh_host_*",
		"etc/apt/sources.list.d/*",
		"var/lib/apt/lists/*_*",
		"var/cache/apt/archives/*.deb",
		"var/cache/apt/*.bin",
		"etc/docker/key.json",
		"var/lib/docker",
		"var/log/dockerd.log",
	} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return err
		}
		remove = append(remove, m...)
	}
	for _, p := range remove {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// importRootfs streams `tar -C root -c .` into the Docker image import.
func importRootfs(ctx context.Context, docker Docker, root string, rcp recipe, tag string) error {
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-c", ".")
	stdout, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	var tarErr strings.Builder
	tarCmd.Stderr = &tarErr
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	res, err := docker.ImageImport(ctx, client.ImageImportSource{Source: stdout, SourceName: "-"}, tag,
		client.ImageImportOptions{Changes: rcp.Changes, Message: "shoal lab node image, recipe " + rcp.Hash()[:10]})
	if err != nil {
		tarCmd.Process.Kill()
		tarCmd.Wait()
		return fmt.Errorf("docker import: %w", err)
	}
	defer res.Close()
	msgErr := readJSONMessages(res)
	waitErr := tarCmd.Wait()
	if msgErr != nil {
		return fmt.Errorf("docker import: %w", msgErr)
	}
	if waitErr != nil {
		return fmt.Errorf("tar -C %s -c .: %w: %s", root, waitErr, lastLines(tarErr.String(), 5))
	}
	return nil
}

// readJSONMessages reads a Docker JSON message stream and returns the first
// error it reports.
func readJSONMessages(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// removeRootfs removes a build directory. debootstrap mounts /proc and /sys
// into the chroot; if a failed run left any mount below dir, it is unmounted
// first, and dir is kept (and reported) if that fails, so that RemoveAll never
// walks into a mounted file system.
func removeRootfs(dir string) error {
	mounts, err := mountsBelow(dir)
	if err != nil {
		return fmt.Errorf("build directory %s kept: read mounts: %w", dir, err)
	}
	// Deepest first.
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("build directory %s kept: unmount %s: %w", dir, mounts[i], err)
		}
	}
	if mounts, err := mountsBelow(dir); err != nil || len(mounts) > 0 {
		return fmt.Errorf("build directory %s kept: still mounted: %v %v", dir, mounts, err)
	}
	return os.RemoveAll(dir)
}

// mountsBelow lists mount points at or below dir, in mountinfo order.
func mountsBelow(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
