package bootstrap

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, h string) ([]string, error) {
	if a, ok := f[h]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckResolveRefusesUnresolvableAddresses(t *testing.T) {
	tests := []struct {
		name  string
		nodes []inventory.Node
		want  []string // in the refusal; none: no refusal
	}{
		{name: "IP addresses are never looked up",
			nodes: []inventory.Node{{Name: "m1", Address: "10.0.0.1"}, {Name: "m2", Address: "2001:db8::2"}}},
		{name: "a name that resolves is fine",
			nodes: []inventory.Node{{Name: "m1", Address: "m1.example.net"}}},
		{name: "every name that does not resolve is named",
			nodes: []inventory.Node{{Name: "m1", Address: "m1.example.net"}, {Name: "w1", Address: "w1.nowhere.invalid"}, {Name: "w2", Address: "w2.nowhere.invalid"}},
			want:  []string{"w1 (w1.nowhere.invalid): no such host", "w2 (w2.nowhere.invalid)", "nothing was changed"}},
		{name: "a name with no addresses is refused",
			nodes: []inventory.Node{{Name: "m1", Address: "empty.example.net"}},
			want:  []string{"m1 (empty.example.net): no addresses"}},
	}
	r := fakeResolver{"m1.example.net": {"192.0.2.1"}, "empty.example.net": {}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkResolve(context.Background(), &inventory.Inventory{Nodes: tt.nodes}, r)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RefusedError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestReportListsPlannedActionsUnderDryRunAndPendingChanges(t *testing.T) {
	planned := host.Action{Name: "restart docker", Cost: "4 running containers restart"}
	rep := Report{Hosts: map[string]host.Report{
		"m2": {Plan: host.HostPlan{Actions: []host.Action{planned}}},
		"w1": {Plan: host.HostPlan{Pending: []string{"daemon.json waits for a docker restart"}}},
	}}
	if rep.Changed() {
		t.Error("a run that did nothing reports a change")
	}
	rep.DryRun = true
	if got := rep.HostActions()["m2"]; len(got) != 1 || got[0] != "restart docker (4 running containers restart)" {
		t.Errorf("dry-run host actions = %q", got)
	}
	if p := rep.Pending(); len(p) != 1 || p[0] != "w1: daemon.json waits for a docker restart" {
		t.Errorf("pending = %q", p)
	}
}
