package dr

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// walWriter writes etcd WAL frames as etcd's encoder does (8-byte aligned,
// padding flagged in the length's top byte).
type walWriter struct{ bytes.Buffer }

func (w *walWriter) record(typ int64, data []byte) {
	var rec []byte
	rec = protowire.AppendTag(rec, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, uint64(typ))
	rec = protowire.AppendTag(rec, 2, protowire.VarintType)
	rec = protowire.AppendVarint(rec, 0xdeadbeef)
	if data != nil {
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendBytes(rec, data)
	}
	field := uint64(len(rec))
	pad := (8 - len(rec)%8) % 8
	if pad != 0 {
		field |= uint64(0x80|pad) << 56
	}
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], field)
	w.Write(l[:])
	w.Write(rec)
	w.Write(make([]byte, pad))
}

func msg(fields ...uint64) []byte { // field numbers and values in pairs, varints
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		b = protowire.AppendTag(b, protowire.Number(fields[i]), protowire.VarintType)
		b = protowire.AppendVarint(b, fields[i+1])
	}
	return b
}

func (w *walWriter) entry(term, index uint64, secret string) {
	e := msg(1, 0, 2, term, 3, index)
	e = protowire.AppendTag(e, 4, protowire.BytesType)
	e = protowire.AppendBytes(e, []byte(secret)) // encrypted by swarmkit: opaque
	w.record(walEntry, e)
}

func (w *walWriter) state(term, vote, commit uint64) {
	w.record(walState, msg(1, term, 2, vote, 3, commit))
}
func (w *walWriter) snapshot(index, term uint64) { w.record(walSnapshot, msg(1, index, 2, term)) }
func (w *walWriter) head() {
	w.record(walCRC, nil)
	w.record(walMetadata, []byte("node-id and cluster-id, opaque"))
}

func TestParseWAL(t *testing.T) {
	cases := []struct {
		name  string
		build func(w *walWriter)
		floor RaftState
		want  RaftState
		err   string
	}{
		{"entries then preallocated zeros", func(w *walWriter) {
			w.head()
			w.snapshot(0, 0)
			w.entry(1, 1, "a")
			w.state(1, 1, 1)
			w.entry(2, 2, "bb")
			w.entry(2, 3, "ccc")
			w.state(2, 1, 3)
			w.Write(make([]byte, 4096))
		}, RaftState{}, RaftState{Term: 2, Index: 3, Commit: 3}, ""},
		{"an uncommitted tail counts: raft compares the log's end", func(w *walWriter) {
			w.head()
			w.entry(3, 10, "x")
			w.state(3, 2, 9)
			w.entry(3, 11, "y")
		}, RaftState{}, RaftState{Term: 3, Index: 11, Commit: 9}, ""},
		{"a conflicting tail overwritten by a later term", func(w *walWriter) {
			w.head()
			w.entry(2, 5, "old")
			w.entry(2, 6, "old")
			w.entry(3, 5, "new") // the leader of term 3 replaced index 5 on
			w.state(3, 1, 5)
		}, RaftState{}, RaftState{Term: 3, Index: 5, Commit: 5}, ""},
		{"a segment just cut: the snapshot floor", func(w *walWriter) {
			w.head()
			w.snapshot(10000, 4)
			w.state(4, 1, 10000)
		}, RaftState{Term: 4, Index: 10000, Commit: 10000}, RaftState{Term: 4, Index: 10000, Commit: 10000}, ""},
		{"a torn last frame ends the log", func(w *walWriter) {
			w.head()
			w.entry(1, 7, "z")
			var l [8]byte
			binary.LittleEndian.PutUint64(l[:], 400)
			w.Write(l[:])
			w.Write([]byte{1, 2, 3})
		}, RaftState{}, RaftState{Term: 1, Index: 7}, ""},
		{"not a wal", func(w *walWriter) {
			w.WriteString("PK\x03\x04 this is a zip file, not an etcd WAL at all")
		}, RaftState{}, RaftState{}, "not"},
		{"empty", func(w *walWriter) {}, RaftState{}, RaftState{}, "no record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w walWriter
			c.build(&w)
			got, err := ParseWAL(&w, c.floor)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestRaftStateNewerThan(t *testing.T) {
	cases := []struct {
		a, b RaftState
		want bool
	}{
		{RaftState{Term: 3, Index: 5}, RaftState{Term: 2, Index: 90}, true}, // the later term wins over a longer log
		{RaftState{Term: 2, Index: 90}, RaftState{Term: 3, Index: 5}, false},
		{RaftState{Term: 3, Index: 6}, RaftState{Term: 3, Index: 5}, true},
		{RaftState{Term: 3, Index: 5, Commit: 5}, RaftState{Term: 3, Index: 5, Commit: 4}, true},
		{RaftState{Term: 3, Index: 5}, RaftState{Term: 3, Index: 5}, false},
	}
	for _, c := range cases {
		if got := c.a.NewerThan(c.b); got != c.want {
			t.Errorf("%s newer than %s = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestRaftListing(t *testing.T) {
	out := "/var/lib/docker/swarm/raft/wal-v3-encrypted\n0000000000000000-0000000000000000.wal\n0000000000000001-0000000000002711.wal\n0.tmp\n---\n0000000000000002-0000000000002710.snap\n0000000000000001-0000000000000400.snap\n"
	dir, wals, snaps, err := parseRaftList(out)
	if err != nil {
		t.Fatal(err)
	}
	if dir != "/var/lib/docker/swarm/raft/wal-v3-encrypted" {
		t.Errorf("dir = %q", dir)
	}
	if got := LastSegment(wals); got != "0000000000000001-0000000000002711.wal" {
		t.Errorf("last segment = %q", got)
	}
	if got := SnapshotFloor(snaps); got != (RaftState{Term: 2, Index: 0x2710, Commit: 0x2710}) {
		t.Errorf("snapshot floor = %s", got)
	}
	if _, _, _, err := parseRaftList("sudo: a password is required\n"); err == nil {
		t.Errorf("a listing that is not one was accepted")
	}
}
