package exec

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// aggCollector is an Emitter that keeps every batch.
type aggCollector struct {
	batches []*types.Batch
	next    int // first batch not yet returned by take
}

func (c *aggCollector) Emit(b *types.Batch) error {
	if b.Len() == 0 {
		return errors.New("empty batch emitted")
	}
	c.batches = append(c.batches, b)
	return nil
}

// take formats the rows emitted since the last take.
func (c *aggCollector) take() []string {
	var out []string
	for _, b := range c.batches[c.next:] {
		for i, r := range b.Rows {
			out = append(out, aggFmtRow(b.Kind(i), r))
		}
	}
	c.next = len(c.batches)
	return out
}

// aggFmtRow prints "+I a,0,10,3": timestamps as ms, NULL as NULL.
func aggFmtRow(k types.RowKind, r types.Row) string {
	var b strings.Builder
	b.WriteString(k.String())
	b.WriteByte(' ')
	for i, v := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		if v.Kind == types.Timestamp {
			b.WriteString(strconv.FormatInt(v.I, 10))
		} else {
			b.WriteString(v.String())
		}
	}
	return b.String()
}

// waRow builds [k VARCHAR, v BIGINT, ts TIMESTAMP]; nil means NULL.
func waRow(k any, v any, ts int64) types.Row {
	r := types.Row{types.NullValue, types.NullValue, types.TimestampValue(ts)}
	if k != nil {
		r[0] = types.StringValue(k.(string))
	}
	if v != nil {
		r[1] = types.BigIntValue(int64(v.(int)))
	}
	return r
}

type waHarness struct {
	t    *testing.T
	op   *WindowAgg
	out  aggCollector
	late []string
}

