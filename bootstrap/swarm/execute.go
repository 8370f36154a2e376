package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// Progress receives one line per node per step.
type Progress interface {
	Node(name, msg string)
}

// StepError says which step of a plan failed on which node.
type StepError struct {
	N, Total int
	Step     Step
	Err      error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %d/%d %q failed on %s: %v", e.N, e.Total, string(e.Step.Action), e.Step.Node, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ExecOptions tune Execute.
type ExecOptions struct {
	// Parallel bounds how many nodes are worked on at once (default 8).
	Parallel int
	// ReadyTimeout bounds the wait for joined nodes to report Ready
	// (default 90s); ReadyPoll is the poll interval (default 500ms).
	ReadyTimeout time.Duration
	ReadyPoll    time.Duration
}

// Result is what Execute did.
type Result struct {
	Done []Step
	// UnlockKey is set when this run turned autolock on (or created an
	// autolocked swarm). It is a secret: never log it.
	UnlockKey string
}

// Execute carries out a plan. Managers join one at a time; workers and
// label changes run in parallel, bounded by opts.Parallel. Every
// manager-side call goes through the plan's leader. It stops at the first
// failed step; a re-run plans only what is left.
func Execute(ctx context.Context, inv *inventory.Inventory, plan Plan, engines map[string]Engine, prog Progress, opts ExecOptions) (Result, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if opts.ReadyPoll <= 0 {
		opts.ReadyPoll = 500 * time.Millisecond
	}
	x := &executor{inv: inv, plan: plan, engines: engines, prog: prog, opts: opts, ids: map[string]string{}}
	leader, ok := engines[plan.Leader]
	if !ok && !plan.Empty() {
		return Result{}, fmt.Errorf("no connection to leader %s", plan.Leader)
	}
	x.leader = leader

	var res Result
	steps := plan.Steps
	for i := 0; i < len(steps); {
		// Group consecutive steps that may run side by side.
		j := i + 1
		if steps[i].Action == JoinWorker || steps[i].Action == Label {
			for j < len(steps) && steps[j].Action == steps[i].Action {
				j++
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opts.Parallel)
		var mu sync.Mutex
		for k := i; k < j; k++ {
			st := steps[k]
			g.Go(func() error {
				start := time.Now()
				prog.Node(st.Node, string(st.Action)+" ...")
				err := x.run(gctx, st, &res)
				if err != nil {
					prog.Node(st.Node, fmt.Sprintf("%s failed after %s", st.Action, time.Since(start).Round(100*time.Millisecond)))
					return &StepError{N: k + 1, Total: len(steps), Step: st, Err: err}
				}
				prog.Node(st.Node, fmt.Sprintf("%s done (%s)", st.Action, time.Since(start).Round(100*time.Millisecond)))
				mu.Lock()
				res.Done = append(res.Done, st)
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return res, err
		}
		i = j
	}
	if !plan.Empty() {
		if err := x.waitReady(ctx, opts); err != nil {
			return res, err
		}
	}
	return res, nil
}

type executor struct {
	inv     *inventory.Inventory
	plan    Plan
	engines map[string]Engine
	prog    Progress
	opts    ExecOptions
	leader  Engine

	mu     sync.Mutex
	ids    map[string]string // node name -> swarm node ID, learnt during the run
	tokens *swarm.JoinTokens
	addrs  []string
}

// InitOptions are the options of `swarm init` on manager n: listen on
// 2377 everywhere, advertise AdvertiseAddr, the cluster's data path port
// and autolock. dr recover re-forms a swarm with the same options plus
// ForceNewCluster.
func InitOptions(inv *inventory.Inventory, n inventory.Node) client.SwarmInitOptions {
	return client.SwarmInitOptions{
		ListenAddr:       "0.0.0.0:2377",
		AdvertiseAddr:    AdvertiseAddr(inv, n),
		DataPathPort:     inv.Cluster.DataPathPort,
		AutoLockManagers: inv.Cluster.Autolock,
	}
}

func (x *executor) run(ctx context.Context, st Step, res *Result) error {
	n, _ := x.inv.Node(st.Node)
	switch st.Action {
	case Init:
		r, err := x.leader.SwarmInit(ctx, InitOptions(x.inv, n))
		if err != nil {
			return fmt.Errorf("swarm init: %w", err)
		}
		x.setID(st.Node, r.NodeID)
		if x.inv.Cluster.Autolock {
			k, err := x.leader.SwarmGetUnlockKey(ctx)
			if err != nil {
				return fmt.Errorf("read unlock key: %w", err)
			}
			res.UnlockKey = k.Key
		}
		return nil
	case JoinManager, JoinWorker:
		tok, addrs, err := x.joinInfo(ctx)
		if err != nil {
			return err
		}
		token := tok.Worker
		if st.Action == JoinManager {
			token = tok.Manager
		}
		e := x.engines[st.Node]
		if _, err := e.SwarmJoin(ctx, client.SwarmJoinOptions{
			ListenAddr:    "0.0.0.0:2377",
			AdvertiseAddr: AdvertiseAddr(x.inv, n),
			RemoteAddrs:   addrs,
			JoinToken:     token,
		}); err != nil {
			return fmt.Errorf("swarm join %v: %w", addrs, err)
		}
		info, err := e.Info(ctx, client.InfoOptions{})
		if err != nil {
			return fmt.Errorf("docker info after join: %w", err)
		}
		x.setID(st.Node, info.Info.Swarm.NodeID)
		return nil
	case Promote, Demote:
		role := swarm.NodeRoleManager
		if st.Action == Demote {
			role = swarm.NodeRoleWorker
		}
		return x.updateNode(ctx, st.NodeID, func(s *swarm.NodeSpec) { s.Role = role })
	case RemoveStale:
		if st.Demote {
			if err := x.updateNode(ctx, st.NodeID, func(s *swarm.NodeSpec) { s.Role = swarm.NodeRoleWorker }); err != nil {
				return fmt.Errorf("demote stale entry: %w", err)
			}
		}
		if _, err := x.leader.NodeRemove(ctx, st.NodeID, client.NodeRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("node rm: %w", err)
		}
		return nil
	case Remove:
		return x.remove(ctx, st)
	case Label:
		id := st.NodeID
		if id == "" {
			id = x.id(st.Node)
		}
		if id == "" {
			return fmt.Errorf("node id of %s unknown: it did not join", st.Node)
		}
		return x.updateNode(ctx, id, func(s *swarm.NodeSpec) {
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			for k, v := range st.Labels {
				s.Labels[k] = v
			}
			for _, k := range st.Remove {
				delete(s.Labels, k)
			}
		})
	case NameCluster:
		sw, err := x.leader.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return fmt.Errorf("swarm inspect: %w", err)
		}
		spec := sw.Swarm.Spec
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[LabelCluster] = st.ClusterName
		if _, err := x.leader.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: sw.Swarm.Version, Spec: spec}); err != nil {
			return fmt.Errorf("swarm update: %w", err)
		}
		return nil
	case Autolock:
		sw, err := x.leader.SwarmInspect(ctx, client.SwarmInspectOptions{})
		if err != nil {
			return fmt.Errorf("swarm inspect: %w", err)
		}
		spec := sw.Swarm.Spec
		spec.EncryptionConfig.AutoLockManagers = st.Autolock
		if _, err := x.leader.SwarmUpdate(ctx, client.SwarmUpdateOptions{Version: sw.Swarm.Version, Spec: spec}); err != nil {
			return fmt.Errorf("swarm update: %w", err)
		}
		if st.Autolock {
			k, err := x.leader.SwarmGetUnlockKey(ctx)
			if err != nil {
				return fmt.Errorf("read unlock key: %w", err)
			}
			res.UnlockKey = k.Key
		}
		return nil
	}
	return fmt.Errorf("unknown step action %q", st.Action)
}

// remove takes a node out of the swarm: drain it, demote it (and wait until
// it no longer runs a manager), let it leave on its own engine, and remove
// its entry once the swarm sees it down, by force when it could not leave
// or does not go down in time.
func (x *executor) remove(ctx context.Context, st Step) error {
	if err := x.updateNode(ctx, st.NodeID, func(s *swarm.NodeSpec) { s.Availability = swarm.NodeAvailabilityDrain }); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	x.prog.Node(st.Node, "drained")
	if st.Demote {
		if err := x.updateNode(ctx, st.NodeID, func(s *swarm.NodeSpec) { s.Role = swarm.NodeRoleWorker }); err != nil {
			return fmt.Errorf("demote: %w", err)
		}
		x.prog.Node(st.Node, "demoted")
	}
	force := st.Force
	if e, ok := x.engines[st.Node]; st.Leave && ok {
		if st.Demote {
			err := x.poll(ctx, "its daemon to stop running a manager", func() (bool, error) {
				info, err := e.Info(ctx, client.InfoOptions{})
				if err != nil {
					return false, fmt.Errorf("docker info: %w", err)
				}
				return !info.Info.Swarm.ControlAvailable, nil
			})
			if err != nil {
				return err
			}
		}
		if _, err := e.SwarmLeave(ctx, client.SwarmLeaveOptions{}); err != nil {
			return fmt.Errorf("swarm leave: %w", err)
		}
		x.prog.Node(st.Node, "left the swarm")
		err := x.poll(ctx, "the swarm to see it down", func() (bool, error) {
			ni, err := x.leader.NodeInspect(ctx, st.NodeID, client.NodeInspectOptions{})
			if err != nil {
				return false, fmt.Errorf("node inspect %s: %w", short(st.NodeID), err)
			}
			return ni.Node.Status.State == swarm.NodeStateDown, nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			x.prog.Node(st.Node, fmt.Sprintf("%v: removing by force", err))
			force = true
		}
	} else if st.Leave {
		force = true // no engine after all: nothing to leave with
	}
	if _, err := x.leader.NodeRemove(ctx, st.NodeID, client.NodeRemoveOptions{Force: force}); err != nil {
		return fmt.Errorf("node rm: %w", err)
	}
	return nil
}

// poll calls done every ReadyPoll until it says true, fails or ReadyTimeout
// passes.
func (x *executor) poll(ctx context.Context, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(x.opts.ReadyTimeout)
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w after %s", what, errNotReady, x.opts.ReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(x.opts.ReadyPoll):
		}
	}
}

