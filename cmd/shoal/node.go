package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/replace"
	"github.com/shoalops/shoal/replace/labexec"
	"github.com/shoalops/shoal/replace/stackexec"
	"github.com/shoalops/shoal/replace/swarmexec"
)

func newNodeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Day-2 work on one node of the swarm (planned replacement)",
	}
	cmd.AddCommand(newNodeReplaceCmd(a))
	return cmd
}

type nodeReplaceFlags struct {
	hoster, address string
	typ             string
	stack           stackFlags
	dryRun, yes     bool
	writeInventory  bool
	stuckAfter      time.Duration
}

func newNodeReplaceCmd(a *app) *cobra.Command {
	var fl nodeReplaceFlags
	cmd := &cobra.Command{
		Use:   "replace NAME",
		Short: "Replace a node by a new server with its role and labels, keeping quorum",
		Long: `replace swaps node NAME for a new server (a new OS image, a bigger plan, another
hoster) without losing manager quorum. The new node is named NAME-r1 (or the
next free -rN), gets NAME's role and labels, and joins first; only once it is
Ready is NAME drained, its tasks seen running elsewhere, NAME demoted (if a
manager) and removed, and its server deleted:

  1. create the new server (labs and stacks)
  2. join it with NAME's role and labels
  3. wait until it is Ready
  4. drain NAME
  5. wait until NAME's tasks run elsewhere (a service that stays short of
     tasks for --stuck-after because the swarm finds no other node for it,
     or its tasks keep failing, stops the replacement here, named with the
     swarm's reason; NAME stays drained)
  6. demote NAME (managers only)
  7. remove NAME from the swarm
  8. delete NAME's server (labs and stacks)

A run that stops after the join (say at step 5) leaves the successor
joined beside NAME. Fix the cause and run the same command again: it resumes
with that successor instead of creating another. On a lab or a plain
inventory, a swarm member named as shoal names successors (NAME-rK, K any
number; for w1-r1: w1-rK) other than NAME, with NAME's role, Ready, active (and reachable, as a manager), and not listed in
the inventory beside NAME, is taken over: steps 1 to 3 become one "resume
with NAME-rK" step, and the plan goes on from the drain (the plan and
--dry-run say so). One that is not Ready, has another role or availability,
runs at another --hoster than asked, or more than one of them, is refused
(exit 3) with what to do; nothing is changed. On a plain inventory pass the
same --address again.

Before anything changes, every step is checked: the reachable managers stay a
majority (a joining manager counts as reachable only once Ready), there are
never fewer reachable managers than before, and no hoster comes to hold a
majority of the managers. A step that would break a rule is named and nothing
is done (exit 3). An unknown NAME exits 2 and names the nearest node.

Where the new server comes from:
  - a lab (` + "`shoal lab up`" + `): shoal creates it at --hoster (default NAME's),
    gives it the service images NAME's engine holds (a lab VPS cannot pull)
    and deletes NAME's container at the end
  - a plain inventory: start the new server yourself and pass --address; shoal
    joins it as ` + "`shoal bootstrap`" + ` would (installing Docker if it has none)
    and takes NAME out of the swarm (NAME leaves from its own engine). Your
    inventory file is not written: at the end shoal prints the entry to put in
    NAME's place (--write-inventory puts it there, every other line of the
    file kept, or refuses before anything changes), and NAME's server is
    yours to delete at its hoster
  - a stack of ` + "`shoal up`" + ` (--stack, or its inventory): through the Pulumi
    program. One up creates the new server beside NAME and joins it (steps 1
    and 2 in one run), another deletes NAME's server once NAME has left the
    swarm (step 8). --type sets the new server's type (default NAME's); at
    another --hoster it comes from the first pool there, as do provider,
    location and image. The stack file is not written: the stack's state
    keeps the successor in NAME's pool place, so a later ` + "`shoal up`" + ` has
    nothing to change. A manager's successor joins as a worker and is
    promoted in step 2 (the program's swarm resource holds its nodes to the
    manager rules as one layout, where one manager more is an even count).
    A run that stops between the two ups leaves the successor beside NAME
    (a later ` + "`shoal up`" + ` keeps both, changing nothing); the same command
    run again resumes with that successor, as it was created

--dry-run prints the numbered steps and changes nothing (exit 4). Without
--dry-run the steps and their targets are shown and confirmed on the terminal;
--yes skips the question; without a terminal and without --yes it refuses
(exit 3) and touches nothing.`,
		Example: `  shoal node replace w1 --dry-run
  shoal node replace m1 --hoster hoster-d --yes
  shoal node replace w-1 --stack prod --dir infra --type cx32
  shoal node replace m2 --address 203.0.113.20 --inventory prod.yaml --write-inventory`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNodeReplace(cmd, a, args[0], fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.hoster, "hoster", "", "hoster of the new server (default: NAME's hoster)")
	f.StringVar(&fl.address, "address", "", "address of the new server (plain inventories, where it is required)")
	f.StringVar(&fl.typ, "type", "", "server type of the new server (`shoal up` stacks; default NAME's)")
	addStackFlags(cmd, &fl.stack)
	f.BoolVar(&fl.dryRun, "dry-run", false, "print the numbered steps and change nothing")
	f.BoolVarP(&fl.yes, "yes", "y", false, "replace without asking")
	f.DurationVar(&fl.stuckAfter, "stuck-after", time.Minute, "how long a service may stay short of tasks while NAME drains, the swarm finding no other node for them or their tasks failing, before step 5 stops the replacement")
	f.BoolVar(&fl.writeInventory, "write-inventory", false, "plain inventories: put the new node in NAME's place in the inventory file at the end, every other line kept (refused up front when that cannot be done)")
	return cmd
}

func runNodeReplace(cmd *cobra.Command, a *app, name string, fl nodeReplaceFlags) error {
	ctx := cmd.Context()
	if fl.stuckAfter <= 0 {
		return withCode(exitUsage, fmt.Errorf("node replace %s: --stuck-after %s: want a positive duration (nothing was changed)", name, fl.stuckAfter))
	}
	if !fl.dryRun && !fl.yes && !a.interactive() {
		// As up: refuse before anything is read, never hang on a question.
		return withCode(exitRefused, fmt.Errorf("node replace %s: no terminal to ask on, and --yes not given: nothing done (pass --yes to go ahead unasked, or --dry-run to see the steps)", name))
	}
	if cmd.Flags().Changed("stack") && a.inventory == "" {
		a.inventory = automation.InventoryPath(a.home, fl.stack.stack)
	}
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	src := replace.SourceInventory
	stack := stackOf(a.home, inv.Path)
	if stack != "" {
		src = replace.SourceStack
	} else if docker, err := localDocker(); err == nil {
		ok, _ := labactor.IsLab(ctx, docker, inv.Path)
		docker.Close()
		if ok {
			src = replace.SourceLab
		}
	}
	req := replace.Request{Node: name, Source: src, Hoster: fl.hoster, Address: fl.address, Type: fl.typ, Stack: stack}
	if err := req.Validate(); err != nil {
		return err // before any node is dialled
	}
	var ws *automation.Workspace
	if src == replace.SourceStack {
		o, err := a.stackOptions(fl.stack, stack, labProgress(a))
		if err != nil {
			return err
		}
		o.Existing = true
		if ws, err = automation.Open(ctx, o); err != nil {
			return withCode(exitUsage, fmt.Errorf("node replace %s: stack %s (pass the --dir and --backend `shoal up` used): %w", name, stack, err))
		}
		if u, ok := infra.Unfinished(ws.Successors())[name]; ok {
			// An earlier run stopped between the program's two runs: it
			// resumes with the successor it deployed, as it was created.
			if (fl.hoster != "" && fl.hoster != u.Hoster) || (fl.typ != "" && fl.typ != u.Type) {
				return withCode(exitUsage, fmt.Errorf("node replace %s: its replacement by %s is unfinished and resumes as that successor was created (hoster %q, type %q; \"\" is the pool's): drop --hoster and --type (nothing was changed)",
					name, u.Name, u.Hoster, u.Type))
			}
			req.Successor, req.Hoster, req.Type = u.Name, u.Hoster, u.Type
			fmt.Fprintf(a.stderr, "node replace %s: resuming its unfinished replacement by %s\n", name, u.Name)
		}
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	dial.Attempts = 2
	obs, err := bootstrap.ObserveSwarm(ctx, inv, dial, newNodePrinter(a.stderr, inv))
	if err != nil {
		return err
	}
	plan, err := replace.Compute(inv, obs, req)
	var unknown *replace.UnknownNodeError
	if errors.As(err, &unknown) && req.Successor != "" {
		// NAME has left the swarm already: only the program's last run is left.
		plan, err = replace.Finish(req, req.Successor), nil
	}
	if err != nil {
		return err
	}
	if ws != nil && len(plan.Steps) > 1 {
		if err := ws.CheckReplacement(stackexec.Replacement(plan.New, plan.Old)); err != nil {
			return withCode(exitUsage, fmt.Errorf("node replace %s: the stack's program would refuse it: %w (nothing was changed)", name, err))
		}
	}
	var edited []byte // the inventory file with the successor in NAME's place (--write-inventory)
	if fl.writeInventory {
		if src != replace.SourceInventory {
			return withCode(exitUsage, fmt.Errorf("node replace %s: --write-inventory is for plain inventories; a lab's inventory is shoal's and is rewritten anyway (nothing was changed)", name))
		}
		data, err := os.ReadFile(inv.Path)
		if err != nil {
			return fmt.Errorf("node replace %s: read the inventory: %w", name, err)
		}
		oldEntry, _ := inv.Node(plan.Old.Name)
		if edited, err = inventory.ReplaceNode(inv.Path, data, plan.Old.Name, swarmexec.Entry(plan.New, plan.Old, oldEntry)); err != nil {
			return withCode(exitRefused, fmt.Errorf("node replace %s: --write-inventory: %w", name, err))
		}
		// The file edit is no longer left to the operator.
		plan.Notes = slices.DeleteFunc(plan.Notes, func(n string) bool { return strings.HasPrefix(n, "in the inventory") })
	}
	if a.json() {
		if err := writeReplaceJSON(a.stdout, inv, plan); err != nil {
			return err
		}
	} else {
		printReplacePlan(a.stdout, plan)
	}
	if fl.dryRun {
		return withCode(exitWork, errors.New(""))
	}
	if !fl.yes {
		q := fmt.Sprintf("replace %s by %s (drain, demote, remove and delete %s)?", plan.Old.Name, plan.New.Name, plan.Old.Name)
		if src == replace.SourceStack {
			q = fmt.Sprintf("replace %s by %s (drain, demote and remove %s, and delete its server through stack %s)?", plan.Old.Name, plan.New.Name, plan.Old.Name, stack)
		}
		if src == replace.SourceInventory {
			q = fmt.Sprintf("replace %s by %s at %s (drain, demote and remove %s; deleting its server is yours)?", plan.Old.Name, plan.New.Name, plan.New.Address, plan.Old.Name)
		}
		if !a.confirm(q) {
			return withCode(exitRefused, fmt.Errorf("node replace %s not confirmed: nothing changed", name))
		}
	}
	var x replace.Executor
	switch src {
	case replace.SourceStack:
		sx := stackexec.New(ws, inv.Path, stackexec.Options{Dial: dial, Progress: labProgress(a), Log: a.log})
		sx.Stuck = fl.stuckAfter
		x = sx
	case replace.SourceLab:
		docker, err := localDocker()
		if err != nil {
			return err
		}
		defer docker.Close()
		lx, err := labexec.New(docker, inv.Path, labexec.Options{Dial: dial, Progress: labProgress(a), Log: a.log})
		if err != nil {
			return err
		}
		lx.Stuck = fl.stuckAfter
		x = lx
	default:
		ix := swarmexec.NewInventory(inv, swarmexec.Options{Dial: dial, Progress: labProgress(a), Log: a.log})
		ix.Stuck = fl.stuckAfter
		x = ix
	}
	if err := replace.Execute(ctx, plan, x, a.stderr); err != nil {
		return withCode(exitFailed, err)
	}
	fmt.Fprintf(a.stderr, "replaced %s by %s\n", plan.Old.Name, plan.New.Name)
	if edited != nil {
		if err := writeInventoryFile(inv.Path, edited); err != nil {
			return withCode(exitFailed, fmt.Errorf("node replace %s: the swarm part is done, but the inventory was not written: %w", name, err))
		}
		fmt.Fprintf(a.stdout, "wrote %s: %s in the place of %s\n", inv.Path, plan.New.Name, plan.Old.Name)
		fmt.Fprintf(a.stdout, "left to you: delete the server of %s (%s) at %s\n", plan.Old.Name, plan.Old.Address, plan.Old.Hoster)
	} else if src == replace.SourceInventory {
		oldEntry, _ := inv.Node(plan.Old.Name)
		edit, err := swarmexec.InventoryEdit(plan.Old.Name, swarmexec.Entry(plan.New, plan.Old, oldEntry))
		if err != nil {
			return err
		}
		// Results go to stdout: the edit is what the operator acts on.
		fmt.Fprintf(a.stdout, "left to you:\n%s", edit)
		fmt.Fprintf(a.stdout, "and delete the server of %s (%s) at %s; until the inventory is edited, `shoal bootstrap` would try to join %s again\n",
			plan.Old.Name, plan.Old.Address, plan.Old.Hoster, plan.Old.Name)
	}
	return nil
}

// writeInventoryFile replaces the inventory file at path by data in one
// rename, keeping its mode.
func writeInventoryFile(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp := path + ".shoal-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

func printReplacePlan(w io.Writer, p replace.Plan) {
	if p.Resumed {
		fmt.Fprintf(w, "resume the replacement of %s (%s, %s) by %s (%s), joined beside it by an earlier run, in %d steps:\n", p.Old.Name, p.Old.Role, p.Old.Hoster, p.New.Name, p.New.Hoster, len(p.Steps))
	} else {
		fmt.Fprintf(w, "replace %s (%s, %s) by %s (%s) in %d steps:\n", p.Old.Name, p.Old.Role, p.Old.Hoster, p.New.Name, p.New.Hoster, len(p.Steps))
	}
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w, "then, by hand:")
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

// replaceJSON is the --output json document of node replace.
type replaceJSON struct {
	Cluster string            `json:"cluster"`
	Source  string            `json:"source"`
	Resumed bool              `json:"resumed"`
	Old     replaceNodeJSON   `json:"old"`
	New     replaceNodeJSON   `json:"new"`
	Steps   []replaceStepJSON `json:"steps"`
	Notes   []string          `json:"notes"`
}

type replaceNodeJSON struct {
	Name    string            `json:"name"`
	Role    string            `json:"role"`
	Hoster  string            `json:"hoster"`
	Region  string            `json:"region,omitempty"`
	Address string            `json:"address,omitempty"`
	Labels  map[string]string `json:"labels"`
}

type replaceStepJSON struct {
	N    int    `json:"n"`
	Kind string `json:"kind"`
	Node string `json:"node"`
	Text string `json:"text"`
}

func writeReplaceJSON(w io.Writer, inv *inventory.Inventory, p replace.Plan) error {
	node := func(n replace.Node) replaceNodeJSON {
		l := n.Labels
		if l == nil {
			l = map[string]string{}
		}
		return replaceNodeJSON{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region, Address: n.Address, Labels: l}
	}
	doc := replaceJSON{Cluster: inv.Cluster.Name, Source: string(p.Source), Resumed: p.Resumed, Old: node(p.Old), New: node(p.New), Steps: []replaceStepJSON{}, Notes: p.Notes}
	if doc.Notes == nil {
		doc.Notes = []string{}
	}
	for i, s := range p.Steps {
		doc.Steps = append(doc.Steps, replaceStepJSON{N: i + 1, Kind: string(s.Kind), Node: s.Node, Text: s.Text})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
