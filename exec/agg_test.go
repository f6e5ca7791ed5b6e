package exec

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestAggResultType(t *testing.T) {
	tests := []struct {
		kind AggKind
		arg  types.Type
		want types.Type
	}{
		{AggCountStar, types.TNull, types.TBigInt},
		{AggCount, types.TVarchar, types.TBigInt},
		{AggSum, types.TInt, types.TBigInt},
		{AggSum, types.TBigInt, types.TBigInt},
		{AggSum, types.TDouble, types.TDouble},
		{AggSum, types.TDecimal(10, 2), types.TDecimal(18, 2)},
		{AggSum, types.TVarchar, types.TNull},
		{AggAvg, types.TInt, types.TDouble},
		{AggAvg, types.TBigInt, types.TDouble},
		{AggAvg, types.TDouble, types.TDouble},
		{AggAvg, types.TDecimal(10, 2), types.TDecimal(18, 4)},
		{AggAvg, types.TDecimal(12, 6), types.TDecimal(18, 6)},
		{AggAvg, types.TBool, types.TNull},
		{AggMin, types.TVarchar, types.TVarchar},
		{AggMax, types.TTimestamp, types.TTimestamp},
		{AggMax, types.TDecimal(5, 1), types.TDecimal(5, 1)},
	}
	for _, tt := range tests {
		if got := AggResultType(tt.kind, tt.arg); got != tt.want {
			t.Errorf("AggResultType(%s, %s) = %s, want %s", tt.kind, tt.arg, got, tt.want)
		}
	}
}

func TestAggResolveErrors(t *testing.T) {
	bad := [][]AggCall{
		{{Kind: AggSum, Arg: 0, ArgType: types.TVarchar}},
		{{Kind: AggCount, Arg: -1, ArgType: types.TInt}},
		{{Kind: AggCountStar, Arg: -1, Distinct: true}},
		{{Kind: AggSum, Arg: 0, ArgType: types.TInt, Type: types.TInt}},
		{{Kind: 42, Arg: 0, ArgType: types.TInt}},
	}
	for _, calls := range bad {
		if _, err := NewGroupAgg(GroupAggConfig{Aggs: calls}); err == nil {
			t.Errorf("%v: no error", calls)
		}
		if _, err := NewWindowAgg(WindowAggConfig{Aggs: calls, Window: WindowSpec{Kind: WindowTumble, Size: 1}}); err == nil {
			t.Errorf("%v: no error", calls)
		}
	}
	got, err := resolveAggCalls([]AggCall{{Kind: AggMax, Arg: 1, Distinct: true, ArgType: types.TInt}})
	if err != nil || got[0].Distinct || got[0].Type != types.TInt {
		t.Errorf("MAX(DISTINCT): got %+v, %v", got, err)
	}
}

// aggTestRun folds rows (+ adds, - retracts) into one group and returns the
// results as strings.
func aggTestRun(t *testing.T, calls []AggCall, updating bool, ops []aggTestOp) []string {
	t.Helper()
	calls, err := resolveAggCalls(calls)
	if err != nil {
		t.Fatal(err)
	}
	g := newAggregator(calls, updating)
	accs := make([]Accumulator, len(calls))
	for _, op := range ops {
		if op.retract {
			g.retract(accs, op.row)
		} else {
			g.add(accs, op.row)
		}
	}
	res := make([]types.Value, len(calls))
	g.results(accs, res)
	out := make([]string, len(res))
	for i, v := range res {
		out[i] = v.String()
		if v.Kind != types.Null && v.Kind != calls[i].Type.Kind {
			t.Errorf("%s: result kind %s, want %s", calls[i], v.Kind, calls[i].Type)
		}
		if v.Kind == types.Decimal && v.Scale != calls[i].Type.Scale {
			t.Errorf("%s: result scale %d, want %d", calls[i], v.Scale, calls[i].Type.Scale)
		}
	}
	return out
}

type aggTestOp struct {
	retract bool
	row     types.Row
}

func avAdd(vs ...types.Value) aggTestOp     { return aggTestOp{row: vs} }
func avRetract(vs ...types.Value) aggTestOp { return aggTestOp{retract: true, row: vs} }

var (
	avNull = types.NullValue
	avBig  = types.BigIntValue
	avDbl  = types.DoubleValue
	avStr  = types.StringValue
	avDec  = types.DecimalValue
)

func allAggs(arg int, typ types.Type) []AggCall {
	return []AggCall{
		{Kind: AggCountStar, Arg: -1},
		{Kind: AggCount, Arg: arg, ArgType: typ},
		{Kind: AggSum, Arg: arg, ArgType: typ},
		{Kind: AggAvg, Arg: arg, ArgType: typ},
		{Kind: AggMin, Arg: arg, ArgType: typ},
		{Kind: AggMax, Arg: arg, ArgType: typ},
		{Kind: AggCount, Arg: arg, ArgType: typ, Distinct: true},
		{Kind: AggSum, Arg: arg, ArgType: typ, Distinct: true},
	}
}

