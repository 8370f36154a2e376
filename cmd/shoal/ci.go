package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/ci"
	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/registry"
	"github.com/shoalops/shoal/stacks/vault"
)

func newCICmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "CI files that build images and run shoal deploy",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCIGenerateCmd(a), newCISetupCmd(a))
	return cmd
}

func newCISetupCmd(a *app) *cobra.Command {
	var fl releaseFlags
	var endpointName string
	var adminID int
	cmd := &cobra.Command{
		Use:   "setup --cluster C --portainer-url URL",
		Short: "Give CI a Portainer API key in Vault, so shoal deploy can watch the swarm",
		Long: `setup logs in to Portainer with the administrator login shoal keeps in Vault
(<cluster>/platform/portainer), and writes what ` + "`shoal deploy --via portainer`" + ` needs to
<cluster>/platform/portainer/ci: an API key (made once, named shoal-ci, kept
while it works), the id of the swarm's environment, and Portainer's URL. The
CI policy (` + "`shoal vault policy --cluster C`" + `) reads exactly that entry. A second run
changes nothing. Run it with an operator's Vault token (VAULT_TOKEN).

Portainer CE API keys act as their user: this one as the administrator.`,
		Example: `  shoal ci setup --cluster prod --portainer-url https://portainer.acme.example`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cluster := envOr(fl.cluster, "SHOAL_CLUSTER")
			purl := strings.TrimRight(envOr(fl.portainerURL, "SHOAL_PORTAINER_URL"), "/")
			if cluster == "" || purl == "" {
				return withCode(exitUsage, errors.New("--cluster and --portainer-url are required"))
			}
			ctx := cmd.Context()
			vc, err := fl.openVault(ctx)
			if err != nil {
				return err
			}
			adminPath, err := vc.Template().CredentialPath(cluster, "portainer", "")
			if err != nil {
				return withCode(exitUsage, err)
			}
			ciPath, _ := vc.Template().CredentialPath(cluster, "portainer", vault.PortainerCIUser)
			adm, ok, err := vc.ReadSecret(ctx, adminPath)
			if err != nil {
				return vaultErr(err)
			}
			if !ok || adm.Data[vault.KeyPassword] == "" {
				return withCode(exitUsage, fmt.Errorf("no Portainer administrator login in Vault at %s/data/%s (shoal up writes it)", vc.Mount(), adminPath))
			}
			pw := portainer.Secret(adm.Data[vault.KeyPassword])
			pc, err := portainer.New(purl).Login(ctx, adm.Data[vault.KeyUsername], pw)
			if err != nil {
				return fmt.Errorf("Portainer at %s: %w", purl, err)
			}
			envs, err := pc.Endpoints(ctx, endpointName)
			if err != nil {
				return fmt.Errorf("Portainer at %s: %w", purl, err)
			}
			if len(envs) != 1 {
				return withCode(exitUsage, fmt.Errorf("Portainer at %s has %d environments named %q, want 1 (--endpoint)", purl, len(envs), endpointName))
			}
			key := ""
			if cur, ok, err := vc.ReadSecret(ctx, ciPath); err != nil {
				return vaultErr(err)
			} else if ok && cur.Data[vault.KeyAPIKey] != "" {
				// Keep a key that still works.
				if _, err := portainer.New(purl, portainer.WithAPIKey(portainer.Secret(cur.Data[vault.KeyAPIKey]))).Endpoints(ctx, endpointName); err == nil {
					key = cur.Data[vault.KeyAPIKey]
				}
			}
			if key == "" {
				k, err := pc.CreateAPIKey(ctx, adminID, "shoal-ci", pw)
				if err != nil {
					return fmt.Errorf("Portainer at %s: create an API key: %w", purl, err)
				}
				key = k.Raw.Reveal()
			}
			res, err := vc.WriteSecret(ctx, ciPath, map[string]string{vault.KeyAPIKey: key, vault.KeyEndpointID: fmt.Sprint(envs[0].ID), vault.KeyPortainer: purl})
			if err != nil {
				return vaultErr(err)
			}
			what := "unchanged"
			if res.Written {
				what = "written"
			}
			fmt.Fprintf(a.stdout, "%s/data/%s: %s (version %d; environment %d at %s)\n", vc.Mount(), ciPath, what, res.Version, envs[0].ID, purl)
			return nil
		},
	}
	addReleaseFlags(cmd, &fl, true)
	cmd.Flags().StringVar(&endpointName, "endpoint", "swarm", "name of the swarm's environment in Portainer (shoal up names it swarm)")
	cmd.Flags().IntVar(&adminID, "admin-id", 1, "the administrator's user id in Portainer (1: the first user)")
	return cmd
}

