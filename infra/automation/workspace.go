package automation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
)

// PulumiVersion is the Pulumi CLI shoal is built and tested with.
const PulumiVersion = "3.274.1"

// ProviderPlugin is the executable name under which the engine looks for
// shoal's provider.
const ProviderPlugin = "pulumi-resource-shoal"

// Options say which stack to work on and where things live.
type Options struct {
	Home    string // shoal's state directory ($SHOAL_HOME)
	Project string // Pulumi project name, default "shoal"
	Stack   string // default "local"
	// Dir holds Pulumi.<stack>.yaml. Empty: the current directory when it
	// has a Pulumi.yaml, else $Home/project with the built-in local stack.
	Dir string
	// Backend is the state backend URL; default $PULUMI_BACKEND_URL, else
	// file://$Home/pulumi/state.
	Backend string
	// PulumiDir is the root of a Pulumi CLI install (the CLI is
	// PulumiDir/bin/pulumi); default $SHOAL_PULUMI_DIR, else the cache
	// scripts/ensure-pulumi.sh fills, else the install `pulumi` on $PATH
	// belongs to.
	PulumiDir string
	// Self is the executable that serves shoal's provider (the running
	// shoal binary, which acts as pulumi-resource-shoal when so named).
	Self    string
	Program pulumi.RunFunc
	// ProgramFor, when set, builds the program once the project directory
	// is known (relative paths in the config are read from it); it wins
	// over Program.
	ProgramFor func(dir string) pulumi.RunFunc
	Progress   io.Writer
	// DefaultConfig is written as Pulumi.<Stack>.yaml when Dir has none.
	DefaultConfig []byte
}

// Workspace is an opened stack.
type Workspace struct {
	Stack   auto.Stack
	Dir     string
	KeyPath string // the stack's SSH private key file (0600)
	env     map[string]string
	cmd     auto.PulumiCommand
	o       Options
}

