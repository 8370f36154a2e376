package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	swarmtypes "github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// CheckTarget tells whether target (the inventory of the new servers a
// backup is restored onto) describes the cluster of the backup's
// inventory: the same cluster name and the same nodes, each with the same
// role and hoster. Addresses, SSH settings and labels may differ. The
// error names the field that differs.
func CheckTarget(backedUp, target *inventory.Inventory) error {
	where := target.Path
	if where == "" {
		where = "the target inventory"
	}
	if backedUp.Cluster.Name != target.Cluster.Name {
		return fmt.Errorf("%s: cluster.name is %q, the backup's is %q: restore onto an inventory of the same cluster", where, target.Cluster.Name, backedUp.Cluster.Name)
	}
	for _, b := range backedUp.Nodes {
		t, ok := target.Node(b.Name)
		if !ok {
			return fmt.Errorf("%s: nodes: no node %s (the backup's inventory has %s, %s at %s): list every node of the backup with its name", where, b.Name, b.Name, b.Role, b.Hoster)
		}
		if t.Role != b.Role {
			return fmt.Errorf("%s: node %s: role is %s, the backup's is %s", where, b.Name, t.Role, b.Role)
		}
		if t.Hoster != b.Hoster {
			return fmt.Errorf("%s: node %s: hoster is %s, the backup's is %s", where, b.Name, t.Hoster, b.Hoster)
		}
	}
	for _, t := range target.Nodes {
		if _, ok := backedUp.Node(t.Name); !ok {
			return fmt.Errorf("%s: node %s: the backup's inventory has no such node (it has %s): add nodes with `shoal bootstrap` after the restore", where, t.Name, strings.Join(nodeNames(backedUp), ", "))
		}
	}
	return nil
}

func nodeNames(inv *inventory.Inventory) []string {
	var s []string
	for _, n := range inv.Nodes {
		s = append(s, n.Name)
	}
	return s
}

// Rehome is how the restored manager's raft address is moved from the
// address of the server the backup was copied from (Old) to its own (New).
//
// `swarm init --force-new-cluster` on a restored raft state keeps the raft
// member's old address (Engine 20.10; swarmkit never updates its own
// member on a restart from a snapshot), and a manager that joins then
// answers raft to Old and times out. A manager that is demoted and
// promoted again re-joins raft with its current advertise address. So:
// on Helper only, raft traffic to Old:2377 is sent to New:2377 (an
// iptables DNAT rule in the nat table's OUTPUT chain, on no other host);
// Helper joins as a manager; the restored manager is demoted (leadership
// moves to Helper) and promoted again (it re-joins at New); the rule is
// removed. When Helper is a worker in the inventory (a one-manager
// cluster) it is demoted again at the end.
type Rehome struct {
	Needed   bool
	Node     string // the restored manager
	Old, New string // raft addresses, host:port
	Helper   string
	// HelperIsWorker: Helper joins as a manager for the move only.
	HelperIsWorker bool
	// Why says, when !Needed or no Helper, why.
	Why string
}

// PlanRehome decides whether the restored manager node, whose raft
// address in the re-formed swarm is raftAddr and whose advertise address
// is now advertise (both host or host:port), needs its raft address moved,
// and which node of inv helps (advertise "": not known yet, for the
// plan): the first other manager in inventory order,
// else the first worker. With no other node it is not done (Why says
// what that leaves).
func PlanRehome(inv *inventory.Inventory, node, raftAddr, advertise string) Rehome {
	r := Rehome{Node: node, Old: withPort(raftAddr)}
	if advertise != "" {
		r.New = withPort(advertise)
	}
	if r.New != "" && sameHost(r.Old, r.New) {
		r.Why = fmt.Sprintf("%s's raft address %s is its own already", node, r.Old)
		return r
	}
	for _, role := range []string{inventory.RoleManager, inventory.RoleWorker} {
		i := slices.IndexFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name != node && n.Role == role })
		if i >= 0 {
			r.Needed, r.Helper, r.HelperIsWorker = true, inv.Nodes[i].Name, role == inventory.RoleWorker
			return r
		}
	}
	r.Why = fmt.Sprintf("%s is the only node: its raft address stays %s (a manager added later cannot join until it is moved: restore again with a second node in the inventory)", node, r.Old)
	return r
}

// Steps says what the move does, for the plan and the progress.
func (r Rehome) Steps() []string {
	if !r.Needed {
		return nil
	}
	nw := cmp.Or(r.New, "its new address")
	s := []string{
		fmt.Sprintf("on %s only, send raft traffic for %s to %s (iptables DNAT in the nat table's OUTPUT chain, temporary)", r.Helper, r.Old, nw),
		fmt.Sprintf("join %s as a manager", r.Helper),
		fmt.Sprintf("demote %s (leadership moves to %s) and promote it again: it re-joins raft at %s", r.Node, r.Helper, nw),
		fmt.Sprintf("remove the DNAT rule from %s", r.Helper),
	}
	if r.HelperIsWorker {
		s = append(s, fmt.Sprintf("demote %s back to the worker it is", r.Helper))
	}
	return s
}

// DNATCmd adds (add) or removes the rule that sends TCP to r.Old's port on
// r.Old's host to r.New. Adding is idempotent (checked first); removing
// removes every copy and succeeds when there is none.
func (r Rehome) DNATCmd(add bool) remote.Cmd {
	oh, op, _ := net.SplitHostPort(r.Old)
	rule := fmt.Sprintf("OUTPUT -d %s -p tcp --dport %s -j DNAT --to-destination %s", oh, op, r.New)
	script := fmt.Sprintf("command -v iptables >/dev/null || { echo 'iptables is not installed' >&2; exit 127; }; iptables -t nat -C %[1]s 2>/dev/null || iptables -t nat -I %[1]s", rule)
	if !add {
		script = fmt.Sprintf("while iptables -t nat -D %s 2>/dev/null; do :; done; true", rule)
	}
	return remote.Cmd{Script: script, Sudo: true}
}

