package exec

// Spilling WindowAgg state (Spiller): TUMBLE, HOP and CUMULATE windows.
//
// With a spill space and a memory budget (EnableSpill), the operator keeps
// the (key, window) groups it used recently in memory and the rest in the
// space; a group is in exactly one of the two places. After a batch that
// leaves the estimate above the budget, an eviction round walks the open
// windows' groups with a clock hand (a group used since the hand last
// passed gets a second chance) and spills groups until the estimate is 7/8
// of the budget; the round ends with one write batch. An evicted group
// leaves a hole in its bucket (its slot is cleared, its key reference
// dropped); a bucket whose holes outnumber its groups is compacted when no
// capture is in progress, keeping the groups' order.
//
// A spilled group is keyed by its window first — (window namespace as the
// checkpoint writes it, key group, group key) — and its value is its
// accumulators as a checkpoint encodes them. A row whose group is not in
// the bucket looks it up in the space (only when the bucket has spilled
// groups) and reloads it: the group goes to the end of the bucket, and its
// space entry is deleted. When a window fires, its resident groups are
// emitted first, in creation order, then its spilled groups in key order,
// read with one prefix scan and deleted from the space.
//
// Checkpoints. Only a clean group is evicted: one neither changed in the
// current epoch nor captured by the capture in progress and not yet
// written. A spilled group therefore needs nothing from an incremental
// capture: its latest value is in the last capture that wrote it. A full
// capture opens a snapshot of the space at the barrier and, after the
// resident groups, walks it: every group spilled at the barrier, as it
// was. A group reloaded while a full capture is in progress counts as
// written (the walk writes it, or it was evicted after the barrier and is
// not the capture's business). A spilled group always counts as persisted:
// firing it leaves a deletion for the next capture, and so does reloading
// it and firing it later (a full capture's walk may have written it, which
// no header records).
//
// The estimate counts per group its slot, bookkeeping and accumulator
// slots, and per interned key its entry and the key twice. What an
// accumulator points to (a MIN/MAX string, a DISTINCT set) is not counted:
// the budget is an estimate, not a measure.
//
// SESSION windows spill per key: an eviction round's clock walks the
// interned keys, and a clean key's open sessions go to the space as one
// entry (key group, key) → their timers' ids, then the sessions as a
// checkpoint encodes them. The key stays interned, with its reference
// count, checkpoint bookkeeping and timers, so that a row or a timer of
// the key reloads it; what is saved is the sessions, their accumulators
// and what they point to; a spilled key's interned entry (about a hundred
// bytes and the key twice) is not counted against the budget. A key is clean when it has not changed in the
// current epoch and the capture in progress, if any, has nothing left to
// write of it; a full capture walks a snapshot of the space after the
// resident keys, and a key reloaded meanwhile counts as written.

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

var _ Spiller = (*WindowAgg)(nil)

type windowSpill struct {
	spillCore
	bucket int    // the clock hand's bucket (index in pending); hand is the group
	kbuf   []byte // a spill key
	accs   []Accumulator
	sids   []uint64
	err    error // a spill store error met on the hot path, returned after the batch

	onCompact func() // tests: called after each compaction
}

// windowGroupBytes estimates a group's fixed cost: its slot map entry, id,
// bookkeeping and cache share.
const windowGroupBytes = 64

// windowKeyBytes estimates an interned key's fixed cost beside its bytes
// (counted twice: the map key and keyInfo share one string, but the map
// keeps its hash and entry).
const windowKeyBytes = 96

// windowHoleDone marks a hole's bookkeeping: never captured by a full
// capture (done < capN never holds), never persisted.
const windowHoleDone = math.MaxUint32

// EnableSpill implements Spiller.
func (w *WindowAgg) EnableSpill(sp *state.SpillSpace, budget int64) {
	w.sp = &windowSpill{spillCore: spillCore{sp: sp, budget: budget}, accs: make([]Accumulator, w.nAggs)}
	for id := range w.keyInfo {
		if k := &w.keyInfo[id]; k.refs > 0 {
			w.sp.mem += w.keyBytes(k.str)
		}
	}
	for _, bw := range w.pending {
		w.sp.mem += int64(len(bw.ids)-int(bw.holes)) * w.groupBytes()
	}
	for _, ks := range w.sess {
		w.sp.mem += int64(len(ks.st)) * w.sessionBytes()
	}
}

// SpillStats implements Spiller.
func (w *WindowAgg) SpillStats() SpillStats {
	if w.sp == nil {
		return SpillStats{}
	}
	return w.sp.stats()
}

