package inventory

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckManagers(t *testing.T) {
	const key = "shoal:swarm.allowSingleHosterQuorum"
	tests := []struct {
		name         string
		layout       ManagerLayout
		wantProblems []ManagerProblem // Msg compared as a substring
		wantWarnings []string         // substrings
	}{
		{name: "three managers on three hosters pass",
			layout: ManagerLayout{Hosters: []string{"a", "b", "c"}, AllowKey: key}},
		{name: "no managers are a count problem",
			layout:       ManagerLayout{AllowKey: key},
			wantProblems: []ManagerProblem{{Msg: "no manager"}}},
		{name: "one manager is a warning only",
			layout:       ManagerLayout{Hosters: []string{"a"}, AllowKey: key},
			wantWarnings: []string{"1 manager: the swarm does not survive its loss"}},
		{name: "two managers on two hosters are an even count and each hoster holds too many",
			layout: ManagerLayout{Hosters: []string{"a", "b"}, AllowKey: key},
			wantProblems: []ManagerProblem{{Msg: "2 managers: an even count"},
				{Hoster: "a", Msg: `hoster "a" holds 1 of 2 managers`}, {Hoster: "b", Msg: `hoster "b" holds 1 of 2 managers`}}},
		{name: "two of three managers on one hoster name the hoster and the allow key",
			layout:       ManagerLayout{Hosters: []string{"a", "a", "c"}, AllowKey: key},
			wantProblems: []ManagerProblem{{Hoster: "a", Msg: `hoster "a" holds 2 of 3 managers: its outage alone leaves 1, fewer than the 2 quorum needs; spread the managers so that no hoster holds more than 1, or accept the risk with shoal:swarm.allowSingleHosterQuorum: true`}}},
		{name: "an accepted single-hoster risk is a warning naming the allow key",
			layout:       ManagerLayout{Hosters: []string{"a", "a", "c"}, AllowSingleHosterQuorum: true, AllowKey: key},
			wantWarnings: []string{"accepted because shoal:swarm.allowSingleHosterQuorum is true"}},
		{name: "nine managers over nine hosters warn about raft speed",
			layout:       ManagerLayout{Hosters: strings.Split("a b c d e f g h i", " "), AllowKey: key},
			wantWarnings: []string{"9 managers: every raft write waits"}},
		{name: "managers without a hoster are left to the caller",
			layout: ManagerLayout{Hosters: []string{"", "", "c"}, AllowKey: key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, problems := CheckManagers(tt.layout)
			if len(problems) != len(tt.wantProblems) {
				t.Fatalf("problems = %#v, want %d like %#v", problems, len(tt.wantProblems), tt.wantProblems)
			}
			for i, want := range tt.wantProblems {
				if problems[i].Hoster != want.Hoster || !strings.Contains(problems[i].Msg, want.Msg) {
					t.Errorf("problem %d = %#v, want hoster %q and a message containing %q", i, problems[i], want.Hoster, want.Msg)
				}
			}
			if len(warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, want %d like %q", warnings, len(tt.wantWarnings), tt.wantWarnings)
			}
			for i, want := range tt.wantWarnings {
				if !strings.Contains(warnings[i], want) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], want)
				}
			}
		})
	}
}

func TestCheckManagersIsWhatValidateReports(t *testing.T) {
	inv := &Inventory{Nodes: []Node{
		{Name: "m1", Address: "10.0.0.1", Role: RoleManager, Hoster: "a"},
		{Name: "m2", Address: "10.0.0.2", Role: RoleManager, Hoster: "a"},
		{Name: "m3", Address: "10.0.0.3", Role: RoleManager, Hoster: "b"},
	}}
	_, err := inv.Validate()
	_, problems := CheckManagers(ManagerLayout{Hosters: []string{"a", "a", "b"}, AllowKey: "cluster.allow_single_hoster_quorum"})
	var got []string
	for _, fe := range FieldErrors(err) {
		got = append(got, fe.Msg)
	}
	want := []string{problems[0].Msg}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate reported %q, CheckManagers %q", got, want)
	}
}
