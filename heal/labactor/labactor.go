// Package labactor is heal's Actor for clusters made by `shoal lab up`: a
// server is a lab VPS container (package lab) and the cluster spec is the
// lab's inventory file ($SHOAL_HOME/lab/<name>/inventory.yaml).
//
// A replacement is a new container at the dead node's hoster, named by
// generation (w1 -> w1-r1), written into the inventory in the dead node's
// place (same role, hoster, region and labels) and joined with the same code
// as `shoal bootstrap` (bootstrap.Run). Once heal's Decide sees it Ready, the
// dead node is removed from the swarm and its container deleted.
//
// It imports heal, bootstrap and lab; nothing imports it but the CLI and
// tests.
package labactor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/lab"
)

// Actor replaces lab nodes. Build it with New.
type Actor struct {
	docker   lab.Docker
	lab      *lab.Lab
	invPath  string
	swarm    *heal.Swarm
	dial     remote.DialOptions
	keyFile  string
	progress io.Writer
	log      *slog.Logger

	mu sync.Mutex // inventory file rewrites
}

var _ heal.Actor = (*Actor)(nil)

// Options configure New.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the inventory).
	Dial remote.DialOptions
	// UnlockKeyFile holds the swarm's unlock key (autolocked clusters).
	UnlockKeyFile string
	Progress      io.Writer
	Log           *slog.Logger
}

// New is the actor for the lab whose inventory is at invPath (its cluster
// name is the lab's name, its directory the lab's directory). sw changes
// swarm entries through a manager.
func New(docker lab.Docker, invPath string, sw *heal.Swarm, o Options) (*Actor, error) {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	l := lab.Ref(inv.Cluster.Name, filepath.Dir(invPath))
	return &Actor{docker: docker, lab: l, invPath: invPath, swarm: sw, dial: o.Dial, keyFile: o.UnlockKeyFile, progress: o.Progress, log: o.Log}, nil
}

// IsLab tells whether the inventory at invPath describes a lab: its
// directory is the lab's state directory and a container of that lab exists.
func IsLab(ctx context.Context, docker lab.Docker, invPath string) (bool, error) {
	inv, err := inventory.Load(invPath)
	if err != nil {
		return false, err
	}
	res, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", lab.LabelLab+"="+inv.Cluster.Name)})
	if err != nil {
		return false, fmt.Errorf("list lab containers: %w", err)
	}
	abs, _ := filepath.Abs(filepath.Dir(invPath))
	for _, c := range res.Items {
		if d := c.Labels[lab.LabelDir]; d == "" || d == abs || d == filepath.Dir(invPath) {
			return true, nil
		}
	}
	return false, nil
}

// Inventory describes a lab's VPSes as an inventory (as `shoal lab up`
// writes it).
func Inventory(l *lab.Lab) *inventory.Inventory {
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: l.Name, DataPathPort: 4789},
		SSH: inventory.SSH{User: "root", Port: 22, IdentityFile: l.KeyPath,
			KnownHosts: filepath.Join(l.Dir, "known_hosts")},
	}
	for _, n := range l.Nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.Name, Address: n.Address, Role: string(n.Role), Hoster: n.Hoster, Region: n.Region})
	}
	return inv
}

// ReplaceServer creates (or finds, when resuming) container spec.Name,
// puts it in the inventory in dead's place and joins it.
func (a *Actor) ReplaceServer(ctx context.Context, dead heal.NodeInfo, spec heal.NodeSpec) error {
	n, err := a.ensureContainer(ctx, spec)
	if err != nil {
		return err
	}
	if err := a.trustHostKey(n); err != nil {
		return err
	}
	labels := spec.Labels
	entry := inventory.Node{Name: spec.Name, Address: n.Address, Role: spec.Role, Hoster: spec.Hoster, Region: spec.Region, Labels: labels}
	inv, err := a.rewrite(func(inv *inventory.Inventory) {
		drop(inv, dead.Name)
		put(inv, entry)
	})
	if err != nil {
		return err
	}
	if err := a.join(ctx, inv, entry); err != nil {
		return err
	}
	if spec.Spare {
		if err := a.swarm.MakeSpare(ctx, spec.Name); err != nil {
			return err
		}
	}
	return a.swarm.WaitReady(ctx, spec.Name)
}

