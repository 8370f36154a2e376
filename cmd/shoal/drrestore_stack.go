package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/dr/drexec"
	"github.com/shoalops/shoal/heal/pulumiactor"
	"github.com/shoalops/shoal/infra/automation"
)

// runDRRestoreStack restores the backup c onto the servers of a `shoal
// up` stack (ADR 0039): the servers of the lost nodes are made again by
// the stack's program in a run that leaves the swarm resource out, the
// backup goes onto them as onto any inventory's servers, then a full run
// of the program adopts the restored swarm and re-creates what lived on
// the lost servers (Portainer's webhooks, their tokens in Vault).
func runDRRestoreStack(cmd *cobra.Command, a *app, fl drRestoreFlags, c *backup.Contents, old *inventory.Inventory, start time.Time) error {
	ctx := cmd.Context()
	m := c.Manifest
	stack := fl.stack.stack
	so, err := a.stackOptions(fl.stack, stack, a.stderr)
	if err != nil {
		return err
	}
	so.Existing = true
	w, err := automation.Open(ctx, so)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("dr restore: stack %s (pass the --dir and --backend `shoal up` used): %w", stack, err))
	}
	out, err := w.Outputs(ctx)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if _, err := automation.OutputNodes(out); err != nil {
		return withCode(exitUsage, fmt.Errorf("dr restore: stack %s has no servers recorded (%w): restore a stack `shoal up` made, with the --dir and --backend it used; nothing was changed", stack, err))
	}
	// The stack's inventory as the last run left it: the lost servers'
	// addresses and host keys, to see which are gone.
	invPath := automation.InventoryPath(a.home, stack)
	cur, err := inventory.Load(invPath)
	if errors.Is(err, os.ErrNotExist) {
		if _, err = w.WriteInventory(out); err == nil {
			cur, err = inventory.Load(invPath)
		}
	}
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("the inventory of stack %s: %w", stack, err))
	}
	if err := backup.CheckTarget(old, cur); err != nil {
		return withCode(exitUsage, fmt.Errorf("stack %s is not the cluster of the backup: %w: nothing was changed", stack, err))
	}
	fmt.Fprintf(a.stderr, "observing the %d servers of stack %s (reachable? in a swarm?)\n", len(cur.Nodes), stack)
	seen, err := observeServers(ctx, a, cur)
	if err != nil {
		return err
	}
	sp, err := backup.PlanServers(cur, seen)
	if err != nil {
		return withCode(exitRefused, fmt.Errorf("stack %s: %w: nothing was changed", stack, err))
	}
	gens := map[string]int{}
	for _, n := range sp.Replace {
		cfg, err := w.ConfigGeneration(ctx, n)
		if err != nil {
			return withCode(exitFailed, err)
		}
		dep, err := w.DeployedGeneration(ctx, n)
		if err != nil {
			return withCode(exitFailed, err)
		}
		gens[n] = pulumiactor.NextGeneration(cfg, dep)
	}

	plan := planStackRestore(old, m.Node, stack, sp, gens)
	if !a.json() {
		fmt.Fprintf(a.stdout, "restore %s from %s onto stack %s in %d steps:\n", m.Cluster, fl.from, stack, len(plan.steps))
		for i, s := range plan.steps {
			fmt.Fprintf(a.stdout, "  %d. %s\n", i+1, s)
		}
	}
	if fl.dryRun {
		return withCode(exitWork, errors.New(""))
	}
	if !fl.yes && !a.confirm(fmt.Sprintf("restore %s onto the servers of stack %s?", m.Cluster, stack)) {
		return withCode(exitRefused, errors.New("dr restore not confirmed: nothing was changed"))
	}
	step := func(i int) { fmt.Fprintf(a.stderr, "step %d/%d: %s\n", i, len(plan.steps), plan.steps[i-1]) }

	step(1)
	if len(gens) > 0 {
		ch, o, err := w.UpServers(ctx, gens)
		if err != nil {
			return withCode(exitFailed, fmt.Errorf("step 1: %w (run `shoal dr restore` again: servers made so far are kept)", err))
		}
		out = o
		fmt.Fprintf(a.stderr, "servers of stack %s: %s\n", stack, ch)
	}
	if invPath, err = w.WriteInventory(out); err != nil {
		return withCode(exitFailed, fmt.Errorf("step 1: %w", err))
	}
	inv, err := inventory.Load(invPath)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("step 1: %w", err))
	}
	if err := backup.CheckTarget(old, inv); err != nil {
		return withCode(exitFailed, fmt.Errorf("step 1: %w", err))
	}
	if _, err := checkRestoreTargets(ctx, a, inv, sp.Leave); err != nil {
		if len(gens) > 0 {
			// "nothing was changed" in err holds for the swarm, not the servers.
			return fmt.Errorf("%w (step 1 made new servers for %s; they are kept)", err, joinComma(sp.Replace))
		}
		return err
	}
	left := fmt.Sprintf("the servers of stack %s are kept: before step 2 re-formed the swarm, run `shoal dr restore` again; after it, the step's message says what is left, and `shoal up --stack %s` joins the servers not joined yet", stack, stack)
	svcs, err := restoreOnto(ctx, a, inv, m.Node, c, plan, sp.Leave, step, fl.converge)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("%w (%s)", err, left))
	}
	fmt.Fprintf(a.stderr, "restored %s from %s in %s: quorum ok, every service runs\n", m.Cluster, fl.from, time.Since(start).Round(100*time.Millisecond))

	step(plan.up)
	ch, out, err := w.Up(ctx, nil)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("step %d: %w (the swarm is restored; `shoal up --stack %s` converges the rest)", plan.up, err, stack))
	}
	if err := a.writeStackInventory(w, out); err != nil {
		return withCode(exitFailed, err)
	}
	fmt.Fprintf(a.stderr, "up %s: %s\n", stack, ch)

	step(plan.hooks)
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return withCode(exitFailed, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	x, err := drexec.New(invPath, m.Node, drexec.Options{Dial: dial, Progress: a.stderr, Log: a.log, Stack: w})
	if err != nil {
		return withCode(exitFailed, err)
	}
	hooks, err := x.CheckWebhooks(ctx)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("step %d: %w", plan.hooks, err))
	}
	fmt.Fprintf(a.stderr, "restored stack %s in %s\n", stack, time.Since(start).Round(100*time.Millisecond))
	return printRestored(a, inv.Cluster.Name, m.Node, svcs, &hooks)
}

