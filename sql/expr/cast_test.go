package expr

import (
	"math"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestCastValue(t *testing.T) {
	d52 := types.TDecimal(5, 2)
	cases := []struct {
		v    types.Value
		to   types.Type
		want types.Value
		err  string
	}{
		// NULL to anything
		{types.NullValue, types.TInt, types.NullValue, ""},
		{types.NullValue, types.TTimestamp, types.NullValue, ""},
		{types.NullValue, d52, types.NullValue, ""},
		// integers
		{types.IntValue(7), types.TBigInt, types.BigIntValue(7), ""},
		{types.BigIntValue(3000000000), types.TInt, types.NullValue, "cannot cast 3000000000 to INT: out of range"},
		{types.BigIntValue(-2147483648), types.TInt, types.IntValue(-2147483648), ""},
		{types.BigIntValue(-2147483649), types.TInt, types.NullValue, "out of range"},
		{types.IntValue(7), types.TDouble, types.DoubleValue(7), ""},
		{types.IntValue(7), d52, dec("7.00"), ""},
		{types.IntValue(1000), d52, types.NullValue, "cannot cast 1000 to DECIMAL(5,2): out of range"},
		{types.IntValue(-999), d52, dec("-999.00"), ""},
		{types.BigIntValue(math.MaxInt64), types.TDecimal(18, 0), types.NullValue, "out of range"},
		{types.IntValue(0), types.TBool, types.BoolValue(false), ""},
		{types.IntValue(-3), types.TBool, types.BoolValue(true), ""},
		{types.IntValue(42), types.TVarchar, types.StringValue("42"), ""},
		// doubles: round half away from zero
		{types.DoubleValue(2.5), types.TBigInt, types.BigIntValue(3), ""},
		{types.DoubleValue(-2.5), types.TBigInt, types.BigIntValue(-3), ""},
		{types.DoubleValue(0.5), types.TInt, types.IntValue(1), ""},
		{types.DoubleValue(-0.5), types.TInt, types.IntValue(-1), ""},
		{types.DoubleValue(2.4999), types.TInt, types.IntValue(2), ""},
		{types.DoubleValue(3e9), types.TInt, types.NullValue, "out of range"},
		{types.DoubleValue(1e19), types.TBigInt, types.NullValue, "out of range"},
		{types.DoubleValue(math.NaN()), types.TBigInt, types.NullValue, "out of range"},
		{types.DoubleValue(1.005), d52, dec("1.01"), ""},
		{types.DoubleValue(-1.005), d52, dec("-1.01"), ""},
		{types.DoubleValue(1e3), d52, types.NullValue, "out of range"},
		{types.DoubleValue(math.Inf(1)), d52, types.NullValue, "out of range"},
		{types.DoubleValue(1.5), types.TVarchar, types.StringValue("1.5"), ""},
		{types.DoubleValue(0), types.TBool, types.BoolValue(false), ""},
		// decimals
		{dec("1.235"), d52, dec("1.24"), ""},
		{dec("-1.235"), d52, dec("-1.24"), ""},
		{dec("1.234"), d52, dec("1.23"), ""},
		{dec("1.5"), types.TDecimal(10, 4), dec("1.5000"), ""},
		{dec("999.995"), d52, types.NullValue, "cannot cast 999.995 to DECIMAL(5,2): out of range"},
		{dec("2.5"), types.TInt, types.IntValue(3), ""},
		{dec("-2.5"), types.TInt, types.IntValue(-3), ""},
		{dec("-2.49"), types.TBigInt, types.BigIntValue(-2), ""},
		{dec("1.25"), types.TDouble, types.DoubleValue(1.25), ""},
		{dec("12345678901234567.8"), types.TDouble, types.DoubleValue(12345678901234567.8), ""},
		{dec("-0.000000000000000001"), types.TDouble, types.DoubleValue(-1e-18), ""},
		{dec("12345678901234567.8"), types.TBigInt, types.BigIntValue(12345678901234568), ""},
		{types.DoubleValue(1e17), types.TDecimal(18, 0), dec("100000000000000000"), ""},
		{types.DoubleValue(1e18), types.TDecimal(18, 0), types.NullValue, "out of range"},
		{dec("0.5"), types.TDecimal(0, 0), dec("1"), ""},
		{dec("-0.05"), types.TVarchar, types.StringValue("-0.05"), ""},
		{dec("0.00"), types.TBool, types.BoolValue(false), ""},
		// strings to numbers
		{types.StringValue(" 42 "), types.TBigInt, types.BigIntValue(42), ""},
		{types.StringValue("+42"), types.TInt, types.IntValue(42), ""},
		{types.StringValue("-9223372036854775808"), types.TBigInt, types.BigIntValue(math.MinInt64), ""},
		{types.StringValue("9223372036854775808"), types.TBigInt, types.NullValue, "out of range"},
		{types.StringValue("99999999999999999999"), types.TBigInt, types.NullValue, "out of range"},
		{types.StringValue("1.5"), types.TBigInt, types.BigIntValue(2), ""},
		{types.StringValue("1e3"), types.TBigInt, types.BigIntValue(1000), ""},
		{types.StringValue("abc"), types.TBigInt, types.NullValue, "cannot cast 'abc' to BIGINT"},
		{types.StringValue(""), types.TInt, types.NullValue, "cannot cast '' to INT"},
		{types.StringValue("1 2"), types.TInt, types.NullValue, "cannot cast"},
		{types.StringValue("3000000000"), types.TInt, types.NullValue, "out of range"},
		{types.StringValue(" 2.5e-1 "), types.TDouble, types.DoubleValue(0.25), ""},
		{types.StringValue("Infinity"), types.TDouble, types.DoubleValue(math.Inf(1)), ""},
		{types.StringValue("nan"), types.TDouble, types.NullValue, "cannot cast 'nan' to DOUBLE"},
		{types.StringValue("1e999"), types.TDouble, types.NullValue, "out of range"},
		{types.StringValue("12.345"), d52, dec("12.35"), ""},
		{types.StringValue("-12.345"), d52, dec("-12.35"), ""},
		{types.StringValue("1.2e2"), d52, dec("120.00"), ""},
		{types.StringValue("0.0001"), d52, dec("0.00"), ""},
		{types.StringValue("1234"), d52, types.NullValue, "out of range"},
		{types.StringValue("x1"), d52, types.NullValue, "cannot cast 'x1' to DECIMAL(5,2)"},
		// booleans
		{types.StringValue("true"), types.TBool, types.BoolValue(true), ""},
		{types.StringValue(" FALSE "), types.TBool, types.BoolValue(false), ""},
		{types.StringValue("1"), types.TBool, types.BoolValue(true), ""},
		{types.StringValue("0"), types.TBool, types.BoolValue(false), ""},
		{types.StringValue("yes"), types.TBool, types.NullValue, "cannot cast 'yes' to BOOLEAN"},
		{types.BoolValue(true), types.TInt, types.IntValue(1), ""},
		{types.BoolValue(true), types.TDouble, types.DoubleValue(1), ""},
		{types.BoolValue(true), d52, dec("1.00"), ""},
		{types.BoolValue(false), types.TVarchar, types.StringValue("false"), ""},
		// timestamps
		{types.StringValue("2024-02-29 12:34:56.789"), types.TTimestamp, tsv("2024-02-29 12:34:56.789"), ""},
		{types.StringValue(" 2024-02-29 "), types.TTimestamp, tsv("2024-02-29 00:00:00"), ""},
		{types.StringValue("2023-02-29"), types.TTimestamp, types.NullValue, "cannot cast '2023-02-29' to TIMESTAMP(3)"},
		{tsv("2024-01-02 03:04:05.006"), types.TVarchar, types.StringValue("2024-01-02 03:04:05.006"), ""},
		{tsv("2024-01-02 03:04:05"), types.TTimestamp, tsv("2024-01-02 03:04:05"), ""},
		{tsv("2024-01-02 03:04:05"), types.TBigInt, types.NullValue, "cannot cast TIMESTAMP '2024-01-02 03:04:05.000' to BIGINT"},
		{types.BigIntValue(1), types.TTimestamp, types.NullValue, "cannot cast 1 to TIMESTAMP(3)"},
		// VARCHAR(n) is advisory: no truncation
		{types.StringValue("abcdef"), types.Type{Kind: types.Varchar, Length: 3}, types.StringValue("abcdef"), ""},
	}
	for _, c := range cases {
		got, err := CastValue(c.v, c.to)
		if c.err != "" {
			if err == nil || !contains(err.Error(), c.err) {
				t.Errorf("CAST(%s AS %s) = %v, %v; want error %q", LiteralString(c.v), c.to, got, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("CAST(%s AS %s): %v", LiteralString(c.v), c.to, err)
			continue
		}
		if got.Kind != c.want.Kind || got.String() != c.want.String() {
			t.Errorf("CAST(%s AS %s) = %s %s, want %s %s", LiteralString(c.v), c.to, got.Kind, got, c.want.Kind, c.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestCastErrorExactText(t *testing.T) {
	_, err := CastValue(types.StringValue("abc"), types.TBigInt)
	if err == nil || err.Error() != "cannot cast 'abc' to BIGINT" {
		t.Fatalf("got %v", err)
	}
}

func TestCanCast(t *testing.T) {
	all := []types.Type{types.TNull, types.TBool, types.TInt, types.TBigInt, types.TDouble, types.TDecimal(10, 2), types.TVarchar, types.TTimestamp}
	no := map[[2]types.Kind]bool{
		{types.Timestamp, types.Bool}: true, {types.Timestamp, types.Int}: true, {types.Timestamp, types.BigInt}: true,
		{types.Timestamp, types.Double}: true, {types.Timestamp, types.Decimal}: true,
		{types.Bool, types.Timestamp}: true, {types.Int, types.Timestamp}: true, {types.BigInt, types.Timestamp}: true,
		{types.Double, types.Timestamp}: true, {types.Decimal, types.Timestamp}: true,
	}
	for _, f := range all {
		for _, to := range all {
			want := !no[[2]types.Kind{f.Kind, to.Kind}]
			if to.Kind == types.Null && f.Kind != types.Null {
				want = false
			}
			if got := CanCast(f, to); got != want {
				t.Errorf("CanCast(%s, %s) = %v, want %v", f, to, got, want)
			}
		}
	}
}

func TestCommonType(t *testing.T) {
	v10 := types.Type{Kind: types.Varchar, Length: 10}
	v20 := types.Type{Kind: types.Varchar, Length: 20}
	cases := []struct {
		a, b types.Type
		want types.Type
		ok   bool
	}{
		{types.TInt, types.TInt, types.TInt, true},
		{types.TInt, types.TBigInt, types.TBigInt, true},
		{types.TBigInt, types.TInt, types.TBigInt, true},
		{types.TInt, types.TDecimal(5, 2), types.TDecimal(12, 2), true},
		{types.TDecimal(5, 2), types.TDecimal(10, 4), types.TDecimal(10, 4), true},
		{types.TDecimal(12, 2), types.TDecimal(6, 4), types.TDecimal(14, 4), true},
		{types.TBigInt, types.TDecimal(5, 2), types.TDecimal(18, 2), true},
		{types.TDecimal(5, 2), types.TDouble, types.TDouble, true},
		{types.TInt, types.TDouble, types.TDouble, true},
		{types.TNull, types.TVarchar, types.TVarchar, true},
		{types.TTimestamp, types.TNull, types.TTimestamp, true},
		{types.TNull, types.TNull, types.TNull, true},
		{types.TVarchar, types.TVarchar, types.TVarchar, true},
		{v10, v20, v20, true},
		{v10, types.TVarchar, types.TVarchar, true},
		{types.TTimestamp, types.TTimestamp, types.TTimestamp, true},
		{types.TVarchar, types.TTimestamp, types.TTimestamp, true},
		{types.TTimestamp, types.TVarchar, types.TTimestamp, true},
		{types.TBool, types.TBool, types.TBool, true},
		{types.TBool, types.TInt, types.TInt, true},
		{types.TInt, types.TVarchar, types.Type{}, false},
		{types.TTimestamp, types.TBigInt, types.Type{}, false},
		{types.TBool, types.TVarchar, types.Type{}, false},
	}
	for _, c := range cases {
		got, ok := CommonType(c.a, c.b)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("CommonType(%s, %s) = %s, %v; want %s, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestNumTextRounding(t *testing.T) {
	cases := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"0.5", 0, 1, true},
		{"-0.5", 0, -1, true},
		{"0.49", 0, 0, true},
		{"9.995", 2, 1000, true},
		{"000123.4500", 2, 12345, true},
		{"1e-30", 2, 0, true},
		{"9223372036854775807", 0, math.MaxInt64, true},
		{"9223372036854775807.5", 0, 0, false},
		{"-9223372036854775808", 0, math.MinInt64, true},
		{"1e19", 0, 0, false},
	}
	for _, c := range cases {
		n, ok := parseNumText(c.in)
		if !ok {
			t.Fatalf("parse %q", c.in)
		}
		got, ok := n.scaled(c.scale)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%q scaled(%d) = %d, %v; want %d, %v", c.in, c.scale, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e", "e5", "1.2.3", "0x10", " 1"} {
		if _, ok := parseNumText(bad); ok {
			t.Errorf("parseNumText(%q) accepted", bad)
		}
	}
}
