package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/node"
	"github.com/shoalops/shoal/infra/wire"
	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/deploy"
)

// DefaultHealImage is the heal image `shoal up` runs when shoal:heal.image
// names none: the one `shoal heal image` builds.
const DefaultHealImage = "shoal-heal:" + wire.Version

// clusterServices is what of shoal runs on the cluster as swarm services
// (ADR 0026, 0033): heal when shoal:heal.enabled; scheduled backups when
// shoal:backup.schedule is set, inside the heal service when heal runs
// there, else as the backup service.
type clusterServices struct {
	heal infra.HealService
	// backups is shoal:backup.schedule set.
	backups bool
}

// stacks are the shoal stacks that run (deploy) and those that do not
// (remove): pure.
func (s clusterServices) stacks() (run, remove []string) {
	switch {
	case s.heal.Enabled:
		return []string{stacks.HealStackName}, []string{stacks.BackupStackName}
	case s.backups:
		return []string{stacks.BackupStackName}, []string{stacks.HealStackName}
	}
	return nil, []string{stacks.HealStackName, stacks.BackupStackName}
}

// healService reads shoal:heal's service part and shoal:backup's schedule
// from the stack's files, before anything is opened, and refuses (exit 3,
// nothing changed) a state backend a service on the cluster cannot reach.
func (a *app) healService(fl stackFlags) (clusterServices, error) {
	o, err := a.stackOptions(fl, fl.stack, nil)
	if err != nil {
		return clusterServices{}, err
	}
	c, err := automation.ReadConfig(o)
	if err != nil {
		return clusterServices{}, nil // Open reports a bad config, naming the key
	}
	svc, err := infra.HealServiceOf(c)
	if err != nil {
		return clusterServices{}, nil // the same: Open refuses it
	}
	bk, err := infra.BackupOf(c)
	if err != nil {
		return clusterServices{}, withCode(exitUsage, err)
	}
	cs := clusterServices{heal: svc, backups: bk.Schedule != ""}
	if cs.heal.Enabled && cs.backups {
		pol, err := infra.HealPolicy(c)
		if err != nil {
			return cs, nil // Open refuses it, naming the key
		}
		if err := checkGraceForBackups(pol.Grace); err != nil {
			return cs, withCode(exitUsage, fmt.Errorf("up %s: %w", fl.stack, err))
		}
	}
	if run, _ := cs.stacks(); len(run) == 0 {
		return cs, nil
	}
	if err := stacks.CheckHealBackend(automation.BackendURL(o)); err != nil {
		if !svc.Enabled {
			err = fmt.Errorf("shoal:backup.schedule runs backups on the cluster, as heal runs there: %w", err)
		}
		return cs, withCode(exitRefused, fmt.Errorf("up %s refused, nothing was changed: %w", fl.stack, err))
	}
	return cs, nil
}

