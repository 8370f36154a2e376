package heal

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Labels heal keeps on swarm node entries: the durable record of a
// remediation. They are written through a manager before heal acts, so a
// restarted loop reads them back and resumes instead of starting a second
// replacement. Bootstrap leaves them alone (it removes only labels it set).
const (
	LabelReplacement = "shoal.heal.replacement"  // on the dead node: the node taking its place
	LabelVia         = "shoal.heal.via"          // "spare" when the replacement is an activated warm spare
	LabelSince       = "shoal.heal.since"        // RFC 3339: start of the current attempt
	LabelAttempts    = "shoal.heal.attempts"     // attempts for this node slot within the retry window
	LabelLast        = "shoal.heal.last"         // RFC 3339: start of the latest attempt
	LabelPromotedFor = "shoal.heal.promoted-for" // on a worker heal promoted while that manager was replaced
	LabelSpare       = "shoal.heal.spare"        // "true" on a warm spare
	LabelRole        = "shoal.heal.role"         // the role the dead node had (it is demoted before its replacement joins); kept after an abandoned attempt, so a node heal demoted gets its seat back
	LabelHolder      = "shoal.heal.holder"       // the heal process (lease holder) that claimed the attempt
)

// Record is what the labels of one node say about its remediation.
type Record struct {
	Node        string    `json:"node"`
	Replacement string    `json:"replacement,omitempty"` // "" when no attempt is in flight
	Spare       bool      `json:"spare,omitempty"`       // the replacement is an activated spare
	Role        string    `json:"role,omitempty"`        // the role being replaced
	Since       time.Time `json:"since,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	Last        time.Time `json:"last,omitzero"`
	PromotedFor string    `json:"promoted_for,omitempty"`
	Holder      string    `json:"holder,omitempty"` // the heal process that claimed the attempt
}

// InFlight tells whether a replacement is under way.
func (r Record) InFlight() bool { return r.Replacement != "" }

// Labels renders the record as node labels; keys with empty values are
// returned in remove.
func (r Record) Labels() (set map[string]string, remove []string) {
	set = map[string]string{}
	put := func(k, v string) {
		if v == "" {
			remove = append(remove, k)
			return
		}
		set[k] = v
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	put(LabelReplacement, r.Replacement)
	via := ""
	if r.Spare && r.Replacement != "" {
		via = "spare"
	}
	put(LabelVia, via)
	put(LabelSince, ts(r.Since))
	att := ""
	if r.Attempts > 0 {
		att = strconv.Itoa(r.Attempts)
	}
	put(LabelAttempts, att)
	put(LabelLast, ts(r.Last))
	put(LabelPromotedFor, r.PromotedFor)
	put(LabelRole, r.Role)
	holder := ""
	if r.Replacement != "" {
		holder = r.Holder
	}
	put(LabelHolder, holder)
	return set, remove
}

// History is everything Decide needs to know about remediations already
// started: the durable records, and which actions this process is running
// right now.
type History struct {
	Records map[string]Record // by node name
	Running map[string]bool   // action keys (Action.Key) executing in this process
}

// ReadHistory reads the records from the nodes' labels. It is pure.
func ReadHistory(nodes []NodeInfo) History {
	h := History{Records: map[string]Record{}}
	for _, n := range nodes {
		r, ok := recordOf(n)
		if ok {
			h.Records[n.Name] = r
		}
	}
	return h
}

func recordOf(n NodeInfo) (Record, bool) {
	l := n.Labels
	r := Record{Node: n.Name, Replacement: l[LabelReplacement], Spare: l[LabelVia] == "spare", PromotedFor: l[LabelPromotedFor], Role: l[LabelRole], Holder: l[LabelHolder]}
	r.Since, _ = time.Parse(time.RFC3339, l[LabelSince])
	r.Last, _ = time.Parse(time.RFC3339, l[LabelLast])
	r.Attempts, _ = strconv.Atoi(l[LabelAttempts])
	if r.Replacement == "" && r.Attempts == 0 && r.PromotedFor == "" && r.Role == "" {
		return Record{}, false
	}
	return r, true
}

// WriteRecord stores r on node r.Node's entry through a manager: it sets
// the record's labels and removes the empty ones, keeping every other label.
// The controller calls it before it acts, so a restarted loop finds the
// attempt and resumes it.
func (s *Swarm) WriteRecord(ctx context.Context, r Record) error {
	return s.Update(ctx, r.Node, recordLabels(r))
}

// WriteRecordAt is WriteRecord on the entry with ID id (the dead entry,
// while its replacement shares its name).
func (s *Swarm) WriteRecordAt(ctx context.Context, id string, r Record) error {
	return s.UpdateEntry(ctx, id, recordLabels(r))
}

func recordLabels(r Record) func(*swarmtypes.NodeSpec) {
	set, remove := r.Labels()
	return func(spec *swarmtypes.NodeSpec) {
		maps.Copy(spec.Labels, set)
		for _, k := range remove {
			delete(spec.Labels, k)
		}
	}
}

// Claim records a new attempt (or takes over a recorded one, resume) on
// the dead node's entry as one compare-and-set: the record is written with
// the entry's version as the decision's snapshot saw it (dead.Version), so
// of two heal processes deciding from the same list exactly one wins. The
// record is the lock: the loser gets ErrClaimLost (another holder's record
// is there now) or ErrStale (the entry changed otherwise: the node came
// back, or was written to); neither starts anything. A node that is Ready
// again is refused (RefusedError).
func (s *Swarm) Claim(ctx context.Context, dead NodeInfo, r Record, resume bool) error {
	look := named(dead.Name)
	if dead.ID != "" {
		look = entry(dead.ID)
	}
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		n, ok, err := look(ctx, m)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("claim %s: the node left the swarm: %w", dead.Name, ErrStale)
		}
		cur := nodeInfoOf(n)
		if cur.State == StateReady {
			return &RefusedError{Check: "node back", Numbers: fmt.Sprintf("%s is %s again (%s); heal replaces only dead nodes", dead.Name, cur.State, cur.Role)}
		}
		have, _ := recordOf(cur)
		if dead.Version != 0 && n.Version.Index != dead.Version {
			if have.InFlight() && have.Holder != r.Holder {
				return fmt.Errorf("claim %s: %s holds attempt %s: %w", dead.Name, have.Holder, have.Replacement, ErrClaimLost)
			}
			return fmt.Errorf("claim %s: entry version %d, the decision saw %d: %w", dead.Name, n.Version.Index, dead.Version, ErrStale)
		}
		if have.InFlight() && !resume {
			return fmt.Errorf("claim %s: %s holds attempt %s: %w", dead.Name, have.Holder, have.Replacement, ErrClaimLost)
		}
		spec := n.Spec
		spec.Labels = maps.Clone(spec.Labels)
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		recordLabels(r)(&spec)
		if _, err := m.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec}); err != nil {
			// A write that lost the race fails on the version; whoever won
			// is in the entry now.
			again, ok, rerr := look(ctx, m)
			if rerr == nil && ok && again.Version.Index != n.Version.Index {
				if w, _ := recordOf(nodeInfoOf(again)); w.InFlight() && w.Holder != r.Holder {
					return fmt.Errorf("claim %s: %s claimed it first: %w", dead.Name, w.Holder, ErrClaimLost)
				}
				return fmt.Errorf("claim %s: the entry changed while writing: %w", dead.Name, ErrStale)
			}
			return fmt.Errorf("claim %s: %w", dead.Name, err)
		}
		return nil
	})
}

// Guard re-reads node name's entry right before a destructive step
// (demote, remove, destroy its server) and refuses (RefusedError) if it is
// reachable: Ready, or a reachable manager. id, when set, picks the entry.
// A node no longer in the swarm passes.
func (s *Swarm) Guard(ctx context.Context, id, name string) error {
	look := named(name)
	if id != "" {
		look = entry(id)
	}
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		n, ok, err := look(ctx, m)
		if err != nil || !ok {
			return err
		}
		cur := nodeInfoOf(n)
		if cur.State == StateReady || cur.Reachability == "reachable" {
			return &RefusedError{Check: "node reachable", Numbers: fmt.Sprintf("%s is %s (%s%s) on a fresh read; heal demotes, removes and destroys only unreachable nodes", name, cur.State, cur.Role, reachWord(cur))}
		}
		return nil
	})
}

func reachWord(n NodeInfo) string {
	if n.Reachability == "" {
		return ""
	}
	return ", " + n.Reachability
}

// nodeInfoOf converts one swarm entry (without DownSince).
func nodeInfoOf(n swarmtypes.Node) NodeInfo {
	return nodeInfo(swarm.Members([]swarmtypes.Node{n})[0])
}