func newWAHarness(t *testing.T, spec WindowSpec, aggs []AggCall) *waHarness {
	t.Helper()
	h := &waHarness{t: t}
	op, err := NewWindowAgg(WindowAggConfig{
		Keys:   []int{0},
		Aggs:   aggs,
		Window: spec,
		Late: func(r types.Row) error {
			h.late = append(h.late, aggFmtRow(types.Insert, r))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.op = op
	return h
}

func (h *waHarness) feed(rows ...types.Row) {
	h.t.Helper()
	if err := h.op.Process(0, &types.Batch{Rows: rows}, &h.out); err != nil {
		h.t.Fatal(err)
	}
	if got := h.out.take(); len(got) != 0 {
		h.t.Fatalf("Process emitted %v", got)
	}
}

func (h *waHarness) wm(wm int64, want ...string) {
	h.t.Helper()
	if err := h.op.OnWatermark(wm, &h.out); err != nil {
		h.t.Fatal(err)
	}
	h.check(fmt.Sprintf("watermark %d", wm), want)
}

func (h *waHarness) finish(want ...string) {
	h.t.Helper()
	if err := h.op.Finish(&h.out); err != nil {
		h.t.Fatal(err)
	}
	h.check("finish", want)
	h.checkEmpty()
}

func (h *waHarness) check(what string, want []string) {
	h.t.Helper()
	got := h.out.take()
	if !slices.Equal(got, want) {
		h.t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// checkEmpty asserts that no state is left behind.
func (h *waHarness) checkEmpty() {
	h.t.Helper()
	w := h.op
	if len(w.wins) != 0 || len(w.pending) != 0 || len(w.keyIDs) != 0 || len(w.timers) != 0 {
		h.t.Errorf("state left: %d windows, %d pending, %d keys, %d timers", len(w.wins), len(w.pending), len(w.keyIDs), len(w.timers))
	}
	for id, ks := range w.sess {
		if len(ks.wins) != 0 {
			h.t.Errorf("key %d: %d sessions left", id, len(ks.wins))
		}
	}
}

func (h *waHarness) checkLate(want ...string) {
	h.t.Helper()
	if !slices.Equal(h.late, want) {
		h.t.Errorf("late rows %v, want %v", h.late, want)
	}
	if n := h.op.LateRows(); n != int64(len(want)) {
		h.t.Errorf("LateRows() = %d, want %d", n, len(want))
	}
}

// aggs over column 1 (BIGINT): COUNT(*) COUNT SUM AVG MIN MAX COUNT(DISTINCT) SUM(DISTINCT)
var waAllAggs = allAggs(1, types.TBigInt)

func TestWindowAggTumble(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10}, waAllAggs)
	h.wm(-100)
	h.feed(waRow("a", 1, 0), waRow("a", 2, 5), waRow("b", nil, 7))
	h.feed(waRow("a", 2, 9), waRow("a", 5, 10), waRow("b", 3, -1))
	h.wm(-2)
	h.wm(9,
		"+I b,-10,0,1,1,3,3,3,3,1,3",
		"+I a,0,10,3,3,5,1.6666666666666667,1,2,2,3",
		"+I b,0,10,1,0,NULL,NULL,NULL,NULL,0,NULL",
	)
	h.wm(5) // a watermark going back is ignored
	h.feed(waRow("a", 7, 3), waRow("c", 1, 9))
	h.checkLate("+I a,7,3", "+I c,1,9")
	h.finish("+I a,10,20,1,1,5,5,5,5,1,5")
	h.finish()
	h.wm(MaxWatermark)
	h.feed(waRow("a", 1, 1000))
	h.checkLate("+I a,7,3", "+I c,1,9", "+I a,1,1000")
}

func TestWindowAggTumbleOffsetAndNullKey(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10, Offset: 3}, []AggCall{{Kind: AggCountStar, Arg: -1}})
	h.feed(waRow(nil, 1, 2), waRow("a", 1, 3), waRow(nil, 1, -7), waRow(nil, 1, 12))
	h.wm(2, "+I NULL,-7,3,2")
	h.wm(12, "+I a,3,13,1", "+I NULL,3,13,1")
	h.finish()
}

func TestWindowAggHop(t *testing.T) {
	// size 10 is not a multiple of slide 4
	h := newWAHarness(t, WindowSpec{Kind: WindowHop, TimeCol: 2, Size: 10, Slide: 4}, waAllAggs)
	h.feed(waRow("a", 1, 5), waRow("a", 2, 9), waRow("b", 4, 12))
	h.wm(9,
		"+I a,-4,6,1,1,1,1,1,1,1,1",
		"+I a,0,10,2,2,3,1.5,1,2,2,3",
	)
	// [0,10) has fired but [4,14) is open: added to [4,14) only, not late.
	h.feed(waRow("c", 1, 7))
	// both windows of ts 3 ([-4,6), [0,10)) have fired: late.
	h.feed(waRow("c", 1, 3))
	h.checkLate("+I c,1,3")
	h.finish(
		"+I a,4,14,2,2,3,1.5,1,2,2,3",
		"+I b,4,14,1,1,4,4,4,4,1,4",
		"+I c,4,14,1,1,1,1,1,1,1,1",
		"+I a,8,18,1,1,2,2,2,2,1,2",
		"+I b,8,18,1,1,4,4,4,4,1,4",
		"+I b,12,22,1,1,4,4,4,4,1,4",
	)
}

func TestWindowAggHopGaps(t *testing.T) {
	// size 3 < slide 5: rows between windows belong to none and are not late
	h := newWAHarness(t, WindowSpec{Kind: WindowHop, TimeCol: 2, Size: 3, Slide: 5}, []AggCall{{Kind: AggCountStar, Arg: -1}})
	h.feed(waRow("a", 1, 0), waRow("a", 1, 3), waRow("a", 1, 4), waRow("a", 1, 7))
	h.finish("+I a,0,3,1", "+I a,5,8,1")
	h.checkLate()
}

func TestWindowAggCumulate(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowCumulate, TimeCol: 2, Step: 5, Size: 15}, waAllAggs)
	h.feed(waRow("a", 1, 3), waRow("a", 2, 7), waRow("a", nil, 14), waRow("a", 4, 15), waRow("b", 2, 2))
	h.wm(14,
		"+I a,0,5,1,1,1,1,1,1,1,1",
		"+I b,0,5,1,1,2,2,2,2,1,2",
		"+I a,0,10,2,2,3,1.5,1,2,2,3",
		"+I b,0,10,1,1,2,2,2,2,1,2",
		"+I a,0,15,3,2,3,1.5,1,2,2,3",
		"+I b,0,15,1,1,2,2,2,2,1,2",
	)
	h.wm(19, "+I a,15,20,1,1,4,4,4,4,1,4")
	h.feed(waRow("a", 9, 16)) // [15,20) fired; [15,25) and [15,30) open
	h.feed(waRow("a", 9, 13)) // period 0 fired entirely: late
	h.checkLate("+I a,9,13")
	h.finish(
		"+I a,15,25,2,2,13,6.5,4,9,2,13",
		"+I a,15,30,2,2,13,6.5,4,9,2,13",
	)
}

