package automation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/infra"
)

// PulumiVersion is the Pulumi CLI shoal is built and tested with.
const PulumiVersion = "3.274.1"

// ProviderPlugin is the executable name under which the engine looks for
// shoal's provider.
const ProviderPlugin = "pulumi-resource-shoal"

// Options say which stack to work on and where things live.
type Options struct {
	Home  string // shoal's state directory ($SHOAL_HOME)
	Stack string // default "local"
	// Dir is the project directory. Its Pulumi.yaml (else the built-in
	// one) and its Pulumi.<Stack>.yaml are read and never written. Empty:
	// the current directory when it has a Pulumi.yaml, else the built-in
	// project and its stacks (BuiltIn).
	Dir string
	// BuiltIn is shoal's own project, used outside a project directory.
	BuiltIn BuiltIn
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
	Self string
	// Program builds the program for one run; default infra.ProgramWith.
	// Open fills in the project directory and the generated key pair.
	Program  func(infra.Options) pulumi.RunFunc
	Progress io.Writer
	// Existing: the stack must exist already, with its generated SSH key
	// when it has one (day-2 verbs: dr recover, dr restore). Open refuses
	// instead of creating the stack or a new key, which would not be the
	// key the servers trust.
	Existing bool
}

// BuiltIn is shoal's own project: its Pulumi.yaml and the stack files it
// ships, by stack name (copies of the repository's, kept equal by tests).
type BuiltIn struct {
	Project []byte
	Stacks  map[string][]byte
}

// Workspace is an opened stack.
type Workspace struct {
	Stack auto.Stack
	// WorkDir is where the Pulumi CLI runs: shoal's own directory under
	// $SHOAL_HOME holding copies of the project's files (ADR 0010).
	WorkDir string
	// StackFile is the user's Pulumi.<stack>.yaml ("" for a built-in
	// stack).
	StackFile string
	KeyPath   string        // the stack's SSH private key file (0600)
	base      infra.Options // the program's options but for one run's generations
	env       map[string]string
	cmd       auto.PulumiCommand
	o         Options
	src       source
}

// Open checks the stack's config, prepares the workspace and selects (or
// creates) the stack. A config that fails the check (infra.Preflight:
// unknown keys, invalid values) is refused before anything exists: no
// stack in the backend, no key, no file. Nothing in the cloud is touched.
func Open(ctx context.Context, o Options) (*Workspace, error) {
	if o.Stack == "" {
		o.Stack = "local"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Program == nil {
		o.Program = infra.ProgramWith
	}
	src, err := readSource(o)
	if err != nil {
		return nil, err
	}
	needsKey, _, err := infra.Preflight(o.Stack, src.project, src.stack)
	if err != nil {
		return nil, fmt.Errorf("stack %s (%s): %w", o.Stack, src.where, err)
	}
	env, err := environment(o)
	if err != nil {
		return nil, err
	}
	cmd, err := pulumiCommand(o)
	if err != nil {
		return nil, err
	}
	w := &Workspace{StackFile: src.stackPath, env: env, cmd: cmd, o: o, src: src,
		KeyPath: filepath.Join(o.Home, "stacks", o.Stack, "id_ed25519")}
	var key *infra.KeyPair
	keyLost := false // refused once the stack is known to exist
	if needsKey && o.Existing {
		_, err := os.Stat(w.KeyPath)
		keyLost = errors.Is(err, os.ErrNotExist)
	}
	if needsKey && !keyLost {
		if key, err = generatedKey(w.KeyPath, o.Stack); err != nil {
			return nil, err
		}
	}
	if w.WorkDir, err = syncWorkDir(o.Home, env["PULUMI_BACKEND_URL"], o.Stack, src); err != nil {
		return nil, err
	}
	w.base = infra.Options{Root: src.root, SSHKey: key}
	open := auto.UpsertStackInlineSource
	if o.Existing {
		open = auto.SelectStackInlineSource
	}
	st, err := open(ctx, o.Stack, src.name, o.Program(w.base),
		auto.WorkDir(w.WorkDir),
		auto.Pulumi(cmd),
		auto.PulumiHome(filepath.Join(o.Home, "pulumi", "home")),
		auto.EnvVars(env),
		auto.SecretsProvider("passphrase"),
	)
	if o.Existing && auto.IsSelectStack404Error(err) {
		return nil, fmt.Errorf("stack %s does not exist in the backend %s: nothing was changed (pass the --dir and --backend `shoal up` used)", o.Stack, env["PULUMI_BACKEND_URL"])
	}
	if err != nil {
		return nil, fmt.Errorf("open stack %s: %w", o.Stack, err)
	}
	if keyLost {
		return nil, fmt.Errorf("stack %s: its generated SSH key %s is missing (is this the $SHOAL_HOME `shoal up` used?): a new key would not be the one its servers trust; nothing was changed", o.Stack, w.KeyPath)
	}
	w.Stack = st
	if !needsKey {
		if err := w.copyConfigKey(ctx); err != nil {
			return nil, err
		}
	}
	// The deployed generations are the floor of every run (infra.Options
	// Deployed): a replacement heal made stays made.
	if w.base.Deployed, w.base.Successors, err = w.deployed(ctx); err != nil {
		return nil, err
	}
	w.setProgram(nil)
	return w, nil
}

// deployed are the node generations and the successors of the stack's
// last run (none for a new stack).
func (w *Workspace) deployed(ctx context.Context) (map[string]int, []infra.Successor, error) {
	out, err := w.Stack.Outputs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read stack outputs of %s: %w", w.o.Stack, err)
	}
	return deployedOf(out)
}

