package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// app holds what every verb shares: streams and global flags. It is built
// in Main and passed down; there are no globals.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	home      string // --home
	inventory string // --inventory
	output    string // --output
	verbose   bool   // --verbose
	// labSuffix overrides the lab name suffix of local pools (the heal
	// service gets the operator's); "" is lab.HomeID(home).
	labSuffix string

	log *slog.Logger
	// tty, when set, says whether stdin is a terminal (tests); nil: ask
	// the file.
	tty func() bool
	// helpErr is a usage error found while --help was asked (an unknown
	// verb): cobra's help path has no error return, so finish reports it.
	helpErr error
}

func (a *app) json() bool { return a.output == "json" }

// setup validates global flags and builds the logger.
func (a *app) setup() error {
	switch a.output {
	case "text", "json":
	default:
		return withCode(exitUsage, fmt.Errorf("--output must be text or json, got %q", a.output))
	}
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(a.log)
	if a.home == "" {
		a.home = os.Getenv("SHOAL_HOME")
	}
	if a.home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find home directory (set SHOAL_HOME): %w", err)
		}
		a.home = filepath.Join(h, ".shoal")
	}
	return nil
}

// currentPointer is the file naming the inventory a bare command uses
// (written by `shoal lab up`).
func (a *app) currentPointer() string { return filepath.Join(a.home, "current-inventory") }

// inventoryPath resolves which inventory a command works on: --inventory,
// then $SHOAL_INVENTORY, then ./inventory.yaml, then the last lab.
func (a *app) inventoryPath() (string, error) {
	if a.inventory != "" {
		return a.inventory, nil
	}
	if p := os.Getenv("SHOAL_INVENTORY"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("inventory.yaml"); err == nil {
		return "inventory.yaml", nil
	}
	if b, err := os.ReadFile(a.currentPointer()); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			return p, nil
		}
	}
	return "", withCode(exitUsage, errors.New("no inventory: pass --inventory FILE, set SHOAL_INVENTORY, or run `shoal lab up` or `shoal up`"))
}

// loadInventory reads and validates the inventory; warnings go to stderr.
func (a *app) loadInventory() (*inventory.Inventory, error) {
	path, err := a.inventoryPath()
	if err != nil {
		return nil, err
	}
	inv, err := inventory.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		if stack := stackOf(a.home, path); stack != "" {
			return nil, withCode(exitUsage, fmt.Errorf("no cluster of stack %s under %s: run `shoal up` first, or pass the --home `shoal up` used (%w)", stack, a.home, err))
		}
	}
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	warnings, err := inv.Validate()
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s: %s\n", path, w)
	}
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if inv.SSH.KnownHosts == "" {
		inv.SSH.KnownHosts = filepath.Join(a.home, "known_hosts")
	}
	return inv, nil
}

// finish prints the error (as JSON under --output json) and picks the exit code.
func (a *app) finish(err error) int {
	if err == nil {
		err = a.helpErr
	}
	if err == nil {
		return exitOK
	}
	code := codeOf(err)
	if err.Error() == "" {
		return code
	}
	if a.json() {
		_ = json.NewEncoder(a.stdout).Encode(map[string]any{"error": err.Error(), "exit_code": code})
	} else {
		fmt.Fprintf(a.stderr, "error: %s\n", indent(err.Error()))
	}
	return code
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// nodePrinter prints progress lines "[m1 hoster/region] msg" to stderr.
type nodePrinter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix map[string]string
}

func newNodePrinter(w io.Writer, inv *inventory.Inventory) *nodePrinter {
	p := &nodePrinter{w: w, prefix: map[string]string{}}
	width := 0
	for _, n := range inv.Nodes {
		where := n.Hoster
		if n.Region != "" {
			where += "/" + n.Region
		}
		p.prefix[n.Name] = fmt.Sprintf("[%s %s]", n.Name, where)
		width = max(width, len(p.prefix[n.Name]))
	}
	for k, v := range p.prefix {
		p.prefix[k] = v + strings.Repeat(" ", width-len(v))
	}
	return p
}

func (p *nodePrinter) Node(name, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pre, ok := p.prefix[name]
	if !ok {
		pre = "[" + name + "]"
	}
	fmt.Fprintf(p.w, "%s %s\n", pre, msg)
}

// interactive tells whether questions can be asked: stdin is a terminal.
func (a *app) interactive() bool {
	if a.tty != nil {
		return a.tty()
	}
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) // /dev/null is a character device, not a terminal
}

// confirm asks a yes/no question on the terminal; only an exact "y" is yes.
// Without a terminal it answers no, so nothing destructive runs unattended.
func (a *app) confirm(question string) bool {
	if !a.interactive() {
		return false
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	return strings.TrimSpace(line) == "y"
}
