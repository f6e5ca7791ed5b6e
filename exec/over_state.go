package exec

// Checkpointed state of OverAgg (Snapshotter, Restorer).
//
// One entry per partition: (key group, partition key, empty namespace) →
// uvarint format 1, then three row lists — the history (the last rows
// computed, oldest first), the rows waiting for the watermark, and
// OverUpdating's rows in order — each a uvarint count and per row a
// uvarint number of values and the values, then a flags byte (1: running
// accumulators follow, EncodeAccumulators). OverUpdating's emitted
// aggregates are not stored: every batch leaves them equal to what the
// rows give, so a restore computes them again. A partition whose rows were
// all retracted is deleted.
//
// Snapshots are copy-on-write with two marks per partition (markCOW,
// markcow.go). A dead partition stays in the map until a capture has
// written its deletion; a new row for its key revives the same object.
//
// On restore the waiting rows get their timers back and the watermark
// starts again from the replayed input, as in WindowAgg and TopN.

import (
	"container/heap"
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

const overStateFormat = 1

const overFlagAccs = 1

var (
	_ CopyOnWriteSnapshotter = (*OverAgg)(nil)
	_ Restorer               = (*OverAgg)(nil)
)

// TrackChanges implements CopyOnWriteSnapshotter.
func (o *OverAgg) TrackChanges() { o.ck.start(o.writePart) }

// writePart writes a captured partition (writeKeyedPart).
func (o *OverAgg) writePart(p *overPart) { writeKeyedPart(&o.ck, p, o.parts, o.encodePart) }

func appendOverRows(dst []byte, rows []types.Row) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, r := range rows {
		dst = binary.AppendUvarint(dst, uint64(len(r)))
		for _, v := range r {
			dst = appendAccValue(dst, v)
		}
	}
	return dst
}

func (o *OverAgg) encodePart(dst []byte, p *overPart) []byte {
	dst = binary.AppendUvarint(dst, overStateFormat)
	dst = appendOverRows(dst, p.hist)
	dst = appendOverRows(dst, p.pending)
	dst = binary.AppendUvarint(dst, uint64(len(p.rows)))
	for _, e := range p.rows {
		dst = binary.AppendUvarint(dst, uint64(len(e.row)))
		for _, v := range e.row {
			dst = appendAccValue(dst, v)
		}
	}
	if p.accs == nil {
		return append(dst, 0)
	}
	dst = append(dst, overFlagAccs)
	return EncodeAccumulators(dst, p.accs)
}

// SnapshotState implements Snapshotter: a capture written out at once.
func (o *OverAgg) SnapshotState(id uint64, out StateWriter) error {
	if err := o.CaptureState(id, false, out); err != nil {
		return err
	}
	_, err := o.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter. A full capture marks
// every partition changed first (pointer work only; the writing happens
// later, copy-on-write), as TopN does, and walks the spilled partitions
// (over_spill.go).
func (o *OverAgg) CaptureState(_ uint64, full bool, out StateWriter) error {
	if o.sp != nil {
		if _, err := o.ContinueSnapshot(0); err != nil {
			return err
		}
		full = full || !o.ck.track
	}
	o.ck.capture(out, full, o.TrackChanges, func(fn func(*overPart)) {
		for _, p := range o.parts {
			fn(p)
		}
	})
	return o.captureSpilled(full, out)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (o *OverAgg) ContinueSnapshot(budget int) (bool, error) {
	if !o.ck.cont(budget) {
		return false, nil
	}
	return o.continueSpilled(budget)
}

// RestoreState implements Restorer. With spilling, partitions beyond the
// memory budget are spilled as they are read.
func (o *OverAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	o.TrackChanges()
	n := 0
	return scan(func(kg uint16, key, _, value []byte) error {
		p, err := o.decodePart(kg, key, value)
		if err != nil {
			return fmt.Errorf("over state: %w", err)
		}
		p.persisted = true
		o.parts[p.key] = p
		for _, r := range p.pending {
			v := r[o.timeCol]
			if o.mode != OverEventTime || v.Kind == types.Null {
				return fmt.Errorf("over state: a waiting row without event time")
			}
			heap.Push(&o.timers, overTimer{ts: v.I, p: p})
		}
		if len(p.rows) > 0 {
			o.recomputeAll(p)
		}
		if o.sp != nil {
			o.addPart(p)
			if n++; n%1024 == 0 {
				return o.maybeEvict()
			}
		}
		return nil
	})
}

func (o *OverAgg) decodeRows(d *accDecoder) []types.Row {
	n := d.count()
	if n == 0 {
		return nil
	}
	rows := make([]types.Row, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		w := d.count()
		if d.err == nil && w != o.width {
			d.err = fmt.Errorf("a row of %d columns, want %d", w, o.width)
			return nil
		}
		r := make(types.Row, w)
		for j := range r {
			r[j] = d.value()
		}
		rows = append(rows, r)
	}
	return rows
}

func (o *OverAgg) decodePart(kg uint16, key, value []byte) (*overPart, error) {
	d := accDecoder{b: value}
	if f := d.uvarint(); f != overStateFormat {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("format %d, want %d", f, overStateFormat)
	}
	p := &overPart{keyedPart: keyedPart{key: string(key), kg: kg}}
	p.hist = o.decodeRows(&d)
	p.pending = o.decodeRows(&d)
	for _, r := range o.decodeRows(&d) {
		p.rows = append(p.rows, overEntry{row: r})
	}
	flags := d.byte()
	if d.err != nil {
		return nil, d.err
	}
	if flags&^overFlagAccs != 0 {
		return nil, errAccCorrupt
	}
	if flags&overFlagAccs != 0 {
		p.accs = make([]Accumulator, o.nAgg)
		rest, err := DecodeAccumulators(d.b, p.accs)
		if err != nil {
			return nil, err
		}
		d.b = rest
	}
	if len(d.b) != 0 {
		return nil, errAccCorrupt
	}
	return p, nil
}
