package exec

// Checkpointed state of the join operators (CopyOnWriteSnapshotter,
// Restorer).
//
// Every stored row is one entry:
//
//	(key group of the join key, encoded join key, side byte ++ row id as 8
//	big-endian bytes) → uvarint format 1, varint count, varint assoc (the
//	regular join's match count of a preserved row; the interval join's
//	matched flag), varint last write time (TTL), uvarint number of
//	columns, the row's values
//
// Row ids are unique per operator subtask and only need to be unique per
// key, so subtasks merged by a restore at a lower parallelism (which own
// disjoint key groups, hence disjoint keys) cannot collide; after a restore
// new ids start above the largest restored one.
//
// Snapshots are copy-on-write with two marks per record (markCOW,
// markcow.go), for the three joins alike. A dropped record stays on the
// lists, marked dead, until a capture has written its deletion (only if it
// had been written before). The window and interval joins drop records as
// the watermark passes; the watermark itself is not part of the state.

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/weirsql/weir/sql/types"
)

const joinStateFormat = 1

// joinKeyRef is the key a record is stored under.
type joinKeyRef struct {
	key string
	kg  uint16
}

// Record state bits.
const (
	recPersisted = 1 // written by a capture and not deleted since
	recDead      = 2 // dropped from the operator's state
	// the bits cowMarkA and cowMarkB are markCOW's
)

// recBase is what every join record has for checkpointing.
type recBase struct {
	row  types.Row
	id   uint64
	side uint8
	st   uint8
	ref  *joinKeyRef
}

// stateRec is a join record: its base and its entry's value.
type stateRec interface {
	markedEntry
	base() *recBase
	value(dst []byte) []byte
}

func (r *recBase) ns() [9]byte {
	var ns [9]byte
	ns[0] = r.side
	binary.BigEndian.PutUint64(ns[1:], r.id)
	return ns
}

func (b *recBase) cowMarks() *uint8 { return &b.st }

func (b *recBase) base() *recBase { return b }

// startJoinCOW starts a join's change tracking.
func startJoinCOW(c *markCOW[stateRec]) {
	c.start(func(r stateRec) { writeJoinRec(c, r) })
}

// dropRec marks r dropped from the state.
func dropRec(c *markCOW[stateRec], r stateRec) {
	c.changing(r)
	r.base().st |= recDead
}

// writeJoinRec writes a captured record: its value, or its deletion when
// dead.
func writeJoinRec(c *markCOW[stateRec], r stateRec) {
	b := r.base()
	ns := b.ns()
	switch {
	case b.st&recDead == 0:
		c.vbuf = r.value(c.vbuf[:0])
		c.out.Put(b.ref.kg, stringBytes(b.ref.key), ns[:], c.vbuf)
		b.st |= recPersisted
	case b.st&recPersisted != 0:
		c.out.Delete(b.ref.kg, stringBytes(b.ref.key), ns[:])
		b.st &^= recPersisted
	}
}

func appendJoinRecord(dst []byte, count, assoc, written int64, row types.Row) []byte {
	dst = binary.AppendUvarint(dst, joinStateFormat)
	dst = binary.AppendVarint(dst, count)
	dst = binary.AppendVarint(dst, assoc)
	dst = binary.AppendVarint(dst, written)
	dst = binary.AppendUvarint(dst, uint64(len(row)))
	for _, v := range row {
		dst = appendAccValue(dst, v)
	}
	return dst
}

type joinRecord struct {
	side                  uint8
	id                    uint64
	count, assoc, written int64
	row                   types.Row
}

func decodeJoinRecord(what string, ns, value []byte) (joinRecord, error) {
	var r joinRecord
	if len(ns) != 9 || ns[0] > 1 {
		return r, fmt.Errorf("%s state: bad namespace of %d bytes", what, len(ns))
	}
	r.side = ns[0]
	r.id = binary.BigEndian.Uint64(ns[1:])
	d := accDecoder{b: value}
	if f := d.uvarint(); f != joinStateFormat {
		return r, fmt.Errorf("%s state: format %d, want %d", what, f, joinStateFormat)
	}
	r.count = d.varint()
	r.assoc = d.varint()
	r.written = d.varint()
	n := d.count()
	if d.err == nil {
		r.row = make(types.Row, n)
		for i := range r.row {
			r.row[i] = d.value()
		}
	}
	if d.err != nil {
		return r, fmt.Errorf("%s state: %w", what, d.err)
	}
	if r.count <= 0 {
		return r, fmt.Errorf("%s state: row count %d", what, r.count)
	}
	return r, nil
}