// deployedOf is infra.DeployedOf on outputs read by the Automation API.
func deployedOf(out auto.OutputMap) (map[string]int, []infra.Successor, error) {
	plain := make(map[string]any, len(out))
	for k, v := range out {
		plain[k] = v.Value
	}
	return infra.DeployedOf(plain)
}

// Successors are the successors the stack's last run deployed (`shoal
// node replace`), as the next run keeps them.
func (w *Workspace) Successors() []infra.Successor { return slices.Clone(w.base.Successors) }

// setProgram makes the next run use the program with generations gens
// over the stack's (nil: the stack's, over the deployed ones).
func (w *Workspace) setProgram(gens map[string]int) {
	o := w.base
	o.Generations = gens
	w.Stack.Workspace().SetProgram(w.o.Program(o))
}

// source is what the project and stack files say, and where they are.
// ReadConfig reads the stack's config from its files as Pulumi reads them,
// without selecting or creating the stack and without writing anything
// (`shoal heal` reads shoal:heal with it).
func ReadConfig(o Options) (infra.Config, error) {
	if o.Stack == "" {
		o.Stack = "local"
	}
	src, err := readSource(o)
	if err != nil {
		return infra.Config{}, err
	}
	c, err := infra.ConfigFromFiles(o.Stack, src.project, src.stack)
	if err != nil {
		return c, fmt.Errorf("stack %s (%s): %w", o.Stack, src.where, err)
	}
	return c, nil
}

type source struct {
	name      string // the project's name
	project   []byte // Pulumi.yaml
	stack     []byte // Pulumi.<stack>.yaml
	stackPath string // the user's stack file; "" for a built-in stack
	root      string // where relative paths in the config start
	where     string // for messages: "/path/Pulumi.prod.yaml" or "built-in Pulumi.local.yaml"
}

