package swarm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
)

// Action is what a step does.
type Action string

// Step actions, in the order a plan runs them.
const (
	Init        Action = "init swarm"
	NameCluster Action = "name cluster"
	RemoveStale Action = "remove stale entry"
	JoinManager Action = "join as manager"
	JoinWorker  Action = "join as worker"
	Promote     Action = "promote"
	Demote      Action = "demote"
	Label       Action = "set labels"
	Remove      Action = "remove node"
	Autolock    Action = "set autolock"
)

// Step is one change to the swarm.
type Step struct {
	Action Action
	Node   string // inventory node name
	NodeID string // swarm node ID, empty for a node that joins in this plan
	Why    string
	// Label: labels to set and keys to remove.
	Labels map[string]string
	Remove []string
	// RemoveStale, Remove: demote the entry before removing it.
	Demote bool
	// Remove: run `swarm leave` on the node's own engine first (it is
	// reachable and still in the swarm); Force: `node rm --force`, for a
	// node that could not leave itself.
	Leave, Force bool
	// Autolock: the wanted setting.
	Autolock bool
	// NameCluster: the cluster name the swarm is to record (LabelCluster).
	ClusterName string
}

func (s Step) String() string {
	return fmt.Sprintf("%s %s: %s", s.Action, s.Node, s.Why)
}

// Destructive tells whether the step demotes or removes a swarm node: the
// kind of step an operator confirms first.
func (s Step) Destructive() bool {
	return s.Action == Demote || s.Action == RemoveStale || s.Action == Remove
}

// Blocked is a node the plan cannot converge in this run.
type Blocked struct {
	Node, Reason string
}

// Plan is the ordered list of steps that converges the swarm.
type Plan struct {
	// Leader is the manager that inits the swarm or through which
	// manager-side calls go.
	Leader   string
	Steps    []Step
	Blocked  []Blocked
	Warnings []string
}

// Empty tells whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Steps) == 0 }

// ComputeOptions tune ComputeWith.
type ComputeOptions struct {
	// Prune plans the removal of swarm members that shoal manages (they
	// carry the label shoal.node=<name>) whose name is not in the
	// inventory: drain, demote if manager, `swarm leave` on the node (when
	// obs.Departing has it reachable), `node rm`. Without Prune they are
	// only reported in the plan's warnings.
	Prune bool
	// Adopt takes over a swarm that records another cluster name, or none
	// while it has members the inventory does not list: the plan records
	// the inventory's cluster.name in it. Without Adopt such a swarm is
	// refused (*ClusterNameError).
	Adopt bool
	// Partial: the inventory lists only some of the swarm's nodes on
	// purpose (bootstrap.JoinNode joins one node through the managers), so
	// members it does not list are not reported as left alone.
	Partial bool
}

// Compute is ComputeWith without pruning: nodes missing from the inventory
// are reported, never removed.
func Compute(inv *inventory.Inventory, obs Observed) (Plan, error) {
	return ComputeWith(inv, obs, ComputeOptions{})
}

