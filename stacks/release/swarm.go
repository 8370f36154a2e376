package release

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/stacks/portainer"
)

// StackLabel is the label `docker stack deploy` puts on a stack's services.
const StackLabel = "com.docker.stack.namespace"

// Swarm is how a rollout observes the services of a stack and takes them
// back: through a manager's Docker API or Portainer's Docker proxy.
type Swarm interface {
	// Services lists the services of a stack.
	Services(ctx context.Context, stack string) ([]swarm.Service, error)
	// Service inspects one service.
	Service(ctx context.Context, id string) (swarm.Service, error)
	// Tasks lists the tasks of a service.
	Tasks(ctx context.Context, serviceID string) ([]swarm.Task, error)
	// Rollback makes the swarm roll the service back to its previous spec
	// (`docker service rollback`).
	Rollback(ctx context.Context, svc swarm.Service) error
	// SetImage updates the service to image (a digest-pinned reference).
	SetImage(ctx context.Context, svc swarm.Service, image string, force bool) error
}

// Updater starts the rollout of a new image to a service.
type Updater interface {
	Apply(ctx context.Context, svc swarm.Service, ch Change) error
	// Via names the path: "ssh" or "portainer".
	Via() string
}

// Engine is the part of a swarm manager's Docker API that EngineSwarm
// uses; *client.Client satisfies it.
type Engine interface {
	ServiceList(ctx context.Context, o client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceInspect(ctx context.Context, id string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceUpdate(ctx context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error)
}

var _ Engine = (*client.Client)(nil)

// EngineSwarm observes and updates services through a manager's Docker
// API (the operator's path, over SSH). Auth returns the encoded registry
// credentials for an image ("" for none), sent with every update as
// `--with-registry-auth` does, so that the nodes can pull it.
type EngineSwarm struct {
	Docker Engine
	Auth   func(image string) (string, error)
}

var (
	_ Swarm   = (*EngineSwarm)(nil)
	_ Updater = (*EngineSwarm)(nil)
)

func (e *EngineSwarm) Services(ctx context.Context, stack string) ([]swarm.Service, error) {
	r, err := e.Docker.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", StackLabel+"="+stack)})
	if err != nil {
		return nil, fmt.Errorf("list services of stack %s: %w", stack, err)
	}
	return r.Items, nil
}

func (e *EngineSwarm) Service(ctx context.Context, id string) (swarm.Service, error) {
	r, err := e.Docker.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return swarm.Service{}, fmt.Errorf("inspect service %s: %w", id, err)
	}
	return r.Service, nil
}

func (e *EngineSwarm) Tasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	r, err := e.Docker.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
	if err != nil {
		return nil, fmt.Errorf("list tasks of service %s: %w", serviceID, err)
	}
	return r.Items, nil
}

func (e *EngineSwarm) Rollback(ctx context.Context, svc swarm.Service) error {
	if _, err := e.Docker.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec, Rollback: "previous"}); err != nil {
		return fmt.Errorf("roll back service %s: %w", svc.Spec.Name, err)
	}
	return nil
}

func (e *EngineSwarm) SetImage(ctx context.Context, svc swarm.Service, image string, force bool) error {
	spec := svc.Spec
	if spec.TaskTemplate.ContainerSpec == nil {
		return fmt.Errorf("service %s has no container spec", svc.Spec.Name)
	}
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Image = image
	spec.TaskTemplate.ContainerSpec = &cs
	if force {
		spec.TaskTemplate.ForceUpdate++
	}
	auth := ""
	if e.Auth != nil {
		a, err := e.Auth(image)
		if err != nil {
			return err
		}
		auth = a
	}
	if _, err := e.Docker.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec, EncodedRegistryAuth: auth}); err != nil {
		return fmt.Errorf("update service %s to %s: %w", svc.Spec.Name, image, err)
	}
	return nil
}

// Apply updates the service to the change's digest-pinned image.
func (e *EngineSwarm) Apply(ctx context.Context, svc swarm.Service, ch Change) error {
	return e.SetImage(ctx, svc, ch.New, ch.Force)
}

// Via is "ssh".
func (e *EngineSwarm) Via() string { return "ssh" }

// PortainerSwarm observes services and rolls them back through Portainer's
// Docker proxy (/api/endpoints/{id}/docker/...), authenticated with an API
// key: CI has no SSH to a manager.
type PortainerSwarm struct {
	Client   *portainer.Client // with the API key
	Endpoint int
}

var _ Swarm = (*PortainerSwarm)(nil)

func (p *PortainerSwarm) Services(ctx context.Context, stack string) ([]swarm.Service, error) {
	return p.Client.DockerServices(ctx, p.Endpoint, map[string][]string{"label": {StackLabel + "=" + stack}})
}

func (p *PortainerSwarm) Service(ctx context.Context, id string) (swarm.Service, error) {
	return p.Client.DockerService(ctx, p.Endpoint, id)
}

func (p *PortainerSwarm) Tasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	return p.Client.DockerTasks(ctx, p.Endpoint, map[string][]string{"service": {serviceID}})
}

func (p *PortainerSwarm) Rollback(ctx context.Context, svc swarm.Service) error {
	return p.Client.DockerServiceUpdate(ctx, p.Endpoint, svc.ID, svc.Version.Index, svc.Spec, true)
}

// SetImage updates the image through the proxy without registry
// credentials: the swarm keeps using the ones the service was deployed
// with (stored in its spec), for the nodes' pulls.
func (p *PortainerSwarm) SetImage(ctx context.Context, svc swarm.Service, image string, force bool) error {
	spec := svc.Spec
	if spec.TaskTemplate.ContainerSpec == nil {
		return fmt.Errorf("service %s has no container spec", svc.Spec.Name)
	}
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Image = image
	spec.TaskTemplate.ContainerSpec = &cs
	if force {
		spec.TaskTemplate.ForceUpdate++
	}
	return p.Client.DockerServiceUpdate(ctx, p.Endpoint, svc.ID, svc.Version.Index, spec, false)
}

// WebhookUpdater starts rollouts through the services' Portainer webhooks
// (the tokens CI reads from Vault): a plain trigger when the wanted tag is
// the service's own (Portainer re-resolves it), ?tag= otherwise (Portainer
// pulls it first). Portainer pins the digest it finds on the registry;
// Judge then checks it is the one shoal resolved.
type WebhookUpdater struct {
	Client   *portainer.Client
	Webhooks map[string]portainer.Secret // webhook URL by service name (full swarm name)
}

var _ Updater = (*WebhookUpdater)(nil)

func (w *WebhookUpdater) Apply(ctx context.Context, svc swarm.Service, ch Change) error {
	u, ok := w.Webhooks[svc.Spec.Name]
	if !ok {
		return fmt.Errorf("service %s has no webhook", svc.Spec.Name)
	}
	tag := ch.Tag
	if tag == ch.OldTag {
		tag = "" // the service's tag: a plain trigger re-resolves it
	}
	if err := w.Client.TriggerWebhook(ctx, u, tag); err != nil {
		return fmt.Errorf("trigger the webhook of %s: %w", svc.Spec.Name, err)
	}
	return nil
}

func (w *WebhookUpdater) Via() string { return "portainer" }
