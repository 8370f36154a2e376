package stacks_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks"
	"github.com/shoalops/shoal/stacks/deploy"
	"github.com/shoalops/shoal/stacks/stacktest"
)

// labOverride publishes the registry on its node in host mode: the lab has
// no real Traefik to route registry.DOMAIN to it.
const labOverride = `version: "3.8"
services:
  registry:
    ports:
      - {target: 5000, published: 5000, protocol: tcp, mode: host}
`

func statusOf(t *testing.T, url, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func push(ctx context.Context, docker *client.Client, ref, user, pass string) error {
	auth, err := deploy.EncodedAuth(ref, []deploy.RegistryAuth{{Server: "127.0.0.1:5000", Username: user, Password: pass}})
	if err != nil {
		return err
	}
	resp, err := docker.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return msg.Error
		}
	}
	return nil
}

// TestTraefikAndRegistryOnLab deploys the traefik stack (with the lab's
// stand-in image) and the real registry stack with generated credentials,
// pushes an image with them, and checks that a wrong password gets 401.
func TestTraefikAndRegistryOnLab(t *testing.T) {
	s := stacktest.Start(t, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var imgs []string
	for _, ensure := range []func(context.Context) (string, error){images.EnsureTraefikStandIn, images.EnsureRegistry, images.EnsureDemo} {
		start := time.Now()
		img, err := ensure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("image %s ready in %s", img, time.Since(start).Round(time.Millisecond))
		imgs = append(imgs, img)
	}
	s.Load(t, imgs...)
	standin, registryImage, demo := imgs[0], imgs[1], imgs[2]

	cfg := stacks.Config{
		Domain: "lab.test", ACMEEmail: "ops@lab.test", RegistryNode: "m1", PortainerNode: "m1",
		EndpointMode: "dnsrr", // no IPVS in the lab
		Images:       stacks.Images{Traefik: standin, Registry: registryImage},
	}
	opts := deploy.Options{
		Overlay:      deploy.Overlay{Unencrypted: true, MTU: stacks.OverlayMTU(1500, false)},
		ResolveImage: deploy.ResolveNever,
		Poll:         300 * time.Millisecond, Timeout: 90 * time.Second,
		Progress: deploy.ProgressFunc(func(n, m string) { t.Logf("[%s] %s", n, m) }),
	}

	tr, err := stacks.Traefik(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Deploy(ctx, s.Docker, tr.Stack, opts); err != nil {
		t.Fatalf("deploy traefik: %v", err)
	}
	t.Run("the traefik stack converges with its routes labelled and its ports open", func(t *testing.T) {
		svcs, err := s.Docker.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("name", "traefik_traefik")})
		if err != nil || len(svcs.Items) != 1 {
			t.Fatalf("%v %v", svcs, err)
		}
		l := svcs.Items[0].Spec.Labels
		if l["traefik.http.routers.dashboard.rule"] != "Host(`traefik.lab.test`)" || l["traefik.http.routers.dashboard.middlewares"] != "dashboard-auth" {
			t.Errorf("labels = %v", l)
		}
		if code := statusOf(t, "http://"+s.Address("m1")+":80/", "", ""); code != 200 {
			t.Errorf("stand-in on :80 answered %d", code)
		}
		net, err := s.Docker.NetworkInspect(ctx, "traefik-public", client.NetworkInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, enc := net.Network.Options["encrypted"]; enc || net.Network.Options["com.docker.network.driver.mtu"] != "1450" {
			t.Errorf("lab overlay options = %v", net.Network.Options)
		}
	})

	reg, err := stacks.Registry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg.Stack.Overrides = [][]byte{[]byte(labOverride)}
	if _, err := deploy.Deploy(ctx, s.Docker, reg.Stack, opts); err != nil {
		t.Fatalf("deploy registry: %v", err)
	}
	cred := reg.Credentials[0]
	base := "http://" + s.Address("m1") + ":5000"

	t.Run("a push with the generated credentials works", func(t *testing.T) {
		ref := "127.0.0.1:5000/shop/web:dev"
		if _, err := s.Docker.ImageTag(ctx, client.ImageTagOptions{Source: demo, Target: ref}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := push(ctx, s.Docker, ref, cred.Username, cred.Password); err != nil {
			t.Fatalf("push: %v", err)
		}
		t.Logf("pushed %s in %s", ref, time.Since(start).Round(time.Millisecond))
		if code := statusOf(t, base+"/v2/shop/web/manifests/dev", cred.Username, cred.Password); code != 200 {
			t.Errorf("manifest after push: %d", code)
		}
	})
	t.Run("a wrong password gets 401", func(t *testing.T) {
		if code := statusOf(t, base+"/v2/", cred.Username, cred.Password+"x"); code != 401 {
			t.Errorf("wrong password: %d", code)
		}
		if code := statusOf(t, base+"/v2/", "", ""); code != 401 {
			t.Errorf("no password: %d", code)
		}
		err := push(ctx, s.Docker, "127.0.0.1:5000/shop/web:dev", cred.Username, "wrong")
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
			t.Errorf("push with a wrong password: %v", err)
		}
	})
	t.Run("rendering again with the stored credentials changes nothing", func(t *testing.T) {
		c := cfg
		c.RegistryUser = cred
		again, err := stacks.Registry(c)
		if err != nil {
			t.Fatal(err)
		}
		again.Stack.Overrides = reg.Stack.Overrides
		res, err := deploy.Deploy(ctx, s.Docker, again.Stack, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed() {
			t.Errorf("second deploy changed: %+v", res)
		}
	})
}
