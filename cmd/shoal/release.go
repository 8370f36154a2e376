package main

// Plumbing shared by deploy, rollback and releases: Vault, the registry
// login, the two ways to the swarm, history, notifications, output.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/portainer"
	"github.com/shoalops/shoal/stacks/registry"
	"github.com/shoalops/shoal/stacks/release"
	"github.com/shoalops/shoal/stacks/vault"
)

// releaseFlags are the flags of deploy, rollback and releases.
type releaseFlags struct {
	env      string
	services []string

	vaultAddr, vaultMount, vaultTemplate string
	cluster, registryHost, registryUser  string
	registryEndpoints                    []string
	portainerURL                         string
	via                                  string
	notify                               []string
	who                                  string
	timeout                              time.Duration
	poll                                 time.Duration
}

func addReleaseFlags(cmd *cobra.Command, fl *releaseFlags, changes bool) {
	f := cmd.Flags()
	f.StringVarP(&fl.env, "env", "e", "", "environment (required): the stack is <PROJECT>-<ENV>")
	f.StringArrayVar(&fl.services, "service", nil, "service of the stack (its name in the compose file); repeat for several; default: all")
	f.StringVar(&fl.vaultAddr, "vault-addr", "", "Vault address (default $VAULT_ADDR); log in with VAULT_TOKEN(_FILE) or VAULT_ROLE_ID/VAULT_SECRET_ID(_FILE)")
	f.StringVar(&fl.vaultMount, "vault-mount", vault.DefaultMount, "KV v2 mount of shoal's entries")
	f.StringVar(&fl.vaultTemplate, "vault-path-template", vault.DefaultPathTemplate, "path template of shoal's entries")
	if !changes {
		return
	}
	f.StringVar(&fl.cluster, "cluster", "", "cluster name (shoal:cluster) whose platform entries in Vault to read: registry login, Portainer CI entry (default $SHOAL_CLUSTER, else the inventory's cluster name)")
	f.StringVar(&fl.registryHost, "registry", "", "the cluster registry's host as image references name it (default $SHOAL_REGISTRY); its login is read from Vault; other registries are asked anonymously")
	f.StringVar(&fl.registryUser, "registry-user", vault.DefaultRegistryUser, "registry user whose login Vault holds")
	f.StringArrayVar(&fl.registryEndpoints, "registry-endpoint", nil, "HOST=URL: reach the registry HOST at URL (when images name it differently from where shoal runs, e.g. 127.0.0.1:5000=http://10.0.0.5:5000)")
	f.StringVar(&fl.portainerURL, "portainer-url", "", "Portainer's URL (default $SHOAL_PORTAINER_URL, else the Portainer CI entry in Vault); with --via portainer")
	f.StringVar(&fl.via, "via", "", "ssh: a manager over SSH (the inventory); portainer: webhooks and Portainer's Docker proxy (CI). Default: portainer when a Portainer URL is set, else ssh")
	f.StringArrayVar(&fl.notify, "notify", nil, "Shoutrrr URL to notify (repeatable); URLs with secrets belong in $SHOAL_NOTIFY (space-separated), not the command line")
	f.StringVar(&fl.who, "who", "", "who deploys, for the history (default $SHOAL_ACTOR, $GITHUB_ACTOR, $GITLAB_USER_LOGIN or $USER@host)")
	f.DurationVar(&fl.timeout, "timeout", 10*time.Minute, "how long to wait for a rollout, and again for a rollback")
	f.DurationVar(&fl.poll, "poll", 250*time.Millisecond, "how often to look at the swarm while waiting")
}

func (fl *releaseFlags) check(project string) error {
	if project == "" {
		return errors.New("PROJECT is required")
	}
	if fl.env == "" {
		return errors.New("--env is required (e.g. --env dev)")
	}
	for _, v := range []struct{ what, val string }{{"project", project}, {"env", fl.env}} {
		if err := deploy.ValidateName(v.val); err != nil {
			return fmt.Errorf("%s: %w", v.what, err)
		}
	}
	return deploy.ValidateName(release.Stack(project, fl.env))
}

// openVault logs in to Vault from the environment; a missing address or
// login is bad usage.
func (fl *releaseFlags) openVault(ctx context.Context) (*vault.Client, error) {
	addr := fl.vaultAddr
	if addr == "" {
		addr = os.Getenv("VAULT_ADDR")
	}
	if addr == "" {
		return nil, withCode(exitUsage, errors.New("no Vault: set VAULT_ADDR or --vault-addr (shoal keeps webhook tokens, the registry login and the release history there)"))
	}
	creds, err := vault.CredentialsFromEnv(os.Getenv, os.ReadFile)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	vc, err := vault.New(ctx, vault.Config{Address: addr, Mount: fl.vaultMount, PathTemplate: fl.vaultTemplate, Credentials: creds})
	if err != nil {
		return nil, vaultErr(err)
	}
	return vc, nil
}

