package swarm

import (
	"fmt"
	"strings"

	"github.com/shoalops/shoal/bootstrap/quorum"
)

// Answer is what one inventory manager said when asked for the swarm. A
// manager on the minority side of a partition answers "The swarm does not
// have a leader", or, if it led the swarm until the partition, a node list
// in which most managers are unreachable: neither answer counts, and the
// next manager is asked.
type Answer struct {
	Node string `json:"node"`
	// Listed tells whether the swarm's node list came back.
	Listed bool `json:"listed"`
	// Quorum tells whether the answer counts: the node list names a leader
	// and a reachable majority of managers.
	Quorum bool `json:"quorum"`
	// Said is the answer in one line: "leader m3, 2 of 3 managers
	// reachable", or why it does not count.
	Said string `json:"answer"`
}

func (a Answer) String() string { return a.Node + ": " + a.Said }

// Judge decides whether a manager's answer counts: err is the error of the
// node list (or swarm inspect) read through it, members the list it
// returned.
func Judge(node string, members []Member, err error) Answer {
	if err != nil {
		return Answer{Node: node, Said: oneLine(err.Error())}
	}
	a := Answer{Node: node, Listed: true}
	total, reachable, leader := 0, 0, ""
	for _, m := range members {
		if m.Role != "manager" {
			continue
		}
		total++
		if m.Reachable() {
			reachable++
		}
		if m.Leader {
			leader = m.Labels[LabelNode]
			if leader == "" {
				leader = m.Hostname
			}
		}
	}
	counts := fmt.Sprintf("%d of %d managers reachable", reachable, total)
	switch {
	case leader == "":
		a.Said = "no leader in its node list, " + counts
	case reachable < quorum.Majority(total):
		a.Said = fmt.Sprintf("leader %s, but only %s (%d needed): it is cut off from the others", leader, counts, quorum.Majority(total))
	default:
		a.Quorum = true
		a.Said = fmt.Sprintf("leader %s, %s", leader, counts)
	}
	return a
}

// NotAsked is the answer of an inventory manager that was not asked for the
// swarm: unreachable, or its daemon does not run a swarm manager.
func NotAsked(node string, h HostState) Answer {
	switch {
	case !h.Reachable:
		why := "unreachable"
		if h.Err != "" {
			why += ": " + oneLine(h.Err)
		}
		return Answer{Node: node, Said: why}
	case h.Local == LocalActive:
		return Answer{Node: node, Said: "its daemon runs a swarm worker, not a manager"}
	default:
		state := h.Local
		if state == "" {
			state = "unknown"
		}
		s := "not a swarm manager (swarm state " + state + ")"
		if h.Err != "" {
			s += ": " + oneLine(h.Err)
		}
		return Answer{Node: node, Said: s}
	}
}

// Choose picks the answer to use: the first (in the order asked) that
// counts; else the first that at least listed the nodes (its view shows
// quorum lost); else none (-1).
func Choose(answers []Answer) int {
	for i, a := range answers {
		if a.Quorum {
			return i
		}
	}
	for i, a := range answers {
		if a.Listed {
			return i
		}
	}
	return -1
}

// NoQuorumError says that no inventory manager answered with a leader and a
// reachable majority of managers, naming what each one answered.
type NoQuorumError struct {
	Cluster string
	Asked   []Answer
}

func (e *NoQuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no manager of cluster %s answers with a leader and a majority of managers reachable:", e.Cluster)
	for _, a := range e.Asked {
		b.WriteString("\n  " + a.String())
	}
	if len(e.Asked) == 0 {
		b.WriteString("\n  the inventory lists no manager")
	}
	b.WriteString("\nnothing was changed; bring the managers back (or lift the partition), or recover the swarm with `docker swarm init --force-new-cluster` on a surviving manager")
	return b.String()
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
