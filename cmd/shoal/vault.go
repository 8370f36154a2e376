package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/stacks/vault"
)

func newVaultCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Vault wiring: the read-only policy CI uses to read webhook tokens",
		Long: `shoal keeps each service's Portainer webhook token in Vault (KV version 2), at
<mount>/<path template>, default secret/{project}/{env}/{service}, with the keys
service_hash (the token) and webhook_url. CI reads them there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVaultPolicyCmd(a))
	return cmd
}

func newVaultPolicyCmd(a *app) *cobra.Command {
	var (
		mount, template, project string
		cluster, registryUser    string
		envs                     []string
	)
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Print the Vault policy (HCL) CI needs to deploy",
		Long: `policy prints, on stdout, an ACL policy in HCL with what ` + "`shoal deploy`" + ` needs in
CI and nothing else: "read" on <mount>/data/<folder>/* (the webhook tokens)
and "list" on <mount>/metadata/<folder>/* for each --env, where <folder> is
the path template without its {service} segment (secret/data/acme/dev/* for
the defaults); "create", "update" and "read" on <folder>/.releases/* (the
release history every deploy appends to); and with --cluster, "read" on the
registry login <cluster>/platform/registry/<user> (to resolve tags and push)
and on <cluster>/platform/portainer/ci (Portainer's URL, environment id and
API key, to watch the swarm). No delete, no metadata read, no other project.
It talks to no server.

Load it into Vault (as an operator allowed to write policies) and give it to
CI's AppRole:

  shoal vault policy --project acme --env dev --env prod | vault policy write shoal-ci -
  vault write auth/approle/role/shoal-ci token_policies=shoal-ci token_ttl=20m

--mount and --path-template must match what shoal writes with.
With --output json, stdout is one JSON object whose "policy" field holds the HCL.`,
		Example: `  shoal vault policy --project acme --env dev --env prod
  shoal vault policy --project acme --env dev | vault policy write shoal-ci -
  shoal vault policy --mount kv --path-template 'ci/{project}/{env}/{service}' --project acme --env prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				return withCode(exitUsage, errors.New("--project is required"))
			}
			if len(envs) == 0 {
				return withCode(exitUsage, errors.New("at least one --env is required (e.g. --env dev --env prod)"))
			}
			tmpl, err := vault.ParseTemplate(template)
			if err != nil {
				return withCode(exitUsage, err)
			}
			hcl, err := vault.CIPolicy{Mount: mount, Template: tmpl, Project: project, Envs: envs, Cluster: cluster, RegistryUser: registryUser}.HCL()
			if err != nil {
				return withCode(exitUsage, err)
			}
			if !a.json() {
				_, err = fmt.Fprint(a.stdout, hcl)
				return err
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Mount        string   `json:"mount"`
				PathTemplate string   `json:"path_template"`
				Project      string   `json:"project"`
				Envs         []string `json:"envs"`
				Policy       string   `json:"policy"`
			}{mount, tmpl.String(), project, envs, hcl})
		},
	}
	f := cmd.Flags()
	f.StringVar(&mount, "mount", vault.DefaultMount, "KV v2 mount that holds the tokens")
	f.StringVar(&template, "path-template", vault.DefaultPathTemplate, "path of a token below the mount; placeholders {project}, {env}, {service} (last segment)")
	f.StringVar(&project, "project", "", "project whose tokens CI may read (required)")
	f.StringArrayVar(&envs, "env", nil, "environment CI may read; repeat for several (required)")
	f.StringVar(&cluster, "cluster", "", "cluster whose registry login and Portainer CI entry CI may read (shoal:cluster)")
	f.StringVar(&registryUser, "registry-user", vault.DefaultRegistryUser, "registry user whose login CI reads (with --cluster)")
	return cmd
}
