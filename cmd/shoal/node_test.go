package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoalops/shoal/replace"
)

// TestNodeReplaceRefusesBeforeTouchingAnything checks the cases node
// replace decides without reading the cluster: each exits with its code and
// says what to do.
func TestNodeReplaceRefusesBeforeTouchingAnything(t *testing.T) {
	inv := `
nodes:
  - {name: m1, address: 192.0.2.1, role: manager, hoster: a}
  - {name: m2, address: 192.0.2.2, role: manager, hoster: b}
  - {name: m3, address: 192.0.2.3, role: manager, hoster: c}
  - {name: w1, address: 192.0.2.4, role: worker, hoster: a}
`
	tests := []struct {
		name     string
		args     []string
		stack    bool // put the inventory where `shoal up` writes stack local's
		wantCode int
		wantErr  []string
		wantOut  []string
	}{
		{name: "no NAME is bad usage", args: []string{"node", "replace", "--dry-run"}, wantCode: exitUsage,
			wantErr: []string{"accepts 1 arg", "usage: shoal node replace NAME"}},
		{name: "a bare node names its verbs", args: []string{"node"}, wantCode: exitUsage,
			wantErr: []string{"shoal node needs a verb: replace"}},
		{name: "without a terminal and without --yes a real run refuses", args: []string{"node", "replace", "w1"}, wantCode: exitRefused,
			wantErr: []string{"no terminal to ask on, and --yes not given", "pass --yes", "--dry-run"}},
		{name: "--type outside a shoal up stack is refused before any node is dialled", args: []string{"node", "replace", "w1", "--type", "cx32", "--dry-run"},
			wantCode: exitUsage, wantErr: []string{"--type is for `shoal up` stacks"}},
		{name: "--address on a shoal up stack is refused before any node is dialled", args: []string{"node", "replace", "w1", "--address", "192.0.2.9", "--dry-run"}, stack: true,
			wantCode: exitUsage, wantErr: []string{"--address is not used for a `shoal up` stack"}},
		{name: "help lists the steps and the sources", args: []string{"node", "replace", "--help"}, wantCode: exitOK,
			wantOut: []string{"1. create the new server (labs and stacks)", "6. demote NAME (managers only)", "--dry-run prints the numbered steps", "a stack of `shoal up` (--stack, or its inventory): through the Pulumi", "joins as a worker and is\n    promoted in step 2", "--address", "--type",
				"run the same command again: it resumes", "--stuck-after"}},
		{name: "--stuck-after takes a positive duration only", args: []string{"node", "replace", "w1", "--stuck-after", "0s", "--dry-run"},
			wantCode: exitUsage, wantErr: []string{"--stuck-after 0s: want a positive duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			path := filepath.Join(t.TempDir(), "inventory.yaml")
			if tt.stack {
				path = filepath.Join(home, "stacks", "local", "inventory.yaml")
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(inv), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), append([]string{"--home", home, "-i", path}, tt.args...), strings.NewReader("y\n"), &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// A successor that cannot be taken over is refused by a safety rule:
// exit 3, as the quorum and hoster rules.
func TestNodeReplaceResumeRefusalExitsRefused(t *testing.T) {
	err := fmt.Errorf("plan: %w", &replace.ResumeError{Node: "w1", Successor: "w1-r1", Why: "it is not Ready (state down)", Next: "bring it back"})
	if got := codeOf(err); got != exitRefused {
		t.Errorf("codeOf(%v) = %d, want %d", err, got, exitRefused)
	}
}
