// OverAgg: aggregate functions OVER (PARTITION BY p ORDER BY o frame) —
// COUNT, SUM, AVG, MIN and MAX over the rows of a partition up to the
// current row.
//
// Output rows are the input row followed by one column per aggregate call.
//
// Frames (OverConfig.Preceding and Range):
//
//	ROWS BETWEEN n PRECEDING AND CURRENT ROW          the row and the n rows before it
//	ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW  every row up to the row
//	RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW every row up to the row and
//	                                                  its peers (rows equal to it
//	                                                  on every ORDER BY key)
//
// Row order: the ORDER BY keys (types.Compare: NULL first in ASC, last in
// DESC; a DOUBLE NaN after every number), then, among rows equal on every
// key, the rows' values column by column in a fixed internal order. The
// result therefore does not depend on the order in which rows arrive: rows
// that this order cannot tell apart are identical, and so are their
// results. (OverProcTime is the exception: its order is arrival.)
//
// Three modes:
//
// OverEventTime: ORDER BY the event-time column ASC over an append-only
// input, append-only output. A row waits in its partition until the
// watermark reaches its timestamp; from then on no row can come before it,
// so the partition's waiting rows up to the watermark are computed in
// order and go out as +I. A row at or below the watermark when it arrives
// is late: counted (LateRows), handed to Late, and dropped. Partitions
// fire in the order of their earliest waiting row.
//
// OverProcTime: ORDER BY PROCTIME() over an append-only input, append-only
// output: each row is computed when it arrives, after the rows that
// arrived before it, and goes out at once. RANGE frames are ROWS frames
// here (every row has its own instant).
//
// OverUpdating: any ORDER BY over any input, an updating result. Every row
// of a partition is kept, sorted. After each input batch (a mini-batch, as
// in GroupAgg and TopN) the rows whose frames the batch changed are
// computed again, and the output carries the difference, partition by
// partition in the order the batch first touched them: -D for rows that
// left, -U then +U for rows whose aggregates changed, +I for new rows;
// every retraction of a partition comes before its insertions. A -U/-D
// input row removes an equal row; one that matches none is ignored (as
// GroupAgg and TopN do). A change at a row affects the n rows after it
// (ROWS n PRECEDING) or every later row (UNBOUNDED).
//
// Aggregates are computed again from the frame's rows for a bounded frame
// (n+1 rows per output row; nothing drifts, whatever was retracted before)
// and with running accumulators for an unbounded frame in the append-only
// modes. OverUpdating recomputes an unbounded frame from the start of the
// partition up to each batch's last affected row.
//
// State, per partition (the appendGroupKey of the PARTITION BY columns):
// in the append-only modes the last n computed rows (bounded ROWS) or the
// running accumulators (unbounded), plus the rows waiting for the
// watermark; in OverUpdating every row with the aggregates last emitted
// for it. Rows are copies of input rows (input rows live in arenas that
// must not be pinned). over_state.go checkpoints it; over_spill.go keeps
// the part beyond a memory budget in a spill space.
package exec

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/weirsql/weir/sql/types"
)

// OverMode selects how an OverAgg orders and emits; see the file comment.
type OverMode uint8

const (
	OverEventTime OverMode = iota // event-time order, append-only
	OverProcTime                  // arrival order, append-only
	OverUpdating                  // any order, an updating result
)

func (m OverMode) String() string {
	switch m {
	case OverProcTime:
		return "processing-time"
	case OverUpdating:
		return "updating"
	}
	return "event-time"
}

// OverConfig configures an OverAgg.
type OverConfig struct {
	Mode      OverMode
	Width     int // input columns; the output has Width+len(Aggs)
	Partition []int
	Order     []SortKey
	// Preceding is n of ROWS BETWEEN n PRECEDING AND CURRENT ROW; -1 is
	// UNBOUNDED PRECEDING.
	Preceding int64
	// Range: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (peers are
	// in the frame); needs Preceding -1.
	Range bool
	Aggs  []AggCall // no DISTINCT
	// InputUpdating: the input carries -U/-D rows (OverUpdating only).
	InputUpdating bool
	// TimeCol is the event-time column (OverEventTime): the only ORDER BY
	// key, ascending.
	TimeCol int
	// Late is called with each late row (OverEventTime); nil drops them.
	// They are counted either way.
	Late func(types.Row) error
	// MaxKeyGroups is the job's number of key groups, for state keys
	// (default DefaultMaxKeyGroups).
	MaxKeyGroups int
}

