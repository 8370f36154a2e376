// Package dr is disaster recovery: `shoal dr recover` re-forms a swarm that
// lost manager quorum on the surviving manager with the most recent raft
// state, and brings the managers back to the spec's count (ADR 0027; on
// `shoal up` stacks through the Pulumi program, with the webhooks checked
// after, ADR 0032).
//
// Compute (pure, table-tested) picks the survivor and the steps from what
// Observe read, or refuses with the reason and what a human must decide;
// Execute carries the steps out through an Executor (dr/drexec).
package dr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/replace"
)

// Source is where the cluster's servers come from: it decides whether
// shoal can create a missing manager's server.
type Source string

const (
	// SourceLab is a lab (`shoal lab up`): shoal creates the missing
	// managers' servers as heal does.
	SourceLab Source = "lab"
	// SourceStack is a `shoal up` stack: the missing managers get new
	// servers under their own names through the stack's Pulumi program, as
	// heal's Pulumi actor replaces a node, and the webhooks of its apps are
	// checked against the services and Vault afterwards.
	SourceStack Source = "stack"
	// SourceInventory is a plain inventory: shoal restores quorum, and the
	// missing managers' servers are the operator's to bring (the plan says
	// how).
	SourceInventory Source = "inventory"
)

// Manager is one manager of the spec (the inventory) as observed.
type Manager struct {
	Name, Hoster, Region, Address string
	// Reachable: its host answered over SSH and its Docker Engine
	// answered.
	Reachable bool
	Err       string // why it could not be read
	Local     string // swarm.LocalActive, ... (docker info)
	Control   bool   // it runs a manager (docker info ControlAvailable)
	ClusterID string // the swarm it belongs to (docker info)
	Advertise string // what it advertises to the swarm
	// Raft is its raft log's end read from disk; nil when it could not be
	// read (RaftErr says why).
	Raft    *RaftState
	RaftErr string
}

// alive is a manager that can be the survivor: reachable, in a swarm as a
// manager, not locked.
func (m Manager) alive() bool { return m.Reachable && m.Local == swarm.LocalActive && m.Control }

// Observed is what Compute decides from.
type Observed struct {
	Cluster  string
	Source   Source
	Managers []Manager // the spec's managers, in inventory order
	// Quorum is set when a manager answered with a leader and a reachable
	// majority (swarm.Judge); Via names it.
	Quorum bool
	Via    string
	// Answers are what each manager said about quorum (for the plan).
	Answers []string
	// DownWorkers are inventory workers whose hosts did not answer.
	DownWorkers []string
}

// Request is what the operator asked for.
type Request struct {
	// Force recovers although a manager reports quorum.
	Force bool
	// From names the survivor to re-form the swarm on, overriding the
	// raft comparison.
	From string
}

// Kind is what a step does.
type Kind string

// Step kinds, in the order a plan runs them.
const (
	ForceNewCluster Kind = "force new cluster"
	WaitLeader      Kind = "wait leader"
	Rejoin          Kind = "rejoin"
	RemoveEntry     Kind = "remove entry"
	ReplaceManager  Kind = "replace manager"
	// ReplaceThroughProgram gives every dead manager of a stack (Nodes) a
	// new server under its name in one run of the Pulumi program.
	ReplaceThroughProgram Kind = "replace through the program"
	CheckServices         Kind = "check services"
	// CheckWebhooks checks every app service's webhook and its token in
	// Vault, and re-syncs them when a service ID changed (stacks).
	CheckWebhooks Kind = "check webhooks"
)

// Step is one step of a recovery.
type Step struct {
	Kind Kind
	Node string // the manager the step acts on
	// New is the replacement's name (ReplaceManager).
	New string
	// Nodes are the managers ReplaceThroughProgram replaces.
	Nodes []string
	Text  string
}

func (s Step) String() string { return s.Text }

// Plan is a recovery: the survivor, why it was chosen, and the steps.
type Plan struct {
	Survivor Manager
	Why      string
	Steps    []Step
	// Managers are the spec's managers as observed.
	Managers []Manager
	// Notes are what is left to a human after the steps.
	Notes []string
}

// RefusedError is a recovery shoal will not start (the CLI exits 3):
// Reason is why, Decide what a human must decide before it can go on.
type RefusedError struct {
	Reason, Decide string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("dr recover refused, nothing was changed: %s\n  to decide: %s", e.Reason, e.Decide)
}

