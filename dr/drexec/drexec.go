// Package drexec is dr's Executor: the swarm is reached over SSH (the
// Docker API of the survivor and of the managers that rejoin), swarm
// entries change through heal.Swarm, rejoins go through `shoal bootstrap`'s
// code (bootstrap.Run), and on labs a missing manager is replaced as heal
// replaces one (heal/labactor: a new lab VPS at the dead node's hoster,
// written into the inventory in its place, joined, the dead container
// deleted); on `shoal up` stacks the dead managers get new servers under
// their names through the stack's Pulumi program, as heal's Pulumi actor
// replaces a node (heal/pulumiactor), and the apps' webhooks are checked
// against the services and Vault with the rule `shoal up` applies
// (infra/provider.CheckWebhooks).
//
// It imports dr, heal, bootstrap, lab and infra; nothing imports it but
// the CLI and tests.
package drexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/dr"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/heal/pulumiactor"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/provider"
	"github.com/shoalops/shoal/lab"
)

// Executor recovers a swarm. Build it with New.
type Executor struct {
	invPath  string
	survivor string
	dial     remote.DialOptions
	swarm    *heal.Swarm
	actor    *labactor.Actor // nil unless the cluster is a lab
	// stack and program are set for a `shoal up` stack.
	stack    *automation.Workspace
	program  *pulumiactor.Actor
	progress io.Writer
	log      *slog.Logger
	poll     time.Duration
	// Converge bounds CheckServices' wait for the services.
	converge time.Duration
}

var _ dr.Executor = (*Executor)(nil)

// Options configure New.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the inventory).
	Dial remote.DialOptions
	// Lab, when set, is the lab's Docker Engine: missing managers are
	// replaced by new lab VPS containers.
	Lab lab.Docker
	// Stack, when set, is the `shoal up` stack of the cluster (opened as
	// `shoal up` opens it): missing managers are replaced through its
	// Pulumi program and its webhooks are checked.
	Stack    *automation.Workspace
	Progress io.Writer
	Log      *slog.Logger
	// Poll is the interval of waits (default 1s); Converge bounds the
	// wait for the services to run again (default 3 minutes).
	Poll, Converge time.Duration
}

// New is the executor for the cluster whose inventory is at invPath,
// re-formed on manager survivor.
func New(invPath, survivor string, o Options) (*Executor, error) {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Converge <= 0 {
		o.Converge = 3 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	x := &Executor{invPath: invPath, survivor: survivor, dial: o.Dial, progress: o.Progress, log: o.Log, poll: o.Poll, converge: o.Converge}
	x.swarm = &heal.Swarm{With: x.withSurvivor, Poll: o.Poll}
	if o.Lab != nil {
		a, err := labactor.New(o.Lab, invPath, x.swarm, labactor.Options{Dial: o.Dial, Progress: o.Progress, Log: o.Log})
		if err != nil {
			return nil, err
		}
		x.actor = a
	}
	if o.Stack != nil {
		x.stack = o.Stack
		x.program = pulumiactor.New(o.Stack, invPath, x.swarm, pulumiactor.Options{Dial: o.Dial, Log: o.Log})
	}
	return x, nil
}

// engine opens the Docker API of inventory node name over SSH.
func (x *Executor) engine(ctx context.Context, name string) (*client.Client, func(), *inventory.Inventory, error) {
	inv, err := inventory.Load(x.invPath)
	if err != nil {
		return nil, nil, nil, err
	}
	n, ok := inv.Node(name)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%s is not in the inventory %s", name, x.invPath)
	}
	o := x.dial
	o.Attempts = 2
	c, err := remote.Dial(ctx, bootstrap.Target(inv, n), o)
	if err != nil {
		return nil, nil, nil, err
	}
	cli, err := c.Docker(ctx)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return cli, func() { cli.Close(); c.Close() }, inv, nil
}

// withSurvivor runs fn against the survivor's engine: after the
// re-forming it is the one manager sure to lead.
func (x *Executor) withSurvivor(ctx context.Context, fn func(ctx context.Context, m heal.Manager) error) error {
	cli, done, _, err := x.engine(ctx, x.survivor)
	if err != nil {
		return err
	}
	defer done()
	return fn(ctx, cli)
}

// ForceNewCluster runs `swarm init --force-new-cluster` on m with the
// options `shoal bootstrap` inits with (swarm.InitOptions).
func (x *Executor) ForceNewCluster(ctx context.Context, m dr.Manager) error {
	cli, done, inv, err := x.engine(ctx, m.Name)
	if err != nil {
		return err
	}
	defer done()
	n, _ := inv.Node(m.Name)
	opts := swarm.InitOptions(inv, n)
	opts.ForceNewCluster = true
	if _, err := cli.SwarmInit(ctx, opts); err != nil {
		return fmt.Errorf("swarm init --force-new-cluster on %s: %w", m.Name, err)
	}
	return nil
}

