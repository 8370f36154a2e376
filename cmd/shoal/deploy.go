package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/registry"
	"github.com/shoalops/shoal/stacks/release"
)

func newDeployCmd(a *app) *cobra.Command {
	var fl releaseFlags
	var tag string
	var force bool
	cmd := &cobra.Command{
		Use:   "deploy PROJECT --env ENV [--service NAME]... [--tag TAG]",
		Short: "Roll a new image out to an app stack, verified, rolled back on failure",
		Long: `deploy resolves TAG (default: the environment's, dev for dev, latest for prod)
to a digest at the registry, moves every selected service of the stack
<PROJECT>-<ENV> (default: all of them, in one step) to image:TAG@digest, and
watches the swarm until every task of the new spec runs that digest and the
update completed (a task with a health check counts once healthy). If a
service fails (update paused or rolled back by the swarm, tasks failing, or
nothing after --timeout), every service this run changed goes back to the
digest it ran before, and deploy exits 1 with the task errors. A digest that
already runs everywhere is reported ("already running <digest>") and nothing
restarts unless --force.

Two ways to the swarm, one verification:
  --via ssh        a manager of the inventory over SSH (the operator's path);
                   the registry login from Vault goes with the update so the
                   nodes can pull
  --via portainer  each service's Portainer webhook, with the token from
                   Vault (CI's path), then Portainer's Docker proxy with the
                   API key of <cluster>/platform/portainer/ci in Vault to
                   watch and, if needed, roll back

Vault (VAULT_ADDR, and VAULT_TOKEN or an AppRole in the environment) holds the
webhook tokens, the registry login and the release history: every run is
recorded (` + "`shoal releases`" + `). A token with the policy ` + "`shoal vault policy`" + `
prints is enough. Each run is announced to the Shoutrrr URLs of --notify and
$SHOAL_NOTIFY, on success and on failure.

Exit codes: 0 running the new digest (or it already was), 1 failed (rolled
back, or the message says what is left), 2 bad input: unknown project,
environment or service, a tag the registry does not have, a Vault token that
may not read what is needed (nothing was changed).`,
		Example: `  shoal deploy shop --env dev --tag 3f2c1e9 --registry registry.acme.example
  shoal deploy shop --env prod --service web --tag v1.4.2 --notify "$SLACK_URL"
  VAULT_TOKEN=... shoal deploy shop --env dev --tag "$GITHUB_SHA" --via portainer \
      --portainer-url https://portainer.acme.example --cluster prod --registry registry.acme.example`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project := args[0]
			if err := fl.check(project); err != nil {
				return withCode(exitUsage, err)
			}
			if tag == "" {
				tag = stacks.ImageTag(fl.env)
			}
			endpoints, err := parseEndpoints(fl.registryEndpoints)
			if err != nil {
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
			// The history is read before anything changes: a token that may
			// not touch it stops here, not after the rollout.
			hist := &release.VaultHistory{Vault: vc}
			if _, err := hist.List(ctx, project, fl.env, ""); err != nil {
				return vaultErr(err)
			}
			res := registry.New(registry.Options{Logins: p.auth, Endpoints: endpoints})
			req := release.Request{Project: project, Env: fl.env, Services: fl.services, Tag: tag, Force: force}
			changes, svcs, err := release.Plan(ctx, p.swarm, res, req)
			if err != nil {
				return planErr(err)
			}
			fmt.Fprintf(a.stderr, "deploy %s/%s: tag %s\n", project, fl.env, tag)
			rep, runErr := release.Run(ctx, p.swarm, p.updater, "deploy", req, changes, svcs, release.Options{
				Poll: fl.poll, Timeout: fl.timeout,
				Progress: func(svc, msg string) { fmt.Fprintf(a.stderr, "[%s] %s\n", svc, msg) },
			})
			return a.finishRun(ctx, &fl, hist, rep, runErr)
		},
	}
	addReleaseFlags(cmd, &fl, true)
	cmd.Flags().StringVarP(&tag, "tag", "t", "", "image tag to deploy (default: dev for dev, latest for prod, else the environment's name)")
	cmd.Flags().BoolVar(&force, "force", false, "restart the services even if they already run the digest")
	return cmd
}
