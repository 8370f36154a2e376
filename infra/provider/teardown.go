package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	swarmapi "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	p "github.com/pulumi/pulumi-go-provider"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// member is a reachable node that is in a swarm, as its daemon says.
type member struct {
	name    string
	id      string
	manager bool
	engine  swarm.Engine
}

// teardown makes every node of the state leave the swarm: workers first (in
// parallel), then the managers but one, each demoted through the last
// manager before it leaves, then the last manager with force. Nodes that
// cannot be reached or are in no swarm are skipped with a warning.
func teardown(ctx context.Context, st ClusterState) error {
	log := p.GetLogger(ctx)
	s, err := newSession(ctx, st.ClusterArgs, st.Nodes, st.HostKeys)
	if err != nil {
		return err
	}
	defer s.close()
	prog := newNodeProgress(ctx, s.inv.Nodes)
	dial := s.dial
	dial.Attempts = 2
	dial.Backoff = time.Second
	fleet := bootstrap.Connect(ctx, s.inv, nil, dial, 0, prog)
	defer fleet.Close()
	fleet.OpenEngines(ctx)
	// Every node's own view, and the manager whose answer counts (a leader
	// and a reachable majority: swarm.Judge): the others are demoted
	// through it, and it leaves last.
	obs, err := swarm.ObserveWith(ctx, s.inv, fleet.Engines, fleet.Unreachable, swarm.ObserveOptions{Progress: prog})
	var nq *swarm.NoQuorumError
	if err != nil && !errors.As(err, &nq) {
		return err
	}
	workers, managers, skipped := teardownOrder(s.inv.Nodes, obs, fleet.Engines)
	for _, n := range s.inv.Nodes {
		if why, ok := skipped[n.Name]; ok {
			log.Warningf("[%s] skipped: %s", n.Name, why)
		}
	}
	for _, n := range s.inv.Nodes {
		if h := obs.Hosts[n.Name]; h.Reachable && h.Local != swarm.LocalActive && h.Local != swarm.LocalPending {
			prog.Node(n.Name, fmt.Sprintf("not in a swarm (%s)", h.Local))
		}
	}

	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			if err := leave(ctx, prog, w, false); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()

	if len(managers) > 0 {
		last := managers[len(managers)-1]
		for _, m := range managers[:len(managers)-1] {
			if err := demote(ctx, last.engine, m); err != nil {
				log.Warningf("[%s] demote: %v; it leaves by force", m.name, err)
				if err := leave(ctx, prog, m, true); err != nil {
					fail(err)
				}
				continue
			}
			prog.Node(m.name, "demoted")
			if err := leave(ctx, prog, m, false); err != nil {
				fail(err)
			}
		}
		if err := leave(ctx, prog, last, true); err != nil {
			fail(err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s: %w", st.Name, errors.Join(errs...))
	}
	return nil
}

// teardownOrder sorts the nodes that are in a swarm, as their own daemons
// say (obs.Hosts), into workers and managers, in inventory order, except
// that the manager whose answer counted (obs.Via, when it had quorum) comes
// last: the others are demoted through it. skipped says why each
// unreachable node is left out.
func teardownOrder(nodes []inventory.Node, obs swarm.Observed, engines map[string]swarm.Engine) (workers, managers []member, skipped map[string]string) {
	skipped = map[string]string{}
	via := ""
	if i := swarm.Choose(obs.Asked); i >= 0 && obs.Asked[i].Quorum {
		via = obs.Asked[i].Node
	}
	var last *member
	for _, n := range nodes {
		h := obs.Hosts[n.Name]
		e, ok := engines[n.Name]
		if !h.Reachable || !ok {
			why := "unreachable"
			if h.Err != "" {
				why += " (" + h.Err + ")"
			}
			skipped[n.Name] = why + "; it may still think it is in the swarm"
			continue
		}
		if h.Local != swarm.LocalActive && h.Local != swarm.LocalPending {
			continue
		}
		m := member{name: n.Name, id: h.NodeID, manager: h.Manager, engine: e}
		switch {
		case !m.manager:
			workers = append(workers, m)
		case n.Name == via:
			last = &m
		default:
			managers = append(managers, m)
		}
	}
	if last != nil {
		managers = append(managers, *last)
	}
	return workers, managers, skipped
}

// leave runs `swarm leave` on m; without force first, by force when the
// daemon refuses.
func leave(ctx context.Context, prog nodeProgress, m member, force bool) error {
	_, err := m.engine.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: force})
	if err != nil && !force {
		prog.Node(m.name, fmt.Sprintf("swarm leave refused (%v): leaving by force", err))
		_, err = m.engine.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true})
	}
	if err != nil {
		return fmt.Errorf("%s: swarm leave: %w", m.name, err)
	}
	prog.Node(m.name, "left the swarm")
	return nil
}

// demote makes m a worker through the manager via and waits until m's own
// daemon no longer runs a manager.
func demote(ctx context.Context, via swarm.Engine, m member) error {
	for attempt := 0; ; attempt++ {
		ni, err := via.NodeInspect(ctx, m.id, client.NodeInspectOptions{})
		if err != nil {
			return fmt.Errorf("node inspect: %w", err)
		}
		spec := ni.Node.Spec
		spec.Role = swarmapi.NodeRoleWorker
		_, err = via.NodeUpdate(ctx, m.id, client.NodeUpdateOptions{Version: ni.Node.Version, Spec: spec})
		if err == nil {
			break
		}
		if attempt == 2 {
			return fmt.Errorf("node update: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		info, err := m.engine.Info(ctx, client.InfoOptions{})
		if err == nil && !info.Info.Swarm.ControlAvailable {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still a manager: %w", ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}
