package images

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestEnsureDemoBuildsAnImageThatRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image on the local Docker Engine")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("lab test without a docker CLI: run scripts/ensure-engine.sh (go test -short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := EnsureDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s ready in %s", img, time.Since(start).Round(time.Millisecond))
	again, err := EnsureDemo(ctx)
	if err != nil || again != img {
		t.Fatalf("second call: %s %v", again, err)
	}
	out, err := run(ctx, nil, nil, "docker", "image", "inspect", "-f", "{{.Size}} {{json .Config.Entrypoint}}", img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `["/demo"]`) {
		t.Errorf("inspect = %s", out)
	}
}

func TestEnsureRegistryAndStandIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images on the local Docker Engine")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("lab test without a docker CLI: run scripts/ensure-engine.sh (go test -short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for name, ensure := range map[string]func(context.Context) (string, error){"registry": EnsureRegistry, "traefik stand-in": EnsureTraefikStandIn} {
		start := time.Now()
		img, err := ensure(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s ready in %s", name, img, time.Since(start).Round(time.Millisecond))
	}
}
