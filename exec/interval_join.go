// IntervalJoin: an event-time interval join on equality keys,
//
//	l JOIN r ON l.k = r.k AND r.ts - l.ts BETWEEN Lower AND Upper
//
// (written in SQL as r.ts BETWEEN l.ts + a AND l.ts + b, or with >= / <=),
// over two append-only inputs: input 0 (left) and 1 (right). The output is
// append-only: [left[:LeftWidth]..., right[:RightWidth]...], NULL for a
// missing side.
//
// A row is matched on arrival against the other side's stored rows of its
// key whose time is in range and that satisfy Residual; every match is
// emitted at once (+I). The row is then stored until the watermark shows
// that no row it could match can still arrive — rows arriving later have a
// time above the watermark wm:
//
//	left row l   can match right rows with r.ts ≤ l.ts + Upper: dropped once l.ts + Upper ≤ wm
//	right row r  can match left rows with l.ts ≤ r.ts - Lower:  dropped once r.ts - Lower ≤ wm
//
// so state is kept only as long as the bounds require. On a preserved
// (outer) side, a row that is dropped without ever having matched is
// emitted padded with NULLs at that moment (also +I), so outer interval
// joins stay append-only. Rows dropped on one watermark are emitted in the
// order of (drop time, arrival).
//
// Late rows. A row whose time is ≤ the watermark when it arrives is late:
// some rows it would match may already be dropped. It is counted
// (LateRows), handed to Late if set, and otherwise ignored (a late row
// with a NULL key too). A row on time whose key is NULL, or whose time is
// NULL, matches nothing: on a preserved side it is emitted padded at once,
// else dropped.
package exec

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// IntervalJoinConfig configures an IntervalJoin.
type IntervalJoinConfig struct {
	Kind                  JoinKind
	LeftKeys, RightKeys   []int
	NullSafe              []bool
	LeftWidth, RightWidth int
	Residual              expr.Expr
	// LeftTime and RightTime are the inputs' event-time columns
	// (TIMESTAMP); the join holds right.ts - left.ts in [Lower, Upper] (ms).
	LeftTime, RightTime int
	Lower, Upper        int64
	// Late is called with each late row and its input (it may keep the
	// row); nil drops late rows. They are counted either way.
	Late         func(input int, row types.Row) error
	MaxKeyGroups int
}

// IntervalJoin is the interval join operator. See the file comment.
type IntervalJoin struct {
	joinShape
	timeCol      [2]int
	lower, upper int64
	late         func(int, types.Row) error
	wm           int64
	lateRows     atomic.Int64

	entries map[string]*ijEntry
	expiry  []*ijRec // min-heap by (expire, id)
	nextID  uint64

	ck markCOW[stateRec] // join_state.go
	sp *ijSpill          // timedjoin_spill.go; nil without spilling
}

var (
	_ Operator         = (*IntervalJoin)(nil)
	_ WatermarkHandler = (*IntervalJoin)(nil)
)

type ijEntry struct {
	joinKeyRef
	recs [2][]*ijRec
	// spilling (timedjoin_spill.go)
	idx  int32 // position in the clock
	used bool  // used since the clock hand last passed
}

type ijRec struct {
	recBase
	expire  int64 // dropped once the watermark reaches it
	matched bool
	ent     *ijEntry
}

// NewIntervalJoin checks cfg and builds the operator.
func NewIntervalJoin(cfg IntervalJoinConfig) (*IntervalJoin, error) {
	sh, err := newJoinShape(cfg.Kind, cfg.LeftKeys, cfg.RightKeys, cfg.NullSafe, cfg.LeftWidth, cfg.RightWidth, cfg.Residual, cfg.MaxKeyGroups)
	if err != nil {
		return nil, fmt.Errorf("interval %w", err)
	}
	if cfg.LeftTime < 0 || cfg.RightTime < 0 {
		return nil, errors.New("interval join: both inputs need a time column")
	}
	for side, c := range []int{cfg.LeftTime, cfg.RightTime} {
		sh.need[side] = max(sh.need[side], c+1)
	}
	return &IntervalJoin{
		joinShape: sh,
		timeCol:   [2]int{cfg.LeftTime, cfg.RightTime},
		lower:     cfg.Lower,
		upper:     cfg.Upper,
		late:      cfg.Late,
		wm:        MinWatermark,
		entries:   make(map[string]*ijEntry),
		nextID:    1,
	}, nil
}

// LateRows is the number of late rows seen so far; safe from any goroutine.
func (j *IntervalJoin) LateRows() int64 { return j.lateRows.Load() }

// Process matches a batch of one input and stores its rows.
func (j *IntervalJoin) Process(input int, b *types.Batch, out Emitter) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("interval join: input %d does not exist", input)
	}
	if b.Kinds != nil {
		for _, k := range b.Kinds {
			if k != types.Insert {
				return fmt.Errorf("interval join over an updating input is not supported (got a %s row)", k)
			}
		}
	}
	for _, row := range b.Rows {
		if err := j.processRow(input, row); err != nil {
			return err
		}
		if err := j.flushIfFull(out); err != nil {
			return err
		}
	}
	if err := j.out.flush(out); err != nil {
		return err
	}
	return j.maybeEvict()
}

