package replace

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Source is where the cluster's servers come from: it decides whether shoal
// can create and delete them.
type Source string

const (
	// SourceLab is a lab (`shoal lab up`): shoal creates the new VPS
	// container and deletes NAME's.
	SourceLab Source = "lab"
	// SourceInventory is a plain inventory of servers the operator has:
	// the new server already runs at Request.Address, and deleting NAME's
	// server is left to the operator.
	SourceInventory Source = "inventory"
	// SourceStack is a stack of `shoal up`: the Pulumi program creates
	// and joins the new server beside NAME in one run, and deletes NAME's
	// server in another once NAME has left the swarm (infra.Replacement).
	SourceStack Source = "stack"
)

// Request is what the operator asked for.
type Request struct {
	Node   string // NAME, the node to replace (its inventory name, the shoal.node label)
	Source Source
	// Hoster is where the new server runs; "" keeps NAME's hoster.
	Hoster string
	// Address is the new server's address (SourceInventory only, where it
	// is required).
	Address string
	// Type is the new server's type ("" keeps NAME's; SourceStack only:
	// the program creates the server).
	Type string
	// Stack names the stack (SourceStack), for the steps' texts.
	Stack string
	// Successor is the new node's name when it is already known: a
	// replacement of a stack resumed, its successor deployed beside NAME
	// by an earlier run ("" names a new one).
	Successor string
}

// Kind is what a step does.
type Kind string

// Step kinds, in the order a plan runs them.
const (
	// Resume takes over the successor an earlier run joined beside NAME
	// (labs and plain inventories; see Joined): it stands for the create,
	// join and wait-ready steps, which that run finished.
	Resume       Kind = "resume"
	CreateServer Kind = "create server"
	Join         Kind = "join"
	WaitReady    Kind = "wait ready"
	Drain        Kind = "drain"
	WaitMoved    Kind = "wait tasks moved"
	Demote       Kind = "demote"
	Remove       Kind = "remove"
	DeleteServer Kind = "delete server"
)

// Step is one step of a replacement.
type Step struct {
	Kind Kind
	Node string // the node the step acts on: the new one or NAME
	Text string // what the step does, for the operator
}

func (s Step) String() string { return s.Text }

// Destructive tells whether the step takes something away (the kind of
// step an operator confirms first).
func (s Step) Destructive() bool {
	return s.Kind == Drain || s.Kind == Demote || s.Kind == Remove || s.Kind == DeleteServer
}

// Node is a swarm node as the plan sees it.
type Node struct {
	Name    string
	ID      string // swarm node ID; "" for the new node
	Role    string // inventory.RoleManager or inventory.RoleWorker
	Hoster  string
	Region  string
	Address string
	// Type is the server type asked for ("" keeps NAME's).
	Type string
	// Labels are the node labels the operator cares about: every label of
	// the swarm node except shoal's own bookkeeping (shoal.node,
	// shoal.hoster, shoal.region, shoal.managed).
	Labels map[string]string
}

// Plan is a checked replacement: the steps run in order.
type Plan struct {
	Source Source
	Old    Node
	New    Node
	Steps  []Step
	// Notes are what is left to the operator after the last step.
	Notes []string
	// Next is what the operator does when a step fails ("" for the
	// general advice).
	Next string
	// Resumed: New was joined beside Old by an earlier run that stopped
	// after its join (a stack's: deployed by the program), and this plan
	// goes on with it.
	Resumed bool
}

// shoalLabels are the labels shoal keeps for itself on every node; a new
// node gets its own values, never NAME's.
var shoalLabels = []string{swarm.LabelNode, swarm.LabelHoster, swarm.LabelRegion, swarm.LabelManaged}

