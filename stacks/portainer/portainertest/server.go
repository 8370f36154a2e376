package portainertest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Version is the Portainer version the emulator answers as.
const Version = "2.23.0"

// AdminInitTimeout is how long a fresh Portainer waits for its administrator
// before it disables itself until restarted.
const AdminInitTimeout = 5 * time.Minute

// Options configure New.
type Options struct {
	// Docker is the Engine API of a swarm manager: every environment
	// (endpoint) created on the emulator is served by it. Required for the
	// Docker proxy, snapshots and webhook triggers.
	Docker Docker
	// Now is the clock (default time.Now). Tests move it to cross the
	// admin-initialisation window.
	Now func() time.Time
	// AdminInitTimeout overrides the 5-minute window (0: AdminInitTimeout).
	AdminInitTimeout time.Duration
	// StateFile, when set, keeps the state across restarts, as Portainer
	// keeps its database on its data volume: read at start, written after
	// every request that may change it.
	StateFile string
}

// Server is a running emulator. It is safe for concurrent use.
type Server struct {
	http    *httptest.Server
	docker  Docker
	now     func() time.Time
	started time.Time
	window  time.Duration
	secret  []byte // signs JWTs
	id      string // InstanceID
	// stateFile keeps the state across restarts (Options.StateFile).
	stateFile string

	mu        sync.Mutex
	disabled  bool
	users     []*user
	endpoints []*endpoint
	webhooks  []*webhook
	apiKeys   []*apiKey
	nextID    map[string]int
}

// New starts an emulator on a loopback port, as a fresh Portainer instance:
// no administrator yet, no environments, no webhooks.
func New(o Options) *Server {
	s := newServer(o)
	s.http = httptest.NewServer(s)
	return s
}

// NewHandler returns a fresh emulator as an http.Handler, to serve on a
// listener of one's own (the lab's Portainer stand-in, cmd/portainer-stand-in).
// The admin-initialisation window starts now. With o.StateFile it starts
// from the state kept there.
func NewHandler(o Options) (http.Handler, error) {
	s := newServer(o)
	if o.StateFile == "" {
		return s, nil
	}
	s.stateFile = o.StateFile
	return s, s.load(o.StateFile)
}

func newServer(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AdminInitTimeout == 0 {
		o.AdminInitTimeout = AdminInitTimeout
	}
	s := &Server{
		docker:  o.Docker,
		now:     o.Now,
		started: o.Now(),
		window:  o.AdminInitTimeout,
		secret:  randomBytes(32),
		id:      uuid4(),
		nextID:  map[string]int{},
	}
	return s
}

// URL is the base URL of the emulator, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.http.URL }

// Close stops the emulator.
func (s *Server) Close() { s.http.Close() }

// seq returns the next id of a kind: sequential from 1, never reused.
func (s *Server) seq(kind string) int {
	s.nextID[kind]++
	return s.nextID[kind]
}

// route is one entry of the routing table: a method and a path pattern whose
// segments are literal or "{name}".
type route struct {
	method, pattern string
	handle          func(w http.ResponseWriter, r *http.Request, p map[string]string)
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/api/system/status", s.handleStatus},
		{"GET", "/api/status", s.handleStatus},
		{"GET", "/api/settings/public", s.handleSettingsPublic},
		{"GET", "/api/users/admin/check", s.handleAdminCheck},
		{"POST", "/api/users/admin/init", s.handleAdminInit},
		{"POST", "/api/auth", s.handleAuth},
		{"POST", "/api/users/{id}/tokens", s.authed(s.handleAPIKeyCreate)},
		{"GET", "/api/users/{id}/tokens", s.authed(s.handleAPIKeyList)},
		{"POST", "/api/endpoints", s.authed(s.handleEndpointCreate)},
		{"GET", "/api/endpoints", s.authed(s.handleEndpointList)},
		{"GET", "/api/endpoints/{id}", s.authed(s.handleEndpointGet)},
		{"*", "/api/endpoints/{id}/docker/{rest...}", s.authed(s.handleDockerProxy)},
		{"POST", "/api/webhooks", s.authed(s.handleWebhookCreate)},
		{"GET", "/api/webhooks", s.authed(s.handleWebhookList)},
		{"DELETE", "/api/webhooks/{id}", s.authed(s.handleWebhookDelete)},
		{"POST", "/api/webhooks/{token}", s.handleWebhookTrigger},
	}
}

