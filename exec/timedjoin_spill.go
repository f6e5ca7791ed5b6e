package exec

// Spilling the interval join's and the window join's state (Spiller).
//
// Both work as the regular join does (join_spill.go): with a spill space
// and a memory budget (EnableSpill), an operator keeps the keys it used
// recently in memory and the rest in the space; a key is in exactly one
// of the two places. After a batch or a watermark that leaves the
// estimate above the budget (and every 1,024 restored entries), a clock
// over the resident keys (a key used since the hand last passed gets a
// second chance) spills whole keys until the estimate is 7/8 of the
// budget; the round ends with one write batch. A key is reloaded when a
// row of it arrives (Get, then Delete in the space).
//
// Checkpoints. Only clean keys are spilled: keys none of whose rows
// changed since the last capture or waits to be written by the capture in
// progress (neither copy-on-write mark set). A spilled row thus carries no
// checkpoint bookkeeping: an incremental capture never needs it, and a
// full capture, after its resident rows, walks a snapshot of the space
// opened at the barrier (every key spilled then, as it was; a key spilled
// later was written before it became clean). A reloaded row has no marks
// either, so a reload during an open full capture never writes it a
// second time: the walk writes it, or it was spilled after the barrier and
// written already. A spilled row counts as persisted, so that its deletion
// is always written when it is dropped.
//
// What is due. The difference from the regular join is that the
// watermark drops state, and spilled state must be dropped (and emitted)
// exactly as resident state is.
//
// Interval join. Rows are dropped from a min-heap by (expiry, row id);
// SpillSpace.Scan finds a prefix, not a range of expiries, so the layout
// "expiry first" would not find what a watermark makes due. The spill key
// is the join key (key group, encoded key) — what a reload on access
// looks up — and its value the key's rows as a checkpoint writes them.
// Beside it the operator keeps a small in-memory index of its spilled
// keys: per key its earliest expiry (a min-heap) and a map from the key,
// which also spares a lookup in the space for keys never spilled. A
// watermark merges the two heaps: before it pops a row it reloads every
// spilled key whose earliest expiry is not after that row's, so the row
// popped is always the next due row of all, and rows are dropped (and,
// unmatched on a preserved side, emitted padded) in the same order as
// without spilling, while a key comes back only when its turn comes (a
// final watermark does not load the whole spilled state at once; every
// 1,024 rows dropped an eviction round may spill again). A spilled row leaves its record,
// without its values, marked spilled in the expiry heap; the heap skips
// it when it comes up, and an eviction round rebuilds the heap when such
// records outnumber the live ones. (The index entries of reloaded keys are
// left in their heap the same way.) The estimate counts per resident key
// its entry, key and map slot, per row its record, values and strings,
// and per spilled key its index entry.
//
// Window join. A window's rows are all due at once, when the watermark
// reaches its end - 1, and are then emitted key by key in the order the
// keys first arrived in the window. Each key of a window has an ordinal,
// its place in that order. A spilled key is two entries of the space
// (key group 0), laid out with the window first:
//
//	0x00 ++ window end ++ ordinal (4 bytes) → key group, key, the key's rows
//	0x01 ++ window end ++ key group ++ key   → ordinal
//
// The first holds the state: a window's spilled keys are found, in their
// order, with one prefix scan (0x00 ++ end) when it fires, and merged
// with its resident keys (kept in order with holes where spilled keys
// were), so the output is the same, row for row and in order, as without
// spilling. The second is what a reload on access (a row of the key
// arriving in the window, looked up only in windows with spilled keys)
// finds first. A fired spilled key's entries are deleted from the space
// and its rows' deletions left for the next capture. The estimate counts
// per resident key its entry, key, map and order slots, and per row its
// record, values and strings; a spilled key keeps an 8-byte hole in its
// window's order, not counted.

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/weirsql/weir/state"
)

var (
	_ Spiller = (*IntervalJoin)(nil)
	_ Closer  = (*IntervalJoin)(nil)
	_ Spiller = (*WindowJoin)(nil)
	_ Closer  = (*WindowJoin)(nil)
)

// ---- IntervalJoin ----

