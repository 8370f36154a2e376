package remote

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Cmd is one command to run on a host. It is a value: build it with a pure
// function, print it with String (secrets redacted), run it with a Runner.
type Cmd struct {
	// Script is passed to `sh -c` on the host. It never contains a secret
	// literally (Conn.Run refuses a Script that contains one of Secrets):
	// the command line is visible in the host's process list and logs.
	// Secrets travel in Stdin.
	Script string
	// Stdin is fed to the command. It may carry secrets.
	Stdin []byte
	// Secrets are strings that must never be printed: String, errors and
	// logs replace each occurrence with <redacted>.
	Secrets []string
	// Sudo runs the script through `sudo -n` when the SSH user is not root.
	Sudo bool
	// Stdout, when set, receives the command's whole stdout as it comes
	// (for output larger than Result keeps, such as an archive);
	// Result.Stdout is then empty.
	Stdout io.Writer
}

// String renders the command for logs and errors with every secret redacted.
func (c Cmd) String() string { return Redact(c.Script, c.Secrets) }

// Redact replaces every occurrence of each non-empty secret in s with <redacted>.
// Longer secrets are replaced first, so a secret that contains another one
// never leaves a visible remainder.
func Redact(s string, secrets []string) string {
	if len(secrets) > 1 {
		secrets = slices.Clone(secrets)
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	}
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
	Host   string // the target, as Target.String renders it
	Cmd    string // already redacted
	Exit   int
	Stderr string // last lines, already redacted
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: command %q exited %d: %s", e.Host, e.Cmd, e.Exit, strings.TrimSpace(e.Stderr))
}
