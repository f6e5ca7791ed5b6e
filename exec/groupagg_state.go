package exec

// Checkpointed state of GroupAgg (Snapshotter, Restorer).
//
// One entry per group: (key group, group key, empty namespace) → uvarint
// format 1, varint rows, emitted byte, the key values, the last emitted
// aggregate values, EncodeAccumulators. A group whose row count dropped to
// zero is deleted.
//
// Snapshots are copy-on-write with epochs, as in WindowAgg: a group
// records the epoch it last changed in and the last capture that wrote it;
// an incremental capture swaps the list of groups changed in the epoch, a
// full one takes every group in the slice all (kept in creation order with
// holes, so that a capture can walk it a slice at a time), and a captured
// group is written between batches or right before it changes. While
// tracking, a group whose rows dropped to zero stays, dead, until a capture
// has written its deletion; a new row for the key revives the same group,
// so one key never has two group objects in the lists.

import (
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

const groupStateFormat = 1

type groupAggState struct {
	track bool
	epoch uint32 // changes now belong to this epoch
	capN  uint32 // the last capture's number (epoch-1)
	full  bool   // the capture in progress is full
	dirty []*aggGroup
	// every group, dead ones included, in creation order; removed groups
	// leave nil holes, compacted when no capture is open
	all   []*aggGroup
	holes int
	// the capture in progress: out is nil when there is none
	out      StateWriter
	captured []*aggGroup
	next     int // captured[:next] are written
	fullNext int // full capture: all[:fullNext] are written
	fullEnd  int // full capture: len(all) at the capture
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
		g.ck.epoch = 1
	}
}

// addGroup registers a new group.
func (g *GroupAgg) addGroup(grp *aggGroup) {
	grp.ck.done = g.ck.capN
	grp.idx = int32(len(g.ck.all))
	g.ck.all = append(g.ck.all, grp)
	g.groups[grp.key] = grp
}

// removeGroup forgets a dead group.
func (g *GroupAgg) removeGroup(grp *aggGroup) {
	ck := &g.ck
	delete(g.groups, grp.key)
	g.forget(grp)
	ck.all[grp.idx] = nil
	ck.holes++
	if ck.out == nil && ck.holes > 1024 && ck.holes > len(ck.all)/2 {
		g.compact()
	}
}

func (g *GroupAgg) compact() {
	ck := &g.ck
	live := ck.all[:0]
	for _, grp := range ck.all {
		if grp != nil {
			grp.idx = int32(len(live))
			live = append(live, grp)
		}
	}
	clear(ck.all[len(live):])
	ck.all, ck.holes = live, 0
}

// pending says whether grp is part of the open capture, not written yet.
func (ck *groupAggState) pending(grp *aggGroup) bool {
	return ck.out != nil && grp.ck.done < ck.capN && (ck.full || grp.ck.chg == ck.capN)
}

// markDirty is called before grp changes.
func (g *GroupAgg) markDirty(grp *aggGroup) {
	ck := &g.ck
	if grp.ck.chg == ck.epoch {
		return
	}
	cow := ck.pending(grp)
	grp.ck.chg = ck.epoch
	grp.dpos = int32(len(ck.dirty))
	ck.dirty = append(ck.dirty, grp)
	if cow {
		g.writeGroup(grp) // copy on write
	}
}

