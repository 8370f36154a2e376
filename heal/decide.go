package heal

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// ActionKind is what an action does.
type ActionKind string

// Actions, each carried out by the controller through an Actor.
const (
	// Replace creates server Target with Node's role, hoster and labels,
	// joins it and waits until it is Ready (idempotent by Target's name, so a
	// restarted loop resumes an attempt instead of starting another).
	Replace ActionKind = "replace"
	// ActivateSpare turns warm spare Target into Node's stand-in: Node's
	// role and labels, availability active.
	ActivateSpare ActionKind = "activate-spare"
	// CreateSpare creates a new warm spare Spec.Name at Spec.Hoster.
	CreateSpare ActionKind = "create-spare"
	// RemoveDead demotes Node if it is a manager and removes it from the
	// swarm (`node rm --force`) and its server; only once Target is Ready.
	RemoveDead ActionKind = "remove-dead"
	// Abandon gives up on replacement Target that never became Ready:
	// its server goes, Node's record keeps the attempt for back-off.
	Abandon ActionKind = "abandon"
	// PromoteWorker promotes healthy worker Target while manager Node is
	// being replaced slowly and only two managers are reachable.
	PromoteWorker ActionKind = "promote-worker"
	// DemoteWorker demotes Target again, which heal promoted for Node.
	DemoteWorker ActionKind = "demote-worker"
	// Unlock unlocks manager Node, which restarted locked (autolock).
	Unlock ActionKind = "unlock"
	// Promote promotes Ready worker Node back to the manager its slot is
	// (heal demoted it while it was cut off, or the spec's manager count at
	// its hoster is short).
	Promote ActionKind = "promote"
)

// Action is one thing to do, with the reason in numbers.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Node    NodeInfo   `json:"node"`             // the node the action is about
	Target  string     `json:"target,omitempty"` // replacement, spare or worker name
	Spec    NodeSpec   `json:"spec"`             // Replace, CreateSpare: what to create
	Attempt int        `json:"attempt,omitempty"`
	Resume  bool       `json:"resume,omitempty"` // Replace/ActivateSpare: the attempt was started before
	// Record is the record the action continues (zero for a new attempt).
	Record Record `json:"-"`
	Reason string `json:"reason"`
}

// Key identifies the action for History.Running: one action per node slot
// at a time.
func (a Action) Key() string {
	switch a.Kind {
	case CreateSpare:
		return "spare/" + a.Spec.Name
	case PromoteWorker, DemoteWorker:
		return "worker/" + a.Target
	}
	return "node/" + a.Node.Name
}

// EventKind classifies an event.
type EventKind string

// Events Decide reports.
const (
	EventQuorumLost EventKind = "quorum-lost" // no action: disaster recovery
	EventNoManager  EventKind = "no-manager"  // no manager answered the watcher
	EventHeld       EventKind = "held"        // maxUnhealthy exceeded
	EventWaiting    EventKind = "waiting"     // grace, back-off, one manager at a time, running
	EventGaveUp     EventKind = "gave-up"     // retry limit reached
	EventRefused    EventKind = "refused"     // would remove a reachable manager or cost quorum
	EventSkipped    EventKind = "skipped"     // a node heal has no spec for
)

// Event is something Decide noticed and did not act on (or why it did not).
type Event struct {
	Kind   EventKind `json:"kind"`
	Node   string    `json:"node,omitempty"`
	Reason string    `json:"reason"`
}

// Decision is Decide's answer.
type Decision struct {
	At      time.Time `json:"at"`
	Actions []Action  `json:"actions"`
	Events  []Event   `json:"events"`
	// Refused is set when a safety rule (quorum, maxUnhealthy, no manager)
	// held back remediation.
	Refused bool `json:"refused"`
	// Requeue is when to look again even if nothing changes; zero: at the
	// next resync.
	Requeue time.Duration `json:"requeue"`

	Total, Unhealthy, Managers, ManagersReachable int
}

