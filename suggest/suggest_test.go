package suggest

import "testing"

func TestNearest(t *testing.T) {
	tests := []struct {
		name       string
		s          string
		candidates []string
		want       string
	}{
		{"one letter off is suggested", "m4", []string{"m1", "w1", "w2"}, "m1"},
		{"case does not count", "W2", []string{"m1", "w2"}, "w2"},
		{"a missing letter is suggested", "firewal", []string{"firewall", "pools"}, "firewall"},
		{"nothing close suggests nothing", "database", []string{"m1", "w1"}, ""},
		{"no candidates suggest nothing", "m1", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Nearest(tt.s, tt.candidates); got != tt.want {
				t.Errorf("Nearest(%q, %q) = %q, want %q", tt.s, tt.candidates, got, tt.want)
			}
		})
	}
}
