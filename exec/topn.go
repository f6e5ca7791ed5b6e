// TopN: ROW_NUMBER(), RANK() or DENSE_RANK() OVER (PARTITION BY p ORDER BY
// o) filtered to the rank numbers Lo..Hi — Top-N, and deduplication (Top-1
// on a time attribute).
//
// Output rows are the input row followed by one BIGINT column, the rank
// number, or NULL when RankNumber is false (the query does not use it; the
// planner projects the column away). Ranks count from 1 within each
// partition. ORDER BY compares with types.Compare (NULL sorts first in
// ASC, last in DESC). Rows equal on every ORDER BY key rank in arrival
// order, the earlier first, unless NewerFirst (deduplication keeping the
// last row): then the later first. RANK gives equal rows the same number
// and leaves gaps; DENSE_RANK leaves none.
//
// Three modes:
//
// TopNUnbounded: an updating result. After each input batch (a
// mini-batch, as in GroupAgg) every partition the batch touched is compared
// with what was emitted for it, and one output batch carries the
// difference, partition by partition in the order the batch first touched
// them: first the rows that left (-U when paired with an arriving row,
// else -D), then the rows that arrived (+U when paired, else +I). With the
// rank number, a row whose rank changed has left and arrived, and a
// leaving and an arriving row are paired when they have the same rank
// (for Top-1 deduplication: -U old, +U new); without it, a row that only
// moved is not a change, and leaving and arriving rows are paired in rank
// order. Retractions always come before the rows that replace them, so the
// changelog suits retracting and upserting consumers alike. A pair of
// identical rows (same values, same rank) is not emitted. Over an
// append-only input only the top rows are kept: a row that falls out can
// never come back. Over an updating input (InputUpdating) every row is
// kept, because a retraction of a top row promotes the next one; -U/-D
// rows remove an equal earlier row (the last of its equals in rank order);
// a retraction that matches no row is ignored, as GroupAgg does.
//
// TopNWindow: per window, append-only. The partition includes the window
// bounds of a windowed input (WindowEnd is its window_end column). Rows are
// held until the watermark reaches window_end - 1, then the rows ranked
// Lo..Hi go out as +I and the window's state is dropped. Windows fire in
// window_end order, partitions of one window in creation order. A row
// whose window has fired is late: counted (LateRows), handed to Late, and
// dropped.
//
// TopNKeepFirst: deduplication keeping the first row per partition,
// append-only: ROW_NUMBER() ... ORDER BY a time attribute ASC, rn = 1. On
// processing time (TimeCol < 0) the first row to arrive goes out at once
// and later rows of the partition are dropped. On event time the earliest
// row (ties: the earlier arrival) is held until the watermark reaches its
// timestamp; from then on no row can come before it, so it goes out as +I
// and is final. A row at or below the watermark is late, as for windows.
//
// State: a map from the partition key (appendGroupKey of the PARTITION BY
// columns) to the partition: its entries sorted by (ORDER BY keys, arrival
// sequence), each a copy of the input row (input rows live in arenas that
// must not be pinned) and its sequence number. topn_state.go checkpoints
// it; with a memory budget, topn_spill.go keeps part of it in a spill
// space.
package exec

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/weirsql/weir/sql/types"
)

// RankFunc is the ranking function of a Top-N.
type RankFunc uint8

const (
	RankRowNumber RankFunc = iota // ROW_NUMBER(): 1, 2, 3, 4
	RankRank                      // RANK(): 1, 2, 2, 4
	RankDense                     // DENSE_RANK(): 1, 2, 2, 3
)

func (f RankFunc) String() string {
	switch f {
	case RankRank:
		return "RANK"
	case RankDense:
		return "DENSE_RANK"
	}
	return "ROW_NUMBER"
}

// SortKey is one ORDER BY key: an input column and its direction.
type SortKey struct {
	Col  int
	Desc bool
}

// TopNMode selects how a TopN emits; see the file comment.
type TopNMode uint8

const (
	TopNUnbounded TopNMode = iota // an updating result
	TopNWindow                    // per window, emitted when the window closes
	TopNKeepFirst                 // first row per partition, append-only
)

func (m TopNMode) String() string {
	switch m {
	case TopNWindow:
		return "window"
	case TopNKeepFirst:
		return "keep-first"
	}
	return "unbounded"
}

