// Command shoal-program is shoal's Pulumi program as a binary, for
// `pulumi up` on the project in the repository root (Pulumi.yaml: main:
// ./cmd/shoal-program). `shoal up` runs the same infra.Program inline
// through the Automation API.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra"
)

func main() { pulumi.Run(infra.Program) }
