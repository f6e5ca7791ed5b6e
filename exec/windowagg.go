// WindowAgg: keyed aggregation over event-time windows (TUMBLE, HOP,
// CUMULATE, SESSION). Input is append-only; output is append-only.
//
// Output rows are [keys..., window_start TIMESTAMP(3), window_end
// TIMESTAMP(3), aggs...], all +I, emitted from OnWatermark (and Finish) in
// batches of at most windowAggOutBatch rows.
//
// Firing. A window fires when the watermark reaches its max timestamp
// (End-1 ≤ wm): one row per key, then its state is dropped. Finish fires
// everything left (the runtime sends MaxWatermark first; both are
// idempotent). When several windows fire on one watermark the rows come in
// (window_end, window_start, creation) order, where creation is the order in
// which the (key, window) group was first created by an input row; a merged
// session takes the earliest creation of its parts. Because a window can
// only receive rows before it fires, the whole output is also ordered by
// window_end across watermarks.
//
// Late rows. A row is late when every window it belongs to has fired
// (End-1 ≤ the current watermark); for HOP and CUMULATE a row with some
// windows still open is added to those only. A session row is late when its
// own window [ts, ts+Gap) has fired. Late rows are counted (LateRows) and
// handed to Late. A HOP row falling between windows (Size < Slide) belongs
// to no window: it is neither aggregated nor late. A NULL time value is an
// error.
//
// State layout, chosen for the hot path. Group keys are interned once per
// distinct key while any of the key's windows is open: the key bytes (a
// compact encoding, appendGroupKey, decoded again for output) map to a
// small integer id with a reference count. Each open window is a
// bucket holding id → group index and one flat []Accumulator for all its
// groups; each key caches its group in the bucket it last touched, so a
// steady tumbling stream costs one string-keyed map lookup per row and no
// allocation. HOP and CUMULATE get the same fast path through a cache of
// "ways" entries (the number of windows a row belongs to, capped at
// maxWindowWays): a window's way is its position among the concurrent
// windows, and both the open bucket and each key's group are cached per
// way; a miss falls back to the maps. Buckets are kept in a min-heap by
// (End, Start) and recycled when they fire. Sessions are kept per key id as a sorted slice of
// disjoint windows plus a timer min-heap of (End, session id); timers are
// lazy: a session that grew is re-queued when its stale timer pops, and
// timers of sessions merged away are skipped.
package exec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/weirsql/weir/sql/types"
)

// windowAggOutBatch bounds the rows of one output batch.
const windowAggOutBatch = 1024

// maxWindowWays caps the per-key group cache (see the file comment).
const maxWindowWays = 8

// WindowAggConfig configures a WindowAgg.
type WindowAggConfig struct {
	Keys   []int     // input columns of the GROUP BY keys (the window excluded)
	Aggs   []AggCall // aggregate calls
	Window WindowSpec
	// Late is called with each late row (the operator's own input row; the
	// callee may keep it). nil drops late rows; they are counted either way.
	Late func(row types.Row) error
	// MaxKeyGroups is the job's number of key groups, for state keys
	// (default DefaultMaxKeyGroups).
	MaxKeyGroups int
}

// WindowAgg is the keyed window aggregate operator. See the file comment.
type WindowAgg struct {
	keys      []int
	calls     []AggCall
	agg       *aggregator
	spec      WindowSpec
	late      func(types.Row) error
	nAggs     int
	lateRows  atomic.Int64
	wm        int64
	maxGroups int

	// interned group keys
	keyIDs  map[string]int32
	keyInfo []windowKey // by key id
	freeIDs []int32
	keyBuf  []byte

	// TUMBLE, HOP, CUMULATE
	wins      map[Window]*windowBucket
	pending   []*windowBucket // min-heap by (End, Start)
	spare     []*windowBucket
	assignBuf []Window
	ways      int                // cache entries per key
	wayWins   []*windowBucket    // the bucket last used in each way
	keyCache  []windowGroupCache // by key id·ways + way: the key's group in that bucket

	// SESSION
	sess      []keySessions // by key id
	timers    []sessionTimer
	nextSID   uint64
	nextSeq   uint64
	fired     []firedSession
	spareAccs [][]Accumulator

	out aggOut

	ckState windowAggState // windowagg_state.go
	sp      *windowSpill   // nil unless spilling (windowagg_spill.go)
}

