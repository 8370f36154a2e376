package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/dr"
	"github.com/shoalops/shoal/dr/drexec"
	"github.com/shoalops/shoal/lab"
)

type drRestoreFlags struct {
	from, identity   string
	lab, dryRun, yes bool
	converge         time.Duration
	stack            stackFlags
}

func newDRRestoreCmd(a *app) *cobra.Command {
	var fl drRestoreFlags
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Bring a cluster back from a backup after every manager is lost",
		Long: `restore rebuilds a cluster whose managers are all lost from a backup made by
` + "`shoal backup`" + `. It decrypts the backup (--identity), checks it whole, and
reads the inventory it holds (names, roles, hosters, labels). The new
servers are either

  --inventory NEW.yaml  (or $SHOAL_INVENTORY; never ./inventory.yaml or the
                        last lab) servers you made, listed with the backup's node
                        names, roles and hosters and the cluster's name (any
                        addresses; host keys pinned in its known_hosts, as for
                        ` + "`shoal bootstrap`" + `); refused (exit 3) when any of them is in a
                        swarm already, and (exit 2) naming the field when the
                        inventory does not match the backup's
  --stack NAME          (with --dir and --backend as ` + "`shoal up`" + ` used them) the
                        servers of a ` + "`shoal up`" + ` stack: the servers that do not
                        answer are made again by the stack's Pulumi program
                        (their generation raised, in a run that leaves the swarm
                        resource out, so no new swarm is formed on them);
                        workers still running are kept, they leave the lost
                        swarm (step 3) and join again; refused (exit 3) while a
                        manager of the stack still runs in a swarm
  --lab                 new lab VPSes with the backup's names at the same
                        hosters (host keys pinned from the Docker Engine; the
                        lab's inventory is written again); workers of the
                        lost lab that still run are kept: they leave the lost
                        swarm (step 3) and join again (step 5)

Then:

  1. the new servers: made (--lab, --stack) and checked
  2. the raft state of the backup is put onto the manager it was copied
     from, and the swarm is re-formed there (swarm init
     --force-new-cluster with its new advertise address): services,
     networks, configs and secrets come back with their IDs, secrets with
     their values
  3. the entries of the lost nodes are removed
  4. when the re-formed swarm kept the old server's raft address (Docker
     Engine 20.10 does), it is moved to the new one: on a second node only, raft
     traffic for the old address is sent to the new one (a temporary
     iptables DNAT rule, through sudo when the login user is not root);
     that node joins as a manager; the restored manager is demoted and
     promoted again, and re-joins raft at its new address; the rule is
     removed. Every manager's raft address is then checked
  5. the other managers and the workers join, as ` + "`shoal bootstrap`" + ` joins them
  6. it waits until the managers have quorum and every service runs

On a stack two more steps follow: the stack's program runs in full (as
` + "`shoal up`" + `): it adopts the restored swarm, with the same swarm and
service IDs, and re-creates what lived on the lost servers (Portainer's
environment and webhooks; their new tokens are written into Vault); then
every app service's webhook is checked against Portainer and Vault, as
` + "`shoal dr recover`" + ` does. The stack's state backend and $SHOAL_HOME
(the stack's SSH key) must have survived.

A failure says which step it stopped at and what is left; on a stack the
servers made are kept, and a run stopped before step 2 re-formed the swarm
is simply run again. It refuses (exit 3) while a
manager still runs (--lab, --stack): a cluster with a surviving manager is
` + "`shoal dr recover`" + `'s work.

--dry-run checks the backup (and the servers of --inventory or --stack) and prints the
steps (exit 4). Without --yes the plan is confirmed on the terminal; without
a terminal it refuses (exit 3).`,
		Example: `  shoal dr restore --from /var/backups/shoal/prod-20261203T070000Z.backup.age --identity backup.key --inventory new-servers.yaml --dry-run
  shoal dr restore --stack prod --dir . --from 's3://backups/prod/prod-20261203T070000Z.backup.age?endpoint=https://s3.example.net' --identity backup.key
  shoal dr restore --lab --from 's3://backups/lab/lab-20261203T070000Z.backup.age?endpoint=http://10.0.0.5:7070' --identity backup.key --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDRRestore(cmd, a, fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.from, "from", "", "the backup: a file, file://PATH or s3://BUCKET/KEY (as `shoal backup` printed it)")
	f.StringVar(&fl.identity, "identity", "", "age identity file (the private key) that opens the backup")
	f.BoolVar(&fl.lab, "lab", false, "restore onto new lab VPSes (instead of the servers of --inventory)")
	f.BoolVar(&fl.dryRun, "dry-run", false, "check the backup and print the steps; change nothing")
	f.BoolVarP(&fl.yes, "yes", "y", false, "restore without asking")
	f.DurationVar(&fl.converge, "converge-within", 4*time.Minute, "how long to wait for every service to run again")
	addStackFlags(cmd, &fl.stack)
	return cmd
}

// restorePlan is what a restore prints and runs: its steps, and the
// numbers (from 1; 0: absent) of the steps that may be left out.
type restorePlan struct {
	steps        []string
	rehome, join int
	wait         int // waits for quorum and the services
	up, hooks    int // a stack's full run and its webhook check
}

// planRestore decides the steps of a restore of the cluster of old (the
// backup's inventory) from a backup copied from node. target is the
// inventory of the new servers, nil for new lab VPSes (whose addresses
// are not known yet); survivors are the lab's workers that still run
// (kept, made to leave the lost swarm and joined again).
func planRestore(old, target *inventory.Inventory, node string, survivors []string) restorePlan {
	var names []string
	for _, n := range old.Nodes {
		if !slices.Contains(survivors, n.Name) {
			names = append(names, fmt.Sprintf("%s (%s at %s)", n.Name, n.Role, n.Hoster))
		}
	}
	var p restorePlan
	if target == nil {
		first := fmt.Sprintf("create %d new lab VPSes: %s; pin their host keys", len(names), joinComma(names))
		if len(survivors) > 0 {
			first += fmt.Sprintf("; keep the surviving workers %s", joinComma(survivors))
		}
		p.steps = append(p.steps, first+"; write the inventory with their addresses")
	} else {
		p.steps = append(p.steps, fmt.Sprintf("use the %d servers of %s: %s (checked: reachable, host keys pinned, in no swarm)", len(target.Nodes), target.Path, joinComma(names)))
	}
	remove := fmt.Sprintf("remove the entries of the lost nodes (every node but %s)", node)
	if len(survivors) > 0 {
		remove = fmt.Sprintf("make the surviving workers %s leave the lost swarm (swarm leave --force; their tasks stop until they join again); ", joinComma(survivors)) + remove
	}
	p.steps = append(p.steps,
		fmt.Sprintf("put the backup's raft state onto %s and re-form the swarm there (swarm init --force-new-cluster, its new advertise address)", node),
		remove)

	on := old
	var rh backup.Rehome
	if target == nil {
		rh = backup.PlanRehome(on, node, oldAdvertise(old, node), "")
	} else {
		on = target
		n, _ := target.Node(node)
		rh = backup.PlanRehome(on, node, oldAdvertise(old, node), swarm.AdvertiseAddr(target, n))
	}
	switch {
	case rh.Needed && target == nil:
		p.steps = append(p.steps, fmt.Sprintf("if %s kept its old raft address %s: %s; check every manager's raft address", node, rh.Old, joinSemi(rh.Steps())))
		p.rehome = len(p.steps)
	case rh.Needed:
		p.steps = append(p.steps, fmt.Sprintf("move %s's raft address from %s to %s: %s; check every manager's raft address", node, rh.Old, rh.New, joinSemi(rh.Steps())))
		p.rehome = len(p.steps)
	}
	var others []string
	for _, n := range on.Nodes {
		if n.Name != node {
			others = append(others, n.Name)
		}
	}
	if len(others) > 0 {
		p.steps = append(p.steps, "join "+joinComma(others)+" with their roles and labels (as `shoal bootstrap` does)")
		p.join = len(p.steps)
	}
	p.steps = append(p.steps, "wait until the managers have quorum and every service runs")
	p.wait = len(p.steps)
	return p
}

// survivingWorkers says which of the lab nodes still running (present)
// a restore keeps: workers of the backup's inventory. A manager alive
// means the cluster is not lost (dr recover's work), and a node the
// backup does not know is not the restore's to touch: both refuse.
func survivingWorkers(old *inventory.Inventory, present []string) ([]string, error) {
	var kept, managers, unknown []string
	for _, name := range present {
		n, ok := old.Node(name)
		switch {
		case !ok:
			unknown = append(unknown, name)
		case n.Role == inventory.RoleManager:
			managers = append(managers, name)
		default:
			kept = append(kept, name)
		}
	}
	switch {
	case len(managers) > 0:
		return nil, fmt.Errorf("managers %s still run: dr restore is for a cluster that lost every manager; with a manager alive use `shoal dr recover`, or remove the nodes first", joinComma(managers))
	case len(unknown) > 0:
		return nil, fmt.Errorf("%s not in the backup's inventory: remove them first, or restore onto another lab name", joinComma(unknown))
	}
	return kept, nil
}

func labNames(ns []lab.Node) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Name)
	}
	return s
}

// oldAdvertise is the address node advertised in the backed-up cluster,
// as its inventory says.
func oldAdvertise(old *inventory.Inventory, node string) string {
	n, _ := old.Node(node)
	return swarm.AdvertiseAddr(old, n)
}

func joinSemi(s []string) string { return strings.Join(s, "; ") }

func joinComma(s []string) string { return strings.Join(s, ", ") }

// targetInventory is the inventory restore works on without --lab: only
// one named on purpose (--inventory or $SHOAL_INVENTORY), never the
// fallbacks other commands use (./inventory.yaml, the last lab).
func (a *app) targetInventory() string {
	if a.inventory != "" {
		return a.inventory
	}
	return os.Getenv("SHOAL_INVENTORY")
}

func runDRRestore(cmd *cobra.Command, a *app, fl drRestoreFlags) error {
	ctx := cmd.Context()
	start := time.Now()
	if fl.from == "" {
		return withCode(exitUsage, errors.New("--from is required: the backup to restore (see `shoal backup`)"))
	}
	targetPath := a.targetInventory()
	onStack := cmd.Flags().Changed("stack")
	switch {
	case onStack && (fl.lab || a.inventory != ""):
		return withCode(exitUsage, errors.New("--stack with --lab or --inventory: restore onto the servers of a `shoal up` stack (--stack), of an inventory (--inventory) or new lab VPSes (--lab), one of them"))
	case onStack:
		targetPath = ""
	case cmd.Flags().Changed("dir") || cmd.Flags().Changed("backend"):
		return withCode(exitUsage, errors.New("--dir and --backend name where a stack lives: give --stack too (or leave them out)"))
	case fl.lab && a.inventory != "":
		return withCode(exitUsage, errors.New("--lab and --inventory both given: restore onto new lab VPSes (--lab) or onto the servers of an inventory (--inventory), not both"))
	case fl.lab:
		targetPath = ""
	case targetPath == "":
		return withCode(exitUsage, errors.New("dr restore needs the new servers: --inventory NEW.yaml listing them with the backup's node names, roles and hosters (see --help), or --lab for new lab VPSes: nothing was changed"))
	}
	if !fl.dryRun && !fl.yes && !a.interactive() {
		return withCode(exitRefused, errors.New("dr restore: no terminal to ask on, and --yes not given: nothing was changed (pass --yes to go ahead unasked, or --dry-run to see the plan)"))
	}
	c, err := openBackup(ctx, fl.from, fl.identity)
	if err != nil {
		return err
	}
	m := c.Manifest
	raw, ok := c.Files[backup.InventoryFile]
	if !ok {
		return withCode(exitUsage, fmt.Errorf("backup %s holds no inventory: it cannot say which nodes to bring back", fl.from))
	}
	dir := filepath.Join(a.home, "lab", m.Cluster)
	invPath := filepath.Join(dir, "inventory.yaml")
	if targetPath != "" || onStack {
		invPath = "the backup's inventory"
	}
	old, err := inventory.Parse(invPath, raw)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("the backup's inventory: %w", err))
	}
	if n, ok := old.Node(m.Node); !ok || n.Role != inventory.RoleManager {
		return withCode(exitUsage, fmt.Errorf("the backup's inventory does not list %s, whose raft state it holds, as a manager", m.Node))
	}
	fmt.Fprintf(a.stderr, "backup %s: whole; swarm %s of %s, raft state of %s taken %s (%d services, %d secrets)\n",
		fl.from, m.SwarmID, m.Cluster, m.Node, m.Taken.Format(time.RFC3339), len(m.Objects.Services), len(m.Objects.Secrets))
	if onStack {
		return runDRRestoreStack(cmd, a, fl, c, old, start)
	}

	var target *inventory.Inventory
	var survivors []lab.Node // workers of the lost lab still running
	var kept []string        // the names of the workers that survived
	if targetPath != "" {
		if target, err = inventory.Load(targetPath); err != nil {
			return withCode(exitUsage, fmt.Errorf("the inventory of the new servers: %w", err))
		}
		if err := backup.CheckTarget(old, target); err != nil {
			return withCode(exitUsage, fmt.Errorf("%w: nothing was changed", err))
		}
		if kept, err = checkRestoreTargets(ctx, a, target, nil); err != nil {
			return err
		}
	} else {
		docker, err := localDocker()
		if err != nil {
			return err
		}
		l, ok, err := lab.Find(ctx, docker, m.Cluster)
		docker.Close()
		if err != nil {
			return err
		} else if ok && len(l.Nodes) > 0 {
			var names []string
			for _, n := range l.Nodes {
				names = append(names, n.Name)
			}
			kept, err := survivingWorkers(old, names)
			if err != nil {
				return withCode(exitRefused, fmt.Errorf("lab %s still has nodes (%s): %w: nothing was changed", m.Cluster, joinComma(names), err))
			}
			for _, n := range l.Nodes {
				if slices.Contains(kept, n.Name) {
					survivors = append(survivors, n)
				}
			}
		}
	}

	kept = append(kept, labNames(survivors)...)
	plan := planRestore(old, target, m.Node, kept)
	steps := plan.steps
	if !a.json() {
		fmt.Fprintf(a.stdout, "restore %s from %s in %d steps:\n", m.Cluster, fl.from, len(steps))
		for i, s := range steps {
			fmt.Fprintf(a.stdout, "  %d. %s\n", i+1, s)
		}
	}
	if fl.dryRun {
		return withCode(exitWork, errors.New(""))
	}
	onto := fmt.Sprintf("%d new lab VPSes", len(old.Nodes))
	if target != nil {
		onto = fmt.Sprintf("the %d servers of %s", len(target.Nodes), target.Path)
	}
	if !fl.yes && !a.confirm(fmt.Sprintf("restore %s onto %s?", m.Cluster, onto)) {
		return withCode(exitRefused, errors.New("dr restore not confirmed: nothing was changed"))
	}
	step := func(i int) { fmt.Fprintf(a.stderr, "step %d/%d: %s\n", i, len(steps), steps[i-1]) }

	step(1)
	inv := target
	left := fmt.Sprintf("the servers of %s are left as they are", targetPath)
	if target == nil {
		if inv, err = restoreLabVPSes(ctx, a, old, m.Cluster, dir, invPath, survivors); err != nil {
			return err
		}
		left = fmt.Sprintf("the lab's VPSes are left as they are: `shoal lab down --name %s` removes them", m.Cluster)
	}
	svcs, err := restoreOnto(ctx, a, inv, m.Node, c, plan, kept, step, fl.converge)
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("%w (%s)", err, left))
	}
	fmt.Fprintf(a.stderr, "restored %s from %s in %s: quorum ok, every service runs\n", m.Cluster, fl.from, time.Since(start).Round(100*time.Millisecond))
	return printRestored(a, inv.Cluster.Name, m.Node, svcs, nil)
}

// checkRestoreTargets connects to every server of target (host keys as
// its known_hosts pins them) and refuses (exit 3) when one is in a swarm,
// but for the surviving workers (a stack's, found while its lost managers
// were seen unreachable; they leave the lost swarm later). It returns
// those survivors.
func checkRestoreTargets(ctx context.Context, a *app, target *inventory.Inventory, known []string) ([]string, error) {
	dial, closer, err := bootstrap.DialOptions(target)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("%s: %w", target.Path, err))
	}
	defer closer.Close()
	dial.Logger = a.log
	fleet := bootstrap.Connect(ctx, target, nil, dial, 0, newNodePrinter(a.stderr, target))
	defer fleet.Close()
	if len(fleet.Fatal) > 0 {
		return nil, withCode(exitRefused, fmt.Errorf("the new servers: %w: nothing was changed", errors.Join(fleet.Fatal...)))
	}
	var unreachable []string
	for _, n := range target.Nodes {
		if why, ok := fleet.Unreachable[n.Name]; ok {
			unreachable = append(unreachable, n.Name+": "+why)
		}
	}
	if len(unreachable) > 0 {
		return nil, withCode(exitFailed, fmt.Errorf("cannot reach every new server (%s): nothing was changed", strings.Join(unreachable, "; ")))
	}
	var survivors []string
	var inSwarm []string
	for _, n := range target.Nodes {
		if slices.Contains(known, n.Name) {
			survivors = append(survivors, n.Name)
			continue
		}
		f, err := host.Gather(ctx, fleet.Conns[n.Name])
		if err != nil {
			return nil, withCode(exitFailed, fmt.Errorf("%s: %w: nothing was changed", n.Name, err))
		}
		if f.Engine != nil && f.Engine.Swarm.LocalNodeState != swarmtypes.LocalNodeStateInactive && f.Engine.Swarm.LocalNodeState != "" {
			inSwarm = append(inSwarm, fmt.Sprintf("%s (%s, swarm node %s)", n.Name, f.Engine.Swarm.LocalNodeState, f.Engine.Swarm.NodeID))
			continue
		}
		dir, left, err := swarmStateLeft(ctx, fleet.Conns[n.Name], f)
		if err != nil {
			return nil, withCode(exitFailed, fmt.Errorf("%s: %w: nothing was changed", n.Name, err))
		}
		if left {
			inSwarm = append(inSwarm, fmt.Sprintf("%s (its engine is stopped, but %s holds an earlier swarm's state: started, it would rejoin that swarm; start it and `docker swarm leave --force`, or remove %s)", n.Name, dir, dir))
		}
	}
	if len(inSwarm) > 0 {
		return nil, withCode(exitRefused, fmt.Errorf("%s in a swarm already: dr restore builds the cluster again on servers outside any swarm; if the lost cluster still has a manager use `shoal dr recover`, else make them leave (`docker swarm leave --force`) or list other servers: nothing was changed", joinComma(inSwarm)))
	}
	return survivors, nil
}

// swarmStateLeft tells whether a server whose Docker Engine is installed
// but does not answer (stopped) keeps an earlier swarm's state in its data
// root (dir, the swarm directory): the engine, once started, would be in
// that swarm again. An engine that answers says so itself (f.Engine), and
// a server without Docker has no state; neither is asked.
func swarmStateLeft(ctx context.Context, r remote.Runner, f host.Facts) (dir string, left bool, err error) {
	if f.Engine != nil || f.DockerdPath == "" {
		return "", false, nil
	}
	dir = path.Join(dataRoot(f.DaemonJSON), "swarm")
	res, err := r.Run(ctx, remote.Cmd{Sudo: true, Script: fmt.Sprintf("if [ -e %s ]; then echo yes; else echo no; fi", remote.Quote(path.Join(dir, "docker-state.json")))})
	if err != nil {
		return dir, false, fmt.Errorf("look for swarm state in %s: %w", dir, err)
	}
	return dir, strings.TrimSpace(string(res.Stdout)) == "yes", nil
}

// dataRoot is Docker's data root as daemon.json sets it ("data-root"),
// else the default. A daemon.json that cannot be read as JSON gives the
// default too: the engine would refuse to start on it anyway. Pure.
func dataRoot(daemonJSON string) string {
	var cfg struct {
		DataRoot string `json:"data-root"`
	}
	if json.Unmarshal([]byte(daemonJSON), &cfg) == nil && path.IsAbs(cfg.DataRoot) {
		return path.Clean(cfg.DataRoot)
	}
	return "/var/lib/docker"
}

// restoreLabVPSes makes the lab VPSes of a restore (step 1), in parallel,
// and writes the lab's inventory with their addresses and pinned keys.
func restoreLabVPSes(ctx context.Context, a *app, old *inventory.Inventory, cluster, dir, invPath string, survivors []lab.Node) (*inventory.Inventory, error) {
	docker, err := localDocker()
	if err != nil {
		return nil, err
	}
	defer docker.Close()
	l := lab.Ref(cluster, dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	kh := filepath.Join(dir, "known_hosts")
	if err := os.Remove(kh); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// In parallel, in any order: the restored manager's raft address is
	// moved to its new address (step 4) whatever Docker hands out.
	nodes := make([]lab.Node, len(old.Nodes))
	errs := make([]error, len(old.Nodes))
	var wg sync.WaitGroup
	for i, n := range old.Nodes {
		if j := slices.IndexFunc(survivors, func(s lab.Node) bool { return s.Name == n.Name }); j >= 0 {
			nodes[i] = survivors[j]
			continue
		}
		role := lab.RoleWorker
		if n.Role == inventory.RoleManager {
			role = lab.RoleManager
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = lab.AddNode(ctx, docker, lab.Ref(cluster, dir), lab.NodeSpec{Name: n.Name, Role: role, Hoster: n.Hoster, Region: n.Region}, labProgress(a))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, withCode(exitFailed, fmt.Errorf("create the lab VPSes (remove them with `shoal lab down --name %s`): %w", cluster, err))
	}
	inv := *old
	inv.Nodes = slices.Clone(old.Nodes)
	inv.SSH = inventory.SSH{User: "root", Port: 22, IdentityFile: l.KeyPath, KnownHosts: kh}
	for i := range inv.Nodes {
		inv.Nodes[i].Address = nodes[i].Address
		inv.Nodes[i].AdvertiseAddress = ""
		key, err := nodes[i].HostPublicKey()
		if err != nil {
			return nil, withCode(exitFailed, err)
		}
		if err := appendKnownHost(kh, nodes[i].Address, key); err != nil {
			return nil, withCode(exitFailed, err)
		}
		if slices.ContainsFunc(survivors, func(s lab.Node) bool { return s.Name == nodes[i].Name }) {
			fmt.Fprintf(a.stderr, "[%s %s] surviving worker at %s, kept\n", nodes[i].Name, nodes[i].Hoster, nodes[i].Address)
			continue
		}
		fmt.Fprintf(a.stderr, "[%s %s] new lab VPS at %s (was %s)\n", nodes[i].Name, nodes[i].Hoster, nodes[i].Address, old.Nodes[i].Address)
	}
	inv.Path = invPath
	b, err := inventory.Marshal(&inv)
	if err != nil {
		return nil, withCode(exitFailed, err)
	}
	if err := os.WriteFile(invPath, b, 0o600); err != nil {
		return nil, withCode(exitFailed, fmt.Errorf("write the inventory: %w", err))
	}
	if err := os.WriteFile(a.currentPointer(), []byte(invPath+"\n"), 0o600); err != nil {
		return nil, withCode(exitFailed, err)
	}
	fmt.Fprintf(a.stderr, "inventory %s written with the new addresses\n", invPath)
	return &inv, nil
}

// restoreOnto runs the steps after the first on the new nodes of inv.
func restoreOnto(ctx context.Context, a *app, inv *inventory.Inventory, node string, c *backup.Contents, plan restorePlan, survivors []string, step func(int), converge time.Duration) ([]dr.Service, error) {
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	dial.Logger = a.log
	say := func(f string, args ...any) { fmt.Fprintf(a.stderr, f+"\n", args...) }

	step(2)
	n, _ := inv.Node(node)
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := ensureEngine(ctx, conn, say); err != nil {
		return nil, fmt.Errorf("step 2: %w (nothing was restored yet)", err)
	}
	if err := backup.RestoreSwarm(ctx, conn, c.Files[backup.SwarmFile], backup.RestoreOptions{
		Init: swarm.InitOptions(inv, n), UnlockKey: string(c.Files[backup.UnlockKeyFile]), Say: say}); err != nil {
		return nil, fmt.Errorf("step 2: %w", err)
	}

	step(3)
	api, err := conn.Docker(ctx)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	res, err := api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: node list: %w", node, err)
	}
	self, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, err
	}
	selfID := self.Info.Swarm.NodeID
	left, err := leaveLostSwarm(ctx, inv, survivors, dial, say)
	if err != nil {
		return nil, fmt.Errorf("step 3: %w (the swarm is re-formed on %s; its lost entries are not removed yet)", err, node)
	}
	raftAddr := ""
	for _, e := range res.Items {
		if e.ID == selfID {
			if e.ManagerStatus != nil {
				raftAddr = e.ManagerStatus.Addr
			}
			continue
		}
		name := swarm.NodeName(e.Spec.Labels, e.Description.Hostname)
		if e.Status.State == swarmtypes.NodeStateReady && !left[e.ID] {
			return nil, fmt.Errorf("step 3: %s (%s) is Ready in the restored swarm: a node of the lost cluster still runs; not removed. The swarm is re-formed on %s alone: decide whether the lost cluster is really lost", name, e.ID, node)
		}
		if _, err := api.NodeRemove(ctx, e.ID, client.NodeRemoveOptions{Force: true}); err != nil {
			return nil, fmt.Errorf("step 3: remove the lost node %s (%s): %w", name, e.ID, err)
		}
		say("[%s] removed the entry of the lost node (%s)", name, e.ID)
	}
	bo := bootstrap.Options{Dial: dial, Log: a.log}

	if plan.rehome > 0 {
		step(plan.rehome)
		rh := backup.PlanRehome(inv, node, raftAddr, self.Info.Swarm.NodeAddr)
		if !rh.Needed {
			say("[%s] nothing to move: %s", node, rh.Why)
		} else if err := rehomeRaft(ctx, a, inv, rh, selfID, api, bo, say); err != nil {
			return nil, fmt.Errorf("step %d: %w", plan.rehome, err)
		}
	}

	if plan.join > 0 {
		step(plan.join)
		if _, err := bootstrap.Run(ctx, inv, bo, newNodePrinter(a.stderr, inv)); err != nil {
			return nil, fmt.Errorf("step %d: join the other nodes: %w (the swarm runs with the managers joined so far; `shoal bootstrap` joins the rest)", plan.join, err)
		}
	}

	step(plan.wait)
	x, err := drexec.New(inv.Path, node, drexec.Options{Dial: dial, Progress: a.stderr, Log: a.log, Converge: converge})
	if err != nil {
		return nil, err
	}
	return x.CheckServices(ctx)
}

// printRestored reports the services of a restored cluster and, for a
// stack, its webhook check.
func printRestored(a *app, cluster, node string, svcs []dr.Service, hooks *dr.WebhookReport) error {
	if a.json() {
		doc := map[string]any{"cluster": cluster, "restored_on": node, "services": svcs}
		if hooks != nil {
			doc["webhooks"] = hooks
		}
		return writeJSON(a.stdout, doc)
	}
	fmt.Fprintf(a.stdout, "services (%d), with the IDs they had:\n", len(svcs))
	for _, s := range svcs {
		fmt.Fprintf(a.stdout, "  %s  %s  %d/%d\n", s.ID, s.Name, s.Running, s.Desired)
	}
	if hooks != nil {
		printWebhookReport(a.stdout, *hooks)
	}
	return nil
}

// leaveLostSwarm makes each surviving worker leave the swarm it is in
// (the lost one) and returns their node IDs in it.
func leaveLostSwarm(ctx context.Context, inv *inventory.Inventory, survivors []string, dial remote.DialOptions, say func(string, ...any)) (map[string]bool, error) {
	left := map[string]bool{}
	for _, name := range survivors {
		n, _ := inv.Node(name)
		conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
		if err != nil {
			return left, err
		}
		err = func() error {
			defer conn.Close()
			api, err := conn.Docker(ctx)
			if err != nil {
				return err
			}
			defer api.Close()
			info, err := api.Info(ctx, client.InfoOptions{})
			if err != nil {
				return fmt.Errorf("%s: docker info: %w", name, err)
			}
			if info.Info.Swarm.LocalNodeState == swarmtypes.LocalNodeStateInactive {
				say("[%s] surviving worker, in no swarm", name)
				return nil
			}
			say("[%s] surviving worker: leaving the lost swarm (node %s, %s)", name, info.Info.Swarm.NodeID, info.Info.Swarm.LocalNodeState)
			if _, err := api.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
				return fmt.Errorf("%s: swarm leave --force: %w", name, err)
			}
			left[info.Info.Swarm.NodeID] = true
			return nil
		}()
		if err != nil {
			return left, err
		}
	}
	return left, nil
}

// ensureEngine installs or starts Docker Engine on a new server that has
// none running, as bootstrap's host preparation does, without any swarm
// step: the raft state goes in before the engine joins anything.
func ensureEngine(ctx context.Context, conn *remote.Conn, say func(string, ...any)) error {
	rep, err := host.Observe(ctx, conn, host.Options{})
	if err != nil {
		return err
	}
	if rep.Facts.Running() {
		return nil
	}
	for _, act := range rep.Plan.Actions {
		say("[%s] %s", conn.Target().Name, act.Name)
	}
	return host.Apply(ctx, conn, &rep)
}

// rehomeRaft moves the restored manager's raft address from rh.Old to
// rh.New: backup.RunRehome decides the order, rehomeExec does each step
// over SSH and the helper's Docker API.
func rehomeRaft(ctx context.Context, a *app, inv *inventory.Inventory, rh backup.Rehome, restoredID string, restored *client.Client, bo bootstrap.Options, say func(string, ...any)) error {
	start := time.Now()
	hn, _ := inv.Node(rh.Helper)
	hc, err := remote.Dial(ctx, bootstrap.Target(inv, hn), bo.Dial)
	if err != nil {
		return fmt.Errorf("reach %s to help move %s's raft address: %w (the swarm runs on %s alone, raft address %s)", rh.Helper, rh.Node, err, rh.Node, rh.Old)
	}
	defer hc.Close()
	x := &rehomeExec{a: a, inv: inv, rh: rh, bo: bo, conn: hc, restored: restored, ids: map[string]string{rh.Node: restoredID}}
	defer x.close()
	if err := backup.RunRehome(ctx, rh, x, say); err != nil {
		return err
	}
	say("[%s] every manager's raft address is a new server's (moved in %s)", rh.Node, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// rehomeExec is backup.RehomeExec on the helper's SSH connection and,
// once it is a manager, its Docker API; the restored manager's Docker API
// watches while the helper's role changes.
type rehomeExec struct {
	a        *app
	inv      *inventory.Inventory
	rh       backup.Rehome
	bo       bootstrap.Options
	conn     *remote.Conn
	api      *client.Client // the helper's
	restored *client.Client
	ids      map[string]string // node name -> swarm node ID
}

func (x *rehomeExec) close() {
	if x.api != nil {
		x.api.Close()
	}
}

// via is the Docker API of the manager that stays one while node's role
// changes: a worker's engine cannot list nodes.
func (x *rehomeExec) via(node string) *client.Client {
	if node == x.rh.Helper {
		return x.restored
	}
	return x.api
}

func (x *rehomeExec) AddRule(ctx context.Context) error {
	_, err := x.conn.Run(ctx, x.rh.DNATCmd(true))
	return err
}

func (x *rehomeExec) RemoveRule(ctx context.Context) error {
	_, err := x.conn.Run(ctx, x.rh.DNATCmd(false))
	return err
}

// JoinHelper runs bootstrap on the restored manager and the helper only,
// the helper as a manager whatever its role in the inventory.
func (x *rehomeExec) JoinHelper(ctx context.Context) error {
	rn, _ := x.inv.Node(x.rh.Node)
	hn, _ := x.inv.Node(x.rh.Helper)
	hn.Role = inventory.RoleManager
	sub := *x.inv
	sub.Nodes = []inventory.Node{rn, hn}
	if _, err := bootstrap.Run(ctx, &sub, x.bo, newNodePrinter(x.a.stderr, &sub)); err != nil {
		return err
	}
	api, err := x.conn.Docker(ctx)
	if err != nil {
		return err
	}
	x.api = api
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("%s: docker info: %w", x.rh.Helper, err)
	}
	x.ids[x.rh.Helper] = info.Info.Swarm.NodeID
	return nil
}

func (x *rehomeExec) Demote(ctx context.Context, node string) error {
	if err := setNodeRole(ctx, x.via(node), x.ids[node], swarmtypes.NodeRoleWorker); err != nil {
		return err
	}
	leader := x.ids[x.rh.Helper]
	if node == x.rh.Helper {
		leader = x.ids[x.rh.Node]
	}
	return waitNodes(ctx, x.via(node), 2*time.Minute, func(ns []swarmtypes.Node) (bool, string) {
		return demotedUnder(ns, x.ids[node], leader)
	})
}

func (x *rehomeExec) Promote(ctx context.Context, node string) error {
	if err := setNodeRole(ctx, x.via(node), x.ids[node], swarmtypes.NodeRoleManager); err != nil {
		return err
	}
	return waitNodes(ctx, x.via(node), 3*time.Minute, func(ns []swarmtypes.Node) (bool, string) {
		return reachableAt(ns, x.ids[node], x.rh.New)
	})
}

// CheckAddrs reads the node list from the helper, the manager that led
// through the move: the restored manager, just promoted, may still answer
// "Manager is being prepared" for a moment. Transient errors are retried
// for a minute.
func (x *rehomeExec) CheckAddrs(ctx context.Context) error {
	var want []string
	for _, n := range x.inv.Nodes {
		want = append(want, swarm.AdvertiseAddr(x.inv, n))
	}
	want = append(want, x.rh.New)
	api, who := x.api, x.rh.Helper
	if api == nil {
		api, who = x.restored, x.rh.Node
	}
	if err := waitNodes(ctx, api, time.Minute, func(ns []swarmtypes.Node) (bool, string) {
		if bad := backup.StaleRaftAddrs(ns, want); len(bad) > 0 {
			return false, "raft addresses not of the new servers: " + joinComma(bad)
		}
		return true, ""
	}); err != nil {
		return fmt.Errorf("%s's node list: %w", who, err)
	}
	return nil
}

// setNodeRole sets node id's role in its spec (retried on a version
// conflict: swarm.UpdateNode).
func setNodeRole(ctx context.Context, api *client.Client, id string, role swarmtypes.NodeRole) error {
	return swarm.UpdateNode(ctx, api, id, func(s *swarmtypes.NodeSpec) { s.Role = role })
}

// waitNodes polls the node list until done says so, at most within.
func waitNodes(ctx context.Context, api *client.Client, within time.Duration, done func([]swarmtypes.Node) (bool, string)) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	last := "no answer yet"
	for {
		res, err := api.NodeList(wctx, client.NodeListOptions{})
		if err != nil {
			last = err.Error()
		} else if ok, why := done(res.Items); ok {
			return nil
		} else {
			last = why
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("not within %s: %s", within, last)
		case <-time.After(time.Second):
		}
	}
}

// demotedUnder tells whether node id is no manager any more and leader
// leads.
func demotedUnder(ns []swarmtypes.Node, id, leader string) (bool, string) {
	for _, n := range ns {
		if n.ID == id && n.ManagerStatus != nil {
			return false, "still a manager (" + string(n.ManagerStatus.Reachability) + ")"
		}
		if n.ID == leader && (n.ManagerStatus == nil || !n.ManagerStatus.Leader) {
			return false, "the helper does not lead yet"
		}
	}
	return true, ""
}

// reachableAt tells whether node id is a reachable manager with raft
// address addr.
func reachableAt(ns []swarmtypes.Node, id, addr string) (bool, string) {
	for _, n := range ns {
		if n.ID != id {
			continue
		}
		switch {
		case n.ManagerStatus == nil:
			return false, "not a manager yet"
		case n.ManagerStatus.Reachability != swarmtypes.ReachabilityReachable:
			return false, "manager, " + string(n.ManagerStatus.Reachability)
		case n.ManagerStatus.Addr != addr:
			return false, "raft address " + n.ManagerStatus.Addr + ", not " + addr
		}
		return true, ""
	}
	return false, "not in the node list"
}
