package replace

import (
	"fmt"
	"strings"

	"github.com/shoalops/shoal/suggest"
)

// RequestError is a bad request (the CLI exits 2): Field names the flag or
// argument.
type RequestError struct {
	Field, Msg string
}

func (e *RequestError) Error() string { return fmt.Sprintf("node replace: %s %s", e.Field, e.Msg) }

// UnknownNodeError: the swarm has no node of that name (the CLI exits 2).
type UnknownNodeError struct {
	Name string
	// Known are the swarm's node names, sorted.
	Known []string
	// InInventory: the inventory lists the name, but the swarm has no such
	// node (it never joined, or was removed).
	InInventory bool
}

func (e *UnknownNodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node replace: the swarm has no node %s", e.Name)
	switch {
	case e.InInventory:
		b.WriteString(" (the inventory lists it, but it is not in the swarm: `shoal bootstrap` joins it)")
	default:
		if near := suggest.Nearest(e.Name, e.Known); near != "" {
			fmt.Fprintf(&b, ": did you mean %s?", near)
		}
	}
	if len(e.Known) > 0 {
		fmt.Fprintf(&b, " (nodes: %s)", strings.Join(e.Known, ", "))
	}
	return b.String()
}

// RefusedError: a step of the replacement would break a rule (the CLI
// exits 3). Nothing was changed.
type RefusedError struct {
	Node   string // NAME
	Step   int    // 1-based; 0: before the first step (the swarm as it is)
	Steps  int    // how many steps the plan has
	Action string // the step's text
	Rule   string // RuleQuorum, RuleFewer or RuleHoster
	Detail string // the numbers, and what to do
}

func (e *RefusedError) Error() string {
	where := "before the first step"
	if e.Step > 0 {
		where = fmt.Sprintf("step %d/%d %q", e.Step, e.Steps, e.Action)
	}
	return fmt.Sprintf("node replace: refusing to replace %s: %s breaks the %s rule: %s; nothing was changed", e.Node, where, e.Rule, e.Detail)
}
