package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/heal"
	"github.com/shoalops/shoal/heal/labactor"
	"github.com/shoalops/shoal/heal/pulumiactor"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab/images"
)

type healFlags struct {
	once, dryRun bool
	inCluster    bool
	metricsAddr  string
	policyFile   string
	unlockKey    string
	resync       time.Duration
	pol          heal.Policy
	spares       map[string]string
	stack        stackFlags
}

func newHealCmd(a *app) *cobra.Command {
	fl := healFlags{pol: heal.DefaultPolicy()}
	cmd := &cobra.Command{
		Use:   "heal",
		Short: "Replace dead nodes on their own, never breaking manager quorum",
		Long: `heal watches the swarm through any reachable manager (node list and node events
over SSH, re-read every --resync) and replaces a node that has been Down longer
than --grace: a new server at the same hoster with the dead node's role and
labels is created, bootstrapped and joined, and only once it is Ready is the
dead node demoted (if a manager) and removed (` + "`node rm --force`" + `).
With warm spares (--spares), a drained spare at the dead node's hoster is
activated or promoted first and a new spare is backfilled afterwards.

Safety rules (not settings):
  - nothing is done while manager quorum is lost: it says so; that is
    disaster recovery, not healing: ` + "`shoal dr recover`" + ` re-forms the
    swarm on the surviving manager with the most recent raft state
  - nothing new is started while more nodes are unhealthy than --max-unhealthy
    ("1" or "40%"): the fault is probably the network between the watcher or
    a hoster and the rest, and replacing would tear the cluster apart
  - one manager is remediated at a time
  - a reachable manager is never demoted or removed, and a dead one only
    after its replacement is Ready
  - a node back within --grace is left alone; a slot is replaced at most
    --retry-limit times per --retry-window, with --backoff doubling between
  - every attempt is recorded on the dead node's swarm entry (labels
    shoal.heal.*) before anything is created, so a restarted heal resumes
    it instead of starting a second replacement

One heal process acts per cluster: the one holding the lease kept in the
swarm itself (the labels of the swarm config shoal-heal-lease: holder,
expiry, renewed), taken over only after it expired. Any number may run; the
others watch and log who holds it, and --once without the lease prints the
holder and exits 0 without acting. Each attempt is claimed on the node's
entry with a compare-and-set on its version before it starts, and the node
list is read again right before anything is demoted, removed or destroyed.

For a ` + "`shoal up`" + ` stack the policy is shoal:heal of its config (grace,
startupTimeout, maxUnhealthy, retryLimit, retryWindow, backoff, maxBackoff,
promoteWorkerAfter); --policy replaces it and flags win over both.

Every decision is logged with its reason and the numbers behind it.
Replacing servers works for lab clusters (` + "`shoal lab up`" + `) and for stacks made by
` + "`shoal up`" + ` (its inventory, or --stack with the --dir and --backend ` + "`shoal up`" + ` used):
there the node keeps its name and gets a new server through the Pulumi
program (its generation in the stack config is raised, then ` + "`up`" + ` replaces the
server and converges the swarm), so the Pulumi state stays the truth.
Other clusters can be watched with --dry-run.

Exit codes: 0 done or nothing to do; 1 an action failed; 2 bad usage;
3 (--once) a safety rule held remediation back; 4 --dry-run found work.`,
		Example: `  shoal heal                              # daemon; /metrics on :9469
  shoal heal --once --dry-run             # what would it do now? (exit 4: work)
  shoal heal --grace 30s --max-unhealthy 40% --spares hoster-a=1
  shoal heal --policy heal.yaml           # keys as in a stack's shoal:heal (read on its own for a stack)
  shoal heal --once --stack prod --dir .  # a ` + "`shoal up`" + ` stack: replacement through Pulumi`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHeal(cmd, a, &fl)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fl.once, "once", false, "one pass (observe, decide, act) and exit, for cron or CI")
	f.BoolVar(&fl.dryRun, "dry-run", false, "only say what would be done")
	f.BoolVar(&fl.inCluster, "in-cluster", false, "run as the heal service `shoal up` deploys (shoal:heal.enabled): secrets from the files the *_FILE variables name, the inventory from the stack's outputs; needs --stack and --dir")
	f.StringVar(&fl.metricsAddr, "metrics-addr", ":9469", "serve Prometheus /metrics here (empty: off; not served with --once)")
	f.StringVar(&fl.policyFile, "policy", "", "YAML file with the heal policy (keys as in the cluster spec's shoal:heal)")
	f.StringVar(&fl.unlockKey, "unlock-key", "", "file with the swarm unlock key (default $SHOAL_HOME/clusters/NAME/unlock-key)")
	f.DurationVar(&fl.resync, "resync", 60*time.Second, "re-read the node list this often even without events")
	f.DurationVar(&fl.pol.Grace, "grace", fl.pol.Grace, "how long a node must be Down before it is replaced")
	f.DurationVar(&fl.pol.StartupTimeout, "startup-timeout", fl.pol.StartupTimeout, "abandon a replacement not Ready after this long")
	f.Var(&fl.pol.MaxUnhealthy, "max-unhealthy", `hold all remediation above this many unhealthy nodes: a count ("1") or a percentage ("40%")`)
	f.IntVar(&fl.pol.RetryLimit, "retry-limit", fl.pol.RetryLimit, "replacements per node slot within --retry-window")
	f.DurationVar(&fl.pol.RetryWindow, "retry-window", fl.pol.RetryWindow, "window the retry limit counts in")
	f.DurationVar(&fl.pol.Backoff, "backoff", fl.pol.Backoff, "wait before a retry (doubles per attempt)")
	f.DurationVar(&fl.pol.MaxBackoff, "max-backoff", fl.pol.MaxBackoff, "cap of the back-off")
	f.DurationVar(&fl.pol.PromoteWorkerAfter, "promote-worker-after", 0, "while a manager replacement is this slow and only 2 managers are left, promote a worker at a hoster without one (0: off)")
	f.StringToStringVar(&fl.spares, "spares", nil, "warm spares per hoster, e.g. hoster-a=1,hoster-b=1 (lab clusters)")
	addStackFlags(cmd, &fl.stack)
	cmd.AddCommand(newHealImageCmd(a))
	return cmd
}

