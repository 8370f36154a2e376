package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Fleet is the open connections to the nodes of an inventory.
type Fleet struct {
	Conns       map[string]*remote.Conn
	Engines     map[string]swarm.Engine
	Unreachable map[string]string // node name -> why
	// Fatal holds errors that must stop the run whatever else happened
	// (a changed host key, an auth failure): retrying will not help.
	Fatal []error

	closers []io.Closer
}

// Close closes every connection.
func (f *Fleet) Close() {
	for _, c := range f.closers {
		_ = c.Close()
	}
	for _, c := range f.Conns {
		_ = c.Close()
	}
}

// Target is the SSH target of an inventory node.
func Target(inv *inventory.Inventory, n inventory.Node) remote.Target {
	return remote.Target{Name: n.Name, Hoster: n.Hoster, Region: n.Region, Host: n.Address, Port: inv.PortFor(n), User: inv.UserFor(n)}
}

// DialOptions builds SSH options from the inventory's ssh section. The
// returned closer releases an ssh-agent connection.
func DialOptions(inv *inventory.Inventory) (remote.DialOptions, io.Closer, error) {
	auth, closer, err := remote.Auth(inv.SSH.IdentityFile)
	if err != nil {
		return remote.DialOptions{}, nil, err
	}
	if inv.SSH.KnownHosts == "" {
		closer.Close()
		return remote.DialOptions{}, nil, errors.New("ssh.known_hosts is not set: shoal pins host keys and needs a file to keep them in")
	}
	return remote.DialOptions{Auth: []ssh.AuthMethod{auth}, HostKeys: remote.NewHostKeys(inv.SSH.KnownHosts)}, closer, nil
}

// Connect dials the named nodes (all when names is empty) in parallel and
// opens each one's Docker API over its SSH connection. A node that cannot be
// reached is recorded in Unreachable; a host key or auth failure in Fatal.
func Connect(ctx context.Context, inv *inventory.Inventory, names []string, o remote.DialOptions, parallel int, prog Progress) *Fleet {
	return connectThen(ctx, inv, names, o, parallel, prog, nil)
}

// connectThen is Connect that calls then (when set) with each connection as
// soon as it is made, in the connecting goroutine: a host's first command
// does not wait for the slowest handshake of the others.
func connectThen(ctx context.Context, inv *inventory.Inventory, names []string, o remote.DialOptions, parallel int, prog Progress, then func(ctx context.Context, n inventory.Node, c *remote.Conn)) *Fleet {
	f := &Fleet{Conns: map[string]*remote.Conn{}, Engines: map[string]swarm.Engine{}, Unreachable: map[string]string{}}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	if parallel <= 0 {
		parallel = 16
	}
	g.SetLimit(parallel)
	if o.OnRetry == nil && prog != nil {
		o.OnRetry = func(t remote.Target, attempt, of int, err error, wait time.Duration) {
			prog.Node(t.Name, fmt.Sprintf("connect attempt %d/%d failed (%v); retrying in %s", attempt, of, err, wait))
		}
	}
	for _, n := range inv.Nodes {
		if len(want) > 0 && !want[n.Name] {
			continue
		}
		g.Go(func() error {
			c, err := remote.Dial(gctx, Target(inv, n), o)
			if err == nil && then != nil {
				then(gctx, n, c)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var hk *remote.HostKeyChangedError
				var ae *remote.AuthError
				if errors.As(err, &hk) || errors.As(err, &ae) {
					f.Fatal = append(f.Fatal, err)
				}
				f.Unreachable[n.Name] = err.Error()
				prog.Node(n.Name, "connect failed (details at the end)")
				return nil
			}
			f.Conns[n.Name] = c
			return nil
		})
	}
	_ = g.Wait()
	return f
}

// OpenEngines opens the Docker API of every connected node: through its
// socket, else, for a login user other than root, through sudo.
func (f *Fleet) OpenEngines(ctx context.Context) { f.OpenEnginesVia(ctx, nil) }

// OpenEnginesVia opens the Docker API of every connected node that has none
// open yet: through the socket, or, for a node in sudoCLI, by running that
// docker client with sudo (see remote.Conn.DockerSudo).
func (f *Fleet) OpenEnginesVia(ctx context.Context, sudoCLI map[string]string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, c := range f.Conns {
		if _, ok := f.Engines[name]; ok {
			continue
		}
		via, sudo := sudoCLI[name]
		wg.Go(func() {
			d, err := openEngine(ctx, c, via, sudo)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				f.Unreachable[name] = fmt.Sprintf("docker api: %v", err)
				return
			}
			delete(f.Unreachable, name)
			f.Engines[name] = d
			f.closers = append(f.closers, d)
		})
	}
	wg.Wait()
}

// EnginesOnDemand gives every connected node that has none an Engine that
// opens the node's Docker API (as OpenEnginesVia would) on its first call,
// so that a run opens only the engines it asks something: on ready hosts
// whose own view the host facts already read, that is the one manager the
// swarm is read through. An engine that cannot be opened fails each call
// with why (and is tried again on the next).
func (f *Fleet) EnginesOnDemand(sudoCLI map[string]string) {
	for name, c := range f.Conns {
		if _, ok := f.Engines[name]; ok {
			continue
		}
		via, sudo := sudoCLI[name]
		e := &lazyEngine{open: func(ctx context.Context) (*client.Client, error) { return openEngine(ctx, c, via, sudo) }}
		f.Engines[name] = e
		f.closers = append(f.closers, e)
	}
}

// openEngine opens c's Docker API: through the docker client via with sudo
// when sudo is set, else through the socket, and, for a login user other
// than root who may not open it, through sudo (its secure_path finds
// docker).
func openEngine(ctx context.Context, c *remote.Conn, via string, sudo bool) (*client.Client, error) {
	if sudo {
		return c.DockerSudo(ctx, via)
	}
	d, err := c.Docker(ctx)
	if err != nil && c.Target().User != "" && c.Target().User != "root" {
		if ds, serr := c.DockerSudo(ctx, "docker"); serr == nil {
			return ds, nil
		}
	}
	return d, err
}

// ForgetEngine closes node name's Docker API client (after its daemon was
// started or restarted), so that the next OpenEngines opens a new one.
func (f *Fleet) ForgetEngine(name string) {
	e, ok := f.Engines[name]
	if !ok {
		return
	}
	delete(f.Engines, name)
	if c, ok := e.(io.Closer); ok {
		_ = c.Close()
		f.closers = slices.DeleteFunc(f.closers, func(x io.Closer) bool { return x == c })
	}
}
