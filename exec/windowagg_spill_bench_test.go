package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkWindowAggSpill: COUNT(*) and SUM per key over 1M keys in one
// open window (a one-hour TUMBLE window, or SESSION windows with a
// two-hour gap, 4M events in batches of 1,024 over one hour of event
// time, after every key was seen once), with the state in memory and with
// a memory budget of a tenth of it, the rest spilled to Badger; then the
// windows fire (Finish), from memory and from the spill store. Keys are
// drawn uniformly or hot (90 % of updates on 5 % of the keys). Figures:
// events/s over the whole run, firing included, and the ratio to the
// in-memory run of the same case, in one process.
//
//	go test ./exec -run '^$' -bench WindowAggSpill -benchtime 1x
func BenchmarkWindowAggSpill(b *testing.B) {
	const keys, events, batch, hour = 1_000_000, 4_000_000, 1024, 3_600_000
	for _, kind := range []WindowKind{WindowTumble, WindowSession} {
		spec := WindowSpec{Kind: WindowTumble, TimeCol: 2, Size: hour}
		if kind == WindowSession {
			spec = WindowSpec{Kind: WindowSession, TimeCol: 2, Gap: 2 * hour}
		}
		for _, dist := range []string{"uniform", "hot"} {
			rng := rand.New(rand.NewPCG(1, 2))
			rows := make([]types.Row, events)
			for i := range rows {
				k := i
				if i >= keys {
					k = rng.IntN(keys)
					if dist == "hot" && rng.IntN(10) < 9 {
						k = rng.IntN(keys / 20)
					}
				}
				rows[i] = types.Row{types.BigIntValue(int64(k)), types.BigIntValue(int64(i % 100)), types.TimestampValue(int64(i) * (hour - 1) / events)}
			}
			var base float64
			for _, frac := range []int{0, 10} {
				name := fmt.Sprintf("%s/%s/memory", kind, dist)
				if frac > 0 {
					name = fmt.Sprintf("%s/%s/budget=1|%d", kind, dist, frac)
				}
				b.Run(name, func(b *testing.B) {
					for range b.N {
						w, err := NewWindowAgg(WindowAggConfig{Keys: []int{0}, Window: spec,
							Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}}})
						if err != nil {
							b.Fatal(err)
						}
						if frac > 0 {
							// the in-memory estimate of all keys, divided
							per := w.groupBytes()
							if kind == WindowSession {
								per = w.sessionBytes()
							}
							full := int64(keys) * (per + w.keyBytes("123456789"))
							w.EnableSpill(openTestSpill(b).Space(), full/int64(frac))
						}
						var out benchSink
						runtime.GC()
						start := time.Now()
						for i := 0; i < events; i += batch {
							bt := &types.Batch{Rows: rows[i:min(i+batch, events)]}
							if err := w.Process(0, bt, &out); err != nil {
								b.Fatal(err)
							}
						}
						st := w.SpillStats()
						if err := w.Finish(&out); err != nil {
							b.Fatal(err)
						}
						el := time.Since(start)
						if out.rows != keys {
							b.Fatalf("%d rows fired, want %d", out.rows, keys)
						}
						rate := float64(events) / el.Seconds()
						b.ReportMetric(rate, "events/s")
						if frac == 0 {
							base = rate
						} else if base > 0 {
							b.ReportMetric(rate/base, "x-memory")
						}
						b.ReportMetric(float64(st.Spilled), "spilled")
						b.ReportMetric(float64(st.Reloaded), "reloads")
						w.Close()
					}
				})
			}
		}
	}
}