// StaleRaftAddrs lists the managers of nodes whose raft address is not
// one of want (hosts or host:ports): what a restore must leave empty.
func StaleRaftAddrs(nodes []swarmtypes.Node, want []string) []string {
	var bad []string
	for _, n := range nodes {
		if n.ManagerStatus == nil {
			continue
		}
		if !slices.ContainsFunc(want, func(w string) bool { return sameHost(w, n.ManagerStatus.Addr) }) {
			bad = append(bad, fmt.Sprintf("%s at %s", nodeLabel(n), n.ManagerStatus.Addr))
		}
	}
	return bad
}

func nodeLabel(n swarmtypes.Node) string {
	if s := swarm.NodeName(n.Spec.Labels, n.Description.Hostname); s != "" {
		return s
	}
	return n.ID
}

// withPort adds the swarm port 2377 to a bare host.
func withPort(a string) string {
	if _, _, err := net.SplitHostPort(a); err == nil {
		return a
	}
	return net.JoinHostPort(a, "2377")
}

func sameHost(a, b string) bool {
	ha, _, err := net.SplitHostPort(withPort(a))
	if err != nil {
		return a == b
	}
	hb, _, err := net.SplitHostPort(withPort(b))
	if err != nil {
		return a == b
	}
	if ia, ib := net.ParseIP(ha), net.ParseIP(hb); ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return ha == hb
}

// RehomeExec does the effects of a Rehome; RunRehome decides their order.
type RehomeExec interface {
	// AddRule and RemoveRule add and remove the DNAT rule on the helper
	// (DNATCmd).
	AddRule(ctx context.Context) error
	RemoveRule(ctx context.Context) error
	// JoinHelper joins the helper to the swarm as a manager.
	JoinHelper(ctx context.Context) error
	// Demote makes node a worker and waits until it is one (and, for the
	// restored manager, until the helper leads).
	Demote(ctx context.Context, node string) error
	// Promote makes node a manager and waits until it is a reachable one
	// at the Rehome's New address.
	Promote(ctx context.Context, node string) error
	// CheckAddrs checks that every manager's raft address is a new
	// server's (StaleRaftAddrs).
	CheckAddrs(ctx context.Context) error
}

// RunRehome moves r.Node's raft address as r says, through x. Each step
// is said before it runs; an error says what state the swarm is left in.
// The DNAT rule, once added, is removed whatever happens (a failure to
// remove it is joined to the error with the command to run by hand).
func RunRehome(ctx context.Context, r Rehome, x RehomeExec, say func(string, ...any)) (err error) {
	if !r.Needed {
		return nil
	}
	steps := r.Steps()
	say("[%s] %s", r.Helper, steps[0])
	if err := x.AddRule(ctx); err != nil {
		return fmt.Errorf("%s: add the DNAT rule: %w (the swarm runs on %s alone, raft address %s: a manager can join only once raft traffic for %s reaches %s)", r.Helper, err, r.Node, r.Old, r.Old, r.New)
	}
	tried := false // to remove the rule: once
	remove := func(ctx context.Context) error {
		tried = true
		say("[%s] %s", r.Helper, steps[3])
		if err := x.RemoveRule(ctx); err != nil {
			return fmt.Errorf("%s: remove the DNAT rule: %w (remove it by hand: %s)", r.Helper, err, r.DNATCmd(false).Script)
		}
		return nil
	}
	defer func() {
		if !tried {
			err = errors.Join(err, remove(context.WithoutCancel(ctx)))
		}
	}()

	say("[%s] %s", r.Helper, steps[1])
	if err := x.JoinHelper(ctx); err != nil {
		return fmt.Errorf("join %s as a manager: %w (the swarm runs on %s, raft address %s; %s may have joined: `docker node ls` on %s says)", r.Helper, err, r.Node, r.Old, r.Helper, r.Node)
	}
	say("[%s] %s", r.Node, steps[2])
	if err := x.Demote(ctx, r.Node); err != nil {
		return fmt.Errorf("demote %s: %w (the swarm's managers are %s and %s, or %s alone: `docker node ls` on %s shows which; promote %s again with `docker node promote` once %s leads)", r.Node, err, r.Node, r.Helper, r.Helper, r.Helper, r.Node, r.Helper)
	}
	say("[%s] a worker now; %s leads", r.Node, r.Helper)
	if err := x.Promote(ctx, r.Node); err != nil {
		return fmt.Errorf("promote %s: %w (%s leads; `docker node ls` on it shows whether %s became a manager at %s: if not, run `docker node promote %s` there)", r.Node, err, r.Helper, r.Node, r.New, r.Node)
	}
	say("[%s] a reachable manager again, raft address %s", r.Node, r.New)
	if err := remove(ctx); err != nil {
		return err
	}
	if r.HelperIsWorker {
		say("[%s] %s", r.Helper, steps[4])
		if err := x.Demote(ctx, r.Helper); err != nil {
			return fmt.Errorf("demote %s back to a worker: %w (the swarm's managers are %s and %s: `shoal bootstrap` asks to demote it)", r.Helper, err, r.Node, r.Helper)
		}
	}
	if err := x.CheckAddrs(ctx); err != nil {
		return fmt.Errorf("check the raft addresses: %w (the swarm runs; check `docker node inspect` before going on)", err)
	}
	return nil
}
