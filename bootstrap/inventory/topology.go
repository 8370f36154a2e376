package inventory

import (
	"fmt"

	"github.com/shoalops/shoal/bootstrap/quorum"
)

// ManagerLayout is where a cluster's managers run: the input of
// CheckManagers. Both the inventory and shoal's Pulumi stack config
// describe managers this way, so both refuse the same layouts.
type ManagerLayout struct {
	// Hosters holds the hoster of each manager, one entry per manager.
	Hosters []string
	// AllowSingleHosterQuorum accepts a layout where one hoster's outage
	// loses quorum (a warning instead of a problem).
	AllowSingleHosterQuorum bool
	// AllowKey names the setting that accepts that risk, as messages
	// should spell it, e.g. "cluster.allow_single_hoster_quorum".
	AllowKey string
}

// ManagerProblem is one refused aspect of a ManagerLayout. Hoster is ""
// for a problem of the manager count, else the hoster whose outage alone
// would lose quorum.
type ManagerProblem struct {
	Hoster string
	Msg    string
}

// CheckManagers checks a manager layout: no managers and an even count
// are problems; one manager and more than seven are warnings; a hoster
// holding so many managers that its outage alone loses quorum is a
// problem, or a warning when l.AllowSingleHosterQuorum is set. Hosters
// named "" are skipped (the caller reports them as missing). Problems come
// count first, then hosters sorted by name. CheckManagers is pure.
func CheckManagers(l ManagerLayout) (warnings []string, problems []ManagerProblem) {
	total := len(l.Hosters)
	switch {
	case total == 0:
		problems = append(problems, ManagerProblem{Msg: "no manager: the swarm needs at least one; use 3 managers on 3 hosters"})
	case total == 1:
		warnings = append(warnings, "1 manager: the swarm does not survive its loss; use 3 managers on 3 hosters")
	case total%2 == 0:
		next := "use 3 managers on 3 hosters"
		if total > 2 {
			next = fmt.Sprintf("use an odd count: %d or %d managers", total-1, total+1)
			if total+1 > maxFastManagers {
				next = fmt.Sprintf("use an odd count: %d managers", total-1)
			}
		}
		fewer := fmt.Sprintf("%d managers do", total-1)
		if total-1 == 1 {
			fewer = "1 manager does"
		}
		problems = append(problems, ManagerProblem{Msg: fmt.Sprintf(
			"%d managers: an even count tolerates no more failures than %s (%d), and a 2-way network split leaves neither half the majority of %d; %s",
			total, fewer, quorum.Tolerance(total), quorum.Majority(total), next)})
	}
	if total > maxFastManagers {
		warnings = append(warnings, fmt.Sprintf("%d managers: every raft write waits for a majority, so the swarm gets slower with each manager; more than %d rarely helps, make the rest workers", total, maxFastManagers))
	}
	if total < 2 {
		return warnings, problems // one manager: the warning above covers its hoster too
	}

	byHoster := map[string]int{}
	for _, h := range l.Hosters {
		byHoster[h]++
	}
	for _, h := range quorum.HosterRisk(byHoster) {
		if h == "" {
			continue // reported as a missing hoster
		}
		held := byHoster[h]
		msg := fmt.Sprintf("hoster %q holds %d of %d managers: its outage alone leaves %d, fewer than the %d quorum needs",
			h, held, total, total-held, quorum.Majority(total))
		if l.AllowSingleHosterQuorum {
			warnings = append(warnings, fmt.Sprintf("%s; accepted because %s is true", msg, l.AllowKey))
			continue
		}
		spread := "use 3 managers on 3 hosters"
		if tol := quorum.Tolerance(total); tol > 0 {
			spread = fmt.Sprintf("spread the managers so that no hoster holds more than %d", tol)
		}
		problems = append(problems, ManagerProblem{Hoster: h, Msg: fmt.Sprintf("%s; %s, or accept the risk with %s: true", msg, spread, l.AllowKey)})
	}
	return warnings, problems
}
