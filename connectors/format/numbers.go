package format

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/weirsql/weir/sql/types"
)

// numStatus is the outcome of parsing numeric text.
type numStatus uint8

const (
	numOK       numStatus = iota
	numSyntax             // not a number
	numOverflow           // does not fit
	numInexact            // has a non-zero fraction where an integer was required
)

// bstr views b as a string without copying. Only for calls that do not
// retain their argument (strconv clones it into its errors; ParseTimestamp
// keeps nothing) and while b is not modified.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func isDigit(c byte) bool { return c-'0' < 10 }

// scanJSONNumber checks the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at b[i] and returns
// the index after it, or -1.
func scanJSONNumber(b []byte, i int) int {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	if i >= n {
		return -1
	}
	switch {
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < n && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i < n && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// parseDecimalText parses [+-]digits[.digits][(e|E)[+-]digits] (leading
// zeros allowed, at least one mantissa digit) into value × 10^scale,
// rounding half away from zero when there are more fraction digits than
// scale. With exact, a dropped non-zero digit is numInexact instead.
func parseDecimalText(b []byte, scale int, exact bool) (int64, numStatus) {
	n := len(b)
	i := 0
	neg := false
	if i < n && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < n && isDigit(b[i]) {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < n && b[i] == '.' {
		i++
		fracStart = i
		for i < n && isDigit(b[i]) {
			i++
		}
		fracEnd = i
	}
	intLen, fracLen := intEnd-intStart, fracEnd-fracStart
	if intLen+fracLen == 0 {
		return 0, numSyntax
	}
	exp := 0
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return 0, numSyntax
		}
		for i < n && isDigit(b[i]) {
			if exp < 1_000_000 {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return 0, numSyntax
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	nDigits := intLen + fracLen
	// value × 10^scale = D × 10^shift, D being all mantissa digits as an integer.
	shift := exp - fracLen + scale
	keep := nDigits + shift // leading digits of D that survive
	var acc uint64
	roundUp, inexact := false, false
	for k := 0; k < nDigits; k++ {
		var d byte
		if k < intLen {
			d = b[intStart+k] - '0'
		} else {
			d = b[fracStart+k-intLen] - '0'
		}
		switch {
		case k < keep:
			if acc > (limit-uint64(d))/10 {
				return 0, numOverflow
			}
			acc = acc*10 + uint64(d)
		case k == keep:
			roundUp = d >= 5
			inexact = inexact || d != 0
		default:
			inexact = inexact || d != 0
		}
	}
	if acc != 0 {
		for m := keep - nDigits; m > 0; m-- {
			if acc > limit/10 {
				return 0, numOverflow
			}
			acc *= 10
		}
	}
	if inexact && exact {
		return 0, numInexact
	}
	if roundUp {
		if acc >= limit {
			return 0, numOverflow
		}
		acc++
	}
	if neg {
		return int64(-acc), numOK // -(1<<63) wraps to MinInt64 as intended
	}
	return int64(acc), numOK
}

var floatPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatText parses a float. The common short forms (at most 15 digits,
// no exponent) are computed exactly without strconv: both the mantissa and
// the power of ten are exact float64 values, so one division rounds correctly.
func parseFloatText(b []byte) (float64, numStatus) {
	n := len(b)
	i := 0
	neg := false
	if i < n && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	start := i
	for i < n && isDigit(b[i]) {
		mant = mant*10 + uint64(b[i]-'0')
		i++
	}
	digits = i - start
	if i < n && b[i] == '.' {
		i++
		fs := i
		for i < n && isDigit(b[i]) {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		frac = i - fs
		digits += frac
	}
	if i == n && digits > 0 && digits <= 15 {
		f := float64(mant)
		if frac > 0 {
			f /= floatPow10[frac]
		}
		if neg {
			f = -f
		}
		return f, numOK
	}
	f, err := strconv.ParseFloat(bstr(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, numOverflow
		}
		return 0, numSyntax
	}
	return f, numOK
}

// decimalBound returns 10^p for DECIMAL(p,s) (p 0 or > 18 is treated as 18).
func decimalBound(t types.Type) int64 {
	p := int(t.Precision)
	if p <= 0 || p > 18 {
		p = 18
	}
	return types.IPow10[p]
}

// convertNumber converts numeric text (a JSON number token, or the text of
// a string or CSV field) to a value of type t (INT, BIGINT, TIMESTAMP as
// epoch milliseconds, DOUBLE, DECIMAL). On failure the status says why:
// numOverflow is "out of range for t", anything else "cannot decode".
func convertNumber(text []byte, t types.Type) (types.Value, numStatus) {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp:
		v, st := parseIntFast(text)
		if st == numSyntax {
			v, st = parseDecimalText(text, 0, true)
		}
		if st != numOK {
			return types.Value{}, st
		}
		if t.Kind == types.Int && (v < math.MinInt32 || v > math.MaxInt32) {
			return types.Value{}, numOverflow
		}
		return types.Value{Kind: t.Kind, I: v}, numOK
	case types.Double:
		f, st := parseFloatText(text)
		if st != numOK {
			return types.Value{}, st
		}
		return types.DoubleValue(f), numOK
	case types.Decimal:
		v, st := parseDecimalText(text, int(t.Scale), false)
		if st != numOK {
			return types.Value{}, st
		}
		if bound := decimalBound(t); v >= bound || v <= -bound {
			return types.Value{}, numOverflow
		}
		return types.DecimalValue(v, t.Scale), numOK
	}
	return types.Value{}, numSyntax
}

// numError is the FieldError for a failed convertNumber; shown is the
// input as it should appear in the message.
func numError(col string, st numStatus, shown string, t types.Type) error {
	if st == numOverflow {
		return &FieldError{Column: col, Msg: shown + " is out of range for " + t.String()}
	}
	return &FieldError{Column: col, Msg: "cannot decode " + shown + " as " + t.String()}
}

// parseIntFast handles -?[0-9]{1,19}; anything else is numSyntax so that
// the caller can try the general decimal parser.
func parseIntFast(b []byte) (int64, numStatus) {
	i, n := 0, len(b)
	neg := false
	if n > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	if i >= n || n-i > 19 {
		return 0, numSyntax
	}
	var acc uint64
	for ; i < n; i++ {
		d := b[i] - '0'
		if d > 9 {
			return 0, numSyntax
		}
		acc = acc*10 + uint64(d)
	}
	if neg {
		if acc > 1<<63 {
			return 0, numOverflow
		}
		return int64(-acc), numOK
	}
	if acc > math.MaxInt64 {
		return 0, numOverflow
	}
	return int64(acc), numOK
}
