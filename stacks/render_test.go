package stacks

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/stacks/deploy"
)

func baseConfig() Config {
	return Config{Domain: "acme.example", ACMEEmail: "ops@acme.example", PortainerNode: "m1", RegistryNode: "w1"}
}

// specs loads a rendered stack as deploy would and converts its services,
// with made-up IDs for its secrets.
func specs(t *testing.T, r Rendered) (map[string]swarm.ServiceSpec, deploy.Objects) {
	t.Helper()
	cfg, warnings, err := deploy.Load(r.Stack)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	objs, err := deploy.DesiredObjects(r.Stack, cfg, deploy.Overlay{MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	ids := deploy.IDs{Secrets: map[string]string{}, Configs: map[string]string{}}
	for i, s := range objs.Secrets {
		ids.Secrets[s.Name] = fmt.Sprint("id", i)
	}
	out, err := deploy.DesiredServices(context.Background(), r.Stack.Name, cfg, ids)
	if err != nil {
		t.Fatal(err)
	}
	return out, objs
}

// Traefik v3 static options the traefik stack may use, each from Traefik's
// documentation:
//   - providers.swarm.*: https://doc.traefik.io/traefik/v3.2/providers/swarm
//     (endpoint, exposedByDefault, network)
//   - entryPoints.<name>.address, .http.redirections.entryPoint.{to,scheme},
//     .http.tls.certResolver, .transport.respondingTimeouts.{readTimeout,
//     writeTimeout,idleTimeout}: https://doc.traefik.io/traefik/routing/entrypoints/#transport
//     (readTimeout defaults to 60s since v2.11.2:
//     https://github.com/traefik/traefik/wiki/respondingTimeouts-for-applications)
//   - certificatesResolvers.<name>.acme.{email,storage,tlsChallenge}:
//     https://doc.traefik.io/traefik/https/acme/
//   - api.dashboard, ping, log.level: https://doc.traefik.io/traefik/operations/api/,
//     https://doc.traefik.io/traefik/operations/ping/, https://doc.traefik.io/traefik/observability/logs/
var traefikStatic = []*regexp.Regexp{
	regexp.MustCompile(`^--providers\.swarm\.(endpoint|exposedByDefault|network)=.+$`),
	regexp.MustCompile(`^--entryPoints\.[a-z]+\.address=:\d+$`),
	regexp.MustCompile(`^--entryPoints\.[a-z]+\.http\.redirections\.entryPoint\.(to|scheme)=\w+$`),
	regexp.MustCompile(`^--entryPoints\.[a-z]+\.http\.tls\.certResolver=\w+$`),
	regexp.MustCompile(`^--entryPoints\.[a-z]+\.transport\.respondingTimeouts\.(readTimeout|writeTimeout|idleTimeout)=\d+[smh]$`),
	regexp.MustCompile(`^--certificatesResolvers\.\w+\.acme\.(email|storage|tlsChallenge)=.+$`),
	regexp.MustCompile(`^--(api\.dashboard|ping)=true$`),
	regexp.MustCompile(`^--log\.level=(DEBUG|INFO|WARN|ERROR)$`),
}

// Routing labels of the swarm provider, from
// https://doc.traefik.io/traefik/v3.2/routing/providers/swarm/ (routers:
// rule, entrypoints, tls.certresolver, service, middlewares; services:
// loadbalancer.server.port, which swarm needs because it cannot detect
// ports) and the basicAuth middleware's usersFile option,
// https://doc.traefik.io/reference/routing-configuration/http/middlewares/basicauth
var traefikLabels = []*regexp.Regexp{
	regexp.MustCompile(`^traefik\.enable$`),
	regexp.MustCompile(`^traefik\.http\.routers\.[a-z-]+\.(rule|entrypoints|tls\.certresolver|service|middlewares)$`),
	regexp.MustCompile(`^traefik\.http\.middlewares\.[a-z-]+\.basicauth\.(users|usersfile)$`),
	regexp.MustCompile(`^traefik\.http\.services\.[a-z-]+\.loadbalancer\.server\.port$`),
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func checkTraefikLabels(t *testing.T, spec swarm.ServiceSpec, router string) {
	t.Helper()
	n := 0
	for k, v := range spec.Labels {
		if !strings.HasPrefix(k, "traefik.") {
			continue
		}
		n++
		if !matchesAny(traefikLabels, k) {
			t.Errorf("label %s is not a documented Traefik v3 swarm label", k)
		}
		if strings.Contains(v, "$2") {
			t.Errorf("label %s carries a password hash: hashes belong in a secret", k)
		}
	}
	for _, k := range []string{"traefik.enable", "traefik.http.routers." + router + ".rule", "traefik.http.routers." + router + ".tls.certresolver"} {
		if _, ok := spec.Labels[k]; !ok {
			t.Errorf("missing label %s", k)
		}
	}
	if n == 0 {
		t.Error("no traefik labels")
	}
}

func TestTraefikStack(t *testing.T) {
	r, err := Traefik(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	svcs, objs := specs(t, r)
	tr := svcs["traefik"]
	args := tr.TaskTemplate.ContainerSpec.Args
	t.Run("every command-line option is a documented Traefik v3 option", func(t *testing.T) {
		for _, a := range args {
			if !matchesAny(traefikStatic, a) {
				t.Errorf("%s is not a documented Traefik v3 static option", a)
			}
		}
	})
	t.Run("it uses the v3 swarm provider, not docker with swarmMode", func(t *testing.T) {
		joined := strings.Join(args, " ")
		if !strings.Contains(joined, "--providers.swarm.endpoint=unix:///var/run/docker.sock") || strings.Contains(joined, "providers.docker") || strings.Contains(joined, "swarmMode") {
			t.Errorf("args = %s", joined)
		}
		if !strings.Contains(joined, "--providers.swarm.exposedByDefault=false") {
			t.Error("services must opt in with traefik.enable")
		}
	})
	t.Run("web and websecure are published in host mode on 80 and 443", func(t *testing.T) {
		ports := tr.EndpointSpec.Ports
		if len(ports) != 2 || ports[0].PublishedPort != 80 || ports[1].PublishedPort != 443 {
			t.Fatalf("ports = %+v", ports)
		}
		for _, p := range ports {
			if p.PublishMode != swarm.PortConfigPublishModeHost {
				t.Errorf("port %d published in %s mode", p.PublishedPort, p.PublishMode)
			}
		}
	})
	t.Run("Let's Encrypt uses the configured e-mail", func(t *testing.T) {
		if !contains(args, "--certificatesResolvers.le.acme.email=ops@acme.example") || !contains(args, "--entryPoints.websecure.http.tls.certResolver=le") {
			t.Errorf("args = %v", args)
		}
	})
	t.Run("the read timeout allows long layer pushes", func(t *testing.T) {
		if !contains(args, "--entryPoints.websecure.transport.respondingTimeouts.readTimeout=30m") {
			t.Errorf("args = %v", args)
		}
	})
	t.Run("the dashboard is routed behind basic auth from a secret", func(t *testing.T) {
		checkTraefikLabels(t, tr, "dashboard")
		if tr.Labels["traefik.http.routers.dashboard.service"] != "api@internal" || tr.Labels["traefik.http.routers.dashboard.middlewares"] != "dashboard-auth" {
			t.Errorf("labels = %v", tr.Labels)
		}
		if tr.Labels["traefik.http.routers.dashboard.rule"] != "Host(`traefik.acme.example`)" {
			t.Errorf("rule = %q", tr.Labels["traefik.http.routers.dashboard.rule"])
		}
		file := tr.Labels["traefik.http.middlewares.dashboard-auth.basicauth.usersfile"]
		refs := tr.TaskTemplate.ContainerSpec.Secrets
		if len(refs) != 1 || "/run/secrets/"+refs[0].File.Name != file {
			t.Errorf("usersfile %s, secrets %+v", file, refs)
		}
		checkHtpasswd(t, objs.Secrets[0].Data, r.Credentials[0])
	})
	t.Run("the public overlay is encrypted and attachable", func(t *testing.T) {
		n := objs.Networks["traefik-public"]
		if _, enc := n.Options["encrypted"]; !enc || !n.Attachable || n.Options["com.docker.network.driver.mtu"] != "1400" {
			t.Errorf("network = %+v", n)
		}
	})
}

func checkHtpasswd(t *testing.T, data []byte, c Credential) {
	t.Helper()
	user, hash, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok || user != c.Username {
		t.Fatalf("htpasswd line for %q, want user %s", user, c.Username)
	}
	if !strings.HasPrefix(hash, "$2") {
		t.Errorf("hash %q is not bcrypt", hash)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(c.Password)); err != nil {
		t.Errorf("htpasswd does not match the credential: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRegistryStack(t *testing.T) {
	t.Run("filesystem storage is pinned to the registry node", func(t *testing.T) {
		r, err := Registry(baseConfig())
		if err != nil {
			t.Fatal(err)
		}
		svcs, objs := specs(t, r)
		reg := svcs["registry"]
		if c := reg.TaskTemplate.Placement.Constraints; len(c) != 1 || c[0] != "node.labels.shoal.node == w1" {
			t.Errorf("constraints = %v", c)
		}
		checkTraefikLabels(t, reg, "registry")
		if reg.Labels["traefik.http.services.registry.loadbalancer.server.port"] != "5000" {
			t.Errorf("labels = %v", reg.Labels)
		}
		var cfg, users []byte
		for _, s := range objs.Secrets {
			switch {
			case strings.HasPrefix(s.Name, "registry_config_"):
				cfg = s.Data
			case strings.HasPrefix(s.Name, "registry_htpasswd_"):
				users = s.Data
			}
		}
		checkHtpasswd(t, users, r.Credentials[0])
		var doc map[string]any
		if err := yaml.Unmarshal(cfg, &doc); err != nil {
			t.Fatal(err)
		}
		st := doc["storage"].(map[string]any)
		if _, ok := st["filesystem"]; !ok {
			t.Errorf("storage = %v", st)
		}
		auth := doc["auth"].(map[string]any)["htpasswd"].(map[string]any)
		if auth["path"] != "/etc/distribution/htpasswd" {
			t.Errorf("auth = %v", auth)
		}
		targets := map[string]bool{}
		for _, ref := range reg.TaskTemplate.ContainerSpec.Secrets {
			targets[ref.File.Name] = true
		}
		if !targets["/etc/distribution/config.yml"] || !targets["/etc/distribution/htpasswd"] {
			t.Errorf("secret targets = %v", targets)
		}
	})
	t.Run("S3 storage runs on any manager and keeps the keys in the secret config", func(t *testing.T) {
		c := baseConfig()
		c.RegistryNode = ""
		c.RegistryS3 = &S3{Bucket: "b", Region: "eu-central-1", AccessKey: "AK", SecretKey: "SK-very-secret"}
		r, err := Registry(c)
		if err != nil {
			t.Fatal(err)
		}
		svcs, _ := specs(t, r)
		reg := svcs["registry"]
		if c := reg.TaskTemplate.Placement.Constraints; len(c) != 1 || c[0] != "node.role == manager" {
			t.Errorf("constraints = %v", c)
		}
		cfg, _ := fs.ReadFile(r.Stack.Files, "config.yml")
		if !strings.Contains(string(cfg), "s3:") || strings.Contains(string(cfg), "filesystem") {
			t.Errorf("config = %s", cfg)
		}
		for k, v := range r.Stack.Env {
			if strings.Contains(v, "SK-very-secret") {
				t.Errorf("env %s carries the S3 secret key", k)
			}
		}
	})
	t.Run("a registry without node or S3 is refused", func(t *testing.T) {
		c := baseConfig()
		c.RegistryNode = ""
		if _, err := Registry(c); err == nil {
			t.Error("no error")
		}
	})
}

func TestPortainerStack(t *testing.T) {
	r, err := Portainer(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	svcs, objs := specs(t, r)
	srv, agent := svcs["portainer"], svcs["agent"]
	if c := srv.TaskTemplate.Placement.Constraints; len(c) != 2 || c[1] != "node.labels.shoal.node == m1" {
		t.Errorf("server constraints = %v", c)
	}
	if agent.Mode.Global == nil {
		t.Error("agent is not global")
	}
	if len(srv.TaskTemplate.ContainerSpec.Mounts) != 1 || srv.TaskTemplate.ContainerSpec.Mounts[0].Source != "portainer_data" {
		t.Errorf("mounts = %+v", srv.TaskTemplate.ContainerSpec.Mounts)
	}
	checkTraefikLabels(t, srv, "portainer")
	if string(objs.Secrets[0].Data) != r.Credentials[0].Password {
		t.Error("admin password file does not hold the admin password")
	}
	if !contains(srv.TaskTemplate.ContainerSpec.Args, "/run/secrets/portainer_admin") {
		t.Errorf("args = %v", srv.TaskTemplate.ContainerSpec.Args)
	}
}

func TestRendering(t *testing.T) {
	t.Run("every image is configurable", func(t *testing.T) {
		c := baseConfig()
		c.Images = Images{Traefik: "mirror/traefik:1", Portainer: "mirror/portainer:1", PortainerAgent: "mirror/agent:1", Registry: "mirror/registry:1"}
		want := map[string]string{"traefik": "mirror/traefik:1", "portainer": "mirror/portainer:1", "agent": "mirror/agent:1", "registry": "mirror/registry:1"}
		for _, render := range []func(Config) (Rendered, error){Traefik, Portainer, Registry} {
			r, err := render(c)
			if err != nil {
				t.Fatal(err)
			}
			svcs, _ := specs(t, r)
			for name, s := range svcs {
				if got := s.TaskTemplate.ContainerSpec.Image; got != want[name] {
					t.Errorf("%s image = %s, want %s", name, got, want[name])
				}
			}
		}
	})
	t.Run("the lab switches to dnsrr through the same config", func(t *testing.T) {
		c := baseConfig()
		c.EndpointMode = "dnsrr"
		r, _ := Registry(c)
		svcs, _ := specs(t, r)
		if svcs["registry"].EndpointSpec.Mode != swarm.ResolutionModeDNSRR {
			t.Errorf("mode = %s", svcs["registry"].EndpointSpec.Mode)
		}
	})
	t.Run("generated passwords are random and long", func(t *testing.T) {
		a, _ := Traefik(baseConfig())
		b, _ := Traefik(baseConfig())
		pa, pb := a.Credentials[0].Password, b.Credentials[0].Password
		if pa == pb || len(pa) < 32 {
			t.Errorf("passwords %d chars, equal %t", len(pa), pa == pb)
		}
	})
	t.Run("the same credentials render the same secret names and specs", func(t *testing.T) {
		c := baseConfig()
		first, _ := Registry(c)
		c.RegistryUser = first.Credentials[0]
		again, _ := Registry(c)
		s1, o1 := specs(t, first)
		s2, o2 := specs(t, again)
		if o1.Secrets[0].Name != o2.Secrets[0].Name || o1.Secrets[1].Name != o2.Secrets[1].Name {
			t.Errorf("secret names %s %s then %s %s", o1.Secrets[0].Name, o1.Secrets[1].Name, o2.Secrets[0].Name, o2.Secrets[1].Name)
		}
		if s1["registry"].Labels[deploy.LabelSpecHash] != s2["registry"].Labels[deploy.LabelSpecHash] {
			t.Error("spec hash changed with the same credentials")
		}
	})
	t.Run("a credential never prints its password", func(t *testing.T) {
		r, _ := Traefik(baseConfig())
		c := r.Credentials[0]
		for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(r.Credentials)} {
			if strings.Contains(s, c.Password) {
				t.Errorf("%q shows the password", s)
			}
		}
		for k, v := range r.Stack.Env {
			if strings.Contains(v, c.Password) {
				t.Errorf("env %s carries the password", k)
			}
		}
	})
	t.Run("traefik without an ACME e-mail is refused", func(t *testing.T) {
		c := baseConfig()
		c.ACMEEmail = ""
		if _, err := Traefik(c); err == nil {
			t.Error("no error")
		}
	})
}

func TestOverlayMTU(t *testing.T) {
	cases := []struct {
		name      string
		link      int
		encrypted bool
		want      int
	}{
		{name: "a 1500 link carries a 1450 plain overlay", link: 1500, want: 1450},
		{name: "encryption costs the ESP header on top", link: 1500, encrypted: true, want: 1392},
		{name: "a Hetzner Cloud network link of 1450 needs 1342 encrypted", link: 1450, encrypted: true, want: 1342},
		{name: "an unknown link is taken as 1500", link: 0, want: 1450},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := OverlayMTU(c.link, c.encrypted); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	if got := strings.Join(Names(), ","); got != "portainer,registry,traefik" {
		t.Errorf("names = %s", got)
	}
	dir := t.TempDir()
	paths, err := WriteFiles(dir, false)
	if err != nil || len(paths) != 3 {
		t.Fatalf("%v %v", paths, err)
	}
	if _, err := WriteFiles(dir, false); err == nil {
		t.Error("overwrote without force")
	}
	if _, err := File("nope"); err == nil || !strings.Contains(err.Error(), "traefik") {
		t.Errorf("err = %v", err)
	}
}
