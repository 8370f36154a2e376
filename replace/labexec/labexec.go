// Package labexec is replace's Executor for clusters made by `shoal lab
// up`: the new server is a lab VPS container (lab.AddNode), joined with the
// code of `shoal bootstrap` and written into the lab's inventory in NAME's
// place (heal/labactor, which heal uses for the same job), and NAME's
// container is deleted at the end (lab.RemoveNode). Swarm changes go
// through the Docker API of the first inventory manager that answers over
// SSH.
//
// It imports replace, heal, bootstrap and lab; nothing imports it but the
// CLI and tests.
package labexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/replace"
)

// Executor replaces lab nodes. Build it with New.
type Executor struct {
	docker   lab.Docker
	lab      *lab.Lab
	invPath  string
	dial     remote.DialOptions
	actor    *labactor.Actor
	swarm    *heal.Swarm
	poll     time.Duration
	progress io.Writer
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
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	x := &Executor{docker: docker, lab: lab.Ref(inv.Cluster.Name, filepath.Dir(invPath)), invPath: invPath, dial: o.Dial, poll: o.Poll, progress: o.Progress}
	x.swarm = &heal.Swarm{With: x.withManager, Poll: o.Poll}
	x.actor, err = labactor.New(docker, invPath, x.swarm, labactor.Options{Dial: o.Dial, Progress: o.Progress, Log: o.Log})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// withManager runs fn against the first manager of the inventory (read
// again: the join rewrites it) that answers over SSH.
func (x *Executor) withManager(ctx context.Context, fn func(ctx context.Context, m heal.Manager) error) error {
	c, err := x.manager(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	cli, err := c.Docker(ctx)
	if err != nil {
		return err
	}
	return fn(ctx, cli)
}

func (x *Executor) manager(ctx context.Context) (*remote.Conn, error) {
	inv, err := inventory.Load(x.invPath)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range inv.Managers() {
		o := x.dial
		o.Attempts = 1
		c, err := remote.Dial(ctx, bootstrap.Target(inv, m), o)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
	}
	return nil, fmt.Errorf("no manager of %s answered: %w", x.invPath, errors.Join(errs...))
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

// Join pins the new container's host key, puts n in the inventory in old's
// place and joins it as `shoal bootstrap` would (heal/labactor).
func (x *Executor) Join(ctx context.Context, n, old replace.Node) error {
	return x.actor.ReplaceServer(ctx, heal.NodeInfo{Name: old.Name, Role: old.Role, Hoster: old.Hoster, Region: old.Region, Addr: old.Address},
		heal.NodeSpec{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region, Labels: n.Labels})
}

// WaitReady waits until node name is Ready (and reachable, as a manager).
func (x *Executor) WaitReady(ctx context.Context, name string) error {
	return x.swarm.WaitReady(ctx, name)
}

// Drain sets node name's availability to drain.
func (x *Executor) Drain(ctx context.Context, name string) error {
	return x.swarm.Update(ctx, name, func(spec *swarmtypes.NodeSpec) { spec.Availability = swarmtypes.NodeAvailabilityDrain })
}

// WaitMoved waits until no task runs on node name and every replicated
// service runs as many tasks as it wants elsewhere.
func (x *Executor) WaitMoved(ctx context.Context, name string) error {
	id, _, _, ok, err := x.swarm.Lookup(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("node %s is not in the swarm", name)
	}
	for {
		var left []string
		err := x.withManager(ctx, func(ctx context.Context, m heal.Manager) error {
			cli, ok := m.(*client.Client)
			if !ok {
				return errors.New("the manager connection cannot list tasks")
			}
			var err error
			left, err = notMoved(ctx, cli, id)
			return err
		})
		if err == nil && len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the tasks of %s to run elsewhere (still: %v): %w", name, left, ctx.Err())
		case <-time.After(x.poll):
		}
	}
}

// notMoved names what still keeps node id busy: its running tasks, and
// replicated services with fewer running tasks than replicas.
func notMoved(ctx context.Context, cli *client.Client, id string) ([]string, error) {
	svcs, err := cli.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("desired-state", "running")})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	names := map[string]string{}
	for _, s := range svcs.Items {
		names[s.ID] = s.Spec.Name
	}
	var left []string
	running := map[string]uint64{}
	for _, t := range tasks.Items {
		if t.Status.State != swarmtypes.TaskStateRunning {
			continue
		}
		if t.NodeID == id {
			left = append(left, "a task of "+names[t.ServiceID]+" on the node")
			continue
		}
		running[t.ServiceID]++
	}
	for _, s := range svcs.Items {
		if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil && running[s.ID] < *r.Replicas {
			left = append(left, fmt.Sprintf("%s runs %d of %d", s.Spec.Name, running[s.ID], *r.Replicas))
		}
	}
	return left, nil
}

// Demote makes manager name a worker.
func (x *Executor) Demote(ctx context.Context, name string) error {
	return x.swarm.SetRole(ctx, name, heal.RoleWorker)
}

// Remove removes node name (drained, a worker now) from the swarm; its
// container is deleted next.
func (x *Executor) Remove(ctx context.Context, name string) error {
	return x.swarm.Remove(ctx, name, true)
}

// DeleteServer deletes node name's lab container.
func (x *Executor) DeleteServer(ctx context.Context, name string) error {
	return lab.RemoveNode(ctx, x.docker, x.lab, name, x.progress)
}
