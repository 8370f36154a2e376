package quorum

import (
	"slices"
	"testing"
)

func TestMajority(t *testing.T) {
	tests := []struct {
		name     string
		managers int
		want     int
	}{
		{"no managers need no majority", 0, 0},
		{"a negative count is treated as none", -3, 0},
		{"one manager is its own majority", 1, 1},
		{"two managers both have to agree", 2, 2},
		{"three managers need two", 3, 2},
		{"four managers need three", 4, 3},
		{"five managers need three", 5, 3},
		{"seven managers need four", 7, 4},
		{"nine managers need five", 9, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Majority(tt.managers); got != tt.want {
				t.Errorf("Majority(%d) = %d, want %d", tt.managers, got, tt.want)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	tests := []struct {
		name     string
		managers int
		want     int
	}{
		{"no managers tolerate nothing", 0, 0},
		{"a negative count tolerates nothing", -1, 0},
		{"one manager tolerates no failure", 1, 0},
		{"two managers tolerate no more than one does", 2, 0},
		{"three managers tolerate one failure", 3, 1},
		{"four managers tolerate no more than three do", 4, 1},
		{"five managers tolerate two failures", 5, 2},
		{"six managers tolerate no more than five do", 6, 2},
		{"seven managers tolerate three failures", 7, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tolerance(tt.managers); got != tt.want {
				t.Errorf("Tolerance(%d) = %d, want %d", tt.managers, got, tt.want)
			}
		})
	}
}

func TestMajorityAndToleranceAddUp(t *testing.T) {
	for n := 1; n <= 15; n++ {
		if got := Majority(n) + Tolerance(n); got != n && got != n+1 {
			t.Errorf("Majority(%d)+Tolerance(%d) = %d, want %d (odd) or %d (even)", n, n, got, n, n+1)
		}
		if n-Tolerance(n) < Majority(n) {
			t.Errorf("losing Tolerance(%d)=%d managers leaves %d, below Majority %d", n, Tolerance(n), n-Tolerance(n), Majority(n))
		}
		if n-Tolerance(n)-1 >= Majority(n) {
			t.Errorf("Tolerance(%d)=%d is too low: losing one more still leaves a majority", n, Tolerance(n))
		}
	}
}

func TestHosterRisk(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]int
		want []string
	}{
		{"no hosters put nothing at risk", nil, nil},
		{"a single manager is lost with its hoster", map[string]int{"hcloud": 1}, []string{"hcloud"}},
		{"three managers on one hoster are lost together", map[string]int{"hcloud": 3}, []string{"hcloud"}},
		{"three managers on three hosters survive any one outage", map[string]int{"hcloud": 1, "vultr": 1, "scaleway": 1}, nil},
		{"two of three managers on one hoster put that hoster at risk", map[string]int{"hcloud": 2, "vultr": 1}, []string{"hcloud"}},
		{"two managers on two hosters put both at risk", map[string]int{"vultr": 1, "hcloud": 1}, []string{"hcloud", "vultr"}},
		{"four managers split two and two put both at risk", map[string]int{"a": 2, "b": 2}, []string{"a", "b"}},
		{"four managers split two one one put the pair at risk", map[string]int{"a": 2, "b": 1, "c": 1}, []string{"a"}},
		{"five managers split two two one survive any one outage", map[string]int{"a": 2, "b": 2, "c": 1}, nil},
		{"five managers with three on one hoster put it at risk", map[string]int{"a": 3, "b": 1, "c": 1}, []string{"a"}},
		{"seven managers split three two two survive any one outage", map[string]int{"a": 3, "b": 2, "c": 2}, nil},
		{"hosters with zero or negative counts hold no manager", map[string]int{"a": 1, "b": 1, "c": 1, "d": 0, "e": -2}, nil},
		{"a hoster without managers is not at risk even when others are", map[string]int{"a": 2, "b": 0}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HosterRisk(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("HosterRisk(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name             string
		total, reachable int
		want             string
	}{
		{"no managers at all is lost", 0, 0, Lost},
		{"a negative total is lost", -1, 0, Lost},
		{"one of one reachable is ok", 1, 1, OK},
		{"none of one reachable is lost", 1, 0, Lost},
		{"three of three reachable is ok", 3, 3, OK},
		{"two of three reachable is degraded", 3, 2, Degraded},
		{"one of three reachable is lost", 3, 1, Lost},
		{"one of two reachable is lost", 2, 1, Lost},
		{"three of four reachable is degraded", 4, 3, Degraded},
		{"two of four reachable is lost", 4, 2, Lost},
		{"three of five reachable is degraded", 5, 3, Degraded},
		{"two of five reachable is lost", 5, 2, Lost},
		{"more reachable than known counts as all reachable", 3, 4, OK},
		{"a negative reachable count is lost", 3, -1, Lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Health(tt.total, tt.reachable); got != tt.want {
				t.Errorf("Health(%d, %d) = %q, want %q", tt.total, tt.reachable, got, tt.want)
			}
		})
	}
}
