package exec

// Spilling TopN state (Spiller): unbounded Top-N over an append-only or an
// updating input, deduplication keeping the last row (both TopNUnbounded),
// window Top-N (TopNWindow) and deduplication keeping the first row
// (TopNKeepFirst).
//
// With a spill space and a memory budget (EnableSpill), the operator keeps
// the partitions it used recently in memory and the rest in the space; a
// partition is in exactly one of the two places, always whole. After each
// input batch and each watermark (and every 1024 partitions of a restore)
// that leaves the estimate above the budget, a clock over the partitions
// (a partition used since the hand last passed gets a second chance)
// spills partitions until the estimate is 7/8 of the budget; the round
// ends with one write batch. A row whose partition is not in memory looks
// it up in the space (only once anything was spilled; for a window, only
// when that window has spilled partitions) and reloads it: Get, then
// Delete there.
//
// Space layout. A spilled value is the partition's creation number (8
// bytes, little endian) and then the partition exactly as a checkpoint
// encodes it (encodePart). Its key is (key group, partition key), except
// for TopNWindow: (key group 0, window_end as 8 bytes big endian with the
// sign bit flipped, the partition's key group, the partition key), so that
// the spilled partitions of a window are one prefix scan.
//
// Firing a window. Windows fire in window_end order and, in memory,
// partitions of one window in creation order. A window with spilled
// partitions fires in the same order: its spilled partitions are listed
// with one prefix scan (creation number and key only, the values are not
// kept), sorted by creation number and merged with the resident ones
// (sorted too once a reload has appended one to the window's list out of
// order); each spilled partition is reloaded when its turn comes and fired
// as a resident one: same rows, same ranks, and the same deletion for the
// next capture (a reloaded partition counts as persisted). So the output
// is identical to the in-memory operator's, in the same order. The price:
// the listing holds a key and about 32 bytes per spilled partition of the
// firing window while it fires.
//
// Held first rows (TopNKeepFirst on event time) wait in a timer heap that
// points to their partition. Evicting such a partition leaves the object
// behind, marked evicted and without rows, for the heap; when its timer
// comes due, the partition of its key is taken from memory or reloaded,
// and judged by the held row's sequence number as always. Those objects
// are not counted in the estimate (as the join's TTL queue records are
// not).
//
// Checkpoints. Only clean partitions are spilled: partitions with neither
// copy-on-write mark (markcow.go), i.e. not changed since the last
// capture and not captured by the capture in progress and still unwritten;
// never a dead one (its deletion is pending). So a spilled partition
// carries no checkpoint bookkeeping: its value is the one the last capture
// that wrote it holds, and an incremental capture never needs it. A full
// capture opens a snapshot of the space at the barrier and, after the
// resident partitions, walks it: every partition spilled at the barrier,
// as it was. A partition spilled after the barrier was clean, so this
// capture wrote it already, from memory. A partition reloaded while the
// walk is open comes back with no marks: the capture in progress does not
// write it from memory (the walk writes it, from the snapshot), and if it
// changes, copy-on-write marks it for the next capture only. So no key is
// written twice in one capture. A reloaded partition counts as persisted,
// so that its deletion (it emptied, or its window fired) is written. The
// price: partitions changed since the last checkpoint stay in memory until
// a capture has written them, whatever the budget.
//
// The estimate counts per partition its struct, map entry, clock and
// window slots and key, and per stored row its entry, values and strings.
// It is an estimate, not a measure.
//
// TopN has no state TTL, so there is no expiry to carry over to spilled
// partitions.

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"unsafe"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

var (
	_ Spiller = (*TopN)(nil)
	_ Closer  = (*TopN)(nil)
)

type topnSpill struct {
	spillCore
	all   []*topnPart // the clock's order; removed partitions leave nil holes
	holes int
	born  uint64             // the next creation number
	wins  map[int64]*topnWin // TopNWindow: windows that spilled partitions
	kbuf  []byte             // a space key
	fired int64              // partitions fired from the space (for tests)
}

