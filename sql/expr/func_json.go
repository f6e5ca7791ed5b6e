package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/weirsql/weir/sql/types"
)

// JSON support works on the text: a document is validated by one scan and
// navigated by skipping values, never unmarshalled into Go values.

const jsonMaxDepth = 512

func init() {
	fnRegister([]string{"JSON_EXTRACT"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR json, VARCHAR path[, VARCHAR path...])", args, 2, -1, argStr); err != nil {
			return types.Type{}, nil, err
		}
		memos := make([]siteMemo[[]jsonLeg], len(args)-1)
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			doc := a[0].S
			if err := jsonValidate(doc); err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			var out []string
			for k, p := range a[1:] {
				legs, err := memos[k].get(p.S, &jsonPathCache, compileJSONPath)
				if err != nil {
					return types.NullValue, fmt.Errorf("%s: %w", name, err)
				}
				if b, e, ok := jsonFind(doc, 0, legs); ok {
					if len(a) == 2 {
						return types.StringValue(doc[b:e]), nil
					}
					out = append(out, doc[b:e])
				}
			}
			if len(out) == 0 {
				return types.NullValue, nil
			}
			return types.StringValue("[" + strings.Join(out, ", ") + "]"), nil
		}, nil
	})
	fnRegister([]string{"JSON_VALUE"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR json, VARCHAR path)", args, 2, 2, argStr); err != nil {
			return types.Type{}, nil, err
		}
		var memo siteMemo[[]jsonLeg]
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			doc := a[0].S
			if err := jsonValidate(doc); err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			legs, err := memo.get(a[1].S, &jsonPathCache, compileJSONPath)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			b, e, ok := jsonFind(doc, 0, legs)
			if !ok {
				return types.NullValue, nil
			}
			switch doc[b] {
			case '{', '[', 'n': // objects, arrays and null have no scalar value
				return types.NullValue, nil
			case '"':
				s, err := jsonDecodeString(doc[b:e])
				if err != nil {
					return types.NullValue, fmt.Errorf("%s: %w", name, err)
				}
				return types.StringValue(s), nil
			}
			return types.StringValue(doc[b:e]), nil
		}, nil
	})
	fnSimple([]string{"JSON_UNQUOTE"}, "(VARCHAR)", types.TVarchar, 1, 1, []argClass{argStr}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			s := a[0].S
			if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
				return a[0], nil
			}
			if end, err := jsonSkipString(s, 0); err != nil || end != len(s) {
				return types.NullValue, fmt.Errorf("%s: invalid JSON string %s", name, LiteralString(a[0]))
			}
			u, err := jsonDecodeString(s)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.StringValue(u), nil
		}
	})
	fnSimple([]string{"JSON_QUOTE"}, "(VARCHAR)", types.TVarchar, 1, 1, []argClass{argStr}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.StringValue(jsonQuote(a[0].S)), nil
		}
	})
	fnSimple([]string{"JSON_VALID"}, "(VARCHAR)", types.TBool, 1, 1, []argClass{argStr}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.BoolValue(jsonValidate(a[0].S) == nil), nil
		}
	})
}

// ---- scanning ----

func jsonWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

type jsonSyntaxError struct {
	msg string
	pos int
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON text: %s at position %d", e.msg, e.pos)
}

func jsonErr(s string, i int, what string) error {
	if i >= len(s) {
		return &jsonSyntaxError{msg: "unexpected end of text, " + what, pos: i}
	}
	return &jsonSyntaxError{msg: fmt.Sprintf("unexpected %q, %s", s[i], what), pos: i}
}

// jsonValidate checks that s is exactly one JSON value (RFC 8259).
func jsonValidate(s string) error {
	i := jsonWS(s, 0)
	end, err := jsonSkip(s, i, 0)
	if err != nil {
		return err
	}
	if end = jsonWS(s, end); end != len(s) {
		return jsonErr(s, end, "expected end of text")
	}
	return nil
}

