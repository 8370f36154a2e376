package heal

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/moby/moby/client"
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
)

// Record is what the labels of one node say about its remediation.
type Record struct {
	Node        string    `json:"node"`
	Replacement string    `json:"replacement,omitempty"` // "" when no attempt is in flight
	Spare       bool      `json:"spare,omitempty"`       // the replacement is an activated spare
	Since       time.Time `json:"since,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	Last        time.Time `json:"last,omitzero"`
	PromotedFor string    `json:"promoted_for,omitempty"`
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
	r := Record{Node: n.Name, Replacement: l[LabelReplacement], Spare: l[LabelVia] == "spare", PromotedFor: l[LabelPromotedFor]}
	r.Since, _ = time.Parse(time.RFC3339, l[LabelSince])
	r.Last, _ = time.Parse(time.RFC3339, l[LabelLast])
	r.Attempts, _ = strconv.Atoi(l[LabelAttempts])
	if r.Replacement == "" && r.Attempts == 0 && r.PromotedFor == "" {
		return Record{}, false
	}
	return r, true
}

// NodeUpdater is the part of a manager's Docker API that writes records.
type NodeUpdater interface {
	NodeInspect(ctx context.Context, id string, o client.NodeInspectOptions) (client.NodeInspectResult, error)
	NodeUpdate(ctx context.Context, id string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error)
}

// WriteRecord stores r on node id through a manager: it sets the record's
// labels and removes the empty ones, keeping every other label. It retries
// once on a version conflict (someone else updated the node).
func WriteRecord(ctx context.Context, m NodeUpdater, id string, r Record) error {
	set, remove := r.Labels()
	return updateLabels(ctx, m, id, set, remove)
}

func updateLabels(ctx context.Context, m NodeUpdater, id string, set map[string]string, remove []string) error {
	var err error
	for range 3 {
		var res client.NodeInspectResult
		res, err = m.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect node %s: %w", id, err)
		}
		spec := res.Node.Spec
		labels := maps.Clone(spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, set)
		for _, k := range remove {
			delete(labels, k)
		}
		spec.Labels = labels
		_, err = m.NodeUpdate(ctx, id, client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec})
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("update labels of node %s: %w", id, err)
}
