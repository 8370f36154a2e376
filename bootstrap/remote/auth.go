package remote

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// agentSocketEnv names the environment variable that points at ssh-agent.
const agentSocketEnv = "SSH_AUTH_SOCK"

// Auth returns the way shoal proves its identity to hosts: the private key in
// identityFile when it is set, else the keys held by ssh-agent. Close the
// returned Closer when no more connections will be dialled.
func Auth(identityFile string) (ssh.AuthMethod, io.Closer, error) {
	if identityFile != "" {
		m, err := AuthFromFile(identityFile)
		if err != nil {
			return nil, nil, err
		}
		return m, nopCloser{}, nil
	}
	return AuthFromAgent()
}

// AuthFromFile reads an unencrypted private key (OpenSSH, PKCS#1, PKCS#8 or
// SEC 1 PEM). A key protected by a passphrase is refused with advice to load
// it into ssh-agent: shoal never asks for passphrases. The returned error
// wraps *ssh.PassphraseMissingError in that case.
func AuthFromFile(path string) (ssh.AuthMethod, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("identity file %s is protected by a passphrase: load it into ssh-agent "+
				"(`ssh-add %s`) and leave the identity file unset so shoal uses the agent: %w", path, path, err)
		}
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ssh.PublicKeys(signer), nil
}

// AuthFromAgent uses the keys held by the ssh-agent that SSH_AUTH_SOCK points
// at. The Closer closes the agent connection; the AuthMethod is safe for
// concurrent dials.
func AuthFromAgent() (ssh.AuthMethod, io.Closer, error) {
	sock := os.Getenv(agentSocketEnv)
	if sock == "" {
		return nil, nil, fmt.Errorf("no identity file set and %s is not set: start ssh-agent and `ssh-add` your key, "+
			"or set an identity file", agentSocketEnv)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to ssh-agent at %s (from %s): %w", sock, agentSocketEnv, err)
	}
	return ssh.PublicKeysCallback(agent.NewClient(conn).Signers), conn, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
