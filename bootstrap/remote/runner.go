package remote

import (
	"context"
	"fmt"
	"strings"
)

// Cmd is one command to run on a host. It is a value: build it with a pure
// function, print it with String (secrets redacted), run it with a Runner.
type Cmd struct {
	// Script is passed to `sh -c` on the host. It never contains a secret
	// literally; secrets travel in Stdin or Env.
	Script string
	// Stdin is fed to the command. It may carry secrets.
	Stdin []byte
	// Secrets are strings that must never be printed: String, errors and
	// logs replace each occurrence with <redacted>.
	Secrets []string
	// Sudo runs the script through `sudo -n` when the SSH user is not root.
	Sudo bool
}

// String renders the command for logs and errors with every secret redacted.
func (c Cmd) String() string { return Redact(c.Script, c.Secrets) }

// Redact replaces every occurrence of each non-empty secret in s with <redacted>.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

// Result is what a finished command left behind.
type Result struct {
	Host   string
	Exit   int
	Stdout []byte
	Stderr []byte
}

// Runner runs commands on one host. The production Runner is an SSH
// connection; tests of the pure parts never need one.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// CommandError reports a command that ran and exited non-zero. Its text
// carries the redacted command, the exit code and the last lines of stderr.
type CommandError struct {
	Host   string
	Cmd    string // already redacted
	Exit   int
	Stderr string // last lines, already redacted
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: command %q exited %d: %s", e.Host, e.Cmd, e.Exit, strings.TrimSpace(e.Stderr))
}
