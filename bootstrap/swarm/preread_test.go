package swarm

import (
	"context"
	"errors"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// askedEngine answers the swarm questions with a fixed node list and
// counts how often it was asked. Other calls are not expected.
type askedEngine struct {
	Engine // nil: any other call panics
	nodes  []swarm.Node
	asked  int
}

func (e *askedEngine) SwarmInspect(context.Context, client.SwarmInspectOptions) (client.SwarmInspectResult, error) {
	e.asked++
	return client.SwarmInspectResult{Swarm: swarm.Swarm{ClusterInfo: swarm.ClusterInfo{ID: "sw1"}}}, nil
}

func (e *askedEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: e.nodes}, nil
}

func managerNode(name string, leader bool, reach swarm.Reachability) swarm.Node {
	return swarm.Node{
		ID:            "id-" + name,
		Spec:          swarm.NodeSpec{Role: swarm.NodeRoleManager, Annotations: swarm.Annotations{Labels: map[string]string{LabelNode: name}}},
		Status:        swarm.NodeStatus{State: swarm.NodeStateReady},
		ManagerStatus: &swarm.ManagerStatus{Leader: leader, Reachability: reach},
	}
}

func TestObserveUsesManagersPreReadAnswers(t *testing.T) {
	inv := &inventory.Inventory{Cluster: inventory.Cluster{Name: "c"}, Nodes: []inventory.Node{
		{Name: "m1", Role: "manager", Address: "10.0.0.1"},
		{Name: "m2", Role: "manager", Address: "10.0.0.2"},
		{Name: "m3", Role: "manager", Address: "10.0.0.3"},
	}}
	healthy := []swarm.Node{managerNode("m1", true, swarm.ReachabilityReachable), managerNode("m2", false, swarm.ReachabilityReachable), managerNode("m3", false, swarm.ReachabilityReachable)}
	hosts := map[string]HostState{}
	for _, n := range inv.Nodes {
		hosts[n.Name] = HostState{Reachable: true, Local: LocalActive, Manager: true, ClusterID: "sw1"}
	}
	tests := []struct {
		name       string
		pre        map[string]SwarmAnswer
		wantAsked  map[string]int
		wantVia    string
		wantAnswer int // answers recorded in Asked
	}{
		{name: "an answer read with the facts that counts is not asked again",
			pre:       map[string]SwarmAnswer{"m1": {Swarm: &SwarmInfo{ID: "sw1"}, Members: Members(healthy)}},
			wantAsked: map[string]int{"m1": 0, "m2": 0, "m3": 0}, wantVia: "m1"},
		{name: "a pre-read answer that does not count is asked again through the engine",
			pre:       map[string]SwarmAnswer{"m1": {Err: errors.New("This node is not a swarm manager")}},
			wantAsked: map[string]int{"m1": 1, "m2": 0, "m3": 0}, wantVia: "m1"},
		{name: "a cut-off first manager's pre-read answer does not count; the next one's does",
			pre: map[string]SwarmAnswer{
				"m1": {Members: Members([]swarm.Node{managerNode("m1", true, swarm.ReachabilityReachable), managerNode("m2", false, swarm.ReachabilityUnreachable), managerNode("m3", false, swarm.ReachabilityUnreachable)})},
				"m2": {Swarm: &SwarmInfo{ID: "sw1"}, Members: Members(healthy)},
			},
			wantAsked: map[string]int{"m1": 1, "m2": 0, "m3": 0}, wantVia: "m1"},
		{name: "without pre-read answers the first manager is asked",
			wantAsked: map[string]int{"m1": 1, "m2": 0, "m3": 0}, wantVia: "m1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engines := map[string]Engine{}
			fakes := map[string]*askedEngine{}
			for _, n := range inv.Nodes {
				fakes[n.Name] = &askedEngine{nodes: healthy}
				engines[n.Name] = fakes[n.Name]
			}
			obs, err := ObserveWith(context.Background(), inv, engines, nil, ObserveOptions{Hosts: hosts, Swarms: tt.pre})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.wantAsked {
				if got := fakes[name].asked; got != want {
					t.Errorf("%s asked %d times, want %d", name, got, want)
				}
			}
			if obs.Via != tt.wantVia || obs.Swarm == nil || obs.Swarm.ID != "sw1" || len(obs.Members) != 3 {
				t.Errorf("via %q swarm %+v members %d", obs.Via, obs.Swarm, len(obs.Members))
			}
		})
	}
}
