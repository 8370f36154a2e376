package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Verb groups of the root help. Every verb belongs to one (a test checks),
// so `shoal --help` lists each registered verb under its group.
var verbGroups = []*cobra.Group{
	{ID: "pulumi", Title: "A cluster from a Pulumi stack (servers, firewalls, swarm):"},
	{ID: "hosts", Title: "A cluster from hosts you have (an inventory):"},
	{ID: "run", Title: "On the running cluster:"},
	{ID: "deploy", Title: "Deploys of your apps (from a laptop or CI):"},
	{ID: "lab", Title: "On this machine:"},
	{ID: "other", Title: "Other:"},
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoal",
		Short: "Docker Swarm on cheap VPSes across hosters, without the 3 a.m. surprises",
		Long: `shoal turns a handful of VPSes at several hosters into a Docker Swarm whose
managers survive the loss of any one hoster, and tells the truth about it.

Which cluster: --inventory FILE, else $SHOAL_INVENTORY, else ./inventory.yaml,
else the inventory of the last ` + "`shoal up`" + ` or ` + "`shoal lab up`" + `.

Exit codes: 0 done or nothing to do, 1 failed (the message says what is left),
2 bad usage or invalid input (nothing touched), 3 refused by a safety rule or
the operator (nothing touched), 4 --dry-run or preview found work to do.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.inventory, "inventory", "i", "", "inventory file (default: $SHOAL_INVENTORY, ./inventory.yaml, or the last lab)")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json (json: one document on stdout)")
	f.BoolVarP(&a.verbose, "verbose", "v", false, "log each remote command (secrets redacted) and other debug lines")
	f.StringVar(&a.home, "home", "", "where shoal keeps its state (default $SHOAL_HOME or ~/.shoal)")

	root.AddGroup(verbGroups...)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("pulumi", newInitCmd(a), newUpCmd(a), newPreviewCmd(a), newDestroyCmd(a), newRefreshCmd(a))
	add("hosts", newBootstrapCmd(a), newStatusCmd(a))
	add("run", newStackCmd(a), newVaultCmd(a), newHealCmd(a), newNodeCmd(a), newBackupCmd(a), newDRCmd(a))
	add("deploy", newDeployCmd(a), newRollbackCmd(a), newReleasesCmd(a), newCICmd(a))
	add("lab", newLabCmd(a))
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	applyConventions(root)
	// `shoal stacks --help` or `shoal lab upp --help`: cobra would print the
	// help of the deepest command it found (the root's, lab's) and exit 0, as
	// if the verb existed. An unknown verb is a usage error with or without
	// --help.
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c.HasSubCommands() {
			if err := subVerbArgs(c, c.Flags().Args()); err != nil {
				a.helpErr = err
				return
			}
		}
		help(c, args)
	})
	return root
}

// applyConventions gives every command of the tree the CLI's rules, so no
// verb can forget one: a usage error (unknown flag, missing or extra
// argument) exits 2 and points at the help; a command with sub-verbs
// rejects an unknown one with suggestions (exit 2) instead of printing help
// and exiting 0.
func applyConventions(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath()))
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			c.Args = subVerbArgs
			if c.RunE == nil { // a verb of its own (`shoal heal`) keeps it
				c.RunE = missingSubVerb
			}
		} else if c.Args != nil {
			check := c.Args
			c.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return withCode(exitUsage, fmt.Errorf("%s: %w (usage: %s)", c.CommandPath(), err, c.UseLine()))
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// subVerbArgs rejects an unknown sub-verb, naming the close ones.
func subVerbArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown verb %q for %s", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(quoteAll(c.CommandPath(), s), " or ") + "?"
	}
	return withCode(exitUsage, fmt.Errorf("%s (verbs: %s)", msg, strings.Join(subVerbs(c), ", ")))
}

// missingSubVerb runs for a bare command with sub-verbs: the root prints its
// help (how a user starts), a group such as `shoal lab` says which verbs it
// has (exit 2).
func missingSubVerb(c *cobra.Command, _ []string) error {
	if !c.HasParent() {
		return c.Help()
	}
	return withCode(exitUsage, errors.New(c.CommandPath()+" needs a verb: "+strings.Join(subVerbs(c), ", ")+
		" (see `"+c.CommandPath()+" --help`)"))
}

func subVerbs(c *cobra.Command) []string {
	var out []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			out = append(out, s.Name())
		}
	}
	return out
}

func quoteAll(prefix string, verbs []string) []string {
	out := make([]string, len(verbs))
	for i, v := range verbs {
		out[i] = "`" + prefix + " " + v + "`"
	}
	return out
}
