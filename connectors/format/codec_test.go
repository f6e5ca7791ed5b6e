package format

import (
	"math"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func sampleRows() []types.Row {
	return []types.Row{
		{types.IntValue(-7), types.BigIntValue(math.MinInt64), types.DoubleValue(0.1), types.DecimalValue(-5, 2),
			types.BoolValue(true), types.StringValue("a,\"b\"\n\tc\\ é \x01 \u2028"), types.TimestampValue(1767225601123)},
		{{}, {}, {}, {}, {}, {}, {}},
		{types.IntValue(0), types.BigIntValue(math.MaxInt64), types.DoubleValue(1e21), types.DecimalValue(9999999999, 2),
			types.BoolValue(false), types.StringValue(""), types.TimestampValue(-1)},
		{types.IntValue(1), types.BigIntValue(2), types.DoubleValue(math.Inf(-1)), types.DecimalValue(0, 2),
			types.BoolValue(false), types.StringValue(" padded "), types.TimestampValue(0)},
	}
}

func TestJSONEncode(t *testing.T) {
	s := allSchema()
	e := NewJSONEncoder(s, JSONOptions{})
	rows := sampleRows()
	want := []string{
		`{"i":-7,"b":-9223372036854775808,"d":0.1,"m":-0.05,"ok":true,"s":"a,\"b\"\n\tc\\ é \u0001 \u2028","ts":"2026-01-01 00:00:01.123"}`,
		`{"i":null,"b":null,"d":null,"m":null,"ok":null,"s":null,"ts":null}`,
		`{"i":0,"b":9223372036854775807,"d":1e+21,"m":99999999.99,"ok":false,"s":"","ts":"1969-12-31 23:59:59.999"}`,
		`{"i":1,"b":2,"d":"-Infinity","m":0.00,"ok":false,"s":" padded ","ts":"1970-01-01 00:00:00.000"}`,
	}
	d := mustJSON(t, s, JSONOptions{})
	for i, r := range rows {
		out, err := e.Encode([]byte("prefix:"), r, types.Insert)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimPrefix(string(out), "prefix:"); got != want[i] {
			t.Errorf("row %d:\n got  %s\n want %s", i, got, want[i])
		}
		back := make(types.Row, 7)
		if err := d.Decode(out[len("prefix:"):], back); err != nil {
			t.Fatal(err)
		}
		if !sameRow(back, r) {
			t.Errorf("round trip row %d: got %v want %v", i, back, r)
		}
	}
	e = NewJSONEncoder(&types.Schema{Cols: []types.Column{{Name: "k\"ey", Type: types.TBigInt}}}, JSONOptions{IncludeOp: true})
	out, _ := e.Encode(nil, types.Row{types.BigIntValue(1)}, types.UpdateBefore)
	if string(out) != `{"_op":"-U","k\"ey":1}` {
		t.Errorf("got %s", out)
	}
	if _, err := e.Encode(nil, types.Row{}, types.Insert); err == nil {
		t.Error("want an error for a short row")
	}
	// invalid UTF-8 becomes U+FFFD
	out = appendJSONString(nil, "a\xffb")
	if string(out) != `"a\ufffdb"` {
		t.Errorf("got %s", out)
	}
}

func TestAppendTimestampAndDecimal(t *testing.T) {
	for _, ms := range []int64{0, -1, 1767225601123, -62135596800000, 253402300799999, 951782400000, -86400001, 1 << 50, -(1 << 50)} {
		got := string(appendTimestamp(nil, ms))
		if want := types.FormatTimestamp(ms); got != want {
			t.Errorf("%d: got %s want %s", ms, got, want)
		}
	}
	for _, c := range []struct {
		u int64
		s uint8
	}{{0, 0}, {0, 3}, {5, 2}, {-5, 2}, {12345, 2}, {-12345, 0}, {math.MinInt64, 0}, {math.MinInt64, 18}, {math.MaxInt64, 18}, {100, 2}} {
		if got, want := string(appendDecimal(nil, c.u, c.s)), types.FormatDecimal(c.u, c.s); got != want {
			t.Errorf("%d,%d: got %s want %s", c.u, c.s, got, want)
		}
	}
}

func TestCSV(t *testing.T) {
	s := allSchema()
	dec, enc, err := New("CSV", s, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`-7,-9223372036854775808,0.1,-0.05,true,"a,""b""` + "\n\tc\\ é \x01 \u2028\"" + `,2026-01-01 00:00:01.123`,
		`,,,,,,`,
		`0,9223372036854775807,1e+21,99999999.99,false,"",1969-12-31 23:59:59.999`,
		`1,2,-Infinity,0.00,false," padded ",1970-01-01 00:00:00.000`,
	}
	for i, r := range sampleRows() {
		out, err := enc.Encode(nil, r, types.Insert)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != want[i] {
			t.Errorf("row %d:\n got  %s\n want %s", i, out, want[i])
		}
		if i == 0 {
			continue // a quoted newline cannot be read back line by line
		}
		back := make(types.Row, 7)
		if err := dec.Decode(out, back); err != nil {
			t.Fatal(err)
		}
		if !sameRow(back, r) {
			t.Errorf("round trip row %d: got %v want %v", i, back, r)
		}
	}
	if h := string(enc.(*CSVEncoder).AppendHeader(nil)); h != "i,b,d,m,ok,s,ts" {
		t.Errorf("header %s", h)
	}

	row := make(types.Row, 7)
	if err := dec.Decode([]byte(`1, 2 ,3.5,"1.005",TRUE,"x""y""",1767225601123`), row); err != nil {
		t.Fatal(err)
	}
	wantRow := types.Row{types.IntValue(1), types.BigIntValue(2), types.DoubleValue(3.5), types.DecimalValue(101, 2),
		types.BoolValue(true), types.StringValue(`x"y"`), types.TimestampValue(1767225601123)}
	if !sameRow(row, wantRow) {
		t.Errorf("got %v want %v", row, wantRow)
	}
	errs := []struct{ in, want string }{
		{`1,2,3`, `expected 7 fields, got 3`},
		{`1,2,3,4,true,s,2026-01-01,extra`, `expected 7 fields, got 8`},
		{`x,2,3,4,true,s,2026-01-01`, `column i: cannot decode "x" as INT`},
		{`9999999999,2,3,4,true,s,2026-01-01`, `column i: "9999999999" is out of range for INT`},
		{`1,2,3,4,maybe,s,2026-01-01`, `column ok: cannot decode "maybe" as BOOLEAN`},
		{`1,2,3,4,true,s,yesterday`, `column ts: cannot decode "yesterday" as TIMESTAMP(3)`},
		{`1,2,3,4,true,"s,2026-01-01`, `invalid CSV at byte 13: unterminated quoted field (quoted fields spanning lines are not supported)`},
		{`1,2,3,4,true,"s"x,2026-01-01`, `invalid CSV at byte 16: expected a delimiter after a closing quote`},
	}
	for _, c := range errs {
		if err := dec.Decode([]byte(c.in), row); err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got  %v\n want %s", c.in, err, c.want)
		}
	}
}

