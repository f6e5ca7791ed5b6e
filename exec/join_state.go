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
// Snapshots are copy-on-write, as in GroupAgg and WindowAgg (one helper,
// joinCOW, serves the three joins): every record carries two marks that
// swap roles at each capture. The current mark says "changed since the
// last capture" and puts the record on the dirty list; CaptureState makes
// the dirty list the captured list and swaps the marks, so it costs
// nothing that grows with the changes; a captured record is written when
// the runtime calls ContinueSnapshot between batches or, if it is about to
// change or to be dropped first, right before that, so the capture holds
// every record as it was at the barrier. A dropped record stays on the
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
	recMarkA     = 4 // the two dirty marks, see joinCOW
	recMarkB     = 8
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
	base() *recBase
	value(dst []byte) []byte
}

func (r *recBase) ns() [9]byte {
	var ns [9]byte
	ns[0] = r.side
	binary.BigEndian.PutUint64(ns[1:], r.id)
	return ns
}

// joinCOW is the copy-on-write snapshot bookkeeping of one join operator.
type joinCOW struct {
	track     bool
	cur, capt uint8
	dirty     []stateRec
	// the capture in progress: out is nil when there is none
	out      StateWriter
	captured []stateRec
	next     int
	vbuf     []byte
}

func (c *joinCOW) start() {
	if !c.track {
		c.track = true
		c.cur, c.capt = recMarkA, recMarkB
	}
}

// changing is called before r is created, changes or is dropped.
func (c *joinCOW) changing(r stateRec) {
	if !c.track {
		return
	}
	b := r.base()
	if b.st&c.cur != 0 {
		return
	}
	if b.st&c.capt != 0 {
		c.write(r) // copy on write
	}
	b.st |= c.cur
	c.dirty = append(c.dirty, r)
}

// drop marks r dropped from the state (after changing).
func (c *joinCOW) drop(r stateRec) {
	c.changing(r)
	r.base().st |= recDead
}

// write writes a captured record: its value, or its deletion when dead.
func (c *joinCOW) write(r stateRec) {
	b := r.base()
	b.st &^= c.capt
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

// capture starts a capture into out; each calls fn for every live record
// (used by a full capture, and by the first capture of an operator that
// was not tracking: marking every record walks the state in the
// synchronous phase, pointer work only).
func (c *joinCOW) capture(out StateWriter, full bool, each func(fn func(stateRec))) {
	if c.out != nil {
		c.cont(0)
	}
	if !c.track || full {
		c.start()
		each(c.changing) // everything held so far is new
	}
	c.out = out
	c.captured, c.dirty = c.dirty, c.captured[:0]
	c.next = 0
	c.cur, c.capt = c.capt, c.cur
}

// cont writes up to budget captured records (all when budget <= 0).
func (c *joinCOW) cont(budget int) bool {
	if c.out == nil {
		return true
	}
	if budget <= 0 {
		budget = len(c.captured)
	}
	for ; c.next < len(c.captured) && budget > 0; c.next++ {
		if r := c.captured[c.next]; r.base().st&c.capt != 0 {
			c.write(r)
			budget--
		}
	}
	if c.next < len(c.captured) {
		return false
	}
	clear(c.captured)
	c.captured = c.captured[:0]
	c.out = nil
	return true
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
func (j *Join) forget(rec *joinRec)    { j.ck.drop(rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *Join) TrackChanges() { j.ck.start() }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *Join) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (j *Join) CaptureState(_ uint64, full bool, w StateWriter) error {
	j.ck.capture(w, full, func(fn func(stateRec)) {
		for _, e := range j.entries {
			for _, list := range e.recs {
				for _, r := range list {
					fn(r)
				}
			}
		}
	})
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *Join) ContinueSnapshot(budget int) (bool, error) { return j.ck.cont(budget), nil }

// RestoreState implements Restorer.
func (j *Join) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.ck.start()
	err := scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("join", ns, value)
		if err != nil {
			return err
		}
		e := j.entries[string(key)]
		if e == nil {
			e = &joinEntry{joinKeyRef: joinKeyRef{key: string(key), kg: kg}}
			j.entries[e.key] = e
		}
		rec := &joinRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			count: r.count, assoc: r.assoc, written: r.written, ent: e}
		e.recs[r.side] = append(e.recs[r.side], rec)
		j.nextID = max(j.nextID, r.id+1)
		if j.ttl > 0 {
			j.queue = append(j.queue, joinTTLItem{rec: rec, at: r.written})
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
func (j *IntervalJoin) forget(rec *ijRec)    { j.ck.drop(rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *IntervalJoin) TrackChanges() { j.ck.start() }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *IntervalJoin) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (j *IntervalJoin) CaptureState(_ uint64, full bool, w StateWriter) error {
	j.ck.capture(w, full, func(fn func(stateRec)) {
		for _, r := range j.expiry {
			fn(r)
		}
	})
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *IntervalJoin) ContinueSnapshot(budget int) (bool, error) { return j.ck.cont(budget), nil }

// RestoreState implements Restorer: rows whose time has passed are
// dropped at the first watermark.
func (j *IntervalJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.ck.start()
	return scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("interval join", ns, value)
		if err != nil {
			return err
		}
		s := int(r.side)
		if len(r.row) <= j.timeCol[s] || r.row[j.timeCol[s]].Kind != types.Timestamp {
			return fmt.Errorf("interval join state: a row of input %d has no time", s)
		}
		e := j.entries[string(key)]
		if e == nil {
			e = &ijEntry{joinKeyRef: joinKeyRef{key: string(key), kg: kg}}
			j.entries[e.key] = e
		}
		rec := &ijRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			expire: j.expireAt(s, r.row[j.timeCol[s]].I), matched: r.assoc != 0, ent: e}
		e.recs[s] = append(e.recs[s], rec)
		j.pushExpiry(rec)
		j.nextID = max(j.nextID, r.id+1)
		return nil
	})
}

