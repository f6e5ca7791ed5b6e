package expr

import (
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

func TestTimeFunctions(t *testing.T) {
	nullTS := ta(types.NullValue, types.TTimestamp)
	d := func(s string) types.Value { return tsv(s) }
	ts1 := d("2024-03-05 07:08:09.123") // a Tuesday
	runCases(t, []fcase{
		// fields
		{fn: "YEAR", args: []any{ts1}, want: int64(2024)},
		{fn: "YEAR", args: []any{"2019-05-06"}, want: int64(2019)},
		{fn: "YEAR", args: []any{"junk"}, err: "YEAR: cannot cast 'junk' to TIMESTAMP(3)"},
		{fn: "YEAR", args: []any{nullTS}, want: nil},
		{fn: "QUARTER", args: []any{d("2008-04-01")}, want: int64(2)},
		{fn: "QUARTER", args: []any{d("2008-12-31")}, want: int64(4)},
		{fn: "MONTH", args: []any{ts1}, want: int64(3)},
		{fn: "DAY", args: []any{ts1}, want: int64(5)},
		{fn: "DAYOFMONTH", args: []any{d("2024-02-29")}, want: int64(29)},
		{fn: "DAYOFWEEK", args: []any{d("2007-02-03")}, want: int64(7)},
		{fn: "DAYOFWEEK", args: []any{d("2024-03-03")}, want: int64(1)},
		{fn: "DAYOFYEAR", args: []any{d("2007-02-03")}, want: int64(34)},
		{fn: "DAYOFYEAR", args: []any{d("2024-12-31")}, want: int64(366)},
		{fn: "DAYOFYEAR", args: []any{d("2023-12-31")}, want: int64(365)},
		{fn: "HOUR", args: []any{ts1}, want: int64(7)},
		{fn: "MINUTE", args: []any{ts1}, want: int64(8)},
		{fn: "SECOND", args: []any{ts1}, want: int64(9)},
		{fn: "DAYNAME", args: []any{ts1}, want: "Tuesday"},
		{fn: "MONTHNAME", args: []any{ts1}, want: "March"},
		// before the epoch
		{fn: "YEAR", args: []any{types.TimestampValue(-1)}, want: int64(1969)},
		{fn: "SECOND", args: []any{types.TimestampValue(-1)}, want: int64(59)},
		{fn: "DAYOFWEEK", args: []any{d("1969-12-31")}, want: int64(4)},
		{fn: "YEAR", args: []any{d("1600-02-29")}, want: int64(1600)},
		// WEEK modes (MySQL manual examples)
		{fn: "WEEK", args: []any{d("2008-02-20")}, want: int64(7)},
		{fn: "WEEK", args: []any{d("2008-02-20"), 0}, want: int64(7)},
		{fn: "WEEK", args: []any{d("2008-02-20"), 1}, want: int64(8)},
		{fn: "WEEK", args: []any{d("2008-12-31"), 1}, want: int64(53)},
		{fn: "WEEK", args: []any{d("2000-01-01"), 0}, want: int64(0)},
		{fn: "WEEK", args: []any{d("2000-01-01"), 2}, want: int64(52)},
		{fn: "WEEK", args: []any{d("2024-01-01"), 0}, want: int64(0)},
		{fn: "WEEK", args: []any{d("2024-01-07"), 0}, want: int64(1)},
		{fn: "WEEK", args: []any{d("2021-01-03"), 3}, want: int64(53)},
		{fn: "WEEK", args: []any{d("2024-12-30"), 3}, want: int64(1)},
		{fn: "WEEK", args: []any{d("2020-12-31"), 3}, want: int64(53)},
		// EXTRACT
		{fn: "EXTRACT", args: []any{"YEAR", ts1}, want: int64(2024)},
		{fn: "EXTRACT", args: []any{"quarter", ts1}, want: int64(1)},
		{fn: "EXTRACT", args: []any{"MONTH", ts1}, want: int64(3)},
		{fn: "EXTRACT", args: []any{"WEEK", d("2008-02-20")}, want: int64(7)},
		{fn: "EXTRACT", args: []any{"DAY", ts1}, want: int64(5)},
		{fn: "EXTRACT", args: []any{"HOUR", ts1}, want: int64(7)},
		{fn: "EXTRACT", args: []any{"MINUTE", ts1}, want: int64(8)},
		{fn: "EXTRACT", args: []any{"SECOND", ts1}, want: int64(9)},
		{fn: "EXTRACT", args: []any{"MILLISECOND", ts1}, want: int64(123)},
		{fn: "EXTRACT", args: []any{"MICROSECOND", ts1}, want: int64(123000)},
		{fn: "EXTRACT", args: []any{"DAYOFWEEK", ts1}, want: int64(3)},
		{fn: "EXTRACT", args: []any{"DAYOFYEAR", ts1}, want: int64(65)},
		{fn: "EXTRACT", args: []any{"FORTNIGHT", ts1}, err: "EXTRACT: unsupported unit 'FORTNIGHT' (expected one of YEAR, QUARTER"},
		{fn: "EXTRACT", args: []any{"YEAR", nullTS}, want: nil},
		// DATE_FORMAT (MySQL manual examples)
		{fn: "DATE_FORMAT", args: []any{d("2009-10-04 22:23:00"), "%W %M %Y"}, want: "Sunday October 2009"},
		{fn: "DATE_FORMAT", args: []any{d("2007-10-04 22:23:00"), "%H:%i:%s"}, want: "22:23:00"},
		{fn: "DATE_FORMAT", args: []any{d("1900-10-04 22:23:00"), "%D %y %a %d %m %b %j"}, want: "4th 00 Thu 04 10 Oct 277"},
		{fn: "DATE_FORMAT", args: []any{d("1997-10-04 22:23:00"), "%H %k %I %r %T %S %w"}, want: "22 22 10 10:23:00 PM 22:23:00 00 6"},
		{fn: "DATE_FORMAT", args: []any{d("1999-01-01"), "%X %V"}, want: "1998 52"},
		{fn: "DATE_FORMAT", args: []any{d("2024-03-05 00:08:09.123"), "%c/%e %l:%i %p %f %% %Q"}, want: "3/5 12:08 AM 123000 % Q"},
		{fn: "DATE_FORMAT", args: []any{d("2024-03-05 12:00:00"), "%h %p"}, want: "12 PM"},
		{fn: "DATE_FORMAT", args: []any{d("2024-03-01"), "%D %D"}, want: "1st 1st"},
		{fn: "DATE_FORMAT", args: []any{d("2024-03-22"), "%D"}, want: "22nd"},
		{fn: "DATE_FORMAT", args: []any{d("2024-03-13"), "%D"}, want: "13th"},
		{fn: "DATE_FORMAT", args: []any{d("2024-12-30"), "%x-%v %u %U"}, want: "2025-01 53 52"},
		{fn: "DATE_FORMAT", args: []any{ts1, "yyyy-MM-dd HH:mm:ss.SSS"}, want: "2024-03-05 07:08:09.123"},
		{fn: "DATE_FORMAT", args: []any{ts1, "EEE, d MMM yy h:mm a"}, want: "Tue, 5 Mar 24 7:08 AM"},
		{fn: "DATE_FORMAT", args: []any{ts1, "EEEE MMMM D 'o''clock' ''"}, want: "Tuesday March 65 o'clock '"},
		{fn: "DATE_FORMAT", args: []any{ts1, "yyyy Q"}, err: "DATE_FORMAT: unsupported pattern letter 'Q' in format 'yyyy Q'"},
		{fn: "DATE_FORMAT", args: []any{"2024-01-02", "%Y"}, want: "2024"},
		{fn: "DATE_FORMAT", args: []any{nullTS, "%Y"}, want: nil},
		// NOW & co. use the injectable clock (see TestNow)
		// UNIX_TIMESTAMP / FROM_UNIXTIME (manual examples, UTC)
		{fn: "UNIX_TIMESTAMP", args: []any{d("2015-11-13 10:20:19")}, want: int64(1447410019)},
		{fn: "UNIX_TIMESTAMP", args: []any{"2015-11-13 10:20:19"}, want: int64(1447410019)},
		{fn: "UNIX_TIMESTAMP", args: []any{"13/11/2015", "dd/MM/yyyy"}, want: int64(1447372800)},
		{fn: "UNIX_TIMESTAMP", args: []any{"nope"}, want: nil},
		{fn: "UNIX_TIMESTAMP", args: []any{types.TimestampValue(-1)}, want: int64(-1)},
		{fn: "FROM_UNIXTIME", args: []any{int64(1447430881)}, want: d("2015-11-13 16:08:01")},
		{fn: "FROM_UNIXTIME", args: []any{dec("1447430881.5")}, want: d("2015-11-13 16:08:01.5")},
		{fn: "FROM_UNIXTIME", args: []any{1.25}, want: d("1970-01-01 00:00:01.25")},
		{fn: "FROM_UNIXTIME", args: []any{int64(1447430881), "%Y %D %M %h:%i:%s %x"}, want: "2015 13th November 04:08:01 2015"},
		{fn: "FROM_UNIXTIME", args: []any{0, "yyyy-MM-dd HH:mm:ss"}, want: "1970-01-01 00:00:00"},
		{fn: "FROM_UNIXTIME", args: []any{int64(1) << 62}, err: "FROM_UNIXTIME: 4611686018427387904 is out of range"},
		// TO_TIMESTAMP / STR_TO_DATE / TO_DATE / DATE
		{fn: "TO_TIMESTAMP", args: []any{"2024-03-05 07:08:09"}, want: d("2024-03-05 07:08:09")},
		{fn: "TO_TIMESTAMP", args: []any{"2024-03-05T07:08:09.5Z"}, want: d("2024-03-05 07:08:09.5")},
		{fn: "TO_TIMESTAMP", args: []any{"garbage"}, want: nil},
		{fn: "TO_TIMESTAMP", args: []any{"05/03/2024 13:14", "dd/MM/yyyy HH:mm"}, want: d("2024-03-05 13:14:00")},
		{fn: "TO_TIMESTAMP", args: []any{"20240305", "yyyyMMdd"}, want: d("2024-03-05")},
		{fn: "TO_TIMESTAMP", args: []any{"2024-3-5 7:08:09.12", "yyyy-M-d H:mm:ss.SS"}, want: d("2024-03-05 07:08:09.12")},
		{fn: "TO_TIMESTAMP", args: []any{"2023-02-29", "yyyy-MM-dd"}, want: nil},
		{fn: "TO_TIMESTAMP", args: []any{"2024-02-29", "yyyy-MM-dd"}, want: d("2024-02-29")},
		{fn: "TO_TIMESTAMP", args: []any{"2024-02-29 extra", "yyyy-MM-dd"}, want: nil},
		{fn: "TO_TIMESTAMP", args: []any{"x", "yyyy Q"}, err: "TO_TIMESTAMP: unsupported pattern letter 'Q'"},
		{fn: "STR_TO_DATE", args: []any{"01,5,2013", "%d,%m,%Y"}, want: d("2013-05-01")},
		{fn: "STR_TO_DATE", args: []any{"May 1, 2013", "%M %d, %Y"}, want: d("2013-05-01")},
		{fn: "STR_TO_DATE", args: []any{"sep 9 99", "%b %e %y"}, want: d("1999-09-09")},
		{fn: "STR_TO_DATE", args: []any{"09:30:17 PM", "%r"}, want: d("1970-01-01 21:30:17")},
		{fn: "STR_TO_DATE", args: []any{"12:00:00 AM", "%r"}, want: d("1970-01-01 00:00:00")},
		{fn: "STR_TO_DATE", args: []any{"2024-060", "%Y-%j"}, want: d("2024-02-29")},
		{fn: "STR_TO_DATE", args: []any{"2024-01-02 03:04:05.678901", "%Y-%m-%d %H:%i:%s.%f"}, want: d("2024-01-02 03:04:05.678")},
		{fn: "STR_TO_DATE", args: []any{"13:00 PM", "%h:%i %p"}, want: nil},
		{fn: "STR_TO_DATE", args: []any{"2024-13-01", "%Y-%m-%d"}, want: nil},
		{fn: "TO_DATE", args: []any{"2024-03-05 07:08:09"}, want: d("2024-03-05")},
		{fn: "TO_DATE", args: []any{"05.03.2024", "dd.MM.yyyy"}, want: d("2024-03-05")},
		{fn: "DATE", args: []any{ts1}, want: d("2024-03-05")},
		{fn: "DATE", args: []any{types.TimestampValue(-1)}, want: d("1969-12-31")},
		// TIMESTAMP_ADD: calendar units clamp the day of month
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-01-31 10:00:00"), 1, "MONTH"}, want: d("2024-02-29 10:00:00")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2023-01-31"), 1, "MONTH"}, want: d("2023-02-28")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-31"), -1, "MONTH"}, want: d("2024-02-29")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-02-29"), 1, "YEAR"}, want: d("2025-02-28")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-02-29"), 4, "YEAR"}, want: d("2028-02-29")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-11-30"), 1, "QUARTER"}, want: d("2025-02-28")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-01-15"), -13, "MONTH"}, want: d("2022-12-15")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-12-31 23:59:59"), 1, "SECOND"}, want: d("2025-01-01")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), -1, "DAY"}, want: d("2024-02-29")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 2, "week"}, want: d("2024-03-15")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 36, "HOUR"}, want: d("2024-03-02 12:00:00")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 90, "MINUTE"}, want: d("2024-03-01 01:30:00")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 1500, "MILLISECOND"}, want: d("2024-03-01 00:00:01.5")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 2500, "MICROSECOND"}, want: d("2024-03-01 00:00:00.003")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), dec("1.5"), "SECOND"}, want: d("2024-03-01 00:00:01.5")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 0.25, "SECOND"}, want: d("2024-03-01 00:00:00.25")},
		{fn: "TIMESTAMP_ADD", args: []any{"2024-03-01", 1, "DAY"}, want: d("2024-03-02")},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), 1, "EON"}, err: "TIMESTAMP_ADD: unsupported unit 'EON'"},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), int64(1) << 62, "DAY"}, err: "TIMESTAMP_ADD: timestamp out of range"},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), int64(1) << 62, "YEAR"}, err: "TIMESTAMP_ADD: timestamp out of range"},
		{fn: "TIMESTAMP_ADD", args: []any{d("2024-03-01"), nil, "DAY"}, want: nil},
		// TIMESTAMPDIFF (manual examples)
		{fn: "TIMESTAMPDIFF", args: []any{"MONTH", d("2003-02-01"), d("2003-05-01")}, want: int64(3)},
		{fn: "TIMESTAMPDIFF", args: []any{"YEAR", d("2002-05-01"), d("2001-01-01")}, want: int64(-1)},
		{fn: "TIMESTAMPDIFF", args: []any{"MINUTE", d("2003-02-01"), d("2003-05-01 12:05:55")}, want: int64(128885)},
		{fn: "TIMESTAMPDIFF", args: []any{"MONTH", d("2024-01-31"), d("2024-02-29")}, want: int64(0)},
		{fn: "TIMESTAMPDIFF", args: []any{"MONTH", d("2024-01-31"), d("2024-03-31")}, want: int64(2)},
		{fn: "TIMESTAMPDIFF", args: []any{"MONTH", d("2024-03-31"), d("2024-01-31 00:00:01")}, want: int64(-1)},
		{fn: "TIMESTAMPDIFF", args: []any{"QUARTER", d("2024-01-01"), d("2024-12-31")}, want: int64(3)},
		{fn: "TIMESTAMPDIFF", args: []any{"DAY", d("2024-03-01"), d("2024-02-28 12:00:00")}, want: int64(-1)},
		{fn: "TIMESTAMPDIFF", args: []any{"WEEK", d("2024-01-01"), d("2024-01-15")}, want: int64(2)},
		{fn: "TIMESTAMPDIFF", args: []any{"SECOND", d("2024-01-01"), d("2024-01-01 00:00:01.999")}, want: int64(1)},
		{fn: "TIMESTAMPDIFF", args: []any{"MILLISECOND", d("2024-01-01"), d("2024-01-01 00:00:01.999")}, want: int64(1999)},
		{fn: "TIMESTAMPDIFF", args: []any{"MICROSECOND", d("2024-01-01"), d("2024-01-01 00:00:00.002")}, want: int64(2000)},
		{fn: "TIMESTAMPDIFF", args: []any{"HOUR", "2024-01-01", d("2024-01-02")}, want: int64(24)},
		{fn: "TIMESTAMPDIFF", args: []any{"DECADE", d("2024-01-01"), d("2024-01-02")}, err: "TIMESTAMPDIFF: unsupported unit 'DECADE'"},
	})
}

