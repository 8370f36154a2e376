package replace

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/quorum"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// The rules a replacement keeps at every step (RefusedError.Rule).
const (
	// RuleQuorum: the reachable managers stay a majority of all managers.
	// A manager that is joining counts in the total from its join step but
	// as reachable only once it is Ready.
	RuleQuorum = "quorum"
	// RuleFewer: never fewer reachable managers than before the
	// replacement, and as many managers after it as before.
	RuleFewer = "no fewer managers"
	// RuleHoster: no hoster holds a majority of the managers (unless it
	// already did before the replacement).
	RuleHoster = "hoster"
)

// manager is one manager of a layout.
type manager struct {
	hoster    string
	reachable bool
}

// layout is the managers by node name.
type layout map[string]manager

func layoutOf(inv *inventory.Inventory, obs swarm.Observed) layout {
	l := layout{}
	for _, m := range obs.Members {
		if m.Role != inventory.RoleManager {
			continue
		}
		name := memberName(m)
		h := m.Labels[swarm.LabelHoster]
		if in, ok := inv.Node(name); ok && h == "" {
			h = in.Hoster
		}
		l[name] = manager{hoster: h, reachable: m.Reachable()}
	}
	return l
}

func (l layout) counts() (total, reachable int, byHoster map[string]int) {
	byHoster = map[string]int{}
	for _, m := range l {
		total++
		if m.reachable {
			reachable++
		}
		byHoster[m.hoster]++
	}
	return total, reachable, byHoster
}

// apply is the layout after step s of plan p.
func (l layout) apply(p Plan, s Step) layout {
	next := maps.Clone(l)
	switch s.Kind {
	case Join:
		if p.New.Role == inventory.RoleManager {
			next[p.New.Name] = manager{hoster: p.New.Hoster}
		}
	case Resume:
		// The successor is in the swarm and Ready (Joined's rule).
		if p.New.Role == inventory.RoleManager {
			next[p.New.Name] = manager{hoster: p.New.Hoster, reachable: true}
		}
	case WaitReady:
		if m, ok := next[s.Node]; ok {
			m.reachable = true
			next[s.Node] = m
		}
	case Demote, Remove:
		delete(next, s.Node)
	}
	return next
}

// check walks the managers through every step of p from before and
// refuses at the first step that breaks a rule.
func check(before layout, p Plan) error {
	total0, reach0, byHoster0 := before.counts()
	refuse := func(step int, rule, format string, args ...any) error {
		e := &RefusedError{Node: p.Old.Name, Step: step, Steps: len(p.Steps), Rule: rule, Detail: fmt.Sprintf(format, args...)}
		if step > 0 {
			e.Action = p.Steps[step-1].Text
		}
		return e
	}
	if reach0 < quorum.Majority(total0) {
		return refuse(0, RuleQuorum, "%d of %d managers are reachable, quorum needs %d; the swarm cannot change until they are back (see `shoal status`)",
			reach0, total0, quorum.Majority(total0))
	}
	held0 := map[string]bool{}
	for h, n := range byHoster0 {
		held0[h] = n >= quorum.Majority(total0)
	}
	cur := before
	for i, s := range p.Steps {
		cur = cur.apply(p, s)
		total, reach, byHoster := cur.counts()
		if reach < quorum.Majority(total) {
			return refuse(i+1, RuleQuorum, "%d of %d managers would be reachable, quorum needs %d%s",
				reach, total, quorum.Majority(total), unreachableHint(before))
		}
		if reach < reach0 {
			return refuse(i+1, RuleFewer, "%d managers would be reachable, fewer than the %d before", reach, reach0)
		}
		for _, h := range slices.Sorted(maps.Keys(byHoster)) {
			if n := byHoster[h]; n >= quorum.Majority(total) && total > 1 && !held0[h] {
				return refuse(i+1, RuleHoster, "hoster %s would hold %d of %d managers, a majority: its outage alone would lose quorum; pick another --hoster",
					h, n, total)
			}
		}
	}
	if total, _, _ := cur.counts(); total != total0 {
		return refuse(len(p.Steps), RuleFewer, "%d managers after the replacement, %d before", total, total0)
	}
	return nil
}

// unreachableHint names the managers that are unreachable now, if any.
func unreachableHint(l layout) string {
	var down []string
	for _, name := range slices.Sorted(maps.Keys(l)) {
		if !l[name].reachable {
			down = append(down, name)
		}
	}
	if len(down) == 0 {
		return ""
	}
	return fmt.Sprintf("; unreachable now: %s (bring it back first, see `shoal status`)", strings.Join(down, ", "))
}
