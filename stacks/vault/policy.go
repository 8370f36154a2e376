package vault

import (
	"fmt"
	"strings"
)

// PolicyHCL renders the read-only ACL policy CI gets: for each environment,
// "read" on <mount>/data/<dir>/* (the entries' current data) and "list" on
// <mount>/metadata/<dir>/* (which services have an entry), where <dir> is the
// template's folder for the project and environment. Nothing else: no write,
// no metadata read, no other project. mount "" is DefaultMount; envs keep
// their order, duplicates are dropped; at least one is required.
//
// Load it with `vault policy write shoal-ci policy.hcl` (or `-` for stdin).
func PolicyHCL(mount string, tmpl Template, project string, envs []string) (string, error) {
	m, err := cleanMount(mount)
	if err != nil {
		return "", err
	}
	if len(envs) == 0 {
		return "", &PathError{What: "env", Value: "", Reason: "at least one environment is required"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Read-only access for CI to the Portainer webhook tokens shoal keeps in Vault.\n")
	fmt.Fprintf(&b, "# project %q, environments %s; KV v2 mount %q, path template %q.\n", project, strings.Join(envs, ", "), m, tmpl.String())
	fmt.Fprintf(&b, "# Load it with: vault policy write shoal-ci <this file>\n")
	seen := map[string]bool{}
	for _, env := range envs {
		dir, err := tmpl.Dir(project, env)
		if err != nil {
			return "", err
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		sub := dir + "/*"
		if dir == "" {
			sub = "*"
		}
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", m+"/data/"+sub)
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"list\"]\n}\n", m+"/metadata/"+sub)
	}
	return b.String(), nil
}

// ReleasesFolder is the sub-folder of a project's environment folder that
// holds its release history (written by `shoal deploy`).
const ReleasesFolder = ".releases"

// PortainerCIUser names the entry below Portainer's credential path that
// holds what CI needs to watch a deploy through Portainer: an API key
// (KeyAPIKey), the environment id (KeyEndpointID) and Portainer's URL
// (KeyURL): <mount>/<cluster>/platform/portainer/ci by default.
const PortainerCIUser = "ci"

// Keys of the Portainer CI entry.
const (
	KeyAPIKey     = "api_key"
	KeyEndpointID = "endpoint_id"
	KeyPortainer  = "url"
)

// DefaultRegistryUser is the registry user shoal's registry stack creates.
const DefaultRegistryUser = "shoal"

// CIPolicy is everything `shoal deploy` needs from Vault when it runs in
// CI, and nothing more: read the webhook entries of each environment
// (PolicyHCL), append to its release history (create, update and read on
// <folder>/.releases/*), and, with Cluster set, read two platform
// entries: the registry login (<cluster>/platform/registry/<user>), to
// resolve tags and push, and the Portainer CI entry
// (<cluster>/platform/portainer/ci), to watch the swarm through Portainer.
type CIPolicy struct {
	Mount        string
	Template     Template
	Project      string
	Envs         []string
	Cluster      string
	RegistryUser string // "" means DefaultRegistryUser
}

// HCL renders the policy.
func (p CIPolicy) HCL() (string, error) {
	base, err := PolicyHCL(p.Mount, p.Template, p.Project, p.Envs)
	if err != nil {
		return "", err
	}
	m, _ := cleanMount(p.Mount)
	var b strings.Builder
	b.WriteString(base)
	fmt.Fprintf(&b, "\n# shoal deploy records each release in the environment's %s folder.\n", ReleasesFolder)
	seen := map[string]bool{}
	for _, env := range p.Envs {
		dir, err := p.Template.Dir(p.Project, env)
		if err != nil {
			return "", err
		}
		rel := ReleasesFolder
		if dir != "" {
			rel = dir + "/" + ReleasesFolder
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"create\", \"update\", \"read\"]\n}\n", m+"/data/"+rel+"/*")
	}
	if p.Cluster == "" {
		return b.String(), nil
	}
	user := p.RegistryUser
	if user == "" {
		user = DefaultRegistryUser
	}
	reg, err := p.Template.CredentialPath(p.Cluster, "registry", user)
	if err != nil {
		return "", err
	}
	pt, err := p.Template.CredentialPath(p.Cluster, "portainer", PortainerCIUser)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\n# The registry login (resolve tags, push) and Portainer's API key for CI (watch the swarm).\n")
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", m+"/data/"+reg)
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", m+"/data/"+pt)
	return b.String(), nil
}