// Compute picks the survivor and the steps, or refuses. Rules, in order:
//   - a manager with quorum means there is nothing to recover (unless
//     Force): heal and bootstrap keep such a swarm;
//   - no manager alive: nothing to re-form from (a restore from a backup);
//   - a locked manager must be unlocked first (its raft state cannot be
//     read by the engine);
//   - the alive managers must belong to one swarm;
//   - the survivor is the alive manager with the most recent raft state
//     (RaftState.NewerThan), ties to inventory order; if one alive
//     manager's state could not be read, the choice is the operator's
//     (--from) unless it is the only one alive;
//   - From, when given, must be an alive manager; choosing one that is
//     behind another is allowed and said.
func Compute(obs Observed, req Request) (Plan, error) {
	if len(obs.Managers) == 0 {
		return Plan{}, &RefusedError{Reason: "the inventory names no manager", Decide: "which servers are the managers (inventory nodes with role: manager)"}
	}
	if obs.Quorum && !req.Force {
		return Plan{}, &RefusedError{
			Reason: fmt.Sprintf("the swarm has quorum (%s answered with a leader and a reachable majority): there is nothing to recover", obs.Via),
			Decide: "nothing, if `shoal status` says quorum ok; dead nodes are heal's or `shoal node replace`'s work. Only if you know the managers disagree (a split you want to end) pass --force",
		}
	}
	var alive, locked []Manager
	for _, m := range obs.Managers {
		switch {
		case m.alive():
			alive = append(alive, m)
		case m.Reachable && m.Local == swarm.LocalLocked:
			locked = append(locked, m)
		}
	}
	if len(locked) > 0 {
		return Plan{}, &RefusedError{
			Reason: fmt.Sprintf("%s restarted locked (autolock): its raft state cannot be read until it is unlocked", names(locked)),
			Decide: "unlock it with the cluster's unlock key (`docker swarm unlock` on the node), then run dr recover again",
		}
	}
	if len(alive) == 0 {
		var why []string
		for _, m := range obs.Managers {
			why = append(why, m.Name+": "+down(m))
		}
		return Plan{}, &RefusedError{
			Reason: "no manager is alive in the swarm (" + strings.Join(why, "; ") + "): there is no raft state to re-form the swarm from",
			Decide: "bring one manager's server back (its disk holds the swarm), or rebuild the swarm from a backup",
		}
	}
	for _, m := range alive[1:] {
		if m.ClusterID != alive[0].ClusterID {
			return Plan{}, &RefusedError{
				Reason: fmt.Sprintf("the alive managers belong to different swarms (%s: %s, %s: %s)", alive[0].Name, short(alive[0].ClusterID), m.Name, short(m.ClusterID)),
				Decide: "which swarm is the cluster's; make the other node leave it, then run dr recover again (or pass --from NAME)",
			}
		}
	}

	surv, why, err := pick(alive, req.From)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Survivor: surv, Why: why, Managers: obs.Managers}
	add := func(k Kind, node, text string) { p.Steps = append(p.Steps, Step{Kind: k, Node: node, Text: text}) }
	add(ForceNewCluster, surv.Name, fmt.Sprintf("re-form the swarm on %s (swarm init --force-new-cluster, advertise %s, listen 0.0.0.0:2377): it becomes the only manager, with every service, network, config and secret it holds", surv.Name, surv.Advertise))
	add(WaitLeader, surv.Name, fmt.Sprintf("wait until %s is the leader and answers the node list", surv.Name))
	for _, m := range obs.Managers {
		if m.Name == surv.Name || !m.Reachable {
			continue
		}
		add(Rejoin, m.Name, fmt.Sprintf("%s is alive: make it leave its old raft and join again as a manager through %s", m.Name, surv.Name))
	}
	var dead []Manager
	for _, m := range obs.Managers {
		if !m.Reachable {
			dead = append(dead, m)
			add(RemoveEntry, m.Name, fmt.Sprintf("demote and remove the swarm entry of %s (%s), which cannot vote any more", m.Name, down(m)))
		}
	}
	if obs.Source == SourceStack && len(dead) > 0 {
		var ns, at []string
		for _, m := range dead {
			ns = append(ns, m.Name)
			at = append(at, m.Name+" at "+m.Hoster)
		}
		p.Steps = append(p.Steps, Step{Kind: ReplaceThroughProgram, Nodes: ns,
			Text: fmt.Sprintf("replace %s through the stack's Pulumi program (one up, each node's generation raised: a new server under the same name at the same hoster, joined as a manager, Ready)", strings.Join(at, ", "))})
	}
	for _, m := range dead {
		switch obs.Source {
		case SourceStack:
			continue
		case SourceLab:
			n := successor(m.Name, obs.Managers)
			p.Steps = append(p.Steps, Step{Kind: ReplaceManager, Node: m.Name, New: n,
				Text: fmt.Sprintf("replace %s by %s at %s (create the server, join it as a manager, wait Ready, delete %s's server)", m.Name, n, m.Hoster, m.Name)})
			continue
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%s (%s) is gone: start a new server at %s, put it in the inventory in %s's place as a manager, and run `shoal bootstrap`; until then the swarm has %d of %d managers",
			m.Name, m.Hoster, m.Hoster, m.Name, len(obs.Managers)-len(dead), len(obs.Managers)))
	}
	add(CheckServices, "", "check that every service still runs, with its ID, and that the managers have quorum")
	if obs.Source == SourceStack {
		add(CheckWebhooks, "", "check that every app service's Portainer webhook still targets its service ID and that Vault holds that webhook's token; re-create the webhook and write the new token to Vault where not")
	}
	if len(obs.DownWorkers) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("workers %s did not answer: heal replaces them once quorum is back (`shoal heal --once`), or bring them back by hand", strings.Join(obs.DownWorkers, ", ")))
	}
	if obs.Source != SourceInventory && len(obs.Managers) > 1 {
		if risk := hosterRisk(obs.Managers); risk != "" {
			p.Notes = append(p.Notes, risk)
		}
	}
	return p, nil
}

