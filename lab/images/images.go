// Package images builds the lab's container images that cannot be pulled
// here (no registry is reachable): the demo web app, a stand-in for Traefik
// (the same binary, listening on 80/443), and the real distribution registry
// compiled from the Go module proxy. Each is FROM scratch plus a static Go
// binary, built once per machine (binaries cached under
// ~/.cache/shoal/<name>/<key>/, images tagged by that key) and loaded into
// lab VPS containers with `docker save | docker exec -i NODE docker load`.
//
// It drives the local docker CLI (DOCKER_BUILDKIT=0 docker build) and the go
// tool; it must not import bootstrap, stacks, infra or Pulumi.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed demo/main.go
var demoSource []byte

//go:embed probe/main.go
var probeSource []byte

// RegistryVersion is the distribution release the lab registry is built
// from.
const RegistryVersion = "v3.1.2"

func cacheDir(parts ...string) (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(append([]string{base, "shoal"}, parts...)...), nil
}

func run(ctx context.Context, stdin []byte, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(out.String(), 5))
	}
	return out.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func imageExists(ctx context.Context, name string) bool {
	_, err := run(ctx, nil, nil, "docker", "image", "inspect", name)
	return err == nil
}

// build builds a FROM scratch image from files (path in image -> content),
// with the given Dockerfile tail (ENTRYPOINT, ENV ...).
func build(ctx context.Context, name string, files map[string][]byte, tail string) error {
	dir, err := os.MkdirTemp("", "shoal-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	df := "FROM scratch\n"
	i := 0
	for path, data := range files {
		local := fmt.Sprintf("f%d", i)
		i++
		if err := os.WriteFile(filepath.Join(dir, local), data, 0o755); err != nil {
			return err
		}
		df += fmt.Sprintf("COPY %s %s\n", local, path)
	}
	df += tail
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return err
	}
	_, err = run(ctx, nil, []string{"DOCKER_BUILDKIT=0"}, "docker", "build", "-q", "-t", name, dir)
	return err
}

// goBinary builds a static binary (CGO_ENABLED=0) once into the cache:
// build(dir) is called with an empty directory to fill when bin is missing.
func goBinary(ctx context.Context, bin string, build func(dir string) error) ([]byte, error) {
	if b, err := os.ReadFile(bin); err == nil {
		return b, nil
	}
	dir := filepath.Dir(bin)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, filepath.Base(bin)), bin); err != nil {
		return nil, err
	}
	return os.ReadFile(bin)
}

func demoKey() string { return sourceKey(demoSource) }

func sourceKey(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])[:10]
}

func demoBinary(ctx context.Context) ([]byte, error) { return sourceBinary(ctx, "demo", demoSource) }

// sourceBinary builds the one-file Go program src as a static binary
// named name, once per machine (cached by the source's hash).
func sourceBinary(ctx context.Context, name string, src []byte) ([]byte, error) {
	dir, err := cacheDir(name, sourceKey(src))
	if err != nil {
		return nil, err
	}
	return goBinary(ctx, filepath.Join(dir, name), func(tmp string) error {
		srcDir := filepath.Join(tmp, "src")
		if err := os.MkdirAll(srcDir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(srcDir, "main.go"), src, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644); err != nil {
			return err
		}
		_, err := run(ctx, nil, []string{"CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local"}, "go", "build", "-C", srcDir, "-ldflags=-s -w", "-o", filepath.Join(tmp, name), ".")
		return err
	})
}

// EnsureProbe returns the lab's load client image (shoal-lab/probe:KEY,
// see probe/main.go): it GETs $TARGET in a loop and logs its ok and fail
// counts once a second, building it when missing.
func EnsureProbe(ctx context.Context) (string, error) {
	name := "shoal-lab/probe:" + sourceKey(probeSource)
	if imageExists(ctx, name) {
		return name, nil
	}
	bin, err := sourceBinary(ctx, "probe", probeSource)
	if err != nil {
		return "", err
	}
	return name, build(ctx, name, map[string][]byte{"/probe": bin}, "ENTRYPOINT [\"/probe\"]\n")
}

