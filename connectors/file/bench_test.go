package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// countOutput counts rows and drops them.
type countOutput struct{ rows int }

func (c *countOutput) Emit(split int, b *types.Batch) error { c.rows += b.Len(); return nil }
func (c *countOutput) SplitDone(split int)                  {}

// BenchmarkFileSourceJSON reads a file of 1M bid lines (~76 B each) through
// the whole source: read, split, decode, batch.
func BenchmarkFileSourceJSON(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "bids.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, `{"auction":%d,"bidder":%d,"price":%d,"ts":"2026-01-01T%02d:%02d:%02d.%03dZ"}`+"\n",
			1000+i%997, 100000+i%8191, 100+i%100000, i/3600000%24, i/60000%60, i/1000%60, i%1000)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	fac := newSourceB(b, map[string]string{"path": path, "format": "json"})
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		src, _ := fac.Create(0, 1)
		out := &countOutput{}
		if err := src.Run(context.Background(), out); err != nil || out.rows != n {
			b.Fatal(err, out.rows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func newSourceB(b *testing.B, opts map[string]string) *SourceFactory {
	t := table(opts)
	t.Schema = types.Schema{Cols: []types.Column{
		{Name: "auction", Type: types.TBigInt},
		{Name: "bidder", Type: types.TBigInt},
		{Name: "price", Type: types.TBigInt},
		{Name: "ts", Type: types.TTimestamp},
	}}
	f, err := Connector{}.NewSource(t)
	if err != nil {
		b.Fatal(err)
	}
	return f.(*SourceFactory)
}

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*countOutput) AddSplit() int       { panic("unexpected AddSplit") }
func (*countOutput) SplitIdle(split int) {}
