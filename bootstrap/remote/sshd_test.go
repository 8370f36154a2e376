package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
)

// testServer is an in-process sshd on 127.0.0.1 that runs each command with
// the local `sh -c`, as sshd runs it with the user's shell.
type testServer struct {
	Host  string
	Port  int
	Key   ssh.PublicKey // host key
	conns atomic.Int32  // TCP connections accepted

	srv *gliderssh.Server

	mu         sync.Mutex
	streamPath string // last direct-streamlocal path asked for
}

type serverOptions struct {
	addr       string        // listen address; default 127.0.0.1:0
	hostKey    ssh.Signer    // default: a new ed25519 key
	authorized ssh.PublicKey // the one client key accepted; required
	unixSocket string        // where direct-streamlocal channels really go
}

// startServer starts a server and stops it when the test ends.
func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	if o.hostKey == nil {
		o.hostKey = newSigner(t)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return serveOn(t, ln, o)
}

func serveOn(t *testing.T, ln net.Listener, o serverOptions) *testServer {
	t.Helper()
	if o.hostKey == nil {
		o.hostKey = newSigner(t)
	}
	ts := &testServer{Key: o.hostKey.PublicKey()}
	ts.srv = &gliderssh.Server{
		Handler: runLocally,
		PublicKeyHandler: func(_ gliderssh.Context, key gliderssh.PublicKey) bool {
			return gliderssh.KeysEqual(key, o.authorized)
		},
		ConnCallback: func(_ gliderssh.Context, c net.Conn) net.Conn {
			ts.conns.Add(1)
			return c
		},
		ChannelHandlers: map[string]gliderssh.ChannelHandler{
			"session": gliderssh.DefaultSessionHandler,
			"direct-streamlocal@openssh.com": func(_ *gliderssh.Server, _ *ssh.ServerConn, nc ssh.NewChannel, _ gliderssh.Context) {
				ts.forwardUnix(nc, o.unixSocket)
			},
		},
	}
	ts.srv.AddHostKey(o.hostKey)
	tcp := ln.Addr().(*net.TCPAddr)
	ts.Host, ts.Port = tcp.IP.String(), tcp.Port
	go func() { _ = ts.srv.Serve(ln) }()
	t.Cleanup(func() { _ = ts.srv.Close() })
	return ts
}

// Target is a target for this server.
func (ts *testServer) Target(name string) Target {
	return Target{Name: name, Hoster: "lab", Host: ts.Host, Port: ts.Port, User: "root"}
}

// Addr is host:port.
func (ts *testServer) Addr() string { return net.JoinHostPort(ts.Host, strconv.Itoa(ts.Port)) }

// runLocally runs the session's command with sh -c in its own process group,
// killing the group when the client sends a signal or goes away.
func runLocally(s gliderssh.Session) {
	cmd := exec.Command("sh", "-c", s.RawCommand())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	sigs := make(chan gliderssh.Signal, 1)
	s.Signals(sigs)
	if err := cmd.Start(); err != nil {
		_, _ = io.WriteString(s.Stderr(), err.Error())
		_ = s.Exit(127)
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-s.Context().Done():
		case <-done:
			return
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	err := cmd.Wait()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
		if code < 0 {
			code = 137
		}
	}
	_ = s.Exit(code)
}

// forwardUnix serves direct-streamlocal: it records the path asked for and
// connects the channel to socket instead.
func (ts *testServer) forwardUnix(nc ssh.NewChannel, socket string) {
	var msg struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &msg); err != nil || socket == "" {
		_ = nc.Reject(ssh.Prohibited, "no unix forwarding here")
		return
	}
	ts.mu.Lock()
	ts.streamPath = msg.SocketPath
	ts.mu.Unlock()
	uc, err := net.Dial("unix", socket)
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = uc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		defer func() { _ = ch.CloseWrite() }()
		_, _ = io.Copy(ch, uc)
	}()
	go func() {
		defer func() { _ = uc.Close() }()
		_, _ = io.Copy(uc, ch)
	}()
}

func (ts *testServer) lastStreamPath() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.streamPath
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lab is a client key, a known_hosts file in a temp dir and dial options
// tuned for tests.
type lab struct {
	user      ssh.Signer
	hostKeys  *HostKeys
	opts      DialOptions
	knownPath string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{user: newSigner(t), knownPath: filepath.Join(t.TempDir(), "shoal", "known_hosts")}
	l.hostKeys = NewHostKeys(l.knownPath)
	l.hostKeys.Logger = quietLogger()
	l.opts = DialOptions{
		Auth:      []ssh.AuthMethod{ssh.PublicKeys(l.user)},
		HostKeys:  l.hostKeys,
		Timeout:   2 * time.Second,
		Attempts:  1,
		Backoff:   -1,
		Keepalive: -1,
		Logger:    quietLogger(),
	}
	return l
}

func (l *lab) server(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, serverOptions{authorized: l.user.PublicKey()})
}

// dial connects and closes the connection when the test ends.
func (l *lab) dial(t *testing.T, ts *testServer) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), ts.Target("t1"), l.opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
