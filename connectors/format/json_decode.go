package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/weirsql/weir/sql/types"
)

// maxJSONDepth bounds the nesting of objects and arrays in a record.
const maxJSONDepth = 1000

// maxPredicted is how many field positions per object the key predictor
// remembers.
const maxPredicted = 64

// strSafe[c] is true for bytes that may appear literally inside a JSON
// string and need no attention: everything except '"', '\\' and control
// characters.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// jsonNode is an object key the decoder cares about: a column, a step on
// a column's nested path, or both.
type jsonNode struct {
	name     string     // the key as declared (column name or path segment)
	col      int        // column index, or -1
	children *jsonTable // non-nil when a nested path continues below this key
}

// orderSlot predicts the key at one field position of an object from the
// previous records (records of one stream nearly always share a layout),
// so the common case costs one bytes-to-string comparison.
type orderSlot struct {
	key  string
	node *jsonNode // nil: a key that is known to be unwanted
	set  bool
	raw  bool // key had no escapes: it can be compared with the input bytes directly
}

// jsonTable maps the keys of one object level to nodes.
type jsonTable struct {
	nodes    []*jsonNode
	exact    map[string]*jsonNode
	fold     map[string]*jsonNode // ASCII-lower-cased names, first column wins
	nonASCII bool                 // some name has non-ASCII bytes: fall back to EqualFold
	order    []orderSlot
}

func newJSONTable() *jsonTable {
	return &jsonTable{exact: map[string]*jsonNode{}, fold: map[string]*jsonNode{}}
}

func (t *jsonTable) add(nd *jsonNode) {
	t.nodes = append(t.nodes, nd)
	t.exact[nd.name] = nd
	low := asciiLower(nd.name)
	if _, dup := t.fold[low]; !dup {
		t.fold[low] = nd
	}
	for i := 0; i < len(nd.name); i++ {
		if nd.name[i] >= utf8.RuneSelf {
			t.nonASCII = true
		}
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c-'A' < 26 {
			b[i] = c + 32
		}
	}
	return string(b)
}

// JSONDecoder decodes one JSON object per record, driven by the schema: it
// scans the record once, converting the values of wanted keys straight into
// the row and validating-and-skipping everything else. See the package doc
// for the conversion rules.
type JSONDecoder struct {
	types   []types.Type
	names   []string
	root    *jsonTable
	strCols []int  // VARCHAR columns
	buf     []byte // bytes of this record's VARCHAR values; one string per record
	tmp     []byte // unescaped keys and non-VARCHAR string values
	ts      tsParser
	lower   []byte // case-folded key
}

// NewJSONDecoder builds a decoder for schema.
func NewJSONDecoder(schema *types.Schema, o JSONOptions) (*JSONDecoder, error) {
	d := &JSONDecoder{root: newJSONTable()}
	for name := range o.Paths {
		if schema.Index(name) < 0 {
			return nil, fmt.Errorf("json path for unknown column '%s'", name)
		}
	}
	for ci, c := range schema.Cols {
		d.types = append(d.types, c.Type)
		d.names = append(d.names, c.Name)
		if c.Type.Kind == types.Varchar {
			d.strCols = append(d.strCols, ci)
		}
		path := []string{c.Name}
		for name, p := range o.Paths {
			if strings.EqualFold(name, c.Name) && len(p) > 0 {
				path = p
			}
		}
		t := d.root
		for k, seg := range path {
			nd := t.exact[seg]
			if nd == nil {
				nd = &jsonNode{name: seg, col: -1}
				t.add(nd)
			}
			if k < len(path)-1 {
				if nd.children == nil {
					nd.children = newJSONTable()
				}
				t = nd.children
				continue
			}
			if nd.col >= 0 {
				return nil, fmt.Errorf("columns %s and %s both read JSON field '%s'",
					schema.Cols[nd.col].Name, c.Name, strings.Join(path, "."))
			}
			nd.col = ci
		}
	}
	return d, nil
}

func jsonSyntax(off int, msg string) error {
	return &SyntaxError{Format: "JSON", Offset: off, Msg: msg}
}

