package remote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestHostKeysTrustOnFirstUseThenPin(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var logs syncBuffer
	l.hostKeys.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ts := l.server(t)

	l.dial(t, ts)
	want := knownhosts.Line([]string{knownhosts.Normalize(ts.Addr())}, ts.Key)
	b, err := os.ReadFile(l.knownPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want+"\n" {
		t.Fatalf("known_hosts = %q, want %q", b, want+"\n")
	}
	fp := ssh.FingerprintSHA256(ts.Key)
	if got := logs.String(); !strings.Contains(got, "trusting new host key") || !strings.Contains(got, fp) {
		t.Errorf("log = %q, want the trust line with %s", got, fp)
	}
	for path, mode := range map[string]os.FileMode{l.knownPath: 0o600, filepath.Dir(l.knownPath): 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode = %o, want %o", path, st.Mode().Perm(), mode)
		}
	}

	// Second connection: same key, accepted, nothing new recorded or logged.
	logs = syncBuffer{}
	l.dial(t, ts)
	if got := readLines(t, l.knownPath); len(got) != 1 {
		t.Errorf("known_hosts has %d lines after reconnecting, want 1", len(got))
	}
	if logs.String() != "" {
		t.Errorf("reconnecting logged %q, want nothing", logs.String())
	}
}

func TestHostKeysRefuseChangedKey(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	first := l.server(t)
	l.dial(t, first)
	addr := first.Addr()
	_ = first.srv.Close()

	// The "rebuilt" server: same address, new host key.
	second := startServer(t, serverOptions{addr: addr, authorized: l.user.PublicKey()})
	o := l.opts
	o.Attempts = 5
	_, err := Dial(context.Background(), second.Target("m2"), o)

	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("err = %v, want *HostKeyChangedError", err)
	}
	oldFP, newFP := ssh.FingerprintSHA256(first.Key), ssh.FingerprintSHA256(second.Key)
	if len(changed.Known) != 1 || changed.Known[0] != oldFP || changed.Presented != newFP {
		t.Errorf("known %v presented %s, want [%s] and %s", changed.Known, changed.Presented, oldFP, newFP)
	}
	for _, s := range []string{oldFP, newFP, knownhosts.Normalize(addr), "ssh-keygen -R", l.knownPath, "unable to connect to m2"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if n := second.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1: a changed key is never retried", n)
	}
	if got := readLines(t, l.knownPath); len(got) != 1 {
		t.Errorf("known_hosts has %d lines, want the 1 original", len(got))
	}
}

func TestHostKeysSeeOtherWriters(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ts := l.server(t)
	l.dial(t, ts) // records the key through l.hostKeys

	// A second HostKeys on the same file stands for another shoal process.
	other := NewHostKeys(l.knownPath)
	other.Logger = quietLogger()
	cb := other.Callback()
	if err := cb(ts.Addr(), fakeAddr(ts.Addr()), ts.Key); err != nil {
		t.Errorf("key recorded by another writer: %v, want accepted", err)
	}
	var changed *HostKeyChangedError
	if err := cb(ts.Addr(), fakeAddr(ts.Addr()), newSigner(t).PublicKey()); !errors.As(err, &changed) {
		t.Errorf("different key: %v, want *HostKeyChangedError", err)
	}
}

func TestHostKeysConcurrentDials(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	servers := make([]*testServer, 10)
	for i := range servers {
		servers[i] = l.server(t)
	}
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make([]error, len(servers))
		for i, ts := range servers {
			wg.Go(func() {
				c, err := Dial(context.Background(), ts.Target("n"), l.opts)
				if err == nil {
					_ = c.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := readLines(t, l.knownPath); len(got) != len(servers) {
			t.Fatalf("round %d: known_hosts has %d lines, want %d", round, len(got), len(servers))
		}
	}
}

func TestHostKeysAppendAfterFileWithoutNewline(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	a, b := newSigner(t).PublicKey(), newSigner(t).PublicKey()
	if err := os.MkdirAll(filepath.Dir(l.knownPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.knownPath, []byte(knownhosts.Line([]string{"198.51.100.1"}, a)), 0o600); err != nil {
		t.Fatal(err)
	}
	cb := l.hostKeys.Callback()
	if err := cb("198.51.100.2:22", fakeAddr("198.51.100.2:22"), b); err != nil {
		t.Fatal(err)
	}
	for host, key := range map[string]ssh.PublicKey{"198.51.100.1:22": a, "198.51.100.2:22": b} {
		if err := cb(host, fakeAddr(host), key); err != nil {
			t.Errorf("%s: %v, want both lines intact", host, err)
		}
	}
}

func TestHostKeyAlgorithmsPreferPinnedKeyType(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "known_hosts")
	ed := newSigner(t).PublicKey()
	if err := os.WriteFile(path, []byte(knownhosts.Line([]string{"198.51.100.1"}, ed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := NewHostKeys(path)
	tests := []struct {
		name, addr string
		first      string // "" means nil: library default
	}{
		{"a pinned ed25519 host is asked for ed25519 first", "198.51.100.1:22", ssh.KeyAlgoED25519},
		{"the same host on another port is unknown", "198.51.100.1:2222", ""},
		{"an unknown host gets the default offer", "198.51.100.9:22", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.hostKeyAlgorithms(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.first == "" && got != nil:
				t.Errorf("got %v, want nil", got)
			case tt.first != "" && (len(got) < 2 || got[0] != tt.first):
				t.Errorf("got %v, want %s first then the rest", got, tt.first)
			}
		})
	}
}

func TestHostKeyChangedErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  HostKeyChangedError
		want []string
	}{
		{
			name: "port 22 host names the plain address and the line",
			err: HostKeyChangedError{Host: "203.0.113.12", File: "/home/op/.config/shoal/known_hosts", Lines: []int{3},
				Known: []string{"SHA256:old"}, Presented: "SHA256:new"},
			want: []string{"host key of 203.0.113.12 has changed", "SHA256:old", "SHA256:new",
				"`ssh-keygen -R 203.0.113.12 -f /home/op/.config/shoal/known_hosts`", "line 3 of"},
		},
		{
			name: "other port is quoted for the shell",
			err: HostKeyChangedError{Host: "[203.0.113.12]:2222", File: "/tmp/my hosts", Lines: []int{1, 4},
				Known: []string{"SHA256:a", "SHA256:b"}, Presented: "SHA256:c"},
			want: []string{"ssh-keygen -R '[203.0.113.12]:2222' -f '/tmp/my hosts'", "SHA256:a, SHA256:b", "line 1, 4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
		})
	}
}
