package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// registered is one resource the program registered with the mock
// monitor.
type registered struct {
	Type, Name string
	Inputs     resource.PropertyMap
	Custom     bool
	Parent     string // URN
	Deps       []string
	Trigger    any // replacementTrigger, nil when not set
	DBR        bool
	ID         string
	Provider   string // "urn::id" of an explicit provider, "" for the default one
	URN        string
}

// mocks is a pulumi.MockResourceMonitor that checks every hoster
// resource's arguments against the provider's SDK and API (checkArgs: a
// wrong argument fails the registration, and so the test), returns inputs
// as outputs, plus fake ids (numbers, as hcloud's are) and fake public
// addresses from the documentation ranges, and records every
// registration.
type mocks struct {
	mu   sync.Mutex
	res  []registered
	next int
	addr map[string]string // resource name -> fake address
	// hcloudKeys are the SSH keys the fake Hetzner project already holds
	// (hcloud:index/getSshKeys:getSshKeys).
	hcloudKeys []map[string]any
	calls      []string // "token provider" of every invoke
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkArgs(args.TypeToken, args.Inputs); err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", args.TypeToken, args.Name, err)
	}
	m.next++
	id := fmt.Sprint(1000 + m.next)
	outs := args.Inputs.Copy()
	newAddr := func() string {
		if m.addr == nil {
			m.addr = map[string]string{}
		}
		a := fmt.Sprintf("203.0.113.%d", len(m.addr)+10)
		m.addr[args.Name] = a
		return a
	}
	switch args.TypeToken {
	case "hcloud:index/server:Server":
		outs["ipv4Address"] = resource.NewProperty(newAddr())
	case "vultr:index/instance:Instance":
		outs["mainIp"] = resource.NewProperty(newAddr())
	case "scaleway:instance/ip:Ip":
		outs["address"] = resource.NewProperty(newAddr())
	case "shoal:local:Server":
		outs["address"] = resource.NewProperty(newAddr())
		outs["container"] = resource.NewProperty("shoal-" + args.Inputs["lab"].StringValue() + "-" + args.Inputs["node"].StringValue())
		outs["hostKey"] = resource.NewProperty("ssh-ed25519 HOSTKEY-" + args.Inputs["node"].StringValue())
	case ClusterType:
		var managers []resource.PropertyValue
		for _, n := range args.Inputs["nodes"].ArrayValue() {
			if n.ObjectValue()["role"].StringValue() == "manager" {
				managers = append(managers, n.ObjectValue()["address"])
			}
		}
		outs["swarmId"] = resource.NewProperty("swarm-" + args.Name)
		outs["managerAddresses"] = resource.NewProperty(managers)
		outs["joinTokens"] = resource.MakeSecret(resource.NewProperty(resource.PropertyMap{
			"worker": resource.NewProperty("SWMTKN-w"), "manager": resource.NewProperty("SWMTKN-m")}))
	}
	r := registered{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Custom: args.Custom, ID: id, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Deps = rpc.GetDependencies()
		r.DBR = rpc.GetDeleteBeforeReplace()
		if t := rpc.GetReplacementTrigger(); t != nil {
			r.Trigger = t.AsInterface()
		}
	}
	m.res = append(m.res, r)
	return id, outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "hcloud:index/getSshKeys:getSshKeys":
		m.mu.Lock()
		defer m.mu.Unlock()
		m.calls = append(m.calls, args.Token+" "+args.Provider)
		keys := make([]any, 0, len(m.hcloudKeys))
		for _, k := range m.hcloudKeys {
			keys = append(keys, k)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"sshKeys": keys}), nil
	}
	return nil, fmt.Errorf("mocks: no answer for invoke %s", args.Token)
}

// all returns the registered resources of a type (all when typ is "").
func (m *mocks) all(typ string) []registered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registered
	for _, r := range m.res {
		if typ == "" || r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// get returns the one resource of a type and name, failing the test if
// there is not exactly one.
func (m *mocks) get(t *testing.T, typ, name string) registered {
	t.Helper()
	var found []registered
	for _, r := range m.all(typ) {
		if r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources %s %q registered, want 1; names of that type: %q", len(found), typ, name, m.names(typ))
	}
	return found[0]
}

// names returns the sorted names of a type's resources.
func (m *mocks) names(typ string) []string {
	var out []string
	for _, r := range m.all(typ) {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// urnOf returns the URN the mock monitor gives a resource: the parent's
// type is part of a child's URN, so tests compare names only through this.
func urnName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

func (m *mocks) address(resourceName string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr[resourceName]
}

// result is what a run exported, resolved.
type result struct {
	Nodes            []map[string]any
	SwarmID          string
	ManagerAddresses []string
}

// run runs the program's deploy against mocks with the given stack config
// (keys with namespace, objects as Go values to be JSON-encoded); keys in
// secrets are passed as secrets.
func run(t *testing.T, stack string, cfg map[string]any, secrets []string, opts Options, preview bool) (*mocks, *result, error) {
	t.Helper()
	m := &mocks{}
	res, err := runWith(t, m, stack, cfg, secrets, opts, preview)
	return m, res, err
}

// runWith is run with mocks of the test's own.
func runWith(t *testing.T, m *mocks, stack string, cfg map[string]any, secrets []string, opts Options, preview bool) (*result, error) {
	t.Helper()
	values := map[string]string{}
	for k, v := range cfg {
		if s, ok := v.(string); ok {
			values[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		values[k] = string(b)
	}
	res := &result{}
	var mu sync.Mutex
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		out, err := deploy(ctx, opts)
		if err != nil {
			return err
		}
		pulumi.All(out.Nodes, out.SwarmID, out.ManagerAddresses).ApplyT(func(vs []any) error {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range vs[0].([]any) {
				res.Nodes = append(res.Nodes, n.(map[string]any))
			}
			res.SwarmID = vs[1].(string)
			res.ManagerAddresses = vs[2].([]string)
			return nil
		})
		return nil
	}, pulumi.WithMocks("shoal", stack, m), func(info *pulumi.RunInfo) {
		info.Config = values
		info.ConfigSecretKeys = slices.Clone(secrets)
		info.DryRun = preview
	})
	return res, err
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
