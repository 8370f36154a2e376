package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/infra/node"
)

// Successor is a node that serves a pool's place ("<pool>-<n>", its slot)
// instead of the node the pool names there: `shoal node replace` on a
// stack made it (ADR 0034). Successors are state, not config: the program
// exports them with the `nodes` output and the next run keeps them
// (Options.Successors), as it keeps deployed generations; the user's stack
// file is never written.
type Successor struct {
	// Slot is the pool's name for the place: "<pool>-<n>".
	Slot string `json:"slot"`
	// Name is the node serving it: "<slot>-r<N>".
	Name string `json:"name"`
	// Hoster is where it runs, "" for the pool's hoster. On another
	// hoster, provider, location, image and (without Type) the server
	// type come from the first pool there, preferring one of the same
	// role.
	Hoster string `json:"hoster,omitempty"`
	// Type is its server type (the lab variant for local pools), "" for
	// the pool's.
	Type string `json:"type,omitempty"`
	// Joining: the node it succeeds still runs beside it (a replacement
	// between its two runs).
	Joining bool `json:"joining,omitempty"`
}

// Replacement is one run of `shoal node replace` on a stack (the program's
// Options.Replace): the first run (Done false) creates Successor beside
// Node, which keeps its server; the last (Done true) puts Successor in
// Node's place, so Node's server is deleted and Node leaves the swarm
// resource.
type Replacement struct {
	// Node is the node replaced, by its name now (a slot, or an earlier
	// successor).
	Node string
	// Successor is the new node's name (replace.SuccessorName).
	Successor string
	// Hoster and Type override Node's ("" keeps them).
	Hoster, Type string
	Done         bool
}

// Unfinished are the replacements the last run left between their two
// runs (a successor joining), by the name of the node each replaces. Pure.
func Unfinished(deployed []Successor) map[string]Successor {
	current := map[string]string{}
	for _, d := range deployed {
		if !d.Joining {
			current[d.Slot] = d.Name
		}
	}
	out := map[string]Successor{}
	for _, d := range deployed {
		if d.Joining {
			pred := current[d.Slot]
			if pred == "" {
				pred = d.Slot
			}
			out[pred] = d
		}
	}
	return out
}

// placed is one node of a run with the successor record it carries (nil
// for a node in its pool's place as the pool says).
type placed struct {
	spec node.Spec
	succ *Successor
}

// Place lays the successors of the last run and this run's replacement r
// (nil: none) over the spec's nodes, in config order with a joining
// successor right after the node it succeeds. It is pure. It refuses a
// replacement of a node the stack does not have, a successor name already
// taken, a hoster without a pool, and a layout that breaks the manager
// rules once the replacement is done (inventory.CheckManagers; while a
// successor joins, its predecessor is not counted: `shoal node replace`
// checks every step of the swap against the swarm itself before the first
// run).
func (s Spec) Place(deployed []Successor, r *Replacement) ([]node.Spec, error) {
	nodes, err := s.place(deployed, r)
	if err != nil {
		return nil, err
	}
	out := make([]node.Spec, len(nodes))
	for i, p := range nodes {
		out[i] = p.spec
	}
	return out, nil
}

func (s Spec) place(deployed []Successor, r *Replacement) ([]placed, error) {
	base := s.Nodes()
	slots := map[string]int{}
	for i, n := range base {
		slots[n.Name] = i
	}
	current := make([]*Successor, len(base)) // the successor serving each slot
	joining := make([]*Successor, len(base)) // one joining beside it
	for _, d := range deployed {
		i, ok := slots[d.Slot]
		if !ok {
			continue // the pool shrank: the slot and its successor are gone
		}
		d := d
		if d.Joining {
			joining[i] = &d
		} else {
			current[i] = &d
		}
	}
	if r != nil {
		if err := s.apply(base, current, joining, *r); err != nil {
			return nil, err
		}
	}
	var out []placed
	for i, n := range base {
		if c := current[i]; c != nil {
			sn, err := s.successorSpec(n, *c)
			if err != nil {
				return nil, err
			}
			out = append(out, placed{spec: sn, succ: c})
		} else {
			out = append(out, placed{spec: n})
		}
		if j := joining[i]; j != nil {
			sn, err := s.successorSpec(n, *j)
			if err != nil {
				return nil, err
			}
			out = append(out, placed{spec: sn, succ: j})
		}
	}
	return out, s.checkPlaced(out)
}