// vaultErr gives a refused Vault call exit 2: the token may not read what
// was asked (the message names the path).
func vaultErr(err error) error {
	var ae *vault.APIError
	var pe *vault.PathError
	switch {
	case errors.As(err, &ae) && ae.Forbidden():
		return withCode(exitUsage, fmt.Errorf("%w (the Vault token may not do this: check its policy, `shoal vault policy`)", err))
	case errors.As(err, &pe):
		return withCode(exitUsage, err)
	}
	return err
}

func envOr(v, name string) string {
	if v != "" {
		return v
	}
	return os.Getenv(name)
}

// actor is who deploys, for the history and the notification.
func (fl *releaseFlags) actor() string {
	for _, v := range []string{fl.who, os.Getenv("SHOAL_ACTOR"), os.Getenv("GITHUB_ACTOR"), os.Getenv("GITLAB_USER_LOGIN")} {
		if v != "" {
			return v
		}
	}
	host, _ := os.Hostname()
	return os.Getenv("USER") + "@" + host
}

// runURL links a CI run, when there is one.
func runURL() string {
	if os.Getenv("GITHUB_RUN_ID") != "" {
		return os.Getenv("GITHUB_SERVER_URL") + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + os.Getenv("GITHUB_RUN_ID")
	}
	return os.Getenv("CI_PIPELINE_URL")
}

// notifyURLs are --notify and $SHOAL_NOTIFY.
func (fl *releaseFlags) notifyURLs() []string {
	return append(append([]string(nil), fl.notify...), strings.Fields(os.Getenv("SHOAL_NOTIFY"))...)
}

// paths is what a run reaches the swarm with.
type paths struct {
	swarm   release.Swarm
	updater release.Updater
	auth    []registry.Login
	close   func()
}

// connect opens the path to the swarm: SSH to a manager, or Portainer with
// the CI entry from Vault and the services' webhooks.
func (a *app) connect(ctx context.Context, fl *releaseFlags, vc *vault.Client, project string) (*paths, error) {
	portainerURL := envOr(fl.portainerURL, "SHOAL_PORTAINER_URL")
	via := fl.via
	if via == "" {
		via = "ssh"
		if portainerURL != "" {
			via = "portainer"
		}
	}
	cluster := envOr(fl.cluster, "SHOAL_CLUSTER")
	regHost := envOr(fl.registryHost, "SHOAL_REGISTRY")
	p := &paths{close: func() {}}
	switch via {
	case "ssh":
		inv, err := a.loadInventory()
		if err != nil {
			return nil, err
		}
		if cluster == "" {
			cluster = inv.Cluster.Name
		}
		login, err := registryLogin(ctx, vc, cluster, regHost, fl.registryUser)
		if err != nil {
			return nil, err
		}
		mgr, err := connectManager(ctx, a, inv)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "through manager %s over SSH\n", mgr.Node)
		var auths []deploy.RegistryAuth
		for _, l := range login {
			auths = append(auths, deploy.RegistryAuth{Server: l.Host, Username: l.Username, Password: l.Password})
		}
		es := &release.EngineSwarm{Docker: mgr.Docker, Auth: func(image string) (string, error) { return deploy.EncodedAuth(image, auths) }}
		p.swarm, p.updater, p.auth, p.close = es, es, login, mgr.Close
	case "portainer":
		if cluster == "" {
			return nil, withCode(exitUsage, errors.New("--via portainer needs --cluster (or $SHOAL_CLUSTER): the Portainer CI entry is <cluster>/platform/portainer/ci in Vault"))
		}
		login, err := registryLogin(ctx, vc, cluster, regHost, fl.registryUser)
		if err != nil {
			return nil, err
		}
		entryPath, err := vc.Template().CredentialPath(cluster, "portainer", vault.PortainerCIUser)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		e, ok, err := vc.ReadSecret(ctx, entryPath)
		if err != nil {
			return nil, vaultErr(err)
		}
		if !ok || e.Data[vault.KeyAPIKey] == "" {
			return nil, withCode(exitUsage, fmt.Errorf("no Portainer API key in Vault at %s/data/%s (keys %s, %s, %s)", vc.Mount(), entryPath, vault.KeyAPIKey, vault.KeyEndpointID, vault.KeyPortainer))
		}
		if portainerURL == "" {
			portainerURL = e.Data[vault.KeyPortainer]
		}
		if portainerURL == "" {
			return nil, withCode(exitUsage, errors.New("no Portainer URL: pass --portainer-url or set $SHOAL_PORTAINER_URL"))
		}
		endpoint, err := strconv.Atoi(e.Data[vault.KeyEndpointID])
		if err != nil || endpoint <= 0 {
			return nil, withCode(exitUsage, fmt.Errorf("the Portainer CI entry %s/data/%s has no valid %s", vc.Mount(), entryPath, vault.KeyEndpointID))
		}
		pc := portainer.New(strings.TrimRight(portainerURL, "/"), portainer.WithAPIKey(portainer.Secret(e.Data[vault.KeyAPIKey])),
			portainer.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
		wh := &release.WebhookUpdater{Client: pc, Webhooks: map[string]portainer.Secret{}}
		// Every service's webhook token, read before anything changes.
		stack := release.Stack(project, fl.env)
		svcs, err := pc.DockerServices(ctx, endpoint, map[string][]string{"label": {release.StackLabel + "=" + stack}})
		if err != nil {
			return nil, fmt.Errorf("Portainer at %s: %w", portainerURL, err)
		}
		for _, s := range svcs {
			short := release.ShortName(stack, s.Spec.Name)
			if len(fl.services) > 0 && !contains(fl.services, short) {
				continue
			}
			entry, ok, err := vc.ReadWebhook(ctx, project, fl.env, short)
			if err != nil {
				return nil, vaultErr(err)
			}
			if !ok || entry.Token == "" {
				path, _ := vc.Path(project, fl.env, short)
				return nil, withCode(exitUsage, fmt.Errorf("service %s has no webhook token in Vault at %s (key %s)", short, path, vault.KeyToken))
			}
			wh.Webhooks[s.Spec.Name] = pc.WebhookURL(portainer.Secret(entry.Token))
		}
		fmt.Fprintf(a.stderr, "through Portainer at %s (environment %d)\n", portainerURL, endpoint)
		p.swarm, p.updater, p.auth = &release.PortainerSwarm{Client: pc, Endpoint: endpoint}, wh, login
	default:
		return nil, withCode(exitUsage, fmt.Errorf("--via must be ssh or portainer, got %q", via))
	}
	return p, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// registryLogin reads the cluster registry's login from Vault
// (<cluster>/platform/registry/<user>) when the registry host is known.
func registryLogin(ctx context.Context, vc *vault.Client, cluster, host, user string) ([]registry.Login, error) {
	if host == "" || cluster == "" {
		return nil, nil
	}
	path, err := vc.Template().CredentialPath(cluster, "registry", user)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	s, ok, err := vc.ReadSecret(ctx, path)
	if err != nil {
		return nil, vaultErr(err)
	}
	if !ok || s.Data[vault.KeyPassword] == "" {
		return nil, withCode(exitUsage, fmt.Errorf("no registry login in Vault at %s/data/%s (keys %s, %s)", vc.Mount(), path, vault.KeyUsername, vault.KeyPassword))
	}
	return []registry.Login{{Host: host, Username: s.Data[vault.KeyUsername], Password: s.Data[vault.KeyPassword]}}, nil
}

func parseEndpoints(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		h, u, ok := strings.Cut(kv, "=")
		if !ok || h == "" || !strings.Contains(u, "://") {
			return nil, fmt.Errorf("--registry-endpoint %q: want HOST=URL, e.g. 127.0.0.1:5000=http://10.0.0.5:5000", kv)
		}
		out[h] = u
	}
	return out, nil
}

