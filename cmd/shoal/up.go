package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/spf13/cobra"

	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/stacks"
)

//go:embed defaults/Pulumi.yaml
var builtInProject []byte

//go:embed defaults/Pulumi.local.yaml
var builtInLocalStack []byte

// builtIn is shoal's own project (copies of the repository's Pulumi.yaml
// and Pulumi.local.yaml, kept equal by a test), used outside a project
// directory.
func builtIn() automation.BuiltIn {
	return automation.BuiltIn{Project: builtInProject, Stacks: map[string][]byte{"local": builtInLocalStack}}
}

// stackFlags are shared by up, preview, destroy and refresh.
type stackFlags struct {
	stack   string
	dir     string
	backend string
	yes     bool
}

func addStackFlags(cmd *cobra.Command, fl *stackFlags) {
	cmd.Flags().StringVarP(&fl.stack, "stack", "s", "local", "Pulumi stack (its config is Pulumi.<stack>.yaml)")
	cmd.Flags().StringVar(&fl.dir, "dir", "", "project directory with Pulumi.<stack>.yaml, read and never written (default: . if it has a Pulumi.yaml, else shoal's built-in project and its local stack)")
	cmd.Flags().StringVar(&fl.backend, "backend", "", "Pulumi state backend URL (default $PULUMI_BACKEND_URL, else a file backend in $SHOAL_HOME/pulumi/state)")
}

// stackOptions is how every verb opens a stack: the project's files read
// from --dir, state and the local stack's key under $SHOAL_HOME.
func (a *app) stackOptions(fl stackFlags, stack string, progress io.Writer) (automation.Options, error) {
	self, err := os.Executable()
	if err != nil {
		return automation.Options{}, fmt.Errorf("find the shoal executable (it serves the provider): %w", err)
	}
	suffix := a.localSuffix()
	return automation.Options{
		Home: a.home, Stack: stack, Dir: fl.dir, Backend: fl.backend, Self: self, BuiltIn: builtIn(), Progress: progress,
		Program: func(o infra.Options) pulumi.RunFunc {
			o.LocalSuffix = suffix
			return infra.ProgramWith(o)
		},
	}, nil
}

// localSuffix is the lab name suffix of local pools: the operator's
// lab.HomeID, handed to the heal service as it is.
func (a *app) localSuffix() string {
	if a.labSuffix != "" {
		return a.labSuffix
	}
	return lab.HomeID(a.home)
}

// openStack opens the stack; a config that fails the checks made before
// anything exists is bad input (exit 2).
func (a *app) openStack(cmd *cobra.Command, fl stackFlags) (*automation.Workspace, error) {
	o, err := a.stackOptions(fl, fl.stack, a.stderr) // stdout carries only results (and the JSON document)
	if err != nil {
		return nil, err
	}
	return automation.Open(cmd.Context(), o)
}

type pulumiStackJSON struct {
	Stack   string             `json:"stack"`
	Changes automation.Changes `json:"changes"`
	Nodes   []outputNode       `json:"nodes,omitempty"`
}

func (a *app) reportChanges(verb, stack string, c automation.Changes, nodes []outputNode) error {
	if a.json() {
		return json.NewEncoder(a.stdout).Encode(pulumiStackJSON{Stack: stack, Changes: c, Nodes: nodes})
	}
	if c.None() {
		fmt.Fprintf(a.stdout, "%s %s: no resource changes (%s)\n", verb, stack, c)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, stack, c)
	return nil
}

func newUpCmd(a *app) *cobra.Command {
	var fl stackFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the cluster described by the Pulumi stack (same program as `pulumi up`)",
		Long: `up runs shoal's Pulumi program through the Automation API: it creates the VPSes at
each hoster with their SSH keys and firewalls, then converges the swarm on them
(the same plan/execute code as ` + "`shoal bootstrap`" + `). A second run reports no
resource changes. Nodes removed from the config leave the swarm before their
servers are deleted.

As ` + "`pulumi up`" + ` does, it first shows what would change and asks on the
terminal; --yes applies without the question. Without a terminal and without
--yes it refuses (exit 3) and touches nothing.

The project is the directory's Pulumi.yaml (its config schema and defaults
apply) and the stack's config is Pulumi.<stack>.yaml beside it; shoal reads both
and writes neither. Outside a project directory, the default stack "local"
uses the built-in copy of this repository's Pulumi.local.yaml: its VPSes are
containers on the local Docker Engine (three simulated hosters with one
manager each), and its SSH key is generated once and kept in
$SHOAL_HOME/stacks/local. Secrets (hoster tokens, the SSH private key, join
tokens, the unlock key) live in Pulumi's encrypted config and state; the local
passphrase is kept in $SHOAL_HOME/pulumi/passphrase unless
PULUMI_CONFIG_PASSPHRASE is set.

Afterwards ` + "`shoal status`" + ` works on the cluster without more flags.`,
		Example: `  shoal up --yes                 # the local stack, no question
  shoal up --stack prod          # Pulumi.prod.yaml in the current directory: preview, then asks`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.mayAsk("up", fl); err != nil {
				return err
			}
			svc, err := a.healService(fl)
			if err != nil {
				return err
			}
			w, err := a.openStack(cmd, fl)
			if err != nil {
				return err
			}
			if !fl.yes {
				planned, err := w.Preview(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "up %s would change: %s\n", fl.stack, planned)
				if !planned.None() && !a.confirm(fmt.Sprintf("apply these changes to stack %s?", fl.stack)) {
					return withCode(exitRefused, fmt.Errorf("up %s not confirmed: nothing changed", fl.stack))
				}
			}
			changes, outputs, err := w.Up(cmd.Context(), nil)
			if err != nil {
				return err
			}
			nodes, err := automation.OutputNodes(outputs)
			if err != nil {
				return err
			}
			if err := a.writeStackInventory(w, outputs); err != nil {
				return err
			}
			did, err := a.syncHealService(cmd.Context(), w, fl, svc, outputs)
			if err != nil {
				return err
			}
			for _, name := range []string{stacks.HealStackName, stacks.BackupStackName} {
				if did[name] != "" {
					fmt.Fprintf(a.stderr, "heal service %s: %s\n", name, did[name])
				}
			}
			return a.reportChanges("up", fl.stack, changes, nodes)
		},
	}
	addStackFlags(cmd, &fl)
	cmd.Flags().BoolVarP(&fl.yes, "yes", "y", false, "apply without showing the preview and asking")
	return cmd
}

