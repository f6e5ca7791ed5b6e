package exec

// Checkpointed state of TopN (Snapshotter, Restorer).
//
// One entry per partition: (key group, partition key, empty namespace) →
// uvarint format 1, a flags byte (1: the keep-first row was emitted),
// uvarint number of rows, then per row: uvarint sequence number, uvarint
// number of values, the values. Rows are in rank order. A partition that
// emptied (every row retracted, or its window fired) is deleted.
//
// Snapshots are copy-on-write exactly as GroupAgg's (groupagg_state.go):
// two marks per partition swap roles at each capture, a capture swaps the
// list of changed partitions, and a captured partition is written between
// batches or right before it changes. A dead partition stays in the map
// until a capture has written its deletion; a new row for its key revives
// the same object.
//
// On restore the operator's sequence counter continues after the largest
// restored sequence number (a partition lives in one key group, so its
// rows' sequence numbers all come from one old subtask and keep their
// order), open windows and held first rows get their timers back, and the
// watermark starts again from the replayed input, as in WindowAgg.

import (
	"container/heap"
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

const topnStateFormat = 1

const topnFlagEmitted = 1

// The two marks of a partition (topnPart.marks), see markDirty.
const (
	topnMarkA = 1 << iota
	topnMarkB
)

type topnState struct {
	track     bool
	cur, capt uint8 // topnMarkA/topnMarkB, swapped at each capture
	dirty     []*topnPart
	// the capture in progress: out is nil when there is none
	out      StateWriter
	captured []*topnPart
	next     int
	vbuf     []byte
}

var (
	_ CopyOnWriteSnapshotter = (*TopN)(nil)
	_ Restorer               = (*TopN)(nil)
)

// TrackChanges implements CopyOnWriteSnapshotter.
func (t *TopN) TrackChanges() {
	if !t.ck.track {
		t.ck.track = true
		t.ck.cur, t.ck.capt = topnMarkA, topnMarkB
	}
}

// markDirty is called before p changes.
func (t *TopN) markDirty(p *topnPart) {
	ck := &t.ck
	if p.marks&ck.cur != 0 {
		return
	}
	p.marks |= ck.cur
	ck.dirty = append(ck.dirty, p)
	if p.marks&ck.capt != 0 {
		t.writePart(p) // copy on write
	}
}

// writePart writes a captured partition: its value, or its deletion when
// it is dead, after which a dead partition that did not change since
// leaves the map.
func (t *TopN) writePart(p *topnPart) {
	ck := &t.ck
	p.marks &^= ck.capt
	if !p.dead {
		ck.vbuf = t.encodePart(ck.vbuf[:0], p)
		ck.out.Put(p.kg, stringBytes(p.key), nil, ck.vbuf)
		p.persisted = true
		return
	}
	if p.persisted {
		ck.out.Delete(p.kg, stringBytes(p.key), nil)
		p.persisted = false
	}
	if p.marks&ck.cur == 0 {
		delete(t.parts, p.key)
	}
}

func (t *TopN) encodePart(dst []byte, p *topnPart) []byte {
	dst = binary.AppendUvarint(dst, topnStateFormat)
	var flags byte
	if p.emitted {
		flags |= topnFlagEmitted
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(p.rows)))
	for _, e := range p.rows {
		dst = binary.AppendUvarint(dst, e.seq)
		dst = binary.AppendUvarint(dst, uint64(len(e.row)))
		for _, v := range e.row {
			dst = appendAccValue(dst, v)
		}
	}
	return dst
}

// SnapshotState implements Snapshotter: a capture written out at once.
func (t *TopN) SnapshotState(id uint64, out StateWriter) error {
	if err := t.CaptureState(id, false, out); err != nil {
		return err
	}
	_, err := t.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter. A full capture marks
// every partition changed first: unlike GroupAgg's epochs, that walks the
// partitions in the synchronous phase (pointer work only; the writing
// still happens later, copy-on-write).
func (t *TopN) CaptureState(_ uint64, full bool, out StateWriter) error {
	ck := &t.ck
	if ck.out != nil {
		if _, err := t.ContinueSnapshot(0); err != nil {
			return err
		}
	}
	if !ck.track || full {
		t.TrackChanges()
		for _, p := range t.parts {
			t.markDirty(p) // everything held so far belongs to the capture
		}
	}
	ck.out = out
	ck.captured, ck.dirty = ck.dirty, ck.captured[:0]
	ck.next = 0
	ck.cur, ck.capt = ck.capt, ck.cur
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (t *TopN) ContinueSnapshot(budget int) (bool, error) {
	ck := &t.ck
	if ck.out == nil {
		return true, nil
	}
	if budget <= 0 {
		budget = len(ck.captured)
	}
	for ; ck.next < len(ck.captured) && budget > 0; ck.next++ {
		if p := ck.captured[ck.next]; p.marks&ck.capt != 0 {
			t.writePart(p)
			budget--
		}
	}
	if ck.next < len(ck.captured) {
		return false, nil
	}
	clear(ck.captured)
	ck.captured = ck.captured[:0]
	ck.out = nil
	return true, nil
}

// RestoreState implements Restorer.
func (t *TopN) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	t.TrackChanges()
	var restored []*topnPart
	err := scan(func(kg uint16, key, _, value []byte) error {
		p, err := t.decodePart(kg, key, value)
		if err != nil {
			return fmt.Errorf("top-n state: %w", err)
		}
		p.persisted = true
		t.parts[p.key] = p
		restored = append(restored, p)
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range restored {
		for _, e := range p.rows {
			t.seq = max(t.seq, e.seq+1)
		}
		switch {
		case t.mode == TopNWindow:
			if len(p.rows) == 0 {
				return fmt.Errorf("top-n state: window partition without rows")
			}
			end := p.rows[0].row[t.endCol]
			if end.Kind == types.Null {
				return fmt.Errorf("top-n state: NULL window_end")
			}
			t.openWindow(p, end.I)
		case t.mode == TopNKeepFirst && !p.emitted && len(p.rows) > 0 && t.timeCol >= 0:
			e := p.rows[0]
			heap.Push(&t.timers, topnTimer{ts: e.row[t.timeCol].I, seq: e.seq, p: p})
		}
	}
	return nil
}

func (t *TopN) decodePart(kg uint16, key, value []byte) (*topnPart, error) {
	d := accDecoder{b: value}
	if f := d.uvarint(); f != topnStateFormat {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("format %d, want %d", f, topnStateFormat)
	}
	p := &topnPart{key: string(key), kg: kg}
	p.emitted = d.byte()&topnFlagEmitted != 0
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		e := topnEntry{seq: d.uvarint()}
		w := d.count()
		if d.err == nil && w != t.width {
			return nil, fmt.Errorf("a row of %d columns, want %d", w, t.width)
		}
		e.row = make(types.Row, w)
		for j := range e.row {
			e.row[j] = d.value()
		}
		p.rows = append(p.rows, e)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errAccCorrupt
	}
	return p, nil
}
