package heal

import (
	"context"
	"strings"
	"testing"

	swarmapi "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/remote"
)

type fakeLister []swarmapi.Node

func (f fakeLister) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: f}, nil
}

func manager(name string, reach swarmapi.Reachability, leader bool) swarmapi.Node {
	n := swarmapi.Node{ID: "id-" + name, Description: swarmapi.NodeDescription{Hostname: name},
		Status:        swarmapi.NodeStatus{State: swarmapi.NodeStateReady},
		ManagerStatus: &swarmapi.ManagerStatus{Reachability: reach, Leader: leader}}
	n.Spec.Role = swarmapi.NodeRoleManager
	n.Spec.Labels = map[string]string{"shoal.node": name}
	if reach != swarmapi.ReachabilityReachable {
		n.Status.State = swarmapi.NodeStateDown
	}
	return n
}

// The observer takes a manager's node list only when it counts by the rule
// status and bootstrap use (swarm.Judge): a leader and a reachable majority.
func TestObserverListCountsOnlyAnAnswerWithQuorum(t *testing.T) {
	o := NewObserver(func() []remote.Target { return nil }, ObserverOptions{})
	reach, unreach := swarmapi.ReachabilityReachable, swarmapi.ReachabilityUnreachable
	tests := []struct {
		name  string
		nodes fakeLister
		want  string // in the error; "" for an answer that counts
	}{
		{name: "leader and all managers reachable",
			nodes: fakeLister{manager("m1", reach, true), manager("m2", reach, false), manager("m3", reach, false)}},
		{name: "one manager down, a majority left",
			nodes: fakeLister{manager("m1", unreach, false), manager("m2", reach, true), manager("m3", reach, false)}},
		{name: "a former leader cut off from the others",
			nodes: fakeLister{manager("m1", reach, true), manager("m2", unreach, false), manager("m3", unreach, false)},
			want:  "cut off from the others"},
		{name: "no leader",
			nodes: fakeLister{manager("m1", reach, false), manager("m2", unreach, false), manager("m3", unreach, false)},
			want:  "no leader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := o.list(context.Background(), tt.nodes, "m1")
			if tt.want == "" {
				if err != nil || snap.Via != "m1" || len(snap.Nodes) != len(tt.nodes) {
					t.Fatalf("snapshot %+v, err %v", snap, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}