func TestAggAccumulators(t *testing.T) {
	dec2 := types.TDecimal(10, 2)
	tests := []struct {
		name     string
		typ      types.Type
		updating bool
		ops      []aggTestOp
		want     string // COUNT(*) COUNT SUM AVG MIN MAX COUNT(DISTINCT) SUM(DISTINCT)
	}{
		{"empty", types.TBigInt, false, nil, "0 0 NULL NULL NULL NULL 0 NULL"},
		{"only NULLs", types.TBigInt, false, []aggTestOp{avAdd(avNull), avAdd(avNull)}, "2 0 NULL NULL NULL NULL 0 NULL"},
		{"bigint", types.TBigInt, false, []aggTestOp{avAdd(avBig(3)), avAdd(avNull), avAdd(avBig(-1)), avAdd(avBig(3))}, "4 3 5 1.6666666666666667 -1 3 2 2"},
		{"int", types.TInt, false, []aggTestOp{avAdd(types.IntValue(7)), avAdd(types.IntValue(2))}, "2 2 9 4.5 2 7 2 9"},
		{"double", types.TDouble, false, []aggTestOp{avAdd(avDbl(1.5)), avAdd(avDbl(-0.25)), avAdd(avNull), avAdd(avDbl(1.5))}, "4 3 2.75 0.9166666666666666 -0.25 1.5 2 1.25"},
		{"double -0 distinct", types.TDouble, false, []aggTestOp{avAdd(avDbl(0)), avAdd(avDbl(math.Copysign(0, -1)))}, "2 2 0 0 0 0 1 0"},
		{"decimal", dec2, false, []aggTestOp{avAdd(avDec(125, 2)), avAdd(avDec(250, 2)), avAdd(avDec(1, 2))}, "3 3 3.76 1.2533 0.01 2.50 3 3.76"},
		{"decimal negative avg", dec2, false, []aggTestOp{avAdd(avDec(-125, 2)), avAdd(avDec(-250, 2))}, "2 2 -3.75 -1.8750 -2.50 -1.25 2 -3.75"},
		{"decimal other scale", dec2, false, []aggTestOp{avAdd(avDec(15, 1)), avAdd(avDec(1, 2))}, "2 2 1.51 0.7550 0.01 1.50 2 1.51"},
		{"retract count sum avg", types.TBigInt, true, []aggTestOp{avAdd(avBig(1)), avAdd(avBig(2)), avAdd(avBig(2)), avRetract(avBig(2)), avAdd(avNull), avRetract(avNull)}, "2 2 3 1.5 1 2 2 3"},
		{"retract to empty", types.TBigInt, true, []aggTestOp{avAdd(avBig(1)), avRetract(avBig(1))}, "0 0 NULL NULL NULL NULL 0 NULL"},
		{"retract min", types.TBigInt, true, []aggTestOp{avAdd(avBig(1)), avAdd(avBig(5)), avAdd(avBig(3)), avRetract(avBig(1))}, "2 2 8 4 3 5 2 8"},
		{"retract max", types.TBigInt, true, []aggTestOp{avAdd(avBig(1)), avAdd(avBig(5)), avAdd(avBig(3)), avRetract(avBig(5))}, "2 2 4 2 1 3 2 4"},
		{"retract duplicate extreme", types.TBigInt, true, []aggTestOp{avAdd(avBig(5)), avAdd(avBig(5)), avAdd(avBig(3)), avRetract(avBig(5))}, "2 2 8 4 3 5 2 8"},
		{"retract distinct last copy", types.TBigInt, true, []aggTestOp{avAdd(avBig(5)), avAdd(avBig(5)), avAdd(avBig(3)), avRetract(avBig(5)), avRetract(avBig(5))}, "1 1 3 3 3 3 1 3"},
		{"retract unknown value ignored", types.TBigInt, true, []aggTestOp{avAdd(avBig(5)), avRetract(avBig(7))}, "0 0 NULL NULL 5 5 1 5"},
		{"double retract resets", types.TDouble, true, []aggTestOp{avAdd(avDbl(0.1)), avAdd(avDbl(0.2)), avRetract(avDbl(0.1)), avRetract(avDbl(0.2)), avAdd(avDbl(1))}, "1 1 1 1 1 1 1 1"},
		{"decimal retract", dec2, true, []aggTestOp{avAdd(avDec(100, 2)), avAdd(avDec(300, 2)), avRetract(avDec(100, 2))}, "1 1 3.00 3.0000 3.00 3.00 1 3.00"},
	}
	for _, tt := range tests {
		got := strings.Join(aggTestRun(t, allAggs(0, tt.typ), tt.updating, tt.ops), " ")
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestAggVarchar(t *testing.T) {
	calls := []AggCall{
		{Kind: AggCount, Arg: 0, ArgType: types.TVarchar},
		{Kind: AggMin, Arg: 0, ArgType: types.TVarchar},
		{Kind: AggMax, Arg: 0, ArgType: types.TVarchar},
		{Kind: AggCount, Arg: 0, ArgType: types.TVarchar, Distinct: true},
	}
	got := aggTestRun(t, calls, false, []aggTestOp{avAdd(avStr("pear")), avAdd(avNull), avAdd(avStr("apple")), avAdd(avStr("pear")), avAdd(avStr("zoo"))})
	if s := strings.Join(got, " "); s != "4 apple zoo 3" {
		t.Errorf("got %s", s)
	}
	got = aggTestRun(t, calls, true, []aggTestOp{avAdd(avStr("pear")), avAdd(avStr("apple")), avAdd(avStr("zoo")), avRetract(avStr("zoo")), avRetract(avStr("apple"))})
	if s := strings.Join(got, " "); s != "1 pear pear 1" {
		t.Errorf("got %s", s)
	}
}

func TestAggAvgDecimalRounding(t *testing.T) {
	tests := []struct {
		sum, n int64
		k      uint8
		want   int64
	}{
		{1, 2, 0, 1},    // 0.5 → 1
		{-1, 2, 0, -1},  // -0.5 → -1
		{1, 3, 0, 0},    // 0.33 → 0
		{2, 3, 0, 1},    // 0.67 → 1
		{-2, 3, 0, -1},  // -0.67 → -1
		{3, 2, 2, 150},  // 1.5 at scale +2
		{1, 3, 4, 3333}, // 0.3333
		{2, 3, 4, 6667},
		{math.MaxInt64, 1, 0, math.MaxInt64},
		{math.MaxInt64 / 2, 1000, 3, math.MaxInt64 / 2},
		{math.MinInt64 + 1, 3, 0, (math.MinInt64 + 1) / 3},
	}
	for _, tt := range tests {
		if got := avgDecimal(tt.sum, tt.n, tt.k); got != tt.want {
			t.Errorf("avgDecimal(%d, %d, %d) = %d, want %d", tt.sum, tt.n, tt.k, got, tt.want)
		}
	}
}

func TestAggMerge(t *testing.T) {
	calls, err := resolveAggCalls(append(allAggs(0, types.TBigInt), AggCall{Kind: AggCount, Arg: 1, ArgType: types.TVarchar, Distinct: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, updating := range []bool{false, true} {
		g := newAggregator(calls, updating)
		all := make([]Accumulator, len(calls))
		a := make([]Accumulator, len(calls))
		b := make([]Accumulator, len(calls))
		rows := []types.Row{{avBig(4), avStr("x")}, {avNull, avStr("y")}, {avBig(-2), avNull}, {avBig(4), avStr("x")}, {avBig(9), avStr("z")}, {avBig(-2), avStr("y")}}
		for i, r := range rows {
			g.add(all, r)
			if i%2 == 0 {
				g.add(a, r)
			} else {
				g.add(b, r)
			}
		}
		g.merge(a, b)
		want := make([]types.Value, len(calls))
		got := make([]types.Value, len(calls))
		g.results(all, want)
		g.results(a, got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("updating=%v: merged %v, want %v", updating, got, want)
		}
		if updating { // the merged multiset must still support retraction
			g.retract(a, types.Row{avBig(-2), avNull})
			g.retract(a, types.Row{avBig(-2), avStr("y")})
			g.results(a, got)
			if got[4] != avBig(4) {
				t.Errorf("MIN after retracting merged minimum = %v, want 4", got[4])
			}
		}
	}
}

func TestAggEncodeRoundTrip(t *testing.T) {
	calls, err := resolveAggCalls([]AggCall{
		{Kind: AggCountStar, Arg: -1},
		{Kind: AggSum, Arg: 0, ArgType: types.TBigInt},
		{Kind: AggAvg, Arg: 1, ArgType: types.TDouble},
		{Kind: AggSum, Arg: 2, ArgType: types.TDecimal(10, 2)},
		{Kind: AggMin, Arg: 3, ArgType: types.TVarchar},
		{Kind: AggMax, Arg: 0, ArgType: types.TBigInt},
		{Kind: AggCount, Arg: 0, ArgType: types.TBigInt, Distinct: true},
		{Kind: AggCount, Arg: 3, ArgType: types.TVarchar, Distinct: true},
		{Kind: AggAvg, Arg: 2, ArgType: types.TDecimal(10, 2), Distinct: true},
		{Kind: AggMin, Arg: 1, ArgType: types.TDouble},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, updating := range []bool{false, true} {
		g := newAggregator(calls, updating)
		accs := make([]Accumulator, len(calls))
		rows := []types.Row{
			{avBig(5), avDbl(1.5), avDec(125, 2), avStr("b")},
			{avBig(-3), avNull, avDec(-1, 2), avStr("")},
			{avNull, avDbl(math.Inf(1)), avNull, avNull},
			{avBig(5), avDbl(-2), avDec(125, 2), avStr("a\x00b")},
		}
		for _, r := range rows {
			g.add(accs, r)
		}
		if updating {
			g.retract(accs, rows[1])
		}
		enc := EncodeAccumulators(nil, accs)
		dec := make([]Accumulator, len(calls))
		rest, err := DecodeAccumulators(append(enc, 0xAB), dec)
		if err != nil {
			t.Fatalf("updating=%v: %v", updating, err)
		}
		if len(rest) != 1 || rest[0] != 0xAB {
			t.Errorf("rest = %x", rest)
		}
		if !reflect.DeepEqual(accs, dec) {
			t.Errorf("updating=%v: round trip changed the state:\n%+v\n%+v", updating, accs, dec)
		}
		if enc2 := EncodeAccumulators(nil, dec); string(enc2) != string(enc) {
			t.Errorf("updating=%v: re-encoding differs", updating)
		}
		// every truncation is an error, never a panic
		for i := range enc {
			if _, err := DecodeAccumulators(enc[:i], make([]Accumulator, len(calls))); err == nil {
				t.Errorf("truncated to %d bytes: no error", i)
			}
		}
	}
	// the empty accumulator
	var a, b Accumulator
	enc := a.Encode(nil)
	if rest, err := b.Decode(enc); err != nil || len(rest) != 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("empty: %v %v %+v", rest, err, b)
	}
	if _, err := DecodeAccumulators([]byte{99, 0}, nil); err == nil {
		t.Error("unknown version: no error")
	}
	if _, err := DecodeAccumulators(EncodeAccumulators(nil, make([]Accumulator, 2)), make([]Accumulator, 3)); err == nil {
		t.Error("slot count mismatch: no error")
	}
}

func TestAggAddNoAlloc(t *testing.T) {
	calls, err := resolveAggCalls([]AggCall{
		{Kind: AggCountStar, Arg: -1},
		{Kind: AggCount, Arg: 0, ArgType: types.TBigInt},
		{Kind: AggSum, Arg: 0, ArgType: types.TBigInt},
		{Kind: AggAvg, Arg: 1, ArgType: types.TDouble},
		{Kind: AggMin, Arg: 2, ArgType: types.TVarchar},
		{Kind: AggMax, Arg: 3, ArgType: types.TDecimal(10, 2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := newAggregator(calls, false)
	accs := make([]Accumulator, len(calls))
	row := types.Row{avBig(5), avDbl(1.5), avStr("x"), avDec(12, 2)}
	if n := testing.AllocsPerRun(1000, func() {
		row[0].I++
		g.add(accs, row)
	}); n != 0 {
		t.Errorf("add allocates %v times per row", n)
	}
}

func TestAggGroupKeyRoundTrip(t *testing.T) {
	long := strings.Repeat("xy", 200) // a multi-byte length prefix
	row := types.Row{
		avNull, avBig(-7), types.IntValue(3), avDbl(2.5), avDbl(math.Copysign(0, -1)),
		avDec(-12345, 3), avStr(""), avStr(long), types.BoolValue(true),
		types.TimestampValue(-1), avStr("a\x00b"),
	}
	cols := make([]int, len(row))
	for i := range cols {
		cols[i] = len(row) - 1 - i // any order
	}
	key := string(appendGroupKey(nil, row, cols))
	got := make([]types.Value, len(cols))
	decodeGroupKey(key, got)
	for i, c := range cols {
		want := row[c]
		if want.Kind == types.Double && want.F() == 0 {
			want = avDbl(0) // -0 groups with +0
		}
		if got[i] != want {
			t.Errorf("column %d: decoded %#v, want %#v", c, got[i], want)
		}
	}
	// distinct tuples give distinct keys, equal group values equal keys
	k := func(vs ...types.Value) string { return string(appendGroupKey(nil, vs, []int{0, 1}[:len(vs)])) }
	if k(avStr("ab"), avStr("c")) == k(avStr("a"), avStr("bc")) || k(avNull, avStr("")) == k(avStr(""), avNull) {
		t.Error("key encoding is not injective")
	}
	if k(avDbl(math.NaN())) != k(avDbl(-math.NaN())) || k(avDbl(0)) != k(avDbl(math.Copysign(0, -1))) {
		t.Error("NaN or -0 not canonical")
	}
}
