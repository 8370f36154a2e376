package deploy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

const appCompose = `version: "3.8"
services:
  web:
    image: app:dev
    networks: [front]
    secrets: [token]
    configs: [conf]
    deploy:
      replicas: 2
  worker:
    image: app:dev
    command: ["work"]
networks:
  front:
    driver_opts:
      com.docker.network.driver.mtu: "1400"
  plain:
    driver: overlay
    driver_opts:
      encrypted: ""
secrets:
  token:
    file: ./token.txt
configs:
  conf:
    name: app_conf_v2
    file: ./conf.txt
`

func appStack() Stack {
	return Stack{Name: "app-dev", Compose: []byte(appCompose), Dir: "/stack", Files: fstest.MapFS{
		"token.txt": {Data: []byte("s3cret")},
		"conf.txt":  {Data: []byte("a=b")},
	}}
}

func TestDesiredObjects(t *testing.T) {
	cases := []struct {
		name    string
		overlay Overlay
		net     string
		wantOpt map[string]string // option -> value; "-" means absent
	}{
		{name: "overlays are encrypted by default and keep the file's MTU", net: "app-dev_front",
			wantOpt: map[string]string{optEncrypted: "", optMTU: "1400"}},
		{name: "the policy MTU applies where the file sets none", overlay: Overlay{MTU: 1350}, net: "app-dev_default",
			wantOpt: map[string]string{optEncrypted: "", optMTU: "1350"}},
		{name: "the file's MTU wins over the policy", overlay: Overlay{MTU: 1350}, net: "app-dev_front",
			wantOpt: map[string]string{optMTU: "1400"}},
		{name: "a lab turns encryption off through the policy", overlay: Overlay{Unencrypted: true}, net: "app-dev_default",
			wantOpt: map[string]string{optEncrypted: "-", optMTU: "-"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := Load(appStack())
			if err != nil {
				t.Fatal(err)
			}
			objs, err := DesiredObjects(appStack(), cfg, c.overlay)
			if err != nil {
				t.Fatal(err)
			}
			n, ok := objs.Networks[c.net]
			if !ok {
				t.Fatalf("no network %s in %v", c.net, objs.Networks)
			}
			if n.Driver != "overlay" || n.Labels["com.docker.stack.namespace"] != "app-dev" {
				t.Errorf("driver %q labels %v", n.Driver, n.Labels)
			}
			for k, v := range c.wantOpt {
				got, has := n.Options[k]
				if v == "-" && has {
					t.Errorf("option %s = %q, want absent", k, got)
				}
				if v != "-" && (!has || got != v) {
					t.Errorf("option %s = %q (set %t), want %q", k, got, has, v)
				}
			}
		})
	}
	t.Run("a network no service uses is not created", func(t *testing.T) {
		cfg, _, _ := Load(appStack())
		objs, err := DesiredObjects(appStack(), cfg, Overlay{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := objs.Networks["app-dev_plain"]; ok {
			t.Error("app-dev_plain is created although no service uses it")
		}
	})
	t.Run("secrets and configs are read from Files, named and hashed", func(t *testing.T) {
		cfg, _, _ := Load(appStack())
		objs, err := DesiredObjects(appStack(), cfg, Overlay{})
		if err != nil {
			t.Fatal(err)
		}
		if len(objs.Secrets) != 1 || objs.Secrets[0].Name != "app-dev_token" || string(objs.Secrets[0].Data) != "s3cret" {
			t.Fatalf("secrets = %+v", objs.Secrets)
		}
		if objs.Secrets[0].Labels[LabelDataHash] == "" || objs.Secrets[0].Labels["com.docker.stack.namespace"] != "app-dev" {
			t.Errorf("secret labels = %v", objs.Secrets[0].Labels)
		}
		if len(objs.Configs) != 1 || objs.Configs[0].Name != "app_conf_v2" {
			t.Errorf("configs = %+v", objs.Configs)
		}
	})
	t.Run("a missing secret source names the secret", func(t *testing.T) {
		s := appStack()
		s.Files = fstest.MapFS{"conf.txt": {Data: []byte("x")}}
		cfg, _, _ := Load(s)
		_, err := DesiredObjects(s, cfg, Overlay{})
		if err == nil || !strings.Contains(err.Error(), "secret token") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDesiredServices(t *testing.T) {
	ids := IDs{Secrets: map[string]string{"app-dev_token": "sec1"}, Configs: map[string]string{"app_conf_v2": "cfg1"}}
	load := func() map[string]string {
		cfg, _, err := Load(appStack())
		if err != nil {
			t.Fatal(err)
		}
		specs, err := DesiredServices(context.Background(), "app-dev", cfg, ids)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, s := range specs {
			out[k] = s.Labels[LabelSpecHash]
			if k == "web" {
				if s.Name != "app-dev_web" || s.TaskTemplate.ContainerSpec.Secrets[0].SecretID != ids.Secrets["app-dev_token"] || s.TaskTemplate.ContainerSpec.Configs[0].ConfigID != "cfg1" {
					t.Errorf("web spec = %+v", s)
				}
			}
		}
		return out
	}
	t.Run("the same file hashes the same every time", func(t *testing.T) {
		first := load()
		for range 20 {
			if again := load(); again["web"] != first["web"] || again["worker"] != first["worker"] {
				t.Fatalf("hash changed: %v then %v", first, again)
			}
		}
	})
	t.Run("a different secret ID changes the hash of its user only", func(t *testing.T) {
		first := load()
		ids.Secrets["app-dev_token"] = "sec2"
		defer func() { ids.Secrets["app-dev_token"] = "sec1" }()
		again := load()
		if again["web"] == first["web"] || again["worker"] != first["worker"] {
			t.Fatalf("hashes %v then %v", first, again)
		}
	})
	t.Run("an unknown secret is an error naming the service", func(t *testing.T) {
		cfg, _, _ := Load(appStack())
		_, err := DesiredServices(context.Background(), "app-dev", cfg, IDs{})
		if err == nil || !strings.Contains(err.Error(), "service web") {
			t.Fatalf("err = %v", err)
		}
	})
}
