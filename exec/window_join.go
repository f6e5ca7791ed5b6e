// WindowJoin: joins two windowed, append-only inputs per window and key,
// and emits each window's rows when the window closes (Flink's window
// join; Nexmark q8).
//
// Both inputs carry their window's end (window_end of a window aggregate,
// or of a TUMBLE table function's rows) in LeftEnd / RightEnd, and the
// equality keys include the two window_end columns (and usually
// window_start), so rows meet only within one window. A window's rows
// arrive before the watermark passes its end - 1 (the window operator
// upstream emits them just before forwarding that watermark), so the join
// buffers the rows of each open window and, once the watermark reaches
// end - 1, emits for every key (in the order keys first arrived) each
// left row (in arrival order) joined with each right row that satisfies
// Residual, then the unmatched rows of a preserved side padded with NULLs
// (left ones first), all +I, and drops the window. Windows close in order
// of their end.
//
// A row whose window has already closed (end - 1 ≤ watermark) is late:
// counted (LateRows), handed to Late if set, and otherwise dropped (a late
// row with a NULL key too). A row on time with a NULL key (not NullSafe),
// or with a NULL window end, matches nothing: on a preserved side it is
// emitted padded at once.
package exec

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// WindowJoinConfig configures a WindowJoin.
type WindowJoinConfig struct {
	Kind                  JoinKind
	LeftKeys, RightKeys   []int // including the window bounds
	NullSafe              []bool
	LeftWidth, RightWidth int
	Residual              expr.Expr
	// LeftEnd and RightEnd are the window_end columns (TIMESTAMP).
	LeftEnd, RightEnd int
	// Late is called with each late row and its input (it may keep the
	// row); nil drops late rows. They are counted either way.
	Late         func(input int, row types.Row) error
	MaxKeyGroups int
}

// WindowJoin is the window join operator. See the file comment.
type WindowJoin struct {
	joinShape
	endCol   [2]int
	late     func(int, types.Row) error
	wm       int64
	lateRows atomic.Int64

	wins    map[int64]*wjWindow
	pending []*wjWindow // min-heap by end
	nextID  uint64
	matched [2][]bool // scratch

	ck markCOW[stateRec] // join_state.go
	sp *wjSpill          // timedjoin_spill.go; nil without spilling
}

var (
	_ Operator         = (*WindowJoin)(nil)
	_ WatermarkHandler = (*WindowJoin)(nil)
)

type wjWindow struct {
	end     int64
	keys    map[string]*wjEntry
	order   []*wjEntry // nil where a key is spilled
	spilled int        // keys in the spill space
}

type wjEntry struct {
	joinKeyRef
	recs [2][]*wjRec
	win  *wjWindow
	ord  int32 // place in win.order
	// spilling (timedjoin_spill.go)
	idx  int32 // position in the clock
	used bool  // used since the clock hand last passed
}

type wjRec struct {
	recBase
}

// NewWindowJoin checks cfg and builds the operator.
func NewWindowJoin(cfg WindowJoinConfig) (*WindowJoin, error) {
	sh, err := newJoinShape(cfg.Kind, cfg.LeftKeys, cfg.RightKeys, cfg.NullSafe, cfg.LeftWidth, cfg.RightWidth, cfg.Residual, cfg.MaxKeyGroups)
	if err != nil {
		return nil, fmt.Errorf("window %w", err)
	}
	if cfg.LeftEnd < 0 || cfg.RightEnd < 0 {
		return nil, fmt.Errorf("window join: both inputs need a window_end column")
	}
	for side, c := range []int{cfg.LeftEnd, cfg.RightEnd} {
		sh.need[side] = max(sh.need[side], c+1)
	}
	return &WindowJoin{
		joinShape: sh,
		endCol:    [2]int{cfg.LeftEnd, cfg.RightEnd},
		late:      cfg.Late,
		wm:        MinWatermark,
		wins:      make(map[int64]*wjWindow),
		nextID:    1,
	}, nil
}

// LateRows is the number of late rows seen so far; safe from any goroutine.
func (j *WindowJoin) LateRows() int64 { return j.lateRows.Load() }

