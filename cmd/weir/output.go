package main

// Result printers: the sql.ResultSink implementations behind
// 'weir run --format'. They depend on package sql/types only, so they can
// be tested on their own.
//
// Every printer writes rows through a bufio.Writer and flushes it at the
// end of each Rows, Done and Message call, so a streaming query's output
// appears as soon as each batch arrives while a batch still costs one write.
//
// Messages (DDL notices, EXPLAIN plans) go to stdout in the table and plain
// formats and to stderr in the json and csv formats, so that stdout holds
// nothing but data when a program reads it.

import (
	"bufio"
	"fmt"
	"github.com/weirsql/weir/cmd/internal/termtext"
	"io"
	"strconv"
	"strings"

	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/sql/types"
)

// Output format names, as given to --format.
const (
	FormatTable = "table" // boxed, aligned; for people at a terminal
	FormatPlain = "plain" // tab-separated values, no header
	FormatJSON  = "json"  // one JSON object per row
	FormatCSV   = "csv"   // header line, then rows
)

// TerminalFormat is the default --format when stdout is a terminal.
const TerminalFormat = FormatTable

// PipedFormat is the default --format when stdout is not a terminal: JSON
// lines, where a one-column result prints each value as a bare JSON value
// (so 'weir run -e "SELECT 1 + 1" | cat' prints 2; strings keep their
// quotes, NULL is null). An explicit --format json always prints objects.
const PipedFormat = formatAuto

// formatAuto is json with bare values for one-column results; it is only
// chosen implicitly, never by name.
const formatAuto = "auto"

// Formats lists the accepted --format values.
var Formats = []string{FormatTable, FormatPlain, FormatJSON, FormatCSV}

// Printer is a result sink (it implements sql.ResultSink) that can also be
// closed: Close ends a result that never got its Done (a failed or
// cancelled query) and flushes what is buffered.
type Printer interface {
	Columns(cols []types.Column, changelog bool) error
	Rows(b *types.Batch) error
	Done() error
	Message(text string) error
	Close() error
}