var (
	_ Operator         = (*WindowAgg)(nil)
	_ WatermarkHandler = (*WindowAgg)(nil)
	_ Finisher         = (*WindowAgg)(nil)
)

type windowKey struct {
	str  string  // map key in keyIDs; also the key values (decodeGroupKey)
	refs int32   // open groups (windows or sessions) of this key
	kg   uint16  // key group
	ck   groupCk // SESSION: checkpoint bookkeeping (windowagg_state.go)
	// SESSION, spilling (windowagg_spill.go): the key's sessions are in the
	// spill space; used since the clock last passed
	spilled, ref bool
}

type windowGroupCache struct {
	bw  *windowBucket
	idx int32
}

type windowBucket struct {
	win  Window
	slot map[int32]int32 // key id → group index
	ids  []int32         // key id of each group, in creation order
	accs []Accumulator   // group i owns accs[i*nAggs : (i+1)*nAggs]
	// checkpointing (windowagg_state.go): per group bookkeeping; bitmaps
	// (bit gi%64 of word gi/64) of the groups changed in the current epoch
	// and of the groups of the open capture not written yet (words before
	// captNext are all written); whether the bucket is on the dirty list;
	// a full capture's position
	ck       []bucketCk
	dirty    []uint64
	capt     []uint64
	captNext int
	onDirty  bool
	fullNext int
	// spilling (windowagg_spill.go): groups of the window in the spill
	// space; evicted groups' holes in ids, ck and accs (id -1)
	spilled, holes int32
}

type keySessions struct {
	wins []Window // sorted by Start, disjoint
	st   []sessionState
}

type sessionState struct {
	sid  uint64 // identifies the session's timer
	seq  uint64 // creation order, for output order
	accs []Accumulator
}

type sessionTimer struct {
	end int64
	id  int32
	sid uint64
}

type firedSession struct {
	win  Window
	seq  uint64
	id   int32
	accs []Accumulator
}

// NewWindowAgg checks cfg and builds the operator.
func NewWindowAgg(cfg WindowAggConfig) (*WindowAgg, error) {
	if err := cfg.Window.Validate(); err != nil {
		return nil, fmt.Errorf("window aggregation: %w", err)
	}
	for _, k := range cfg.Keys {
		if k < 0 {
			return nil, fmt.Errorf("window aggregation: key column %d is invalid", k)
		}
	}
	calls, err := resolveAggCalls(cfg.Aggs)
	if err != nil {
		return nil, fmt.Errorf("window aggregation: %w", err)
	}
	w := &WindowAgg{
		keys:   slices.Clone(cfg.Keys),
		calls:  calls,
		agg:    newAggregator(calls, false),
		spec:   cfg.Window,
		late:   cfg.Late,
		nAggs:  len(calls),
		wm:     MinWatermark,
		keyIDs: make(map[string]int32),
		wins:   make(map[Window]*windowBucket),
	}
	w.maxGroups = cfg.MaxKeyGroups
	if w.maxGroups <= 0 {
		w.maxGroups = DefaultMaxKeyGroups
	}
	switch s := cfg.Window; s.Kind {
	case WindowHop:
		w.ways = int(min((s.Size+s.Slide-1)/s.Slide, maxWindowWays))
	case WindowCumulate:
		w.ways = int(min(s.Size/s.Step, maxWindowWays))
	default:
		w.ways = 1
	}
	w.wayWins = make([]*windowBucket, w.ways)
	w.out.init(len(cfg.Keys)+2+len(calls), windowAggOutBatch)
	return w, nil
}

// LateRows is the number of late rows seen so far; safe from any goroutine.
func (w *WindowAgg) LateRows() int64 { return w.lateRows.Load() }

