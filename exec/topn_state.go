package exec

// Checkpointed state of TopN (Snapshotter, Restorer).
//
// One entry per partition: (key group, partition key, empty namespace) →
// uvarint format 1, a flags byte (1: the keep-first row was emitted),
// uvarint number of rows, then per row: uvarint sequence number, uvarint
// number of values, the values. Rows are in rank order. A partition that
// emptied (every row retracted, or its window fired) is deleted.
//
// Snapshots are copy-on-write with two marks per partition (markCOW,
// markcow.go). A dead partition stays in the map until a capture has
// written its deletion; a new row for its key revives the same object.
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

var (
	_ CopyOnWriteSnapshotter = (*TopN)(nil)
	_ Restorer               = (*TopN)(nil)
)

// TrackChanges implements CopyOnWriteSnapshotter.
func (t *TopN) TrackChanges() { t.ck.start(t.writePart) }

// writePart writes a captured partition (writeKeyedPart).
func (t *TopN) writePart(p *topnPart) {
	writeKeyedPart(&t.ck, p, t.parts, t.encodePart)
	if t.sp != nil && p.dead && t.parts[p.key] != p {
		t.spillDrop(p) // its deletion is written: it left the map
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
// still happens later, copy-on-write). With spilling, a full capture also
// walks the spilled partitions (topn_spill.go).
func (t *TopN) CaptureState(_ uint64, full bool, out StateWriter) error {
	if t.sp != nil {
		if _, err := t.ContinueSnapshot(0); err != nil {
			return err
		}
		full = full || !t.ck.track
	}
	t.ck.capture(out, full, t.TrackChanges, func(fn func(*topnPart)) {
		for _, p := range t.parts {
			fn(p)
		}
	})
	if t.sp != nil {
		return t.captureSpilled(full, out)
	}
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (t *TopN) ContinueSnapshot(budget int) (bool, error) {
	if !t.ck.cont(budget) {
		return false, nil
	}
	if t.sp == nil {
		return true, nil
	}
	return t.continueSpilled(budget)
}

// RestoreState implements Restorer. With spilling, partitions beyond the
// memory budget are spilled as they are read (every 1024 partitions).
func (t *TopN) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	t.TrackChanges()
	n := 0
	err := scan(func(kg uint16, key, _, value []byte) error {
		p, err := t.decodePart(kg, key, value)
		if err != nil {
			return fmt.Errorf("top-n state: %w", err)
		}
		p.persisted = true
		t.parts[p.key] = p
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
		if t.sp != nil {
			t.spillAdd(p, true)
			t.spillRows(p, 1)
			if n++; n%1024 == 0 {
				return t.maybeEvict()
			}
		}
		return nil
	})
	if err == nil && t.sp != nil {
		err = t.maybeEvict()
	}
	return err
}

func (t *TopN) decodePart(kg uint16, key, value []byte) (*topnPart, error) {
	d := accDecoder{b: value}
	if f := d.uvarint(); f != topnStateFormat {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("format %d, want %d", f, topnStateFormat)
	}
	p := &topnPart{keyedPart: keyedPart{key: string(key), kg: kg}}
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
