package provider

import (
	"context"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/shoalops/shoal/infra/wire"
)

// Name and Version of the provider, as the Pulumi program requires them.
const (
	Name    = wire.Package
	Version = wire.Version
)

// New builds the provider: shoal:local:Server, shoal:swarm:Cluster,
// shoal:swarm:Stack and shoal:portainer:Webhooks.
func New() (p.Provider, error) {
	return infer.NewProviderBuilder().
		WithDisplayName("shoal").
		WithDescription("Docker Swarm clusters on cheap VPSes: lab servers and the swarm itself.").
		WithNamespace("shoalops").
		WithResources(
			infer.Resource(&Server{}),
			infer.Resource(&Cluster{}),
			infer.Resource(&Stack{}),
			infer.Resource(&Webhooks{}),
		).
		Build()
}

// Serve runs the provider as a Pulumi plugin: it speaks gRPC to the engine
// that started this process, until the engine is done with it.
func Serve(ctx context.Context) error {
	prov, err := New()
	if err != nil {
		return err
	}
	return p.RunProvider(ctx, Name, Version, prov)
}