func (j *IntervalJoin) processRow(s int, row types.Row) error {
	o := 1 - s
	if len(row) < j.need[s] {
		return fmt.Errorf("interval join: input %d row has %d columns, want %d", s, len(row), j.need[s])
	}
	tv := row[j.timeCol[s]]
	if tv.Kind != types.Null && tv.I <= j.wm {
		j.lateRows.Add(1)
		if j.late != nil {
			if err := j.late(s, row); err != nil {
				return fmt.Errorf("interval join: late-row handler: %w", err)
			}
		}
		return nil
	}
	if tv.Kind == types.Null || j.nullKey(s, row) {
		if j.kind.Preserves(s) {
			j.padded(types.Insert, s, row)
		}
		return nil
	}
	ts := tv.I
	key := j.key(s, row)
	e := j.entries[string(key)]
	if j.sp != nil {
		var err error
		if e, err = j.spillLookup(e, key); err != nil {
			return err
		}
	}
	matched := false
	if e != nil {
		outerO := j.kind.Preserves(o)
		tc := j.timeCol[o]
		for _, m := range e.recs[o] {
			mt := m.row[tc].I
			d := mt - ts // right.ts - left.ts
			if s == 1 {
				d = ts - mt
			}
			if d < j.lower || d > j.upper {
				continue
			}
			l, r := pair(s, row, m.row)
			ok, err := j.match(l, r)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			j.joined(types.Insert, l, r)
			matched = true
			if outerO && !m.matched {
				j.markDirty(m)
				m.matched = true
			}
		}
	}
	expire := j.expireAt(s, ts)
	if expire <= j.wm {
		// every row it could match has arrived already
		if j.kind.Preserves(s) && !matched {
			j.padded(types.Insert, s, row)
		}
		return nil
	}
	if e == nil {
		e = &ijEntry{joinKeyRef: joinKeyRef{key: string(key), kg: j.keyGroup(s, row)}}
		j.entries[e.key] = e
		j.addEntry(e)
	}
	rec := &ijRec{recBase: recBase{row: row, id: j.nextID, side: uint8(s), ref: &e.joinKeyRef}, expire: expire, matched: matched, ent: e}
	j.nextID++
	e.recs[s] = append(e.recs[s], rec)
	j.recAdded(rec)
	j.pushExpiry(rec)
	j.markDirty(rec)
	return nil
}

// expireAt is the watermark at which a row of side s with time ts is
// dropped (see the file comment).
func (j *IntervalJoin) expireAt(s int, ts int64) int64 {
	if s == 0 {
		return ts + j.upper
	}
	return ts - j.lower
}

func ijLess(a, b *ijRec) bool {
	if a.expire != b.expire {
		return a.expire < b.expire
	}
	return a.id < b.id
}

func (j *IntervalJoin) pushExpiry(r *ijRec) {
	j.expiry = append(j.expiry, r)
	aggHeapUp(j.expiry, len(j.expiry)-1, ijLess)
}

// OnWatermark drops the rows that can no longer match, emitting the
// unmatched rows of a preserved side padded.
func (j *IntervalJoin) OnWatermark(wm int64, out Emitter) error {
	if wm <= j.wm {
		return nil
	}
	j.wm = wm
	for n := 1; ; n++ {
		if j.sp != nil {
			// a spilled key comes back when its earliest row is next, so
			// that rows are dropped in the same order as without spilling
			if err := j.reloadDue(wm, n); err != nil {
				return err
			}
		}
		if len(j.expiry) == 0 || j.expiry[0].expire > wm {
			break
		}
		r := j.expiry[0]
		j.expiry = aggHeapPop(j.expiry, ijLess)
		if j.sp != nil && r.st&recSpilled != 0 {
			j.sp.stale-- // the row's key was spilled: the live row, if any, is another record
			continue
		}
		if j.kind.Preserves(int(r.side)) && !r.matched {
			j.padded(types.Insert, int(r.side), r.row)
			if err := j.flushIfFull(out); err != nil {
				return err
			}
		}
		j.removeRec(r)
	}
	if err := j.out.flush(out); err != nil {
		return err
	}
	return j.maybeEvict()
}

// Finish drops (and pads) whatever is left.
func (j *IntervalJoin) Finish(out Emitter) error { return j.OnWatermark(MaxWatermark, out) }

func (j *IntervalJoin) removeRec(r *ijRec) {
	e := r.ent
	list := e.recs[r.side]
	for i, x := range list {
		if x == r {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			e.recs[r.side] = list[:len(list)-1]
			break
		}
	}
	j.recGone(r)
	j.forget(r)
	if len(e.recs[0]) == 0 && len(e.recs[1]) == 0 {
		delete(j.entries, e.key)
		j.dropEntry(e)
	}
}
