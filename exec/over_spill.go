package exec

// Spilling OverAgg state (Spiller): every mode, ROWS and RANGE frames.
//
// With a spill space and a memory budget (EnableSpill), the operator keeps
// the partitions it used recently in memory and the rest in the space; a
// partition's state is in exactly one of the two places. After each input
// batch and each watermark (and every 1,024 partitions restored or brought
// back by the watermark) that leave the estimate above the budget, a clock
// over the partitions (a partition used since the hand last passed gets a
// second chance) spills whole partitions until the estimate is 7/8 of the
// budget; the round ends with one write batch. A spilled partition's
// value is its checkpoint entry (encodePart). A row whose partition is not
// in memory looks it up in the space (only once something was spilled) and
// reloads it: Get, then Delete. OverUpdating computes the reloaded rows'
// emitted aggregates again, as a restore does (every batch leaves them
// equal to what the rows give).
//
// Event time. A partition with rows waiting for the watermark has timers
// in the operator's heap that point to it. Spilling such a partition
// leaves a stub: the same object, without its rows, marked spilled and
// kept in a map by key (not in parts, not in the clock). When the
// watermark reaches one of its timers, the stub is reloaded into itself
// before it fires, so the partitions fire in the same order, with the same
// rows, as in memory; a row for its key reloads it the same way. A
// partition without waiting rows has no timer and leaves nothing behind.
// Processing time has no timers.
//
// Checkpoints. Only a clean partition is evicted: one with neither
// copy-on-write mark (not changed since the last capture, not waiting to
// be written by the capture in progress) and not dead. A spilled partition
// therefore needs nothing from an incremental capture: its latest value is
// in the last capture that wrote it. A full capture opens a snapshot of
// the space at the barrier and, after the resident partitions, walks it:
// every partition spilled at the barrier, as it was. A reloaded partition
// carries no marks, so the capture in progress never writes it (the walk
// does, or it was spilled after the barrier, having been written before
// it became clean); it counts as persisted, so that its deletion (an
// OverUpdating partition whose rows were all retracted) is written.
//
// The estimate counts per partition its struct, map slot and key (twice),
// per kept row its slice and values and strings (a waiting row also its
// timer; an OverUpdating row its entry and emitted aggregates) and the
// running accumulators' slots; a stub counts its struct, key and timers.
// What an accumulator points to is not counted: the budget is an estimate.
//
// OVER has no state TTL, so nothing expires.

