package deploy

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/moby/moby/api/types/registry"
)

func TestEncodedAuth(t *testing.T) {
	auths := []RegistryAuth{
		{Server: "https://registry.example.com/", Username: "ci", Password: "pw1"},
		{Server: "index.docker.io", Username: "hub", Password: "pw2"},
		{Server: "10.0.0.5:5000", Username: "lab", Password: "pw3"},
	}
	cases := []struct {
		name, image, wantUser string
	}{
		{name: "an image on a private registry gets its login", image: "registry.example.com/team/app:dev", wantUser: "ci"},
		{name: "a Docker Hub image gets the hub login", image: "traefik:v3.3", wantUser: "hub"},
		{name: "a registry with a port matches host and port", image: "10.0.0.5:5000/app@sha256:" + "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2", wantUser: "lab"},
		{name: "an image on another registry gets nothing", image: "ghcr.io/x/y:1", wantUser: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := EncodedAuth(c.image, auths)
			if err != nil {
				t.Fatal(err)
			}
			if c.wantUser == "" {
				if enc != "" {
					t.Fatalf("got %q, want none", enc)
				}
				return
			}
			b, err := base64.URLEncoding.DecodeString(enc)
			if err != nil {
				t.Fatal(err)
			}
			var ac registry.AuthConfig
			if err := json.Unmarshal(b, &ac); err != nil {
				t.Fatal(err)
			}
			if ac.Username != c.wantUser || ac.Password == "" {
				t.Errorf("auth = %+v", ac)
			}
		})
	}
	if s := auths[0].String(); s != "ci@https://registry.example.com/" {
		t.Errorf("String() = %q (must not show the password)", s)
	}
}
