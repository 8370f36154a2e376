// Package quorum owns the raft quorum arithmetic of a swarm's managers: how
// many managers make a majority, how many failures a set of managers
// survives, which hosters hold so many managers that their outage alone
// loses quorum, and how healthy a set of managers is right now.
//
// Bootstrap, status and the heal controller use it to refuse layouts and
// actions that would cost quorum. Everything here is a pure function of its
// arguments; the package imports nothing from shoal and does no I/O.
package quorum

import "sort"

// Health values returned by Health.
const (
	// OK means every manager is reachable.
	OK = "ok"
	// Degraded means a majority is reachable but not every manager.
	Degraded = "degraded"
	// Lost means fewer than a majority are reachable (or there are no
	// managers): the swarm cannot change its state.
	Lost = "lost"
)

// Majority returns how many managers raft needs to agree: n/2+1, and 0 for
// no managers.
func Majority(managers int) int {
	if managers <= 0 {
		return 0
	}
	return managers/2 + 1
}

// Tolerance returns how many managers can fail while the rest still form a
// majority: (n-1)/2, and 0 for no managers. An even count tolerates no more
// failures than the odd count below it.
func Tolerance(managers int) int {
	if managers <= 0 {
		return 0
	}
	return (managers - 1) / 2
}

// HosterRisk returns, sorted by name, the hosters whose outage alone (losing
// all the managers they hold) leaves fewer than Majority(total) managers,
// where total is the sum of all counts. Counts of zero or less hold no
// manager and never put quorum at risk.
func HosterRisk(managersByHoster map[string]int) []string {
	total := 0
	for _, n := range managersByHoster {
		if n > 0 {
			total += n
		}
	}
	need := Majority(total)
	var risky []string
	for hoster, n := range managersByHoster {
		if n > 0 && total-n < need {
			risky = append(risky, hoster)
		}
	}
	sort.Strings(risky)
	return risky
}

// Health sums up a set of managers: OK when all total managers are
// reachable, Degraded when a majority but not all are, Lost when fewer than
// a majority are or when there are no managers at all.
func Health(total, reachable int) string {
	switch {
	case total <= 0 || reachable < Majority(total):
		return Lost
	case reachable >= total:
		return OK
	default:
		return Degraded
	}
}