func unexpected(b []byte, i int, what string) error {
	if i >= len(b) {
		return jsonSyntax(i, "unexpected end of input, expected "+what)
	}
	return jsonSyntax(i, fmt.Sprintf("unexpected %q, expected %s", rune(b[i]), what))
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Decode implements Decoder.
func (d *JSONDecoder) Decode(data []byte, row types.Row) error {
	if len(row) != len(d.types) {
		return fmt.Errorf("row has %d columns, schema has %d", len(row), len(d.types))
	}
	clear(row)
	d.buf = d.buf[:0]
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return unexpected(data, i, "'{' (each record must be a JSON object)")
	}
	i, err := d.object(data, i, d.root, row, 1)
	if err != nil {
		return err
	}
	if i = skipWS(data, i); i < len(data) {
		return jsonSyntax(i, "unexpected data after the top-level object")
	}
	// VARCHAR values hold their span of d.buf in I until here: make one
	// string for the record and slice every value out of it.
	if len(d.strCols) > 0 {
		s := string(d.buf)
		for _, c := range d.strCols {
			if v := row[c]; v.Kind == types.Varchar {
				row[c] = types.StringValue(s[v.I>>32 : v.I&0xffffffff])
			}
		}
	}
	return nil
}

// object decodes the object starting at data[i] == '{' against table t.
func (d *JSONDecoder) object(data []byte, i int, t *jsonTable, row types.Row, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, jsonSyntax(i, "nesting too deep")
	}
	n := len(data)
	i = skipWS(data, i+1)
	if i < n && data[i] == '}' {
		return i + 1, nil
	}
	for field := 0; ; field++ {
		if i >= n || data[i] != '"' {
			return 0, unexpected(data, i, "a string key")
		}
		ks := i + 1
		var nd *jsonNode
		hit := false
		if field < len(t.order) {
			// the key at this position in the previous records, compared in place
			if s := &t.order[field]; s.raw {
				if e := ks + len(s.key); e < n && data[e] == '"' && string(data[ks:e]) == s.key {
					nd, hit, i = s.node, true, e+1
				}
			}
		}
		if !hit {
			j := scanPlain(data, ks)
			var key []byte
			raw := false
			if j < n && data[j] == '"' {
				key, raw = data[ks:j], true
				i = j + 1
			} else {
				var err error
				d.tmp, i, err = appendUnescaped(d.tmp[:0], data, ks)
				if err != nil {
					return 0, err
				}
				key = d.tmp
			}
			nd = d.lookup(t, key, field, raw)
		}
		if i < n && data[i] == ':' {
			i++
		} else {
			i = skipWS(data, i)
			if i >= n || data[i] != ':' {
				return 0, unexpected(data, i, "':' after an object key")
			}
			i++
		}
		i = skipWS(data, i)
		var err error
		switch {
		case nd == nil:
			i, err = skipValue(data, i, depth)
		case nd.children == nil:
			i, err = d.column(data, i, nd.col, row, depth)
		default:
			i, err = d.value(data, i, nd, row, depth)
		}
		if err != nil {
			return 0, err
		}
		if i < n && data[i] == ',' {
			i = skipWS(data, i+1)
			continue
		}
		i = skipWS(data, i)
		if i < n {
			if data[i] == ',' {
				i = skipWS(data, i+1)
				continue
			}
			if data[i] == '}' {
				return i + 1, nil
			}
		}
		return 0, unexpected(data, i, "',' or '}' in an object")
	}
}

// lookup finds the node for key at position field of an object of t.
func (d *JSONDecoder) lookup(t *jsonTable, key []byte, field int, raw bool) *jsonNode {
	nd := d.find(t, key)
	if field < maxPredicted {
		for len(t.order) <= field {
			t.order = append(t.order, orderSlot{})
		}
		s := &t.order[field]
		switch {
		case !s.set:
			*s = orderSlot{key: string(key), node: nd, set: true, raw: raw}
		case nd != nil && nd.name == string(key):
			*s = orderSlot{key: nd.name, node: nd, set: true, raw: raw} // no allocation
		}
	}
	return nd
}

func (d *JSONDecoder) find(t *jsonTable, key []byte) *jsonNode {
	if nd, ok := t.exact[string(key)]; ok {
		return nd
	}
	d.lower = d.lower[:0]
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
		} else if c-'A' < 26 {
			c += 32
		}
		d.lower = append(d.lower, c)
	}
	if nd, ok := t.fold[string(d.lower)]; ok {
		return nd
	}
	if !ascii || t.nonASCII {
		for _, nd := range t.nodes {
			if strings.EqualFold(bstr(key), nd.name) {
				return nd
			}
		}
	}
	return nil
}