func (w *WindowAgg) groupBytes() int64 {
	return windowGroupBytes + int64(w.nAggs)*int64(unsafe.Sizeof(Accumulator{}))
}

func (w *WindowAgg) sessionBytes() int64 {
	return int64(unsafe.Sizeof(Window{})+unsafe.Sizeof(sessionState{})+unsafe.Sizeof(sessionTimer{})) + 24 +
		int64(w.nAggs)*int64(unsafe.Sizeof(Accumulator{}))
}

func (w *WindowAgg) keyBytes(key string) int64 {
	return windowKeyBytes + 2*int64(len(key)) + int64(w.ways)*int64(unsafe.Sizeof(windowGroupCache{}))
}

// spillKey is the space key of (win, key): the window's namespace, the key
// group, the group key.
func (s *windowSpill) spillKey(win Window, kg uint16, key string) []byte {
	s.kbuf = appendWindowNS(s.kbuf[:0], win)
	s.kbuf = binary.BigEndian.AppendUint16(s.kbuf, kg)
	s.kbuf = append(s.kbuf, key...)
	return s.kbuf
}

// splitSpillKey undoes spillKey.
func splitSpillKey(k []byte) (win Window, kg uint16, key []byte, err error) {
	if len(k) < 18 {
		return Window{}, 0, nil, fmt.Errorf("window aggregation: spilled key of %d bytes", len(k))
	}
	win, err = decodeWindowNS(k[:16])
	return win, binary.BigEndian.Uint16(k[16:]), k[18:], err
}

// reload looks key id's group of bw up in the space; found, it is decoded
// into group gi (new, empty) and deleted there. Errors are kept for the
// end of the batch.
func (w *WindowAgg) reload(bw *windowBucket, id int32, gi int) {
	s := w.sp
	if s.err != nil {
		return
	}
	k := &w.keyInfo[id]
	key := s.spillKey(bw.win, k.kg, k.str)
	v, ok, err := s.sp.Get(0, key)
	if err == nil && ok {
		err = s.sp.Delete(0, key)
	}
	if err != nil || !ok {
		s.err = err
		return
	}
	n := w.nAggs
	if _, err := DecodeAccumulators(v, bw.accs[gi*n:gi*n+n]); err != nil {
		s.err = fmt.Errorf("window aggregation: spilled group of window [%d, %d): %w", bw.win.Start, bw.win.End, err)
		return
	}
	bw.ck[gi].persisted = true // see the file comment
	bw.spilled--
	s.spilled--
	s.reloaded++
}

// maybeEvict runs an eviction round when the resident groups are over
// budget, then returns any error met since the last call.
func (w *WindowAgg) maybeEvict() error {
	s := w.sp
	if s == nil {
		return nil
	}
	defer s.publish()
	if err := s.err; err != nil {
		s.err = nil
		return err
	}
	if w.spec.Kind == WindowSession {
		return w.evictKeys()
	}
	target, ok := s.over()
	if !ok {
		return nil
	}
	// two turns: every group, and a step past each bucket's end, twice
	steps := 2*len(w.pending) + 1
	for _, bw := range w.pending {
		steps += 2 * len(bw.ids)
	}
	cs := &w.ckState
	for ; steps > 0 && s.mem > target && len(w.pending) > 0; steps-- {
		if s.bucket >= len(w.pending) {
			s.bucket, s.hand = 0, 0
		}
		bw := w.pending[s.bucket]
		if s.hand >= len(bw.ids) {
			s.bucket, s.hand = s.bucket+1, 0
			continue
		}
		gi := s.hand
		s.hand++
		switch {
		case bw.ids[gi] < 0 || bw.changed(gi) || cs.captured(bw, gi):
		case bw.ck[gi].ref:
			bw.ck[gi].ref = false
		default:
			if err := w.evict(bw, gi); err != nil {
				return err
			}
		}
	}
	s.ended(target)
	if cs.out == nil {
		for _, bw := range w.pending {
			if bw.holes > 64 && int(bw.holes) > len(bw.ids)/2 {
				w.compactBucket(bw)
			}
		}
	}
	return s.sp.Flush()
}

