package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkTopNSpill: the top 5 rows per key by value (ROW_NUMBER, with
// the rank number) over 200,000 keys, 2M events in batches of 1,024 (made
// as they are fed, into one reused batch: a materialized input would
// dominate the garbage collector's work) after every key got its first
// row, with the state in memory and with a memory
// budget of a tenth of it (the in-memory run's own estimate), the rest
// spilled to Badger. Keys are drawn uniformly (most updates miss the
// resident tenth) or hot (90 % of updates on 5 % of the keys, a working
// set that fits the budget); "window" is a window Top-N over the same
// rows with a window_end column, a window of 200,000 events, fired by a
// watermark after each batch (spilled partitions fire from the space).
// Figures: events/s and the ratio to the in-memory run of the same input,
// in one process.
//
//	go test ./exec -run '^$' -bench TopNSpill -benchtime 1x
func BenchmarkTopNSpill(b *testing.B) {
	const keys, events, batch, win = 200_000, 2_000_000, 1024, 200_000
	payload := make([]string, 1000)
	for i := range payload {
		payload[i] = fmt.Sprintf("payload-%d", i)
	}
	bt := &types.Batch{Rows: make([]types.Row, batch)}
	for i := range bt.Rows {
		bt.Rows[i] = make(types.Row, 4)
	}
	for _, dist := range []string{"uniform", "hot", "window"} {
		// fill makes the batch of events i, i+1, ... (the same in every run)
		var rng *rand.Rand
		fill := func(i int) {
			bt.Rows = bt.Rows[:min(batch, events-i)]
			for j, r := range bt.Rows {
				k := i + j
				if k >= keys || dist == "window" {
					k = rng.IntN(keys)
					if dist == "hot" && rng.IntN(10) < 9 {
						k = rng.IntN(keys / 20)
					}
				}
				r[0], r[1] = types.BigIntValue(int64(k)), types.BigIntValue(int64(rng.IntN(1_000_000)))
				r[2], r[3] = types.StringValue(payload[(i+j)%1000]), types.TimestampValue(int64((i+j)/win+1)*win)
			}
		}
		cfg := TopNConfig{Width: 4, Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Lo: 1, Hi: 5, RankNumber: true}
		if dist == "window" {
			cfg.Mode, cfg.Partition, cfg.WindowEnd = TopNWindow, []int{0, 3}, 3
		}
		run := func(b *testing.B, budget int64) (rate float64, st SpillStats) {
			op, err := NewTopN(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if budget > 0 {
				op.EnableSpill(openTestSpill(b).Space(), budget)
				defer op.Close()
			}
			rng = rand.New(rand.NewPCG(1, 2))
			runtime.GC()
			start := time.Now()
			for i := 0; i < events; i += batch {
				fill(i)
				if err := op.Process(0, bt, discard{}); err != nil {
					b.Fatal(err)
				}
				if dist == "window" {
					if err := op.OnWatermark(int64(i/win)*win, discard{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			rate = float64(events) / time.Since(start).Seconds()
			return rate, op.SpillStats()
		}
		// the in-memory state's estimate, from a run that only counts
		_, full := run(b, 1<<62)
		var base float64
		for _, frac := range []int{0, 10} {
			name := fmt.Sprintf("%s/memory", dist)
			if frac > 0 {
				name = fmt.Sprintf("%s/budget=1|%d", dist, frac)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					budget := int64(0)
					if frac > 0 {
						budget = full.Resident / int64(frac)
					}
					rate, st := run(b, budget)
					b.ReportMetric(rate, "events/s")
					if frac == 0 {
						base = rate
						b.ReportMetric(float64(full.Resident)/(1<<20), "state-MiB")
					} else if base > 0 {
						b.ReportMetric(rate/base, "x-memory")
						b.ReportMetric(float64(st.Spilled), "spilled")
						b.ReportMetric(float64(st.Evicted), "evictions")
						b.ReportMetric(float64(st.Reloaded), "reloads")
					}
				}
			})
		}
	}
}
