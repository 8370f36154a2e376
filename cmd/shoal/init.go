package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
)

func newInitCmd(a *app) *cobra.Command {
	var hosters, addresses []string
	var stack, cluster string
	var tokenFromEnv bool
	cmd := &cobra.Command{
		Use:   "init DIR --hosters H[,H...] [--address [HOSTER=]IP ...] [--token-from-env]",
		Short: "Write a Pulumi project of your own for a cluster: Pulumi.yaml, a stack file, an SSH key",
		Long: `init writes a new project directory that is yours to edit and commit:

  Pulumi.yaml          shoal's config schema; under ` + "`pulumi up`" + ` it runs the prebuilt
                       program ./bin/shoal-program
  Pulumi.<stack>.yaml  the cluster: one manager at each of the first three sites
                       (each cloud hoster is a site, and so is each hoster of
                       existing hosts), workers at the others; a new SSH key, its
                       private half a Pulumi secret (encryptionsalt in the file)
  .gitignore

Hosters: ` + strings.Join(initHosters(), ", ") + `, and existing for hosts you already
run, given with --address IP or --address HOSTER=IP (hosts with the same HOSTER
share a site). Server types and locations are examples to edit. Fewer than three
sites cannot keep manager quorum through a hoster's outage: the stack then says
so and sets shoal:swarm.allowSingleHosterQuorum.

The hosters' API tokens are left to you (the next steps say how) unless
--token-from-env is given: then each is read from its environment variable,
` + strings.Join(initTokenEnv(), ", ") + `,
and written into the stack file as a Pulumi secret; one not set is refused
(exit 2, nothing written).

The secrets are encrypted with the passphrase ` + "`shoal up`" + ` uses: $PULUMI_CONFIG_PASSPHRASE,
else the one shoal keeps in $SHOAL_HOME/pulumi/passphrase (made now if missing).

init never overwrites: if DIR holds any of these files it refuses (exit 3) and
writes nothing. It prints the commands to run next.`,
		Example: `  shoal init acme --hosters hetzner,vultr,scaleway
  shoal init lab2 --hosters existing --address ovh=198.51.100.7 --address netcup=192.0.2.44 --address home=203.0.113.9
  shoal init edge --hosters hetzner,existing --address ovh=198.51.100.7 --address ovh=198.51.100.8 --stack staging
  HCLOUD_TOKEN=... VULTR_API_KEY=... shoal init duo --hosters hetzner,vultr --token-from-env`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if cluster == "" {
				cluster = defaultCluster(dir)
			}
			names := []string{"Pulumi.yaml", "Pulumi." + stack + ".yaml", ".gitignore"}
			for _, n := range names {
				if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
					return withCode(exitRefused, fmt.Errorf("init %s: %s exists: init never overwrites a project; nothing written (edit it, or init another directory)", dir, filepath.Join(dir, n)))
				} else if !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("init %s: %w", dir, err)
				}
			}
			pass, err := automation.Passphrase(a.home)
			if err != nil {
				return fmt.Errorf("init %s: secrets passphrase: %w", dir, err)
			}
			o := infra.InitOptions{
				Project: builtInProject, Stack: stack, Cluster: cluster, Hosters: splitList(hosters), Addresses: addresses, Passphrase: pass,
			}
			if tokenFromEnv {
				o.TokenFromEnv = os.LookupEnv
			}
			p, err := infra.NewInitProject(o)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("init %s: %w", dir, err))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("init %s: %w", dir, err)
			}
			var written []string
			for _, n := range names {
				if err := writeNew(filepath.Join(dir, n), p.Files[n]); err != nil {
					return fmt.Errorf("init %s: %w (written before: %s)", dir, err, strings.Join(written, ", "))
				}
				written = append(written, n)
			}
			fmt.Fprintf(a.stdout, "wrote %s: %s (cluster %s, stack %s)\n\n", dir, strings.Join(names, ", "), cluster, stack)
			fmt.Fprint(a.stdout, nextCommands(dir, stack, p, os.Getenv("PULUMI_CONFIG_PASSPHRASE") == ""))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&hosters, "hosters", nil, "sites of the cluster: "+strings.Join(initHosters(), ", ")+", existing (comma-separated)")
	f.StringArrayVar(&addresses, "address", nil, "an existing host, IP or HOSTER=IP (repeat; with --hosters existing)")
	f.StringVarP(&stack, "stack", "s", "prod", "the stack the stack file is for (Pulumi.<stack>.yaml)")
	f.StringVar(&cluster, "cluster", "", "cluster name (default: DIR's name)")
	f.BoolVar(&tokenFromEnv, "token-from-env", false, "write the hosters' API tokens into the stack file as secrets, read from their environment variables")
	return cmd
}

func initHosters() []string {
	var out []string
	for _, d := range infra.Descriptors() {
		if !d.Cloud {
			continue
		}
		name := d.Provider
		if len(d.Aliases) > 0 {
			name = d.Aliases[0]
		}
		out = append(out, name+" ("+d.Title+")")
	}
	return out
}

// initTokenEnv lists the environment variables of the cloud hosters' API
// tokens.
func initTokenEnv() []string {
	var out []string
	for _, d := range infra.Descriptors() {
		out = append(out, d.EnvVars...)
	}
	return out
}

func splitList(v []string) []string {
	var out []string
	for _, s := range v {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// defaultCluster names a cluster after its directory: "Acme Prod" -> "acme-prod".
func defaultCluster(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-")
	if n == "" {
		return "shoal"
	}
	return n
}

// writeNew creates path with b; it fails if the file exists.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// nextCommands says what to run after init.
func nextCommands(dir, stack string, p *infra.InitProject, shoalPassphrase bool) string {
	var b strings.Builder
	b.WriteString("next:\n")
	step := 1
	if len(p.TokensWritten) > 0 {
		fmt.Fprintf(&b, "  (the hosters' API tokens are secrets in the stack file: %s)\n", strings.Join(p.TokensWritten, ", "))
	}
	if len(p.TokenKeys) > 0 {
		fmt.Fprintf(&b, "  %d. the hosters' API tokens, for shoal in the environment:\n", step)
		for _, e := range p.TokenEnv {
			fmt.Fprintf(&b, "       export %s=...\n", e)
		}
		fmt.Fprintf(&b, "     (or in the stack file as secrets: %s)\n", strings.Join(p.TokenKeys, ", "))
		step++
	}
	if p.HasExisting {
		fmt.Fprintf(&b, "  %d. on every existing host, let the new key in as root:\n       echo '%s' >> /root/.ssh/authorized_keys\n", step, p.PublicKey)
		step++
	}
	fmt.Fprintf(&b, "  %d. shoal preview --dir %s --stack %s\n", step, dir, stack)
	fmt.Fprintf(&b, "  %d. shoal up --dir %s --stack %s\n", step+1, dir, stack)
	if shoalPassphrase {
		b.WriteString("  The secret in the stack file is under shoal's passphrase; for `pulumi` itself:\n" +
			"       export PULUMI_CONFIG_PASSPHRASE_FILE=\"${SHOAL_HOME:-$HOME/.shoal}/pulumi/passphrase\"\n")
	}
	return b.String()
}