// evict moves group gi of bw (clean) to the space, leaving a hole.
func (w *WindowAgg) evict(bw *windowBucket, gi int) error {
	s, n := w.sp, w.nAggs
	id := bw.ids[gi]
	k := &w.keyInfo[id]
	s.buf = EncodeAccumulators(s.buf[:0], bw.accs[gi*n:gi*n+n])
	if err := s.sp.Put(0, s.spillKey(bw.win, k.kg, k.str), s.buf); err != nil {
		return err
	}
	clear(bw.accs[gi*n : gi*n+n])
	delete(bw.slot, id)
	bw.ids[gi] = -1
	bw.ck[gi] = bucketCk{done: windowHoleDone}
	bw.holes++
	bw.spilled++
	for way := range w.ways {
		if c := &w.keyCache[int(id)*w.ways+way]; c.bw == bw {
			*c = windowGroupCache{}
		}
	}
	w.unref(id)
	s.mem -= w.groupBytes()
	s.spilled++
	s.evicted++
	return nil
}

// compactBucket closes bw's holes, keeping the groups' order; no capture
// may be in progress (captured bits and positions would move).
func (w *WindowAgg) compactBucket(bw *windowBucket) {
	n, j := w.nAggs, 0
	for gi, id := range bw.ids {
		if id < 0 {
			continue
		}
		if j != gi {
			bw.ids[j], bw.ck[j] = id, bw.ck[gi]
			copy(bw.accs[j*n:j*n+n], bw.accs[gi*n:gi*n+n])
			bw.slot[id] = int32(j)
			// j < gi: bit gi is read before anything writes it
			setBit(bw.dirty, j, bw.changed(gi))
			for way := range w.ways {
				if c := &w.keyCache[int(id)*w.ways+way]; c.bw == bw {
					c.idx = int32(j)
				}
			}
		}
		j++
	}
	clear(bw.accs[j*n:])
	bw.ids, bw.ck, bw.accs = bw.ids[:j], bw.ck[:j], bw.accs[:j*n]
	words := (j + 63) >> 6
	if len(bw.dirty) > words {
		clear(bw.dirty[words:])
		bw.dirty = bw.dirty[:words]
	}
	if j&63 != 0 && words <= len(bw.dirty) {
		bw.dirty[words-1] &= 1<<(j&63) - 1
	}
	bw.holes = 0
	w.sp.hand = 0
	if w.sp.onCompact != nil {
		w.sp.onCompact()
	}
}

func setBit(bm []uint64, i int, on bool) {
	if i>>6 >= len(bm) {
		return // off the end: clear
	}
	if on {
		bm[i>>6] |= 1 << (i & 63)
	} else {
		bm[i>>6] &^= 1 << (i & 63)
	}
}

