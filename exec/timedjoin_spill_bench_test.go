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

// BenchmarkIntervalJoinSpill: an inner interval join (right.ts - left.ts
// in [-100 s, 100 s]) over 100k keys, 2M rows alternating between the
// inputs in batches of 1,024, event time rising 1 ms a row, a watermark
// (event time - 1 s) after every batch, so that about 200k rows are held;
// and the same window join: TUMBLE windows of 200 s, keys (k, window end).
// Each runs with the state in memory and with a budget of a tenth of the
// in-memory run's peak estimate (measured by a run with an unlimited
// budget, not timed). Figures: events/s, the ratio to the in-memory run,
// keys evicted and reloaded.
//
//	go test ./exec -run '^$' -bench 'IntervalJoinSpill|WindowJoinSpill' -benchtime 1x
func BenchmarkIntervalJoinSpill(b *testing.B) {
	benchTimedJoinSpill(b, false)
}

func BenchmarkWindowJoinSpill(b *testing.B) {
	benchTimedJoinSpill(b, true)
}

func benchTimedJoinSpill(b *testing.B, window bool) {
	const keys, rows, batch = 100_000, 2_000_000, 1024
	const span, lag = 200_000, 1000 // ms
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]types.Row, rows)
	for i := range in {
		ts := int64(i) + int64(rng.IntN(500))
		if window {
			ts = (ts/span + 1) * span // the window end
		}
		in[i] = types.Row{types.BigIntValue(int64(rng.IntN(keys))), types.TimestampValue(ts), types.BigIntValue(int64(i))}
	}
	newOp := func() Operator {
		if window {
			j, err := NewWindowJoin(WindowJoinConfig{Kind: JoinInner, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1},
				LeftWidth: 3, RightWidth: 3, LeftEnd: 1, RightEnd: 1})
			if err != nil {
				b.Fatal(err)
			}
			return j
		}
		j, err := NewIntervalJoin(IntervalJoinConfig{Kind: JoinInner, LeftKeys: []int{0}, RightKeys: []int{0},
			LeftWidth: 3, RightWidth: 3, LeftTime: 1, RightTime: 1, Lower: -span / 2, Upper: span / 2})
		if err != nil {
			b.Fatal(err)
		}
		return j
	}
	// run feeds the input; peak is the largest resident estimate seen
	run := func(op Operator) (out int, peak int64) {
		var c countEmitter
		wh := op.(WatermarkHandler)
		sp, _ := op.(Spiller)
		for i := 0; i < rows; i += batch {
			bt := &types.Batch{Rows: in[i:min(i+batch, rows)]}
			if err := op.Process((i/batch)%2, bt, &c); err != nil {
				b.Fatal(err)
			}
			if err := wh.OnWatermark(int64(i)-lag, &c); err != nil {
				b.Fatal(err)
			}
			if sp != nil {
				peak = max(peak, sp.SpillStats().Resident)
			}
		}
		if err := wh.OnWatermark(MaxWatermark, &c); err != nil {
			b.Fatal(err)
		}
		return c.rows, peak
	}
	var base float64
	var joined, full int64
	for _, frac := range []int{0, 10} {
		name := "memory"
		if frac > 0 {
			name = fmt.Sprintf("budget=1|%d", frac)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				op := newOp()
				if frac > 0 {
					sp, ok := op.(Spiller)
					if !ok {
						b.Skip("the operator does not spill")
					}
					if full == 0 {
						sp.EnableSpill(openTestSpill(b).Space(), math.MaxInt64)
						_, full = run(op)
						op.(Closer).Close()
						op = newOp()
						sp = op.(Spiller)
					}
					sp.EnableSpill(openTestSpill(b).Space(), full/int64(frac))
				}
				runtime.GC()
				start := time.Now()
				n, _ := run(op)
				rate := float64(rows) / time.Since(start).Seconds()
				b.ReportMetric(rate, "events/s")
				b.ReportMetric(float64(n), "joined")
				if frac == 0 {
					base, joined = rate, int64(n)
				} else {
					if joined != 0 && int64(n) != joined {
						b.Fatalf("spilling joined %d rows, in memory %d", n, joined)
					}
					st := op.(Spiller).SpillStats()
					b.ReportMetric(float64(full)/(1<<20), "peak-MB-in-memory")
					b.ReportMetric(float64(st.Budget)/(1<<20), "budget-MB")
					b.ReportMetric(float64(st.Evicted), "evicted")
					b.ReportMetric(float64(st.Reloaded), "reloads")
					if base > 0 {
						b.ReportMetric(rate/base, "x-memory")
					}
				}
				if c, ok := op.(Closer); ok {
					c.Close()
				}
			}
		})
	}
}