// OverAgg is the OVER aggregation operator. See the file comment.
type OverAgg struct {
	mode      OverMode
	width     int
	part      []int
	order     []SortKey
	preceding int // -1: unbounded
	rng       bool
	updating  bool
	timeCol   int
	late      func(types.Row) error
	lateRows  atomic.Int64
	maxGroups int

	agg  *aggregator
	nAgg int
	accs []Accumulator // scratch for bounded frames
	vals []types.Value // scratch results

	parts  map[string]*overPart
	keyBuf []byte
	wm     int64
	timers overTimers  // OverEventTime: one per waiting row
	round  uint64      // OnWatermark calls that fired rows (overPart.fired)
	ready  []types.Row // scratch: a firing partition's rows

	// the current mini-batch (OverUpdating)
	touched []*overPart

	out aggOut
	ck  markCOW[*overPart] // over_state.go
	sp  *overSpill         // over_spill.go; nil without spilling
}

var (
	_ Operator         = (*OverAgg)(nil)
	_ WatermarkHandler = (*OverAgg)(nil)
)

type overPart struct {
	keyedPart // key, key group, checkpointing (markcow.go)
	// OverEventTime, OverProcTime: the last rows computed, oldest first
	// (bounded ROWS), or the running accumulators (unbounded)
	hist []types.Row
	accs []Accumulator
	// OverEventTime: rows waiting for the watermark, and the
	// OverAgg.round in which the partition last fired
	pending []types.Row
	fired   uint64
	// OverUpdating: every row, sorted (OverAgg.cmpFull), and during a
	// batch the rows it changed and the rows that left
	rows    []overEntry
	changed []types.Row
	gone    []overEntry
	touched bool
	// spilling (over_spill.go): the estimate of the partition's bytes, its
	// slot in the clock, its second chance, and whether it is a stub (its
	// state is in the spill space; timers still point to it)
	mem     int64
	idx     int32
	used    bool
	spilled bool
}

// overEntry is a row of an OverUpdating partition and the aggregates last
// emitted for it (nil: none yet).
type overEntry struct {
	row types.Row
	out []types.Value
}

// NewOverAgg checks cfg and builds the operator.
func NewOverAgg(cfg OverConfig) (*OverAgg, error) {
	if cfg.Width <= 0 {
		return nil, fmt.Errorf("over: the input has %d columns", cfg.Width)
	}
	col := func(c int, what string) error {
		if c < 0 || c >= cfg.Width {
			return fmt.Errorf("over: %s column %d is outside the input's %d columns", what, c, cfg.Width)
		}
		return nil
	}
	for _, c := range cfg.Partition {
		if err := col(c, "PARTITION BY"); err != nil {
			return nil, err
		}
	}
	if len(cfg.Order) == 0 {
		return nil, fmt.Errorf("over: ORDER BY is required")
	}
	for _, k := range cfg.Order {
		if err := col(k.Col, "ORDER BY"); err != nil {
			return nil, err
		}
	}
	if len(cfg.Aggs) == 0 {
		return nil, fmt.Errorf("over: no aggregate calls")
	}
	calls, err := resolveAggCalls(cfg.Aggs)
	if err != nil {
		return nil, fmt.Errorf("over: %w", err)
	}
	for i, c := range calls {
		if c.Distinct {
			return nil, fmt.Errorf("over: aggregate %d: DISTINCT is not supported", i)
		}
		if c.Arg >= cfg.Width {
			return nil, fmt.Errorf("over: aggregate %d: argument column %d is outside the input's %d columns", i, c.Arg, cfg.Width)
		}
	}
	switch {
	case cfg.Preceding < -1 || cfg.Preceding > math.MaxInt32:
		return nil, fmt.Errorf("over: %d PRECEDING is out of range", cfg.Preceding)
	case cfg.Range && cfg.Preceding != -1:
		return nil, fmt.Errorf("over: a RANGE frame must start at UNBOUNDED PRECEDING")
	}
	switch cfg.Mode {
	case OverEventTime:
		if err := col(cfg.TimeCol, "time"); err != nil {
			return nil, err
		}
		if len(cfg.Order) != 1 || cfg.Order[0].Col != cfg.TimeCol || cfg.Order[0].Desc {
			return nil, fmt.Errorf("over: an event-time OVER must order by the time column only, ascending")
		}
	case OverProcTime, OverUpdating:
	default:
		return nil, fmt.Errorf("over: unknown mode %d", cfg.Mode)
	}
	if cfg.InputUpdating && cfg.Mode != OverUpdating {
		return nil, fmt.Errorf("over: a %s OVER needs an append-only input", cfg.Mode)
	}
	o := &OverAgg{
		mode: cfg.Mode, width: cfg.Width,
		part: slices.Clone(cfg.Partition), order: slices.Clone(cfg.Order),
		preceding: int(cfg.Preceding), rng: cfg.Range && cfg.Mode != OverProcTime,
		updating: cfg.InputUpdating, timeCol: cfg.TimeCol, late: cfg.Late,
		maxGroups: cfg.MaxKeyGroups, wm: MinWatermark,
		agg: newAggregator(calls, false), nAgg: len(calls),
		parts: make(map[string]*overPart),
	}
	if o.maxGroups <= 0 {
		o.maxGroups = DefaultMaxKeyGroups
	}
	o.accs = make([]Accumulator, o.nAgg)
	o.vals = make([]types.Value, o.nAgg)
	limit := 0
	if o.mode != OverUpdating {
		limit = windowAggOutBatch
	}
	o.out.init(cfg.Width+o.nAgg, limit)
	return o, nil
}

