package infra

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shoalops/shoal/infra/local"
	"github.com/shoalops/shoal/infra/provider"
)

// schemaProp is a property of the provider's schema.
type schemaProp struct {
	Type                 string      `json:"type"`
	Ref                  string      `json:"$ref"`
	Items                *schemaProp `json:"items"`
	AdditionalProperties *schemaProp `json:"additionalProperties"`
}

// providerSchema is the part of shoal's provider schema the check reads.
type providerSchema struct {
	Version   string `json:"version"`
	Resources map[string]struct {
		InputProperties map[string]schemaProp `json:"inputProperties"`
		RequiredInputs  []string              `json:"requiredInputs"`
	} `json:"resources"`
	Types map[string]struct {
		Properties map[string]schemaProp `json:"properties"`
		Required   []string              `json:"required"`
	} `json:"types"`
}

var (
	shoalSchemaOnce sync.Once
	shoalSchema     providerSchema
	shoalSchemaErr  error
)

// ownSchema is shoal's provider schema, as the provider itself answers
// GetSchema (run in-process).
func ownSchema() (providerSchema, error) {
	shoalSchemaOnce.Do(func() {
		prov, err := provider.New()
		if err != nil {
			shoalSchemaErr = err
			return
		}
		s, err := integration.NewServer(context.Background(), provider.Name, semver.MustParse(provider.Version), integration.WithProvider(prov))
		if err != nil {
			shoalSchemaErr = err
			return
		}
		resp, err := s.GetSchema(p.GetSchemaRequest{})
		if err != nil {
			shoalSchemaErr = err
			return
		}
		shoalSchemaErr = json.Unmarshal([]byte(resp.Schema), &shoalSchema)
	})
	return shoalSchema, shoalSchemaErr
}

// checkOwnArgs checks the inputs of a registration of shoal's own
// provider (shoal:*) against the provider's GetSchema: known input names,
// required inputs, and the type of every value, nested objects included.
func checkOwnArgs(typ string, inputs resource.PropertyMap) error {
	s, err := ownSchema()
	if err != nil {
		return fmt.Errorf("shoal provider schema: %w", err)
	}
	res, ok := s.Resources[typ]
	if !ok {
		return fmt.Errorf("%s: shoal's provider has no such resource (schema: %q)", typ, sortedKeys(s.Resources))
	}
	c := &schemaChecker{s: s, typ: typ}
	c.object("", inputs, res.InputProperties, res.RequiredInputs)
	if len(c.errs) > 0 {
		return fmt.Errorf("%s: %s", typ, strings.Join(c.errs, "; "))
	}
	return nil
}

type schemaChecker struct {
	s    providerSchema
	typ  string
	errs []string
}

func (c *schemaChecker) errf(path, format string, args ...any) {
	c.errs = append(c.errs, path+" "+fmt.Sprintf(format, args...))
}

func (c *schemaChecker) object(path string, m resource.PropertyMap, props map[string]schemaProp, required []string) {
	for _, k := range m.StableKeys() {
		ps, ok := props[string(k)]
		if !ok {
			c.errf(join(path, string(k)), "is not in the provider's schema (properties: %q)", sortedKeys(props))
			continue
		}
		c.value(join(path, string(k)), m[k], ps)
	}
	for _, r := range required {
		if v, ok := m[resource.PropertyKey(r)]; !ok || v.IsNull() {
			c.errf(join(path, r), "is required by the provider's schema")
		}
	}
}

func (c *schemaChecker) value(path string, v resource.PropertyValue, ps schemaProp) {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsComputed() || v.IsOutput() || v.IsNull() {
		return
	}
	if ps.Ref != "" {
		name := strings.TrimPrefix(ps.Ref, "#/types/")
		t, ok := c.s.Types[name]
		if !ok {
			c.errf(path, "refers to type %s the schema lacks", ps.Ref)
			return
		}
		if !v.IsObject() {
			c.errf(path, "is %s, want an object %s", v.TypeString(), name)
			return
		}
		c.object(path, v.ObjectValue(), t.Properties, t.Required)
		return
	}
	switch ps.Type {
	case "string":
		if !v.IsString() {
			c.errf(path, "is %s, want a string", v.TypeString())
		}
	case "integer":
		if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) {
			c.errf(path, "is %s, want an integer", v.TypeString())
		}
	case "number":
		if !v.IsNumber() {
			c.errf(path, "is %s, want a number", v.TypeString())
		}
	case "boolean":
		if !v.IsBool() {
			c.errf(path, "is %s, want a boolean", v.TypeString())
		}
	case "array":
		if !v.IsArray() {
			c.errf(path, "is %s, want an array", v.TypeString())
			return
		}
		for _, e := range v.ArrayValue() {
			if ps.Items != nil {
				c.value(path+"[]", e, *ps.Items)
			}
		}
	case "object":
		if !v.IsObject() {
			c.errf(path, "is %s, want an object", v.TypeString())
			return
		}
		if ps.AdditionalProperties != nil {
			for k, e := range v.ObjectValue() {
				c.value(join(path, string(k)), e, *ps.AdditionalProperties)
			}
		}
	case "":
		// any
	default:
		c.errf(path, "has schema type %q the check does not know", ps.Type)
	}
}

func TestTheProgramAsksForTheProvidersOwnVersion(t *testing.T) {
	s, err := ownSchema()
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != local.ProviderVersion || provider.Version != local.ProviderVersion {
		t.Errorf("the program asks for provider %s; the provider is %s (schema %s)", local.ProviderVersion, provider.Version, s.Version)
	}
}

func TestOwnArgumentCheckRefusesWrongArguments(t *testing.T) {
	obj := resource.NewPropertyMapFromMap
	for _, tt := range []struct {
		name, typ string
		in        resource.PropertyMap
		want      string
	}{
		{"an unknown input", ClusterType, obj(map[string]any{"name": "c", "nodes": []any{}, "sshPrivateKey": "k", "colour": "blue"}), "colour is not in the provider's schema"},
		{"a port as a string", ClusterType, obj(map[string]any{"name": "c", "sshPrivateKey": "k", "nodes": []any{
			map[string]any{"name": "m1", "address": "10.0.0.1", "role": "manager", "hoster": "a", "user": "root", "port": "22"}}}), "nodes[].port is string"},
		{"a server without its lab", local.ServerType, obj(map[string]any{"node": "m1", "hoster": "a", "role": "manager", "sshPublicKey": "k"}), "lab is required"},
		{"a type the provider lacks", "shoal:swarm:Volume", obj(map[string]any{}), "no such resource"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkOwnArgs(tt.typ, tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkOwnArgs = %v, want %q", err, tt.want)
			}
		})
	}
}
