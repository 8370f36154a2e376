package dr

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Runner runs a command on a host (*remote.Conn).
type Runner interface {
	Run(ctx context.Context, c remote.Cmd) (remote.Result, error)
}

// Observe reads every node of inv over SSH: each manager's own swarm state
// (docker info), its raft log's end from disk (ReadRaft), and whether a
// manager answers with quorum (swarm.ObserveWith and its Judge rule, as
// `shoal status` asks). Unreachable nodes are recorded, not errors; a
// changed host key or a refused login is an error.
func Observe(ctx context.Context, inv *inventory.Inventory, dial remote.DialOptions, src Source, prog bootstrap.Progress) (Observed, error) {
	obs := Observed{Cluster: inv.Cluster.Name, Source: src}
	fleet := bootstrap.Connect(ctx, inv, nil, dial, len(inv.Nodes), prog)
	defer fleet.Close()
	if len(fleet.Fatal) > 0 {
		return obs, errors.Join(fleet.Fatal...)
	}
	fleet.OpenEngines(ctx)

	// Each manager's own view (docker info) and whether one answers with
	// quorum: asked in turn with a short limit (a manager without a
	// leader may hang rather than answer).
	ms := inv.Managers()
	engines := map[string]swarm.Engine{}
	for _, n := range ms {
		if e, ok := fleet.Engines[n.Name]; ok {
			engines[n.Name] = e
		}
	}
	mgrs := *inv
	mgrs.Nodes = ms
	sw, err := swarm.ObserveWith(ctx, &mgrs, engines, fleet.Unreachable, swarm.ObserveOptions{AskTimeout: 8 * time.Second, Progress: prog})
	var nq *swarm.NoQuorumError
	if err != nil && !errors.As(err, &nq) {
		return obs, err
	}
	for _, a := range sw.Asked {
		obs.Answers = append(obs.Answers, a.String())
		if a.Quorum && !obs.Quorum {
			obs.Quorum, obs.Via = true, a.Node
		}
	}

	// The raft log's end of every manager that runs one, in parallel.
	var wg sync.WaitGroup
	obs.Managers = make([]Manager, len(ms))
	for i, n := range ms {
		h := sw.Hosts[n.Name]
		m := Manager{Name: n.Name, Hoster: n.Hoster, Region: n.Region, Address: n.Address, Advertise: swarm.AdvertiseAddr(inv, n),
			Reachable: h.Reachable, Err: h.Err, Local: h.Local, ClusterID: h.ClusterID, Control: h.Manager}
		obs.Managers[i] = m
		if !m.alive() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			prog.Node(n.Name, "reading the raft log's end from the swarm state on disk")
			st, err := ReadRaft(ctx, fleet.Conns[n.Name])
			if err != nil {
				obs.Managers[i].RaftErr = err.Error()
				return
			}
			obs.Managers[i].Raft = &st
		}()
	}
	wg.Wait()
	for _, n := range inv.Workers() {
		if _, ok := fleet.Conns[n.Name]; !ok {
			obs.DownWorkers = append(obs.DownWorkers, n.Name)
		}
	}
	return obs, nil
}

// ReadRaft reads how far a manager's raft log got: the newest WAL segment
// of <docker data root>/swarm/raft (gzipped on the host: segments are
// preallocated to 64 MiB of mostly zeros) and the snapshot names, parsed by
// ParseWAL. It reads only; root (or sudo) is needed for the data root.
func ReadRaft(ctx context.Context, r Runner) (RaftState, error) {
	res, err := r.Run(ctx, raftListCmd())
	if err != nil {
		return RaftState{}, fmt.Errorf("list the raft state: %w", err)
	}
	dir, wals, snaps, err := parseRaftList(string(res.Stdout))
	if err != nil {
		return RaftState{}, err
	}
	seg := LastSegment(wals)
	floor := SnapshotFloor(snaps)
	if seg == "" {
		if floor.Index == 0 {
			return RaftState{}, fmt.Errorf("no raft log segment in %s", dir)
		}
		return floor, nil
	}
	res, err = r.Run(ctx, remote.Cmd{Script: "gzip -c " + remote.Quote(dir+"/"+seg), Sudo: true})
	if err != nil {
		return RaftState{}, fmt.Errorf("read raft log segment %s: %w", seg, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(res.Stdout))
	if err != nil {
		return RaftState{}, fmt.Errorf("raft log segment %s: %w", seg, err)
	}
	st, err := ParseWAL(zr, floor)
	if err != nil {
		return st, fmt.Errorf("raft log segment %s/%s: %w", dir, seg, err)
	}
	// A stream cut short (a segment larger than a command's output may
	// be) fails here: then the end read is not the log's end.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return st, fmt.Errorf("raft log segment %s/%s was not read whole (%w): choose the survivor with --from NAME", dir, seg, err)
	}
	return st, nil
}

// raftListCmd prints the WAL directory, its segments, a "---" line and
// the snapshot names. swarmkit writes wal-v3-encrypted (older engines
// wal-v3 or wal).
func raftListCmd() remote.Cmd {
	return remote.Cmd{Sudo: true, Script: `root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null); [ -n "$root" ] || root=/var/lib/docker
for s in -v3-encrypted -v3 ""; do
  d="$root/swarm/raft/wal$s"
  if [ -d "$d" ]; then echo "$d"; ls -1 "$d"; echo ---; ls -1 "$root/swarm/raft/snap$s" 2>/dev/null; exit 0; fi
done
echo "no raft log directory under $root/swarm/raft" >&2; exit 4`}
}

// parseRaftList reads raftListCmd's output.
func parseRaftList(out string) (dir string, wals, snaps []string, err error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "/") {
		return "", nil, nil, fmt.Errorf("unexpected raft state listing %q", out)
	}
	dir = lines[0]
	inSnaps := false
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		switch {
		case l == "---":
			inSnaps = true
		case l == "":
		case inSnaps:
			snaps = append(snaps, l)
		default:
			wals = append(wals, l)
		}
	}
	return dir, wals, snaps, nil
}