// Open prepares the workspace and selects (or creates) the stack. Nothing in
// the cloud is touched.
func Open(ctx context.Context, o Options) (*Workspace, error) {
	if o.Project == "" {
		o.Project = "shoal"
	}
	if o.Stack == "" {
		o.Stack = "local"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	dir, err := projectDir(o)
	if err != nil {
		return nil, err
	}
	env, err := environment(o)
	if err != nil {
		return nil, err
	}
	cmd, err := pulumiCommand(o)
	if err != nil {
		return nil, err
	}
	program := o.Program
	if o.ProgramFor != nil {
		program = o.ProgramFor(dir)
	}
	st, err := auto.UpsertStackInlineSource(ctx, o.Stack, o.Project, program,
		auto.WorkDir(dir),
		auto.Pulumi(cmd),
		auto.PulumiHome(filepath.Join(o.Home, "pulumi", "home")),
		auto.EnvVars(env),
		auto.Project(workspace.Project{Name: "shoal", Runtime: workspace.NewProjectRuntimeInfo("go", nil)}),
		auto.SecretsProvider("passphrase"),
	)
	if err != nil {
		return nil, fmt.Errorf("open stack %s: %w", o.Stack, err)
	}
	w := &Workspace{Stack: st, Dir: dir, env: env, cmd: cmd, o: o}
	if err := w.ensureSSHKey(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

func projectDir(o Options) (string, error) {
	dir := o.Dir
	if dir == "" {
		if _, err := os.Stat("Pulumi.yaml"); err == nil {
			dir, _ = os.Getwd()
		} else {
			dir = filepath.Join(o.Home, "project")
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("project directory: %w", err)
	}
	cfg := filepath.Join(dir, "Pulumi."+o.Stack+".yaml")
	if _, err := os.Stat(cfg); errors.Is(err, os.ErrNotExist) {
		if len(o.DefaultConfig) == 0 {
			return "", fmt.Errorf("stack %s has no configuration: write %s (see examples/)", o.Stack, cfg)
		}
		if err := os.WriteFile(cfg, o.DefaultConfig, 0o600); err != nil {
			return "", fmt.Errorf("write default stack config: %w", err)
		}
	}
	return dir, nil
}

// environment is what the Pulumi CLI and engine run with. Secrets travel in
// the environment, never in arguments.
func environment(o Options) (map[string]string, error) {
	backend := o.Backend
	if backend == "" {
		backend = os.Getenv("PULUMI_BACKEND_URL")
	}
	if backend == "" {
		state := filepath.Join(o.Home, "pulumi", "state")
		if err := os.MkdirAll(state, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		backend = "file://" + state
	}
	pass, err := passphrase(o.Home)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(o.Home, "bin")
	if err := linkProvider(bin, o.Self); err != nil {
		return nil, err
	}
	return map[string]string{
		"PULUMI_BACKEND_URL":                   backend,
		"PULUMI_CONFIG_PASSPHRASE":             pass,
		"PULUMI_SKIP_UPDATE_CHECK":             "1",
		"PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "1",
		"PATH":                                 bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}, nil
}

// passphrase is $PULUMI_CONFIG_PASSPHRASE, else one generated once and kept
// in $Home/pulumi/passphrase (0600).
func passphrase(home string) (string, error) {
	if p, ok := os.LookupEnv("PULUMI_CONFIG_PASSPHRASE"); ok {
		return p, nil
	}
	path := filepath.Join(home, "pulumi", "passphrase")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	p := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(p+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save secrets passphrase: %w", err)
	}
	return p, nil
}

// linkProvider points bin/pulumi-resource-shoal at the running binary, so the
// engine always loads the provider that matches this shoal.
func linkProvider(bin, self string) error {
	if self == "" {
		return errors.New("no provider executable given")
	}
	if err := os.MkdirAll(bin, 0o700); err != nil {
		return err
	}
	link := filepath.Join(bin, ProviderPlugin)
	if cur, err := os.Readlink(link); err == nil && cur == self {
		return nil
	}
	_ = os.Remove(link)
	if err := os.Symlink(self, link); err != nil {
		return fmt.Errorf("install provider plugin link: %w", err)
	}
	return nil
}

func pulumiCommand(o Options) (auto.PulumiCommand, error) {
	dir := o.PulumiDir
	if dir == "" {
		dir = os.Getenv("SHOAL_PULUMI_DIR")
	}
	if dir == "" {
		cache := os.Getenv("SHOAL_CACHE")
		if cache == "" {
			if c, err := os.UserCacheDir(); err == nil {
				cache = filepath.Join(c, "shoal")
			}
		}
		cand := filepath.Join(cache, "pulumi", "v"+PulumiVersion)
		if _, err := os.Stat(filepath.Join(cand, "bin", "pulumi")); err == nil {
			dir = cand
		}
	}
	if dir == "" {
		if p, err := exec.LookPath("pulumi"); err == nil {
			dir = filepath.Dir(filepath.Dir(p))
		}
	}
	if dir == "" {
		return nil, errors.New("the Pulumi CLI was not found: install it, put it on PATH, or run scripts/ensure-pulumi.sh")
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: dir, Version: semver.MustParse(PulumiVersion)})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI in %s: %w", dir, err)
	}
	return cmd, nil
}

// ensureSSHKey gives a stack without shoal:sshPrivateKey a new ed25519 key
// pair: the private key as a secret in the stack config (sent on stdin,
// never as an argument) and in a 0600 file for status and heal.
func (w *Workspace) ensureSSHKey(ctx context.Context) error {
	stackDir := filepath.Join(w.o.Home, "stacks", w.o.Stack)
	w.KeyPath = filepath.Join(stackDir, "id_ed25519")
	cfg, err := w.Stack.GetAllConfig(ctx)
	if err != nil {
		return fmt.Errorf("read stack config: %w", err)
	}
	if v, ok := cfg["shoal:sshPrivateKey"]; ok {
		if _, err := os.Stat(w.KeyPath); err != nil {
			if err := os.MkdirAll(stackDir, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(w.KeyPath, []byte(v.Value), 0o600); err != nil {
				return fmt.Errorf("write stack ssh key: %w", err)
			}
		}
		return nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "shoal "+w.o.Stack)
	if err != nil {
		return err
	}
	pemKey := pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stackDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(w.KeyPath, pemKey, 0o600); err != nil {
		return fmt.Errorf("write stack ssh key: %w", err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	if err := w.configSet(ctx, "shoal:sshPublicKey", authorized, false); err != nil {
		return err
	}
	return w.configSet(ctx, "shoal:sshPrivateKey", string(pemKey), true)
}

// configSet runs `pulumi config set` with the value on stdin.
func (w *Workspace) configSet(ctx context.Context, key, value string, secret bool) error {
	mode := "--plaintext"
	if secret {
		mode = "--secret"
	}
	var env []string
	for k, v := range w.env {
		env = append(env, k+"="+v)
	}
	_, stderr, code, err := w.cmd.Run(ctx, w.Dir, strings.NewReader(value), nil, nil, env,
		"config", "set", "--stack", w.o.Stack, key, mode, "--non-interactive")
	if err != nil || code != 0 {
		return fmt.Errorf("set %s in stack %s: exit %d: %s: %w", key, w.o.Stack, code, strings.TrimSpace(stderr), err)
	}
	return nil
}

// SetConfigPathInt sets key, in path syntax (`shoal:generations.w-1`), to
// the integer v in the stack config: `pulumi config set --path --type int`,
// the value on stdin. For plain values only (heal's generations).
func (w *Workspace) SetConfigPathInt(ctx context.Context, key string, v int) error {
	var env []string
	for k, val := range w.env {
		env = append(env, k+"="+val)
	}
	_, stderr, code, err := w.cmd.Run(ctx, w.Dir, strings.NewReader(fmt.Sprint(v)), nil, nil, env,
		"config", "set", "--stack", w.o.Stack, "--path", key, "--type", "int", "--non-interactive")
	if err != nil || code != 0 {
		return fmt.Errorf("set %s in stack %s: exit %d: %s: %w", key, w.o.Stack, code, strings.TrimSpace(stderr), err)
	}
	return nil
}