// TopNConfig configures a TopN.
type TopNConfig struct {
	Mode      TopNMode
	Func      RankFunc
	Width     int // input columns; the output has Width+1
	Partition []int
	Order     []SortKey
	Lo, Hi    int64 // keep ranks Lo..Hi, 1 <= Lo <= Hi
	// RankNumber: output the rank number (else NULL in its column).
	RankNumber bool
	// InputUpdating: the input carries -U/-D rows (TopNUnbounded only).
	InputUpdating bool
	// NewerFirst: among rows equal on the ORDER BY keys the later ranks
	// first (deduplication keeping the last row).
	NewerFirst bool
	// WindowEnd is the window_end column (TopNWindow).
	WindowEnd int
	// TimeCol is the event-time column (TopNKeepFirst); -1 for processing
	// time (arrival order).
	TimeCol int
	// Late is called with each late row (TopNWindow, TopNKeepFirst on event
	// time); nil drops them. They are counted either way.
	Late func(types.Row) error
	// MaxKeyGroups is the job's number of key groups, for state keys
	// (default DefaultMaxKeyGroups).
	MaxKeyGroups int
}

// TopN is the Top-N / deduplication operator. See the file comment.
type TopN struct {
	mode       TopNMode
	fn         RankFunc
	width      int
	part       []int
	order      []SortKey
	lo, hi     int64
	rankNum    bool
	updating   bool
	newerFirst bool
	endCol     int
	timeCol    int
	late       func(types.Row) error
	lateRows   atomic.Int64
	maxGroups  int

	parts  map[string]*topnPart
	keyBuf []byte
	seq    uint64 // arrival sequence of the next stored row
	wm     int64

	// the current mini-batch (TopNUnbounded)
	batch   uint64
	touched []*topnPart
	old     []topnOut // the touched partitions' output before the batch
	added   []topnOut
	removed []topnOut

	// TopNWindow: open windows by window_end, and a min-heap of their ends
	windows map[int64][]*topnPart
	ends    int64Heap
	// TopNKeepFirst on event time: held first rows, earliest first
	timers topnTimers

	// stored rows that left the state: reusable (free), and released by
	// the current batch (freeing; see release)
	free, freeing []types.Row

	out aggOut
	ck  markCOW[*topnPart] // topn_state.go
	sp  *topnSpill         // nil unless spilling (topn_spill.go)
}

var (
	_ Operator         = (*TopN)(nil)
	_ WatermarkHandler = (*TopN)(nil)
)

type topnEntry struct {
	row types.Row
	seq uint64
	// diff bookkeeping: mark is the batch in which the entry was in its
	// partition's output before the batch, old its index in TopN.old
	mark uint64
	old  int32
}

type topnPart struct {
	keyedPart             // key, key group, checkpointing (markcow.go)
	rows      []topnEntry // sorted: see TopN.before
	end       int64       // TopNWindow: the window_end of the partition
	// emitted: TopNKeepFirst's first row went out (rows is then empty)
	emitted bool
	touched bool
	oldFrom int32 // TopN.old[oldFrom:oldTo] is the output before the batch
	oldTo   int32
	slot    int32 // TopNWindow: the partition's index in its window's list
	// spilling (topn_spill.go): the clock's index, creation order, used
	// since the clock hand passed, moved to the spill space
	idx     int32
	born    uint64
	ref     bool
	evicted bool
}

// topnOut is one output row of a partition: a stored row and its rank.
type topnOut struct {
	row  types.Row
	rank int64
	kept bool // still in the output after the batch, at the same rank
}