// LateRows is the number of late rows seen so far; safe from any goroutine.
func (o *OverAgg) LateRows() int64 { return o.lateRows.Load() }

// Process implements Operator.
func (o *OverAgg) Process(_ int, b *types.Batch, out Emitter) error {
	for _, r := range b.Rows {
		if len(r) != o.width {
			return fmt.Errorf("over: got a row of %d columns, want %d", len(r), o.width)
		}
	}
	if !o.updating && b.Kinds != nil {
		for _, k := range b.Kinds {
			if k.IsRetract() {
				return fmt.Errorf("over: got a %s row on an input declared append-only", k)
			}
		}
	}
	switch o.mode {
	case OverEventTime:
		return o.processEventTime(b.Rows)
	case OverProcTime:
		return o.processProcTime(b.Rows, out)
	}
	return o.processUpdating(b, out)
}

// partition returns row's partition, creating (or reviving) it.
func (o *OverAgg) partition(row types.Row) *overPart {
	o.keyBuf = appendGroupKey(o.keyBuf[:0], row, o.part)
	p := o.parts[string(o.keyBuf)]
	switch {
	case p == nil:
		kg := uint16(types.KeyHash(row, o.part) % uint64(o.maxGroups))
		if o.sp != nil {
			if p = o.lookupSpilled(kg, o.keyBuf); p != nil {
				return p
			}
		}
		p = &overPart{keyedPart: keyedPart{key: string(o.keyBuf), kg: kg}}
		o.parts[p.key] = p
		o.change(p)
		if o.sp != nil {
			o.addPart(p)
		}
	case p.dead:
		o.change(p) // a captured deletion is written first
		p.dead = false
		if o.sp != nil {
			o.addPart(p)
		}
	}
	if o.sp != nil {
		p.used = true
	}
	return p
}

// change is called before p changes (copy on write for checkpoints).
func (o *OverAgg) change(p *overPart) { o.ck.changing(p) }

// ---- order ----

// overCompare is types.Compare with a DOUBLE NaN after every number (and
// equal to itself), so that sorting is consistent.
func overCompare(a, b types.Value) int {
	if a.Kind == types.Double && b.Kind == types.Double {
		x, y := a.F(), b.F()
		if xn, yn := x != x, y != y; xn || yn {
			switch {
			case xn && yn:
				return 0
			case xn:
				return 1
			}
			return -1
		}
	}
	return types.Compare(a, b)
}