// topnWin is what a window that spilled partitions keeps.
type topnWin struct {
	spilled   int  // its partitions in the space
	holes     int  // nil slots (evicted partitions) in its list
	reordered bool // a reloaded partition went to the end of its list
}

// topnPartBytes estimates a partition's fixed cost: the struct, its map
// entry and its clock and window slots.
const topnPartBytes = int64(unsafe.Sizeof(topnPart{})) + 64

// topnSpillHeader is a spilled value's header: the creation number.
const topnSpillHeader = 8

func topnRowBytes(r types.Row) int64 {
	n := int64(unsafe.Sizeof(topnEntry{})) + int64(unsafe.Sizeof(types.Value{}))*int64(len(r))
	for _, v := range r {
		n += int64(len(v.S))
	}
	return n
}

// EnableSpill implements Spiller.
func (t *TopN) EnableSpill(sp *state.SpillSpace, budget int64) {
	t.sp = &topnSpill{spillCore: spillCore{sp: sp, budget: budget}}
	if t.mode == TopNWindow {
		t.sp.wins = make(map[int64]*topnWin)
	}
	// what the operator holds already (nothing when the runtime calls it):
	// the windows' partitions in their order, then the others
	for _, end := range slices.Sorted(maps.Keys(t.windows)) {
		for _, p := range t.windows[end] {
			t.spillAdd(p, true)
			t.spillRows(p, 1)
		}
	}
	for _, p := range t.parts {
		if !t.listed(p) {
			t.spillAdd(p, true)
			t.spillRows(p, 1)
		}
	}
	t.sp.publish()
}

// SpillStats implements Spiller.
func (t *TopN) SpillStats() SpillStats {
	if t.sp == nil {
		return SpillStats{}
	}
	return t.sp.stats()
}

// Close implements Closer: it releases the spill space.
func (t *TopN) Close() error {
	if t.sp != nil {
		t.sp.close()
	}
	return nil
}

// spillAdd registers a new, restored or reloaded partition with the clock
// (fresh: it gets the next creation number).
func (t *TopN) spillAdd(p *topnPart, fresh bool) {
	sp := t.sp
	if fresh {
		p.born = sp.born
		sp.born++
	}
	p.idx = int32(len(sp.all))
	sp.all = append(sp.all, p)
	sp.mem += topnPartBytes + int64(len(p.key))
}

// spillRows adds (sign 1) or removes (-1) p's rows to or from the estimate.
func (t *TopN) spillRows(p *topnPart, sign int64) {
	for _, e := range p.rows {
		t.sp.mem += sign * topnRowBytes(e.row)
	}
}

func (t *TopN) listed(p *topnPart) bool {
	all := t.sp.all
	return p.idx >= 0 && int(p.idx) < len(all) && all[p.idx] == p
}

// spillDrop unregisters a partition that left the map (its rows are gone
// from the estimate already).
func (t *TopN) spillDrop(p *topnPart) {
	sp := t.sp
	if !t.listed(p) {
		return
	}
	sp.all[p.idx] = nil
	p.idx = -1
	sp.holes++
	sp.mem -= topnPartBytes + int64(len(p.key))
}

// spaceKey is the space's (key group, key) for a partition.
func (t *TopN) spaceKey(kg uint16, key []byte, end int64) (uint16, []byte) {
	if t.mode != TopNWindow {
		return kg, key
	}
	sp := t.sp
	sp.kbuf = binary.BigEndian.AppendUint64(sp.kbuf[:0], uint64(end)^1<<63)
	sp.kbuf = binary.BigEndian.AppendUint16(sp.kbuf, kg)
	sp.kbuf = append(sp.kbuf, key...)
	return 0, sp.kbuf
}

