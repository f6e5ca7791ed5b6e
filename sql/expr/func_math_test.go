package expr

import (
	"math"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestMathFunctions(t *testing.T) {
	nullInt := ta(types.NullValue, types.TInt)
	runCases(t, []fcase{
		// MOD
		{fn: "MOD", args: []any{7, 3}, want: 1},
		{fn: "MOD", args: []any{-7, 3}, want: -1},
		{fn: "MOD", args: []any{7, -3}, want: 1},
		{fn: "MOD", args: []any{7, 0}, want: nil},
		{fn: "MOD", args: []any{int64(7), 3}, want: int64(1)},
		{fn: "MOD", args: []any{int64(math.MinInt64), int64(-1)}, want: int64(0)},
		{fn: "MOD", args: []any{dec("7.5"), 2}, want: dec("1.5")},
		{fn: "MOD", args: []any{dec("-7.5"), dec("2.25")}, want: dec("-0.75")},
		{fn: "MOD", args: []any{dec("7.5"), dec("0.0")}, want: nil},
		{fn: "MOD", args: []any{int64(math.MaxInt64), dec("0.3")}, want: dec("0.1")},
		{fn: "MOD", args: []any{7.5, 2}, want: 1.5},
		{fn: "MOD", args: []any{7.5, 0.0}, want: nil},
		{fn: "MOD", args: []any{nullInt, 3}, want: nil},
		{fn: "MOD", args: []any{7, nil}, want: nil},
		// ABS
		{fn: "ABS", args: []any{-5}, want: 5},
		{fn: "ABS", args: []any{int64(-5)}, want: int64(5)},
		{fn: "ABS", args: []any{-2.5}, want: 2.5},
		{fn: "ABS", args: []any{dec("-1.20")}, want: dec("1.20")},
		{fn: "ABS", args: []any{math.MinInt32}, err: "ABS: INT value is out of range"},
		{fn: "ABS", args: []any{int64(math.MinInt64)}, err: "ABS: BIGINT value is out of range"},
		{fn: "ABS", args: []any{nullInt}, want: nil},
		// ROUND: half away from zero
		{fn: "ROUND", args: []any{2.5}, want: 3.0},
		{fn: "ROUND", args: []any{-2.5}, want: -3.0},
		{fn: "ROUND", args: []any{0.5}, want: 1.0},
		{fn: "ROUND", args: []any{-0.5}, want: -1.0},
		{fn: "ROUND", args: []any{-0.4}, want: 0.0},
		{fn: "ROUND", args: []any{2.675, 2}, want: 2.68},
		{fn: "ROUND", args: []any{1.005, 2}, want: 1.01},
		{fn: "ROUND", args: []any{-1.005, 2}, want: -1.01},
		{fn: "ROUND", args: []any{1234.5678, -2}, want: 1200.0},
		{fn: "ROUND", args: []any{9.99, 1}, want: 10.0},
		{fn: "ROUND", args: []any{1.5, 400}, want: 1.5},
		{fn: "ROUND", args: []any{1e300, -400}, want: 0.0},
		{fn: "ROUND", args: []any{math.Inf(1), 2}, want: math.Inf(1)},
		{fn: "ROUND", args: []any{15, -1}, want: 20},
		{fn: "ROUND", args: []any{-15, -1}, want: -20},
		{fn: "ROUND", args: []any{14, -1}, want: 10},
		{fn: "ROUND", args: []any{14, 2}, want: 14},
		{fn: "ROUND", args: []any{int64(5e18), int64(-19)}, err: "ROUND: BIGINT value is out of range"},
		{fn: "ROUND", args: []any{int64(4e18), int64(-19)}, want: int64(0)},
		{fn: "ROUND", args: []any{2147483647, -1}, err: "ROUND: INT value is out of range"},
		{fn: "ROUND", args: []any{dec("2.5")}, want: dec("3")},
		{fn: "ROUND", args: []any{dec("-2.5")}, want: dec("-3")},
		{fn: "ROUND", args: []any{dec("-2.4")}, want: dec("-2")},
		{fn: "ROUND", args: []any{dec("1.235"), 2}, want: dec("1.24")},
		{fn: "ROUND", args: []any{dec("-1.235"), 2}, want: dec("-1.24")},
		{fn: "ROUND", args: []any{dec("1.235"), 5}, want: dec("1.235")},
		{fn: "ROUND", args: []any{dec("155.5"), -1}, want: dec("160")},
		{fn: "ROUND", args: []any{dec("155.5"), -9}, want: dec("0")},
		{fn: "ROUND", args: []any{dec("1.235"), dec("1.6")}, want: dec("1.240")},
		{fn: "ROUND", args: []any{ta(dec("9.99"), types.TDecimal(3, 2)), 1}, want: dec("10.0")},
		{fn: "ROUND", args: []any{dec("1.5"), nil}, want: nil},
		// FLOOR / CEIL
		{fn: "FLOOR", args: []any{-1.5}, want: -2.0},
		{fn: "FLOOR", args: []any{1.5}, want: 1.0},
		{fn: "CEIL", args: []any{-1.5}, want: -1.0},
		{fn: "CEILING", args: []any{1.2}, want: 2.0},
		{fn: "FLOOR", args: []any{7}, want: 7},
		{fn: "CEIL", args: []any{int64(7)}, want: int64(7)},
		{fn: "FLOOR", args: []any{dec("-1.25")}, want: dec("-2")},
		{fn: "FLOOR", args: []any{dec("1.25")}, want: dec("1")},
		{fn: "CEIL", args: []any{dec("-1.25")}, want: dec("-1")},
		{fn: "CEIL", args: []any{dec("1.25")}, want: dec("2")},
		{fn: "CEIL", args: []any{dec("2.00")}, want: dec("2")},
		{fn: "CEIL", args: []any{dec("12")}, want: dec("12")},
		// POWER, SQRT, LN, LOG10, EXP
		{fn: "POWER", args: []any{2, 10}, want: 1024.0},
		{fn: "POW", args: []any{dec("2.5"), 2}, want: 6.25},
		{fn: "POW", args: []any{2, -1}, want: 0.5},
		{fn: "POW", args: []any{0, -1}, err: "POW: DOUBLE value is out of range"},
		{fn: "POW", args: []any{-8, 1.0 / 3}, want: nil},
		{fn: "SQRT", args: []any{16}, want: 4.0},
		{fn: "SQRT", args: []any{-1}, want: nil},
		{fn: "LN", args: []any{1}, want: 0.0},
		{fn: "LN", args: []any{0}, want: nil},
		{fn: "LN", args: []any{-1.0}, want: nil},
		{fn: "LOG10", args: []any{1000}, want: 3.0},
		{fn: "LOG10", args: []any{0}, want: nil},
		{fn: "LOG2", args: []any{8}, want: 3.0},
		{fn: "LOG", args: []any{2, 8}, want: 3.0},
		{fn: "LOG", args: []any{1, 8}, want: nil},
		{fn: "EXP", args: []any{0}, want: 1.0},
		{fn: "EXP", args: []any{1000}, err: "EXP: DOUBLE value is out of range"},
		{fn: "PI", args: []any{}, want: math.Pi},
		// SIGN
		{fn: "SIGN", args: []any{-3}, want: -1},
		{fn: "SIGN", args: []any{0}, want: 0},
		{fn: "SIGN", args: []any{dec("0.01")}, want: 1},
		{fn: "SIGN", args: []any{-0.0}, want: 0},
		{fn: "SIGN", args: []any{-1e-300}, want: -1},
		// GREATEST / LEAST
		{fn: "GREATEST", args: []any{1, 5, 3}, want: 5},
		{fn: "GREATEST", args: []any{1, int64(5), 3}, want: int64(5)},
		{fn: "GREATEST", args: []any{1, dec("2.5")}, want: dec("2.5")},
		{fn: "GREATEST", args: []any{1, 2.5}, want: 2.5},
		{fn: "LEAST", args: []any{1, dec("-2.5"), 0.5}, want: -2.5},
		{fn: "LEAST", args: []any{"b", "a", "c"}, want: "a"},
		{fn: "GREATEST", args: []any{tsv("2024-01-01"), "2024-06-01"}, want: tsv("2024-06-01")},
		{fn: "GREATEST", args: []any{tsv("2024-01-01"), "junk"}, err: "GREATEST: cannot cast 'junk' to TIMESTAMP(3)"},
		{fn: "GREATEST", args: []any{1, nil, 3}, want: nil},
		{fn: "LEAST", args: []any{1, "a"}, err: "LEAST arguments have no common type: (INT, VARCHAR)"},
	})
}

func TestMathSignatures(t *testing.T) {
	runSigCases(t, []sigCase{
		{"MOD", tys(types.TInt), "MOD expects (NUMERIC, NUMERIC), got (INT)"},
		{"MOD", tys(types.TVarchar, types.TInt), "MOD expects (NUMERIC, NUMERIC), got (VARCHAR, INT)"},
		{"ABS", tys(types.TVarchar), "ABS expects (NUMERIC), got (VARCHAR)"},
		{"ABS", tys(types.TBool), "ABS expects (NUMERIC), got (BOOLEAN)"},
		{"ROUND", tys(types.TDouble, types.TVarchar), "ROUND expects (NUMERIC[, INT]), got (DOUBLE, VARCHAR)"},
		{"ROUND", tys(), "ROUND expects (NUMERIC[, INT]), got ()"},
		{"FLOOR", tys(types.TTimestamp), "FLOOR expects (NUMERIC), got (TIMESTAMP(3))"},
		{"CEILING", tys(types.TInt, types.TInt), "CEILING expects (NUMERIC), got (INT, INT)"},
		{"POWER", tys(types.TInt), "POWER expects (NUMERIC, NUMERIC), got (INT)"},
		{"SQRT", tys(types.TVarchar), "SQRT expects (NUMERIC), got (VARCHAR)"},
		{"LN", tys(), ""},
		{"LOG10", tys(types.TVarchar), ""},
		{"EXP", tys(types.TVarchar), ""},
		{"SIGN", tys(types.TVarchar), ""},
		{"PI", tys(types.TInt), "PI expects (), got (INT)"},
		{"GREATEST", tys(types.TInt), "GREATEST expects (ANY, ANY[, ANY...]), got (INT)"},
		{"LEAST", tys(types.TInt, types.TTimestamp), "LEAST arguments have no common type: (INT, TIMESTAMP(3))"},
	})
}

func TestMathResultTypes(t *testing.T) {
	cases := []struct {
		fn   string
		args []types.Type
		want types.Type
	}{
		{"MOD", tys(types.TInt, types.TInt), types.TInt},
		{"MOD", tys(types.TInt, types.TBigInt), types.TBigInt},
		{"MOD", tys(types.TDecimal(5, 2), types.TInt), types.TDecimal(12, 2)},
		{"MOD", tys(types.TDecimal(5, 2), types.TDouble), types.TDouble},
		{"MOD", tys(types.TNull, types.TInt), types.TInt},
		{"ROUND", tys(types.TDecimal(10, 3)), types.TDecimal(8, 0)},
		{"ROUND", tys(types.TDecimal(10, 3), types.TInt), types.TDecimal(11, 3)},
		{"ROUND", tys(types.TDecimal(18, 3), types.TInt), types.TDecimal(18, 3)},
		{"ROUND", tys(types.TDouble, types.TInt), types.TDouble},
		{"FLOOR", tys(types.TDecimal(10, 3)), types.TDecimal(8, 0)},
		{"CEIL", tys(types.TDecimal(10, 0)), types.TDecimal(10, 0)},
		{"ABS", tys(types.TNull), types.TBigInt},
		{"GREATEST", tys(types.TInt, types.TDecimal(5, 2)), types.TDecimal(12, 2)},
		{"SQRT", tys(types.TInt), types.TDouble},
	}
	for _, c := range cases {
		def, _ := Lookup(c.fn)
		got, _, err := def.Resolve(c.args)
		if err != nil || got != c.want {
			t.Errorf("%s%s = %s, %v; want %s", c.fn, fnTypeList(c.args), got, err, c.want)
		}
	}
}