func (d *Decision) event(k EventKind, node, format string, args ...any) {
	d.Events = append(d.Events, Event{Kind: k, Node: node, Reason: fmt.Sprintf(format, args...)})
}

func (d *Decision) act(a Action) { d.Actions = append(d.Actions, a) }

func (d *Decision) requeueAt(now, t time.Time) {
	w := t.Sub(now)
	if w <= 0 {
		w = time.Second
	}
	if d.Requeue == 0 || w < d.Requeue {
		d.Requeue = w
	}
}

// Decide is heal's pure heart: from the time, the policy, the desired spec,
// what the observer saw and what was started before, it derives what to do
// and why. The caller reads the clock once. It never:
//   - acts while manager quorum is lost, or when no manager answered;
//   - starts a remediation while more nodes than MaxUnhealthy are unhealthy;
//   - remediates more than one manager at a time;
//   - demotes or removes a reachable manager, or a dead one before its
//     replacement is Ready;
//   - emits an action for a node slot that is running (History.Running) or
//     has an attempt recorded other than that attempt's own next step, or
//     more attempts per node slot than RetryLimit within RetryWindow (with
//     back-off between).
//
// It runs in phases, each a method of decider with its own table tests:
// gate (no list, quorum), classify (who is unhealthy), inFlight (recorded
// attempts), brake (maxUnhealthy), remediate (new attempts), seats (managers
// heal demoted, the spec's manager count per hoster) and backfill (spares).
func Decide(now time.Time, pol Policy, spec Desired, obs Snapshot, hist History) Decision {
	p := newDecider(now, pol, spec, obs, hist)
	if !p.gate() {
		return p.d
	}
	p.classify()
	p.inFlight()
	p.promotedWorkers()
	if !p.brake() {
		return p.d
	}
	p.remediate()
	p.seats()
	p.backfill()
	return p.d
}

// decider holds what the phases of one Decide share.
type decider struct {
	now  time.Time
	pol  Policy
	spec Desired
	obs  Snapshot
	hist History
	d    Decision

	byName map[string]NodeInfo
	// With spec.SameName a replacement joins under the dead node's own
	// name: the entry carrying the in-flight record stays under the name in
	// byName, the other entry of that name is its replacement (twin).
	twin map[string]NodeInfo
	// replacing maps a node that is some in-flight record's replacement to
	// the dead node: it is not judged on its own, its record decides.
	replacing   map[string]string
	unhealthy   []NodeInfo
	managerBusy string // the manager slot being remediated, if any
	usedSpares  map[string]bool
}

func newDecider(now time.Time, pol Policy, spec Desired, obs Snapshot, hist History) *decider {
	return &decider{now: now, pol: pol, spec: spec, obs: obs, hist: hist, d: Decision{At: now},
		byName: map[string]NodeInfo{}, twin: map[string]NodeInfo{}, replacing: map[string]string{}, usedSpares: map[string]bool{}}
}

func (p *decider) running(key string) bool { return p.hist.Running[key] }

