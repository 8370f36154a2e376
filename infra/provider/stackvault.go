package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/shoalops/shoal/stacks/vault"
)

// StackVault says where a shipped stack's generated credentials go: Vault
// KV v2 at <mount>/<pathTemplate(project, "platform", stack)>, and for the
// registry one entry per user below that, each with keys username and
// password.
type StackVault struct {
	Address      string `pulumi:"address"`
	Mount        string `pulumi:"mount,optional"`
	PathTemplate string `pulumi:"pathTemplate,optional"`
	// Project is the {project} of the paths; the program passes the
	// cluster's name.
	Project string `pulumi:"project"`
	Token   string `pulumi:"token" provider:"secret"`
}

// Annotate sets the type token and describes the fields.
func (v *StackVault) Annotate(a infer.Annotator) {
	a.SetToken("swarm", "StackVault")
	a.Describe(&v.Project, "The {project} of the credentials' paths (the program passes the cluster name).")
	a.Describe(&v.PathTemplate, "The path template shared with the webhook tokens (default {project}/{env}/{service}); credentials use {env} = platform and {service} = the stack.")
}

// credentialPlace is one credential's entry: which Vault, which path below
// the mount, and what goes there.
type credentialPlace struct {
	Address, Mount, Path string
}

// credentialEntries places every credential of a shipped stack: purpose
// "push and pull" of the registry at <stack>/<username>, any other at
// <stack>. Nothing without Vault inputs or credentials. Pure.
func credentialEntries(a StackArgs, creds map[string]StackCredential) (map[credentialPlace]map[string]string, error) {
	v := a.Vault
	if v == nil || v.Address == "" || len(creds) == 0 {
		return nil, nil
	}
	tmpl, err := vault.ParseTemplate(v.PathTemplate)
	if err != nil {
		return nil, err
	}
	mount := strings.Trim(v.Mount, "/")
	if mount == "" {
		mount = vault.DefaultMount
	}
	addr := strings.TrimRight(v.Address, "/")
	out := map[credentialPlace]map[string]string{}
	for _, purpose := range slices.Sorted(maps.Keys(creds)) {
		c := creds[purpose]
		user := ""
		if a.Shipped == "registry" {
			user = c.Username
		}
		path, err := tmpl.CredentialPath(v.Project, a.Name, user)
		if err != nil {
			return nil, fmt.Errorf("credential %q: %w", purpose, err)
		}
		out[credentialPlace{Address: addr, Mount: mount, Path: path}] = map[string]string{
			vault.KeyUsername: c.Username, vault.KeyPassword: c.Password,
		}
	}
	return out, nil
}

func stackVaultClient(ctx context.Context, v *StackVault) (*vault.Client, error) {
	return vault.New(ctx, vault.Config{Address: v.Address, Mount: v.Mount, PathTemplate: v.PathTemplate,
		Credentials: vault.Credentials{Token: v.Token}})
}

// syncStackVault makes Vault hold st's credentials: first it deletes the
// entries prev placed that st no longer has (Vault, mount or path changed,
// Vault turned off, a user renamed), then writes st's, a new version only
// where the content differs. With st nil (the stack is deleted) every entry
// of prev goes and a failure fails; on an update a stale entry that cannot
// be deleted (the old Vault or token may be gone) is a warning.
func syncStackVault(ctx context.Context, st, prev *StackState) error {
	log := p.GetLogger(ctx)
	var want, had map[credentialPlace]map[string]string
	var err error
	if st != nil {
		if want, err = credentialEntries(st.StackArgs, st.Credentials); err != nil {
			return fmt.Errorf("stack %s: vault: %w", st.Name, err)
		}
	}
	if prev != nil {
		if had, err = credentialEntries(prev.StackArgs, prev.Credentials); err != nil {
			return fmt.Errorf("stack %s: vault: %w", prev.Name, err)
		}
	}
	var stale []credentialPlace
	for _, pl := range sortedPlaces(had) {
		if _, ok := want[pl]; !ok {
			stale = append(stale, pl)
		}
	}
	if len(stale) > 0 {
		err := deleteCredentials(ctx, prev.Name, prev.Vault, stale)
		switch {
		case err != nil && st == nil:
			return err
		case err != nil:
			log.Warningf("%v; remove the entry by hand", err)
		}
	}
	if len(want) == 0 {
		return nil
	}
	vc, err := stackVaultClient(ctx, st.Vault)
	if err != nil {
		return fmt.Errorf("stack %s: %w", st.Name, err)
	}
	for _, pl := range sortedPlaces(want) {
		res, err := vc.WriteSecret(ctx, pl.Path, want[pl])
		if err != nil {
			return fmt.Errorf("stack %s: credentials to vault: %w", st.Name, err)
		}
		if res.Written {
			log.Infof("stack %s: credentials written to vault at %s/%s (version %d)", st.Name, pl.Mount, pl.Path, res.Version)
		}
	}
	return nil
}

// deleteCredentials removes the entries at places, all in v's Vault.
func deleteCredentials(ctx context.Context, stack string, v *StackVault, places []credentialPlace) error {
	vc, err := stackVaultClient(ctx, v)
	if err != nil {
		return fmt.Errorf("stack %s: %w", stack, err)
	}
	for _, pl := range places {
		if err := vc.DeleteSecret(ctx, pl.Path); err != nil {
			return fmt.Errorf("stack %s: remove credentials from vault: %w", stack, err)
		}
		p.GetLogger(ctx).Infof("stack %s: credentials removed from vault at %s/%s", stack, pl.Mount, pl.Path)
	}
	return nil
}

func sortedPlaces(m map[credentialPlace]map[string]string) []credentialPlace {
	return slices.SortedFunc(maps.Keys(m), func(a, b credentialPlace) int {
		for _, c := range [][2]string{{a.Address, b.Address}, {a.Mount, b.Mount}, {a.Path, b.Path}} {
			if c[0] != c[1] {
				if c[0] < c[1] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
}