type ijSpill struct {
	spillCore
	all   []*ijEntry // the clock's order; removed keys leave nil holes
	holes int
	keys  map[string]*ijSpilledKey // the spilled keys
	due   []*ijSpilledKey          // min-heap by earliest expiry
	gone  int                      // items of due whose key was reloaded
	stale int                      // records in the expiry heap whose key was spilled
	vbuf  []byte
}

// ijSpilledKey is the in-memory index entry of a spilled key.
type ijSpilledKey struct {
	expire int64 // the earliest expiry of its rows
	kg     uint16
	gone   bool // reloaded: the key is no longer spilled under this entry
	key    string
}

// ijSpilledKeyBytes estimates an index entry's fixed cost: the entry, its
// map slot and heap slot (the key's bytes are counted once more).
const ijSpilledKeyBytes = 96

func ijDueLess(a, b *ijSpilledKey) bool { return a.expire < b.expire }

// EnableSpill implements Spiller.
func (j *IntervalJoin) EnableSpill(sp *state.SpillSpace, budget int64) {
	j.sp = &ijSpill{spillCore: spillCore{sp: sp, budget: budget}, keys: map[string]*ijSpilledKey{}}
	for _, e := range j.entries {
		j.addEntry(e)
	}
}

// SpillStats implements Spiller.
func (j *IntervalJoin) SpillStats() SpillStats {
	if j.sp == nil {
		return SpillStats{}
	}
	return j.sp.stats()
}

// Close implements Closer: it releases the spill space.
func (j *IntervalJoin) Close() error {
	if j.sp != nil {
		j.sp.close()
	}
	return nil
}

// addEntry registers a new or reloaded key with the clock.
func (j *IntervalJoin) addEntry(e *ijEntry) {
	if sp := j.sp; sp != nil {
		clockAdd(&sp.spillCore, &sp.all, e, &e.idx, joinEntryBytes+2*int64(len(e.key))+recsBytes(&e.recs))
	}
}

// dropEntry unregisters a key that has no rows left.
func (j *IntervalJoin) dropEntry(e *ijEntry) {
	if sp := j.sp; sp != nil {
		clockDrop(&sp.spillCore, sp.all, &sp.holes, e, &e.idx, joinEntryBytes+2*int64(len(e.key)))
	}
}

func (j *IntervalJoin) recAdded(r *ijRec) {
	if j.sp != nil {
		j.sp.mem += recBytes(r.row)
	}
}

func (j *IntervalJoin) recGone(r *ijRec) {
	if j.sp != nil {
		j.sp.mem -= recBytes(r.row)
	}
}

// spillLookup is the lookup of key with spilling: e is the resident entry
// (nil if none); a spilled key is reloaded.
func (j *IntervalJoin) spillLookup(e *ijEntry, key []byte) (*ijEntry, error) {
	if e != nil {
		e.used = true
		return e, nil
	}
	sk := j.sp.keys[string(key)]
	if sk == nil {
		return nil, nil
	}
	return j.reload(sk)
}