// gate is the first phase: without a node list, or without manager quorum,
// nothing is decided. It also counts the nodes.
func (p *decider) gate() bool {
	d, obs := &p.d, p.obs
	if obs.Nodes == nil {
		d.Refused = true
		if obs.NoLeader {
			d.event(EventQuorumLost, "", "quorum lost: %d of %d managers reachable; recover it with `shoal dr recover` (it re-forms the swarm on the surviving manager with the most recent raft state)", obs.ManagersAnswered, obs.ManagersKnown)
			return false
		}
		why := obs.Err
		if why == "" {
			why = "no node list"
		}
		d.event(EventNoManager, "", "no manager answered the watcher (%s): nothing is done; if only the watcher is cut off, that is right", why)
		return false
	}
	for _, n := range obs.Nodes {
		if prev, dup := p.byName[n.Name]; dup && p.spec.SameName {
			if recorded(n) && !recorded(prev) {
				p.byName[n.Name], p.twin[n.Name] = n, prev
			} else {
				p.twin[n.Name] = n
			}
		} else {
			p.byName[n.Name] = n
		}
		d.Total++
		if n.Role == RoleManager {
			d.Managers++
			if n.Reachability == "reachable" {
				d.ManagersReachable++
			}
		}
	}
	if d.ManagersReachable < quorum.Majority(d.Managers) {
		d.Refused = true
		d.event(EventQuorumLost, "", "quorum lost: %d of %d managers reachable; recover it with `shoal dr recover` (it re-forms the swarm on the surviving manager with the most recent raft state)", d.ManagersReachable, d.Managers)
		return false
	}
	for _, r := range sortedRecords(p.hist) {
		if r.InFlight() {
			p.replacing[r.Replacement] = r.Node
			if r.Spare {
				p.usedSpares[r.Replacement] = true
			}
		}
	}
	return true
}

// classify finds who is unhealthy (Down for longer than the grace period)
// and unlocks managers that restarted locked: they are alive.
func (p *decider) classify() {
	d, obs, now, pol := &p.d, p.obs, p.now, p.pol
	for _, n := range obs.Nodes {
		if n.Locked {
			a := Action{Kind: Unlock, Node: n, Reason: fmt.Sprintf("%s restarted locked (autolock); unlocking with the cluster's key", n.Name)}
			if !p.running(a.Key()) {
				d.act(a)
			}
		}
	}
	for _, n := range obs.Nodes {
		if n.Ready() || n.Locked {
			continue
		}
		if p.replacing[n.Name] != "" && !(p.spec.SameName && recorded(n)) {
			continue // a replacement (under SameName: the entry without the record)
		}
		if n.State == StateReady {
			continue // a manager Ready but not reachable: raft catches up; not a dead server
		}
		if p.spec.SameName && !recorded(n) && readySibling(obs, n) {
			d.event(EventSkipped, n.Name, "stale entry %s of %s is %s beside a Ready %s (its server was replaced under the same name): not a dead node; `shoal up` removes such entries", shortID(n.ID), n.Name, n.State, n.Name)
			continue
		}
		if n.DownSince.IsZero() {
			n.DownSince = obs.At
		}
		if _, inSpec := p.spec.Node(n.Name); !inSpec && n.Hoster == "" {
			// Not shoal's node (or one joining right now): not counted, not touched.
			if now.Sub(n.DownSince) >= pol.Grace {
				d.event(EventSkipped, n.Name, "%s is %s %s but neither the spec nor its labels say what it is (no %s label): left alone", n.Name, n.State, downFor(now, n), swarm.LabelHoster)
			}
			continue
		}
		down := now.Sub(n.DownSince)
		if down < pol.Grace {
			if r, busy := p.hist.Records[n.Name]; !busy || !r.InFlight() {
				d.event(EventWaiting, n.Name, "%s %s for %s, grace %s: waiting", n.Name, n.State, round(down), pol.Grace)
			}
			d.requeueAt(now, n.DownSince.Add(pol.Grace))
			continue
		}
		p.unhealthy = append(p.unhealthy, n)
	}
	d.Unhealthy = len(p.unhealthy)
	// Longest down first, then by name: the order is stable.
	sort.SliceStable(p.unhealthy, func(i, j int) bool {
		u := p.unhealthy
		if !u[i].DownSince.Equal(u[j].DownSince) {
			return u[i].DownSince.Before(u[j].DownSince)
		}
		return u[i].Name < u[j].Name
	})
}