func TestWindowAggSession(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowSession, TimeCol: 2, Gap: 10}, waAllAggs)
	// b@0 and b@10 are exactly one gap apart: separate sessions
	h.feed(waRow("a", 1, 0), waRow("b", 1, 0), waRow("a", 2, 25), waRow("b", 5, 10))
	h.wm(9,
		"+I a,0,10,1,1,1,1,1,1,1,1",
		"+I b,0,10,1,1,1,1,1,1,1,1",
	)
	h.feed(waRow("b", 7, -5)) // its session [-5,5) has fired: late
	h.checkLate("+I b,7,-5")
	h.feed(waRow("a", 3, 12)) // new session [12,22) next to [25,35)
	h.feed(waRow("a", 4, 18)) // [18,28) bridges [12,22) and [25,35)
	// a's timer for [12,22) pops and is re-queued at 35; [25,35)'s is stale
	h.wm(30, "+I b,10,20,1,1,5,5,5,5,1,5")
	h.finish("+I a,12,35,3,3,9,3,2,4,3,9")
}

func TestWindowAggSessionGrows(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowSession, TimeCol: 2, Gap: 10}, []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggMax, Arg: 1, ArgType: types.TBigInt}})
	h.feed(waRow("a", 1, 0), waRow("a", 5, 8), waRow("a", 2, -3))
	h.wm(9) // the timer for [0,10) pops but the session is [-3,18) now
	h.wm(16)
	h.feed(waRow("a", 9, 16)) // extends it again to [-3,26)
	h.wm(17)
	h.wm(25, "+I a,-3,26,4,9")
	// a row merging into nothing after the fire starts a new session
	h.feed(waRow("a", 1, 26))
	h.finish("+I a,26,36,1,1")
	h.checkLate()
}

func TestWindowAggSessionMergeMany(t *testing.T) {
	h := newWAHarness(t, WindowSpec{Kind: WindowSession, TimeCol: 2, Gap: 3}, []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}, {Kind: AggCount, Arg: 1, ArgType: types.TBigInt, Distinct: true}})
	// rows exactly one gap apart: four touching, separate sessions
	h.feed(waRow("a", 1, 0), waRow("a", 2, 3), waRow("a", 1, 6), waRow("a", 3, 9), waRow("b", 1, 6))
	if n := len(h.op.sess[h.op.keyIDs[string(appendGroupKey(nil, waRow("a", 0, 0), []int{0}))]].wins); n != 4 {
		t.Fatalf("%d sessions, want 4", n)
	}
	h.feed(waRow("a", 5, 2), waRow("a", 6, 8)) // [0,6) and [6,12)
	h.feed(waRow("a", 7, 5))                   // bridges them: [0,12)
	if refs := h.op.keyInfo[h.op.keyIDs[string(appendGroupKey(nil, waRow("a", 0, 0), []int{0}))]].refs; refs != 1 {
		t.Errorf("key refs %d, want 1", refs)
	}
	h.finish("+I b,6,9,1,1,1", "+I a,0,12,7,25,6")
}