func TestCSVOptions(t *testing.T) {
	s := &types.Schema{Cols: []types.Column{{Name: "a", Type: types.TVarchar}, {Name: "b", Type: types.TBigInt}}}
	dec, enc, err := New("csv", s, map[string]string{"csv.delimiter": `\t`, "csv.null-literal": `\N`, "include-op": "true"})
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, 2)
	if err := dec.Decode([]byte("+I\t\t\\N"), row); err != nil {
		t.Fatal(err)
	}
	if !sameRow(row, types.Row{types.StringValue(""), {}}) {
		t.Errorf("got %v", row)
	}
	if err := dec.Decode([]byte("+I\t\\N\t5"), row); err != nil {
		t.Fatal(err)
	}
	if !sameRow(row, types.Row{{}, types.BigIntValue(5)}) {
		t.Errorf("got %v", row)
	}
	out, _ := enc.Encode(nil, types.Row{types.StringValue(`\N`), {}}, types.Delete)
	if string(out) != "-D\t\"\\N\"\t\\N" {
		t.Errorf("got %q", out)
	}
	for _, bad := range []map[string]string{{"csv.delimiter": `""`}, {"csv.delimiter": `"`}, {"include-op": "yes"}} {
		if _, _, err := New("csv", s, bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
	if _, _, err := New("xml", s, nil); err == nil || err.Error() != "unknown format 'xml' (valid: csv, json)" {
		t.Errorf("got %v", err)
	}
	if got := OptionKeys("json", s); strings.Join(got, " ") != "include-op json.path.a json.path.b" {
		t.Errorf("got %v", got)
	}
}

func TestDecodeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	d := mustJSON(t, bidSchema(), JSONOptions{})
	lines := bidLines(64)
	row := make(types.Row, 4)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(lines[i%64], row); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per bid line, want 0", allocs)
	}
	s := bidSchema()
	s.Cols[3].Type = types.TVarchar
	s.Cols[0].Type = types.TVarchar
	d = mustJSON(t, s, JSONOptions{})
	allocs = testing.AllocsPerRun(1000, func() {
		if err := d.Decode(lines[i%64], row); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 1 {
		t.Errorf("%v allocations per line with two strings, want 1", allocs)
	}
	c, err := NewCSVDecoder(bidSchema(), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("1001,2001,1234,2026-01-01T00:00:01.123Z")
	allocs = testing.AllocsPerRun(1000, func() {
		if err := c.Decode(line, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per CSV line, want 0", allocs)
	}
}