// inFlight handles recorded attempts: finish, abandon, resume or wait.
func (p *decider) inFlight() {
	d, now, pol := &p.d, p.now, p.pol
	for _, r := range sortedRecords(p.hist) {
		if !r.InFlight() {
			continue
		}
		dead, ok := p.byName[r.Node]
		if !ok {
			continue // its entry is gone, and the record with it
		}
		role := r.Role // the dead node is demoted before its replacement joins
		if role == "" {
			role = dead.Role
		}
		if role == RoleManager {
			p.managerBusy = dead.Name
		}
		slot := "node/" + dead.Name
		if p.running(slot) {
			// One action per slot: whatever runs there finishes first.
			d.event(EventWaiting, dead.Name, "replacement %s of %s in progress for %s (startup timeout %s)", r.Replacement, dead.Name, round(now.Sub(r.Since)), pol.StartupTimeout)
			if !r.Since.IsZero() {
				d.requeueAt(now, r.Since.Add(pol.StartupTimeout))
			}
			if role == RoleManager {
				promoteIfSlow(now, pol, d, p.obs, p.hist, dead, r)
			}
			continue
		}
		repl, joined := p.byName[r.Replacement]
		if p.spec.SameName && r.Replacement == r.Node {
			repl, joined = p.twin[r.Node]
		}
		finished := joined && repl.Ready() && repl.Availability == "active" && repl.Role == role &&
			(!r.Spare || repl.Labels[LabelSpare] != "true")
		switch {
		case finished:
			if dead.State == StateReady {
				d.event(EventRefused, dead.Name, "%s came back (%s, %s) after %s became Ready: heal removes only dead nodes; decide which to keep, remove the other with `docker node rm` and run `shoal bootstrap` (%d managers, %d reachable)",
					dead.Name, dead.Role, dead.State, r.Replacement, d.Managers, d.ManagersReachable)
				continue
			}
			if dead.Role == RoleManager {
				// Demoting an unreachable manager leaves the reachable ones.
				total, reach := d.Managers-1, d.ManagersReachable
				if reach < quorum.Majority(total) {
					d.event(EventRefused, dead.Name, "not demoting %s: %d of %d managers would be reachable, quorum needs %d", dead.Name, reach, total, quorum.Majority(total))
					continue
				}
			}
			d.act(Action{Kind: RemoveDead, Node: dead, Target: r.Replacement, Attempt: r.Attempts, Record: r,
				Reason: fmt.Sprintf("%s is Ready in place of %s (%s %s, attempt %d); demote if manager and remove %s", r.Replacement, dead.Name, dead.State, downFor(now, dead), r.Attempts, dead.Name)})
		case !r.Since.IsZero() && now.Sub(r.Since) >= pol.StartupTimeout:
			d.act(Action{Kind: Abandon, Node: dead, Target: r.Replacement, Attempt: r.Attempts, Record: r,
				Reason: fmt.Sprintf("%s not Ready %s after the attempt started (startup timeout %s, attempt %d of %d): abandoning it", r.Replacement, round(now.Sub(r.Since)), pol.StartupTimeout, r.Attempts, pol.RetryLimit)})
		default:
			kind := Replace
			if r.Spare {
				kind = ActivateSpare
			}
			a := Action{Kind: kind, Node: dead, Target: r.Replacement, Attempt: r.Attempts, Resume: true, Record: r,
				Spec: replacementSpec(p.spec, dead, r.Replacement)}
			if r.Role != "" {
				a.Spec.Role = r.Role
			}
			d.requeueAt(now, r.Since.Add(pol.StartupTimeout))
			a.Reason = fmt.Sprintf("attempt %d for %s was started %s ago and %s is not Ready yet: resuming it, not starting another", r.Attempts, dead.Name, round(now.Sub(r.Since)), r.Replacement)
			d.act(a)
			if role == RoleManager {
				promoteIfSlow(now, pol, d, p.obs, p.hist, dead, r)
			}
		}
	}
}

