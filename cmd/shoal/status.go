package main

import (
	"encoding/json"
	"errors"
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
		Long: `status asks the inventory's managers in turn, in inventory order, for the swarm's
node list until one answers that sees a leader and a reachable majority of
managers, and says which one answered. A manager on the minority side of a
partition ("The swarm does not have a leader", or a former leader that sees
the others unreachable) does not count: the next one is asked, and a line on
stderr says why. It prints each node (name, hoster, role, state, availability, manager
reachability, engine version), then quorum health: managers reachable of total,
how many more manager losses the swarm survives, and which hoster's outage alone
would break quorum.

quorum is "ok" when every manager is reachable, "degraded" while a majority is,
and "lost" when no majority is (the swarm cannot change anything until recovered).
The exit code is 0 when a manager with quorum answered; 1 when none did: the
message then names what each manager answered, and the best view there is is
still printed. With -o json, "via" names the manager that answered and
"asked" lists every manager's answer.`,
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
			// Progress (a manager that does not count, a failed
			// connection) goes to stderr: asking a cut-off manager may
			// take a while.
			st, err := bootstrap.Status(cmd.Context(), inv, dial, newNodePrinter(a.stderr, inv))
			var nq *swarm.NoQuorumError
			if err != nil && !errors.As(err, &nq) {
				return err
			}
			if a.json() {
				doc := statusJSON{Status: st}
				if err != nil {
					doc.Error = err.Error()
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(doc); err != nil {
					return err
				}
				if err != nil {
					return withCode(exitFailed, errors.New("")) // in the document: stdout holds one JSON document
				}
			} else {
				printStatus(a.stdout, st)
			}
			if err != nil {
				return withCode(exitFailed, err)
			}
			return nil
		},
	}
}

// statusJSON is the --output json document of status.
type statusJSON struct {
	swarm.Status
	Error string `json:"error,omitempty"`
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
	for _, ans := range st.Asked {
		switch {
		case ans.Node == st.Via && ans.Quorum:
			fmt.Fprintf(w, "answered by: %s (%s)\n", ans.Node, ans.Said)
		case ans.Node == st.Via:
			fmt.Fprintf(w, "shown as seen by: %s (%s)\n", ans.Node, ans.Said)
		default:
			fmt.Fprintf(w, "not counted: %s\n", ans)
		}
	}
	if st.SwarmName != "" && st.SwarmName != st.Cluster {
		fmt.Fprintf(w, "warning: the swarm records cluster name %q, the inventory says %q (see `shoal bootstrap --adopt`)\n", st.SwarmName, st.Cluster)
	}
	if len(st.Missing) > 0 && st.Via != "" {
		fmt.Fprintf(w, "not in the swarm: %s (run `shoal bootstrap`)\n", strings.Join(st.Missing, ", "))
	}
}