// ---- Join ----

var (
	_ CopyOnWriteSnapshotter = (*Join)(nil)
	_ Restorer               = (*Join)(nil)
)

func (r *joinRec) base() *recBase { return &r.recBase }
func (r *joinRec) value(dst []byte) []byte {
	return appendJoinRecord(dst, r.count, r.assoc, r.written, r.row)
}

func (j *Join) markDirty(rec *joinRec) { j.ck.changing(rec) }
func (j *Join) forget(rec *joinRec)    { dropRec(&j.ck, rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *Join) TrackChanges() { startJoinCOW(&j.ck) }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *Join) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter. A full capture also
// walks the spilled keys (join_spill.go).
func (j *Join) CaptureState(_ uint64, full bool, w StateWriter) error {
	if _, err := j.ContinueSnapshot(0); err != nil {
		return err
	}
	full = full || !j.ck.track
	j.ck.capture(w, full, j.TrackChanges, func(fn func(stateRec)) {
		for _, e := range j.entries {
			for _, list := range e.recs {
				for _, r := range list {
					fn(r)
				}
			}
		}
	})
	return j.captureSpilled(full, w)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *Join) ContinueSnapshot(budget int) (bool, error) {
	if !j.ck.cont(budget) {
		return false, nil
	}
	return j.continueSpilled(budget)
}

// RestoreState implements Restorer. With spilling, keys beyond the
// memory budget are spilled as they are read.
func (j *Join) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.TrackChanges()
	n := 0
	err := scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("join", ns, value)
		if err != nil {
			return err
		}
		e, err := j.lookupEntry(func() uint16 { return kg }, key) // spilled by an earlier round
		if err != nil {
			return err
		}
		if e == nil {
			e = &joinEntry{joinKeyRef: joinKeyRef{key: string(key), kg: kg}}
			j.entries[e.key] = e
			j.addEntry(e)
		}
		rec := &joinRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			count: r.count, assoc: r.assoc, written: r.written, ent: e}
		e.recs[r.side] = append(e.recs[r.side], rec)
		j.recAdded(rec)
		j.nextID = max(j.nextID, r.id+1)
		if j.ttl.ms > 0 {
			j.queue = append(j.queue, joinTTLItem{rec: rec, at: r.written})
		}
		if n++; n%1024 == 0 {
			return j.maybeEvict()
		}
		return nil
	})
	// the TTL sweep pops the queue in time order
	slices.SortStableFunc(j.queue, func(a, b joinTTLItem) int { return cmp.Compare(a.at, b.at) })
	return err
}

// ---- IntervalJoin ----

var (
	_ CopyOnWriteSnapshotter = (*IntervalJoin)(nil)
	_ Restorer               = (*IntervalJoin)(nil)
)

func (r *ijRec) base() *recBase { return &r.recBase }
func (r *ijRec) value(dst []byte) []byte {
	var matched int64
	if r.matched {
		matched = 1
	}
	return appendJoinRecord(dst, 1, matched, 0, r.row)
}

func (j *IntervalJoin) markDirty(rec *ijRec) { j.ck.changing(rec) }
func (j *IntervalJoin) forget(rec *ijRec)    { dropRec(&j.ck, rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *IntervalJoin) TrackChanges() { startJoinCOW(&j.ck) }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *IntervalJoin) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter. A full capture also
// walks the spilled keys (timedjoin_spill.go).
func (j *IntervalJoin) CaptureState(_ uint64, full bool, w StateWriter) error {
	if _, err := j.ContinueSnapshot(0); err != nil {
		return err
	}
	full = full || !j.ck.track
	j.ck.capture(w, full, j.TrackChanges, func(fn func(stateRec)) {
		for _, r := range j.expiry {
			if r.st&recSpilled == 0 { // a spilled key's rows are in the space
				fn(r)
			}
		}
	})
	return j.captureSpilled(full, w)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *IntervalJoin) ContinueSnapshot(budget int) (bool, error) {
	if !j.ck.cont(budget) {
		return false, nil
	}
	return j.continueSpilled(budget)
}