// ---- WindowJoin ----

var (
	_ CopyOnWriteSnapshotter = (*WindowJoin)(nil)
	_ Restorer               = (*WindowJoin)(nil)
)

func (r *wjRec) base() *recBase          { return &r.recBase }
func (r *wjRec) value(dst []byte) []byte { return appendJoinRecord(dst, 1, 0, 0, r.row) }

func (j *WindowJoin) markDirty(rec *wjRec) { j.ck.changing(rec) }
func (j *WindowJoin) forget(rec *wjRec)    { j.ck.drop(rec) }

// TrackChanges implements CopyOnWriteSnapshotter.
func (j *WindowJoin) TrackChanges() { j.ck.start() }

// SnapshotState implements Snapshotter: a capture written out at once.
func (j *WindowJoin) SnapshotState(id uint64, w StateWriter) error {
	if err := j.CaptureState(id, false, w); err != nil {
		return err
	}
	_, err := j.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (j *WindowJoin) CaptureState(_ uint64, full bool, w StateWriter) error {
	j.ck.capture(w, full, func(fn func(stateRec)) {
		for _, win := range j.pending {
			for _, e := range win.order {
				for _, list := range e.recs {
					for _, r := range list {
						fn(r)
					}
				}
			}
		}
	})
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (j *WindowJoin) ContinueSnapshot(budget int) (bool, error) { return j.ck.cont(budget), nil }

// RestoreState implements Restorer.
func (j *WindowJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	track := j.ck.track
	j.ck.track = false // restored rows are persisted, not changed
	defer func() { j.ck.track = track; j.ck.start() }()
	return scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("window join", ns, value)
		if err != nil {
			return err
		}
		s := int(r.side)
		if len(r.row) <= j.endCol[s] || r.row[j.endCol[s]].Kind != types.Timestamp {
			return fmt.Errorf("window join state: a row of input %d has no window end", s)
		}
		rec := j.store(s, r.row, r.row[j.endCol[s]].I, r.id, kg, string(key))
		rec.st = recPersisted
		j.nextID = max(j.nextID, r.id+1)
		return nil
	})
}
