package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkOverSpill: COUNT(*), SUM(v) and MAX(v) OVER (PARTITION BY k
// ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) over 200k
// partitions, 2M events in time order in batches of 1,024.
//
// event-time: a watermark after each batch, two batches behind the input
// (the rows in between wait in their partitions). updating: every row is
// kept (OverUpdating over 50k partitions and 500k events, insertions only).
// Keys are drawn uniformly or hot (90 % of rows on 5 % of the keys).
//
// Each runs with the state in memory and with a memory budget of a tenth
// of the in-memory estimate (the largest resident estimate of a spilling
// run with no limit, measured before), the rest spilled to Badger.
// Figures: events/s, the ratio to the in-memory run of the same
// distribution, and the spilling run's evictions and reloads.
//
//	go test ./exec -run '^$' -bench OverSpill -benchtime 1x
func BenchmarkOverSpill(b *testing.B) {
	for _, mode := range []OverMode{OverEventTime, OverUpdating} {
		keys, events := 200_000, 2_000_000
		if mode == OverUpdating {
			keys, events = 50_000, 500_000
		}
		for _, dist := range []string{"uniform", "hot"} {
			in := overBenchInput(keys, events, dist)
			var base float64
			b.Run(fmt.Sprintf("%s/%s/memory", mode, dist), func(b *testing.B) {
				for range b.N {
					op := newOverBenchOp(b, mode)
					rate, _ := runOverBench(b, op, in)
					b.ReportMetric(rate, "events/s")
					base = rate
				}
			})
			var full int64
			b.Run(fmt.Sprintf("%s/%s/budget=1|10", mode, dist), func(b *testing.B) {
				if full == 0 {
					op := newOverBenchOp(b, mode)
					op.EnableSpill(openTestSpill(b).Space(), math.MaxInt64)
					_, full = runOverBench(b, op, in)
					op.Close()
				}
				for range b.N {
					op := newOverBenchOp(b, mode)
					op.EnableSpill(openTestSpill(b).Space(), full/10)
					rate, _ := runOverBench(b, op, in)
					b.ReportMetric(rate, "events/s")
					if base > 0 {
						b.ReportMetric(rate/base, "x-memory")
					}
					st := op.SpillStats()
					b.ReportMetric(float64(full), "full-bytes")
					b.ReportMetric(float64(st.Evicted), "evicted")
					b.ReportMetric(float64(st.Reloaded), "reloads")
					if st.Evicted == 0 || st.Reloaded == 0 {
						b.Fatalf("nothing spilled: %+v", st)
					}
					op.Close()
				}
			})
		}
	}
}

const overBenchBatch = 1024

func overBenchInput(keys, events int, dist string) []types.Row {
	rng := rand.New(rand.NewPCG(5, 6))
	in := make([]types.Row, events)
	for i := range in {
		k := rng.IntN(keys)
		if dist == "hot" && rng.IntN(10) < 9 {
			k = rng.IntN(keys / 20)
		}
		in[i] = types.Row{types.BigIntValue(int64(k)), types.BigIntValue(int64(i % 1000)), types.TimestampValue(int64(i))}
	}
	return in
}

func newOverBenchOp(b *testing.B, mode OverMode) *OverAgg {
	op, err := NewOverAgg(OverConfig{Mode: mode, Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2,
		Preceding: 3, Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt},
			{Kind: AggMax, Arg: 1, ArgType: types.TBigInt}}})
	if err != nil {
		b.Fatal(err)
	}
	return op
}

// runOverBench feeds in to op (a watermark after each batch in event
// time) and returns events/s and, if op spills, the largest resident
// estimate after a batch or watermark.
func runOverBench(b *testing.B, op *OverAgg, in []types.Row) (float64, int64) {
	runtime.GC()
	var out overBenchCount
	var peak int64
	start := time.Now()
	for i := 0; i < len(in); i += overBenchBatch {
		bt := &types.Batch{Rows: in[i:min(i+overBenchBatch, len(in))]}
		if err := op.Process(0, bt, &out); err != nil {
			b.Fatal(err)
		}
		if op.mode == OverEventTime {
			if err := op.OnWatermark(int64(i-2*overBenchBatch), &out); err != nil {
				b.Fatal(err)
			}
		}
		if op.sp != nil {
			peak = max(peak, op.sp.mem)
		}
	}
	if op.mode == OverEventTime {
		if err := op.OnWatermark(MaxWatermark, &out); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(len(in)) / time.Since(start).Seconds()
	if out.rows != len(in) {
		b.Fatalf("%d rows went out for %d events", out.rows, len(in))
	}
	return rate, peak
}

type overBenchCount struct{ rows int }

func (c *overBenchCount) Emit(bt *types.Batch) error { c.rows += len(bt.Rows); return nil }
