package swarm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// ReadHost reads one node's own view (docker info) into a HostState.
func ReadHost(ctx context.Context, inv *inventory.Inventory, n inventory.Node, e Engine) HostState {
	info, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return HostState{Err: fmt.Sprintf("docker info: %v", err)}
	}
	return HostFromInfo(inv, n, info.Info.ServerVersion, info.Info.Swarm)
}

// HostFromInfo is a node's own view as its engine reports it in docker info
// (the engine version and the swarm part), read through the API or by the
// host facts script.
func HostFromInfo(inv *inventory.Inventory, n inventory.Node, engineVersion string, s swarm.Info) HostState {
	h := HostState{
		Reachable: true,
		Local:     string(s.LocalNodeState),
		NodeID:    s.NodeID,
		Manager:   s.ControlAvailable,
		Engine:    engineVersion,
		Advertise: AdvertiseAddr(inv, n),
		Err:       s.Error,
	}
	if s.Cluster != nil {
		h.ClusterID = s.Cluster.ID
	}
	return h
}

// AdvertiseAddr is what a node advertises to the swarm: its own override,
// else the cluster's interface, else the address SSH reaches.
func AdvertiseAddr(inv *inventory.Inventory, n inventory.Node) string {
	switch {
	case n.AdvertiseAddress != "":
		return n.AdvertiseAddress
	case inv.Cluster.AdvertiseInterface != "":
		return inv.Cluster.AdvertiseInterface
	default:
		return n.Address
	}
}

// ObserveOptions tune ObserveWith.
type ObserveOptions struct {
	// AskTimeout bounds each manager's answer to the swarm questions
	// (default 15s): a manager cut off from the leader may not answer
	// before then.
	AskTimeout time.Duration
	// Progress, when set, hears of each manager whose answer did not
	// count, with the reason, before the next one is asked, and of a
	// manager that has not answered after NoticeAfter (default 3s).
	Progress    Progress
	NoticeAfter time.Duration
	// Hosts are node views already read (HostFromInfo on the host facts'
	// docker info), by node name: those nodes' engines are not asked
	// again.
	Hosts map[string]HostState
	// Swarms are managers' answers already read (the host facts of a
	// manager also read /swarm and /nodes), by node name. Managers are
	// still judged in turn; an answer read before that counts (Judge) is
	// used without asking the engine again, any other is asked again.
	Swarms map[string]SwarmAnswer
}

// SwarmAnswer is a manager's answer to the swarm questions (the swarm and
// its node list), or why it gave none.
type SwarmAnswer struct {
	Swarm   *SwarmInfo
	Members []Member
	Err     error
}

// Observe is ObserveWith with the default options.
func Observe(ctx context.Context, inv *inventory.Inventory, engines map[string]Engine, unreachable map[string]string) (Observed, error) {
	return ObserveWith(ctx, inv, engines, unreachable, ObserveOptions{})
}

