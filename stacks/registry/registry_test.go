package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeRegistry serves one manifest (shop/web:v1) behind basic or token auth,
// and checks what a real registry would: the Accept header and the path.
func fakeRegistry(t *testing.T, mode string, headDigest bool) (*httptest.Server, *[]string) {
	t.Helper()
	var seen []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/token" {
			u, p, ok := r.BasicAuth()
			if !ok || u != "ci" || p != "s3cret" || r.URL.Query().Get("scope") != "repository:shop/web:pull" || r.URL.Query().Get("service") != "reg" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(`{"token":"tok123"}`))
			return
		}
		authed := false
		switch mode {
		case "none":
			authed = true
		case "basic":
			u, p, ok := r.BasicAuth()
			authed = ok && u == "ci" && p == "s3cret"
			if !authed {
				w.Header().Set("Www-Authenticate", `Basic realm="registry"`)
			}
		case "token":
			authed = r.Header.Get("Authorization") == "Bearer tok123"
			if !authed {
				w.Header().Set("Www-Authenticate", `Bearer realm="`+srv.URL+`/token",service="reg",scope="repository:shop/web:pull"`)
			}
		}
		if !authed {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.oci.image.index.v1+json") ||
			!strings.Contains(r.Header.Get("Accept"), "application/vnd.docker.distribution.manifest.v2+json") {
			t.Errorf("Accept header %q lacks the manifest types", r.Header.Get("Accept"))
		}
		if r.URL.Path != "/v2/shop/web/manifests/v1" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
			return
		}
		if headDigest || r.Method == http.MethodGet {
			w.Header().Set("Docker-Content-Digest", digest)
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		login      bool
		headDigest bool
		tag        string
		wantErr    string
	}{
		{name: "an open registry answers the HEAD with the digest", mode: "none", headDigest: true, tag: "v1"},
		{name: "basic auth is sent after the Basic challenge", mode: "basic", login: true, headDigest: true, tag: "v1"},
		{name: "a bearer token is fetched with the login for the pull scope", mode: "token", login: true, headDigest: true, tag: "v1"},
		{name: "a HEAD without the digest header falls back to GET", mode: "basic", login: true, tag: "v1"},
		{name: "a missing tag is a NotFoundError naming the image", mode: "basic", login: true, headDigest: true, tag: "nope", wantErr: "registry has no image"},
		{name: "no login for a private registry is an AuthError", mode: "basic", tag: "v1", wantErr: "registry refused anonymous access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeRegistry(t, tc.mode, tc.headDigest)
			host := "registry.test"
			o := Options{Endpoints: map[string]string{host: srv.URL}}
			if tc.login {
				o.Logins = []Login{{Host: host, Username: "ci", Password: "s3cret"}}
			}
			got, err := New(o).Resolve(context.Background(), host+"/shop/web", tc.tag)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil || got != digest {
				t.Fatalf("Resolve = %q, %v", got, err)
			}
		})
	}
}

func TestResolveWrongPasswordNamesTheLoginNotThePassword(t *testing.T) {
	srv, _ := fakeRegistry(t, "token", true)
	r := New(Options{Endpoints: map[string]string{"r.test": srv.URL}, Logins: []Login{{Host: "r.test", Username: "ci", Password: "wrong-pass"}}})
	_, err := r.Resolve(context.Background(), "r.test/shop/web", "v1")
	var ae *AuthError
	if !errors.As(err, &ae) || strings.Contains(err.Error(), "wrong-pass") || !strings.Contains(err.Error(), "ci") {
		t.Fatalf("err = %v", err)
	}
}

func TestSplitAndBaseURL(t *testing.T) {
	repo, tag, dig, err := Split("127.0.0.1:5000/shop/web:v2@" + digest)
	if err != nil || repo != "127.0.0.1:5000/shop/web" || tag != "v2" || dig != digest {
		t.Fatalf("Split = %q %q %q %v", repo, tag, dig, err)
	}
	if repo, tag, _, _ := Split("redis"); repo != "redis" || tag != "" {
		t.Errorf("Split(redis) = %q %q", repo, tag)
	}
	r := New(Options{})
	for host, want := range map[string]string{
		"127.0.0.1:5000": "http://127.0.0.1:5000", "localhost:5000": "http://localhost:5000",
		"registry.acme.example": "https://registry.acme.example", "docker.io": "https://registry-1.docker.io",
	} {
		if got := r.BaseURL(host); got != want {
			t.Errorf("BaseURL(%s) = %s, want %s", host, got, want)
		}
	}
	if s := (Login{Host: "h", Username: "u", Password: "pw"}).String(); strings.Contains(s, "pw") {
		t.Errorf("Login prints its password: %s", s)
	}
}