// ComputeWith is the pure heart of bootstrap: from the inventory and what was
// observed it derives the steps that converge the swarm, in an order that
// never costs manager quorum. It refuses (with a typed error) when a node is
// in another swarm, when the swarm belongs to another cluster (see
// checkClusterName), when a node is locked or broken, and when quorum is
// lost or a demotion or removal would lose it.
func ComputeWith(inv *inventory.Inventory, obs Observed, opts ComputeOptions) (Plan, error) {
	var p Plan
	var errs []error

	// 1. Hosts that cannot take part.
	for _, n := range inv.Nodes {
		h := obs.Hosts[n.Name]
		if !h.Reachable {
			reason := "unreachable"
			if h.Err != "" {
				reason += ": " + h.Err
			}
			p.Blocked = append(p.Blocked, Blocked{Node: n.Name, Reason: reason})
			continue
		}
		switch h.Local {
		case LocalInactive, LocalActive:
		default:
			errs = append(errs, &NodeStateError{Node: n.Name, State: h.Local, Detail: h.Err})
		}
	}
	if len(errs) > 0 {
		return Plan{}, errors.Join(errs...)
	}

	members := map[string]Member{}
	for _, m := range obs.Members {
		members[m.ID] = m
	}

	// 2. Which swarm is ours, and is anyone in another one?
	if obs.Swarm == nil {
		for _, n := range inv.Nodes {
			h := obs.Hosts[n.Name]
			if h.Reachable && h.Local == LocalActive {
				detail := "no manager of this inventory is in a swarm"
				if h.ClusterID != "" {
					detail = "swarm " + short(h.ClusterID)
				}
				errs = append(errs, &ForeignSwarmError{Node: n.Name, Detail: detail})
			}
		}
	} else {
		for _, n := range inv.Nodes {
			h := obs.Hosts[n.Name]
			if !h.Reachable || h.Local != LocalActive {
				continue
			}
			if h.ClusterID != "" && h.ClusterID != obs.Swarm.ID {
				errs = append(errs, &ForeignSwarmError{Node: n.Name, Detail: "swarm " + short(h.ClusterID) + ", this cluster is " + short(obs.Swarm.ID)})
				continue
			}
			if _, ok := members[h.NodeID]; !ok {
				errs = append(errs, &ForeignSwarmError{Node: n.Name, Detail: "its node " + short(h.NodeID) + " is not in this cluster's node list"})
			}
		}
	}
	if len(errs) > 0 {
		return Plan{}, errors.Join(errs...)
	}
	name, err := checkClusterName(inv, obs, opts.Adopt)
	if err != nil {
		return Plan{}, err
	}

	// 3. Init, or check quorum of the existing swarm.
	if obs.Swarm == nil {
		for _, n := range inv.Managers() {
			if h := obs.Hosts[n.Name]; h.Reachable {
				p.Leader = n.Name
				break
			}
		}
		if p.Leader == "" {
			return p, fmt.Errorf("no manager of the inventory is reachable: cannot create the swarm")
		}
		p.Steps = append(p.Steps, Step{Action: Init, Node: p.Leader, Why: "no swarm exists yet"},
			Step{Action: NameCluster, Node: p.Leader, ClusterName: inv.Cluster.Name, Why: "record the cluster name in the new swarm"})
	} else {
		p.Leader = obs.Via
		total, reachable := 0, 0
		for _, m := range obs.Members {
			if m.Role == "manager" {
				total++
				if m.Reachable() {
					reachable++
				}
			}
		}
		if reachable < quorum.Majority(total) {
			return Plan{}, &QuorumError{Reachable: reachable, Total: total}
		}
		if obs.Swarm.DataPathPort != 0 && inv.Cluster.DataPathPort != 0 && obs.Swarm.DataPathPort != inv.Cluster.DataPathPort {
			p.Warnings = append(p.Warnings, fmt.Sprintf("cluster.data_path_port is %d but the swarm uses %d: it can only be set when the swarm is created", inv.Cluster.DataPathPort, obs.Swarm.DataPathPort))
		}
		if name != nil {
			p.Steps = append(p.Steps, *name)
		}
	}

	// Which member is which inventory node: by the node ID each host reports.
	idOf := map[string]string{}  // inventory name -> member ID
	owner := map[string]string{} // member ID -> inventory name
	for _, n := range inv.Nodes {
		h := obs.Hosts[n.Name]
		if h.Reachable && h.Local == LocalActive {
			idOf[n.Name] = h.NodeID
			owner[h.NodeID] = n.Name
		}
	}

	// 4. Stale entries: a member that carries an inventory node's name but
	// is not the node that host runs now, and is down (the VPS was rebuilt).
	// Down managers are demoted before removal, and before any join, so the
	// manager count never includes dead seats while new ones are added.
	var unmanaged []string
	var prune []Member
	for _, m := range obs.Members {
		if _, ok := owner[m.ID]; ok {
			continue
		}
		name := m.Labels[LabelNode]
		_, inInv := inv.Node(name)
		switch {
		case opts.Prune && name != "" && !inInv:
			prune = append(prune, m)
			continue
		case inInv && !obs.Hosts[name].Reachable:
			// The host is unreachable: this entry is still its node (a lost
			// node is heal's business, not bootstrap's).
			if _, taken := idOf[name]; !taken {
				idOf[name] = m.ID
				owner[m.ID] = name
			}
			continue
		case inInv && m.State == "down":
			p.Steps = append(p.Steps, Step{
				Action: RemoveStale, Node: name, NodeID: m.ID, Demote: m.Role == "manager",
				Why: fmt.Sprintf("entry %s is down and %s now runs another node", short(m.ID), name),
			})
			continue
		}
		label := m.Hostname
		if name != "" {
			label = name
		}
		unmanaged = append(unmanaged, fmt.Sprintf("%s (%s, %s)", label, m.Role, m.State))
	}
	if len(unmanaged) > 0 && !opts.Partial {
		what := "swarm nodes not in the inventory are left alone: "
		if opts.Prune {
			what = "swarm nodes without a shoal.node label are left alone: "
		}
		p.Warnings = append(p.Warnings, what+strings.Join(unmanaged, ", "))
	}

	// 5. Joins: managers one at a time (raft adds one voter per change),
	// then workers.
	for _, n := range inv.Managers() {
		h := obs.Hosts[n.Name]
		if h.Reachable && h.Local == LocalInactive && n.Name != p.Leader {
			p.Steps = append(p.Steps, Step{Action: JoinManager, Node: n.Name, Why: "not a swarm member"})
		}
	}
	for _, n := range inv.Workers() {
		h := obs.Hosts[n.Name]
		if h.Reachable && h.Local == LocalInactive {
			p.Steps = append(p.Steps, Step{Action: JoinWorker, Node: n.Name, Why: "not a swarm member"})
		}
	}

	// 6. Roles: every promotion before any demotion, so the manager count
	// only dips after the new managers are voting.
	var promote, demote []Step
	for _, n := range inv.Nodes {
		id, ok := idOf[n.Name]
		if !ok {
			continue
		}
		m, ok := members[id]
		if !ok {
			continue
		}
		switch {
		case n.Role == inventory.RoleManager && m.Role != "manager":
			promote = append(promote, Step{Action: Promote, Node: n.Name, NodeID: id, Why: "inventory role is manager"})
		case n.Role == inventory.RoleWorker && m.Role == "manager":
			demote = append(demote, Step{Action: Demote, Node: n.Name, NodeID: id, Why: "inventory role is worker"})
		}
	}
	if len(demote) > 0 {
		if err := checkDemotions(obs.Members, len(promote), demote); err != nil {
			return Plan{}, err
		}
	}
	p.Steps = append(p.Steps, promote...)
	p.Steps = append(p.Steps, demote...)
	joinManagers := 0
	for _, st := range p.Steps {
		if st.Action == JoinManager {
			joinManagers++
		}
	}

	// 7. Labels.
	for _, n := range inv.Nodes {
		want := DesiredLabels(n)
		id, isMember := idOf[n.Name]
		joins := !isMember && obs.Hosts[n.Name].Reachable
		if joins || (obs.Swarm == nil && n.Name == p.Leader) {
			p.Steps = append(p.Steps, Step{Action: Label, Node: n.Name, Labels: want, Why: "new node"})
			continue
		}
		if !isMember {
			continue
		}
		set, remove := diffLabels(members[id].Labels, want)
		if len(set) > 0 || len(remove) > 0 {
			p.Steps = append(p.Steps, Step{Action: Label, Node: n.Name, NodeID: id, Labels: set, Remove: remove, Why: describeLabelDiff(set, remove)})
		}
	}

	// 8. Removals, after every join, promotion and label change, so that
	// the drained node's tasks find their new places. One at a time.
	if len(prune) > 0 {
		removals, warnings, err := planRemovals(obs, prune, joinManagers, len(promote), demote)
		if err != nil {
			return Plan{}, err
		}
		p.Steps = append(p.Steps, removals...)
		p.Warnings = append(p.Warnings, warnings...)
	}

	// 9. Autolock on an existing swarm.
	if obs.Swarm != nil && obs.Swarm.Autolock != inv.Cluster.Autolock {
		p.Steps = append(p.Steps, Step{Action: Autolock, Node: p.Leader, Autolock: inv.Cluster.Autolock,
			Why: fmt.Sprintf("inventory cluster.autolock is %v", inv.Cluster.Autolock)})
	}
	return p, nil
}

