package heal

import (
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	cases := []struct {
		name, in string
		check    func(t *testing.T, p Policy)
		err      string
	}{
		{name: "an empty block gives the defaults", in: "", check: func(t *testing.T, p Policy) {
			if p.Grace != 60*time.Second || p.StartupTimeout != 10*time.Minute || p.MaxUnhealthy.Of(10) != 1 || p.RetryLimit != 3 || p.PromoteWorkerAfter != 0 {
				t.Fatalf("defaults: %+v", p)
			}
		}},
		{name: "a percentage max unhealthy rounds down", in: "maxUnhealthy: 40%", check: func(t *testing.T, p Policy) {
			if got := p.MaxUnhealthy.Of(5); got != 2 {
				t.Fatalf("40%% of 5 = %d, want 2", got)
			}
			if got := p.MaxUnhealthy.Of(4); got != 1 {
				t.Fatalf("40%% of 4 = %d, want 1", got)
			}
		}},
		{name: "a count max unhealthy is taken as is", in: "maxUnhealthy: 2\ngrace: 5s\nspares: {hoster-a: 1}", check: func(t *testing.T, p Policy) {
			if p.MaxUnhealthy.Of(100) != 2 || p.Grace != 5*time.Second || p.Spares["hoster-a"] != 1 {
				t.Fatalf("got %+v", p)
			}
		}},
		{name: "an unknown key is an error", in: "gracePeriod: 5s", err: "gracePeriod"},
		{name: "a bad duration names the field", in: "grace: soon", err: "grace"},
		{name: "a percentage above 100 is refused", in: "maxUnhealthy: 140%", err: "percentage"},
		{name: "a zero retry limit is refused", in: "retryLimit: 0", err: "retryLimit"},
		{name: "negative spares are refused", in: "spares: {hoster-a: -1}", err: "spares.hoster-a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
		})
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	p := DefaultPolicy()
	p.Backoff, p.MaxBackoff = time.Minute, 5*time.Minute
	for attempts, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 5 * time.Minute, 9: 5 * time.Minute} {
		if got := p.BackoffFor(attempts); got != want {
			t.Errorf("BackoffFor(%d) = %s, want %s", attempts, got, want)
		}
	}
}