// RestoreState implements Restorer: rows whose time has passed are
// dropped at the first watermark. With spilling, keys beyond the memory
// budget are spilled as they are read.
func (j *IntervalJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.TrackChanges()
	n := 0
	err := scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("interval join", ns, value)
		if err != nil {
			return err
		}
		s := int(r.side)
		if len(r.row) <= j.timeCol[s] || r.row[j.timeCol[s]].Kind != types.Timestamp {
			return fmt.Errorf("interval join state: a row of input %d has no time", s)
		}
		e := j.entries[string(key)]
		if e == nil && j.sp != nil { // spilled by an earlier round
			if e, err = j.spillLookup(e, key); err != nil {
				return err
			}
		}
		if e == nil {
			e = &ijEntry{joinKeyRef: joinKeyRef{key: string(key), kg: kg}}
			j.entries[e.key] = e
			j.addEntry(e)
		}
		rec := &ijRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			expire: j.expireAt(s, r.row[j.timeCol[s]].I), matched: r.assoc != 0, ent: e}
		e.recs[s] = append(e.recs[s], rec)
		j.recAdded(rec)
		j.pushExpiry(rec)
		j.nextID = max(j.nextID, r.id+1)
		if n++; n%1024 == 0 {
			return j.maybeEvict()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return j.maybeEvict()
}

// ---- WindowJoin ----

var (
	_ CopyOnWriteSnapshotter = (*WindowJoin)(nil)
	_ Restorer               = (*WindowJoin)(nil)
)

func (r *wjRec) base() *recBase          { return &r.recBase }
func (r *wjRec) value(dst []byte) []byte { return appendJoinRecord(dst, 1, 0, 0, r.row) }

func (j *WindowJoin) markDirty(rec *wjRec) { j.ck.changing(rec) }
func (j *WindowJoin) forget(rec *wjRec)    { dropRec(&j.ck, rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *WindowJoin) TrackChanges() { startJoinCOW(&j.ck) }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *WindowJoin) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter. A full capture also
// walks the spilled keys (timedjoin_spill.go).
func (j *WindowJoin) CaptureState(_ uint64, full bool, w StateWriter) error {
	if _, err := j.ContinueSnapshot(0); err != nil {
		return err
	}
	full = full || !j.ck.track
	j.ck.capture(w, full, j.TrackChanges, func(fn func(stateRec)) {
		for _, win := range j.pending {
			for _, e := range win.order {
				if e == nil {
					continue // spilled: walked below
				}
				for _, list := range e.recs {
					for _, r := range list {
						fn(r)
					}
				}
			}
		}
	})
	return j.captureSpilled(full, w)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *WindowJoin) ContinueSnapshot(budget int) (bool, error) {
	if !j.ck.cont(budget) {
		return false, nil
	}
	return j.continueSpilled(budget)
}

// RestoreState implements Restorer. With spilling, keys beyond the
// memory budget are spilled as they are read.
func (j *WindowJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	track := j.ck.track
	j.ck.track = false // restored rows are persisted, not changed
	defer func() { j.ck.track = track; j.TrackChanges() }()
	n := 0
	err := scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("window join", ns, value)
		if err != nil {
			return err
		}
		s := int(r.side)
		if len(r.row) <= j.endCol[s] || r.row[j.endCol[s]].Kind != types.Timestamp {
			return fmt.Errorf("window join state: a row of input %d has no window end", s)
		}
		rec, err := j.store(s, r.row, r.row[j.endCol[s]].I, r.id, kg, string(key))
		if err != nil {
			return err
		}
		rec.st = recPersisted
		j.nextID = max(j.nextID, r.id+1)
		if n++; n%1024 == 0 {
			return j.maybeEvict()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return j.maybeEvict()
}
