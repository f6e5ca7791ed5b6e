package exec

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/sql/types"
)

// OVER rows are [k VARCHAR, v BIGINT, ts TIMESTAMP] (tnParse's input
// lines); the output adds the aggregates of overAggs.

var overAggs = []AggCall{
	{Kind: AggCountStar, Arg: -1},
	{Kind: AggSum, Arg: 1, ArgType: types.TBigInt},
	{Kind: AggAvg, Arg: 1, ArgType: types.TBigInt},
	{Kind: AggMin, Arg: 1, ArgType: types.TBigInt},
	{Kind: AggMax, Arg: 1, ArgType: types.TBigInt},
	{Kind: AggCount, Arg: 1, ArgType: types.TBigInt},
	{Kind: AggMax, Arg: 0, ArgType: types.TVarchar},
}

// overStep is an input batch (or a watermark, when in is nil) and the
// exact output it must produce.
type overStep = tnStep

func overRun(t *testing.T, cfg OverConfig, steps []overStep) *OverAgg {
	t.Helper()
	cfg.Width = 3
	op, err := NewOverAgg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out aggCollector
	for i, s := range steps {
		if s.in != nil {
			err = op.Process(0, tnParse(t, s.in), &out)
		} else {
			err = op.OnWatermark(s.wm, &out)
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := out.take(); !slices.Equal(got, s.want) {
			t.Errorf("step %d %v:\n got %s\nwant %s", i, s.in, strings.Join(got, "\n     "), strings.Join(s.want, "\n     "))
		}
	}
	return op
}

// sumOfV is SUM(v) and COUNT(*), the aggregates of the changelog tests.
var sumOfV = []AggCall{{Kind: AggSum, Arg: 1, ArgType: types.TBigInt}, {Kind: AggCountStar, Arg: -1}}

func TestOverEventTimeChangelog(t *testing.T) {
	// SUM(v), COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 1
	// PRECEDING AND CURRENT ROW)
	op := overRun(t, OverConfig{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2,
		Preceding: 1, Aggs: sumOfV}, []overStep{
		// rows wait for the watermark
		{in: []string{"+I a 5 100", "+I a 3 90", "+I b 4 95"}, want: nil},
		{wm: 94, want: []string{"+I a,3,90,3,1"}},
		// out of order but not late: sorted when the watermark comes;
		// partitions in the order of their earliest waiting row
		{in: []string{"+I a 7 120", "+I a 1 110", "+I b 2 96"}, want: nil},
		{wm: 115, want: []string{"+I b,4,95,4,1", "+I b,2,96,6,2", "+I a,5,100,8,2", "+I a,1,110,6,2"}},
		// at or below the watermark: late, dropped
		{in: []string{"+I a 100 115", "+I b 100 20"}, want: nil},
		// equal timestamps: ordered by the row; NULL v is not summed
		{in: []string{"+I a 2 130", "+I a NULL 130", "+I a 1 130"}, want: nil},
		{wm: 200, want: []string{"+I a,7,120,8,2", "+I a,NULL,130,7,2", "+I a,1,130,1,2", "+I a,2,130,3,2"}},
	})
	if op.LateRows() != 2 {
		t.Errorf("%d late rows, want 2", op.LateRows())
	}
	// RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW: peers share
	overRun(t, OverConfig{Mode: OverEventTime, Order: []SortKey{{Col: 2}}, TimeCol: 2, Preceding: -1, Range: true, Aggs: sumOfV}, []overStep{
		{in: []string{"+I a 5 100", "+I b 3 100", "+I a 1 90"}, want: nil},
		{wm: 100, want: []string{"+I a,1,90,1,1", "+I a,5,100,9,3", "+I b,3,100,9,3"}},
		{in: []string{"+I a 10 101"}, wm: 0, want: nil},
		{wm: 101, want: []string{"+I a,10,101,19,4"}},
	})
}

func TestOverProcTimeChangelog(t *testing.T) {
	// arrival order, at once; RANGE is ROWS on processing time
	overRun(t, OverConfig{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: -1, Range: true, Aggs: sumOfV}, []overStep{
		{in: []string{"+I a 5 100", "+I a 3 100", "+I b 4 1"}, want: []string{"+I a,5,100,5,1", "+I a,3,100,8,2", "+I b,4,1,4,1"}},
		{in: []string{"+I a 1 50"}, want: []string{"+I a,1,50,9,3"}},
	})
	overRun(t, OverConfig{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: 2, Aggs: sumOfV}, []overStep{
		{in: []string{"+I a 5 1", "+I a 3 2", "+I a 1 3", "+I a 10 4"}, want: []string{"+I a,5,1,5,1", "+I a,3,2,8,2", "+I a,1,3,9,3", "+I a,10,4,14,3"}},
	})
}

func TestOverUpdatingChangelog(t *testing.T) {
	// SUM(v), COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 1
	// PRECEDING AND CURRENT ROW) over an updating input
	overRun(t, OverConfig{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: 1, InputUpdating: true, Aggs: sumOfV}, []overStep{
		{in: []string{"+I a 5 100", "+I a 3 200"}, want: []string{"+I a,5,100,5,1", "+I a,3,200,8,2"}},
		// a row before both: it and the next one change, the last keeps its frame
		{in: []string{"+I a 1 50"}, want: []string{"-U a,5,100,5,1", "+U a,5,100,6,2", "+I a,1,50,1,1"}},
		// a retraction: the row goes, the next takes its place
		{in: []string{"-U a 5 100", "+U a 7 150"}, want: []string{
			"-D a,5,100,6,2", "-U a,3,200,8,2", "+U a,3,200,10,2", "+I a,7,150,8,2"}},
		// a retraction of a row that is not there is ignored
		{in: []string{"-D a 9 999", "-D b 1 1"}, want: nil},
		// an insertion and its retraction in one batch: nothing
		{in: []string{"+I a 4 300", "-D a 4 300"}, want: nil},
		// the partition empties
		{in: []string{"-D a 1 50", "-D a 7 150", "-D a 3 200"}, want: []string{"-D a,1,50,1,1", "-D a,7,150,8,2", "-D a,3,200,10,2"}},
		{in: []string{"+I a 2 10"}, want: []string{"+I a,2,10,2,1"}},
	})
	// ORDER BY v DESC, RANGE: ties (peers) share a frame; the frame of
	// every later row changes
	overRun(t, OverConfig{Mode: OverUpdating, Order: []SortKey{{Col: 1, Desc: true}}, Preceding: -1, Range: true, Aggs: sumOfV}, []overStep{
		{in: []string{"+I a 5 1", "+I b 3 2"}, want: []string{"+I a,5,1,5,1", "+I b,3,2,8,2"}},
		{in: []string{"+I c 5 3"}, want: []string{"-U a,5,1,5,1", "-U b,3,2,8,2", "+U a,5,1,10,2", "+U b,3,2,13,3", "+I c,5,3,10,2"}},
		{in: []string{"+I d 1 4"}, want: []string{"+I d,1,4,14,4"}},
	})
}

func TestOverErrors(t *testing.T) {
	ok := OverConfig{Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2, Preceding: 3, Aggs: sumOfV}
	if _, err := NewOverAgg(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(c *OverConfig){
		"no order":         func(c *OverConfig) { c.Order = nil },
		"partition column": func(c *OverConfig) { c.Partition = []int{3} },
		"no aggregates":    func(c *OverConfig) { c.Aggs = nil },
		"distinct": func(c *OverConfig) {
			c.Aggs = []AggCall{{Kind: AggSum, Arg: 1, ArgType: types.TBigInt, Distinct: true}}
		},
		"sum of varchar":   func(c *OverConfig) { c.Aggs = []AggCall{{Kind: AggSum, Arg: 0, ArgType: types.TVarchar}} },
		"bounded range":    func(c *OverConfig) { c.Range = true },
		"negative":         func(c *OverConfig) { c.Preceding = -2 },
		"event time desc":  func(c *OverConfig) { c.Order = []SortKey{{Col: 2, Desc: true}} },
		"event time other": func(c *OverConfig) { c.Order = []SortKey{{Col: 1}} },
		"updating input":   func(c *OverConfig) { c.InputUpdating = true },
	} {
		c := ok
		mod(&c)
		if _, err := NewOverAgg(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	op, err := NewOverAgg(ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Process(0, tnParse(t, []string{"-D a 1 1"}), discard{}); err == nil {
		t.Error("a retraction on an append-only input: no error")
	}
	if err := op.Process(0, &types.Batch{Rows: []types.Row{{types.StringValue("a"), types.BigIntValue(1), types.NullValue}}}, discard{}); err == nil {
		t.Error("NULL event time: no error")
	}
}

// ---- randomized: against a brute force ----

// overBruteOrder is the operator's row order written independently: the
// ORDER BY keys, then every column ascending (NULL first), which is what
// the operator's tie-break gives for VARCHAR, BIGINT and TIMESTAMP values.
func overBruteOrder(order []SortKey) func(a, b types.Row) int {
	return func(a, b types.Row) int {
		for _, k := range order {
			if c := types.Compare(a[k.Col], b[k.Col]); c != 0 {
				if k.Desc {
					return -c
				}
				return c
			}
		}
		for i := range a {
			if c := types.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	}
}

// overBruteAggs computes overAggs over a frame with plain Go.
func overBruteAggs(frame []types.Row) []types.Value {
	var n, cnt, sum int64
	var lo, hi, kmax types.Value
	for _, r := range frame {
		n++
		if v := r[1]; v.Kind != types.Null {
			cnt++
			sum += v.I
			if lo.Kind == types.Null || v.I < lo.I {
				lo = v
			}
			if hi.Kind == types.Null || v.I > hi.I {
				hi = v
			}
		}
		if k := r[0]; k.Kind != types.Null && (kmax.Kind == types.Null || k.S > kmax.S) {
			kmax = k
		}
	}
	out := []types.Value{types.BigIntValue(n), types.NullValue, types.NullValue, lo, hi, types.BigIntValue(cnt), kmax}
	if cnt > 0 {
		out[1] = types.BigIntValue(sum)
		out[2] = types.DoubleValue(float64(sum) / float64(cnt))
	}
	return out
}

// overBrute computes the result over rows (a partition's rows in arrival
// order when order is nil), every row with its frame.
func overBrute(cfg OverConfig, rows []types.Row, order func(a, b types.Row) int) []string {
	parts := map[string][]types.Row{}
	for _, r := range rows {
		k := string(appendGroupKey(nil, r, cfg.Partition))
		parts[k] = append(parts[k], r)
	}
	var out []string
	for _, ps := range parts {
		if order != nil {
			slices.SortStableFunc(ps, order)
		}
		for i, r := range ps {
			from, to := 0, i+1
			if cfg.Preceding >= 0 {
				from = max(0, i-int(cfg.Preceding))
			}
			if cfg.Range && order != nil {
				for to < len(ps) && cmpOrderOnly(cfg.Order, ps[i], ps[to]) == 0 {
					to++ // its peers
				}
			}
			res := append(slices.Clone(r), overBruteAggs(ps[from:to])...)
			out = append(out, aggFmtRow(types.Insert, res)[3:])
		}
	}
	slices.Sort(out)
	return out
}

func cmpOrderOnly(order []SortKey, a, b types.Row) int {
	for _, k := range order {
		if c := types.Compare(a[k.Col], b[k.Col]); c != 0 {
			return c
		}
	}
	return 0
}

type overFrame struct {
	name      string
	preceding int64
	rng       bool
}

var overFrames = []overFrame{{"rows0", 0, false}, {"rows1", 1, false}, {"rows3", 3, false}, {"unbounded", -1, false}, {"range", -1, true}}

func TestOverRandomizedAppendOnly(t *testing.T) {
	for _, mode := range []OverMode{OverEventTime, OverProcTime} {
		for _, fr := range overFrames {
			for _, part := range [][]int{{0}, nil} {
				name := fmt.Sprintf("%s/%s/partitions=%d", mode, fr.name, len(part))
				t.Run(name, func(t *testing.T) {
					cfg := OverConfig{Mode: mode, Width: 3, Partition: part, Order: []SortKey{{Col: 2}}, TimeCol: 2,
						Preceding: fr.preceding, Range: fr.rng, Aggs: overAggs}
					late, emitted := 0, 0
					for seed := range uint64(25) {
						r := rand.New(rand.NewPCG(seed, 11))
						op, err := NewOverAgg(cfg)
						if err != nil {
							t.Fatal(err)
						}
						var out aggCollector
						var kept []types.Row
						clock, wm := int64(1000), int64(0)
						for range 60 {
							if mode == OverEventTime && r.IntN(4) == 0 {
								if w := clock - 25; w > wm {
									wm = w
									if err := op.OnWatermark(wm, &out); err != nil {
										t.Fatal(err)
									}
									for _, b := range out.batches[out.next:] {
										for _, row := range b.Rows {
											if row[2].I > wm {
												t.Fatalf("a row at %d went out at watermark %d", row[2].I, wm)
											}
											emitted++
										}
									}
									out.next = len(out.batches)
								}
								continue
							}
							b := &types.Batch{}
							for range 1 + r.IntN(6) {
								clock += int64(r.IntN(6))
								row := tnRandomRow(r, clock-int64(r.IntN(40)))
								b.Append(row, types.Insert)
								if mode == OverEventTime && row[2].I <= wm {
									late++
									continue
								}
								kept = append(kept, row)
							}
							if err := op.Process(0, cloneBatch(b), &out); err != nil {
								t.Fatal(err)
							}
							if mode == OverEventTime && len(out.batches) > out.next {
								t.Fatal("an event-time OVER emitted rows before the watermark reached them")
							}
						}
						if err := op.OnWatermark(MaxWatermark, &out); err != nil {
							t.Fatal(err)
						}
						var got []string
						for _, b := range out.batches {
							for i, row := range b.Rows {
								if b.Kind(i) != types.Insert {
									t.Fatalf("an append-only OVER emitted %s", b.Kind(i))
								}
								got = append(got, aggFmtRow(types.Insert, row)[3:])
							}
						}
						slices.Sort(got)
						var order func(a, b types.Row) int
						if mode == OverEventTime {
							order = overBruteOrder(cfg.Order)
						}
						if want := overBrute(cfg, kept, order); !slices.Equal(got, want) {
							t.Fatalf("seed %d:\n got %v\nwant %v", seed, got, want)
						}
						if int(op.LateRows()) != late {
							t.Fatalf("seed %d: %d late rows, want %d", seed, op.LateRows(), late)
						}
						late = 0
					}
					if mode == OverEventTime && emitted == 0 {
						t.Fatal("no row went out before the end of input: the watermarks test nothing")
					}
				})
			}
		}
	}
}

func TestOverRandomizedUpdating(t *testing.T) {
	orders := map[string][]SortKey{
		"ts":        {{Col: 2}},
		"v-desc":    {{Col: 1, Desc: true}},
		"v-desc-ts": {{Col: 1, Desc: true}, {Col: 2}},
	}
	for _, oname := range slices.Sorted(maps.Keys(orders)) {
		for _, fr := range overFrames {
			t.Run(oname+"/"+fr.name, func(t *testing.T) {
				cfg := OverConfig{Mode: OverUpdating, Width: 3, Partition: []int{0}, Order: orders[oname],
					Preceding: fr.preceding, Range: fr.rng, InputUpdating: true, Aggs: overAggs}
				changes := 0
				for seed := range uint64(25) {
					r := rand.New(rand.NewPCG(seed, 12))
					op, err := NewOverAgg(cfg)
					if err != nil {
						t.Fatal(err)
					}
					var out aggCollector
					var live []types.Row
					m := tnMaterialize{}
					for step := range 50 {
						b := &types.Batch{}
						for range 1 + r.IntN(8) {
							switch p := r.IntN(10); {
							case p < 3 && len(live) > 0:
								j := r.IntN(len(live))
								b.Append(live[j], []types.RowKind{types.Delete, types.UpdateBefore}[r.IntN(2)])
								live = slices.Delete(live, j, j+1)
							case p == 3:
								// a retraction of a row that is not there
								b.Append(tnRandomRow(r, -1), types.Delete) // no live row has ts -1
							default:
								// few distinct values: ties and duplicates
								row := tnRandomRow(r, int64(r.IntN(30)))
								b.Append(row, types.Insert)
								live = append(live, row)
							}
						}
						if err := op.Process(0, cloneBatch(b), &out); err != nil {
							t.Fatal(err)
						}
						if len(out.batches)-out.next > 1 {
							t.Fatalf("step %d: %d output batches for one input batch", step, len(out.batches)-out.next)
						}
						rows := out.take()
						for _, l := range rows {
							if strings.HasPrefix(l, "-U") {
								changes++
							}
						}
						m.apply(t, rows)
						if got, want := m.sorted(), overBrute(cfg, live, overBruteOrder(cfg.Order)); !slices.Equal(got, want) {
							t.Fatalf("seed %d step %d after %v:\n got %v\nwant %v", seed, step, b.Rows, got, want)
						}
					}
				}
				if changes == 0 && fr.preceding != 0 {
					t.Fatal("no row was updated: the test proves nothing")
				}
			})
		}
	}
}

// ---- restore at another parallelism ----

func TestOverRestore(t *testing.T) {
	configs := []OverConfig{
		{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2, Preceding: 2},
		{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2, Preceding: -1, Range: true},
		{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: 1},
		{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: -1},
		{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Preceding: 2, InputUpdating: true},
		{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 1}}, Preceding: -1, Range: true, InputUpdating: true},
	}
	const groups = 16
	for ci, cfg := range configs {
		cfg.Width, cfg.Aggs, cfg.MaxKeyGroups = 3, overAggs, groups
		r := rand.New(rand.NewPCG(uint64(ci), 4))
		var steps []cowStep
		var live []types.Row
		clock := int64(1000)
		const n = 80
		for i := range n {
			if r.IntN(5) == 0 {
				steps = append(steps, cowStep{wm: clock - 30})
				continue
			}
			b := &types.Batch{}
			for range 1 + r.IntN(6) {
				if cfg.InputUpdating && len(live) > 0 && r.IntN(3) == 0 {
					j := r.IntN(len(live))
					b.Append(live[j], types.Delete)
					live = slices.Delete(live, j, j+1)
					continue
				}
				clock += int64(r.IntN(5))
				row := tnRandomRow(r, clock-int64(r.IntN(20)))
				if i >= n/2 && row[0].S == "d" {
					// no new rows for d in the second half: what d holds at
					// the snapshot goes out on its own
					row[0] = types.StringValue("a")
				}
				live = append(live, row)
				b.Append(row, types.Insert)
			}
			steps = append(steps, cowStep{batch: b})
		}
		steps = append(steps, cowStep{wm: MaxWatermark})
		feed := func(op *OverAgg, s cowStep, out Emitter) {
			var err error
			if s.batch != nil {
				err = op.Process(0, cloneBatch(s.batch), out)
			} else {
				err = op.OnWatermark(s.wm, out)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Run(fmt.Sprint(cfg.Mode, ci), func(t *testing.T) {
			whole, err := NewOverAgg(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cut := n / 2 // a step per iteration: the half where d stops
			var c aggCollector
			lastWM := int64(0)
			for _, s := range steps[:cut] {
				feed(whole, s, &c)
				if s.batch == nil {
					lastWM = s.wm
				}
			}
			base := tnMaterialize{}
			base.apply(t, c.take())
			if d := whole.parts[string(appendGroupKey(nil, types.Row{types.StringValue("d")}, []int{0}))]; cfg.Mode == OverEventTime && (d == nil || len(d.pending) == 0) {
				t.Fatal("no row of d waits for the watermark at the snapshot: the restore of waiting rows is not tested")
			}
			var snap rawState
			if err := whole.SnapshotState(1, &snap); err != nil {
				t.Fatal(err)
			}
			for _, s := range steps[cut:] {
				feed(whole, s, &c)
			}
			full := maps.Clone(base)
			full.apply(t, c.take())
			if len(full) == 0 {
				t.Fatal("empty result: the test proves nothing")
			}
			got := replayRestoredAtThree(t, snap, groups, cfg.Partition, func() (*OverAgg, error) { return NewOverAgg(cfg) }, feed, lastWM, steps[cut:], base)
			if g, w := got.sorted(), full.sorted(); !slices.Equal(g, w) {
				t.Fatalf("restored at parallelism 3:\n got %v\nwant %v", g, w)
			}
		})
	}
}

// ---- checkpoints: OVER state through savepoints and restores ----

// ovCkJob reads the checkpoint test's source ([k, ts, v]) into an
// event-time OVER (SUM(v), COUNT(*) per k over 4 rows, append-only) and,
// through a GROUP BY k (COUNT(*), SUM(v), an updating result), into an
// updating OVER without PARTITION BY ordered by the sum (SUM(count) over 3
// rows), each into its own sink.
func ovCkJob(o ckJobOpts) *JobSpec {
	spec := ckJob(o)
	src := spec.Vertices[0]
	sum := []AggCall{{Kind: AggSum, Arg: 2, ArgType: types.TBigInt}, {Kind: AggCountStar, Arg: -1}}
	ev := &Vertex{Name: "OverAggregate#2", StateID: 2, Parallelism: o.par,
		Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewOverAgg(OverConfig{Mode: OverEventTime, Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 1}},
				TimeCol: 1, Preceding: 3, Aggs: sum, MaxKeyGroups: tc.MaxKeyGroups})
		}}
	grp := &Vertex{Name: "GroupAggregate#3", StateID: 3, Parallelism: o.par,
		Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewGroupAgg(GroupAggConfig{Keys: []int{0}, MaxKeyGroups: tc.MaxKeyGroups,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}}})
		}}
	upd := &Vertex{Name: "OverAggregate#4", StateID: 4, Parallelism: 1,
		Inputs: []Edge{{From: 2, Kind: Hash, Keys: []int{}}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewOverAgg(OverConfig{Mode: OverUpdating, Width: 3, Order: []SortKey{{Col: 2, Desc: true}, {Col: 0}},
				Preceding: 2, InputUpdating: true, Aggs: []AggCall{{Kind: AggSum, Arg: 1, ArgType: types.TBigInt}},
				MaxKeyGroups: tc.MaxKeyGroups})
		}}
	sinkE := &Vertex{Name: "Sink#5", Parallelism: 2, Inputs: []Edge{{From: 1, Kind: Hash, Keys: []int{0}}},
		NewSink: func(tc *TaskContext) (Sink, error) { return &ckSink{store: o.store, name: "over"}, nil }}
	sinkU := &Vertex{Name: "Sink#6", Parallelism: 1, Inputs: []Edge{{From: 3, Kind: Forward}},
		NewSink: func(tc *TaskContext) (Sink, error) { return &ckSink{store: o.store, name: "overupd"}, nil }}
	spec.Vertices = []*Vertex{src, ev, grp, upd, sinkE, sinkU}
	return spec
}

// ovCkResult is the committed output: the event-time OVER's rows sorted,
// and the updating OVER's changelog applied (a retraction of a missing
// row fails), sorted.
func ovCkResult(t *testing.T, s *ckStore) (rows, table []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rows = slices.Clone(s.committed["over"])
	slices.Sort(rows)
	m := tnMaterialize{}
	m.apply(t, s.committed["overupd"])
	return rows, m.sorted()
}

func TestOverCheckpointRestore(t *testing.T) {
	gold := newCkStore()
	if err := Run(context.Background(), ovCkJob(ckJobOpts{par: 1, store: gold})); err != nil {
		t.Fatal(err)
	}
	goldR, goldT := ovCkResult(t, gold)
	if len(goldR) != ckStreams*ckPerStream || len(goldT) != 11 {
		t.Fatalf("golden run looks wrong: %d OVER rows, %d updating rows", len(goldR), len(goldT))
	}
	check := func(t *testing.T, store *ckStore) {
		t.Helper()
		r, tbl := ovCkResult(t, store)
		if !slices.Equal(r, goldR) {
			t.Errorf("event-time OVER rows differ from the golden run: got %d rows, want %d\n%s", len(r), len(goldR), diffRows(r, goldR))
		}
		if !slices.Equal(tbl, goldT) {
			t.Errorf("updating OVER table differs from the golden run:\n got %v\nwant %v", tbl, goldT)
		}
	}
	// spill: a state memory with room for a partition or two per
	// subtask, the rest spilled (both OVER operators and the GROUP BY)
	for _, memory := range []int64{0, 4000} {
		name := "savepoint-at-2-restore-at-3"
		if memory > 0 {
			name += "-spill"
		}
		t.Run(name, func(t *testing.T) {
			st, err := checkpoint.NewDirStorage(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := newCkStore()
			sp := runToSavepoint(t, st, ovCkJob, ckJobOpts{par: 2, store: store, memory: memory}, 2)
			if len(store.committed["over"]) == 0 || len(store.committed["overupd"]) == 0 {
				t.Fatal("nothing committed before the savepoint: the restore proves nothing")
			}
			cp, err := st.Open(sp.Dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg2 := ckConfig(t, st, 50*time.Millisecond, nil)
			cfg2.Restore = &cp
			spec := ovCkJob(ckJobOpts{par: 3, store: store, ck: cfg2, memory: memory})
			if err := Run(context.Background(), spec); err != nil {
				t.Fatalf("run 2: %v", err)
			}
			check(t, store)
			if memory > 0 {
				if ss, ok := spec.Vertices[1].Spill(); !ok || ss.Evicted == 0 || ss.Reloaded == 0 {
					t.Errorf("the event-time OVER evicted %d and reloaded %d partitions: it did not spill", ss.Evicted, ss.Reloaded)
				}
			}
		})
	}
}
