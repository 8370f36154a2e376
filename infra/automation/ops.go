package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/shoalops/shoal/infra"
)

// Changes counts resources by operation ("create", "update", "delete",
// "replace", "same", ...).
type Changes map[string]int

// None tells whether nothing would be or was created, updated, replaced or
// deleted.
func (c Changes) None() bool {
	for op, n := range c {
		if op != "same" && n > 0 {
			return false
		}
	}
	return true
}

// String renders "2 to create, 0 to update, 0 to delete, 5 unchanged".
func (c Changes) String() string {
	parts := []string{
		fmt.Sprintf("%d to create", c["create"]),
		fmt.Sprintf("%d to update", c["update"]),
		fmt.Sprintf("%d to delete", c["delete"]),
	}
	if n := c["replace"]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d to replace", n))
	}
	for _, op := range slices.Sorted(maps.Keys(c)) {
		switch op {
		case "create", "update", "delete", "replace", "same":
		default:
			if c[op] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c[op], op))
			}
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", %d unchanged", c["same"])
}

func fromSummary(s auto.UpdateSummary) Changes {
	c := Changes{}
	if s.ResourceChanges != nil {
		for k, v := range *s.ResourceChanges {
			c[k] = v
		}
	}
	return c
}

// Up converges the stack. replace lists URNs to replace on purpose (heal
// replaces a dead node's server this way).
func (w *Workspace) Up(ctx context.Context, replace []string) (Changes, auto.OutputMap, error) {
	opts := []optup.Option{optup.ProgressStreams(w.o.Progress), optup.ErrorProgressStreams(w.o.Progress)}
	if len(replace) > 0 {
		opts = append(opts, optup.Replace(replace))
	}
	res, err := w.Stack.Up(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("up %s: %w", w.o.Stack, err)
	}
	return fromSummary(res.Summary), res.Outputs, nil
}

// UpGenerations converges the stack with the generations gens over the
// stack's for this run: a node whose generation is raised gets a new
// server under its name (heal). The stack file is not written: the next
// run keeps the deployed generation as its floor.
func (w *Workspace) UpGenerations(ctx context.Context, gens map[string]int) (Changes, auto.OutputMap, error) {
	w.setProgram(gens)
	defer w.setProgram(nil)
	c, out, err := w.Up(ctx, nil)
	if err == nil {
		for n, g := range gens {
			w.base.Deployed[n] = max(w.base.Deployed[n], g)
		}
	}
	return c, out, err
}

// UpReplacement converges the stack with one step of `shoal node replace`
// (infra.Replacement): the successor created beside r.Node, or, with
// r.Done, put in its place (r.Node's server is deleted). The stack file is
// not written: the successors deployed are kept by every later run.
func (w *Workspace) UpReplacement(ctx context.Context, r infra.Replacement) (Changes, auto.OutputMap, error) {
	o := w.base
	o.Replace = &r
	w.Stack.Workspace().SetProgram(w.o.Program(o))
	defer w.setProgram(nil)
	c, out, err := w.Up(ctx, nil)
	if err != nil {
		return c, out, err
	}
	gens, succs, err := deployedOf(out)
	if err != nil {
		return c, out, err
	}
	w.base.Deployed, w.base.Successors = gens, succs
	return c, out, nil
}

// CheckReplacement runs the program's own check of replacement r
// (infra.Spec.Place: the node is the stack's, the hoster has a pool, the
// managers keep their rules once it is done) on the stack's config and
// deployed successors, without running the program, so that a dry run
// refuses what the program would.
func (w *Workspace) CheckReplacement(r infra.Replacement) error {
	c, err := infra.ConfigFromFiles(w.o.Stack, w.src.project, w.src.stack)
	if err != nil {
		return err
	}
	// The rest of the config was checked when the stack was opened, and
	// the program checks it again.
	spec, _, _ := infra.Parse(c)
	_, err = spec.Place(w.base.Successors, &r)
	return err
}

// Preview shows what Up would change.
func (w *Workspace) Preview(ctx context.Context) (Changes, error) {
	res, err := w.Stack.Preview(ctx, optpreview.ProgressStreams(w.o.Progress), optpreview.ErrorProgressStreams(w.o.Progress))
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", w.o.Stack, err)
	}
	c := Changes{}
	for op, n := range res.ChangeSummary {
		c[string(op)] = n
	}
	return c, nil
}

// PreviewDestroy shows what Destroy would delete.
func (w *Workspace) PreviewDestroy(ctx context.Context) (Changes, error) {
	res, err := w.Stack.PreviewDestroy(ctx, optdestroy.ProgressStreams(w.o.Progress), optdestroy.ErrorProgressStreams(w.o.Progress))
	if err != nil {
		return nil, fmt.Errorf("preview destroy %s: %w", w.o.Stack, err)
	}
	c := Changes{}
	for op, n := range res.ChangeSummary {
		c[string(op)] = n
	}
	return c, nil
}