// cmpOrder compares two rows on the ORDER BY keys.
func (o *OverAgg) cmpOrder(a, b types.Row) int {
	for _, k := range o.order {
		if c := overCompare(a[k.Col], b[k.Col]); c != 0 {
			if k.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

// cmpFull is the operator's total row order: the ORDER BY keys, then the
// values' representations column by column (any fixed order will do: rows
// it finds equal are identical).
func (o *OverAgg) cmpFull(a, b types.Row) int {
	if c := o.cmpOrder(a, b); c != 0 {
		return c
	}
	for i := range a {
		x, y := a[i], b[i]
		if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Scale, y.Scale); c != 0 {
			return c
		}
		if c := cmp.Compare(x.I, y.I); c != 0 {
			return c
		}
		if c := strings.Compare(x.S, y.S); c != 0 {
			return c
		}
	}
	return 0
}

// ---- computing ----

// emit appends row with the scratch results o.vals as kind k.
func (o *OverAgg) emit(k types.RowKind, row types.Row, vals []types.Value) {
	r := o.out.next(k)
	copy(r, row)
	copy(r[o.width:], vals)
}

// next computes row, the next row of p in order, in the append-only
// modes: its aggregates go to o.vals and the row joins p's history.
func (o *OverAgg) next(p *overPart, row types.Row) {
	if o.preceding < 0 {
		if p.accs == nil {
			p.accs = make([]Accumulator, o.nAgg)
			if o.sp != nil {
				o.sp.grow(p, o.accsBytes())
			}
		}
		o.agg.add(p.accs, row)
		o.agg.results(p.accs, o.vals)
		return
	}
	clear(o.accs)
	for _, r := range p.hist {
		o.agg.add(o.accs, r)
	}
	o.agg.add(o.accs, row)
	o.agg.results(o.accs, o.vals)
	switch n := len(p.hist); {
	case o.preceding == 0:
	case n < o.preceding:
		p.hist = append(p.hist, slices.Clone(row))
		if o.sp != nil {
			o.sp.grow(p, overRowBytes(row))
		}
	default:
		old := p.hist[0] // the oldest leaves; its memory takes the row
		if o.sp != nil {
			o.sp.grow(p, overRowBytes(row)-overRowBytes(old))
		}
		copy(p.hist, p.hist[1:])
		copy(old, row)
		p.hist[n-1] = old
	}
}

// ---- OverProcTime ----

func (o *OverAgg) processProcTime(rows []types.Row, out Emitter) error {
	for _, row := range rows {
		p := o.partition(row)
		o.change(p)
		o.next(p, row)
		o.emit(types.Insert, row, o.vals)
		if o.out.full() {
			if err := o.out.flush(out); err != nil {
				return err
			}
		}
	}
	if err := o.out.flush(out); err != nil {
		return err
	}
	return o.maybeEvict()
}

// ---- OverEventTime ----

func (o *OverAgg) processEventTime(rows []types.Row) error {
	for _, row := range rows {
		v := row[o.timeCol]
		if v.Kind == types.Null {
			return fmt.Errorf("over: NULL value in the event-time column")
		}
		if v.I <= o.wm {
			o.lateRows.Add(1)
			if o.late != nil {
				if err := o.late(row); err != nil {
					return err
				}
			}
			continue
		}
		p := o.partition(row)
		o.change(p)
		p.pending = append(p.pending, slices.Clone(row))
		heap.Push(&o.timers, overTimer{ts: v.I, p: p})
		if o.sp != nil {
			o.sp.grow(p, overPendingBytes(row))
		}
	}
	return o.maybeEvict()
}

// OnWatermark implements WatermarkHandler: in OverEventTime, the waiting
// rows the watermark reached are computed and go out.
func (o *OverAgg) OnWatermark(wm int64, out Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	if o.mode != OverEventTime {
		return nil
	}
	o.round++
	reloads := 0
	for len(o.timers) > 0 && o.timers[0].ts <= wm {
		p := heap.Pop(&o.timers).(overTimer).p
		if p.fired == o.round {
			continue // its rows up to wm went out with an earlier timer
		}
		p.fired = o.round
		reload := o.sp != nil && p.spilled
		if reload {
			// a due stub: its rows come back from the spill space
			if err := o.reloadStub(p); err != nil {
				return err
			}
		}
		if err := o.fire(p, wm, out); err != nil {
			return err
		}
		if reload {
			// an eviction round now and then, after the firing: it may
			// spill p again (it may be clean), and its timers up to wm
			// are spent (p.fired)
			if reloads++; reloads%1024 == 0 {
				if err := o.maybeEvict(); err != nil {
					return err
				}
			}
		}
	}
	if err := o.out.flush(out); err != nil {
		return err
	}
	return o.maybeEvict()
}

// fire computes p's waiting rows at or below wm, in order.
func (o *OverAgg) fire(p *overPart, wm int64, out Emitter) error {
	o.change(p)
	ready := o.ready[:0]
	keep := p.pending[:0]
	for _, r := range p.pending {
		if r[o.timeCol].I <= wm {
			ready = append(ready, r)
		} else {
			keep = append(keep, r)
		}
	}
	if o.sp != nil {
		var n int64
		for _, r := range ready {
			n -= overPendingBytes(r)
		}
		o.sp.grow(p, n)
	}
	clear(p.pending[len(keep):])
	p.pending = keep
	if len(p.pending) == 0 {
		p.pending = nil
	}
	slices.SortFunc(ready, o.cmpFull)
	for i := 0; i < len(ready); {
		j := i + 1
		if o.rng {
			// peers (equal timestamps) share the frame that holds them all
			for j < len(ready) && o.cmpOrder(ready[i], ready[j]) == 0 {
				j++
			}
			for _, r := range ready[i:j] {
				o.next(p, r)
			}
		} else {
			o.next(p, ready[i])
		}
		for _, r := range ready[i:j] {
			o.emit(types.Insert, r, o.vals)
			if o.out.full() {
				if err := o.out.flush(out); err != nil {
					return err
				}
			}
		}
		i = j
	}
	clear(ready)
	o.ready = ready[:0]
	return nil
}

// overTimer is a waiting row's timestamp.
type overTimer struct {
	ts int64
	p  *overPart
}

type overTimers []overTimer

func (h overTimers) Len() int           { return len(h) }
func (h overTimers) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h overTimers) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *overTimers) Push(x any)        { *h = append(*h, x.(overTimer)) }
func (h *overTimers) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = overTimer{}
	*h = old[:len(old)-1]
	return x
}