// Process aggregates an append-only batch into the open windows.
func (w *WindowAgg) Process(_ int, b *types.Batch, _ Emitter) error {
	if b.Kinds != nil {
		for _, k := range b.Kinds {
			if k != types.Insert {
				return fmt.Errorf("window aggregation over an updating input is not supported (got a %s row)", k)
			}
		}
	}
	var err error
	switch w.spec.Kind {
	case WindowTumble:
		err = w.processTumble(b.Rows)
	case WindowSession:
		err = w.processSession(b.Rows)
	default:
		err = w.processMulti(b.Rows)
	}
	if err != nil {
		return err
	}
	return w.maybeEvict()
}

var errNullTime = errors.New("window aggregation: NULL value in the time column")

func (w *WindowAgg) processTumble(rows []types.Row) error {
	col, size, offset, n := w.spec.TimeCol, w.spec.Size, w.spec.Offset, w.nAggs
	for _, row := range rows {
		tv := row[col]
		if tv.Kind == types.Null {
			return errNullTime
		}
		win := TumbleWindow(tv.I, size, offset)
		if win.End-1 <= w.wm {
			if err := w.onLate(row); err != nil {
				return err
			}
			continue
		}
		bw := w.wayWins[0]
		if bw == nil || bw.win != win {
			bw = w.bucket(win)
			w.wayWins[0] = bw
		}
		gi := int(w.group(bw, w.intern(row), 0))
		if w.ckState.track && !bw.changed(gi) {
			w.markDirty(bw, gi)
		}
		w.agg.add(bw.accs[gi*n:gi*n+n], row)
	}
	return nil
}

// processMulti handles HOP and CUMULATE: a row may belong to several windows.
func (w *WindowAgg) processMulti(rows []types.Row) error {
	col, n := w.spec.TimeCol, w.nAggs
	for _, row := range rows {
		tv := row[col]
		if tv.Kind == types.Null {
			return errNullTime
		}
		wins := w.spec.Assign(tv.I, w.assignBuf[:0])
		w.assignBuf = wins
		if len(wins) == 0 {
			continue // between two HOP windows: in no window
		}
		if wins[len(wins)-1].End-1 <= w.wm { // Assign is ascending by End
			if err := w.onLate(row); err != nil {
				return err
			}
			continue
		}
		id := w.intern(row)
		for _, win := range wins {
			if win.End-1 <= w.wm {
				continue
			}
			way := w.way(win)
			bw := w.wayWins[way]
			if bw == nil || bw.win != win {
				bw = w.bucket(win)
				w.wayWins[way] = bw
			}
			gi := int(w.group(bw, id, way))
			if w.ckState.track && !bw.changed(gi) {
				w.markDirty(bw, gi)
			}
			w.agg.add(bw.accs[gi*n:gi*n+n], row)
		}
	}
	return nil
}

func (w *WindowAgg) processSession(rows []types.Row) error {
	col, gap := w.spec.TimeCol, w.spec.Gap
	for _, row := range rows {
		tv := row[col]
		if tv.Kind == types.Null {
			return errNullTime
		}
		ts := tv.I
		if ts+gap-1 <= w.wm {
			if err := w.onLate(row); err != nil {
				return err
			}
			continue
		}
		id := w.intern(row)
		if int(id) >= len(w.sess) {
			w.sess = append(w.sess, make([]keySessions, int(id)+1-len(w.sess))...)
		}
		if w.sp != nil {
			if err := w.touchKey(id); err != nil {
				return err
			}
		}
		if w.ckState.track {
			w.markKeyDirty(id)
		}
		ks := &w.sess[id]
		lo, hi, merged := SessionMerge(ks.wins, ts, gap)
		var accs []Accumulator
		switch {
		case lo == hi: // a new session
			st := sessionState{sid: w.nextSID, seq: w.nextSeq, accs: w.newAccs()}
			w.nextSID++
			w.nextSeq++
			ks.wins = slices.Insert(ks.wins, lo, merged)
			ks.st = slices.Insert(ks.st, lo, st)
			w.keyInfo[id].refs++
			w.pushTimer(sessionTimer{end: merged.End, id: id, sid: st.sid})
			accs = st.accs
			if w.sp != nil {
				w.sp.mem += w.sessionBytes()
			}
		default: // joins, extends or bridges sessions lo..hi-1
			st := &ks.st[lo]
			for j := lo + 1; j < hi; j++ {
				o := &ks.st[j]
				w.agg.merge(st.accs, o.accs)
				st.seq = min(st.seq, o.seq)
				w.releaseAccs(o.accs)
			}
			// The survivor keeps its timer: it is due no later than the
			// merged end and is re-queued when it pops. Timers of the
			// sessions merged away find no session and are skipped.
			ks.wins[lo] = merged
			if hi-lo > 1 {
				ks.wins = slices.Delete(ks.wins, lo+1, hi)
				ks.st = slices.Delete(ks.st, lo+1, hi)
				w.keyInfo[id].refs -= int32(hi - lo - 1)
				if w.sp != nil {
					w.sp.mem -= int64(hi-lo-1) * w.sessionBytes()
				}
			}
			accs = ks.st[lo].accs
		}
		w.agg.add(accs, row)
	}
	return nil
}

