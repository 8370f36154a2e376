package portainertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// Docker is the part of the Docker Engine API the emulator uses: a raw
// connection for the /docker/ proxy and the environment snapshot (Portainer
// passes requests through to the engine), and the typed calls of a webhook
// trigger. *client.Client from github.com/moby/moby/client satisfies it,
// whether it talks to a local socket or to a node over SSH (remote.Conn.Docker).
type Docker interface {
	// Dialer opens a raw connection to the engine's HTTP API.
	Dialer() func(context.Context) (net.Conn, error)
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
}

var _ Docker = (*client.Client)(nil)

// engineHTTP is an HTTP client whose every request goes to the engine.
func engineHTTP(d Docker) *http.Client {
	dial := d.Dialer()
	return &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}}
}

// engineGet reads one JSON document from the engine into v.
func engineGet(ctx context.Context, hc *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("engine GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, v)
}

// hopHeaders are not copied from the engine's answer.
var hopHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Transfer-Encoding": true, "Date": true, "Keep-Alive": true,
}

// handleDockerProxy passes /api/endpoints/{id}/docker/<rest> to the engine
// of that environment as /<rest>. Like Portainer it re-encodes a JSON answer,
// so object keys come back in alphabetical order.
func (s *Server) handleDockerProxy(w http.ResponseWriter, r *http.Request, p map[string]string, _ *user, _ authKind) {
	if _, ok := s.lookupEndpoint(w, p["id"]); !ok {
		return
	}
	if s.docker == nil {
		writeError(w, http.StatusInternalServerError, "Unable to proxy the request via the Docker socket", "no Docker engine configured")
		return
	}
	target := "http://docker/" + p["rest"]
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request", err.Error())
		return
	}
	for k, v := range r.Header {
		if k == "Authorization" || k == "X-Api-Key" || k == "Cookie" {
			continue // Portainer's credentials stay with Portainer
		}
		req.Header[k] = v
	}
	resp, err := engineHTTP(s.docker).Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "Unable to proxy the request via the Docker socket", err.Error())
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		writeError(w, http.StatusBadGateway, "Unable to proxy the request via the Docker socket", err.Error())
		return
	}
	for k, v := range resp.Header {
		if !hopHeaders[k] {
			w.Header()[k] = v
		}
	}
	successHeaders(w)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			if b, err := json.Marshal(v); err == nil {
				body = append(b, '\n')
			}
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
