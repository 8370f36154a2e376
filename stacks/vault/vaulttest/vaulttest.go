// Package vaulttest starts a real Vault dev server for tests: the `vault`
// binary that scripts/ensure-vault.sh builds from the Go module proxy
// (v1.21.0), listening on 127.0.0.1 on a free port, with a random root
// token and KV v2 at secret/. It is killed when the test ends.
//
// The binary is $SHOAL_VAULT_BIN, else the ensure-vault cache
// (${SHOAL_CACHE:-${XDG_CACHE_HOME:-~/.cache}/shoal}/vault/v1.21.0/vault).
// Without it a test is skipped under -short and fails otherwise, because CI
// builds it. Only tests import this package.
//
// scripts/test.sh builds Vault in the background while the tests that do not
// need it run: it sets SHOAL_VAULT_BUILD_STATUS to a file where the build's
// exit status appears when it ends, and Start waits for it (saying so every
// minute) before it looks for the binary.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Version is the Vault release the lab builds and tests against.
const Version = "v1.21.0"

// Server is a running dev server.
type Server struct {
	Addr      string // http://127.0.0.1:PORT
	RootToken string
	LogFile   string // its stdout and stderr (it prints the root token; never copy it into test output)
}

// Binary returns the vault binary to run, or an error saying how to build it.
func Binary() (string, error) {
	if p := os.Getenv("SHOAL_VAULT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SHOAL_VAULT_BIN: %w", err)
		}
		return p, nil
	}
	cache := os.Getenv("SHOAL_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "shoal")
	}
	p := filepath.Join(cache, "vault", Version, "vault")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no vault binary at %s (run scripts/ensure-vault.sh, or set SHOAL_VAULT_BIN): %w", p, err)
	}
	return p, nil
}

// Start runs a dev server until the test ends. Its root token is random and
// goes to the process through the environment, not its arguments.
func Start(t testing.TB) *Server {
	t.Helper()
	if err := waitForBuild(t, os.Getenv("SHOAL_VAULT_BUILD_STATUS")); err != nil {
		t.Fatalf("vault dev server: %v", err)
	}
	bin, err := Binary()
	if err != nil {
		if testing.Short() {
			t.Skipf("vault dev server: %v", err)
		}
		t.Fatalf("vault dev server: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("vault dev server: %v", lastErr)
	return nil
}

// waitForBuild waits until the background build that writes its exit
// status to statusFile has ended (nothing to wait for when statusFile is
// empty), and reports a failed build.
func waitForBuild(t testing.TB, statusFile string) error {
	if statusFile == "" {
		return nil
	}
	start := time.Now()
	next := start.Add(time.Minute)
	for {
		b, err := os.ReadFile(statusFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			if st := string(bytes.TrimSpace(b)); st != "0" {
				return fmt.Errorf("the background Vault build (scripts/ensure-vault.sh) failed with status %s; its output is in the test.sh log", st)
			}
			if time.Since(start) > time.Second {
				t.Logf("vault: the background build ended after %s of waiting", time.Since(start).Round(time.Second))
			}
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("SHOAL_VAULT_BUILD_STATUS: %w", err)
		}
		if now := time.Now(); now.After(next) {
			t.Logf("vault: waiting for the background Vault build (scripts/ensure-vault.sh), %s so far", now.Sub(start).Round(time.Second))
			next = now.Add(time.Minute)
		}
		time.Sleep(2 * time.Second)
	}
}

func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	dir := t.TempDir()
	s := &Server{
		Addr:      "http://127.0.0.1:" + strconv.Itoa(port),
		RootToken: "root-" + hex.EncodeToString(tok),
		LogFile:   filepath.Join(dir, "vault.log"),
	}
	log, err := os.Create(s.LogFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, "server", "-dev", "-dev-no-store-token",
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port))
	cmd.Env = []string{
		"HOME=" + dir, // the dev server would otherwise write ~/.vault-token
		"PATH=" + os.Getenv("PATH"),
		"VAULT_DEV_ROOT_TOKEN_ID=" + s.RootToken,
		"VAULT_LOG_LEVEL=warn",
		"VAULT_DISABLE_MLOCK=true",
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	if err := waitHealthy(s.Addr, exited, 30*time.Second); err != nil {
		if isClosed(exited) {
			err = fmt.Errorf("%w: %v", err, waitErr)
		}
		stop()
		return nil, fmt.Errorf("%w (log: %s)", err, s.LogFile)
	}
	t.Cleanup(stop)
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls /v1/sys/health until it answers 200 (initialised,
// unsealed, active), the process exits or the timeout passes.
func waitHealthy(addr string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/sys/health", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("vault exited before it was ready")
		case <-ctx.Done():
			return errors.New("vault not healthy after " + timeout.String())
		case <-tick.C:
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
