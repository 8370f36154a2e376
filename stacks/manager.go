package stacks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Manager is an open connection to one swarm manager's Docker API, the
// engine stacks are deployed through.
type Manager struct {
	Node   string // inventory name
	Conn   *remote.Conn
	Docker *client.Client
}

// Close closes the Docker client and the SSH connection.
func (m *Manager) Close() {
	if m.Docker != nil {
		_ = m.Docker.Close()
	}
	if m.Conn != nil {
		_ = m.Conn.Close()
	}
}

// NoManagerError says why no manager could be used.
type NoManagerError struct {
	Cluster string
	Reasons []string // "m1: ..." per manager tried
}

func (e *NoManagerError) Error() string {
	return fmt.Sprintf("no manager of cluster %s answered as an active swarm manager with a leader and a majority of managers reachable:\n%s", e.Cluster, strings.Join(e.Reasons, "\n"))
}

// askTimeout bounds a manager's answer to the node list: a manager cut off
// from the leader may not answer before then.
const askTimeout = 15 * time.Second

// ConnectManager reaches the first manager of the inventory, in inventory
// order, that answers over SSH, is an active swarm manager, and sees a
// leader and a reachable majority of managers (swarm.Judge: the rule status
// and bootstrap use). A manager on the minority side of a partition is
// passed over, so a deploy goes through the side that can commit it. A
// changed host key stops it at once (*remote.HostKeyChangedError).
func ConnectManager(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions) (*Manager, error) {
	nm := &NoManagerError{Cluster: inv.Cluster.Name}
	for _, n := range inv.Managers() {
		conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
		if err != nil {
			var hk *remote.HostKeyChangedError
			if errors.As(err, &hk) {
				return nil, err
			}
			nm.Reasons = append(nm.Reasons, fmt.Sprintf("%s: %v", n.Name, err))
			continue
		}
		docker, err := conn.Docker(ctx)
		if err != nil {
			_ = conn.Close()
			nm.Reasons = append(nm.Reasons, fmt.Sprintf("%s: %v", n.Name, err))
			continue
		}
		info, err := docker.Info(ctx, client.InfoOptions{})
		if err != nil || !info.Info.Swarm.ControlAvailable {
			_ = docker.Close()
			_ = conn.Close()
			nm.Reasons = append(nm.Reasons, fmt.Sprintf("%s: not an active swarm manager", n.Name))
			continue
		}
		actx, cancel := context.WithTimeout(ctx, askTimeout)
		list, err := docker.NodeList(actx, client.NodeListOptions{})
		cancel()
		var ans swarm.Answer
		if err != nil {
			ans = swarm.Judge(n.Name, nil, fmt.Errorf("node list: %w", err))
		} else {
			ans = swarm.Judge(n.Name, swarm.Members(list.Items), nil)
		}
		if !ans.Quorum {
			_ = docker.Close()
			_ = conn.Close()
			nm.Reasons = append(nm.Reasons, ans.String())
			continue
		}
		return &Manager{Node: n.Name, Conn: conn, Docker: docker}, nil
	}
	return nil, nm
}
