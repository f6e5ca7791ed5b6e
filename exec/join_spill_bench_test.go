package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// BenchmarkJoinSpill: an inner join over 200k keys, 2M rows alternating
// between the inputs in batches of 1,024 (each key holds about ten rows),
// with the state in memory and with a budget of a tenth of it. Keys are
// drawn uniformly or hot (90 % of rows on 5 % of the keys). Figures:
// rows/s and the ratio to the in-memory run of the same distribution.
//
//	go test ./exec -run '^$' -bench JoinSpill -benchtime 1x
func BenchmarkJoinSpill(b *testing.B) {
	const keys, rows, batch = 200_000, 2_000_000, 1024
	for _, dist := range []string{"uniform", "hot"} {
		rng := rand.New(rand.NewPCG(3, 4))
		in := make([]types.Row, rows)
		for i := range in {
			k := rng.IntN(keys)
			if dist == "hot" && rng.IntN(10) < 9 {
				k = rng.IntN(keys / 20)
			}
			in[i] = types.Row{types.BigIntValue(int64(k)), types.BigIntValue(int64(i)), types.BigIntValue(int64(i % 7))}
		}
		var base float64
		for _, frac := range []int{0, 10} {
			name := dist + "/memory"
			if frac > 0 {
				name = fmt.Sprintf("%s/budget=1|%d", dist, frac)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					j, err := NewJoin(JoinConfig{Kind: JoinInner, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3})
					if err != nil {
						b.Fatal(err)
					}
					if frac > 0 {
						full := int64(keys)*(joinEntryBytes+2*9) + int64(rows)*recBytes(in[0])
						j.EnableSpill(openTestSpill(b).Space(), full/int64(frac))
					}
					runtime.GC()
					var out countEmitter
					start := time.Now()
					for i := 0; i < rows; i += batch {
						bt := &types.Batch{Rows: in[i:min(i+batch, rows)]}
						if err := j.Process((i/batch)%2, bt, &out); err != nil {
							b.Fatal(err)
						}
					}
					rate := float64(rows) / time.Since(start).Seconds()
					b.ReportMetric(rate, "rows/s")
					b.ReportMetric(float64(out.rows), "joined")
					if frac == 0 {
						base = rate
					} else if base > 0 {
						b.ReportMetric(rate/base, "x-memory")
						b.ReportMetric(float64(j.SpillStats().Reloaded), "reloads")
					}
					j.Close()
				}
			})
		}
	}
}