func TestTimeSignatures(t *testing.T) {
	v, i, ts := types.TVarchar, types.TInt, types.TTimestamp
	runSigCases(t, []sigCase{
		{"YEAR", tys(i), "YEAR expects (TIMESTAMP), got (INT)"},
		{"MONTH", tys(), "MONTH expects (TIMESTAMP), got ()"},
		{"WEEK", tys(ts, v), "WEEK expects (TIMESTAMP[, INT mode]), got (TIMESTAMP(3), VARCHAR)"},
		{"EXTRACT", tys(ts, v), "EXTRACT expects (VARCHAR unit, TIMESTAMP), got (TIMESTAMP(3), VARCHAR)"},
		{"DATE_FORMAT", tys(ts), "DATE_FORMAT expects (TIMESTAMP, VARCHAR format), got (TIMESTAMP(3))"},
		{"DATE_FORMAT", tys(i, v), ""},
		{"NOW", tys(i), "NOW expects (), got (INT)"},
		{"PROCTIME", tys(ts), ""},
		{"UNIX_TIMESTAMP", tys(i), "UNIX_TIMESTAMP expects ([TIMESTAMP|VARCHAR[, VARCHAR format]]), got (INT)"},
		{"UNIX_TIMESTAMP", tys(ts, v), ""},
		{"FROM_UNIXTIME", tys(v), "FROM_UNIXTIME expects (NUMERIC seconds[, VARCHAR format]), got (VARCHAR)"},
		{"TO_TIMESTAMP", tys(i), "TO_TIMESTAMP expects (VARCHAR[, VARCHAR format]), got (INT)"},
		{"STR_TO_DATE", tys(v), ""},
		{"DATE", tys(i), ""},
		{"TIMESTAMP_ADD", tys(ts, v, v), "TIMESTAMP_ADD expects (TIMESTAMP, NUMERIC amount, VARCHAR unit), got (TIMESTAMP(3), VARCHAR, VARCHAR)"},
		{"TIMESTAMPDIFF", tys(ts, ts), "TIMESTAMPDIFF expects (VARCHAR unit, TIMESTAMP, TIMESTAMP), got (TIMESTAMP(3), TIMESTAMP(3))"},
		{"TIMESTAMPDIFF", tys(v, ts, i), ""},
	})
}

