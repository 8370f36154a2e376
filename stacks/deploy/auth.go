package deploy

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// registryHost is the registry of an image reference as docker names it
// ("docker.io" for Docker Hub).
func registryHost(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

func normalizeServer(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), "/v1")
	s = strings.TrimSuffix(s, "/")
	switch s {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return s
}

// EncodedAuth is the X-Registry-Auth header value for image, from the first
// of auths whose Server is the image's registry; "" when none matches.
func EncodedAuth(image string, auths []RegistryAuth) (string, error) {
	host := registryHost(image)
	if host == "" {
		return "", nil
	}
	for _, a := range auths {
		if normalizeServer(a.Server) != host {
			continue
		}
		b, err := json.Marshal(registry.AuthConfig{Username: a.Username, Password: a.Password, ServerAddress: a.Server})
		if err != nil {
			return "", err
		}
		return base64.URLEncoding.EncodeToString(b), nil
	}
	return "", nil
}
