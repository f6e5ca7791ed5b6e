package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// Now returns the wall clock in milliseconds since the epoch. NOW(),
// CURRENT_TIMESTAMP(), PROCTIME() and UNIX_TIMESTAMP() read it; tests may
// replace it.
var Now = func() int64 { return time.Now().UnixMilli() }

const msPerDay = 86400000

func init() {
	ts1 := []argClass{argTS}
	field := func(names []string, f func(c civil) int64) {
		fnSimple(names, "(TIMESTAMP)", types.TBigInt, 1, 1, ts1, func(name string) Impl {
			return func(a []types.Value) (types.Value, error) {
				ms, err := argTimestamp(name, a[0])
				if err != nil {
					return types.NullValue, err
				}
				return types.BigIntValue(f(toCivil(ms))), nil
			}
		})
	}
	field([]string{"YEAR"}, func(c civil) int64 { return int64(c.year) })
	field([]string{"QUARTER"}, func(c civil) int64 { return int64((c.month + 2) / 3) })
	field([]string{"MONTH"}, func(c civil) int64 { return int64(c.month) })
	field([]string{"DAY", "DAYOFMONTH"}, func(c civil) int64 { return int64(c.day) })
	field([]string{"DAYOFWEEK"}, func(c civil) int64 { return int64(c.sundayIndex() + 1) })
	field([]string{"DAYOFYEAR"}, func(c civil) int64 { return int64(c.dayOfYear()) })
	field([]string{"HOUR"}, func(c civil) int64 { return int64(c.hour) })
	field([]string{"MINUTE"}, func(c civil) int64 { return int64(c.minute) })
	field([]string{"SECOND"}, func(c civil) int64 { return int64(c.second) })
	fnSimple([]string{"WEEK"}, "(TIMESTAMP[, INT mode])", types.TBigInt, 1, 2, []argClass{argTS, argInt}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			ms, err := argTimestamp(name, a[0])
			if err != nil {
				return types.NullValue, err
			}
			mode := int64(0)
			if len(a) == 2 {
				mode = argInt64(a[1])
			}
			w, _ := toCivil(ms).week(weekMode(mode))
			return types.BigIntValue(int64(w)), nil
		}
	})
	nameFn := func(names []string, list []string, idx func(c civil) int) {
		fnSimple(names, "(TIMESTAMP)", types.TVarchar, 1, 1, ts1, func(name string) Impl {
			return func(a []types.Value) (types.Value, error) {
				ms, err := argTimestamp(name, a[0])
				if err != nil {
					return types.NullValue, err
				}
				return types.StringValue(list[idx(toCivil(ms))]), nil
			}
		})
	}
	nameFn([]string{"DAYNAME"}, weekdayNames[:], func(c civil) int { return c.sundayIndex() })
	nameFn([]string{"MONTHNAME"}, monthNames[:], func(c civil) int { return c.month - 1 })

	fnSimple([]string{"EXTRACT"}, "(VARCHAR unit, TIMESTAMP)", types.TBigInt, 2, 2, []argClass{argStr, argTS}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			ms, err := argTimestamp(name, a[1])
			if err != nil {
				return types.NullValue, err
			}
			return extractUnit(name, a[0].S, ms)
		}
	})
	fnSimple([]string{"DATE_FORMAT"}, "(TIMESTAMP, VARCHAR format)", types.TVarchar, 2, 2, []argClass{argTS, argStr}, func(name string) Impl {
		var memo siteMemo[[]tfTok]
		return func(a []types.Value) (types.Value, error) {
			ms, err := argTimestamp(name, a[0])
			if err != nil {
				return types.NullValue, err
			}
			toks, err := memo.get(a[1].S, &timeFormatCache, compileTimeFormat)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.StringValue(formatTime(toks, ms)), nil
		}
	})
	fnRegister([]string{"NOW", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "PROCTIME"}, false, true, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) != 0 {
			return types.Type{}, nil, fnSigError(name, "()", args)
		}
		return types.TTimestamp, func([]types.Value) (types.Value, error) {
			return types.TimestampValue(Now()), nil
		}, nil
	})
	// UNIX_TIMESTAMP is Volatile because of its zero-argument form (the
	// flag is per function, not per arity).
	fnRegister([]string{"UNIX_TIMESTAMP"}, false, true, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "([TIMESTAMP|VARCHAR[, VARCHAR format]])", args, 0, 2, argTS, argStr); err != nil {
			return types.Type{}, nil, err
		}
		if len(args) == 2 && args[0].Kind == types.Timestamp {
			return types.Type{}, nil, fnSigError(name, "([TIMESTAMP|VARCHAR[, VARCHAR format]])", args)
		}
		var memo siteMemo[[]tfTok]
		return types.TBigInt, func(a []types.Value) (types.Value, error) {
			var ms int64
			switch {
			case len(a) == 0:
				ms = Now()
			case a[0].Kind == types.Timestamp:
				ms = a[0].I
			default: // a string: parsed, NULL when it does not parse
				p, ok, err := parseTimeArg(&memo, a)
				if err != nil {
					return types.NullValue, fmt.Errorf("%s: %w", name, err)
				}
				if !ok {
					return types.NullValue, nil
				}
				ms = p
			}
			return types.BigIntValue(fnFloorDiv(ms, 1000)), nil
		}, nil
	})
	fnRegister([]string{"FROM_UNIXTIME"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(NUMERIC seconds[, VARCHAR format])", args, 1, 2, argNum, argStr); err != nil {
			return types.Type{}, nil, err
		}
		t := types.TTimestamp
		if len(args) == 2 {
			t = types.TVarchar
		}
		var memo siteMemo[[]tfTok]
		return t, func(a []types.Value) (types.Value, error) {
			ms, ok := secondsToMillis(a[0])
			if !ok {
				return types.NullValue, fmt.Errorf("%s: %s is out of range", name, a[0])
			}
			if len(a) == 1 {
				return types.TimestampValue(ms), nil
			}
			toks, err := memo.get(a[1].S, &timeFormatCache, compileTimeFormat)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.StringValue(formatTime(toks, ms)), nil
		}, nil
	})
	parser := func(names []string, sig string, min int, truncate bool) {
		fnRegister(names, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
			if err := fnCheckArgs(name, sig, args, min, 2, argStr); err != nil {
				return types.Type{}, nil, err
			}
			var memo siteMemo[[]tfTok]
			return types.TTimestamp, func(a []types.Value) (types.Value, error) {
				ms, ok, err := parseTimeArg(&memo, a)
				if err != nil {
					return types.NullValue, fmt.Errorf("%s: %w", name, err)
				}
				if !ok {
					return types.NullValue, nil
				}
				if truncate {
					ms -= floorMod(ms, msPerDay)
				}
				return types.TimestampValue(ms), nil
			}, nil
		})
	}
	parser([]string{"TO_TIMESTAMP"}, "(VARCHAR[, VARCHAR format])", 1, false)
	parser([]string{"STR_TO_DATE"}, "(VARCHAR, VARCHAR format)", 2, false)
	parser([]string{"TO_DATE"}, "(VARCHAR[, VARCHAR format])", 1, true)
	fnSimple([]string{"DATE"}, "(TIMESTAMP)", types.TTimestamp, 1, 1, ts1, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			ms, err := argTimestamp(name, a[0])
			if err != nil {
				return types.NullValue, err
			}
			return types.TimestampValue(ms - floorMod(ms, msPerDay)), nil
		}
	})
	// DATE_ADD/DATE_SUB/TIMESTAMPADD arrive as TIMESTAMP_ADD(ts, amount, unit).
	fnSimple([]string{"TIMESTAMP_ADD"}, "(TIMESTAMP, NUMERIC amount, VARCHAR unit)", types.TTimestamp, 3, 3, []argClass{argTS, argNum, argStr}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			ms, err := argTimestamp(name, a[0])
			if err != nil {
				return types.NullValue, err
			}
			r, err := timestampAdd(ms, a[1], a[2].S)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.TimestampValue(r), nil
		}
	})
	fnSimple([]string{"TIMESTAMPDIFF"}, "(VARCHAR unit, TIMESTAMP, TIMESTAMP)", types.TBigInt, 3, 3, []argClass{argStr, argTS, argTS}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			x, err := argTimestamp(name, a[1])
			if err != nil {
				return types.NullValue, err
			}
			y, err := argTimestamp(name, a[2])
			if err != nil {
				return types.NullValue, err
			}
			r, err := timestampDiff(a[0].S, x, y)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.BigIntValue(r), nil
		}
	})
}