// promotedWorkers demotes workers heal promoted once the manager count is
// restored.
func (p *decider) promotedWorkers() {
	d := &p.d
	for _, r := range sortedRecords(p.hist) {
		if r.PromotedFor == "" {
			continue
		}
		w, ok := p.byName[r.Node]
		if !ok || w.Role != RoleManager {
			continue
		}
		if rec, busy := p.hist.Records[r.PromotedFor]; busy && rec.InFlight() {
			if _, still := p.byName[r.PromotedFor]; still {
				continue
			}
		}
		total, reach := d.Managers-1, d.ManagersReachable-1
		if reach < quorum.Majority(total) || quorum.Tolerance(total) < 1 {
			d.event(EventWaiting, w.Name, "keeping %s a manager: without it %d of %d managers would be reachable", w.Name, reach, total)
			continue
		}
		a := Action{Kind: DemoteWorker, Node: w, Target: w.Name,
			Reason: fmt.Sprintf("%s was promoted while %s was replaced; %d of %d managers stay reachable without it", w.Name, r.PromotedFor, reach, total)}
		if !p.running(a.Key()) {
			d.act(a)
		}
	}
}

// brake holds new remediation when too many nodes are unhealthy: the fault
// is probably between us and them, not in them.
func (p *decider) brake() bool {
	d := &p.d
	maxU := p.pol.MaxUnhealthy.Of(d.Total)
	if len(p.unhealthy) <= maxU {
		return true
	}
	d.Refused = true
	names := make([]string, 0, len(p.unhealthy))
	for _, n := range p.unhealthy {
		names = append(names, fmt.Sprintf("%s down %s", n.Name, downFor(p.now, n)))
	}
	d.event(EventHeld, "", "remediation is not allowed, the number of unhealthy nodes exceeds maxUnhealthy (total: %d, unhealthy: %d, maxUnhealthy: %s); %s",
		d.Total, len(p.unhealthy), p.pol.MaxUnhealthy, strings.Join(names, ", "))
	return false
}

// slotRole is the role node n's slot has: the spec's, else the one heal
// demoted it from, else its own.
func (p *decider) slotRole(n NodeInfo) string {
	if s, ok := p.spec.Node(n.Name); ok && s.Role != "" {
		return s.Role
	}
	if r, ok := p.hist.Records[n.Name]; ok && r.Role != "" {
		return r.Role
	}
	return n.Role
}