func newHealImageCmd(a *app) *cobra.Command {
	var tag string
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the heal image `shoal up` runs on the cluster (shoal:heal.enabled)",
		Long: `image builds the image of the heal service on the local Docker Engine: FROM scratch
with this shoal binary (the entrypoint, and the provider plugin the Pulumi engine
starts), the Pulumi CLI shoal runs (` + "`$SHOAL_PULUMI_DIR`" + ` or the one on PATH), the shared
libraries either needs when not static, the CA bundle and an /etc/passwd.

Push it to a registry every node can pull from and name it in shoal:heal.image;
the default (` + DefaultHealImage + `) must already be on the nodes.`,
		Example: `  shoal heal image --tag registry.example.com/shoal-heal:0.1.0
  docker push registry.example.com/shoal-heal:0.1.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			dir, err := automation.PulumiDir(automation.Options{})
			if err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(a.stderr, "heal image %s: building from %s and %s/bin/pulumi\n", tag, self, dir)
			if err := images.BuildHeal(cmd.Context(), tag, self, filepath.Join(dir, "bin", "pulumi")); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, tag)
			return nil
		},
	}
	cmd.Flags().StringVar(&tag, "tag", DefaultHealImage, "image name and tag")
	return cmd
}

func runHeal(cmd *cobra.Command, a *app, fl *healFlags) error {
	ctx := cmd.Context()
	stack := ""
	var ws *automation.Workspace
	if fl.inCluster {
		if !cmd.Flags().Changed("stack") || fl.stack.dir == "" {
			return withCode(exitUsage, errors.New("--in-cluster needs --stack and --dir (the heal service passes both)"))
		}
		var err error
		if ws, err = a.inClusterStack(cmd, fl.stack); err != nil {
			return err
		}
	}
	if cmd.Flags().Changed("stack") {
		stack = fl.stack.stack
		if a.inventory == "" {
			a.inventory = automation.InventoryPath(a.home, stack)
		}
	}
	path, err := a.inventoryPath()
	if err != nil {
		return err
	}
	if stack == "" {
		stack = stackOf(a.home, path)
	}
	base := heal.DefaultPolicy()
	if stack != "" {
		// shoal:heal of the stack's config, under --policy and the flags.
		base, err = a.stackHealPolicy(cmd, fl.stack, stack)
		if err != nil {
			return withCode(exitUsage, err)
		}
	}
	pol, err := healPolicy(cmd, fl, base)
	if err != nil {
		return withCode(exitUsage, err)
	}
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
	knownHosts := inv.SSH.KnownHosts

	// The inventory is read again whenever it is needed: the lab actor
	// rewrites it as nodes are replaced.
	current := func() *inventory.Inventory {
		if fresh, err := inventory.Load(path); err == nil {
			if fresh.SSH.KnownHosts == "" {
				fresh.SSH.KnownHosts = knownHosts
			}
			return fresh
		}
		return inv
	}
	targets := func() []remote.Target {
		cur := current()
		var ts []remote.Target
		for _, m := range cur.Managers() {
			ts = append(ts, bootstrap.Target(cur, m))
		}
		return ts
	}
	obs := heal.NewObserver(targets, heal.ObserverOptions{Dial: dial, Resync: fl.resync, ProbeLocked: inv.Cluster.Autolock, Log: a.log})
	defer obs.Close()
	sw := &heal.Swarm{With: obs.WithManager}

	keyFile := fl.unlockKey
	if keyFile == "" {
		keyFile = filepath.Join(a.home, "clusters", inv.Cluster.Name, "unlock-key")
	}
	var actor heal.Actor
	if stack != "" {
		if len(pol.Spares) > 0 {
			return withCode(exitUsage, fmt.Errorf("--spares: warm spares are not part of the Pulumi program; stack %s has none", stack))
		}
		if !fl.dryRun {
			if ws == nil {
				if ws, err = a.openHealStack(cmd, fl.stack, stack); err != nil {
					return err
				}
			}
			actor = pulumiactor.New(ws, path, sw, pulumiactor.Options{Dial: dial, UnlockKeyFile: keyFile, Log: a.log})
		}
	} else if docker, err := localDocker(); err == nil {
		defer docker.Close()
		if ok, _ := labactor.IsLab(ctx, docker, path); ok {
			actor, err = labactor.New(docker, path, sw, labactor.Options{Dial: dial, UnlockKeyFile: keyFile, Progress: labProgress(a), Log: a.log})
			if err != nil {
				return err
			}
		}
	}
	if actor == nil && !fl.dryRun {
		return withCode(exitUsage, fmt.Errorf("heal can replace servers of lab clusters (`shoal lab up`) and `shoal up` stacks only, and %s is neither; watch it with --dry-run", path))
	}

	ctl := &heal.Controller{
		Policy: pol, Spec: func() heal.Desired { return desiredOf(current()) }, Source: obs, Swarm: sw,
		Actor: actor, DryRun: fl.dryRun, Log: a.log,
		// A stack's nodes keep their names when replaced, with or without
		// an actor: --dry-run decides as the real run would.
		SameName: stack != "",
		Lease:    sw, Holder: healHolder(),
	}
	if fl.once {
		d, err := ctl.Once(ctx)
		if held, ok := errors.AsType[*heal.LeaseHeldError](err); ok {
			// Another heal acts for this cluster: say who, and do nothing.
			fmt.Fprintln(a.stdout, held.Error())
			return nil
		}
		if a.json() {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(d)
		} else {
			printDecision(a, d, fl.dryRun)
		}
		switch {
		case err != nil:
			return withCode(exitFailed, err)
		case d.Refused && len(d.Actions) == 0:
			return withCode(exitRefused, errors.New(refusalText(d)))
		case fl.dryRun && len(d.Actions) > 0:
			return withCode(exitWork, nil)
		}
		return nil
	}

	if stack != "" && !fl.dryRun && ws != nil {
		// shoal:backup.schedule: the lease holder backs up too (ADR 0033).
		// A backup that cannot be set up does not stop heal.
		if s, err := a.healBackups(cmd, fl.stack, ws, sw, ctl.Holder, pol.Grace); err != nil {
			a.log.Error("heal: scheduled backups cannot run; healing without them", "err", err)
		} else if s != nil {
			go func() { _ = s.run(ctx) }()
		}
	}

	ctl.Metrics = heal.NewMetrics()
	ctl.OnDecision = idleTrimmer(releaseStartupMemory, a.log, 30*time.Second, time.Now)
	if fl.metricsAddr != "" {
		ln, err := net.Listen("tcp", fl.metricsAddr)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--metrics-addr: %w", err))
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", ctl.Metrics.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		a.log.Info("heal: metrics", "addr", ln.Addr().String())
	}
	a.log.Info("heal: watching", "cluster", inv.Cluster.Name, "grace", pol.Grace, "max_unhealthy", pol.MaxUnhealthy.String(), "dry_run", fl.dryRun)
	return ctl.Run(ctx)
}

// inClusterStack prepares the heal service's process (app.inCluster),
// opens its stack and writes the stack's inventory and known_hosts from
// the outputs, as `shoal up` does: the state is the truth about the nodes
// and their host keys.
func (a *app) inClusterStack(cmd *cobra.Command, fl stackFlags) (*automation.Workspace, error) {
	if err := a.inCluster(fl.stack); err != nil {
		return nil, withCode(exitUsage, err)
	}
	ws, err := a.openHealStack(cmd, fl, fl.stack)
	if err != nil {
		return nil, err
	}
	out, err := ws.Outputs(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("heal stack %s: %w", fl.stack, err)
	}
	if _, err := ws.WriteInventory(out); err != nil {
		return nil, fmt.Errorf("heal stack %s: %w", fl.stack, err)
	}
	return ws, nil
}

// healHolder names this heal process in the lease and in the records it
// claims: host, process and a random part (two processes of one host in
// one container namespace may share a pid).
func healHolder() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// stackOf is the stack whose inventory `shoal up` wrote at path
// ($SHOAL_HOME/stacks/<stack>/inventory.yaml), else "".
func stackOf(home, path string) string {
	stack := filepath.Base(filepath.Dir(path))
	want, err1 := filepath.Abs(automation.InventoryPath(home, stack))
	got, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil || want != got {
		return ""
	}
	return stack
}

// openHealStack opens the stack heal replaces servers of, as `shoal up`
// opens it; a stack it cannot open (a wrong --dir) is bad usage.
func (a *app) openHealStack(cmd *cobra.Command, fl stackFlags, stack string) (*automation.Workspace, error) {
	o, err := a.stackOptions(fl, stack, labProgress(a))
	if err != nil {
		return nil, err
	}
	ws, err := automation.Open(cmd.Context(), o)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("heal stack %s (pass the --dir and --backend `shoal up` used): %w", stack, err))
	}
	return ws, nil
}

// stackHealPolicy is shoal:heal of the stack's config files. A stack that
// was named (--stack) must be readable; one only inferred from the
// inventory's place may have no files here (defaults then).
func (a *app) stackHealPolicy(cmd *cobra.Command, fl stackFlags, stack string) (heal.Policy, error) {
	o, err := a.stackOptions(fl, stack, nil)
	if err != nil {
		return heal.DefaultPolicy(), err
	}
	c, err := automation.ReadConfig(o)
	if err != nil {
		if !cmd.Flags().Changed("stack") {
			a.log.Debug("heal: no stack config here; default policy", "stack", stack, "err", err)
			return heal.DefaultPolicy(), nil
		}
		return heal.DefaultPolicy(), fmt.Errorf("heal stack %s: %w", stack, err)
	}
	pol, err := infra.HealPolicy(c)
	if err != nil {
		return pol, fmt.Errorf("heal stack %s: %w", stack, err)
	}
	return pol, nil
}

// healPolicy is base (the stack's shoal:heal, or the defaults), replaced by
// the policy file if any, with the flags given on top.
func healPolicy(cmd *cobra.Command, fl *healFlags, base heal.Policy) (heal.Policy, error) {
	pol := base
	if fl.policyFile != "" {
		b, err := os.ReadFile(fl.policyFile)
		if err != nil {
			return pol, fmt.Errorf("--policy: %w", err)
		}
		if pol, err = heal.ParsePolicy(b); err != nil {
			return pol, fmt.Errorf("--policy %s: %w", fl.policyFile, err)
		}
	}
	f := cmd.Flags()
	set := func(name string, apply func()) {
		if f.Changed(name) {
			apply()
		}
	}
	set("grace", func() { pol.Grace = fl.pol.Grace })
	set("startup-timeout", func() { pol.StartupTimeout = fl.pol.StartupTimeout })
	set("max-unhealthy", func() { pol.MaxUnhealthy = fl.pol.MaxUnhealthy })
	set("retry-limit", func() { pol.RetryLimit = fl.pol.RetryLimit })
	set("retry-window", func() { pol.RetryWindow = fl.pol.RetryWindow })
	set("backoff", func() { pol.Backoff = fl.pol.Backoff })
	set("max-backoff", func() { pol.MaxBackoff = fl.pol.MaxBackoff })
	set("promote-worker-after", func() { pol.PromoteWorkerAfter = fl.pol.PromoteWorkerAfter })
	if f.Changed("spares") {
		pol.Spares = map[string]int{}
		for h, v := range fl.spares {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				return pol, fmt.Errorf("--spares %s=%s: want a number", h, v)
			}
			pol.Spares[h] = n
		}
	}
	if err := pol.Validate(); err != nil {
		return pol, err
	}
	return pol, nil
}

// desiredOf is the inventory as heal's desired spec. A node labelled
// spare=true is a warm spare.
func desiredOf(inv *inventory.Inventory) heal.Desired {
	d := heal.Desired{Cluster: inv.Cluster.Name, Autolock: inv.Cluster.Autolock}
	for _, n := range inv.Nodes {
		d.Nodes = append(d.Nodes, heal.NodeSpec{Name: n.Name, Role: n.Role, Hoster: n.Hoster, Region: n.Region, Labels: n.Labels, Spare: n.Labels["spare"] == "true"})
	}
	return d
}

func printDecision(a *app, d heal.Decision, dry bool) {
	fmt.Fprintf(a.stdout, "nodes: %d, unhealthy: %d, managers reachable: %d of %d\n", d.Total, d.Unhealthy, d.ManagersReachable, d.Managers)
	for _, e := range d.Events {
		fmt.Fprintf(a.stdout, "%s: %s\n", e.Kind, e.Reason)
	}
	verb := "did"
	if dry {
		verb = "would"
	}
	for _, act := range d.Actions {
		fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, act.Kind, act.Reason)
	}
	if len(d.Actions) == 0 && len(d.Events) == 0 {
		fmt.Fprintln(a.stdout, "nothing to do")
	}
}

func refusalText(d heal.Decision) string {
	var parts []string
	for _, e := range d.Events {
		switch e.Kind {
		case heal.EventQuorumLost, heal.EventHeld, heal.EventNoManager:
			parts = append(parts, e.Reason)
		}
	}
	return "heal: refused: " + strings.Join(parts, "; ")
}

func labProgress(a *app) *nodeWriter { return &nodeWriter{a: a} }

// nodeWriter sends the lab's progress lines to the debug log.
type nodeWriter struct{ a *app }

func (w *nodeWriter) Write(p []byte) (int, error) {
	w.a.log.Debug("lab: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
