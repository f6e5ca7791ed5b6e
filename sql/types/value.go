package types

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Value is one SQL value. The zero Value is NULL. See the package doc for
// the layout.
type Value struct {
	S     string
	I     int64
	Kind  Kind
	Scale uint8 // Decimal only
}

// NullValue is SQL NULL.
var NullValue = Value{}

// Constructors.
func IntValue(i int64) Value    { return Value{Kind: Int, I: i} }
func BigIntValue(i int64) Value { return Value{Kind: BigInt, I: i} }
func DoubleValue(f float64) Value {
	return Value{Kind: Double, I: int64(math.Float64bits(f))}
}
func StringValue(s string) Value { return Value{Kind: Varchar, S: s} }
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, I: 1}
	}
	return Value{Kind: Bool}
}

// TimestampValue is a timestamp in milliseconds since the epoch, UTC.
func TimestampValue(ms int64) Value { return Value{Kind: Timestamp, I: ms} }

// DecimalValue is unscaled × 10^-scale.
func DecimalValue(unscaled int64, scale uint8) Value {
	return Value{Kind: Decimal, I: unscaled, Scale: scale}
}

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.Kind == Null }

// F returns a Double's float64.
func (v Value) F() float64 { return math.Float64frombits(uint64(v.I)) }

// B returns a Bool's value.
func (v Value) B() bool { return v.I != 0 }

// AsFloat converts any numeric value to float64.
func (v Value) AsFloat() float64 {
	switch v.Kind {
	case Double:
		return v.F()
	case Decimal:
		return float64(v.I) / Pow10[v.Scale]
	default:
		return float64(v.I)
	}
}

// Pow10 holds 10^i as float64 for i in [0, 18].
var Pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// IPow10 holds 10^i as int64 for i in [0, 18].
var IPow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// TimestampLayout is how timestamps print and the first layout they parse from.
const TimestampLayout = "2006-01-02 15:04:05.000"

// FormatTimestamp prints ms-since-epoch as "YYYY-MM-DD hh:mm:ss.fff" (UTC).
func FormatTimestamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(TimestampLayout)
}

// FormatDecimal prints an unscaled decimal with scale fraction digits.
func FormatDecimal(unscaled int64, scale uint8) string {
	if scale == 0 {
		return strconv.FormatInt(unscaled, 10)
	}
	neg := unscaled < 0
	u := uint64(unscaled)
	if neg {
		u = uint64(-unscaled)
	}
	s := strconv.FormatUint(u, 10)
	for len(s) <= int(scale) {
		s = "0" + s
	}
	s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	if neg {
		s = "-" + s
	}
	return s
}

// String renders v as SQL clients show it; NULL prints as "NULL".
func (v Value) String() string {
	switch v.Kind {
	case Null:
		return "NULL"
	case Bool:
		if v.I != 0 {
			return "true"
		}
		return "false"
	case Int, BigInt:
		return strconv.FormatInt(v.I, 10)
	case Double:
		return FormatDouble(v.F())
	case Decimal:
		return FormatDecimal(v.I, v.Scale)
	case Varchar:
		return v.S
	case Timestamp:
		return FormatTimestamp(v.I)
	}
	return "?"
}

// FormatDouble prints a float the shortest way that round-trips.
func FormatDouble(f float64) string {
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// ParseTimestamp parses the common timestamp spellings: "2006-01-02 15:04:05[.fff]",
// RFC 3339 ("2006-01-02T15:04:05[.fff]Z" or with an offset), and a date alone.
// It returns milliseconds since the epoch, UTC. The fast path handles the
// fixed-width forms without time.Parse.
func ParseTimestamp(s string) (int64, bool) {
	if ms, ok := parseTimestampFast(s); ok {
		return ms, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func digits(s string, n int) (int, bool) {
	v := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseTimestampFast handles YYYY-MM-DD[ T]hh:mm:ss[.f{1,9}][Z] in UTC.
func parseTimestampFast(s string) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	y, ok1 := digits(s[0:], 4)
	mo, ok2 := digits(s[5:], 2)
	d, ok3 := digits(s[8:], 2)
	h, ok4 := digits(s[11:], 2)
	mi, ok5 := digits(s[14:], 2)
	se, ok6 := digits(s[17:], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 {
		return 0, false
	}
	rest := s[19:]
	ms := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			ms += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	if rest != "" && rest != "Z" {
		return 0, false
	}
	days := DaysFromCivil(y, mo, d)
	if d > DaysIn(y, mo) {
		return 0, false
	}
	return ((days*24+int64(h))*60+int64(mi))*60000 + int64(se)*1000 + int64(ms), true
}

// DaysIn is the number of days of month m (1–12) of year y.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// DaysFromCivil returns days since 1970-01-01 for a proleptic Gregorian date.
func DaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// Compare orders two non-NULL values of comparable kinds: -1, 0 or 1.
// Numeric kinds compare by value across kinds; strings byte-wise; NULL sorts first.
func Compare(a, b Value) int {
	if a.Kind == Null || b.Kind == Null {
		switch {
		case a.Kind == b.Kind:
			return 0
		case a.Kind == Null:
			return -1
		default:
			return 1
		}
	}
	if a.Kind == b.Kind {
		switch a.Kind {
		case Varchar:
			return strings.Compare(a.S, b.S)
		case Double:
			return cmpFloat(a.F(), b.F())
		case Decimal:
			if a.Scale == b.Scale {
				return cmpInt(a.I, b.I)
			}
		default:
			return cmpInt(a.I, b.I)
		}
	}
	if isIntLike(a.Kind) && isIntLike(b.Kind) {
		return cmpInt(a.I, b.I)
	}
	if a.Kind == Decimal || b.Kind == Decimal {
		if a.Kind != Double && b.Kind != Double {
			// exact: bring both to the larger scale
			ai, as := decParts(a)
			bi, bs := decParts(b)
			if as < bs {
				ai *= IPow10[bs-as]
			} else if bs < as {
				bi *= IPow10[as-bs]
			}
			return cmpInt(ai, bi)
		}
	}
	if a.Kind == Varchar || b.Kind == Varchar {
		return strings.Compare(a.String(), b.String())
	}
	return cmpFloat(a.AsFloat(), b.AsFloat())
}

func isIntLike(k Kind) bool { return k == Int || k == BigInt || k == Bool || k == Timestamp }

func decParts(v Value) (int64, uint8) {
	if v.Kind == Decimal {
		return v.I, v.Scale
	}
	return v.I, 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Equal reports whether a and b are equal as grouping keys: NULL equals NULL
// (as GROUP BY treats it), numbers equal across kinds by value.
func Equal(a, b Value) bool {
	if a.Kind == b.Kind && a.Kind != Decimal && a.Kind != Double {
		return a.I == b.I && a.S == b.S
	}
	return Compare(a, b) == 0
}

// DivRound divides x by d > 0, rounding half away from zero (the rounding
// of DECIMAL arithmetic, ROUND and CAST).
func DivRound(x, d int64) int64 {
	q, r := x/d, x%d
	if r < 0 {
		r = -r
	}
	if r >= d-r { // 2r >= d without overflow
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}
