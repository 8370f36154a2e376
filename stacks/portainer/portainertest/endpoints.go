package portainertest

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Environment (endpoint) types and creation types as Portainer numbers them.
const (
	endpointTypeDocker = 1
	endpointTypeAgent  = 2

	creationLocalDocker = 1
	creationAgent       = 2
)

type endpoint struct {
	ID        int            `json:"Id"`
	Name      string         `json:"Name"`
	Type      int            `json:"Type"`
	Engine    string         `json:"ContainerEngine"`
	URL       string         `json:"URL"`
	GroupID   int            `json:"GroupId"`
	PublicURL string         `json:"PublicURL"`
	Gpus      []any          `json:"Gpus"`
	TLSConfig map[string]any `json:"TLSConfig"`
	Azure     map[string]any `json:"AzureCredentials"`
	TagIDs    []int          `json:"TagIds"`
	Status    int            `json:"Status"`
	Snapshots []*snapshot    `json:"Snapshots"`
	UserAP    map[string]any `json:"UserAccessPolicies"`
	TeamAP    map[string]any `json:"TeamAccessPolicies"`
	EdgeKey   string         `json:"EdgeKey"`
	EdgeCheck int            `json:"EdgeCheckinInterval"`
	K8s       map[string]any `json:"Kubernetes"`
	Compose   string         `json:"ComposeSyntaxMaxVersion"`
	Security  map[string]any `json:"SecuritySettings"`
	LastCheck int64          `json:"LastCheckInDate"`
	QueryDate int64          `json:"QueryDate"`
	Heartbeat bool           `json:"Heartbeat"`
	PostInit  map[string]any `json:"PostInitMigrations"`
	Edge      map[string]any `json:"Edge"`
	Agent     map[string]any `json:"Agent"`
	AuthUsers []int          `json:"AuthorizedUsers"`
	AuthTeams []int          `json:"AuthorizedTeams"`
	Tags      []string       `json:"Tags"`

	snapshotted chan struct{} // closed once the first snapshot was attempted
}

func newEndpoint(id int, name string, typ int, url, agentVersion string) *endpoint {
	return &endpoint{
		ID: id, Name: name, Type: typ, URL: url, GroupID: 1,
		Gpus:      []any{},
		TLSConfig: map[string]any{"TLS": false, "TLSSkipVerify": false},
		Azure:     map[string]any{"ApplicationID": "", "TenantID": "", "AuthenticationKey": ""},
		TagIDs:    []int{},
		Status:    1,
		Snapshots: []*snapshot{},
		UserAP:    map[string]any{},
		TeamAP:    map[string]any{},
		K8s: map[string]any{
			"Snapshots": []any{},
			"Configuration": map[string]any{
				"UseLoadBalancer": false, "UseServerMetrics": false, "EnableResourceOverCommit": true,
				"ResourceOverCommitPercentage": 0, "StorageClasses": []any{}, "IngressClasses": []any{},
				"RestrictDefaultNamespace": false, "IngressAvailabilityPerNamespace": false, "AllowNoneIngressClass": false,
			},
			"Flags": map[string]any{"IsServerMetricsDetected": false, "IsServerIngressClassDetected": false, "IsServerStorageDetected": false},
		},
		Security: map[string]any{
			"allowBindMountsForRegularUsers": true, "allowPrivilegedModeForRegularUsers": true,
			"allowVolumeBrowserForRegularUsers": false, "allowHostNamespaceForRegularUsers": true,
			"allowDeviceMappingForRegularUsers": true, "allowStackManagementForRegularUsers": true,
			"allowContainerCapabilitiesForRegularUsers": true, "allowSysctlSettingForRegularUsers": true,
			"enableHostManagementFeatures": false,
		},
		PostInit: map[string]any{"MigrateIngresses": false, "MigrateGPUs": false},
		Edge:     map[string]any{"AsyncMode": false, "PingInterval": 0, "SnapshotInterval": 0, "CommandInterval": 0},
		Agent:    map[string]any{"Version": agentVersion},
	}
}

// copyOf returns a shallow copy safe to encode outside the lock.
func (e *endpoint) copyOf(withSnapshots bool) endpoint {
	c := *e
	c.Snapshots = []*snapshot{}
	if withSnapshots {
		c.Snapshots = append(c.Snapshots, e.Snapshots...)
	}
	return c
}

