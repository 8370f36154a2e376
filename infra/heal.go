package infra

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/shoalops/shoal/heal"
)

// HealService is what shoal:heal says about heal running on the cluster
// itself: `shoal up` runs it as a swarm service when Enabled (ADR 0026).
type HealService struct {
	// Enabled runs heal as a service on the managers.
	Enabled bool
	// Image is the heal image to run; "" is the one shoal builds
	// (`shoal heal image`), which air-gapped users override here.
	Image string
}

// healServiceKeys are the keys of shoal:heal that are about the service,
// not the policy: heal.ParsePolicy does not know them.
var healServiceKeys = []string{"enabled", "image"}

// heal reads shoal:heal: the policy `shoal heal` uses for this stack, over
// heal.DefaultPolicy, and whether and from which image heal runs on the
// cluster. Unknown fields and values that cannot work are refused, naming
// the field; warm spares are refused because the program creates no
// spares.
func (p *parser) heal() (heal.Policy, HealService) {
	raw, ok := p.c.Values[KeyHeal]
	if !ok || strings.TrimSpace(raw) == "" {
		return heal.DefaultPolicy(), HealService{}
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		p.fail(key(KeyHeal), "must be an object such as {\"enabled\": true, \"grace\": \"60s\"}: %v", err)
		return heal.DefaultPolicy(), HealService{}
	}
	var svc HealService
	if v, ok := all["enabled"]; ok {
		if err := json.Unmarshal(v, &svc.Enabled); err != nil {
			p.fail(key(KeyHeal)+".enabled", "must be true or false, got %s", v)
		}
	}
	if v, ok := all["image"]; ok {
		if err := json.Unmarshal(v, &svc.Image); err != nil || strings.TrimSpace(svc.Image) == "" || strings.ContainsAny(svc.Image, " \t\n") {
			p.fail(key(KeyHeal)+".image", "must be an image reference such as registry.example.com/shoal-heal:0.1.0, got %s", v)
			svc.Image = ""
		}
	}
	for _, k := range healServiceKeys {
		delete(all, k)
	}
	rest, _ := json.Marshal(all)       // re-marshalling decoded raw messages cannot fail
	pol, err := heal.ParsePolicy(rest) // JSON is YAML; unknown keys fail
	if err != nil {
		p.fail(key(KeyHeal), "%s", strings.TrimPrefix(err.Error(), "heal policy: "))
		return heal.DefaultPolicy(), svc
	}
	if len(pol.Spares) > 0 {
		p.fail(key(KeyHeal)+".spares", "warm spares are not part of the Pulumi program (heal replaces a stack's servers through it); remove spares")
	}
	return pol, svc
}

// HealPolicy is shoal:heal of config c alone (the rest of the config is not
// checked): what `shoal heal` reads from a stack's files.
func HealPolicy(c Config) (heal.Policy, error) {
	p := &parser{c: c}
	pol, _ := p.heal()
	return pol, errors.Join(p.errs...)
}

// HealServiceOf is shoal:heal's service part of config c alone: what
// `shoal up` reads to run heal on the cluster.
func HealServiceOf(c Config) (HealService, error) {
	p := &parser{c: c}
	_, svc := p.heal()
	return svc, errors.Join(p.errs...)
}