// jsonSkip validates the value starting at s[i] and returns where it ends.
func jsonSkip(s string, i, depth int) (int, error) {
	if i >= len(s) {
		return i, jsonErr(s, i, "expected a value")
	}
	switch c := s[i]; {
	case c == '"':
		return jsonSkipString(s, i)
	case c == '{' || c == '[':
		if depth >= jsonMaxDepth {
			return i, &jsonSyntaxError{msg: "document nested too deeply", pos: i}
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = jsonWS(s, i+1)
		if i < len(s) && s[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, jsonErr(s, i, "expected an object key")
				}
				end, err := jsonSkipString(s, i)
				if err != nil {
					return end, err
				}
				i = jsonWS(s, end)
				if i >= len(s) || s[i] != ':' {
					return i, jsonErr(s, i, "expected ':'")
				}
				i = jsonWS(s, i+1)
			}
			end, err := jsonSkip(s, i, depth+1)
			if err != nil {
				return end, err
			}
			i = jsonWS(s, end)
			if i < len(s) && s[i] == ',' {
				i = jsonWS(s, i+1)
				continue
			}
			if i < len(s) && s[i] == closer {
				return i + 1, nil
			}
			return i, jsonErr(s, i, fmt.Sprintf("expected ',' or '%c'", closer))
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonSkipNumber(s, i)
	case strings.HasPrefix(s[i:], "true"):
		return i + 4, nil
	case strings.HasPrefix(s[i:], "false"):
		return i + 5, nil
	case strings.HasPrefix(s[i:], "null"):
		return i + 4, nil
	}
	return i, jsonErr(s, i, "expected a value")
}

func jsonSkipString(s string, i int) (int, error) {
	start := i
	i++
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return i, jsonErr(s, i+1, "expected an escape")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) {
					return i, &jsonSyntaxError{msg: "truncated \\u escape", pos: i}
				}
				if _, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err != nil {
					return i, &jsonSyntaxError{msg: "invalid \\u escape", pos: i}
				}
				i += 6
			default:
				return i, &jsonSyntaxError{msg: fmt.Sprintf("invalid escape '\\%c'", s[i+1]), pos: i}
			}
		case c < 0x20:
			return i, &jsonSyntaxError{msg: "control character in string", pos: i}
		default:
			i++
		}
	}
	return i, &jsonSyntaxError{msg: "unterminated string", pos: start}
}

func jsonSkipNumber(s string, i int) (int, error) {
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, jsonErr(s, i, "expected a digit")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return i, jsonErr(s, i, "expected a digit")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, jsonErr(s, i, "expected a digit")
		}
	}
	return i, nil
}

// jsonDecodeString decodes a validated string token, quotes included.
func jsonDecodeString(raw string) (string, error) {
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch body[i] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r1, _ := strconv.ParseUint(body[i+1:i+5], 16, 16)
			i += 4
			r := rune(r1)
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					if r2, err := strconv.ParseUint(body[i+3:i+7], 16, 16); err == nil {
						if d := utf16.DecodeRune(rune(r1), rune(r2)); d != utf8.RuneError {
							r = d
							i += 6
						}
					}
				}
			}
			b.WriteRune(r)
		default: // " \ /
			b.WriteByte(body[i])
		}
	}
	return b.String(), nil
}

// jsonQuote writes s as a JSON string literal.
func jsonQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ---- paths ----

// jsonLeg is one step of a path: a member name or an array index
// (fromLast: counted from the end, $[last-N]).
type jsonLeg struct {
	key      string
	isKey    bool
	index    int
	fromLast bool
}

var jsonPathCache patternCache[[]jsonLeg]

