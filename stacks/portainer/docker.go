package portainer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/moby/moby/api/types/swarm"
)

// The Docker proxy: /api/endpoints/{id}/docker/<path> passes the request to
// the environment's Docker Engine API and its answer back (re-encoded).
// The recorded contract covers listing and inspecting services (14, 42, 43,
// 45); tasks and service updates go through the same pass-through, as
// Portainer documents its proxy, with the same credentials (an API key).

func dockerFilters(filters map[string][]string) (url.Values, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(filters)
	if err != nil {
		return nil, err
	}
	return url.Values{"filters": {string(b)}}, nil
}

// DockerServices lists the environment's swarm services matching Docker
// filters (e.g. {"label": ["com.docker.stack.namespace=shop-dev"]}).
func (c *Client) DockerServices(ctx context.Context, endpointID int, filters map[string][]string) ([]swarm.Service, error) {
	q, err := dockerFilters(filters)
	if err != nil {
		return nil, err
	}
	var out []swarm.Service
	err = c.do(ctx, call{method: http.MethodGet, path: endpointPath(endpointID) + "/docker/services", query: q}, &out)
	return out, err
}

// DockerService inspects one service by id or name.
func (c *Client) DockerService(ctx context.Context, endpointID int, id string) (swarm.Service, error) {
	var out swarm.Service
	err := c.do(ctx, call{method: http.MethodGet, path: endpointPath(endpointID) + "/docker/services/" + url.PathEscape(id)}, &out)
	return out, err
}

// DockerTasks lists swarm tasks matching Docker filters (e.g. {"service": [id]}).
func (c *Client) DockerTasks(ctx context.Context, endpointID int, filters map[string][]string) ([]swarm.Task, error) {
	q, err := dockerFilters(filters)
	if err != nil {
		return nil, err
	}
	var out []swarm.Task
	err = c.do(ctx, call{method: http.MethodGet, path: endpointPath(endpointID) + "/docker/tasks", query: q}, &out)
	return out, err
}

// DockerServiceUpdate updates a service to spec at version (the version it
// was read at; a concurrent change makes the engine refuse). rollback asks
// for the previous spec instead, as `docker service rollback` does. No
// registry credentials are sent: the engine keeps the ones stored with the
// service for its nodes' pulls.
func (c *Client) DockerServiceUpdate(ctx context.Context, endpointID int, id string, version uint64, spec swarm.ServiceSpec, rollback bool) error {
	q := url.Values{"version": {strconv.FormatUint(version, 10)}}
	if rollback {
		q.Set("rollback", "previous")
	}
	return c.do(ctx, call{method: http.MethodPost, path: endpointPath(endpointID) + "/docker/services/" + url.PathEscape(id) + "/update", query: q, body: spec}, nil)
}
