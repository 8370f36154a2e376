package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/lab"
)

func newLabCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "A cluster whose VPSes are containers on the local Docker Engine",
		Long: `lab simulates VPSes at three hosters with Docker-in-Docker containers on the local
Docker Engine: each "VPS" runs a real sshd and dockerd, and shoal reaches it over
SSH exactly as it reaches a real server. Nothing leaves this machine.`,
	}
	cmd.AddCommand(newLabUpCmd(a), newLabDownCmd(a))
	return cmd
}

type labUpFlags struct {
	name              string
	managers, workers int
	hosters           []string
	fresh             bool
	foreign           bool
	image             string
	noBootstrap       bool
}

func newLabUpCmd(a *app) *cobra.Command {
	var fl labUpFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create lab VPSes, bootstrap them into a swarm and show its status",
		Long: `up builds the lab node image once (debootstrap + docker import, cached by recipe),
creates the VPS containers (managers spread one per simulated hoster, workers
round-robin), injects a fresh SSH key, writes an inventory for them to
$SHOAL_HOME/lab/NAME/inventory.yaml, and runs the same code as ` + "`shoal bootstrap`" + `
on it. Containers left from an earlier lab of the same name are removed first.
Afterwards a bare ` + "`shoal status`" + ` or ` + "`shoal bootstrap`" + ` works on this lab.`,
		Example: `  shoal lab up                          # 3 managers on 3 hosters + 2 workers, lab lab-<id>
  shoal lab up --managers 1 --workers 0
  shoal lab up --fresh                  # VPSes without Docker: bootstrap installs it
  shoal lab up --foreign                # servers as a hoster hands them over (user admin, port 2222)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLabUp(cmd, a, fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.name, "name", "", "lab name (containers are shoal-NAME-NODE; default lab-<id of $SHOAL_HOME>, so two SHOAL_HOMEs never share a lab)")
	f.IntVar(&fl.managers, "managers", 3, "number of managers (odd)")
	f.IntVar(&fl.workers, "workers", 2, "number of workers")
	f.StringSliceVar(&fl.hosters, "hosters", []string{"hoster-a", "hoster-b", "hoster-c"}, "simulated hosters")
	f.BoolVar(&fl.fresh, "fresh", false, "VPSes without Docker, so bootstrap installs it (slower: apt)")
	f.BoolVar(&fl.foreign, "foreign", false, "servers as an earlier admin hands them over: login admin with sudo, sshd on 2222, no root login, docker.io started by /etc/init.d/docker")
	f.StringVar(&fl.image, "image", "", "node image to use instead of building one")
	f.BoolVar(&fl.noBootstrap, "no-bootstrap", false, "only create the VPSes and the inventory")
	return cmd
}

func localDocker() (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connect to the local Docker Engine: %w", err)
	}
	return c, nil
}

func runLabUp(cmd *cobra.Command, a *app, fl labUpFlags) error {
	if fl.managers < 1 || fl.managers%2 == 0 {
		return withCode(exitUsage, fmt.Errorf("--managers must be odd (1, 3, 5, 7), got %d", fl.managers))
	}
	if fl.workers < 0 {
		return withCode(exitUsage, fmt.Errorf("--workers must be 0 or more, got %d", fl.workers))
	}
	fl.name = a.labName(fl.name)
	ctx := cmd.Context()
	docker, err := localDocker()
	if err != nil {
		return err
	}
	defer docker.Close()
	variant := lab.VariantDocker
	switch {
	case fl.fresh && fl.foreign:
		return withCode(exitUsage, fmt.Errorf("--fresh and --foreign exclude each other"))
	case fl.fresh:
		variant = lab.VariantFresh
	case fl.foreign:
		variant = lab.VariantForeign
	}
	dir := filepath.Join(a.home, "lab", fl.name)
	l, err := lab.Up(ctx, docker, lab.Options{
		Name: fl.name, Managers: fl.managers, Workers: fl.workers, Hosters: fl.hosters,
		Variant: variant, Image: fl.image, Dir: dir,
	}, a.stderr)
	if err != nil {
		return err
	}
	inv, path, err := writeLabInventory(a, l)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "lab %s: %d VPSes up, inventory %s\n", l.Name, len(l.Nodes), path)
	if _, err := inv.Validate(); err != nil {
		return withCode(exitUsage, err)
	}
	if fl.noBootstrap {
		return nil
	}
	if err := runBootstrap(cmd, a, inv, bootstrapFlags{yes: true, parallel: 16}); err != nil {
		return err
	}
	if a.json() {
		return nil // bootstrap printed its document
	}
	fmt.Fprintln(a.stdout)
	dial, closer, err := bootstrap.DialOptions(inv)
	if err != nil {
		return err
	}
	defer closer.Close()
	dial.Logger = a.log
	st, err := bootstrap.Status(ctx, inv, dial, newNodePrinter(discard{}, inv))
	if err != nil {
		return err
	}
	printStatus(a.stdout, st)
	return nil
}

// writeLabInventory writes the lab's inventory and makes it the one a bare
// command uses. The lab's VPSes are new machines with new host keys, so the
// lab's known_hosts starts empty.
func writeLabInventory(a *app, l *lab.Lab) (*inventory.Inventory, string, error) {
	inv := LabInventory(l)
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("write lab inventory: %w", err)
	}
	if err := os.Remove(inv.SSH.KnownHosts); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("reset lab known_hosts: %w", err)
	}
	b, err := inventory.Marshal(inv)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(l.Dir, "inventory.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, "", fmt.Errorf("write lab inventory: %w", err)
	}
	inv.Path = path
	if err := os.WriteFile(a.currentPointer(), []byte(path+"\n"), 0o600); err != nil {
		return nil, "", fmt.Errorf("remember current inventory: %w", err)
	}
	return inv, path, nil
}

// LabInventory describes a lab's VPSes as an inventory.
func LabInventory(l *lab.Lab) *inventory.Inventory {
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: l.Name, DataPathPort: 4789},
		SSH: inventory.SSH{User: l.Variant.SSHUser(), Port: l.Variant.SSHPort(), IdentityFile: l.KeyPath,
			KnownHosts: filepath.Join(l.Dir, "known_hosts")},
	}
	for _, n := range l.Nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{
			Name: n.Name, Address: n.Address, Role: string(n.Role), Hoster: n.Hoster, Region: n.Region,
		})
	}
	return inv
}

func newLabDownCmd(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the lab's VPS containers and network",
		Long: `down removes every container and network labelled as belonging to the lab, with
their data. It touches nothing else on the Docker Engine.`,
		Example: `  shoal lab down
  shoal lab down --name ci-1234`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docker, err := localDocker()
			if err != nil {
				return err
			}
			defer docker.Close()
			name = a.labName(name)
			if err := lab.Down(cmd.Context(), docker, name, a.stderr); err != nil {
				return err
			}
			// Forget the lab as the current inventory.
			dir := filepath.Join(a.home, "lab", name)
			if b, err := os.ReadFile(a.currentPointer()); err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), dir+string(filepath.Separator)) {
				_ = os.Remove(a.currentPointer())
			}
			fmt.Fprintf(a.stdout, "lab %s removed\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "lab name (default lab-<id of $SHOAL_HOME>, as for `lab up`)")
	return cmd
}

// labName is the lab a verb works on: the one named, else this home's
// default, lab-<id of $SHOAL_HOME> (lab.HomeID): labs share the machine's
// Docker Engine, and two shoal homes must not share one by accident.
func (a *app) labName(name string) string {
	if name != "" {
		return name
	}
	return "lab-" + lab.HomeID(a.home)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
