package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Removed lists what Remove deleted, by name.
type Removed struct {
	Services, Secrets, Configs, Networks []string
}

// Empty reports whether there was nothing to remove.
func (r Removed) Empty() bool {
	return len(r.Services)+len(r.Secrets)+len(r.Configs)+len(r.Networks) == 0
}

// Remove deletes a stack like `docker stack rm`: its services, then its
// secrets and configs, then its networks, which the engine frees only once
// the services' tasks are gone (retried every o.Poll until o.Timeout).
// Removing a stack that does not exist is not an error.
func Remove(ctx context.Context, e Engine, name string, o Options) (Removed, error) {
	o = o.withDefaults()
	var r Removed
	if err := ValidateName(name); err != nil {
		return r, err
	}
	f := stackFilter(name)
	svcs, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("list services: %w", err)
	}
	sort.Slice(svcs.Items, func(i, j int) bool { return svcs.Items[i].Spec.Name < svcs.Items[j].Spec.Name })
	var errs []error
	for _, s := range svcs.Items {
		o.Progress.Service(s.Spec.Name, "removing")
		if _, err := e.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove service %s: %w", s.Spec.Name, err))
			continue
		}
		r.Services = append(r.Services, s.Spec.Name)
	}
	secs, err := e.SecretList(ctx, client.SecretListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("list secrets: %w", err)
	}
	cfgs, err := e.ConfigList(ctx, client.ConfigListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("list configs: %w", err)
	}
	nets, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("list networks: %w", err)
	}

	// Secrets, configs and networks stay busy until the removed services'
	// containers are gone; retry until they go or the time is up.
	type obj struct{ kind, id, name string }
	var left []obj
	for _, x := range secs.Items {
		left = append(left, obj{"secret", x.ID, x.Spec.Name})
	}
	for _, x := range cfgs.Items {
		left = append(left, obj{"config", x.ID, x.Spec.Name})
	}
	for _, x := range nets.Items {
		left = append(left, obj{"network", x.ID, x.Name})
	}
	deadline := time.Now().Add(o.Timeout)
	for len(left) > 0 {
		var next []obj
		var lastErr []error
		for _, x := range left {
			var err error
			switch x.kind {
			case "secret":
				_, err = e.SecretRemove(ctx, x.id, client.SecretRemoveOptions{})
			case "config":
				_, err = e.ConfigRemove(ctx, x.id, client.ConfigRemoveOptions{})
			case "network":
				_, err = e.NetworkRemove(ctx, x.id, client.NetworkRemoveOptions{})
			}
			switch {
			case errdefs.IsNotFound(err):
				// Already gone: the list can lag a removal (a node's
				// local copy of an overlay).
			case err == nil:
				switch x.kind {
				case "secret":
					r.Secrets = append(r.Secrets, x.name)
				case "config":
					r.Configs = append(r.Configs, x.name)
				case "network":
					r.Networks = append(r.Networks, x.name)
				}
			default:
				next = append(next, x)
				lastErr = append(lastErr, fmt.Errorf("remove %s %s: %w", x.kind, x.name, err))
			}
		}
		left = next
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			errs = append(errs, lastErr...)
			break
		}
		select {
		case <-ctx.Done():
			return r, errors.Join(append(errs, ctx.Err())...)
		case <-time.After(o.Poll):
		}
	}
	return r, errors.Join(errs...)
}
