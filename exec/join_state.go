package exec

// Checkpointed state of the join operators (Snapshotter, Restorer).
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
// Snapshots are incremental: a record changed since the previous snapshot
// is on a dirty list (once), a removed record that had been written leaves
// a deletion. SnapshotState writes both in the synchronous phase, so its
// cost grows with the rows changed since the last checkpoint, not with the
// state. The window and interval joins use the same entries; their
// records live as long as the watermark allows.

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/weirsql/weir/sql/types"
)

const joinStateFormat = 1

type joinDelete struct {
	kg  uint16
	key string
	ns  [9]byte
}

// joinStateLog tracks what changed since the last snapshot.
type joinStateLog struct {
	track   bool
	deletes []joinDelete
	vbuf    []byte
}

func joinNS(side uint8, id uint64) [9]byte {
	var ns [9]byte
	ns[0] = side
	binary.BigEndian.PutUint64(ns[1:], id)
	return ns
}

func (l *joinStateLog) forget(kg uint16, key string, side uint8, id uint64) {
	l.deletes = append(l.deletes, joinDelete{kg: kg, key: key, ns: joinNS(side, id)})
}

func (l *joinStateLog) writeDeletes(w StateWriter) {
	for i := range l.deletes {
		d := &l.deletes[i]
		w.Delete(d.kg, stringBytes(d.key), d.ns[:])
	}
	clear(l.deletes)
	l.deletes = l.deletes[:0]
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

type joinState struct {
	joinStateLog
	dirty []*joinRec
}

var (
	_ Snapshotter = (*Join)(nil)
	_ Restorer    = (*Join)(nil)
)

// markDirty is called when rec is created or is about to change.
func (j *Join) markDirty(rec *joinRec) {
	if !j.ck.track || rec.st&recDirty != 0 {
		return
	}
	rec.st |= recDirty
	j.ck.dirty = append(j.ck.dirty, rec)
}

// forget is called when rec leaves the state.
func (j *Join) forget(rec *joinRec) {
	rec.st |= recDead
	if rec.st&recPersisted != 0 {
		j.ck.forget(rec.ent.kg, rec.ent.key, rec.side, rec.id)
		rec.st &^= recPersisted
	}
}

// SnapshotState implements Snapshotter.
func (j *Join) SnapshotState(_ uint64, w StateWriter) error {
	ck := &j.ck
	if !ck.track {
		ck.track = true
		for _, e := range j.entries {
			for _, list := range e.recs {
				for _, r := range list {
					j.markDirty(r)
				}
			}
		}
	}
	ck.writeDeletes(w)
	for i, r := range ck.dirty {
		ck.dirty[i] = nil
		r.st &^= recDirty
		if r.st&recDead != 0 {
			continue
		}
		ns := joinNS(r.side, r.id)
		ck.vbuf = appendJoinRecord(ck.vbuf[:0], r.count, r.assoc, r.written, r.row)
		w.Put(r.ent.kg, stringBytes(r.ent.key), ns[:], ck.vbuf)
		r.st |= recPersisted
	}
	ck.dirty = ck.dirty[:0]
	return nil
}

// RestoreState implements Restorer.
func (j *Join) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.ck.track = true
	err := scan(func(kg uint16, key, ns, value []byte) error {
		r, err := decodeJoinRecord("join", ns, value)
		if err != nil {
			return err
		}
		e := j.entries[string(key)]
		if e == nil {
			e = &joinEntry{key: string(key), kg: kg}
			j.entries[e.key] = e
		}
		rec := &joinRec{row: r.row, count: r.count, assoc: r.assoc, written: r.written, id: r.id, side: r.side, st: recPersisted, ent: e}
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

type ijState struct {
	joinStateLog
	dirty []*ijRec
}

var (
	_ Snapshotter = (*IntervalJoin)(nil)
	_ Restorer    = (*IntervalJoin)(nil)
)

func (j *IntervalJoin) markDirty(rec *ijRec) {
	if !j.ck.track || rec.st&recDirty != 0 {
		return
	}
	rec.st |= recDirty
	j.ck.dirty = append(j.ck.dirty, rec)
}

func (j *IntervalJoin) forget(rec *ijRec) {
	rec.st |= recDead
	if rec.st&recPersisted != 0 {
		j.ck.forget(rec.ent.kg, rec.ent.key, rec.side, rec.id)
		rec.st &^= recPersisted
	}
}

// SnapshotState implements Snapshotter.
func (j *IntervalJoin) SnapshotState(_ uint64, w StateWriter) error {
	ck := &j.ck
	if !ck.track {
		ck.track = true
		for _, r := range j.expiry {
			j.markDirty(r)
		}
	}
	ck.writeDeletes(w)
	for i, r := range ck.dirty {
		ck.dirty[i] = nil
		r.st &^= recDirty
		if r.st&recDead != 0 {
			continue
		}
		var matched int64
		if r.matched {
			matched = 1
		}
		ns := joinNS(r.side, r.id)
		ck.vbuf = appendJoinRecord(ck.vbuf[:0], 1, matched, 0, r.row)
		w.Put(r.ent.kg, stringBytes(r.ent.key), ns[:], ck.vbuf)
		r.st |= recPersisted
	}
	ck.dirty = ck.dirty[:0]
	return nil
}

// RestoreState implements Restorer. The watermark is not part of the
// state: rows whose time has passed are dropped at the first watermark.
func (j *IntervalJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	j.ck.track = true
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
			e = &ijEntry{key: string(key), kg: kg}
			j.entries[e.key] = e
		}
		ts := r.row[j.timeCol[s]].I
		expire := ts + j.upper
		if s == 1 {
			expire = ts - j.lower
		}
		rec := &ijRec{row: r.row, expire: expire, id: r.id, side: r.side, matched: r.assoc != 0, st: recPersisted, ent: e}
		e.recs[s] = append(e.recs[s], rec)
		j.pushExpiry(rec)
		j.nextID = max(j.nextID, r.id+1)
		return nil
	})
}

