package swarm

import (
	"context"

	"github.com/moby/moby/client"
)

// Engine is the part of a node's Docker API that swarm formation uses.
// *client.Client satisfies it; the caller reaches it over SSH.
type Engine interface {
	Info(ctx context.Context, o client.InfoOptions) (client.SystemInfoResult, error)
	SwarmInit(ctx context.Context, o client.SwarmInitOptions) (client.SwarmInitResult, error)
	SwarmJoin(ctx context.Context, o client.SwarmJoinOptions) (client.SwarmJoinResult, error)
	SwarmLeave(ctx context.Context, o client.SwarmLeaveOptions) (client.SwarmLeaveResult, error)
	SwarmInspect(ctx context.Context, o client.SwarmInspectOptions) (client.SwarmInspectResult, error)
	SwarmUpdate(ctx context.Context, o client.SwarmUpdateOptions) (client.SwarmUpdateResult, error)
	SwarmGetUnlockKey(ctx context.Context) (client.SwarmGetUnlockKeyResult, error)
	NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error)
	NodeInspect(ctx context.Context, id string, o client.NodeInspectOptions) (client.NodeInspectResult, error)
	NodeUpdate(ctx context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error)
	NodeRemove(ctx context.Context, id string, o client.NodeRemoveOptions) (client.NodeRemoveResult, error)
}

var _ Engine = (*client.Client)(nil)
