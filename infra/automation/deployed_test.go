package automation

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/shoalops/shoal/infra"
)

// The `nodes` output carries the generations and the successors the next
// run keeps (infra.Options.Deployed and Successors), as the engine hands
// them back: decoded JSON.
func TestDeployedOfReadsGenerationsAndSuccessors(t *testing.T) {
	out := auto.OutputMap{infra.OutputNodes: {Value: []any{
		map[string]any{"name": "ma-1", "hoster": "hoster-a", "role": "manager", "address": "10.0.0.2", "generation": 1.0},
		map[string]any{"name": "w-1", "hoster": "hoster-a", "role": "worker", "address": "10.0.0.5"},
		map[string]any{"name": "w-1-r1", "hoster": "hoster-b", "role": "worker", "address": "10.0.0.6",
			"successor": map[string]any{"slot": "w-1", "name": "w-1-r1", "hoster": "hoster-b", "type": "fresh", "joining": true}},
	}}}
	gens, succs, err := deployedOf(out)
	if err != nil {
		t.Fatal(err)
	}
	if gens["ma-1"] != 1 || gens["w-1"] != 0 || len(gens) != 3 {
		t.Errorf("generations %v", gens)
	}
	want := infra.Successor{Slot: "w-1", Name: "w-1-r1", Hoster: "hoster-b", Type: "fresh", Joining: true}
	if len(succs) != 1 || succs[0] != want {
		t.Errorf("successors %+v, want [%+v]", succs, want)
	}
	if gens, succs, err := deployedOf(auto.OutputMap{}); err != nil || len(gens) != 0 || succs != nil {
		t.Errorf("a new stack: %v %v %v", gens, succs, err)
	}
}
