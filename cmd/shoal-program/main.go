// Command shoal-program is shoal's Pulumi program as a binary, for
// `pulumi up` on the project in the repository root (Pulumi.yaml: main:
// ./cmd/shoal-program). `shoal up` runs the same infra.Program inline
// through the Automation API; here the program reads what the stack's
// last run deployed itself (infra.ProgramKeepingDeployed).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/lab"
)

func main() {
	var o infra.Options
	// The default cluster name of a local stack carries the id of the shoal
	// home, as under `shoal up`.
	home := os.Getenv("SHOAL_HOME")
	if h, err := os.UserHomeDir(); home == "" && err == nil {
		home = filepath.Join(h, ".shoal")
	}
	if home != "" {
		o.LocalSuffix = lab.HomeID(home)
	}
	// The engine hands the program the whole config in PULUMI_CONFIG, so
	// unknown shoal:* keys are refused here too.
	if raw := os.Getenv(pulumi.EnvConfig); raw != "" {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			fmt.Fprintf(os.Stderr, "read %s: %v\n", pulumi.EnvConfig, err)
			os.Exit(1)
		}
		for k := range cfg {
			o.ConfigKeys = append(o.ConfigKeys, k)
		}
		slices.Sort(o.ConfigKeys)
	}
	// The generations and successors the stack's last run deployed (heal,
	// dr recover, node replace) are state, not config: the program reads
	// them from its own stack's outputs through the engine, as `shoal up`
	// passes them in, and stops when it cannot (ADR 0036).
	pulumi.Run(infra.ProgramKeepingDeployed(o))
}
