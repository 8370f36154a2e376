package backup

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Names of the objects in a backup location.
const (
	// NameSuffix ends every backup's name: CLUSTER-YYYYMMDDTHHMMSSZ.backup.age.
	NameSuffix = ".backup.age"
	// VerifiedSuffix ends the marker `shoal backup verify` writes beside a
	// backup it restored successfully: NAME.verified.
	VerifiedSuffix = ".verified"
	nameTime       = "20060102T150405Z"
)

// Name is the name of cluster's backup taken at t.
func Name(cluster string, t time.Time) string {
	return cluster + "-" + t.UTC().Format(nameTime) + NameSuffix
}

// ParseName reads the time a backup of cluster was taken from its name;
// ok is false for anything that is not exactly a backup name of cluster
// (another cluster's, a marker, a partial upload, a user's file).
func ParseName(cluster, name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, cluster+"-")
	if !ok {
		return time.Time{}, false
	}
	stamp, ok := strings.CutSuffix(rest, NameSuffix)
	if !ok || len(stamp) != len(nameTime) {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTime, stamp)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// Entry is one backup of a cluster in a location.
type Entry struct {
	Name     string    `json:"name"`
	Taken    time.Time `json:"taken"`
	Verified bool      `json:"verified"`
}

// Entries are cluster's backups among the object names of a location,
// newest first; a backup is Verified when its marker is there too. Other
// names are ignored.
func Entries(cluster string, names []string) []Entry {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var out []Entry
	for _, n := range names {
		if t, ok := ParseName(cluster, n); ok {
			out = append(out, Entry{Name: n, Taken: t, Verified: have[n+VerifiedSuffix]})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Or(b.Taken.Compare(a.Taken), strings.Compare(b.Name, a.Name)) })
	return out
}

// Retention says which backups prune keeps: the Keep newest, and the
// newest of each of the KeepDaily most recent days (UTC) that have a
// backup. A backup either rule keeps is kept. The zero Retention keeps
// everything.
type Retention struct {
	Keep      int `json:"keep"`
	KeepDaily int `json:"keep_daily"`
}

// Off says the retention deletes nothing.
func (r Retention) Off() bool { return r.Keep <= 0 && r.KeepDaily <= 0 }

func (r Retention) String() string {
	var p []string
	if r.Keep > 0 {
		p = append(p, fmt.Sprintf("keep %d newest", r.Keep))
	}
	if r.KeepDaily > 0 {
		p = append(p, fmt.Sprintf("newest of %d days", r.KeepDaily))
	}
	if len(p) == 0 {
		return "keep all"
	}
	return strings.Join(p, ", ")
}

// Kept is one entry and why prune keeps or deletes it.
type Kept struct {
	Entry
	Keep bool   `json:"keep"`
	Why  string `json:"why"`
}

// Prune decides, for entries (as Entries returns them, newest first), what
// r keeps and what it deletes. Besides r it never deletes the newest
// backup, nor the newest verified one (so a location with any verified
// backup keeps one). An off retention keeps everything. The result is in
// the order of entries.
func Prune(entries []Entry, r Retention) []Kept {
	out := make([]Kept, len(entries))
	days := map[string]bool{}
	verifiedKept := false
	for i, e := range entries {
		k := Kept{Entry: e}
		day := e.Taken.UTC().Format("2006-01-02")
		switch {
		case r.Off():
			k.Keep, k.Why = true, "no retention set"
		case i == 0:
			k.Keep, k.Why = true, "the newest"
		case i < r.Keep:
			k.Keep, k.Why = true, fmt.Sprintf("one of the %d newest", r.Keep)
		case r.KeepDaily > 0 && !days[day] && len(days) < r.KeepDaily:
			k.Keep, k.Why = true, "the newest of "+day
		case e.Verified && !verifiedKept:
			k.Keep, k.Why = true, "the newest verified"
		default:
			k.Why = "older than " + r.String()
		}
		if k.Keep && r.KeepDaily > 0 && len(days) < r.KeepDaily {
			days[day] = true
		}
		if k.Keep && e.Verified {
			verifiedKept = true
		}
		out[i] = k
	}
	return out
}