// fireSpilled emits the spilled groups of bw (firing) in key order and
// deletes them from the space, leaving deletions for the next capture.
func (w *WindowAgg) fireSpilled(bw *windowBucket, out Emitter) error {
	s, nk := w.sp, len(w.keys)
	start, end := types.TimestampValue(bw.win.Start), types.TimestampValue(bw.win.End)
	cs := &w.ckState
	var ns [16]byte
	fired := 0
	err := s.sp.Scan(0, appendWindowNS(ns[:0], bw.win), func(k, v []byte) error {
		_, kg, key, err := splitSpillKey(k)
		if err != nil {
			return err
		}
		if _, err := DecodeAccumulators(v, s.accs); err != nil {
			return fmt.Errorf("window aggregation: spilled group of window [%d, %d): %w", bw.win.Start, bw.win.End, err)
		}
		w.out.reserve(int(bw.spilled) - fired)
		row := w.out.next(types.Insert)
		ks := string(key) // the output row's strings and the deletion keep it
		decodeGroupKey(ks, row[:nk])
		row[nk], row[nk+1] = start, end
		w.agg.results(s.accs, row[nk+2:])
		clear(s.accs)
		fired++
		if cs.track {
			cs.deletes = append(cs.deletes, windowDelete{kg: kg, key: ks, win: bw.win})
		}
		if err := s.sp.Delete(0, k); err != nil {
			return err
		}
		if w.out.full() {
			return w.out.flush(out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if fired != int(bw.spilled) {
		return fmt.Errorf("window aggregation: window [%d, %d) has %d groups in the spill store, want %d", bw.win.Start, bw.win.End, fired, bw.spilled)
	}
	s.spilled -= int64(fired)
	bw.spilled = 0
	return nil
}

// evictKeys is maybeEvict's round for SESSION windows.
func (w *WindowAgg) evictKeys() error {
	return w.sp.round(func() int { return len(w.keyInfo) }, func(i int) error {
		k := &w.keyInfo[i]
		switch {
		case k.refs == 0 || k.spilled || w.keyInUse(k):
		case k.ref:
			k.ref = false
		default:
			return w.evictSessions(int32(i))
		}
		return nil
	})
}

// keyInUse says whether a SESSION key changed in the current epoch or has
// something left for the capture in progress to write.
func (w *WindowAgg) keyInUse(k *windowKey) bool {
	cs := &w.ckState
	if _, ok := cs.sessDirty.kg[k.str]; ok {
		return true
	}
	if cs.out == nil {
		return false
	}
	if _, ok := cs.sessCapt.kg[k.str]; ok {
		return true
	}
	return cs.full && k.ck.done < cs.capN
}

// evictSessions moves the sessions of key id (clean, resident) to the
// space.
func (w *WindowAgg) evictSessions(id int32) error {
	s, ks, k := w.sp, &w.sess[id], &w.keyInfo[id]
	b := binary.AppendUvarint(s.buf[:0], uint64(len(ks.st)))
	for _, st := range ks.st {
		b = binary.AppendUvarint(b, st.sid)
	}
	s.buf = w.encodeSessions(b, ks)
	if err := s.sp.Put(k.kg, stringBytes(k.str), s.buf); err != nil {
		return err
	}
	// the key stays interned, but outside the budget: else a budget
	// that the keys alone exceed would have every batch sweep them all
	s.mem -= int64(len(ks.st))*w.sessionBytes() + w.keyBytes(k.str)
	ks.wins, ks.st = nil, nil // not to spareAccs: the memory is to be freed
	k.spilled = true
	s.spilled++
	s.evicted++
	return nil
}

// reloadSessions brings the sessions of key id back from the space.
func (w *WindowAgg) reloadSessions(id int32) error {
	s, k := w.sp, &w.keyInfo[id]
	key := stringBytes(k.str)
	v, ok, err := s.sp.Get(k.kg, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("window aggregation: the spilled sessions of a key of key group %d are missing", k.kg)
	}
	if err := s.sp.Delete(k.kg, key); err != nil {
		return err
	}
	d := accDecoder{b: v}
	s.sids = s.sids[:0]
	for range d.count() {
		s.sids = append(s.sids, d.uvarint())
	}
	if d.err != nil {
		return fmt.Errorf("window aggregation: spilled sessions: %w", d.err)
	}
	if err := w.restoreSessions(id, d.b, s.sids); err != nil {
		return err
	}
	k.spilled, k.ref = false, true
	if s.snap != nil {
		k.ck.done = w.ckState.capN // the full capture's walk writes it
	}
	s.mem += int64(len(w.sess[id].st))*w.sessionBytes() + w.keyBytes(k.str)
	s.spilled--
	s.reloaded++
	return nil
}

// touchKey marks SESSION key id used, reloading its sessions if they are
// spilled.
func (w *WindowAgg) touchKey(id int32) error {
	k := &w.keyInfo[id]
	k.ref = true
	if k.spilled {
		return w.reloadSessions(id)
	}
	return nil
}

// sessionSpillValue skips the timer ids of a spilled SESSION value: the
// rest is the key's entry as a checkpoint writes it.
func sessionSpillValue(v []byte) ([]byte, error) {
	d := accDecoder{b: v}
	for range d.count() {
		d.uvarint()
	}
	if d.err != nil {
		return nil, fmt.Errorf("window aggregation: spilled sessions: %w", d.err)
	}
	return d.b, nil
}

// captureSpilled is CaptureState's part for spilled groups: a full
// capture opens a snapshot of the space.
func (w *WindowAgg) captureSpilled(full bool) error {
	if w.sp == nil || !full {
		return nil
	}
	return w.sp.startWalk(w.ckState.out)
}

// continueSpilled writes up to budget spilled groups of a full capture's
// snapshot and reports whether the walk is over.
func (w *WindowAgg) continueSpilled(budget int) (bool, error) {
	if w.sp == nil {
		return true, nil
	}
	if budget <= 0 && w.sp.snap != nil {
		return false, nil // walk would take it for "all"
	}
	return w.sp.walk(budget, "window aggregation", 0, func(out StateWriter, kg uint16, k, v []byte) error {
		if w.spec.Kind == WindowSession {
			v, err := sessionSpillValue(v)
			if err != nil {
				return err
			}
			out.Put(kg, k, nil, v)
			return nil
		}
		_, kg, key, err := splitSpillKey(k)
		if err != nil {
			return err
		}
		out.Put(kg, key, k[:16], v)
		return nil
	})
}

// Close implements Closer: it releases the spill space.
func (w *WindowAgg) Close() error {
	if w.sp != nil {
		w.sp.close()
	}
	return nil
}