// readSource reads the project's files; it writes nothing.
func readSource(o Options) (source, error) {
	var s source
	dir := o.Dir
	if dir == "" {
		if _, err := os.Stat("Pulumi.yaml"); err == nil {
			dir = "."
		}
	}
	stackFile := "Pulumi." + o.Stack + ".yaml"
	if dir == "" {
		b, ok := o.BuiltIn.Stacks[o.Stack]
		if !ok || len(o.BuiltIn.Project) == 0 {
			return s, &infra.ConfigError{Key: stackFile, Msg: fmt.Sprintf("no Pulumi.yaml here and no built-in stack %s (built in: %s): run shoal in the project directory or pass --dir", o.Stack, strings.Join(slices.Sorted(maps.Keys(o.BuiltIn.Stacks)), ", "))}
		}
		cwd, err := os.Getwd()
		if err != nil {
			return s, err
		}
		s = source{project: o.BuiltIn.Project, stack: b, root: cwd, where: "built-in " + stackFile}
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return s, err
		}
		s.root = abs
		if s.project, err = os.ReadFile(filepath.Join(abs, "Pulumi.yaml")); errors.Is(err, os.ErrNotExist) {
			s.project = o.BuiltIn.Project // a directory of stack files (examples/*): shoal's own project
		} else if err != nil {
			return s, fmt.Errorf("read project: %w", err)
		}
		if len(s.project) == 0 {
			return s, &infra.ConfigError{Key: "Pulumi.yaml", Msg: "not found in " + abs}
		}
		var p struct {
			StackConfigDir string `yaml:"stackConfigDir"`
		}
		_ = yaml.Unmarshal(s.project, &p) // a broken project file is reported below
		s.stackPath = filepath.Join(abs, p.StackConfigDir, stackFile)
		s.where = s.stackPath
		if s.stack, err = os.ReadFile(s.stackPath); errors.Is(err, os.ErrNotExist) {
			return s, &infra.ConfigError{Key: stackFile, Msg: fmt.Sprintf("not found in %s: write it (examples/ has some), or pass --dir or --stack", filepath.Dir(s.stackPath))}
		} else if err != nil {
			return s, fmt.Errorf("read stack config: %w", err)
		}
	}
	var p struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(s.project, &p); err != nil || p.Name == "" {
		return s, &infra.ConfigError{Key: "Pulumi.yaml", Msg: fmt.Sprintf("no project name (%v)", err)}
	}
	s.name = p.Name
	return s, nil
}

// syncWorkDir copies the project's files into shoal's work directory for
// the project in this backend, $home/pulumi/work/<backend>/<project>, so
// the Pulumi CLI reads them there and anything it writes (the stack's
// encryption salt on creation) lands in shoal's copy, never in the
// user's file. What Pulumi wrote into an earlier copy and the user's file
// lacks (the salt) is carried over.
func syncWorkDir(home, backend, stack string, src source) (string, error) {
	sum := sha256.Sum256([]byte(backend))
	dir := filepath.Join(home, "pulumi", "work", hex.EncodeToString(sum[:6]), src.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	proj, err := workProject(src.project)
	if err != nil {
		return "", fmt.Errorf("Pulumi.yaml: %w", err)
	}
	if err := writeIfChanged(filepath.Join(dir, "Pulumi.yaml"), proj); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	path := filepath.Join(dir, "Pulumi."+stack+".yaml")
	prev, _ := os.ReadFile(path)
	b, err := carrySecretsState(src.stack, prev)
	if err != nil {
		return "", fmt.Errorf("stack config %s: %w", src.where, err)
	}
	if err := writeIfChanged(path, b); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	return dir, nil
}

// workProject is the project file as the work directory holds it: the
// user's, without the keys that name paths in the user's directory (main,
// which an inline program does not use but Pulumi checks exists, and
// stackConfigDir: the stack file's copy sits beside it).
func workProject(project []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(project, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); {
		switch m.Content[i].Value {
		case "main", "stackConfigDir":
			m.Content = slices.Delete(m.Content, i, i+2)
		default:
			i += 2
		}
	}
	return yaml.Marshal(&doc)
}

// secretsStateKeys are the top-level keys of a stack file in which
// Pulumi keeps the secrets provider's state.
var secretsStateKeys = []string{"secretsprovider", "encryptedkey", "encryptionsalt"}

// carrySecretsState is the user's stack file with the secrets provider
// state of the previous copy appended where the user's file has none.
func carrySecretsState(user, prev []byte) ([]byte, error) {
	var u, p map[string]any
	if err := yaml.Unmarshal(user, &u); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(prev, &p); err != nil {
		p = nil // a damaged copy is replaced
	}
	out := slices.Clone(user)
	for _, k := range secretsStateKeys {
		if _, ok := u[k]; ok {
			return user, nil // the user's file carries its own state
		}
	}
	for _, k := range secretsStateKeys {
		v, ok := p[k].(string)
		if !ok {
			continue
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		line, err := yaml.Marshal(map[string]string{k: v})
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
	}
	return out, nil
}

func writeIfChanged(path string, b []byte) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	return writeAtomic(path, b)
}

// environment is what the Pulumi CLI and engine run with. Secrets travel in
// the environment, never in arguments.
func environment(o Options) (map[string]string, error) {
	backend := BackendURL(o)
	if state, ok := strings.CutPrefix(backend, "file://"); ok && backend == defaultBackend(o.Home) {
		if err := os.MkdirAll(state, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	pass, err := Passphrase(o.Home)
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
		"SHOAL_HOME":                           o.Home, // the provider keeps lab state there
		"PATH":                                 bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}, nil
}

// BackendURL is the state backend a stack opened with o uses: o.Backend,
// else $PULUMI_BACKEND_URL, else a file backend under o.Home. It reads
// the environment and nothing else.
func BackendURL(o Options) string {
	if o.Backend != "" {
		return o.Backend
	}
	if b := os.Getenv("PULUMI_BACKEND_URL"); b != "" {
		return b
	}
	return defaultBackend(o.Home)
}

func defaultBackend(home string) string {
	return "file://" + filepath.Join(home, "pulumi", "state")
}

// Files are the project file and the stack file as the Pulumi CLI reads
// them in the work directory: the user's (or the built-in) files, with the
// secrets provider's state Pulumi keeps (the encryption salt) and without
// paths into the user's directory. Opened elsewhere with the same
// passphrase (the heal service: --dir holding these two), they decrypt the
// same state.
func (w *Workspace) Files() (project, stack []byte, err error) {
	if project, err = os.ReadFile(filepath.Join(w.WorkDir, "Pulumi.yaml")); err != nil {
		return nil, nil, err
	}
	if stack, err = os.ReadFile(filepath.Join(w.WorkDir, "Pulumi."+w.o.Stack+".yaml")); err != nil {
		return nil, nil, err
	}
	return project, stack, nil
}

// Passphrase is $PULUMI_CONFIG_PASSPHRASE, else one generated once and kept
// in $Home/pulumi/passphrase (0600).
func Passphrase(home string) (string, error) {
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
	dir, err := PulumiDir(o)
	if err != nil {
		return nil, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: dir, Version: semver.MustParse(PulumiVersion)})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI in %s: %w", dir, err)
	}
	return cmd, nil
}

