package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// testRoot is the command tree as Main builds it, with cobra's help and
// completion verbs added as they are when it runs.
func testRoot() *cobra.Command {
	root := newRootCmd(&app{})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

func TestRootHelpListsEveryVerb(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	if code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	bare, _, _ := runCLI(t)
	if bare != exitOK {
		t.Fatalf("bare shoal: exit %d, want its help and 0", bare)
	}
	for _, c := range testRoot().Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		if c.GroupID == "" {
			t.Errorf("verb %s is in no group of the root help", c.Name())
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(c.Name()) + ` +\S`).MatchString(out) {
			t.Errorf("`shoal --help` does not list %s:\n%s", c.Name(), out)
		}
	}
}

func TestUsageErrorsExit2AndSayWhatToType(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "an unknown verb names the close one", args: []string{"upp"},
			wantErr: []string{`unknown verb "upp" for shoal`, "did you mean `shoal up`?"}},
		{name: "an unknown sub-verb names the close one", args: []string{"lab", "upp"},
			wantErr: []string{`unknown verb "upp" for shoal lab`, "did you mean `shoal lab up`?", "verbs: down, up"}},
		{name: "a verb group without its verb lists them", args: []string{"stack"},
			wantErr: []string{"shoal stack needs a verb: deploy, files, rm"}},
		{name: "an unknown flag points at the help", args: []string{"status", "--bogus"},
			wantErr: []string{"unknown flag: --bogus", "`shoal status --help`"}},
		{name: "a missing argument shows the usage", args: []string{"stack", "deploy"},
			wantErr: []string{"shoal stack deploy: accepts 1 arg(s), received 0", "usage: shoal stack deploy NAME"}},
		{name: "an extra argument is refused", args: []string{"status", "extra"},
			wantErr: []string{"shoal status:", `unknown command "extra"`}},
		{name: "an unknown flag of a verb group is refused too", args: []string{"lab", "--bogus"},
			wantErr: []string{"unknown flag: --bogus"}},
		{name: "an unknown verb with --help is refused, not answered with the root's help", args: []string{"stacks", "--help"},
			wantErr: []string{`unknown verb "stacks" for shoal`, "did you mean `shoal stack`"}},
		{name: "an unknown sub-verb with --help is refused", args: []string{"lab", "upp", "--help"},
			wantErr: []string{`unknown verb "upp" for shoal lab`, "did you mean `shoal lab up`?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, errs)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestUpAndDestroyWithoutATerminalNeedYes(t *testing.T) {
	for _, verb := range []string{"up", "destroy"} {
		t.Run(verb, func(t *testing.T) {
			home := t.TempDir()
			var out, errb bytes.Buffer
			code := Main(context.Background(), []string{"--home", home, verb}, strings.NewReader("y\n"), &out, &errb)
			if code != exitRefused || !strings.Contains(errb.String(), "pass --yes") {
				t.Fatalf("exit %d, want %d saying to pass --yes\n%s", code, exitRefused, errb.String())
			}
			if entries, _ := os.ReadDir(home); len(entries) != 0 {
				t.Errorf("a refused %s left files in SHOAL_HOME: %v", verb, entries)
			}
		})
	}
}

func TestConfirmTakesOnlyAnExactY(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "y": true, "yes\n": false, "Y\n": false, "\n": false, "": false} {
		a := &app{stdin: strings.NewReader(answer), stderr: &bytes.Buffer{}, tty: func() bool { return true }}
		if got := a.confirm("go on?"); got != want {
			t.Errorf("answer %q: confirm = %v, want %v", answer, got, want)
		}
	}
	a := &app{stdin: strings.NewReader("y\n"), stderr: &bytes.Buffer{}, tty: func() bool { return false }}
	if a.confirm("go on?") {
		t.Errorf("confirm said yes without a terminal")
	}
}