// compileJSONPath parses MySQL path syntax: $, .key, ."quoted key", [N],
// [last], [last-N]. Wildcards and ranges are refused.
func compileJSONPath(p string) ([]jsonLeg, error) {
	bad := func(why string, i int) error {
		return fmt.Errorf("invalid JSON path %s: %s at position %d", LiteralString(types.StringValue(p)), why, i)
	}
	wild := func() error {
		return fmt.Errorf("wildcards (* and **) and ranges are not supported in JSON path %s", LiteralString(types.StringValue(p)))
	}
	i := jsonWS(p, 0)
	if i >= len(p) || p[i] != '$' {
		return nil, bad("expected '$'", i)
	}
	i++
	legs := []jsonLeg{}
	for {
		i = jsonWS(p, i)
		if i >= len(p) {
			return legs, nil
		}
		switch p[i] {
		case '.':
			i = jsonWS(p, i+1)
			switch {
			case i >= len(p):
				return nil, bad("expected a member name", i)
			case p[i] == '*':
				return nil, wild()
			case p[i] == '"':
				end, err := jsonSkipString(p, i)
				if err != nil {
					return nil, bad("bad quoted member name", i)
				}
				k, _ := jsonDecodeString(p[i:end])
				legs = append(legs, jsonLeg{key: k, isKey: true})
				i = end
			default:
				j := i
				for j < len(p) {
					c := p[j]
					if c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && j > i) {
						j++
						continue
					}
					break
				}
				if j == i {
					return nil, bad("expected a member name", i)
				}
				legs = append(legs, jsonLeg{key: p[i:j], isKey: true})
				i = j
			}
		case '[':
			i = jsonWS(p, i+1)
			leg := jsonLeg{}
			if i < len(p) && p[i] == '*' {
				return nil, wild()
			}
			if strings.HasPrefix(p[i:], "last") {
				leg.fromLast = true
				i = jsonWS(p, i+4)
				if i < len(p) && p[i] == '-' {
					i = jsonWS(p, i+1)
					n, j, ok := pathInt(p, i)
					if !ok {
						return nil, bad("expected an index", i)
					}
					leg.index, i = n, j
				}
			} else {
				n, j, ok := pathInt(p, i)
				if !ok {
					return nil, bad("expected an index", i)
				}
				leg.index, i = n, j
			}
			i = jsonWS(p, i)
			if strings.HasPrefix(p[i:], "to") {
				return nil, wild()
			}
			if i >= len(p) || p[i] != ']' {
				return nil, bad("expected ']'", i)
			}
			i++
			legs = append(legs, leg)
		case '*':
			return nil, wild()
		default:
			return nil, bad(fmt.Sprintf("unexpected %q", p[i]), i)
		}
	}
}

func pathInt(p string, i int) (int, int, bool) {
	j, n := i, 0
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		if n < 1e9 {
			n = n*10 + int(p[j]-'0')
		}
		j++
	}
	return n, j, j > i
}

// jsonKeyIs compares a raw key token (quotes included) with a name.
func jsonKeyIs(raw, key string) bool {
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body == key
	}
	k, _ := jsonDecodeString(raw)
	return k == key
}

// jsonFind follows legs from the value at s[i] in a validated document and
// returns the span of the match. When an object repeats a key the last one
// wins (as in MySQL); [0] and [last] on a non-array select the value itself
// (MySQL's auto-wrapping).
func jsonFind(s string, i int, legs []jsonLeg) (int, int, bool) {
	i = jsonWS(s, i)
	if len(legs) == 0 {
		end, _ := jsonSkip(s, i, 0)
		return i, end, true
	}
	leg := legs[0]
	if leg.isKey {
		if s[i] != '{' {
			return 0, 0, false
		}
		found := -1
		j := jsonWS(s, i+1)
		for s[j] != '}' {
			kend, _ := jsonSkipString(s, j)
			key := s[j:kend]
			j = jsonWS(s, jsonWS(s, kend)+1) // past ':'
			if jsonKeyIs(key, leg.key) {
				found = j
			}
			vend, _ := jsonSkip(s, j, 0)
			j = jsonWS(s, vend)
			if s[j] == ',' {
				j = jsonWS(s, j+1)
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		return jsonFind(s, found, legs[1:])
	}
	if s[i] != '[' {
		if leg.index == 0 {
			return jsonFind(s, i, legs[1:])
		}
		return 0, 0, false
	}
	target := leg.index
	if leg.fromLast {
		n := 0
		jsonEachElement(s, i, func(int) bool { n++; return true })
		target = n - 1 - leg.index
		if target < 0 {
			return 0, 0, false
		}
	}
	at := -1
	k := 0
	jsonEachElement(s, i, func(start int) bool {
		if k == target {
			at = start
			return false
		}
		k++
		return true
	})
	if at < 0 {
		return 0, 0, false
	}
	return jsonFind(s, at, legs[1:])
}

// jsonEachElement calls f with the start of each element of the array at
// s[i] until f returns false.
func jsonEachElement(s string, i int, f func(start int) bool) {
	j := jsonWS(s, i+1)
	for s[j] != ']' {
		if !f(j) {
			return
		}
		end, _ := jsonSkip(s, j, 0)
		j = jsonWS(s, end)
		if s[j] == ',' {
			j = jsonWS(s, j+1)
		}
	}
}
