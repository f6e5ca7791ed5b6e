package exec

import (
	"fmt"
	"sync/atomic"

	"github.com/weirsql/weir/state"
)

// Spilling state to Badger (state.SpillSpace) beyond a memory budget: what
// GroupAgg (groupagg_spill.go) and Join (join_spill.go) share.

// Spiller is implemented by operators that can keep part of their state
// in a spill space when it outgrows a memory budget (bytes, estimated).
// The runtime calls EnableSpill once, before RestoreState and Process.
// SpillStats may be called from any goroutine.
type Spiller interface {
	EnableSpill(sp *state.SpillSpace, budget int64)
	SpillStats() SpillStats
}

// SpillStats are a spilling operator's figures.
type SpillStats struct {
	Budget, Resident  int64 // bytes (estimated)
	Spilled           int64 // keys (groups) in the spill space
	Evicted, Reloaded int64 // since the start
}

// spillCore is a spilling operator's space, budget and figures; its
// fields are used on the subtask goroutine, pub from any.
type spillCore struct {
	sp       *state.SpillSpace
	budget   int64
	mem      int64 // estimated bytes of the resident state
	hand     int   // clock hand
	spilled  int64 // keys in the space
	evicted  int64
	reloaded int64
	pub      [4]atomic.Int64 // mem, spilled, evicted, reloaded, for stats
	buf      []byte
	snap     *state.SpillSnapshot // a full capture's view of the space
	out      StateWriter          // the capture the walk of snap writes to
	// an eviction round that ended above its target (what was left could
	// not be evicted yet) leaves the estimate it ended at; rounds wait
	// until the estimate has grown by a sixteenth of the budget or a
	// capture is written (walk), rather than sweeping everything after
	// every batch
	stuck int64
}

// over says whether an eviction round is due; target is where it stops.
func (c *spillCore) over() (target int64, ok bool) {
	if c.stuck > 0 && c.mem < c.stuck+c.budget/16 {
		return 0, false
	}
	c.stuck = 0
	return c.budget - c.budget/8, c.mem > c.budget
}

// ended records how a round ended (see stuck).
func (c *spillCore) ended(target int64) {
	if c.mem > target {
		c.stuck = max(c.mem, 1)
	}
}

// round is an eviction round, when one is due: a clock over n slots, at
// most two turns (the first may only clear reference bits), calling visit
// with each slot until the estimate is down to 7/8 of the budget; then the
// space's writes are flushed.
func (c *spillCore) round(n func() int, visit func(i int) error) error {
	defer c.publish()
	target, ok := c.over()
	if !ok {
		return nil
	}
	for steps := 2 * n(); steps > 0 && c.mem > target && n() > 0; steps-- {
		if c.hand >= n() {
			c.hand = 0
		}
		c.hand++
		if err := visit(c.hand - 1); err != nil {
			return err
		}
	}
	c.ended(target)
	return c.sp.Flush()
}

func (c *spillCore) publish() {
	c.pub[0].Store(c.mem)
	c.pub[1].Store(c.spilled)
	c.pub[2].Store(c.evicted)
	c.pub[3].Store(c.reloaded)
}

func (c *spillCore) stats() SpillStats {
	if c == nil {
		return SpillStats{}
	}
	return SpillStats{Budget: c.budget, Resident: c.pub[0].Load(), Spilled: c.pub[1].Load(),
		Evicted: c.pub[2].Load(), Reloaded: c.pub[3].Load()}
}

// startWalk starts a full capture's walk of the spilled keys, written to
// out: it opens a snapshot of the space at the barrier (none if nothing is
// spilled).
func (c *spillCore) startWalk(out StateWriter) error {
	if c.spilled == 0 {
		return nil
	}
	s, err := c.sp.Snapshot()
	if err != nil {
		return err
	}
	c.snap, c.out = s, out
	return nil
}

// walk hands up to budget (all if budget <= 0) entries of the walk in
// progress, past a header of that many bytes, to put, which writes them
// to the capture (out); it reports whether the walk is over (true without
// one). Every operator's ContinueSnapshot ends here, so a walk that is
// over is a capture written: the state it held is clean, and the next
// eviction round may spill it (the rounds are unstuck).
func (c *spillCore) walk(budget int, what string, header int, put func(out StateWriter, kg uint16, key, v []byte) error) (bool, error) {
	if c.snap != nil {
		if budget <= 0 {
			budget = int(^uint(0) >> 1) // all
		}
		done, err := c.snap.Each(budget, func(kg uint16, key, v []byte) error {
			if len(v) < header {
				return fmt.Errorf("spilled state of a key is %d bytes", len(v))
			}
			return put(c.out, kg, key, v[header:])
		})
		if err != nil {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		if !done {
			return false, nil
		}
		c.snap.Close()
		c.snap, c.out = nil, nil
	}
	c.stuck = 0
	return true, nil
}

// putValue is walk's put for spilled values that are the key's checkpoint
// value (namespace empty).
func putValue(out StateWriter, kg uint16, key, v []byte) error {
	out.Put(kg, key, nil, v)
	return nil
}

// putRecs is walk's put for the joins, whose spilled values are a key's
// rows (eachSpilledRec).
func putRecs(out StateWriter, kg uint16, key, v []byte) error {
	return eachSpilledRec(v, func(ns, value []byte) error {
		out.Put(kg, key, ns, value)
		return nil
	})
}

// close releases the snapshot and the space.
func (c *spillCore) close() {
	if c == nil {
		return
	}
	if c.snap != nil {
		c.snap.Close()
		c.snap = nil
	}
	c.sp.Close()
}

// closeHoles drops the nil holes of a clock's slice once they are more
// than 1,024 and half of it, renumbering the entries left with setIdx.
func closeHoles[E any](all []*E, holes *int, setIdx func(e *E, i int32)) []*E {
	if *holes <= 1024 || *holes <= len(all)/2 {
		return all
	}
	live := all[:0]
	for _, e := range all {
		if e != nil {
			setIdx(e, int32(len(live)))
			live = append(live, e)
		}
	}
	clear(all[len(live):])
	*holes = 0
	return live
}

// recsClean says whether no row of a join key (both inputs' lists)
// changed since the last capture or waits for the capture in progress: no
// copy-on-write mark.
func recsClean[R interface{ cowMarks() *uint8 }](recs *[2][]R) bool {
	for _, list := range recs {
		for _, r := range list {
			if *r.cowMarks()&(cowMarkA|cowMarkB) != 0 {
				return false
			}
		}
	}
	return true
}

// clockAdd puts e, whose clock position is *idx, at the end of a clock and
// adds n bytes to the estimate.
func clockAdd[E any](c *spillCore, all *[]*E, e *E, idx *int32, n int64) {
	*idx = int32(len(*all))
	*all = append(*all, e)
	c.mem += n
}

// clockDrop leaves a hole where e was on a clock and takes n bytes off the
// estimate; nothing if e is not on it.
func clockDrop[E any](c *spillCore, all []*E, holes *int, e *E, idx *int32, n int64) {
	if i := *idx; i < 0 || int(i) >= len(all) || all[i] != e {
		return
	}
	all[*idx] = nil
	*idx = -1
	*holes++
	c.mem -= n
}

// recsBytes estimates the rows of a join key (both inputs' lists).
func recsBytes[R interface{ base() *recBase }](recs *[2][]R) int64 {
	var n int64
	for _, list := range recs {
		for _, r := range list {
			n += recBytes(r.base().row)
		}
	}
	return n
}
