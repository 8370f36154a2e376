package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/dr/drexec"
	"github.com/shoalops/shoal/lab"
)

type drRestoreFlags struct {
	from, identity   string
	lab, dryRun, yes bool
	converge         time.Duration
}

func newDRRestoreCmd(a *app) *cobra.Command {
	var fl drRestoreFlags
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Bring a cluster back from a backup after every manager is lost",
		Long: `restore rebuilds a cluster whose managers are all lost from a backup made by
` + "`shoal backup`" + `. It decrypts the backup (--identity), checks it whole, and
reads the inventory it holds (names, roles, hosters, labels). Then:

  1. new servers for every node of that inventory (on a lab, --lab: new lab
     VPSes with the same names at the same hosters, made one at a time so
     that each gets its old address again: the re-formed swarm keeps the
     copied manager's raft address; their host keys are pinned from the
     Docker Engine, and the inventory is written again)
  2. the raft state of the backup is put onto the manager it was copied
     from, and the swarm is re-formed there (swarm init
     --force-new-cluster with its new advertise address): services,
     networks, configs and secrets come back with their IDs, secrets with
     their values
  3. the entries of the lost nodes are removed
  4. the other managers and the workers join, as ` + "`shoal bootstrap`" + ` joins them
  5. it waits until the managers have quorum and every service runs

It refuses (exit 3) while any node of the lab still runs: a cluster with a
surviving manager is ` + "`shoal dr recover`" + `'s work. Restoring onto new servers
of a plain inventory or of a ` + "`shoal up`" + ` stack is not built yet (exit 2):
restore onto a lab with --lab, or follow Docker's manual restore on one new
manager that has the copied manager's address (unpack the backup's
swarm.tar.gz into the data root, start Docker, swarm init
--force-new-cluster), then run ` + "`shoal bootstrap`" + `.

--dry-run checks the backup and prints the steps (exit 4). Without --yes the
plan is confirmed on the terminal; without a terminal it refuses (exit 3).`,
		Example: `  shoal dr restore --lab --from /var/backups/shoal/lab-20261203T070000Z.backup.age --identity backup.key --dry-run
  shoal dr restore --lab --from 's3://backups/lab/lab-20261203T070000Z.backup.age?endpoint=http://10.0.0.5:7070' --identity backup.key --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDRRestore(cmd, a, fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.from, "from", "", "the backup: a file, file://PATH or s3://BUCKET/KEY (as `shoal backup` printed it)")
	f.StringVar(&fl.identity, "identity", "", "age identity file (the private key) that opens the backup")
	f.BoolVar(&fl.lab, "lab", false, "restore onto new lab VPSes (the only target built so far)")
	f.BoolVar(&fl.dryRun, "dry-run", false, "check the backup and print the steps; change nothing")
	f.BoolVarP(&fl.yes, "yes", "y", false, "restore without asking")
	f.DurationVar(&fl.converge, "converge-within", 4*time.Minute, "how long to wait for every service to run again")
	return cmd
}

// restoreSteps are the steps of a restore of the cluster of inv from a
// backup copied from node: what the plan prints.
func restoreSteps(inv *inventory.Inventory, node string) []string {
	var names []string
	for _, n := range inv.Nodes {
		names = append(names, fmt.Sprintf("%s (%s at %s)", n.Name, n.Role, n.Hoster))
	}
	steps := []string{
		fmt.Sprintf("create %d new lab VPSes: %s, one at a time in the order of their old addresses (so each gets it again); pin their host keys; write the inventory with their addresses", len(inv.Nodes), joinComma(names)),
		fmt.Sprintf("put the backup's raft state onto %s and re-form the swarm there (swarm init --force-new-cluster, its new advertise address)", node),
		fmt.Sprintf("remove the entries of the lost nodes (every node but %s)", node),
	}
	var others []string
	for _, n := range inv.Nodes {
		if n.Name != node {
			others = append(others, n.Name)
		}
	}
	if len(others) > 0 {
		steps = append(steps, "join "+joinComma(others)+" with their roles and labels (as `shoal bootstrap` does)")
	}
	return append(steps, "wait until the managers have quorum and every service runs")
}

// compareAddr orders IPv4 addresses numerically (others after, by text).
func compareAddr(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	switch {
	case ea == nil && eb == nil:
		return pa.Compare(pb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func runDRRestore(cmd *cobra.Command, a *app, fl drRestoreFlags) error {
	ctx := cmd.Context()
	start := time.Now()
	if fl.from == "" {
		return withCode(exitUsage, errors.New("--from is required: the backup to restore (see `shoal backup`)"))
	}
	if !fl.lab {
		return withCode(exitUsage, errors.New("dr restore onto new servers of a plain inventory or a `shoal up` stack is not built yet: nothing was changed. Restore onto lab VPSes with --lab, or by hand: on one new manager with the copied manager's address, unpack the backup's swarm.tar.gz into Docker's data root, start Docker, run `docker swarm init --force-new-cluster`, then `shoal bootstrap`"))
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
	old, err := inventory.Parse(invPath, raw)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("the backup's inventory: %w", err))
	}
	if n, ok := old.Node(m.Node); !ok || n.Role != inventory.RoleManager {
		return withCode(exitUsage, fmt.Errorf("the backup's inventory does not list %s, whose raft state it holds, as a manager", m.Node))
	}
	fmt.Fprintf(a.stderr, "backup %s: whole; swarm %s of %s, raft state of %s taken %s (%d services, %d secrets)\n",
		fl.from, m.SwarmID, m.Cluster, m.Node, m.Taken.Format(time.RFC3339), len(m.Objects.Services), len(m.Objects.Secrets))

	docker, err := localDocker()
	if err != nil {
		return err
	}
	defer docker.Close()
	if l, ok, err := lab.Find(ctx, docker, m.Cluster); err != nil {
		return err
	} else if ok && len(l.Nodes) > 0 {
		var names []string
		for _, n := range l.Nodes {
			names = append(names, n.Name)
		}
		return withCode(exitRefused, fmt.Errorf("lab %s still has nodes (%s): dr restore is for a cluster that lost every manager; with a manager alive use `shoal dr recover`, or remove the nodes first: nothing was changed", m.Cluster, joinComma(names)))
	}

	steps := restoreSteps(old, m.Node)
	if !a.json() {
		fmt.Fprintf(a.stdout, "restore %s from %s in %d steps:\n", m.Cluster, fl.from, len(steps))
		for i, s := range steps {
			fmt.Fprintf(a.stdout, "  %d. %s\n", i+1, s)
		}
	}
	if fl.dryRun {
		return withCode(exitWork, errors.New(""))
	}
	if !fl.yes && !a.confirm(fmt.Sprintf("restore %s onto %d new lab VPSes?", m.Cluster, len(old.Nodes))) {
		return withCode(exitRefused, errors.New("dr restore not confirmed: nothing was changed"))
	}
	step := func(i int) { fmt.Fprintf(a.stderr, "step %d/%d: %s\n", i, len(steps), steps[i-1]) }

	// 1. New lab VPSes, in parallel; the inventory with their addresses.
	step(1)
	l := lab.Ref(m.Cluster, dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kh := filepath.Join(dir, "known_hosts")
	if err := os.Remove(kh); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// One at a time, in the order of their old addresses: Docker hands a
	// new container the lowest free address of the lab network, so each
	// gets the address it had. That matters: on Engine 20.10 the re-formed
	// swarm keeps the raft address the copied manager had, and raft traffic
	// to it must reach the restored node.
	nodes := make([]lab.Node, len(old.Nodes))
	errs := make([]error, len(old.Nodes))
	order := make([]int, len(old.Nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return compareAddr(old.Nodes[i].Address, old.Nodes[j].Address) })
	for _, i := range order {
		n := old.Nodes[i]
		role := lab.RoleWorker
		if n.Role == inventory.RoleManager {
			role = lab.RoleManager
		}
		nodes[i], errs[i] = lab.AddNode(ctx, docker, lab.Ref(m.Cluster, dir), lab.NodeSpec{Name: n.Name, Role: role, Hoster: n.Hoster, Region: n.Region}, labProgress(a))
		if errs[i] != nil {
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return withCode(exitFailed, fmt.Errorf("create the lab VPSes (remove them with `shoal lab down`): %w", err))
	}
	inv := *old
	inv.Nodes = slices.Clone(old.Nodes)
	inv.SSH = inventory.SSH{User: "root", Port: 22, IdentityFile: l.KeyPath, KnownHosts: kh}
	for i := range inv.Nodes {
		inv.Nodes[i].Address = nodes[i].Address
		inv.Nodes[i].AdvertiseAddress = ""
		key, err := nodes[i].HostPublicKey()
		if err != nil {
			return withCode(exitFailed, err)
		}
		if err := appendKnownHost(kh, nodes[i].Address, key); err != nil {
			return withCode(exitFailed, err)
		}
		fmt.Fprintf(a.stderr, "[%s %s] new lab VPS at %s (was %s)\n", nodes[i].Name, nodes[i].Hoster, nodes[i].Address, old.Nodes[i].Address)
		if old.Nodes[i].Name == m.Node && nodes[i].Address != old.Nodes[i].Address {
			fmt.Fprintf(a.stderr, "warning: %s did not get its old address %s: the re-formed swarm's raft address stays %s on Engine 20.10, and managers may fail to join\n", m.Node, old.Nodes[i].Address, old.Nodes[i].Address)
		}
	}
	inv.Path = invPath
	b, err := inventory.Marshal(&inv)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if err := os.WriteFile(invPath, b, 0o600); err != nil {
		return withCode(exitFailed, fmt.Errorf("write the inventory: %w", err))
	}
	if err := os.WriteFile(a.currentPointer(), []byte(invPath+"\n"), 0o600); err != nil {
		return withCode(exitFailed, err)
	}
	fmt.Fprintf(a.stderr, "inventory %s written with the new addresses\n", invPath)
	if err := restoreOnto(ctx, a, &inv, m.Node, c, steps, step, fl.converge); err != nil {
		return withCode(exitFailed, fmt.Errorf("%w (the lab's VPSes are left as they are: `shoal lab down --name %s` removes them)", err, m.Cluster))
	}
	fmt.Fprintf(a.stderr, "restored %s from %s in %s: quorum ok, every service runs\n", m.Cluster, fl.from, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// restoreOnto runs steps 2 to 5 on the new nodes of inv.
func restoreOnto(ctx context.Context, a *app, inv *inventory.Inventory, node string, c *backup.Contents, steps []string, step func(int), converge time.Duration) error {
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return err
	}
	defer closer.Close()
	dial.Logger = a.log
	say := func(f string, args ...any) { fmt.Fprintf(a.stderr, f+"\n", args...) }

	step(2)
	n, _ := inv.Node(node)
	conn, err := remote.Dial(ctx, bootstrap.Target(inv, n), dial)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := backup.RestoreSwarm(ctx, conn, c.Files[backup.SwarmFile], backup.RestoreOptions{
		Init: swarm.InitOptions(inv, n), UnlockKey: string(c.Files[backup.UnlockKeyFile]), Say: say}); err != nil {
		return err
	}

	step(3)
	api, err := conn.Docker(ctx)
	if err != nil {
		return err
	}
	defer api.Close()
	res, err := api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return fmt.Errorf("%s: node list: %w", node, err)
	}
	self, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	for _, e := range res.Items {
		if e.ID == self.Info.Swarm.NodeID {
			continue
		}
		name := swarm.NodeName(e.Spec.Labels, e.Description.Hostname)
		if e.Status.State == swarmtypes.NodeStateReady {
			return fmt.Errorf("%s (%s) is Ready in the restored swarm: a node of the lost cluster still runs; not removed", name, e.ID)
		}
		if _, err := api.NodeRemove(ctx, e.ID, client.NodeRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("remove the lost node %s (%s): %w", name, e.ID, err)
		}
		say("[%s] removed the entry of the lost node (%s)", name, e.ID)
	}

	if len(steps) == 5 {
		step(4)
		if _, err := bootstrap.Run(ctx, inv, bootstrap.Options{Dial: dial, Log: a.log}, newNodePrinter(a.stderr, inv)); err != nil {
			return fmt.Errorf("join the other nodes: %w", err)
		}
	}

	step(len(steps))
	x, err := drexec.New(inv.Path, node, drexec.Options{Dial: dial, Progress: a.stderr, Log: a.log, Converge: converge})
	if err != nil {
		return err
	}
	svcs, err := x.CheckServices(ctx)
	if err != nil {
		return err
	}
	if !a.json() {
		fmt.Fprintf(a.stdout, "services (%d), with the IDs they had:\n", len(svcs))
		for _, s := range svcs {
			fmt.Fprintf(a.stdout, "  %s  %s  %d/%d\n", s.ID, s.Name, s.Running, s.Desired)
		}
	} else {
		return writeJSON(a.stdout, map[string]any{"cluster": inv.Cluster.Name, "restored_on": node, "services": svcs})
	}
	return nil
}
