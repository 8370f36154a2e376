package backup

import (
	"errors"
	"net"
	"strings"
	"testing"

	swarmtypes "github.com/moby/moby/api/types/swarm"
)

func TestPickManagerSparesOneNonLeaderOnlyWhenQuorumHolds(t *testing.T) {
	up := func(name string) Member { return Member{Name: name, Reachable: true, Ready: true} }
	leader := func(name string) Member { m := up(name); m.Leader = true; return m }
	down := func(name string) Member { return Member{Name: name} }
	self := func(name string) Member { m := up(name); m.Self = true; return m }
	tests := []struct {
		name    string
		ms      []Member
		want    string
		wantErr string
	}{
		{name: "three managers: the first that does not lead", ms: []Member{leader("m1"), up("m2"), up("m3")}, want: "m2"},
		{name: "the leader is never chosen, wherever it is", ms: []Member{up("m1"), leader("m2"), up("m3")}, want: "m1"},
		{name: "a manager that is down is skipped while quorum holds without it",
			ms: []Member{leader("m1"), down("m2"), up("m3"), up("m4"), up("m5")}, want: "m3"},
		{name: "the manager running the backup is never chosen", ms: []Member{leader("m1"), self("m2"), up("m3")}, want: "m3"},
		{name: "the leader and the backup's own manager leave none", ms: []Member{leader("m1"), self("m2"), down("m3"), up("m4"), up("m5")}, want: "m4"},
		{name: "three managers, one down, the backup on the third: refused", ms: []Member{leader("m1"), self("m2"), up("m3"), down("m4"), down("m5")}, wantErr: "quorum needs 3"},
		{name: "one manager cannot be spared", ms: []Member{leader("m1")}, wantErr: "one manager"},
		{name: "three managers with one down cannot spare another",
			ms: []Member{leader("m1"), up("m2"), down("m3")}, wantErr: "2 of 3 managers are reachable: stopping one more leaves 1, and quorum needs 2"},
		{name: "five managers with two down cannot spare another",
			ms: []Member{leader("m1"), up("m2"), up("m3"), down("m4"), down("m5")}, wantErr: "quorum needs 3"},
		{name: "no manager at all", wantErr: "no manager"},
		{name: "reachable but not ready is not copied",
			ms: []Member{leader("m1"), {Name: "m2", Reachable: true}, {Name: "m3", Reachable: true}, up("m4"), up("m5")}, want: "m4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PickManager(tt.ms)
			if tt.wantErr != "" {
				var re *RefusedError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "nothing was stopped") {
					t.Fatalf("err = %v, want a refusal naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Node != tt.want || !strings.Contains(p.Why, "keep quorum") {
				t.Errorf("pick = %+v, want %s with the reason", p, tt.want)
			}
		})
	}
}

func TestSelfAtWaitsForTheLeadersNewAddress(t *testing.T) {
	leader := func(addr string) swarmtypes.Node {
		return swarmtypes.Node{ManagerStatus: &swarmtypes.ManagerStatus{Leader: true, Addr: addr}}
	}
	if ok, why := selfAt([]swarmtypes.Node{leader("10.0.0.9:2377")}, net.ParseIP("10.0.0.5")); ok || !strings.Contains(why, "still 10.0.0.9:2377") {
		t.Errorf("old address: ok %v, %q", ok, why)
	}
	if ok, _ := selfAt([]swarmtypes.Node{{}, leader("10.0.0.5:2377")}, net.ParseIP("10.0.0.5")); !ok {
		t.Errorf("new address not seen")
	}
	if ok, why := selfAt([]swarmtypes.Node{{}}, nil); ok || !strings.Contains(why, "no leader") {
		t.Errorf("no leader: ok %v, %q", ok, why)
	}
}