// NewPrinter returns the printer for format, writing rows to stdout and,
// depending on the format, messages to stdout or stderr.
func NewPrinter(format string, stdout, stderr io.Writer) (Printer, error) {
	base := printer{w: bufio.NewWriterSize(stdout, 64<<10)}
	switch format {
	case FormatTable:
		base.msg = nil // messages share the row writer
		return &tablePrinter{printer: base}, nil
	case FormatPlain:
		return &plainPrinter{printer: base}, nil
	case FormatJSON:
		base.msg = stderr
		return &jsonPrinter{printer: base}, nil
	case formatAuto:
		base.msg = stderr
		return &jsonPrinter{printer: base, scalars: true}, nil
	case FormatCSV:
		base.msg = stderr
		return &csvPrinter{printer: base}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// printer holds what every format shares.
type printer struct {
	w   *bufio.Writer
	msg io.Writer // where messages go; nil means w

	cols      []types.Column
	changelog bool
	open      bool // Columns seen, Done not yet
	wrote     bool // something was written to w (for separating results)
}

func (p *printer) start(cols []types.Column, changelog bool) {
	p.cols = cols
	p.changelog = changelog
	p.open = true
}

// message writes text (plus a newline if it has none) to the message
// destination. Rows are flushed first so the two streams stay in order
// when both go to a terminal.
func (p *printer) message(text string) error {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if p.msg == nil {
		p.w.WriteString(text)
		p.wrote = true
		return p.w.Flush()
	}
	if err := p.w.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(p.msg, text)
	return err
}

// Text writes a text result (EXPLAIN's plan) to standard output in every
// format: unlike notices, it is what the user asked for.
func (p *printer) Text(text string) error {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	p.w.WriteString(text)
	p.wrote = true
	return p.w.Flush()
}

// opName picks the name of the changelog kind column: "op", or "_op",
// "__op"... if a result column already has that name.
func opName(cols []types.Column) string {
	name := "op"
	for taken := true; taken; {
		taken = false
		for _, c := range cols {
			if c.Name == name {
				taken = true
				name = "_" + name
				break
			}
		}
	}
	return name
}

// ---------------------------------------------------------------- table

// tablePrinter draws a box:
//
//	+----+------+
//	| id | name |
//	+----+------+
//	|  1 | foo  |
//	+----+------+
//	(1 row)
//
// Column widths come from the header and the first batch; the header is
// printed when that batch arrives (or at Done for an empty result). A later
// value that does not fit widens its column from that row on, without
// re-aligning rows already printed. Numbers are right-aligned, the rest
// left-aligned; NULL prints as NULL; control characters are escaped
// (\n, \t, \r, \xNN) so that a row is always one line. For a changelog
// result the first column, op, holds the row kind (+I, -U, +U, -D).
type tablePrinter struct {
	printer
	header  []string
	right   []bool // right-align the column
	widths  []int
	started bool  // header printed
	n       int64 // rows printed
	cells   []string
	// afterResult: the last thing printed was a result's box, so a blank
	// line separates it from what comes next.
	afterResult bool
}

func (t *tablePrinter) Columns(cols []types.Column, changelog bool) error {
	t.start(cols, changelog)
	t.header, t.right = t.header[:0], t.right[:0]
	if changelog {
		t.header = append(t.header, "op")
		t.right = append(t.right, false)
	}
	for _, c := range cols {
		t.header = append(t.header, termtext.OneLine(c.Name))
		t.right = append(t.right, c.Type.IsNumeric())
	}
	t.widths = make([]int, len(t.header))
	for i, h := range t.header {
		t.widths[i] = termtext.DisplayWidth(h)
	}
	t.started, t.n = false, 0
	return nil
}

// rowCells renders row i of b into dst.
func (t *tablePrinter) rowCells(dst []string, b *types.Batch, i int) []string {
	dst = dst[:0]
	if t.changelog {
		dst = append(dst, b.Kind(i).String())
	}
	for _, v := range b.Rows[i] {
		dst = append(dst, termtext.OneLine(v.String()))
	}
	return dst
}

func (t *tablePrinter) Rows(b *types.Batch) error {
	if !t.started {
		// First batch: size the columns on it, then print header and rows.
		all := make([][]string, b.Len())
		for i := range all {
			all[i] = t.rowCells(nil, b, i)
			t.widen(all[i])
		}
		t.printHeader()
		for _, cells := range all {
			t.printRow(cells)
		}
	} else {
		for i := 0; i < b.Len(); i++ {
			t.cells = t.rowCells(t.cells, b, i)
			t.widen(t.cells)
			t.printRow(t.cells)
		}
	}
	t.n += int64(b.Len())
	return t.w.Flush()
}

func (t *tablePrinter) widen(cells []string) {
	for i, c := range cells {
		if i < len(t.widths) {
			if w := termtext.DisplayWidth(c); w > t.widths[i] {
				t.widths[i] = w
			}
		}
	}
}

func (t *tablePrinter) printHeader() {
	if t.wrote {
		t.w.WriteByte('\n') // blank line before a result
	}
	t.wrote = true
	t.afterResult = false
	t.started = true
	t.printRule()
	t.printCells(t.header, false)
	t.printRule()
}

func (t *tablePrinter) printRule() {
	t.w.WriteByte('+')
	for _, w := range t.widths {
		for j := 0; j < w+2; j++ {
			t.w.WriteByte('-')
		}
		t.w.WriteByte('+')
	}
	t.w.WriteByte('\n')
}

func (t *tablePrinter) printRow(cells []string) { t.printCells(cells, true) }

func (t *tablePrinter) printCells(cells []string, align bool) {
	t.w.WriteByte('|')
	for i, c := range cells {
		pad := 0
		if i < len(t.widths) {
			pad = t.widths[i] - termtext.DisplayWidth(c)
		}
		t.w.WriteByte(' ')
		if align && i < len(t.right) && t.right[i] {
			writeSpaces(t.w, pad)
			t.w.WriteString(c)
		} else {
			t.w.WriteString(c)
			writeSpaces(t.w, pad)
		}
		t.w.WriteString(" |")
	}
	t.w.WriteByte('\n')
}

func (t *tablePrinter) Done() error {
	if !t.open {
		return nil
	}
	t.open = false
	if !t.started {
		t.printHeader()
	}
	t.printRule()
	if t.n == 1 {
		t.w.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(t.w, "(%d rows)\n", t.n)
	}
	t.afterResult = true
	return t.w.Flush()
}

func (t *tablePrinter) Message(text string) error {
	if t.afterResult {
		t.w.WriteByte('\n')
		t.afterResult = false
	}
	return t.message(text)
}

func (t *tablePrinter) Close() error {
	if t.open {
		return t.Done()
	}
	return t.w.Flush()
}

func writeSpaces(w *bufio.Writer, n int) {
	for ; n > 0; n-- {
		w.WriteByte(' ')
	}
}

// ---------------------------------------------------------------- plain

// plainPrinter prints one line per row, values separated by tabs, no
// header, NULL as NULL (like 'mysql --batch'). Backslash, tab, newline and
// carriage return inside values are written \\, \t, \n and \r so that a
// row is always one line. For a changelog result the row kind comes first.
// Messages go to stdout.
type plainPrinter struct {
	printer
	buf []byte
}

func (p *plainPrinter) Columns(cols []types.Column, changelog bool) error {
	p.start(cols, changelog)
	return nil
}

func (p *plainPrinter) Rows(b *types.Batch) error {
	for i, row := range b.Rows {
		buf := p.buf[:0]
		if p.changelog {
			buf = append(buf, b.Kind(i).String()...)
			buf = append(buf, '\t')
		}
		for j, v := range row {
			if j > 0 {
				buf = append(buf, '\t')
			}
			buf = appendPlain(buf, v.String())
		}
		buf = append(buf, '\n')
		p.w.Write(buf)
		p.buf = buf
	}
	p.wrote = true
	return p.w.Flush()
}

func appendPlain(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf = append(buf, `\\`...)
		case '\t':
			buf = append(buf, `\t`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

func (p *plainPrinter) Done() error {
	p.open = false
	return p.w.Flush()
}

func (p *plainPrinter) Message(text string) error { return p.message(text) }

func (p *plainPrinter) Close() error {
	p.open = false
	return p.w.Flush()
}

// ---------------------------------------------------------------- json

// jsonPrinter prints one JSON object per line and row, keys in column
// order: {"id":1,"name":"foo","price":12.50,"ts":"2026-01-01 00:00:00.000"}.
// Integers and decimals are JSON numbers written exactly (a DECIMAL keeps
// its scale: 12.50); DOUBLE is the shortest round-tripping number, except
// NaN and ±Infinity, which JSON cannot represent and are written as the
// strings "NaN", "Infinity", "-Infinity"; BOOLEAN is true/false; TIMESTAMP
// is a "2006-01-02 15:04:05.000" string; NULL is null. For a changelog
// result the row kind comes first: {"op":"+U",...} (the key is "_op" if a
// column is already named op). Messages go to stderr.
type jsonPrinter struct {
	printer
	keys [][]byte // `"name":` per column, escaped
	op   []byte   // `{"op":"` or nil
	buf  []byte
	// scalars: a one-column append-only result prints bare JSON values.
	scalars bool
	bare    bool
}

func (j *jsonPrinter) Columns(cols []types.Column, changelog bool) error {
	j.start(cols, changelog)
	j.keys = j.keys[:0]
	for _, c := range cols {
		k := format.AppendJSONString(nil, c.Name)
		j.keys = append(j.keys, append(k, ':'))
	}
	j.op = nil
	j.bare = j.scalars && len(cols) == 1 && !changelog
	if changelog {
		j.op = append(format.AppendJSONString([]byte{'{'}, opName(cols)), ':', '"')
	}
	return nil
}

func (j *jsonPrinter) Rows(b *types.Batch) error {
	for i, row := range b.Rows {
		buf := j.buf[:0]
		if j.bare {
			buf = format.AppendJSONValue(buf, row[0])
			buf = append(buf, '\n')
			j.w.Write(buf)
			j.buf = buf
			continue
		}
		if j.op != nil {
			buf = append(buf, j.op...)
			buf = append(buf, b.Kind(i).String()...)
			buf = append(buf, '"')
			if len(row) > 0 {
				buf = append(buf, ',')
			}
		} else {
			buf = append(buf, '{')
		}
		for c, v := range row {
			if c > 0 {
				buf = append(buf, ',')
			}
			if c < len(j.keys) {
				buf = append(buf, j.keys[c]...)
			} else {
				buf = format.AppendJSONString(buf, "col"+strconv.Itoa(c+1))
				buf = append(buf, ':')
			}
			buf = format.AppendJSONValue(buf, v)
		}
		buf = append(buf, '}', '\n')
		j.w.Write(buf)
		j.buf = buf
	}
	j.wrote = true
	return j.w.Flush()
}

func (j *jsonPrinter) Done() error {
	j.open = false
	return j.w.Flush()
}

func (j *jsonPrinter) Message(text string) error { return j.message(text) }

func (j *jsonPrinter) Close() error {
	j.open = false
	return j.w.Flush()
}

// ---------------------------------------------------------------- csv

// csvPrinter prints RFC 4180 CSV with \n line ends: a header line with the
// column names, then one line per row. NULL is an empty field and an empty
// string is "" (as PostgreSQL's CSV COPY does), so the two stay distinct;
// a field is quoted when it contains a comma, a quote, a line break or
// leading/trailing space. For a changelog result the first column, op,
// holds the row kind. Every result of a script starts with its own header
// line. Messages go to stderr.
type csvPrinter struct {
	printer
	buf []byte
}

func (c *csvPrinter) Columns(cols []types.Column, changelog bool) error {
	c.start(cols, changelog)
	buf := c.buf[:0]
	if changelog {
		buf = appendCSVField(buf, opName(cols))
		if len(cols) > 0 {
			buf = append(buf, ',')
		}
	}
	for i, col := range cols {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendCSVField(buf, col.Name)
	}
	buf = append(buf, '\n')
	c.w.Write(buf)
	c.buf = buf
	c.wrote = true
	return c.w.Flush()
}

func (c *csvPrinter) Rows(b *types.Batch) error {
	for i, row := range b.Rows {
		buf := c.buf[:0]
		if c.changelog {
			buf = append(buf, b.Kind(i).String()...)
			if len(row) > 0 {
				buf = append(buf, ',')
			}
		}
		for j, v := range row {
			if j > 0 {
				buf = append(buf, ',')
			}
			if !v.IsNull() {
				buf = appendCSVField(buf, v.String())
			}
		}
		buf = append(buf, '\n')
		c.w.Write(buf)
		c.buf = buf
	}
	return c.w.Flush()
}

func appendCSVField(buf []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return true
	}
	return strings.ContainsAny(s, ",\"\r\n")
}

func (c *csvPrinter) Done() error {
	c.open = false
	return c.w.Flush()
}

func (c *csvPrinter) Message(text string) error { return c.message(text) }

func (c *csvPrinter) Close() error {
	c.open = false
	return c.w.Flush()
}
