package portainer

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
)

// Environment (endpoint) types as Portainer numbers them.
const (
	EndpointDocker = 1 // Docker API (local socket or TCP)
	EndpointAgent  = 2 // Portainer agent
)

// Endpoint is a Portainer environment.
type Endpoint struct {
	ID     int    `json:"Id"`
	Name   string `json:"Name"`
	Type   int    `json:"Type"`
	URL    string `json:"URL"`
	Status int    `json:"Status"` // 1 up, 2 down
}

// EndpointSpec says which environment to create: through the agent at
// AgentURL (e.g. tcp://tasks.agent:9001), or, if that is empty, through the
// Docker socket Portainer has mounted.
type EndpointSpec struct {
	Name     string
	AgentURL string
}

// Endpoints lists environments without their engine snapshots; a non-empty
// name selects that exact name.
func (c *Client) Endpoints(ctx context.Context, name string) ([]Endpoint, error) {
	q := url.Values{"excludeSnapshots": {"true"}}
	if name != "" {
		q.Set("name", name)
	}
	var out []Endpoint
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/endpoints", query: q}, &out)
	return out, err
}

// CreateEndpoint creates an environment (multipart form, as Portainer wants).
func (c *Client) CreateEndpoint(ctx context.Context, spec EndpointSpec) (Endpoint, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields := [][2]string{{"Name", spec.Name}, {"EndpointCreationType", "1"}, {"URL", "unix:///var/run/docker.sock"}}
	if spec.AgentURL != "" {
		fields = [][2]string{{"Name", spec.Name}, {"EndpointCreationType", "2"}, {"URL", spec.AgentURL}, {"TLS", "true"}, {"TLSSkipVerify", "true"}, {"TLSSkipClientVerify", "true"}}
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return Endpoint{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return Endpoint{}, err
	}
	var e Endpoint
	err := c.do(ctx, call{method: http.MethodPost, path: "/api/endpoints", raw: &buf, contentType: mw.FormDataContentType()}, &e)
	return e, err
}

// EnsureEndpoint returns the environment named spec.Name, creating it if it
// does not exist; created says whether this call did.
func (c *Client) EnsureEndpoint(ctx context.Context, spec EndpointSpec) (e Endpoint, created bool, err error) {
	if spec.Name == "" {
		return Endpoint{}, false, fmt.Errorf("portainer endpoint: no name")
	}
	list, err := c.Endpoints(ctx, spec.Name)
	if err != nil {
		return Endpoint{}, false, err
	}
	for _, e := range list {
		if e.Name == spec.Name {
			return e, false, nil
		}
	}
	e, err = c.CreateEndpoint(ctx, spec)
	return e, err == nil, err
}

func endpointPath(id int) string { return "/api/endpoints/" + strconv.Itoa(id) }