// ensureContainer returns the running container of spec.Name, creating it
// if it is missing or stopped.
func (a *Actor) ensureContainer(ctx context.Context, spec heal.NodeSpec) (lab.Node, error) {
	if l, ok, err := lab.Find(ctx, a.docker, a.lab.Name); err == nil && ok {
		if n, ok := l.Node(spec.Name); ok && n.Address != "" && n.HostKey != "" {
			return n, nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	role := lab.RoleWorker
	if spec.Role == heal.RoleManager {
		role = lab.RoleManager
	}
	n, err := lab.AddNode(ctx, a.docker, a.lab, lab.NodeSpec{Name: spec.Name, Role: role, Hoster: spec.Hoster, Region: spec.Region}, a.progress)
	if err != nil {
		return n, fmt.Errorf("create lab server %s at %s: %w", spec.Name, spec.Hoster, err)
	}
	return n, nil
}

// trustHostKey records the host key the lab read from the new container
// (through the Docker Engine, a trusted channel, as a hoster's API would
// report it) for its address: Docker may hand a new container the address
// of a dead one, whose old key must not block the new machine.
func (a *Actor) trustHostKey(n lab.Node) error {
	key, err := n.HostPublicKey()
	if err != nil {
		return fmt.Errorf("host key of %s: %w", n.Name, err)
	}
	inv, err := inventory.Load(a.invPath)
	if err != nil {
		return err
	}
	path := inv.SSH.KnownHosts
	if path == "" {
		path = filepath.Join(a.lab.Dir, "known_hosts")
	}
	host := knownhosts.Normalize(n.Address)
	var keep []string
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || slices.Contains(strings.Split(f[0], ","), host) {
				continue
			}
			keep = append(keep, line)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	keep = append(keep, knownhosts.Line([]string{host}, key))
	return writeAtomic(path, []byte(strings.Join(keep, "\n")+"\n"))
}

// join runs bootstrap on the reachable managers plus the new node
// (bootstrap.JoinNode).
func (a *Actor) join(ctx context.Context, inv *inventory.Inventory, n inventory.Node) error {
	return bootstrap.JoinNode(ctx, inv, n, bootstrap.Options{Dial: a.dial, Log: a.log}, progress{a.progress})
}

// ActivateSpare turns the spare into dead's stand-in. A drained spare has
// no tasks, so instead of `node promote` (which makes the node join raft
// through the address it first joined, possibly the dead manager's, and on
// Engine 20.10 it then never comes up) it leaves the swarm and joins again
// through a live manager with dead's role and labels; its old entry is
// removed. That takes seconds, not a VPS boot.
func (a *Actor) ActivateSpare(ctx context.Context, spare string, dead heal.NodeInfo, as heal.NodeSpec) error {
	inv, err := a.rewrite(func(inv *inventory.Inventory) {
		drop(inv, dead.Name)
		for i, n := range inv.Nodes {
			if n.Name == spare {
				inv.Nodes[i].Role, inv.Nodes[i].Labels = as.Role, as.Labels
			}
		}
	})
	if err != nil {
		return err
	}
	n, ok := inv.Node(spare)
	if !ok {
		return fmt.Errorf("activate spare %s: not in the inventory %s", spare, a.invPath)
	}
	id, role, ready, inSwarm, err := a.swarm.Lookup(ctx, spare)
	if err != nil {
		return err
	}
	if !(inSwarm && ready && role == as.Role) { // not done before (a resumed attempt)
		if inSwarm && role == heal.RoleWorker {
			if err := a.leave(ctx, inv, n); err != nil {
				return err
			}
			if err := a.swarm.RemoveWorkerEntry(ctx, id); err != nil {
				return err
			}
		}
		if err := a.join(ctx, inv, n); err != nil {
			return err
		}
	}
	if err := a.swarm.Activate(ctx, spare, as.Role, as.Labels); err != nil {
		return err
	}
	return a.swarm.WaitReady(ctx, spare)
}

// leave makes node n leave the swarm (force: it may be a worker whose
// managers are partly gone).
func (a *Actor) leave(ctx context.Context, inv *inventory.Inventory, n inventory.Node) error {
	c, err := remote.Dial(ctx, bootstrap.Target(inv, n), a.dial)
	if err != nil {
		return fmt.Errorf("leave %s: %w", n.Name, err)
	}
	defer c.Close()
	cli, err := c.Docker(ctx)
	if err != nil {
		return fmt.Errorf("leave %s: %w", n.Name, err)
	}
	// Already out of the swarm is done (asked, not read from an error text).
	if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil && info.Info.Swarm.LocalNodeState == swarmtypes.LocalNodeStateInactive {
		return nil
	}
	if _, err := cli.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
		return fmt.Errorf("leave %s: %w", n.Name, err)
	}
	return nil
}

// PromoteNode promotes a worker (temporarily: the inventory is unchanged).
func (a *Actor) PromoteNode(ctx context.Context, name string) error {
	if err := a.swarm.SetRole(ctx, name, heal.RoleManager); err != nil {
		return err
	}
	return a.swarm.WaitReady(ctx, name)
}

// DemoteNode demotes a worker heal promoted.
func (a *Actor) DemoteNode(ctx context.Context, name string) error {
	return a.swarm.SetRole(ctx, name, heal.RoleWorker)
}

// RemoveDeadNode removes dead from the swarm, then its container.
func (a *Actor) RemoveDeadNode(ctx context.Context, dead heal.NodeInfo, replacement string) error {
	if err := a.swarm.Remove(ctx, dead.Name, false); err != nil {
		return err
	}
	if _, err := a.rewrite(func(inv *inventory.Inventory) { drop(inv, dead.Name) }); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return lab.RemoveNode(ctx, a.docker, a.lab, dead.Name, a.progress)
}

// AbandonReplacement removes replacement failed and puts dead back in the
// inventory, so the next attempt replaces it again.
func (a *Actor) AbandonReplacement(ctx context.Context, dead heal.NodeInfo, failed string) error {
	if err := a.swarm.Remove(ctx, failed, true); err != nil {
		return err
	}
	a.mu.Lock()
	err := lab.RemoveNode(ctx, a.docker, a.lab, failed, a.progress)
	a.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = a.rewrite(func(inv *inventory.Inventory) {
		drop(inv, failed)
		if _, ok := inv.Node(dead.Name); !ok {
			put(inv, inventory.Node{Name: dead.Name, Address: dead.Addr, Role: dead.Role, Hoster: dead.Hoster, Region: dead.Region, Labels: userLabels(dead.Labels)})
		}
	})
	return err
}

// Unlock unlocks a locked manager with the key in the unlock key file.
func (a *Actor) Unlock(ctx context.Context, node heal.NodeInfo) error {
	if a.keyFile == "" {
		return fmt.Errorf("unlock %s: no unlock key file configured", node.Name)
	}
	inv, err := inventory.Load(a.invPath)
	if err != nil {
		return err
	}
	n, ok := inv.Node(node.Name)
	if !ok {
		return fmt.Errorf("unlock %s: not in the inventory", node.Name)
	}
	return heal.UnlockNode(ctx, bootstrap.Target(inv, n), a.dial, a.keyFile)
}

// rewrite loads the inventory, applies fn, and writes it back atomically.
func (a *Actor) rewrite(fn func(inv *inventory.Inventory)) (*inventory.Inventory, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	inv, err := inventory.Load(a.invPath)
	if err != nil {
		return nil, err
	}
	fn(inv)
	b, err := inventory.Marshal(inv)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(a.invPath, b); err != nil {
		return nil, err
	}
	return inventory.Load(a.invPath)
}

func drop(inv *inventory.Inventory, name string) {
	inv.Nodes = slices.DeleteFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == name })
}

func put(inv *inventory.Inventory, n inventory.Node) {
	for i := range inv.Nodes {
		if inv.Nodes[i].Name == n.Name {
			inv.Nodes[i] = n
			return
		}
	}
	inv.Nodes = append(inv.Nodes, n)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func userLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range strings.Split(l["shoal.managed"], ",") {
		if v, ok := l[k]; ok && k != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func withAttempts(o remote.DialOptions, n int) remote.DialOptions {
	o.Attempts = n
	return o
}

type progress struct{ w io.Writer }

func (p progress) Node(name, msg string) { fmt.Fprintf(p.w, "[%s] %s\n", name, msg) }