// pick chooses the survivor among the alive managers.
func pick(alive []Manager, from string) (Manager, string, error) {
	var best *Manager
	var unread []Manager
	for i, m := range alive {
		if m.Raft == nil {
			unread = append(unread, m)
			continue
		}
		if best == nil || m.Raft.NewerThan(*best.Raft) {
			best = &alive[i]
		}
	}
	if from != "" {
		i := slices.IndexFunc(alive, func(m Manager) bool { return m.Name == from })
		if i < 0 {
			return Manager{}, "", &RefusedError{
				Reason: fmt.Sprintf("--from %s: not an alive manager of the inventory (alive: %s)", from, names(alive)),
				Decide: "which alive manager to re-form the swarm on",
			}
		}
		m := alive[i]
		why := fmt.Sprintf("%s, as --from asked", m.Name)
		if best != nil && m.Raft != nil && best.Raft.NewerThan(*m.Raft) {
			why += fmt.Sprintf("; %s is further (%s against %s): changes only %s holds are lost", best.Name, best.Raft, m.Raft, best.Name)
		}
		return m, why, nil
	}
	if len(alive) == 1 {
		m := alive[0]
		if m.Raft == nil {
			return m, fmt.Sprintf("%s is the only manager alive (its raft state could not be read: %s)", m.Name, m.RaftErr), nil
		}
		return m, fmt.Sprintf("%s is the only manager alive (raft %s)", m.Name, m.Raft), nil
	}
	if len(unread) > 0 {
		var why []string
		for _, m := range unread {
			why = append(why, m.Name+": "+m.RaftErr)
		}
		return Manager{}, "", &RefusedError{
			Reason: "cannot tell which alive manager has the most recent raft state: " + strings.Join(why, "; "),
			Decide: fmt.Sprintf("which of %s to re-form the swarm on (the one that was leader last, or whose changes you saw last): pass --from NAME", names(alive)),
		}
	}
	var others []string
	for _, m := range alive {
		if m.Name != best.Name {
			others = append(others, fmt.Sprintf("%s %s", m.Name, m.Raft))
		}
	}
	return *best, fmt.Sprintf("%s has the most recent raft state (%s; %s)", best.Name, best.Raft, strings.Join(others, ", ")), nil
}

// successor names a dead manager's replacement as node replace does
// (replace.SuccessorName): NAME-r1, or the next free -rN.
func successor(name string, spec []Manager) string {
	taken := map[string]bool{}
	for _, m := range spec {
		taken[m.Name] = true
	}
	return replace.SuccessorName(name, taken)
}

// hosterRisk says when the spec's managers already let one hoster hold a
// majority (the replacements go where the dead ones were).
func hosterRisk(ms []Manager) string {
	by := map[string]int{}
	for _, m := range ms {
		by[m.Hoster]++
	}
	if r := quorum.HosterRisk(by); len(r) > 0 {
		return fmt.Sprintf("the spec puts a majority of the managers at %s: one outage there loses quorum again", strings.Join(r, ", "))
	}
	return ""
}

func names(ms []Manager) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return strings.Join(out, ", ")
}

func down(m Manager) string {
	switch {
	case !m.Reachable && m.Err != "":
		return "unreachable: " + m.Err
	case !m.Reachable:
		return "unreachable"
	default:
		return "swarm state " + m.Local
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
