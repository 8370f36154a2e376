package replace

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Joined finds the successor that an earlier run of the replacement of old
// (a lab's or a plain inventory's) joined beside it and left there: a run
// that stopped after its join step, say because the tasks of old could not
// move (ADR 0037). It returns nil when there is none, the successor as the
// plan's new node when it can be taken over, and a *ResumeError when it
// cannot. Pure.
//
// The rule. A candidate is a swarm member, other than old, named as
// SuccessorName names old's successors: old's name without its -rN
// suffix, then -rK (for w2 and for w2-r1 alike: w2-r1, w2-r2, ...; never
// w2 itself). A candidate the inventory lists beside old
// (both entries) is a node of its own: a stopped run leaves exactly one
// of the two listed (a lab's inventory has the successor in old's place
// from the join on; a plain inventory's file is not written, so it lists
// old only). Old itself must still be in the swarm (the caller found it).
// Then:
//   - no candidate: nothing to resume;
//   - more than one: refused (which one is the successor is not clear);
//   - one, with old's role, Ready, active and, as a manager, reachable,
//     at the --hoster asked for if any: taken over;
//   - one that is not: refused, naming what is wrong and what to do.
func Joined(inv *inventory.Inventory, obs swarm.Observed, old Node, req Request) (*Node, error) {
	_, oldListed := inv.Node(old.Name)
	var cands []swarm.Member
	for _, m := range obs.Members {
		name := memberName(m)
		if name == old.Name || !IsSuccessorName(old.Name, name) {
			continue
		}
		if _, listed := inv.Node(name); listed && oldListed {
			continue
		}
		cands = append(cands, m)
	}
	if len(cands) == 0 {
		return nil, nil
	}
	refuse := func(succ, why, next string) error {
		return &ResumeError{Node: old.Name, Successor: succ, Why: why, Next: next}
	}
	if len(cands) > 1 {
		var names []string
		for _, m := range cands {
			names = append(names, memberName(m))
		}
		slices.Sort(names)
		return nil, refuse(strings.Join(names, ", "), "several successors were joined beside it by earlier runs",
			fmt.Sprintf("keep one: take the others out of the swarm (demote a manager first, then `docker node rm --force NAME` on a manager) and delete their servers, then run `shoal node replace %s` again", old.Name))
	}
	m := cands[0]
	n := memberNode(inv, m)
	out := fmt.Sprintf("take %s out of the swarm (demote it first if it is a manager, then `docker node rm --force %s` on a manager) and delete its server, then run `shoal node replace %s` again for a new successor", n.Name, n.Name, old.Name)
	switch {
	case m.Role != old.Role:
		return nil, refuse(n.Name, fmt.Sprintf("it is a %s, %s is a %s", m.Role, old.Name, old.Role),
			fmt.Sprintf("give it %s's role (`docker node %s %s` on a manager, if the managers allow it) and run the command again, or %s",
				old.Name, map[string]string{inventory.RoleManager: "promote", inventory.RoleWorker: "demote"}[old.Role], n.Name, out))
	case m.State != "ready":
		return nil, refuse(n.Name, fmt.Sprintf("it is not Ready (state %s)", cmpOr(m.State, "unknown")),
			fmt.Sprintf("bring it back (see `shoal status`; a lab VPS: `docker start` its container) and run the command again, or %s", out))
	case m.Role == inventory.RoleManager && !m.Reachable():
		return nil, refuse(n.Name, fmt.Sprintf("it is a manager raft does not reach (%s)", cmpOr(m.Reachability, "unknown")),
			fmt.Sprintf("bring it back (see `shoal status`) and run the command again, or %s", out))
	case m.Availability != "" && m.Availability != "active":
		return nil, refuse(n.Name, fmt.Sprintf("its availability is %s: it would take none of %s's tasks", m.Availability, old.Name),
			fmt.Sprintf("`docker node update --availability active %s` on a manager and run the command again, or %s", n.Name, out))
	case req.Hoster != "" && req.Hoster != n.Hoster:
		return nil, refuse(n.Name, fmt.Sprintf("it runs at hoster %s, not at --hoster %s", n.Hoster, req.Hoster),
			fmt.Sprintf("drop --hoster to go on with it, or %s", out))
	}
	n.Role = old.Role
	if req.Source == SourceInventory {
		// The operator's address of the new server (the swarm's may be
		// a private one): what the inventory entry is to hold.
		n.Address = req.Address
	}
	return &n, nil
}

// IsSuccessorName tells whether name is one SuccessorName gives to the
// successors of old: old's name without its -rN suffix, then -rK. Pure.
func IsSuccessorName(old, name string) bool {
	base := replacedSuffix.ReplaceAllString(old, "")
	rest, ok := strings.CutPrefix(name, base)
	return ok && wholeSuffix.MatchString(rest)
}

var wholeSuffix = regexp.MustCompile(`^-r[0-9]+$`)

// memberNode is swarm member m as the plan's node: hoster and region from
// its labels, else from the inventory; its address from the inventory,
// else the swarm's; its operator labels.
func memberNode(inv *inventory.Inventory, m swarm.Member) Node {
	name := memberName(m)
	n := Node{Name: name, ID: m.ID, Role: m.Role, Hoster: m.Labels[swarm.LabelHoster], Region: m.Labels[swarm.LabelRegion], Address: m.Addr, Labels: map[string]string{}}
	if in, ok := inv.Node(name); ok {
		n.Hoster = cmpOr(n.Hoster, in.Hoster)
		n.Region = cmpOr(n.Region, in.Region)
		n.Address = in.Address
	}
	for k, v := range m.Labels {
		if !slices.Contains(shoalLabels, k) {
			n.Labels[k] = v
		}
	}
	return n
}

// resumeSteps are the steps of a plan that takes over nu, joined beside
// old by an earlier run: one resume step in the place of the steps that
// run finished (create, join, wait ready), then the rest from the drain
// (draining a node drained already changes nothing).
func resumeSteps(full []Step, old, nu Node) []Step {
	where := nu.Hoster
	if nu.Region != "" {
		where += "/" + nu.Region
	}
	out := []Step{{Kind: Resume, Node: nu.Name, Text: fmt.Sprintf("resume with %s (%s at %s, Ready, joined beside %s by an earlier run): no new server, no join; check it is still Ready", nu.Name, nu.Role, where, old.Name)}}
	for _, s := range full {
		if s.Kind != CreateServer && s.Kind != Join && s.Kind != WaitReady {
			out = append(out, s)
		}
	}
	return out
}

// ResumeError: a successor joined beside NAME by an earlier run is in the
// swarm but cannot be taken over (the CLI exits 3). Nothing was changed.
type ResumeError struct {
	Node      string // NAME
	Successor string // the successor(s) found
	Why       string
	Next      string // what to do
}

func (e *ResumeError) Error() string {
	return fmt.Sprintf("node replace: refusing to resume the replacement of %s by %s, which an earlier run joined beside it: %s; %s (nothing was changed)", e.Node, e.Successor, e.Why, e.Next)
}
