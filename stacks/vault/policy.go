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