// remediate starts new attempts for unhealthy nodes without one.
func (p *decider) remediate() {
	d, now, pol, hist := &p.d, p.now, p.pol, p.hist
	for _, n := range p.unhealthy {
		if rec, ok := hist.Records[n.Name]; ok && rec.InFlight() {
			continue // inFlight's
		}
		if p.running("node/" + n.Name) {
			// Started by this process and not recorded yet (or its record
			// not seen yet): never a second start.
			d.event(EventWaiting, n.Name, "%s: an action on it is running", n.Name)
			continue
		}
		ns, inSpec := p.spec.Node(n.Name)
		if inSpec && ns.Spare || n.Labels[LabelSpare] == "true" {
			d.event(EventSkipped, n.Name, "spare %s is down %s: it is backfilled, not replaced", n.Name, downFor(now, n))
			continue
		}
		rec := hist.Records[n.Name]
		attempts := rec.Attempts
		if !rec.Last.IsZero() && now.Sub(rec.Last) >= pol.RetryWindow {
			attempts = 0 // the window has passed: a fresh start
		}
		if attempts >= pol.RetryLimit {
			d.event(EventGaveUp, n.Name, "%s is down %s; its slot had %d replacement attempts since %s (retry limit %d per %s): not trying again; run `shoal heal --once` after fixing the cause, or remove the %s label",
				n.Name, downFor(now, n), attempts, rec.Last.UTC().Format(time.RFC3339), pol.RetryLimit, pol.RetryWindow, LabelAttempts)
			d.requeueAt(now, rec.Last.Add(pol.RetryWindow))
			continue
		}
		if attempts > 0 {
			if wait := rec.Last.Add(pol.BackoffFor(attempts)); now.Before(wait) {
				d.event(EventWaiting, n.Name, "%s: attempt %d of %d after back-off, in %s", n.Name, attempts+1, pol.RetryLimit, round(wait.Sub(now)))
				d.requeueAt(now, wait)
				continue
			}
		}
		how := ""
		if p.slotRole(n) == RoleManager {
			if p.managerBusy != "" {
				d.event(EventWaiting, n.Name, "one manager at a time: %s waits until %s is replaced (%d of %d managers reachable)", n.Name, p.managerBusy, d.ManagersReachable, d.Managers)
				continue
			}
			if n.Role == RoleManager {
				// The dead manager is demoted before the new one joins: adding a
				// voter while a dead one still counts would need the new one up
				// for a majority (3 of 4), and a slow join would lose quorum.
				total, reach := d.Managers-1, d.ManagersReachable
				if reach < quorum.Majority(total) {
					d.event(EventRefused, n.Name, "not demoting %s: %d of %d managers would be reachable, quorum needs %d", n.Name, reach, total, quorum.Majority(total))
					continue
				}
				how = fmt.Sprintf("; demoting %s first (managers %d -> %d, %d reachable)", n.Name, d.Managers, total, reach)
			}
			p.managerBusy = n.Name
		}
		if spare, ok := findSpare(p.obs, n.Hoster, p.usedSpares); ok {
			p.usedSpares[spare.Name] = true
			d.act(Action{Kind: ActivateSpare, Node: n, Target: spare.Name, Attempt: attempts + 1,
				Spec:   p.replacementSpec(n, spare.Name),
				Reason: fmt.Sprintf("%s (%s at %s) down %s, grace %s; warm spare %s at %s takes its place (unhealthy %d of %d, maxUnhealthy %s)%s", n.Name, n.Role, n.Hoster, downFor(now, n), pol.Grace, spare.Name, n.Hoster, len(p.unhealthy), d.Total, pol.MaxUnhealthy, how)})
			continue
		}
		name := nextName(n.Name, p.obs, hist)
		if p.spec.SameName {
			name = n.Name // a new server under the same name
		}
		d.act(Action{Kind: Replace, Node: n, Target: name, Attempt: attempts + 1,
			Spec:   p.replacementSpec(n, name),
			Reason: fmt.Sprintf("%s (%s at %s) down %s, grace %s; replacing it with %s, attempt %d of %d (unhealthy %d of %d, maxUnhealthy %s)%s", n.Name, n.Role, n.Hoster, downFor(now, n), pol.Grace, name, attempts+1, pol.RetryLimit, len(p.unhealthy), d.Total, pol.MaxUnhealthy, how)})
		d.requeueAt(now, now.Add(pol.StartupTimeout))
	}
}

// replacementSpec is replacementSpec with the slot's role (a manager heal
// demoted is replaced by a manager).
func (p *decider) replacementSpec(n NodeInfo, name string) NodeSpec {
	s := replacementSpec(p.spec, n, name)
	s.Role = p.slotRole(n)
	return s
}

