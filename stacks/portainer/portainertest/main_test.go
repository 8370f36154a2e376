package portainertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoalops/shoal/stacks/portainer/portainertest/labswarm"
)

// One lab swarm per run of this package's tests, made on first use and
// removed by TestMain whatever happened.
var (
	labOnce sync.Once
	labSw   *labswarm.Swarm
	labErr  error
	labDir  string

	regOnce sync.Once
	regHost string
	regErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if labSw != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := labSw.Close(ctx, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "remove lab %s: %v\n", labSw.Lab.Name, err)
			code = 1
		}
		cancel()
	}
	if labDir != "" {
		_ = os.RemoveAll(labDir)
	}
	os.Exit(code)
}

// labSwarm returns this run's lab swarm with the images hello:1 and hello:2
// in its manager's image store. Skipped under -short only.
func labSwarm(t *testing.T) *labswarm.Swarm {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs the local Docker Engine (skipped with -short)")
	}
	labOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		labDir, labErr = os.MkdirTemp("", "portainertest-lab-")
		if labErr != nil {
			return
		}
		images, err := labswarm.BuildHello(ctx)
		if err != nil {
			labErr = err
			return
		}
		sw, err := labswarm.Start(ctx, labswarm.Name("pt"), labDir, os.Stderr)
		if err != nil {
			labErr = err
			return
		}
		labSw = sw
		for i, img := range images {
			if err := sw.Load(ctx, img, fmt.Sprintf("hello:%d", i+1)); err != nil {
				labErr = err
				return
			}
		}
	})
	if labErr != nil {
		t.Fatalf("lab swarm: %v", labErr)
	}
	return labSw
}

// labRegistry starts the real registry on the lab manager once.
func labRegistry(t *testing.T, sw *labswarm.Swarm) string {
	t.Helper()
	regOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		regHost, regErr = sw.StartRegistry(ctx)
	})
	if regErr != nil {
		t.Fatalf("lab registry: %v", regErr)
	}
	return regHost
}

func run(t *testing.T, sw *labswarm.Swarm, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := sw.Run(ctx, script)
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return out
}
