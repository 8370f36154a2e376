package backup

import (
	"strings"
	"testing"
	"time"
)

func TestEntriesAreTheClustersBackupsNewestFirst(t *testing.T) {
	names := []string{
		"prod-20261201T030000Z.backup.age",
		"prod-20261203T030000Z.backup.age",
		"prod-20261203T030000Z.backup.age.verified",
		"prod-20261202T030000Z.backup.age",
		"prod-20261202T030000Z.backup.age.part", // an upload cut short
		"prod-eu-20261203T040000Z.backup.age",   // another cluster whose name starts alike
		"staging-20261203T040000Z.backup.age",
		"prod-latest.backup.age", // a user's copy
		"notes.txt",
	}
	got := Entries("prod", names)
	var have []string
	for _, e := range got {
		s := e.Name
		if e.Verified {
			s += " (verified)"
		}
		have = append(have, s)
	}
	want := "prod-20261203T030000Z.backup.age (verified), prod-20261202T030000Z.backup.age, prod-20261201T030000Z.backup.age"
	if strings.Join(have, ", ") != want {
		t.Errorf("entries = %s\nwant      %s", strings.Join(have, ", "), want)
	}
	if n := Name("prod", time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)); n != "prod-20261203T030000Z.backup.age" {
		t.Errorf("Name = %s", n)
	}
}

func TestPruneKeepsTheNewestAndNeverTheOnlyVerified(t *testing.T) {
	e := func(stamp string, verified bool) Entry {
		t.Helper()
		tm, err := time.Parse("2006-01-02T15:04", stamp)
		if err != nil {
			t.Fatal(err)
		}
		return Entry{Name: Name("prod", tm), Taken: tm, Verified: verified}
	}
	// Newest first, as Entries returns them.
	five := []Entry{e("2026-12-03T12:00", false), e("2026-12-03T06:00", false), e("2026-12-02T12:00", false), e("2026-12-02T06:00", false), e("2026-12-01T12:00", false)}
	verifiedOld := []Entry{e("2026-12-03T12:00", false), e("2026-12-03T06:00", false), e("2026-12-02T12:00", true), e("2026-12-01T06:00", true)}
	tests := []struct {
		name    string
		entries []Entry
		r       Retention
		keep    string // a k or d per entry
	}{
		{"no retention deletes nothing", five, Retention{}, "kkkkk"},
		{"keep 2 deletes the three oldest", five, Retention{Keep: 2}, "kkddd"},
		{"keep 1 keeps the newest", five, Retention{Keep: 1}, "kdddd"},
		{"keep more than there are deletes nothing", five, Retention{Keep: 9}, "kkkkk"},
		{"keep-daily 2: the newest of the two latest days", five, Retention{KeepDaily: 2}, "kdkdd"},
		{"keep 2 and keep-daily 3: either rule keeps", five, Retention{Keep: 2, KeepDaily: 3}, "kkkdk"},
		{"the newest verified is kept outside keep", verifiedOld, Retention{Keep: 1}, "kdkd"},
		{"a verified one within keep is the kept verified one", verifiedOld, Retention{Keep: 3}, "kkkd"},
		{"one backup, nothing to delete", five[:1], Retention{Keep: 1}, "k"},
		{"none, nothing", nil, Retention{Keep: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prune(tt.entries, tt.r)
			var b strings.Builder
			for _, k := range got {
				if k.Keep {
					b.WriteByte('k')
				} else {
					b.WriteByte('d')
				}
				if k.Why == "" {
					t.Errorf("%s: no reason", k.Name)
				}
			}
			if b.String() != tt.keep {
				t.Errorf("keep/delete = %s, want %s (%+v)", b.String(), tt.keep, got)
			}
		})
	}
}
