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
	"maps"
	"slices"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/replace"
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
	// Stuck is how long a service may stay short of tasks that cannot
	// get there by themselves (the scheduler finds no node for them, or
	// they keep failing) before WaitMoved gives up (default 1 minute).
	Stuck time.Duration

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

// Resume takes over n, joined beside old by an earlier run: it waits
// until n is Ready (it was when the plan was made). A lab's inventory
// lists n in old's place since that run's join; Inventory keeps its own.
func (s *Swarm) Resume(ctx context.Context, n, old replace.Node) error {
	return s.heal.WaitReady(ctx, n.Name)
}

// Drain sets node name's availability to drain.
func (s *Swarm) Drain(ctx context.Context, name string) error {
	return s.heal.Update(ctx, name, func(spec *swarmtypes.NodeSpec) { spec.Availability = swarmtypes.NodeAvailabilityDrain })
}

// WaitMoved waits until no task runs on node name and every replicated
// service runs as many tasks as it wants elsewhere. A service whose task
// the scheduler cannot place anywhere else (a constraint only name met, no
// node with the resources), or whose tasks keep failing, for s.Stuck
// stops the wait with an *UnplaceableError: waiting longer would not help.
func (s *Swarm) WaitMoved(ctx context.Context, name string) error {
	id, _, _, ok, err := s.heal.Lookup(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("node %s is not in the swarm", name)
	}
	stuckFor := s.Stuck
	if stuckFor <= 0 {
		stuckFor = time.Minute
	}
	since := map[string]time.Time{} // service -> first seen unplaceable
	for {
		var left []string
		var stuck map[string]string
		err := s.WithClient(ctx, func(ctx context.Context, cli *client.Client) error {
			var err error
			left, stuck, err = notMoved(ctx, cli, id)
			return err
		})
		if err == nil && len(left) == 0 {
			return nil
		}
		if err == nil {
			if e := stuckLongEnough(since, stuck, time.Now(), stuckFor); e != nil {
				e.Node = name
				return e
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the tasks of %s to run elsewhere (still: %v): %w", name, left, ctx.Err())
		case <-time.After(s.Poll):
		}
	}
}

// UnplaceableError: services short of tasks while a node is drained
// cannot get them back by themselves: the scheduler finds no node for
// them, or their tasks keep failing.
type UnplaceableError struct {
	Node string
	// Services maps each service to the scheduler's reason.
	Services map[string]string
	For      time.Duration
}

func (e *UnplaceableError) Error() string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(e.Services)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", n, e.Services[n]))
	}
	return fmt.Sprintf("for %s these services could not run their tasks away from %s: %s. %s is drained and still a member: "+
		"fix those services (their placement constraints, resources or image), or add a node that meets them, "+
		"then run the same `shoal node replace %s` again: it resumes with the successor from the drain; "+
		"or give up with `docker node update --availability active %s`",
		e.For.Round(time.Second), e.Node, strings.Join(parts, ", "), e.Node, e.Node, e.Node)
}

// stuckLongEnough records in since when each service of stuck was first
// seen unplaceable (forgetting the others) and returns an error naming
// those stuck for at least d by now, or nil. Pure.
func stuckLongEnough(since map[string]time.Time, stuck map[string]string, now time.Time, d time.Duration) *UnplaceableError {
	for n := range since {
		if _, ok := stuck[n]; !ok {
			delete(since, n)
		}
	}
	long := map[string]string{}
	for n, why := range stuck {
		t, ok := since[n]
		if !ok {
			since[n] = now
			continue
		}
		if now.Sub(t) >= d {
			long[n] = why
		}
	}
	if len(long) == 0 {
		return nil
	}
	return &UnplaceableError{Services: long, For: d}
}

// notMoved names what still keeps node id busy: its running tasks, and
// replicated services with fewer running tasks than replicas; and which
// of those services cannot get there by themselves (with the reason).
func notMoved(ctx context.Context, cli *client.Client, id string) (left []string, stuck map[string]string, err error) {
	svcs, err := cli.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list services: %w", err)
	}
	// Every task the swarm keeps (its task history too): the failures of
	// the last moments say why a service stays short.
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list tasks: %w", err)
	}
	left, stuck = moveState(svcs.Items, tasks.Items, id, time.Now())
	return left, stuck, nil
}

// failedRecently is how far back a task's failure still explains why its
// service is short of tasks (swarm restarts a failed task after 5 s by
// default, so a service that cannot run fails again well within it).
const failedRecently = 30 * time.Second

// moveState is notMoved's decision on the listed services and tasks. A
// service short of tasks is stuck when one of its tasks waits for a node
// the scheduler cannot find, or failed (rejected: no such image; failed:
// the process exits) within failedRecently of now; the reason is the
// newest such task's error. A short service whose new tasks are still
// starting (an image pull) is not stuck. Pure.
func moveState(svcs []swarmtypes.Service, tasks []swarmtypes.Task, id string, now time.Time) (left []string, stuck map[string]string) {
	running := map[string]uint64{}
	type why struct {
		err string
		at  time.Time
	}
	reason := map[string]why{}
	for _, t := range tasks {
		switch {
		case t.DesiredState == swarmtypes.TaskStateRunning && t.Status.State == swarmtypes.TaskStateRunning:
			if t.NodeID == id {
				left = append(left, "a task of "+nameOf(svcs, t.ServiceID)+" on the node")
			} else {
				running[t.ServiceID]++
			}
			continue
		case t.Status.Err == "":
			continue
		case t.Status.State == swarmtypes.TaskStatePending && t.DesiredState == swarmtypes.TaskStateRunning:
			// The scheduler's reason, e.g. "no suitable node (scheduling
			// constraints not satisfied on 4 nodes)".
		case (t.Status.State == swarmtypes.TaskStateRejected || t.Status.State == swarmtypes.TaskStateFailed) && now.Sub(t.Status.Timestamp) <= failedRecently:
		default:
			continue
		}
		if r, ok := reason[t.ServiceID]; !ok || t.Status.Timestamp.After(r.at) {
			reason[t.ServiceID] = why{t.Status.Err, t.Status.Timestamp}
		}
	}
	for _, s := range svcs {
		r := s.Spec.Mode.Replicated
		if r == nil || r.Replicas == nil || running[s.ID] >= *r.Replicas {
			continue
		}
		left = append(left, fmt.Sprintf("%s runs %d of %d", s.Spec.Name, running[s.ID], *r.Replicas))
		if w, ok := reason[s.ID]; ok {
			if stuck == nil {
				stuck = map[string]string{}
			}
			stuck[s.Spec.Name] = w.err
		}
	}
	return left, stuck
}

func nameOf(svcs []swarmtypes.Service, id string) string {
	for _, s := range svcs {
		if s.ID == id {
			return s.Spec.Name
		}
	}
	return id
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
