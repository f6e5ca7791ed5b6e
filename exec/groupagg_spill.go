package exec

// Spilling GroupAgg state (Spiller).
//
// With a spill space and a memory budget (EnableSpill), GroupAgg keeps the
// groups it used recently in memory and the rest in the space (Badger,
// state.SpillSpace). A group is in exactly one of the two places. After a
// batch that leaves the resident groups' estimated size above the budget,
// an eviction round walks the groups with a clock hand — a group used since
// the hand last passed gets a second chance — and spills groups until the
// estimate is 7/8 of the budget; the round ends with one write batch. A
// key missing from memory is looked up in the space (only once anything
// was spilled) and reloaded; the reload deletes it there.
//
// The estimate counts a group's struct, its key twice (the map key and the
// key values), its accumulator slots and, once a group has been encoded
// (by a capture or an eviction), its encoded size for what the slots point
// to (value multisets, DISTINCT sets). It is an estimate, not a measure.
//
// A spilled value is a header — the group's checkpoint bookkeeping (epoch
// of its last change, last capture that wrote it), its TTL fields (last
// write, time of its expiry-queue entry) — and then the group exactly as a
// checkpoint writes it. So a spilled group keeps its identity for
// checkpoints:
//   - Evicting a group that the capture in progress has not written yet
//     writes it first (its value at the barrier).
//   - A group changed in the current epoch leaves the epoch's dirty list
//     when evicted and its key goes on a list of spilled dirty keys, which
//     the next capture takes along with the dirty list.
//   - A capture opens a snapshot of the space (a Badger read transaction)
//     when it has spilled keys to write or is full. A spilled dirty key is
//     written from memory if it was reloaded and is still unwritten (it
//     has not changed since the barrier, or copy-on-write would have
//     written it), else from the snapshot, which holds its value at the
//     barrier. A full capture walks the snapshot after the resident groups:
//     the groups spilled at the barrier, as they were. A group reloaded
//     during the capture may then be written twice with the same value.
//   - A reloaded group counts as persisted, so that its deletion is always
//     written (a spilled group may have been written by a full capture's
//     walk of the snapshot, which does not update the spilled header).
//
// State TTL: the expiry queue holds keys, not groups, so an evicted group
// costs only its key there. When a spilled group's entry comes due, the
// sweep reads its header: expired, it is reloaded and dropped as a
// resident one would be; else its entry goes back at its last write.

