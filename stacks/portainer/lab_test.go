package portainer

// Tests against the emulator in front of a real lab swarm: services are
// real, and a webhook trigger really updates them. Skipped under -short.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalops/shoal/stacks/portainer/portainertest"
	"github.com/shoalops/shoal/stacks/portainer/portainertest/labswarm"
)

var (
	labOnce sync.Once
	labSw   *labswarm.Swarm
	labErr  error
	labDir  string
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

// labSwarm returns this run's one-manager lab swarm with hello:1 loaded.
func labSwarm(t *testing.T) *labswarm.Swarm {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test: needs the local Docker Engine (skipped with -short)")
	}
	labOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		if labDir, labErr = os.MkdirTemp("", "portainer-lab-"); labErr != nil {
			return
		}
		images, err := labswarm.BuildHello(ctx)
		if err != nil {
			labErr = err
			return
		}
		if labSw, labErr = labswarm.Start(ctx, labswarm.Name("pc"), labDir, os.Stderr); labErr != nil {
			return
		}
		labErr = labSw.Load(ctx, images[0], "hello:1")
	})
	if labErr != nil {
		t.Fatalf("lab swarm: %v", labErr)
	}
	return labSw
}

func sh(t *testing.T, sw *labswarm.Swarm, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := sw.Run(ctx, script)
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return strings.TrimSpace(out)
}

// createStackService creates a service as `docker stack deploy` labels it.
func createStackService(t *testing.T, sw *labswarm.Swarm, stack, name string) {
	t.Helper()
	sh(t, sw, fmt.Sprintf(`docker service create -d -q --name %[1]s_%[2]s --label %[3]s=%[1]s --container-label %[3]s=%[1]s hello:1`, stack, name, StackNamespaceLabel))
}

func TestEnsureWebhooksOnALabSwarm(t *testing.T) {
	sw := labSwarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := portainertest.New(portainertest.Options{Docker: sw.Docker})
	defer srv.Close()
	c := loggedIn(t, srv)
	env, _, err := c.EnsureEndpoint(ctx, EndpointSpec{Name: "lab"})
	if err != nil {
		t.Fatal(err)
	}

	createStackService(t, sw, "demo-dev", "web")
	createStackService(t, sw, "demo-dev", "worker")
	createStackService(t, sw, "other", "api") // another stack, with its own webhook
	other, ok, err := c.ServiceByName(ctx, env.ID, "other_api")
	if err != nil || !ok {
		t.Fatalf("ServiceByName(other_api) = %v, %v", ok, err)
	}
	otherHook, _, err := c.CreateServiceWebhook(ctx, env.ID, other.ID)
	if err != nil {
		t.Fatal(err)
	}

	first, err := c.EnsureWebhooks(ctx, env.ID, "demo-dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Webhooks) != 2 || len(first.Applied) != 2 {
		t.Fatalf("first run: webhooks %v, applied %v; want 2 created", first.Webhooks, first.Applied)
	}
	for _, name := range []string{"demo-dev_web", "demo-dev_worker"} {
		h, ok := first.Webhooks[name]
		if !ok || h.ResourceID != first.Services[name].ID || h.Token == "" {
			t.Fatalf("webhook of %s = %+v", name, h)
		}
	}

	second, err := c.EnsureWebhooks(ctx, env.ID, "demo-dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 {
		t.Fatalf("second run applied %v; want no change", second.Applied)
	}
	for name, h := range first.Webhooks {
		if second.Webhooks[name].Token != h.Token {
			t.Fatalf("second run changed the webhook of %s", name)
		}
	}

	// POSTing the webhook URL force-updates exactly that service.
	web, worker := first.Services["demo-dev_web"], first.Services["demo-dev_worker"]
	if err := c.TriggerWebhook(ctx, c.WebhookURL(first.Webhooks["demo-dev_web"].Token), ""); err != nil {
		t.Fatal(err)
	}
	after, ok, err := c.ServiceByName(ctx, env.ID, "demo-dev_web")
	if err != nil || !ok {
		t.Fatalf("ServiceByName(demo-dev_web) = %v, %v", ok, err)
	}
	if after.Version <= web.Version || after.ForceUpdate != web.ForceUpdate+1 {
		t.Fatalf("web after trigger: version %d -> %d, ForceUpdate %d -> %d; want both to grow",
			web.Version, after.Version, web.ForceUpdate, after.ForceUpdate)
	}
	workerAfter, _, err := c.ServiceByName(ctx, env.ID, "demo-dev_worker")
	if err != nil || workerAfter.Version != worker.Version {
		t.Fatalf("worker changed by web's webhook: version %d -> %d (%v)", worker.Version, workerAfter.Version, err)
	}

	// A service removed from the stack loses its webhook; the other stack's
	// webhook stays.
	sh(t, sw, "docker service rm demo-dev_worker")
	third, err := c.EnsureWebhooks(ctx, env.ID, "demo-dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Applied) != 1 || third.Applied[0].Action != Delete || third.Applied[0].Webhook.ResourceID != worker.ID {
		t.Fatalf("after removing worker: applied %v; want its webhook deleted", third.Applied)
	}
	hooks, err := c.Webhooks(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, h := range hooks {
		ids[h.ID] = true
	}
	if len(hooks) != 2 || !ids[otherHook.ID] || !ids[first.Webhooks["demo-dev_web"].ID] {
		t.Fatalf("webhooks left %v; want web's and the other stack's", hooks)
	}
	fourth, err := c.EnsureWebhooks(ctx, env.ID, "demo-dev")
	if err != nil || len(fourth.Applied) != 0 {
		t.Fatalf("run after the removal: applied %v, %v; want no change", fourth.Applied, err)
	}
}

func TestTriggerWebhookWithATagThatCannotBePulled(t *testing.T) {
	sw := labSwarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := portainertest.New(portainertest.Options{Docker: sw.Docker})
	defer srv.Close()
	c := loggedIn(t, srv)
	env, _, err := c.EnsureEndpoint(ctx, EndpointSpec{Name: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	createStackService(t, sw, "tagged", "web")
	set, err := c.EnsureWebhooks(ctx, env.ID, "tagged")
	if err != nil {
		t.Fatal(err)
	}
	before := set.Services["tagged_web"]
	h := set.Webhooks["tagged_web"]
	err = c.TriggerWebhook(ctx, c.WebhookURL(h.Token), "does-not-exist")
	var apiErr *APIError
	if !asAPIError(err, &apiErr) || apiErr.Status != 404 || apiErr.Message != "Error pulling image with the specified tag" ||
		!strings.HasPrefix(apiErr.Details, "Error response from daemon: ") {
		t.Fatalf("trigger with a missing tag: %v; want Portainer's 404 with the daemon's error", err)
	}
	assertNoSecret(t, err, h.Token.Reveal())
	after, _, err := c.ServiceByName(ctx, env.ID, "tagged_web")
	if err != nil || after.Version != before.Version || after.Image != before.Image {
		t.Fatalf("service changed by a failed trigger: %+v -> %+v (%v)", before, after, err)
	}
}

func asAPIError(err error, target **APIError) bool { return errors.As(err, target) }
