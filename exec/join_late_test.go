package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// Late rows through the runtime: two sources feed an interval join and a
// window join at parallelism 2. Some rows of both sources are late: such a
// source holds each late row until every join subtask's watermark (the
// minimum over all four input channels) has passed its time, so the row
// is late when it arrives whatever the interleaving. The joins must drop
// exactly those rows (LateRows) and emit exactly the join of the others,
// computed by brute force.

type lateRow struct {
	row  types.Row
	late bool
}

// wmBoard records each join subtask's watermark; sources wait on it.
type wmBoard struct {
	mu   sync.Mutex
	cond *sync.Cond
	wm   []int64
}

func newWMBoard(n int) *wmBoard {
	b := &wmBoard{wm: make([]int64, n)}
	for i := range b.wm {
		b.wm[i] = MinWatermark
	}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *wmBoard) set(sub int, wm int64) {
	b.mu.Lock()
	b.wm[sub] = wm
	b.mu.Unlock()
	b.cond.Broadcast()
}

// wait blocks until every subtask's watermark is ≥ ts or ctx ends.
func (b *wmBoard) wait(ctx context.Context, ts int64) bool {
	stop := context.AfterFunc(ctx, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for slices.Min(b.wm) < ts {
		if ctx.Err() != nil {
			return false
		}
		b.cond.Wait()
	}
	return true
}

// lateSource emits its rows in batches of 5, holding each late row until
// the joins' watermarks have passed it: for each board, at(ts) is the
// watermark that makes a row of time ts late there.
type lateSource struct {
	rows   []lateRow
	boards []lateGate
}

type lateGate struct {
	board *wmBoard
	at    func(ts int64) int64
}

func (s *lateSource) Splits() int { return 1 }

func (s *lateSource) Run(ctx context.Context, out SourceOutput) error {
	var b []types.Row
	flush := func() error {
		if len(b) == 0 {
			return nil
		}
		err := out.Emit(0, &types.Batch{Rows: b})
		b = nil
		return err
	}
	for _, r := range s.rows {
		if r.late {
			if err := flush(); err != nil {
				return err
			}
			for _, g := range s.boards {
				if !g.board.wait(ctx, g.at(r.row[1].I)) {
					return ctx.Err()
				}
			}
		}
		b = append(b, slices.Clone(r.row))
		if len(b) == 5 || r.late {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	out.SplitDone(0)
	return nil
}

// wmReporter wraps a join and reports its watermark to a board.
type wmReporter struct {
	Operator
	board *wmBoard
	sub   int
}

func (w *wmReporter) OnWatermark(wm int64, out Emitter) error {
	if err := w.Operator.(WatermarkHandler).OnWatermark(wm, out); err != nil {
		return err
	}
	w.board.set(w.sub, wm)
	return nil
}

// lateInput makes rows [k, ts, v] 10 ms apart with up to 50 ms of jitter
// (the watermark delay is 100 ms), keys 0..7 and some NULL, and about one
// late row in 40: 300–800 ms behind.
func lateInput(rng *rand.Rand, n int, side int) []lateRow {
	var out []lateRow
	clock := int64(10_000)
	for i := range n {
		clock += 10
		k := types.BigIntValue(int64(rng.IntN(8)))
		if rng.IntN(30) == 0 {
			k = types.NullValue
		}
		ts := clock + int64(rng.IntN(50))
		late := i > 50 && rng.IntN(40) == 0
		if late {
			ts = clock - 300 - int64(rng.IntN(500))
		}
		out = append(out, lateRow{row: types.Row{k, types.TimestampValue(ts), types.BigIntValue(int64(side*100_000 + i))}, late: late})
	}
	return out
}

func TestJoinLateRowsThroughRuntime(t *testing.T) {
	const par = 2
	for seed := range 3 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 17))
			inputs := [2][]lateRow{lateInput(rng, 800, 0), lateInput(rng, 800, 1)}
			ib, wb := newWMBoard(par), newWMBoard(par)
			var mu sync.Mutex
			got := map[string][]string{}
			var ijs, wjs []interface{ LateRows() int64 }
			src := func(name string, side int) *Vertex {
				return &Vertex{Name: name, Parallelism: 1, Source: SourceConfig{RowtimeCol: 1, Delay: 100},
					NewSource: func(*TaskContext) (Source, error) {
						// interval join: ts ≤ wm; window join: window end - 1 ≤ wm
						return &lateSource{rows: inputs[side], boards: []lateGate{
							{ib, func(ts int64) int64 { return ts }},
							{wb, func(ts int64) int64 { return (ts/100+1)*100 - 1 }},
						}}, nil
					}}
			}
			// the window join's inputs: [k, window_end (100 ms tumbling), v]
			win := func(name string, from int) *Vertex {
				return &Vertex{Name: name, Parallelism: 1, Inputs: []Edge{{From: from, Kind: Forward}},
					NewOperator: func(*TaskContext) (Operator, error) { return lateWindowEnd{}, nil }}
			}
			ij := &Vertex{Name: "IntervalJoin", Parallelism: par,
				Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}, {From: 1, Kind: Hash, Keys: []int{0}, Input: 1}},
				NewOperator: func(tc *TaskContext) (Operator, error) {
					j, err := NewIntervalJoin(IntervalJoinConfig{Kind: JoinLeft, LeftKeys: []int{0}, RightKeys: []int{0},
						LeftWidth: 3, RightWidth: 3, LeftTime: 1, RightTime: 1, Lower: -30, Upper: 60, MaxKeyGroups: tc.MaxKeyGroups})
					mu.Lock()
					ijs = append(ijs, j)
					mu.Unlock()
					return &wmReporter{Operator: j, board: ib, sub: tc.Subtask}, err
				}}
			wj := &Vertex{Name: "WindowJoin", Parallelism: par,
				Inputs: []Edge{{From: 2, Kind: Hash, Keys: []int{0, 1}}, {From: 3, Kind: Hash, Keys: []int{0, 1}, Input: 1}},
				NewOperator: func(tc *TaskContext) (Operator, error) {
					j, err := NewWindowJoin(WindowJoinConfig{Kind: JoinFull, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1},
						LeftWidth: 3, RightWidth: 3, LeftEnd: 1, RightEnd: 1, MaxKeyGroups: tc.MaxKeyGroups})
					mu.Lock()
					wjs = append(wjs, j)
					mu.Unlock()
					return &wmReporter{Operator: j, board: wb, sub: tc.Subtask}, err
				}}
			sink := func(name string, from int) *Vertex {
				return &Vertex{Name: name, Parallelism: 1, Inputs: []Edge{{From: from, Kind: Rebalance}},
					NewSink: func(*TaskContext) (Sink, error) { return &lateSink{mu: &mu, got: got, name: name}, nil }}
			}
			spec := &JobSpec{Vertices: []*Vertex{src("L", 0), src("R", 1), win("WL", 0), win("WR", 1), ij, wj,
				sink("interval", 4), sink("window", 5)}}
			if err := Run(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			var on [2][]types.Row
			nLate := 0
			for side := range inputs {
				for _, r := range inputs[side] {
					if r.late {
						nLate++
					} else {
						on[side] = append(on[side], r.row)
					}
				}
			}
			lateSum := func(ops []interface{ LateRows() int64 }) (n int64) {
				for _, o := range ops {
					n += o.LateRows()
				}
				return n
			}
			if n := lateSum(ijs); n != int64(nLate) {
				t.Errorf("interval join: %d late rows, want %d", n, nLate)
			}
			if n := lateSum(wjs); n != int64(nLate) {
				t.Errorf("window join: %d late rows, want %d", n, nLate)
			}
			for name, want := range map[string][]string{"interval": lateIntervalModel(on, -30, 60), "window": lateWindowModel(on)} {
				g := slices.Clone(got[name])
				slices.Sort(g)
				if len(want) < 100 {
					t.Fatalf("%s: the model gives only %d rows", name, len(want))
				}
				if !slices.Equal(g, want) {
					t.Errorf("%s join: %d rows, want %d\n%s", name, len(g), len(want), diffRows(g, want))
				}
			}
		})
	}
}

