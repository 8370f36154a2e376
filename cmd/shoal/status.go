package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the swarm's nodes and whether its managers keep quorum",
		Long: `status asks the first manager of the inventory that answers for the swarm's node
list and prints each node (name, hoster, role, state, availability, manager
reachability, engine version), then quorum health: managers reachable of total,
how many more manager losses the swarm survives, and which hoster's outage alone
would break quorum.

quorum is "ok" when every manager is reachable, "degraded" while a majority is,
and "lost" when no majority is (the swarm cannot change anything until recovered).
The exit code is 0 whenever the status could be read, 1 when no manager answered.`,
		Example: `  shoal status
  shoal status -o json | jq .quorum`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := a.loadInventory()
			if err != nil {
				return err
			}
			dial, closer, err := bootstrap.DialOptions(inv)
			if err != nil {
				return withCode(exitUsage, err)
			}
			defer closer.Close()
			dial.Logger = a.log
			dial.Attempts = 2 // status is a look, not a boot wait
			prog := newNodePrinter(io.Discard, inv)
			if a.verbose {
				prog = newNodePrinter(a.stderr, inv)
			}
			st, err := bootstrap.Status(cmd.Context(), inv, dial, prog)
			if err != nil {
				return err
			}
			if a.json() {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				printStatus(a.stdout, st)
			}
			if st.Via == "" {
				return withCode(exitFailed, fmt.Errorf("no manager of cluster %s answered", st.Cluster))
			}
			return nil
		},
	}
}

func printStatus(w io.Writer, st swarm.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOSTER\tROLE\tSTATE\tAVAILABILITY\tMANAGER\tENGINE\tADDRESS")
	for _, n := range st.Nodes {
		mgr := ""
		if n.Role == "manager" {
			mgr = n.Reachability
			if n.Leader {
				mgr += " (leader)"
			}
		}
		name := n.Name
		if !n.InInventory {
			name += " (not in inventory)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, n.Hoster, n.Role, n.State, n.Availability, mgr, n.Engine, n.Address)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nquorum: %s — %d/%d managers reachable, survives %d more manager loss(es)\n", st.Quorum, st.ManagersReachable, st.Managers, st.CanLose)
	if len(st.HosterRisk) > 0 {
		fmt.Fprintf(w, "hoster risk: an outage of %s alone would lose quorum\n", strings.Join(st.HosterRisk, " or "))
	} else if st.Managers > 1 {
		fmt.Fprintln(w, "hoster risk: none — no single hoster's outage loses quorum")
	}
	if len(st.Missing) > 0 && st.Via != "" {
		fmt.Fprintf(w, "not in the swarm: %s (run `shoal bootstrap`)\n", strings.Join(st.Missing, ", "))
	}
}
