package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Docker is the part of the Docker Engine API the lab uses.
// *client.Client from github.com/moby/moby/client satisfies it.
type Docker interface {
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, containerID string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerKill(ctx context.Context, containerID string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	CopyToContainer(ctx context.Context, containerID string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)

	ExecCreate(ctx context.Context, containerID string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)

	ImageImport(ctx context.Context, source client.ImageImportSource, ref string, options client.ImageImportOptions) (client.ImageImportResult, error)
	ImageList(ctx context.Context, options client.ImageListOptions) (client.ImageListResult, error)

	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkInspect(ctx context.Context, networkID string, options client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkDisconnect(ctx context.Context, networkID string, options client.NetworkDisconnectOptions) (client.NetworkDisconnectResult, error)
	NetworkRemove(ctx context.Context, networkID string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
}

var _ Docker = (*client.Client)(nil)

// ExecError is a command run inside a node container that exited non-zero.
type ExecError struct {
	Container string
	Cmd       []string
	Exit      int
	Stderr    string // last lines
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("exec in %s: %q exited %d", e.Container, strings.Join(e.Cmd, " "), e.Exit)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// execIn runs cmd in a running container and returns its stdout. A non-zero
// exit is an *ExecError carrying the tail of stderr.
func execIn(ctx context.Context, docker Docker, container string, cmd ...string) (string, error) {
	created, err := docker.ExecCreate(ctx, container, client.ExecCreateOptions{
		AttachStdout: true,
		AttachStderr: true,
		Cmd:          cmd,
	})
	if err != nil {
		return "", fmt.Errorf("exec in %s: create %q: %w", container, strings.Join(cmd, " "), err)
	}
	att, err := docker.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", fmt.Errorf("exec in %s: start %q: %w", container, strings.Join(cmd, " "), err)
	}
	defer att.Close()
	// The hijacked connection does not watch ctx: close it when ctx ends.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("exec in %s: %q: %w", container, strings.Join(cmd, " "), ctx.Err())
		}
		return "", fmt.Errorf("exec in %s: read output of %q: %w", container, strings.Join(cmd, " "), err)
	}
	ins, err := docker.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("exec in %s: inspect %q: %w", container, strings.Join(cmd, " "), err)
	}
	if ins.ExitCode != 0 {
		return stdout.String(), &ExecError{Container: container, Cmd: cmd, Exit: ins.ExitCode, Stderr: lastLines(stderr.String(), 5)}
	}
	return stdout.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lineWriter writes whole lines to w, each with a prefix, and is safe for
// concurrent use by several lineWriters sharing one mutex.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
	skip   func(line string) bool // lines to leave out; nil keeps all
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		lw.emit(string(lw.buf[:i]))
		lw.buf = lw.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a final line without a newline, if any.
func (lw *lineWriter) Flush() {
	if len(lw.buf) > 0 {
		lw.emit(string(lw.buf))
		lw.buf = nil
	}
}

func (lw *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if lw.skip != nil && lw.skip(line) {
		return
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	fmt.Fprintf(lw.w, "%s%s\n", lw.prefix, line)
}

// reporter prints progress lines; safe for concurrent use.
type reporter struct {
	mu sync.Mutex
	w  io.Writer
}

func newReporter(w io.Writer) *reporter {
	if w == nil {
		w = io.Discard
	}
	return &reporter{w: w}
}

func (r *reporter) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", args...)
}

// lines returns a writer that prints each line with prefix.
func (r *reporter) lines(prefix string) *lineWriter {
	return &lineWriter{mu: &r.mu, w: r.w, prefix: prefix}
}
