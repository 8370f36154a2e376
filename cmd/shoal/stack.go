package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/deploy"
)

func newStackCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Deploy and remove compose stacks on the swarm (docker stack deploy semantics)",
		Long: `stack deploys compose files to the swarm of the current inventory through the
Docker API of the first manager that answers over SSH, with the semantics of
` + "`docker stack deploy --prune --with-registry-auth`" + `: objects are named
NAME_<key> and labelled com.docker.stack.namespace=NAME, services no longer in
the file are removed, and a second deploy of an unchanged file sends no update.
It waits until every service runs, printing one line per service as it
changes, and fails with the task errors of a service that cannot start.`,
	}
	cmd.AddCommand(newStackDeployCmd(a), newStackRmCmd(a), newStackFilesCmd(a))
	return cmd
}

type stackDeployFlags struct {
	files           []string
	envFiles        []string
	env             []string
	noPrune         bool
	resolveImage    string
	encryptOverlays bool
	overlayMTU      int
	detach          bool
	timeout         time.Duration
	registry        string
	registryUser    string
	registryStdin   bool
	noUpdateDefault bool
}

func newStackDeployCmd(a *app) *cobra.Command {
	var fl stackDeployFlags
	cmd := &cobra.Command{
		Use:   "deploy NAME -f COMPOSE.yml",
		Short: "Create or update a stack from a compose file and wait until it runs",
		Long: `deploy reads the compose file (and any overrides, merged in order), resolves
${VAR} from the environment, then --env-file files, then --env flags (later
wins), and brings the stack NAME in line with it:

  networks     created when missing (overlays encrypted unless
               --encrypt-overlays=false, MTU from --overlay-mtu or the
               inventory's cluster.overlay_mtu); existing ones that differ
               are reported, not changed
  secrets,     created when missing; their content is immutable, so a changed
  configs      file must get a new name
  services     created, updated only when their spec changed, and removed when
               no longer in the file (unless --no-prune)

Registry credentials for private images: --registry HOST --registry-user USER
--registry-password-stdin (never on the command line). Exit codes: 0 converged
(or nothing to do), 1 a service failed or did not converge in --timeout (the
message names it and its task errors), 2 bad input (nothing touched).`,
		Example: `  APP_IMAGE=registry.acme.example/shop shoal stack deploy shop-dev -f examples/app/stack.yml
  shoal stack deploy shop-prod -f stack.yml -f prod.yml --env APP_TAG=latest
  echo "$TOKEN" | shoal stack deploy shop-dev -f stack.yml --registry registry.acme.example --registry-user ci --registry-password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runStackDeploy(cmd, a, args[0], fl) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&fl.files, "file", "f", nil, "compose file; repeat to merge overrides in order")
	f.StringArrayVar(&fl.envFiles, "env-file", nil, "KEY=VALUE file for ${VAR} in the compose file (repeatable)")
	f.StringArrayVar(&fl.env, "env", nil, "KEY=VALUE for ${VAR} in the compose file (repeatable; wins over --env-file)")
	f.BoolVar(&fl.noPrune, "no-prune", false, "keep services of the stack that the file no longer has")
	f.StringVar(&fl.resolveImage, "resolve-image", "always", "always: the engine pins each image's digest; never: deploy references as written")
	f.BoolVar(&fl.encryptOverlays, "encrypt-overlays", true, "encrypt the overlay networks the stack creates (IPsec); labs without IPsec turn it off")
	f.IntVar(&fl.overlayMTU, "overlay-mtu", -1, "MTU of created overlays (default: the inventory's cluster.overlay_mtu; 0: engine default)")
	f.BoolVarP(&fl.detach, "detach", "d", false, "return once the changes are sent, without waiting")
	f.DurationVar(&fl.timeout, "timeout", 5*time.Minute, "how long to wait for the services to converge")
	f.StringVar(&fl.registry, "registry", "", "registry host whose images need credentials (with --registry-user)")
	f.StringVar(&fl.registryUser, "registry-user", "", "registry user")
	f.BoolVar(&fl.registryStdin, "registry-password-stdin", false, "read the registry password from stdin")
	f.BoolVar(&fl.noUpdateDefault, "no-update-defaults", false, "keep the engine's update settings where the file sets none (default: rollback on failure, start-first unless a host-mode port is published, parallelism 1, a 10s monitor)")
	return cmd
}

// parseEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func parseEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

// stackInput builds the deploy.Stack from flags; every error is bad input.
func stackInput(a *app, name string, fl stackDeployFlags) (deploy.Stack, error) {
	st := deploy.Stack{Name: name, Env: map[string]string{}}
	if err := deploy.ValidateName(name); err != nil {
		return st, err
	}
	if len(fl.files) == 0 {
		return st, errors.New("no compose file: pass -f FILE")
	}
	for i, f := range fl.files {
		b, err := os.ReadFile(f)
		if err != nil {
			return st, err
		}
		if i == 0 {
			st.Compose = b
			abs, err := filepath.Abs(f)
			if err != nil {
				return st, err
			}
			st.Dir = filepath.Dir(abs)
		} else {
			st.Overrides = append(st.Overrides, b)
		}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			st.Env[k] = v
		}
	}
	for _, f := range fl.envFiles {
		m, err := parseEnvFile(f)
		if err != nil {
			return st, err
		}
		for k, v := range m {
			st.Env[k] = v
		}
	}
	for _, kv := range fl.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return st, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		st.Env[k] = v
	}
	if (fl.registry == "") != (fl.registryUser == "") || (fl.registryStdin && fl.registry == "") {
		return st, errors.New("--registry, --registry-user and --registry-password-stdin go together")
	}
	if fl.registry != "" {
		if !fl.registryStdin {
			return st, errors.New("--registry-user needs --registry-password-stdin (passwords never go on the command line)")
		}
		pw, err := io.ReadAll(io.LimitReader(a.stdin, 64<<10))
		if err != nil {
			return st, err
		}
		st.RegistryAuth = []deploy.RegistryAuth{{Server: fl.registry, Username: fl.registryUser, Password: strings.TrimRight(string(pw), "\r\n")}}
	}
	return st, nil
}

func runStackDeploy(cmd *cobra.Command, a *app, name string, fl stackDeployFlags) error {
	st, err := stackInput(a, name, fl)
	if err != nil {
		return withCode(exitUsage, err)
	}
	// Bad input exits 2 before any host is touched.
	if _, _, err := deploy.Load(st); err != nil {
		return withCode(exitUsage, err)
	}
	switch fl.resolveImage {
	case "always", "never":
	default:
		return withCode(exitUsage, fmt.Errorf("--resolve-image must be always or never, got %q", fl.resolveImage))
	}
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	mtu := fl.overlayMTU
	if mtu < 0 {
		mtu = inv.Cluster.OverlayMTU
	}
	ctx := cmd.Context()
	mgr, err := connectManager(ctx, a, inv)
	if err != nil {
		return err
	}
	defer mgr.Close()
	fmt.Fprintf(a.stderr, "stack %s: deploying through %s\n", name, mgr.Node)
	opts := deploy.Options{
		NoPrune:        fl.noPrune,
		ResolveImage:   deploy.ResolveImage(fl.resolveImage),
		Overlay:        deploy.Overlay{Unencrypted: !fl.encryptOverlays, MTU: mtu},
		Detach:         fl.detach,
		Timeout:        fl.timeout,
		UpdateDefaults: !fl.noUpdateDefault,
		Progress:       deploy.ProgressFunc(func(svc, msg string) { fmt.Fprintf(a.stderr, "[%s] %s\n", svc, msg) }),
	}
	res, err := deploy.Deploy(ctx, mgr.Docker, st, opts)
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	if a.json() {
		doc := stackJSON{Stack: name, Changed: res.Changed(), Services: res.Services, Pruned: res.Pruned, Warnings: res.Warnings}
		if doc.Services == nil {
			doc.Services = []deploy.ServiceResult{}
		}
		if err != nil {
			doc.Error = err.Error()
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(doc); jerr != nil {
			return jerr
		}
		if err != nil {
			return withCode(codeOf(err), errors.New(""))
		}
		return nil
	}
	if err != nil {
		return err
	}
	printStackResult(a.stdout, res)
	return nil
}

type stackJSON struct {
	Stack    string                 `json:"stack"`
	Changed  bool                   `json:"changed"`
	Services []deploy.ServiceResult `json:"services"`
	Pruned   []string               `json:"pruned,omitempty"`
	Warnings []string               `json:"warnings,omitempty"`
	Error    string                 `json:"error,omitempty"`
}

func printStackResult(w io.Writer, res deploy.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tACTION\tRUNNING\tVERSION")
	for _, s := range res.Services {
		running := fmt.Sprintf("%d/%d", s.Running, s.Desired)
		if s.Action == deploy.Prune {
			running = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", s.Name, s.Action, running, s.Version)
	}
	tw.Flush()
	if !res.Changed() {
		fmt.Fprintf(w, "\nstack %s: no changes\n", res.Stack)
	} else {
		fmt.Fprintf(w, "\nstack %s: deployed\n", res.Stack)
	}
}

// manager is the manager connection of a stack verb, with the SSH agent
// connection (if any) to release.
type manager struct {
	*stacks.Manager
	closer io.Closer
}

func (m *manager) Close() {
	m.Manager.Close()
	_ = m.closer.Close()
}

// connectManager reaches the first manager of the inventory that answers.
func connectManager(ctx context.Context, a *app, inv *inventory.Inventory) (*manager, error) {
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	dial.Logger = a.log
	dial.Attempts = 2 // a look, not a boot wait
	m, err := stacks.ConnectManager(ctx, inv, dial)
	if err != nil {
		closer.Close()
		return nil, err
	}
	return &manager{Manager: m, closer: closer}, nil
}

func newStackRmCmd(a *app) *cobra.Command {
	var yes bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a stack: its services, secrets, configs and networks",
		Long: `rm removes every service, secret, config and network labelled
com.docker.stack.namespace=NAME, like ` + "`docker stack rm`" + `. It names what it will
remove and asks first; --yes skips the question. Without a terminal and without
--yes it refuses (exit 3). Volumes stay (they hold data).`,
		Example: `  shoal stack rm shop-dev
  shoal stack rm shop-dev --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := deploy.ValidateName(name); err != nil {
				return withCode(exitUsage, err)
			}
			inv, err := a.loadInventory()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			mgr, err := connectManager(ctx, a, inv)
			if err != nil {
				return err
			}
			defer mgr.Close()
			svcs, err := mgr.Docker.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+name)})
			if err != nil {
				return fmt.Errorf("list services: %w", err)
			}
			var names []string
			for _, s := range svcs.Items {
				names = append(names, s.Spec.Name)
			}
			what := "no services"
			if len(names) > 0 {
				what = "services " + strings.Join(names, ", ")
			}
			if !yes && !a.confirm(fmt.Sprintf("remove stack %s (%s, and its secrets, configs and networks)?", name, what)) {
				return withCode(exitRefused, fmt.Errorf("not removing stack %s (%s): not confirmed (pass --yes)", name, what))
			}
			r, err := deploy.Remove(ctx, mgr.Docker, name, deploy.Options{Timeout: timeout,
				Progress: deploy.ProgressFunc(func(svc, msg string) { fmt.Fprintf(a.stderr, "[%s] %s\n", svc, msg) })})
			if a.json() {
				_ = json.NewEncoder(a.stdout).Encode(map[string]any{"stack": name, "removed": r})
			} else if r.Empty() {
				fmt.Fprintf(a.stdout, "stack %s: nothing to remove\n", name)
			} else {
				fmt.Fprintf(a.stdout, "stack %s removed: %d services, %d secrets, %d configs, %d networks\n", name, len(r.Services), len(r.Secrets), len(r.Configs), len(r.Networks))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for networks to be freed")
	return cmd
}

func newStackFilesCmd(a *app) *cobra.Command {
	var dir string
	var force bool
	cmd := &cobra.Command{
		Use:   "files [NAME]",
		Short: "Show or write the compose files shoal ships (traefik, portainer, registry)",
		Long: `files prints one of the compose files shipped inside shoal, lists them when no
NAME is given, or writes them all to a directory with --write, so you can read
them and deploy edited copies with ` + "`shoal stack deploy NAME -f FILE`" + `.`,
		Example: `  shoal stack files
  shoal stack files traefik
  shoal stack files --write ./stacks`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir != "" {
				paths, err := stacks.WriteFiles(dir, force)
				for _, p := range paths {
					fmt.Fprintln(a.stdout, p)
				}
				if err != nil {
					return withCode(exitUsage, err)
				}
				return nil
			}
			if len(args) == 0 {
				for _, n := range stacks.Names() {
					fmt.Fprintln(a.stdout, n)
				}
				return nil
			}
			b, err := stacks.File(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "write", "", "write every shipped file to this directory")
	cmd.Flags().BoolVar(&force, "force", false, "with --write: overwrite existing files")
	return cmd
}
