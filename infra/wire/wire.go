// Package wire holds what the Pulumi program (infra) and shoal's provider
// (infra/provider) must agree on: the package name and version the
// program asks the engine for, and the type tokens of the provider's
// resources. Property names are checked, not shared: the infra tests check
// every registration of the program against the provider's own GetSchema,
// and infra/provider's tests check that the schema serves exactly these
// tokens. It imports nothing.
package wire

// Package and Version of shoal's provider plugin (pulumi-resource-shoal).
const (
	Package = "shoal"
	Version = "0.1.0"
)

// Type tokens of the provider's resources.
const (
	ServerType   = "shoal:local:Server"
	ClusterType  = "shoal:swarm:Cluster"
	StackType    = "shoal:swarm:Stack"
	WebhooksType = "shoal:portainer:Webhooks"
)

// Types lists every resource type the provider serves.
func Types() []string { return []string{ServerType, ClusterType, StackType, WebhooksType} }
