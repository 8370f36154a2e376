// Package labswarm brings up what the Portainer tests run against: a
// one-manager lab swarm made by shoal's own lab and bootstrap code, the
// FROM scratch images its services run, and the real distribution registry
// on the manager. Tests only; it must not be imported by shoal's commands.
package labswarm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
)

// Swarm is a one-manager lab swarm for tests: a VPS container
// bootstrapped by shoal's own bootstrap.Run, reached over SSH. Docker is
// its manager's Engine API over that SSH connection: the backend to give
// New.
type Swarm struct {
	Lab    *lab.Lab
	Conn   *remote.Conn
	Docker *client.Client
	local  *client.Client
	closer io.Closer
}

// Name returns a lab name unique to this run, with prefix.
func Name(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Start brings up lab name with one manager on the local Docker
// Engine and bootstraps it into a swarm. Call Close to remove it; on error
// it removes what it made.
func Start(ctx context.Context, name, dir string, progress io.Writer) (_ *Swarm, err error) {
	local, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("local docker: %w", err)
	}
	s := &Swarm{local: local}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_ = s.down(cctx, name, progress)
		}
	}()
	l, err := lab.Up(ctx, local, lab.Options{Name: name, Managers: 1, Dir: dir}, progress)
	if err != nil {
		return nil, err
	}
	s.Lab = l
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: l.Name, DataPathPort: 4789},
		SSH:     inventory.SSH{User: "root", Port: 22, IdentityFile: l.KeyPath, KnownHosts: filepath.Join(dir, "known_hosts")},
	}
	for _, n := range l.Nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.Name, Address: n.Address, Role: string(n.Role), Hoster: n.Hoster, Region: n.Region})
	}
	inv.SetDefaults()
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return nil, err
	}
	s.closer = closer
	if _, err := bootstrap.Run(ctx, inv, bootstrap.Options{Dial: dial, Parallel: 4}, nodeLines{progress}); err != nil {
		return nil, fmt.Errorf("bootstrap lab %s: %w", name, err)
	}
	m := inv.Nodes[0]
	s.Conn, err = remote.Dial(ctx, bootstrap.Target(inv, m), dial)
	if err != nil {
		return nil, err
	}
	s.Docker, err = s.Conn.Docker(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// nodeLines writes bootstrap progress as "[node] message" lines.
type nodeLines struct{ w io.Writer }

func (p nodeLines) Node(name, msg string) {
	if p.w != nil {
		fmt.Fprintf(p.w, "[%s] %s\n", name, msg)
	}
}

// Close removes the lab and everything in it.
func (s *Swarm) Close(ctx context.Context, progress io.Writer) error {
	return s.down(ctx, s.Lab.Name, progress)
}

func (s *Swarm) down(ctx context.Context, name string, progress io.Writer) error {
	if s.Docker != nil {
		_ = s.Docker.Close()
	}
	if s.Conn != nil {
		_ = s.Conn.Close()
	}
	if s.closer != nil {
		_ = s.closer.Close()
	}
	err := lab.Down(ctx, s.local, name, progress)
	_ = s.local.Close()
	return err
}

// Run runs a shell script on the manager and returns its stdout.
func (s *Swarm) Run(ctx context.Context, script string) (string, error) {
	res, err := s.Conn.Run(ctx, remote.Cmd{Script: script})
	if err != nil {
		return "", err
	}
	return string(res.Stdout), nil
}

// Load copies a local image into the manager's image store under the name
// as (docker save | docker exec -i NODE docker load, then docker tag).
func (s *Swarm) Load(ctx context.Context, image, as string) error {
	node := s.Lab.Nodes[0].Container
	save := exec.CommandContext(ctx, "docker", "save", image)
	load := exec.CommandContext(ctx, "docker", "exec", "-i", node, "docker", "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var stderr bytes.Buffer
	save.Stderr, load.Stderr = &stderr, &stderr
	if err := save.Start(); err != nil {
		return err
	}
	if err := load.Run(); err != nil {
		_ = save.Wait()
		return fmt.Errorf("load %s into %s: %w: %s", image, node, err, stderr.String())
	}
	if err := save.Wait(); err != nil {
		return fmt.Errorf("save %s: %w: %s", image, err, stderr.String())
	}
	if as != "" && as != image {
		_, err := s.Run(ctx, "docker tag "+image+" "+as)
		return err
	}
	return nil
}

// BuildImage builds a FROM scratch image named tag on the local engine from
// a Dockerfile and files (name -> content, mode 0755), without BuildKit and
// without pulling anything.
func BuildImage(ctx context.Context, tag, dockerfile string, files map[string][]byte) error {
	dir, err := os.MkdirTemp("", "portainertest-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files["Dockerfile"] = []byte(dockerfile)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w: %s", tag, err, out)
	}
	return nil
}

// helloSource is a program that waits for SIGTERM: a service task that
// starts and stops at once.
const helloSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, os.Interrupt)
	<-c
}
`

// BuildHello builds the images shoal-test/portainer-hello:1 and :2 (FROM
// scratch, a static Go binary that waits for SIGTERM; the two differ, so
// they have different digests) and returns their names.
func BuildHello(ctx context.Context) ([]string, error) {
	dir, err := os.MkdirTemp("", "portainertest-hello-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(helloSource), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build hello: %w: %s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, v := range []string{"1", "2"} {
		name := "shoal-test/portainer-hello:" + v
		df := "FROM scratch\nCOPY hello /hello\nLABEL org.shoal.hello=" + v + "\nCMD [\"/hello\"]\n"
		if err := BuildImage(ctx, name, df, map[string][]byte{"hello": bin}); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// StartRegistry runs the real distribution registry (lab/images builds it
// from the Go module proxy, once per machine) on the manager's host network,
// so 127.0.0.1:5000 is a registry the manager's engine trusts without TLS,
// and waits until it answers. It returns the registry's host:port.
func (s *Swarm) StartRegistry(ctx context.Context) (string, error) {
	image, err := images.EnsureRegistry(ctx)
	if err != nil {
		return "", err
	}
	if err := s.Load(ctx, image, ""); err != nil {
		return "", err
	}
	config := "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: 127.0.0.1:5000\n"
	if err := s.Conn.WriteFile(ctx, "/etc/shoal-test-registry.yml", []byte(config), 0o644); err != nil {
		return "", err
	}
	if _, err := s.Run(ctx, "docker run -d --name rec-registry --network host -v /etc/shoal-test-registry.yml:/etc/distribution/config.yml:ro "+image); err != nil {
		return "", err
	}
	for i := 0; i < 50; i++ {
		out, err := s.Run(ctx, `bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000' 2>/dev/null && echo up || true`)
		if err == nil && strings.Contains(out, "up") {
			return "127.0.0.1:5000", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", errors.New("lab registry did not answer on 127.0.0.1:5000")
}