// match reports whether path fits pattern and returns its variables.
func match(pattern, path string) (map[string]string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	vars := map[string]string{}
	for i, p := range ps {
		if strings.HasSuffix(p, "...}") {
			if i >= len(xs) {
				return nil, false
			}
			vars[strings.TrimSuffix(strings.TrimPrefix(p, "{"), "...}")] = strings.Join(xs[i:], "/")
			return vars, true
		}
		if i >= len(xs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") {
			if xs[i] == "" {
				return nil, false
			}
			vars[strings.Trim(p, "{}")] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	return vars, len(ps) == len(xs)
}

// ServeHTTP serves Portainer's API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.timedOut() && r.URL.Path != "/api/status" && r.URL.Path != "/api/settings/public" && strings.HasPrefix(r.URL.Path, "/api") {
		// Portainer disables itself: every /api call but two is a 303 with
		// no Location and no nosniff header.
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Redirect-Reason", "AdminInitTimeout")
		w.WriteHeader(http.StatusSeeOther)
		_ = json.NewEncoder(w).Encode(apiError{Message: "Administrator initialization timeout", Details: "Administrator initialization timeout"})
		return
	}
	pathKnown := false
	for _, rt := range s.routes() {
		vars, ok := match(rt.pattern, r.URL.Path)
		if !ok {
			continue
		}
		pathKnown = true
		if rt.method != "*" && rt.method != r.Method {
			continue
		}
		rt.handle(w, r, vars)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := s.save(); err != nil {
				fmt.Fprintf(os.Stderr, "portainer emulator: keep state: %v\n", err)
			}
		}
		return
	}
	if pathKnown {
		// The router's answer: no body, no Content-Type.
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	writeError(w, http.StatusNotFound, "Not found", "Not found")
}

// timedOut reports (and remembers) that no administrator was created within
// the window after start: the instance stays disabled until restarted.
func (s *Server) timedOut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled {
		return true
	}
	if len(s.users) == 0 && s.now().Sub(s.started) > s.window {
		s.disabled = true
	}
	return s.disabled
}

// apiError is the body of every error Portainer itself produces.
type apiError struct {
	Message string `json:"message"`
	Details string `json:"details"`
}

// writeError writes Portainer's error shape. details gets its first letter
// upper-cased, as Portainer does with the underlying error's text.
func writeError(w http.ResponseWriter, status int, message, details string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Message: message, Details: capitalize(details)})
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// successHeaders are on every successful answer of Portainer's own handlers.
func successHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h["X-Csrf-Token"] = []string{""}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	successHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeEmpty(w http.ResponseWriter) {
	successHeaders(w)
	w.WriteHeader(http.StatusNoContent)
}

// decodePayload reads a JSON body into v; the error is Portainer's 400.
func decodePayload(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request payload", err.Error())
		return false
	}
	return true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("portainertest: random: %v", err))
	}
	return b
}

// uuid4 returns a random lowercase hyphenated UUID v4.
func uuid4() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type status struct {
	Version    string `json:"Version"`
	InstanceID string `json:"InstanceID"`
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	writeJSON(w, http.StatusOK, status{Version: Version, InstanceID: s.id})
}

func (s *Server) handleSettingsPublic(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"LogoURL":                   "",
		"AuthenticationMethod":      1,
		"RequiredPasswordLength":    minPasswordLength,
		"GlobalDeploymentOptions":   map[string]any{"hideStacksFunctionality": false},
		"EnableEdgeComputeFeatures": false,
		"Features":                  map[string]any{"hsts": false, "csp": false},
		"OAuthLoginURI":             "",
		"OAuthLogoutURI":            "",
		"EnableTelemetry":           false,
		"KubeconfigExpiry":          "0",
		"TeamSync":                  false,
		"IsAMTEnabled":              false,
		"Edge":                      map[string]any{"PingInterval": 0, "SnapshotInterval": 0, "CommandInterval": 0, "CheckinInterval": 5},
		"IsDockerDesktopExtension":  false,
	})
}
