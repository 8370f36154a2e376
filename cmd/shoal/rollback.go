package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/stacks/release"
)

func newRollbackCmd(a *app) *cobra.Command {
	var fl releaseFlags
	cmd := &cobra.Command{
		Use:   "rollback PROJECT --env ENV [--service NAME]...",
		Short: "Go back to the previous good digest, verified like a deploy",
		Long: `rollback takes each selected service of the stack <PROJECT>-<ENV> (default: all)
back to the previous good digest the release history knows: what the deploy
that brought the current digest replaced. Rolling back twice walks further
back. The image is set by digest (through the manager over SSH, or Portainer's
Docker proxy with --via portainer), then watched exactly as a deploy is; if it
fails the service returns to what it ran. The rollback is recorded and
announced like a deploy.

Exit codes: 0 running the previous digest, 1 failed, 2 nothing to go back to
or bad input (nothing was changed).`,
		Example: `  shoal rollback shop --env prod --service web
  shoal rollback shop --env dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project := args[0]
			if err := fl.check(project); err != nil {
				return withCode(exitUsage, err)
			}
			ctx := cmd.Context()
			vc, err := fl.openVault(ctx)
			if err != nil {
				return err
			}
			p, err := a.connect(ctx, &fl, vc, project)
			if err != nil {
				return err
			}
			defer p.close()
			hist := &release.VaultHistory{Vault: vc}
			req := release.Request{Project: project, Env: fl.env, Services: fl.services}
			changes, svcs, err := release.PlanRollback(ctx, p.swarm, hist, req)
			if err != nil {
				return planErr(err)
			}
			up := &release.SetImageUpdater{Swarm: p.swarm, Path: p.updater.Via()}
			rep, runErr := release.Run(ctx, p.swarm, up, "rollback", req, changes, svcs, release.Options{
				Poll: fl.poll, Timeout: fl.timeout,
				Progress: func(svc, msg string) { fmt.Fprintf(a.stderr, "[%s] %s\n", svc, msg) },
			})
			return a.finishRun(ctx, &fl, hist, rep, runErr)
		},
	}
	addReleaseFlags(cmd, &fl, true)
	return cmd
}