// ObserveWith reads every reachable node (in parallel; not those in
// o.Hosts, already read), then asks the inventory's managers in turn for
// the swarm and its node list until one answers with a leader and a reachable majority of managers (see Judge);
// Observed.Asked keeps every answer (and names the unreachable managers
// after the one that counted). When none does, the first node list that
// came back is used (Compute then refuses: quorum is lost); when no node list
// came back although a manager runs, the error is a *NoQuorumError. engines
// holds one Engine per reachable node; a missing entry is an unreachable node
// whose reason is in unreachable.
func ObserveWith(ctx context.Context, inv *inventory.Inventory, engines map[string]Engine, unreachable map[string]string, o ObserveOptions) (Observed, error) {
	if o.AskTimeout <= 0 {
		o.AskTimeout = 15 * time.Second
	}
	if o.NoticeAfter <= 0 {
		o.NoticeAfter = 3 * time.Second
	}
	obs := Observed{Hosts: map[string]HostState{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range inv.Nodes {
		if h, ok := o.Hosts[n.Name]; ok {
			obs.Hosts[n.Name] = h
			continue
		}
		e, ok := engines[n.Name]
		if !ok {
			obs.Hosts[n.Name] = HostState{Err: unreachable[n.Name]}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := ReadHost(ctx, inv, n, e)
			mu.Lock()
			obs.Hosts[n.Name] = h
			mu.Unlock()
		}()
	}
	wg.Wait()

	type view struct {
		sw      *SwarmInfo
		members []Member
	}
	views := map[string]view{}
	managers := inv.Managers()
	running := false
	for i, n := range managers {
		h := obs.Hosts[n.Name]
		if !h.Reachable || !h.Manager {
			obs.Asked = append(obs.Asked, NotAsked(n.Name, h))
			continue
		}
		running = true
		var sw *SwarmInfo
		var members []Member
		var err error
		if pre, ok := o.Swarms[n.Name]; ok && Judge(n.Name, pre.Members, pre.Err).Quorum {
			sw, members = pre.Swarm, pre.Members
		} else {
			actx, cancel := context.WithTimeout(ctx, o.AskTimeout)
			var slow *time.Timer
			if o.Progress != nil {
				slow = time.AfterFunc(o.NoticeAfter, func() {
					o.Progress.Node(n.Name, fmt.Sprintf("no answer yet from this manager; waiting up to %s", o.AskTimeout))
				})
			}
			sw, members, err = readSwarm(actx, engines[n.Name])
			if slow != nil {
				slow.Stop()
			}
			cancel()
			if err != nil && ctx.Err() != nil {
				return obs, ctx.Err()
			}
			if err != nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s", o.AskTimeout)
			}
		}
		a := Judge(n.Name, members, err)
		obs.Asked = append(obs.Asked, a)
		views[n.Name] = view{sw: sw, members: members}
		if a.Quorum {
			// Managers after it are not asked; the unreachable ones are
			// still named, with why (a connect failure promises details).
			for _, rest := range managers[i+1:] {
				if h := obs.Hosts[rest.Name]; !h.Reachable {
					obs.Asked = append(obs.Asked, NotAsked(rest.Name, h))
				}
			}
			break
		}
		if o.Progress != nil {
			msg := "its answer does not count: " + a.Said
			if i < len(managers)-1 {
				msg += "; asking the next manager"
			}
			o.Progress.Node(n.Name, msg)
		}
	}
	i := Choose(obs.Asked)
	if i < 0 {
		if running {
			return obs, &NoQuorumError{Cluster: inv.Cluster.Name, Asked: obs.Asked}
		}
		return obs, nil
	}
	v := views[obs.Asked[i].Node]
	obs.Swarm, obs.Members, obs.Via = v.sw, v.members, obs.Asked[i].Node
	return obs, nil
}

// readSwarm asks a manager's engine for the swarm and its node list. Both
// are served by the swarm's leader: a manager that has none fails here.
func readSwarm(ctx context.Context, e Engine) (*SwarmInfo, []Member, error) {
	sw, err := e.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("swarm inspect: %w", err)
	}
	list, err := e.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("node list: %w", err)
	}
	return InfoFromSwarm(sw.Swarm), Members(list.Items), nil
}

// InfoFromSwarm is the part of the Docker API's swarm (swarm inspect) a
// plan needs.
func InfoFromSwarm(sw swarm.Swarm) *SwarmInfo {
	return &SwarmInfo{
		ID:           sw.ID,
		Name:         sw.Spec.Labels[LabelCluster],
		Autolock:     sw.Spec.EncryptionConfig.AutoLockManagers,
		DataPathPort: sw.DataPathPort,
	}
}

// Members converts the Docker API's node list into Members.
func Members(nodes []swarm.Node) []Member {
	out := make([]Member, 0, len(nodes))
	for _, n := range nodes {
		m := Member{
			ID:           n.ID,
			Hostname:     n.Description.Hostname,
			Role:         string(n.Spec.Role),
			State:        string(n.Status.State),
			Availability: string(n.Spec.Availability),
			Addr:         n.Status.Addr,
			Engine:       n.Description.Engine.EngineVersion,
			Labels:       n.Spec.Labels,
			Version:      n.Version.Index,
		}
		if n.ManagerStatus != nil {
			m.Reachability = string(n.ManagerStatus.Reachability)
			m.Leader = n.ManagerStatus.Leader
			if ap, err := netip.ParseAddrPort(n.ManagerStatus.Addr); err == nil {
				m.Addr = ap.Addr().String()
			}
		}
		out = append(out, m)
	}
	return out
}

// ObserveDeparting reads the hosts of nodes that are no longer in the
// inventory (in parallel), for Observed.Departing. engines holds one Engine
// per reachable node; a missing entry is an unreachable node whose reason is
// in unreachable.
func ObserveDeparting(ctx context.Context, inv *inventory.Inventory, nodes []inventory.Node, engines map[string]Engine, unreachable map[string]string) map[string]HostState {
	out := map[string]HostState{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		e, ok := engines[n.Name]
		if !ok {
			out[n.Name] = HostState{Err: unreachable[n.Name]}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := ReadHost(ctx, inv, n, e)
			mu.Lock()
			out[n.Name] = h
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
