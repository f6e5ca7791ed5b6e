package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weirsql/weir/sql/types"
)

// CastValue converts v to type to with SQL CAST semantics. NULL casts to
// NULL. A value that does not convert (an unparsable string, a number out of
// the target's range) is an error, which callers treat as a per-row data
// error. See the package doc for the conversion rules.
func CastValue(v types.Value, to types.Type) (types.Value, error) {
	if v.Kind == types.Null {
		return types.NullValue, nil
	}
	switch to.Kind {
	case types.Bool:
		return castToBool(v, to)
	case types.Int, types.BigInt:
		return castToInt(v, to)
	case types.Double:
		return castToDouble(v, to)
	case types.Decimal:
		return castToDecimal(v, to)
	case types.Varchar:
		if v.Kind == types.Varchar {
			return v, nil
		}
		if v.Kind == types.Bool || v.Kind == types.Timestamp || isNumKind(v.Kind) {
			return types.StringValue(v.String()), nil
		}
	case types.Timestamp:
		switch v.Kind {
		case types.Timestamp:
			return v, nil
		case types.Varchar:
			if ms, ok := types.ParseTimestamp(strings.TrimSpace(v.S)); ok {
				return types.TimestampValue(ms), nil
			}
		}
	}
	return types.NullValue, castError(v, to, "")
}

func isNumKind(k types.Kind) bool {
	return k == types.Int || k == types.BigInt || k == types.Double || k == types.Decimal
}

func castError(v types.Value, to types.Type, why string) error {
	if why != "" {
		return fmt.Errorf("cannot cast %s to %s: %s", LiteralString(v), to, why)
	}
	return fmt.Errorf("cannot cast %s to %s", LiteralString(v), to)
}

func castToBool(v types.Value, to types.Type) (types.Value, error) {
	switch v.Kind {
	case types.Bool:
		return v, nil
	case types.Int, types.BigInt, types.Decimal:
		return types.BoolValue(v.I != 0), nil
	case types.Double:
		return types.BoolValue(v.F() != 0), nil
	case types.Varchar:
		s := strings.TrimSpace(v.S)
		switch {
		case strings.EqualFold(s, "true"), s == "1":
			return types.BoolValue(true), nil
		case strings.EqualFold(s, "false"), s == "0":
			return types.BoolValue(false), nil
		}
	}
	return types.NullValue, castError(v, to, "")
}

func intFits(i int64, k types.Kind) bool {
	return k != types.Int || (i >= math.MinInt32 && i <= math.MaxInt32)
}

func castToInt(v types.Value, to types.Type) (types.Value, error) {
	var i int64
	switch v.Kind {
	case types.Int, types.BigInt, types.Bool:
		i = v.I
	case types.Decimal:
		i = v.I
		if v.Scale > 0 {
			if v.Scale > 18 {
				i = 0
			} else {
				i = types.DivRound(v.I, types.IPow10[v.Scale])
			}
		}
	case types.Double:
		f, ok := floatToInt(v.F())
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		i = f
	case types.Varchar:
		s := strings.TrimSpace(v.S)
		if x, err := strconv.ParseInt(s, 10, 64); err == nil {
			i = x
			break
		}
		n, ok := parseNumText(s)
		if !ok {
			return types.NullValue, castError(v, to, "")
		}
		x, ok := n.scaled(0)
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		i = x
	default:
		return types.NullValue, castError(v, to, "")
	}
	if !intFits(i, to.Kind) {
		return types.NullValue, castError(v, to, "out of range")
	}
	return types.Value{Kind: to.Kind, I: i}, nil
}

// floatToInt rounds half away from zero; false when out of the int64 range.
func floatToInt(f float64) (int64, bool) {
	f = math.Round(f)
	if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return 0, false
	}
	return int64(f), true
}

func castToDouble(v types.Value, to types.Type) (types.Value, error) {
	switch v.Kind {
	case types.Double:
		return v, nil
	case types.Int, types.BigInt, types.Bool:
		return types.DoubleValue(float64(v.I)), nil
	case types.Decimal:
		return types.DoubleValue(decimalToFloat(v.I, v.Scale)), nil
	case types.Varchar:
		s := strings.TrimSpace(v.S)
		switch s {
		case "Infinity", "+Infinity":
			return types.DoubleValue(math.Inf(1)), nil
		case "-Infinity":
			return types.DoubleValue(math.Inf(-1)), nil
		}
		if _, ok := parseNumText(s); !ok {
			return types.NullValue, castError(v, to, "")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return types.NullValue, castError(v, to, "out of range")
		}
		return types.DoubleValue(f), nil
	}
	return types.NullValue, castError(v, to, "")
}

