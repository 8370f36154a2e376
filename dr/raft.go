package dr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// RaftState is how far a manager's raft log got, read from its swarm state
// on disk (see ADR 0027). Term and Index are those of the last log entry
// (or of the last snapshot when no entry follows it): raft's own
// "up-to-date" measure, the one its elections compare. Commit is the
// highest index the manager knew committed.
type RaftState struct {
	Term, Index, Commit uint64
}

// NewerThan tells whether s is more recent than o by raft's rule: the
// higher last term wins, then the higher last index, then the higher
// commit index.
func (s RaftState) NewerThan(o RaftState) bool {
	if s.Term != o.Term {
		return s.Term > o.Term
	}
	if s.Index != o.Index {
		return s.Index > o.Index
	}
	return s.Commit > o.Commit
}

func (s RaftState) String() string {
	return fmt.Sprintf("term %d index %d commit %d", s.Term, s.Index, s.Commit)
}

// etcd WAL record types (go.etcd.io/etcd wal: metadataType = 1, ...),
// which swarmkit writes under <data-root>/swarm/raft/wal-v3-encrypted.
const (
	walMetadata = 1
	walEntry    = 2
	walState    = 3
	walCRC      = 4
	walSnapshot = 5
)

// ParseWAL reads one etcd WAL segment as swarmkit writes it and returns the
// term and index of its last entry (or snapshot record) and the highest
// commit index of its hard states. floor is what the segment's own name and
// the snapshot files say (a segment just cut holds no entry yet).
//
// swarmkit encrypts only the Data of each entry; the framing, the entries'
// Term and Index and the hard states are plain, so nothing secret is
// needed. Frames: an 8-byte little-endian length (lower 56 bits; a set top
// bit gives the padding in bits 56-58), then a walpb.Record {1: type,
// 2: crc, 3: data}. A zero length is the preallocated end of the segment.
// A torn last frame (a crash mid-write) ends the reading, as etcd's reader
// does.
func ParseWAL(r io.Reader, floor RaftState) (RaftState, error) {
	st := floor
	var lenBuf [8]byte
	records := 0
	for {
		if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return st, fmt.Errorf("read wal frame %d: %w", records+1, err)
		}
		field := binary.LittleEndian.Uint64(lenBuf[:])
		if field == 0 {
			break
		}
		size := field &^ (uint64(0xff) << 56)
		var pad uint64
		if field&(1<<63) != 0 {
			pad = (field >> 56) & 0x7
		}
		if size > 64<<20 {
			return st, fmt.Errorf("wal frame %d: record of %d bytes is not a WAL record", records+1, size)
		}
		buf := make([]byte, size+pad)
		if _, err := io.ReadFull(r, buf); err != nil {
			break // torn write at the end
		}
		typ, data, err := walRecord(buf[:size])
		if err != nil {
			return st, fmt.Errorf("wal record %d: %w", records+1, err)
		}
		records++
		switch typ {
		case walEntry:
			term, index, err := uint2(data, 2, 3)
			if err != nil {
				return st, fmt.Errorf("wal entry (record %d): %w", records, err)
			}
			// A later entry with a lower index overwrote a conflicting
			// tail: the last one written is the log's end.
			st.Term, st.Index = term, index
		case walSnapshot:
			index, term, err := uint2(data, 1, 2)
			if err != nil {
				return st, fmt.Errorf("wal snapshot (record %d): %w", records, err)
			}
			if index >= st.Index {
				st.Term, st.Index = term, index
			}
		case walState:
			_, commit, err := uint2(data, 1, 3)
			if err != nil {
				return st, fmt.Errorf("wal hard state (record %d): %w", records, err)
			}
			st.Commit = max(st.Commit, commit)
		case walMetadata, walCRC:
		default:
			return st, fmt.Errorf("wal record %d: unknown type %d: not an etcd WAL", records, typ)
		}
	}
	if records == 0 {
		return st, errors.New("the wal segment holds no record")
	}
	return st, nil
}

// walRecord decodes a walpb.Record: its type and data.
func walRecord(b []byte) (typ int64, data []byte, err error) {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			typ, b = int64(v), b[n:]
		case num == 3 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			data, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, wt, b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return typ, data, nil
}

// uint2 reads two varint fields of a protobuf message (absent = 0).
func uint2(b []byte, f1, f2 protowire.Number) (v1, v2 uint64, err error) {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
		if wt == protowire.VarintType && (num == f1 || num == f2) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			if num == f1 {
				v1 = v
			} else {
				v2 = v
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, wt, b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return v1, v2, nil
}

// SnapshotFloor is the most recent raft snapshot named in a listing of the
// snapshot directory (etcd names them %016x-%016x.snap: term, index).
func SnapshotFloor(names []string) RaftState {
	var st RaftState
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".snap")
		if !ok {
			continue
		}
		t, i, ok := strings.Cut(base, "-")
		if !ok {
			continue
		}
		term, err1 := strconv.ParseUint(t, 16, 64)
		index, err2 := strconv.ParseUint(i, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if s := (RaftState{Term: term, Index: index, Commit: index}); s.NewerThan(st) {
			st = s
		}
	}
	return st
}

// LastSegment is the newest WAL segment of a listing of the WAL directory
// (etcd names them %016x-%016x.wal: sequence, first index); "" when there
// is none.
func LastSegment(names []string) string {
	last := ""
	var lastSeq uint64
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".wal")
		if !ok {
			continue
		}
		s, _, ok := strings.Cut(base, "-")
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			continue
		}
		if last == "" || seq > lastSeq {
			last, lastSeq = n, seq
		}
	}
	return last
}
