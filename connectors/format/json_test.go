package format

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func allSchema() *types.Schema {
	return &types.Schema{Cols: []types.Column{
		{Name: "i", Type: types.TInt},
		{Name: "b", Type: types.TBigInt},
		{Name: "d", Type: types.TDouble},
		{Name: "m", Type: types.TDecimal(10, 2)},
		{Name: "ok", Type: types.TBool},
		{Name: "s", Type: types.TVarchar},
		{Name: "ts", Type: types.TTimestamp},
	}}
}

func mustJSON(t testing.TB, s *types.Schema, o JSONOptions) *JSONDecoder {
	t.Helper()
	d, err := NewJSONDecoder(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decodeJSON(t *testing.T, d *JSONDecoder, n int, in string) types.Row {
	t.Helper()
	row := make(types.Row, n)
	if err := d.Decode([]byte(in), row); err != nil {
		t.Fatalf("Decode(%s): %v", in, err)
	}
	return row
}

func ts(s string) types.Value {
	ms, ok := types.ParseTimestamp(s)
	if !ok {
		panic(s)
	}
	return types.TimestampValue(ms)
}

func sameRow(a, b types.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJSONDecodeBid(t *testing.T) {
	d := mustJSON(t, bidSchema(), JSONOptions{})
	for k := 0; k < 3; k++ { // again with warm key predictions
		row := decodeJSON(t, d, 4, `{"auction":1001,"bidder":2001,"price":-35,"ts":"2026-01-01T00:00:01.123Z"}`)
		want := types.Row{types.BigIntValue(1001), types.BigIntValue(2001), types.BigIntValue(-35), types.TimestampValue(1767225601123)}
		if !sameRow(row, want) {
			t.Fatalf("got %v want %v", row, want)
		}
	}
	// other layouts after the predictor has learned one
	row := decodeJSON(t, d, 4, ` { "ts" : 1767225601123 , "PRICE":7, "extra":{"a":[1,{"}":"\"}"}],"b":null}, "auction": "12" } `)
	want := types.Row{types.BigIntValue(12), {}, types.BigIntValue(7), types.TimestampValue(1767225601123)}
	if !sameRow(row, want) {
		t.Fatalf("got %v want %v", row, want)
	}
	row = decodeJSON(t, d, 4, `{}`)
	if !sameRow(row, make(types.Row, 4)) {
		t.Fatalf("got %v", row)
	}
}

func TestJSONDecodeTypes(t *testing.T) {
	d := mustJSON(t, allSchema(), JSONOptions{})
	cases := []struct {
		in   string
		col  int
		want types.Value
	}{
		{`{"i":-2147483648}`, 0, types.IntValue(-2147483648)},
		{`{"i":"42"}`, 0, types.IntValue(42)},
		{`{"i":1e3}`, 0, types.IntValue(1000)},
		{`{"b":9223372036854775807}`, 1, types.BigIntValue(9223372036854775807)},
		{`{"b":-9223372036854775808}`, 1, types.BigIntValue(-9223372036854775808)},
		{`{"b":2.50e1}`, 1, types.BigIntValue(25)},
		{`{"b":" 7 "}`, 1, types.BigIntValue(7)},
		{`{"b":-0}`, 1, types.BigIntValue(0)},
		{`{"d":1.5}`, 2, types.DoubleValue(1.5)},
		{`{"d":-0.1}`, 2, types.DoubleValue(-0.1)},
		{`{"d":12345678901234567890}`, 2, types.DoubleValue(12345678901234567890)},
		{`{"d":1e-300}`, 2, types.DoubleValue(1e-300)},
		{`{"d":"Infinity"}`, 2, types.DoubleValue(posInf())},
		{`{"m":12.345}`, 3, types.DecimalValue(1235, 2)},
		{`{"m":-12.345}`, 3, types.DecimalValue(-1235, 2)},
		{`{"m":12.344999}`, 3, types.DecimalValue(1234, 2)},
		{`{"m":0.005}`, 3, types.DecimalValue(1, 2)},
		{`{"m":0.0049}`, 3, types.DecimalValue(0, 2)},
		{`{"m":12}`, 3, types.DecimalValue(1200, 2)},
		{`{"m":1.5e2}`, 3, types.DecimalValue(15000, 2)},
		{`{"m":123E-4}`, 3, types.DecimalValue(1, 2)},
		{`{"m":"99999999.99"}`, 3, types.DecimalValue(9999999999, 2)},
		{`{"m":0e999999999999}`, 3, types.DecimalValue(0, 2)},
		{`{"m":1e-999999999999}`, 3, types.DecimalValue(0, 2)},
		{`{"ok":true}`, 4, types.BoolValue(true)},
		{`{"ok":false}`, 4, types.BoolValue(false)},
		{`{"ok":"TRUE"}`, 4, types.BoolValue(true)},
		{`{"s":"plain"}`, 5, types.StringValue("plain")},
		{`{"s":""}`, 5, types.StringValue("")},
		{`{"s":"a\"b\\c\/d\b\f\n\r\t"}`, 5, types.StringValue("a\"b\\c/d\b\f\n\r\t")},
		{`{"s":"caf\u00e9 \u00E9"}`, 5, types.StringValue("café é")},
		{`{"s":"\ud83d\ude00!"}`, 5, types.StringValue("😀!")},
		{`{"s":"\ud800x"}`, 5, types.StringValue("\uFFFDx")},
		{`{"s":"\udc00\ud800\u0041"}`, 5, types.StringValue("\uFFFD\uFFFDA")},
		{`{"s":"\ud83d\u0041"}`, 5, types.StringValue("\uFFFDA")},
		{`{"s":"日本語"}`, 5, types.StringValue("日本語")},
		{`{"s":{"a": [1, 2], "b":"}"}}`, 5, types.StringValue(`{"a": [1, 2], "b":"}"}`)},
		{`{"s":[]}`, 5, types.StringValue(`[]`)},
		{`{"s":12.50}`, 5, types.StringValue(`12.50`)},
		{`{"s":true}`, 5, types.StringValue(`true`)},
		{`{"s":null}`, 5, types.Value{}},
		{`{"s":"x","s":null}`, 5, types.Value{}},
		{`{"s":null,"s":"y"}`, 5, types.StringValue("y")},
		{`{"ts":"2026-01-01T00:00:01.123Z"}`, 6, types.TimestampValue(1767225601123)},
		{`{"ts":"2026-01-01 00:00:01"}`, 6, types.TimestampValue(1767225601000)},
		{`{"ts":"2026-01-01T02:00:01.123+02:00"}`, 6, types.TimestampValue(1767225601123)},
		{`{"ts":"2026-01-01"}`, 6, types.TimestampValue(1767225600000)},
		{`{"ts":1767225601123}`, 6, types.TimestampValue(1767225601123)},
		{`{"ts":"1767225601123"}`, 6, types.TimestampValue(1767225601123)},
		{`{"ts":"1969-12-31T23:59:59.999Z"}`, 6, types.TimestampValue(-1)},
		{`{"ts":"2024-02-29 12:34:56.7891"}`, 6, ts("2024-02-29 12:34:56.789")},
	}
	for _, c := range cases {
		row := decodeJSON(t, d, 7, c.in)
		got := row[c.col]
		if got != c.want && !(c.want.Kind == types.Double && got.Kind == types.Double && got.F() == c.want.F()) {
			t.Errorf("%s: got %#v want %#v", c.in, got, c.want)
		}
		for i, v := range row {
			if i != c.col && !v.IsNull() {
				t.Errorf("%s: column %d = %v, want NULL", c.in, i, v)
			}
		}
	}
}

func posInf() float64 { f := 1e308; return f * 10 }

func TestJSONDecodeErrors(t *testing.T) {
	d := mustJSON(t, allSchema(), JSONOptions{})
	cases := []struct{ in, want string }{
		{`{"b":"abc"}`, `column b: cannot decode "abc" as BIGINT`},
		{`{"i":3000000000}`, `column i: 3000000000 is out of range for INT`},
		{`{"i":"3000000000"}`, `column i: "3000000000" is out of range for INT`},
		{`{"b":9223372036854775808}`, `column b: 9223372036854775808 is out of range for BIGINT`},
		{`{"b":1.5}`, `column b: cannot decode 1.5 as BIGINT`},
		{`{"b":{"x":1}}`, `column b: cannot decode {"x":1} as BIGINT`},
		{`{"b":true}`, `column b: cannot decode true as BIGINT`},
		{`{"d":1e400}`, `column d: 1e400 is out of range for DOUBLE`},
		{`{"d":"x"}`, `column d: cannot decode "x" as DOUBLE`},
		{`{"m":100000000}`, `column m: 100000000 is out of range for DECIMAL(10,2)`},
		{`{"m":99999999.995}`, `column m: 99999999.995 is out of range for DECIMAL(10,2)`},
		{`{"m":1e30}`, `column m: 1e30 is out of range for DECIMAL(10,2)`},
		{`{"ok":1}`, `column ok: cannot decode 1 as BOOLEAN`},
		{`{"ok":"yes"}`, `column ok: cannot decode "yes" as BOOLEAN`},
		{`{"ts":"abc"}`, `column ts: cannot decode "abc" as TIMESTAMP(3)`},
		{`{"ts":"2026-02-30 00:00:00"}`, `column ts: cannot decode "2026-02-30 00:00:00" as TIMESTAMP(3)`},
		{`{"ts":[1]}`, `column ts: cannot decode [1] as TIMESTAMP(3)`},
		{``, `invalid JSON at byte 0: unexpected end of input, expected '{' (each record must be a JSON object)`},
		{`[1]`, `invalid JSON at byte 0: unexpected '[', expected '{' (each record must be a JSON object)`},
		{`{"b":1,}`, `invalid JSON at byte 7: unexpected '}', expected a string key`},
		{`{"b":1`, `invalid JSON at byte 6: unexpected end of input, expected ',' or '}' in an object`},
		{`{"b" 1}`, `invalid JSON at byte 5: unexpected '1', expected ':' after an object key`},
		{`{"b":1} x`, `invalid JSON at byte 8: unexpected data after the top-level object`},
		{`{"b":01}`, `invalid JSON at byte 6: unexpected '1', expected ',' or '}' in an object`},
		{`{"b":-}`, `invalid JSON at byte 5: invalid number`},
		{`{"x":tru}`, `invalid JSON at byte 5: unexpected 't', expected a value`},
		{`{"s":"a\qb"}`, `invalid JSON at byte 7: invalid escape "\\q"`},
		{`{"s":"a\u12"}`, `invalid JSON at byte 7: invalid \u escape`},
		{"{\"s\":\"a\nb\"}", `invalid JSON at byte 7: control character in string`},
		{`{"s":"abc`, `invalid JSON at byte 9: unterminated string`},
		{`{"x":[1,2}`, `invalid JSON at byte 9: unexpected '}', expected ',' or ']'`},
		{`{"x":{"a":1]}`, `invalid JSON at byte 11: unexpected ']', expected ',' or '}'`},
	}
	for _, c := range cases {
		row := make(types.Row, 7)
		err := d.Decode([]byte(c.in), row)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got  %v\n want %s", c.in, err, c.want)
		}
	}
	var fe *FieldError
	if err := d.Decode([]byte(`{"b":"abc"}`), make(types.Row, 7)); !errors.As(err, &fe) || fe.Column != "b" {
		t.Errorf("want a *FieldError for column b, got %#v", err)
	}
	var se *SyntaxError
	if err := d.Decode([]byte(`{"b":1,}`), make(types.Row, 7)); !errors.As(err, &se) || se.Offset != 7 {
		t.Errorf("want a *SyntaxError at 7, got %#v", err)
	}
	if err := d.Decode([]byte(`{}`), make(types.Row, 3)); err == nil {
		t.Error("want an error for a short row")
	}
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if err := d.Decode([]byte(`{"x":`+deep+`}`), make(types.Row, 7)); err == nil || !strings.Contains(err.Error(), "nesting too deep") {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestJSONDecodeKeys(t *testing.T) {
	s := &types.Schema{Cols: []types.Column{
		{Name: "userId", Type: types.TBigInt},
		{Name: "a", Type: types.TBigInt},
		{Name: "A", Type: types.TBigInt},
		{Name: "Größe", Type: types.TBigInt},
	}}
	d := mustJSON(t, s, JSONOptions{})
	cases := []struct {
		in   string
		want types.Row
	}{
		{`{"userId":1,"a":2,"A":3,"Größe":4}`, types.Row{types.BigIntValue(1), types.BigIntValue(2), types.BigIntValue(3), types.BigIntValue(4)}},
		{`{"USERID":1,"userid":5}`, types.Row{types.BigIntValue(5), {}, {}, {}}},
		{`{"user\u0049d":7}`, types.Row{types.BigIntValue(7), {}, {}, {}}},
		{`{"GRÖSSE":1,"gröSSe":2}`, types.Row{{}, {}, {}, {}}},
		{`{"GRÖßE":9}`, types.Row{{}, {}, {}, types.BigIntValue(9)}},
		{`{"A":3}`, types.Row{{}, {}, types.BigIntValue(3), {}}},
		{`{"a\"":3,"\u0061":4}`, types.Row{{}, types.BigIntValue(4), {}, {}}},
	}
	for round := 0; round < 2; round++ {
		for _, c := range cases {
			if got := decodeJSON(t, d, 4, c.in); !sameRow(got, c.want) {
				t.Errorf("%s: got %v want %v", c.in, got, c.want)
			}
		}
	}
}

func TestJSONDecodePaths(t *testing.T) {
	s := &types.Schema{Cols: []types.Column{
		{Name: "id", Type: types.TBigInt},
		{Name: "city", Type: types.TVarchar},
		{Name: "user", Type: types.TVarchar},
		{Name: "zip", Type: types.TInt},
	}}
	o, err := ParseJSONOptions(s, map[string]string{"json.path.city": "user.address.city", "json.path.zip": "$.user.address.zip", "path": "x"})
	if err != nil {
		t.Fatal(err)
	}
	d := mustJSON(t, s, o)
	row := decodeJSON(t, d, 4, `{"id":1,"user":{"name":"x","address":{"zip":12345,"city":"Paris","more":[1]}}}`)
	want := types.Row{types.BigIntValue(1), types.StringValue("Paris"),
		types.StringValue(`{"name":"x","address":{"zip":12345,"city":"Paris","more":[1]}}`), types.IntValue(12345)}
	if !sameRow(row, want) {
		t.Fatalf("got %v want %v", row, want)
	}
	row = decodeJSON(t, d, 4, `{"id":2,"user":"flat"}`)
	want = types.Row{types.BigIntValue(2), {}, types.StringValue("flat"), {}}
	if !sameRow(row, want) {
		t.Fatalf("got %v want %v", row, want)
	}
	if _, err := ParseJSONOptions(s, map[string]string{"json.path.nope": "a"}); err == nil {
		t.Error("want an error for a path of an unknown column")
	}
	if _, err := NewJSONDecoder(s, JSONOptions{Paths: map[string][]string{"city": {"id"}}}); err == nil ||
		err.Error() != "columns id and city both read JSON field 'id'" {
		t.Errorf("got %v", err)
	}
}

// TestTimestampParser checks the cached parser against types.ParseTimestamp.
func TestTimestampParser(t *testing.T) {
	var p tsParser
	in := []string{
		"2026-01-01T00:00:01.123Z", "2026-01-01T00:00:02.5Z", "2026-01-01T00:00:59.999999Z", "2026-01-01 00:00:60",
		"2026-01-01T00:01:00Z", "2026-01-01T00:01:00.Z", "2026-01-01T00:01:61Z", "2026-01-01T00:01:0aZ",
		"2024-02-29 23:59:59.999", "2023-02-29 00:00:00", "2026-13-01 00:00:00", "2026-01-01T24:00:00Z",
		"2026-01-01T00:00:01+01:00", "2026-01-01t00:00:01Z", "0000-01-01 00:00:00", "9999-12-31 23:59:59.999",
		"1900-03-01 00:00:00", "1970-01-01 00:00:00", "2026-01-01 00:00:01Zx", "2026-01-01", "x", "",
		"2026-01-01T00:00", "2026-01-01T00:00:1", "2026-01-01T00:00:01.123456789Z",
	}
	for round := 0; round < 2; round++ {
		for _, s := range in {
			ms, ok := p.parse([]byte(s))
			wms, wok := types.ParseTimestamp(s)
			if ms != wms || ok != wok {
				t.Errorf("%q: got %d,%v want %d,%v", s, ms, ok, wms, wok)
			}
		}
	}
}

// FuzzJSONDecoder: never panic; accept only valid JSON; reject valid JSON
// objects only with a FieldError (or too deep nesting).
func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"auction":1001,"bidder":2001,"price":1234,"ts":"2026-01-01T00:00:01.123Z"}`,
		`{"i":1,"b":-2,"d":1.5e3,"m":"12.345","ok":true,"s":"\ud83d\ude00\n","ts":17}`,
		`{"s":{"a":[1,{"b":null}]},"x":[[],{}],"m":1e-5}`,
		`{"user":{"address":{"city":"P"}},"zip":"1"}`,
		`{"ts":"2026-01-01 00:00:00.000"}`, `{}`, `[]`, `{"a":"\u00`,
	} {
		f.Add([]byte(s))
	}
	s := allSchema()
	s.Cols = append(s.Cols, types.Column{Name: "city", Type: types.TVarchar}, types.Column{Name: "zip", Type: types.TInt})
	d := mustJSON(f, s, JSONOptions{Paths: map[string][]string{"city": {"user", "address", "city"}, "zip": {"user", "zip"}}})
	row := make(types.Row, s.Len())
	f.Fuzz(func(t *testing.T, data []byte) {
		err := d.Decode(data, row)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var se *SyntaxError
		if err != nil && errors.As(err, &se) && valid && strings.HasPrefix(strings.TrimLeft(string(data), " \t\r\n"), "{") &&
			!strings.Contains(se.Msg, "nesting") {
			t.Fatalf("rejected valid JSON %q: %v", data, err)
		}
		if err == nil {
			// and the row survives re-encoding
			enc := NewJSONEncoder(s, JSONOptions{})
			out, err := enc.Encode(nil, row, types.Insert)
			if err != nil || !json.Valid(out) {
				t.Fatalf("re-encoding %v: %s %v", row, out, err)
			}
		}
	})
}

// FuzzCSVDecoder: never panic.
func FuzzCSVDecoder(f *testing.F) {
	for _, s := range []string{`1,2,1.5,12.3,true,"a""b",2026-01-01 00:00:00`, `,,,,,,`, `"x`, `"a"b,`} {
		f.Add([]byte(s))
	}
	d, err := NewCSVDecoder(allSchema(), CSVOptions{})
	if err != nil {
		f.Fatal(err)
	}
	row := make(types.Row, 7)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = d.Decode(data, row)
	})
}