// updateNode applies a change to a node's spec (UpdateNode).
func (x *executor) updateNode(ctx context.Context, id string, change func(*swarm.NodeSpec)) error {
	return UpdateNode(ctx, x.leader, id, change)
}

// NodeUpdater is the part of a manager's API UpdateNode needs.
type NodeUpdater interface {
	NodeInspect(ctx context.Context, id string, o client.NodeInspectOptions) (client.NodeInspectResult, error)
	NodeUpdate(ctx context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error)
}

// UpdateNode applies change to node id's spec through a manager: it reads
// the entry and writes the changed spec with the version it read, and on a
// version conflict (another writer updated the node in between) reads again
// and re-applies change to the fresh spec, up to five times, a little
// later each time (right after a role change the swarm itself updates the
// entry a few times: "update out of sequence"). change must only touch
// what it owns (a role, availability, its own labels), so another
// writer's changes survive. Bootstrap, heal and dr restore share it.
func UpdateNode(ctx context.Context, api NodeUpdater, id string, change func(*swarm.NodeSpec)) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("node update %s: %w (last: %w)", short(id), ctx.Err(), err)
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			}
		}
		var ni client.NodeInspectResult
		ni, err = api.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			return fmt.Errorf("node inspect %s: %w", short(id), err)
		}
		spec := ni.Node.Spec
		spec.Labels = maps.Clone(spec.Labels)
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		change(&spec)
		_, err = api.NodeUpdate(ctx, id, client.NodeUpdateOptions{Version: ni.Node.Version, Spec: spec})
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("node update %s: %w", short(id), err)
}