import (
	"fmt"
	"unsafe"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

var (
	_ Spiller = (*OverAgg)(nil)
	_ Closer  = (*OverAgg)(nil)
)

type overSpill struct {
	spillCore
	all   []*overPart // the clock's order; removed partitions leave nil holes
	holes int
	stubs map[string]*overPart // spilled partitions that have timers
	err   error                // a spill store error met on the hot path

	dueReloads int64 // stubs reloaded because a timer of theirs was due (tests)
}

const (
	overPartBytes  = int64(unsafe.Sizeof(overPart{})) + 64 // and its map slot
	overTimerBytes = int64(unsafe.Sizeof(overTimer{}))
	overValueBytes = int64(unsafe.Sizeof(types.Value{}))
)

// EnableSpill implements Spiller.
func (o *OverAgg) EnableSpill(sp *state.SpillSpace, budget int64) {
	o.sp = &overSpill{spillCore: spillCore{sp: sp, budget: budget}, stubs: map[string]*overPart{}}
	for _, p := range o.parts {
		if !p.dead {
			o.addPart(p)
		}
	}
}

// SpillStats implements Spiller.
func (o *OverAgg) SpillStats() SpillStats {
	if o.sp == nil {
		return SpillStats{}
	}
	return o.sp.stats()
}

// Close implements Closer: it releases the spill space.
func (o *OverAgg) Close() error {
	if o.sp != nil {
		o.sp.close()
	}
	return nil
}

// overRowBytes estimates a kept row.
func overRowBytes(row types.Row) int64 {
	n := 24 + overValueBytes*int64(len(row))
	for _, v := range row {
		n += int64(len(v.S))
	}
	return n
}

// overPendingBytes estimates a row waiting for the watermark and its timer.
func overPendingBytes(row types.Row) int64 { return overRowBytes(row) + overTimerBytes }

// entryBytes estimates an OverUpdating row: its entry, the row, the
// aggregates emitted for it.
func (o *OverAgg) entryBytes(row types.Row) int64 {
	return int64(unsafe.Sizeof(overEntry{})) + overRowBytes(row) + 24 + overValueBytes*int64(o.nAgg)
}

func (o *OverAgg) accsBytes() int64 { return 24 + int64(o.nAgg)*int64(unsafe.Sizeof(Accumulator{})) }

// partBytes estimates all of p.
func (o *OverAgg) partBytes(p *overPart) int64 {
	n := overPartBytes + 2*int64(len(p.key))
	for _, r := range p.hist {
		n += overRowBytes(r)
	}
	for _, r := range p.pending {
		n += overPendingBytes(r)
	}
	for _, e := range p.rows {
		n += o.entryBytes(e.row)
	}
	if p.accs != nil {
		n += o.accsBytes()
	}
	return n
}

// stubBytes estimates a stub: its struct, key and timers.
func stubBytes(p *overPart, timers int) int64 {
	return overPartBytes + 2*int64(len(p.key)) + overTimerBytes*int64(timers)
}

// grow adds n to p's estimate and the total.
func (s *overSpill) grow(p *overPart, n int64) {
	p.mem += n
	s.mem += n
}

// addPart registers a new, revived or reloaded partition with the clock.
func (o *OverAgg) addPart(p *overPart) {
	s := o.sp
	p.idx = int32(len(s.all))
	s.all = append(s.all, p)
	p.mem = o.partBytes(p)
	s.mem += p.mem
	p.used = true
}

// dropPart unregisters a partition (dead, or evicted).
func (o *OverAgg) dropPart(p *overPart) {
	s := o.sp
	if p.idx < 0 || int(p.idx) >= len(s.all) || s.all[p.idx] != p {
		return
	}
	s.all[p.idx] = nil
	p.idx = -1
	s.holes++
	s.mem -= p.mem
	p.mem = 0
}

// lookupSpilled reloads the partition of key from the space, if it is
// there; errors are kept for the end of the batch (maybeEvict).
func (o *OverAgg) lookupSpilled(kg uint16, key []byte) *overPart {
	s := o.sp
	if s.spilled == 0 || s.err != nil {
		return nil
	}
	p, err := o.reload(kg, key)
	if err != nil {
		s.err = err
		return nil
	}
	return p
}

// reloadStub brings a stub's state back (a timer of it is due).
func (o *OverAgg) reloadStub(p *overPart) error {
	q, err := o.reload(p.kg, stringBytes(p.key))
	if err == nil && q != p {
		err = fmt.Errorf("over: the spilled state of a partition with waiting rows is missing")
	}
	o.sp.dueReloads++
	return err
}

// reload moves a spilled partition back into memory (into its stub, if it
// has one); nil if the space has none.
func (o *OverAgg) reload(kg uint16, key []byte) (*overPart, error) {
	s := o.sp
	v, ok, err := s.sp.Get(kg, key)
	if err != nil || !ok {
		return nil, err
	}
	if err := s.sp.Delete(kg, key); err != nil {
		return nil, err
	}
	q, err := o.decodePart(kg, key, v)
	if err != nil {
		return nil, fmt.Errorf("over: spilled state: %w", err)
	}
	p := q
	if stub := s.stubs[q.key]; stub != nil {
		delete(s.stubs, q.key)
		s.mem -= stub.mem
		stub.mem = 0
		stub.hist, stub.accs, stub.pending, stub.rows = q.hist, q.accs, q.pending, q.rows
		stub.spilled = false
		p = stub
	}
	p.persisted = true // see the file comment
	if len(p.rows) > 0 {
		o.recomputeAll(p)
	}
	o.parts[p.key] = p
	o.addPart(p)
	s.spilled--
	s.reloaded++
	return p, nil
}

// clean says whether p may be spilled: no copy-on-write mark, not dead,
// not in the batch's touched list.
func (p *overPart) clean() bool {
	return p.marks&(cowMarkA|cowMarkB) == 0 && !p.dead && !p.touched
}

// maybeEvict runs an eviction round when the state is over budget, then
// returns any error met since the last call.
func (o *OverAgg) maybeEvict() error {
	if o.sp == nil {
		return nil
	}
	return o.evictRound()
}

func (o *OverAgg) evictRound() error {
	s := o.sp
	if err := s.err; err != nil {
		s.err = nil
		s.publish()
		return err
	}
	err := s.round(func() int { return len(s.all) }, func(i int) error {
		switch p := s.all[i]; {
		case p == nil:
		case p.used:
			p.used = false
		case p.clean():
			return o.evict(p)
		}
		return nil
	})
	s.all = closeHoles(s.all, &s.holes, func(p *overPart, i int32) { p.idx = i })
	return err
}

// evict moves a clean partition to the space; one with waiting rows
// leaves a stub for its timers.
func (o *OverAgg) evict(p *overPart) error {
	s := o.sp
	s.buf = o.encodePart(s.buf[:0], p)
	if err := s.sp.Put(p.kg, stringBytes(p.key), s.buf); err != nil {
		return err
	}
	delete(o.parts, p.key)
	o.dropPart(p)
	s.spilled++
	s.evicted++
	if n := len(p.pending); n > 0 {
		p.hist, p.accs, p.pending, p.rows = nil, nil, nil, nil
		p.spilled = true
		p.mem = stubBytes(p, n)
		s.mem += p.mem
		s.stubs[p.key] = p
	}
	return nil
}

// captureSpilled starts a full capture's walk of the spilled partitions.
func (o *OverAgg) captureSpilled(full bool, w StateWriter) error {
	if o.sp == nil || !full {
		return nil
	}
	return o.sp.startWalk(w)
}

// continueSpilled writes up to budget spilled partitions of a full
// capture and reports whether the walk is over.
func (o *OverAgg) continueSpilled(budget int) (bool, error) {
	if o.sp == nil {
		return true, nil
	}
	return o.sp.walk(budget, "over", 0, putValue)
}