func TestWindowAggOrder(t *testing.T) {
	// several windows fire on one watermark: (end, start, creation) order;
	// the batch split must not matter.
	rows := []types.Row{
		waRow("c", 1, 15), waRow("a", 1, 3), waRow("b", 1, 11), waRow("b", 1, 1),
		waRow("c", 1, 5), waRow("a", 1, 22), waRow("d", 1, 19),
	}
	want := []string{
		"+I a,0,10,1", "+I b,0,10,1", "+I c,0,10,1",
		"+I c,10,20,1", "+I b,10,20,1", "+I d,10,20,1",
		"+I a,20,30,1",
	}
	for split := 1; split <= len(rows); split++ {
		h := newWAHarness(t, WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10}, []AggCall{{Kind: AggCountStar, Arg: -1}})
		for i := 0; i < len(rows); i += split {
			h.feed(rows[i:min(i+split, len(rows))]...)
		}
		h.wm(100, want...)
		h.finish()
	}
}

func TestWindowAggErrors(t *testing.T) {
	spec := WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10}
	op, err := NewWindowAgg(WindowAggConfig{Keys: []int{0}, Window: spec})
	if err != nil {
		t.Fatal(err)
	}
	var out aggCollector
	b := &types.Batch{}
	b.Append(waRow("a", 1, 1), types.Insert)
	b.Append(waRow("a", 1, 1), types.Delete)
	if err := op.Process(0, b, &out); err == nil || !strings.Contains(err.Error(), "updating input is not supported") {
		t.Errorf("retraction: err = %v", err)
	}
	if err := op.Process(0, &types.Batch{Rows: []types.Row{{types.StringValue("a"), types.NullValue, types.NullValue}}}, &out); err == nil || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("NULL time: err = %v", err)
	}
	if _, err := NewWindowAgg(WindowAggConfig{Window: WindowSpec{Kind: WindowHop, Size: 10}}); err == nil {
		t.Error("hop without slide: no error")
	}
	if _, err := NewWindowAgg(WindowAggConfig{Keys: []int{-1}, Window: spec}); err == nil {
		t.Error("bad key column: no error")
	}
	boom := errors.New("boom")
	op, _ = NewWindowAgg(WindowAggConfig{Window: spec, Late: func(types.Row) error { return boom }})
	op.OnWatermark(100, &out)
	if err := op.Process(0, &types.Batch{Rows: []types.Row{waRow("a", 1, 1)}}, &out); !errors.Is(err, boom) {
		t.Errorf("Late error: err = %v", err)
	}
	if op.LateRows() != 1 {
		t.Errorf("LateRows = %d", op.LateRows())
	}
}

func TestWindowAggLateRowsConcurrentRead(t *testing.T) {
	op, _ := NewWindowAgg(WindowAggConfig{Window: WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10}})
	var out aggCollector
	op.OnWatermark(1000, &out)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				_ = op.LateRows()
			}
		}
	}()
	for i := 0; i < 100; i++ {
		op.Process(0, &types.Batch{Rows: []types.Row{waRow("a", 1, int64(i))}}, &out)
	}
	close(done)
	wg.Wait()
	if op.LateRows() != 100 {
		t.Errorf("LateRows = %d", op.LateRows())
	}
}

func TestWindowAggOutputBatches(t *testing.T) {
	op, _ := NewWindowAgg(WindowAggConfig{Keys: []int{1}, Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}}, Window: WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 10}})
	var rows []types.Row
	for i := 0; i < 3000; i++ {
		rows = append(rows, waRow("a", i, 5))
	}
	var out aggCollector
	op.Process(0, &types.Batch{Rows: rows}, &out)
	op.Finish(&out)
	var sizes []int
	for _, b := range out.batches {
		sizes = append(sizes, b.Len())
		if b.Kinds != nil {
			t.Error("window output must be append-only (Kinds nil)")
		}
	}
	if !slices.Equal(sizes, []int{1024, 1024, 952}) {
		t.Errorf("batch sizes %v", sizes)
	}
}

