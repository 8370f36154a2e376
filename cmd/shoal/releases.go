package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/stacks/release"
)

func newReleasesCmd(a *app) *cobra.Command {
	var fl releaseFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "releases PROJECT --env ENV [--service NAME]",
		Short: "The release history of an app stack: who, when, old and new digest, verdict",
		Long: `releases reads the history every ` + "`shoal deploy`" + ` and ` + "`shoal rollback`" + ` records in Vault,
at <mount>/<project folder>/.releases/<service> (secret/acme/dev/.releases/web
with the defaults), newest first. Only reads; the CI policy allows it.`,
		Example: `  shoal releases shop --env prod
  shoal releases shop --env dev --service web -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project := args[0]
			if err := fl.check(project); err != nil {
				return withCode(exitUsage, err)
			}
			if len(fl.services) > 1 {
				return withCode(exitUsage, fmt.Errorf("releases takes at most one --service"))
			}
			ctx := cmd.Context()
			vc, err := fl.openVault(ctx)
			if err != nil {
				return err
			}
			svc := ""
			if len(fl.services) == 1 {
				svc = fl.services[0]
			}
			recs, err := (&release.VaultHistory{Vault: vc}).List(ctx, project, fl.env, svc)
			if err != nil {
				return vaultErr(err)
			}
			if limit > 0 && len(recs) > limit {
				recs = recs[:limit]
			}
			if a.json() {
				if recs == nil {
					recs = []release.Record{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			}
			if len(recs) == 0 {
				fmt.Fprintf(a.stdout, "no releases of %s/%s recorded\n", project, fl.env)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tSERVICE\tKIND\tWHO\tVIA\tTAG\tOLD\tNEW\tVERDICT")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Local().Format(time.DateTime), r.Service, r.Kind, r.Who, r.Via,
					dash(r.Tag), shortDigest(r.OldDigest), shortDigest(r.NewDigest), r.Verdict)
			}
			return tw.Flush()
		},
	}
	addReleaseFlags(cmd, &fl, false)
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most this many (0: all)")
	return cmd
}

// shortDigest shows the first 12 hex digits of a digest.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return dash(d)
}
