package exec

import (
	"fmt"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// BenchmarkWindowSnapshotSync measures the synchronous phase of a
// WindowAgg checkpoint (CaptureState, before the barrier is forwarded) and
// the writing of the capture that follows between batches
// (ContinueSnapshot), after `changed` of `keys` groups of one open window
// were updated since the previous checkpoint.
func BenchmarkWindowSnapshotSync(b *testing.B) {
	for _, keys := range []int{1_000_000, 10_000_000} {
		for _, changed := range []int{1_000, 10_000, 100_000} {
			b.Run(fmt.Sprintf("keys=%d/changed=%d", keys, changed), func(b *testing.B) {
				w, err := NewWindowAgg(WindowAggConfig{Keys: []int{0},
					Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}},
					Window: WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 1 << 40}})
				if err != nil {
					b.Fatal(err)
				}
				w.TrackChanges()
				batch := func(from, n int) *types.Batch {
					bt := &types.Batch{}
					for i := range n {
						k := (from + i) % keys
						bt.Rows = append(bt.Rows, types.Row{types.BigIntValue(int64(k)), types.TimestampValue(1), types.BigIntValue(1)})
					}
					return bt
				}
				for i := 0; i < keys; i += 10_000 {
					if err := w.Process(0, batch(i, 10_000), nil); err != nil {
						b.Fatal(err)
					}
				}
				ch := state.NewChanges(1, 0)
				if err := w.CaptureState(1, true, ch); err != nil { // first: everything
					b.Fatal(err)
				}
				if _, err := w.ContinueSnapshot(0); err != nil {
					b.Fatal(err)
				}
				var sync, write time.Duration
				next := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if err := w.Process(0, batch(next, changed), nil); err != nil {
						b.Fatal(err)
					}
					next += changed
					ch.Reset()
					b.StartTimer()
					start := time.Now()
					if err := w.CaptureState(uint64(i+2), false, ch); err != nil {
						b.Fatal(err)
					}
					mid := time.Now()
					if done, err := w.ContinueSnapshot(0); err != nil || !done {
						b.Fatal(done, err)
					}
					sync += mid.Sub(start)
					write += time.Since(mid)
					if ch.Len() != changed {
						b.Fatalf("captured %d entries, want %d", ch.Len(), changed)
					}
				}
				b.ReportMetric(float64(sync.Nanoseconds())/float64(b.N), "sync-ns/op")
				b.ReportMetric(float64(write.Nanoseconds())/float64(b.N)/float64(changed), "write-ns/changed-key")
			})
		}
	}
}