// Process buffers a batch of one input in its windows.
func (j *WindowJoin) Process(input int, b *types.Batch, out Emitter) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("window join: input %d does not exist", input)
	}
	if b.Kinds != nil {
		for _, k := range b.Kinds {
			if k != types.Insert {
				return fmt.Errorf("window join over an updating input is not supported (got a %s row)", k)
			}
		}
	}
	for _, row := range b.Rows {
		if err := j.add(input, row); err != nil {
			return err
		}
	}
	if err := j.out.flush(out); err != nil {
		return err
	}
	return j.maybeEvict()
}

func (j *WindowJoin) add(s int, row types.Row) error {
	if len(row) < j.need[s] {
		return fmt.Errorf("window join: input %d row has %d columns, want %d", s, len(row), j.need[s])
	}
	ev := row[j.endCol[s]]
	if ev.Kind != types.Null && ev.I-1 <= j.wm {
		j.lateRows.Add(1)
		if j.late != nil {
			if err := j.late(s, row); err != nil {
				return fmt.Errorf("window join: late-row handler: %w", err)
			}
		}
		return nil
	}
	if ev.Kind == types.Null || j.nullKey(s, row) {
		if j.kind.Preserves(s) {
			j.padded(types.Insert, s, row)
		}
		return nil
	}
	if _, err := j.store(s, row, ev.I, j.nextID, j.keyGroup(s, row), string(j.key(s, row))); err != nil {
		return err
	}
	j.nextID++
	return nil
}

// store adds a row to its window; key is the encoded join key.
func (j *WindowJoin) store(s int, row types.Row, end int64, id uint64, kg uint16, key string) (*wjRec, error) {
	w := j.wins[end]
	if w == nil {
		w = &wjWindow{end: end, keys: make(map[string]*wjEntry)}
		j.wins[end] = w
		j.pending = append(j.pending, w)
		aggHeapUp(j.pending, len(j.pending)-1, wjLess)
	}
	e := w.keys[key]
	if j.sp != nil {
		var err error
		if e, err = j.spillLookup(w, e, kg, key); err != nil {
			return nil, err
		}
	}
	if e == nil {
		e = &wjEntry{joinKeyRef: joinKeyRef{key: key, kg: kg}, win: w, ord: int32(len(w.order))}
		w.keys[key] = e
		w.order = append(w.order, e)
		j.addEntry(e)
	}
	rec := &wjRec{recBase{row: row, id: id, side: uint8(s), ref: &e.joinKeyRef}}
	e.recs[s] = append(e.recs[s], rec)
	j.recAdded(rec)
	j.markDirty(rec)
	return rec, nil
}

func wjLess(a, b *wjWindow) bool { return a.end < b.end }

// OnWatermark emits and drops every window whose end - 1 ≤ wm.
func (j *WindowJoin) OnWatermark(wm int64, out Emitter) error {
	if wm <= j.wm {
		return nil
	}
	j.wm = wm
	for len(j.pending) > 0 && j.pending[0].end-1 <= wm {
		w := j.pending[0]
		j.pending = aggHeapPop(j.pending, wjLess)
		delete(j.wins, w.end)
		if w.spilled > 0 {
			if err := j.fireSpilled(w, out); err != nil {
				return err
			}
			continue
		}
		for _, e := range w.order {
			if err := j.fire(e, out); err != nil {
				return err
			}
		}
	}
	if err := j.out.flush(out); err != nil {
		return err
	}
	return j.maybeEvict()
}

// Finish closes every window left.
func (j *WindowJoin) Finish(out Emitter) error { return j.OnWatermark(MaxWatermark, out) }

// fire emits one key's rows of a closing window and forgets them.
func (j *WindowJoin) fire(e *wjEntry, out Emitter) error {
	ls, rs := e.recs[0], e.recs[1]
	for s := range j.matched {
		j.matched[s] = slices.Grow(j.matched[s][:0], len(e.recs[s]))[:len(e.recs[s])]
		clear(j.matched[s])
	}
	for li, l := range ls {
		for ri, r := range rs {
			ok, err := j.match(l.row, r.row)
			if err != nil {
				return err
			}
			if ok {
				j.joined(types.Insert, l.row, r.row)
				j.matched[0][li], j.matched[1][ri] = true, true
			}
		}
		if err := j.flushIfFull(out); err != nil {
			return err
		}
	}
	for s := range e.recs {
		for i, r := range e.recs[s] {
			if j.kind.Preserves(s) && !j.matched[s][i] {
				j.padded(types.Insert, s, r.row)
			}
			j.recGone(r)
			j.forget(r)
		}
	}
	j.dropEntry(e)
	return j.flushIfFull(out)
}
