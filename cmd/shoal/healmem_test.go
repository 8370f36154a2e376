package main

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/shoalops/shoal/heal"
)

func TestHealIdleTrimmerReleasesOnceIdle(t *testing.T) {
	var released []time.Duration
	start := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	now := start
	hook := idleTrimmer(func() (int64, error) { released = append(released, now.Sub(start)); return 1, nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)), 30*time.Second, func() time.Time { return now })
	nodes := heal.Snapshot{Nodes: []heal.NodeInfo{{Name: "m1"}}}
	act := heal.Decision{Actions: []heal.Action{{Kind: heal.Replace}}}
	step := func(d time.Duration, s heal.Snapshot, dec heal.Decision) {
		now = now.Add(d)
		hook(s, dec)
	}
	step(0, heal.Snapshot{}, heal.Decision{}) // no node list yet: not idle, not started
	step(time.Second, nodes, heal.Decision{}) // the first decision: released
	step(time.Second, nodes, heal.Decision{}) // once
	step(time.Second, nodes, act)             // a remediation
	step(10*time.Second, nodes, heal.Decision{})
	step(25*time.Second, nodes, heal.Decision{}) // 35s quiet: released again
	step(60*time.Second, nodes, heal.Decision{})
	want := []time.Duration{time.Second, 38 * time.Second}
	if len(released) != len(want) || released[0] != want[0] || released[1] != want[1] {
		t.Fatalf("released at %v, want %v", released, want)
	}
}

func TestHealReadOnlyMappingsOfTheExecutable(t *testing.T) {
	exe := "/usr/local/bin/shoal"
	for _, tc := range []struct {
		line       string
		start, end uintptr
		ok         bool
	}{
		{"00400000-020b2000 r-xp 00000000 fe:00 10011297                           /usr/local/bin/shoal", 0x400000, 0x20b2000, true},
		{"020b2000-04cdb000 r--p 01cb2000 fe:00 10011297                           /usr/local/bin/shoal", 0x20b2000, 0x4cdb000, true},
		{"04cdb000-04e34000 rw-p 048db000 fe:00 10011297                           /usr/local/bin/shoal", 0, 0, false}, // data: written
		{"7f549a2bf000-7f549a415000 r-xp 00026000 fe:00 326269 /usr/lib/x86_64-linux-gnu/libc.so.6", 0, 0, false},
		{"04e34000-070af000 rw-p 00000000 00:00 0", 0, 0, false},
		{"garbage", 0, 0, false},
	} {
		s, e, ok := readOnlyMappingOf(tc.line, exe)
		if ok != tc.ok || s != tc.start || e != tc.end {
			t.Errorf("%q: %x-%x %v, want %x-%x %v", tc.line, s, e, ok, tc.start, tc.end, tc.ok)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	// On this kernel: the executable's read-only pages can be released,
	// and the process goes on running.
	n, err := releaseStartupMemory()
	if err != nil || n == 0 {
		t.Fatalf("release: %d bytes advised, %v", n, err)
	}
}

func TestHealVmRSSFromProcStatus(t *testing.T) {
	if got := vmRSS("Name:\tshoal\nVmHWM:\t  70000 kB\nVmRSS:\t   62904 kB\nRssAnon:\t 12508 kB\n"); got != 62904<<10 {
		t.Errorf("vmRSS = %d", got)
	}
	if got := vmRSS("Name:\tshoal\n"); got != 0 {
		t.Errorf("vmRSS without the line = %d", got)
	}
}