// seats restores manager seats: a Ready worker whose slot is a manager (the
// spec says so, or heal demoted it) at a hoster with fewer managers than the
// spec places there is promoted back, one at a time and only when the swarm
// keeps quorum while the new voter joins.
func (p *decider) seats() {
	d := &p.d
	if p.managerBusy != "" {
		return
	}
	for _, a := range d.Actions {
		if a.Node.Role == RoleManager || p.slotRole(a.Node) == RoleManager {
			return // one manager at a time
		}
	}
	want := map[string]int{} // managers the spec places at each hoster
	for _, s := range p.spec.Nodes {
		if s.Role == RoleManager && !s.Spare {
			want[s.Hoster]++
		}
	}
	have := map[string]int{}
	for _, n := range p.obs.Nodes {
		if n.Role == RoleManager {
			have[n.Hoster]++
		}
	}
	for _, n := range p.obs.Nodes {
		if n.Role != RoleWorker || !n.Ready() || n.Availability != "active" || n.Labels[LabelSpare] == "true" || p.replacing[n.Name] != "" {
			continue
		}
		rec := p.hist.Records[n.Name]
		if rec.InFlight() || p.slotRole(n) != RoleManager {
			continue
		}
		_, inSpec := p.spec.Node(n.Name)
		if inSpec && have[n.Hoster] >= want[n.Hoster] {
			continue // the hoster has the spec's managers
		}
		a := Action{Kind: Promote, Node: n, Target: n.Name, Record: rec}
		if p.running(a.Key()) {
			return
		}
		// The new voter counts at once but takes a moment to be reachable:
		// the reachable ones must carry the bigger majority alone.
		if need := quorum.Majority(d.Managers + 1); d.ManagersReachable < need {
			d.event(EventWaiting, n.Name, "not promoting %s back yet: %d of %d managers reachable, %d needed while it joins", n.Name, d.ManagersReachable, d.Managers+1, need)
			return
		}
		a.Reason = fmt.Sprintf("%s is Ready again and its seat is a manager's (hoster %s has %d of %d managers, %d of %d reachable): promoting it back",
			n.Name, n.Hoster, have[n.Hoster], want[n.Hoster], d.ManagersReachable, d.Managers)
		d.act(a)
		return
	}
}

// backfill creates warm spares, only on an otherwise quiet cluster.
func (p *decider) backfill() {
	d, obs, hist := &p.d, p.obs, p.hist
	if len(p.unhealthy) != 0 || len(d.Actions) != 0 || len(p.pol.Spares) == 0 {
		return
	}
	for _, h := range slices.Sorted(maps.Keys(p.pol.Spares)) {
		want := p.pol.Spares[h]
		have := 0
		for _, n := range obs.Nodes {
			if n.Hoster == h && n.Labels[LabelSpare] == "true" && !p.usedSpares[n.Name] && n.State == StateReady {
				have++
			}
		}
		for k := range hist.Running {
			if strings.HasPrefix(k, "spare/"+h+"-spare") {
				have++ // being created right now
			}
		}
		for i := have; i < want; i++ {
			name := spareName(h, obs, hist, i-have)
			a := Action{Kind: CreateSpare, Spec: NodeSpec{Name: name, Role: RoleWorker, Hoster: h, Region: regionAt(obs, p.spec, h), Spare: true}, Target: name,
				Reason: fmt.Sprintf("hoster %s has %d of %d warm spares: creating %s", h, have, want, name)}
			if p.running(a.Key()) {
				continue
			}
			d.act(a)
		}
	}
}

// promoteIfSlow adds PromoteWorker when manager dead's replacement is slow
// and only two managers are reachable.
func promoteIfSlow(now time.Time, pol Policy, d *Decision, obs Snapshot, hist History, dead NodeInfo, r Record) {
	if pol.PromoteWorkerAfter <= 0 || d.ManagersReachable != 2 {
		return
	}
	for _, rec := range hist.Records {
		if rec.PromotedFor == dead.Name {
			return // already did
		}
	}
	if wait := r.Since.Add(pol.PromoteWorkerAfter); now.Before(wait) {
		d.requeueAt(now, wait)
		return
	}
	withManager := map[string]bool{}
	for _, n := range obs.Nodes {
		if n.Role == RoleManager && n.Ready() {
			withManager[n.Hoster] = true
		}
	}
	for _, n := range obs.Nodes {
		if n.Role != RoleWorker || !n.Ready() || n.Availability != "active" || withManager[n.Hoster] || n.Name == r.Replacement || n.Labels[LabelSpare] == "true" {
			continue
		}
		a := Action{Kind: PromoteWorker, Node: dead, Target: n.Name,
			Reason: fmt.Sprintf("replacement %s of manager %s not Ready after %s (promoteWorkerAfter %s) and only %d of %d managers reachable: promoting worker %s at %s, which has no manager",
				r.Replacement, dead.Name, round(now.Sub(r.Since)), pol.PromoteWorkerAfter, d.ManagersReachable, d.Managers, n.Name, n.Hoster)}
		if !hist.Running[a.Key()] {
			d.act(a)
		}
		return
	}
	d.event(EventWaiting, dead.Name, "replacement of %s is slow, but no healthy worker sits at a hoster without a manager", dead.Name)
}

