package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
)

// freeAddr returns a local address nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func targetAt(t *testing.T, name, addr string) Target {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	_, _ = fmt.Sscan(port, &p)
	return Target{Name: name, Hoster: "lab", Host: host, Port: p, User: "root"}
}

func TestDialRetriesUntilServerStarts(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	addr := freeAddr(t)
	hostKey := newSigner(t)
	started := make(chan *testServer, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // the host is "booting"
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			started <- nil
			return
		}
		started <- serveOn(t, ln, serverOptions{hostKey: hostKey, authorized: l.user.PublicKey()})
	}()

	o := l.opts
	o.Attempts, o.Backoff = 100, 20*time.Millisecond
	c, err := Dial(context.Background(), targetAt(t, "m1", addr), o)
	if ts := <-started; ts == nil {
		t.Fatal("could not listen on the reserved address again")
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer func() { _ = c.Close() }()
	if res, err := c.Run(context.Background(), Cmd{Script: "echo up"}); err != nil || string(res.Stdout) != "up\n" {
		t.Errorf("run after retried dial: %q, %v", res.Stdout, err)
	}
}

func TestDialGivesUpAfterAttempts(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	addr := freeAddr(t)
	o := l.opts
	o.Attempts = 3
	_, err := Dial(context.Background(), targetAt(t, "m9", addr), o)

	var de *DialError
	if !errors.As(err, &de) || de.Attempts != 3 {
		t.Fatalf("err = %#v, want *DialError after 3 attempts", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want it to wrap ECONNREFUSED", err)
	}
	want := fmt.Sprintf("unable to connect to m9 (lab, %s) as root: ", addr)
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(after 3 attempts)") {
		t.Errorf("err = %q, want it to start %q and say how often it tried", err, want)
	}
}

func TestDialDoesNotRetryAuthFailure(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ts := startServer(t, serverOptions{authorized: newSigner(t).PublicKey()}) // not our key
	o := l.opts
	o.Attempts, o.Backoff = 5, 10*time.Second // a retry would show as a slow test

	_, err := Dial(context.Background(), ts.Target("m3"), o)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.User != "root" {
		t.Fatalf("err = %v, want *AuthError for root", err)
	}
	if n := ts.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	for _, s := range []string{"unable to connect to m3", "as root", "authorized_keys"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "attempts)") {
		t.Errorf("error %q claims retries", err)
	}
}

func TestDialStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	o := l.opts
	o.Attempts, o.Backoff = 1000, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := Dial(ctx, targetAt(t, "m1", freeAddr(t)), o)
	// The last attempt was refused, or (on a loaded machine) cut short by
	// the deadline itself; either way the deadline must be what ended it.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("dial took %v after the context ended", took)
	}
}

func TestDialTimesOutSilentHandshake(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	// Accepts TCP and never speaks SSH, like a host whose sshd hangs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-accepted
		for _, c := range held {
			_ = c.Close()
		}
	})
	o := l.opts
	o.Timeout, o.Attempts = 100*time.Millisecond, 2

	start := time.Now()
	_, err = Dial(context.Background(), targetAt(t, "m4", ln.Addr().String()), o)
	var de *DialError
	if !errors.As(err, &de) || de.Attempts != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a timeout after 2 attempts", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v, want about 2 x 100ms", took)
	}
}

func TestDialRefusesMissingOptions(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	tests := []struct {
		name   string
		target Target
		opts   func(DialOptions) DialOptions
		want   string
	}{
		{"no known hosts file", Target{Name: "m1", Host: "127.0.0.1"},
			func(o DialOptions) DialOptions { o.HostKeys = nil; return o }, "refusing to connect without checking the host key"},
		{"no auth", Target{Name: "m1", Host: "127.0.0.1"},
			func(o DialOptions) DialOptions { o.Auth = nil; return o }, "no authentication method"},
		{"no host", Target{Name: "m1"},
			func(o DialOptions) DialOptions { return o }, "no host address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(context.Background(), tt.target, tt.opts(l.opts))
			var de *DialError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want *DialError saying %q", err, tt.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused while sshd starts", opErr(syscall.ECONNREFUSED), true},
		{"connection reset", opErr(syscall.ECONNRESET), true},
		{"no route to host while the network comes up", opErr(syscall.EHOSTUNREACH), true},
		{"network unreachable", opErr(syscall.ENETUNREACH), true},
		{"EOF during the handshake", fmt.Errorf("ssh: handshake failed: %w", io.EOF), true},
		{"attempt timed out", fmt.Errorf("ssh handshake: %w", context.DeadlineExceeded), true},
		{"i/o timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{"temporary DNS failure", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, true},
		{"unknown name", &net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{"refused key", &AuthError{User: "root", Err: errors.New("ssh: unable to authenticate")}, false},
		{"changed host key", fmt.Errorf("ssh: handshake failed: %w", &HostKeyChangedError{Host: "h"}), false},
		{"revoked host key", &knownhosts.RevokedError{}, false},
		{"cancelled by the caller", context.Canceled, false},
		{"anything else", errors.New("ssh: no common algorithm for host key"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestTargetString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target Target
		want   string
	}{
		{"full target", Target{Name: "m2", Hoster: "hcloud", Region: "fsn1", Host: "203.0.113.12"}, "m2 (hcloud fsn1, 203.0.113.12:22)"},
		{"no region", Target{Name: "m2", Hoster: "hetzner", Host: "203.0.113.12", Port: 22}, "m2 (hetzner, 203.0.113.12:22)"},
		{"other port", Target{Name: "w1", Hoster: "existing", Host: "198.51.100.7", Port: 2222}, "w1 (existing, 198.51.100.7:2222)"},
		{"IPv6 address", Target{Name: "w2", Hoster: "vultr", Host: "2001:db8::7"}, "w2 (vultr, [2001:db8::7]:22)"},
		{"no name or hoster", Target{Host: "10.0.0.5"}, "10.0.0.5:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.target.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDialErrorMessage(t *testing.T) {
	t.Parallel()
	tg := Target{Name: "m2", Hoster: "hetzner", Host: "203.0.113.12"}
	tests := []struct {
		name string
		err  DialError
		want string
	}{
		{"one attempt", DialError{Target: tg, User: "root", Attempts: 1, Err: errors.New("boom")},
			"unable to connect to m2 (hetzner, 203.0.113.12:22) as root: boom"},
		{"retried", DialError{Target: tg, User: "deploy", Attempts: 30, Err: errors.New("connection refused")},
			"unable to connect to m2 (hetzner, 203.0.113.12:22) as deploy: connection refused (after 30 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
