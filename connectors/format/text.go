package format

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/weirsql/weir/sql/types"
)

// appendTimestamp appends ms since the epoch as "YYYY-MM-DD hh:mm:ss.fff"
// (types.TimestampLayout) without allocating.
func appendTimestamp(dst []byte, ms int64) []byte {
	days := ms / 86_400_000
	rem := ms % 86_400_000
	if rem < 0 {
		rem += 86_400_000
		days--
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return time.UnixMilli(ms).UTC().AppendFormat(dst, types.TimestampLayout)
	}
	h := rem / 3_600_000
	mi := rem / 60_000 % 60
	s := rem / 1000 % 60
	f := rem % 1000
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), ' ',
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	return dst
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian
// date (the inverse of the usual days-from-civil algorithm).
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

// appendDecimal appends unscaled × 10^-scale exactly, like
// types.FormatDecimal, without allocating.
func appendDecimal(dst []byte, unscaled int64, scale uint8) []byte {
	u := uint64(unscaled)
	if unscaled < 0 {
		dst = append(dst, '-')
		u = -u
	}
	var buf [24]byte
	i := len(buf)
	for k := 0; u > 0 || k <= int(scale); k++ {
		if k == int(scale) && scale > 0 {
			i--
			buf[i] = '.'
		}
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	return append(dst, buf[i:]...)
}

// appendDouble appends f like types.FormatDouble (shortest round-trip form,
// "Infinity", "-Infinity", "NaN").
func appendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendText appends v as plain text (print sink, CSV): like Value.String.
func appendText(dst []byte, v types.Value) []byte {
	switch v.Kind {
	case types.Null:
		return append(dst, "NULL"...)
	case types.Bool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case types.Int, types.BigInt:
		return strconv.AppendInt(dst, v.I, 10)
	case types.Double:
		return appendDouble(dst, v.F())
	case types.Decimal:
		return appendDecimal(dst, v.I, v.Scale)
	case types.Varchar:
		return append(dst, v.S...)
	case types.Timestamp:
		return appendTimestamp(dst, v.I)
	}
	return append(dst, v.String()...)
}

// AppendText appends v the way SQL clients show it (NULL as "NULL",
// timestamps as types.TimestampLayout) without allocating; the print sink
// uses it.
func AppendText(dst []byte, v types.Value) []byte { return appendText(dst, v) }

const hexDigits = "0123456789abcdef"

// jsonPlain[c] is true for ASCII bytes that go into a JSON string as they are.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// appendJSONString appends s as a quoted JSON string, escaping quotes,
// backslashes, control characters, U+2028/U+2029, and replacing invalid
// UTF-8 with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONValue appends v as a JSON value.
func appendJSONValue(dst []byte, v types.Value) []byte {
	switch v.Kind {
	case types.Null:
		return append(dst, "null"...)
	case types.Bool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case types.Int, types.BigInt:
		return strconv.AppendInt(dst, v.I, 10)
	case types.Double:
		f := v.F()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			// not representable as a JSON number; the decoder reads these back
			dst = append(dst, '"')
			dst = appendDouble(dst, f)
			return append(dst, '"')
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case types.Decimal:
		return appendDecimal(dst, v.I, v.Scale)
	case types.Varchar:
		return appendJSONString(dst, v.S)
	case types.Timestamp:
		dst = append(dst, '"')
		dst = appendTimestamp(dst, v.I)
		return append(dst, '"')
	}
	return appendJSONString(dst, v.String())
}

// AppendJSONValue appends v as a JSON value, as the JSON encoder writes it
// (the CLI's JSON output uses it too, so both agree).
func AppendJSONValue(dst []byte, v types.Value) []byte { return appendJSONValue(dst, v) }

// AppendJSONString appends s as a quoted, escaped JSON string.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }
