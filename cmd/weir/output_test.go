package main

import (
	"bytes"
	"encoding/json"
	"github.com/weirsql/weir/cmd/internal/termtext"
	"math"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// feed feeds one result (cols, then each batch, then Done) to a fresh
// printer of format and returns what went to stdout and stderr.
func feed(t *testing.T, format string, cols []types.Column, changelog bool, batches ...*types.Batch) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	p, err := NewPrinter(format, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Columns(cols, changelog); err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := p.Rows(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Done(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

func col(name string, typ types.Type) types.Column {
	return types.Column{Name: name, Type: typ, Nullable: true}
}

func batch(rows ...types.Row) *types.Batch { return &types.Batch{Rows: rows} }

func changes(kinds []types.RowKind, rows ...types.Row) *types.Batch {
	return &types.Batch{Rows: rows, Kinds: kinds}
}

var (
	i64 = types.BigIntValue
	str = types.StringValue
	nul = types.NullValue
)

func TestUnknownFormat(t *testing.T) {
	if _, err := NewPrinter("xml", &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("want an error for format xml")
	}
	for _, f := range Formats {
		if _, err := NewPrinter(f, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The acceptance test, at the printer level: SELECT 1 + 1 prints 2.
func TestPlainSingleValue(t *testing.T) {
	out, _ := feed(t, FormatPlain, []types.Column{col("EXPR$0", types.TBigInt)}, false, batch(types.Row{i64(2)}))
	if out != "2\n" {
		t.Fatalf("got %q, want %q", out, "2\n")
	}
}

func TestTable(t *testing.T) {
	cols := []types.Column{col("id", types.TBigInt), col("name", types.TVarchar), col("price", types.TDecimal(10, 2))}
	out, _ := feed(t, FormatTable, cols, false,
		batch(types.Row{i64(1), str("foo"), types.DecimalValue(1250, 2)},
			types.Row{i64(22), nul, types.DecimalValue(-5, 2)}))
	want := `+----+------+-------+
| id | name | price |
+----+------+-------+
|  1 | foo  | 12.50 |
| 22 | NULL | -0.05 |
+----+------+-------+
(2 rows)
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTableWidensWithoutRealigning(t *testing.T) {
	cols := []types.Column{col("id", types.TBigInt), col("s", types.TVarchar)}
	out, _ := feed(t, FormatTable, cols, false,
		batch(types.Row{i64(1), str("ab")}),
		batch(types.Row{i64(12345), str("abcdef")}, types.Row{i64(7), str("x")}))
	want := `+----+----+
| id | s  |
+----+----+
|  1 | ab |
| 12345 | abcdef |
|     7 | x      |
+-------+--------+
(3 rows)
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTableEmptyResultAndCount(t *testing.T) {
	out, _ := feed(t, FormatTable, []types.Column{col("a", types.TInt)}, false)
	want := "+---+\n| a |\n+---+\n+---+\n(0 rows)\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	out, _ = feed(t, FormatTable, []types.Column{col("a", types.TInt)}, false, batch(types.Row{types.IntValue(3)}))
	if !strings.HasSuffix(out, "(1 row)\n") {
		t.Fatalf("got\n%s", out)
	}
}

func TestTableChangelog(t *testing.T) {
	cols := []types.Column{col("k", types.TVarchar), col("n", types.TBigInt)}
	out, _ := feed(t, FormatTable, cols, true,
		changes([]types.RowKind{types.Insert, types.UpdateBefore, types.UpdateAfter, types.Delete},
			types.Row{str("a"), i64(1)}, types.Row{str("a"), i64(1)},
			types.Row{str("a"), i64(2)}, types.Row{str("a"), i64(2)}),
		batch(types.Row{str("b"), i64(1)})) // Kinds nil: all +I
	want := `+----+---+---+
| op | k | n |
+----+---+---+
| +I | a | 1 |
| -U | a | 1 |
| +U | a | 2 |
| -D | a | 2 |
| +I | b | 1 |
+----+---+---+
(5 rows)
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTableEscapesAndWideChars(t *testing.T) {
	cols := []types.Column{col("s", types.TVarchar)}
	out, _ := feed(t, FormatTable, cols, false,
		batch(types.Row{str("a\nb\tc")}, types.Row{str("日本")}, types.Row{str("é")}))
	want := `+---------+
| s       |
+---------+
| a\nb\tc |
| 日本    |
| é       |
+---------+
(3 rows)
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTableMessagesAndSeparation(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := NewPrinter(FormatTable, &out, &errOut)
	p.Message("Table a created.")
	p.Message("Table b created.\n")
	p.Columns([]types.Column{col("x", types.TInt)}, false)
	p.Rows(batch(types.Row{types.IntValue(1)}))
	p.Done()
	p.Message("done")
	p.Close()
	want := "Table a created.\nTable b created.\n\n+---+\n| x |\n+---+\n| 1 |\n+---+\n(1 row)\n\ndone\n"
	if out.String() != want || errOut.Len() != 0 {
		t.Fatalf("stdout\n%q\nwant\n%q\nstderr %q", out.String(), want, errOut.String())
	}
}

// Close ends a result that never got Done (a cancelled streaming query).
func TestTableCloseUnfinished(t *testing.T) {
	var out bytes.Buffer
	p, _ := NewPrinter(FormatTable, &out, &out)
	p.Columns([]types.Column{col("x", types.TInt)}, false)
	p.Rows(batch(types.Row{types.IntValue(1)}))
	if got := out.String(); got != "+---+\n| x |\n+---+\n| 1 |\n" {
		t.Fatalf("rows must be flushed per batch; got %q", got)
	}
	p.Close()
	if !strings.HasSuffix(out.String(), "| 1 |\n+---+\n(1 row)\n") {
		t.Fatalf("got %q", out.String())
	}
}

func TestJSON(t *testing.T) {
	cols := []types.Column{
		col("i", types.TInt), col("d", types.TDecimal(10, 2)), col("f", types.TDouble),
		col("b", types.TBool), col("ts", types.TTimestamp), col("s", types.TVarchar), col("n", types.TVarchar),
	}
	ts, _ := types.ParseTimestamp("2026-01-02 03:04:05.006")
	out, errOut := feed(t, FormatJSON, cols, false, batch(types.Row{
		types.IntValue(-7), types.DecimalValue(1250, 2), types.DoubleValue(0.5),
		types.BoolValue(true), types.TimestampValue(ts), str("q\"\\\n\x01é\u2028"), nul,
	}))
	want := `{"i":-7,"d":12.50,"f":0.5,"b":true,"ts":"2026-01-02 03:04:05.006","s":"q\"\\\n\u0001é\u2028","n":null}` + "\n"
	if out != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if errOut != "" {
		t.Fatalf("stderr %q", errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m["s"] != "q\"\\\n\x01é\u2028" {
		t.Fatalf("round trip: %q", m["s"])
	}
}

func TestJSONSpecialDoublesAndInvalidUTF8(t *testing.T) {
	cols := []types.Column{col("a", types.TDouble), col("b", types.TDouble), col("c", types.TDouble), col("s\"k", types.TVarchar)}
	out, _ := feed(t, FormatJSON, cols, false, batch(types.Row{
		types.DoubleValue(nan()), types.DoubleValue(inf(1)), types.DoubleValue(1e21), str("x\xffy"),
	}))
	want := `{"a":"NaN","b":"Infinity","c":1e+21,"s\"k":"x\ufffdy"}` + "\n"
	if out != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
}

func TestJSONChangelog(t *testing.T) {
	cols := []types.Column{col("k", types.TVarchar), col("n", types.TBigInt)}
	out, _ := feed(t, FormatJSON, cols, true,
		changes([]types.RowKind{types.UpdateBefore, types.UpdateAfter}, types.Row{str("a"), i64(1)}, types.Row{str("a"), i64(2)}),
		batch(types.Row{str("b"), i64(1)}))
	want := `{"op":"-U","k":"a","n":1}
{"op":"+U","k":"a","n":2}
{"op":"+I","k":"b","n":1}
`
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	// A column named op pushes the kind to _op.
	out, _ = feed(t, FormatJSON, []types.Column{col("op", types.TVarchar)}, true,
		changes([]types.RowKind{types.Delete}, types.Row{str("x")}))
	if want := `{"_op":"-D","op":"x"}` + "\n"; out != want {
		t.Fatalf("got %s want %s", out, want)
	}
}

func TestJSONMessagesGoToStderr(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := NewPrinter(FormatJSON, &out, &errOut)
	p.Message("Table t created.")
	if out.Len() != 0 || errOut.String() != "Table t created.\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestCSV(t *testing.T) {
	cols := []types.Column{col("id", types.TBigInt), col("s", types.TVarchar), col("t", types.TVarchar)}
	out, _ := feed(t, FormatCSV, cols, false,
		batch(types.Row{i64(1), str("plain"), nul},
			types.Row{i64(2), str(""), str(`a,"b"`)},
			types.Row{i64(3), str("two\nlines"), str(" pad")}))
	want := "id,s,t\n" +
		"1,plain,\n" +
		"2,\"\",\"a,\"\"b\"\"\"\n" +
		"3,\"two\nlines\",\" pad\"\n"
	if out != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
}

func TestCSVChangelogAndMessages(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := NewPrinter(FormatCSV, &out, &errOut)
	p.Message("Table t created.")
	p.Columns([]types.Column{col("k", types.TVarchar)}, true)
	p.Rows(changes([]types.RowKind{types.Insert, types.Delete}, types.Row{str("a")}, types.Row{str("a")}))
	p.Done()
	p.Close()
	if want := "op,k\n+I,a\n-D,a\n"; out.String() != want {
		t.Fatalf("got %q want %q", out.String(), want)
	}
	if errOut.String() != "Table t created.\n" {
		t.Fatalf("stderr %q", errOut.String())
	}
}

func TestPlain(t *testing.T) {
	cols := []types.Column{col("a", types.TVarchar), col("b", types.TBool), col("c", types.TVarchar)}
	out, _ := feed(t, FormatPlain, cols, true,
		changes([]types.RowKind{types.Insert, types.UpdateAfter},
			types.Row{str("x\ty\\z\nw"), types.BoolValue(false), nul},
			types.Row{str("ok"), types.BoolValue(true), str("v")}))
	want := "+I\tx\\ty\\\\z\\nw\tfalse\tNULL\n+U\tok\ttrue\tv\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
}

func TestPlainMessagesGoToStdout(t *testing.T) {
	var out, errOut bytes.Buffer
	p, _ := NewPrinter(FormatPlain, &out, &errOut)
	p.Message("== Physical plan ==\nScan")
	if out.String() != "== Physical plan ==\nScan\n" || errOut.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, w := range map[string]int{"": 0, "abc": 3, "é": 1, "日本": 4, "ａ": 2, "a日": 3} {
		if got := termtext.DisplayWidth(s); got != w {
			t.Errorf("termtext.DisplayWidth(%q) = %d, want %d", s, got, w)
		}
	}
}

func nan() float64 { return math.NaN() }

func inf(sign int) float64 { return math.Inf(sign) }
