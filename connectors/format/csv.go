package format

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/weirsql/weir/sql/types"
)

// csvSpan locates one parsed field: in the record itself or, for a quoted
// field with doubled quotes, in the decoder's scratch buffer.
type csvSpan struct {
	start, end int
	inTmp      bool
	quoted     bool
}

// CSVDecoder reads one CSV record per line (RFC 4180 quoting), columns by
// position. An unquoted field equal to the null literal is NULL; an empty
// field of a non-VARCHAR column is NULL too. Quoted fields may not span
// lines.
type CSVDecoder struct {
	types     []types.Type
	names     []string
	strCols   []int
	delim     byte
	null      []byte
	includeOp bool
	spans     []csvSpan
	tmp       []byte
	buf       []byte
}

// NewCSVDecoder builds a decoder for schema.
func NewCSVDecoder(schema *types.Schema, o CSVOptions) (*CSVDecoder, error) {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Delimiter == '"' || o.Delimiter == '\n' || o.Delimiter == '\r' {
		return nil, fmt.Errorf("invalid CSV delimiter %q", o.Delimiter)
	}
	d := &CSVDecoder{delim: o.Delimiter, null: []byte(o.NullLiteral), includeOp: o.IncludeOp}
	for i, c := range schema.Cols {
		d.types = append(d.types, c.Type)
		d.names = append(d.names, c.Name)
		if c.Type.Kind == types.Varchar {
			d.strCols = append(d.strCols, i)
		}
	}
	return d, nil
}

func csvSyntax(off int, msg string) error {
	return &SyntaxError{Format: "CSV", Offset: off, Msg: msg}
}

// split parses line into d.spans.
func (d *CSVDecoder) split(line []byte) error {
	d.spans = d.spans[:0]
	d.tmp = d.tmp[:0]
	n := len(line)
	i := 0
	for {
		if i < n && line[i] == '"' {
			j := i + 1
			start := len(d.tmp)
			simple := true
			for {
				k := bytes.IndexByte(line[j:], '"')
				if k < 0 {
					return csvSyntax(i, "unterminated quoted field (quoted fields spanning lines are not supported)")
				}
				if j+k+1 < n && line[j+k+1] == '"' { // doubled quote
					if simple {
						simple = false
					}
					d.tmp = append(d.tmp, line[j:j+k+1]...)
					j += k + 2
					continue
				}
				if simple {
					d.spans = append(d.spans, csvSpan{start: j, end: j + k, quoted: true})
				} else {
					d.tmp = append(d.tmp, line[j:j+k]...)
					d.spans = append(d.spans, csvSpan{start: start, end: len(d.tmp), inTmp: true, quoted: true})
				}
				j += k + 1
				break
			}
			i = j
			if i < n && line[i] != d.delim {
				return csvSyntax(i, "expected a delimiter after a closing quote")
			}
		} else {
			k := bytes.IndexByte(line[i:], d.delim)
			end := n
			if k >= 0 {
				end = i + k
			}
			d.spans = append(d.spans, csvSpan{start: i, end: end})
			i = end
		}
		if i >= n {
			return nil
		}
		i++ // the delimiter
	}
}

