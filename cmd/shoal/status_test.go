package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

func TestPrintStatusNamesWhoAnswered(t *testing.T) {
	tests := []struct {
		name string
		st   swarm.Status
		want []string
		not  []string
	}{
		{
			name: "the manager that answered is named, and the one passed over with its answer",
			st: swarm.Status{Cluster: "prod", Via: "m2", Quorum: "degraded", Managers: 3, ManagersReachable: 2, Asked: []swarm.Answer{
				{Node: "m1", Said: "The swarm does not have a leader"},
				{Node: "m2", Listed: true, Quorum: true, Said: "leader m3, 2 of 3 managers reachable"},
			}},
			want: []string{"answered by: m2 (leader m3, 2 of 3 managers reachable)", "not counted: m1: The swarm does not have a leader"},
		},
		{
			name: "a view without quorum is shown as that manager's, not as an answer",
			st: swarm.Status{Cluster: "prod", Via: "m1", Quorum: "lost", Managers: 3, ManagersReachable: 1, Asked: []swarm.Answer{
				{Node: "m1", Listed: true, Said: "leader m1, but only 1 of 3 managers reachable (2 needed)"},
			}},
			want: []string{"shown as seen by: m1"},
			not:  []string{"answered by"},
		},
		{
			name: "a swarm that records another cluster name is pointed out",
			st:   swarm.Status{Cluster: "prod", SwarmName: "staging", Via: "m1", Quorum: "ok", Managers: 1, ManagersReachable: 1},
			want: []string{`the swarm records cluster name "staging", the inventory says "prod"`, "shoal bootstrap --adopt"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printStatus(&b, tc.st)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output does not say %q:\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("output says %q:\n%s", w, b.String())
				}
			}
		})
	}
}
