// Package labexec is replace's Executor for clusters made by `shoal lab
// up`: the new server is a lab VPS container (lab.AddNode), given the
// images of the swarm's services that NAME's engine holds (the lab has no
// registry: this stands in for the pulls a new server would make), joined
// with the code of `shoal bootstrap` and written into the lab's inventory
// in NAME's place (heal/labactor, which heal uses for the same job), and
// NAME's container is deleted at the end (lab.RemoveNode). Swarm changes
// go through replace/swarmexec, on the first inventory manager that
// answers over SSH.
//
// It imports replace, heal, bootstrap and lab; nothing imports it but the
// CLI and tests.
package labexec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/replace"
	"github.com/shoalops/shoal/replace/swarmexec"
)

// Executor replaces lab nodes. Build it with New.
type Executor struct {
	*swarmexec.Swarm
	docker   lab.Docker
	lab      *lab.Lab
	invPath  string
	actor    *labactor.Actor
	progress io.Writer
	log      *slog.Logger
}

var _ replace.Executor = (*Executor)(nil)

// Options configure New.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the inventory).
	Dial remote.DialOptions
	// Poll is the interval of waits (default 1s).
	Poll time.Duration
	// Progress hears the lab's and bootstrap's progress lines.
	Progress io.Writer
	Log      *slog.Logger
}

// New is the executor for the lab whose inventory is at invPath.
func New(docker lab.Docker, invPath string, o Options) (*Executor, error) {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	x := &Executor{docker: docker, lab: lab.Ref(inv.Cluster.Name, filepath.Dir(invPath)), invPath: invPath, progress: o.Progress, log: o.Log}
	// The inventory is read again at every step: the join rewrites it.
	x.Swarm = swarmexec.NewSwarm(func() (*inventory.Inventory, error) { return inventory.Load(invPath) }, o.Dial, o.Poll)
	x.actor, err = labactor.New(docker, invPath, x.Heal(), labactor.Options{Dial: o.Dial, Progress: o.Progress, Log: o.Log})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// CreateServer creates the lab VPS container of n.
func (x *Executor) CreateServer(ctx context.Context, n replace.Node) error {
	role := lab.RoleWorker
	if n.Role == inventory.RoleManager {
		role = lab.RoleManager
	}
	if _, err := lab.AddNode(ctx, x.docker, x.lab, lab.NodeSpec{Name: n.Name, Role: role, Hoster: n.Hoster, Region: n.Region}, x.progress); err != nil {
		return fmt.Errorf("create lab server %s at %s: %w", n.Name, n.Hoster, err)
	}
	return nil
}

// Join gives the new container the service images old's engine holds,
// pins its host key, puts n in the inventory in old's place and joins it
// as `shoal bootstrap` would (heal/labactor).
func (x *Executor) Join(ctx context.Context, n, old replace.Node) error {
	if err := x.copyImages(ctx, n.Name, old.Name); err != nil {
		// NAME may be down (its container stopped): the join goes on, and
		// tasks that need an image the successor lacks are rejected there
		// and placed elsewhere.
		x.log.Warn("node replace: the successor did not get the service images", "node", n.Name, "from", old.Name, "err", err)
	}
	return x.actor.ReplaceServer(ctx, heal.NodeInfo{Name: old.Name, Role: old.Role, Hoster: old.Hoster, Region: old.Region, Addr: old.Address},
		heal.NodeSpec{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region, Labels: n.Labels})
}

// copyImages copies the images of the swarm's services that old's engine
// holds into the engine of new: a new lab VPS cannot pull them, and the
// tasks that move to it at the drain would otherwise be rejected there
// ("No such image"), leaving their services short while NAME drains.
func (x *Executor) copyImages(ctx context.Context, nu, old string) error {
	imgs, err := x.ServiceImages(ctx)
	if err != nil || len(imgs) == 0 {
		return err
	}
	copied, err := images.CopyImages(ctx, lab.ContainerName(x.lab.Name, old), lab.ContainerName(x.lab.Name, nu), imgs)
	if err != nil {
		return fmt.Errorf("give %s the service images of %s: %w", nu, old, err)
	}
	if len(copied) > 0 {
		fmt.Fprintf(x.progress, "[%s] loaded %s from %s (a lab VPS cannot pull)\n", nu, strings.Join(copied, ", "), old)
	}
	return nil
}

// DeleteServer deletes node name's lab container.
func (x *Executor) DeleteServer(ctx context.Context, name string) error {
	return lab.RemoveNode(ctx, x.docker, x.lab, name, x.progress)
}