// lateWindowEnd replaces ts by the end of its 100 ms tumbling window.
type lateWindowEnd struct{}

func (lateWindowEnd) Process(_ int, b *types.Batch, out Emitter) error {
	rows := make([]types.Row, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = types.Row{r[0], types.TimestampValue((r[1].I/100 + 1) * 100), r[2]}
	}
	return out.Emit(&types.Batch{Rows: rows})
}

type lateSink struct {
	mu   *sync.Mutex
	got  map[string][]string
	name string
}

func (s *lateSink) Write(b *types.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range b.Rows {
		s.got[s.name] = append(s.got[s.name], aggFmtRow(b.Kind(i), r))
	}
	return nil
}
func (s *lateSink) Finish() error { return nil }
func (s *lateSink) Abort()        {}

func lateIntervalModel(on [2][]types.Row, lo, hi int64) []string {
	var out []string
	null := types.Row{types.NullValue, types.NullValue, types.NullValue}
	for _, l := range on[0] {
		n := 0
		for _, r := range on[1] {
			if d := r[1].I - l[1].I; l[0].Kind != types.Null && l[0] == r[0] && d >= lo && d <= hi {
				out = append(out, aggFmtRow(types.Insert, append(slices.Clone(l), r...)))
				n++
			}
		}
		if n == 0 {
			out = append(out, aggFmtRow(types.Insert, append(slices.Clone(l), null...)))
		}
	}
	slices.Sort(out)
	return out
}

func lateWindowModel(on [2][]types.Row) []string {
	end := func(r types.Row) types.Row {
		return types.Row{r[0], types.TimestampValue((r[1].I/100 + 1) * 100), r[2]}
	}
	var out []string
	null := types.Row{types.NullValue, types.NullValue, types.NullValue}
	match := func(l, r types.Row) bool {
		return l[0].Kind != types.Null && l[0] == r[0] && end(l)[1] == end(r)[1]
	}
	for _, l := range on[0] {
		n := 0
		for _, r := range on[1] {
			if match(l, r) {
				out = append(out, aggFmtRow(types.Insert, append(end(l), end(r)...)))
				n++
			}
		}
		if n == 0 {
			out = append(out, aggFmtRow(types.Insert, append(end(l), null...)))
		}
	}
	for _, r := range on[1] {
		if !slices.ContainsFunc(on[0], func(l types.Row) bool { return match(l, r) }) {
			out = append(out, aggFmtRow(types.Insert, append(slices.Clone(null), end(r)...)))
		}
	}
	slices.Sort(out)
	return out
}