// spilledPart is the partition lookup's part for spilling: p, found in
// memory, was used; else the partition of row (its key in t.keyBuf) is
// reloaded if it was spilled. nil if it has none.
func (t *TopN) spilledPart(p *topnPart, row types.Row) (*topnPart, error) {
	if p != nil {
		p.ref = true
		return p, nil
	}
	sp := t.sp
	if sp.spilled == 0 {
		return nil, nil
	}
	var end int64
	if t.mode == TopNWindow {
		end = row[t.endCol].I
		if w := sp.wins[end]; w == nil || w.spilled == 0 {
			return nil, nil
		}
	}
	p, err := t.reload(t.keyGroup(row), t.keyBuf, end)
	if p != nil && t.mode == TopNWindow {
		t.openWindow(p, end)
		sp.wins[end].reordered = true
	}
	return p, err
}

// reload moves a spilled partition back into memory; nil if there is none.
// A window partition is not put on its window's list.
func (t *TopN) reload(kg uint16, key []byte, end int64) (*topnPart, error) {
	sp := t.sp
	skg, k := t.spaceKey(kg, key, end)
	v, ok, err := sp.sp.Get(skg, k)
	if err != nil || !ok {
		return nil, err
	}
	if err := sp.sp.Delete(skg, k); err != nil {
		return nil, err
	}
	if len(v) < topnSpillHeader {
		return nil, fmt.Errorf("top-n: spilled state of a partition is %d bytes", len(v))
	}
	p, err := t.decodePart(kg, key, v[topnSpillHeader:])
	if err != nil {
		return nil, fmt.Errorf("top-n: spilled partition: %w", err)
	}
	p.born = binary.LittleEndian.Uint64(v)
	p.persisted = true // see the file comment
	p.ref = true
	p.end = end
	t.parts[p.key] = p
	t.spillAdd(p, false)
	t.spillRows(p, 1)
	if t.mode == TopNWindow {
		if w := sp.wins[end]; w != nil {
			w.spilled--
		}
	}
	sp.spilled--
	sp.reloaded++
	return p, nil
}

// evictedPart is the partition of an evicted one's key, in memory or
// reloaded (a held first row's timer came due).
func (t *TopN) evictedPart(p *topnPart) (*topnPart, error) {
	if q := t.parts[p.key]; q != nil {
		q.ref = true
		return q, nil
	}
	q, err := t.reload(p.kg, stringBytes(p.key), 0)
	if err == nil && q == nil {
		err = fmt.Errorf("top-n: a spilled partition is missing from the spill store")
	}
	return q, err
}

// maybeEvict runs an eviction round when the state is over budget.
func (t *TopN) maybeEvict() error {
	sp := t.sp
	err := sp.round(func() int { return len(sp.all) }, func(i int) error {
		switch p := sp.all[i]; {
		case p == nil || p.dead:
		case p.ref:
			p.ref = false
		case p.marks&(cowMarkA|cowMarkB) == 0: // clean: see the file comment
			return t.evict(p)
		}
		return nil
	})
	sp.all = closeHoles(sp.all, &sp.holes, func(p *topnPart, i int32) { p.idx = i })
	return err
}

// evict moves a clean partition to the spill space.
func (t *TopN) evict(p *topnPart) error {
	sp := t.sp
	b := binary.LittleEndian.AppendUint64(sp.buf[:0], p.born)
	b = t.encodePart(b, p)
	sp.buf = b
	skg, k := t.spaceKey(p.kg, stringBytes(p.key), p.end)
	if err := sp.sp.Put(skg, k, b); err != nil {
		return err
	}
	if t.mode == TopNWindow {
		t.leaveWindow(p)
	}
	t.spillRows(p, -1)
	t.spillDrop(p)
	delete(t.parts, p.key)
	for _, e := range p.rows { // no batch's diff refers to them
		if len(t.free) < maxFreeRows {
			clear(e.row)
			t.free = append(t.free, e.row)
		}
	}
	p.rows = nil
	p.evicted = true
	sp.spilled++
	sp.evicted++
	return nil
}

