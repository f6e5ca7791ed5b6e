package exec

// Spilling the regular join's state (Spiller).
//
// With a spill space and a memory budget (EnableSpill), the join keeps the
// keys it used recently in memory and the rest in the space: a key's rows
// of both inputs go together, as one value (a count, then per row its
// namespace and its entry exactly as a checkpoint writes it). After a batch
// that leaves the estimate above the budget, a clock over the keys (a key
// used since the hand last passed gets a second chance) spills keys until
// the estimate is 7/8 of the budget. A key missing from memory is looked up
// in the space, once anything was spilled, and reloaded (its rows count as
// persisted, so that their deletions are always written).
//
// Only clean keys are spilled: keys none of whose rows changed since the
// last capture or waits to be written by the capture in progress (neither
// copy-on-write mark set). So a spilled row carries no checkpoint
// bookkeeping: an incremental capture never needs it, and a full capture
// walks a snapshot of the space taken at the barrier (the keys spilled
// then, as they were) after its resident rows; a key spilled later was
// written before it became clean, and a key reloaded during the walk is
// clean, so no row is written twice. The price: rows changed since the
// last checkpoint stay in memory until it is written, whatever the budget.
//
// The estimate counts per key its entry, key and map slot, and per row its
// record, values and strings. With a state TTL the expiry queue keeps a
// spilled row's record (without its values); when it comes due the sweep
// reloads the key and judges the row it stands for, found by id.

