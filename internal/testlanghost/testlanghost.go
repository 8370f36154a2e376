// Package testlanghost is a TEST STAND-IN for pulumi-language-go, the Go
// language host a normal Pulumi install ships next to the `pulumi` binary.
// pulumi-language-go is not served by the Go module proxy
// (github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3 is refused), so it
// cannot be built where shoal's tests run; without a language host the real
// Pulumi CLI cannot run a `runtime: go` project at all.
//
// It serves the LanguageRuntime gRPC service of the Pulumi SDK shoal is
// built with, only as far as `pulumi up`, `pulumi preview`, `pulumi destroy`
// and `pulumi stack output` need it on a prebuilt-from-source program: the
// handshake, plugin info, and Run, which does what pulumi-language-go does for
// a program without runtime options: `go build` of the `main:` package into a
// temporary file outside the project, then the binary run in the engine's
// working directory with the engine's environment (PULUMI_MONITOR,
// PULUMI_ENGINE, PULUMI_PROJECT, PULUMI_STACK, PULUMI_ORGANIZATION,
// PULUMI_ROOT_DIRECTORY, PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS,
// PULUMI_DRY_RUN, PULUMI_PARALLEL: the names the SDK's pulumi.Run reads).
//
// What it leaves out, on purpose: GetRequiredPackages answers no packages
// (pulumi-language-go reads the program's go.mod and names the plugins of
// the provider SDKs it requires, pulumi-resource-hcloud and others, which
// the engine then downloads before the run; none can be downloaded here, and
// the engine loads the plugins a program actually uses when it registers
// their resources anyway); no `go mod tidy` (InstallDependencies), no
// debugger, no runtime options (binary, buildTarget), no code generation.
// Everything it does not implement answers Unimplemented.
//
// It is never shipped: only tests import it (cmd/shoal's TestMain serves it
// when the test binary runs as pulumi-language-go); users have the real
// pulumi-language-go with their Pulumi CLI. See
// docs/decisions/0024-test-language-host.md.
package testlanghost

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Name is the executable name under which the Pulumi CLI looks for the
// language host of `runtime: go` (on PATH, or next to `pulumi`).
const Name = "pulumi-language-go"

// Main runs the language host as the engine starts it: flags the engine may
// pass (--logtostderr, -v=N, --tracing URL), then the engine's address. It
// prints the port it serves on to stdout, as every plugin does, and returns
// when the engine stops it or goes away.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	engine, err := parseArgs(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &host{engine: engine}
	if engine != "" {
		// Like every plugin: stop when the engine is gone.
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("%s: health check of the engine at %s: %w", Name, engine, err)
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("%s: serve: %w", Name, err)
	}
	if _, err := fmt.Fprintf(stdout, "%d\n", handle.Port); err != nil {
		return fmt.Errorf("%s: print the port: %w", Name, err)
	}
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("%s: stopped serving: %w", Name, err)
	}
	return nil
}

// parseArgs returns the engine address: the last argument, after the flags
// the engine passes to every plugin.
func parseArgs(args []string) (string, error) {
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("logtostderr", false, "")
	fs.Int("v", 0, "")
	fs.String("tracing", "", "")
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%s: %w", Name, err)
	}
	switch rest := fs.Args(); len(rest) {
	case 0:
		return "", nil // told by Handshake
	case 1:
		return rest[0], nil
	default:
		return "", fmt.Errorf("%s: want one engine address, got %q", Name, rest)
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu     sync.Mutex
	engine string
}

func (h *host) engineAddress() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engine
}

// Handshake takes the engine's address (when the engine did not pass it
// as an argument).
func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() == "" {
		return nil, errors.New("handshake without an engine address")
	}
	h.mu.Lock()
	h.engine = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo answers the version of the Pulumi SDK this host is built
// with (the version pulumi-language-go of that release would answer).
func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: sdkVersion()}, nil
}

func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/pulumi/pulumi/sdk/v3" {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return ""
}

// GetRequiredPackages names no packages: see the package comment.
func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages: none either.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// Run builds the program's main package and runs it.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engineAddress()
	if engine == "" {
		return nil, errors.New("run before the handshake: no engine address")
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		return nil, errors.New("run: no program directory")
	}
	bin, err := build(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(bin)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = req.GetPwd()
	cmd.Env = ProgramEnv(os.Environ(), req, engine)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == constant.ExitStatusLoggedError:
		// The program reported its error to the engine already.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exit.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("run the program: %v", err)}, nil
	}
}

// build runs `go build` in the program directory into a temporary file
// outside it (the project stays as it was) and returns the file.
func build(ctx context.Context, dir string) (string, error) {
	f, err := os.CreateTemp("", "pulumi-go.*")
	if err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	out := f.Name()
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(out)
		return "", fmt.Errorf("go build in %s: %w\n%s", dir, err, stderr.String())
	}
	return out, nil
}

// ProgramEnv is the environment the program runs with: base (the host's
// own) plus what the engine said in req, under the names the SDK's
// pulumi.Run reads. Empty values are left out, as pulumi-language-go does;
// PULUMI_CONFIG_SECRET_KEYS is always set ("[]" for none).
func ProgramEnv(base []string, req *pulumirpc.RunRequest, engine string) []string {
	env := append([]string(nil), base...)
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add(pulumi.EnvOrganization, req.GetOrganization())
	add(pulumi.EnvProject, req.GetProject())
	add(pulumi.EnvPulumiRootDirectory, req.GetInfo().GetRootDirectory())
	add(pulumi.EnvStack, req.GetStack())
	if cfg := req.GetConfig(); cfg != nil {
		add(pulumi.EnvConfig, mustJSON(cfg))
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	add(pulumi.EnvConfigSecretKeys, mustJSON(keys))
	add(pulumi.EnvDryRun, strconv.FormatBool(req.GetDryRun()))
	add(pulumi.EnvParallel, strconv.Itoa(int(req.GetParallel())))
	add(pulumi.EnvMonitor, req.GetMonitorAddress())
	add(pulumi.EnvEngine, engine)
	return env
}

// mustJSON encodes a map of strings or a list of strings, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return string(b)
}
