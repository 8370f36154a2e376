package backup

import (
	"fmt"
	"strings"
)

// Member is one manager as the leader's node list shows it.
type Member struct {
	Name      string
	Leader    bool
	Reachable bool // manager status reachable
	Ready     bool // node status ready
	// Self is the node this backup runs on (the scheduled backup's swarm
	// task): stopping its engine would stop the backup itself.
	Self bool
}

// Pick is the manager whose engine a backup stops, and why.
type Pick struct {
	Node string
	Why  string
}

// RefusedError says why no manager can be spared: a backup would cost
// quorum or stop the leader.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string {
	return "backup refused: " + e.Reason + "; nothing was stopped"
}

// PickManager chooses the manager whose engine a backup stops: one that
// is not the leader (stopping it costs no election) and whose stop leaves
// a majority of the managers reachable, and that does not run this backup
// (Self). It takes the first such manager
// in the order given (inventory order). It refuses, with the reason, when
// the cluster cannot spare one manager for the moment.
func PickManager(ms []Member) (Pick, error) {
	total, reachable := len(ms), 0
	for _, m := range ms {
		if m.Reachable {
			reachable++
		}
	}
	need := total/2 + 1
	switch {
	case total == 0:
		return Pick{}, &RefusedError{Reason: "the swarm lists no manager"}
	case total == 1:
		return Pick{}, &RefusedError{Reason: "the swarm has one manager: stopping its engine stops the swarm (with 3 managers, one is copied while two keep quorum)"}
	case reachable-1 < need:
		return Pick{}, &RefusedError{Reason: fmt.Sprintf("%d of %d managers are reachable: stopping one more leaves %d, and quorum needs %d; bring the managers back first (`shoal status`)",
			reachable, total, reachable-1, need)}
	}
	var skipped []string
	for _, m := range ms {
		switch {
		case m.Leader:
			skipped = append(skipped, m.Name+" leads")
		case !m.Reachable || !m.Ready:
			skipped = append(skipped, m.Name+" is not ready and reachable")
		case m.Self:
			skipped = append(skipped, m.Name+" runs this backup")
		default:
			why := fmt.Sprintf("%s is a reachable manager that does not lead; while its engine is stopped %d of %d managers keep quorum (%d needed)",
				m.Name, reachable-1, total, need)
			if len(skipped) > 0 {
				why += " (" + strings.Join(skipped, ", ") + ")"
			}
			return Pick{Node: m.Name, Why: why}, nil
		}
	}
	return Pick{}, &RefusedError{Reason: "no manager other than the leader and the one running this backup is ready and reachable (" + strings.Join(skipped, ", ") + ")"}
}
