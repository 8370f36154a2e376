package heal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// ObserverOptions tune the Observer.
type ObserverOptions struct {
	// Dial says how to reach managers. Attempts defaults to 1 here: a
	// manager that does not answer is failed over, not waited for.
	Dial remote.DialOptions
	// Resync is how often the node list is read even without events
	// (default 60s). Events drive everything else.
	Resync time.Duration
	// Retry is the wait before trying managers again when none answered
	// (default 5s).
	Retry time.Duration
	// ProbeLocked dials Down managers to see whether they are only locked
	// (autolocked swarms).
	ProbeLocked bool
	Log         *slog.Logger
}

// Observer watches the swarm through one reachable manager at a time: the
// node list, then Docker node events (type=node), re-reading the list on
// each event and every Resync. It tracks since when each node is Down.
// When its manager stops answering it fails over to the next manager the
// targets function lists (read again each time, so a changed inventory is
// picked up).
type Observer struct {
	targets func() []remote.Target
	opt     ObserverOptions
	log     *slog.Logger

	connecting sync.Mutex // one connect (failover) at a time
	mu         sync.Mutex
	conn       *remote.Conn
	cli        *client.Client
	via        string
	next       int                  // index of the target to try first
	downSince  map[string]time.Time // node ID -> when it left Ready
	evTime     map[string]time.Time // node ID -> time of its last non-ready event
	now        func() time.Time
}

// NewObserver watches the swarm of the managers targets returns.
func NewObserver(targets func() []remote.Target, o ObserverOptions) *Observer {
	if o.Resync <= 0 {
		o.Resync = 60 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.Dial.Attempts == 0 {
		o.Dial.Attempts = 1
	}
	if o.Dial.Timeout == 0 {
		o.Dial.Timeout = 5 * time.Second
	}
	if o.Dial.Keepalive == 0 {
		o.Dial.Keepalive = 5 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	o.Dial.Logger = log
	return &Observer{targets: targets, opt: o, log: log, downSince: map[string]time.Time{}, evTime: map[string]time.Time{}, now: time.Now}
}

// Manager is the part of a manager's Docker API heal uses to change the
// swarm. *client.Client satisfies it.
type Manager interface {
	NodeInspect(ctx context.Context, id string, o client.NodeInspectOptions) (client.NodeInspectResult, error)
	NodeUpdate(ctx context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error)
	NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error)
	NodeRemove(ctx context.Context, id string, o client.NodeRemoveOptions) (client.NodeRemoveResult, error)
	// The heal lease (lease.go) is a swarm config object.
	ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigInspect(ctx context.Context, id string, o client.ConfigInspectOptions) (client.ConfigInspectResult, error)
	ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigUpdate(ctx context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error)
}

var _ Manager = (*client.Client)(nil)

// WithManager runs fn against the manager the observer watches through
// (connecting first if needed).
func (o *Observer) WithManager(ctx context.Context, fn func(ctx context.Context, m Manager) error) error {
	o.mu.Lock()
	cli := o.cli
	o.mu.Unlock()
	if cli == nil {
		if snap := o.Snapshot(ctx); snap.Via == "" {
			return fmt.Errorf("no manager answered: %s", snap.Err)
		}
		o.mu.Lock()
		cli = o.cli
		o.mu.Unlock()
	}
	return fn(ctx, cli)
}

// Snapshot reads the node list once, connecting (or failing over) first
// if needed. A snapshot without nodes says why in Err and NoLeader.
func (o *Observer) Snapshot(ctx context.Context) Snapshot {
	o.mu.Lock()
	cli, via := o.cli, o.via
	o.mu.Unlock()
	if cli != nil {
		snap, err := o.list(ctx, cli, via)
		if err == nil {
			return snap
		}
		o.log.Warn("heal: manager stopped answering, failing over", "via", via, "err", err)
		o.drop(true)
	}
	return o.connect(ctx)
}

// connect tries every manager, starting after the one that failed last,
// until one lists the nodes with a leader and a reachable majority of
// managers (swarm.Judge, the rule status and bootstrap use).
func (o *Observer) connect(ctx context.Context) Snapshot {
	o.connecting.Lock()
	defer o.connecting.Unlock()
	o.mu.Lock()
	cli, via := o.cli, o.via
	o.mu.Unlock()
	if cli != nil { // someone else connected meanwhile
		if snap, err := o.list(ctx, cli, via); err == nil {
			return snap
		}
		o.drop(true)
	}
	targets := o.targets()
	var errs []string
	answered := 0
	for i := range targets {
		idx := (o.next + i) % len(targets)
		t := targets[idx]
		conn, err := remote.Dial(ctx, t, o.opt.Dial)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", t.Name, err))
			continue
		}
		cli, err := conn.Docker(ctx)
		if err != nil {
			conn.Close()
			errs = append(errs, fmt.Sprintf("%s: %v", t.Name, err))
			continue
		}
		if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil && info.Info.Swarm.ControlAvailable {
			answered++
		}
		snap, err := o.list(ctx, cli, t.Name)
		if err != nil {
			conn.Close()
			errs = append(errs, fmt.Sprintf("%s: %v", t.Name, err))
			continue
		}
		o.mu.Lock()
		o.conn, o.cli, o.via, o.next = conn, cli, t.Name, idx
		o.mu.Unlock()
		o.log.Debug("heal: watching through manager", "via", t.Name)
		return snap
	}
	return Snapshot{At: o.now(), Err: strings.Join(errs, "; "), NoLeader: answered > 0,
		ManagersAnswered: answered, ManagersKnown: len(targets)}
}

