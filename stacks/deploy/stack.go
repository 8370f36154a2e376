package deploy

import (
	"fmt"
	"io/fs"
	"regexp"
	"time"
)

// Stack is one stack to deploy: a name, its compose file(s) and what they
// need from outside.
type Stack struct {
	// Name is the stack namespace: objects are named NAME_<key> and labelled
	// com.docker.stack.namespace=NAME.
	Name string
	// Compose is the compose file; Overrides are merged over it in order,
	// as `docker stack deploy -c base.yml -c override.yml` does.
	Compose   []byte
	Overrides [][]byte
	// Env is what ${VAR} in the files resolves to. The process environment
	// is not consulted: callers that want it (the CLI) put it here.
	Env map[string]string
	// Dir is the directory relative paths in the files are resolved against
	// (secret and config `file:` sources, env_file). Empty: paths stay
	// relative.
	Dir string
	// Files holds the secret and config `file:` sources, by path relative
	// to Dir, so that generated secrets never touch a disk. Nil: the sources
	// are read from the local file system.
	Files fs.FS
	// RegistryAuth are credentials sent to the swarm with each created or
	// updated service whose image lives on that registry (the
	// `--with-registry-auth` equivalent), so nodes can pull private images.
	RegistryAuth []RegistryAuth
}

// RegistryAuth is a login for one registry.
type RegistryAuth struct {
	// Server is the registry host as it appears in image references
	// (registry.example.com, localhost:5000); "docker.io" for Docker Hub.
	Server   string
	Username string
	Password string // secret: never logged
}

// String never shows the password.
func (a RegistryAuth) String() string { return fmt.Sprintf("%s@%s", a.Username, a.Server) }

// ResolveImage says whether the engine asks the registry for an image's
// digest and platforms when a service is created or updated (docker stack
// deploy's --resolve-image).
type ResolveImage string

const (
	// ResolveAlways pins the digest of the image at deploy time (the
	// default, as in docker stack deploy).
	ResolveAlways ResolveImage = "always"
	// ResolveNever deploys the reference as written; nodes use what they
	// have or pull it themselves.
	ResolveNever ResolveImage = "never"
)

// Overlay is shoal's policy for the overlay networks a stack creates.
type Overlay struct {
	// Unencrypted turns off IPsec encryption of overlay traffic. Real
	// clusters keep it on (the default); labs whose kernels cannot install
	// IPsec state turn it off here. A network whose compose entry sets the
	// `encrypted` driver option itself stays encrypted.
	Unencrypted bool
	// MTU is the overlay MTU (com.docker.network.driver.mtu); 0 leaves the
	// engine's default. A compose entry that sets the option itself wins.
	MTU int
}

// Progress receives one line per service when something about it changes.
type Progress interface {
	Service(name, msg string)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(name, msg string)

// Service calls f.
func (f ProgressFunc) Service(name, msg string) { f(name, msg) }

type noProgress struct{}

func (noProgress) Service(string, string) {}

// Options tune a deploy.
type Options struct {
	// NoPrune keeps services of the stack that the file no longer has
	// (docker stack deploy without --prune). By default they are removed.
	NoPrune bool
	// ResolveImage: ResolveAlways (default) or ResolveNever.
	ResolveImage ResolveImage
	// Overlay is the encryption and MTU policy for created overlays.
	Overlay Overlay
	// Detach returns after the changes are sent, without waiting for the
	// services to converge.
	Detach bool
	// Timeout bounds the wait for convergence (default 5m); Poll is the
	// interval between looks (default 1s).
	Timeout time.Duration
	Poll    time.Duration
	// FailAfter is how many failed tasks of one service since its last
	// change make the deploy fail at once instead of waiting out the
	// timeout (default 3).
	FailAfter int
	// Progress receives per-service progress lines; nil discards them.
	Progress Progress
	// UpdateDefaults gives services the rollout settings of
	// ApplyUpdateDefaults wherever the compose file sets none (app stacks).
	UpdateDefaults bool
}

func (o Options) withDefaults() Options {
	if o.ResolveImage == "" {
		o.ResolveImage = ResolveAlways
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.FailAfter <= 0 {
		o.FailAfter = 3
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	return o
}

// nameRE is what docker stack deploy accepts as a stack name, narrowed to
// what is also a valid DNS label prefix.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateName checks a stack name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid stack name %q: use lower-case letters, digits, '-' and '_', starting with a letter or digit (at most 63)", name)
	}
	return nil
}
