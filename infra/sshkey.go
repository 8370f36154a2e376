package infra

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/shoalops/shoal/infra/node"
)

// KeyPair is the SSH key pair shoal generates for a stack that sets none
// and whose pools are all local (the built-in local stack): `shoal up`
// keeps it in $SHOAL_HOME and hands it to the program through Options,
// never through the stack config. Private is PEM and a secret.
type KeyPair struct {
	Private string
	Public  string // authorized_keys format
}

// placeholderKey stands in for the generated key while a stack is checked
// before the key exists (Preflight); only its shape matters.
var placeholderKey = &KeyPair{Public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuFEMUkGc879kD3w0m47fuFAOjRkLh/FeYQdJ9uM3p8 shoal-generated"}

// LocalOnly tells whether every node of the spec is a lab VPS on this
// machine's Docker Engine.
func (s Spec) LocalOnly() bool {
	return len(s.Pools) > 0 && !slices.ContainsFunc(s.Pools, func(pl Pool) bool { return pl.Provider != node.ProviderLocal })
}

// parseWithKey parses c, with k as the SSH key pair when c sets neither
// key and every pool is local; usesKey says whether it did. Any other
// stack must set its own key pair, and Parse says how.
func parseWithKey(c Config, k *KeyPair) (s Spec, warnings []string, usesKey bool, err error) {
	_, priv := c.Values[KeySSHPrivateKey]
	pub := strings.TrimSpace(c.Values[KeySSHPublicKey]) != "" // Pulumi.yaml's default "" is not set
	if k != nil && !priv && !pub {
		t := Config{Stack: c.Stack, Values: maps.Clone(c.Values), Secret: maps.Clone(c.Secret), LocalSuffix: c.LocalSuffix}
		if t.Secret == nil {
			t.Secret = map[string]bool{}
		}
		t.Values[KeySSHPrivateKey], t.Secret[KeySSHPrivateKey] = "", true
		t.Values[KeySSHPublicKey] = k.Public
		if s, warnings, err := Parse(t); s.LocalOnly() {
			return s, warnings, true, err
		}
	}
	s, warnings, err = Parse(c)
	return s, warnings, false, err
}

// Preflight checks a stack before anything is created for it: its files
// as Pulumi reads them (ConfigFromFiles: no unknown shoal:* key, every key
// Pulumi.yaml requires is set) and the config as the program validates it
// (Parse). needsKey says that the stack sets no SSH key pair and is all
// local pools, so the caller must hand the program a generated one
// (Options.SSHKey). Every problem is a *ConfigError naming its key; a key
// both complain about is named once, with the program's message. Preflight
// is pure.
func Preflight(stack string, project, stackFile []byte) (needsKey bool, warnings []string, err error) {
	c, fileErr := ConfigFromFiles(stack, project, stackFile)
	_, warnings, needsKey, parseErr := parseWithKey(c, placeholderKey)
	named := map[string]bool{}
	for _, ce := range ConfigErrors(parseErr) {
		named[ce.Key] = true
	}
	var errs []error
	for _, ce := range ConfigErrors(fileErr) {
		if !named[ce.Key] {
			errs = append(errs, ce)
		}
	}
	errs = append(errs, parseErr)
	return needsKey, warnings, errors.Join(errs...)
}