func TestWindowAggTumbleNoAlloc(t *testing.T) {
	op, _ := NewWindowAgg(WindowAggConfig{
		Keys:   []int{0},
		Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}, {Kind: AggAvg, Arg: 1, ArgType: types.TBigInt}, {Kind: AggMin, Arg: 1, ArgType: types.TBigInt}, {Kind: AggMax, Arg: 1, ArgType: types.TBigInt}},
		Window: WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 1000},
	})
	var rows []types.Row
	for i := 0; i < 256; i++ {
		rows = append(rows, types.Row{types.BigIntValue(int64(i % 50)), types.BigIntValue(int64(i)), types.TimestampValue(int64(i))})
	}
	b := &types.Batch{Rows: rows}
	var out aggCollector
	op.Process(0, b, &out) // creates the keys and the window
	if n := testing.AllocsPerRun(100, func() { op.Process(0, b, &out) }); n != 0 {
		t.Errorf("steady-state Process allocates %v times per batch", n)
	}
}

// ---- randomized comparison with a brute-force reference ----

// Random rows: [k VARCHAR, v BIGINT, ts, s VARCHAR, d DOUBLE, k2 INT], keys
// (k, k2); NULLs in k, v, s, d.
func waRandomRows(rng *rand.Rand, n int, disorder int64) []types.Row {
	rows := make([]types.Row, n)
	base := int64(-100)
	for i := range rows {
		base += rng.Int64N(3)
		r := make(types.Row, 6)
		if rng.IntN(8) > 0 {
			r[0] = types.StringValue(string(rune('a' + rng.IntN(4))))
		}
		if rng.IntN(5) > 0 {
			r[1] = types.BigIntValue(rng.Int64N(11) - 5)
		}
		r[2] = types.TimestampValue(base - rng.Int64N(disorder+1))
		if rng.IntN(4) > 0 {
			r[3] = types.StringValue(strconv.Itoa(rng.IntN(20)))
		}
		if rng.IntN(4) > 0 {
			r[4] = types.DoubleValue(float64(rng.IntN(21)-10) / 2)
		}
		r[5] = types.IntValue(int64(rng.IntN(2)))
		rows[i] = r
	}
	return rows
}

var waRandomAggs = append(allAggs(1, types.TBigInt),
	AggCall{Kind: AggMin, Arg: 3, ArgType: types.TVarchar},
	AggCall{Kind: AggMax, Arg: 3, ArgType: types.TVarchar},
	AggCall{Kind: AggCount, Arg: 3, ArgType: types.TVarchar, Distinct: true},
	AggCall{Kind: AggSum, Arg: 4, ArgType: types.TDouble},
	AggCall{Kind: AggAvg, Arg: 4, ArgType: types.TDouble},
)

// waBruteWindows lists the windows of ts by enumeration (not sessions).
func waBruteWindows(s WindowSpec, ts int64) []Window {
	mod := func(a, m int64) int64 { return ((a % m) + m) % m }
	var out []Window
	switch s.Kind {
	case WindowTumble:
		for st := ts - s.Size + 1; st <= ts; st++ {
			if mod(st-s.Offset, s.Size) == 0 {
				out = append(out, Window{st, st + s.Size})
			}
		}
	case WindowHop:
		for st := ts - s.Size + 1; st <= ts; st++ {
			if mod(st-s.Offset, s.Slide) == 0 {
				out = append(out, Window{st, st + s.Size})
			}
		}
	case WindowCumulate:
		for st := ts - s.Size + 1; st <= ts; st++ {
			if mod(st-s.Offset, s.Size) == 0 {
				for e := st + s.Step; e <= st+s.Size; e += s.Step {
					if e > ts {
						out = append(out, Window{st, e})
					}
				}
			}
		}
	}
	return out
}

