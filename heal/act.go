package heal

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Actor carries out what Decide chose; it is the only part of heal that
// creates or deletes servers. Every method takes ctx first, stops when it
// is cancelled, and is safe to call again after a crash (idempotent by node
// name), because a restarted loop resumes recorded attempts.
//
// Implementations:
//   - heal/labactor: clusters made by `shoal lab up` (servers are lab
//     containers, the spec is the lab's inventory file).
//   - heal/pulumiactor: clusters made by `shoal up`. ReplaceServer bumps the
//     dead node's generation in the stack config and runs the Automation
//     API `up` of `shoal up`'s program, which replaces exactly that server
//     under the same name and converges the swarm (the dead entry goes), so
//     the Pulumi state stays the truth. It is a NameKeeper.
type Actor interface {
	// ReplaceServer creates server spec.Name with spec's role, hoster, region
	// and labels, joins it to the swarm and returns once it is Ready. dead
	// is the node it replaces (zero for a new warm spare, spec.Spare).
	ReplaceServer(ctx context.Context, dead NodeInfo, spec NodeSpec) error
	// ActivateSpare gives warm spare `spare` the role and labels of as and
	// makes it active; the dead node as.Name named leaves the spec.
	ActivateSpare(ctx context.Context, spare string, dead NodeInfo, as NodeSpec) error
	// PromoteNode makes a joined worker a manager; DemoteNode the reverse.
	PromoteNode(ctx context.Context, name string) error
	DemoteNode(ctx context.Context, name string) error
	// RemoveDeadNode demotes dead if it is a manager, removes it from the
	// swarm (`node rm --force`) and deletes its server. Decide only asks
	// once replacement is Ready.
	RemoveDeadNode(ctx context.Context, dead NodeInfo, replacement string) error
	// AbandonReplacement deletes replacement `failed` that never became
	// Ready; dead stays what the spec wants replaced.
	AbandonReplacement(ctx context.Context, dead NodeInfo, failed string) error
	// Unlock unlocks manager node, which restarted locked, with the
	// cluster's unlock key.
	Unlock(ctx context.Context, node NodeInfo) error
}

// NameKeeper is an Actor capability: an actor whose KeepsNames is true
// replaces a dead node under the node's own name (Desired.SameName), and
// its ReplaceServer also removes the dead entry once the new server has
// joined, so Decide asks for RemoveDead only if that entry is left over.
type NameKeeper interface {
	KeepsNames() bool
}

// Swarm changes swarm node entries through a manager: the parts of acting
// that every Actor shares.
type Swarm struct {
	// With runs fn against a reachable manager (Observer.WithManager).
	With func(ctx context.Context, fn func(ctx context.Context, m Manager) error) error
	// Poll is the interval of waits (default 1s).
	Poll time.Duration
}

// find returns the entry of node name (by shoal.node label, else hostname);
// a missing node is ok == false.
func find(ctx context.Context, m Manager, name string) (swarmtypes.Node, bool, error) {
	res, err := m.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return swarmtypes.Node{}, false, fmt.Errorf("node list: %w", err)
	}
	var match []swarmtypes.Node
	for _, n := range res.Items {
		if swarm.NodeName(n.Spec.Labels, n.Description.Hostname) == name {
			match = append(match, n)
		}
	}
	if len(match) == 0 {
		return swarmtypes.Node{}, false, nil
	}
	// Prefer a Ready entry over stale ones of the same name.
	for _, n := range match {
		if n.Status.State == swarmtypes.NodeStateReady {
			return n, true, nil
		}
	}
	return match[0], true, nil
}

// lookup finds one swarm entry through manager m; ok is false when it is
// not there.
type lookup func(ctx context.Context, m Manager) (n swarmtypes.Node, ok bool, err error)

// named finds node name's entry (a Ready one first).
func named(name string) lookup {
	return func(ctx context.Context, m Manager) (swarmtypes.Node, bool, error) { return find(ctx, m, name) }
}

// entry finds the entry with ID id. While a replacement keeps the dead
// node's name (Desired.SameName) two entries share it: the dead one is
// addressed by its ID.
func entry(id string) lookup {
	return func(ctx context.Context, m Manager) (swarmtypes.Node, bool, error) {
		res, err := m.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			if isNotFound(err) {
				return swarmtypes.Node{}, false, nil
			}
			return swarmtypes.Node{}, false, fmt.Errorf("inspect node %s: %w", id, err)
		}
		return res.Node, true, nil
	}
}