// reload moves a spilled key back into memory: its rows go back to the
// expiry heap (their spilled records there are skipped).
func (j *IntervalJoin) reload(sk *ijSpilledKey) (*ijEntry, error) {
	sp := j.sp
	key := stringBytes(sk.key)
	v, ok, err := sp.sp.Get(sk.kg, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("interval join: spilled key %x is not in the spill store", key)
	}
	if err := sp.sp.Delete(sk.kg, key); err != nil {
		return nil, err
	}
	e := &ijEntry{joinKeyRef: joinKeyRef{key: sk.key, kg: sk.kg}}
	err = eachSpilledRec(v, func(ns, value []byte) error {
		r, err := decodeJoinRecord("interval join", ns, value)
		if err != nil {
			return err
		}
		s := int(r.side)
		if len(r.row) <= j.timeCol[s] {
			return fmt.Errorf("a row of input %d has no time", s)
		}
		rec := &ijRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			expire: j.expireAt(s, r.row[j.timeCol[s]].I), matched: r.assoc != 0, ent: e}
		e.recs[s] = append(e.recs[s], rec)
		j.pushExpiry(rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interval join: spilled state: %w", err)
	}
	sk.gone = true
	sp.gone++
	delete(sp.keys, sk.key)
	sp.mem -= ijSpilledKeyBytes + int64(len(sk.key))
	e.used = true
	j.entries[e.key] = e
	j.addEntry(e)
	sp.spilled--
	sp.reloaded++
	return e, nil
}

// reloadDue reloads the spilled keys with a row whose expiry is ≤ wm and
// not after the expiry heap's top: what the watermark drops next. Every
// 1,024 rows dropped (n) an eviction round may make room again.
func (j *IntervalJoin) reloadDue(wm int64, n int) error {
	sp := j.sp
	if n%1024 == 0 {
		if err := j.maybeEvict(); err != nil {
			return err
		}
	}
	for len(sp.due) > 0 && sp.due[0].expire <= wm && (len(j.expiry) == 0 || sp.due[0].expire <= j.expiry[0].expire) {
		sk := sp.due[0]
		sp.due = aggHeapPop(sp.due, ijDueLess)
		if sk.gone {
			sp.gone--
			continue
		}
		if _, err := j.reload(sk); err != nil {
			return err
		}
		sp.gone-- // popped already
	}
	return nil
}

// maybeEvict runs an eviction round when the state is over budget, and
// tidies the clock and the heaps.
func (j *IntervalJoin) maybeEvict() error {
	sp := j.sp
	if sp == nil {
		return nil
	}
	err := sp.round(func() int { return len(sp.all) }, func(i int) error {
		switch e := sp.all[i]; {
		case e == nil:
		case e.used:
			e.used = false
		case recsClean(&e.recs):
			return j.evict(e)
		}
		return nil
	})
	sp.all = closeHoles(sp.all, &sp.holes, func(e *ijEntry, i int32) { e.idx = i })
	// a sorted slice is a heap
	if sp.stale > 1024 && sp.stale > len(j.expiry)/2 {
		n := len(j.expiry)
		j.expiry = slices.DeleteFunc(j.expiry, func(r *ijRec) bool { return r.st&recSpilled != 0 })
		clear(j.expiry[len(j.expiry):n])
		slices.SortFunc(j.expiry, func(a, b *ijRec) int {
			return cmp.Or(cmp.Compare(a.expire, b.expire), cmp.Compare(a.id, b.id))
		})
		sp.stale = 0
	}
	if sp.gone > 1024 && sp.gone > len(sp.due)/2 {
		n := len(sp.due)
		sp.due = slices.DeleteFunc(sp.due, func(sk *ijSpilledKey) bool { return sk.gone })
		clear(sp.due[len(sp.due):n])
		slices.SortFunc(sp.due, func(a, b *ijSpilledKey) int { return cmp.Compare(a.expire, b.expire) })
		sp.gone = 0
	}
	return err
}

// evict moves a clean key to the spill space.
func (j *IntervalJoin) evict(e *ijEntry) error {
	sp := j.sp
	n := len(e.recs[0]) + len(e.recs[1])
	b := binary.AppendUvarint(sp.buf[:0], uint64(n))
	expire := int64(math.MaxInt64)
	for _, list := range e.recs {
		for _, r := range list {
			ns := r.ns()
			b = append(b, ns[:]...)
			sp.vbuf = r.value(sp.vbuf[:0])
			b = binary.AppendUvarint(b, uint64(len(sp.vbuf)))
			b = append(b, sp.vbuf...)
			expire = min(expire, r.expire)
		}
	}
	sp.buf = b
	if err := sp.sp.Put(e.kg, stringBytes(e.key), b); err != nil {
		return err
	}
	for _, list := range e.recs {
		for _, r := range list {
			j.recGone(r)
			// the record stays in the expiry heap until it comes up or
			// the heap is rebuilt; a capture in progress skips it (it is
			// clean)
			r.st |= recSpilled
			r.row, r.ent, r.ref = nil, nil, nil
			sp.stale++
		}
	}
	delete(j.entries, e.key)
	j.dropEntry(e)
	sk := &ijSpilledKey{expire: expire, kg: e.kg, key: e.key}
	sp.keys[sk.key] = sk
	sp.due = append(sp.due, sk)
	aggHeapUp(sp.due, len(sp.due)-1, ijDueLess)
	sp.mem += ijSpilledKeyBytes + int64(len(sk.key))
	sp.spilled++
	sp.evicted++
	return nil
}

// captureSpilled starts a full capture's walk of the spilled keys.
func (j *IntervalJoin) captureSpilled(full bool, w StateWriter) error {
	if j.sp == nil || !full {
		return nil
	}
	return j.sp.startWalk(w)
}

// continueSpilled writes up to budget spilled keys of a full capture.
func (j *IntervalJoin) continueSpilled(budget int) (bool, error) {
	if j.sp == nil {
		return true, nil
	}
	return j.sp.walk(budget, "interval join", 0, putRecs)
}

// ---- WindowJoin ----

type wjSpill struct {
	spillCore
	all   []*wjEntry // the clock's order; removed keys leave nil holes
	holes int
	kbuf  []byte
	vbuf  []byte
}

// Spill key tags (see the file comment).
const (
	wjSpillData  = 0
	wjSpillIndex = 1
)

// EnableSpill implements Spiller.
func (j *WindowJoin) EnableSpill(sp *state.SpillSpace, budget int64) {
	j.sp = &wjSpill{spillCore: spillCore{sp: sp, budget: budget}}
	for _, w := range j.pending {
		for _, e := range w.order {
			if e != nil {
				j.addEntry(e)
			}
		}
	}
}

// SpillStats implements Spiller.
func (j *WindowJoin) SpillStats() SpillStats {
	if j.sp == nil {
		return SpillStats{}
	}
	return j.sp.stats()
}

// Close implements Closer: it releases the spill space.
func (j *WindowJoin) Close() error {
	if j.sp != nil {
		j.sp.close()
	}
	return nil
}

// wjEntryBytes estimates a key's fixed cost: its entry, map and order
// slots and key headers (the key's bytes are counted twice more).
const wjEntryBytes = 176

func (j *WindowJoin) addEntry(e *wjEntry) {
	if sp := j.sp; sp != nil {
		clockAdd(&sp.spillCore, &sp.all, e, &e.idx, wjEntryBytes+2*int64(len(e.key))+recsBytes(&e.recs))
	}
}

// dropEntry unregisters a fired or spilled key.
func (j *WindowJoin) dropEntry(e *wjEntry) {
	if sp := j.sp; sp != nil {
		clockDrop(&sp.spillCore, sp.all, &sp.holes, e, &e.idx, wjEntryBytes+2*int64(len(e.key)))
	}
}

func (j *WindowJoin) recAdded(r *wjRec) {
	if j.sp != nil {
		j.sp.mem += recBytes(r.row)
	}
}

// recGone: a row of a fired spilled key was never counted.
func (j *WindowJoin) recGone(r *wjRec) {
	if j.sp != nil && r.st&recSpilled == 0 {
		j.sp.mem -= recBytes(r.row)
	}
}

// appendWjEnd appends a window end so that byte order is numeric order.
func appendWjEnd(dst []byte, end int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(end)^(1<<63))
}

