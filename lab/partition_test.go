package lab

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPartitionDrops(t *testing.T) {
	nodes := []Node{
		{Name: "m1", Hoster: "a", Address: "10.0.0.1"},
		{Name: "m2", Hoster: "b", Address: "10.0.0.2"},
		{Name: "m3", Hoster: "c", Address: "10.0.0.3"},
		{Name: "w1", Hoster: "a", Address: "10.0.0.4"},
		{Name: "w2", Hoster: "b"}, // stopped
	}
	for _, tc := range []struct {
		name   string
		hoster string
		want   map[string][]string
	}{
		{
			name:   "the cut-off hoster's nodes drop everyone else, and everyone else drops them",
			hoster: "a",
			want: map[string][]string{
				"m1": {"10.0.0.2", "10.0.0.3"},
				"w1": {"10.0.0.2", "10.0.0.3"},
				"m2": {"10.0.0.1", "10.0.0.4"},
				"m3": {"10.0.0.1", "10.0.0.4"},
			},
		},
		{
			name:   "nodes of the other hosters keep talking to each other",
			hoster: "c",
			want: map[string][]string{
				"m3": {"10.0.0.1", "10.0.0.2", "10.0.0.4"},
				"m1": {"10.0.0.3"},
				"m2": {"10.0.0.3"},
				"w1": {"10.0.0.3"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := partitionDrops(nodes, tc.hoster)
			if !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestPartitionScripts(t *testing.T) {
	t.Run("each rule is checked before it is inserted, in INPUT and FORWARD", func(t *testing.T) {
		got := partitionScript("hoster-a", []string{"10.0.0.2"})
		want := "set -e\n" +
			"iptables -C INPUT -s 10.0.0.2 -m comment --comment shoal-partition:hoster-a -j DROP 2>/dev/null || iptables -I INPUT -s 10.0.0.2 -m comment --comment shoal-partition:hoster-a -j DROP\n" +
			"iptables -C FORWARD -s 10.0.0.2 -m comment --comment shoal-partition:hoster-a -j DROP 2>/dev/null || iptables -I FORWARD -s 10.0.0.2 -m comment --comment shoal-partition:hoster-a -j DROP\n"
		if got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("lifting deletes the rules by their comment, not by address", func(t *testing.T) {
		got := unpartitionScript("hoster-a")
		if strings.Contains(got, "10.") || !strings.Contains(got, "shoal-partition:hoster-a") || strings.Count(got, "iptables -S") != 2 {
			t.Errorf("got\n%s", got)
		}
	})
}

func TestPartitionCutsOffAHoster(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// m1 and w1 on hoster-a, m2 on hoster-b.
	l := newLab(t, docker, Options{Managers: 2, Workers: 1, Hosters: []string{"hoster-a", "hoster-b"}})
	m1, _ := l.Node("m1")
	m2, _ := l.Node("m2")
	w1, _ := l.Node("w1")

	// reach says whether from can open a TCP connection to to's sshd.
	reach := func(from, to Node) bool {
		t.Helper()
		_, err := execIn(ctx, docker, from.Container, "timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/22", to.Address))
		return err == nil
	}
	check := func(when string, want map[[2]string]bool) {
		t.Helper()
		for pair, ok := range want {
			from, _ := l.Node(pair[0])
			to, _ := l.Node(pair[1])
			if got := reach(from, to); got != ok {
				t.Errorf("%s: %s -> %s reachable %v, want %v", when, pair[0], pair[1], got, ok)
			}
		}
	}
	rules := func(n Node) int {
		t.Helper()
		out, err := execIn(ctx, docker, n.Container, "sh", "-c", "iptables -S INPUT; iptables -S FORWARD")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(out, "shoal-partition:")
	}

	check("before", map[[2]string]bool{{"m1", "m2"}: true, {"m2", "w1"}: true, {"m1", "w1"}: true})

	for range 2 { // the second time changes nothing
		if err := Partition(ctx, docker, l, "hoster-a"); err != nil {
			t.Fatal(err)
		}
	}
	check("partitioned", map[[2]string]bool{
		{"m1", "m2"}: false, {"m2", "m1"}: false, {"w1", "m2"}: false, {"m2", "w1"}: false,
		{"m1", "w1"}: true, {"w1", "m1"}: true,
	})
	if got := rules(m2); got != 4 {
		t.Errorf("m2 has %d partition rules after partitioning twice, want 4 (2 nodes x INPUT, FORWARD)", got)
	}
	// The host still reaches every node.
	for _, n := range []Node{m1, m2, w1} {
		c := dialNode(t, l, n)
		if out, err := run(c, "true"); err != nil {
			t.Errorf("host -> %s over SSH while partitioned: %v %s", n.Name, err, out)
		}
	}

	for range 2 {
		if err := Unpartition(ctx, docker, l, "hoster-a"); err != nil {
			t.Fatal(err)
		}
	}
	check("lifted", map[[2]string]bool{{"m1", "m2"}: true, {"m2", "m1"}: true, {"w1", "m2"}: true})
	if got := rules(m2); got != 0 {
		t.Errorf("m2 has %d partition rules after lifting, want 0", got)
	}

	t.Run("overlapping partitions are lifted one by one", func(t *testing.T) {
		if err := Partition(ctx, docker, l, "hoster-a"); err != nil {
			t.Fatal(err)
		}
		if err := Partition(ctx, docker, l, "hoster-b"); err != nil {
			t.Fatal(err)
		}
		if err := Unpartition(ctx, docker, l, "hoster-a"); err != nil {
			t.Fatal(err)
		}
		check("hoster-b still cut off", map[[2]string]bool{{"m1", "m2"}: false, {"m1", "w1"}: true})
		if err := Unpartition(ctx, docker, l, "hoster-b"); err != nil {
			t.Fatal(err)
		}
		check("all lifted", map[[2]string]bool{{"m1", "m2"}: true})
	})

	t.Run("an unknown hoster is refused", func(t *testing.T) {
		if err := Partition(ctx, docker, l, "hoster-z"); err == nil {
			t.Error("partitioned a hoster without nodes")
		}
	})
}
