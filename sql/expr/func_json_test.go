package expr

import (
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestJSONFunctions(t *testing.T) {
	nullStr := ta(types.NullValue, types.TVarchar)
	doc := `{"a": 1, "b": {"c": [10, 20, {"d": "x"}]}, "key with space": true, "s": "q\"uo\u00e9", "n": null, "f": -1.5e3}`
	runCases(t, []fcase{
		{fn: "JSON_EXTRACT", args: []any{`{"a":"x"}`, "$.a"}, want: `"x"`},
		{fn: "JSON_EXTRACT", args: []any{doc, "$"}, want: doc},
		{fn: "JSON_EXTRACT", args: []any{" [1, 2] ", "$"}, want: "[1, 2]"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a"}, want: "1"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b"}, want: `{"c": [10, 20, {"d": "x"}]}`},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c"}, want: `[10, 20, {"d": "x"}]`},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[1]"}, want: "20"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[2].d"}, want: `"x"`},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[last]"}, want: `{"d": "x"}`},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[last-2]"}, want: "10"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[last-3]"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.b.c[3]"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{doc, `$."key with space"`}, want: "true"},
		{fn: "JSON_EXTRACT", args: []any{doc, `$.s`}, want: `"q\"uo\u00e9"`},
		{fn: "JSON_EXTRACT", args: []any{doc, `$.n`}, want: "null"},
		{fn: "JSON_EXTRACT", args: []any{doc, `$.f`}, want: "-1.5e3"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.missing"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a.b"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{doc, "$[0]"}, want: doc},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a[0]"}, want: "1"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a[1]"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{`[[1,2],[3,4]]`, "$[1][0]"}, want: "3"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1,"a":2}`, "$.a"}, want: "2"},
		{fn: "JSON_EXTRACT", args: []any{`{"\u0061":5}`, "$.a"}, want: "5"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1,"b":2}`, "$.a", "$.b"}, want: "[1, 2]"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1,"b":2}`, "$.a", "$.zz"}, want: "[1]"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1,"b":2}`, "$.x", "$.zz"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{`{"a" : { } , "b" : [ ] }`, "$.b"}, want: "[ ]"},
		{fn: "JSON_EXTRACT", args: []any{nullStr, "$.a"}, want: nil},
		{fn: "JSON_EXTRACT", args: []any{doc, nullStr}, want: nil},
		// invalid JSON is a data error
		{fn: "JSON_EXTRACT", args: []any{`{"a":}`, "$.a"}, err: "JSON_EXTRACT: invalid JSON text: unexpected '}', expected a value at position 5"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1`, "$.a"}, err: "invalid JSON text: unexpected end of text"},
		{fn: "JSON_EXTRACT", args: []any{`{"a":1} x`, "$.a"}, err: "expected end of text"},
		{fn: "JSON_EXTRACT", args: []any{``, "$"}, err: "invalid JSON text"},
		{fn: "JSON_EXTRACT", args: []any{`[01]`, "$"}, err: "invalid JSON text"},
		{fn: "JSON_EXTRACT", args: []any{`["a\x"]`, "$"}, err: "invalid escape"},
		{fn: "JSON_EXTRACT", args: []any{"[\"a\nb\"]", "$"}, err: "control character"},
		{fn: "JSON_EXTRACT", args: []any{`[tru]`, "$"}, err: "invalid JSON text"},
		{fn: "JSON_EXTRACT", args: []any{`{1:2}`, "$"}, err: "expected an object key"},
		{fn: "JSON_EXTRACT", args: []any{strings.Repeat("[", 600) + strings.Repeat("]", 600), "$"}, err: "nested too deeply"},
		// bad paths
		{fn: "JSON_EXTRACT", args: []any{doc, "a"}, err: "JSON_EXTRACT: invalid JSON path 'a': expected '$' at position 0"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a["}, err: "invalid JSON path '$.a[': expected an index at position 4"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.a[1"}, err: "expected ']'"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$."}, err: "expected a member name"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.1a"}, err: "expected a member name"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$.*"}, err: "JSON_EXTRACT: wildcards (* and **) and ranges are not supported in JSON path '$.*'"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$[*]"}, err: "wildcards"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$**.a"}, err: "wildcards"},
		{fn: "JSON_EXTRACT", args: []any{doc, "$[0 to 1]"}, err: "ranges"},
		// JSON_UNQUOTE
		{fn: "JSON_UNQUOTE", args: []any{`"x"`}, want: "x"},
		{fn: "JSON_UNQUOTE", args: []any{`"q\"uo\u00e9\n"`}, want: "q\"uoé\n"},
		{fn: "JSON_UNQUOTE", args: []any{`"\ud83d\ude00"`}, want: "😀"},
		{fn: "JSON_UNQUOTE", args: []any{`"\ud83d"`}, want: "\uFFFD"},
		{fn: "JSON_UNQUOTE", args: []any{`abc`}, want: "abc"},
		{fn: "JSON_UNQUOTE", args: []any{`[1]`}, want: "[1]"},
		{fn: "JSON_UNQUOTE", args: []any{`"`}, want: `"`},
		{fn: "JSON_UNQUOTE", args: []any{`"a"b"`}, err: `JSON_UNQUOTE: invalid JSON string '"a"b"'`},
		{fn: "JSON_UNQUOTE", args: []any{nullStr}, want: nil},
		// JSON_VALUE
		{fn: "JSON_VALUE", args: []any{doc, "$.s"}, want: "q\"uoé"},
		{fn: "JSON_VALUE", args: []any{doc, "$.a"}, want: "1"},
		{fn: "JSON_VALUE", args: []any{doc, `$."key with space"`}, want: "true"},
		{fn: "JSON_VALUE", args: []any{doc, "$.b"}, want: nil},
		{fn: "JSON_VALUE", args: []any{doc, "$.b.c"}, want: nil},
		{fn: "JSON_VALUE", args: []any{doc, "$.n"}, want: nil},
		{fn: "JSON_VALUE", args: []any{doc, "$.nope"}, want: nil},
		{fn: "JSON_VALUE", args: []any{"{", "$.nope"}, err: "JSON_VALUE: invalid JSON text"},
		// JSON_QUOTE / JSON_VALID
		{fn: "JSON_QUOTE", args: []any{"a\"b\\c\n\x01é"}, want: `"a\"b\\c\n\u0001é"`},
		{fn: "JSON_VALID", args: []any{`{"a":[1,2,{"b":null}]}`}, want: true},
		{fn: "JSON_VALID", args: []any{`{"a":[1,2,{"b":nul}]}`}, want: false},
		{fn: "JSON_VALID", args: []any{`-0.5E-7`}, want: true},
		{fn: "JSON_VALID", args: []any{`.5`}, want: false},
		{fn: "JSON_VALID", args: []any{`1.`}, want: false},
	})
}

func TestJSONSignatures(t *testing.T) {
	v, i := types.TVarchar, types.TInt
	runSigCases(t, []sigCase{
		{"JSON_EXTRACT", tys(v), "JSON_EXTRACT expects (VARCHAR json, VARCHAR path[, VARCHAR path...]), got (VARCHAR)"},
		{"JSON_EXTRACT", tys(v, i), "JSON_EXTRACT expects (VARCHAR json, VARCHAR path[, VARCHAR path...]), got (VARCHAR, INT)"},
		{"JSON_VALUE", tys(v, v, v), "JSON_VALUE expects (VARCHAR json, VARCHAR path), got (VARCHAR, VARCHAR, VARCHAR)"},
		{"JSON_UNQUOTE", tys(i), "JSON_UNQUOTE expects (VARCHAR), got (INT)"},
		{"JSON_QUOTE", tys(), ""},
		{"JSON_VALID", tys(i), ""},
	})
}

func TestJSONQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "tab\there", "quote\"back\\slash", "ctl\x00\x1f", "日本"} {
		q := jsonQuote(s)
		if err := jsonValidate(q); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		u, err := jsonDecodeString(q)
		if err != nil || u != s {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, q, u, err)
		}
	}
}