// writeGroup writes a captured group: its value, or its deletion when it
// is dead, after which a dead group that did not change since is removed.
func (g *GroupAgg) writeGroup(grp *aggGroup) {
	ck := &g.ck
	grp.ck.done = ck.capN
	if !grp.dead {
		ck.vbuf = g.encodeGroup(ck.vbuf[:0], grp)
		ck.out.Put(grp.kg, stringBytes(grp.key), nil, ck.vbuf)
		grp.ck.persisted = true
		g.resize(grp, len(ck.vbuf))
		return
	}
	if grp.ck.persisted {
		ck.out.Delete(grp.kg, stringBytes(grp.key), nil)
		grp.ck.persisted = false
	}
	if grp.ck.chg != ck.epoch {
		g.removeGroup(grp)
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

// SnapshotState implements Snapshotter: an incremental capture written
// out at once.
func (g *GroupAgg) SnapshotState(id uint64, out StateWriter) error {
	if err := g.CaptureState(id, false, out); err != nil {
		return err
	}
	_, err := g.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (g *GroupAgg) CaptureState(_ uint64, full bool, out StateWriter) error {
	ck := &g.ck
	if ck.out != nil {
		if _, err := g.ContinueSnapshot(0); err != nil {
			return err
		}
	}
	if !ck.track {
		g.TrackChanges()
		full = true // everything held so far is new to the checkpoint
	}
	ck.out, ck.full = out, full
	ck.capN = ck.epoch
	ck.epoch++
	ck.captured, ck.dirty = ck.dirty, ck.captured[:0]
	ck.next = 0
	ck.fullNext, ck.fullEnd = 0, 0
	if full {
		ck.fullEnd = len(ck.all)
	}
	return g.captureSpilled(full)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (g *GroupAgg) ContinueSnapshot(budget int) (bool, error) {
	ck := &g.ck
	if ck.out == nil {
		return true, nil
	}
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	for ; ck.next < len(ck.captured) && budget > 0; ck.next++ {
		if grp := ck.captured[ck.next]; grp != nil && ck.pending(grp) {
			g.writeGroup(grp)
			budget--
		}
	}
	if ck.next < len(ck.captured) {
		return false, nil
	}
	for ; ck.fullNext < ck.fullEnd && budget > 0; ck.fullNext++ {
		if grp := ck.all[ck.fullNext]; grp != nil && grp.ck.done < ck.capN {
			g.writeGroup(grp)
			budget--
		}
	}
	if ck.fullNext < ck.fullEnd {
		return false, nil
	}
	if done, err := g.continueSpilled(budget); !done || err != nil {
		return false, err
	}
	clear(ck.captured)
	ck.captured = ck.captured[:0]
	ck.out = nil
	if ck.holes > 1024 && ck.holes > len(ck.all)/2 {
		g.compact()
	}
	return true, nil
}

// RestoreState implements Restorer. With spilling, groups beyond the
// memory budget are spilled as they are read.
func (g *GroupAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	g.TrackChanges()
	n := 0
	return scan(func(kg uint16, key, _, value []byte) error {
		grp, err := g.decodeGroup(kg, string(key), value)
		if err != nil {
			return err
		}
		grp.ck.persisted = true
		g.addGroup(grp)
		g.resident(grp)
		if g.ttl.ms > 0 { // the TTL starts again (written times are not state)
			grp.written, grp.queued = g.ttl.now(), true
			grp.qat = grp.written
			g.ttlQ = append(g.ttlQ, ttlItem{key: grp.key, kg: kg, at: grp.written})
		}
		if n++; n%1024 == 0 {
			return g.maybeEvict()
		}
		return nil
	})
}

// decodeGroup decodes a group as encodeGroup wrote it.
func (g *GroupAgg) decodeGroup(kg uint16, key string, value []byte) (*aggGroup, error) {
	d := accDecoder{b: value}
	if f := d.uvarint(); f != groupStateFormat {
		return nil, fmt.Errorf("group aggregate state: format %d, want %d", f, groupStateFormat)
	}
	grp := &aggGroup{
		key:  key,
		kg:   kg,
		vals: make(types.Row, len(g.keys)),
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
		return nil, fmt.Errorf("group aggregate state: %w", d.err)
	}
	if _, err := DecodeAccumulators(d.b, grp.accs); err != nil {
		return nil, fmt.Errorf("group aggregate state: %w", err)
	}
	return grp, nil
}

// Close implements Closer: it releases a capture's spill snapshot.
func (g *GroupAgg) Close() error {
	g.closeSpill()
	return nil
}