// ---- WindowJoin ----

type wjState struct {
	joinStateLog
	dirty []*wjRec
}

var (
	_ Snapshotter = (*WindowJoin)(nil)
	_ Restorer    = (*WindowJoin)(nil)
)

func (j *WindowJoin) markDirty(rec *wjRec) {
	if !j.ck.track || rec.st&recDirty != 0 {
		return
	}
	rec.st |= recDirty
	j.ck.dirty = append(j.ck.dirty, rec)
}

func (j *WindowJoin) forget(rec *wjRec) {
	rec.st |= recDead
	if rec.st&recPersisted != 0 {
		j.ck.forget(rec.ent.kg, rec.ent.key, rec.side, rec.id)
		rec.st &^= recPersisted
	}
}

// SnapshotState implements Snapshotter.
func (j *WindowJoin) SnapshotState(_ uint64, w StateWriter) error {
	ck := &j.ck
	if !ck.track {
		ck.track = true
		for _, win := range j.pending {
			for _, e := range win.order {
				for _, list := range e.recs {
					for _, r := range list {
						j.markDirty(r)
					}
				}
			}
		}
	}
	ck.writeDeletes(w)
	for i, r := range ck.dirty {
		ck.dirty[i] = nil
		r.st &^= recDirty
		if r.st&recDead != 0 {
			continue
		}
		ns := joinNS(r.side, r.id)
		ck.vbuf = appendJoinRecord(ck.vbuf[:0], 1, 0, 0, r.row)
		w.Put(r.ent.kg, stringBytes(r.ent.key), ns[:], ck.vbuf)
		r.st |= recPersisted
	}
	ck.dirty = ck.dirty[:0]
	return nil
}

// RestoreState implements Restorer.
func (j *WindowJoin) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	defer func() { j.ck.track = true }() // restored rows are persisted, not dirty
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
