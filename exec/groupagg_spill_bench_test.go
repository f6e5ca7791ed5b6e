package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkGroupAggSpill: COUNT(*) and SUM per key over 1M keys (4M
// events in batches of 1,024, after every key was created once), with the
// state in memory and with a memory budget of a tenth and a hundredth of
// it, the rest spilled to Badger. Keys are drawn uniformly (every update
// likely misses the resident tenth) or hot (90 % of updates on 5 % of the
// keys, a working set that fits the budget). Figures: events/s and the
// ratio to the in-memory run of the same distribution, in one process.
//
//	go test ./exec -run '^$' -bench GroupAggSpill -benchtime 1x
func BenchmarkGroupAggSpill(b *testing.B) {
	const keys, events, batch = 1_000_000, 4_000_000, 1024
	for _, dist := range []string{"uniform", "hot"} {
		rng := rand.New(rand.NewPCG(1, 2))
		rows := make([]types.Row, events)
		for i := range rows {
			k := i
			if i >= keys {
				switch dist {
				case "uniform":
					k = rng.IntN(keys)
				case "hot":
					k = rng.IntN(keys)
					if rng.IntN(10) < 9 {
						k = rng.IntN(keys / 20)
					}
				}
			}
			rows[i] = types.Row{types.BigIntValue(int64(k)), types.BigIntValue(int64(i % 100))}
		}
		var base float64
		for _, frac := range []int{0, 10, 100} {
			name := fmt.Sprintf("%s/memory", dist)
			if frac > 0 {
				name = fmt.Sprintf("%s/budget=1|%d", dist, frac)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					g, err := NewGroupAgg(GroupAggConfig{Keys: []int{0},
						Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}}})
					if err != nil {
						b.Fatal(err)
					}
					if frac > 0 {
						// the in-memory estimate of all keys, divided
						full := int64(keys) * int64(groupBaseBytes+2*9+32+80*2)
						g.EnableSpill(openTestSpill(b).Space(), full/int64(frac))
					}
					runtime.GC()
					start := time.Now()
					for i := 0; i < events; i += batch {
						bt := &types.Batch{Rows: rows[i:min(i+batch, events)]}
						if err := g.Process(0, bt, discard{}); err != nil {
							b.Fatal(err)
						}
					}
					el := time.Since(start)
					rate := float64(events) / el.Seconds()
					b.ReportMetric(rate, "events/s")
					if frac == 0 {
						base = rate
					} else if base > 0 {
						b.ReportMetric(rate/base, "x-memory")
					}
					st := g.SpillStats()
					b.ReportMetric(float64(st.Spilled), "spilled")
					b.ReportMetric(float64(st.Reloaded), "reloads")
					g.Close()
				}
			})
		}
	}
}