// ---- OverUpdating ----

func (o *OverAgg) processUpdating(b *types.Batch, out Emitter) error {
	for i, row := range b.Rows {
		if b.Kind(i).IsRetract() {
			o.keyBuf = appendGroupKey(o.keyBuf[:0], row, o.part)
			p := o.parts[string(o.keyBuf)]
			if p == nil && o.sp != nil {
				p = o.lookupSpilled(uint16(types.KeyHash(row, o.part)%uint64(o.maxGroups)), o.keyBuf)
			}
			if p == nil || p.dead {
				continue
			}
			if o.sp != nil {
				p.used = true
			}
			j := o.find(p, row)
			if j < 0 {
				continue // never added (upstream state expired): ignore
			}
			o.touch(p)
			e := p.rows[j]
			if e.out != nil {
				p.gone = append(p.gone, e)
			}
			p.changed = append(p.changed, e.row)
			p.rows = slices.Delete(p.rows, j, j+1)
			if o.sp != nil {
				o.sp.grow(p, -o.entryBytes(e.row))
			}
			continue
		}
		p := o.partition(row)
		o.touch(p)
		r := slices.Clone(row)
		pos := sort.Search(len(p.rows), func(k int) bool { return o.cmpFull(p.rows[k].row, r) > 0 })
		p.rows = slices.Insert(p.rows, pos, overEntry{row: r})
		p.changed = append(p.changed, r)
		if o.sp != nil {
			o.sp.grow(p, o.entryBytes(r))
		}
	}
	for _, p := range o.touched {
		o.emitDiff(p)
		if o.out.b != nil && len(o.out.b.Rows) >= windowAggOutBatch {
			if err := o.out.flush(out); err != nil {
				return err
			}
		}
	}
	clear(o.touched)
	o.touched = o.touched[:0]
	if err := o.out.flush(out); err != nil {
		return err
	}
	return o.maybeEvict()
}

// touch records that the batch changes p.
func (o *OverAgg) touch(p *overPart) {
	if p.touched {
		return
	}
	o.change(p)
	p.touched = true
	o.touched = append(o.touched, p)
}

// find returns the index of the last entry identical to row, or -1.
func (o *OverAgg) find(p *overPart, row types.Row) int {
	rows := p.rows
	hi := sort.Search(len(rows), func(k int) bool { return o.cmpFull(rows[k].row, row) > 0 })
	for j := hi - 1; j >= 0 && o.cmpFull(rows[j].row, row) == 0; j-- {
		if sameRow(rows[j].row, row) {
			return j
		}
	}
	return -1
}