// WaitLeader waits until name leads and answers the node list.
func (x *Executor) WaitLeader(ctx context.Context, name string) error {
	return x.wait(ctx, 2*time.Minute, "leader "+name, func(ctx context.Context) (bool, string, error) {
		cli, done, _, err := x.engine(ctx, name)
		if err != nil {
			return false, "", err
		}
		defer done()
		res, err := cli.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return false, "no node list yet: " + err.Error(), nil
		}
		for _, n := range res.Items {
			if n.ManagerStatus != nil && n.ManagerStatus.Leader && swarm.NodeName(n.Spec.Labels, n.Description.Hostname) == name {
				return true, "", nil
			}
		}
		return false, name + " is not the leader yet", nil
	})
}

// Rejoin makes alive manager name leave its old raft (force: its managers
// are gone) and join the re-formed swarm as a manager through via, with
// `shoal bootstrap`'s code on the two of them (which also removes name's
// stale entry first), then waits until it is Ready.
func (x *Executor) Rejoin(ctx context.Context, name, via string) error {
	cli, done, inv, err := x.engine(ctx, name)
	if err != nil {
		return err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err == nil && info.Info.Swarm.LocalNodeState != swarmtypes.LocalNodeStateInactive {
		_, err = cli.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true})
	}
	done()
	if err != nil {
		return fmt.Errorf("%s: leave the old swarm: %w", name, err)
	}
	sub := *inv
	sub.Nodes = nil
	for _, n := range inv.Nodes {
		if n.Name == via || n.Name == name {
			sub.Nodes = append(sub.Nodes, n)
		}
	}
	if _, err := bootstrap.Run(ctx, &sub, bootstrap.Options{Dial: x.dial, Log: x.log}, progress{x.progress}); err != nil {
		return fmt.Errorf("join %s through %s: %w", name, via, err)
	}
	return x.swarm.WaitReady(ctx, name)
}

