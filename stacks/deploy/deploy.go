package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/client"
)

// Result is what a deploy did.
type Result struct {
	Stack    string
	Networks []NetworkStep
	Secrets  []ObjectStep
	Configs  []ObjectStep
	Services []ServiceResult
	// Pruned names the stack's secrets and configs removed because nothing
	// declares them any more.
	Pruned   []string
	Warnings []string
}

// ServiceResult is what happened to one service, and where it stands.
type ServiceResult struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Action Action `json:"action"`
	Why    string `json:"why,omitempty"`
	// Version is the service's version index after the deploy (0 when
	// removed); it grows with every update.
	Version uint64 `json:"version"`
	Running int    `json:"running"`
	Desired int    `json:"desired"`
}

// Changed reports whether the deploy changed anything on the swarm.
func (r Result) Changed() bool {
	for _, n := range r.Networks {
		if n.Action != Unchanged {
			return true
		}
	}
	for _, o := range append(append([]ObjectStep{}, r.Secrets...), r.Configs...) {
		if o.Action != Unchanged {
			return true
		}
	}
	for _, s := range r.Services {
		if s.Action != Unchanged {
			return true
		}
	}
	return len(r.Pruned) > 0
}

// NotManagerError is returned when the engine is not a swarm manager.
type NotManagerError struct{ State string }

func (e *NotManagerError) Error() string {
	return fmt.Sprintf("this engine is not a swarm manager (swarm state %q): deploy through a manager", e.State)
}

// ImmutableError is returned when a secret's or config's content changed:
// swarm secrets and configs cannot change, so the file must give it a new
// name (for example with a version suffix).
type ImmutableError struct {
	Kind, Name string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("%s %s: content changed, but swarm %ss cannot change: give it a new `name:` (e.g. with a version suffix) so services switch to it", e.Kind, e.Name, e.Kind)
}

func stackFilter(name string) client.Filters {
	return make(client.Filters).Add("label", convert.LabelNamespace+"="+name)
}