type ciFlags struct {
	spec              ci.Spec
	out, compose, dir string
	stack             string
	force             bool
}

func newCIGenerateCmd(a *app) *cobra.Command {
	var fl ciFlags
	cmd := &cobra.Command{
		Use:   "generate --project P --out DIR",
		Short: "Write the GitHub Actions workflows that build and deploy each service",
		Long: `generate writes, below --out (the repository root), a reusable workflow
.github/workflows/shoal-deploy.yml and one caller per service of the app's
compose file, .github/workflows/deploy-<service>.yml. A caller is started by
hand with a DEV/PROD choice (PROD only from the default branch); it builds
the service's Dockerfile and context (the compose file's build:, else "."),
pushes :dev or :latest and the commit SHA to the cluster's registry, reads
the registry login and a Vault token through hashicorp/vault-action (JWT/OIDC
by default, or AppRole: --vault-method approle), and runs
` + "`shoal deploy P --env dev|prod --service S --tag <sha> --via portainer`" + `,
which verifies, rolls back on failure, records and notifies.

The app is found in Pulumi.<stack>.yaml (shoal:apps, and shoal:cluster,
shoal:vault, shoal:stacks for the registry and Portainer) in --dir, or given
with --compose and the flags. Existing files are not overwritten without
--force (exit 3, nothing written). The files pass actionlint.`,
		Example: `  shoal ci generate --project shop --out .
  shoal ci generate --project shop --compose stack.yml --cluster prod --registry registry.acme.example \
      --vault-addr https://vault.acme.example --out ../shop`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCIGenerate(a, &fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.spec.Project, "project", "", "the app's project (required): stacks <project>-<env>")
	f.StringVar(&fl.out, "out", "", "repository root to write .github/workflows/ into (required)")
	f.StringVar(&fl.compose, "compose", "", "the app's compose file (default: shoal:apps' entry for the project)")
	f.StringVar(&fl.dir, "dir", ".", "directory with Pulumi.<stack>.yaml")
	f.StringVarP(&fl.stack, "stack", "s", "local", "Pulumi stack whose config describes the cluster")
	f.StringVar(&fl.spec.Cluster, "cluster", "", "cluster name (default shoal:cluster, else the stack name)")
	f.StringVar(&fl.spec.Registry, "registry", "", "cluster registry host (default shoal:stacks.registry.host or registry.<domain>)")
	f.StringVar(&fl.spec.VaultAddr, "vault-addr", "", "Vault address CI reaches (default shoal:vault.address)")
	f.StringVar(&fl.spec.VaultMount, "vault-mount", "", "KV v2 mount (default shoal:vault.mount or secret)")
	f.StringVar(&fl.spec.VaultMethod, "vault-method", "jwt", "how CI logs in to Vault: jwt (GitHub OIDC, no stored secret) or approle")
	f.StringVar(&fl.spec.VaultRole, "vault-role", "", "Vault JWT role (default shoal-ci-<project>)")
	f.StringVar(&fl.spec.PortainerURL, "portainer-url", "", "Portainer URL CI reaches (default: the one in Vault's Portainer CI entry)")
	f.StringVar(&fl.spec.ShoalVersion, "shoal-version", "latest", "shoal version CI installs (go install ...@VERSION)")
	f.BoolVar(&fl.force, "force", false, "overwrite existing files")
	return cmd
}

// stackConfig is the part of Pulumi.<stack>.yaml generate reads.
type stackConfig struct {
	Config map[string]yaml.Node `yaml:"config"`
}

func runCIGenerate(a *app, fl *ciFlags) error {
	s := fl.spec
	if s.Project == "" || fl.out == "" {
		return withCode(exitUsage, errors.New("--project and --out are required"))
	}
	// Fill from the stack config where flags are silent.
	cfgPath := filepath.Join(fl.dir, "Pulumi."+fl.stack+".yaml")
	var sc stackConfig
	if b, err := os.ReadFile(cfgPath); err == nil {
		if err := yaml.Unmarshal(b, &sc); err != nil {
			return withCode(exitUsage, fmt.Errorf("%s: %w", cfgPath, err))
		}
	} else if fl.compose == "" {
		return withCode(exitUsage, fmt.Errorf("no --compose and no %s to find the app in: %w", cfgPath, err))
	}
	get := func(key string, v any) {
		if n, ok := sc.Config["shoal:"+key]; ok {
			_ = n.Decode(v)
		}
	}
	if s.Cluster == "" {
		get("cluster", &s.Cluster)
		if s.Cluster == "" {
			s.Cluster = fl.stack
		}
	}
	var vaultCfg struct{ Address, Mount string }
	get("vault", &vaultCfg)
	s.VaultAddr = cmpOr(s.VaultAddr, vaultCfg.Address)
	s.VaultMount = cmpOr(s.VaultMount, vaultCfg.Mount)
	var st struct {
		Domain   string
		Registry struct{ Host string }
	}
	get("stacks", &st)
	if s.Registry == "" {
		s.Registry = st.Registry.Host
		if s.Registry == "" && st.Domain != "" {
			s.Registry = "registry." + st.Domain
		}
	}
	compose := fl.compose
	var appEnv map[string]string
	if compose == "" {
		var apps []struct {
			Name, Compose, Project string
			Env                    map[string]string
		}
		get("apps", &apps)
		for _, app := range apps {
			if cmpOr(app.Project, app.Name) == s.Project {
				compose, appEnv = app.Compose, app.Env
				if !filepath.IsAbs(compose) {
					compose = filepath.Join(fl.dir, compose)
				}
			}
		}
		if compose == "" {
			return withCode(exitUsage, fmt.Errorf("no app with project %q in shoal:apps of %s: pass --compose", s.Project, cfgPath))
		}
	}
	svcs, err := ciServices(compose, appEnv)
	if err != nil {
		return withCode(exitUsage, err)
	}
	s.Services = svcs
	files, err := ci.GitHub(s)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("ci generate: %w (set it with a flag)", err))
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if !fl.force {
		var exist []string
		for _, p := range paths {
			if _, err := os.Stat(filepath.Join(fl.out, p)); err == nil {
				exist = append(exist, p)
			}
		}
		if len(exist) > 0 {
			return withCode(exitRefused, fmt.Errorf("not overwriting %s in %s (pass --force); nothing was written", strings.Join(exist, ", "), fl.out))
		}
	}
	for _, p := range paths {
		full := filepath.Join(fl.out, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	if a.json() {
		return json.NewEncoder(a.stdout).Encode(map[string]any{"written": paths, "out": fl.out})
	}
	for _, p := range paths {
		fmt.Fprintln(a.stdout, filepath.Join(fl.out, p))
	}
	fmt.Fprintf(a.stderr, "load the CI policy into Vault: shoal vault policy --project %s --env dev --env prod --cluster %s | vault policy write shoal-ci-%s -\n", s.Project, s.Cluster, s.Project)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ciServices reads the services of a compose file: image repository (no
// tag) and build context and Dockerfile. ${VAR} come from the environment,
// then the app's env in shoal:apps.
func ciServices(path string, appEnv map[string]string) ([]ci.Service, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range appEnv {
		env[k] = v
	}
	cfg, _, err := deploy.Load(deploy.Stack{Name: "ci", Compose: b, Dir: filepath.Dir(abs), Env: env})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []ci.Service
	for _, sv := range cfg.Services {
		repo, _, _, err := registry.Split(sv.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: service %s: %w", path, sv.Name, err)
		}
		c := ci.Service{Name: sv.Name, Image: repo}
		if sv.Build.Context != "" {
			c.Context = filepath.Clean(sv.Build.Context)
			if filepath.IsAbs(c.Context) {
				if rel, err := filepath.Rel(filepath.Dir(abs), c.Context); err == nil && !strings.HasPrefix(rel, "..") {
					c.Context = rel
				}
			}
			if sv.Build.Dockerfile != "" {
				c.Dockerfile = filepath.Join(c.Context, sv.Build.Dockerfile)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