// affected returns the ranges [from, to) of p's rows whose frames the
// batch's changes (p.changed) may have changed, sorted and disjoint. A
// changed row sits, or sat, among the rows equal to it in cmpFull (a gap
// when it left); a bounded frame reaches n rows past that, an unbounded
// one every later row, and under RANGE the row's peers too.
func (o *OverAgg) affected(p *overPart, dst [][2]int) [][2]int {
	n := len(p.rows)
	if o.preceding < 0 {
		from := n
		for _, c := range p.changed {
			var at int
			if o.rng {
				at = sort.Search(n, func(k int) bool { return o.cmpOrder(p.rows[k].row, c) >= 0 })
			} else {
				at = sort.Search(n, func(k int) bool { return o.cmpFull(p.rows[k].row, c) >= 0 })
			}
			from = min(from, at)
		}
		if from < n {
			dst = append(dst, [2]int{from, n})
		}
		return dst
	}
	start := len(dst)
	for _, c := range p.changed {
		lo := sort.Search(n, func(k int) bool { return o.cmpFull(p.rows[k].row, c) >= 0 })
		hi := lo
		for hi < n && o.cmpFull(p.rows[hi].row, c) == 0 {
			hi++
		}
		if to := min(n, hi+o.preceding+1); lo < to {
			dst = append(dst, [2]int{lo, to})
		}
	}
	rs := dst[start:]
	slices.SortFunc(rs, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	merged := rs[:0]
	for _, r := range rs {
		if k := len(merged) - 1; k >= 0 && r[0] <= merged[k][1] {
			merged[k][1] = max(merged[k][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	return dst[:start+len(merged)]
}

// compute sets o.vals to the aggregates of p.rows[i] (unbounded frames:
// o.accs must hold the rows before i, or before i's first peer under
// RANGE, which compute then advances).
func (o *OverAgg) compute(p *overPart, i int) {
	if o.preceding >= 0 {
		clear(o.accs)
		for _, e := range p.rows[max(0, i-o.preceding) : i+1] {
			o.agg.add(o.accs, e.row)
		}
		o.agg.results(o.accs, o.vals)
		return
	}
	if o.rng {
		if i > 0 && o.cmpOrder(p.rows[i-1].row, p.rows[i].row) == 0 {
			return // a peer of the row before: the same aggregates
		}
		j := i
		for ; j < len(p.rows) && o.cmpOrder(p.rows[i].row, p.rows[j].row) == 0; j++ {
			o.agg.add(o.accs, p.rows[j].row)
		}
		o.agg.results(o.accs, o.vals)
		return
	}
	o.agg.add(o.accs, p.rows[i].row)
	o.agg.results(o.accs, o.vals)
}

// emitDiff computes the rows of a touched partition that the batch may
// have changed and appends the difference to the output.
func (o *OverAgg) emitDiff(p *overPart) {
	p.touched = false
	ranges := o.affected(p, nil)
	if o.preceding < 0 && len(ranges) > 0 {
		// the running aggregates up to the first affected row (under
		// RANGE the first of its peers: affected starts there)
		clear(o.accs)
		for _, e := range p.rows[:ranges[0][0]] {
			o.agg.add(o.accs, e.row)
		}
	}
	for _, e := range p.gone {
		o.emit(types.Delete, e.row, e.out)
	}
	type change struct {
		i   int
		old []types.Value
	}
	var changes []change
	var added []int
	for _, r := range ranges {
		for i := r[0]; i < r[1]; i++ {
			o.compute(p, i)
			e := &p.rows[i]
			switch {
			case e.out == nil:
				e.out = slices.Clone(o.vals)
				added = append(added, i)
			case !slices.Equal(e.out, o.vals):
				changes = append(changes, change{i: i, old: e.out})
				e.out = slices.Clone(o.vals)
			}
		}
	}
	for _, c := range changes {
		o.emit(types.UpdateBefore, p.rows[c.i].row, c.old)
	}
	for _, c := range changes {
		e := &p.rows[c.i]
		o.emit(types.UpdateAfter, e.row, e.out)
	}
	for _, i := range added {
		e := &p.rows[i]
		o.emit(types.Insert, e.row, e.out)
	}
	clear(p.changed)
	p.changed = p.changed[:0]
	clear(p.gone)
	p.gone = p.gone[:0]
	if len(p.rows) == 0 {
		o.kill(p)
	}
}

// kill drops p's state: it is removed from the map now, or, while
// checkpoints track changes, once a capture has written its deletion.
func (o *OverAgg) kill(p *overPart) {
	o.change(p)
	p.rows, p.changed, p.gone = nil, nil, nil
	p.dead = true
	if o.sp != nil {
		o.dropPart(p)
	}
	if !o.ck.track {
		delete(o.parts, p.key)
	}
}

// recomputeAll sets every entry's emitted aggregates to what its frame
// gives (after a restore: the state holds the rows only, and each batch
// leaves every entry's aggregates equal to that).
func (o *OverAgg) recomputeAll(p *overPart) {
	clear(o.accs)
	for i := range p.rows {
		o.compute(p, i)
		p.rows[i].out = slices.Clone(o.vals)
	}
}