// Destroy removes every resource of the stack: the swarm resource first
// (nodes leave the swarm), then the servers.
func (w *Workspace) Destroy(ctx context.Context) (Changes, error) {
	res, err := w.Stack.Destroy(ctx, optdestroy.ProgressStreams(w.o.Progress), optdestroy.ErrorProgressStreams(w.o.Progress))
	if err != nil {
		return nil, fmt.Errorf("destroy %s: %w", w.o.Stack, err)
	}
	return fromSummary(res.Summary), nil
}

// Refresh reads the real state of every resource into the stack's state.
func (w *Workspace) Refresh(ctx context.Context) (Changes, error) {
	res, err := w.Stack.Refresh(ctx, optrefresh.ProgressStreams(w.o.Progress), optrefresh.ErrorProgressStreams(w.o.Progress))
	if err != nil {
		return nil, fmt.Errorf("refresh %s: %w", w.o.Stack, err)
	}
	return fromSummary(res.Summary), nil
}

// Outputs reads the stack outputs.
func (w *Workspace) Outputs(ctx context.Context) (auto.OutputMap, error) {
	return w.Stack.Outputs(ctx)
}

// Export is the stack's state as `pulumi stack export` writes it (secrets
// stay encrypted with the stack's secrets provider).
func (w *Workspace) Export(ctx context.Context) ([]byte, error) {
	d, err := w.Stack.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", w.o.Stack, err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", w.o.Stack, err)
	}
	return b, nil
}

// ConfigGeneration reads shoal:generations.<node> from the stack config (0
// when unset).
func (w *Workspace) ConfigGeneration(ctx context.Context, node string) (int, error) {
	all, err := w.Stack.GetAllConfig(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stack config: %w", err)
	}
	v, ok := all[infra.Namespace+":"+infra.KeyGenerations]
	if !ok || v.Value == "" {
		return 0, nil
	}
	var gens map[string]int
	if err := json.Unmarshal([]byte(v.Value), &gens); err != nil {
		return 0, fmt.Errorf("stack config %s:%s: %w", infra.Namespace, infra.KeyGenerations, err)
	}
	return gens[node], nil
}

// DeployedGeneration is node's generation in the last up's outputs.
func (w *Workspace) DeployedGeneration(ctx context.Context, node string) (int, error) {
	out, err := w.Outputs(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stack outputs: %w", err)
	}
	nodes, err := OutputNodes(out)
	if err != nil {
		return 0, err
	}
	for _, n := range nodes {
		if n.Name == node {
			return n.Generation, nil
		}
	}
	return 0, fmt.Errorf("node %s is not in the stack's nodes output", node)
}

// ClusterType is the type token of the swarm resource (infra/provider
// Cluster): every stack resource that needs the swarm depends on it.
const ClusterType = "shoal:swarm:Cluster"

// UpServers runs the program with the generations gens over the stack's,
// but leaves the swarm resource and everything that depends on it out of
// the run (optup.Exclude with ExcludeDependents): the servers of the nodes
// in gens are replaced and the hosters' resources (firewalls) follow their
// new addresses, while no swarm is formed or joined on them. `shoal dr
// restore` makes the servers of a stack this way before it puts the
// backup's swarm onto them (ADR 0039); a normal Up afterwards adopts the
// restored swarm. The stack's outputs (nodes with addresses and host keys)
// are the run's.
func (w *Workspace) UpServers(ctx context.Context, gens map[string]int) (Changes, auto.OutputMap, error) {
	d, err := w.Stack.Export(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("export %s: %w", w.o.Stack, err)
	}
	excl, err := resourcesOfType(d.Deployment, ClusterType)
	if err != nil {
		return nil, nil, fmt.Errorf("export %s: %w", w.o.Stack, err)
	}
	if len(excl) == 0 {
		// Fail closed: a run with nothing left out would form a new swarm
		// on the new servers.
		return nil, nil, fmt.Errorf("stack %s records no swarm resource (%s) to leave out: nothing was changed", w.o.Stack, ClusterType)
	}
	w.setProgram(gens)
	defer w.setProgram(nil)
	res, err := w.Stack.Up(ctx, optup.ProgressStreams(w.o.Progress), optup.ErrorProgressStreams(w.o.Progress),
		optup.Exclude(excl), optup.ExcludeDependents())
	if err != nil {
		return nil, nil, fmt.Errorf("up %s (servers only): %w", w.o.Stack, err)
	}
	for n, g := range gens {
		w.base.Deployed[n] = max(w.base.Deployed[n], g)
	}
	return fromSummary(res.Summary), res.Outputs, nil
}

// resourcesOfType are the URNs of the resources of type typ in an
// exported deployment (`pulumi stack export`'s "deployment" object).
func resourcesOfType(deployment json.RawMessage, typ string) ([]string, error) {
	if len(deployment) == 0 {
		return nil, nil // a stack never deployed
	}
	var dep struct {
		Resources []struct {
			URN  string `json:"urn"`
			Type string `json:"type"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(deployment, &dep); err != nil {
		return nil, fmt.Errorf("read the deployment: %w", err)
	}
	var urns []string
	for _, r := range dep.Resources {
		if r.Type == typ {
			urns = append(urns, r.URN)
		}
	}
	return urns, nil
}