// A command line in a text: `shoal VERB [SUB-VERB] [ARG...]` inside
// backticks (help texts, messages, README, Pulumi.yaml), or a line of an
// example or script that runs shoal.
var (
	backticked = regexp.MustCompile("`((?:bin/)?shoal(?: [^`]*)?)`")
	exampleRun = regexp.MustCompile(`(?m)(?:^|[\s|(;&])(?:bin/)?shoal((?: +[a-z][a-z0-9-]*)*)`)
	word       = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// mentions returns the shoal command lines a text names: the words after
// "shoal" up to the first flag, placeholder or punctuation.
func mentions(text string, example bool) [][]string {
	var lines []string
	for _, m := range backticked.FindAllStringSubmatch(text, -1) {
		lines = append(lines, m[1])
	}
	if example {
		for _, m := range exampleRun.FindAllStringSubmatch(text, -1) {
			lines = append(lines, "shoal"+m[1])
		}
	}
	var out [][]string
	for _, l := range lines {
		fields := strings.Fields(l)[1:]
		var words []string
		for _, f := range fields {
			if !word.MatchString(f) {
				break
			}
			words = append(words, f)
		}
		out = append(out, words)
	}
	return out
}

// checkMention fails when words do not name a registered verb (and
// sub-verb) that accepts the rest as its arguments.
func checkMention(t *testing.T, root *cobra.Command, where string, words []string) {
	t.Helper()
	if len(words) == 0 {
		return
	}
	cmd, rest, err := root.Find(words)
	switch {
	case err != nil:
		t.Errorf("%s names `shoal %s`: %v", where, strings.Join(words, " "), err)
	case cmd == root:
		t.Errorf("%s names `shoal %s`: there is no verb %q", where, strings.Join(words, " "), words[0])
	case cmd.HasSubCommands() && len(rest) > 0:
		t.Errorf("%s names `shoal %s`: %s has no verb %q", where, strings.Join(words, " "), cmd.CommandPath(), rest[0])
	case !cmd.HasSubCommands() && len(rest) > 0: // a verb named alone is prose, not a command line
		if err := cmd.ValidateArgs(rest); err != nil {
			t.Errorf("%s names `shoal %s`: %v", where, strings.Join(words, " "), err)
		}
	}
}

func TestNoTextNamesAVerbThatDoesNotExist(t *testing.T) {
	root := testRoot()

	// Every help text of every registered command.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for field, text := range map[string]string{"Use": c.Use, "Short": c.Short, "Long": c.Long} {
			for _, m := range mentions(text, false) {
				checkMention(t, root, c.CommandPath()+" "+field, m)
			}
		}
		for _, m := range mentions(c.Example, true) {
			checkMention(t, root, c.CommandPath()+" Example", m)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	// Every string literal of the Go sources outside tests: messages and
	// their templates.
	repo := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != repo {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range mentions(s, false) {
				found++
				checkMention(t, root, fset.Position(lit.Pos()).String(), m)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 10 {
		t.Fatalf("found only %d command lines in the Go sources: the scan is broken", found)
	}

	// The project file, the README, the examples and the scripts.
	files := []string{"Pulumi.yaml", "Pulumi.local.yaml", "README.md"}
	for _, pattern := range []string{"examples/*/*.yaml", "examples/*/*.yml", "scripts/*.sh"} {
		m, _ := filepath.Glob(filepath.Join(repo, pattern))
		for _, p := range m {
			rel, _ := filepath.Rel(repo, p)
			files = append(files, rel)
		}
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range mentions(text, false) {
			checkMention(t, root, name, m)
		}
		if strings.HasSuffix(name, ".sh") { // the commands a script runs; its comments are prose
			for _, m := range mentions(regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(text, ""), true) {
				checkMention(t, root, name, m)
			}
		}
	}
}

func TestMentionsFindsCommandLines(t *testing.T) {
	for text, want := range map[string]string{
		"run `shoal dr recover` now":                      "dr recover",
		"` + \"`shoal lab up`\" + `":                      "lab up",
		"`shoal stack deploy NAME -f F` / `stack rm`":     "stack deploy",
		"`bin/shoal destroy --yes --dir ~/.shoal/x`":      "destroy",
		"`shoal heal replace w3` (asks first)":            "heal replace w3",
		"`shoal:pools` and `shoal` alone and shoal's own": "",
	} {
		var got []string
		for _, m := range mentions(text, false) {
			if len(m) > 0 {
				got = append(got, strings.Join(m, " "))
			}
		}
		if strings.Join(got, "|") != want {
			t.Errorf("mentions(%q) = %q, want %q", text, got, want)
		}
	}
	if got := mentions("  shoal lab up --fresh\n  echo x | shoal stack deploy a -f b\n", true); len(got) != 2 || strings.Join(got[0], " ") != "lab up" || strings.Join(got[1], " ") != "stack deploy a" {
		t.Errorf("example mentions = %q", got)
	}
}