// Decode implements Decoder.
func (d *CSVDecoder) Decode(line []byte, row types.Row) error {
	if len(row) != len(d.types) {
		return fmt.Errorf("row has %d columns, schema has %d", len(row), len(d.types))
	}
	if err := d.split(line); err != nil {
		return err
	}
	want := len(d.types)
	spans := d.spans
	if d.includeOp {
		want++
	}
	if len(spans) != want {
		return fmt.Errorf("expected %d fields, got %d", want, len(spans))
	}
	if d.includeOp {
		spans = spans[1:]
	}
	clear(row)
	d.buf = d.buf[:0]
	for col, sp := range spans {
		text := line[sp.start:sp.end]
		if sp.inTmp {
			text = d.tmp[sp.start:sp.end]
		}
		t := d.types[col]
		if !sp.quoted && bytes.Equal(text, d.null) {
			continue // NULL
		}
		if t.Kind == types.Varchar {
			start := len(d.buf)
			d.buf = append(d.buf, text...)
			row[col] = types.Value{Kind: types.Varchar, I: int64(start)<<32 | int64(len(d.buf))}
			continue
		}
		text = trimSpaceBytes(text)
		if len(text) == 0 {
			continue // NULL
		}
		switch t.Kind {
		case types.Bool:
			switch {
			case strings.EqualFold(bstr(text), "true") || bstr(text) == "1":
				row[col] = types.BoolValue(true)
			case strings.EqualFold(bstr(text), "false") || bstr(text) == "0":
				row[col] = types.BoolValue(false)
			default:
				return &FieldError{Column: d.names[col], Msg: "cannot decode " + strconv.Quote(quoteRaw(text)) + " as BOOLEAN"}
			}
			continue
		case types.Timestamp:
			if ms, ok := types.ParseTimestamp(bstr(text)); ok {
				row[col] = types.TimestampValue(ms)
				continue
			}
		}
		v, st := convertNumber(text, t)
		if st != numOK {
			return numError(d.names[col], st, strconv.Quote(quoteRaw(text)), t)
		}
		row[col] = v
	}
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

// CSVEncoder writes one CSV record per row. NULL is written as the null
// literal (empty by default); a string is quoted when it contains the
// delimiter, a quote, CR or LF, when it has leading or trailing spaces, or
// when it equals the null literal (so it reads back as a string).
// Timestamps use types.TimestampLayout. With IncludeOp the row kind is an
// extra first field.
type CSVEncoder struct {
	names     []string
	delim     byte
	null      string
	includeOp bool
}

// NewCSVEncoder builds an encoder for schema.
func NewCSVEncoder(schema *types.Schema, o CSVOptions) (*CSVEncoder, error) {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Delimiter == '"' || o.Delimiter == '\n' || o.Delimiter == '\r' {
		return nil, fmt.Errorf("invalid CSV delimiter %q", o.Delimiter)
	}
	return &CSVEncoder{names: schema.Names(), delim: o.Delimiter, null: o.NullLiteral, includeOp: o.IncludeOp}, nil
}

// AppendHeader appends the header record (column names) without a newline.
func (e *CSVEncoder) AppendHeader(dst []byte) []byte {
	if e.includeOp {
		dst = append(dst, "_op"...)
		if len(e.names) > 0 {
			dst = append(dst, e.delim)
		}
	}
	for i, n := range e.names {
		if i > 0 {
			dst = append(dst, e.delim)
		}
		dst = e.appendField(dst, n)
	}
	return dst
}

func (e *CSVEncoder) needsQuote(s string) bool {
	if s == e.null || s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[0] == '"' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case e.delim, '"', '\r', '\n':
			return true
		}
	}
	return false
}

func (e *CSVEncoder) appendField(dst []byte, s string) []byte {
	if !e.needsQuote(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		k := strings.IndexByte(s, '"')
		if k < 0 {
			break
		}
		dst = append(dst, s[:k+1]...)
		dst = append(dst, '"')
		s = s[k+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// Encode implements Encoder.
func (e *CSVEncoder) Encode(dst []byte, row types.Row, kind types.RowKind) ([]byte, error) {
	if len(row) != len(e.names) {
		return dst, fmt.Errorf("row has %d columns, schema has %d", len(row), len(e.names))
	}
	if e.includeOp {
		dst = append(dst, kind.String()...)
		if len(row) > 0 {
			dst = append(dst, e.delim)
		}
	}
	for i, v := range row {
		if i > 0 {
			dst = append(dst, e.delim)
		}
		switch v.Kind {
		case types.Null:
			dst = append(dst, e.null...)
		case types.Varchar:
			dst = e.appendField(dst, v.S)
		default:
			start := len(dst)
			dst = appendText(dst, v)
			if e.null != "" && string(dst[start:]) == e.null {
				// a value that reads as the null literal: quote it
				field := string(dst[start:])
				dst = e.appendField(dst[:start], field)
			}
		}
	}
	return dst, nil
}
