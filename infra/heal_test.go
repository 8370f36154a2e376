package infra

import (
	"strings"
	"testing"
	"time"
)

func TestHealConfigIsReadStrictly(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want string // "" = valid
	}{
		{``, ""},
		{`{}`, ""},
		{`{"grace":"30s","maxUnhealthy":"40%","retryLimit":2,"startupTimeout":"5m"}`, ""},
		{`{"grace":"30s","retries":2}`, "field retries not found"},
		{`{"grace":"soon"}`, "grace: time: invalid duration"},
		{`{"retryLimit":0}`, "retryLimit must be at least 1"},
		{`{"maxUnhealthy":"140%"}`, "a percentage must be 0% to 100%"},
		{`{"spares":{"hz":1}}`, "shoal:heal.spares: warm spares are not part of the Pulumi program"},
		{`{"enabled":true,"grace":"30s","maxUnhealthy":"40%","retryLimit":2}`, ""},
		{`{"enabled":"yes"}`, "shoal:heal.enabled: must be true or false"},
		{`{"image":""}`, "shoal:heal.image: must be an image reference"},
		{`{"image":"a b"}`, "shoal:heal.image: must be an image reference"},
		{`[1]`, "shoal:heal: must be an object"},
	} {
		pol, err := HealPolicy(Config{Stack: "s", Values: map[string]string{KeyHeal: c.raw}})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.raw, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want %q", c.raw, err, c.want)
		case c.want != "" && !strings.Contains(err.Error(), "shoal:heal"):
			t.Errorf("%s: %v does not name shoal:heal", c.raw, err)
		}
		if c.want == "" && strings.Contains(c.raw, "30s") && (pol.Grace != 30*time.Second || pol.MaxUnhealthy.String() != "40%" || pol.RetryLimit != 2) {
			t.Errorf("%s: policy %+v", c.raw, pol)
		}
	}
}

func TestHealServiceIsReadFromShoalHeal(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  string
		want HealService
	}{
		{"no shoal:heal runs no service", ``, HealService{}},
		{"a policy alone runs no service", `{"grace":"30s"}`, HealService{}},
		{"enabled runs the built image", `{"enabled":true}`, HealService{Enabled: true}},
		{"an air-gapped user names the image", `{"enabled":true,"image":"reg.example:5000/shoal-heal:1"}`, HealService{Enabled: true, Image: "reg.example:5000/shoal-heal:1"}},
		{"disabled keeps the image for later", `{"enabled":false,"image":"x/heal:1"}`, HealService{Image: "x/heal:1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := HealServiceOf(Config{Stack: "s", Values: map[string]string{KeyHeal: c.raw}})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			// The service keys never reach the policy parser as unknown keys.
			if _, err := HealPolicy(Config{Stack: "s", Values: map[string]string{KeyHeal: c.raw}}); err != nil {
				t.Errorf("policy: %v", err)
			}
		})
	}
}
