// Package vault keeps the Portainer webhook token of every service of a
// user's stacks in HashiCorp Vault (KV version 2), where CI reads it, and the
// credentials shoal generates for its own stacks (Traefik dashboard,
// Portainer admin, registry users) next to them.
//
// It owns the path layout (a template, default "{project}/{env}/{service}",
// under a configurable mount, default "secret"), the keys of an entry
// ("service_hash", the token, and "webhook_url"), the read-only policy CI
// gets (PolicyHCL), and a thin client over github.com/hashicorp/vault/api:
// login by token or AppRole, WriteWebhook that writes a new version only when
// the content differs, DeleteService, List, and Sync = List + Plan + Apply.
// Plan is pure: current entries and desired services in, changes out.
// Generated credentials live at Template.CredentialPath, by default
// "{project}/platform/{stack}" and, for the registry, one entry per user
// below it ("{project}/platform/registry/{user}"), with keys "username" and
// "password"; WriteSecret, ReadSecret and DeleteSecret work on any path with
// the same write-only-on-change and redaction.
//
// Secrets (tokens, secret IDs) never appear in errors, String output or logs.
// The package must not import cobra, Pulumi, infra or heal.
//
// Usage:
//
//	creds, _ := vault.CredentialsFromEnv(os.Getenv, os.ReadFile)
//	c, _ := vault.New(ctx, vault.Config{Address: addr, Credentials: creds})
//	res, _ := c.WriteWebhook(ctx, "acme", "dev", "web", token, url)
package vault
