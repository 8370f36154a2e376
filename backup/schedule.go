package backup

import (
	"fmt"
	"strings"
	"time"
)

// Schedule says when scheduled backups run (ADR 0033). Two forms, one
// string each:
//
//	every DURATION   e.g. "every 6h", "every 30m" (Go durations)
//	daily HH:MM      e.g. "daily 03:00" (UTC)
//
// The zero Schedule is off.
type Schedule struct {
	// Every is the interval of "every"; 0 for "daily".
	Every time.Duration
	// At is the time of day (from midnight UTC) of "daily", when Daily.
	At    time.Duration
	Daily bool
}

// Off says the schedule runs nothing.
func (s Schedule) Off() bool { return s.Every <= 0 && !s.Daily }

func (s Schedule) String() string {
	switch {
	case s.Daily:
		return fmt.Sprintf("daily %02d:%02d", int(s.At/time.Hour), int(s.At%time.Hour/time.Minute))
	case s.Every > 0:
		return "every " + s.Every.String()
	}
	return "off"
}

// ParseSchedule reads "every DURATION" or "daily HH:MM" (UTC); "" is off.
func ParseSchedule(s string) (Schedule, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Schedule{}, nil
	}
	if len(f) != 2 {
		return Schedule{}, fmt.Errorf("schedule %q: want \"every DURATION\" (e.g. every 6h) or \"daily HH:MM\" (UTC, e.g. daily 03:00)", s)
	}
	switch f[0] {
	case "every":
		d, err := time.ParseDuration(f[1])
		if err != nil || d < time.Second {
			return Schedule{}, fmt.Errorf("schedule %q: %q is not a duration of 1s or more (e.g. 6h, 30m)", s, f[1])
		}
		return Schedule{Every: d}, nil
	case "daily":
		t, err := time.Parse("15:04", f[1])
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: %q is not a time of day HH:MM (UTC, e.g. 03:00)", s, f[1])
		}
		return Schedule{Daily: true, At: time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: starts with %q; want \"every DURATION\" or \"daily HH:MM\"", s, f[0])
}

// Next is when the next backup is due, given the time of the last
// successful one (zero: none yet) and now. A due time that has passed,
// however long ago (the service was down for several periods), is now:
// a missed run runs once, never once per missed period. An off schedule
// returns the zero time. A last in the future (a clock ahead) counts as
// now.
func (s Schedule) Next(last, now time.Time) time.Time {
	if s.Off() {
		return time.Time{}
	}
	if last.IsZero() {
		return now
	}
	if last.After(now) {
		last = now
	}
	var next time.Time
	if s.Daily {
		day := last.UTC().Truncate(24 * time.Hour)
		next = day.Add(s.At)
		if !next.After(last) {
			next = next.Add(24 * time.Hour)
		}
	} else {
		next = last.Add(s.Every)
	}
	if !next.After(now) {
		return now
	}
	return next
}

// RetryAfter is how long a scheduled backup that failed (or found the
// lease held) waits before it tries again: one period, at most 5 minutes,
// so a cluster that cannot spare a manager is not hammered and a short
// outage does not cost a whole day.
func (s Schedule) RetryAfter() time.Duration {
	period := s.Every
	if s.Daily {
		period = 24 * time.Hour
	}
	return max(min(period, 5*time.Minute), time.Second)
}