// mayAsk refuses, before anything is opened, a verb that would have to ask
// when there is no terminal to ask on and --yes was not given.
func (a *app) mayAsk(verb string, fl stackFlags) error {
	if fl.yes || a.interactive() {
		return nil
	}
	return withCode(exitRefused, fmt.Errorf("%s %s: no terminal to ask on, and --yes not given: nothing done (pass --yes to go ahead unasked)", verb, fl.stack))
}

func newPreviewCmd(a *app) *cobra.Command {
	var fl stackFlags
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Show what `shoal up` would change, changing nothing",
		Long: `preview runs the program and asks every resource what it would do. Spec
validation (odd managers, no hoster able to break quorum, unknown shoal:* keys)
fails here, naming the config key, before the stack is created in the backend.
Exit 4 when there are changes, 0 when none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.openStack(cmd, fl)
			if err != nil {
				return err
			}
			changes, err := w.Preview(cmd.Context())
			if err != nil {
				return err
			}
			if err := a.reportChanges("preview", fl.stack, changes, nil); err != nil {
				return err
			}
			if !changes.None() {
				return withCode(exitWork, errors.New(""))
			}
			return nil
		},
	}
	addStackFlags(cmd, &fl)
	return cmd
}

func newDestroyCmd(a *app) *cobra.Command {
	var fl stackFlags
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Remove every node from the swarm, then delete the servers",
		Long: `destroy deletes every resource of the stack: first the swarm resource (each
node leaves the swarm), then the servers. As ` + "`pulumi destroy`" + ` does, it
first shows what would be deleted and asks on the terminal; --yes deletes
without the question. Without a terminal and without --yes it refuses (exit 3)
and touches nothing.`,
		Example: `  shoal destroy --yes            # the local stack
  shoal destroy --stack prod     # shows what goes, then asks`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.mayAsk("destroy", fl); err != nil {
				return err
			}
			w, err := a.openStack(cmd, fl)
			if err != nil {
				return err
			}
			if !fl.yes {
				planned, err := w.PreviewDestroy(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "destroy %s would change: %s\n", fl.stack, planned)
				if !planned.None() && !a.confirm(fmt.Sprintf("delete every server and the swarm of stack %s?", fl.stack)) {
					return withCode(exitRefused, fmt.Errorf("destroy %s not confirmed: nothing deleted", fl.stack))
				}
			}
			if err := a.removeHealService(cmd.Context(), fl.stack); err != nil {
				return err
			}
			changes, err := w.Destroy(cmd.Context())
			if err != nil {
				return err
			}
			a.forgetStackInventory(fl.stack)
			return a.reportChanges("destroy", fl.stack, changes, nil)
		},
	}
	addStackFlags(cmd, &fl)
	cmd.Flags().BoolVarP(&fl.yes, "yes", "y", false, "delete without showing the preview and asking")
	return cmd
}

func newRefreshCmd(a *app) *cobra.Command {
	var fl stackFlags
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Read the real state of servers and swarm into the Pulumi state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.openStack(cmd, fl)
			if err != nil {
				return err
			}
			changes, err := w.Refresh(cmd.Context())
			if err != nil {
				return err
			}
			return a.reportChanges("refresh", fl.stack, changes, nil)
		},
	}
	addStackFlags(cmd, &fl)
	return cmd
}

// outputNode is one entry of the program's `nodes` stack output.
type outputNode = automation.OutputNode

// writeStackInventory writes an inventory of the stack's nodes and its
// known_hosts from the outputs (automation.Workspace.WriteInventory) and
// makes it the current one.
func (a *app) writeStackInventory(w *automation.Workspace, outputs auto.OutputMap) error {
	path, err := w.WriteInventory(outputs)
	if err != nil {
		return err
	}
	return os.WriteFile(a.currentPointer(), []byte(path+"\n"), 0o600)
}

func (a *app) forgetStackInventory(stack string) {
	path := automation.InventoryPath(a.home, stack)
	_ = os.Remove(path)
	if b, err := os.ReadFile(a.currentPointer()); err == nil && string(b) == path+"\n" {
		_ = os.Remove(a.currentPointer())
	}
}
