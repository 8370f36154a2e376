package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Marshal renders inv as an inventory file that Parse reads back to an
// equal inventory (when read under the same path). Defaults are written
// out. Relative ssh paths are written relative to the directory of
// inv.Path again, since Parse resolves them against it. Marshal does not
// validate.
func Marshal(inv *Inventory) ([]byte, error) {
	if inv == nil {
		return nil, errors.New("marshal inventory: no inventory")
	}
	out := *inv
	out.SetDefaults()
	dir := filepath.Dir(inv.Path)
	for _, p := range []*string{&out.SSH.IdentityFile, &out.SSH.KnownHosts} {
		if *p == "" || filepath.IsAbs(*p) {
			continue
		}
		if rel, err := filepath.Rel(dir, *p); err == nil {
			*p = rel
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("marshal inventory: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal inventory: %w", err)
	}
	return b.Bytes(), nil
}
