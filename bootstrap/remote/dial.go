package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Target is one host to connect to, with what an operator needs to recognise
// it in a message.
type Target struct {
	Name   string // inventory name, "m2"
	Hoster string // "hcloud", "vultr", "existing", ...
	Region string // "fsn1"; may be empty
	Host   string // address or DNS name to connect to
	Port   int    // default 22
	User   string // default root
}

// Addr is host:port, with the default port filled in.
func (t Target) Addr() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// String renders the target for messages: "m2 (hcloud fsn1, 203.0.113.12:22)".
func (t Target) String() string {
	where := t.Hoster
	if t.Region != "" {
		if where != "" {
			where += " "
		}
		where += t.Region
	}
	if where != "" {
		where += ", "
	}
	where += t.Addr()
	if t.Name == "" {
		return where
	}
	return t.Name + " (" + where + ")"
}

// user is the SSH user with the default filled in.
func (t Target) user() string {
	if t.User == "" {
		return "root"
	}
	return t.User
}

// DialOptions says how to authenticate, which host keys to trust and how long
// to wait for a host that is still booting. In durations and counts, zero
// takes the default and a negative value turns the thing off.
type DialOptions struct {
	// Auth are the ways to prove our identity, tried in order. Required.
	Auth []ssh.AuthMethod
	// HostKeys pins host keys. Required: remote never connects unchecked.
	HostKeys *HostKeys
	// Timeout bounds one attempt: TCP connect plus SSH handshake. Default 10s.
	Timeout time.Duration
	// Attempts bounds how often a host that is not up yet is tried. Default 30.
	Attempts int
	// Backoff is the wait between attempts. Default 2s; negative means none
	// (tests).
	Backoff time.Duration
	// Keepalive is how often an established connection is checked; a
	// connection whose host stops answering is closed so commands fail
	// instead of hanging. Default 30s; negative turns it off.
	Keepalive time.Duration
	// Logger receives debug lines about attempts and commands. Nil means
	// slog.Default().
	Logger *slog.Logger
	// OnRetry, when set, hears of each failed attempt that will be tried
	// again (progress for an operator waiting on a host that is not up).
	OnRetry func(t Target, attempt, of int, err error, wait time.Duration)
}

const (
	defaultTimeout   = 10 * time.Second
	defaultAttempts  = 30
	defaultBackoff   = 2 * time.Second
	defaultKeepalive = 30 * time.Second
)

func (o DialOptions) withDefaults() DialOptions {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = defaultAttempts
	}
	switch {
	case o.Backoff == 0:
		o.Backoff = defaultBackoff
	case o.Backoff < 0:
		o.Backoff = 0
	}
	switch {
	case o.Keepalive == 0:
		o.Keepalive = defaultKeepalive
	case o.Keepalive < 0:
		o.Keepalive = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// DialError reports that Dial gave up on a target.
type DialError struct {
	Target   Target
	User     string
	Attempts int   // attempts made
	Err      error // the last attempt's error, or the context's error
}

func (e *DialError) Error() string {
	s := fmt.Sprintf("unable to connect to %s as %s: %v", e.Target, e.User, e.Err)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

func (e *DialError) Unwrap() error { return e.Err }

// AuthError means the host answered and its key checked out, but it did not
// accept any of our keys. Dial never retries it.
type AuthError struct {
	User string
	Err  error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("the host refused our keys for user %s: %v; check that the public key of your identity file "+
		"or ssh-agent is in ~%s/.ssh/authorized_keys on the host", e.User, e.Err, e.User)
}

func (e *AuthError) Unwrap() error { return e.Err }

// Dial connects to t over SSH and checks its host key. While the host is
// still booting (refused, reset, timed out, unreachable, closed during the
// handshake) it tries again, up to o.Attempts times with o.Backoff between
// tries, until ctx is done. A refused key (*AuthError) or a changed host key
// (*HostKeyChangedError) ends it at once. Every error is a *DialError naming
// the target and user.
func Dial(ctx context.Context, t Target, o DialOptions) (*Conn, error) {
	o = o.withDefaults()
	fail := func(attempts int, err error) error {
		return &DialError{Target: t, User: t.user(), Attempts: attempts, Err: err}
	}
	switch {
	case t.Host == "":
		return nil, fail(0, errors.New("no host address"))
	case o.HostKeys == nil:
		return nil, fail(0, errors.New("no known hosts file given: refusing to connect without checking the host key"))
	case len(o.Auth) == 0:
		return nil, fail(0, errors.New("no authentication method given"))
	}

	for attempt := 1; ; attempt++ {
		c, err := dialOnce(ctx, t, o)
		if err == nil {
			return c, nil
		}
		if cause := context.Cause(ctx); cause != nil {
			if !errors.Is(err, cause) {
				err = fmt.Errorf("%w (last attempt: %w)", cause, err)
			}
			return nil, fail(attempt, err)
		}
		if !retryable(err) || attempt >= o.Attempts {
			return nil, fail(attempt, err)
		}
		o.Logger.DebugContext(ctx, "ssh not ready, retrying", "target", t.String(), "attempt", attempt,
			"of", o.Attempts, "err", err)
		if o.OnRetry != nil {
			o.OnRetry(t, attempt, o.Attempts, err, o.Backoff)
		}
		if serr := sleep(ctx, o.Backoff); serr != nil {
			return nil, fail(attempt, fmt.Errorf("%w (last attempt: %w)", serr, err))
		}
	}
}

// dialOnce makes one attempt, bounded by o.Timeout and cancelled with ctx.
func dialOnce(ctx context.Context, t Target, o DialOptions) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	addr := t.Addr()
	algos, err := o.HostKeys.hostKeyAlgorithms(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The SSH handshake knows no context: closing the socket is what stops it.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })

	var keyChecked atomic.Bool // the handshake runs the callback on its own goroutine
	check := o.HostKeys.Callback()
	cfg := &ssh.ClientConfig{
		User: t.user(),
		Auth: o.Auth,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			err := check(hostname, remote, key)
			keyChecked.Store(err == nil)
			return err
		},
		HostKeyAlgorithms: algos,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if !stop() {
		// ctx ended during the handshake and closed the socket.
		if err == nil {
			_ = sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake: %w", context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		if keyChecked.Load() && !retryable(err) {
			return nil, &AuthError{User: t.user(), Err: err}
		}
		return nil, err
	}
	return newConn(ssh.NewClient(sc, chans, reqs), t, o), nil
}

// retryable tells errors that mean "not up yet" from ones that will not go
// away by waiting.
func retryable(err error) bool {
	var (
		changed *HostKeyChangedError
		auth    *AuthError
		keyErr  *knownhosts.KeyError
		revoked *knownhosts.RevokedError
		dnsErr  *net.DNSError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &changed), errors.As(err, &auth), errors.As(err, &keyErr), errors.As(err, &revoked):
		return false
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true // sshd accepted and hung up: still starting, or MaxStartups
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return true // this attempt's timeout; Dial checks the caller's ctx first
	case errors.As(err, &dnsErr):
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	case errors.As(err, &netErr):
		return netErr.Timeout()
	}
	return false
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
