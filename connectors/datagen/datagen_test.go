package datagen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

type collector struct {
	mu   sync.Mutex
	rows []types.Row
	done []int
}

func (c *collector) Emit(split int, b *types.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if split != 0 || b.Kinds != nil || len(b.Rows) > BatchSize {
		return fmt.Errorf("bad batch: split %d, kinds %v, %d rows", split, b.Kinds != nil, len(b.Rows))
	}
	c.rows = append(c.rows, b.Rows...)
	return nil
}

func (c *collector) SplitDone(split int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, split)
}

type discard struct{ rows int }

func (d *discard) Emit(_ int, b *types.Batch) error { d.rows += len(b.Rows); return nil }
func (d *discard) SplitDone(int)                    {}

func col(name string, t types.Type) types.Column {
	return types.Column{Name: name, Type: t, Nullable: true}
}

func table(opts map[string]string, cols ...types.Column) *connectors.Table {
	o := map[string]string{"connector": "datagen"}
	for k, v := range opts {
		o[k] = v
	}
	return &connectors.Table{Name: "t", Schema: types.Schema{Cols: cols}, Options: o, RowtimeCol: -1}
}

func factory(t testing.TB, tb *connectors.Table) *SourceFactory {
	t.Helper()
	c, err := connectors.Lookup("datagen")
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.NewSource(tb)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*SourceFactory)
}