// joinInfo reads the join tokens and manager addresses once per run.
func (x *executor) joinInfo(ctx context.Context) (*swarm.JoinTokens, []string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tokens != nil {
		return x.tokens, x.addrs, nil
	}
	sw, err := x.leader.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read join tokens: %w", err)
	}
	list, err := x.leader.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list managers: %w", err)
	}
	var addrs []string
	for _, n := range list.Items {
		if n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarm.ReachabilityReachable {
			addrs = append(addrs, n.ManagerStatus.Addr)
		}
	}
	// The leader's address from the inventory goes first (a join uses the
	// first): a swarm re-formed from a backup on a new server keeps the
	// old server's raft address in the node list (Engine 20.10).
	if ln, ok := x.inv.Node(x.plan.Leader); ok {
		if own := net.JoinHostPort(AdvertiseAddr(x.inv, ln), "2377"); net.ParseIP(AdvertiseAddr(x.inv, ln)) != nil {
			addrs = append([]string{own}, slices.DeleteFunc(addrs, func(a string) bool { return a == own })...)
		}
	}
	if len(addrs) == 0 {
		ln, _ := x.inv.Node(x.plan.Leader)
		addrs = []string{net.JoinHostPort(AdvertiseAddr(x.inv, ln), "2377")}
	}
	x.tokens, x.addrs = &sw.Swarm.JoinTokens, addrs
	return x.tokens, x.addrs, nil
}

func (x *executor) setID(name, id string) {
	x.mu.Lock()
	x.ids[name] = id
	x.mu.Unlock()
}

func (x *executor) id(name string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ids[name]
}

// errNotReady is returned when nodes never reported Ready in time.
var errNotReady = errors.New("nodes not ready")

// waitReady waits until every inventory node that is a member reports Ready
// and every manager is reachable.
func (x *executor) waitReady(ctx context.Context, opts ExecOptions) error {
	deadline := time.Now().Add(opts.ReadyTimeout)
	for {
		list, err := x.leader.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return fmt.Errorf("wait for ready nodes: %w", err)
		}
		var pending []string
		byLabel := map[string]swarm.Node{}
		for _, n := range list.Items {
			if name := n.Spec.Labels[LabelNode]; name != "" && n.Status.State != swarm.NodeStateDown {
				byLabel[name] = n
			}
		}
		for _, in := range x.inv.Nodes {
			if _, ok := x.engines[in.Name]; !ok {
				continue // unreachable, reported as blocked
			}
			n, ok := byLabel[in.Name]
			switch {
			case !ok:
				pending = append(pending, in.Name+" (not listed)")
			case n.Status.State != swarm.NodeStateReady:
				pending = append(pending, fmt.Sprintf("%s (%s)", in.Name, n.Status.State))
			case in.Role == inventory.RoleManager && (n.ManagerStatus == nil || n.ManagerStatus.Reachability != swarm.ReachabilityReachable):
				pending = append(pending, in.Name+" (manager not reachable yet)")
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s: %v", errNotReady, opts.ReadyTimeout, pending)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.ReadyPoll):
		}
	}
}
