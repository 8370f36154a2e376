package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Taken is a backup taken (not yet encrypted).
type Taken struct {
	Manifest Manifest
	// Archive is the plain tar (WriteArchive).
	Archive []byte
	// Pick is the manager copied, and why.
	Pick          Pick
	EngineStopped time.Duration
}

// TakeOptions configure Take.
type TakeOptions struct {
	Dial     remote.DialOptions
	Progress io.Writer
	// Extra are more members (shoal/stack.json of a stack).
	Extra map[string][]byte
	// SelfNodeID is the swarm node ID of the node this process runs on
	// (a scheduled backup's task: SHOAL_NODE_ID); its engine is never
	// stopped. Empty off the cluster.
	SelfNodeID string
	// Poll is the interval of the wait for the node to be Ready again
	// (default 1s); ReadyWithin bounds it (default 2 minutes).
	Poll, ReadyWithin time.Duration
	Now               func() time.Time
}

// Take takes a backup of the cluster of inv: it reads the swarm's objects
// and managers through a manager, picks a manager to copy (PickManager;
// a *RefusedError when none can be spared), stops that manager's engine
// through what runs it (host.StopStart), copies <data root>/swarm to a
// file on the node, starts the engine again, waits until the node is
// Ready and reachable again, and builds the archive: the raft state, the
// unlock key when autolock is on, the inventory and its pinned host keys.
// The engine is started again whatever happened after it was stopped.
func Take(ctx context.Context, inv *inventory.Inventory, o TakeOptions) (*Taken, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.ReadyWithin <= 0 {
		o.ReadyWithin = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Progress, format+"\n", a...) }

	// A manager's API, for the swarm's view.
	api, apiNode, closeAPI, err := managerAPI(ctx, inv, o.Dial, "")
	if err != nil {
		return nil, err
	}
	defer func() { closeAPI() }()
	say("[%s] reading the swarm: managers, services, networks, configs, secrets", apiNode)
	nodes, err := api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: node list (does the swarm have quorum? see `shoal status`): %w", apiNode, err)
	}
	members, ids := membersOf(inv, nodes.Items, o.SelfNodeID)
	pick, err := PickManager(members)
	if err != nil {
		return nil, err
	}
	say("copying the raft state of %s: %s", pick.Node, pick.Why)
	sw, err := api.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: swarm inspect: %w", apiNode, err)
	}
	objs, err := ReadObjects(ctx, api)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", apiNode, err)
	}
	m := Manifest{Cluster: inv.Cluster.Name, SwarmID: sw.Swarm.ID, Node: pick.Node, NodeID: ids[pick.Node],
		Taken: o.Now().UTC(), ShoalVersion: Version(), Autolock: sw.Swarm.Spec.EncryptionConfig.AutoLockManagers, Objects: objs}
	files := map[string][]byte{}
	if m.Autolock {
		k, err := api.SwarmGetUnlockKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: read the unlock key (autolock is on): %w", apiNode, err)
		}
		files[UnlockKeyFile] = []byte(k.Key + "\n")
	}
	if inv.Path != "" {
		b, err := os.ReadFile(inv.Path)
		if err != nil {
			return nil, fmt.Errorf("read the inventory: %w", err)
		}
		files[InventoryFile] = b
	}
	if inv.SSH.KnownHosts != "" {
		if b, err := os.ReadFile(inv.SSH.KnownHosts); err == nil {
			files[KnownHosts] = b
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read the pinned host keys: %w", err)
		}
	}
	for k, v := range o.Extra {
		files[k] = v
	}
	// Another manager watches the copied one come back.
	if apiNode == pick.Node {
		closeAPI()
		api, apiNode, closeAPI, err = managerAPI(ctx, inv, o.Dial, pick.Node)
		if err != nil {
			return nil, err
		}
	}

	n, _ := inv.Node(pick.Node)
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), o.Dial)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tgz, stopped, err := copySwarm(ctx, conn, say)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pick.Node, err)
	}
	m.EngineStoppedMS = stopped.Milliseconds()
	files[SwarmFile] = tgz
	say("[%s] engine stopped for %s; raft state %d bytes (gzip); waiting until it is Ready and reachable again", pick.Node, stopped.Round(time.Millisecond), len(tgz))
	if err := waitManagerBack(ctx, api, pick.Node, o.Poll, o.ReadyWithin); err != nil {
		return nil, fmt.Errorf("%s is not back after the copy (its engine was started again): %w", pick.Node, err)
	}
	var b bytes.Buffer
	if err := WriteArchive(&b, m, files); err != nil {
		return nil, err
	}
	return &Taken{Manifest: m, Archive: b.Bytes(), Pick: pick, EngineStopped: stopped}, nil
}

