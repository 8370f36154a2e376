package bootstrap

import (
	"context"
	"reflect"
	"testing"
	"time"

	swarmapi "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

func TestManagersRestartOneAtATime(t *testing.T) {
	engine := func(state swarmapi.LocalNodeState, manager bool) *host.EngineInfo {
		return &host.EngineInfo{ServerVersion: "20.10.24", Swarm: swarmapi.Info{LocalNodeState: state, ControlAvailable: manager}}
	}
	restart := host.HostPlan{Actions: []host.Action{{Name: "write daemon.json"}, {Name: host.ActionRestartDocker}}}
	write := host.HostPlan{Actions: []host.Action{{Name: "write daemon.json"}}}
	start := host.HostPlan{Actions: []host.Action{{Name: "start docker"}}}
	active, inactive := swarmapi.LocalNodeStateActive, swarmapi.LocalNodeStateInactive
	order := []string{"m1", "m2", "m3", "w1", "w2"}
	tests := []struct {
		name  string
		hosts map[string]host.Report
		want  [][]string
	}{
		{name: "fresh engines outside any swarm restart all at once",
			hosts: map[string]host.Report{
				"m1": {Facts: host.Facts{Engine: engine(inactive, false)}, Plan: restart},
				"m2": {Facts: host.Facts{Engine: engine(inactive, false)}, Plan: restart},
				"m3": {Facts: host.Facts{Engine: engine(inactive, false)}, Plan: restart},
				"w1": {Facts: host.Facts{Engine: engine(inactive, false)}, Plan: restart},
			},
			want: [][]string{{"m1", "m2", "m3", "w1"}}},
		{name: "swarm managers restart one at a time, workers with the first",
			hosts: map[string]host.Report{
				"m1": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
				"m2": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
				"m3": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
				"w1": {Facts: host.Facts{Engine: engine(active, false)}, Plan: restart},
				"w2": {Facts: host.Facts{Engine: engine(active, false)}, Plan: restart},
			},
			want: [][]string{{"m1", "w1", "w2"}, {"m2"}, {"m3"}}},
		{name: "a manager that only writes a file, or whose engine is down, does not wait",
			hosts: map[string]host.Report{
				"m1": {Facts: host.Facts{Engine: engine(active, true)}, Plan: write},
				"m2": {Facts: host.Facts{}, Plan: start},
				"m3": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
				"w1": {Facts: host.Facts{Engine: engine(active, false)}},
			},
			want: [][]string{{"m1", "m2", "m3"}}},
		{name: "the order is the inventory's, whatever the map",
			hosts: map[string]host.Report{
				"m3": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
				"m2": {Facts: host.Facts{Engine: engine(active, true)}, Plan: restart},
			},
			want: [][]string{{"m2"}, {"m3"}}},
		{name: "nothing to do, no waves", hosts: map[string]host.Report{"m1": {Facts: host.Facts{Engine: engine(active, true)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := prepareWaves(order, tt.hosts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("prepareWaves = %q, want %q", got, tt.want)
			}
		})
	}
}

// infoEngine answers docker info with a fixed swarm state.
type infoEngine struct {
	swarm.Engine // nil: any other call panics
	state        swarmapi.LocalNodeState
	manager      bool
}

func (e infoEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{ServerVersion: "20.10.24", Swarm: swarmapi.Info{LocalNodeState: e.state, ControlAvailable: e.manager}}}, nil
}

func TestSettleManagersNamesAManagerNotBack(t *testing.T) {
	inv := &inventory.Inventory{Nodes: []inventory.Node{{Name: "m1", Role: "manager"}, {Name: "m2", Role: "manager"}, {Name: "m3", Role: "manager"}}}
	fleet := &Fleet{Engines: map[string]swarm.Engine{
		"m1": infoEngine{state: swarmapi.LocalNodeStateActive, manager: true},
		"m2": infoEngine{state: swarmapi.LocalNodeStateLocked},
	}}
	got := settleManagers(context.Background(), inv, fleet, []string{"m1", "m2", "m3"}, 50*time.Millisecond)
	want := []string{`m2 (swarm state "locked", manager false)`, "m3 (its Docker API could not be opened)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("not back = %q, want %q", got, want)
	}
}