// Deploy brings the stack on the swarm in line with its compose file, like
// `docker stack deploy --prune --with-registry-auth`, and waits until its
// services converge (unless o.Detach). A second deploy of the same stack
// sends no update. On a failing service it returns a *ConvergeError that
// names the service and its task errors, with the Result so far.
func Deploy(ctx context.Context, e Engine, s Stack, o Options) (Result, error) {
	o = o.withDefaults()
	res := Result{Stack: s.Name}
	cfg, warnings, err := Load(s)
	res.Warnings = warnings
	if err != nil {
		return res, err
	}
	info, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return res, fmt.Errorf("docker info: %w", err)
	}
	if !info.Info.Swarm.ControlAvailable {
		return res, &NotManagerError{State: string(info.Info.Swarm.LocalNodeState)}
	}
	// The engine's clock as this deploy begins (zero if unreadable): see
	// failureWindow.
	begun, _ := time.Parse(time.RFC3339Nano, info.Info.SystemTime)
	unchanged := map[string]bool{}
	objs, err := DesiredObjects(s, cfg, o.Overlay)
	if err != nil {
		return res, err
	}

	// Networks.
	for _, n := range objs.ExternalNetworks {
		if err := checkExternalNetwork(ctx, e, n); err != nil {
			return res, err
		}
	}
	liveNets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(s.Name)})
	if err != nil {
		return res, fmt.Errorf("list networks: %w", err)
	}
	res.Networks = PlanNetworks(objs.Networks, liveNets.Items)
	for _, st := range res.Networks {
		if len(st.Drift) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("network %s differs from the file (%s); networks cannot change in place: remove the stack and deploy it again to apply", st.Name, strings.Join(st.Drift, ", ")))
		}
		if st.Action != Create {
			continue
		}
		o.Progress.Service(st.Name, "creating network")
		if _, err := e.NetworkCreate(ctx, st.Name, st.Options); err != nil {
			return res, fmt.Errorf("create network %s: %w", st.Name, err)
		}
	}

	// Secrets and configs.
	ids := IDs{Secrets: map[string]string{}, Configs: map[string]string{}}
	liveSecrets, err := e.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return res, fmt.Errorf("list secrets: %w", err)
	}
	secrets := map[string]liveObject{}
	for _, x := range liveSecrets.Items {
		secrets[x.Spec.Name] = liveObject{ID: x.ID, Version: x.Version, Labels: x.Spec.Labels}
		ids.Secrets[x.Spec.Name] = x.ID
	}
	for _, spec := range objs.Secrets {
		st := planObject(spec.Name, spec.Labels, secrets)
		switch {
		case st.Changed:
			return res, &ImmutableError{Kind: "secret", Name: spec.Name}
		case st.Action == Create:
			o.Progress.Service(spec.Name, "creating secret")
			r, err := e.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec})
			if err != nil {
				return res, fmt.Errorf("create secret %s: %w", spec.Name, err)
			}
			st.ID, ids.Secrets[spec.Name] = r.ID, r.ID
		case st.Action == Update:
			if _, err := e.SecretUpdate(ctx, st.ID, client.SecretUpdateOptions{Version: secrets[spec.Name].Version, Spec: spec}); err != nil {
				return res, fmt.Errorf("update secret %s labels: %w", spec.Name, err)
			}
		}
		res.Secrets = append(res.Secrets, st)
	}
	liveConfigs, err := e.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return res, fmt.Errorf("list configs: %w", err)
	}
	configs := map[string]liveObject{}
	for _, x := range liveConfigs.Items {
		configs[x.Spec.Name] = liveObject{ID: x.ID, Version: x.Version, Labels: x.Spec.Labels}
		ids.Configs[x.Spec.Name] = x.ID
	}
	for _, spec := range objs.Configs {
		st := planObject(spec.Name, spec.Labels, configs)
		switch {
		case st.Changed:
			return res, &ImmutableError{Kind: "config", Name: spec.Name}
		case st.Action == Create:
			o.Progress.Service(spec.Name, "creating config")
			r, err := e.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec})
			if err != nil {
				return res, fmt.Errorf("create config %s: %w", spec.Name, err)
			}
			st.ID, ids.Configs[spec.Name] = r.ID, r.ID
		case st.Action == Update:
			if _, err := e.ConfigUpdate(ctx, st.ID, client.ConfigUpdateOptions{Version: configs[spec.Name].Version, Spec: spec}); err != nil {
				return res, fmt.Errorf("update config %s labels: %w", spec.Name, err)
			}
		}
		res.Configs = append(res.Configs, st)
	}

	// Services.
	if o.UpdateDefaults {
		ApplyUpdateDefaults(cfg)
	}
	desired, err := DesiredServices(ctx, s.Name, cfg, ids)
	if err != nil {
		return res, err
	}
	live, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(s.Name)})
	if err != nil {
		return res, fmt.Errorf("list services: %w", err)
	}
	steps := PlanServices(s.Name, desired, live.Items, !o.NoPrune, o.ResolveImage)
	// Removals first, as docker stack deploy --prune does: they free
	// published ports the new services may take.
	for _, st := range steps {
		if st.Action != Prune {
			continue
		}
		o.Progress.Service(st.Name, "removing (no longer in the file)")
		if _, err := e.ServiceRemove(ctx, st.Live.ID, client.ServiceRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			return res, fmt.Errorf("remove service %s: %w", st.Name, err)
		}
		res.Services = append(res.Services, ServiceResult{Name: st.Name, ID: st.Live.ID, Action: Prune})
	}
	var watch []string
	for _, st := range steps {
		if st.Action == Prune {
			continue
		}
		auth, err := EncodedAuth(st.Spec.TaskTemplate.ContainerSpec.Image, s.RegistryAuth)
		if err != nil {
			return res, err
		}
		sr := ServiceResult{Name: st.Name, Action: st.Action, Why: st.Why}
		switch st.Action {
		case Unchanged:
			sr.ID = st.Live.ID
			unchanged[sr.ID] = true
		case Create:
			o.Progress.Service(st.Name, "creating")
			r, err := e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: st.Spec, EncodedRegistryAuth: auth, QueryRegistry: st.QueryRegistry})
			if err != nil {
				return res, fmt.Errorf("create service %s: %w", st.Name, err)
			}
			sr.ID = r.ID
			res.Warnings = append(res.Warnings, prefixed(st.Name, r.Warnings)...)
		case Update:
			o.Progress.Service(st.Name, "updating ("+st.Why+")")
			r, err := e.ServiceUpdate(ctx, st.Live.ID, client.ServiceUpdateOptions{Version: st.Live.Version, Spec: st.Spec, EncodedRegistryAuth: auth, QueryRegistry: st.QueryRegistry})
			if err != nil {
				return res, fmt.Errorf("update service %s: %w", st.Name, err)
			}
			sr.ID = st.Live.ID
			res.Warnings = append(res.Warnings, prefixed(st.Name, r.Warnings)...)
		}
		watch = append(watch, sr.ID)
		res.Services = append(res.Services, sr)
	}

	if !o.NoPrune {
		pruned, err := pruneObjects(ctx, e, s.Name, objs)
		res.Pruned = pruned
		if err != nil {
			return res, err
		}
	}
	if o.Detach {
		return res, nil
	}
	states, err := wait(ctx, e, s.Name, watch, failureWindow{unchanged: unchanged, begun: begun}, o)
	for i := range res.Services {
		if st, ok := states[res.Services[i].ID]; ok {
			res.Services[i].Running, res.Services[i].Desired = st.state.Running, st.state.Desired
			res.Services[i].Version = st.version
		}
	}
	return res, err
}

