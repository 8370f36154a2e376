package deploy

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

func spec(name, image, hash string) swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: map[string]string{"com.docker.stack.namespace": "s", "com.docker.stack.image": image, LabelSpecHash: hash}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
	}
}

func live(id, name, image, pinned, hash string, force uint64) swarm.Service {
	sp := spec(name, image, hash)
	sp.TaskTemplate.ContainerSpec.Image = pinned
	sp.TaskTemplate.ForceUpdate = force
	return swarm.Service{ID: id, Meta: swarm.Meta{Version: swarm.Version{Index: 7}}, Spec: sp}
}

func TestPlanServices(t *testing.T) {
	desired := map[string]swarm.ServiceSpec{
		"web":    spec("s_web", "app:2", "h-web-2"),
		"worker": spec("s_worker", "app:1", "h-worker-b"),
		"new":    spec("s_new", "app:1", "h-new"),
		"same":   spec("s_same", "app:1", "h-same"),
	}
	lives := []swarm.Service{
		live("id-web", "s_web", "app:1", "app:1@sha256:aaa", "h-web-1", 0),
		live("id-worker", "s_worker", "app:1", "app:1@sha256:bbb", "h-worker-a", 3),
		live("id-same", "s_same", "app:1", "app:1@sha256:ccc", "h-same", 5),
		live("id-gone", "s_gone", "app:1", "app:1", "h-gone", 0),
	}
	cases := []struct {
		name     string
		prune    bool
		resolve  ResolveImage
		check    string
		want     Action
		image    string // want image sent
		query    bool
		force    uint64
		wantWhy  string
		wantNone bool
	}{
		{name: "a missing service is created and its image resolved", prune: true, resolve: ResolveAlways, check: "s_new", want: Create, image: "app:1", query: true},
		{name: "a missing service is created as written when resolving is off", prune: true, resolve: ResolveNever, check: "s_new", want: Create, image: "app:1", query: false},
		{name: "a service whose hash matches is left alone", prune: true, resolve: ResolveAlways, check: "s_same", want: Unchanged, image: "app:1@sha256:ccc", force: 5},
		{name: "a new image is updated and resolved", prune: true, resolve: ResolveAlways, check: "s_web", want: Update, image: "app:2", query: true, wantWhy: "image app:1 -> app:2"},
		{name: "a changed spec with the same image keeps the pinned digest and the force counter", prune: true, resolve: ResolveAlways, check: "s_worker", want: Update, image: "app:1@sha256:bbb", query: false, force: 3},
		{name: "a service no longer in the file is pruned", prune: true, resolve: ResolveAlways, check: "s_gone", want: Prune},
		{name: "without prune a service no longer in the file stays", prune: false, resolve: ResolveAlways, check: "s_gone", wantNone: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			steps := PlanServices("s", desired, lives, c.prune, c.resolve)
			var got *ServiceStep
			for i := range steps {
				if steps[i].Name == c.check {
					got = &steps[i]
				}
			}
			if c.wantNone {
				if got != nil {
					t.Fatalf("got step %+v, want none", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no step for %s in %+v", c.check, steps)
			}
			if got.Action != c.want {
				t.Fatalf("action = %s, want %s", got.Action, c.want)
			}
			if c.want == Prune {
				return
			}
			if img := got.Spec.TaskTemplate.ContainerSpec.Image; img != c.image {
				t.Errorf("image = %q, want %q", img, c.image)
			}
			if got.QueryRegistry != c.query {
				t.Errorf("query registry = %t, want %t", got.QueryRegistry, c.query)
			}
			if got.Spec.TaskTemplate.ForceUpdate != c.force {
				t.Errorf("force update = %d, want %d", got.Spec.TaskTemplate.ForceUpdate, c.force)
			}
			if c.wantWhy != "" && !strings.Contains(got.Why, c.wantWhy) {
				t.Errorf("why = %q, want %q", got.Why, c.wantWhy)
			}
		})
	}
	t.Run("steps are sorted by name with prunes last", func(t *testing.T) {
		steps := PlanServices("s", desired, lives, true, ResolveAlways)
		var names []string
		for _, s := range steps {
			names = append(names, s.Name)
		}
		if got := strings.Join(names, " "); got != "s_new s_same s_web s_worker s_gone" {
			t.Errorf("order = %s", got)
		}
	})
	t.Run("a service deployed by docker itself is updated once", func(t *testing.T) {
		l := live("id", "s_same", "app:1", "app:1", "", 0)
		delete(l.Spec.Labels, LabelSpecHash)
		steps := PlanServices("s", map[string]swarm.ServiceSpec{"same": spec("s_same", "app:1", "h")}, []swarm.Service{l}, true, ResolveAlways)
		if steps[0].Action != Update || steps[0].Why != "first deploy by shoal" {
			t.Errorf("step = %s %q", steps[0].Action, steps[0].Why)
		}
	})
}

func TestPlanNetworks(t *testing.T) {
	want := map[string]client.NetworkCreateOptions{
		"s_a": {Driver: "overlay", Options: map[string]string{optEncrypted: "", optMTU: "1400"}},
		"s_b": {Driver: "overlay", Options: map[string]string{optEncrypted: ""}},
	}
	summary := func(name string, opts map[string]string) network.Summary {
		return network.Summary{Network: network.Network{Name: name, Driver: "overlay", Options: opts}}
	}
	cases := []struct {
		name      string
		live      []network.Summary
		wantA     Action
		wantDrift string
	}{
		{name: "a missing network is created", wantA: Create},
		{name: "an identical network is unchanged", live: []network.Summary{summary("s_a", map[string]string{optEncrypted: "", optMTU: "1400"})}, wantA: Unchanged},
		{name: "an unencrypted network is reported, not changed", live: []network.Summary{summary("s_a", map[string]string{optMTU: "1400"})}, wantA: Unchanged, wantDrift: "encrypted false, want true"},
		{name: "a wrong MTU is reported", live: []network.Summary{summary("s_a", map[string]string{optEncrypted: ""})}, wantA: Unchanged, wantDrift: `mtu "", want "1400"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			steps := PlanNetworks(want, c.live)
			if len(steps) != 2 || steps[0].Name != "s_a" {
				t.Fatalf("steps = %+v", steps)
			}
			if steps[0].Action != c.wantA {
				t.Errorf("action = %s, want %s", steps[0].Action, c.wantA)
			}
			drift := strings.Join(steps[0].Drift, "; ")
			if drift != c.wantDrift {
				t.Errorf("drift = %q, want %q", drift, c.wantDrift)
			}
		})
	}
}

func TestPlanObject(t *testing.T) {
	live := map[string]liveObject{"s_x": {ID: "x1", Labels: map[string]string{LabelDataHash: "h1", "a": "b"}}}
	cases := []struct {
		name        string
		labels      map[string]string
		obj         string
		wantAction  Action
		wantChanged bool
	}{
		{name: "a missing secret is created", obj: "s_y", labels: map[string]string{LabelDataHash: "h1"}, wantAction: Create},
		{name: "the same data and labels change nothing", obj: "s_x", labels: map[string]string{LabelDataHash: "h1", "a": "b"}, wantAction: Unchanged},
		{name: "new labels on the same data are an update", obj: "s_x", labels: map[string]string{LabelDataHash: "h1", "a": "c"}, wantAction: Update},
		{name: "new data is flagged: secrets are immutable", obj: "s_x", labels: map[string]string{LabelDataHash: "h2", "a": "b"}, wantAction: Update, wantChanged: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := planObject(c.obj, c.labels, live)
			if st.Action != c.wantAction || st.Changed != c.wantChanged {
				t.Errorf("got %+v, want %s changed=%t", st, c.wantAction, c.wantChanged)
			}
		})
	}
}