// decimalToFloat converts an unscaled decimal exactly rounded.
func decimalToFloat(u int64, scale uint8) float64 {
	if scale == 0 {
		return float64(u)
	}
	if scale <= 18 && u < 1<<53 && u > -(1<<53) {
		return float64(u) / types.Pow10[scale] // both exact: one correctly rounded division
	}
	f, _ := strconv.ParseFloat(types.FormatDecimal(u, scale), 64)
	return f
}

// decPrecision is the effective precision of a DECIMAL type (0 or more
// than 18 mean 18).
func decPrecision(t types.Type) uint8 {
	if t.Precision == 0 || t.Precision > 18 {
		return 18
	}
	return t.Precision
}

// decFits reports whether an unscaled value has at most p digits.
func decFits(u int64, p uint8) bool {
	if p >= 19 {
		return true
	}
	lim := types.IPow10[p]
	return u < lim && u > -lim
}

func castToDecimal(v types.Value, to types.Type) (types.Value, error) {
	p, s := decPrecision(to), to.Scale
	if s > 18 {
		return types.NullValue, castError(v, to, "scale exceeds 18")
	}
	var u int64
	switch v.Kind {
	case types.Int, types.BigInt, types.Bool:
		x, ok := fnMulOK(v.I, types.IPow10[s])
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		u = x
	case types.Decimal:
		x, ok := rescaleDecimal(v.I, v.Scale, s)
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		u = x
	case types.Double:
		f := v.F()
		if math.IsInf(f, 0) || f != f {
			return types.NullValue, castError(v, to, "out of range")
		}
		// Go through the shortest decimal spelling so that 1.005 rounds to
		// 1.01 as the literal suggests (binary 1.00499999...).
		n, _ := parseNumText(strconv.FormatFloat(f, 'e', -1, 64))
		x, ok := n.scaled(int(s))
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		u = x
	case types.Varchar:
		n, ok := parseNumText(strings.TrimSpace(v.S))
		if !ok {
			return types.NullValue, castError(v, to, "")
		}
		x, ok := n.scaled(int(s))
		if !ok {
			return types.NullValue, castError(v, to, "out of range")
		}
		u = x
	default:
		return types.NullValue, castError(v, to, "")
	}
	if !decFits(u, p) {
		return types.NullValue, castError(v, to, "out of range")
	}
	return types.DecimalValue(u, s), nil
}

// rescaleDecimal changes the scale of an unscaled value, rounding half away
// from zero when digits are dropped; false on overflow.
func rescaleDecimal(u int64, from, to uint8) (int64, bool) {
	switch {
	case from == to:
		return u, true
	case from < to:
		if to-from > 18 {
			return 0, u == 0
		}
		return fnMulOK(u, types.IPow10[to-from])
	default:
		if from-to > 18 {
			return 0, true // |u| < 10^19 ≤ half of 10^(from-to)
		}
		return types.DivRound(u, types.IPow10[from-to]), true
	}
}

// numText is a parsed decimal number: (-1)^neg × digits × 10^exp, with
// digits free of leading zeros ("" for zero).
type numText struct {
	neg    bool
	digits string
	exp    int
}

// parseNumText parses [+-]digits[.digits][(e|E)[+-]digits] (at least one
// mantissa digit).
func parseNumText(s string) (numText, bool) {
	var n numText
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		n.neg = s[i] == '-'
		i++
	}
	var b []byte
	mant := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		b = append(b, s[i])
		i++
		mant++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
			n.exp--
			i++
			mant++
		}
	}
	if mant == 0 {
		return n, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e < 1e6 {
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return n, false
		}
		if eneg {
			e = -e
		}
		n.exp += e
	}
	if i != len(s) {
		return n, false
	}
	k := 0
	for k < len(b) && b[k] == '0' {
		k++
	}
	n.digits = string(b[k:])
	if n.digits == "" {
		n.exp = 0
	}
	return n, true
}