// parseTimeArg parses a[0] with the format a[1] when present, else as a
// timestamp literal. ok is false when the text does not parse.
func parseTimeArg(memo *siteMemo[[]tfTok], a []types.Value) (int64, bool, error) {
	s := strings.TrimSpace(a[0].S)
	if len(a) < 2 {
		ms, ok := types.ParseTimestamp(s)
		return ms, ok, nil
	}
	toks, err := memo.get(a[1].S, &timeFormatCache, compileTimeFormat)
	if err != nil {
		return 0, false, err
	}
	ms, ok := parseTime(toks, s)
	return ms, ok, nil
}

func floorMod(x, d int64) int64 {
	m := x % d
	if m < 0 {
		m += d
	}
	return m
}

// secondsToMillis converts epoch seconds of any numeric kind to ms.
func secondsToMillis(v types.Value) (int64, bool) {
	switch v.Kind {
	case types.Double:
		f := math.Round(v.F() * 1000)
		if f != f || f >= 9.2e18 || f <= -9.2e18 {
			return 0, false
		}
		return int64(f), true
	case types.Decimal:
		return rescaleDecimal(v.I, v.Scale, 3)
	}
	return fnMulOK(v.I, 1000)
}

// ---- civil time (proleptic Gregorian, UTC) ----

