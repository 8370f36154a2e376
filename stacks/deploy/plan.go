package deploy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Action is what a deploy does to one object.
type Action string

const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Prune     Action = "prune"
)

// ServiceStep is the decision for one service.
type ServiceStep struct {
	Name   string // scoped: STACK_service
	Action Action
	// Spec is what to send (Create, Update); for an update it carries the
	// live ForceUpdate counter and, when the image reference is unchanged,
	// the live digest-pinned image, as docker stack deploy does.
	Spec swarm.ServiceSpec
	// Live is the service as found (Update, Unchanged, Prune).
	Live *swarm.Service
	// QueryRegistry asks the engine to resolve the image's digest.
	QueryRegistry bool
	// Why says what differs (Update) in a few words.
	Why string
}

// PlanServices decides, per service, what a deploy does: create what is
// missing, update what differs (by LabelSpecHash), leave the rest alone, and
// remove the stack's services that are no longer desired unless prune is
// false. Steps come sorted by name, removals last.
func PlanServices(stack string, desired map[string]swarm.ServiceSpec, live []swarm.Service, prune bool, resolve ResolveImage) []ServiceStep {
	ns := convert.NewNamespace(stack)
	byName := map[string]*swarm.Service{}
	for i := range live {
		byName[live[i].Spec.Name] = &live[i]
	}
	var steps []ServiceStep
	for _, key := range sortedKeys(desired) {
		spec := desired[key]
		name := ns.Scope(key)
		cur, ok := byName[name]
		if !ok {
			steps = append(steps, ServiceStep{Name: name, Action: Create, Spec: spec, QueryRegistry: resolve == ResolveAlways})
			continue
		}
		delete(byName, name)
		if cur.Spec.Labels[LabelSpecHash] == spec.Labels[LabelSpecHash] {
			steps = append(steps, ServiceStep{Name: name, Action: Unchanged, Spec: cur.Spec, Live: cur})
			continue
		}
		st := ServiceStep{Name: name, Action: Update, Live: cur, Why: specDiff(cur.Spec, spec)}
		cs := *spec.TaskTemplate.ContainerSpec // never write through the caller's pointer
		spec.TaskTemplate.ContainerSpec = &cs
		image := spec.TaskTemplate.ContainerSpec.Image
		if image == cur.Spec.Labels[convert.LabelImage] && cur.Spec.TaskTemplate.ContainerSpec != nil {
			// Keep the digest the engine pinned last time: re-resolving a
			// moving tag is a deploy of a new image, which is the webhook's
			// job, not a config change's.
			spec.TaskTemplate.ContainerSpec.Image = cur.Spec.TaskTemplate.ContainerSpec.Image
		} else {
			st.QueryRegistry = resolve == ResolveAlways
		}
		spec.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate
		st.Spec = spec
		steps = append(steps, st)
	}
	if prune {
		var gone []string
		for name := range byName {
			gone = append(gone, name)
		}
		sort.Strings(gone)
		for _, name := range gone {
			steps = append(steps, ServiceStep{Name: name, Action: Prune, Live: byName[name]})
		}
	}
	return steps
}

// specDiff names the top-level parts of two specs that differ, for the
// progress line of an update.
func specDiff(live, want swarm.ServiceSpec) string {
	if _, ok := live.Labels[LabelSpecHash]; !ok {
		return "first deploy by shoal"
	}
	var parts []string
	lt, wt := live.TaskTemplate, want.TaskTemplate
	if lt.ContainerSpec != nil && wt.ContainerSpec != nil && live.Labels[convert.LabelImage] != want.Labels[convert.LabelImage] {
		parts = append(parts, fmt.Sprintf("image %s -> %s", live.Labels[convert.LabelImage], want.Labels[convert.LabelImage]))
	}
	if !jsonEqual(live.Mode, want.Mode) {
		parts = append(parts, "mode/replicas")
	}
	if !jsonEqual(live.EndpointSpec, want.EndpointSpec) {
		parts = append(parts, "ports")
	}
	if !jsonEqual(withoutHash(live.Labels), withoutHash(want.Labels)) {
		parts = append(parts, "labels")
	}
	if len(parts) == 0 {
		parts = append(parts, "task spec")
	}
	return strings.Join(parts, ", ")
}

func withoutHash(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != LabelSpecHash {
			out[k] = v
		}
	}
	return out
}

// NetworkStep is the decision for one network.
type NetworkStep struct {
	Name    string
	Action  Action // Create or Unchanged
	Options client.NetworkCreateOptions
	// Drift lists options that differ from an existing network; networks
	// cannot change in place, so they are reported, not fixed.
	Drift []string
}

// PlanNetworks creates the stack's missing networks and reports drift of
// existing ones (encryption, MTU, driver).
func PlanNetworks(want map[string]client.NetworkCreateOptions, live []network.Summary) []NetworkStep {
	byName := map[string]network.Summary{}
	for _, n := range live {
		byName[n.Name] = n
	}
	var steps []NetworkStep
	for _, name := range sortedKeys(want) {
		o := want[name]
		cur, ok := byName[name]
		if !ok {
			steps = append(steps, NetworkStep{Name: name, Action: Create, Options: o})
			continue
		}
		st := NetworkStep{Name: name, Action: Unchanged, Options: o}
		if cur.Driver != o.Driver {
			st.Drift = append(st.Drift, fmt.Sprintf("driver %s, want %s", cur.Driver, o.Driver))
		}
		_, haveEnc := cur.Options[optEncrypted]
		_, wantEnc := o.Options[optEncrypted]
		if haveEnc != wantEnc {
			st.Drift = append(st.Drift, fmt.Sprintf("encrypted %t, want %t", haveEnc, wantEnc))
		}
		if w, ok := o.Options[optMTU]; ok && cur.Options[optMTU] != w {
			st.Drift = append(st.Drift, fmt.Sprintf("mtu %q, want %q", cur.Options[optMTU], w))
		}
		steps = append(steps, st)
	}
	return steps
}

// ObjectStep is the decision for one secret or config.
type ObjectStep struct {
	Name   string
	Action Action // Create, Update (labels only) or Unchanged
	ID     string // of the live object
	// Changed is set when the live object's data differs: secrets and
	// configs are immutable, so that is an error unless nothing uses it.
	Changed bool
}

// liveObject is the part of a swarm secret or config the plan looks at.
type liveObject struct {
	ID      string
	Version swarm.Version
	Labels  map[string]string
}

// planObject decides for one secret or config.
func planObject(name string, labels map[string]string, live map[string]liveObject) ObjectStep {
	cur, ok := live[name]
	if !ok {
		return ObjectStep{Name: name, Action: Create}
	}
	st := ObjectStep{Name: name, Action: Unchanged, ID: cur.ID}
	if h, ok := labels[LabelDataHash]; ok && cur.Labels[LabelDataHash] != h {
		st.Changed = true
	}
	if !jsonEqual(cur.Labels, labels) {
		st.Action = Update
	}
	return st
}
