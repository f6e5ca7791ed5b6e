package format

import "github.com/weirsql/weir/sql/types"

// tsParser parses timestamps like types.ParseTimestamp, faster for a
// stream: consecutive records nearly always share the date, hour and minute,
// so the "YYYY-MM-DDThh:mm" prefix and its value are cached and a hit only
// parses seconds and fraction. Forms outside YYYY-MM-DD[ T]hh:mm:ss[.f*][Z]
// go to types.ParseTimestamp.
type tsParser struct {
	prefix [16]byte
	base   int64 // ms of prefix
	valid  bool
}

func (p *tsParser) parse(s []byte) (int64, bool) {
	if len(s) >= 19 && s[16] == ':' {
		if !p.valid || string(s[:16]) != string(p.prefix[:]) {
			base, ok := parseMinutePrefix(s)
			if !ok {
				return types.ParseTimestamp(bstr(s))
			}
			copy(p.prefix[:], s[:16])
			p.base, p.valid = base, true
		}
		if ms, ok := parseSecondsTail(s[17:]); ok {
			return p.base + ms, true
		}
	}
	return types.ParseTimestamp(bstr(s))
}

func twoDigits(s []byte) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

// parseMinutePrefix reads "YYYY-MM-DD[ T]hh:mm" from s[:16].
func parseMinutePrefix(s []byte) (int64, bool) {
	if s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' {
		return 0, false
	}
	y1, ok1 := twoDigits(s[0:])
	y2, ok2 := twoDigits(s[2:])
	mo, ok3 := twoDigits(s[5:])
	d, ok4 := twoDigits(s[8:])
	h, ok5 := twoDigits(s[11:])
	mi, ok6 := twoDigits(s[14:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 {
		return 0, false
	}
	y := y1*100 + y2
	if d > types.DaysIn(y, mo) {
		return 0, false
	}
	return ((types.DaysFromCivil(y, mo, d)*24+int64(h))*60 + int64(mi)) * 60_000, true
}

// parseSecondsTail reads "ss[.f*][Z]" (the part after "hh:mm:") as ms;
// digits past milliseconds are truncated, as types.ParseTimestamp does.
func parseSecondsTail(s []byte) (int64, bool) {
	if len(s) < 2 {
		return 0, false
	}
	se, ok := twoDigits(s)
	if !ok || se > 60 {
		return 0, false
	}
	ms := int64(se) * 1000
	s = s[2:]
	if len(s) > 0 && s[0] == '.' {
		i := 1
		scale := int64(100)
		for i < len(s) && s[i]-'0' < 10 {
			ms += int64(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return 0, false
		}
		s = s[i:]
	}
	if len(s) == 0 || (len(s) == 1 && s[0] == 'Z') {
		return ms, true
	}
	return 0, false
}