// copySwarm stops the engine, tars the swarm directory to a file on the
// node, starts the engine (always, once stopped) and then streams the
// file back. It returns how long the engine was stopped.
func copySwarm(ctx context.Context, conn *remote.Conn, say func(string, ...any)) ([]byte, time.Duration, error) {
	name := conn.Target().Name
	f, err := host.Gather(ctx, conn)
	if err != nil {
		return nil, 0, err
	}
	ctl, err := host.StopStart(f)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot stop its engine for the copy: %w", err)
	}
	cli, err := conn.Docker(ctx)
	if err != nil {
		return nil, 0, err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	cli.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("docker info: %w", err)
	}
	root := info.Info.DockerRootDir
	if root == "" {
		root = "/var/lib/docker"
	}
	tmp := "/var/tmp/shoal-backup-swarm.tar.gz"
	say("[%s] stopping its engine (run by %s) to copy %s/swarm", name, ctl.By, root)
	start := time.Now()
	if _, err := conn.Run(ctx, ctl.Stop); err != nil {
		// It may be half stopped: start it again.
		_, serr := conn.Run(context.WithoutCancel(ctx), ctl.Start)
		return nil, 0, errors.Join(fmt.Errorf("stop the engine: %w", err), serr)
	}
	_, terr := conn.Run(ctx, remote.Cmd{Sudo: true, Script: fmt.Sprintf("umask 077; tar -C %s -czf %s swarm", remote.Quote(root), tmp)})
	_, serr := conn.Run(context.WithoutCancel(ctx), ctl.Start)
	stopped := time.Since(start)
	if serr != nil {
		return nil, stopped, fmt.Errorf("start the engine again (it is STOPPED: start it by hand through %s): %w", ctl.By, serr)
	}
	if terr != nil {
		return nil, stopped, fmt.Errorf("copy %s/swarm (the engine runs again): %w", root, terr)
	}
	var out bytes.Buffer
	if _, err := conn.Run(ctx, remote.Cmd{Sudo: true, Script: fmt.Sprintf("cat %s && rm -f %s", tmp, tmp), Stdout: &out}); err != nil {
		return nil, stopped, fmt.Errorf("read the copy %s: %w", tmp, err)
	}
	if _, err := CheckSwarmTar(out.Bytes()); err != nil {
		return nil, stopped, err
	}
	return out.Bytes(), stopped, nil
}

// managerAPI opens the Docker API of the first manager of inv (in
// inventory order, other than skip) that answers as a manager.
func managerAPI(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions, skip string) (*client.Client, string, func(), error) {
	var errs []error
	for _, n := range inv.Managers() {
		if n.Name == skip {
			continue
		}
		c, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cli, err := c.Docker(ctx)
		if err != nil {
			c.Close()
			errs = append(errs, err)
			continue
		}
		info, err := cli.Info(ctx, client.InfoOptions{})
		if err != nil || !info.Info.Swarm.ControlAvailable {
			cli.Close()
			c.Close()
			errs = append(errs, fmt.Errorf("%s: not an active swarm manager (%v)", n.Name, err))
			continue
		}
		return cli, n.Name, func() { cli.Close(); c.Close() }, nil
	}
	return nil, "", func() {}, fmt.Errorf("no manager of %s answers as a swarm manager: %w", inv.Cluster.Name, errors.Join(errs...))
}

// membersOf lists the swarm's managers in inventory order (others after),
// and each node's ID by name.
func membersOf(inv *inventory.Inventory, nodes []swarmtypes.Node, self string) ([]Member, map[string]string) {
	ids := map[string]string{}
	var ms []Member
	for _, n := range nodes {
		name := swarm.NodeName(n.Spec.Labels, n.Description.Hostname)
		ids[name] = n.ID
		if n.ManagerStatus == nil {
			continue
		}
		ms = append(ms, Member{Name: name, Leader: n.ManagerStatus.Leader,
			Reachable: n.ManagerStatus.Reachability == swarmtypes.ReachabilityReachable, Ready: n.Status.State == swarmtypes.NodeStateReady,
			Self: self != "" && n.ID == self})
	}
	order := func(name string) int {
		if i := slices.IndexFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == name }); i >= 0 {
			return i
		}
		return len(inv.Nodes)
	}
	slices.SortStableFunc(ms, func(a, b Member) int { return order(a.Name) - order(b.Name) })
	return ms, ids
}

// ReadObjects reads the names of the swarm's services, swarm-scoped
// networks, configs and secrets.
func ReadObjects(ctx context.Context, api *client.Client) (Objects, error) {
	var o Objects
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return o, fmt.Errorf("service list: %w", err)
	}
	for _, s := range svcs.Items {
		o.Services = append(o.Services, s.Spec.Name)
	}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return o, fmt.Errorf("network list: %w", err)
	}
	for _, n := range nets.Items {
		if n.Scope == "swarm" {
			o.Networks = append(o.Networks, n.Name)
		}
	}
	cfgs, err := api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return o, fmt.Errorf("config list: %w", err)
	}
	for _, c := range cfgs.Items {
		o.Configs = append(o.Configs, c.Spec.Name)
	}
	secs, err := api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return o, fmt.Errorf("secret list: %w", err)
	}
	for _, s := range secs.Items {
		o.Secrets = append(o.Secrets, s.Spec.Name)
	}
	o.Sort()
	return o, nil
}

// waitManagerBack waits until name is Ready and a reachable manager again.
func waitManagerBack(ctx context.Context, api *client.Client, name string, poll, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	last := "no answer yet"
	for {
		res, err := api.NodeList(ctx, client.NodeListOptions{})
		if err == nil {
			last = name + " is not in the node list"
			for _, n := range res.Items {
				if swarm.NodeName(n.Spec.Labels, n.Description.Hostname) != name {
					continue
				}
				reach := ""
				if n.ManagerStatus != nil {
					reach = string(n.ManagerStatus.Reachability)
				}
				if n.Status.State == swarmtypes.NodeStateReady && reach == string(swarmtypes.ReachabilityReachable) {
					return nil
				}
				last = fmt.Sprintf("%s is %s, manager %s", name, n.Status.State, reach)
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s: %s", within, last)
		case <-time.After(poll):
		}
	}
}

// Version is this shoal's version as the Go build recorded it.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
