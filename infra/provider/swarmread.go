package provider

import (
	"context"
	"fmt"

	swarmapi "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// clusterFacts is what the swarm says about itself, read through a manager.
type clusterFacts struct {
	SwarmID          string
	ManagerAddresses []string          // inventory addresses of the nodes that are managers
	NodeIDs          map[string]string // inventory name -> swarm node ID
	Roles            map[string]string // inventory name -> swarm role
	JoinTokens       JoinTokens
	UnlockKey        string
}

func (f clusterFacts) apply(st *ClusterState) {
	st.SwarmID = f.SwarmID
	st.ManagerAddresses = f.ManagerAddresses
	st.NodeIDs = f.NodeIDs
	st.JoinTokens = f.JoinTokens
	st.UnlockKey = f.UnlockKey
}

// quiet is a swarm.Progress that says nothing: reads need no progress.
type quiet struct{}

func (quiet) Node(string, string) {}

// readCluster dials the inventory's managers and reads the swarm through
// the first one whose answer counts: it sees a leader and a reachable
// majority of managers (swarm.Judge, the rule status and bootstrap use), so
// a manager cut off from the others is passed over.
func readCluster(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions) (clusterFacts, error) {
	dial.Attempts = 2
	fleet, obs, err := bootstrap.ObserveManagers(ctx, inv, dial, quiet{})
	if fleet != nil {
		defer fleet.Close()
	}
	if err != nil {
		return clusterFacts{}, fmt.Errorf("no manager could be read: %w", err)
	}
	f, err := readThrough(ctx, inv, fleet.Engines[obs.Via])
	if err != nil {
		return clusterFacts{}, fmt.Errorf("%s: %w", obs.Via, err)
	}
	return f, nil
}

func readThrough(ctx context.Context, inv *inventory.Inventory, e swarm.Engine) (clusterFacts, error) {
	info, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return clusterFacts{}, fmt.Errorf("docker info: %w", err)
	}
	if !info.Info.Swarm.ControlAvailable {
		return clusterFacts{}, fmt.Errorf("not a swarm manager (state %s)", info.Info.Swarm.LocalNodeState)
	}
	sw, err := e.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return clusterFacts{}, fmt.Errorf("swarm inspect: %w", err)
	}
	list, err := e.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return clusterFacts{}, fmt.Errorf("node list: %w", err)
	}
	f := clusterFacts{
		SwarmID:    sw.Swarm.ID,
		NodeIDs:    map[string]string{},
		Roles:      map[string]string{},
		JoinTokens: JoinTokens{Worker: sw.Swarm.JoinTokens.Worker, Manager: sw.Swarm.JoinTokens.Manager},
	}
	// A live entry wins over a down one of the same name (a rebuilt node).
	for _, n := range list.Items {
		name := n.Spec.Labels[swarm.LabelNode]
		if _, ok := inv.Node(name); !ok {
			continue
		}
		if _, seen := f.NodeIDs[name]; seen && n.Status.State == swarmapi.NodeStateDown {
			continue
		}
		f.NodeIDs[name] = n.ID
		f.Roles[name] = string(n.Spec.Role)
	}
	for _, n := range inv.Nodes {
		if f.Roles[n.Name] == string(swarmapi.NodeRoleManager) {
			f.ManagerAddresses = append(f.ManagerAddresses, n.Address)
		}
	}
	if sw.Swarm.Spec.EncryptionConfig.AutoLockManagers {
		k, err := e.SwarmGetUnlockKey(ctx)
		if err != nil {
			return clusterFacts{}, fmt.Errorf("read unlock key: %w", err)
		}
		f.UnlockKey = k.Key
	}
	return f, nil
}
