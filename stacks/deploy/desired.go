package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Labels shoal puts on the objects it deploys, beside docker's
// com.docker.stack.namespace and com.docker.stack.image.
const (
	// LabelSpecHash on a service is a hash of the spec shoal last sent; a
	// deploy whose desired spec hashes the same sends no update.
	LabelSpecHash = "shoal.stack.spec-hash"
	// LabelDataHash on a secret or config is a hash of its data, so a
	// changed file is noticed although the engine never returns secret data.
	// A compose file may set it itself when its bytes are not deterministic
	// (htpasswd files: bcrypt salts are random), to a version of the input.
	LabelDataHash = "shoal.stack.data-hash"
)

// Network option keys of the overlay driver.
const (
	optEncrypted = "encrypted"
	optMTU       = "com.docker.network.driver.mtu"
)

// Objects are the networks, secrets and configs a stack needs, before its
// services (whose specs refer to secrets and configs by ID).
type Objects struct {
	// Networks to create, by scoped name.
	Networks map[string]client.NetworkCreateOptions
	// ExternalNetworks must exist already.
	ExternalNetworks []string
	Secrets          []swarm.SecretSpec
	Configs          []swarm.ConfigSpec
}

// DesiredObjects converts the non-service parts of a loaded stack, applying
// shoal's overlay policy to every network the stack creates. It reads the
// `file:` sources of secrets and configs from s.Files (or the disk).
func DesiredObjects(s Stack, cfg *composetypes.Config, overlay Overlay) (Objects, error) {
	ns := convert.NewNamespace(s.Name)
	used := map[string]struct{}{}
	for _, svc := range cfg.Services {
		if len(svc.Networks) == 0 {
			used["default"] = struct{}{}
		}
		for n := range svc.Networks {
			used[n] = struct{}{}
		}
	}
	nets, external := convert.Networks(ns, cfg.Networks, used)
	for name, o := range nets {
		nets[name] = applyOverlay(o, overlay)
	}
	sort.Strings(external)
	objs := Objects{Networks: nets, ExternalNetworks: external}

	for _, key := range sortedKeys(cfg.Secrets) {
		sec := cfg.Secrets[key]
		if sec.External.External {
			continue
		}
		a, data, err := fileObject(s, ns, "secret", key, composetypes.FileObjectConfig(sec))
		if err != nil {
			return Objects{}, err
		}
		spec := swarm.SecretSpec{Annotations: a, Data: data}
		if sec.Driver != "" {
			spec.Driver = &swarm.Driver{Name: sec.Driver, Options: sec.DriverOpts}
		}
		if sec.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: sec.TemplateDriver}
		}
		objs.Secrets = append(objs.Secrets, spec)
	}
	for _, key := range sortedKeys(cfg.Configs) {
		c := cfg.Configs[key]
		if c.External.External {
			continue
		}
		a, data, err := fileObject(s, ns, "config", key, composetypes.FileObjectConfig(c))
		if err != nil {
			return Objects{}, err
		}
		spec := swarm.ConfigSpec{Annotations: a, Data: data}
		if c.TemplateDriver != "" {
			spec.Templating = &swarm.Driver{Name: c.TemplateDriver}
		}
		objs.Configs = append(objs.Configs, spec)
	}
	return objs, nil
}

// applyOverlay sets encryption and MTU on an overlay network unless its
// compose entry set them.
func applyOverlay(o client.NetworkCreateOptions, p Overlay) client.NetworkCreateOptions {
	if o.Driver == "" {
		o.Driver = "overlay"
	}
	if o.Driver != "overlay" {
		return o
	}
	opts := map[string]string{}
	for k, v := range o.Options {
		opts[k] = v
	}
	if _, set := opts[optEncrypted]; !set && !p.Unencrypted {
		opts[optEncrypted] = ""
	}
	if _, set := opts[optMTU]; !set && p.MTU > 0 {
		opts[optMTU] = fmt.Sprint(p.MTU)
	}
	o.Options = opts
	return o
}

// fileObject reads a secret's or config's source and names and labels it
// as docker stack deploy does, plus a hash of its data.
func fileObject(s Stack, ns convert.Namespace, kind, key string, obj composetypes.FileObjectConfig) (swarm.Annotations, []byte, error) {
	name := obj.Name
	if name == "" {
		name = ns.Scope(key)
	}
	a := swarm.Annotations{Name: name, Labels: convert.AddStackLabel(ns, obj.Labels)}
	if obj.Driver != "" { // data comes from the driver
		return a, nil, nil
	}
	data, err := readSource(s, obj.File)
	if err != nil {
		return a, nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	if a.Labels[LabelDataHash] == "" {
		// A file whose bytes differ on every render (a bcrypt salt) pins
		// its own version label instead.
		a.Labels[LabelDataHash] = hashOf(data)
	}
	return a, data, nil
}

func readSource(s Stack, file string) ([]byte, error) {
	if file == "" {
		return nil, fmt.Errorf("no file given (only file: and external: sources are supported)")
	}
	if s.Files == nil {
		return os.ReadFile(file)
	}
	rel := file
	if s.Dir != "" {
		r, err := filepath.Rel(s.Dir, file)
		if err != nil {
			return nil, err
		}
		rel = r
	}
	return fs.ReadFile(s.Files, filepath.ToSlash(filepath.Clean(rel)))
}

// DesiredServices converts the services of a loaded stack. ids maps the
// names of the secrets and configs the services use to their swarm IDs
// (the engine refers to them by ID); each spec carries LabelSpecHash.
func DesiredServices(ctx context.Context, name string, cfg *composetypes.Config, ids IDs) (map[string]swarm.ServiceSpec, error) {
	specs, err := convert.Services(ctx, convert.NewNamespace(name), cfg, idLookup{ids: ids})
	if err != nil {
		return nil, err
	}
	for k, spec := range specs {
		h, err := specHash(spec)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", k, err)
		}
		spec.Labels[LabelSpecHash] = h
		specs[k] = spec
	}
	return specs, nil
}

// IDs are the swarm IDs of secrets and configs, by name.
type IDs struct {
	Secrets map[string]string
	Configs map[string]string
}

// idLookup answers the two lookups docker/cli's convert makes to turn secret
// and config names into IDs from IDs already known. convert calls nothing
// else on it; any other call panics on the nil embedded interface.
type idLookup struct {
	client.APIClient
	ids IDs
}

func (l idLookup) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	var r client.SecretListResult
	for _, n := range sortedKeys(l.ids.Secrets) {
		r.Items = append(r.Items, swarm.Secret{ID: l.ids.Secrets[n], Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: n}}})
	}
	return r, nil
}

func (l idLookup) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	var r client.ConfigListResult
	for _, n := range sortedKeys(l.ids.Configs) {
		r.Items = append(r.Items, swarm.Config{ID: l.ids.Configs[n], Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: n}}})
	}
	return r, nil
}

// specHash hashes a service spec without its hash label. encoding/json
// sorts map keys and convert sorts its slices, so equal specs hash equal.
func specHash(spec swarm.ServiceSpec) (string, error) {
	labels := map[string]string{}
	for k, v := range spec.Labels {
		if k != LabelSpecHash {
			labels[k] = v
		}
	}
	spec.Labels = labels
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	return hashOf(b), nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
