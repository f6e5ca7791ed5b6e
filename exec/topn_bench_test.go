package exec_test

// Benchmarks of the TopN operator over Nexmark bids, each against a
// hand-written Go loop that maintains the same result over the same rows,
// timed alternately in the same run (the ratio is what to read on a shared
// machine):
//
//	q19   top 10 bids per auction by price, with the rank number (a changelog)
//	q18   the last bid per (bidder, auction): deduplication keeping the last row
//
// Before timing, the operator's changelog is applied and compared with the
// hand loop's final table, so both do the same work. Run with
//
//	go test ./exec/ -run '^$' -bench TopN -benchtime 5x

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/nexmark"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// bid columns: auction, bidder, price, channel, url, date_time, extra
const (
	bAuction = 0
	bBidder  = 1
	bPrice   = 2
	bTime    = 5
)

var benchBids = sync.OnceValues(func() ([]types.Row, error) {
	t := &connectors.Table{Name: "bid", Schema: nexmark.Schema(nexmark.BidKind),
		Options: map[string]string{"connector": "nexmark", "nexmark.table": "bid"}, RowtimeCol: -1}
	return nexmark.Rows(t, 0, 1_000_000)
})

func bidBatches(b *testing.B) [][]types.Row {
	rows, err := benchBids()
	if err != nil {
		b.Fatal(err)
	}
	var out [][]types.Row
	for i := 0; i < len(rows); i += 1024 {
		out = append(out, rows[i:min(i+1024, len(rows))])
	}
	return out
}

// countEmitter counts output rows; with keep set it records them too.
type countEmitter struct {
	rows int
	keep bool
	log  []string
}

func (c *countEmitter) Emit(b *types.Batch) error {
	c.rows += b.Len()
	if c.keep {
		for i, r := range b.Rows {
			c.log = append(c.log, b.Kind(i).String()+" "+r.String())
		}
	}
	return nil
}

// materialize applies a changelog to a multiset.
func materialize(b *testing.B, log []string) []string {
	m := map[string]int{}
	for _, l := range log {
		kind, row := l[:2], l[3:]
		if kind == "-U" || kind == "-D" {
			if m[row] == 0 {
				b.Fatalf("retraction of a missing row: %s", l)
			}
			m[row]--
			continue
		}
		m[row]++
	}
	var out []string
	for r, n := range m {
		for range n {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

func runOperator(b *testing.B, cfg exec.TopNConfig, batches [][]types.Row, out exec.Emitter) {
	op, err := exec.NewTopN(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, rows := range batches {
		if err := op.Process(0, &types.Batch{Rows: rows}, out); err != nil {
			b.Fatal(err)
		}
	}
}

// handOut is one change the hand loops produce (no row is copied).
type handOut struct {
	kind types.RowKind
	row  types.Row
	rank int64
}

// handTop10 keeps the 10 highest prices per auction in a fixed array;
// equal prices rank in arrival order, as ROW_NUMBER does in the operator.
// It returns the final table as the operator prints it.
func handTop10(batches [][]types.Row, final bool) (changes int, table []string) {
	type top struct {
		n int
		e [10]types.Row
	}
	m := map[int64]*top{}
	var out []handOut
	for _, rows := range batches {
		out = out[:0]
		for _, r := range rows {
			a, p := r[bAuction].I, r[bPrice].I
			t := m[a]
			if t == nil {
				t = &top{}
				m[a] = t
			}
			if t.n == 10 && p <= t.e[9][bPrice].I {
				continue
			}
			pos := t.n
			for pos > 0 && t.e[pos-1][bPrice].I < p {
				pos--
			}
			// ranks pos+1.. change: -U old, +U new (+I for a new last rank)
			for i := pos; i < t.n; i++ {
				out = append(out, handOut{types.UpdateBefore, t.e[i], int64(i + 1)})
			}
			if t.n < 10 {
				t.n++
			}
			copy(t.e[pos+1:t.n], t.e[pos:t.n-1])
			t.e[pos] = r
			for i := pos; i < t.n; i++ {
				out = append(out, handOut{types.UpdateAfter, t.e[i], int64(i + 1)})
			}
		}
		changes += len(out)
	}
	if final {
		for _, t := range m {
			for i := 0; i < t.n; i++ {
				table = append(table, append(slices.Clone(t.e[i]), types.BigIntValue(int64(i+1))).String())
			}
		}
		slices.Sort(table)
	}
	return changes, table
}

// handLast keeps the latest bid per (bidder, auction); a later row with an
// equal time wins, as in the operator's keep-last deduplication.
func handLast(batches [][]types.Row, final bool) (changes int, table []string) {
	m := map[[2]int64]types.Row{}
	var out []handOut
	for _, rows := range batches {
		out = out[:0]
		for _, r := range rows {
			k := [2]int64{r[bBidder].I, r[bAuction].I}
			old, ok := m[k]
			switch {
			case !ok:
				out = append(out, handOut{types.Insert, r, 1})
			case r[bTime].I >= old[bTime].I:
				out = append(out, handOut{types.UpdateBefore, old, 1}, handOut{types.UpdateAfter, r, 1})
			default:
				continue
			}
			m[k] = r
		}
		changes += len(out)
	}
	if final {
		for _, r := range m {
			table = append(table, append(slices.Clone(r), types.NullValue).String())
		}
		slices.Sort(table)
	}
	return changes, table
}

func benchTopN(b *testing.B, cfg exec.TopNConfig, hand func([][]types.Row, bool) (int, []string)) {
	batches := bidBatches(b)
	n := 0
	for _, r := range batches {
		n += len(r)
	}
	// same result first
	rec := &countEmitter{keep: true}
	runOperator(b, cfg, batches, rec)
	got := materialize(b, rec.log)
	_, want := hand(batches, true)
	if !slices.Equal(got, want) {
		b.Fatalf("the operator and the hand loop disagree: %d rows vs %d", len(got), len(want))
	}
	b.ResetTimer()
	var opT, handT time.Duration
	for range b.N {
		start := time.Now()
		runOperator(b, cfg, batches, &countEmitter{})
		opT += time.Since(start)
		start = time.Now()
		hand(batches, false)
		handT += time.Since(start)
	}
	b.StopTimer()
	opRate := float64(n*b.N) / opT.Seconds()
	handRate := float64(n*b.N) / handT.Seconds()
	b.ReportMetric(opRate, "events/s")
	b.ReportMetric(handRate, "hand-events/s")
	b.ReportMetric(opRate/handRate, "ratio")
	b.ReportMetric(float64(rec.rows)/float64(n), "out-rows/event")
}

func BenchmarkTopN(b *testing.B) {
	b.Run("q19-top10-per-auction", func(b *testing.B) {
		benchTopN(b, exec.TopNConfig{Width: 7, Partition: []int{bAuction}, Order: []exec.SortKey{{Col: bPrice, Desc: true}},
			Lo: 1, Hi: 10, RankNumber: true}, handTop10)
	})
	b.Run("q18-last-per-bidder-auction", func(b *testing.B) {
		benchTopN(b, exec.TopNConfig{Width: 7, Partition: []int{bBidder, bAuction}, Order: []exec.SortKey{{Col: bTime, Desc: true}},
			Lo: 1, Hi: 1, NewerFirst: true}, handLast)
	})
}
