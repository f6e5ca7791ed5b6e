package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

type countOut struct{ n atomic.Int64 }

func (o *countOut) Emit(_ int, b *types.Batch) error { o.n.Add(int64(len(b.Rows))); return nil }
func (o *countOut) SplitDone(int)                    {}
func (o *countOut) AddSplit() int                    { return 0 }
func (o *countOut) SplitIdle(int)                    {}

const benchRecords = 200_000

func benchCluster(b *testing.B) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, 10000)
	ctx := context.Background()
	for i := 0; i < benchRecords; i++ {
		v := fmt.Sprintf(`{"id":%d,"p":%d,"auction":%d,"bidder":%d,"price":%d,"channel":"channel-%d","url":"https://example.com/x/%d"}`, i, i%4, i%1000, i%777, i%10000, i%10, i)
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 4), Value: []byte(v)})
		if len(recs) == cap(recs) {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return strings.Join(c.ListenAddrs(), ",")
}

// BenchmarkSourceRead reads benchRecords JSON records from 4 partitions
// with the Weir source (decoding two columns).
func BenchmarkSourceRead(b *testing.B) {
	addrs := benchCluster(b)
	tb := table(addrs, "t", idSchema, "scan.bounded.mode", "latest-offset")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, _ := createB(b, tb)
		out := &countOut{}
		if err := src.Run(context.Background(), out); err != nil {
			b.Fatal(err)
		}
		if out.n.Load() != benchRecords {
			b.Fatalf("read %d", out.n.Load())
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "rec/s")
}

// BenchmarkKafkaGoReaders reads the same records with one kafka-go Reader
// per partition (no decoding): the reference loop's consume side.
func BenchmarkKafkaGoReaders(b *testing.B) {
	addrs := benchCluster(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		var n atomic.Int64
		for p := 0; p < 4; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(addrs, ","), Topic: "t", Partition: p, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
				defer r.Close()
				for k := 0; k < benchRecords/4; k++ {
					if _, err := r.ReadMessage(context.Background()); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "rec/s")
}

func createB(b *testing.B, tb *connectors.Table) (*Source, *SourceFactory) {
	sf, err := newSourceFactory(tb)
	if err != nil {
		b.Fatal(err)
	}
	s, err := sf.Create(0, 1)
	if err != nil {
		b.Fatal(err)
	}
	return s.(*Source), sf
}
