package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const keyFile = "id_ed25519"

// ensureKeyPair makes an ed25519 key pair in dir (id_ed25519, mode 0600, and
// id_ed25519.pub) unless the private key is there already, and returns the
// public key in authorized_keys format. created says whether it made one.
func ensureKeyPair(dir, comment string) (authorized string, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("key pair: %w", err)
	}
	priv := filepath.Join(dir, keyFile)
	pubPath := priv + ".pub"

	if pemBytes, err := os.ReadFile(priv); err == nil {
		signer, err := ssh.ParsePrivateKey(pemBytes)
		if err != nil {
			return "", false, fmt.Errorf("key pair: parse %s: %w", priv, err)
		}
		line := authorizedLine(signer.PublicKey(), comment)
		// Restore a missing or different .pub from the private key.
		if old, err := os.ReadFile(pubPath); err != nil || !samePublicKey(string(old), signer.PublicKey()) {
			if err := os.WriteFile(pubPath, []byte(line), 0o644); err != nil {
				return "", false, fmt.Errorf("key pair: %w", err)
			}
		}
		return line, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("key pair: %w", err)
	}

	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", false, fmt.Errorf("key pair: generate: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return "", false, fmt.Errorf("key pair: marshal: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", false, fmt.Errorf("key pair: %w", err)
	}
	line := authorizedLine(sshPub, comment)
	// Write the private key under a temporary name, then rename: a reader never
	// sees half a key.
	tmp := priv + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", false, fmt.Errorf("key pair: %w", err)
	}
	if err := os.Rename(tmp, priv); err != nil {
		return "", false, fmt.Errorf("key pair: %w", err)
	}
	if err := os.WriteFile(pubPath, []byte(line), 0o644); err != nil {
		return "", false, fmt.Errorf("key pair: %w", err)
	}
	return line, true, nil
}

func authorizedLine(k ssh.PublicKey, comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment + "\n"
}

func samePublicKey(line string, k ssh.PublicKey) bool {
	got, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	return err == nil && string(got.Marshal()) == string(k.Marshal())
}

// Signer reads the lab's private key, for SSH clients that log in to the nodes as root.
func (l *Lab) Signer() (ssh.Signer, error) {
	b, err := os.ReadFile(l.KeyPath)
	if err != nil {
		return nil, fmt.Errorf("lab %s: read key: %w", l.Name, err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("lab %s: parse key %s: %w", l.Name, l.KeyPath, err)
	}
	return s, nil
}

// ClientConfig is an SSH client configuration that logs in to node n as root
// with the lab's key and accepts only the host key Up read from n. It asks
// for that key's algorithm: sshd also has RSA and ECDSA host keys, and a
// pinned ed25519 key would not match those.
func (l *Lab) ClientConfig(n Node) (*ssh.ClientConfig, error) {
	signer, err := l.Signer()
	if err != nil {
		return nil, err
	}
	hostKey, err := n.HostPublicKey()
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", l.Name, err)
	}
	return &ssh.ClientConfig{
		User:              "root",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   ssh.FixedHostKey(hostKey),
		HostKeyAlgorithms: []string{hostKey.Type()},
		Timeout:           10 * time.Second,
	}, nil
}
