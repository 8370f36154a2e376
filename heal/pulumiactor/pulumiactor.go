// Package pulumiactor is heal's Actor for clusters made by `shoal up`: the
// servers and the swarm are resources of shoal's Pulumi program
// (infra.Program), and a dead node is replaced THROUGH that program, so the
// Pulumi state stays the truth.
//
// A replacement keeps the node's name (the logical name is the node's
// identity; heal.NameKeeper): ReplaceServer runs the Automation API `up`
// with the node's generation raised for that run
// (automation.Workspace.UpGenerations), which deletes the dead server, creates a new one at the same hoster
// under the same logical name, and converges the swarm resource (it joins
// the new server with the node's role and labels and removes the dead
// entry of that name). The stack inventory and known_hosts are rewritten
// from the outputs, as `shoal up` does.
//
// The user's stack file is never written (heal may run on the cluster,
// where the file is a read-only secret): the deployed generation is the
// floor of every later run (infra.Options.Deployed), so the next `shoal up`
// keeps the new server. A restart must not raise the generation twice:
// before the up, the actor writes the generation it deploys on the dead
// entry (label shoal.heal.generation, beside heal's record), and a resumed
// attempt deploys that one; a generation in the config ahead of the
// deployed one (the `nodes` output) is a raise the user asked for. One up runs at a time per actor; an up that finds the
// stack locked by another update waits and tries again.
//
// It imports heal and infra/automation; nothing imports it but the CLI and
// tests.
package pulumiactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
)

// LabelGeneration, on a dead node's entry, is the server generation the
// in-flight replacement deploys.
const LabelGeneration = "shoal.heal.generation"

// Actor replaces the nodes of a `shoal up` stack. Build it with New.
type Actor struct {
	ws      *automation.Workspace
	invPath string
	swarm   *heal.Swarm
	dial    remote.DialOptions
	keyFile string
	retry   time.Duration
	log     *slog.Logger

	mu sync.Mutex // one up at a time
}

var (
	_ heal.Actor      = (*Actor)(nil)
	_ heal.NameKeeper = (*Actor)(nil)
)

// Options configure New.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the stack inventory).
	Dial remote.DialOptions
	// UnlockKeyFile holds the swarm's unlock key (autolocked clusters).
	UnlockKeyFile string
	// Retry is the wait before another try of an up that found the stack
	// locked by another update (default 5s).
	Retry time.Duration
	Log   *slog.Logger
}

// New is the actor for the stack opened in ws, whose inventory is at
// invPath (automation.InventoryPath). sw changes swarm entries through a
// manager.
func New(ws *automation.Workspace, invPath string, sw *heal.Swarm, o Options) *Actor {
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Actor{ws: ws, invPath: invPath, swarm: sw, dial: o.Dial, keyFile: o.UnlockKeyFile, retry: o.Retry, log: o.Log}
}

// KeepsNames is true: a node's replacement is a new server under its name.
func (a *Actor) KeepsNames() bool { return true }

// ReplaceServer gives node dead a new server through the Pulumi program and
// returns once the node is Ready again and its dead entry is gone.
func (a *Actor) ReplaceServer(ctx context.Context, dead heal.NodeInfo, spec heal.NodeSpec) error {
	if spec.Spare || dead.Name == "" {
		return errors.New("warm spares are not part of the Pulumi program: run heal without --spares on a `shoal up` stack")
	}
	if spec.Name != dead.Name {
		return fmt.Errorf("replace %s: a stack node keeps its name, asked for %s", dead.Name, spec.Name)
	}
	return a.ReplaceServers(ctx, []heal.NodeInfo{dead})
}

