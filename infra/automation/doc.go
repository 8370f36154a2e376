// Package automation runs shoal's Pulumi program (infra.Program) through
// the Pulumi Automation API, so `shoal up|preview|destroy|refresh` and
// `pulumi up` run the very same program. It owns the workspace: the Pulumi
// CLI to use, the backend (a local file backend under $SHOAL_HOME unless
// --backend or PULUMI_BACKEND_URL says otherwise), the secrets passphrase,
// the stack's SSH key, and making sure the engine loads the provider built
// into the running shoal binary. It must not know about hosters.
package automation
