package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/moby/moby/client"
)

// DockerSudo returns a Docker Engine API client for a login user who may not
// open the engine's socket but may use sudo without a password: each API
// connection is an SSH session running `sudo -n DOCKER system dial-stdio`,
// the same helper Docker's own ssh:// connections use. Nothing on the host
// changes (the user is not added to the docker group). cli is the docker
// client's absolute path on the host (for example /usr/bin/docker: sudo's
// secure_path may not hold /usr/local/bin).
func (c *Conn) DockerSudo(ctx context.Context, cli string) (*client.Client, error) {
	if cli == "" {
		return nil, fmt.Errorf("%s: docker api through sudo: no docker client found on the host", c.target)
	}
	line := "sudo -n " + Quote(cli) + " system dial-stdio"
	if c.target.user() == "root" {
		line = Quote(cli) + " system dial-stdio"
	}
	cl, err := client.New(
		client.WithHost("unix://"+dockerSocket),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.stdioConn(line)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: docker api client: %w", c.target, err)
	}
	if _, err := cl.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("%s: reach docker engine through `%s` over ssh: %w", c.target, line, err)
	}
	c.log.DebugContext(ctx, "docker api through sudo", "target", c.target.String(), "version", cl.ClientVersion())
	return cl, nil
}

// stdioConn starts line in a new SSH session and returns its stdin and
// stdout as one net.Conn.
func (c *Conn) stdioConn(line string) (net.Conn, error) {
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("%s: open ssh session: %w", c.target, err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	if err := sess.Start(line); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("%s: start %q: %w", c.target, line, err)
	}
	return &stdioConn{r: out, w: in, close: sess.Close, addr: c.target.Addr()}, nil
}

// stdioConn is a net.Conn over a command's stdin and stdout. Deadlines are
// not supported: the HTTP client bounds requests with their contexts.
type stdioConn struct {
	r     io.Reader
	w     io.WriteCloser
	close func() error
	addr  string
}

func (s *stdioConn) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *stdioConn) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *stdioConn) Close() error {
	_ = s.w.Close()
	return s.close()
}
func (s *stdioConn) LocalAddr() net.Addr              { return stdioAddr("local") }
func (s *stdioConn) RemoteAddr() net.Addr             { return stdioAddr(s.addr) }
func (s *stdioConn) SetDeadline(time.Time) error      { return nil }
func (s *stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (s *stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr string

func (a stdioAddr) Network() string { return "ssh-stdio" }
func (a stdioAddr) String() string  { return string(a) }