// recorded tells whether n's labels carry an in-flight record.
func recorded(n NodeInfo) bool { return n.Labels[LabelReplacement] != "" }

// readySibling tells whether another entry of n's name is Ready.
func readySibling(obs Snapshot, n NodeInfo) bool {
	for _, o := range obs.Nodes {
		if o.Name == n.Name && o.ID != n.ID && o.Ready() {
			return true
		}
	}
	return false
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func sortedRecords(h History) []Record {
	out := make([]Record, 0, len(h.Records))
	for _, k := range slices.Sorted(maps.Keys(h.Records)) {
		out = append(out, h.Records[k])
	}
	return out
}

// replacementSpec is what replaces dead: its spec entry if it has one,
// else what its labels say.
func replacementSpec(spec Desired, dead NodeInfo, name string) NodeSpec {
	s, ok := spec.Node(dead.Name)
	if !ok {
		s = NodeSpec{Role: dead.Role, Hoster: dead.Hoster, Region: dead.Region, Labels: userLabels(dead.Labels)}
	}
	s.Name = name
	s.Spare = false
	return s
}

// userLabels are the labels shoal set from the inventory (shoal.managed).
func userLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range strings.Split(l[swarm.LabelManaged], ",") {
		if v, ok := l[k]; ok && k != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func findSpare(obs Snapshot, hoster string, used map[string]bool) (NodeInfo, bool) {
	for _, n := range obs.Nodes {
		if n.Hoster == hoster && n.Labels[LabelSpare] == "true" && n.State == StateReady && !used[n.Name] {
			return n, true
		}
	}
	return NodeInfo{}, false
}

var genSuffix = regexp.MustCompile(`^(.*)-r([0-9]+)$`)

// nextName names the replacement of node: w1 -> w1-r1, w1-r1 -> w1-r2, and
// past any generation the swarm or a record already uses.
func nextName(node string, obs Snapshot, hist History) string {
	base, gen := node, 0
	if m := genSuffix.FindStringSubmatch(node); m != nil {
		base = m[1]
		gen, _ = strconv.Atoi(m[2])
	}
	taken := map[string]bool{}
	for _, n := range obs.Nodes {
		taken[n.Name] = true
	}
	for _, r := range hist.Records {
		taken[r.Replacement] = true
	}
	for {
		gen++
		name := fmt.Sprintf("%s-r%d", base, gen)
		if !taken[name] {
			return name
		}
	}
}

// spareName is the (skip+1)-th free spare name at hoster: <hoster>-spare<N>.
func spareName(hoster string, obs Snapshot, hist History, skip int) string {
	taken := map[string]bool{}
	for _, n := range obs.Nodes {
		taken[n.Name] = true
	}
	for k := range hist.Running {
		taken[strings.TrimPrefix(k, "spare/")] = true
	}
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s-spare%d", hoster, i)
		if taken[name] {
			continue
		}
		if skip == 0 {
			return name
		}
		skip--
	}
}

func regionAt(obs Snapshot, spec Desired, hoster string) string {
	for _, n := range spec.Nodes {
		if n.Hoster == hoster && n.Region != "" {
			return n.Region
		}
	}
	for _, n := range obs.Nodes {
		if n.Hoster == hoster && n.Region != "" {
			return n.Region
		}
	}
	return ""
}

func downFor(now time.Time, n NodeInfo) string {
	if n.DownSince.IsZero() {
		return "(since unknown)"
	}
	return "for " + round(now.Sub(n.DownSince))
}

func round(d time.Duration) string {
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
