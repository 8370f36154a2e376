package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/lab/images"
	"github.com/shoalops/shoal/stacks/stacktest"
)

func TestStackCommandsRefuseBadInputBeforeTouchingAnything(t *testing.T) {
	good := writeFile(t, "stack.yml", "version: \"3.8\"\nservices:\n  web:\n    image: app:${TAG:-dev}\n")
	bad := writeFile(t, "bad.yml", "version: \"3.8\"\nservices:\n  web:\n    image: app\n    replicas: 2\n")
	envFile := writeFile(t, "env", "# comment\nTAG=1\nnot a pair\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		wantOut  string
	}{
		{name: "deploy without a compose file is bad usage", args: []string{"stack", "deploy", "shop-dev"}, wantCode: exitUsage, wantErr: "pass -f FILE"},
		{name: "a bad stack name is bad usage", args: []string{"stack", "deploy", "Shop Dev", "-f", good}, wantCode: exitUsage, wantErr: "invalid stack name"},
		{name: "a compose file the schema refuses is bad usage", args: []string{"stack", "deploy", "shop-dev", "-f", bad}, wantCode: exitUsage, wantErr: "replicas"},
		{name: "a malformed env file names its line", args: []string{"stack", "deploy", "shop-dev", "-f", good, "--env-file", envFile}, wantCode: exitUsage, wantErr: "env:3"},
		{name: "a registry user without a password from stdin is refused", args: []string{"stack", "deploy", "shop-dev", "-f", good, "--registry", "r.example", "--registry-user", "ci"}, wantCode: exitUsage, wantErr: "password-stdin"},
		{name: "a good file without an inventory says what to do", args: []string{"stack", "deploy", "shop-dev", "-f", good, "-i", filepath.Join(t.TempDir(), "missing.yaml")}, wantCode: exitUsage, wantErr: "missing.yaml"},
		{name: "files lists the shipped stacks", args: []string{"stack", "files"}, wantCode: exitOK, wantOut: "portainer\nregistry\ntraefik\n"},
		{name: "files prints one of them", args: []string{"stack", "files", "traefik"}, wantCode: exitOK, wantOut: "providers.swarm.endpoint"},
		{name: "files of an unknown stack is bad usage", args: []string{"stack", "files", "nginx"}, wantCode: exitUsage, wantErr: "no shipped stack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.wantCode, errOut)
			}
			if tc.wantErr != "" && !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantErr)
			}
			if tc.wantOut != "" && !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tc.wantOut)
			}
		})
	}
	t.Run("files --write writes every file and keeps existing ones without --force", func(t *testing.T) {
		dir := t.TempDir()
		if code, _, errOut := runCLI(t, "stack", "files", "--write", dir); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, n := range []string{"traefik.yml", "portainer.yml", "registry.yml"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				t.Error(err)
			}
		}
		if code, _, _ := runCLI(t, "stack", "files", "--write", dir); code != exitUsage {
			t.Errorf("second write without --force: exit %d", code)
		}
	})
}

// TestStackDeployOnLab runs `shoal stack deploy` and `shoal stack rm` against
// a lab swarm through its inventory, as a user would.
func TestStackDeployOnLab(t *testing.T) {
	s := stacktest.Start(t, 1, 0)
	demo, err := images.EnsureDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Load(t, demo)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := s.Docker.NetworkCreate(ctx, "traefik-public", client.NetworkCreateOptions{Driver: "overlay", Attachable: true}); err != nil {
		t.Fatal(err)
	}
	b, err := inventory.Marshal(s.Inv)
	if err != nil {
		t.Fatal(err)
	}
	invPath := writeFile(t, "inventory.yaml", string(b))
	repo, tag, _ := strings.Cut(demo, ":")
	name := stacktest.Name("shop") + "-dev"
	deployArgs := []string{"stack", "deploy", name, "-i", invPath, "-f", "../../examples/app/stack.yml",
		"--env", "APP_IMAGE=" + repo, "--env", "APP_TAG=" + tag, "--env", "ENDPOINT_MODE=dnsrr",
		"--encrypt-overlays=false", "--timeout", "90s"} // --resolve-image stays at its default: the engine warns and deploys as written

	code, out, errOut := runCLI(t, deployArgs...)
	if code != exitOK {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("first deploy:\n%s%s", errOut, out)
	if !strings.Contains(out, name+"_web") || !strings.Contains(out, "create") || !strings.Contains(errOut, "converged") {
		t.Errorf("first deploy output:\n%s\n%s", out, errOut)
	}

	code, out, errOut = runCLI(t, append(deployArgs, "-o", "json")...)
	var doc stackJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("second deploy: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if doc.Changed || len(doc.Services) != 2 {
		t.Errorf("second deploy changed something: %+v", doc)
	}

	code, _, errOut = runCLI(t, "stack", "rm", name, "-i", invPath)
	if code != exitRefused || !strings.Contains(errOut, name+"_web") {
		t.Errorf("rm without a terminal or --yes: exit %d, %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "stack", "rm", name, "-i", invPath, "--yes")
	if code != exitOK || !strings.Contains(out, "2 services") {
		t.Errorf("rm --yes: exit %d\n%s\n%s", code, out, errOut)
	}
}