// ReplaceServers gives every node of dead a new server in ONE run of the
// Pulumi program (each node's generation raised for that run), and returns
// once every one is Ready again and its dead entry is gone. `shoal dr
// recover` replaces the dead managers of a stack this way, all at once.
func (a *Actor) ReplaceServers(ctx context.Context, dead []heal.NodeInfo) error {
	if len(dead) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	gens := map[string]int{}
	var names []string
	for _, d := range dead {
		if d.Name == "" {
			return errors.New("replace: a dead node without a name")
		}
		gen, _, err := a.generation(ctx, d)
		if err != nil {
			return err
		}
		gens[d.Name] = gen
		names = append(names, d.Name)
	}
	who := strings.Join(names, ", ")
	a.log.Info("heal: pulumi up", "nodes", who, "generations", gens)
	outputs, err := a.up(ctx, gens)
	if err != nil {
		return fmt.Errorf("replace %s: %w", who, err)
	}
	if _, err := a.ws.WriteInventory(outputs); err != nil {
		return fmt.Errorf("replace %s: %w", who, err)
	}
	for _, d := range dead {
		if err := a.swarm.WaitReady(ctx, d.Name); err != nil {
			return err
		}
		// The swarm resource removed the dead entry while it converged;
		// one left over (an entry it did not see down yet) goes here,
		// never a Ready one or a reachable manager.
		if d.ID != "" {
			if err := a.swarm.RemoveEntry(ctx, d.ID, d.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// generation is the generation this attempt deploys, recorded on the dead
// entry before anything changes, and the one in the stack config now.
func (a *Actor) generation(ctx context.Context, dead heal.NodeInfo) (gen, cfg int, err error) {
	cfg, err = a.ws.ConfigGeneration(ctx, dead.Name)
	if err != nil {
		return 0, 0, err
	}
	if g, ok := recorded(dead.Labels); ok {
		return g, cfg, nil // a resumed attempt
	}
	deployed, err := a.ws.DeployedGeneration(ctx, dead.Name)
	if err != nil {
		return 0, 0, err
	}
	gen = NextGeneration(cfg, deployed)
	if dead.ID == "" {
		return gen, cfg, nil
	}
	if err := a.swarm.UpdateEntry(ctx, dead.ID, func(s *swarmtypes.NodeSpec) { s.Labels[LabelGeneration] = strconv.Itoa(gen) }); err != nil {
		return 0, 0, fmt.Errorf("record generation %d of %s before raising it: %w", gen, dead.Name, err)
	}
	return gen, cfg, nil
}

// recorded is the generation an attempt recorded on the dead entry.
func recorded(labels map[string]string) (int, bool) {
	g, err := strconv.Atoi(labels[LabelGeneration])
	return g, err == nil && g > 0
}

// NextGeneration is the generation a new attempt deploys, from the one in
// the stack config and the deployed one: one more than deployed, unless
// the config is already ahead (a raise made before a restart, not yet
// deployed), which is not raised again.
func NextGeneration(cfg, deployed int) int {
	if cfg > deployed {
		return cfg
	}
	return deployed + 1
}

// up runs the program; while another update holds the stack's lock it
// waits and tries again until ctx ends.
func (a *Actor) up(ctx context.Context, gens map[string]int) (auto.OutputMap, error) {
	for {
		_, out, err := a.ws.UpGenerations(ctx, gens)
		if err == nil {
			return out, nil
		}
		if !auto.IsConcurrentUpdateError(err) {
			return nil, err
		}
		a.log.Info("heal: the stack is locked by another update; waiting", "retry", a.retry)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stack locked by another update: %w", ctx.Err())
		case <-time.After(a.retry):
		}
	}
}

// ActivateSpare is not supported: the program has no warm spares.
func (a *Actor) ActivateSpare(ctx context.Context, spare string, dead heal.NodeInfo, as heal.NodeSpec) error {
	return errors.New("warm spares are not part of the Pulumi program: run heal without --spares on a `shoal up` stack")
}

// PromoteNode promotes a worker for the time a manager is replaced (the
// next `shoal up` converges roles back to the config).
func (a *Actor) PromoteNode(ctx context.Context, name string) error {
	if err := a.swarm.SetRole(ctx, name, heal.RoleManager); err != nil {
		return err
	}
	return a.swarm.WaitReady(ctx, name)
}

// DemoteNode demotes a worker heal promoted.
func (a *Actor) DemoteNode(ctx context.Context, name string) error {
	return a.swarm.SetRole(ctx, name, heal.RoleWorker)
}

// RemoveDeadNode removes dead's entry, left over beside its Ready
// replacement of the same name; its server is already gone (the up
// replaced it).
func (a *Actor) RemoveDeadNode(ctx context.Context, dead heal.NodeInfo, _ string) error {
	if dead.ID == "" {
		return fmt.Errorf("remove %s: no entry ID", dead.Name)
	}
	return a.swarm.RemoveEntry(ctx, dead.ID, dead.Name)
}

// AbandonReplacement removes the entry of a new server of dead's name that
// never became Ready and forgets the generation the attempt deployed, so
// the next attempt raises it again (the server stays in the state until
// that attempt replaces it).
func (a *Actor) AbandonReplacement(ctx context.Context, dead heal.NodeInfo, failed string) error {
	var stuck []string
	err := a.swarm.With(ctx, func(ctx context.Context, m heal.Manager) error {
		res, err := m.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return fmt.Errorf("node list: %w", err)
		}
		stuck = stuck[:0]
		for _, n := range res.Items {
			name := swarm.NodeName(n.Spec.Labels, n.Description.Hostname)
			if name == failed && n.ID != dead.ID && n.Status.State != swarmtypes.NodeStateReady {
				stuck = append(stuck, n.ID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range stuck {
		if err := a.swarm.RemoveEntry(ctx, id, failed); err != nil {
			return err
		}
	}
	if dead.ID == "" {
		return nil
	}
	return a.swarm.UpdateEntry(ctx, dead.ID, func(s *swarmtypes.NodeSpec) { delete(s.Labels, LabelGeneration) })
}

// Unlock unlocks a locked manager with the key in the unlock key file.
func (a *Actor) Unlock(ctx context.Context, node heal.NodeInfo) error {
	inv, err := inventory.Load(a.invPath)
	if err != nil {
		return err
	}
	n, ok := inv.Node(node.Name)
	if !ok {
		return fmt.Errorf("unlock %s: not in the inventory", node.Name)
	}
	// The stack's secret output first (the program reads the key from the
	// swarm), then the key file.
	if outs, err := a.ws.Outputs(ctx); err == nil {
		if v, ok := outs[infra.OutputUnlockKey].Value.(string); ok && v != "" {
			return heal.UnlockNodeWithKey(ctx, bootstrap.Target(inv, n), a.dial, v)
		}
	}
	if a.keyFile == "" {
		return fmt.Errorf("unlock %s: the stack has no %s output and no unlock key file is configured", node.Name, infra.OutputUnlockKey)
	}
	return heal.UnlockNode(ctx, bootstrap.Target(inv, n), a.dial, a.keyFile)
}
