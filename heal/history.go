package heal

import (
	"context"
	"maps"
	"strconv"
	"time"

	swarmtypes "github.com/moby/moby/api/types/swarm"
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
	LabelRole        = "shoal.heal.role"         // the role the dead node had (it is demoted before its replacement joins)
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
	role := ""
	if r.Replacement != "" {
		role = r.Role
	}
	put(LabelRole, role)
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
	r := Record{Node: n.Name, Replacement: l[LabelReplacement], Spare: l[LabelVia] == "spare", PromotedFor: l[LabelPromotedFor], Role: l[LabelRole]}
	r.Since, _ = time.Parse(time.RFC3339, l[LabelSince])
	r.Last, _ = time.Parse(time.RFC3339, l[LabelLast])
	r.Attempts, _ = strconv.Atoi(l[LabelAttempts])
	if r.Replacement == "" && r.Attempts == 0 && r.PromotedFor == "" {
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
