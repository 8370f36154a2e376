package swarm

import (
	"errors"
	"strings"
	"testing"
)

func TestClusterName(t *testing.T) {
	tests := []struct {
		name    string
		world   func() *world
		adopt   bool
		want    []string // plan steps
		wantWhy string   // in the name step's reason
		errText []string // a *ClusterNameError naming these
	}{
		{
			name:  "a swarm that records the inventory's name is used as it is",
			world: func() *world { return converged(testInv()) },
		},
		{
			name: "a swarm that records another name is refused, naming both names",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = "prod"
				return w
			},
			errText: []string{`"lab"`, `"prod"`, "nothing was changed", "--adopt", "m1"},
		},
		{
			name: "with --adopt a swarm that records another name is renamed",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = "prod"
				return w
			},
			adopt:   true,
			want:    []string{"name cluster m1"},
			wantWhy: `the swarm was cluster "prod"`,
		},
		{
			name: "an unnamed swarm whose members are all inventory nodes is named without a flag",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = ""
				return w
			},
			want:    []string{"name cluster m1"},
			wantWhy: "every member is a node of this inventory",
		},
		{
			name: "an unnamed swarm's member of an unreachable inventory host counts as the inventory's",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = ""
				w.unreachable("w2")
				return w
			},
			want: []string{"name cluster m1"},
		},
		{
			name: "an unnamed swarm with a node the inventory does not list is refused, naming it",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = ""
				w.obs.Members = append(w.obs.Members, Member{ID: "id-other", Hostname: "db1", Role: "worker", State: "ready"})
				return w
			},
			errText: []string{"records no cluster name", "db1 (worker", `"lab"`, "--adopt"},
		},
		{
			name: "with --adopt an unnamed swarm with foreign nodes is named, its nodes left alone",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = ""
				w.obs.Members = append(w.obs.Members, Member{ID: "id-other", Hostname: "db1", Role: "worker", State: "ready"})
				return w
			},
			adopt:   true,
			want:    []string{"name cluster m1"},
			wantWhy: "recorded no cluster name",
		},
		{
			name:  "a new swarm records the name right after init",
			world: func() *world { return fresh(testInv()) },
			want: []string{"init swarm m1", "name cluster m1", "join as manager m2", "join as manager m3", "join as worker w1", "join as worker w2",
				"set labels m1", "set labels m2", "set labels m3", "set labels w1", "set labels w2"},
		},
		{
			name: "the name is checked before quorum, so a renamed inventory never reads as an outage",
			world: func() *world {
				w := converged(testInv())
				w.obs.Swarm.Name = "prod"
				w.setMember("m2", func(m *Member) { m.Reachability = "unreachable" })
				w.setMember("m3", func(m *Member) { m.Reachability = "unreachable" })
				return w
			},
			errText: []string{`"prod"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world()
			p, err := ComputeWith(w.inv, w.obs, ComputeOptions{Adopt: tc.adopt})
			if len(tc.errText) > 0 {
				var ce *ClusterNameError
				if !errors.As(err, &ce) {
					t.Fatalf("want *ClusterNameError, got %v (plan %v)", err, render(p))
				}
				for _, s := range tc.errText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error does not name %s:\n%s", s, err)
					}
				}
				if !p.Empty() {
					t.Errorf("a refusal carries a plan: %v", render(p))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(render(p), "; "); got != strings.Join(tc.want, "; ") {
				t.Errorf("steps:\n got %s\nwant %s", got, strings.Join(tc.want, "; "))
			}
			for _, s := range p.Steps {
				if s.Action != NameCluster {
					continue
				}
				if s.ClusterName != "lab" {
					t.Errorf("name step records %q, want the inventory's %q", s.ClusterName, "lab")
				}
				if !strings.Contains(s.Why, tc.wantWhy) {
					t.Errorf("name step says %q, want it to say %q", s.Why, tc.wantWhy)
				}
			}
		})
	}
}
