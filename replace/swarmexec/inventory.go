package swarmexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/replace"
)

// Inventory replaces a node of a cluster from a plain inventory: the new
// server runs already (at the plan's address), shoal joins it and takes
// NAME out of the swarm; creating and deleting servers, and editing the
// inventory file, are the operator's (the plan's notes say what).
type Inventory struct {
	*Swarm
	boot     bootstrap.Options
	progress io.Writer
	log      *slog.Logger

	mu sync.Mutex
	// cur is the inventory the steps work with, in memory: the operator's,
	// with NAME's successor in NAME's place once it has joined.
	cur *inventory.Inventory
	// old is NAME's entry of the operator's inventory (for its leave).
	old inventory.Node
}

var _ replace.Executor = (*Inventory)(nil)

// Options configure NewInventory.
type Options struct {
	// Dial reaches the nodes (bootstrap.DialOptions of the inventory).
	Dial remote.DialOptions
	// Poll is the interval of waits (default 1s).
	Poll time.Duration
	// Progress hears bootstrap's progress lines.
	Progress io.Writer
	Log      *slog.Logger
}

// NewInventory is the executor for the cluster of inv, which it never
// writes.
func NewInventory(inv *inventory.Inventory, o Options) *Inventory {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	cp := *inv
	cp.Nodes = slices.Clone(inv.Nodes)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	x := &Inventory{cur: &cp, boot: bootstrap.Options{Dial: o.Dial, Log: o.Log}, progress: o.Progress, log: o.Log}
	x.Swarm = NewSwarm(x.inventory, o.Dial, o.Poll)
	return x
}

func (x *Inventory) inventory() (*inventory.Inventory, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur, nil
}

// CreateServer is not shoal's on a plain inventory (a plan for one has no
// such step).
func (x *Inventory) CreateServer(context.Context, replace.Node) error {
	return errors.New("shoal creates no servers for a plain inventory: start the new server and pass --address")
}

// DeleteServer is not shoal's on a plain inventory (a plan for one has no
// such step).
func (x *Inventory) DeleteServer(context.Context, string) error {
	return errors.New("shoal deletes no servers of a plain inventory: delete it at its hoster")
}

// Entry is the inventory entry of n, NAME's successor: old's SSH user and
// port overrides are kept (the operator reaches the new server as the old
// one), its address is n's.
func Entry(n, old replace.Node, oldEntry inventory.Node) inventory.Node {
	return inventory.Node{Name: n.Name, Address: n.Address, User: oldEntry.User, Port: oldEntry.Port,
		Role: n.Role, Hoster: n.Hoster, Region: n.Region, Labels: n.Labels}
}

// Join joins the server at n.Address as n, with NAME's role and labels, as
// `shoal bootstrap` would (Docker installed when missing, host key trusted
// on first use and recorded in the inventory's known_hosts). From then on
// the steps ask the managers of the inventory with n in old's place.
func (x *Inventory) Join(ctx context.Context, n, old replace.Node) error {
	x.mu.Lock()
	oldEntry, _ := x.cur.Node(old.Name)
	cur := x.cur
	x.mu.Unlock()
	x.old = oldEntry
	entry := Entry(n, old, oldEntry)
	if err := bootstrap.JoinNode(ctx, cur, entry, x.boot, progress{x.progress}); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.cur = inPlace(x.cur, old.Name, entry)
	return nil
}

// Resume takes over n, joined beside old by an earlier run: from now on
// the steps ask the managers of the inventory with n in old's place (as
// after Join), and old leaves from its own engine at the remove step.
func (x *Inventory) Resume(ctx context.Context, n, old replace.Node) error {
	x.mu.Lock()
	oldEntry, _ := x.cur.Node(old.Name)
	x.old = oldEntry
	x.cur = inPlace(x.cur, old.Name, Entry(n, old, oldEntry))
	x.mu.Unlock()
	return x.Swarm.Resume(ctx, n, old)
}

// inPlace is inv with entry in the place of the node named old (appended
// if inv has no such node, and kept once if it lists entry already).
func inPlace(inv *inventory.Inventory, old string, entry inventory.Node) *inventory.Inventory {
	next := *inv
	next.Nodes = nil
	for _, e := range inv.Nodes {
		switch e.Name {
		case old:
			next.Nodes = append(next.Nodes, entry)
		case entry.Name:
		default:
			next.Nodes = append(next.Nodes, e)
		}
	}
	if _, ok := next.Node(entry.Name); !ok {
		next.Nodes = append(next.Nodes, entry)
	}
	return &next
}

// Remove has node name (demoted by now) leave the swarm from its own
// engine, so that the server the operator keeps until deleting it does
// not go on believing it is a member, then removes its entry. A node
// that cannot be reached is removed by force all the same.
func (x *Inventory) Remove(ctx context.Context, name string) error {
	if x.old.Name == name && x.old.Address != "" {
		if err := x.leave(ctx, x.old); err != nil {
			x.log.Warn("node replace: the node could not leave the swarm from its own engine; its entry is removed by force, and its engine still believes it is a member until you delete the server", "node", name, "err", err)
		}
	}
	return x.Swarm.Remove(ctx, name)
}

func (x *Inventory) leave(ctx context.Context, n inventory.Node) error {
	o := x.boot.Dial
	o.Attempts = 1
	inv, _ := x.inventory()
	c, err := remote.Dial(ctx, bootstrap.Target(inv, n), o)
	if err != nil {
		return err
	}
	defer c.Close()
	cli, err := c.Docker(ctx)
	if err != nil {
		return err
	}
	_, err = cli.SwarmLeave(ctx, client.SwarmLeaveOptions{})
	return err
}

type progress struct{ w io.Writer }

func (p progress) Node(name, msg string) { fmt.Fprintf(p.w, "[%s] %s\n", name, msg) }

// InventoryEdit is the edit the operator makes to the inventory file
// after a replacement on a plain inventory: entry (NAME's successor, see
// Entry) in the place of NAME's entry, as YAML lines ready to paste.
func InventoryEdit(oldName string, entry inventory.Node) (string, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode([]inventory.Node{entry}); err != nil {
		return "", fmt.Errorf("inventory entry of %s: %w", entry.Name, err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("inventory entry of %s: %w", entry.Name, err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "in the inventory, under nodes:, replace the entry of %s with:\n", oldName)
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		out.WriteString("  " + l + "\n")
	}
	return out.String(), nil
}
