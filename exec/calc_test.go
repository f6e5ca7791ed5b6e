package exec

import (
	"reflect"
	"testing"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// TestCalcFilterKeepsChangelogConsistent: a filter over update pairs turns
// a pair whose new row is filtered out into -D, and a pair whose old row
// was filtered out into +I.
func TestCalcFilterKeepsChangelogConsistent(t *testing.T) {
	col := &expr.Column{Index: 1, Name: "n", Typ: types.TBigInt}
	two := &expr.Literal{Val: types.BigIntValue(2), Typ: types.TBigInt}
	even, err := expr.NewBinary(expr.OpEQ, must(expr.NewBinary(expr.OpMod, col, two)), &expr.Literal{Val: types.BigIntValue(0), Typ: types.TBigInt})
	if err != nil {
		t.Fatal(err)
	}
	c := &Calc{Filter: even} // HAVING n % 2 = 0
	row := func(k string, n int64) types.Row { return types.Row{types.StringValue(k), types.BigIntValue(n)} }
	b := &types.Batch{}
	b.Append(row("a", 1), types.Insert)       // dropped
	b.Append(row("a", 1), types.UpdateBefore) // 1 → 2: enters → +I 2
	b.Append(row("a", 2), types.UpdateAfter)
	b.Append(row("b", 2), types.UpdateBefore) // 2 → 3: leaves → -D 2
	b.Append(row("b", 3), types.UpdateAfter)
	b.Append(row("c", 2), types.UpdateBefore) // 2 → 4: both kept
	b.Append(row("c", 4), types.UpdateAfter)
	b.Append(row("d", 3), types.UpdateBefore) // 3 → 5: neither
	b.Append(row("d", 5), types.UpdateAfter)
	b.Append(row("e", 6), types.Delete) // kept as is
	out := &aggCollector{}
	if err := c.Process(0, b, out); err != nil {
		t.Fatal(err)
	}
	want := []string{"+I a,2", "-D b,2", "-U c,2", "+U c,4", "-D e,6"}
	if got := out.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func must(e expr.Expr, err error) expr.Expr {
	if err != nil {
		panic(err)
	}
	return e
}