// drop closes the current connection; advance moves failover on to the
// next manager.
func (o *Observer) drop(advance bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != nil {
		o.conn.Close()
	}
	o.conn, o.cli, o.via = nil, nil, ""
	if advance {
		o.next++
	}
}

// Close closes the connection to the manager.
func (o *Observer) Close() { o.drop(false) }

// nodeLister is the part of a manager's Docker API list reads.
type nodeLister interface {
	NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error)
}

// list reads the node list through via. An answer that does not count
// (swarm.Judge: no leader in it, or a minority of managers reachable, as a
// manager cut off from the others sees it) is an error: the observer fails
// over to the next manager.
func (o *Observer) list(ctx context.Context, cli nodeLister, via string) (Snapshot, error) {
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := cli.NodeList(lctx, client.NodeListOptions{})
	if err != nil {
		return Snapshot{}, fmt.Errorf("node list: %w", err)
	}
	if a := swarm.Judge(via, swarm.Members(res.Items), nil); !a.Quorum {
		return Snapshot{}, fmt.Errorf("its answer does not count: %s", a.Said)
	}
	at := o.now()
	snap := Snapshot{At: at, Via: via}
	o.mu.Lock()
	seen := map[string]bool{}
	for i, m := range swarm.Members(res.Items) {
		n := nodeInfo(m)
		seen[n.ID] = true
		if n.State == StateReady {
			delete(o.downSince, n.ID)
		} else if _, ok := o.downSince[n.ID]; !ok {
			// It left Ready: at its event's time, else (first sight of a
			// node already down) when the swarm last updated it.
			since := at
			if t, ok := o.evTime[n.ID]; ok {
				since = t
			} else if u := res.Items[i].UpdatedAt; !u.IsZero() && u.Before(at) {
				since = u
			}
			o.downSince[n.ID] = since
		}
		n.DownSince = o.downSince[n.ID]
		snap.Nodes = append(snap.Nodes, n)
	}
	for id := range o.downSince {
		if !seen[id] {
			delete(o.downSince, id)
		}
	}
	clear(o.evTime)
	o.mu.Unlock()
	if o.opt.ProbeLocked {
		o.probeLocked(ctx, &snap)
	}
	return snap, nil
}

// probeLocked asks Down managers' own daemons whether they are locked.
func (o *Observer) probeLocked(ctx context.Context, snap *Snapshot) {
	byName := map[string]remote.Target{}
	for _, t := range o.targets() {
		byName[t.Name] = t
	}
	for i, n := range snap.Nodes {
		t, ok := byName[n.Name]
		if n.Role != RoleManager || n.State == StateReady || !ok {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if locked, err := IsLocked(pctx, t, o.opt.Dial); err == nil && locked {
			snap.Nodes[i].Locked = true
		}
		cancel()
	}
}

// IsLocked dials t and tells whether its daemon's swarm is locked.
func IsLocked(ctx context.Context, t remote.Target, dial remote.DialOptions) (bool, error) {
	conn, err := remote.Dial(ctx, t, dial)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	cli, err := conn.Docker(ctx)
	if err != nil {
		return false, err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false, err
	}
	return string(info.Info.Swarm.LocalNodeState) == swarm.LocalLocked, nil
}

// Run watches until ctx is done, calling emit with every new snapshot
// (including snapshots without nodes when no manager answers). It returns
// ctx's error.
func (o *Observer) Run(ctx context.Context, emit func(Snapshot)) error {
	defer o.Close()
	for ctx.Err() == nil {
		snap := o.Snapshot(ctx)
		if ctx.Err() != nil {
			break
		}
		emit(snap)
		o.mu.Lock()
		cli := o.cli
		o.mu.Unlock()
		if cli == nil {
			sleep(ctx, o.opt.Retry)
			continue
		}
		err := o.watch(ctx, cli, emit)
		if ctx.Err() != nil {
			break
		}
		o.log.Warn("heal: lost the event stream, failing over", "err", err)
		o.drop(true)
	}
	return ctx.Err()
}

// watch follows node events through cli until the stream or a resync fails.
func (o *Observer) watch(ctx context.Context, cli *client.Client, emit func(Snapshot)) error {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	ev := cli.Events(ectx, client.EventsListOptions{Filters: make(client.Filters).Add("type", string(events.NodeEventType))})
	tick := time.NewTicker(o.opt.Resync)
	defer tick.Stop()
	o.mu.Lock()
	via := o.via
	o.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-ev.Err:
			if !ok || err == nil {
				err = errors.New("event stream ended")
			}
			return err
		case m := <-ev.Messages:
			if st := m.Actor.Attributes["state.new"]; st != "" && st != StateReady {
				t := time.Unix(0, m.TimeNano)
				if m.TimeNano == 0 {
					t = o.now()
				}
				o.mu.Lock()
				o.evTime[m.Actor.ID] = t
				o.mu.Unlock()
			}
		case <-tick.C:
		}
		snap, err := o.list(ctx, cli, via)
		if err != nil {
			return err
		}
		emit(snap)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
