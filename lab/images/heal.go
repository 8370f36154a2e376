package images

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Paths in the heal image (stacks.HealPulumiDir is /pulumi).
const (
	HealShoalPath  = "/shoal"
	HealPulumiPath = "/pulumi/bin/pulumi"
)

// HealFiles are the files of the heal image, image path -> host path: the
// shoal binary (entrypoint; it is also the provider plugin, through the
// link infra/automation makes), the Pulumi CLI the pulumi actor runs the
// Automation API with, the shared libraries either needs when it is not
// static (as ldd lists them), the host's CA bundle for HTTPS backends and
// an /etc/passwd naming root (a FROM scratch image has none).
func HealFiles(ctx context.Context, shoalBin, pulumiBin string) (map[string]string, error) {
	files := map[string]string{HealShoalPath: shoalBin, HealPulumiPath: pulumiBin}
	for _, bin := range []string{shoalBin, pulumiBin} {
		libs, err := sharedLibraries(ctx, bin)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			files[l] = l
		}
	}
	for _, ca := range []string{"/etc/ssl/certs/ca-certificates.crt"} {
		if _, err := os.Stat(ca); err == nil {
			files[ca] = ca
		}
	}
	return files, nil
}

// sharedLibraries lists the libraries (and loader) a dynamic executable
// needs, by absolute path; none for a static one.
func sharedLibraries(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) || bytes.Contains(out, []byte("statically linked")) {
			return nil, nil
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("ldd not found: cannot tell which libraries %s needs", bin)
		}
		return nil, fmt.Errorf("ldd %s: %w: %s", bin, err, lastLines(string(out), 3))
	}
	return ParseLdd(string(out)), nil
}

// ParseLdd reads ldd's output: the absolute paths of the libraries and the
// loader (the vDSO has none).
func ParseLdd(out string) []string {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i, w := range f {
			if strings.HasPrefix(w, "/") && (i == 0 || f[i-1] == "=>") {
				libs = append(libs, w)
				break
			}
		}
		if strings.Contains(sc.Text(), "statically linked") {
			return nil
		}
	}
	sort.Strings(libs)
	return slices.Compact(libs)
}

// HealDockerfile is the heal image's Dockerfile for files (image path ->
// name in the build context): FROM scratch, the files, /etc/passwd, and
// shoal as the entrypoint.
func HealDockerfile(files map[string]string) string {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&b, "COPY %s %s\n", files[p], p)
	}
	b.WriteString("COPY passwd /etc/passwd\n")
	b.WriteString("ENV PATH=/pulumi/bin SHOAL_PULUMI_DIR=/pulumi PULUMI_SKIP_UPDATE_CHECK=1\n")
	b.WriteString("ENTRYPOINT [\"/shoal\"]\nCMD [\"heal\", \"--help\"]\n")
	return b.String()
}

// BuildHeal builds the heal image tag from shoalBin and pulumiBin on the
// local Docker Engine.
func BuildHeal(ctx context.Context, tag, shoalBin, pulumiBin string) error {
	files, err := HealFiles(ctx, shoalBin, pulumiBin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "shoal-heal-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names := map[string]string{}
	i := 0
	for img, host := range files {
		name := fmt.Sprintf("f%d", i)
		i++
		if err := linkOrCopy(host, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("heal image: %s: %w", host, err)
		}
		names[img] = name
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte("root:x:0:0:root:/tmp:/shoal\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(HealDockerfile(names)), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, nil, []string{"DOCKER_BUILDKIT=0"}, "docker", "build", "-q", "-t", tag, dir); err != nil {
		return fmt.Errorf("heal image %s: %w", tag, err)
	}
	return nil
}

// EnsureHeal builds the lab's heal image once per content: its tag is
// shoal-lab/heal:<hash of both binaries>.
func EnsureHeal(ctx context.Context, shoalBin, pulumiBin string) (string, error) {
	h := sha256.New()
	for _, bin := range []string{shoalBin, pulumiBin} {
		f, err := os.Open(bin)
		if err != nil {
			return "", fmt.Errorf("heal image: %w", err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("heal image: %w", err)
		}
	}
	tag := "shoal-lab/heal:" + hex.EncodeToString(h.Sum(nil))[:12]
	if imageExists(ctx, tag) {
		return tag, nil
	}
	if err := BuildHeal(ctx, tag, shoalBin, pulumiBin); err != nil {
		return "", err
	}
	// Every new shoal binary makes a new 240 MB image: keep only this one.
	if out, err := run(ctx, nil, nil, "docker", "image", "ls", "shoal-lab/heal", "--format", "{{.Repository}}:{{.Tag}}"); err == nil {
		for _, old := range strings.Fields(string(out)) {
			if old != tag {
				_, _ = run(ctx, nil, nil, "docker", "image", "rm", old)
			}
		}
	}
	return tag, nil
}

func linkOrCopy(src, dst string) error {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