// planRemovals plans the removal of the members in prune (shoal-managed,
// not in the inventory): workers first, then unreachable managers, then
// reachable ones, each name in order. A manager's removal is refused
// (*QuorumError) when the reachable managers left would not be a majority
// of the managers left, counting the joins, promotions and demotions
// planned before it.
func planRemovals(obs Observed, prune []Member, joins, promotions int, demote []Step) ([]Step, []string, error) {
	total, reachable := 0, 0
	for _, m := range obs.Members {
		if m.Role == "manager" {
			total++
			if m.Reachable() {
				reachable++
			}
		}
	}
	total += joins + promotions - len(demote)
	reachable += joins + promotions - len(demote)

	rank := func(m Member) int {
		switch {
		case m.Role != "manager":
			return 0
		case !m.Reachable():
			return 1
		default:
			return 2
		}
	}
	slices.SortStableFunc(prune, func(a, b Member) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.Labels[LabelNode], b.Labels[LabelNode])
	})

	var steps []Step
	var warnings []string
	for _, m := range prune {
		name := m.Labels[LabelNode]
		if m.Role == "manager" {
			total--
			if m.Reachable() {
				reachable--
			}
			if total < 1 || reachable < quorum.Majority(total) {
				return nil, nil, &QuorumError{Reachable: reachable, Total: total}
			}
		}
		st := Step{Action: Remove, Node: name, NodeID: m.ID, Demote: m.Role == "manager"}
		h, seen := obs.Departing[name]
		switch {
		case seen && h.Reachable && h.Local == LocalActive && h.NodeID == m.ID:
			st.Leave = true
			st.Why = fmt.Sprintf("not in the inventory (%s, %s): drain, %sleave, node rm", m.Role, m.State, demoteWord(st.Demote))
		case seen && h.Reachable:
			// The host answers but no longer runs this member: only the
			// entry is left.
			st.Force = m.State != "down"
			st.Why = fmt.Sprintf("not in the inventory (%s, %s) and its host has left already: %snode rm", m.Role, m.State, demoteWord(st.Demote))
		default:
			st.Force = true
			why := "no connection to it"
			if seen && h.Err != "" {
				why = "unreachable: " + h.Err
			}
			st.Why = fmt.Sprintf("not in the inventory (%s, %s); %s: drain, %snode rm --force", m.Role, m.State, why, demoteWord(st.Demote))
			warnings = append(warnings, fmt.Sprintf("%s is removed from the swarm without `swarm leave` (%s): its daemon still thinks it is a member until it is wiped", name, why))
		}
		steps = append(steps, st)
	}
	return steps, warnings, nil
}

