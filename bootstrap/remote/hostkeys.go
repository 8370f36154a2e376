package remote

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeys pins host keys in an OpenSSH known_hosts file, trusting a host's
// key the first time shoal meets it and refusing a different key afterwards.
//
// One HostKeys is safe for concurrent use by many parallel dials. It re-reads
// the file on every check, so keys that another shoal process (or ssh) added
// count at once.
type HostKeys struct {
	// Logger receives the "trusting new host key" line. Nil means slog.Default().
	Logger *slog.Logger

	path string
	mu   sync.Mutex // serialises read-check-append on path within this process
}

// NewHostKeys returns a HostKeys backed by the known_hosts file at path. The
// file and its directory are created (0600 and 0700) on first use.
func NewHostKeys(path string) *HostKeys {
	return &HostKeys{path: path}
}

// Path is the known_hosts file.
func (h *HostKeys) Path() string { return h.path }

// Callback checks a presented host key. An unknown host's key is recorded; a
// known host with the same key passes; a known host with a different key
// fails with *HostKeyChangedError.
func (h *HostKeys) Callback() ssh.HostKeyCallback {
	return h.check
}

// HostKeyChangedError means a host presented a key other than the one pinned
// for its address. Either the server was rebuilt or someone is in the middle.
type HostKeyChangedError struct {
	Host      string   // as written in known_hosts: "203.0.113.12" or "[203.0.113.12]:2222"
	File      string   // the known_hosts file
	Lines     []int    // lines of File that pin other keys for Host
	Known     []string // SHA256 fingerprints pinned for Host
	Presented string   // SHA256 fingerprint the host presented
}

func (e *HostKeyChangedError) Error() string {
	lines := make([]string, len(e.Lines))
	for i, l := range e.Lines {
		lines[i] = fmt.Sprint(l)
	}
	return fmt.Sprintf("host key of %s has changed: %s pins %s, the host presented %s; "+
		"someone may be intercepting the connection, so shoal refuses to connect; "+
		"if the server was really rebuilt, remove the old key with `ssh-keygen -R %s -f %s` "+
		"(or delete line %s of %s) and connect again",
		e.Host, e.File, strings.Join(e.Known, ", "), e.Presented,
		quoteIfNeeded(e.Host), quoteIfNeeded(e.File), strings.Join(lines, ", "), e.File)
}

func (h *HostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()

	cb, err := h.load()
	if err != nil {
		return err
	}
	err = cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		return fmt.Errorf("check host key of %s against %s: %w", hostname, h.path, err)
	}
	host := knownhosts.Normalize(hostname)
	if len(keyErr.Want) == 0 {
		return h.trust(host, key)
	}
	changed := &HostKeyChangedError{Host: host, File: h.path, Presented: ssh.FingerprintSHA256(key)}
	for _, k := range keyErr.Want {
		changed.Known = append(changed.Known, ssh.FingerprintSHA256(k.Key))
		changed.Lines = append(changed.Lines, k.Line)
	}
	return changed
}

// load creates the file if needed and parses it afresh. Callers hold h.mu.
func (h *HostKeys) load() (ssh.HostKeyCallback, error) {
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return nil, fmt.Errorf("create known hosts directory: %w", err)
	}
	f, err := os.OpenFile(h.path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open known hosts: %w", err)
	}
	_ = f.Close()
	cb, err := knownhosts.New(h.path)
	if err != nil {
		return nil, fmt.Errorf("read known hosts %s: %w", h.path, err)
	}
	return cb, nil
}

// trust appends a line for host. Callers hold h.mu.
func (h *HostKeys) trust(host string, key ssh.PublicKey) error {
	f, err := os.OpenFile(h.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", host, err)
	}
	line := knownhosts.Line([]string{host}, key) + "\n"
	if !endsWithNewline(f) {
		line = "\n" + line // a hand-edited file may lack the final newline
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("record host key of %s in %s: %w", host, h.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record host key of %s in %s: %w", host, h.path, err)
	}
	h.logger().Info("trusting new host key", "host", host, "fingerprint", ssh.FingerprintSHA256(key), "file", h.path)
	return nil
}

func endsWithNewline(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return true
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, st.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return true
	}
	return b[0] == '\n'
}

func (h *HostKeys) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// hostKeyAlgorithms lists the host key algorithms to offer when connecting to
// addr (host:port): those of the keys pinned for addr first, then every other
// supported one. With nothing pinned it returns nil, the library default.
//
// Without this, a host with several keys could show one shoal has not pinned
// (an ECDSA key when ssh pinned the Ed25519 one in a shared known_hosts) and
// fail as "changed". OpenSSH orders its offer the same way.
func (h *HostKeys) hostKeyAlgorithms(addr string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()

	cb, err := h.load()
	if err != nil {
		return nil, err
	}
	// A key that matches nothing makes knownhosts list every key pinned for addr.
	err = cb(addr, fakeAddr(addr), probeKey{})
	var keyErr *knownhosts.KeyError
	if err == nil || !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil, nil
	}
	var algos []string
	for _, k := range keyErr.Want {
		algos = append(algos, algorithmsForKeyType(k.Key.Type())...)
	}
	algos = append(algos, ssh.SupportedAlgorithms().HostKeys...)
	seen := map[string]bool{}
	return slices.DeleteFunc(algos, func(a string) bool {
		dup := seen[a]
		seen[a] = true
		return dup
	}), nil
}

// algorithmsForKeyType maps a key type to the signature algorithms that
// prove it; only RSA has more than one.
func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{t}
}

// probeKey is a public key equal to no real key.
type probeKey struct{}

func (probeKey) Type() string                        { return "shoal-probe" }
func (probeKey) Marshal() []byte                     { return []byte("shoal-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key verifies nothing") }

// fakeAddr is a net.Addr for a host:port string.
type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// quoteIfNeeded quotes s for a shell when it holds anything but plain
// characters, so a suggested command can be pasted as is.
func quoteIfNeeded(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:/_-+@%") == "" {
		return s
	}
	return Quote(s)
}
