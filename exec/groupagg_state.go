package exec

// Checkpointed state of GroupAgg (Snapshotter, Restorer).
//
// One entry per group: (key group, group key, empty namespace) → uvarint
// format 1, varint rows, emitted byte, the key values, the last emitted
// aggregate values, EncodeAccumulators. A group whose row count dropped to
// zero is deleted.
//
// Snapshots are copy-on-write, as in WindowAgg: two marks per group swap
// roles at each capture, a capture swaps the list of changed groups, and a
// captured group is written between batches or right before it changes.
// While tracking, a group whose rows dropped to zero stays in the map as
// dead until a capture has written its deletion; a new row for the key
// revives the same group, so one key never has two group objects in the
// lists.

import (
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

const groupStateFormat = 1

type groupAggState struct {
	track     bool
	cur, capt uint8 // groupMarkA/groupMarkB, swapped at each capture
	dirty     []*aggGroup
	// the capture in progress: out is nil when there is none
	out      StateWriter
	captured []*aggGroup
	next     int
	vbuf     []byte
}

var (
	_ CopyOnWriteSnapshotter = (*GroupAgg)(nil)
	_ Restorer               = (*GroupAgg)(nil)
)

// TrackChanges implements CopyOnWriteSnapshotter.
func (g *GroupAgg) TrackChanges() {
	if !g.ck.track {
		g.ck.track = true
		g.ck.cur, g.ck.capt = groupMarkA, groupMarkB
	}
}

// markDirty is called before grp changes.
func (g *GroupAgg) markDirty(grp *aggGroup) {
	ck := &g.ck
	if grp.marks&ck.cur != 0 {
		return
	}
	grp.marks |= ck.cur
	ck.dirty = append(ck.dirty, grp)
	if grp.marks&ck.capt != 0 {
		g.writeGroup(grp) // copy on write
	}
}

// writeGroup writes a captured group: its value, or its deletion when it
// is dead, after which a dead group that did not change since leaves the
// map.
func (g *GroupAgg) writeGroup(grp *aggGroup) {
	ck := &g.ck
	grp.marks &^= ck.capt
	if !grp.dead {
		ck.vbuf = g.encodeGroup(ck.vbuf[:0], grp)
		ck.out.Put(grp.kg, stringBytes(grp.key), nil, ck.vbuf)
		grp.persisted = true
		return
	}
	if grp.persisted {
		ck.out.Delete(grp.kg, stringBytes(grp.key), nil)
		grp.persisted = false
	}
	if grp.marks&ck.cur == 0 {
		delete(g.groups, grp.key)
	}
}

// revive reuses a dead group for a new row of its key.
func (g *GroupAgg) revive(grp *aggGroup) {
	if g.ck.track {
		g.markDirty(grp) // a captured deletion is written first
	}
	grp.dead, grp.emitted, grp.rows = false, false, 0
	clear(grp.accs)
	clear(grp.prev)
}

func (g *GroupAgg) encodeGroup(dst []byte, grp *aggGroup) []byte {
	dst = binary.AppendUvarint(dst, groupStateFormat)
	dst = binary.AppendVarint(dst, grp.rows)
	if grp.emitted {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	for _, v := range grp.vals {
		dst = appendAccValue(dst, v)
	}
	for _, v := range grp.prev {
		dst = appendAccValue(dst, v)
	}
	return EncodeAccumulators(dst, grp.accs)
}

// SnapshotState implements Snapshotter: a capture written out at once.
func (g *GroupAgg) SnapshotState(id uint64, out StateWriter) error {
	if err := g.CaptureState(id, out); err != nil {
		return err
	}
	_, err := g.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (g *GroupAgg) CaptureState(_ uint64, out StateWriter) error {
	ck := &g.ck
	if ck.out != nil {
		if _, err := g.ContinueSnapshot(0); err != nil {
			return err
		}
	}
	if !ck.track {
		g.TrackChanges()
		for _, grp := range g.groups {
			g.markDirty(grp) // everything held so far is new
		}
	}
	ck.out = out
	ck.captured, ck.dirty = ck.dirty, ck.captured[:0]
	ck.next = 0
	ck.cur, ck.capt = ck.capt, ck.cur
	return nil
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (g *GroupAgg) ContinueSnapshot(budget int) (bool, error) {
	ck := &g.ck
	if ck.out == nil {
		return true, nil
	}
	if budget <= 0 {
		budget = len(ck.captured)
	}
	for ; ck.next < len(ck.captured) && budget > 0; ck.next++ {
		if grp := ck.captured[ck.next]; grp.marks&ck.capt != 0 {
			g.writeGroup(grp)
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
func (g *GroupAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	g.TrackChanges()
	nk := len(g.keys)
	return scan(func(kg uint16, key, _, value []byte) error {
		d := accDecoder{b: value}
		if f := d.uvarint(); f != groupStateFormat {
			return fmt.Errorf("group aggregate state: format %d, want %d", f, groupStateFormat)
		}
		grp := &aggGroup{
			key:  string(key),
			kg:   kg,
			vals: make(types.Row, nk),
			accs: make([]Accumulator, g.nAggs),
			prev: make([]types.Value, g.nAggs),
		}
		grp.rows = d.varint()
		grp.emitted = d.byte() == 1
		for i := range grp.vals {
			grp.vals[i] = d.value()
		}
		for i := range grp.prev {
			grp.prev[i] = d.value()
		}
		if d.err != nil {
			return fmt.Errorf("group aggregate state: %w", d.err)
		}
		if _, err := DecodeAccumulators(d.b, grp.accs); err != nil {
			return fmt.Errorf("group aggregate state: %w", err)
		}
		grp.persisted = true
		g.groups[grp.key] = grp
		return nil
	})
}