// Compute plans the replacement of req.Node in the swarm obs (read through
// the inventory inv's managers). It refuses with a *RequestError (bad
// request), an *UnknownNodeError (no such node) or a *RefusedError (quorum
// or the hoster rule would break at some step).
func Compute(inv *inventory.Inventory, obs swarm.Observed, req Request) (Plan, error) {
	if err := req.Validate(); err != nil {
		return Plan{}, err
	}
	old, err := findNode(inv, obs, req.Node)
	if err != nil {
		return Plan{}, err
	}
	name := req.Successor
	var joined *Node // the successor an earlier run of a lab or inventory left joined
	if name == "" && req.Source != SourceStack {
		if joined, err = Joined(inv, obs, old, req); err != nil {
			return Plan{}, err
		}
	}
	if name == "" && joined == nil {
		name = SuccessorName(old.Name, taken(inv, obs))
	}
	nu := Node{
		Name:    name,
		Role:    old.Role,
		Hoster:  req.Hoster,
		Address: req.Address,
		Type:    req.Type,
		Labels:  old.Labels,
	}
	if nu.Hoster == "" || nu.Hoster == old.Hoster {
		nu.Hoster, nu.Region = old.Hoster, old.Region
	}
	if joined != nil {
		nu = *joined
	}
	p := Plan{Source: req.Source, Old: old, New: nu, Resumed: joined != nil || req.Successor != ""}
	p.Steps = steps(req, old, nu)
	if joined != nil {
		p.Steps = resumeSteps(p.Steps, old, nu)
	}
	switch req.Source {
	case SourceInventory:
		p.Notes = []string{
			fmt.Sprintf("in the inventory, replace %s (%s) with %s at %s", old.Name, old.Address, nu.Name, nu.Address),
			fmt.Sprintf("delete the server of %s (%s) at %s", old.Name, old.Address, old.Hoster),
		}
	}
	if req.Source == SourceStack {
		p.Next = resumeHint(req, old.Name, nu.Name)
	} else {
		p.Next = fmt.Sprintf("look at `shoal status`; once the cause is fixed, run the same `shoal node replace %s` again: once %s has joined, it resumes with it from the drain (or undo the steps by hand)", old.Name, nu.Name)
	}
	before := layoutOf(inv, obs)
	// A resumed successor may be in the swarm already: the steps are
	// checked from the layout it joins (or, taken over, enters Ready),
	// which it leaves no weaker.
	delete(before, nu.Name)
	if err := check(before, p); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// Finish is what is left of a stack's replacement of name by successor
// once name has left the swarm (a run that stopped after the remove step):
// the program's run that puts successor in name's place and deletes name's
// server. It is checked by the program (infra.Spec.Place), which holds the
// layout it ends in to the manager rules.
func Finish(req Request, successor string) Plan {
	old, nu := Node{Name: req.Node}, Node{Name: successor}
	return Plan{Source: SourceStack, Old: old, New: nu, Next: resumeHint(req, old.Name, nu.Name), Steps: []Step{{
		Kind: DeleteServer, Node: old.Name,
		Text: fmt.Sprintf("delete the server of %s (pulumi up of stack %s: %s in its place; %s has left the swarm already)", old.Name, req.Stack, nu.Name, old.Name),
	}}}
}

func resumeHint(req Request, old, nu string) string {
	return fmt.Sprintf("run `shoal node replace %s --stack %s` again (with the same --dir and --backend): it resumes the replacement by %s where it stopped", old, req.Stack, nu)
}

// Validate checks the request alone, before the cluster is read: a
// *RequestError naming the flag.
func (r Request) Validate() error {
	switch {
	case r.Node == "":
		return &RequestError{Field: "NAME", Msg: "name the node to replace"}
	case r.Type != "" && r.Source != SourceStack:
		return &RequestError{Field: "--type", Msg: "is for `shoal up` stacks, whose program creates the server (a lab VPS has one image; on a plain inventory the new server is yours)"}
	case r.Source == SourceInventory && r.Address == "":
		return &RequestError{Field: "--address", Msg: "is required for a cluster from a plain inventory: shoal cannot create servers there; start the new server and pass its address"}
	case r.Source == SourceLab && r.Address != "":
		return &RequestError{Field: "--address", Msg: "is not used for a lab: the lab gives the new VPS its address"}
	case r.Source == SourceStack && r.Address != "":
		return &RequestError{Field: "--address", Msg: "is not used for a `shoal up` stack: the Pulumi program creates the new server"}
	case r.Source != SourceLab && r.Source != SourceInventory && r.Source != SourceStack:
		return &RequestError{Field: "source", Msg: fmt.Sprintf("unknown source %q", r.Source)}
	}
	return nil
}

// steps are the ordered steps: the new node is in and Ready before NAME
// starts to leave.
func steps(req Request, old, nu Node) []Step {
	src := req.Source
	var out []Step
	add := func(k Kind, node, format string, args ...any) {
		out = append(out, Step{Kind: k, Node: node, Text: fmt.Sprintf(format, args...)})
	}
	where := nu.Hoster
	if nu.Region != "" {
		where += "/" + nu.Region
	}
	switch src {
	case SourceLab:
		add(CreateServer, nu.Name, "create server %s at %s (lab)", nu.Name, where)
	case SourceInventory:
		where += " " + nu.Address
	}
	labels := "no labels"
	if len(nu.Labels) > 0 {
		labels = "labels " + formatLabels(nu.Labels)
	}
	if src == SourceStack {
		// One run of the program creates the server and joins it: the
		// swarm resource joins every node the program lists.
		typ := ""
		if nu.Type != "" {
			typ = " type " + nu.Type
		}
		promote := ""
		if nu.Role == inventory.RoleManager {
			// The swarm resource holds its nodes to the manager rules as
			// one layout: one manager more is an even count.
			promote = "; it joins as a worker and is promoted"
		}
		if req.Successor != "" {
			// Resumed: the earlier run's up made the server; this up
			// makes sure it is there and joined, and otherwise changes
			// nothing.
			add(Join, nu.Name, "make sure server %s at %s%s, deployed beside %s by an earlier run, is there and joined as %s with %s (pulumi up of stack %s: no change when it is%s)",
				nu.Name, where, typ, old.Name, nu.Role, labels, req.Stack, promote)
		} else {
			add(Join, nu.Name, "create server %s at %s%s and join it as %s with %s (pulumi up of stack %s: %s listed beside %s, which keeps its server%s)",
				nu.Name, where, typ, nu.Role, labels, req.Stack, nu.Name, old.Name, promote)
		}
	} else {
		add(Join, nu.Name, "join %s (%s) as %s with %s", nu.Name, where, nu.Role, labels)
	}
	add(WaitReady, nu.Name, "wait until %s is Ready", nu.Name)
	add(Drain, old.Name, "drain %s", old.Name)
	add(WaitMoved, old.Name, "wait until the tasks of %s run elsewhere", old.Name)
	if old.Role == inventory.RoleManager {
		add(Demote, old.Name, "demote %s", old.Name)
	}
	add(Remove, old.Name, "remove %s from the swarm", old.Name)
	switch src {
	case SourceLab:
		add(DeleteServer, old.Name, "delete the server of %s (lab)", old.Name)
	case SourceStack:
		add(DeleteServer, old.Name, "delete the server of %s (pulumi up of stack %s: %s in its place)", old.Name, req.Stack, nu.Name)
	}
	return out
}

// findNode is NAME as the swarm knows it, its hoster and region from its
// labels, else from the inventory.
func findNode(inv *inventory.Inventory, obs swarm.Observed, name string) (Node, error) {
	for _, m := range obs.Members {
		if memberName(m) != name {
			continue
		}
		return memberNode(inv, m), nil
	}
	e := &UnknownNodeError{Name: name}
	var known []string
	for _, m := range obs.Members {
		known = append(known, memberName(m))
	}
	sort.Strings(known)
	e.Known = known
	if _, ok := inv.Node(name); ok {
		e.InInventory = true
	}
	return Node{}, e
}

func memberName(m swarm.Member) string {
	if n := m.Labels[swarm.LabelNode]; n != "" {
		return n
	}
	return m.Hostname
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func taken(inv *inventory.Inventory, obs swarm.Observed) map[string]bool {
	t := map[string]bool{}
	for _, m := range obs.Members {
		t[memberName(m)] = true
		t[m.Hostname] = true
	}
	if inv != nil {
		for _, n := range inv.Nodes {
			t[n.Name] = true
		}
	}
	return t
}

var replacedSuffix = regexp.MustCompile(`-r[0-9]+$`)

// SuccessorName names NAME's successor: NAME-r1, or the next free -rN (w1-r1
// is followed by w1-r2, not w1-r1-r1).
func SuccessorName(old string, taken map[string]bool) string {
	base := replacedSuffix.ReplaceAllString(old, "")
	for i := 1; ; i++ {
		if n := base + "-r" + strconv.Itoa(i); !taken[n] {
			return n
		}
	}
}

func formatLabels(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}
