package swarm

import (
	"errors"
	"strings"
	"testing"
)

func managers(reachable int, leader string) []Member {
	var ms []Member
	for i, name := range []string{"m1", "m2", "m3"} {
		m := Member{ID: "id-" + name, Hostname: "host-" + name, Role: "manager", Reachability: "unreachable", Labels: map[string]string{LabelNode: name}}
		if i < reachable {
			m.Reachability = "reachable"
		}
		m.Leader = name == leader
		ms = append(ms, m)
	}
	return append(ms, Member{ID: "id-w1", Role: "worker", State: "ready"})
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name       string
		members    []Member
		err        error
		wantQuorum bool
		wantListed bool
		said       string
	}{
		{
			name:       "a manager that sees a leader and a reachable majority counts",
			members:    managers(2, "m2"),
			wantQuorum: true, wantListed: true,
			said: "leader m2, 2 of 3 managers reachable",
		},
		{
			name: "a manager without a leader does not count, and its words are kept",
			err:  errors.New("node list: Error response from daemon: The swarm does not have a leader.\nIt's possible that too few managers are online."),
			said: "node list: Error response from daemon: The swarm does not have a leader. It's possible that too few managers are online.",
		},
		{
			name:       "a former leader cut off from the others does not count",
			members:    managers(1, "m1"),
			wantListed: true,
			said:       "leader m1, but only 1 of 3 managers reachable (2 needed)",
		},
		{
			name:       "a node list without a leader does not count",
			members:    managers(3, ""),
			wantListed: true,
			said:       "no leader in its node list",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Judge("m9", tc.members, tc.err)
			if a.Node != "m9" || a.Quorum != tc.wantQuorum || a.Listed != tc.wantListed || !strings.Contains(a.Said, tc.said) {
				t.Errorf("got %+v\nwant quorum %v, listed %v, said %q", a, tc.wantQuorum, tc.wantListed, tc.said)
			}
		})
	}
	t.Run("the leader is named by its hostname when it has no shoal.node label", func(t *testing.T) {
		ms := managers(3, "m1")
		delete(ms[0].Labels, LabelNode)
		if a := Judge("m1", ms, nil); !strings.Contains(a.Said, "leader host-m1") {
			t.Errorf("said %q", a.Said)
		}
	})
}

func TestChoose(t *testing.T) {
	no := Answer{Node: "m1", Said: "The swarm does not have a leader"}
	stale := Answer{Node: "m1", Listed: true, Said: "leader m1, but only 1 of 3"}
	ok2 := Answer{Node: "m2", Listed: true, Quorum: true}
	ok3 := Answer{Node: "m3", Listed: true, Quorum: true}
	down := Answer{Node: "m3", Said: "unreachable"}
	tests := []struct {
		name    string
		answers []Answer
		want    int
	}{
		{"the first manager that counts is used", []Answer{ok2, ok3}, 0},
		{"a manager without a leader is passed over for the next one", []Answer{no, ok2}, 1},
		{"a cut-off former leader is passed over for one with quorum", []Answer{stale, ok2}, 1},
		{"with no quorum anywhere, the first node list is used to show it", []Answer{no, stale, down}, 1},
		{"with no node list at all there is nothing to use", []Answer{no, down}, -1},
		{"no managers, no answer", nil, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Choose(tc.answers); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNotAsked(t *testing.T) {
	tests := []struct {
		name string
		h    HostState
		said string
	}{
		{"an unreachable manager says why", HostState{Err: "dial tcp 10.0.0.1:22: i/o timeout"}, "unreachable: dial tcp 10.0.0.1:22: i/o timeout"},
		{"a manager whose daemon is not in a swarm says so", HostState{Reachable: true, Local: LocalInactive}, "not a swarm manager (swarm state inactive)"},
		{"a manager whose daemon runs a worker says so", HostState{Reachable: true, Local: LocalActive}, "runs a swarm worker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := NotAsked("m1", tc.h); a.Quorum || a.Listed || !strings.Contains(a.Said, tc.said) {
				t.Errorf("got %+v, want it to say %q", a, tc.said)
			}
		})
	}
}

func TestNoQuorumErrorNamesEveryAnswer(t *testing.T) {
	err := &NoQuorumError{Cluster: "prod", Asked: []Answer{
		{Node: "m1", Said: "The swarm does not have a leader"},
		{Node: "m2", Said: "unreachable: i/o timeout"},
		{Node: "m3", Listed: true, Said: "leader m3, but only 1 of 3 managers reachable (2 needed)"},
	}}
	msg := err.Error()
	for _, s := range []string{"cluster prod", "m1: The swarm does not have a leader", "m2: unreachable", "m3: leader m3", "nothing was changed"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message does not say %q:\n%s", s, msg)
		}
	}
}
