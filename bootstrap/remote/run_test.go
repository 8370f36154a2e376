package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRunReportsExitAndOutput(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t))
	tests := []struct {
		name       string
		cmd        Cmd
		exit       int
		stdout     string
		stderrTail string // the CommandError's Stderr, when exit != 0
	}{
		{name: "a command that succeeds returns its stdout", cmd: Cmd{Script: "echo hello"}, stdout: "hello\n"},
		{name: "a failing command returns its exit code and stderr",
			cmd: Cmd{Script: "echo partial; echo 'no such thing' >&2; exit 3"}, exit: 3, stdout: "partial\n",
			stderrTail: "no such thing"},
		{name: "single quotes in the script survive quoting",
			cmd: Cmd{Script: `printf '%s\n' "it's $((1+1))"`}, stdout: "it's 2\n"},
		{name: "stdin reaches the command", cmd: Cmd{Script: "tr a-z A-Z", Stdin: []byte("shout")}, stdout: "SHOUT"},
		{name: "sudo is not used for root", cmd: Cmd{Script: "echo root", Sudo: true}, stdout: "root\n"},
		{name: "only the last 20 lines of stderr are kept in the error",
			cmd: Cmd{Script: "for i in $(seq 1 30); do echo line $i >&2; done; exit 1"}, exit: 1,
			stderrTail: strings.TrimSpace(seqLines(11, 30))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Run(context.Background(), tt.cmd)
			if res.Exit != tt.exit || string(res.Stdout) != tt.stdout || res.Host != "t1" {
				t.Errorf("got exit %d stdout %q host %q, want %d %q t1", res.Exit, res.Stdout, res.Host, tt.exit, tt.stdout)
			}
			if tt.exit == 0 {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CommandError", err)
			}
			if ce.Exit != tt.exit || ce.Stderr != tt.stderrTail || ce.Cmd != tt.cmd.Script || ce.Host != c.Target().String() {
				t.Errorf("CommandError = %+v", ce)
			}
		})
	}
}

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestRunKeepsSecretsOutOfErrors(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t))
	const secret = "SWMTKN-1-s3cr3t"

	t.Run("a secret on stdin reaches the command", func(t *testing.T) {
		res, err := c.Run(context.Background(), Cmd{Script: `tok=$(cat); printf '%s' "$tok"`, Stdin: []byte(secret), Secrets: []string{secret}})
		if err != nil || string(res.Stdout) != secret {
			t.Errorf("stdout %q, err %v; want the secret back", res.Stdout, err)
		}
	})
	t.Run("a failing command's error redacts the secret", func(t *testing.T) {
		_, err := c.Run(context.Background(), Cmd{
			Script:  `tok=$(cat); echo "join failed: bad token $tok" >&2; exit 4`,
			Stdin:   []byte(secret),
			Secrets: []string{secret},
		})
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Exit != 4 {
			t.Fatalf("err = %v, want *CommandError exit 4", err)
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "bad token <redacted>") {
			t.Errorf("error text %q leaks the secret or lost the line", err)
		}
	})
	t.Run("a secret in the script is refused before anything runs", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		_, err := c.Run(context.Background(), Cmd{Script: "touch " + marker + "; docker swarm join --token " + secret, Secrets: []string{secret}})
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "<redacted>") {
			t.Errorf("err = %v, want a refusal that shows the command redacted", err)
		}
		if _, statErr := os.Stat(marker); statErr == nil {
			t.Error("the script ran")
		}
	})
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t))
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := c.Run(ctx, Cmd{Script: "echo $$ > " + pidFile + "; exec sleep 30"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run returned after %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for deadline := time.Now().Add(2 * time.Second); running(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sleep (pid %d) still runs after the context ended", pid)
		}
	}
	if res, err := c.Run(context.Background(), Cmd{Script: "echo still here"}); err != nil || string(res.Stdout) != "still here\n" {
		t.Errorf("connection after cancel: %q, %v", res.Stdout, err)
	}
}

// running reports whether process pid exists and is not a zombie. A killed
// orphan stays a zombie until init reaps it, which in a container can take a
// while.
func running(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) S ...: the state follows the last ')'.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
	}
	return syscall.Kill(pid, 0) == nil
}

func TestRunConcurrentlyOnOneConn(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			res, err := c.Run(context.Background(), Cmd{Script: fmt.Sprintf("echo %d", i)})
			if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("run %d: stdout %q", i, res.Stdout)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

func TestRunLogsCommandAtDebug(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var logs syncBuffer
	l.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := l.dial(t, l.server(t))
	if _, err := c.Run(context.Background(), Cmd{Script: "echo logged-command", Stdin: []byte("hidden-stdin")}); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "logged-command") || strings.Contains(got, "hidden-stdin") {
		t.Errorf("log = %q, want the command and not its stdin", got)
	}
}

func TestKeepaliveLeavesBusyConnectionAlone(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.opts.Keepalive = 50 * time.Millisecond
	c := l.dial(t, l.server(t))
	if res, err := c.Run(context.Background(), Cmd{Script: "sleep 0.3; echo ok"}); err != nil || string(res.Stdout) != "ok\n" {
		t.Errorf("run with keepalive: %q, %v", res.Stdout, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v, want the first result again", err)
	}
}

func TestRemoteCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  Cmd
		user string
		want string
	}{
		{"plain script as root", Cmd{Script: "docker info"}, "root", `sh -c 'docker info'`},
		{"sudo is skipped for root", Cmd{Script: "docker info", Sudo: true}, "root", `sh -c 'docker info'`},
		{"sudo wraps the shell for other users", Cmd{Script: "docker info", Sudo: true}, "deploy", `sudo -n sh -c 'docker info'`},
		{"no sudo unless asked", Cmd{Script: "id -u"}, "deploy", `sh -c 'id -u'`},
		{"single quotes are escaped", Cmd{Script: `echo 'a b'`}, "root", `sh -c 'echo '\''a b'\'''`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := remoteCommand(tt.cmd, tt.user); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCappedKeepsHeadOrTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tail   bool
		writes []string
		want   string
	}{
		{"head keeps the first bytes", false, []string{"abc", "def", "ghi"}, "abcde"},
		{"tail keeps the last bytes", true, []string{"abc", "def", "ghi"}, "efghi"},
		{"tail with one big write", true, []string{"0123456789abcdef"}, "bcdef"},
		{"short output is kept whole", true, []string{"ab"}, "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &capped{max: 5, tail: tt.tail}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := w.Bytes(); !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"every occurrence", "a tok b tok", []string{"tok"}, "a <redacted> b <redacted>"},
		{"empty secrets are ignored", "abc", []string{""}, "abc"},
		{"a secret containing another leaves nothing behind", "key=abcdef", []string{"abc", "abcdef"}, "key=<redacted>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in, tt.secrets); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
