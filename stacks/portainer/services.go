package portainer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
)

// StackNamespaceLabel is the label `docker stack deploy` puts on every
// service of a stack.
const StackNamespaceLabel = "com.docker.stack.namespace"

// Service is the part of a swarm service shoal needs, read through
// Portainer's Docker proxy.
type Service struct {
	ID          string
	Name        string
	Stack       string // value of StackNamespaceLabel
	Image       string
	Version     uint64 // Version.Index: grows with every update
	ForceUpdate uint64
}

// dockerService is the engine's JSON of a service, as far as Service needs it.
type dockerService struct {
	ID      string `json:"ID"`
	Version struct {
		Index uint64 `json:"Index"`
	} `json:"Version"`
	Spec struct {
		Name         string            `json:"Name"`
		Labels       map[string]string `json:"Labels"`
		TaskTemplate struct {
			ContainerSpec *struct {
				Image string `json:"Image"`
			} `json:"ContainerSpec"`
			ForceUpdate uint64 `json:"ForceUpdate"`
		} `json:"TaskTemplate"`
	} `json:"Spec"`
}

func (d dockerService) service() Service {
	s := Service{ID: d.ID, Name: d.Spec.Name, Stack: d.Spec.Labels[StackNamespaceLabel],
		Version: d.Version.Index, ForceUpdate: d.Spec.TaskTemplate.ForceUpdate}
	if d.Spec.TaskTemplate.ContainerSpec != nil {
		s.Image = d.Spec.TaskTemplate.ContainerSpec.Image
	}
	return s
}

// listServices lists the environment's services matching Docker filters
// (nil: all), sorted by name.
func (c *Client) listServices(ctx context.Context, endpointID int, filters map[string][]string) ([]Service, error) {
	var q url.Values
	if len(filters) > 0 {
		b, err := json.Marshal(filters)
		if err != nil {
			return nil, err
		}
		q = url.Values{"filters": {string(b)}}
	}
	var raw []dockerService
	if err := c.do(ctx, call{method: http.MethodGet, path: endpointPath(endpointID) + "/docker/services", query: q}, &raw); err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(raw))
	for _, d := range raw {
		out = append(out, d.service())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Services returns the services of stack (by StackNamespaceLabel) on the
// environment, sorted by name. An empty stack returns every service.
func (c *Client) Services(ctx context.Context, endpointID int, stack string) ([]Service, error) {
	if stack == "" {
		return c.listServices(ctx, endpointID, nil)
	}
	return c.listServices(ctx, endpointID, map[string][]string{"label": {StackNamespaceLabel + "=" + stack}})
}

// ServiceByName returns the service called exactly name. Docker's name
// filter matches by prefix ("web" also finds "web-admin"), so the exact
// Spec.Name is picked here; ok is false when there is none.
func (c *Client) ServiceByName(ctx context.Context, endpointID int, name string) (s Service, ok bool, err error) {
	list, err := c.listServices(ctx, endpointID, map[string][]string{"name": {name}})
	if err != nil {
		return Service{}, false, err
	}
	for _, s := range list {
		if s.Name == name {
			return s, true, nil
		}
	}
	return Service{}, false, nil
}
