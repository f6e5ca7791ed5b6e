package kafka_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/weirsql/weir/connectors/all"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

type collect struct {
	mu   sync.Mutex
	rows []types.Row
}

func (c *collect) Columns([]types.Column, bool) error { return nil }
func (c *collect) Rows(b *types.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = append(c.rows, b.Rows...)
	return nil
}
func (c *collect) Done() error          { return nil }
func (c *collect) Message(string) error { return nil }

// TestSQLTumblingWindowOverKafka reads a 4-partition topic through SQL with
// a bounded scan and a tumbling window, at parallelism 2, and compares the
// result with one computed here from the produced rows.
func TestSQLTumblingWindowOverKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	type key struct{ auction, ws int64 }
	type agg struct{ n, sum int64 }
	want := map[key]agg{}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := 0; i < 4000; i++ {
		auction := int64(i % 7)
		price := int64(i%100 + 1)
		ts := base.Add(time.Duration(i*37) * time.Millisecond) // ~148 s of data, in order per partition
		ms := ts.UnixMilli()
		k := key{auction, ms - ms%10000}
		a := want[k]
		a.n++
		a.sum += price
		want[k] = a
		v := fmt.Sprintf(`{"auction":%d,"price":%d,"ts":"%s"}`, auction, price, ts.Format("2006-01-02 15:04:05.000"))
		recs = append(recs, &kgo.Record{Topic: "bids", Partition: int32(i % 4), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	script := fmt.Sprintf(`
SET parallelism = '2';
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'kafka', 'properties.bootstrap.servers' = '%s', 'topic' = 'bids',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
SELECT auction, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, SUM(price) AS s
FROM bids GROUP BY auction, TUMBLE(ts, INTERVAL '10' SECOND);
`, addrs)
	rs := &collect{}
	if err := wsql.NewSession().ExecScript(ctx, script, rs); err != nil {
		t.Fatal(err)
	}
	got := map[key]agg{}
	for _, r := range rs.rows {
		k := key{r[0].I, r[1].I}
		if _, dup := got[k]; dup {
			t.Fatalf("window %v emitted twice", k)
		}
		got[k] = agg{r[2].I, r[3].I}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d windows, want %d", len(got), len(want))
	}
	var bad []string
	for k, w := range want {
		if got[k] != w {
			bad = append(bad, fmt.Sprintf("%v: got %v want %v", k, got[k], w))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d windows differ, e.g. %s", len(bad), bad[0])
	}
}
