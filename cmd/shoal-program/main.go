// Command shoal-program is shoal's Pulumi program as a binary, for
// `pulumi up` on the project in the repository root (Pulumi.yaml: main:
// ./cmd/shoal-program). `shoal up` runs the same infra.Program inline
// through the Automation API.
package main

import (
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/lab"
)

func main() {
	// The default cluster name of a local stack carries the id of the shoal
	// home, as under `shoal up`.
	home := os.Getenv("SHOAL_HOME")
	if h, err := os.UserHomeDir(); home == "" && err == nil {
		home = filepath.Join(h, ".shoal")
	}
	var o infra.Options
	if home != "" {
		o.LocalSuffix = lab.HomeID(home)
	}
	pulumi.Run(infra.ProgramWith(o))
}
