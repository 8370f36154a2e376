package main

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/shoalops/shoal/heal"
)

// idleTrimmer returns a Controller.OnDecision hook that gives back the
// memory start-up and remediations leave resident (release:
// releaseStartupMemory) once heal goes idle: at the first decision on a
// node list, and again at the first decision without actions at least
// quiet after the last one with actions (an action still running then,
// such as a long up, only faults its pages back in). Idle RSS is what a
// manager pays for heal all day (docs/benchmarks.md, docs/decisions/0029).
func idleTrimmer(release func() (int64, error), log *slog.Logger, quiet time.Duration, now func() time.Time) func(heal.Snapshot, heal.Decision) {
	pending := true
	var lastActive time.Time
	return func(snap heal.Snapshot, d heal.Decision) {
		if snap.Nodes == nil {
			return
		}
		t := now()
		if len(d.Actions) > 0 {
			pending, lastActive = true, t
			return
		}
		if !pending || (!lastActive.IsZero() && t.Sub(lastActive) < quiet) {
			return
		}
		pending = false
		rss := residentBytes()
		n, err := release()
		if err != nil {
			log.Debug("heal: release start-up memory", "advised_bytes", n, "err", err)
			return
		}
		log.Info("heal: released start-up memory", "rss_before_kb", rss>>10, "rss_after_kb", residentBytes()>>10, "advised_bytes", n)
	}
}

// vmRSS reads VmRSS (in bytes) from the text of /proc/PID/status, 0 if
// it is not there.
func vmRSS(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// readOnlyMappingOf parses one line of /proc/self/maps and says whether it
// is a mapping of file exe that is not writable, and its range.
func readOnlyMappingOf(line, exe string) (start, end uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[5] != exe || strings.Contains(f[1], "w") {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
