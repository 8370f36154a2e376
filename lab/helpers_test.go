package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// dockerForTest returns a client for the local Docker Engine. Lab tests skip
// under -short only: without a daemon they fail, because CI has one.
func dockerForTest(t *testing.T) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("lab tests use the local Docker Engine; skipped under -short")
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { docker.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("no Docker daemon answers (start one: setsid dockerd >/var/log/dockerd.log 2>&1 &, or run go test -short): %v", err)
	}
	return docker
}

// testWriter sends progress lines to t.Log.
func testWriter(t *testing.T) *tlog {
	return &tlog{t: t}
}

type tlog struct {
	t   *testing.T
	mu  sync.Mutex
	buf string
}

func (w *tlog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf += string(p)
	for {
		i := strings.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// newLab brings up a lab with a per-test name and state directory, and always
// removes it when the test ends.
func newLab(t *testing.T, docker *client.Client, opts Options) *Lab {
	t.Helper()
	if opts.Name == "" {
		opts.Name = testLabName(t)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Down(ctx, docker, opts.Name, testWriter(t)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := Up(ctx, docker, opts, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testLabName(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// dialNode logs in to node n as root with the lab's key, pinning the host key
// Up read from the node.
func dialNode(t *testing.T, l *Lab, n Node) *ssh.Client {
	t.Helper()
	cfg, err := l.ClientConfig(n)
	if err != nil {
		t.Fatal(err)
	}
	// Record the key sshd shows, to name it if it is not the pinned one.
	seen := "none"
	pinned := cfg.HostKeyCallback
	cfg.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		seen = key.Type() + " " + ssh.FingerprintSHA256(key)
		return pinned(host, remote, key)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(n.Address, "22"), cfg)
	if err != nil {
		t.Fatalf("ssh root@%s (%s): %v (host key shown: %s, pinned: %s)", n.Address, n.Name, err, seen, n.HostKey)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs cmd over c and returns its combined output.
func run(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}