// RemoveEntry removes the entries of dead manager name. After
// force-new-cluster a dead manager is no raft member any more: swarmkit
// refuses to demote it (NotFound: not in the raft member list) but lets
// `node rm --force` remove it as it is. Should it still be a member, the
// removal is refused and heal's demote-then-remove is used. Heal's safety
// rules hold either way: never a reachable manager, never a Ready node.
func (x *Executor) RemoveEntry(ctx context.Context, name string) error {
	err := x.withSurvivor(ctx, func(ctx context.Context, m heal.Manager) error {
		res, err := m.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return fmt.Errorf("node list: %w", err)
		}
		for _, n := range res.Items {
			if swarm.NodeName(n.Spec.Labels, n.Description.Hostname) != name {
				continue
			}
			if n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable {
				return fmt.Errorf("%s (%s) is a reachable manager: not removed", name, n.ID)
			}
			if n.Status.State == swarmtypes.NodeStateReady {
				return fmt.Errorf("%s (%s) is Ready: not removed", name, n.ID)
			}
			if _, err := m.NodeRemove(ctx, n.ID, client.NodeRemoveOptions{Force: true}); err != nil {
				return fmt.Errorf("node rm --force %s (%s): %w", name, n.ID, err)
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if err2 := x.swarm.Remove(ctx, name, false); err2 != nil {
		return errors.Join(err, err2)
	}
	return nil
}

// ReplaceManager replaces dead manager dead by newName on labs, as heal
// does: new container at dead's hoster, in dead's place in the
// inventory, joined, Ready; then dead's container is deleted.
func (x *Executor) ReplaceManager(ctx context.Context, dead dr.Manager, newName string) error {
	if x.actor == nil {
		return fmt.Errorf("replace %s: shoal can create servers only for labs; start one at %s and run `shoal bootstrap`", dead.Name, dead.Hoster)
	}
	inv, err := inventory.Load(x.invPath)
	if err != nil {
		return err
	}
	var labels map[string]string
	if n, ok := inv.Node(dead.Name); ok {
		labels = n.Labels
	}
	info := heal.NodeInfo{Name: dead.Name, Role: heal.RoleManager, Hoster: dead.Hoster, Region: dead.Region, Addr: dead.Address}
	if err := x.actor.ReplaceServer(ctx, info, heal.NodeSpec{Name: newName, Role: heal.RoleManager, Hoster: dead.Hoster, Region: dead.Region, Labels: labels}); err != nil {
		return err
	}
	return x.actor.RemoveDeadNode(ctx, info, newName)
}

// ReplaceThroughProgram gives the dead managers of a stack new servers
// under their names in one run of the stack's Pulumi program (heal's
// Pulumi actor, each node's generation raised for that run) and waits
// until each is Ready. Their old entries are gone already (RemoveEntry).
func (x *Executor) ReplaceThroughProgram(ctx context.Context, dead []dr.Manager) error {
	if x.program == nil {
		return errors.New("replace through the program: the cluster is no `shoal up` stack")
	}
	var infos []heal.NodeInfo
	for _, m := range dead {
		infos = append(infos, heal.NodeInfo{Name: m.Name, Role: heal.RoleManager, Hoster: m.Hoster, Region: m.Region, Addr: m.Address})
	}
	return x.program.ReplaceServers(ctx, infos)
}

// CheckWebhooks checks the webhooks of every app stack of the `shoal up`
// stack, as the state recorded them (its export with the secrets, kept in
// memory), against Portainer and Vault, and re-syncs those that drifted
// (provider.CheckWebhooks).
func (x *Executor) CheckWebhooks(ctx context.Context) (dr.WebhookReport, error) {
	var rep dr.WebhookReport
	if x.stack == nil {
		return rep, nil
	}
	export, err := x.stack.Export(ctx)
	if err != nil {
		return rep, err
	}
	states, err := provider.RecordedWebhooks(export)
	if err != nil {
		return rep, err
	}
	for _, st := range states {
		c, err := provider.CheckWebhooks(ctx, st)
		rep.Checked += c.Checked
		for _, d := range c.Drift {
			what := "found"
			if c.Resynced {
				what = "re-synced"
			}
			rep.Resynced = append(rep.Resynced, fmt.Sprintf("%s: %s (%s)", c.Stack, d, what))
		}
		if err != nil {
			return rep, fmt.Errorf("webhooks of %s: %w", st.Stack, err)
		}
	}
	return rep, nil
}

// CheckServices waits until the managers have quorum and every replicated
// service runs as many tasks as it wants (global services: one per
// eligible node, as the engine counts), and returns the services.
func (x *Executor) CheckServices(ctx context.Context) ([]dr.Service, error) {
	var out []dr.Service
	err := x.wait(ctx, x.converge, "the services", func(ctx context.Context) (bool, string, error) {
		cli, done, _, err := x.engine(ctx, x.survivor)
		if err != nil {
			return false, "", err
		}
		defer done()
		nodes, err := cli.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return false, "node list: " + err.Error(), nil
		}
		total, reach := 0, 0
		for _, n := range nodes.Items {
			if n.ManagerStatus != nil {
				total++
				if n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable {
					reach++
				}
			}
		}
		if h := quorum.Health(total, reach); h != quorum.OK {
			return false, fmt.Sprintf("quorum %s: %d of %d managers reachable", h, reach, total), nil
		}
		svcs, err := cli.ServiceList(ctx, client.ServiceListOptions{Status: true})
		if err != nil {
			return false, "service list: " + err.Error(), nil
		}
		out = out[:0]
		var behind []string
		for _, s := range svcs.Items {
			sv := dr.Service{ID: s.ID, Name: s.Spec.Name}
			if s.ServiceStatus != nil {
				sv.Running, sv.Desired = s.ServiceStatus.RunningTasks, s.ServiceStatus.DesiredTasks
			}
			if sv.Running < sv.Desired {
				behind = append(behind, fmt.Sprintf("%s %d/%d", sv.Name, sv.Running, sv.Desired))
			}
			out = append(out, sv)
		}
		slices.SortFunc(out, func(a, b dr.Service) int { return strings.Compare(a.Name, b.Name) })
		if len(behind) > 0 {
			return false, "not running yet: " + strings.Join(behind, ", "), nil
		}
		return true, "", nil
	})
	return out, err
}

// wait polls check until it is done, within limit, saying every 10 s what
// it waits for.
func (x *Executor) wait(ctx context.Context, limit time.Duration, what string, check func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := time.Now()
	var why string
	var errs []error
	for {
		actx, acancel := context.WithTimeout(ctx, 15*time.Second)
		ok, w, err := check(actx)
		acancel()
		if ok {
			return nil
		}
		if err != nil {
			errs = append(errs[max(0, len(errs)-2):], err)
			w = err.Error()
		}
		why = w
		if time.Since(last) >= 10*time.Second {
			fmt.Fprintf(x.progress, "  waiting for %s: %s\n", what, why)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %s: %w", limit, what, why, errors.Join(append(errs, ctx.Err())...))
		case <-time.After(x.poll):
		}
	}
}

type progress struct{ w io.Writer }

func (p progress) Node(name, msg string) { fmt.Fprintf(p.w, "[%s] %s\n", name, msg) }
