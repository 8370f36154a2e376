package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoal",
		Short: "Docker Swarm on cheap VPSes across hosters, without the 3 a.m. surprises",
		Long: `shoal turns a handful of VPSes at several hosters into a Docker Swarm whose
managers survive the loss of any one hoster, and tells the truth about it.

  shoal lab up         a lab cluster whose VPSes are local containers
  shoal bootstrap      hosts reachable over SSH -> a swarm (idempotent)
  shoal status         nodes, roles and quorum health

Which cluster: --inventory FILE, else $SHOAL_INVENTORY, else ./inventory.yaml,
else the inventory of the last ` + "`shoal lab up`" + `.

Exit codes: 0 done or nothing to do, 1 failed (the message says what is left),
2 bad usage or invalid inventory, 3 refused by a safety rule or the operator,
4 --dry-run found work to do.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.inventory, "inventory", "i", "", "inventory file (default: $SHOAL_INVENTORY, ./inventory.yaml, or the last lab)")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json (json: one document on stdout)")
	f.BoolVarP(&a.verbose, "verbose", "v", false, "log each remote command (secrets redacted) and other debug lines")
	f.StringVar(&a.home, "home", "", "where shoal keeps its state (default $SHOAL_HOME or ~/.shoal)")

	root.AddCommand(newUpCmd(a), newPreviewCmd(a), newDestroyCmd(a), newRefreshCmd(a))
	root.AddCommand(newBootstrapCmd(a), newStatusCmd(a), newLabCmd(a), newVaultCmd(a), newHealCmd(a))
	root.AddCommand(newStackCmd(a))
	root.AddCommand(newDeployCmd(a), newRollbackCmd(a), newReleasesCmd(a), newCICmd(a))
	return root
}