type civil struct {
	year, month, day     int
	hour, minute, second int
	milli                int
	days                 int64 // since 1970-01-01
}

// civilDays is the number of days from 1970-01-01 to y-m-d.
func civilDays(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilDate is the inverse of civilDays.
func civilDate(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func toCivil(ms int64) civil {
	days := fnFloorDiv(ms, msPerDay)
	rem := int(ms - days*msPerDay)
	y, m, d := civilDate(days)
	return civil{
		year: y, month: m, day: d,
		hour: rem / 3600000, minute: rem / 60000 % 60, second: rem / 1000 % 60, milli: rem % 1000,
		days: days,
	}
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInYear(y int) int {
	if isLeap(y) {
		return 366
	}
	return 365
}

// sundayIndex is the weekday with 0 = Sunday (1970-01-01 was a Thursday).
func (c civil) sundayIndex() int { return int(floorMod(c.days+4, 7)) }

func (c civil) dayOfYear() int { return int(c.days-civilDays(c.year, 1, 1)) + 1 }

func (c civil) msOfDay() int64 {
	return int64(((c.hour*60+c.minute)*60+c.second)*1000 + c.milli)
}

// Week-numbering flags, as MySQL's WEEK() modes decode into.
const (
	weekMondayFirst  = 1
	weekYear         = 2 // weeks belong to the year holding most of their days
	weekFirstWeekday = 4 // week 1 starts on the first Sunday/Monday of the year
)

// weekMode turns WEEK()'s mode argument (0-7) into flags.
func weekMode(mode int64) int {
	f := int(mode & 7)
	if f&weekMondayFirst == 0 {
		f ^= weekFirstWeekday
	}
	return f
}

// week computes the week number and its year under the given flags,
// following MySQL's definition of WEEK() and %U %u %V %v %X %x.
func (c civil) week(flags int) (week, year int) {
	mondayFirst := flags&weekMondayFirst != 0
	byYear := flags&weekYear != 0
	firstWeekday := flags&weekFirstWeekday != 0
	first := civilDays(c.year, 1, 1)
	wd := weekdayIndex(first, !mondayFirst)
	year = c.year
	if c.month == 1 && c.day <= 7-wd {
		if !byYear && ((firstWeekday && wd != 0) || (!firstWeekday && wd >= 4)) {
			return 0, year
		}
		byYear = true
		year--
		dy := daysInYear(year)
		first -= int64(dy)
		wd = (wd + 53*7 - dy) % 7
	}
	var d int64
	if (firstWeekday && wd != 0) || (!firstWeekday && wd >= 4) {
		d = c.days - (first + int64(7-wd))
	} else {
		d = c.days - (first - int64(wd))
	}
	if byYear && d >= 52*7 {
		wd = (wd + daysInYear(year)) % 7
		if (!firstWeekday && wd < 4) || (firstWeekday && wd == 0) {
			return 1, year + 1
		}
	}
	return int(d/7) + 1, year
}

// weekdayIndex is the weekday of a day number, 0 = Sunday or 0 = Monday.
func weekdayIndex(days int64, sundayFirst bool) int {
	if sundayFirst {
		return int(floorMod(days+4, 7))
	}
	return int(floorMod(days+3, 7))
}

var (
	monthNames   = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	weekdayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// ---- EXTRACT, TIMESTAMP_ADD, TIMESTAMPDIFF ----

const extractUnits = "YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, DAYOFWEEK, DAYOFYEAR"

func extractUnit(name, unit string, ms int64) (types.Value, error) {
	c := toCivil(ms)
	var r int64
	switch strings.ToUpper(strings.TrimSpace(unit)) {
	case "YEAR":
		r = int64(c.year)
	case "QUARTER":
		r = int64((c.month + 2) / 3)
	case "MONTH":
		r = int64(c.month)
	case "WEEK":
		w, _ := c.week(weekMode(0))
		r = int64(w)
	case "DAY":
		r = int64(c.day)
	case "HOUR":
		r = int64(c.hour)
	case "MINUTE":
		r = int64(c.minute)
	case "SECOND":
		r = int64(c.second)
	case "MILLISECOND":
		r = int64(c.milli)
	case "MICROSECOND":
		r = int64(c.milli) * 1000
	case "DAYOFWEEK":
		r = int64(c.sundayIndex() + 1)
	case "DAYOFYEAR":
		r = int64(c.dayOfYear())
	default:
		return types.NullValue, fmt.Errorf("%s: unsupported unit %s (expected one of %s)", name, LiteralString(types.StringValue(unit)), extractUnits)
	}
	return types.BigIntValue(r), nil
}

const intervalUnits = "MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR"

// unitMicros is the length of a fixed-length unit in microseconds, or the
// number of months (negative) of a calendar unit; 0 for an unknown unit.
func unitMicros(unit string) int64 {
	switch strings.ToUpper(strings.TrimSpace(unit)) {
	case "MICROSECOND":
		return 1
	case "MILLISECOND":
		return 1000
	case "SECOND":
		return 1e6
	case "MINUTE":
		return 60e6
	case "HOUR":
		return 3600e6
	case "DAY":
		return 86400e6
	case "WEEK":
		return 7 * 86400e6
	case "MONTH":
		return -1
	case "QUARTER":
		return -3
	case "YEAR":
		return -12
	}
	return 0
}

func unitError(unit string) error {
	return fmt.Errorf("unsupported unit %s (expected one of %s)", LiteralString(types.StringValue(unit)), intervalUnits)
}

var errTimeRange = fmt.Errorf("timestamp out of range")

// timestampAdd adds amount units to ms. Calendar units keep the time of day
// and clamp the day to the end of the target month (Jan 31 + 1 MONTH is
// Feb 28/29), as MySQL does.
func timestampAdd(ms int64, amount types.Value, unit string) (int64, error) {
	u := unitMicros(unit)
	switch {
	case u == 0:
		return 0, unitError(unit)
	case u < 0:
		n, ok := fnMulOK(argInt64(amount), -u)
		if !ok {
			return 0, errTimeRange
		}
		r, ok := addMonths(ms, n)
		if !ok {
			return 0, errTimeRange
		}
		return r, nil
	}
	var delta int64
	switch amount.Kind {
	case types.Double:
		f := math.Round(amount.F() * float64(u) / 1000)
		if f != f || f >= 9.2e18 || f <= -9.2e18 {
			return 0, errTimeRange
		}
		delta = int64(f)
	case types.Decimal:
		x, ok := fnMulOK(amount.I, u)
		if !ok || amount.Scale > 15 {
			f := math.Round(amount.AsFloat() * float64(u) / 1000)
			if f != f || f >= 9.2e18 || f <= -9.2e18 {
				return 0, errTimeRange
			}
			delta = int64(f)
		} else {
			delta = types.DivRound(x, 1000*types.IPow10[amount.Scale])
		}
	default:
		x, ok := fnMulOK(amount.I, u)
		if !ok {
			return 0, errTimeRange
		}
		delta = types.DivRound(x, 1000)
	}
	r, ok := fnAddOK(ms, delta)
	if !ok {
		return 0, errTimeRange
	}
	return r, nil
}

func addMonths(ms, n int64) (int64, bool) {
	c := toCivil(ms)
	total := int64(c.year)*12 + int64(c.month-1) + n
	if total > 12*300000000 || total < -12*300000000 {
		return 0, false
	}
	y := int(fnFloorDiv(total, 12))
	m := int(floorMod(total, 12)) + 1
	d := c.day
	if dm := types.DaysIn(y, m); d > dm {
		d = dm
	}
	days := civilDays(y, m, d)
	r, ok := fnMulOK(days, msPerDay)
	if !ok {
		return 0, false
	}
	return fnAddOK(r, c.msOfDay())
}

// timestampDiff is TIMESTAMPDIFF(unit, a, b): b - a in whole units,
// truncated toward zero. Month-based units count a month only when b's
// day and time of day reach a's (MySQL's rule).
func timestampDiff(unit string, a, b int64) (int64, error) {
	u := unitMicros(unit)
	switch {
	case u == 0:
		return 0, unitError(unit)
	case u < 0:
		return monthDiff(a, b) / -u, nil
	}
	d := b - a
	if (b > a) != (d > 0) && d != 0 {
		return 0, errTimeRange
	}
	if u == 1 {
		r, ok := fnMulOK(d, 1000)
		if !ok {
			return 0, errTimeRange
		}
		return r, nil
	}
	return d / (u / 1000), nil
}

func monthDiff(a, b int64) int64 {
	neg := false
	if a > b {
		a, b, neg = b, a, true
	}
	ca, cb := toCivil(a), toCivil(b)
	months := int64(cb.year-ca.year)*12 + int64(cb.month-ca.month)
	if cb.day < ca.day || (cb.day == ca.day && cb.msOfDay() < ca.msOfDay()) {
		months--
	}
	if neg {
		return -months
	}
	return months
}

// ---- date formats ----

// tfKind is one element of a compiled date format.
type tfKind uint8

const (
	tfLit tfKind = iota
	tfYear
	tfYear2
	tfMonth
	tfMonthName
	tfMonthAbbr
	tfDay
	tfDaySuffix
	tfHour24
	tfHour12
	tfMinute
	tfSecond
	tfFrac // width = number of fraction digits
	tfAMPM
	tfWeekdayName
	tfWeekdayAbbr
	tfWeekdayNum // 0 = Sunday
	tfDayOfYear
	tfWeek     // arg = week flags
	tfWeekYear // arg = week flags
)

// tfTok is a format element; width is the zero-padded width of numbers.
type tfTok struct {
	kind  tfKind
	width int
	arg   int
	lit   string
}

var timeFormatCache patternCache[[]tfTok]

// compileTimeFormat compiles a MySQL format ("%Y-%m-%d") or, when the
// format has no '%', a Java/Flink pattern ("yyyy-MM-dd HH:mm:ss").
func compileTimeFormat(f string) ([]tfTok, error) {
	if strings.IndexByte(f, '%') >= 0 {
		return compileMySQLFormat(f), nil
	}
	return compileJavaFormat(f)
}

func compileMySQLFormat(f string) []tfTok {
	var out []tfTok
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].kind == tfLit {
			out[n-1].lit += s
			return
		}
		out = append(out, tfTok{kind: tfLit, lit: s})
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			lit(string(c))
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			out = append(out, tfTok{kind: tfYear, width: 4})
		case 'y':
			out = append(out, tfTok{kind: tfYear2, width: 2})
		case 'm':
			out = append(out, tfTok{kind: tfMonth, width: 2})
		case 'c':
			out = append(out, tfTok{kind: tfMonth, width: 1})
		case 'M':
			out = append(out, tfTok{kind: tfMonthName})
		case 'b':
			out = append(out, tfTok{kind: tfMonthAbbr})
		case 'd':
			out = append(out, tfTok{kind: tfDay, width: 2})
		case 'e':
			out = append(out, tfTok{kind: tfDay, width: 1})
		case 'D':
			out = append(out, tfTok{kind: tfDaySuffix})
		case 'H':
			out = append(out, tfTok{kind: tfHour24, width: 2})
		case 'k':
			out = append(out, tfTok{kind: tfHour24, width: 1})
		case 'h', 'I':
			out = append(out, tfTok{kind: tfHour12, width: 2})
		case 'l':
			out = append(out, tfTok{kind: tfHour12, width: 1})
		case 'i':
			out = append(out, tfTok{kind: tfMinute, width: 2})
		case 's', 'S':
			out = append(out, tfTok{kind: tfSecond, width: 2})
		case 'f':
			out = append(out, tfTok{kind: tfFrac, width: 6})
		case 'p':
			out = append(out, tfTok{kind: tfAMPM})
		case 'W':
			out = append(out, tfTok{kind: tfWeekdayName})
		case 'a':
			out = append(out, tfTok{kind: tfWeekdayAbbr})
		case 'w':
			out = append(out, tfTok{kind: tfWeekdayNum, width: 1})
		case 'j':
			out = append(out, tfTok{kind: tfDayOfYear, width: 3})
		case 'T':
			out = append(out, tfTok{kind: tfHour24, width: 2}, tfTok{kind: tfLit, lit: ":"}, tfTok{kind: tfMinute, width: 2}, tfTok{kind: tfLit, lit: ":"}, tfTok{kind: tfSecond, width: 2})
		case 'r':
			out = append(out, tfTok{kind: tfHour12, width: 2}, tfTok{kind: tfLit, lit: ":"}, tfTok{kind: tfMinute, width: 2}, tfTok{kind: tfLit, lit: ":"}, tfTok{kind: tfSecond, width: 2}, tfTok{kind: tfLit, lit: " "}, tfTok{kind: tfAMPM})
		case 'U':
			out = append(out, tfTok{kind: tfWeek, width: 2, arg: weekFirstWeekday})
		case 'u':
			out = append(out, tfTok{kind: tfWeek, width: 2, arg: weekMondayFirst})
		case 'V':
			out = append(out, tfTok{kind: tfWeek, width: 2, arg: weekYear | weekFirstWeekday})
		case 'v':
			out = append(out, tfTok{kind: tfWeek, width: 2, arg: weekMondayFirst | weekYear})
		case 'X':
			out = append(out, tfTok{kind: tfWeekYear, width: 4, arg: weekYear | weekFirstWeekday})
		case 'x':
			out = append(out, tfTok{kind: tfWeekYear, width: 4, arg: weekMondayFirst | weekYear})
		default: // %% and unknown specifiers print the character itself
			lit(string(f[i]))
		}
	}
	return out
}

func compileJavaFormat(f string) ([]tfTok, error) {
	var out []tfTok
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].kind == tfLit {
			out[n-1].lit += s
			return
		}
		out = append(out, tfTok{kind: tfLit, lit: s})
	}
	isLetter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; i < len(f); {
		c := f[i]
		if c == '\'' {
			if i+1 < len(f) && f[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(f) {
					return nil, fmt.Errorf("unterminated quote in format %s", LiteralString(types.StringValue(f)))
				}
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(f[j])
				j++
			}
			lit(b.String())
			i = j + 1
			continue
		}
		if !isLetter(c) {
			lit(string(c))
			i++
			continue
		}
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		i += n
		switch c {
		case 'y', 'u':
			if n == 2 {
				out = append(out, tfTok{kind: tfYear2, width: 2})
			} else {
				out = append(out, tfTok{kind: tfYear, width: n})
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				out = append(out, tfTok{kind: tfMonthName})
			case n == 3:
				out = append(out, tfTok{kind: tfMonthAbbr})
			default:
				out = append(out, tfTok{kind: tfMonth, width: n})
			}
		case 'd':
			out = append(out, tfTok{kind: tfDay, width: n})
		case 'D':
			out = append(out, tfTok{kind: tfDayOfYear, width: n})
		case 'H':
			out = append(out, tfTok{kind: tfHour24, width: n})
		case 'h':
			out = append(out, tfTok{kind: tfHour12, width: n})
		case 'm':
			out = append(out, tfTok{kind: tfMinute, width: n})
		case 's':
			out = append(out, tfTok{kind: tfSecond, width: n})
		case 'S':
			out = append(out, tfTok{kind: tfFrac, width: n})
		case 'a':
			out = append(out, tfTok{kind: tfAMPM})
		case 'E':
			if n >= 4 {
				out = append(out, tfTok{kind: tfWeekdayName})
			} else {
				out = append(out, tfTok{kind: tfWeekdayAbbr})
			}
		default:
			return nil, fmt.Errorf("unsupported pattern letter '%c' in format %s", c, LiteralString(types.StringValue(f)))
		}
	}
	return out, nil
}