func runAll(t *testing.T, tb *connectors.Table, p int) [][]types.Row {
	t.Helper()
	f := factory(t, tb)
	out := make([][]types.Row, p)
	errs := make([]error, p)
	var wg sync.WaitGroup
	for i := 0; i < p; i++ {
		src, err := f.Create(i, p)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &collector{}
			errs[i] = src.Run(context.Background(), c)
			if errs[i] == nil && (len(c.done) != 1 || c.done[0] != 0) {
				errs[i] = fmt.Errorf("SplitDone calls %v", c.done)
			}
			out[i] = c.rows
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func rows(t *testing.T, tb *connectors.Table, from, to int64) []types.Row {
	t.Helper()
	r, err := Rows(tb, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func key(r types.Row) string {
	var b strings.Builder
	for _, v := range r {
		b.WriteString(v.Kind.String())
		b.WriteByte(':')
		b.WriteString(v.String())
		b.WriteByte('|')
	}
	return b.String()
}

var allTypes = []types.Column{
	col("b", types.TBool), col("i", types.TInt), col("bi", types.TBigInt), col("d", types.TDouble),
	col("dec", types.TDecimal(10, 2)), col("s", types.Type{Kind: types.Varchar, Length: 20}),
	col("ts", types.TTimestamp),
}

func TestEveryType(t *testing.T) {
	tb := table(map[string]string{"number-of-rows": "2000"}, allTypes...)
	rs := rows(t, tb, 0, 5000)
	if len(rs) != 2000 {
		t.Fatalf("%d rows", len(rs))
	}
	bools := map[bool]int{}
	negInt, bigInt := false, false
	for r, row := range rs {
		want := []types.Kind{types.Bool, types.Int, types.BigInt, types.Double, types.Decimal, types.Varchar, types.Timestamp}
		for j, v := range row {
			if v.Kind != want[j] {
				t.Fatalf("row %d col %d: kind %v, want %v", r, j, v.Kind, want[j])
			}
		}
		bools[row[0].B()]++
		if row[1].I < -1<<31 || row[1].I >= 1<<31 {
			t.Fatalf("INT out of range: %d", row[1].I)
		}
		negInt = negInt || row[1].I < 0
		bigInt = bigInt || row[2].I > 1<<40 || row[2].I < -1<<40
		if f := row[3].F(); f < 0 || f >= 1 {
			t.Fatalf("DOUBLE %v outside [0,1)", f)
		}
		if row[4].Scale != 2 || row[4].I > 9999999999 || row[4].I < -9999999999 {
			t.Fatalf("DECIMAL(10,2) %v (scale %d)", row[4], row[4].Scale)
		}
		if len(row[5].S) != 10 || strings.Trim(row[5].S, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("VARCHAR %q", row[5].S)
		}
		if row[6].I != DefaultBase+int64(r) {
			t.Fatalf("TIMESTAMP row %d = %v", r, row[6])
		}
	}
	if bools[true] < 900 || bools[false] < 900 || !negInt || !bigInt {
		t.Fatalf("poor spread: bools %v negInt %v bigInt %v", bools, negInt, bigInt)
	}
	if f := factory(t, tb); !f.Bounded() || f.MaxParallelism() != 0 || f.Generator().Total() != 2000 {
		t.Fatal("factory")
	}
}

func TestBounds(t *testing.T) {
	tb := table(map[string]string{
		"number-of-rows":  "3000",
		"fields.i.min":    "-2",
		"fields.i.max":    "2",
		"fields.bi.min":   "1000000000000",
		"fields.bi.max":   "1000000000009",
		"fields.d.min":    "-5.5",
		"fields.d.max":    "-5",
		"fields.dec.min":  "0.05",
		"fields.dec.max":  "0.1",
		"fields.s.length": "20",
		"fields.ts.kind":  "random",
		"fields.ts.min":   "2020-01-01 00:00:00",
		"fields.ts.max":   "2020-01-01 00:00:00.003",
	}, allTypes...)
	seen := map[string]map[int64]bool{"i": {}, "bi": {}, "dec": {}, "ts": {}}
	for _, row := range rows(t, tb, 0, 3000) {
		seen["i"][row[1].I] = true
		seen["bi"][row[2].I] = true
		seen["dec"][row[4].I] = true
		seen["ts"][row[6].I] = true
		if f := row[3].F(); f < -5.5 || f >= -5 {
			t.Fatalf("double %v", f)
		}
		if len(row[5].S) != 20 {
			t.Fatalf("length %d", len(row[5].S))
		}
	}
	ts0, _ := types.ParseTimestamp("2020-01-01 00:00:00")
	want := map[string][2]int64{"i": {-2, 2}, "bi": {1000000000000, 1000000000009}, "dec": {5, 10}, "ts": {ts0, ts0 + 3}}
	for c, m := range seen {
		lo, hi := want[c][0], want[c][1]
		if len(m) != int(hi-lo+1) {
			t.Errorf("%s: %d distinct values, want %d", c, len(m), hi-lo+1)
		}
		for v := range m {
			if v < lo || v > hi {
				t.Errorf("%s: %d outside [%d, %d]", c, v, lo, hi)
			}
		}
	}
	// the full BIGINT range works, and a short VARCHAR(n) caps the default length
	r := rows(t, table(map[string]string{"fields.x.min": "-9223372036854775808", "fields.x.max": "9223372036854775807", "number-of-rows": "10"},
		col("x", types.TBigInt), col("s", types.Type{Kind: types.Varchar, Length: 4})), 0, 10)
	if len(r) != 10 || len(r[0][1].S) != 4 {
		t.Fatalf("%v", r)
	}
}

func TestSequence(t *testing.T) {
	tb := table(map[string]string{
		"fields.id.kind":     "sequence",
		"fields.id.start":    "5",
		"fields.id.end":      "14",
		"fields.s.kind":      "sequence",
		"fields.s.start":     "-3",
		"fields.dec.kind":    "sequence",
		"fields.dec.start":   "7",
		"fields.d.kind":      "sequence",
		"fields.ts.base":     "2024-02-29 23:59:59.999",
		"fields.ts.kind":     "sequence",
		"fields.i.kind":      "sequence",
		"fields.i.start":     "100",
		"fields.i.null-rate": "0",
	}, col("id", types.TBigInt), col("s", types.TVarchar), col("dec", types.TDecimal(6, 3)),
		col("d", types.TDouble), col("ts", types.TTimestamp), col("i", types.TInt))
	f := factory(t, tb)
	if !f.Bounded() || f.Generator().Total() != 10 {
		t.Fatalf("bounded %v total %d", f.Bounded(), f.Generator().Total())
	}
	rs := runAll(t, tb, 1)[0]
	base, _ := types.ParseTimestamp("2024-02-29 23:59:59.999")
	if len(rs) != 10 {
		t.Fatalf("%d rows", len(rs))
	}
	for r, row := range rs {
		n := int64(r)
		if row[0] != types.BigIntValue(5+n) || row[1] != types.StringValue(fmt.Sprint(n-3)) ||
			row[2] != types.DecimalValue((7+n)*1000, 3) || row[3] != types.DoubleValue(float64(n)) ||
			row[4] != types.TimestampValue(base+n) || row[5] != types.IntValue(100+n) {
			t.Fatalf("row %d: %v", r, row)
		}
	}
	// parallelism 3: same multiset, each subtask in increasing order
	var got []int64
	for _, part := range runAll(t, tb, 3) {
		for k, row := range part {
			if k > 0 && row[0].I <= part[k-1][0].I {
				t.Fatal("subtask not in order")
			}
			got = append(got, row[0].I)
		}
	}
	sort.Slice(got, func(a, b int) bool { return got[a] < got[b] })
	if fmt.Sprint(got) != "[5 6 7 8 9 10 11 12 13 14]" {
		t.Fatalf("parallel sequence %v", got)
	}
	// number-of-rows below the sequence length wins
	tb.Options["number-of-rows"] = "4"
	if n := len(rows(t, tb, 0, 100)); n != 4 {
		t.Fatalf("%d rows with number-of-rows 4", n)
	}
	// an INT sequence ends where INT does; a sequence without end on BIGINT is unbounded
	if g := factory(t, table(map[string]string{"fields.i.kind": "sequence", "fields.i.start": "2147483640"}, col("i", types.TInt))).Generator(); g.Total() != 8 {
		t.Fatalf("INT sequence total %d", g.Total())
	}
	if factory(t, table(map[string]string{"fields.i.kind": "sequence"}, col("i", types.TBigInt))).Bounded() {
		t.Fatal("BIGINT sequence without end is bounded")
	}
	if factory(t, table(nil, col("i", types.TBigInt))).Bounded() {
		t.Fatal("no number-of-rows: want unbounded")
	}
}

func TestNullRate(t *testing.T) {
	tb := table(map[string]string{
		"number-of-rows":      "20000",
		"fields.a.null-rate":  "0.25",
		"fields.b.null-rate":  "1",
		"fields.c.null-rate":  "0",
		"fields.ts.null-rate": "0.5",
	}, col("a", types.TInt), col("b", types.TVarchar), col("c", types.TDouble), col("ts", types.TTimestamp))
	var nulls [4]int
	for r, row := range rows(t, tb, 0, 20000) {
		for j, v := range row {
			if v.IsNull() {
				nulls[j]++
			}
		}
		if !row[3].IsNull() && row[3].I != DefaultBase+int64(r) {
			t.Fatalf("timestamp row %d: %v", r, row[3])
		}
	}
	if nulls[0] < 4700 || nulls[0] > 5300 || nulls[1] != 20000 || nulls[2] != 0 || nulls[3] < 9600 || nulls[3] > 10400 {
		t.Fatalf("nulls %v", nulls)
	}
}

func TestDeterminism(t *testing.T) {
	opts := map[string]string{"number-of-rows": "5000", "seed": "7", "fields.s.null-rate": "0.1"}
	tb := table(opts, allTypes...)
	a := rows(t, tb, 0, 5000)
	b := rows(t, tb, 0, 5000)
	for i := range a {
		if key(a[i]) != key(b[i]) {
			t.Fatal("two calls differ")
		}
	}
	other := rows(t, table(map[string]string{"number-of-rows": "5000", "seed": "8"}, allTypes...), 0, 5000)
	if key(a[0]) == key(other[0]) && key(a[1]) == key(other[1]) {
		t.Fatal("seed 7 and 8 agree")
	}
	// any parallelism: subtask i emits rows ≡ i (mod p), identical to Rows
	for _, p := range []int{1, 3, 4} {
		total := 0
		for i, part := range runAll(t, tb, p) {
			for k, row := range part {
				if key(row) != key(a[i+k*p]) {
					t.Fatalf("p=%d subtask %d row %d differs", p, i, k)
				}
			}
			total += len(part)
		}
		if total != 5000 {
			t.Fatalf("p=%d: %d rows", p, total)
		}
	}
	// a column's values depend on its name, not on the other columns
	solo := rows(t, table(map[string]string{"seed": "7"}, col("BI", types.TBigInt)), 0, 100)
	for i := range solo {
		if solo[i][0] != a[i][2] {
			t.Fatalf("row %d: column bi alone %v, with others %v", i, solo[i][0], a[i][2])
		}
	}
}

func TestErrors(t *testing.T) {
	c, _ := connectors.Lookup("datagen")
	cols := []types.Column{col("id", types.TBigInt), col("ok", types.TBool), col("name", types.Type{Kind: types.Varchar, Length: 8}),
		col("amount", types.TDecimal(5, 2)), col("n", types.TInt), col("ts", types.TTimestamp)}
	cases := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"fields.nope.min": "1"},
			"table t: option 'fields.nope.min' names unknown column 'nope' (columns: id, ok, name, amount, n, ts)"},
		{map[string]string{"rows-per-sec": "1"},
			"table t: unknown option 'rows-per-sec' for connector 'datagen' (valid: fields.<column>.<property>, number-of-rows, rows-per-second, seed)"},
		{map[string]string{"fields.id": "1"},
			"table t: option 'fields.id': want 'fields.<column>.<property>'"},
		{map[string]string{"fields.id.length": "3"},
			"table t: option 'fields.id.length' does not apply to column 'id' (BIGINT, kind 'random'; valid: fields.id.kind, fields.id.max, fields.id.min, fields.id.null-rate)"},
		{map[string]string{"fields.id.kind": "sequence", "fields.id.min": "3"},
			"table t: option 'fields.id.min' does not apply to column 'id' (BIGINT, kind 'sequence'; valid: fields.id.end, fields.id.kind, fields.id.null-rate, fields.id.start)"},
		{map[string]string{"fields.ts.start": "3"},
			"table t: option 'fields.ts.start' does not apply to column 'ts' (TIMESTAMP(3), kind 'sequence'; valid: fields.ts.base, fields.ts.kind, fields.ts.null-rate)"},
		{map[string]string{"fields.id.kind": "rand"},
			"table t: option 'fields.id.kind': invalid value 'rand' (want random or sequence)"},
		{map[string]string{"fields.ok.kind": "sequence"},
			"table t: option 'fields.ok.kind': invalid value 'sequence' (want random: BOOLEAN has no sequence)"},
		{map[string]string{"fields.id.min": "10", "fields.id.max": "9"},
			"table t: option 'fields.id.max' is less than 'fields.id.min'"},
		{map[string]string{"fields.id.kind": "sequence", "fields.id.start": "10", "fields.id.end": "9"},
			"table t: option 'fields.id.end' (9) is less than 'fields.id.start' (10)"},
		{map[string]string{"fields.id.null-rate": "1.5"},
			"table t: option 'fields.id.null-rate': invalid value '1.5' (want a number between 0 and 1)"},
		{map[string]string{"fields.name.length": "9"},
			"table t: option 'fields.name.length': invalid value '9' (want at most 8, the length of VARCHAR(8))"},
		{map[string]string{"fields.amount.max": "1000"},
			"table t: option 'fields.amount.max': invalid value '1000' (want a number that fits DECIMAL(5,2))"},
		{map[string]string{"fields.amount.min": "1.005"},
			"table t: option 'fields.amount.min': invalid value '1.005' (want a number that fits DECIMAL(5,2))"},
		{map[string]string{"fields.n.max": "3000000000"},
			"table t: option 'fields.n.max': invalid value '3000000000' (want an integer that fits INT)"},
		{map[string]string{"fields.id.min": "x"},
			"table t: option 'fields.id.min': invalid value 'x' (want an integer)"},
		{map[string]string{"fields.ts.base": "soon"},
			"table t: option 'fields.ts.base': invalid value 'soon' (want a timestamp such as '2026-01-01 00:00:00')"},
		{map[string]string{"number-of-rows": "-1"},
			"table t: option 'number-of-rows': invalid value '-1' (want an integer ≥ 0)"},
		{map[string]string{"rows-per-second": "-1"},
			"table t: option 'rows-per-second': invalid value '-1' (want a number ≥ 0; 0 = unthrottled)"},
		{map[string]string{"seed": "1.5"},
			"table t: option 'seed': invalid value '1.5' (want an integer)"},
	}
	for _, tc := range cases {
		_, err := c.NewSource(table(tc.opts, cols...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v:\n got  %v\n want %s", tc.opts, err, tc.want)
		}
	}
	if _, err := c.NewSink(table(nil, cols...)); err == nil ||
		err.Error() != "table t: connector 'datagen' is a source only; it cannot be written" {
		t.Errorf("NewSink: %v", err)
	}
	// column names match case-insensitively
	if _, err := c.NewSource(table(map[string]string{"fields.id.min": "1"}, col("ID", types.TBigInt))); err != nil {
		t.Error(err)
	}
}

func TestDecimalParse(t *testing.T) {
	for _, tc := range []struct {
		s     string
		scale uint8
		want  int64
		ok    bool
	}{
		{"1.5", 2, 150, true}, {"-0.01", 2, -1, true}, {"+7", 0, 7, true}, {"007.10", 3, 7100, true},
		{"1.234", 2, 0, false}, {"", 2, 0, false}, {".", 1, 0, false}, {"1e3", 0, 0, false},
		{"1234567890123456789", 0, 0, false}, {".5", 1, 5, true},
	} {
		got, ok := parseDecimal(tc.s, tc.scale)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseDecimal(%q, %d) = %d, %v", tc.s, tc.scale, got, ok)
		}
	}
}

func TestCancelAndRate(t *testing.T) {
	src, _ := factory(t, table(nil, allTypes...)).Create(0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, &discard{}) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop")
	}

	start := time.Now()
	tb := table(map[string]string{"rows-per-second": "1000", "number-of-rows": "200"}, col("x", types.TInt))
	n := 0
	for _, part := range runAll(t, tb, 2) {
		n += len(part)
	}
	if el := time.Since(start); n != 200 || el < 150*time.Millisecond || el > 2*time.Second {
		t.Fatalf("%d rows in %v, want 200 in about 200ms", n, el)
	}
}

func TestZeroRowsAndColumns(t *testing.T) {
	if got := runAll(t, table(map[string]string{"number-of-rows": "0"}, col("x", types.TInt)), 2); len(got[0])+len(got[1]) != 0 {
		t.Fatal("rows from an empty table")
	}
	if r := rows(t, table(map[string]string{"number-of-rows": "3"}), 0, 10); len(r) != 3 || len(r[0]) != 0 {
		t.Fatalf("%v", r)
	}
}

func BenchmarkRow(b *testing.B) {
	tb := table(map[string]string{"number-of-rows": fmt.Sprint(max(b.N, 1))}, allTypes...)
	src, _ := factory(b, tb).Create(0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	if err := src.Run(context.Background(), &discard{}); err != nil {
		b.Fatal(err)
	}
}

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*collector) AddSplit() int       { panic("unexpected AddSplit") }
func (*collector) SplitIdle(split int) {}

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*discard) AddSplit() int       { panic("unexpected AddSplit") }
func (*discard) SplitIdle(split int) {}
