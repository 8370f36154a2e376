package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// writeKey writes a new ed25519 private key, encrypted when passphrase is
// set, and returns its path and public key.
func writeKey(t *testing.T, passphrase string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, sshPub
}

func TestAuthFromFile(t *testing.T) {
	t.Parallel()
	plain, _ := writeKey(t, "")
	locked, _ := writeKey(t, "hunter2")
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope")

	tests := []struct {
		name    string
		path    string
		wantErr []string
		check   func(error) bool
	}{
		{name: "an unencrypted key loads", path: plain},
		{name: "a key with a passphrase points at ssh-agent", path: locked,
			wantErr: []string{locked, "passphrase", "ssh-agent", "ssh-add " + locked},
			check: func(err error) bool {
				var pm *ssh.PassphraseMissingError
				return errors.As(err, &pm)
			}},
		{name: "a missing file says so", path: missing, wantErr: []string{missing},
			check: func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{name: "a file that is no key names the file", path: garbage, wantErr: []string{garbage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := AuthFromFile(tt.path)
			if tt.wantErr == nil {
				if err != nil || m == nil {
					t.Fatalf("AuthFromFile = %v, %v", m, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("error %v does not wrap the expected cause", err)
			}
		})
	}
}

// Not parallel: these set SSH_AUTH_SOCK.

func TestAuthFromAgentNeedsSocket(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	_, _, err := AuthFromAgent()
	if err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Errorf("err = %v, want it to name SSH_AUTH_SOCK", err)
	}
	_, _, err = Auth("")
	if err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Errorf("Auth(\"\") err = %v, want it to fall back to the agent", err)
	}
}

func TestAuthUsesAgentOrFile(t *testing.T) {
	l := newLab(t)

	// An ssh-agent holding the lab's user key.
	dir, err := os.MkdirTemp("", "shoal-agent") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	keyring := agent.NewKeyring()
	keyPath, keyPub := writeKey(t, "")
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	ts := startServer(t, serverOptions{authorized: keyPub})

	tests := []struct {
		name         string
		identityFile string
	}{
		{"no identity file uses the agent", ""},
		{"an identity file is used as is", keyPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, closer, err := Auth(tt.identityFile)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = closer.Close() }()
			o := l.opts
			o.Auth = []ssh.AuthMethod{m}
			c, err := Dial(context.Background(), ts.Target("m1"), o)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			_ = c.Close()
		})
	}
}
