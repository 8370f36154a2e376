package remote

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Conn is an SSH connection to one Target. It runs commands (it is the
// production Runner), writes files and opens the host's Docker API. It is
// safe for concurrent use: each Run opens its own SSH session.
type Conn struct {
	client *ssh.Client
	target Target
	log    *slog.Logger

	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed by Close; stops keepalive
}

var _ Runner = (*Conn)(nil)

// keepaliveCountMax is how many keepalive intervals a reply may take.
const keepaliveCountMax = 3

func newConn(client *ssh.Client, t Target, o DialOptions) *Conn {
	c := &Conn{client: client, target: t, log: o.Logger, done: make(chan struct{})}
	if o.Keepalive > 0 {
		go c.keepalive(o.Keepalive)
	}
	return c
}

// Target is the host this connection reaches.
func (c *Conn) Target() Target { return c.target }

// Close closes the connection and every session and Docker client using it.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.client.Close()
	})
	return c.closeErr
}

// keepalive asks the host for a reply every interval and closes the
// connection when none comes within keepaliveCountMax intervals (OpenSSH's
// ServerAliveCountMax), so that commands on a dead connection fail instead of
// hanging, while a busy host or a loaded machine does not lose its session.
func (c *Conn) keepalive(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timeout := time.NewTimer(keepaliveCountMax * interval)
		select {
		case <-c.done:
			timeout.Stop()
			return
		case err := <-reply:
			timeout.Stop()
			if err != nil {
				c.log.Debug("ssh keepalive failed, closing", "target", c.target.String(), "err", err)
				_ = c.Close()
				return
			}
		case <-timeout.C:
			c.log.Debug("ssh keepalive unanswered, closing", "target", c.target.String(), "after", keepaliveCountMax*interval)
			_ = c.Close()
			return
		}
	}
}