// apply records replacement r in current and joining.
func (s Spec) apply(base []node.Spec, current, joining []*Successor, r Replacement) error {
	slot := -1
	var names []string
	for i, n := range base {
		name := n.Name
		if current[i] != nil {
			name = current[i].Name
		}
		names = append(names, name)
		if name == r.Node {
			slot = i
		}
		if j := joining[i]; j != nil {
			names = append(names, j.Name)
		}
	}
	if slot < 0 {
		return fmt.Errorf("replace %s: no such node in the stack (nodes: %s)", r.Node, strings.Join(names, ", "))
	}
	for _, pin := range []struct {
		key string
		st  ShippedStack
	}{{"portainer", s.Platform.Stacks.Portainer}, {"registry", s.Platform.Stacks.Registry}} {
		if pin.st.Enabled && pin.st.Node == base[slot].Name {
			return fmt.Errorf("replace %s: it keeps the data of the %s stack (%s.%s.node is %s, a volume on its server), which a replacement would lose; "+
				"moving that data is not built: pin the stack to another node first, or replace the server under its name (raise %s.%s)",
				r.Node, pin.key, key(KeyStacks), pin.key, base[slot].Name, key(KeyGenerations), r.Node)
		}
	}
	if j := joining[slot]; j != nil && j.Name != r.Successor {
		return fmt.Errorf("replace %s: %s is already joining in its place (an unfinished replacement): finish that one first", r.Node, j.Name)
	}
	if r.Successor == "" || (slices.Contains(names, r.Successor) && (joining[slot] == nil || joining[slot].Name != r.Successor)) {
		return fmt.Errorf("replace %s: successor name %q is empty or taken (nodes: %s)", r.Node, r.Successor, strings.Join(names, ", "))
	}
	// The successor keeps what NAME had, but for what the operator changes;
	// one already joining keeps what it was created with.
	next := Successor{Slot: base[slot].Name, Name: r.Successor}
	if c := current[slot]; c != nil {
		next.Hoster, next.Type = c.Hoster, c.Type
	}
	if j := joining[slot]; j != nil {
		next = *j
	}
	next.Joining = !r.Done
	if r.Hoster != "" {
		next.Hoster = r.Hoster
		if r.Hoster == base[slot].Hoster {
			next.Hoster = "" // back at the pool's hoster: it follows the pool again
		}
		if r.Type == "" && r.Hoster != s.hosterOf(base[slot], current[slot]) {
			next.Type = "" // another hoster: its pool's type
		}
	}
	if r.Type != "" {
		next.Type = r.Type
	}
	if r.Done {
		current[slot], joining[slot] = &next, nil
	} else {
		joining[slot] = &next
	}
	return nil
}

// hosterOf is where the node of slot n runs now.
func (s Spec) hosterOf(n node.Spec, c *Successor) string {
	if c != nil && c.Hoster != "" {
		return c.Hoster
	}
	return n.Hoster
}

// successorSpec is the node spec of successor c of slot n: n's pool place,
// role and labels under c's name, at c's hoster with c's type.
func (s Spec) successorSpec(n node.Spec, c Successor) (node.Spec, error) {
	sn := n
	sn.Name = c.Name
	sn.Generation = s.Generations[c.Name]
	if c.Hoster != "" && c.Hoster != n.Hoster {
		pl, ok := s.poolAt(c.Hoster, n.Role)
		if !ok {
			return node.Spec{}, fmt.Errorf("successor %s of %s: hoster %s has no pool in %s (hosters: %s)", c.Name, c.Slot, c.Hoster, key(KeyPools), strings.Join(s.hosterNames(), ", "))
		}
		if pl.Provider == node.ProviderExisting {
			return node.Spec{}, fmt.Errorf("successor %s of %s: hoster %s is an existing pool, where shoal creates no servers", c.Name, c.Slot, c.Hoster)
		}
		sn.Hoster, sn.Provider, sn.Pool, sn.Location, sn.Image, sn.Type = pl.Hoster, pl.Provider, pl.Name, pl.Location, pl.Image, pl.Type
	}
	if sn.Provider == node.ProviderExisting {
		return node.Spec{}, fmt.Errorf("successor %s of %s: %s is an existing host; shoal creates no servers there (replace it with `shoal node replace --address` on a plain inventory)", c.Name, c.Slot, c.Slot)
	}
	if c.Type != "" {
		sn.Type = c.Type
	}
	return sn, nil
}

// poolAt is the first pool at hoster h, one of role if there is one.
func (s Spec) poolAt(h, role string) (Pool, bool) {
	var first *Pool
	for i, pl := range s.Pools {
		if pl.Hoster != h {
			continue
		}
		if pl.Role == role {
			return pl, true
		}
		if first == nil {
			first = &s.Pools[i]
		}
	}
	if first == nil {
		return Pool{}, false
	}
	return *first, true
}

func (s Spec) hosterNames() []string {
	var out []string
	for _, h := range s.Hosters() {
		out = append(out, h.Name)
	}
	return out
}

// checkPlaced holds the placed managers, once every joining successor has
// taken its predecessor's place, to the rules every layout keeps.
func (s Spec) checkPlaced(nodes []placed) error {
	layout := inventory.ManagerLayout{AllowSingleHosterQuorum: s.Swarm.AllowSingleHosterQuorum, AllowKey: allowSingleKey}
	for i, p := range nodes {
		if p.spec.Role != node.RoleManager {
			continue
		}
		if i+1 < len(nodes) && nodes[i+1].succ != nil && nodes[i+1].succ.Joining {
			continue // it leaves for the successor after it
		}
		layout.Hosters = append(layout.Hosters, p.spec.Hoster)
	}
	_, problems := inventory.CheckManagers(layout)
	var msgs []string
	for _, pr := range problems {
		msgs = append(msgs, pr.Msg)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("the managers with their successors in place: %s", strings.Join(msgs, "; "))
	}
	return nil
}