// dataKey and indexKey are the space keys of a spilled key of window end.
func (s *wjSpill) dataKey(end int64, ord int32) []byte {
	s.kbuf = append(s.kbuf[:0], wjSpillData)
	s.kbuf = appendWjEnd(s.kbuf, end)
	s.kbuf = binary.BigEndian.AppendUint32(s.kbuf, uint32(ord))
	return s.kbuf
}

func (s *wjSpill) indexKey(end int64, kg uint16, key string) []byte {
	s.kbuf = append(s.kbuf[:0], wjSpillIndex)
	s.kbuf = appendWjEnd(s.kbuf, end)
	s.kbuf = binary.BigEndian.AppendUint16(s.kbuf, kg)
	s.kbuf = append(s.kbuf, key...)
	return s.kbuf
}

// splitWjData decodes a data entry's value: key group, key, then the
// rows (eachSpilledRec's layout).
func splitWjData(v []byte) (kg uint16, key, recs []byte, err error) {
	if len(v) < 2 {
		return 0, nil, nil, fmt.Errorf("window join: spilled key of %d bytes", len(v))
	}
	kg = binary.BigEndian.Uint16(v)
	n, w := binary.Uvarint(v[2:])
	if w <= 0 || uint64(len(v)-2-w) < n {
		return 0, nil, nil, fmt.Errorf("window join: truncated spilled key")
	}
	return kg, v[2+w : 2+w+int(n)], v[2+w+int(n):], nil
}