// Lookup returns node name's entry: ID, role, whether it is Ready (and, as
// a manager, reachable). ok is false when it is not in the swarm.
func (s *Swarm) Lookup(ctx context.Context, name string) (id, role string, ready, ok bool, err error) {
	err = s.With(ctx, func(ctx context.Context, m Manager) error {
		n, found, err := find(ctx, m, name)
		if err != nil || !found {
			return err
		}
		id, role, ok = n.ID, string(n.Spec.Role), true
		ready = n.Status.State == swarmtypes.NodeStateReady &&
			(n.Spec.Role != swarmtypes.NodeRoleManager || (n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable))
		return nil
	})
	return id, role, ready, ok, err
}

// RemoveWorkerEntry removes worker entry id with force (an entry its host
// has just left). It never removes a manager entry.
func (s *Swarm) RemoveWorkerEntry(ctx context.Context, id string) error {
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		res, err := m.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return fmt.Errorf("inspect node %s: %w", id, err)
		}
		if res.Node.Spec.Role == swarmtypes.NodeRoleManager {
			return &RefusedError{Check: "manager entry", Numbers: fmt.Sprintf("entry %s is a manager; not removing it", id)}
		}
		if _, err := m.NodeRemove(ctx, id, client.NodeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			return fmt.Errorf("node rm --force %s: %w", id, err)
		}
		return nil
	})
}

// Update changes node name's spec with fn (role, availability, labels).
func (s *Swarm) Update(ctx context.Context, name string, fn func(*swarmtypes.NodeSpec)) error {
	return s.update(ctx, named(name), name, fn)
}

// UpdateEntry changes the spec of the entry with ID id with fn.
func (s *Swarm) UpdateEntry(ctx context.Context, id string, fn func(*swarmtypes.NodeSpec)) error {
	return s.update(ctx, entry(id), id, fn)
}

func (s *Swarm) update(ctx context.Context, look lookup, what string, fn func(*swarmtypes.NodeSpec)) error {
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		n, ok, err := look(ctx, m)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("node %s is not in the swarm", what)
		}
		if err := swarm.UpdateNode(ctx, m, n.ID, fn); err != nil {
			return fmt.Errorf("update node %s: %w", what, err)
		}
		return nil
	})
}

// SetRole promotes or demotes node name.
func (s *Swarm) SetRole(ctx context.Context, name, role string) error {
	return s.Update(ctx, name, func(spec *swarmtypes.NodeSpec) { spec.Role = swarmtypes.NodeRole(role) })
}

// Demote demotes dead manager name and waits until it no longer counts as
// a manager. It refuses a reachable manager.
func (s *Swarm) Demote(ctx context.Context, name string) error {
	return s.demote(ctx, named(name), name)
}

// DemoteEntry is Demote for the entry with ID id of node name.
func (s *Swarm) DemoteEntry(ctx context.Context, id, name string) error {
	return s.demote(ctx, entry(id), name)
}

