package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

type bootstrapFlags struct {
	dryRun        bool
	yes           bool
	parallel      int
	restartDocker bool
	adopt         bool
}

func newBootstrapCmd(a *app) *cobra.Command {
	var fl bootstrapFlags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Turn the inventory's hosts into a Docker Swarm (idempotent)",
		Long: `bootstrap connects to every host of the inventory over SSH (host keys pinned in
the inventory's known_hosts file, trusted on first use), reads every host's facts,
the swarm each engine is in and the plan before it changes anything: an
address that does not resolve, a node in another swarm, lost quorum or a host
it may not change is refused (exit 3) with nothing changed on any host. Then it
prepares the hosts (installs Docker Engine from the distribution only where no
engine is installed, log rotation on, live-restore off), then computes a plan from what each node reports and carries it out:
init the swarm on the first manager, join managers one at a time and workers in
parallel, set node labels (shoal.hoster, shoal.region and the inventory's), and
promote or demote to match roles without ever dropping below quorum.

A running Docker Engine is never reinstalled. A daemon.json change that needs
a restart is applied at once only when the engine runs no containers and a
service manager shoal can drive (systemd, /etc/init.d/docker) runs it; with
running containers it waits for --restart-docker (the plan says what restarts);
an engine started by hand or by another init is never restarted. A change that
waits is printed as pending (a warning; the run goes on, exit 0).

On a converged cluster the plan is empty and nothing is touched. A node that
already belongs to another swarm is an error, never re-joined.

The swarm records the inventory's cluster.name (swarm label shoal.cluster) when
bootstrap creates it. An inventory whose cluster.name differs from the name the
swarm it reaches records is refused (exit 3) before the swarm is changed,
naming both names; so is a swarm that records no name and has nodes the
inventory does not list. --adopt takes such a swarm over and records the
inventory's name in it. A swarm without a name whose nodes are all in the
inventory (made by an older shoal) is named without the flag. Plans that demote
or remove a node ask first (--yes skips the question).`,
		Example: `  shoal bootstrap --inventory inventory.yaml
  shoal bootstrap --dry-run          # show the plan, exit 4 if there is work
  shoal bootstrap -o json --yes
  shoal bootstrap --adopt            # take over a swarm named otherwise, under this inventory's name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := a.loadInventory()
			if err != nil {
				return err
			}
			return runBootstrap(cmd, a, inv, fl)
		},
	}
	cmd.Flags().BoolVar(&fl.dryRun, "dry-run", false, "observe and print the plan; change nothing (exit 4 if there is work)")
	cmd.Flags().BoolVarP(&fl.yes, "yes", "y", false, "do not ask before demoting or removing nodes")
	cmd.Flags().IntVar(&fl.parallel, "parallel", 16, "how many hosts to work on at once")
	cmd.Flags().BoolVar(&fl.restartDocker, "restart-docker", false, "restart an engine that runs containers to apply daemon.json (its containers restart)")
	cmd.Flags().BoolVar(&fl.adopt, "adopt", false, "take over a swarm that records another cluster name (or none, with nodes the inventory does not list) and record the inventory's cluster.name in it")
	return cmd
}

// bootstrapJSON is the --output json document of bootstrap.
type bootstrapJSON struct {
	Changed  bool                `json:"changed"`
	DryRun   bool                `json:"dry_run"`
	Hosts    map[string][]string `json:"hosts"`
	Steps    []string            `json:"steps"`
	Blocked  []swarm.Blocked     `json:"blocked"`
	Warnings []string            `json:"warnings"`
	Pending  []string            `json:"pending"`
	Seconds  float64             `json:"seconds"`
	Error    string              `json:"error,omitempty"`
}

func runBootstrap(cmd *cobra.Command, a *app, inv *inventory.Inventory, fl bootstrapFlags) error {
	start := time.Now()
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closer.Close()
	dial.Logger = a.log
	prog := newNodePrinter(a.stderr, inv)
	opts := bootstrap.Options{
		DryRun:   fl.dryRun,
		Parallel: fl.parallel,
		Adopt:    fl.adopt,
		Dial:     dial,
		Log:      a.log,
		Host:     host.Options{RestartDocker: fl.restartDocker},
		Confirm: func(p swarm.Plan) bool {
			if fl.yes {
				return true
			}
			var targets []string
			for _, s := range p.Steps {
				if s.Destructive() {
					targets = append(targets, fmt.Sprintf("%s %s", s.Action, s.Node))
				}
			}
			return a.confirm("bootstrap will " + strings.Join(targets, ", ") + ". Go on?")
		},
	}
	rep, runErr := bootstrap.Run(cmd.Context(), inv, opts, prog)

	if rep.Result.UnlockKey != "" {
		path, err := saveUnlockKey(a, inv, rep.Result.UnlockKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "autolock is on: the unlock key is in %s (mode 0600); keep a copy somewhere safe\n", path)
	}
	if a.json() {
		doc := bootstrapJSON{Changed: rep.Changed(), DryRun: fl.dryRun, Hosts: rep.HostActions(), Steps: []string{},
			Blocked: rep.Plan.Blocked, Warnings: rep.Plan.Warnings, Pending: rep.Pending(), Seconds: time.Since(start).Seconds()}
		for _, s := range rep.Plan.Steps {
			doc.Steps = append(doc.Steps, s.String())
		}
		if doc.Blocked == nil {
			doc.Blocked = []swarm.Blocked{}
		}
		if doc.Pending == nil {
			doc.Pending = []string{}
		}
		if doc.Warnings == nil {
			doc.Warnings = []string{}
		}
		if runErr != nil {
			doc.Error = runErr.Error()
		}
		if err := json.NewEncoder(a.stdout).Encode(doc); err != nil {
			return err
		}
		if runErr != nil {
			return withCode(codeOf(runErr), errors.New("")) // already reported in the document
		}
	} else {
		if runErr != nil {
			if rep.Changed() {
				printBootstrapText(a.stdout, rep, fl.dryRun, time.Since(start))
			}
			return runErr
		}
		printBootstrapText(a.stdout, rep, fl.dryRun, time.Since(start))
	}
	if fl.dryRun && rep.Changed() {
		return withCode(exitWork, errors.New(""))
	}
	return nil
}

func printBootstrapText(w io.Writer, rep bootstrap.Report, dry bool, took time.Duration) {
	if !rep.Changed() {
		fmt.Fprintf(w, "no changes: the swarm already matches the inventory (%s)\n", took.Round(100*time.Millisecond))
		for _, p := range rep.Pending() {
			fmt.Fprintf(w, "  pending: %s\n", p)
		}
		return
	}
	title := "done"
	if dry {
		title = "plan (dry run, nothing changed)"
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, n := range sortedKeys(rep.HostActions()) {
		fmt.Fprintf(w, "  host %s: %s\n", n, strings.Join(rep.HostActions()[n], ", "))
	}
	for i, s := range rep.Plan.Steps {
		fmt.Fprintf(w, "  %d/%d %s\n", i+1, len(rep.Plan.Steps), s)
	}
	for _, warn := range rep.Plan.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	for _, p := range rep.Pending() {
		fmt.Fprintf(w, "  pending: %s\n", p)
	}
	if !dry {
		fmt.Fprintf(w, "took %s\n", took.Round(100*time.Millisecond))
	}
}

// saveUnlockKey keeps the autolock key in a 0600 file under the cluster's
// state directory. It is never printed.
func saveUnlockKey(a *app, inv *inventory.Inventory, key string) (string, error) {
	dir := filepath.Join(a.home, "clusters", inv.Cluster.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("save unlock key: %w", err)
	}
	path := filepath.Join(dir, "unlock-key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save unlock key: %w", err)
	}
	return path, nil
}