// handleEndpointCreate creates an environment from a multipart form (Name,
// EndpointCreationType, URL). Local Docker and agent environments are
// served by the emulator's Docker engine.
func (s *Server) handleEndpointCreate(w http.ResponseWriter, r *http.Request, _ map[string]string, _ *user, _ authKind) {
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "Invalid request payload", err.Error())
			return
		}
	}
	name := r.FormValue("Name")
	if name == "" {
		writeError(w, http.StatusBadRequest, "Invalid request payload", "invalid environment name")
		return
	}
	ct, err := strconv.Atoi(r.FormValue("EndpointCreationType"))
	if err != nil || ct < 1 || ct > 5 {
		writeError(w, http.StatusBadRequest, "Invalid request payload", "invalid environment type value. Value must be one of: 1 (Docker environment), 2 (Agent environment), 3 (Azure environment), 4 (Edge Agent environment) or 5 (Local Kubernetes environment)")
		return
	}
	url := r.FormValue("URL")
	var typ int
	agentVersion := ""
	switch ct {
	case creationLocalDocker:
		typ = endpointTypeDocker
		if url == "" {
			url = "unix:///var/run/docker.sock"
		}
	case creationAgent:
		typ = endpointTypeAgent
		if url == "" {
			writeError(w, http.StatusBadRequest, "Invalid request payload", "invalid environment URL")
			return
		}
		agentVersion = Version
	default:
		writeError(w, http.StatusNotImplemented, "Environment type not supported by the emulator", "only Docker and agent environments are emulated")
		return
	}
	s.mu.Lock()
	for _, e := range s.endpoints {
		if e.Name == name {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "Name is not unique", "Name is not unique")
			return
		}
	}
	e := newEndpoint(s.seq("endpoint"), name, typ, url, agentVersion)
	e.snapshotted = make(chan struct{})
	defer close(e.snapshotted)
	s.endpoints = append(s.endpoints, e)
	out := e.copyOf(false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}

	// Portainer snapshots a new environment right away; later reads show the
	// values its first check-in sets.
	var snap *snapshot
	if s.docker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		snap, _ = takeSnapshot(ctx, engineHTTP(s.docker), s.now())
		cancel()
	}
	s.mu.Lock()
	e.EdgeCheck = 5
	e.Compose = "3.9"
	if snap != nil {
		e.Snapshots = []*snapshot{snap}
	}
	s.mu.Unlock()
}

func (s *Server) handleEndpointList(w http.ResponseWriter, r *http.Request, _ map[string]string, _ *user, _ authKind) {
	q := r.URL.Query()
	name := q.Get("name")
	withSnapshots := q.Get("excludeSnapshots") != "true"
	if withSnapshots {
		// Wait for first snapshots still being taken, so a list right
		// after a create shows what Portainer shows.
		s.mu.Lock()
		var pending []chan struct{}
		for _, e := range s.endpoints {
			pending = append(pending, e.snapshotted)
		}
		s.mu.Unlock()
		for _, ch := range pending {
			select {
			case <-ch:
			case <-r.Context().Done():
			}
		}
	}
	s.mu.Lock()
	out := []endpoint{}
	for _, e := range s.endpoints {
		if name != "" && e.Name != name {
			continue
		}
		out = append(out, e.copyOf(withSnapshots))
	}
	total := len(s.endpoints)
	s.mu.Unlock()
	w.Header().Set("X-Total-Count", strconv.Itoa(len(out)))
	w.Header().Set("X-Total-Available", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleEndpointGet(w http.ResponseWriter, _ *http.Request, p map[string]string, _ *user, _ authKind) {
	e, ok := s.lookupEndpoint(w, p["id"])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// lookupEndpoint finds an environment by its id route variable, or writes
// Portainer's 400/404.
func (s *Server) lookupEndpoint(w http.ResponseWriter, raw string) (endpoint, bool) {
	id, err := strconv.Atoi(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid environment identifier route variable", err.Error())
		return endpoint{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.endpoints {
		if e.ID == id {
			return e.copyOf(true), true
		}
	}
	writeError(w, http.StatusNotFound, "Unable to find an environment with the specified identifier inside the database",
		"Object not found inside the database (bucket=endpoints, key="+raw+")")
	return endpoint{}, false
}