func (w *WindowAgg) onLate(row types.Row) error {
	w.lateRows.Add(1)
	if w.late != nil {
		if err := w.late(row); err != nil {
			return fmt.Errorf("window aggregation: late-row handler: %w", err)
		}
	}
	return nil
}

// intern returns the id of row's group key, creating it if needed. The
// caller must give the key a reference (a group) right away.
func (w *WindowAgg) intern(row types.Row) int32 {
	w.keyBuf = appendGroupKey(w.keyBuf[:0], row, w.keys)
	if id, ok := w.keyIDs[string(w.keyBuf)]; ok {
		return id
	}
	return w.internKey(string(w.keyBuf), uint16(types.KeyHash(row, w.keys)%uint64(w.maxGroups)))
}

// unref drops one reference to key id, forgetting the key at zero.
func (w *WindowAgg) unref(id int32) {
	k := &w.keyInfo[id]
	if k.refs--; k.refs > 0 {
		return
	}
	delete(w.keyIDs, k.str)
	if w.sp != nil {
		w.sp.mem -= w.keyBytes(k.str)
	}
	*k = windowKey{}
	if w.spec.Kind != WindowSession {
		clear(w.keyCache[int(id)*w.ways : int(id+1)*w.ways])
	}
	w.freeIDs = append(w.freeIDs, id)
}

// bucket returns the open bucket of win, creating it.
func (w *WindowAgg) bucket(win Window) *windowBucket {
	if bw := w.wins[win]; bw != nil {
		return bw
	}
	var bw *windowBucket
	if n := len(w.spare); n > 0 {
		bw = w.spare[n-1]
		w.spare = w.spare[:n-1]
	} else {
		bw = &windowBucket{slot: make(map[int32]int32)}
	}
	bw.win = win
	w.wins[win] = bw
	w.pending = append(w.pending, bw)
	aggHeapUp(w.pending, len(w.pending)-1, bucketLess)
	return bw
}

// way is the cache entry of win: its position among the windows that are
// open at the same time, modulo the number of ways.
func (w *WindowAgg) way(win Window) int {
	switch w.spec.Kind {
	case WindowHop: // starts are Offset + k·Slide
		return int(windowFloorMod((win.Start-w.spec.Offset)/w.spec.Slide, int64(w.ways)))
	case WindowCumulate: // ends are Start + k·Step, k in 1..Size/Step
		return int(((win.End-win.Start)/w.spec.Step - 1) % int64(w.ways))
	}
	return 0
}

