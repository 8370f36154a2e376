package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/suggest"
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
	proj, err := workspace.LoadProjectBytes(project, "Pulumi.yaml", encoding.YAML)
	if err != nil {
		return c, &ConfigError{Key: "Pulumi.yaml", Msg: err.Error()}
	}
	var st struct {
		Config map[string]config.Value `yaml:"config"`
	}
	if err := yaml.Unmarshal(stackFile, &st); err != nil {
		return c, &ConfigError{Key: "Pulumi." + stack + ".yaml", Msg: err.Error()}
	}
	projectName := proj.Name.String()
	qualify := func(k string) string {
		if strings.Contains(k, ":") {
			return k
		}
		return projectName + ":" + k
	}
	declared := map[string]workspace.ProjectConfigType{}
	for k, t := range proj.Config {
		declared[qualify(k)] = t
	}

	var errs []error
	fail := func(k, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: k, Msg: fmt.Sprintf(format, args...)})
	}
	// shoalKey is the key's name below the namespace, when it is one the
	// program reads; an unknown one is a problem.
	shoalKey := func(full string) (string, bool) {
		if err := UnknownKeys([]string{full}); err != nil {
			errs = append(errs, err)
			return "", false
		}
		name, ok := strings.CutPrefix(full, Namespace+":")
		return name, ok // another namespace (hcloud:token): not the program's to judge
	}
	// check applies Pulumi.yaml's declaration to a value, as Pulumi does
	// before the program runs.
	check := func(full string, v config.Value, what string) {
		t, ok := declared[full]
		if !ok {
			return
		}
		if t.Secret && !v.Secure() {
			fail(full, "%s must be a secret: Pulumi.yaml declares it secret (`pulumi config set --secret %s`)", what, full)
			return
		}
		if t.Type == nil || v.Secure() {
			return
		}
		var content any
		raw, _ := v.Value(config.NopDecrypter)
		content = raw
		if v.Object() {
			if content, err = v.ToObject(); err != nil {
				fail(full, "%s: %v", what, err)
				return
			}
		}
		if !workspace.ValidateConfigValue(*t.Type, t.Items, content) {
			fail(full, "%s must be of type %s, as Pulumi.yaml declares", what, workspace.InferFullTypeName(*t.Type, t.Items))
		}
	}

	c.External = map[string]bool{}
	for _, k := range sortedKeys(st.Config) {
		full, v := qualify(k), st.Config[k]
		name, ok := shoalKey(full)
		if !ok {
			if !strings.HasPrefix(full, Namespace+":") {
				c.External[full] = v.Secure() // an account's token key, perhaps
			}
			continue
		}
		check(full, v, "the value")
		if v.Secure() {
			c.Values[name], c.Secret[name] = "", true
			continue
		}
		c.Values[name], _ = v.Value(config.NopDecrypter)
	}

	for _, full := range sortedKeys(declared) {
		t := declared[full]
		name, ok := shoalKey(full)
		if !ok {
			continue
		}
		if _, set := c.Values[name]; set {
			continue
		}
		def := t.Value
		if t.Default != nil {
			def = t.Default // Pulumi lets the default win over a fixed value
		}
		if def == nil {
			if strings.HasPrefix(full, projectName+":") {
				fail(full, "is required: Pulumi.yaml declares it without a default and the stack file does not set it")
			}
			continue
		}
		v, err := declaredValue(def)
		if err != nil {
			fail(full, "default in Pulumi.yaml: %v", err)
			continue
		}
		check(full, v, "its default in Pulumi.yaml")
		raw, _ := v.Value(config.NopDecrypter)
		if raw == "" && (name == KeySSHPrivateKey || name == KeyVaultToken) {
			continue // an empty default of a secret is "not set", as Load reads it
		}
		c.Values[name] = raw
	}
	return c, errors.Join(errs...)
}

// declaredValue is the config value Pulumi makes of a default in
// Pulumi.yaml: a string, number or bool as its text, anything else as JSON.
func declaredValue(raw any) (config.Value, error) {
	switch raw.(type) {
	case string, int, bool:
		return config.NewValue(fmt.Sprintf("%v", raw)), nil
	}
	v, err := workspace.SimplifyMarshalledValue(raw)
	if err != nil {
		return config.Value{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return config.Value{}, err
	}
	return config.NewObjectValue(string(b)), nil
}

// UnknownKeys returns a *ConfigError for every key of namespace shoal
// among keys ("shoal:firewal") that the program does not read, naming the
// nearest known one; keys of other namespaces are not its business.
func UnknownKeys(keys []string) error {
	var errs []error
	for _, full := range keys {
		if name, ok := strings.CutPrefix(full, Namespace+":"); ok && !slices.Contains(Keys, name) {
			errs = append(errs, &ConfigError{Key: full, Msg: "is not a key shoal reads" + suggestKey(full)})
		}
	}
	return errors.Join(errs...)
}

// suggestKey is " (did you mean shoal:firewall?)" for the known key
// nearest to full, or the list of known keys when none is near.
func suggestKey(full string) string {
	if best := suggest.Nearest(strings.TrimPrefix(full, Namespace+":"), Keys); best != "" {
		return fmt.Sprintf(": did you mean %s?", key(best))
	}
	known := make([]string, len(Keys))
	for i, k := range Keys {
		known[i] = key(k)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
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
		if near := suggest.Nearest(field, fields); near != "" {
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