// planStackRestore is the plan of a restore onto the servers of stack:
// the servers of sp.Replace made again at generations gens, the backup's
// steps on them (survivors: sp.Leave), then the stack's full run and its
// webhook check. Pure.
func planStackRestore(old *inventory.Inventory, node, stack string, sp backup.ServerPlan, gens map[string]int) restorePlan {
	p := planRestore(old, nil, node, sp.Leave)
	var first string
	if len(sp.Replace) > 0 {
		var made []string
		for _, n := range sp.Replace {
			on, _ := old.Node(n)
			made = append(made, fmt.Sprintf("%s (%s at %s, generation %d)", n, on.Role, on.Hoster, gens[n]))
		}
		first = fmt.Sprintf("make new servers for %s through the stack's Pulumi program, in a run that leaves the swarm resource and all that depends on it out (no swarm is formed on them)", joinComma(made))
	} else {
		first = "no server to make: every server of the stack answers"
	}
	if len(sp.Keep) > 0 {
		first += fmt.Sprintf("; use %s as they are (in no swarm)", joinComma(sp.Keep))
	}
	if len(sp.Leave) > 0 {
		first += fmt.Sprintf("; keep the surviving workers %s", joinComma(sp.Leave))
	}
	p.steps[0] = first + fmt.Sprintf("; write the inventory of stack %s with the servers' addresses and host keys (checked: reachable, host keys pinned, the new ones in no swarm)", stack)
	p.steps = append(p.steps,
		fmt.Sprintf("run the stack's Pulumi program in full (as `shoal up --stack %s`): it adopts the restored swarm and re-creates what lived on the lost servers (Portainer's environment and its webhooks, when the stack runs Portainer; their new tokens go into Vault)", stack),
		"check every app service's webhook, if any, against Portainer and Vault (as `shoal dr recover` does)")
	p.up, p.hooks = len(p.steps)-1, len(p.steps)
	return p
}

// observeServers connects to every server of inv once (no retries: the
// lost ones are the point) and asks each engine that answers whether it is
// in a swarm. A server whose host key is not the pinned one refuses (exit
// 3): shoal does not decide whose server that is.
func observeServers(ctx context.Context, a *app, inv *inventory.Inventory) (map[string]backup.NodeSeen, error) {
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("%s: %w", inv.Path, err))
	}
	defer closer.Close()
	dial.Logger = a.log
	dial.Attempts = 1
	dial.Timeout = 5 * time.Second
	fleet := bootstrap.Connect(ctx, inv, nil, dial, 0, newNodePrinter(a.stderr, inv))
	defer fleet.Close()
	if len(fleet.Fatal) > 0 {
		return nil, withCode(exitRefused, fmt.Errorf("the stack's servers: %w: nothing was changed", errors.Join(fleet.Fatal...)))
	}
	seen := map[string]backup.NodeSeen{}
	for _, n := range inv.Nodes {
		if why, ok := fleet.Unreachable[n.Name]; ok {
			seen[n.Name] = backup.NodeSeen{Why: why}
			fmt.Fprintf(a.stderr, "[%s] unreachable: %s\n", n.Name, why)
			continue
		}
		f, err := host.Gather(ctx, fleet.Conns[n.Name])
		if err != nil {
			return nil, withCode(exitFailed, fmt.Errorf("%s: %w: nothing was changed", n.Name, err))
		}
		s := backup.NodeSeen{Reachable: true}
		if f.Engine != nil {
			s = backup.Seen(f.Engine.Swarm)
		}
		seen[n.Name] = s
		fmt.Fprintf(a.stderr, "[%s] reachable, swarm %s\n", n.Name, cmp.Or(s.Swarm, "unknown (its engine does not answer)"))
	}
	return seen, nil
}
