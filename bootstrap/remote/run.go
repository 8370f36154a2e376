package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// maxOutput caps what Run keeps of stdout and of stderr.
	maxOutput = 4 << 20
	// stderrLines is how much of stderr a CommandError carries.
	stderrLines = 20
)

// Run runs c.Script with `sh -c` on the host (through `sudo -n` when c.Sudo
// and the user is not root), feeding c.Stdin. It keeps the first 4 MiB of
// stdout and the last 4 MiB of stderr.
//
// A non-zero exit returns the Result and a *CommandError with the redacted
// command and the last lines of stderr, redacted. A Script that contains one
// of c.Secrets is refused before anything runs: secrets go in c.Stdin.
// Cancelling ctx sends KILL to the command and closes the session; Run then
// returns without output. An sshd that ignores the signal request (older
// OpenSSH) may leave the command running, so scripts should be safe to re-run.
// Result.Exit is -1 whenever the command did not finish.
func (c *Conn) Run(ctx context.Context, cmd Cmd) (Result, error) {
	res := Result{Host: c.target.Name, Exit: -1}
	for _, s := range cmd.Secrets {
		if s != "" && strings.Contains(cmd.Script, s) {
			return res, fmt.Errorf("%s: refusing to run %q: the script contains a secret, which would show in "+
				"the host's process list and logs; pass it in Stdin and read it in the script, e.g. --token \"$(cat)\"",
				c.target, cmd)
		}
	}
	line := remoteCommand(cmd, c.target.user())
	c.log.DebugContext(ctx, "run", "target", c.target.String(), "cmd", cmd.String(), "sudo", line != shCommand(cmd.Script))
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: command %q not started: %w", c.target, cmd, context.Cause(ctx))
	}

	sess, err := c.client.NewSession()
	if err != nil {
		return res, fmt.Errorf("%s: open ssh session for %q: %w", c.target, cmd, err)
	}
	defer func() { _ = sess.Close() }()
	stdout := &capped{max: maxOutput}
	stderr := &capped{max: maxOutput, tail: true}
	sess.Stdout, sess.Stderr = stdout, stderr
	if cmd.Stdout != nil {
		sess.Stdout = cmd.Stdout
	}
	if cmd.Stdin != nil {
		sess.Stdin = bytes.NewReader(cmd.Stdin)
	}

	start := time.Now()
	if err := sess.Start(line); err != nil {
		return res, fmt.Errorf("%s: start %q: %w", c.target, cmd, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		// The copy goroutines may still write to stdout and stderr: leave them be.
		return res, fmt.Errorf("%s: command %q stopped: %w", c.target, cmd, context.Cause(ctx))
	}

	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		res.Exit = 0
	case errors.As(err, &exitErr):
		res.Exit = exitErr.ExitStatus() // 128+n when killed by signal n
	case errors.As(err, &missing):
		return res, fmt.Errorf("%s: command %q ended without an exit status; the connection may have dropped: %w",
			c.target, cmd, err)
	default:
		return res, fmt.Errorf("%s: command %q: %w", c.target, cmd, err)
	}
	c.log.DebugContext(ctx, "ran", "target", c.target.String(), "cmd", cmd.String(), "exit", res.Exit,
		"took", time.Since(start).Round(time.Millisecond))
	if res.Exit != 0 {
		tail := lastLines(string(res.Stderr), stderrLines)
		if exitErr != nil && exitErr.Signal() != "" {
			tail = strings.TrimSpace(tail + "\n(killed by SIG" + exitErr.Signal() + ")")
		}
		return res, &CommandError{
			Host:   c.target.String(),
			Cmd:    cmd.String(),
			Exit:   res.Exit,
			Stderr: Redact(tail, cmd.Secrets),
		}
	}
	return res, nil
}

// remoteCommand is the command line sent to sshd for cmd when connected as user.
func remoteCommand(cmd Cmd, user string) string {
	if cmd.Sudo && user != "root" {
		return "sudo -n " + shCommand(cmd.Script)
	}
	return shCommand(cmd.Script)
}

func shCommand(script string) string { return "sh -c " + Quote(script) }

// Quote quotes s as one word for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lastLines returns the last n lines of s, without trailing blank lines.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n\r\t ")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// capped is a writer that keeps at most max bytes: the first ones, or the last
// ones when tail is set.
type capped struct {
	max  int
	tail bool
	buf  []byte
}

func (w *capped) Write(p []byte) (int, error) {
	n := len(p)
	if !w.tail {
		if room := w.max - len(w.buf); room < len(p) {
			p = p[:max(room, 0)]
		}
		w.buf = append(w.buf, p...)
		return n, nil
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*w.max { // compact now and then, not on every write
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return n, nil
}

func (w *capped) Bytes() []byte {
	if len(w.buf) > w.max {
		return w.buf[len(w.buf)-w.max:]
	}
	return w.buf
}
