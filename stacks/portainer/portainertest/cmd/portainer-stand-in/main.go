// Command portainer-stand-in serves the Portainer emulator of package
// portainertest on a port, for shoal's lab, where Portainer itself cannot be
// had: the lab's portainer stack runs it (FROM scratch, CGO_ENABLED=0) with
// the manager's Docker socket mounted, and every environment created on it
// is served by that engine. Never for a real cluster.
//
//	portainer-stand-in -addr :9000 -data /data   # DOCKER_HOST etc. as for the docker CLI
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/stacks/portainer/portainertest"
)

func main() {
	addr := flag.String("addr", ":9000", "listen address")
	data := flag.String("data", "", "directory to keep the state in across restarts, as Portainer keeps its database (e.g. /data, its volume); empty: in memory only")
	flag.Parse()
	if err := run(*addr, *data); err != nil {
		fmt.Fprintln(os.Stderr, "portainer-stand-in:", err)
		os.Exit(1)
	}
}

func run(addr, data string) error {
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer docker.Close()
	o := portainertest.Options{Docker: docker}
	if data != "" {
		o.StateFile = filepath.Join(data, "portainer-stand-in.json")
	}
	h, err := portainertest.NewHandler(o)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "portainer-stand-in %s listening on %s\n", portainertest.Version, addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
