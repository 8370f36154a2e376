package infra

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// What a run keeps from reading its stack's outputs: a first deployment
// (no outputs) keeps nothing and runs; outputs that could not be read, or
// a `nodes` output that cannot be decoded, stop the run, naming the stack
// and what to do; never "nothing deployed".
func TestDeployedFromReadFailsClosed(t *testing.T) {
	const stack = "organization/shoal/local"
	healed := map[string]any{OutputNodes: []any{
		map[string]any{"name": "w-1", "generation": 2.0},
		map[string]any{"name": "mc-1-r1", "successor": map[string]any{"slot": "mc-1", "name": "mc-1-r1"}},
	}, OutputUnlockKey: "SWMKEY-secret"}
	for _, tc := range []struct {
		name    string
		outputs map[string]any
		readErr error
		wantErr []string // every part, "" for none
		gens    map[string]int
		succs   []Successor
	}{
		{name: "first deployment: no outputs", gens: map[string]int{}},
		{name: "first deployment: empty outputs", outputs: map[string]any{}, gens: map[string]int{}},
		{name: "deployed", outputs: healed,
			gens: map[string]int{"w-1": 2, "mc-1-r1": 0}, succs: []Successor{{Slot: "mc-1", Name: "mc-1-r1"}}},
		{name: "outputs not readable", readErr: errors.New("permission denied"),
			wantErr: []string{"read the outputs of stack " + stack, "permission denied", "replace healed servers",
				"pulumi stack output --stack " + stack, "run `pulumi up` again"}},
		{name: "outputs not readable, though some came back", outputs: healed, readErr: errors.New("timeout"),
			wantErr: []string{"read the outputs of stack " + stack, "timeout"}},
		{name: "nodes without a value", outputs: map[string]any{OutputNodes: nil},
			wantErr: []string{"stack " + stack, "`nodes` has no value", "delete successors"}},
		{name: "nodes not a list", outputs: map[string]any{OutputNodes: "[secret]"},
			wantErr: []string{"stack " + stack, "stack output `nodes`", "pulumi stack output --stack " + stack + " --json nodes"}},
		{name: "a node without a name", outputs: map[string]any{OutputNodes: []any{map[string]any{"generation": 1.0}}},
			wantErr: []string{"entry 0 has no name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gens, succs, err := DeployedFromRead(stack, tc.outputs, tc.readErr)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; generations %v, successors %v", gens, succs)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "SWMKEY") {
					t.Errorf("error %q holds an output's value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalGens(gens, tc.gens) || !slices.Equal(succs, tc.succs) {
				t.Errorf("got %v %+v, want %v %+v", gens, succs, tc.gens, tc.succs)
			}
		})
	}
}

// The stack read is the running one, by its fully qualified name; a part
// the engine did not give stops the run (a shorter name resolves against
// the backend's defaults, maybe to another stack).
func TestStackNameIsFullyQualifiedOrAnError(t *testing.T) {
	if got, err := StackName("acme", "shoal", "prod"); err != nil || got != "acme/shoal/prod" {
		t.Errorf("StackName: %q %v", got, err)
	}
	for _, tc := range [][4]string{
		{"", "shoal", "prod", "PULUMI_ORGANIZATION"},
		{"acme", "", "prod", "PULUMI_PROJECT"},
		{"acme", "shoal", "", "PULUMI_STACK"},
	} {
		if got, err := StackName(tc[0], tc[1], tc[2]); err == nil || !strings.Contains(err.Error(), tc[3]) {
			t.Errorf("StackName(%q, %q, %q) = %q, %v; want an error naming %s", tc[0], tc[1], tc[2], got, err, tc[3])
		}
	}
}

func equalGens(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// stackMocks answers the engine's readStackOutputs with outputs (or err),
// recording the stack names asked for.
type stackMocks struct {
	*mocks
	outputs map[string]any
	err     error
	mu      sync.Mutex
	asked   []string
}

func (m *stackMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token != readStackOutputs {
		return m.mocks.Call(args)
	}
	m.mu.Lock()
	m.asked = append(m.asked, args.Args["name"].StringValue())
	m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	outs := resource.NewPropertyMapFromMap(m.outputs)
	// As the engine hands them: secret outputs stay secrets.
	if v, ok := outs[OutputUnlockKey]; ok {
		outs[OutputUnlockKey] = resource.MakeSecret(v)
	}
	return resource.PropertyMap{
		"name":    args.Args["name"],
		"outputs": resource.NewObjectProperty(outs),
	}, nil
}

// The program under the user's `pulumi up` reads its own stack's outputs
// through the engine and keeps the generation heal deployed and the
// successor node replace put in a slot, as `shoal up` does; an error
// reading them stops it before anything is registered.
func TestProgramKeepingDeployedReadsItsOwnStacksOutputs(t *testing.T) {
	cfg := stackFile(t, "../Pulumi.local.yaml")
	cfg["shoal:sshPublicKey"] = testPublicKey
	cfg["shoal:sshPrivateKey"] = testPrivateKey
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
	runIt := func(m *stackMocks) error {
		return pulumi.RunErr(ProgramKeepingDeployed(Options{}), pulumi.WithMocksWithOrganization("organization", "shoal", "local", m), func(info *pulumi.RunInfo) {
			info.Config = values
			info.ConfigSecretKeys = slices.Clone(secretKeys)
		})
	}

	deployed := map[string]any{OutputNodes: []any{
		map[string]any{"name": "ma-1", "hoster": "hoster-a", "role": "manager", "address": "10.0.0.2"},
		map[string]any{"name": "mb-1", "hoster": "hoster-b", "role": "manager", "address": "10.0.0.3"},
		map[string]any{"name": "mc-1-r1", "hoster": "hoster-c", "role": "manager", "address": "10.0.0.7",
			"successor": map[string]any{"slot": "mc-1", "name": "mc-1-r1"}},
		map[string]any{"name": "w-1", "hoster": "hoster-a", "role": "worker", "address": "10.0.0.5", "generation": 1.0},
		map[string]any{"name": "w-2", "hoster": "hoster-a", "role": "worker", "address": "10.0.0.6"},
	}, OutputUnlockKey: "SWMKEY-1-secret"}
	m := &stackMocks{mocks: &mocks{}, outputs: deployed}
	if err := runIt(m); err != nil {
		t.Fatalf("program: %v", err)
	}
	if want := []string{"organization/shoal/local"}; !slices.Equal(m.asked, want) {
		t.Errorf("read the outputs of %q, want once its own stack, %q", m.asked, want)
	}
	var servers []string
	for _, s := range m.all("shoal:local:Server") {
		servers = append(servers, str(s, "node"))
		if want := map[string]any{"w-1": 1.0}[str(s, "node")]; want != nil && s.Trigger != want {
			t.Errorf("%s: replacement trigger %v, want the deployed generation %v", str(s, "node"), s.Trigger, want)
		}
	}
	sort.Strings(servers)
	if want := []string{"ma-1", "mb-1", "mc-1-r1", "w-1", "w-2"}; !slices.Equal(servers, want) {
		t.Errorf("servers %q, want %q (the successor kept, the node it replaced not made again)", servers, want)
	}

	m = &stackMocks{mocks: &mocks{}, err: errors.New("backend unreachable")}
	err := runIt(m)
	if err == nil || !strings.Contains(err.Error(), "read the outputs of stack") || !strings.Contains(err.Error(), "backend unreachable") {
		t.Errorf("unreadable outputs: error %v, want one naming the stack's outputs", err)
	}
	if n := len(m.all("")); n != 0 {
		t.Errorf("unreadable outputs: %d resources registered, want none", n)
	}
}