// scaled returns round(value × 10^scale) half away from zero; false when it
// does not fit in an int64.
func (n numText) scaled(scale int) (int64, bool) {
	if n.digits == "" {
		return 0, true
	}
	shift := n.exp + scale // value×10^scale = digits × 10^shift
	d := n.digits
	roundUp := false
	if shift < 0 {
		drop := -shift
		if drop > len(d) {
			return 0, true
		}
		roundUp = d[len(d)-drop] >= '5'
		d = d[:len(d)-drop]
		shift = 0
	}
	if len(d)+shift > 19 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(d); i++ {
		u = u*10 + uint64(d[i]-'0')
	}
	for ; shift > 0; shift-- {
		u *= 10
	}
	if roundUp {
		u++
	}
	if n.neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// roundAt rounds the number to d digits after the decimal point (d may be
// negative), half away from zero.
func (n numText) roundAt(d int) numText {
	if n.digits == "" || n.exp >= -d {
		return n
	}
	drop := -d - n.exp // digits to remove from the right
	if drop > len(n.digits) {
		return numText{}
	}
	keep := n.digits[:len(n.digits)-drop]
	up := n.digits[len(n.digits)-drop] >= '5'
	exp := n.exp + drop
	if up {
		b := []byte(keep)
		i := len(b) - 1
		for ; i >= 0; i-- {
			if b[i] == '9' {
				b[i] = '0'
				continue
			}
			b[i]++
			break
		}
		if i < 0 {
			b = append([]byte{'1'}, b...)
		}
		keep = string(b)
	}
	keep = strings.TrimLeft(keep, "0")
	if keep == "" {
		return numText{}
	}
	return numText{neg: n.neg, digits: keep, exp: exp}
}

func (n numText) float() float64 {
	if n.digits == "" {
		if n.neg {
			return math.Copysign(0, -1)
		}
		return 0
	}
	s := n.digits + "e" + strconv.Itoa(n.exp)
	if n.neg {
		s = "-" + s
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// CanCast reports whether CAST from one type to another is defined (it may
// still fail on particular values).
func CanCast(from, to types.Type) bool {
	f, t := from.Kind, to.Kind
	switch {
	case f == types.Null || f == t:
		return true
	case t == types.Null:
		return false
	case isNumKind(f) || f == types.Bool:
		return isNumKind(t) || t == types.Bool || t == types.Varchar
	case f == types.Varchar:
		return true
	case f == types.Timestamp:
		return t == types.Varchar
	}
	return false
}

// CommonType unifies two types for CASE, COALESCE, IN, GREATEST and
// comparisons. See the package doc for the rules.
func CommonType(a, b types.Type) (types.Type, bool) {
	switch {
	case a.Kind == types.Null:
		return b, true
	case b.Kind == types.Null:
		return a, true
	}
	if a.Kind == b.Kind {
		switch a.Kind {
		case types.Varchar:
			if a.Length == 0 || b.Length == 0 {
				return types.TVarchar, true
			}
			if b.Length > a.Length {
				return b, true
			}
			return a, true
		case types.Decimal:
			return decimalUnion(a, b), true
		}
		return a, true
	}
	numOrBool := func(t types.Type) bool { return t.IsNumeric() || t.Kind == types.Bool }
	switch {
	case numOrBool(a) && numOrBool(b):
		switch {
		case a.Kind == types.Double || b.Kind == types.Double:
			return types.TDouble, true
		case a.Kind == types.Decimal || b.Kind == types.Decimal:
			return decimalUnion(a, b), true
		case a.Kind == types.BigInt || b.Kind == types.BigInt:
			return types.TBigInt, true
		}
		return types.TInt, true // INT with BOOLEAN
	case a.Kind == types.Varchar && b.Kind == types.Timestamp, a.Kind == types.Timestamp && b.Kind == types.Varchar:
		return types.TTimestamp, true
	}
	return types.Type{}, false
}

// intDigits is the number of integer digits a type needs as a DECIMAL.
func intDigits(t types.Type) int {
	switch t.Kind {
	case types.Bool:
		return 1
	case types.Int:
		return 10
	case types.BigInt:
		return 19
	case types.Decimal:
		return int(decPrecision(t)) - int(t.Scale)
	}
	return 0
}

// decimalUnion is a DECIMAL holding both types, capped at 18 digits.
func decimalUnion(a, b types.Type) types.Type {
	ia, ib := intDigits(a), intDigits(b)
	s := int(decScaleOfType(a))
	if bs := int(decScaleOfType(b)); bs > s {
		s = bs
	}
	if ib > ia {
		ia = ib
	}
	return decimalType(ia, s)
}

func decScaleOfType(t types.Type) uint8 {
	if t.Kind == types.Decimal {
		return t.Scale
	}
	return 0
}

// decimalType is DECIMAL(intDigits+scale, scale) capped at precision 18.
func decimalType(intDigits, scale int) types.Type {
	if scale > 18 {
		scale = 18
	}
	p := intDigits + scale
	if p > 18 {
		p = 18
	}
	if p < 1 {
		p = 1
	}
	if p < scale {
		p = scale
	}
	return types.TDecimal(uint8(p), uint8(scale))
}

// castTo converts a non-NULL value to a resolved common type, skipping the
// work when the value already has it.
func castTo(v types.Value, t types.Type) (types.Value, error) {
	if v.Kind == t.Kind && (t.Kind != types.Decimal || v.Scale == t.Scale) {
		return v, nil
	}
	if v.Kind == types.Null || t.Kind == types.Null {
		return v, nil
	}
	return CastValue(v, t)
}