// value decodes the value at data[i] for node nd.
func (d *JSONDecoder) value(data []byte, i int, nd *jsonNode, row types.Row, depth int) (int, error) {
	if nd.children != nil {
		if i < len(data) && data[i] == '{' {
			end, err := d.object(data, i, nd.children, row, depth+1)
			if err != nil || nd.col < 0 {
				return end, err
			}
			// The same key is also a column of its own: read it again whole.
			return d.column(data, i, nd.col, row, depth)
		}
		if nd.col < 0 {
			return skipValue(data, i, depth)
		}
	}
	return d.column(data, i, nd.col, row, depth)
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// column decodes the value at data[i] into row[col].
func (d *JSONDecoder) column(data []byte, i int, col int, row types.Row, depth int) (int, error) {
	n := len(data)
	if i >= n {
		return 0, unexpected(data, i, "a value")
	}
	c := data[i]
	if c == 'n' {
		if !hasLiteral(data, i, "null") {
			return 0, unexpected(data, i, "a value")
		}
		row[col] = types.Value{}
		return i + 4, nil
	}
	t := d.types[col]
	switch t.Kind {
	case types.Varchar:
		start := len(d.buf)
		var end int
		if c == '"' {
			j := scanPlain(data, i+1)
			if j < n && data[j] == '"' {
				d.buf = append(d.buf, data[i+1:j]...)
				end = j + 1
			} else {
				var err error
				if d.buf, end, err = appendUnescaped(d.buf, data, i+1); err != nil {
					return 0, err
				}
			}
		} else {
			// An object, array, number or boolean: keep its JSON text.
			var err error
			if end, err = skipValue(data, i, depth); err != nil {
				return 0, err
			}
			d.buf = append(d.buf, data[i:end]...)
		}
		// The span of d.buf; Decode turns it into a string.
		row[col] = types.Value{Kind: types.Varchar, I: int64(start)<<32 | int64(len(d.buf))}
		return end, nil

	case types.BigInt, types.Int, types.Timestamp, types.Double, types.Decimal:
		if c == '-' || isDigit(c) {
			if t.Kind == types.BigInt || t.Kind == types.Timestamp || t.Kind == types.Int {
				// one pass for the common case: up to 18 digits, no fraction or exponent
				j := i
				if c == '-' {
					j++
				}
				ds := j
				var acc int64
				for j < n && data[j]-'0' < 10 {
					acc = acc*10 + int64(data[j]-'0')
					j++
				}
				if nd := j - ds; nd > 0 && nd <= 18 && (data[ds] != '0' || nd == 1) &&
					(j >= n || (data[j] != '.' && data[j] != 'e' && data[j] != 'E')) {
					if c == '-' {
						acc = -acc
					}
					if t.Kind != types.Int || (acc >= math.MinInt32 && acc <= math.MaxInt32) {
						row[col] = types.Value{Kind: t.Kind, I: acc}
						return j, nil
					}
				}
			}
			end := scanJSONNumber(data, i)
			if end < 0 {
				return 0, jsonSyntax(i, "invalid number")
			}
			tok := data[i:end]
			v, st := convertNumber(tok, t)
			if st != numOK {
				return 0, numError(d.names[col], st, quoteRaw(tok), t)
			}
			row[col] = v
			return end, nil
		}
		if c == '"' {
			s, end, err := d.stringAt(data, i)
			if err != nil {
				return 0, err
			}
			s = trimSpaceBytes(s)
			if t.Kind == types.Timestamp {
				if ms, ok := d.ts.parse(s); ok {
					row[col] = types.TimestampValue(ms)
					return end, nil
				}
			}
			v, st := convertNumber(s, t)
			if st != numOK {
				return 0, numError(d.names[col], st, quoteRaw(data[i:end]), t)
			}
			row[col] = v
			return end, nil
		}

	case types.Bool:
		switch c {
		case 't':
			if hasLiteral(data, i, "true") {
				row[col] = types.BoolValue(true)
				return i + 4, nil
			}
		case 'f':
			if hasLiteral(data, i, "false") {
				row[col] = types.BoolValue(false)
				return i + 5, nil
			}
		case '"':
			s, end, err := d.stringAt(data, i)
			if err != nil {
				return 0, err
			}
			switch {
			case strings.EqualFold(bstr(s), "true"):
				row[col] = types.BoolValue(true)
				return end, nil
			case strings.EqualFold(bstr(s), "false"):
				row[col] = types.BoolValue(false)
				return end, nil
			}
		}
	}
	end, err := skipValue(data, i, depth)
	if err != nil {
		return 0, err
	}
	return 0, cannotDecode(d.names[col], data[i:end], t)
}

// stringAt returns the content of the string at data[i] == '"', unescaped
// (into d.tmp when it has escapes), and the index after it.
func (d *JSONDecoder) stringAt(data []byte, i int) ([]byte, int, error) {
	j := scanPlain(data, i+1)
	if j < len(data) && data[j] == '"' {
		return data[i+1 : j], j + 1, nil
	}
	var end int
	var err error
	d.tmp, end, err = appendUnescaped(d.tmp[:0], data, i+1)
	return d.tmp, end, err
}

func trimSpaceBytes(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func hexVal(c byte) rune {
	switch {
	case c-'0' < 10:
		return rune(c - '0')
	case c-'a' < 6:
		return rune(c-'a') + 10
	case c-'A' < 6:
		return rune(c-'A') + 10
	}
	return -1
}

// hex4 reads 4 hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		h := hexVal(b[i+k])
		if h < 0 {
			return 0, false
		}
		r = r<<4 | h
	}
	return r, true
}