// decodeSpilled builds the entry of a spilled key of w from its rows;
// its records are marked spilled (not counted in the estimate).
func (j *WindowJoin) decodeSpilled(w *wjWindow, kg uint16, key string, ord int32, recs []byte, st uint8) (*wjEntry, error) {
	e := &wjEntry{joinKeyRef: joinKeyRef{key: key, kg: kg}, win: w, ord: ord, idx: -1}
	err := eachSpilledRec(recs, func(ns, value []byte) error {
		r, err := decodeJoinRecord("window join", ns, value)
		if err != nil {
			return err
		}
		e.recs[r.side] = append(e.recs[r.side], &wjRec{recBase{row: r.row, id: r.id, side: r.side, st: st, ref: &e.joinKeyRef}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("window join: spilled state of window end %d: %w", w.end, err)
	}
	return e, nil
}

// spillLookup is the lookup of key in w with spilling: e is the resident
// entry (nil if none); a spilled key is reloaded.
func (j *WindowJoin) spillLookup(w *wjWindow, e *wjEntry, kg uint16, key string) (*wjEntry, error) {
	if e != nil {
		e.used = true
		return e, nil
	}
	if w.spilled == 0 {
		return nil, nil
	}
	sp := j.sp
	iv, ok, err := sp.sp.Get(0, sp.indexKey(w.end, kg, key))
	if err != nil || !ok {
		return nil, err
	}
	if len(iv) != 4 {
		return nil, fmt.Errorf("window join: spilled index entry of %d bytes", len(iv))
	}
	ord := int32(binary.BigEndian.Uint32(iv))
	if ord < 0 || int(ord) >= len(w.order) || w.order[ord] != nil {
		return nil, fmt.Errorf("window join: spilled key at %d of %d keys is not a hole", ord, len(w.order))
	}
	if err := sp.sp.Delete(0, sp.indexKey(w.end, kg, key)); err != nil {
		return nil, err
	}
	v, ok, err := sp.sp.Get(0, sp.dataKey(w.end, ord))
	if err == nil && !ok {
		err = fmt.Errorf("window join: spilled key at %d of window end %d is not in the spill store", ord, w.end)
	}
	if err != nil {
		return nil, err
	}
	if err := sp.sp.Delete(0, sp.dataKey(w.end, ord)); err != nil {
		return nil, err
	}
	_, _, recs, err := splitWjData(v)
	if err != nil {
		return nil, err
	}
	if e, err = j.decodeSpilled(w, kg, key, ord, recs, recPersisted); err != nil {
		return nil, err
	}
	e.used = true
	w.keys[key] = e
	w.order[ord] = e
	w.spilled--
	j.addEntry(e)
	sp.spilled--
	sp.reloaded++
	return e, nil
}

// maybeEvict runs an eviction round when the state is over budget.
func (j *WindowJoin) maybeEvict() error {
	sp := j.sp
	if sp == nil {
		return nil
	}
	err := sp.round(func() int { return len(sp.all) }, func(i int) error {
		switch e := sp.all[i]; {
		case e == nil:
		case e.used:
			e.used = false
		case recsClean(&e.recs):
			return j.evict(e)
		}
		return nil
	})
	sp.all = closeHoles(sp.all, &sp.holes, func(e *wjEntry, i int32) { e.idx = i })
	return err
}

// evict moves a clean key to the spill space, leaving a hole in its
// window's order.
func (j *WindowJoin) evict(e *wjEntry) error {
	sp, w := j.sp, e.win
	b := binary.BigEndian.AppendUint16(sp.buf[:0], e.kg)
	b = binary.AppendUvarint(b, uint64(len(e.key)))
	b = append(b, e.key...)
	b = binary.AppendUvarint(b, uint64(len(e.recs[0])+len(e.recs[1])))
	for _, list := range e.recs {
		for _, r := range list {
			ns := r.ns()
			b = append(b, ns[:]...)
			sp.vbuf = r.value(sp.vbuf[:0])
			b = binary.AppendUvarint(b, uint64(len(sp.vbuf)))
			b = append(b, sp.vbuf...)
		}
	}
	sp.buf = b
	if err := sp.sp.Put(0, sp.dataKey(w.end, e.ord), b); err != nil {
		return err
	}
	var ord [4]byte
	binary.BigEndian.PutUint32(ord[:], uint32(e.ord))
	if err := sp.sp.Put(0, sp.indexKey(w.end, e.kg, e.key), ord[:]); err != nil {
		return err
	}
	for _, list := range e.recs {
		for _, r := range list {
			j.recGone(r)
		}
	}
	delete(w.keys, e.key)
	w.order[e.ord] = nil
	w.spilled++
	j.dropEntry(e)
	sp.spilled++
	sp.evicted++
	return nil
}

// fireSpilled fires window w (popped) with spilled keys: its keys in
// order, the resident ones from w.order, the spilled ones from one scan
// of the space, which yields them in order too.
func (j *WindowJoin) fireSpilled(w *wjWindow, out Emitter) error {
	sp := j.sp
	next, fired := 0, 0
	upTo := func(ord int) error {
		for ; next < ord; next++ {
			if e := w.order[next]; e != nil {
				if err := j.fire(e, out); err != nil {
					return err
				}
			}
		}
		return nil
	}
	prefix := appendWjEnd([]byte{wjSpillData}, w.end)
	err := sp.sp.Scan(0, prefix, func(k, v []byte) error {
		if len(k) != len(prefix)+4 {
			return fmt.Errorf("window join: spilled key of %d bytes", len(k))
		}
		ord := int32(binary.BigEndian.Uint32(k[len(prefix):]))
		if ord < 0 || int(ord) >= len(w.order) || int(ord) < next || w.order[ord] != nil {
			return fmt.Errorf("window join: spilled key at %d of %d keys is not a hole", ord, len(w.order))
		}
		if err := upTo(int(ord)); err != nil {
			return err
		}
		next++
		kg, key, recs, err := splitWjData(v)
		if err != nil {
			return err
		}
		e, err := j.decodeSpilled(w, kg, string(key), ord, recs, recPersisted|recSpilled)
		if err != nil {
			return err
		}
		if err := j.fire(e, out); err != nil {
			return err
		}
		for _, list := range e.recs {
			for _, r := range list {
				r.row = nil // dead: a capture writes its deletion only
			}
		}
		fired++
		if err := sp.sp.Delete(0, sp.indexKey(w.end, kg, e.key)); err != nil {
			return err
		}
		return sp.sp.Delete(0, sp.dataKey(w.end, ord))
	})
	if err != nil {
		return err
	}
	if err := upTo(len(w.order)); err != nil {
		return err
	}
	if fired != w.spilled {
		return fmt.Errorf("window join: window end %d has %d keys in the spill store, want %d", w.end, fired, w.spilled)
	}
	sp.spilled -= int64(fired)
	w.spilled = 0
	return nil
}

// captureSpilled starts a full capture's walk of the spilled keys.
func (j *WindowJoin) captureSpilled(full bool, w StateWriter) error {
	if j.sp == nil || !full {
		return nil
	}
	return j.sp.startWalk(w)
}

// continueSpilled writes up to budget space entries of a full capture
// (the data entries' rows; index entries are skipped).
func (j *WindowJoin) continueSpilled(budget int) (bool, error) {
	if j.sp == nil {
		return true, nil
	}
	return j.sp.walk(budget, "window join", 0, func(out StateWriter, _ uint16, k, v []byte) error {
		if len(k) == 0 || k[0] != wjSpillData {
			return nil
		}
		kg, key, recs, err := splitWjData(v)
		if err != nil {
			return err
		}
		return putRecs(out, kg, key, recs)
	})
}
