// Command shoal builds and runs Docker Swarm clusters on cheap VPSes across
// several hosters: bootstrap over SSH, status with quorum health, and a
// local lab whose VPSes are containers.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/shoalops/shoal/infra/automation"
	"github.com/shoalops/shoal/infra/provider"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Named pulumi-resource-shoal (a link `shoal up` makes), this binary is
	// shoal's Pulumi provider, so the engine always runs the matching build.
	if filepath.Base(os.Args[0]) == automation.ProviderPlugin {
		err := provider.Serve(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs the CLI with explicit streams, so tests run it in process.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return a.finish(err)
}
