package expr

import (
	"strings"
	"sync"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestStringFunctions(t *testing.T) {
	nullStr := ta(types.NullValue, types.TVarchar)
	runCases(t, []fcase{
		{fn: "LOWER", args: []any{"AbC"}, want: "abc"},
		{fn: "LCASE", args: []any{"ÀÉÎ"}, want: "àéî"},
		{fn: "UPPER", args: []any{"straße"}, want: "STRAßE"}, // no 1:n case mappings, like MySQL
		{fn: "UCASE", args: []any{"abc"}, want: "ABC"},
		{fn: "UPPER", args: []any{nullStr}, want: nil},
		// SUBSTRING: 1-based, negative from the end, characters not bytes
		{fn: "SUBSTRING", args: []any{"Quadratically", 5}, want: "ratically"},
		{fn: "SUBSTRING", args: []any{"Quadratically", 5, 6}, want: "ratica"},
		{fn: "SUBSTRING", args: []any{"Sakila", -3}, want: "ila"},
		{fn: "SUBSTRING", args: []any{"Sakila", -5, 3}, want: "aki"},
		{fn: "SUBSTRING", args: []any{"Sakila", -7}, want: ""},
		{fn: "SUBSTRING", args: []any{"Sakila", 0}, want: ""},
		{fn: "SUBSTRING", args: []any{"Sakila", 7}, want: ""},
		{fn: "SUBSTRING", args: []any{"Sakila", 6}, want: "a"},
		{fn: "SUBSTRING", args: []any{"Sakila", 2, 0}, want: ""},
		{fn: "SUBSTRING", args: []any{"Sakila", 2, -1}, want: ""},
		{fn: "SUBSTRING", args: []any{"Sakila", 2, int64(1) << 62}, want: "akila"},
		{fn: "SUBSTR", args: []any{"héllo wörld", 2, 4}, want: "éllo"},
		{fn: "SUBSTR", args: []any{"日本語テキスト", -3}, want: "キスト"},
		{fn: "SUBSTR", args: []any{"abc", dec("1.5")}, want: "bc"},
		{fn: "SUBSTR", args: []any{"abc", 1.4}, want: "abc"},
		{fn: "SUBSTRING", args: []any{"abc", nil}, want: nil},
		// CONCAT / CONCAT_WS
		{fn: "CONCAT", args: []any{"a", "b", "c"}, want: "abc"},
		{fn: "CONCAT", args: []any{"a", 1, 2.5, dec("1.50"), true}, want: "a12.51.50true"},
		{fn: "CONCAT", args: []any{"t=", tsv("2024-01-02 03:04:05")}, want: "t=2024-01-02 03:04:05.000"},
		{fn: "CONCAT", args: []any{"a", nullStr, "c"}, want: nil},
		{fn: "CONCAT", args: []any{5}, want: "5"},
		{fn: "CONCAT_WS", args: []any{",", "a", nullStr, "c"}, want: "a,c"},
		{fn: "CONCAT_WS", args: []any{",", nullStr, "a"}, want: "a"},
		{fn: "CONCAT_WS", args: []any{",", nullStr}, want: ""},
		{fn: "CONCAT_WS", args: []any{nullStr, "a", "b"}, want: nil},
		{fn: "CONCAT_WS", args: []any{"-", 1, 2}, want: "1-2"},
		// lengths
		{fn: "CHAR_LENGTH", args: []any{"héllo"}, want: int64(5)},
		{fn: "CHARACTER_LENGTH", args: []any{""}, want: int64(0)},
		{fn: "LENGTH", args: []any{"héllo"}, want: int64(6)},
		{fn: "LENGTH", args: []any{123}, want: int64(3)},
		{fn: "LENGTH", args: []any{nullStr}, want: nil},
		// REPLACE
		{fn: "REPLACE", args: []any{"www.mysql.com", "w", "Ww"}, want: "WwWwWw.mysql.com"},
		{fn: "REPLACE", args: []any{"abc", "", "x"}, want: "abc"},
		{fn: "REPLACE", args: []any{"abc", "b", ""}, want: "ac"},
		// TRIM family: spaces only, or a given string
		{fn: "TRIM", args: []any{"  bar  "}, want: "bar"},
		{fn: "TRIM", args: []any{"\tbar\t"}, want: "\tbar\t"},
		{fn: "LTRIM", args: []any{"  bar  "}, want: "bar  "},
		{fn: "RTRIM", args: []any{"  bar  "}, want: "  bar"},
		{fn: "TRIM", args: []any{"xxbarxx", "x"}, want: "bar"},
		{fn: "TRIM", args: []any{"xyxybarxy", "xy"}, want: "bar"},
		{fn: "LTRIM", args: []any{"xxbarxx", "x"}, want: "barxx"},
		{fn: "RTRIM", args: []any{"xxbarxx", "x"}, want: "xxbar"},
		{fn: "TRIM", args: []any{"abc", ""}, want: "abc"},
		// LEFT / RIGHT
		{fn: "LEFT", args: []any{"foobarbar", 5}, want: "fooba"},
		{fn: "LEFT", args: []any{"föö", 2}, want: "fö"},
		{fn: "LEFT", args: []any{"abc", 0}, want: ""},
		{fn: "LEFT", args: []any{"abc", -1}, want: ""},
		{fn: "LEFT", args: []any{"abc", 10}, want: "abc"},
		{fn: "RIGHT", args: []any{"foobarbar", 4}, want: "rbar"},
		{fn: "RIGHT", args: []any{"föö", 2}, want: "öö"},
		{fn: "RIGHT", args: []any{"abc", 10}, want: "abc"},
		{fn: "RIGHT", args: []any{"abc", 0}, want: ""},
		// LPAD / RPAD
		{fn: "LPAD", args: []any{"hi", 4, "??"}, want: "??hi"},
		{fn: "LPAD", args: []any{"hi", 5, "ab"}, want: "abahi"},
		{fn: "LPAD", args: []any{"hi", 1, "??"}, want: "h"},
		{fn: "LPAD", args: []any{"hi", -1, "?"}, want: nil},
		{fn: "LPAD", args: []any{"hi", 5, ""}, want: nil},
		{fn: "LPAD", args: []any{"hi", 2, ""}, want: "hi"},
		{fn: "RPAD", args: []any{"hi", 5, "?"}, want: "hi???"},
		{fn: "RPAD", args: []any{"hé", 5, "ñö"}, want: "héñöñ"},
		{fn: "RPAD", args: []any{"hi", int64(1) << 40, "?"}, err: "RPAD: result longer than"},
		{fn: "REPEAT", args: []any{"ab", 3}, want: "ababab"},
		{fn: "REPEAT", args: []any{"ab", 0}, want: ""},
		{fn: "REPEAT", args: []any{"ab", int64(1) << 40}, err: "REPEAT: result longer than"},
		// REVERSE
		{fn: "REVERSE", args: []any{"abc"}, want: "cba"},
		{fn: "REVERSE", args: []any{"añb日"}, want: "日bña"},
		// POSITION / LOCATE / INSTR
		{fn: "POSITION", args: []any{"bar", "foobarbar"}, want: int64(4)},
		{fn: "LOCATE", args: []any{"bar", "foobarbar"}, want: int64(4)},
		{fn: "LOCATE", args: []any{"xbar", "foobar"}, want: int64(0)},
		{fn: "LOCATE", args: []any{"bar", "foobarbar", 5}, want: int64(7)},
		{fn: "LOCATE", args: []any{"bar", "foobarbar", 0}, want: int64(0)},
		{fn: "LOCATE", args: []any{"", "abc"}, want: int64(1)},
		{fn: "LOCATE", args: []any{"", "abc", 4}, want: int64(4)},
		{fn: "LOCATE", args: []any{"", "abc", 5}, want: int64(0)},
		{fn: "LOCATE", args: []any{"ö", "föö", 3}, want: int64(3)},
		{fn: "INSTR", args: []any{"foobarbar", "bar"}, want: int64(4)},
		{fn: "INSTR", args: []any{"日本語", "語"}, want: int64(3)},
		{fn: "INSTR", args: []any{"xbar", "foobar"}, want: int64(0)},
		// SPLIT_INDEX (0-based, NULL out of range)
		{fn: "SPLIT_INDEX", args: []any{"Jack,John,Mary", ",", 2}, want: "Mary"},
		{fn: "SPLIT_INDEX", args: []any{"Jack,John,Mary", ",", 0}, want: "Jack"},
		{fn: "SPLIT_INDEX", args: []any{"Jack,John,Mary", ",", 3}, want: nil},
		{fn: "SPLIT_INDEX", args: []any{"Jack,John,Mary", ",", -1}, want: nil},
		{fn: "SPLIT_INDEX", args: []any{"a,,b", ",", 1}, want: ""},
		{fn: "SPLIT_INDEX", args: []any{"a::b::c", "::", 1}, want: "b"},
		{fn: "SPLIT_INDEX", args: []any{"abc", ";", 0}, want: "abc"},
		{fn: "SPLIT_INDEX", args: []any{"", ",", 0}, want: nil},
		{fn: "SPLIT_INDEX", args: []any{"a b", "", 1}, want: "b"},
		// REGEXP
		{fn: "REGEXP_LIKE", args: []any{"abc123", "^[a-z]+[0-9]+$"}, want: true},
		{fn: "REGEXP_LIKE", args: []any{"ABC", "abc"}, want: false},
		{fn: "REGEXP_LIKE", args: []any{"ABC", "abc", "i"}, want: true},
		{fn: "REGEXP_LIKE", args: []any{"ABC", "abc", "ic"}, want: false},
		{fn: "REGEXP_LIKE", args: []any{"a\nb", "^b$", "m"}, want: true},
		{fn: "REGEXP_LIKE", args: []any{"a", "a", "z"}, err: "REGEXP_LIKE: invalid match_type 'z'"},
		{fn: "REGEXP", args: []any{"hello", "l+"}, want: true},
		{fn: "RLIKE", args: []any{"hello", "^l"}, want: false},
		{fn: "REGEXP_LIKE", args: []any{"a", "a["}, err: "REGEXP_LIKE: invalid regular expression 'a[': missing closing ]"},
		{fn: "REGEXP_LIKE", args: []any{nullStr, "a"}, want: nil},
		{fn: "REGEXP_REPLACE", args: []any{"a1b22c333", "[0-9]+", "#"}, want: "a#b#c#"},
		{fn: "REGEXP_REPLACE", args: []any{"John Smith", "(\\w+) (\\w+)", "${2}, ${1}"}, want: "Smith, John"},
		{fn: "REGEXP_REPLACE", args: []any{"x", "(", "y"}, err: "REGEXP_REPLACE: invalid regular expression '('"},
		{fn: "REGEXP_EXTRACT", args: []any{"foothebar", "foo(.*?)(bar)", 2}, want: "bar"},
		{fn: "REGEXP_EXTRACT", args: []any{"foothebar", "foo(.*?)(bar)", 1}, want: "the"},
		{fn: "REGEXP_EXTRACT", args: []any{"foothebar", "foo(.*?)(bar)"}, want: "foothebar"},
		{fn: "REGEXP_EXTRACT", args: []any{"foothebar", "foo(.*?)(bar)", 3}, want: nil},
		{fn: "REGEXP_EXTRACT", args: []any{"foothebar", "foo(.*?)(bar)", -1}, want: nil},
		{fn: "REGEXP_EXTRACT", args: []any{"xyz", "foo"}, want: nil},
		{fn: "REGEXP_EXTRACT", args: []any{"ab", "a(x)?b", 1}, want: nil},
		// LIKE
		{fn: "LIKE", args: []any{"David!", "David_"}, want: true},
		{fn: "LIKE", args: []any{"David!", "%D%v%"}, want: true},
		{fn: "LIKE", args: []any{"David!", "david%"}, want: false},
		{fn: "LIKE", args: []any{"abc", "abc"}, want: true},
		{fn: "LIKE", args: []any{"abc", "ab"}, want: false},
		{fn: "LIKE", args: []any{"abc", "a%"}, want: true},
		{fn: "LIKE", args: []any{"abc", "%c"}, want: true},
		{fn: "LIKE", args: []any{"abc", "%b%"}, want: true},
		{fn: "LIKE", args: []any{"abc", "%"}, want: true},
		{fn: "LIKE", args: []any{"", "%"}, want: true},
		{fn: "LIKE", args: []any{"", "_"}, want: false},
		{fn: "LIKE", args: []any{"", ""}, want: true},
		{fn: "LIKE", args: []any{"日本", "__"}, want: true},
		{fn: "LIKE", args: []any{"日本", "_"}, want: false},
		{fn: "LIKE", args: []any{"aXbXc", "a%b%c"}, want: true},
		{fn: "LIKE", args: []any{"aXbXd", "a%b%c"}, want: false},
		{fn: "LIKE", args: []any{"mississippi", "%iss%ppi"}, want: true},
		{fn: "LIKE", args: []any{"mississippi", "m%%%i_s%i"}, want: true},
		{fn: "LIKE", args: []any{"abcabc", "%abc"}, want: true},
		{fn: "LIKE", args: []any{"10%", "10\\%"}, want: true},
		{fn: "LIKE", args: []any{"100", "10\\%"}, want: false},
		{fn: "LIKE", args: []any{"a_b", "a\\_b"}, want: true},
		{fn: "LIKE", args: []any{"axb", "a\\_b"}, want: false},
		{fn: "LIKE", args: []any{"a\\", "a\\"}, want: true},
		{fn: "LIKE", args: []any{"10%", "10|%", "|"}, want: true},
		{fn: "LIKE", args: []any{"10x", "10|%", "|"}, want: false},
		{fn: "LIKE", args: []any{"a\\b", "a\\b", ""}, want: true},
		{fn: "LIKE", args: []any{"a%", "a\\%", ""}, want: false},
		{fn: "LIKE", args: []any{"a", "a", "ab"}, err: "LIKE: ESCAPE must be a single character, got 'ab'"},
		{fn: "LIKE", args: []any{nullStr, "a"}, want: nil},
		{fn: "LIKE", args: []any{"a", nullStr}, want: nil},
	})
}

func TestStringSignatures(t *testing.T) {
	v, i := types.TVarchar, types.TInt
	runSigCases(t, []sigCase{
		{"SUBSTRING", tys(i), "SUBSTRING expects (VARCHAR, INT[, INT]), got (INT)"},
		{"SUBSTR", tys(v, v), "SUBSTR expects (VARCHAR, INT[, INT]), got (VARCHAR, VARCHAR)"},
		{"SUBSTRING", tys(i, i), "SUBSTRING expects (VARCHAR, INT[, INT]), got (INT, INT)"},
		{"UPPER", tys(i), "UPPER expects (VARCHAR), got (INT)"},
		{"LOWER", tys(v, v), "LOWER expects (VARCHAR), got (VARCHAR, VARCHAR)"},
		{"CONCAT", tys(), "CONCAT expects (ANY[, ANY...]), got ()"},
		{"CONCAT_WS", tys(v), "CONCAT_WS expects (VARCHAR separator, ANY[, ANY...]), got (VARCHAR)"},
		{"CONCAT_WS", tys(i, v), ""},
		{"REPLACE", tys(v, v), "REPLACE expects (VARCHAR, VARCHAR, VARCHAR), got (VARCHAR, VARCHAR)"},
		{"TRIM", tys(i), ""},
		{"LEFT", tys(v, v), "LEFT expects (VARCHAR, INT), got (VARCHAR, VARCHAR)"},
		{"RIGHT", tys(v), ""},
		{"LPAD", tys(v, i), "LPAD expects (VARCHAR, INT, VARCHAR), got (VARCHAR, INT)"},
		{"RPAD", tys(v, v, v), ""},
		{"REVERSE", tys(i), ""},
		{"LOCATE", tys(v), "LOCATE expects (VARCHAR substr, VARCHAR str[, INT pos]), got (VARCHAR)"},
		{"INSTR", tys(v, i), ""},
		{"POSITION", tys(v, i), ""},
		{"SPLIT_INDEX", tys(v, v), "SPLIT_INDEX expects (VARCHAR, VARCHAR delimiter, INT index), got (VARCHAR, VARCHAR)"},
		{"REGEXP_LIKE", tys(v, i), "REGEXP_LIKE expects (VARCHAR, VARCHAR pattern[, VARCHAR match_type]), got (VARCHAR, INT)"},
		{"REGEXP", tys(v), ""},
		{"REGEXP_REPLACE", tys(v, v), ""},
		{"REGEXP_EXTRACT", tys(v, v, v), "REGEXP_EXTRACT expects (VARCHAR, VARCHAR pattern[, INT group]), got (VARCHAR, VARCHAR, VARCHAR)"},
		{"LIKE", tys(v), "LIKE expects (VARCHAR, VARCHAR pattern[, VARCHAR escape]), got (VARCHAR)"},
		{"LIKE", tys(i, v), ""},
	})
}

// TestLikeAgainstRegexp cross-checks the LIKE matcher with an equivalent
// regular expression over many generated patterns and inputs.
func TestLikeAgainstRegexp(t *testing.T) {
	alpha := []string{"a", "b", "é", "%", "_"}
	var patterns []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		patterns = append(patterns, prefix)
		if n == 0 {
			return
		}
		for _, c := range alpha {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	inputs := []string{""}
	for _, a := range []string{"a", "b", "é"} {
		for _, b := range []string{"", "a", "b", "é"} {
			for _, c := range []string{"", "a", "é"} {
				inputs = append(inputs, a+b+c, b+c+a+b)
			}
		}
	}
	for _, p := range patterns {
		var re strings.Builder
		re.WriteString("^(?s:")
		for _, r := range p {
			switch r {
			case '%':
				re.WriteString(".*")
			case '_':
				re.WriteString(".")
			default:
				re.WriteString(string(r))
			}
		}
		re.WriteString(")$")
		rx, err := CompileRegexp(re.String())
		if err != nil {
			t.Fatal(err)
		}
		m := compileLike(p, "\\")
		for _, in := range inputs {
			if got, want := m.match(in), rx.MatchString(in); got != want {
				t.Fatalf("%q LIKE %q = %v, want %v", in, p, got, want)
			}
		}
	}
}

func TestRegexpCompiledOncePerSite(t *testing.T) {
	call, err := newTestCall("REGEXP_LIKE", "abc", "b")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				v, err := call.Eval(nil)
				if err != nil || !v.B() {
					t.Error(v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := CompileRegexp("(("); err == nil {
		t.Fatal("CompileRegexp accepted a bad pattern")
	}
	if !MatchLike("a%b", "a\\%b", "\\") || MatchLike("axb", "a\\%b", "\\") {
		t.Fatal("MatchLike escape")
	}
}