// waBruteResult computes the waRandomAggs results of one group's rows.
func waBruteResult(rows []types.Row) []string {
	var out []string
	fmtOrNull := func(ok bool, s string) string {
		if !ok {
			return "NULL"
		}
		return s
	}
	// BIGINT column 1
	var n, sum int64
	var lo, hi int64
	distinct := map[int64]bool{}
	var dsum int64
	for _, r := range rows {
		if r[1].IsNull() {
			continue
		}
		x := r[1].I
		if n == 0 || x < lo {
			lo = x
		}
		if n == 0 || x > hi {
			hi = x
		}
		n++
		sum += x
		if !distinct[x] {
			distinct[x] = true
			dsum += x
		}
	}
	out = append(out,
		strconv.Itoa(len(rows)), strconv.FormatInt(n, 10),
		fmtOrNull(n > 0, strconv.FormatInt(sum, 10)),
		fmtOrNull(n > 0, types.FormatDouble(float64(sum)/float64(n))),
		fmtOrNull(n > 0, strconv.FormatInt(lo, 10)),
		fmtOrNull(n > 0, strconv.FormatInt(hi, 10)),
		strconv.Itoa(len(distinct)),
		fmtOrNull(n > 0, strconv.FormatInt(dsum, 10)),
	)
	// VARCHAR column 3
	var strs []string
	sd := map[string]bool{}
	for _, r := range rows {
		if !r[3].IsNull() {
			strs = append(strs, r[3].S)
			sd[r[3].S] = true
		}
	}
	out = append(out,
		fmtOrNull(len(strs) > 0, slices.Min(append(strs, "~"))),
		fmtOrNull(len(strs) > 0, slices.Max(append(strs, ""))),
		strconv.Itoa(len(sd)),
	)
	// DOUBLE column 4 (halves: sums are exact)
	var fn int
	var fsum float64
	for _, r := range rows {
		if !r[4].IsNull() {
			fn++
			fsum += r[4].F()
		}
	}
	out = append(out,
		fmtOrNull(fn > 0, types.FormatDouble(fsum)),
		fmtOrNull(fn > 0, types.FormatDouble(fsum/float64(fn))),
	)
	return out
}