// syncHealService runs heal and scheduled backups on the cluster as the
// stack says after an up: it deploys or updates the heal stack
// (stacks.Heal) or the backup stack (stacks.Backup) through a manager, and
// removes the one that must not run. A second run with the same inputs
// changes nothing. It returns what it did per stack, for the report.
func (a *app) syncHealService(ctx context.Context, w *automation.Workspace, fl stackFlags, cs clusterServices, outputs auto.OutputMap) (map[string]string, error) {
	inv, err := inventory.Load(automation.InventoryPath(a.home, fl.stack))
	if err != nil {
		return nil, err
	}
	run, remove := cs.stacks()
	mgr, err := connectManager(ctx, a, inv)
	if err != nil && len(run) == 0 {
		// Nothing to run; one that may be left is removed next time.
		a.log.Warn("heal service: no manager to check for a heal or backup stack to remove", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heal service: %w", err)
	}
	defer mgr.Close()
	did := map[string]string{}
	for _, name := range remove {
		r, err := deploy.Remove(ctx, mgr.Docker, name, deploy.Options{})
		if err != nil {
			return did, fmt.Errorf("%s: remove: %w", name, err)
		}
		if !r.Empty() {
			did[name] = "removed"
		}
	}
	for _, name := range run {
		rendered, err := a.healStack(w, fl, cs.heal, outputs, name)
		if err != nil {
			return did, err
		}
		fmt.Fprintf(a.stderr, "%s: deploying through %s\n", rendered.Stack.Name, mgr.Node)
		res, err := deploy.Deploy(ctx, mgr.Docker, rendered.Stack, deploy.Options{
			// The image is used as written: a lab's or an air-gapped
			// registry's image has no digest to ask a public registry for.
			ResolveImage: deploy.ResolveNever,
			Progress:     deploy.ProgressFunc(func(s, msg string) { fmt.Fprintf(a.stderr, "[%s] %s\n", s, msg) }),
		})
		if err != nil {
			return did, fmt.Errorf("%s: %w", name, err)
		}
		did[name] = "unchanged"
		if res.Changed() {
			did[name] = "deployed"
		}
	}
	return did, nil
}

// healStack renders the heal stack from what this up used: the project's
// files, the backend, the passphrase, the S3 credentials of the
// environment and, for a stack with local pools, the generated key, the
// lab suffix and the lab's outer engine.
func (a *app) healStack(w *automation.Workspace, fl stackFlags, svc infra.HealService, outputs auto.OutputMap, name string) (stacks.Rendered, error) {
	o, err := a.stackOptions(fl, fl.stack, nil)
	if err != nil {
		return stacks.Rendered{}, err
	}
	pass, err := automation.Passphrase(a.home)
	if err != nil {
		return stacks.Rendered{}, err
	}
	nodes, err := automation.OutputNodes(outputs)
	if err != nil {
		return stacks.Rendered{}, err
	}
	local := slices.ContainsFunc(nodes, func(n automation.OutputNode) bool { return n.Provider == node.ProviderLocal })
	project, stackFile, err := w.Files()
	if err != nil {
		return stacks.Rendered{}, fmt.Errorf("heal service: the stack's files: %w", err)
	}
	c := stacks.HealConfig{
		Stack: fl.stack, Image: svc.Image, Project: project, StackFile: stackFile,
		Backend: automation.BackendURL(o), Passphrase: pass,
		AWSAccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), AWSSecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	if c.Image == "" {
		c.Image = DefaultHealImage
	}
	if b, err := os.ReadFile(w.KeyPath); err == nil {
		c.SSHKey = b // the stack's key: generated for local stacks, else a copy of the config's
	}
	if local {
		c.LocalSuffix, c.LabEngine = a.localSuffix(), lab.EngineSocket()
	}
	if name == stacks.BackupStackName {
		return stacks.Backup(c)
	}
	return stacks.Heal(c)
}

// inCluster prepares `shoal heal --in-cluster` (the heal service): the
// secret files the service's environment names are read into the
// variables shoal and Pulumi read (never printed), the stack's key is put
// where the workspace looks for it, and the lab suffix is taken over.
func (a *app) inCluster(stack string) error {
	for fileVar, v := range stacks.HealSecretFiles {
		path := os.Getenv(fileVar)
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("in cluster: %s: %w", fileVar, err)
		}
		if err := os.Setenv(v, strings.TrimSpace(string(b))); err != nil {
			return err
		}
	}
	if path := os.Getenv(stacks.EnvSSHKeyFile); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("in cluster: %s: %w", stacks.EnvSSHKeyFile, err)
		}
		key := filepath.Join(a.home, "stacks", stack, "id_ed25519")
		if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(key, b, 0o600); err != nil {
			return fmt.Errorf("in cluster: write the stack key: %w", err)
		}
	}
	a.labSuffix = os.Getenv(stacks.EnvLocalSuffix)
	return nil
}

// removeHealService removes the heal stack before a destroy, so heal on
// the cluster does not replace the servers being deleted. A cluster no
// manager of which answers has no heal running either.
func (a *app) removeHealService(ctx context.Context, stack string) error {
	inv, err := inventory.Load(automation.InventoryPath(a.home, stack))
	if err != nil {
		return nil // no inventory: nothing of this stack was ever up here
	}
	mgr, err := connectManager(ctx, a, inv)
	if err != nil {
		a.log.Warn("heal service: no manager answered; a heal stack cannot be running", "err", err)
		return nil
	}
	defer mgr.Close()
	for _, name := range []string{stacks.HealStackName, stacks.BackupStackName} {
		r, err := deploy.Remove(ctx, mgr.Docker, name, deploy.Options{})
		if err != nil {
			return fmt.Errorf("remove the %s service before destroying: %w", name, err)
		}
		if !r.Empty() {
			fmt.Fprintf(a.stderr, "heal service %s: removed\n", name)
		}
	}
	return nil
}
