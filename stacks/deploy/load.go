package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/schema"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// Load parses a stack's compose file and its overrides as `docker stack
// deploy` does: schema validation, ${VAR} interpolation from s.Env, merge of
// the overrides in order. Warnings name variables that are not set (they
// become empty, as in docker) and options a swarm ignores (build,
// container_name, ...).
func Load(s Stack) (*composetypes.Config, []string, error) {
	if err := ValidateName(s.Name); err != nil {
		return nil, nil, err
	}
	if len(s.Compose) == 0 {
		return nil, nil, errors.New("no compose file given")
	}
	details := composetypes.ConfigDetails{WorkingDir: s.Dir, Environment: map[string]string{}}
	for k, v := range s.Env {
		details.Environment[k] = v
	}
	for i, b := range append([][]byte{s.Compose}, s.Overrides...) {
		name := "compose file"
		if i > 0 {
			name = fmt.Sprintf("override %d", i)
		}
		dict, err := loader.ParseYAML(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		details.ConfigFiles = append(details.ConfigFiles, composetypes.ConfigFile{Filename: name, Config: dict})
	}
	details.Version = schema.Version(details.ConfigFiles[0].Config)

	missing := map[string]bool{}
	cfg, err := loader.Load(details, func(o *loader.Options) {
		lookup := o.Interpolate.LookupValue
		o.Interpolate.LookupValue = func(key string) (string, bool) {
			v, ok := lookup(key)
			if !ok {
				missing[key] = true
			}
			return v, ok
		}
	})
	if err != nil {
		var fpe *loader.ForbiddenPropertiesError
		if errors.As(err, &fpe) {
			var props []string
			for k, v := range fpe.Properties {
				props = append(props, k+": "+v)
			}
			sort.Strings(props)
			return nil, nil, fmt.Errorf("compose file has options a swarm does not support: %s", strings.Join(props, "; "))
		}
		return nil, nil, fmt.Errorf("load compose file: %w", err)
	}
	var warnings []string
	plain := plainVars(append([][]byte{s.Compose}, s.Overrides...))
	for _, k := range sortedKeys(missing) {
		if plain[k] { // ${VAR:-default} and friends are not worth a warning
			warnings = append(warnings, fmt.Sprintf("variable %s is not set: using an empty string", k))
		}
	}
	var dicts []map[string]any
	for _, f := range details.ConfigFiles {
		dicts = append(dicts, f.Config)
	}
	if u := loader.GetUnsupportedProperties(dicts...); len(u) > 0 {
		warnings = append(warnings, "ignoring options a swarm does not support: "+strings.Join(u, ", "))
	}
	for _, svc := range cfg.Services {
		if svc.Image == "" {
			return nil, warnings, fmt.Errorf("service %s: no image", svc.Name)
		}
		if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			return nil, warnings, fmt.Errorf("service %s: invalid image reference %q: %w", svc.Name, svc.Image, err)
		}
	}
	return cfg, warnings, nil
}

// plainRE matches $VAR and ${VAR} without a default or error modifier;
// $$ escapes a dollar sign.
var plainRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// plainVars names the variables the files use without a default.
func plainVars(files [][]byte) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		for _, m := range plainRE.FindAllSubmatch(f, -1) {
			if n := string(m[1]) + string(m[2]); n != "" {
				out[n] = true
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
