package infra

import (
	"errors"
	"strings"

	"github.com/shoalops/shoal/heal"
)

// heal reads shoal:heal, the policy `shoal heal` uses for this stack, over
// heal.DefaultPolicy. Unknown fields and values that cannot work are
// refused, naming the field; warm spares are refused because the program
// creates no spares.
func (p *parser) heal() heal.Policy {
	raw, ok := p.c.Values[KeyHeal]
	if !ok || strings.TrimSpace(raw) == "" {
		return heal.DefaultPolicy()
	}
	pol, err := heal.ParsePolicy([]byte(raw)) // JSON is YAML; unknown keys fail
	if err != nil {
		p.fail(key(KeyHeal), "%s", strings.TrimPrefix(err.Error(), "heal policy: "))
		return heal.DefaultPolicy()
	}
	if len(pol.Spares) > 0 {
		p.fail(key(KeyHeal)+".spares", "warm spares are not part of the Pulumi program (heal replaces a stack's servers through it); remove spares")
	}
	return pol
}

// HealPolicy is shoal:heal of config c alone (the rest of the config is not
// checked): what `shoal heal` reads from a stack's files.
func HealPolicy(c Config) (heal.Policy, error) {
	p := &parser{c: c}
	pol := p.heal()
	return pol, errors.Join(p.errs...)
}