func demoteWord(demote bool) string {
	if demote {
		return "demote, "
	}
	return ""
}

// checkDemotions refuses demotions that would leave the swarm without a
// reachable majority of managers, counting promotions done before them.
func checkDemotions(members []Member, promotions int, demote []Step) error {
	total, reachable := 0, 0
	for _, m := range members {
		if m.Role == "manager" {
			total++
			if m.Reachable() {
				reachable++
			}
		}
	}
	total += promotions
	reachable += promotions
	for range demote {
		total--
		reachable--
		if total < 1 || reachable < quorum.Majority(total) {
			return &QuorumError{Reachable: reachable, Total: total}
		}
	}
	return nil
}

// DesiredLabels are the swarm labels a node must carry: the inventory's
// labels, shoal's own, and the list of inventory keys (so a key later
// removed from the inventory is removed from the node too).
func DesiredLabels(n inventory.Node) map[string]string {
	want := map[string]string{LabelNode: n.Name, LabelHoster: n.Hoster}
	if n.Region != "" {
		want[LabelRegion] = n.Region
	}
	keys := slices.Sorted(maps.Keys(n.Labels))
	for _, k := range keys {
		want[k] = n.Labels[k]
	}
	if len(keys) > 0 {
		want[LabelManaged] = strings.Join(keys, ",")
	}
	return want
}

// diffLabels returns the labels to set and the keys to remove. Only keys
// shoal owns are removed: its own shoal.* keys and those it recorded in
// shoal.managed; labels somebody else set stay.
func diffLabels(have, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if have[k] != v {
			set[k] = v
		}
	}
	owned := map[string]bool{}
	for _, k := range strings.Split(have[LabelManaged], ",") {
		if k != "" {
			owned[k] = true
		}
	}
	for k := range have {
		if _, ok := want[k]; ok {
			continue
		}
		if owned[k] || k == LabelNode || k == LabelHoster || k == LabelRegion || k == LabelManaged {
			remove = append(remove, k)
		}
	}
	sort.Strings(remove)
	if len(set) == 0 {
		set = nil
	}
	return set, remove
}

func describeLabelDiff(set map[string]string, remove []string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(set)) {
		parts = append(parts, k+"="+set[k])
	}
	for _, k := range remove {
		parts = append(parts, "-"+k)
	}
	return strings.Join(parts, " ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
