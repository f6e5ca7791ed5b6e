package format

import (
	"fmt"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/weirsql/weir/sql/types"
)

func bidSchema() *types.Schema {
	return &types.Schema{Cols: []types.Column{
		{Name: "auction", Type: types.TBigInt},
		{Name: "bidder", Type: types.TBigInt},
		{Name: "price", Type: types.TBigInt},
		{Name: "ts", Type: types.TTimestamp},
	}}
}

// bidLines makes n bid lines of about 76 bytes like the benchmark input.
func bidLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"auction":%d,"bidder":%d,"price":%d,"ts":"2026-01-01T00:%02d:%02d.%03dZ"}`,
			1000+i%997, 100000+i%8191, 100+i%100000, i/60000%60, i/1000%60, i%1000)
	}
	return lines
}

func totalBytes(lines [][]byte) int {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n
}

func BenchmarkJSONDecode(b *testing.B) {
	lines := bidLines(4096)
	avg := float64(totalBytes(lines)) / float64(len(lines))
	b.Run("weir", func(b *testing.B) {
		d, err := NewJSONDecoder(bidSchema(), JSONOptions{})
		if err != nil {
			b.Fatal(err)
		}
		row := make(types.Row, 4)
		b.SetBytes(int64(avg))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := d.Decode(lines[i&4095], row); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("weir-varchar", func(b *testing.B) {
		s := bidSchema()
		s.Cols[3].Type = types.TVarchar
		d, err := NewJSONDecoder(s, JSONOptions{})
		if err != nil {
			b.Fatal(err)
		}
		row := make(types.Row, 4)
		b.SetBytes(int64(avg))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := d.Decode(lines[i&4095], row); err != nil {
				b.Fatal(err)
			}
		}
	})
	type bid struct {
		Auction int64  `json:"auction"`
		Bidder  int64  `json:"bidder"`
		Price   int64  `json:"price"`
		TS      string `json:"ts"`
	}
	b.Run("goccy-struct", func(b *testing.B) {
		var v bid
		b.SetBytes(int64(avg))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := gojson.Unmarshal(lines[i&4095], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goccy-struct+ts", func(b *testing.B) {
		// what a hand-written loop with goccy must also do: parse the timestamp
		var v bid
		b.SetBytes(int64(avg))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := gojson.Unmarshal(lines[i&4095], &v); err != nil {
				b.Fatal(err)
			}
			if _, ok := types.ParseTimestamp(v.TS); !ok {
				b.Fatal("ts")
			}
		}
	})
}

func BenchmarkCSVDecode(b *testing.B) {
	lines := make([][]byte, 4096)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, "%d,%d,%d,2026-01-01T00:%02d:%02d.%03dZ", 1000+i%997, 100000+i%8191, 100+i%100000, i/60000%60, i/1000%60, i%1000)
	}
	d, err := NewCSVDecoder(bidSchema(), CSVOptions{})
	if err != nil {
		b.Fatal(err)
	}
	row := make(types.Row, 4)
	b.SetBytes(int64(totalBytes(lines) / len(lines)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := d.Decode(lines[i&4095], row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONEncode(b *testing.B) {
	e := NewJSONEncoder(bidSchema(), JSONOptions{})
	row := types.Row{types.BigIntValue(1001), types.BigIntValue(2001), types.BigIntValue(1234), types.TimestampValue(1767225601123)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.Encode(buf[:0], row, types.Insert)
	}
	b.SetBytes(int64(len(buf)))
}
