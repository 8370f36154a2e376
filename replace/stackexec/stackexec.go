// Package stackexec is replace's Executor for clusters made by `shoal up`:
// servers and the swarm are resources of shoal's Pulumi program, so the
// new server is created and joined THROUGH the program, and NAME's server
// deleted through it (ADR 0034). Join runs the Automation API `up` with
// the replacement's first step (infra.Replacement: the successor listed
// beside NAME, whose server stays; the swarm resource joins it with NAME's
// role and labels), DeleteServer runs it with the last (the successor in
// NAME's place: NAME's server is deleted); between them the swarm steps
// (wait Ready, drain, wait until the tasks moved, remove) are
// replace/swarmexec's, on the stack's inventory, which every up rewrites
// from the outputs. The user's stack file is never written: the program
// keeps deployed successors (infra.Options.Successors).
//
// It imports replace, replace/swarmexec, infra and infra/automation;
// nothing imports it but the CLI and tests.
package stackexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/replace"
	"github.com/shoalops/shoal/replace/swarmexec"
)

// Executor replaces the nodes of a `shoal up` stack. Build it with New.
type Executor struct {
	*swarmexec.Swarm
	ws       *automation.Workspace
	progress io.Writer
	log      *slog.Logger
}

var _ replace.Executor = (*Executor)(nil)

// Options configure New.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the stack
	// inventory).
	Dial remote.DialOptions
	// Poll is the interval of waits (default 1s).
	Poll     time.Duration
	Progress io.Writer
	Log      *slog.Logger
}

// New is the executor for the stack opened in ws, whose inventory is at
// invPath (automation.InventoryPath).
func New(ws *automation.Workspace, invPath string, o Options) *Executor {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	x := &Executor{ws: ws, progress: o.Progress, log: o.Log}
	// The inventory is read again at every step: every up rewrites it.
	x.Swarm = swarmexec.NewSwarm(func() (*inventory.Inventory, error) { return inventory.Load(invPath) }, o.Dial, o.Poll)
	return x
}

// CreateServer is no step of a stack's plan: Join creates the server.
func (x *Executor) CreateServer(ctx context.Context, n replace.Node) error {
	return errors.New("a stack's server is created by the join step's pulumi up")
}

// Join creates n's server and joins it with old's role and labels in one
// up of the program, old keeping its server (a manager joins as a worker
// and is promoted here: see infra's swarmRole); on the local lab it then
// gives n the service images old's engine holds (a lab VPS cannot pull).
func (x *Executor) Join(ctx context.Context, n, old replace.Node) error {
	outputs, err := x.up(ctx, Replacement(n, old))
	if err != nil {
		return fmt.Errorf("create and join %s beside %s: %w", n.Name, old.Name, err)
	}
	if n.Role == inventory.RoleManager {
		// The program joined it as a worker (infra: a manager's successor
		// joins as one while its predecessor is listed).
		if err := x.Heal().SetRole(ctx, n.Name, heal.RoleManager); err != nil {
			return fmt.Errorf("promote %s: %w", n.Name, err)
		}
	}
	if err := x.copyImages(ctx, outputs, n.Name, old.Name); err != nil {
		// As labexec: the drain goes on; a task whose image the successor
		// lacks is rejected there and placed elsewhere.
		x.log.Warn("node replace: the successor did not get the service images", "node", n.Name, "from", old.Name, "err", err)
	}
	return nil
}

// Replacement is the program's first step of the replacement of old by n.
func Replacement(n, old replace.Node) infra.Replacement {
	return infra.Replacement{Node: old.Name, Successor: n.Name, Hoster: n.Hoster, Type: n.Type}
}

// DeleteServer puts the successor joining beside name (this run's Join, or
// an earlier run's, resumed) in name's place in the program: the up
// deletes name's server (name has left the swarm).
func (x *Executor) DeleteServer(ctx context.Context, name string) error {
	u, ok := infra.Unfinished(x.ws.Successors())[name]
	if !ok {
		return fmt.Errorf("delete the server of %s: the stack has no successor joining beside it", name)
	}
	r := infra.Replacement{Node: name, Successor: u.Name, Done: true}
	if _, err := x.up(ctx, r); err != nil {
		return fmt.Errorf("delete the server of %s (%s in its place): %w", name, r.Successor, err)
	}
	return nil
}

// up runs one step of the replacement and rewrites the stack inventory.
func (x *Executor) up(ctx context.Context, r infra.Replacement) (auto.OutputMap, error) {
	changes, outputs, err := x.ws.UpReplacement(ctx, r)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(x.progress, "pulumi up: %s\n", changes)
	if _, err := x.ws.WriteInventory(outputs); err != nil {
		return nil, err
	}
	return outputs, nil
}

// copyImages copies the images of the swarm's services from old's lab
// container into nu's, when both are local (lab) servers.
func (x *Executor) copyImages(ctx context.Context, outputs auto.OutputMap, nu, old string) error {
	nodes, err := automation.OutputNodes(outputs)
	if err != nil {
		return err
	}
	local := 0
	for _, n := range nodes {
		if (n.Name == nu || n.Name == old) && n.Provider == node.ProviderLocal {
			local++
		}
	}
	cluster, _ := outputs[infra.OutputCluster].Value.(string)
	if local != 2 || cluster == "" {
		return nil // real servers pull
	}
	imgs, err := x.ServiceImages(ctx)
	if err != nil || len(imgs) == 0 {
		return err
	}
	copied, err := images.CopyImages(ctx, lab.ContainerName(cluster, old), lab.ContainerName(cluster, nu), imgs)
	if err != nil {
		return fmt.Errorf("give %s the service images of %s: %w", nu, old, err)
	}
	if len(copied) > 0 {
		fmt.Fprintf(x.progress, "[%s] loaded %s from %s (a lab VPS cannot pull)\n", nu, strings.Join(copied, ", "), old)
	}
	return nil
}