func waBrute(spec WindowSpec, rows []types.Row) []string {
	type gk struct {
		key string
		w   Window
	}
	groups := map[gk][]types.Row{}
	keyVals := map[string]types.Row{}
	keyOf := func(r types.Row) string {
		keyVals[r[0].String()+"|"+r[5].String()] = types.Row{r[0], r[5]}
		return r[0].String() + "|" + r[5].String()
	}
	if spec.Kind == WindowSession {
		byKey := map[string][]types.Row{}
		for _, r := range rows {
			k := keyOf(r)
			byKey[k] = append(byKey[k], r)
		}
		for k, rs := range byKey {
			slices.SortStableFunc(rs, func(a, b types.Row) int { return cmp.Compare(a[2].I, b[2].I) })
			start := 0
			for i := 1; i <= len(rs); i++ {
				if i == len(rs) || rs[i][2].I-rs[i-1][2].I >= spec.Gap {
					w := Window{rs[start][2].I, rs[i-1][2].I + spec.Gap}
					groups[gk{k, w}] = rs[start:i]
					start = i
				}
			}
		}
	} else {
		for _, r := range rows {
			k := keyOf(r)
			for _, w := range waBruteWindows(spec, r[2].I) {
				groups[gk{k, w}] = append(groups[gk{k, w}], r)
			}
		}
	}
	var out []string
	for g, rs := range groups {
		kv := keyVals[g.key]
		row := types.Row{kv[0], kv[1], types.TimestampValue(g.w.Start), types.TimestampValue(g.w.End)}
		s := aggFmtRow(types.Insert, row) + "," + strings.Join(waBruteResult(rs), ",")
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// checkWindowSpillEstimate recomputes a spilling WindowAgg's memory
// estimate from what it holds and checks it against the running one, and
// that an eviction round brought it within the budget.
func checkWindowSpillEstimate(t *testing.T, w *WindowAgg) {
	t.Helper()
	var want int64
	for _, k := range w.keyInfo {
		if k.refs > 0 && !k.spilled {
			want += w.keyBytes(k.str)
		}
	}
	for _, bw := range w.pending {
		holes := 0
		for _, id := range bw.ids {
			if id < 0 {
				holes++
			}
		}
		if holes != int(bw.holes) {
			t.Fatalf("window %v: %d holes, counted %d", bw.win, holes, bw.holes)
		}
		want += int64(len(bw.ids)-holes) * w.groupBytes()
	}
	for _, ks := range w.sess {
		want += int64(len(ks.st)) * w.sessionBytes()
	}
	if w.sp.mem != want {
		t.Fatalf("memory estimate %d, recomputed %d", w.sp.mem, want)
	}
	if st := w.SpillStats(); st.Resident > st.Budget {
		t.Fatalf("%v: resident %d after an eviction round, budget %d (stuck %d, %d buckets, %d keys)", w.spec, st.Resident, st.Budget, w.sp.stuck, len(w.pending), len(w.keyIDs))
	}
}

func TestWindowAggRandomized(t *testing.T) {
	specs := []WindowSpec{
		{Kind: WindowTumble, Size: 10, Offset: 3},
		{Kind: WindowTumble, Size: 1},
		{Kind: WindowHop, Size: 10, Slide: 4, Offset: 1},
		{Kind: WindowHop, Size: 12, Slide: 3},
		{Kind: WindowHop, Size: 3, Slide: 5},
		{Kind: WindowCumulate, Step: 3, Size: 12, Offset: -2},
		{Kind: WindowCumulate, Step: 7, Size: 7},
		{Kind: WindowHop, Size: 30, Slide: 2, Offset: 1}, // more windows per row than cache ways
		{Kind: WindowCumulate, Step: 1, Size: 20},
		{Kind: WindowSession, Gap: 5},
		{Kind: WindowSession, Gap: 1},
		{Kind: WindowSession, Gap: 30},
	}
	const disorder = 6
	// the second pass gives each operator room for about 10 groups: the
	// rest is spilled, reloaded and fired from a spill store
	spill, err := state.OpenSpill(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer spill.Close()
	var spilled, reloaded int64
	for pass, spec := range append(slices.Clone(specs), specs...) {
		spec.TimeCol = 2
		spilling := pass >= len(specs)
		for seed := uint64(1); seed <= 6; seed++ {
			rng := rand.New(rand.NewPCG(seed, 99))
			rows := waRandomRows(rng, 1500, disorder)
			op, err := NewWindowAgg(WindowAggConfig{Keys: []int{0, 5}, Aggs: waRandomAggs, Window: spec})
			if err != nil {
				t.Fatal(err)
			}
			if spilling {
				op.EnableSpill(spill.Space(), 10*(op.groupBytes()+op.keyBytes("key")))
			}
			var out aggCollector
			maxTs := int64(MinWatermark)
			for i := 0; i < len(rows); {
				n := 1 + rng.IntN(40)
				batch := rows[i:min(i+n, len(rows))]
				i += len(batch)
				if err := op.Process(0, &types.Batch{Rows: slices.Clone(batch)}, &out); err != nil {
					t.Fatal(err)
				}
				if spilling {
					checkWindowSpillEstimate(t, op)
				}
				for _, r := range batch {
					maxTs = max(maxTs, r[2].I)
				}
				// every later row has ts > this watermark
				if err := op.OnWatermark(maxTs-disorder-1, &out); err != nil {
					t.Fatal(err)
				}
			}
			if err := op.Finish(&out); err != nil {
				t.Fatal(err)
			}
			if op.LateRows() != 0 {
				t.Fatalf("%v seed %d: %d late rows", spec, seed, op.LateRows())
			}
			// output is ordered by (window_end, window_start) overall
			var prev Window
			first := true
			for _, b := range out.batches {
				for _, r := range b.Rows {
					w := Window{r[2].I, r[3].I}
					if !first && (w.End < prev.End || w.End == prev.End && w.Start < prev.Start) {
						t.Fatalf("%v seed %d: window %v emitted after %v", spec, seed, w, prev)
					}
					prev, first = w, false
				}
			}
			got := out.take()
			slices.Sort(got)
			want := waBrute(spec, rows)
			if !slices.Equal(got, want) {
				t.Errorf("%v seed %d: %d rows, want %d", spec, seed, len(got), len(want))
				for i := 0; i < max(len(got), len(want)) && i < 2000; i++ {
					g, w := "", ""
					if i < len(got) {
						g = got[i]
					}
					if i < len(want) {
						w = want[i]
					}
					if g != w {
						t.Errorf("first difference at %d:\n got %s\nwant %s", i, g, w)
						break
					}
				}
			}
			h := &waHarness{t: t, op: op}
			h.checkEmpty()
			if spilling {
				st := op.SpillStats()
				if st.Spilled != 0 {
					t.Fatalf("%v seed %d: %d groups left in the spill store", spec, seed, st.Spilled)
				}
				spilled += st.Evicted
				reloaded += st.Reloaded
				op.Close()
			}
		}
	}
	if spilled < 10000 || reloaded < 1000 {
		t.Fatalf("spilled %d groups and reloaded %d", spilled, reloaded)
	}
}

// ---- benchmarks ----

// benchWindow runs nRows rows of [key BIGINT, v BIGINT, ts] over nKeys keys
// through a windowed COUNT(*), SUM(v) in batches of 1024, with rowsPerMs
// rows per millisecond, up to 50 ms of disorder and a watermark of max ts -
// 100 ms after every batch.
func benchWindow(b *testing.B, spec WindowSpec, nKeys, rowsPerMs int) {
	const nRows, batchSize = 1_000_000, 1024
	rng := rand.New(rand.NewPCG(1, 2))
	var batches []*types.Batch
	var wms []int64
	maxTs := int64(0)
	for i := 0; i < nRows; i += batchSize {
		rows := make([]types.Row, 0, batchSize)
		for j := i; j < min(i+batchSize, nRows); j++ {
			ts := int64(j/rowsPerMs) - rng.Int64N(51)
			maxTs = max(maxTs, ts)
			rows = append(rows, types.Row{types.BigIntValue(int64(rng.IntN(nKeys))), types.BigIntValue(rng.Int64N(1000)), types.TimestampValue(ts)})
		}
		batches = append(batches, &types.Batch{Rows: rows})
		wms = append(wms, maxTs-100)
	}
	cfg := WindowAggConfig{
		Keys:   []int{0},
		Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}},
		Window: spec,
	}
	var out benchSink
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	iters := 0
	b.ReportAllocs()
	for b.Loop() {
		op, err := NewWindowAgg(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for i, bt := range batches { // the operator does not modify its input
			if err := op.Process(0, bt, &out); err != nil {
				b.Fatal(err)
			}
			if err := op.OnWatermark(wms[i], &out); err != nil {
				b.Fatal(err)
			}
		}
		if err := op.Finish(&out); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	rows := float64(iters) * nRows
	b.ReportMetric(float64(elapsed.Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/rows, "allocs/row")
	if out.rows == 0 {
		b.Fatal("no output")
	}
}

type benchSink struct{ rows int }

func (s *benchSink) Emit(b *types.Batch) error { s.rows += b.Len(); return nil }

// BenchmarkTumbleCountSum: 1,000 keys, 1M rows, 100 rows/ms, so a 1 s
// window holds ~100 rows per key.
func BenchmarkTumbleCountSum(b *testing.B) {
	benchWindow(b, WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 1000}, 1000, 100)
}

// BenchmarkTumbleCountSumSparse: 1 row/ms, ~1 row per key per window: the
// cost is dominated by creating and firing groups.
func BenchmarkTumbleCountSumSparse(b *testing.B) {
	benchWindow(b, WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: 1000}, 1000, 1)
}

// BenchmarkHopCountSum: 1 s windows sliding by 250 ms (4 windows per row).
func BenchmarkHopCountSum(b *testing.B) {
	benchWindow(b, WindowSpec{Kind: WindowHop, TimeCol: 2, Size: 1000, Slide: 250}, 1000, 100)
}

// BenchmarkSessionCountSum: 200 ms gap; each key sees a row every ~10 ms,
// so sessions keep growing and fire only at the end.
func BenchmarkSessionCountSum(b *testing.B) {
	benchWindow(b, WindowSpec{Kind: WindowSession, TimeCol: 2, Gap: 200}, 1000, 100)
}