func prefixed(name string, ws []string) []string {
	var out []string
	for _, w := range ws {
		out = append(out, name+": "+w)
	}
	return out
}

func checkExternalNetwork(ctx context.Context, e Engine, name string) error {
	switch name {
	case "host", "bridge", "none", "ingress":
		return nil
	}
	r, err := e.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	switch {
	case errdefs.IsNotFound(err):
		return fmt.Errorf("network %q is declared external but does not exist: create a swarm-scoped network first", name)
	case err != nil:
		return fmt.Errorf("inspect network %s: %w", name, err)
	case r.Network.Scope != "swarm":
		return fmt.Errorf("network %q is declared external but its scope is %q, not swarm", name, r.Network.Scope)
	}
	return nil
}

// pruneObjects removes the stack's secrets and configs that the file no
// longer declares (such as the previous version of a rotated secret). One
// still in use by a service stays, silently: the engine refuses.
func pruneObjects(ctx context.Context, e Engine, stack string, objs Objects) ([]string, error) {
	want := map[string]bool{}
	for _, x := range objs.Secrets {
		want[x.Name] = true
	}
	for _, x := range objs.Configs {
		want[x.Name] = true
	}
	var pruned []string
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	for _, x := range secs.Items {
		if want[x.Spec.Name] {
			continue
		}
		if _, err := e.SecretRemove(ctx, x.ID, client.SecretRemoveOptions{}); err == nil {
			pruned = append(pruned, "secret "+x.Spec.Name)
		}
	}
	cfgs, err := e.ConfigList(ctx, client.ConfigListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return pruned, fmt.Errorf("list configs: %w", err)
	}
	for _, x := range cfgs.Items {
		if want[x.Spec.Name] {
			continue
		}
		if _, err := e.ConfigRemove(ctx, x.ID, client.ConfigRemoveOptions{}); err == nil {
			pruned = append(pruned, "config "+x.Spec.Name)
		}
	}
	return pruned, nil
}