func (s *Swarm) demote(ctx context.Context, look lookup, name string) error {
	err := s.With(ctx, func(ctx context.Context, m Manager) error {
		n, ok, err := look(ctx, m)
		if err != nil || !ok || n.Spec.Role != swarmtypes.NodeRoleManager {
			return err
		}
		if n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable {
			return &RefusedError{Check: "reachable manager", Numbers: fmt.Sprintf("%s is a reachable manager; heal never demotes or removes one", name)}
		}
		spec := n.Spec
		spec.Role = swarmtypes.NodeRoleWorker
		if _, err := m.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec}); err != nil {
			return fmt.Errorf("demote %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for {
		var done bool
		err := s.With(ctx, func(ctx context.Context, m Manager) error {
			n, ok, err := look(ctx, m)
			done = err == nil && (!ok || n.ManagerStatus == nil)
			return err
		})
		if err == nil && done {
			return nil
		}
		sleep(ctx, s.poll())
		if ctx.Err() != nil {
			return fmt.Errorf("wait for %s to leave the managers: %w", name, ctx.Err())
		}
	}
}

// MakeSpare drains node name and marks it a warm spare.
func (s *Swarm) MakeSpare(ctx context.Context, name string) error {
	return s.Update(ctx, name, func(spec *swarmtypes.NodeSpec) {
		spec.Availability = swarmtypes.NodeAvailabilityDrain
		spec.Labels[LabelSpare] = "true"
	})
}

// Activate turns spare name into a node of role with the user labels
// labels: availability active, role, labels, no spare mark.
func (s *Swarm) Activate(ctx context.Context, name, role string, labels map[string]string) error {
	return s.Update(ctx, name, func(spec *swarmtypes.NodeSpec) {
		spec.Availability = swarmtypes.NodeAvailabilityActive
		spec.Role = swarmtypes.NodeRole(role)
		delete(spec.Labels, LabelSpare)
		var keys []string
		for k, v := range labels {
			spec.Labels[k] = v
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			spec.Labels[swarm.LabelManaged] = strings.Join(slices.Sorted(slices.Values(keys)), ",")
		}
	})
}

// Remove demotes node name if it is a manager and removes it with force.
// A node that is not there is done. It refuses to touch a Ready node
// unless it is a worker being abandoned (force).
func (s *Swarm) Remove(ctx context.Context, name string, allowReadyWorker bool) error {
	return s.remove(ctx, named(name), name, allowReadyWorker)
}

// RemoveEntry is Remove for the entry with ID id of node name, which must
// not be Ready: the dead entry of a node whose replacement kept its name.
func (s *Swarm) RemoveEntry(ctx context.Context, id, name string) error {
	return s.remove(ctx, entry(id), name, false)
}

func (s *Swarm) remove(ctx context.Context, look lookup, name string, allowReadyWorker bool) error {
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		n, ok, err := look(ctx, m)
		if err != nil || !ok {
			return err
		}
		ready := n.Status.State == swarmtypes.NodeStateReady
		if n.Spec.Role == swarmtypes.NodeRoleManager && n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable {
			return &RefusedError{Check: "reachable manager", Numbers: fmt.Sprintf("%s is a reachable manager; heal never demotes or removes one", name)}
		}
		if ready && !allowReadyWorker {
			return &RefusedError{Check: "ready node", Numbers: fmt.Sprintf("%s is Ready; heal removes only dead nodes", name)}
		}
		if n.Spec.Role == swarmtypes.NodeRoleManager {
			spec := n.Spec
			spec.Role = swarmtypes.NodeRoleWorker
			if _, err := m.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec}); err != nil {
				return fmt.Errorf("demote %s: %w", name, err)
			}
		}
		// A demotion takes effect when raft has removed the member; until
		// then removal is refused, so retry for a while.
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := m.NodeRemove(ctx, n.ID, client.NodeRemoveOptions{Force: true})
			if err == nil || isNotFound(err) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node rm --force %s: %w", name, err)
			}
			sleep(ctx, s.poll())
			if ctx.Err() != nil {
				return fmt.Errorf("node rm --force %s: %w", name, ctx.Err())
			}
		}
	})
}

// WaitReady waits until node name is Ready (and, as a manager, reachable).
func (s *Swarm) WaitReady(ctx context.Context, name string) error {
	for {
		var ready bool
		err := s.With(ctx, func(ctx context.Context, m Manager) error {
			n, ok, err := find(ctx, m, name)
			if err != nil || !ok {
				return err
			}
			ready = n.Status.State == swarmtypes.NodeStateReady &&
				(n.Spec.Role != swarmtypes.NodeRoleManager || (n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable))
			return nil
		})
		if err == nil && ready {
			return nil
		}
		sleep(ctx, s.poll())
		if ctx.Err() != nil {
			return fmt.Errorf("wait for %s to be Ready: %w", name, ctx.Err())
		}
	}
}

func (s *Swarm) poll() time.Duration {
	if s.Poll <= 0 {
		return time.Second
	}
	return s.Poll
}

// UnlockNode unlocks the daemon at t with the key in keyFile. The key
// travels in the API request body over SSH, never in argv or logs.
func UnlockNode(ctx context.Context, t remote.Target, dial remote.DialOptions, keyFile string) error {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("unlock %s: read unlock key: %w", t.Name, err)
	}
	return UnlockNodeWithKey(ctx, t, dial, string(key))
}

// UnlockNodeWithKey is UnlockNode with the key itself (from the stack's
// secret outputs).
func UnlockNodeWithKey(ctx context.Context, t remote.Target, dial remote.DialOptions, key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return fmt.Errorf("unlock %s: no unlock key", t.Name)
	}
	conn, err := remote.Dial(ctx, t, dial)
	if err != nil {
		return fmt.Errorf("unlock %s: %w", t.Name, err)
	}
	defer conn.Close()
	cli, err := conn.Docker(ctx)
	if err != nil {
		return fmt.Errorf("unlock %s: %w", t.Name, err)
	}
	if _, err := cli.SwarmUnlock(ctx, client.SwarmUnlockOptions{Key: key}); err != nil {
		return fmt.Errorf("unlock %s: %w", t.Name, err)
	}
	return nil
}
