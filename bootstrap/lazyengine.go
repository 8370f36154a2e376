package bootstrap

import (
	"context"
	"errors"
	"sync"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

// lazyEngine is a node's Docker API opened on its first call (see
// Fleet.EnginesOnDemand). It is safe for concurrent use.
type lazyEngine struct {
	open func(ctx context.Context) (*client.Client, error)

	mu     sync.Mutex
	cli    *client.Client
	closed bool
}

var _ swarm.Engine = (*lazyEngine)(nil)

// get opens the engine once; a failed open is tried again on the next call.
func (l *lazyEngine) get(ctx context.Context) (*client.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cli != nil {
		return l.cli, nil
	}
	if l.closed {
		return nil, errEngineClosed
	}
	c, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	l.cli = c
	return c, nil
}

// Close closes the client if it was opened.
func (l *lazyEngine) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.cli == nil {
		return nil
	}
	return l.cli.Close()
}

// call runs fn with the opened client, or returns the zero R and why the
// engine could not be opened.
func call[R any](ctx context.Context, l *lazyEngine, fn func(c *client.Client) (R, error)) (R, error) {
	c, err := l.get(ctx)
	if err != nil {
		var zero R
		return zero, err
	}
	return fn(c)
}

func (l *lazyEngine) Info(ctx context.Context, o client.InfoOptions) (client.SystemInfoResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SystemInfoResult, error) { return c.Info(ctx, o) })
}

func (l *lazyEngine) SwarmInit(ctx context.Context, o client.SwarmInitOptions) (client.SwarmInitResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmInitResult, error) { return c.SwarmInit(ctx, o) })
}

func (l *lazyEngine) SwarmJoin(ctx context.Context, o client.SwarmJoinOptions) (client.SwarmJoinResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmJoinResult, error) { return c.SwarmJoin(ctx, o) })
}

func (l *lazyEngine) SwarmLeave(ctx context.Context, o client.SwarmLeaveOptions) (client.SwarmLeaveResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmLeaveResult, error) { return c.SwarmLeave(ctx, o) })
}

func (l *lazyEngine) SwarmInspect(ctx context.Context, o client.SwarmInspectOptions) (client.SwarmInspectResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmInspectResult, error) { return c.SwarmInspect(ctx, o) })
}

func (l *lazyEngine) SwarmUpdate(ctx context.Context, o client.SwarmUpdateOptions) (client.SwarmUpdateResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmUpdateResult, error) { return c.SwarmUpdate(ctx, o) })
}

func (l *lazyEngine) SwarmGetUnlockKey(ctx context.Context) (client.SwarmGetUnlockKeyResult, error) {
	return call(ctx, l, func(c *client.Client) (client.SwarmGetUnlockKeyResult, error) { return c.SwarmGetUnlockKey(ctx) })
}

func (l *lazyEngine) NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error) {
	return call(ctx, l, func(c *client.Client) (client.NodeListResult, error) { return c.NodeList(ctx, o) })
}

func (l *lazyEngine) NodeInspect(ctx context.Context, id string, o client.NodeInspectOptions) (client.NodeInspectResult, error) {
	return call(ctx, l, func(c *client.Client) (client.NodeInspectResult, error) { return c.NodeInspect(ctx, id, o) })
}

func (l *lazyEngine) NodeUpdate(ctx context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error) {
	return call(ctx, l, func(c *client.Client) (client.NodeUpdateResult, error) { return c.NodeUpdate(ctx, id, o) })
}

func (l *lazyEngine) NodeRemove(ctx context.Context, id string, o client.NodeRemoveOptions) (client.NodeRemoveResult, error) {
	return call(ctx, l, func(c *client.Client) (client.NodeRemoveResult, error) { return c.NodeRemove(ctx, id, o) })
}

var errEngineClosed = errors.New("docker api: the connection was closed")
