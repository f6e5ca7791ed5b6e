package sql_test

// The issue #2 benchmark. Run it with
//
//	go test ./sql -run '^$' -bench 'BenchmarkCore' -benchtime 1x
//
// Each sub-benchmark reports events/s (wall clock) and events per
// CPU-second (user+system time of the whole process, from getrusage), at
// parallelism 1 so that per-core figures compare directly:
//
//	q1-projection  generator → price conversion → blackhole
//	q2-filter      generator → auction % 123 = 0 → blackhole
//	tumble-json    1M JSON lines → 10 s tumbling COUNT/SUM per auction (1,000 keys) → blackhole
//	handloop-json  the same computation as a hand-written Go loop with the same JSON decoder
import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/weirsql/weir/connectors/all"
	"github.com/weirsql/weir/connectors/blackhole"
	"github.com/weirsql/weir/connectors/format"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

type discard struct{}

func (discard) Columns([]types.Column, bool) error { return nil }
func (discard) Rows(*types.Batch) error            { return nil }
func (discard) Done() error                        { return nil }
func (discard) Message(string) error               { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn b.N times and reports events/s and events per CPU-second.
func measure(b *testing.B, events int64, fn func() error) {
	b.Helper()
	b.ResetTimer()
	wall0, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	n := float64(events) * float64(b.N)
	b.ReportMetric(n/wall.Seconds(), "events/s")
	b.ReportMetric(n/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(0, "ns/op")
}

const benchBidDDL = `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP(3), extra VARCHAR, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='%d');
CREATE TABLE sink4 (auction BIGINT, bidder BIGINT, price DOUBLE, date_time TIMESTAMP(3)) WITH ('connector'='blackhole');
CREATE TABLE sink4b (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3)) WITH ('connector'='blackhole');
`

// writeBidsJSON writes n JSON lines of about 76 bytes: 1,000 auctions,
// event time advancing 1 ms per line.
func writeBidsJSON(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x := uint64(42)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		fmt.Fprintf(w, "{\"auction\":%d,\"bidder\":%d,\"price\":%d,\"ts\":\"%s\"}\n", 1000+x%1000, 10000+(x>>10)%100000, 1+(x>>20)%10000, ts)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func BenchmarkCore(b *testing.B) {
	const genEvents = 2_000_000
	bids := int64(genEvents) * 46 / 50
	run := func(script string) error {
		s := wsql.NewSession()
		return s.ExecScript(context.Background(), script, discard{})
	}
	b.Run("q1-projection", func(b *testing.B) {
		measure(b, bids, func() error {
			return run(fmt.Sprintf(benchBidDDL, genEvents) +
				"INSERT INTO sink4 SELECT auction, bidder, 0.908 * price, date_time FROM bid;")
		})
	})
	b.Run("q2-filter", func(b *testing.B) {
		measure(b, bids, func() error {
			return run(fmt.Sprintf(benchBidDDL, genEvents) +
				"INSERT INTO sink4b SELECT auction, bidder, price, date_time FROM bid WHERE MOD(auction, 123) = 0;")
		})
	})

	const lines = 1_000_000
	dir := b.TempDir()
	path := filepath.Join(dir, "bids.json")
	if err := writeBidsJSON(path, lines); err != nil {
		b.Fatal(err)
	}
	var weirRows, handRows int64
	var weirRan, handRan bool
	b.Run("tumble-json", func(b *testing.B) {
		weirRan = true
		before := blackhole.TotalRows()
		measure(b, lines, func() error {
			return run(fmt.Sprintf(`
CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector'='file', 'path'='%s', 'format'='json');
CREATE TABLE out_counts (auction BIGINT, window_start TIMESTAMP(3), n BIGINT, total BIGINT) WITH ('connector'='blackhole');
INSERT INTO out_counts
SELECT auction, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM bids GROUP BY auction, TUMBLE(ts, INTERVAL '10' SECOND);`, path))
		})
		weirRows = (blackhole.TotalRows() - before) / int64(b.N)
	})
	b.Run("handloop-json", func(b *testing.B) {
		handRan = true
		measure(b, lines, func() error {
			n, err := handLoop(path)
			handRows = n
			return err
		})
	})
	if !weirRan || !handRan { // a -bench filter skipped one side
		return
	}
	if weirRows == 0 || weirRows != handRows {
		b.Fatalf("Weir emitted %d window results, the hand loop %d", weirRows, handRows)
	}
	b.Logf("Weir and the hand loop both emitted %d window results (1,000 auctions, 100 windows)", weirRows)
}

// handLoop is the reference: read lines, decode with Weir's JSON decoder,
// keep COUNT/SUM per (auction, 10 s window), emit a window's results when
// event time passes its end. It returns the number of results emitted.
func handLoop(path string) (int64, error) {
	schema := &types.Schema{Cols: []types.Column{{Name: "auction", Type: types.TBigInt}, {Name: "bidder", Type: types.TBigInt},
		{Name: "price", Type: types.TBigInt}, {Name: "ts", Type: types.TTimestamp}}}
	dec, err := format.NewJSONDecoder(schema, format.JSONOptions{})
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type acc struct{ n, sum int64 }
	const size = 10_000
	windows := map[int64]map[int64]*acc{}
	var emitted, sink int64
	row := make(types.Row, 4)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	maxTs := int64(-1 << 62)
	fire := func(wm int64) {
		for start, m := range windows {
			if start+size-1 <= wm {
				for k, a := range m {
					sink += k + a.n + a.sum
					emitted++
				}
				delete(windows, start)
			}
		}
	}
	for sc.Scan() {
		if err := dec.Decode(sc.Bytes(), row); err != nil {
			return 0, err
		}
		ts := row[3].I
		start := ts - ts%size
		m := windows[start]
		if m == nil {
			m = map[int64]*acc{}
			windows[start] = m
		}
		a := m[row[0].I]
		if a == nil {
			a = &acc{}
			m[row[0].I] = a
		}
		a.n++
		a.sum += row[2].I
		if ts > maxTs {
			maxTs = ts
			fire(maxTs - 1000)
		}
	}
	fire(1<<62 - 1)
	_ = sink
	return emitted, sc.Err()
}
