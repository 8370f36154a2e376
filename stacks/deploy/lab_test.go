package deploy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/stacktest"
)

// withoutService returns the compose file without one service.
func withoutService(t *testing.T, compose []byte, svc string) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(compose, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["services"].(map[string]any), svc)
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestDeployOnLab deploys the example app as <project>-dev on a real lab
// swarm, redeploys it unchanged, prunes a removed service, reports a broken
// one with its task error, and removes the stack.
func TestDeployOnLab(t *testing.T) {
	s := stacktest.Start(t, 1, 0)
	demo, err := images.EnsureDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Load(t, demo)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The example sits on Traefik's network; here no traefik stack runs.
	if _, err := s.Docker.NetworkCreate(ctx, "traefik-public", client.NetworkCreateOptions{Driver: "overlay", Attachable: true}); err != nil {
		t.Fatal(err)
	}

	compose, err := os.ReadFile("../../examples/app/stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	repo, tag, _ := strings.Cut(demo, ":")
	name := stacktest.Name("shop") + "-dev"
	stack := deploy.Stack{Name: name, Compose: compose, Env: map[string]string{
		"APP_IMAGE": repo, "APP_TAG": tag, "ENDPOINT_MODE": "dnsrr", "STACK_NAME": name,
	}}
	opts := deploy.Options{
		Overlay:      deploy.Overlay{Unencrypted: true}, // lab kernels have no IPsec
		ResolveImage: deploy.ResolveNever,               // no registry knows the lab's images
		Poll:         300 * time.Millisecond, Timeout: 90 * time.Second,
		Progress: deploy.ProgressFunc(func(n, m string) { t.Logf("[%s] %s", n, m) }),
	}

	start := time.Now()
	first, err := deploy.Deploy(ctx, s.Docker, stack, opts)
	if err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	t.Logf("first deploy converged in %s", time.Since(start).Round(time.Millisecond))
	versions := map[string]uint64{}
	for _, r := range first.Services {
		if r.Action != deploy.Create || r.Running != 1 || r.Desired != 1 {
			t.Errorf("first deploy: %+v", r)
		}
		versions[r.Name] = r.Version
	}
	if len(first.Services) != 2 {
		t.Fatalf("services = %+v", first.Services)
	}
	body, err := get("http://" + s.Address("m1") + ":18080/hello")
	if err != nil || !strings.HasPrefix(body, "web ") {
		t.Errorf("host-mode port: %q %v", body, err)
	}

	t.Run("a second deploy of the same file sends no update", func(t *testing.T) {
		again, err := deploy.Deploy(ctx, s.Docker, stack, opts)
		if err != nil {
			t.Fatal(err)
		}
		if again.Changed() {
			t.Errorf("second deploy changed something: %+v", again)
		}
		for _, r := range again.Services {
			if r.Action != deploy.Unchanged || r.Version != versions[r.Name] {
				t.Errorf("%s: %s, version %d then %d", r.Name, r.Action, versions[r.Name], r.Version)
			}
		}
	})

	t.Run("a service removed from the file is pruned", func(t *testing.T) {
		st := stack
		st.Compose = withoutService(t, compose, "worker")
		res, err := deploy.Deploy(ctx, s.Docker, st, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]deploy.Action{}
		for _, r := range res.Services {
			got[r.Name] = r.Action
		}
		if got[name+"_worker"] != deploy.Prune || got[name+"_web"] != deploy.Unchanged {
			t.Errorf("actions = %v", got)
		}
		live, err := s.Docker.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(live.Items) != 1 || live.Items[0].Spec.Name != name+"_web" {
			t.Errorf("live services: %d", len(live.Items))
		}
	})

	t.Run("a broken service fails the deploy with its name and task error", func(t *testing.T) {
		broken := string(withoutService(t, compose, "worker")) + ""
		var doc map[string]any
		_ = yaml.Unmarshal([]byte(broken), &doc)
		doc["services"].(map[string]any)["broken"] = map[string]any{
			"image":      repo + ":" + tag,
			"entrypoint": []string{"/no-such-binary"},
			"deploy": map[string]any{
				"endpoint_mode":  "dnsrr",
				"restart_policy": map[string]any{"condition": "any", "delay": "1s"},
			},
		}
		b, _ := yaml.Marshal(doc)
		st := stack
		st.Compose = b
		bstart := time.Now()
		_, err := deploy.Deploy(ctx, s.Docker, st, opts)
		var ce *deploy.ConvergeError
		if !errors.As(err, &ce) || ce.Timeout != 0 {
			t.Fatalf("err = %v, want a failed service", err)
		}
		t.Logf("failure reported after %s:\n%v", time.Since(bstart).Round(time.Millisecond), err)
		msg := err.Error()
		if !strings.Contains(msg, name+"_broken") || !strings.Contains(msg, "no-such-binary") {
			t.Errorf("error does not name the service and its task error: %s", msg)
		}
		if strings.Contains(msg, name+"_web") {
			t.Errorf("healthy service reported as failing: %s", msg)
		}
	})

	t.Run("remove deletes the stack", func(t *testing.T) {
		r, err := deploy.Remove(ctx, s.Docker, name, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Services) != 2 || len(r.Networks) != 2 { // app, and default for the broken service
			t.Errorf("removed %+v", r)
		}
		live, _ := s.Docker.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+name)})
		if len(live.Items) != 0 {
			t.Errorf("%d services left", len(live.Items))
		}
		again, err := deploy.Remove(ctx, s.Docker, name, opts)
		if err != nil || !again.Empty() {
			t.Errorf("second remove: %+v %v", again, err)
		}
	})
}