// NewTopN checks cfg and builds the operator.
func NewTopN(cfg TopNConfig) (*TopN, error) {
	if cfg.Width <= 0 {
		return nil, fmt.Errorf("top-n: the input has %d columns", cfg.Width)
	}
	col := func(c int, what string) error {
		if c < 0 || c >= cfg.Width {
			return fmt.Errorf("top-n: %s column %d is outside the input's %d columns", what, c, cfg.Width)
		}
		return nil
	}
	for _, c := range cfg.Partition {
		if err := col(c, "PARTITION BY"); err != nil {
			return nil, err
		}
	}
	if len(cfg.Order) == 0 {
		return nil, fmt.Errorf("top-n: ORDER BY is required")
	}
	for _, k := range cfg.Order {
		if err := col(k.Col, "ORDER BY"); err != nil {
			return nil, err
		}
	}
	if cfg.Lo < 1 || cfg.Hi < cfg.Lo {
		return nil, fmt.Errorf("top-n: rank range %d..%d is empty or starts below 1", cfg.Lo, cfg.Hi)
	}
	if cfg.Func > RankDense {
		return nil, fmt.Errorf("top-n: unknown rank function %d", cfg.Func)
	}
	switch cfg.Mode {
	case TopNUnbounded:
	case TopNWindow:
		if err := col(cfg.WindowEnd, "window_end"); err != nil {
			return nil, err
		}
		if !slices.Contains(cfg.Partition, cfg.WindowEnd) {
			return nil, fmt.Errorf("top-n: a window Top-N must partition by window_end")
		}
	case TopNKeepFirst:
		if cfg.Func != RankRowNumber || cfg.Lo != 1 || cfg.Hi != 1 {
			return nil, fmt.Errorf("top-n: keep-first deduplication is ROW_NUMBER with rank 1 only")
		}
		if cfg.TimeCol >= 0 {
			if err := col(cfg.TimeCol, "time"); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("top-n: unknown mode %d", cfg.Mode)
	}
	if cfg.InputUpdating && cfg.Mode != TopNUnbounded {
		return nil, fmt.Errorf("top-n: a %s Top-N needs an append-only input", cfg.Mode)
	}
	t := &TopN{
		mode: cfg.Mode, fn: cfg.Func, width: cfg.Width,
		part: slices.Clone(cfg.Partition), order: slices.Clone(cfg.Order),
		lo: cfg.Lo, hi: cfg.Hi, rankNum: cfg.RankNumber, updating: cfg.InputUpdating,
		newerFirst: cfg.NewerFirst, endCol: cfg.WindowEnd, timeCol: cfg.TimeCol,
		late: cfg.Late, maxGroups: cfg.MaxKeyGroups, wm: MinWatermark,
		parts: make(map[string]*topnPart),
	}
	if t.maxGroups <= 0 {
		t.maxGroups = DefaultMaxKeyGroups
	}
	if t.mode == TopNWindow {
		t.windows = make(map[int64][]*topnPart)
	}
	limit := 0
	if t.mode != TopNUnbounded {
		limit = windowAggOutBatch
	}
	t.out.init(cfg.Width+1, limit)
	return t, nil
}

// LateRows is the number of late rows seen so far; safe from any goroutine.
func (t *TopN) LateRows() int64 { return t.lateRows.Load() }

// Process implements Operator.
func (t *TopN) Process(_ int, b *types.Batch, out Emitter) error {
	err := t.process(b, out)
	if t.sp != nil && err == nil {
		err = t.maybeEvict()
	}
	return err
}

func (t *TopN) process(b *types.Batch, out Emitter) error {
	for _, r := range b.Rows {
		if len(r) != t.width {
			return fmt.Errorf("top-n: got a row of %d columns, want %d", len(r), t.width)
		}
	}
	if !t.updating && b.Kinds != nil {
		for _, k := range b.Kinds {
			if k.IsRetract() {
				return fmt.Errorf("top-n: got a %s row on an input declared append-only", k)
			}
		}
	}
	switch t.mode {
	case TopNWindow:
		return t.processWindow(b.Rows)
	case TopNKeepFirst:
		return t.processFirst(b.Rows, out)
	}
	t.batch++
	for i, row := range b.Rows {
		t.keyBuf = appendGroupKey(t.keyBuf[:0], row, t.part)
		p := t.parts[string(t.keyBuf)]
		if t.sp != nil {
			var err error
			if p, err = t.spilledPart(p, row); err != nil {
				return err
			}
		}
		if b.Kind(i).IsRetract() {
			if p == nil || p.dead {
				continue
			}
			j := t.find(p, row)
			if j < 0 {
				continue // never added (upstream state expired): ignore
			}
			t.touch(p)
			t.release(p.rows[j].row)
			p.rows = slices.Delete(p.rows, j, j+1)
			continue
		}
		switch {
		case p == nil:
			p = t.newPart(row)
		case p.dead:
			t.revive(p)
		}
		pos := t.insertPos(p, row)
		if !t.updating && t.rankAt(p, pos, row) > t.hi {
			continue // below the top: it can never enter
		}
		t.touch(p)
		t.insert(p, pos, row)
		if !t.updating {
			t.truncate(p)
		}
	}
	if len(t.touched) > 0 {
		t.out.reserve(2 * len(t.touched))
	}
	for _, p := range t.touched {
		t.emitDiff(p)
	}
	clear(t.touched)
	t.touched = t.touched[:0]
	clear(t.old)
	t.old = t.old[:0]
	t.recycle()
	return t.out.flush(out)
}

func (t *TopN) newPart(row types.Row) *topnPart {
	p := &topnPart{keyedPart: keyedPart{key: string(t.keyBuf), kg: t.keyGroup(row)}}
	t.parts[p.key] = p
	t.ck.changing(p)
	if t.sp != nil {
		t.spillAdd(p, true)
	}
	return p
}

// keyGroup is the key group of row's partition.
func (t *TopN) keyGroup(row types.Row) uint16 {
	return uint16(types.KeyHash(row, t.part) % uint64(t.maxGroups))
}

// change is called before p changes (copy on write for checkpoints).
func (t *TopN) change(p *topnPart) { t.ck.changing(p) }

// touch records, the first time a batch changes p, what p's output is.
func (t *TopN) touch(p *topnPart) {
	if p.touched {
		return
	}
	t.change(p)
	p.touched = true
	t.touched = append(t.touched, p)
	p.oldFrom = int32(len(t.old))
	t.eachRank(p, func(i int, rank int64) {
		e := &p.rows[i]
		e.mark, e.old = t.batch, int32(len(t.old))
		t.old = append(t.old, topnOut{row: e.row, rank: rank})
	})
	p.oldTo = int32(len(t.old))
}

// emitDiff appends the change of one touched partition to the output.
func (t *TopN) emitDiff(p *topnPart) {
	p.touched = false
	added := t.added[:0]
	t.eachRank(p, func(i int, rank int64) {
		e := &p.rows[i]
		if e.mark == t.batch {
			if o := &t.old[e.old]; !t.rankNum || o.rank == rank {
				o.kept = true
				return
			}
		}
		added = append(added, topnOut{row: e.row, rank: rank})
	})
	removed := t.removed[:0]
	for _, o := range t.old[p.oldFrom:p.oldTo] {
		if !o.kept {
			removed = append(removed, o)
		}
	}
	// pair leaving with arriving rows: by rank with the rank number, else
	// in rank order; identical pairs are no change
	pairedR := 0 // removed[:pairedR] are paired with added[:pairedR] (after reordering)
	if t.rankNum {
		// both lists are in rank order: move equal-rank pairs to the front
		i, j, n := 0, 0, 0
		for i < len(removed) && j < len(added) {
			switch {
			case removed[i].rank < added[j].rank:
				i++
			case removed[i].rank > added[j].rank:
				j++
			default:
				removed[n], removed[i] = removed[i], removed[n]
				added[n], added[j] = added[j], added[n]
				n, i, j = n+1, i+1, j+1
			}
		}
		pairedR = n
	} else {
		pairedR = min(len(removed), len(added))
	}
	same := func(k int) bool {
		return sameRow(removed[k].row, added[k].row) && (!t.rankNum || removed[k].rank == added[k].rank)
	}
	for k, o := range removed {
		switch {
		case k >= pairedR:
			t.emitRow(types.Delete, o.row, o.rank)
		case !same(k):
			t.emitRow(types.UpdateBefore, o.row, o.rank)
		}
	}
	for k, a := range added {
		switch {
		case k >= pairedR:
			t.emitRow(types.Insert, a.row, a.rank)
		case !same(k):
			t.emitRow(types.UpdateAfter, a.row, a.rank)
		}
	}
	clear(added)
	clear(removed)
	t.added, t.removed = added[:0], removed[:0]
	if len(p.rows) == 0 {
		t.kill(p)
	}
}

// sameRow reports whether two rows hold identical values.
func sameRow(a, b types.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (t *TopN) emitRow(k types.RowKind, row types.Row, rank int64) {
	r := t.out.next(k)
	copy(r, row)
	if t.rankNum {
		r[t.width] = types.BigIntValue(rank)
	}
}

// kill drops p's state: it is removed from the map now, or, while
// checkpoints track changes, once a capture has written its deletion.
func (t *TopN) kill(p *topnPart) {
	t.change(p)
	for _, e := range p.rows {
		t.release(e.row)
	}
	p.rows = nil
	p.dead = true
	if !t.ck.track {
		delete(t.parts, p.key)
		if t.sp != nil {
			t.spillDrop(p)
		}
	}
}

// revive reuses a dead partition for a new row of its key.
func (t *TopN) revive(p *topnPart) {
	t.change(p) // a captured deletion is written first
	p.dead, p.emitted, p.rows = false, false, nil
}

// cmpRows compares two rows on the ORDER BY keys.
func (t *TopN) cmpRows(a, b types.Row) int {
	for _, k := range t.order {
		if c := types.Compare(a[k.Col], b[k.Col]); c != 0 {
			if k.Desc {
				return -c
			}
			return c
		}
	}
	return 0
}

// insertPos is where a new row goes: after its equals, or before them
// with NewerFirst.
func (t *TopN) insertPos(p *topnPart, row types.Row) int {
	rows := p.rows
	if n := len(rows); n > 0 {
		// fast path: at or beyond the end (most rows of a Top-N)
		if c := t.cmpRows(row, rows[n-1].row); c > 0 || c == 0 && !t.newerFirst {
			return n
		}
	}
	if t.newerFirst {
		return sort.Search(len(rows), func(i int) bool { return t.cmpRows(rows[i].row, row) >= 0 })
	}
	return sort.Search(len(rows), func(i int) bool { return t.cmpRows(rows[i].row, row) > 0 })
}

// rankAt is the rank a new row would get at position pos.
func (t *TopN) rankAt(p *topnPart, pos int, row types.Row) int64 {
	switch t.fn {
	case RankRank:
		j := pos
		for j > 0 && t.cmpRows(p.rows[j-1].row, row) == 0 {
			j--
		}
		if j < pos {
			return t.rankOf(p, j)
		}
		return int64(pos) + 1
	case RankDense:
		if pos == 0 {
			return 1
		}
		r := t.rankOf(p, pos-1)
		if t.cmpRows(p.rows[pos-1].row, row) != 0 {
			r++
		}
		return r
	}
	return int64(pos) + 1
}

// rankOf is the rank of the entry at i.
func (t *TopN) rankOf(p *topnPart, i int) int64 {
	switch t.fn {
	case RankRank:
		for i > 0 && t.cmpRows(p.rows[i-1].row, p.rows[i].row) == 0 {
			i--
		}
		return int64(i) + 1
	case RankDense:
		r := int64(1)
		for j := 1; j <= i; j++ {
			if t.cmpRows(p.rows[j-1].row, p.rows[j].row) != 0 {
				r++
			}
		}
		return r
	}
	return int64(i) + 1
}

// ranks calls fn with each entry's index and rank, in order, while fn
// returns true and the rank is at most Hi.
func (t *TopN) ranks(p *topnPart, fn func(i int, rank int64) bool) {
	var rank int64
	for i := range p.rows {
		switch {
		case t.fn == RankRowNumber || i == 0:
			rank = int64(i) + 1
		case t.cmpRows(p.rows[i-1].row, p.rows[i].row) == 0:
		case t.fn == RankRank:
			rank = int64(i) + 1
		default:
			rank++
		}
		if rank > t.hi || !fn(i, rank) {
			return
		}
	}
}

// eachRank calls fn for the entries ranked Lo..Hi, in order.
func (t *TopN) eachRank(p *topnPart, fn func(i int, rank int64)) {
	if t.fn == RankRowNumber { // straight to Lo
		for i := t.lo - 1; i < t.hi && i < int64(len(p.rows)); i++ {
			fn(int(i), i+1)
		}
		return
	}
	t.ranks(p, func(i int, rank int64) bool {
		if rank >= t.lo {
			fn(i, rank)
		}
		return true
	})
}

// keepCount is the number of leading entries ranked at most Hi.
func (t *TopN) keepCount(p *topnPart) int {
	if t.fn == RankRowNumber {
		return int(min(int64(len(p.rows)), t.hi))
	}
	n := 0
	t.ranks(p, func(i int, _ int64) bool { n = i + 1; return true })
	return n
}

// truncate drops the entries ranked below Hi (append-only input: they
// can never come back).
func (t *TopN) truncate(p *topnPart) {
	n := t.keepCount(p)
	for _, e := range p.rows[n:] {
		t.release(e.row)
	}
	clear(p.rows[n:])
	p.rows = p.rows[:n]
}

// insert stores a copy of row at pos.
func (t *TopN) insert(p *topnPart, pos int, row types.Row) {
	e := topnEntry{row: t.cloneRow(row), seq: t.seq}
	t.seq++
	switch n := len(p.rows); {
	case !t.updating && t.fn == RankRowNumber && int64(n) >= t.hi:
		// full: shift in place, the last row leaves
		t.release(p.rows[n-1].row)
		copy(p.rows[pos+1:], p.rows[pos:n-1])
		p.rows[pos] = e
	case p.rows == nil && !t.updating:
		p.rows = make([]topnEntry, 1, min(t.hi, 16))
		p.rows[0] = e
	default:
		p.rows = slices.Insert(p.rows, pos, e)
	}
}

// cloneRow copies an input row (it lives in an arena that must not be
// pinned), into a row the operator released earlier when there is one.
func (t *TopN) cloneRow(row types.Row) types.Row {
	if t.sp != nil {
		t.sp.mem += topnRowBytes(row)
	}
	if n := len(t.free); n > 0 {
		r := t.free[n-1]
		t.free = t.free[:n-1]
		copy(r, row)
		return r
	}
	return slices.Clone(row)
}

// release hands back a stored row that left the state. It may still be in
// this batch's diff lists, so it is reused only from the next batch on
// (recycle).
func (t *TopN) release(r types.Row) {
	if t.sp != nil {
		t.sp.mem -= topnRowBytes(r)
	}
	if len(t.freeing) < maxFreeRows {
		t.freeing = append(t.freeing, r)
	}
}

// maxFreeRows bounds the rows kept for reuse.
const maxFreeRows = 4096

// recycle makes the rows released by a finished batch reusable.
func (t *TopN) recycle() {
	for _, r := range t.freeing {
		if len(t.free) >= maxFreeRows {
			break
		}
		clear(r)
		t.free = append(t.free, r)
	}
	clear(t.freeing)
	t.freeing = t.freeing[:0]
}

// find returns the index of the last entry equal to row, or -1.
func (t *TopN) find(p *topnPart, row types.Row) int {
	rows := p.rows
	lo := sort.Search(len(rows), func(i int) bool { return t.cmpRows(rows[i].row, row) >= 0 })
	hi := lo
	for hi < len(rows) && t.cmpRows(rows[hi].row, row) == 0 {
		hi++
	}
	for j := hi - 1; j >= lo; j-- {
		if sameRow(rows[j].row, row) {
			return j
		}
	}
	return -1
}

func (t *TopN) onLate(row types.Row) error {
	t.lateRows.Add(1)
	if t.late != nil {
		return t.late(row)
	}
	return nil
}

// ---- TopNWindow ----

func (t *TopN) processWindow(rows []types.Row) error {
	for _, row := range rows {
		ev := row[t.endCol]
		if ev.Kind == types.Null {
			return fmt.Errorf("window top-n: NULL value in the window_end column")
		}
		if ev.I-1 <= t.wm {
			if err := t.onLate(row); err != nil {
				return err
			}
			continue
		}
		t.keyBuf = appendGroupKey(t.keyBuf[:0], row, t.part)
		p := t.parts[string(t.keyBuf)]
		if t.sp != nil {
			var err error
			if p, err = t.spilledPart(p, row); err != nil {
				return err
			}
		}
		switch {
		case p == nil:
			p = t.newPart(row)
			t.openWindow(p, ev.I)
		case p.dead:
			t.revive(p)
			t.openWindow(p, ev.I)
		}
		pos := t.insertPos(p, row)
		if t.rankAt(p, pos, row) > t.hi {
			continue
		}
		t.change(p)
		t.insert(p, pos, row)
		t.truncate(p)
	}
	t.recycle()
	return nil
}

func (t *TopN) openWindow(p *topnPart, end int64) {
	p.end = end
	ps, ok := t.windows[end]
	if !ok {
		heap.Push(&t.ends, end)
	}
	p.slot = int32(len(ps))
	t.windows[end] = append(ps, p)
}

// OnWatermark implements WatermarkHandler: windows whose end the watermark
// reached fire; held first rows the watermark reached go out.
func (t *TopN) OnWatermark(wm int64, out Emitter) error {
	if wm <= t.wm {
		return nil
	}
	err := t.onWatermark(wm, out)
	if t.sp != nil && err == nil {
		err = t.maybeEvict()
	}
	return err
}

func (t *TopN) onWatermark(wm int64, out Emitter) error {
	t.wm = wm
	switch t.mode {
	case TopNWindow:
		for len(t.ends) > 0 && t.ends[0]-1 <= wm {
			end := heap.Pop(&t.ends).(int64)
			ps := t.windows[end]
			delete(t.windows, end)
			if t.sp != nil && t.sp.wins[end] != nil {
				if err := t.fireSpilled(end, ps, out); err != nil {
					return err
				}
				continue
			}
			for _, p := range ps {
				if err := t.firePart(p, out); err != nil {
					return err
				}
			}
		}
	case TopNKeepFirst:
		for len(t.timers) > 0 && t.timers[0].ts <= wm {
			tm := heap.Pop(&t.timers).(topnTimer)
			p := tm.p
			if p.evicted { // spilled since: the partition of its key now
				var err error
				if p, err = t.evictedPart(p); err != nil {
					return err
				}
			}
			if p.dead || p.emitted || len(p.rows) == 0 || p.rows[0].seq != tm.seq {
				continue // replaced by an earlier row
			}
			t.change(p)
			t.emitRow(types.Insert, p.rows[0].row, 1)
			t.release(p.rows[0].row)
			p.rows, p.emitted = nil, true
			if t.out.full() {
				if err := t.out.flush(out); err != nil {
					return err
				}
			}
		}
	}
	t.recycle()
	return t.out.flush(out)
}

// firePart emits the rows of a window partition ranked Lo..Hi and drops it.
func (t *TopN) firePart(p *topnPart, out Emitter) error {
	var err error
	t.eachRank(p, func(i int, rank int64) {
		if err == nil {
			t.emitRow(types.Insert, p.rows[i].row, rank)
			if t.out.full() {
				err = t.out.flush(out)
			}
		}
	})
	if err != nil {
		return err
	}
	t.kill(p)
	return nil
}

// ---- TopNKeepFirst ----

func (t *TopN) processFirst(rows []types.Row, out Emitter) error {
	for _, row := range rows {
		var ts int64
		if t.timeCol >= 0 {
			v := row[t.timeCol]
			if v.Kind == types.Null {
				return fmt.Errorf("deduplication: NULL value in the event-time column")
			}
			ts = v.I
			if ts <= t.wm {
				if err := t.onLate(row); err != nil {
					return err
				}
				continue
			}
		}
		t.keyBuf = appendGroupKey(t.keyBuf[:0], row, t.part)
		p := t.parts[string(t.keyBuf)]
		if t.sp != nil {
			var err error
			if p, err = t.spilledPart(p, row); err != nil {
				return err
			}
		}
		if p == nil {
			p = t.newPart(row)
		}
		if p.emitted {
			continue
		}
		if t.timeCol < 0 {
			t.change(p)
			p.emitted = true
			t.emitRow(types.Insert, row, 1)
			if t.out.full() {
				if err := t.out.flush(out); err != nil {
					return err
				}
			}
			continue
		}
		if len(p.rows) > 0 && ts >= p.rows[0].row[t.timeCol].I {
			continue // not earlier than the held row
		}
		t.change(p)
		if len(p.rows) > 0 {
			t.release(p.rows[0].row)
		}
		p.rows = append(p.rows[:0], topnEntry{row: t.cloneRow(row), seq: t.seq})
		heap.Push(&t.timers, topnTimer{ts: ts, seq: t.seq, p: p})
		t.seq++
	}
	t.recycle()
	return t.out.flush(out)
}

// topnTimer is a held first row waiting for the watermark; stale when the
// partition's held row has another sequence number.
type topnTimer struct {
	ts  int64
	seq uint64
	p   *topnPart
}

type topnTimers []topnTimer

func (h topnTimers) Len() int { return len(h) }
func (h topnTimers) Less(i, j int) bool {
	return h[i].ts < h[j].ts || h[i].ts == h[j].ts && h[i].seq < h[j].seq
}
func (h topnTimers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *topnTimers) Push(x any)   { *h = append(*h, x.(topnTimer)) }
func (h *topnTimers) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = topnTimer{}
	*h = old[:len(old)-1]
	return x
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