// leaveWindow takes an evicted partition off its window's list, leaving a
// hole; a list whose holes outnumber its partitions is compacted.
func (t *TopN) leaveWindow(p *topnPart) {
	sp := t.sp
	ps := t.windows[p.end]
	if int(p.slot) < len(ps) && ps[p.slot] == p {
		ps[p.slot] = nil
	}
	w := sp.wins[p.end]
	if w == nil {
		w = &topnWin{}
		sp.wins[p.end] = w
	}
	w.spilled++
	w.holes++
	if w.holes > 64 && w.holes > len(ps)/2 {
		live := ps[:0]
		for _, q := range ps {
			if q != nil {
				q.slot = int32(len(live))
				live = append(live, q)
			}
		}
		clear(ps[len(live):])
		t.windows[p.end] = live
		w.holes = 0
	}
}

// fireSpilled fires the window ending at end, which spilled partitions:
// its resident partitions ps (with holes) and its spilled ones, in
// creation order (see the file comment).
func (t *TopN) fireSpilled(end int64, ps []*topnPart, out Emitter) error {
	sp := t.sp
	w := sp.wins[end]
	res := ps[:0]
	for _, p := range ps {
		if p != nil {
			res = append(res, p)
		}
	}
	clear(ps[len(res):])
	if w.reordered {
		slices.SortFunc(res, func(a, b *topnPart) int { return cmp.Compare(a.born, b.born) })
	}
	type spilledRef struct {
		born uint64
		kg   uint16
		key  string
	}
	var spilled []spilledRef
	if w.spilled > 0 {
		prefix := binary.BigEndian.AppendUint64(nil, uint64(end)^1<<63)
		err := sp.sp.Scan(0, prefix, func(k, v []byte) error {
			if len(k) < 10 || len(v) < topnSpillHeader {
				return fmt.Errorf("top-n: spilled partition of %d key and %d value bytes", len(k), len(v))
			}
			spilled = append(spilled, spilledRef{binary.LittleEndian.Uint64(v), binary.BigEndian.Uint16(k[8:]), string(k[10:])})
			return nil
		})
		if err != nil {
			return err
		}
		if len(spilled) != w.spilled {
			return fmt.Errorf("top-n: window ending at %d has %d partitions in the spill store, want %d", end, len(spilled), w.spilled)
		}
		slices.SortFunc(spilled, func(a, b spilledRef) int { return cmp.Compare(a.born, b.born) })
	}
	for i, j := 0, 0; i < len(res) || j < len(spilled); {
		var p *topnPart
		if j == len(spilled) || i < len(res) && res[i].born < spilled[j].born {
			p = res[i]
			i++
		} else {
			s := spilled[j]
			j++
			var err error
			p, err = t.reload(s.kg, stringBytes(s.key), end)
			if err == nil && p == nil {
				err = fmt.Errorf("top-n: a spilled partition of the window ending at %d is missing", end)
			}
			if err != nil {
				return err
			}
			sp.fired++
		}
		if err := t.firePart(p, out); err != nil {
			return err
		}
	}
	delete(sp.wins, end)
	return nil
}

// captureSpilled is CaptureState's part for spilled partitions: a full
// capture opens a snapshot of the space.
func (t *TopN) captureSpilled(full bool, out StateWriter) error {
	if !full {
		return nil
	}
	return t.sp.startWalk(out)
}

// continueSpilled writes up to budget spilled partitions of a full
// capture's snapshot and reports whether the walk is over.
func (t *TopN) continueSpilled(budget int) (bool, error) {
	return t.sp.walk(budget, "top-n", topnSpillHeader, func(out StateWriter, kg uint16, key, v []byte) error {
		if t.mode == TopNWindow {
			if len(key) < 10 {
				return fmt.Errorf("spilled key of %d bytes", len(key))
			}
			kg, key = binary.BigEndian.Uint16(key[8:]), key[10:]
		}
		out.Put(kg, key, nil, v)
		return nil
	})
}
