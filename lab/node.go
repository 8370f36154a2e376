package lab

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/moby/moby/client"
)

// KillNode cuts the power of node: the container gets SIGKILL, as a VPS
// whose host died, and KillNode returns once it has stopped. Its iptables
// rules (see Partition) go with it.
func KillNode(ctx context.Context, docker Docker, l *Lab, node string) error {
	n, ok := l.Node(node)
	if !ok {
		return fmt.Errorf("lab %s: kill %s: %w", l.Name, node, errNoNode)
	}
	if _, err := docker.ContainerKill(ctx, n.Container, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("lab %s: kill node %s (container %s): %w", l.Name, node, n.Container, err)
	}
	w := l.Wait.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	for {
		ins, err := docker.ContainerInspect(ctx, n.Container, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("lab %s: kill node %s: inspect %s: %w", l.Name, node, n.Container, err)
		}
		if ins.Container.State != nil && !ins.Container.State.Running {
			return nil
		}
		if err := sleep(ctx, w.Poll); err != nil {
			return fmt.Errorf("lab %s: kill node %s: container %s still running: %w", l.Name, node, n.Container, err)
		}
	}
}

// StartNode powers node on again and waits until it answers as Up does. The
// node's entry in l gets its new address (Docker may hand out another one) and
// host key, and is returned.
func StartNode(ctx context.Context, docker Docker, l *Lab, node string, progress io.Writer) (Node, error) {
	i := slices.IndexFunc(l.Nodes, func(n Node) bool { return n.Name == node })
	if i < 0 {
		return Node{}, fmt.Errorf("lab %s: start %s: %w", l.Name, node, errNoNode)
	}
	n := l.Nodes[i]
	if _, err := docker.ContainerStart(ctx, n.Container, client.ContainerStartOptions{}); err != nil {
		return n, fmt.Errorf("lab %s: start node %s (container %s): %w", l.Name, node, n.Container, err)
	}
	rep := newReporter(progress)
	rep.printf("%s container %s started", n.tag(), n.Container)
	n, err := waitReady(ctx, docker, rep, l.Wait, l.Variant, l.Network, n)
	if err != nil {
		return n, fmt.Errorf("lab %s: %w", l.Name, err)
	}
	l.Nodes[i] = n
	return n, nil
}
