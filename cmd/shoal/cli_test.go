package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	home := t.TempDir()
	code := Main(context.Background(), append([]string{"--home", home}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIExitCodesAndMessages(t *testing.T) {
	evenManagers := writeFile(t, "even.yaml", `
nodes:
  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}
  - {name: m2, address: 10.0.0.2, role: manager, hoster: b}
`)
	unknownField := writeFile(t, "unknown.yaml", `
nodes:
  - {name: m1, address: 10.0.0.1, role: manager, hoster: a, colour: blue}
`)
	oneHoster := writeFile(t, "onehoster.yaml", `
nodes:
  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}
  - {name: m2, address: 10.0.0.2, role: manager, hoster: a}
  - {name: m3, address: 10.0.0.3, role: manager, hoster: b}
`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string // in stderr
		wantOut  []string // in stdout
	}{
		{name: "an even number of managers is refused as bad input naming file and field",
			args: []string{"bootstrap", "-i", evenManagers}, wantCode: exitUsage,
			wantErr: []string{"even.yaml", "managers"}},
		{name: "an unknown field names the file, line and field",
			args: []string{"status", "-i", unknownField}, wantCode: exitUsage,
			wantErr: []string{"unknown.yaml:3", "colour"}},
		{name: "two of three managers at one hoster are refused before anything is touched",
			args: []string{"bootstrap", "-i", oneHoster}, wantCode: exitUsage,
			wantErr: []string{"onehoster.yaml", `hoster "a"`, "allow_single_hoster_quorum"}},
		{name: "a missing inventory file is bad input",
			args: []string{"status", "-i", "/nonexistent/inventory.yaml"}, wantCode: exitUsage,
			wantErr: []string{"/nonexistent/inventory.yaml"}},
		{name: "an unknown output format is bad usage",
			args: []string{"status", "-o", "yaml"}, wantCode: exitUsage,
			wantErr: []string{"--output must be text or json"}},
		{name: "an even --managers for the lab is refused",
			args: []string{"lab", "up", "--managers", "2"}, wantCode: exitUsage,
			wantErr: []string{"--managers must be odd"}},
		{name: "help explains each verb",
			args: []string{"--help"}, wantCode: exitOK,
			wantOut: []string{"bootstrap", "status", "lab", "Exit codes"}},
		{name: "bootstrap help explains idempotence and dry run",
			args: []string{"bootstrap", "--help"}, wantCode: exitOK,
			wantOut: []string{"--dry-run", "converged", "another swarm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCLIJSONErrorIsOneDocument(t *testing.T) {
	code, out, _ := runCLI(t, "status", "-o", "json", "-i", "/nonexistent/inventory.yaml")
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	if doc["exit_code"] != float64(exitUsage) || !strings.Contains(doc["error"].(string), "inventory.yaml") {
		t.Errorf("error document: %v", doc)
	}
}

func TestCLIBareCommandWithoutInventorySaysWhatToDo(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("SHOAL_INVENTORY", "")
	code, _, errs := runCLI(t, "status")
	if code != exitUsage || !strings.Contains(errs, "shoal lab up") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestBuiltInProjectMatchesTheRepository(t *testing.T) {
	for file, builtIn := range map[string][]byte{"Pulumi.yaml": builtInProject, "Pulumi.local.yaml": builtInLocalStack} {
		repo, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		if string(repo) != string(builtIn) {
			t.Errorf("cmd/shoal/defaults/%s differs from the repository's %s: copy it over", file, file)
		}
	}
}