func appendPadded(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func formatTime(toks []tfTok, ms int64) string {
	c := toCivil(ms)
	b := make([]byte, 0, 32)
	for _, t := range toks {
		switch t.kind {
		case tfLit:
			b = append(b, t.lit...)
		case tfYear:
			b = appendPadded(b, c.year, t.width)
		case tfYear2:
			b = appendPadded(b, int(floorMod(int64(c.year), 100)), 2)
		case tfMonth:
			b = appendPadded(b, c.month, t.width)
		case tfMonthName:
			b = append(b, monthNames[c.month-1]...)
		case tfMonthAbbr:
			b = append(b, monthNames[c.month-1][:3]...)
		case tfDay:
			b = appendPadded(b, c.day, t.width)
		case tfDaySuffix:
			b = strconv.AppendInt(b, int64(c.day), 10)
			switch {
			case c.day/10 == 1:
				b = append(b, "th"...)
			case c.day%10 == 1:
				b = append(b, "st"...)
			case c.day%10 == 2:
				b = append(b, "nd"...)
			case c.day%10 == 3:
				b = append(b, "rd"...)
			default:
				b = append(b, "th"...)
			}
		case tfHour24:
			b = appendPadded(b, c.hour, t.width)
		case tfHour12:
			h := c.hour % 12
			if h == 0 {
				h = 12
			}
			b = appendPadded(b, h, t.width)
		case tfMinute:
			b = appendPadded(b, c.minute, t.width)
		case tfSecond:
			b = appendPadded(b, c.second, t.width)
		case tfFrac:
			frac := appendPadded(nil, c.milli, 3)
			for i := 0; i < t.width; i++ {
				if i < 3 {
					b = append(b, frac[i])
				} else {
					b = append(b, '0')
				}
			}
		case tfAMPM:
			if c.hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case tfWeekdayName:
			b = append(b, weekdayNames[c.sundayIndex()]...)
		case tfWeekdayAbbr:
			b = append(b, weekdayNames[c.sundayIndex()][:3]...)
		case tfWeekdayNum:
			b = strconv.AppendInt(b, int64(c.sundayIndex()), 10)
		case tfDayOfYear:
			b = appendPadded(b, c.dayOfYear(), t.width)
		case tfWeek:
			w, _ := c.week(t.arg)
			b = appendPadded(b, w, t.width)
		case tfWeekYear:
			_, y := c.week(t.arg)
			b = appendPadded(b, y, t.width)
		}
	}
	return string(b)
}

// parseTime reads s with a compiled format; false when s does not match it
// completely or names an invalid date or time. Missing fields default to
// 1970-01-01 00:00:00.000.
func parseTime(toks []tfTok, s string) (int64, bool) {
	year, month, day := 1970, 1, 1
	hour, minute, second, milli := 0, 0, 0, 0
	doy := 0
	pm, h12 := -1, false
	i := 0
	num := func(maxDigits int) (int, bool) {
		j, v := i, 0
		for j < len(s) && j-i < maxDigits && s[j] >= '0' && s[j] <= '9' {
			v = v*10 + int(s[j]-'0')
			j++
		}
		if j == i {
			return 0, false
		}
		i = j
		return v, true
	}
	width := func(t tfTok, def int) int {
		if t.width > def {
			return t.width
		}
		return def
	}
	name := func(list []string) (int, bool) {
		for k, n := range list {
			for _, cand := range []string{n, n[:3]} {
				if len(s)-i >= len(cand) && strings.EqualFold(s[i:i+len(cand)], cand) {
					i += len(cand)
					return k, true
				}
			}
		}
		return 0, false
	}
	for _, t := range toks {
		ok := true
		switch t.kind {
		case tfLit:
			if !strings.HasPrefix(s[i:], t.lit) {
				return 0, false
			}
			i += len(t.lit)
		case tfYear:
			year, ok = num(width(t, 4))
		case tfYear2:
			var y int
			y, ok = num(2)
			if y < 70 {
				year = 2000 + y
			} else {
				year = 1900 + y
			}
		case tfMonth:
			month, ok = num(width(t, 2))
		case tfMonthName, tfMonthAbbr:
			var k int
			k, ok = name(monthNames[:])
			month = k + 1
		case tfDay:
			day, ok = num(width(t, 2))
		case tfDaySuffix:
			day, ok = num(2)
			if ok && len(s)-i >= 2 {
				i += 2
			} else {
				ok = false
			}
		case tfHour24:
			hour, ok = num(width(t, 2))
		case tfHour12:
			hour, ok = num(width(t, 2))
			h12 = true
		case tfMinute:
			minute, ok = num(width(t, 2))
		case tfSecond:
			second, ok = num(width(t, 2))
		case tfFrac:
			start := i
			var v int
			v, ok = num(t.width)
			n := i - start
			for ; n < 3; n++ {
				v *= 10
			}
			for ; n > 3; n-- {
				v /= 10
			}
			milli = v
		case tfAMPM:
			switch {
			case len(s)-i >= 2 && strings.EqualFold(s[i:i+2], "AM"):
				pm = 0
			case len(s)-i >= 2 && strings.EqualFold(s[i:i+2], "PM"):
				pm = 1
			default:
				ok = false
			}
			i += 2
		case tfWeekdayName, tfWeekdayAbbr:
			_, ok = name(weekdayNames[:])
		case tfWeekdayNum:
			_, ok = num(1)
		case tfDayOfYear:
			doy, ok = num(width(t, 3))
		default:
			ok = false // week numbers do not determine a date on their own
		}
		if !ok {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	if h12 {
		if hour < 1 || hour > 12 {
			return 0, false
		}
		hour %= 12
		if pm == 1 {
			hour += 12
		}
	} else if pm == 1 && hour < 12 {
		hour += 12
	}
	if month < 1 || month > 12 || day < 1 || day > types.DaysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	days := civilDays(year, month, day)
	if doy > 0 {
		if doy > daysInYear(year) {
			return 0, false
		}
		days = civilDays(year, 1, 1) + int64(doy-1)
	}
	return days*msPerDay + int64(((hour*60+minute)*60+second)*1000+milli), true
}
