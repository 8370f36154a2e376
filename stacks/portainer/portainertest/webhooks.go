package portainertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// webhookTypeService is Portainer's WebhookType for a swarm service.
const webhookTypeService = 1

// webhook is how Portainer answers with a webhook: note ResourceId,
// EndpointId and Type, where the request says ResourceID, EndpointID and
// WebhookType.
type webhook struct {
	ID         int    `json:"Id"`
	Token      string `json:"Token"`
	ResourceID string `json:"ResourceId"`
	EndpointID int    `json:"EndpointId"`
	RegistryID int    `json:"RegistryId"`
	Type       int    `json:"Type"`
}

type webhookCreate struct {
	ResourceID  string `json:"ResourceID"`
	EndpointID  int    `json:"EndpointID"`
	RegistryID  int    `json:"RegistryID"`
	WebhookType int    `json:"WebhookType"`
}

func (p webhookCreate) validate() string {
	switch {
	case p.ResourceID == "":
		return "Invalid ResourceID"
	case p.EndpointID == 0:
		return "Invalid EndpointID"
	case p.WebhookType != webhookTypeService:
		return "Invalid WebhookType"
	}
	return ""
}

func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request, _ map[string]string, _ *user, _ authKind) {
	var p webhookCreate
	if !decodePayload(w, r, &p) {
		return
	}
	if msg := p.validate(); msg != "" {
		writeError(w, http.StatusBadRequest, "Invalid request payload", msg)
		return
	}
	s.mu.Lock()
	for _, h := range s.webhooks {
		if h.ResourceID == p.ResourceID {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "A webhook for this resource already exists", "A webhook for this resource already exists")
			return
		}
	}
	s.mu.Unlock()
	if _, ok := s.lookupEndpoint(w, strconv.Itoa(p.EndpointID)); !ok {
		return
	}
	s.mu.Lock()
	h := &webhook{ID: s.seq("webhook"), Token: uuid4(), ResourceID: p.ResourceID, EndpointID: p.EndpointID, RegistryID: p.RegistryID, Type: p.WebhookType}
	s.webhooks = append(s.webhooks, h)
	out := *h
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request, _ map[string]string, _ *user, _ authKind) {
	var f struct {
		ResourceID string `json:"ResourceID"`
		EndpointID int    `json:"EndpointID"`
	}
	raw := r.URL.Query().Get("filters")
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			writeError(w, http.StatusBadRequest, "Invalid query parameter: filters", err.Error())
			return
		}
	}
	s.mu.Lock()
	out := []webhook{}
	for _, h := range s.webhooks {
		// With a filter, both fields must match.
		if raw != "" && (h.ResourceID != f.ResourceID || h.EndpointID != f.EndpointID) {
			continue
		}
		out = append(out, *h)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, _ *http.Request, p map[string]string, _ *user, _ authKind) {
	id, err := strconv.Atoi(p["id"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid webhook id", err.Error())
		return
	}
	s.mu.Lock()
	for i, h := range s.webhooks {
		if h.ID == id {
			s.webhooks = append(s.webhooks[:i], s.webhooks[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	writeEmpty(w) // also for an id that does not exist
}

// handleWebhookTrigger is the public POST /api/webhooks/<token>: it
// force-updates the service through the engine, as Portainer does: read the
// service with defaults inserted, ForceUpdate+1, strip a digest from the
// image, with ?tag= replace the tag after pulling the new image, and update
// (resolving the image's digest on its registry when it can).
func (s *Server) handleWebhookTrigger(w http.ResponseWriter, r *http.Request, p map[string]string) {
	s.mu.Lock()
	var h *webhook
	for _, x := range s.webhooks {
		if x.Token == p["token"] {
			c := *x
			h = &c
		}
	}
	s.mu.Unlock()
	if h == nil {
		writeError(w, http.StatusNotFound, "Unable to find a webhook with this token", "Object not found inside the database")
		return
	}
	if _, ok := s.lookupEndpoint(w, strconv.Itoa(h.EndpointID)); !ok {
		return
	}
	if s.docker == nil {
		writeError(w, http.StatusInternalServerError, "Error creating docker client", "no Docker engine configured")
		return
	}
	ctx := r.Context()
	tag := r.URL.Query().Get("tag")
	res, err := s.docker.ServiceInspect(ctx, h.ResourceID, client.ServiceInspectOptions{InsertDefaults: true})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Error looking up service", err.Error())
		return
	}
	svc := res.Service
	spec := svc.Spec
	if spec.TaskTemplate.ContainerSpec == nil {
		writeError(w, http.StatusInternalServerError, "Error looking up service", "service has no container spec")
		return
	}
	spec.TaskTemplate.ForceUpdate++
	image := strings.Split(spec.TaskTemplate.ContainerSpec.Image, "@sha")[0]
	if tag != "" {
		i := strings.LastIndex(image, ":")
		if i == -1 {
			i = len(image)
		}
		image = image[:i] + ":" + tag
	}
	spec.TaskTemplate.ContainerSpec.Image = image
	if tag != "" {
		if err := pull(ctx, s.docker, image); err != nil {
			writeError(w, http.StatusNotFound, "Error pulling image with the specified tag", err.Error())
			return
		}
	}
	if _, err := s.docker.ServiceUpdate(ctx, h.ResourceID, client.ServiceUpdateOptions{
		Version: svc.Version, Spec: spec, QueryRegistry: true,
	}); err != nil {
		writeError(w, http.StatusInternalServerError, "Error updating service", err.Error())
		return
	}
	writeEmpty(w)
}

// pull pulls ref through the engine and waits for the pull to end.
func pull(ctx context.Context, d Docker, ref string) error {
	rc, err := d.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return rc.Wait(ctx)
}