// EnsureDemo returns the demo app image (shoal-lab/demo:KEY), building it
// when missing.
func EnsureDemo(ctx context.Context) (string, error) {
	name := "shoal-lab/demo:" + demoKey()
	if imageExists(ctx, name) {
		return name, nil
	}
	bin, err := demoBinary(ctx)
	if err != nil {
		return "", err
	}
	return name, build(ctx, name, map[string][]byte{"/demo": bin}, "ENTRYPOINT [\"/demo\"]\n")
}

// EnsureTraefikStandIn returns an image that stands in for Traefik in the
// lab (shoal-lab/traefik-standin:KEY): the demo binary answering on 80, 443
// and 8080 and ignoring Traefik's arguments. It proves that the traefik
// stack deploys and publishes its ports, nothing about routing.
func EnsureTraefikStandIn(ctx context.Context) (string, error) {
	name := "shoal-lab/traefik-standin:" + demoKey()
	if imageExists(ctx, name) {
		return name, nil
	}
	bin, err := demoBinary(ctx)
	if err != nil {
		return "", err
	}
	return name, build(ctx, name, map[string][]byte{"/traefik": bin},
		"ENV LISTEN=:80,:443,:8080 DEMO_NAME=traefik-standin\nENTRYPOINT [\"/traefik\"]\n")
}

// EnsureRegistry returns the real distribution registry as an image
// (shoal-lab/registry:VERSION) with the entry point of the official
// registry:3 image's binary, so the registry stack's `serve CONFIG` command
// works with both. The binary is built with `go install` from the module
// proxy once per machine (about 2 minutes, 56 MB).
func EnsureRegistry(ctx context.Context) (string, error) {
	name := "shoal-lab/registry:" + RegistryVersion
	if imageExists(ctx, name) {
		return name, nil
	}
	dir, err := cacheDir("registry", RegistryVersion)
	if err != nil {
		return "", err
	}
	bin, err := goBinary(ctx, filepath.Join(dir, "registry"), func(tmp string) error {
		_, err := run(ctx, nil, []string{"CGO_ENABLED=0", "GOBIN=" + tmp, "GOFLAGS=", "GOTOOLCHAIN=local"},
			"go", "install", "-ldflags=-s -w", "github.com/distribution/distribution/v3/cmd/registry@"+RegistryVersion)
		return err
	})
	if err != nil {
		return "", err
	}
	return name, build(ctx, name, map[string][]byte{"/bin/registry": bin},
		"VOLUME /var/lib/registry\nEXPOSE 5000\nENTRYPOINT [\"/bin/registry\"]\nCMD [\"serve\", \"/etc/distribution/config.yml\"]\n")
}

// LoadInto copies a local image into each lab VPS container:
// `docker save IMAGE | docker exec -i CONTAINER docker load`.
func LoadInto(ctx context.Context, image string, containers ...string) error {
	tar, err := run(ctx, nil, nil, "docker", "save", image)
	if err != nil {
		return err
	}
	for _, c := range containers {
		if _, err := run(ctx, tar, nil, "docker", "exec", "-i", c, "docker", "load"); err != nil {
			return fmt.Errorf("load %s into %s: %w", image, c, err)
		}
	}
	return nil
}

// S3Version is the versitygw release the lab's S3-compatible server is
// built from (see docs/decisions/0017-lab-s3.md).
const S3Version = "v1.8.0"