import (
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

var _ Spiller = (*Join)(nil)

// recSpilled marks a record whose key was spilled: the live row, if any,
// is another record, with the same id, in the reloaded key.
const recSpilled = 4

type joinSpill struct {
	spillCore
	all   []*joinEntry // the clock's order; removed keys leave nil holes
	holes int
	vbuf  []byte // a row's entry, while evicting
}

const joinEntryBytes = 160 // an entry, its map slot and key headers

// EnableSpill implements Spiller.
func (j *Join) EnableSpill(sp *state.SpillSpace, budget int64) {
	j.sp = &joinSpill{spillCore: spillCore{sp: sp, budget: budget}}
	for _, e := range j.entries {
		j.addEntry(e)
	}
}

// SpillStats implements Spiller.
func (j *Join) SpillStats() SpillStats {
	if j.sp == nil {
		return SpillStats{}
	}
	return j.sp.stats()
}

// Close implements Closer: it releases the spill space.
func (j *Join) Close() error {
	if j.sp != nil {
		j.sp.close()
	}
	return nil
}

func recBytes(row types.Row) int64 {
	n := int64(112 + 32*len(row))
	for _, v := range row {
		n += int64(len(v.S))
	}
	return n
}

// addEntry registers a new or reloaded key with the clock.
func (j *Join) addEntry(e *joinEntry) {
	if sp := j.sp; sp != nil {
		clockAdd(&sp.spillCore, &sp.all, e, &e.idx, joinEntryBytes+2*int64(len(e.key))+recsBytes(&e.recs))
	}
}

// dropEntry unregisters a key that has no rows left.
func (j *Join) dropEntry(e *joinEntry) {
	if sp := j.sp; sp != nil {
		clockDrop(&sp.spillCore, sp.all, &sp.holes, e, &e.idx, joinEntryBytes+2*int64(len(e.key)))
	}
}

// recAdded and recGone keep the estimate of the rows.
func (j *Join) recAdded(r *joinRec) {
	if j.sp != nil {
		j.sp.mem += recBytes(r.row)
	}
}

func (j *Join) recGone(r *joinRec) {
	if j.sp != nil && r.st&recSpilled == 0 {
		j.sp.mem -= recBytes(r.row)
	}
}

// lookupEntry returns the entry of key, reloading it if it was spilled.
func (j *Join) lookupEntry(kg func() uint16, key []byte) (*joinEntry, error) {
	if e := j.entries[string(key)]; e != nil || j.sp == nil || j.sp.spilled == 0 {
		return e, nil
	}
	return j.reload(kg(), key)
}

// reload moves a spilled key back into memory; nil if it has none.
func (j *Join) reload(kg uint16, key []byte) (*joinEntry, error) {
	sp := j.sp
	v, ok, err := sp.sp.Get(kg, key)
	if err != nil || !ok {
		return nil, err
	}
	if err := sp.sp.Delete(kg, key); err != nil {
		return nil, err
	}
	e := &joinEntry{joinKeyRef: joinKeyRef{key: string(key), kg: kg}}
	err = eachSpilledRec(v, func(ns, value []byte) error {
		r, err := decodeJoinRecord("join", ns, value)
		if err != nil {
			return err
		}
		rec := &joinRec{recBase: recBase{row: r.row, id: r.id, side: r.side, st: recPersisted, ref: &e.joinKeyRef},
			count: r.count, assoc: r.assoc, written: r.written, ent: e}
		e.recs[r.side] = append(e.recs[r.side], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("join: spilled state: %w", err)
	}
	e.used = true
	j.entries[e.key] = e
	j.addEntry(e)
	sp.spilled--
	sp.reloaded++
	return e, nil
}

// eachSpilledRec decodes a spilled key's value: uvarint n, then n times
// the 9-byte namespace, uvarint length, the record's entry.
func eachSpilledRec(v []byte, fn func(ns, value []byte) error) error {
	n, w := binary.Uvarint(v)
	if w <= 0 {
		return fmt.Errorf("bad row count")
	}
	v = v[w:]
	for range n {
		if len(v) < 9 {
			return fmt.Errorf("truncated row")
		}
		ns := v[:9]
		l, w := binary.Uvarint(v[9:])
		if w <= 0 || uint64(len(v)-9-w) < l {
			return fmt.Errorf("truncated row")
		}
		if err := fn(ns, v[9+w:9+w+int(l)]); err != nil {
			return err
		}
		v = v[9+w+int(l):]
	}
	if len(v) != 0 {
		return fmt.Errorf("%d bytes after the rows", len(v))
	}
	return nil
}

// maybeEvict runs an eviction round when the state is over budget.
func (j *Join) maybeEvict() error {
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
	sp.all = closeHoles(sp.all, &sp.holes, func(e *joinEntry, i int32) { e.idx = i })
	return err
}

// evict moves a clean key to the spill space.
func (j *Join) evict(e *joinEntry) error {
	sp := j.sp
	n := len(e.recs[0]) + len(e.recs[1])
	b := binary.AppendUvarint(sp.buf[:0], uint64(n))
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
	if err := sp.sp.Put(e.kg, stringBytes(e.key), b); err != nil {
		return err
	}
	for _, list := range e.recs {
		for _, r := range list {
			j.recGone(r)
			r.st |= recSpilled
			r.row = nil // a TTL queue item may keep the record
		}
	}
	delete(j.entries, e.key)
	j.dropEntry(e)
	sp.spilled++
	sp.evicted++
	return nil
}

// liveRec returns the live record a spilled one stands for (reloading its
// key), or nil if the row is gone.
func (j *Join) liveRec(r *joinRec) (*joinRec, error) {
	e, err := j.lookupEntry(func() uint16 { return r.ref.kg }, stringBytes(r.ref.key))
	if err != nil || e == nil {
		return nil, err
	}
	for _, x := range e.recs[r.side] {
		if x.id == r.id {
			return x, nil
		}
	}
	return nil, nil
}

// captureSpilled starts a full capture's walk of the spilled keys.
func (j *Join) captureSpilled(full bool, w StateWriter) error {
	if j.sp == nil || !full {
		return nil
	}
	return j.sp.startWalk(w)
}

// continueSpilled writes up to budget spilled keys of a full capture.
func (j *Join) continueSpilled(budget int) (bool, error) {
	if j.sp == nil {
		return true, nil
	}
	return j.sp.walk(budget, "join", 0, putRecs)
}
