package backup

import (
	"strings"
	"testing"
	"time"
)

func TestParseScheduleReadsEveryAndDaily(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "", want: "off"},
		{in: "every 6h", want: "every 6h0m0s"},
		{in: "  every   30s ", want: "every 30s"},
		{in: "daily 03:00", want: "daily 03:00"},
		{in: "daily 23:59", want: "daily 23:59"},
		{in: "every 500ms", wantErr: "1s or more"},
		{in: "every six hours", wantErr: "want"},
		{in: "every x", wantErr: `"x" is not a duration`},
		{in: "daily 3am", wantErr: "HH:MM"},
		{in: "daily 24:00", wantErr: "HH:MM"},
		{in: "hourly", wantErr: "want"},
		{in: "0 3 * * *", wantErr: "want"},
		{in: "weekly 03:00", wantErr: `starts with "weekly"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSchedule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.String() != tt.want {
				t.Errorf("got %s, %v; want %s", s, err, tt.want)
			}
		})
	}
}

func TestScheduleNextRunsAMissedBackupOnceNotOncePerPeriod(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	every := func(d time.Duration) Schedule { return Schedule{Every: d} }
	daily := func(h, m int) Schedule {
		return Schedule{Daily: true, At: time.Duration(h)*time.Hour + time.Duration(m)*time.Minute}
	}
	now := at("2026-12-03T10:00:00Z")
	tests := []struct {
		name      string
		s         Schedule
		last, now time.Time
		want      time.Time
	}{
		{"off never runs", Schedule{}, time.Time{}, now, time.Time{}},
		{"no backup yet: now", every(6 * time.Hour), time.Time{}, now, now},
		{"no backup yet, daily: now", daily(3, 0), time.Time{}, now, now},
		{"every: the last plus the interval", every(6 * time.Hour), at("2026-12-03T08:00:00Z"), now, at("2026-12-03T14:00:00Z")},
		{"every: due exactly now", every(2 * time.Hour), at("2026-12-03T08:00:00Z"), now, now},
		{"every: three periods missed while down run once, now", every(time.Hour), at("2026-12-03T06:30:00Z"), now, now},
		{"every: after that catch-up run, the next is one interval on", every(time.Hour), now, now, at("2026-12-03T11:00:00Z")},
		{"every: a last in the future counts as now", every(time.Hour), at("2026-12-03T12:00:00Z"), now, at("2026-12-03T11:00:00Z")},
		{"daily: taken today after the hour: tomorrow", daily(3, 0), at("2026-12-03T03:00:05Z"), now, at("2026-12-04T03:00:00Z")},
		{"daily: taken yesterday before the hour, now past it: now", daily(3, 0), at("2026-12-02T02:00:00Z"), now, now},
		{"daily: taken yesterday after the hour, today's not yet due", daily(11, 30), at("2026-12-02T12:00:00Z"), now, at("2026-12-03T11:30:00Z")},
		{"daily: down for three days, once now", daily(3, 0), at("2026-11-30T03:00:00Z"), now, now},
		{"daily: the catch-up run at 10:00 makes the next tomorrow at the hour", daily(3, 0), now, now, at("2026-12-04T03:00:00Z")},
		{"daily: in another zone it is still UTC", daily(3, 0), at("2026-12-03T05:00:00+02:00"), now, at("2026-12-04T03:00:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Next(tt.last, tt.now); !got.Equal(tt.want) {
				t.Errorf("Next(%s, %s) = %s, want %s", tt.last, tt.now, got, tt.want)
			}
		})
	}
}

func TestScheduleRetryAfterIsOnePeriodAtMostFiveMinutes(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		want time.Duration
	}{
		{Schedule{Every: 10 * time.Second}, 10 * time.Second},
		{Schedule{Every: 6 * time.Hour}, 5 * time.Minute},
		{Schedule{Daily: true, At: 3 * time.Hour}, 5 * time.Minute},
	} {
		if got := c.s.RetryAfter(); got != c.want {
			t.Errorf("%s: RetryAfter = %s, want %s", c.s, got, c.want)
		}
	}
}
