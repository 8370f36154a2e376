package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestEnsureImageBuildsOnceThenReusesTheCache(t *testing.T) {
	docker := dockerForTest(t)
	for _, v := range []Variant{VariantDocker, VariantFresh} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			first, err := EnsureImage(ctx, docker, v, testWriter(t))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(first, "shoal-lab/vps:"+string(v)+"-") {
				t.Errorf("tag %q, want shoal-lab/vps:%s-<hash>", first, v)
			}
			var out strings.Builder
			second, err := EnsureImage(ctx, docker, v, &out)
			if err != nil {
				t.Fatal(err)
			}
			if second != first {
				t.Errorf("second call gave %q, first %q", second, first)
			}
			if !strings.Contains(out.String(), "using cached image "+first) {
				t.Errorf("second call did not say it used the cache:\n%s", out.String())
			}
		})
	}
}

func TestLockFileWaitsForTheHolder(t *testing.T) {
	dir := t.TempDir()
	rep := newReporter(nil)
	unlock, err := lockFile(context.Background(), rep, dir, "x.lock", "test")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open files: a second open in this process waits
	// just as another process would.
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, rep, dir, "x.lock", "test"); err == nil {
		t.Fatal("took a lock that is held")
	}
	unlock()
	unlock2, err := lockFile(context.Background(), rep, dir, "x.lock", "test")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestDebootstrapChatterKeepsThePhases(t *testing.T) {
	for line, skip := range map[string]bool{
		"I: Retrieving libc6 2.36-9+deb12u10":    true,
		"I: Validating libc6 2.36-9+deb12u10":    true,
		"I: Unpacking the base system...":        false,
		"I: Configuring the base system...":      false,
		"I: Base system installed successfully.": false,
		"I: Configuring required packages...":    false,
		"I: Configuring tini...":                 true,
	} {
		if got := debootstrapChatter(line); got != skip {
			t.Errorf("%q: skip %v, want %v", line, got, skip)
		}
	}
}
