package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/remote"
)

// RestoreOptions configure RestoreSwarm.
type RestoreOptions struct {
	// Init is the swarm init of the re-formed swarm (advertise address,
	// listen address); ForceNewCluster is set by RestoreSwarm.
	Init client.SwarmInitOptions
	// UnlockKey unlocks the restored state when autolock was on.
	UnlockKey string
	Say       func(format string, a ...any)
	// LeaderWithin bounds the wait until the re-formed swarm answers
	// (default 2 minutes).
	LeaderWithin time.Duration
}

// RestoreSwarm puts the raft state of a backup (SwarmFile) onto the node
// behind conn and re-forms a one-manager swarm from it: it stops the
// node's engine through what runs it, replaces <data root>/swarm with the
// backup's, starts the engine, unlocks it when autolock was on, runs
// `swarm init --force-new-cluster` with o.Init (the node's own advertise
// address) and waits until the swarm answers a node list. The swarm keeps
// its ID and every service, network, config and secret with their IDs; the
// other nodes of the backed-up swarm are listed, down.
func RestoreSwarm(ctx context.Context, conn *remote.Conn, swarmTgz []byte, o RestoreOptions) error {
	if o.Say == nil {
		o.Say = func(string, ...any) {}
	}
	if o.LeaderWithin <= 0 {
		o.LeaderWithin = 2 * time.Minute
	}
	name := conn.Target().Name
	f, err := host.Gather(ctx, conn)
	if err != nil {
		return err
	}
	ctl, err := host.StopStart(f)
	if err != nil {
		return fmt.Errorf("%s: cannot stop its engine to put the raft state in place: %w", name, err)
	}
	cli, err := conn.Docker(ctx)
	if err != nil {
		return err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	cli.Close()
	if err != nil {
		return fmt.Errorf("%s: docker info: %w", name, err)
	}
	if st := info.Info.Swarm.LocalNodeState; st != swarmtypes.LocalNodeStateInactive {
		return fmt.Errorf("%s is in a swarm already (%s): restore only onto a node outside any swarm", name, st)
	}
	root := info.Info.DockerRootDir
	if root == "" {
		root = "/var/lib/docker"
	}
	o.Say("[%s] stopping its engine (run by %s) to put the raft state into %s/swarm", name, ctl.By, root)
	if _, err := conn.Run(ctx, ctl.Stop); err != nil {
		_, serr := conn.Run(context.WithoutCancel(ctx), ctl.Start)
		return errors.Join(fmt.Errorf("%s: stop the engine: %w", name, err), serr)
	}
	_, xerr := conn.Run(ctx, remote.Cmd{Sudo: true, Stdin: swarmTgz,
		Script: fmt.Sprintf("rm -rf %[1]s/swarm && umask 077 && tar -C %[1]s -xzf -", remote.Quote(root))})
	_, serr := conn.Run(context.WithoutCancel(ctx), ctl.Start)
	if serr != nil {
		return fmt.Errorf("%s: start the engine again: %w", name, serr)
	}
	if xerr != nil {
		return fmt.Errorf("%s: unpack the raft state: %w", name, xerr)
	}
	cli, err = conn.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if o.UnlockKey != "" {
		if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil && info.Info.Swarm.LocalNodeState == swarmtypes.LocalNodeStateLocked {
			o.Say("[%s] unlocking the restored state with the backup's unlock key", name)
			if _, err := cli.SwarmUnlock(ctx, client.SwarmUnlockOptions{Key: strings.TrimSpace(o.UnlockKey)}); err != nil {
				return fmt.Errorf("%s: unlock with the backup's key: %w", name, err)
			}
		}
	}
	init := o.Init
	init.ForceNewCluster = true
	o.Say("[%s] re-forming the swarm from the restored state (swarm init --force-new-cluster --advertise-addr %s)", name, init.AdvertiseAddr)
	if _, err := cli.SwarmInit(ctx, init); err != nil {
		return fmt.Errorf("%s: swarm init --force-new-cluster: %w", name, err)
	}
	// The swarm answers once it leads. On Engine 20.10 its raft member
	// keeps the address it had in the backed-up cluster (the node list
	// shows it): nodes must join through the new advertise address
	// (bootstrap joins through the inventory's), and raft learns the
	// address it sees messages come from.
	if _, err := waitSelfAt(ctx, cli, nil, o.LeaderWithin); err != nil {
		return fmt.Errorf("%s: the re-formed swarm has no leader within %s: %w", name, o.LeaderWithin, err)
	}
	return nil
}

// waitSelfAt waits until the node list's leader advertises want.
func waitSelfAt(ctx context.Context, cli *client.Client, want net.IP, within time.Duration) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	last := "no answer yet"
	for {
		res, err := cli.NodeList(wctx, client.NodeListOptions{})
		if err != nil {
			last = err.Error()
		} else if ok, why := selfAt(res.Items, want); ok {
			return "", nil
		} else {
			last = why
		}
		select {
		case <-wctx.Done():
			return last, wctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// selfAt tells whether the leader of nodes advertises the address want
// (nil: any).
func selfAt(nodes []swarmtypes.Node, want net.IP) (bool, string) {
	for _, n := range nodes {
		if n.ManagerStatus == nil || !n.ManagerStatus.Leader {
			continue
		}
		if want == nil {
			return true, ""
		}
		host, _, err := net.SplitHostPort(n.ManagerStatus.Addr)
		if err == nil && net.ParseIP(host).Equal(want) {
			return true, ""
		}
		return false, fmt.Sprintf("the leader's raft address is still %s, not %s", n.ManagerStatus.Addr, want)
	}
	return false, "no leader in the node list yet"
}