import (
	"encoding/binary"
	"fmt"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

var _ Spiller = (*GroupAgg)(nil)

type groupSpill struct {
	spillCore
	// keys of groups evicted while changed in the current epoch
	dirty []spilledKey
	// the capture in progress: its spilled dirty keys
	capKeys []spilledKey
	capNext int
}

type spilledKey struct {
	kg  uint16
	key string
}

// spillHeader: chg u32, done u32, queued byte, written i64, qat i64.
const spillHeader = 4 + 4 + 1 + 8 + 8

// groupBaseBytes estimates a group's fixed cost in memory: the struct, its
// map entry and the slice headers.
const groupBaseBytes = 224

// EnableSpill implements Spiller.
func (g *GroupAgg) EnableSpill(sp *state.SpillSpace, budget int64) {
	g.sp = &groupSpill{spillCore: spillCore{sp: sp, budget: budget}}
	for _, grp := range g.groups {
		grp.size = g.groupSize(grp, 0)
		g.sp.mem += int64(grp.size)
	}
}

// SpillStats implements Spiller: the figures as of the last batch (zero
// without spilling).
func (g *GroupAgg) SpillStats() SpillStats {
	if g.sp == nil {
		return SpillStats{}
	}
	return g.sp.stats()
}

// groupSize estimates grp's size in memory; enc is the length of its
// encoding when known.
func (g *GroupAgg) groupSize(grp *aggGroup, enc int) int32 {
	return int32(groupBaseBytes + 2*len(grp.key) + 32*len(grp.vals) + 80*g.nAggs + enc)
}

// resident adds a new or reloaded group to the memory estimate.
func (g *GroupAgg) resident(grp *aggGroup) {
	if g.sp != nil {
		grp.size = g.groupSize(grp, 0)
		g.sp.mem += int64(grp.size)
	}
}

// resize updates grp's estimate after it was encoded.
func (g *GroupAgg) resize(grp *aggGroup, enc int) {
	if g.sp != nil && g.groups[grp.key] == grp {
		n := g.groupSize(grp, enc)
		g.sp.mem += int64(n - grp.size)
		grp.size = n
	}
}

// forget removes grp from the memory estimate.
func (g *GroupAgg) forget(grp *aggGroup) {
	if g.sp != nil {
		g.sp.mem -= int64(grp.size)
		grp.size = 0
	}
}

// lookup returns the group of row's key, encoded in g.keyBuf, reloading it
// from the spill space if it is there; nil if the key has no group.
func (g *GroupAgg) lookup(row types.Row) (*aggGroup, error) {
	if grp := g.groups[string(g.keyBuf)]; grp != nil || g.sp == nil || g.sp.spilled == 0 {
		return grp, nil
	}
	return g.reload(g.keyGroup(row), g.keyBuf)
}

// reload moves a spilled group back into memory; nil if key has none.
func (g *GroupAgg) reload(kg uint16, key []byte) (*aggGroup, error) {
	sp := g.sp
	v, ok, err := sp.sp.Get(kg, key)
	if err != nil || !ok {
		return nil, err
	}
	if err := sp.sp.Delete(kg, key); err != nil {
		return nil, err
	}
	if len(v) < spillHeader {
		return nil, fmt.Errorf("group aggregate: spilled state of a group is %d bytes", len(v))
	}
	grp, err := g.decodeGroup(kg, string(key), v[spillHeader:])
	if err != nil {
		return nil, err
	}
	grp.ck.chg = binary.LittleEndian.Uint32(v)
	grp.ck.done = binary.LittleEndian.Uint32(v[4:])
	grp.ck.persisted = true // see the file comment
	grp.queued = v[8] == 1
	grp.written = int64(binary.LittleEndian.Uint64(v[9:]))
	grp.qat = int64(binary.LittleEndian.Uint64(v[17:]))
	grp.dpos = -1 // if changed in this epoch, its key is in sp.dirty
	if sp.snap != nil {
		grp.ck.done = g.ck.capN // the full capture's walk writes it
	}
	grp.ref = true
	grp.idx = int32(len(g.ck.all))
	g.ck.all = append(g.ck.all, grp)
	g.groups[grp.key] = grp
	g.resident(grp)
	sp.spilled--
	sp.reloaded++
	return grp, nil
}

// spilledWritten reads the TTL fields of a spilled group's header.
func spilledTTL(v []byte) (written, qat int64, ok bool) {
	if len(v) < spillHeader {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(v[9:])), int64(binary.LittleEndian.Uint64(v[17:])), true
}

// maybeEvict runs an eviction round when the resident groups are over
// budget.
func (g *GroupAgg) maybeEvict() error {
	sp := g.sp
	if sp == nil {
		return nil
	}
	ck := &g.ck
	err := sp.round(func() int { return len(ck.all) }, func(i int) error {
		switch grp := ck.all[i]; {
		case grp == nil || grp.dead || grp.touched:
		case grp.ref:
			grp.ref = false
		default:
			return g.evict(grp)
		}
		return nil
	})
	if ck.out == nil && ck.holes > 1024 && ck.holes > len(ck.all)/2 {
		g.compact()
	}
	return err
}

// evict moves grp to the spill space.
func (g *GroupAgg) evict(grp *aggGroup) error {
	sp, ck := g.sp, &g.ck
	if ck.track {
		if ck.pending(grp) {
			g.writeGroup(grp) // as it was at the barrier
		}
		if grp.ck.chg == ck.epoch && grp.dpos >= 0 {
			ck.dirty[grp.dpos] = nil
			sp.dirty = append(sp.dirty, spilledKey{grp.kg, grp.key})
		}
	}
	b := binary.LittleEndian.AppendUint32(sp.buf[:0], grp.ck.chg)
	b = binary.LittleEndian.AppendUint32(b, grp.ck.done)
	if grp.queued {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(grp.written))
	b = binary.LittleEndian.AppendUint64(b, uint64(grp.qat))
	b = g.encodeGroup(b, grp)
	sp.buf = b
	if err := sp.sp.Put(grp.kg, stringBytes(grp.key), b); err != nil {
		return err
	}
	g.forget(grp)
	delete(g.groups, grp.key)
	ck.all[grp.idx] = nil
	ck.holes++
	sp.spilled++
	sp.evicted++
	return nil
}

// captureSpilled is CaptureState's part for spilled groups. An
// incremental capture takes the keys of the groups evicted while changed;
// a full one opens a snapshot of the space: every group spilled at the
// barrier, as it was.
func (g *GroupAgg) captureSpilled(full bool) error {
	sp := g.sp
	if sp == nil {
		return nil
	}
	sp.capKeys, sp.dirty = sp.dirty, sp.capKeys[:0]
	sp.capNext = 0
	if !full || sp.spilled == 0 {
		return nil
	}
	clear(sp.capKeys) // the snapshot has them all
	sp.capKeys = sp.capKeys[:0]
	return sp.startWalk(g.ck.out)
}

// continueSpilled writes up to budget spilled groups of the capture in
// progress and reports whether they are all written.
//
// An incremental capture writes each spilled changed key as it is now: a
// group not written by this capture has not changed since the barrier
// (copy-on-write would have written it), and one written has its header's
// done updated, in memory or in the space, so that it is not written
// again. A full capture walks its snapshot; a group reloaded meanwhile is
// marked written at once (reload), as the walk writes or wrote it.
func (g *GroupAgg) continueSpilled(budget int) (bool, error) {
	sp := g.sp
	if sp == nil {
		return true, nil
	}
	ck := &g.ck
	for ; sp.capNext < len(sp.capKeys) && budget > 0; sp.capNext++ {
		k := sp.capKeys[sp.capNext]
		if grp := g.groups[k.key]; grp != nil {
			if ck.pending(grp) {
				g.writeGroup(grp)
				budget--
			}
			continue
		}
		key := stringBytes(k.key)
		v, ok, err := sp.sp.Get(k.kg, key)
		if err != nil {
			return false, err
		}
		if !ok || len(v) < spillHeader || binary.LittleEndian.Uint32(v[4:]) >= ck.capN {
			continue // removed (its deletion was written) or written already
		}
		ck.out.Put(k.kg, key, nil, v[spillHeader:])
		binary.LittleEndian.PutUint32(v[4:], ck.capN)
		if err := sp.sp.Put(k.kg, key, v); err != nil {
			return false, err
		}
		budget--
	}
	if sp.capNext < len(sp.capKeys) {
		return false, nil
	}
	if budget <= 0 && sp.snap != nil {
		return false, nil // walk would take it for "all"
	}
	done, err := sp.walk(budget, "group aggregate", spillHeader, putValue)
	if err != nil || !done {
		return false, err
	}
	clear(sp.capKeys)
	sp.capKeys = sp.capKeys[:0]
	return true, nil
}

// closeSpill releases a capture's snapshot and the space.
func (g *GroupAgg) closeSpill() {
	if g.sp != nil {
		g.sp.close()
	}
}