// group returns the index of key id's group in bw, creating it.
func (w *WindowAgg) group(bw *windowBucket, id int32, way int) int32 {
	c := &w.keyCache[int(id)*w.ways+way]
	if c.bw == bw {
		if w.sp != nil {
			bw.ck[c.idx].ref = true
		}
		return c.idx
	}
	gi, ok := bw.slot[id]
	if !ok {
		gi = int32(len(bw.ids))
		bw.ids = append(bw.ids, id)
		bw.slot[id] = gi
		bw.ck = append(bw.ck, bucketCk{done: w.ckState.capN})
		for range w.nAggs {
			bw.accs = append(bw.accs, Accumulator{})
		}
		w.keyInfo[id].refs++
		if w.sp != nil {
			w.sp.mem += w.groupBytes()
			if bw.spilled > 0 {
				w.reload(bw, id, int(gi))
			}
		}
	}
	if w.sp != nil {
		bw.ck[gi].ref = true
	}
	c.bw, c.idx = bw, gi
	return gi
}

func (w *WindowAgg) newAccs() []Accumulator {
	if n := len(w.spareAccs); n > 0 {
		a := w.spareAccs[n-1]
		w.spareAccs = w.spareAccs[:n-1]
		return a
	}
	return make([]Accumulator, w.nAggs)
}

func (w *WindowAgg) releaseAccs(a []Accumulator) {
	clear(a)
	w.spareAccs = append(w.spareAccs, a)
}

func (w *WindowAgg) pushTimer(t sessionTimer) {
	w.timers = append(w.timers, t)
	aggHeapUp(w.timers, len(w.timers)-1, timerLess)
}

// OnWatermark fires every window whose max timestamp is ≤ wm.
func (w *WindowAgg) OnWatermark(wm int64, out Emitter) error {
	if wm <= w.wm {
		return nil
	}
	w.wm = wm
	if w.spec.Kind == WindowSession {
		return w.fireSessions(out)
	}
	return w.fireBuckets(out)
}

// Finish fires every remaining window.
func (w *WindowAgg) Finish(out Emitter) error {
	return w.OnWatermark(MaxWatermark, out)
}

func (w *WindowAgg) fireBuckets(out Emitter) error {
	n, nk := w.nAggs, len(w.keys)
	for len(w.pending) > 0 && w.pending[0].win.End-1 <= w.wm {
		bw := w.pending[0]
		w.pending = aggHeapPop(w.pending, bucketLess)
		delete(w.wins, bw.win)
		if w.ckState.track {
			w.forgetBucket(bw)
		}
		for i, b := range w.wayWins {
			if b == bw {
				w.wayWins[i] = nil
			}
		}
		start, end := types.TimestampValue(bw.win.Start), types.TimestampValue(bw.win.End)
		for gi, id := range bw.ids {
			if id < 0 {
				continue // evicted: fireSpilled below
			}
			w.out.reserve(len(bw.ids) - gi)
			row := w.out.next(types.Insert)
			decodeGroupKey(w.keyInfo[id].str, row[:nk])
			row[nk], row[nk+1] = start, end
			w.agg.results(bw.accs[gi*n:gi*n+n], row[nk+2:])
			for i, c := range w.keyCache[int(id)*w.ways : int(id+1)*w.ways] {
				if c.bw == bw {
					w.keyCache[int(id)*w.ways+i] = windowGroupCache{}
				}
			}
			w.unref(id)
			if w.sp != nil {
				w.sp.mem -= w.groupBytes()
			}
			if w.out.full() {
				if err := w.out.flush(out); err != nil {
					return err
				}
			}
		}
		if bw.spilled > 0 {
			if err := w.fireSpilled(bw, out); err != nil {
				return err
			}
		}
		bw.holes = 0
		clear(bw.slot)
		bw.ids = bw.ids[:0]
		bw.ck = bw.ck[:0]
		clear(bw.dirty)
		clear(bw.capt)
		bw.dirty, bw.capt, bw.captNext, bw.onDirty, bw.fullNext = bw.dirty[:0], bw.capt[:0], 0, false, 0
		clear(bw.accs)
		bw.accs = bw.accs[:0]
		w.spare = append(w.spare, bw)
	}
	if w.sp != nil {
		w.sp.publish()
	}
	return w.out.flush(out)
}

