package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigFromFiles is the config the program will see for stack, read from
// the project's Pulumi.yaml and the stack's Pulumi.<stack>.yaml as Pulumi
// merges them: the stack file's shoal:* values (keys without a namespace
// belong to the project's), then Pulumi.yaml's defaults for the keys the
// stack file leaves out. Secure values are marked secret; their values
// are not read.
//
// It is strict where Pulumi is lenient: every shoal:* key must be one the
// program reads (Keys), and a key Pulumi.yaml declares in the project's
// namespace without a default must be set. Each problem is a *ConfigError
// naming the key (and, for an unknown key, the nearest known one), so a
// caller can refuse a stack before anything is created. ConfigFromFiles is
// pure.
func ConfigFromFiles(stack string, project, stackFile []byte) (Config, error) {
	c := Config{Stack: stack, Values: map[string]string{}, Secret: map[string]bool{}}
	var proj struct {
		Name   string               `yaml:"name"`
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(project, &proj); err != nil {
		return c, &ConfigError{Key: "Pulumi.yaml", Msg: err.Error()}
	}
	var st struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(stackFile, &st); err != nil {
		return c, &ConfigError{Key: "Pulumi." + stack + ".yaml", Msg: err.Error()}
	}
	qualify := func(k string) string {
		if strings.Contains(k, ":") {
			return k
		}
		return proj.Name + ":" + k
	}

	var errs []error
	unknown := func(full string) bool {
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok {
			return false // another namespace (hcloud:token): not the program's to judge
		}
		name, _, _ = strings.Cut(name, ".") // path syntax: shoal:swarm.autolock
		if slices.Contains(Keys, name) {
			return false
		}
		errs = append(errs, &ConfigError{Key: full, Msg: "is not a key shoal reads" + suggestKey(full)})
		return true
	}

	for _, k := range sortedKeys(st.Config) {
		full := qualify(k)
		if unknown(full) {
			continue
		}
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok {
			continue
		}
		node := st.Config[k]
		if secure(&node) {
			c.Values[name], c.Secret[name] = "", true
			continue
		}
		v, err := configValue(&node)
		if err != nil {
			errs = append(errs, &ConfigError{Key: full, Msg: err.Error()})
			continue
		}
		c.Values[name] = v
	}

	for _, k := range sortedKeys(proj.Config) {
		full := qualify(k)
		if unknown(full) {
			continue
		}
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok {
			continue
		}
		if _, set := c.Values[name]; set {
			continue
		}
		decl := proj.Config[k]
		def, has := declaredDefault(&decl)
		if !has {
			if strings.HasPrefix(full, proj.Name+":") {
				errs = append(errs, &ConfigError{Key: full, Msg: "is required: Pulumi.yaml declares it without a default and the stack file does not set it"})
			}
			continue
		}
		v, err := configValue(def)
		if err != nil {
			errs = append(errs, &ConfigError{Key: full, Msg: "default in Pulumi.yaml: " + err.Error()})
			continue
		}
		if v == "" && (name == KeySSHPrivateKey || name == KeyVaultToken) {
			continue // an empty default of a secret is "not set", as Load reads it
		}
		c.Values[name] = v
	}
	return c, errors.Join(errs...)
}

// suggestKey is " (did you mean shoal:firewall?)" for the known key
// nearest to full, or the list of known keys when none is near.
func suggestKey(full string) string {
	if best := nearest(strings.TrimPrefix(full, Namespace+":"), Keys); best != "" {
		return fmt.Sprintf(": did you mean %s?", key(best))
	}
	known := make([]string, len(Keys))
	for i, k := range Keys {
		known[i] = key(k)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// secure tells whether a stack file value is {secure: ...}.
func secure(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "secure"
}

// declaredDefault is the default (or fixed value) of a Pulumi.yaml config
// declaration: {type, default, value, ...}, or a bare value.
func declaredDefault(n *yaml.Node) (*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		return n, true // `aws:region: us-east-1` sets a value
	}
	isDecl := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "type", "description", "secret", "items":
			isDecl = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "default" || k == "value" {
			return n.Content[i+1], true
		}
	}
	if !isDecl {
		return n, true // an object value without a declaration
	}
	return nil, false
}

// configValue renders a YAML value as the program receives it: strings
// as they are, everything else as JSON.
func configValue(n *yaml.Node) (string, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return n.Value, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return "", err
	}
	if v == nil {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// decodeAt reads raw into v strictly (decode) and reports a problem at k:
// an unknown field is named as k.field, with the nearest field v has.
func (p *parser) decodeAt(k, raw string, v any, shape string) bool {
	err := decode(raw, v)
	if err == nil {
		return true
	}
	if field, ok := unknownField(err); ok {
		fields := jsonFields(v)
		msg := fmt.Sprintf("is not a field of %s", strings.TrimPrefix(k, Namespace+":"))
		if near := nearest(field, fields); near != "" {
			msg += fmt.Sprintf(": did you mean %s?", near)
		} else {
			msg += fmt.Sprintf(" (fields: %s)", strings.Join(fields, ", "))
		}
		p.fail(k+"."+field, "%s", msg)
		return false
	}
	p.fail(k, "must be %s: %v", shape, err)
	return false
}

// unknownField is the field name of encoding/json's `json: unknown field
// "x"` error.
func unknownField(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	return strings.Trim(rest, `"`), true
}

// jsonFields lists the JSON field names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// nearest is the candidate closest to s, or "" when none is close.
func nearest(s string, candidates []string) string {
	best, dist := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < dist {
			best, dist = c, d
		}
	}
	if dist <= max(2, len(s)/3) {
		return best
	}
	return ""
}
