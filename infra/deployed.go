package infra

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DeployedOf reads what a stack's last run deployed and every later run
// keeps from the stack's outputs (decoded JSON, as the engine and the
// Automation API hand them back): the node generations (Options.Deployed)
// and the successors (Options.Successors), both from the `nodes` output.
// A stack without a `nodes` output (a new stack) deployed none. This is
// the one rule for both ways the program runs: `shoal up` reads the
// outputs through the Automation API before a run, the program run by the
// user's `pulumi up` reads them through the engine (ProgramKeepingDeployed,
// ADR 0036). Pure.
func DeployedOf(outputs map[string]any) (map[string]int, []Successor, error) {
	gens := map[string]int{}
	raw, ok := outputs[OutputNodes]
	if !ok {
		return gens, nil, nil
	}
	if raw == nil {
		return nil, nil, fmt.Errorf("stack output `%s` has no value", OutputNodes)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("stack output `%s`: %w", OutputNodes, err)
	}
	var nodes []struct {
		Name       string     `json:"name"`
		Generation int        `json:"generation,omitempty"`
		Successor  *Successor `json:"successor,omitempty"`
	}
	if err := json.Unmarshal(b, &nodes); err != nil {
		return nil, nil, fmt.Errorf("stack output `%s`: %w", OutputNodes, err)
	}
	var succs []Successor
	for i, n := range nodes {
		if n.Name == "" {
			return nil, nil, fmt.Errorf("stack output `%s`: entry %d has no name", OutputNodes, i)
		}
		gens[n.Name] = n.Generation
		if n.Successor != nil {
			succs = append(succs, *n.Successor)
		}
	}
	return gens, succs, nil
}

// readStackOutputs is the engine's built-in function that reads a stack's
// outputs from the backend the running update uses (the one every Pulumi
// SDK's StackReference reads with).
const readStackOutputs = "pulumi:pulumi:readStackOutputs"

// readAttempts is how many times the program reads its stack's outputs
// before it gives up (and stops: DeployedFromRead).
const readAttempts = 5

// ProgramKeepingDeployed is the program as the user's own `pulumi up` runs
// it (cmd/shoal-program): before it builds anything, it reads its own
// stack's last outputs through the engine and keeps what that run
// deployed (DeployedOf), as `shoal up` does, so a plain `pulumi up` after
// `shoal heal`, `shoal dr recover` or `shoal node replace` neither
// replaces a healed server again nor deletes a successor. o.Deployed and
// o.Successors are set from the stack; an error reading them stops the
// run (DeployedFromRead).
func ProgramKeepingDeployed(o Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		stack, err := StackName(ctx.Organization(), ctx.Project(), ctx.Stack())
		if err != nil {
			return err
		}
		var res struct {
			Outputs map[string]any `pulumi:"outputs"`
		}
		// Raw: the stack's secret outputs (the unlock key) come back as
		// secrets, which a plain invoke refuses; only `nodes` is read. The
		// read is retried a few times: a file backend may be writing the
		// running update's first checkpoint at that moment ("failed to
		// load checkpoint: EOF", seen in CI on 2026-12-03).
		for attempt := range readAttempts {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * 300 * time.Millisecond)
			}
			if _, err = ctx.InvokePackageRaw(readStackOutputs, map[string]any{"name": stack}, &res, ""); err == nil {
				break
			}
		}
		if o.Deployed, o.Successors, err = DeployedFromRead(stack, res.Outputs, err); err != nil {
			return err
		}
		return ProgramWith(o)(ctx)
	}
}

// StackName is the fully qualified name of the running stack,
// organization/project/stack, from what the engine tells the program
// (PULUMI_ORGANIZATION, PULUMI_PROJECT, PULUMI_STACK). A part missing is
// an error: a shorter name would be resolved by the backend against its
// own defaults (the user's default organization, the current directory's
// project), possibly to another stack. Pure.
func StackName(org, project, stack string) (string, error) {
	for _, p := range []struct{ env, v string }{
		{"PULUMI_ORGANIZATION", org}, {"PULUMI_PROJECT", project}, {"PULUMI_STACK", stack},
	} {
		if p.v == "" {
			return "", fmt.Errorf("the engine did not name the stack's %s (%s is empty): the program cannot read "+
				"what the stack's last run deployed, so it stops; run it with a Pulumi CLI that sets it",
				strings.ToLower(strings.TrimPrefix(p.env, "PULUMI_")), p.env)
		}
	}
	return org + "/" + project + "/" + stack, nil
}

// DeployedFromRead decides what a run keeps from reading stack's outputs:
// the outputs read (none for a stack never deployed: a first run keeps
// nothing), or readErr. It fails closed: outputs that could not be read,
// or a `nodes` output that cannot be decoded, stop the run with an error
// naming the stack and what to do, and never count as "nothing deployed",
// which would replace every healed server and delete every successor.
// Pure.
func DeployedFromRead(stack string, outputs map[string]any, readErr error) (map[string]int, []Successor, error) {
	const why = "the program keeps the node generations (heal, dr recover) and the successors (node replace) " +
		"its last run deployed, and without them would replace healed servers and delete successors"
	if readErr != nil {
		return nil, nil, fmt.Errorf("read the outputs of stack %s through the engine: %w; %s, so it stops: "+
			"check that `pulumi stack output --stack %s` works with this backend, then run `pulumi up` again",
			stack, readErr, why, stack)
	}
	gens, succs, err := DeployedOf(outputs)
	if err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w; %s, so it stops: see `pulumi stack output --stack %s --json nodes`, "+
			"and run the shoal version that deployed the stack", stack, err, why, stack)
	}
	return gens, succs, nil
}
