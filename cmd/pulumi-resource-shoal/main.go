// Command pulumi-resource-shoal is shoal's Pulumi provider plugin
// (package "shoal"): the engine starts it and talks to it over gRPC. It
// serves shoal:local:Server and shoal:swarm:Cluster; see infra/provider.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/shoalops/shoal/infra/provider"
)

func main() {
	if err := provider.Serve(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-shoal: %v\n", err)
		os.Exit(1)
	}
}
