package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/dr"
	"github.com/shoalops/shoal/dr/drexec"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/infra/automation"
)

func newDRCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dr",
		Short: "Disaster recovery: re-form a swarm that lost quorum, or restore one from a backup",
		Long: `dr brings a swarm back after a disaster.

  recover   quorum lost, at least one manager alive: re-form the swarm on the
            survivor with the most recent raft state
  restore   every manager lost: rebuild the cluster from a backup taken
            with ` + "`shoal backup`" + ` (check one with ` + "`shoal backup verify`" + `)
            onto new servers (--inventory) or new lab VPSes (--lab)`,
	}
	cmd.AddCommand(newDRRecoverCmd(a), newDRRestoreCmd(a))
	return cmd
}

type drRecoverFlags struct {
	from               string
	force, dryRun, yes bool
	stack              stackFlags
}

func newDRRecoverCmd(a *app) *cobra.Command {
	var fl drRecoverFlags
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Re-form the swarm on the surviving manager with the most recent raft state",
		Long: `recover brings back a swarm that lost manager quorum while at least one
manager survives. It first observes every manager of the inventory: is it
reachable, is it in the swarm, and how far its raft log got (the term and
index of its last raft log entry, read from the swarm state on its disk:
<docker data root>/swarm/raft). It picks the survivor with the most recent
raft state (raft's own rule: the higher last term, then the higher index),
prints the plan, and then:

  1. re-forms the swarm on the survivor (swarm init --force-new-cluster with
     the advertise address shoal bootstrap uses): it becomes the only
     manager and keeps every service, network, config and secret, with their
     IDs (so webhook tokens that name a service stay valid)
  2. waits until it leads
  3. makes the other managers that are alive leave their old raft and join
     again as managers
  4. demotes and removes the entries of the dead managers
  5. brings the managers back to the inventory's count: on a lab a new
     server replaces each dead manager at its hoster, as heal does (NAME-r1);
     on a stack made by ` + "`shoal up`" + ` (--stack, or its inventory) every
     dead manager gets a new server under its own name at its hoster in
     one run of the stack's Pulumi program, as heal replaces a node there
     (its generation raised for that run; the stack file is not written),
     so a later ` + "`shoal up`" + ` has nothing to change; on a plain
     inventory the plan says which servers to bring and then run
     ` + "`shoal bootstrap`" + `
  6. checks that the managers have quorum and every service runs again,
     and lists the services with their IDs
  7. on a stack, checks every app service's webhook: Portainer's webhook
     still targets the service's ID and Vault holds that webhook's token.
     Where a service ID changed or a webhook is gone, it re-syncs them as
     ` + "`shoal up`" + ` does (a new webhook, its token written to Vault) and
     says so; otherwise it prints "webhooks and Vault tokens: N checked,
     unchanged"

It refuses (exit 3, nothing changed) while a manager reports quorum: a swarm
with quorum is heal's and bootstrap's work. --force recovers anyway. It also
refuses, saying what you must decide, when no manager survives, when a
survivor is locked (unlock it first), when the survivors belong to different
swarms, or when it cannot read a survivor's raft state and so cannot tell
which is most recent: then choose with --from NAME.

--dry-run prints the observation and the steps and changes nothing (exit 4).
Without --dry-run the plan is confirmed on the terminal; --yes skips the
question; without a terminal and without --yes it refuses (exit 3).`,
		Example: `  shoal dr recover --dry-run
  shoal dr recover --yes
  shoal dr recover --yes --stack prod --dir .   # a ` + "`shoal up`" + ` stack
  shoal dr recover --from m3 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDRRecover(cmd, a, fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.from, "from", "", "re-form the swarm on this manager instead of the one with the most recent raft state")
	f.BoolVar(&fl.force, "force", false, "recover although a manager reports quorum")
	f.BoolVar(&fl.dryRun, "dry-run", false, "print the observation and the steps and change nothing")
	f.BoolVarP(&fl.yes, "yes", "y", false, "recover without asking")
	addStackFlags(cmd, &fl.stack)
	return cmd
}

func runDRRecover(cmd *cobra.Command, a *app, fl drRecoverFlags) error {
	ctx := cmd.Context()
	start := time.Now()
	if !fl.dryRun && !fl.yes && !a.interactive() {
		return withCode(exitRefused, errors.New("dr recover: no terminal to ask on, and --yes not given: nothing was changed (pass --yes to go ahead unasked, or --dry-run to see the plan)"))
	}
	// A `shoal up` stack: named, or the stack whose inventory this is.
	stack := ""
	if cmd.Flags().Changed("stack") {
		stack = fl.stack.stack
		if a.inventory == "" {
			a.inventory = automation.InventoryPath(a.home, stack)
		}
	}
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	if stack == "" {
		stack = stackOf(a.home, inv.Path)
	}
	src := dr.SourceInventory
	docker, derr := localDocker()
	if derr == nil {
		defer docker.Close()
	}
	switch {
	case stack != "":
		src = dr.SourceStack
	case derr == nil:
		if ok, _ := labactor.IsLab(ctx, docker, inv.Path); ok {
			src = dr.SourceLab
		}
	}
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	dial.Attempts = 1 // dead managers are the point: do not wait for them to boot
	dial.Timeout = 5 * time.Second

	fmt.Fprintf(a.stderr, "observing the %d managers of %s (reachable? swarm state, raft log end)\n", len(inv.Managers()), inv.Cluster.Name)
	obs, err := dr.Observe(ctx, inv, dial, src, newNodePrinter(a.stderr, inv))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "observed in %s\n", time.Since(start).Round(100*time.Millisecond))
	if !a.json() {
		printDRObserved(a.stdout, obs)
	}
	plan, err := dr.Compute(obs, dr.Request{Force: fl.force, From: fl.from})
	if err != nil {
		return err
	}
	if a.json() {
		if err := writeDRJSON(a.stdout, obs, plan); err != nil {
			return err
		}
	} else {
		printDRPlan(a.stdout, plan)
	}
	if fl.dryRun {
		return withCode(exitWork, errors.New(""))
	}
	if !fl.yes && !a.confirm(fmt.Sprintf("re-form the swarm %s on %s (force-new-cluster)?", inv.Cluster.Name, plan.Survivor.Name)) {
		return withCode(exitRefused, errors.New("dr recover not confirmed: nothing was changed"))
	}
	o := drexec.Options{Dial: dial, Progress: labProgress(a), Log: a.log}
	o.Dial.Attempts = 3
	switch src {
	case dr.SourceLab:
		o.Lab = docker
	case dr.SourceStack:
		so, err := a.stackOptions(fl.stack, stack, labProgress(a))
		if err != nil {
			return err
		}
		so.Existing = true
		if o.Stack, err = automation.Open(ctx, so); err != nil {
			return withCode(exitUsage, fmt.Errorf("dr recover: stack %s (pass the --dir and --backend `shoal up` used): %w", stack, err))
		}
	}
	x, err := drexec.New(inv.Path, plan.Survivor.Name, o)
	if err != nil {
		return err
	}
	res, err := dr.Execute(ctx, plan, x, a.stderr)
	if err != nil {
		return withCode(exitFailed, err)
	}
	svcs := res.Services
	fmt.Fprintf(a.stderr, "recovered %s on %s in %s: quorum ok\n", inv.Cluster.Name, plan.Survivor.Name, time.Since(start).Round(100*time.Millisecond))
	if a.json() {
		return nil
	}
	fmt.Fprintf(a.stdout, "services (%d), running with the IDs they had:\n", len(svcs))
	for _, s := range svcs {
		fmt.Fprintf(a.stdout, "  %s  %s  %d/%d\n", s.ID, s.Name, s.Running, s.Desired)
	}
	if w := res.Webhooks; w != nil {
		printWebhookReport(a.stdout, *w)
	}
	for _, n := range plan.Notes {
		fmt.Fprintf(a.stdout, "left to you: %s\n", n)
	}
	return nil
}

// printWebhookReport says what the webhook check of a stack found.
func printWebhookReport(w io.Writer, r dr.WebhookReport) {
	if r.Checked == 0 && len(r.Resynced) == 0 {
		fmt.Fprintln(w, "webhooks and Vault tokens: none to check (no app service has a webhook)")
		return
	}
	if len(r.Resynced) == 0 {
		fmt.Fprintf(w, "webhooks and Vault tokens: %d checked, unchanged\n", r.Checked)
		return
	}
	fmt.Fprintf(w, "webhooks and Vault tokens: %d checked; not as they were:\n", r.Checked)
	for _, l := range r.Resynced {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func printDRObserved(w io.Writer, obs dr.Observed) {
	fmt.Fprintf(w, "managers of %s:\n", obs.Cluster)
	for _, m := range obs.Managers {
		switch {
		case !m.Reachable:
			fmt.Fprintf(w, "  %s (%s): unreachable: %s\n", m.Name, m.Hoster, m.Err)
		case m.Raft != nil:
			fmt.Fprintf(w, "  %s (%s): swarm %s, raft %s\n", m.Name, m.Hoster, m.Local, m.Raft)
		case m.RaftErr != "":
			fmt.Fprintf(w, "  %s (%s): swarm %s, raft state unread: %s\n", m.Name, m.Hoster, m.Local, m.RaftErr)
		default:
			fmt.Fprintf(w, "  %s (%s): swarm %s\n", m.Name, m.Hoster, m.Local)
		}
	}
	for _, a := range obs.Answers {
		fmt.Fprintf(w, "  quorum asked: %s\n", a)
	}
}

func printDRPlan(w io.Writer, p dr.Plan) {
	fmt.Fprintf(w, "survivor: %s\n", p.Why)
	fmt.Fprintf(w, "recover in %d steps:\n", len(p.Steps))
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

// drJSON is the --output json document of dr recover (the plan).
type drJSON struct {
	Cluster  string          `json:"cluster"`
	Source   string          `json:"source"`
	Managers []drManagerJSON `json:"managers"`
	Quorum   bool            `json:"quorum"`
	Survivor string          `json:"survivor"`
	Why      string          `json:"why"`
	Steps    []drStepJSON    `json:"steps"`
	Notes    []string        `json:"notes"`
}

type drManagerJSON struct {
	Name      string `json:"name"`
	Hoster    string `json:"hoster"`
	Reachable bool   `json:"reachable"`
	Swarm     string `json:"swarm,omitempty"`
	Error     string `json:"error,omitempty"`
	RaftTerm  uint64 `json:"raft_term,omitempty"`
	RaftIndex uint64 `json:"raft_index,omitempty"`
	RaftError string `json:"raft_error,omitempty"`
}

type drStepJSON struct {
	N    int    `json:"n"`
	Kind string `json:"kind"`
	Node string `json:"node,omitempty"`
	Text string `json:"text"`
}

func writeDRJSON(w io.Writer, obs dr.Observed, p dr.Plan) error {
	doc := drJSON{Cluster: obs.Cluster, Source: string(obs.Source), Quorum: obs.Quorum, Survivor: p.Survivor.Name, Why: p.Why,
		Managers: []drManagerJSON{}, Steps: []drStepJSON{}, Notes: p.Notes}
	if doc.Notes == nil {
		doc.Notes = []string{}
	}
	for _, m := range obs.Managers {
		j := drManagerJSON{Name: m.Name, Hoster: m.Hoster, Reachable: m.Reachable, Swarm: m.Local, Error: m.Err, RaftError: m.RaftErr}
		if m.Raft != nil {
			j.RaftTerm, j.RaftIndex = m.Raft.Term, m.Raft.Index
		}
		doc.Managers = append(doc.Managers, j)
	}
	for i, s := range p.Steps {
		doc.Steps = append(doc.Steps, drStepJSON{N: i + 1, Kind: string(s.Kind), Node: s.Node, Text: s.Text})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
