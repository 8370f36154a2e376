// Package swarmexec carries out the swarm steps of a replacement that every
// source of servers shares (wait Ready, drain, wait until the tasks moved,
// demote, remove), through the Docker API of a manager of the inventory
// reached over SSH, and is replace's Executor for clusters from a plain
// inventory (Inventory): the new server already runs at --address, is
// joined with the code of `shoal bootstrap` (bootstrap.JoinNode), and the
// operator's inventory file is never written.
//
// It imports replace, heal (its Swarm) and bootstrap; nothing imports it
// but replace/labexec, the CLI and tests.
package swarmexec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/heal"
)

// Swarm does the swarm steps of a replacement through the first manager
// of the current inventory that answers.
type Swarm struct {
	// Inventory returns the inventory whose managers are asked (read
	// again at every step: a join changes it).
	Inventory func() (*inventory.Inventory, error)
	Dial      remote.DialOptions
	// Poll is the interval of waits (default 1s).
	Poll time.Duration

	heal *heal.Swarm
}

// NewSwarm is a Swarm asking the managers of inv().
func NewSwarm(inv func() (*inventory.Inventory, error), dial remote.DialOptions, poll time.Duration) *Swarm {
	if poll <= 0 {
		poll = time.Second
	}
	s := &Swarm{Inventory: inv, Dial: dial, Poll: poll}
	s.heal = &heal.Swarm{With: s.withManager, Poll: poll}
	return s
}

// Heal is heal's Swarm over the same managers (for heal's actors).
func (s *Swarm) Heal() *heal.Swarm { return s.heal }

func (s *Swarm) withManager(ctx context.Context, fn func(ctx context.Context, m heal.Manager) error) error {
	return s.WithClient(ctx, func(ctx context.Context, c *client.Client) error { return fn(ctx, c) })
}

// WithClient runs fn against the Docker API of the first manager of the
// inventory that answers over SSH.
func (s *Swarm) WithClient(ctx context.Context, fn func(ctx context.Context, c *client.Client) error) error {
	inv, err := s.Inventory()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range inv.Managers() {
		o := s.Dial
		o.Attempts = 1
		c, err := remote.Dial(ctx, bootstrap.Target(inv, m), o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		defer c.Close()
		cli, err := c.Docker(ctx)
		if err != nil {
			return fmt.Errorf("docker API of %s: %w", m.Name, err)
		}
		return fn(ctx, cli)
	}
	return fmt.Errorf("no manager of the inventory answered: %w", errors.Join(errs...))
}

// WaitReady waits until node name is Ready (and reachable, as a manager).
func (s *Swarm) WaitReady(ctx context.Context, name string) error {
	return s.heal.WaitReady(ctx, name)
}

// Drain sets node name's availability to drain.
func (s *Swarm) Drain(ctx context.Context, name string) error {
	return s.heal.Update(ctx, name, func(spec *swarmtypes.NodeSpec) { spec.Availability = swarmtypes.NodeAvailabilityDrain })
}

// WaitMoved waits until no task runs on node name and every replicated
// service runs as many tasks as it wants elsewhere.
func (s *Swarm) WaitMoved(ctx context.Context, name string) error {
	id, _, _, ok, err := s.heal.Lookup(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("node %s is not in the swarm", name)
	}
	for {
		var left []string
		err := s.WithClient(ctx, func(ctx context.Context, cli *client.Client) error {
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
		case <-time.After(s.Poll):
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

// Demote makes manager name a worker and waits until raft no longer
// counts it (its entry has no manager status), so that the next step sees
// the manager count the plan checked.
func (s *Swarm) Demote(ctx context.Context, name string) error {
	if err := s.heal.SetRole(ctx, name, heal.RoleWorker); err != nil {
		return err
	}
	for {
		var still bool
		err := s.WithClient(ctx, func(ctx context.Context, cli *client.Client) error {
			res, err := cli.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return err
			}
			still = slices.ContainsFunc(res.Items, func(n swarmtypes.Node) bool {
				return swarm.NodeName(n.Spec.Labels, n.Description.Hostname) == name && n.ManagerStatus != nil
			})
			return nil
		})
		if err == nil && !still {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to leave the managers: %w", name, ctx.Err())
		case <-time.After(s.Poll):
		}
	}
}

// Remove removes node name (drained, a worker now) from the swarm.
func (s *Swarm) Remove(ctx context.Context, name string) error {
	return s.heal.Remove(ctx, name, true)
}

// ServiceImages lists the images the swarm's services run (their
// references as the service specs hold them), sorted, without repeats.
func (s *Swarm) ServiceImages(ctx context.Context) ([]string, error) {
	var imgs []string
	err := s.WithClient(ctx, func(ctx context.Context, cli *client.Client) error {
		res, err := cli.ServiceList(ctx, client.ServiceListOptions{})
		if err != nil {
			return fmt.Errorf("list services: %w", err)
		}
		for _, svc := range res.Items {
			if c := svc.Spec.TaskTemplate.ContainerSpec; c != nil && c.Image != "" {
				imgs = append(imgs, c.Image)
			}
		}
		return nil
	})
	slices.Sort(imgs)
	return slices.Compact(imgs), err
}