// appendUnescaped appends the content of the JSON string whose content
// starts at b[j] (just after the opening quote) to dst, resolving escapes,
// and returns the index after the closing quote. Lone surrogates become
// U+FFFD. Bytes are otherwise copied as they are (no UTF-8 validation).
func appendUnescaped(dst, b []byte, j int) ([]byte, int, error) {
	n := len(b)
	for {
		k := scanPlain(b, j)
		dst = append(dst, b[j:k]...)
		if k >= n {
			return dst, 0, jsonSyntax(k, "unterminated string")
		}
		switch b[k] {
		case '"':
			return dst, k + 1, nil
		case '\\':
		default:
			return dst, 0, jsonSyntax(k, "control character in string")
		}
		if k+1 >= n {
			return dst, 0, jsonSyntax(k+1, "unterminated string")
		}
		j = k + 2
		switch b[k+1] {
		case '"', '\\', '/':
			dst = append(dst, b[k+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, k+2)
			if !ok {
				return dst, 0, jsonSyntax(k, "invalid \\u escape")
			}
			j = k + 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xDC00 && j+1 < n && b[j] == '\\' && b[j+1] == 'u' {
					lo, ok = hex4(b, j+2)
					ok = ok && lo >= 0xDC00 && lo < 0xE000
				}
				if ok {
					r = utf16.DecodeRune(r, lo)
					j += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, 0, jsonSyntax(k, fmt.Sprintf("invalid escape %q", "\\"+string(rune(b[k+1]))))
		}
	}
}

// skipString validates the string at b[i] == '"' and returns the index
// after it.
func skipString(b []byte, i int) (int, error) {
	n := len(b)
	j := i + 1
	for {
		j = scanPlain(b, j)
		if j >= n {
			return 0, jsonSyntax(j, "unterminated string")
		}
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
		default:
			return 0, jsonSyntax(j, "control character in string")
		}
		if j+1 >= n {
			return 0, jsonSyntax(j+1, "unterminated string")
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if _, ok := hex4(b, j+2); !ok {
				return 0, jsonSyntax(j, "invalid \\u escape")
			}
			j += 6
		default:
			return 0, jsonSyntax(j, fmt.Sprintf("invalid escape %q", "\\"+string(rune(b[j+1]))))
		}
	}
}

// skipValue validates the value at b[i] and returns the index after it.
func skipValue(b []byte, i int, depth int) (int, error) {
	n := len(b)
	if i >= n {
		return 0, unexpected(b, i, "a value")
	}
	switch c := b[i]; c {
	case '"':
		return skipString(b, i)
	case '{', '[':
		if depth >= maxJSONDepth {
			return 0, jsonSyntax(i, "nesting too deep")
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < n && b[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= n || b[i] != '"' {
					return 0, unexpected(b, i, "a string key")
				}
				if i, err = skipString(b, i); err != nil {
					return 0, err
				}
				i = skipWS(b, i)
				if i >= n || b[i] != ':' {
					return 0, unexpected(b, i, "':' after an object key")
				}
				i = skipWS(b, i+1)
			}
			if i, err = skipValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i < n {
				if b[i] == ',' {
					i = skipWS(b, i+1)
					continue
				}
				if b[i] == closer {
					return i + 1, nil
				}
			}
			return 0, unexpected(b, i, fmt.Sprintf("',' or '%c'", closer))
		}
	case 't':
		if hasLiteral(b, i, "true") {
			return i + 4, nil
		}
	case 'f':
		if hasLiteral(b, i, "false") {
			return i + 5, nil
		}
	case 'n':
		if hasLiteral(b, i, "null") {
			return i + 4, nil
		}
	default:
		if c == '-' || isDigit(c) {
			end := scanJSONNumber(b, i)
			if end < 0 {
				return 0, jsonSyntax(i, "invalid number")
			}
			return end, nil
		}
	}
	return 0, unexpected(b, i, "a value")
}

// scanPlain returns the index of the first byte at or after j that ends the
// plain run of a JSON string ('"', '\\' or a control character), or
// len(b). It tests 8 bytes at a time.
func scanPlain(b []byte, j int) int {
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ (lo * '"')
		s := x ^ (lo * '\\')
		if ((q-lo)&^q|(s-lo)&^s|(x-lo*0x20)&^x)&hi != 0 {
			break
		}
		j += 8
	}
	for j < len(b) && strSafe[b[j]] {
		j++
	}
	return j
}