// PulumiDir is the root of the Pulumi CLI install shoal runs (the CLI is
// PulumiDir/bin/pulumi): o.PulumiDir, $SHOAL_PULUMI_DIR, the cache
// scripts/ensure-pulumi.sh fills, else the install `pulumi` on $PATH
// belongs to.
func PulumiDir(o Options) (string, error) {
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
		return "", errors.New("the Pulumi CLI was not found: install it, put it on PATH, or run scripts/ensure-pulumi.sh")
	}
	return dir, nil
}

// generatedKey is the key pair shoal keeps for a stack of only local
// pools that sets none (infra.KeyPair): read from path, or made once and
// written there (0600). It is never written into a stack file.
func generatedKey(path, stack string) (*infra.KeyPair, error) {
	if b, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("stack %s: ssh key %s: %w", stack, path, err)
		}
		return &infra.KeyPair{Private: string(b), Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stack %s: ssh key: %w", stack, err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "shoal "+stack)
	if err != nil {
		return nil, err
	}
	pemKey := pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, pemKey); err != nil {
		return nil, fmt.Errorf("write stack ssh key: %w", err)
	}
	return &infra.KeyPair{Private: string(pemKey), Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}, nil
}

// copyConfigKey keeps KeyPath equal to the stack config's
// shoal:sshPrivateKey, for status, bootstrap and heal.
func (w *Workspace) copyConfigKey(ctx context.Context) error {
	cfg, err := w.Stack.GetAllConfig(ctx)
	if err != nil {
		return fmt.Errorf("read stack config: %w", err)
	}
	v, ok := cfg[infra.Namespace+":"+infra.KeySSHPrivateKey]
	if !ok || v.Value == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(w.KeyPath), 0o700); err != nil {
		return err
	}
	if err := writeIfChanged(w.KeyPath, []byte(v.Value)); err != nil {
		return fmt.Errorf("write stack ssh key: %w", err)
	}
	return nil
}