// finishRun records, notifies and prints a run; the error decides the
// exit code.
func (a *app) finishRun(ctx context.Context, fl *releaseFlags, hist release.History, rep release.Report, runErr error) error {
	who := fl.actor()
	if recs := release.Records(rep, who, runURL()); len(recs) > 0 {
		if err := hist.Add(ctx, rep.Project, rep.Env, recs); err != nil {
			fmt.Fprintf(a.stderr, "warning: %v\n", err)
		}
	}
	if urls := fl.notifyURLs(); len(urls) > 0 {
		for _, err := range (&release.Shoutrrr{URLs: urls}).Notify(ctx, release.Message(rep, who)) {
			fmt.Fprintf(a.stderr, "warning: %v\n", err)
		}
	}
	if a.json() {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if runErr != nil {
			return withCode(exitFailed, errors.New(""))
		}
		return nil
	}
	printReport(a.stdout, rep)
	if runErr != nil {
		return withCode(exitFailed, runErr)
	}
	return nil
}

func printReport(w io.Writer, rep release.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tOLD\tNEW\tVERDICT")
	for _, s := range rep.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Service, dash(s.OldDigest), dash(s.NewDigest), s.Verdict)
	}
	tw.Flush()
	for _, s := range rep.Services {
		if s.Verdict == release.AlreadyRunning {
			fmt.Fprintf(w, "%s: already running %s\n", s.Service, s.NewDigest)
		}
	}
	fmt.Fprintf(w, "%s %s/%s: %s in %s\n", rep.Kind, rep.Project, rep.Env, rep.Verdict, rep.Duration.Round(100*time.Millisecond))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// planErr maps an error found before any change to its exit code.
func planErr(err error) error {
	var ie *release.InputError
	var nf *registry.NotFoundError
	var ae *registry.AuthError
	switch {
	case errors.As(err, &ie), errors.As(err, &nf), errors.As(err, &ae):
		return withCode(exitUsage, err)
	}
	return vaultErr(err)
}