func TestNow(t *testing.T) {
	old := Now
	defer func() { Now = old }()
	Now = func() int64 { return 1447430881500 }
	for _, name := range []string{"NOW", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "PROCTIME"} {
		def, _ := Lookup(name)
		if !def.Volatile {
			t.Errorf("%s is not Volatile", name)
		}
		call, err := newTestCall(name)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := call.Eval(nil); err != nil || v != types.TimestampValue(1447430881500) {
			t.Errorf("%s() = %v, %v", name, v, err)
		}
	}
	call, _ := newTestCall("UNIX_TIMESTAMP")
	if v, err := call.Eval(nil); err != nil || v != types.BigIntValue(1447430881) {
		t.Errorf("UNIX_TIMESTAMP() = %v, %v", v, err)
	}
	if def, _ := Lookup("UNIX_TIMESTAMP"); !def.Volatile {
		t.Error("UNIX_TIMESTAMP is not Volatile")
	}
}

func TestCivilDaysAgainstTimePackage(t *testing.T) {
	for days := int64(-800000); days <= 800000; days += 97 {
		tm := time.Unix(days*86400, 0).UTC()
		if got := civilDays(tm.Year(), int(tm.Month()), tm.Day()); got != days {
			t.Fatalf("civilDays(%s) = %d, want %d", tm, got, days)
		}
		y, m, d := civilDate(days)
		if y != tm.Year() || m != int(tm.Month()) || d != tm.Day() {
			t.Fatalf("civilDate(%d) = %d-%d-%d, want %s", days, y, m, d, tm)
		}
		c := toCivil(days*msPerDay + 3723004)
		if c.hour != 1 || c.minute != 2 || c.second != 3 || c.milli != 4 || c.sundayIndex() != int(tm.Weekday()) || c.dayOfYear() != tm.YearDay() {
			t.Fatalf("toCivil(%d) = %+v", days, c)
		}
	}
}

// TestWeekMatchesISO checks mode 3 (ISO 8601) against Go's ISOWeek.
func TestWeekMatchesISO(t *testing.T) {
	for days := int64(-20000); days <= 40000; days++ {
		c := toCivil(days * msPerDay)
		w, y := c.week(weekMode(3) | weekYear)
		tm := time.Unix(days*86400, 0).UTC()
		iy, iw := tm.ISOWeek()
		if w != iw || y != iy {
			t.Fatalf("%s: week %d/%d, ISO %d/%d", tm.Format("2006-01-02"), y, w, iy, iw)
		}
	}
}
