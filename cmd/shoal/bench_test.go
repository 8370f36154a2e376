package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/lab"
)

// BenchmarkBootstrapScale measures the wall time of `shoal bootstrap` (host
// preparation, observation, plan, execution, wait for Ready) on fresh lab
// VPSes: 3 managers alone, then 3 managers + 6 workers, in the same run.
// The target is time(9)/time(3) <= 1.3: work per node runs in parallel.
// Container creation is not timed. Run with:
//
//	go test -run '^$' -bench BootstrapScale -benchtime 1x ./cmd/shoal
func BenchmarkBootstrapScale(b *testing.B) {
	if testing.Short() {
		b.Skip("lab benchmark")
	}
	docker, err := localDocker()
	if err != nil {
		b.Fatal(err)
	}
	defer docker.Close()
	ctx := context.Background()

	measure := func(workers int) time.Duration {
		rb := make([]byte, 3)
		_, _ = rand.Read(rb)
		name := "b" + hex.EncodeToString(rb)
		dir := filepath.Join(b.TempDir(), name)
		defer func() { _ = lab.Down(context.Background(), docker, name, io.Discard) }()
		l, err := lab.Up(ctx, docker, lab.Options{Name: name, Managers: 3, Workers: workers, Dir: dir}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		inv := LabInventory(l)
		dial, closer, err := bootstrap.DialOptions(inv)
		if err != nil {
			b.Fatal(err)
		}
		defer closer.Close()
		start := time.Now()
		if _, err := bootstrap.Run(ctx, inv, bootstrap.Options{Dial: dial}, nopProgress{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	var t3, t9 time.Duration
	for b.Loop() {
		t3 += measure(0)
		t9 += measure(6)
	}
	n := float64(b.N)
	b.ReportMetric(t3.Seconds()/n, "s/bootstrap-3")
	b.ReportMetric(t9.Seconds()/n, "s/bootstrap-9")
	b.ReportMetric(float64(t9)/float64(t3), "ratio-9/3")
}

type nopProgress struct{}

func (nopProgress) Node(string, string) {}