// EnsureS3 returns a real S3-compatible server as an image
// (shoal-lab/s3:VERSION): versitygw, an S3 gateway over a POSIX directory,
// built with `go install` from the module proxy once per machine (about 3
// minutes of CPU, 60 MB). It serves the S3 API on :7070 from /data; the root
// credentials come from the environment (ROOT_ACCESS_KEY_ID,
// ROOT_SECRET_ACCESS_KEY), never from arguments.
func EnsureS3(ctx context.Context) (string, error) {
	name := "shoal-lab/s3:" + S3Version
	if imageExists(ctx, name) {
		return name, nil
	}
	dir, err := cacheDir("versitygw", S3Version)
	if err != nil {
		return "", err
	}
	bin, err := goBinary(ctx, filepath.Join(dir, "versitygw"), func(tmp string) error {
		_, err := run(ctx, nil, []string{"CGO_ENABLED=0", "GOBIN=" + tmp, "GOFLAGS=", "GOTOOLCHAIN=local"},
			"go", "install", "-ldflags=-s -w", "github.com/versity/versitygw/cmd/versitygw@"+S3Version)
		return err
	})
	if err != nil {
		return "", err
	}
	return name, build(ctx, name, map[string][]byte{"/bin/versitygw": bin},
		"VOLUME /data\nEXPOSE 7070\nENTRYPOINT [\"/bin/versitygw\"]\nCMD [\"--port\", \":7070\", \"--quiet\", \"posix\", \"/data\"]\n")
}

// EnsureApp returns a tiny app image for deploy tests,
// shoal-lab/app:<variant>-KEY: the demo binary answering with the variant's
// name, so two variants differ in content and so in digest. The variant
// "crash" exits at start with an error (its listen address is invalid),
// as a broken release does.
func EnsureApp(ctx context.Context, variant string) (string, error) {
	name := "shoal-lab/app:" + variant + "-" + demoKey()
	if imageExists(ctx, name) {
		return name, nil
	}
	bin, err := demoBinary(ctx)
	if err != nil {
		return "", err
	}
	listen := ":8080"
	if variant == "crash" {
		listen = "crash:not-a-port"
	}
	return name, build(ctx, name, map[string][]byte{"/app": bin},
		fmt.Sprintf("ENV LISTEN=%s DEMO_NAME=%s\nENTRYPOINT [\"/app\"]\n", listen, variant))
}

// CopyImages copies those of imgs that the engine of lab VPS container
// from holds into the engine of container to (`docker exec FROM docker
// save ... | docker exec -i TO docker load`): in the lab it stands in for
// the registry pull a new server would make. A reference's digest
// ("@sha256:...") is ignored, as the lab's images have none. It returns
// the images copied.
func CopyImages(ctx context.Context, from, to string, imgs []string) ([]string, error) {
	out, err := run(ctx, nil, nil, "docker", "exec", from, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return nil, fmt.Errorf("list the images of %s: %w", from, err)
	}
	held := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		held[l] = true
	}
	var copyList []string
	for _, img := range imgs {
		ref, _, _ := strings.Cut(img, "@")
		if held[ref] && !slices.Contains(copyList, ref) {
			copyList = append(copyList, ref)
		}
	}
	if len(copyList) == 0 {
		return nil, nil
	}
	save := exec.CommandContext(ctx, "docker", append([]string{"exec", from, "docker", "save"}, copyList...)...)
	load := exec.CommandContext(ctx, "docker", "exec", "-i", to, "docker", "load")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var saveErr, loadOut bytes.Buffer
	save.Stderr = &saveErr
	load.Stdin = pipe
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := save.Start(); err != nil {
		return nil, fmt.Errorf("docker save on %s: %w", from, err)
	}
	lerr := load.Run()
	_ = pipe.Close() // a load that failed early must not leave save blocked on a full pipe
	serr := save.Wait()
	if serr != nil {
		return nil, fmt.Errorf("docker save %s on %s: %w: %s", strings.Join(copyList, " "), from, serr, lastLines(saveErr.String(), 3))
	}
	if lerr != nil {
		return nil, fmt.Errorf("docker load on %s: %w: %s", to, lerr, lastLines(loadOut.String(), 3))
	}
	return copyList, nil
}
