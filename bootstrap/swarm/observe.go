package swarm

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

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
	s := info.Info.Swarm
	h := HostState{
		Reachable: true,
		Local:     string(s.LocalNodeState),
		NodeID:    s.NodeID,
		Manager:   s.ControlAvailable,
		Engine:    info.Info.ServerVersion,
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

// Observe reads every reachable node (in parallel) and, through the first
// inventory manager that runs a manager, the swarm and its node list.
// engines holds one Engine per reachable node; a missing entry is an
// unreachable node whose reason is in unreachable.
func Observe(ctx context.Context, inv *inventory.Inventory, engines map[string]Engine, unreachable map[string]string) (Observed, error) {
	obs := Observed{Hosts: map[string]HostState{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range inv.Nodes {
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
	for _, n := range inv.Managers() {
		h := obs.Hosts[n.Name]
		if !h.Reachable || !h.Manager {
			continue
		}
		if err := readSwarm(ctx, engines[n.Name], &obs); err != nil {
			return obs, fmt.Errorf("read swarm through %s: %w", n.Name, err)
		}
		obs.Via = n.Name
		break
	}
	return obs, nil
}

func readSwarm(ctx context.Context, e Engine, obs *Observed) error {
	sw, err := e.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return fmt.Errorf("swarm inspect: %w", err)
	}
	obs.Swarm = &SwarmInfo{
		ID:           sw.Swarm.ID,
		Autolock:     sw.Swarm.Spec.EncryptionConfig.AutoLockManagers,
		DataPathPort: sw.Swarm.DataPathPort,
	}
	list, err := e.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return fmt.Errorf("node list: %w", err)
	}
	obs.Members = Members(list.Items)
	return nil
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
