package remote

import (
	"context"
	"fmt"
	"net"

	"github.com/moby/moby/client"
)

// dockerSocket is where the Docker Engine listens on the host.
const dockerSocket = "/var/run/docker.sock"

// Docker returns a Docker Engine API client that reaches the host's
// /var/run/docker.sock through this SSH connection (OpenSSH
// direct-streamlocal, allowed unless sshd sets AllowStreamLocalForwarding no).
// The SSH user needs access to the socket: root, or a member of the docker
// group.
//
// Docker pings the engine before returning, which also settles the API
// version: the client starts at the newest version it knows and negotiates
// down to the engine's, as far as API 1.40 (Engine 19.03); Engine 20.10
// speaks 1.41. An engine that is not installed or not running is an error
// here.
//
// The client lives no longer than the Conn. Close it when done.
func (c *Conn) Docker(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(
		// A unix host keeps the HTTP proxy settings of the environment out of
		// the way; WithDialContext, applied after it, replaces the dialer.
		client.WithHost("unix://"+dockerSocket),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.client.DialContext(ctx, "unix", dockerSocket)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: docker api client: %w", c.target, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%s: reach docker engine at %s over ssh: %w", c.target, dockerSocket, err)
	}
	c.log.DebugContext(ctx, "docker api", "target", c.target.String(), "version", cli.ClientVersion())
	return cli, nil
}
