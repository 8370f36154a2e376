package remote

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// fakeEngine serves the bits of the Engine API that version negotiation uses,
// as Docker 20.10 (API 1.41) does, on a unix socket. It answers a newer API
// version with the error 20.10 gives.
func fakeEngine(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shoal") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Ostype", "linux")
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.41/version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64",
		})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"client version is too new. Maximum supported API version is 1.41 (` + r.URL.Path + `)"}`))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func TestDockerNegotiatesDownToEngine2010(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ts := startServer(t, serverOptions{authorized: l.user.PublicKey(), unixSocket: fakeEngine(t)})
	c := l.dial(t, ts)
	ctx := context.Background()

	cli, err := c.Docker(ctx)
	if err != nil {
		t.Fatalf("Docker: %v", err)
	}
	defer func() { _ = cli.Close() }()
	if v := cli.ClientVersion(); v != "1.41" {
		t.Errorf("negotiated API %s, want 1.41", v)
	}
	sv, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || sv.Version != "20.10.24" {
		t.Errorf("ServerVersion = %+v, %v", sv, err)
	}
	if p := ts.lastStreamPath(); p != "/var/run/docker.sock" {
		t.Errorf("forwarded to %q, want /var/run/docker.sock", p)
	}
}

func TestDockerWithoutEngineFails(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t)) // forwards no unix sockets: like a host without Docker
	cli, err := c.Docker(context.Background())
	if err == nil {
		_ = cli.Close()
		t.Fatal("Docker succeeded without an engine")
	}
	for _, s := range []string{c.Target().String(), "/var/run/docker.sock"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