func (w *WindowAgg) fireSessions(out Emitter) error {
	w.fired = w.fired[:0]
	for len(w.timers) > 0 && w.timers[0].end-1 <= w.wm {
		t := w.timers[0]
		w.timers = aggHeapPop(w.timers, timerLess)
		if w.sp != nil && w.keyInfo[t.id].spilled {
			if err := w.reloadSessions(t.id); err != nil {
				return err
			}
		}
		ks := &w.sess[t.id]
		i := slices.IndexFunc(ks.st, func(s sessionState) bool { return s.sid == t.sid })
		if i < 0 {
			continue // merged away
		}
		if win := ks.wins[i]; win.End-1 > w.wm {
			w.pushTimer(sessionTimer{end: win.End, id: t.id, sid: t.sid}) // it grew
			continue
		}
		w.fired = append(w.fired, firedSession{win: ks.wins[i], seq: ks.st[i].seq, id: t.id, accs: ks.st[i].accs})
		if w.ckState.track {
			w.markKeyDirty(t.id)
		}
		ks.wins = slices.Delete(ks.wins, i, i+1)
		ks.st = slices.Delete(ks.st, i, i+1)
	}
	slices.SortFunc(w.fired, func(a, b firedSession) int {
		switch {
		case a.win.End != b.win.End:
			return cmp.Compare(a.win.End, b.win.End)
		case a.win.Start != b.win.Start:
			return cmp.Compare(a.win.Start, b.win.Start)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	nk := len(w.keys)
	for i := range w.fired {
		f := &w.fired[i]
		w.out.reserve(len(w.fired) - i)
		row := w.out.next(types.Insert)
		decodeGroupKey(w.keyInfo[f.id].str, row[:nk])
		row[nk], row[nk+1] = types.TimestampValue(f.win.Start), types.TimestampValue(f.win.End)
		w.agg.results(f.accs, row[nk+2:])
		w.releaseAccs(f.accs)
		f.accs = nil
		w.unref(f.id)
		if w.sp != nil {
			w.sp.mem -= w.sessionBytes()
		}
		if w.out.full() {
			if err := w.out.flush(out); err != nil {
				return err
			}
		}
	}
	w.fired = w.fired[:0]
	if w.sp != nil {
		w.sp.publish()
	}
	return w.out.flush(out)
}

func bucketLess(a, b *windowBucket) bool {
	if a.win.End != b.win.End {
		return a.win.End < b.win.End
	}
	return a.win.Start < b.win.Start
}

func timerLess(a, b sessionTimer) bool {
	if a.end != b.end {
		return a.end < b.end
	}
	return a.sid < b.sid
}

// aggHeapUp and aggHeapPop maintain a binary min-heap in a slice.
func aggHeapUp[T any](h []T, i int, less func(a, b T) bool) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func aggHeapPop[T any](h []T, less func(a, b T) bool) []T {
	n := len(h) - 1
	h[0] = h[n]
	var zero T
	h[n] = zero
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && less(h[r], h[l]) {
			c = r
		}
		if !less(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return h
}

// aggOut builds output batches from a row arena.
type aggOut struct {
	arena *types.RowArena
	b     *types.Batch
	max   int // flush threshold; 0 = none
}

func (o *aggOut) init(width, max int) {
	o.arena = types.NewRowArena(width, 256)
	o.max = max
}

// reserve makes room for n more rows (capped by the flush threshold) in the
// current batch.
func (o *aggOut) reserve(n int) {
	if o.max > 0 {
		n = min(n, o.max)
	}
	if o.b == nil {
		o.b = &types.Batch{Rows: make([]types.Row, 0, n)}
	}
}

// next appends a fresh row of kind k to the current batch and returns it.
func (o *aggOut) next(k types.RowKind) types.Row {
	if o.b == nil {
		o.b = &types.Batch{}
	}
	r := o.arena.Next()
	o.b.Append(r, k)
	return r
}

func (o *aggOut) full() bool { return o.max > 0 && o.b != nil && len(o.b.Rows) >= o.max }

// flush emits the current batch, if any.
func (o *aggOut) flush(out Emitter) error {
	if o.b == nil || len(o.b.Rows) == 0 {
		return nil
	}
	b := o.b
	o.b = nil
	return out.Emit(b)
}
