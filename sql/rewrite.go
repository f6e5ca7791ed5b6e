package sql

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------------
// Lexer
//
// A small MySQL-flavoured lexer: just enough to know what is a string, a
// quoted identifier, a comment, a word, a number or punctuation, so that the
// rewrites below never touch the inside of strings or comments.

type tokKind uint8

const (
	tSpace   tokKind = iota
	tComment         // -- …, # …, /* … */
	tIdent           // unquoted word (keywords included)
	tQuoted          // `identifier`
	tString          // '…' or "…"
	tNumber          // 12, 1.5, 1e3
	tPunct           // ( ) , ; = - … and multi-byte operators
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the lexed text
	text       string
}

// is reports whether t is the unquoted word w (case-insensitive).
func (t token) is(w string) bool { return t.kind == tIdent && strings.EqualFold(t.text, w) }

// isP reports whether t is the punctuation p.
func (t token) isP(p string) bool { return t.kind == tPunct && t.text == p }

// isName reports whether t can be an identifier (plain word or `quoted`).
func (t token) isName() bool { return t.kind == tIdent || t.kind == tQuoted }

// value is the unquoted text of a string, quoted identifier or word.
func (t token) value() string {
	switch t.kind {
	case tString:
		return unquoteString(t.text)
	case tQuoted:
		s := t.text[1:]
		s = strings.TrimSuffix(s, "`")
		return strings.ReplaceAll(s, "``", "`")
	}
	return t.text
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
}

var multiPunct = []string{"<=>", "->>", "=>", "<=", ">=", "<>", "!=", "||", "&&", ":=", "<<", ">>", "->", "@@"}

// lex splits s into tokens, whitespace and comments included; the tokens
// cover s exactly. An unterminated string or comment runs to the end.
func lex(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		start := i
		var k tokKind
		switch {
		case isSpaceByte(c):
			for i < len(s) && isSpaceByte(s[i]) {
				i++
			}
			k = tSpace
		case c == '#' || (c == '-' && i+1 < len(s) && s[i+1] == '-'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
			k = tComment
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += 2 + j + 2
			} else {
				i = len(s)
			}
			k = tComment
		case c == '\'' || c == '"':
			i = scanQuoted(s, i, c, true)
			k = tString
		case c == '`':
			i = scanQuoted(s, i, c, false)
			k = tQuoted
		case isDigit(c):
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				i++
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
				j := i + 1
				if j < len(s) && (s[j] == '+' || s[j] == '-') {
					j++
				}
				if j < len(s) && isDigit(s[j]) {
					i = j
					for i < len(s) && isDigit(s[i]) {
						i++
					}
				}
			}
			k = tNumber
		case isWordByte(c):
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
			k = tIdent
		default:
			i++
			for _, p := range multiPunct {
				if strings.HasPrefix(s[start:], p) {
					i = start + len(p)
					break
				}
			}
			k = tPunct
		}
		toks = append(toks, token{kind: k, start: start, end: i, text: s[start:i]})
	}
	return toks
}

// scanQuoted returns the offset just after the quoted token starting at i.
// A doubled quote stands for itself; with backslash, \x escapes x.
func scanQuoted(s string, i int, q byte, backslash bool) int {
	j := i + 1
	for j < len(s) {
		switch {
		case backslash && s[j] == '\\':
			j += 2
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j += 2
			} else {
				return j + 1
			}
		default:
			j++
		}
	}
	return len(s)
}

// unquoteString decodes a MySQL string literal (quotes included).
func unquoteString(lit string) string {
	if len(lit) < 2 {
		return ""
	}
	q := lit[0]
	body := lit[1:]
	if body[len(body)-1] == q {
		body = body[:len(body)-1]
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			switch e := body[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'Z':
				b.WriteByte(26)
			case '%', '_':
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
		case c == q && i+1 < len(body) && body[i+1] == q:
			b.WriteByte(q)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// significant drops whitespace and comments.
func significant(all []token) []token {
	out := make([]token, 0, len(all))
	for _, t := range all {
		if t.kind != tSpace && t.kind != tComment {
			out = append(out, t)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Results of the rewrite

// Option is one 'key' = 'value' pair of a CREATE TABLE ... WITH (...) list
// (or of the ENGINE/CONNECTION form, see Parse).
type Option struct {
	Key   string // lower-cased
	Value string // string literals unquoted; other values as written
	// KeyOffset and ValueOffset are byte offsets in the statement's original
	// text (see Statement.Errorf); -1 when the option came from ENGINE/CONNECTION
	// and has no position of its own.
	KeyOffset, ValueOffset int
}

// WatermarkDecl is a `WATERMARK FOR col AS col [- INTERVAL ...]` clause,
// removed from the CREATE TABLE text.
type WatermarkDecl struct {
	Column  string // the FOR column, unquoted, as written
	DelayMs int64  // 0 for `AS col`
	Expr    string // the expression text as written
	// Byte offsets in the statement's original text.
	Offset, ColumnOffset, ExprOffset int
}

// ComputedCol is a computed column of the column list, removed from the
// CREATE TABLE text. Only `name AS PROCTIME()` is accepted.
type ComputedCol struct {
	Name   string // unquoted, as written
	Kind   string // "PROCTIME"
	Offset int    // byte offset of the name in the statement's original text
}

// WindowTVF is a Flink window table-valued function in FROM,
// `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))`, replaced in
// the text by the table name Name (e.g. `__weir_tvf_0`). An alias written
// after the closing parenthesis stays in place.
type WindowTVF struct {
	Name        string   // placeholder table name in the rewritten text
	Func        string   // TUMBLE, HOP, CUMULATE or SESSION
	Table       string   // source table (dotted names joined with '.')
	TimeCol     string   // DESCRIPTOR column
	PartitionBy []string // SESSION ... PARTITION BY keys, else nil
	// Intervals in milliseconds, in the order written: TUMBLE size[, offset];
	// HOP slide, size[, offset]; CUMULATE step, size[, offset]; SESSION gap.
	Intervals []int64
	Offset    int // byte offset of the TABLE keyword in the original text
}

// LookupRef is a table on the right of a JOIN written with Flink's
// temporal-table syntax, `JOIN t FOR SYSTEM_TIME AS OF s.proctime [AS a]`:
// the table name and the FOR SYSTEM_TIME AS OF clause are replaced in the
// text by the table name Name (e.g. `__weir_lookup_0`), so that the binder
// knows to plan a lookup join. An alias after the clause stays.
type LookupRef struct {
	Name     string // placeholder table name in the rewritten text
	Table    string // the table (dotted names joined with '.')
	TimeExpr string // the AS OF expression, as written (a column: s.proctime)
	Offset   int    // byte offset of the table name in the original text
}

// SetStmt is a hand-parsed SET / RESET statement (the TiDB parser does not
// accept `SET 'a.b' = 'c'`). Key == "" means all keys (bare SET lists them,
// bare RESET resets them).
type SetStmt struct {
	Key, Value string
	Reset      bool
}

// ShowStmt is a hand-parsed SHOW JOBS / SHOW VIEWS / SHOW CHECKPOINTS. Args
// holds the further words, unquoted (e.g. a job id).
type ShowStmt struct {
	What string // upper-case: JOBS, VIEWS or CHECKPOINTS
	Args []string
}

// Rewrite is the outcome of rewriting one statement.
type Rewrite struct {
	// Rewritten is the text handed to the TiDB parser. It has the same
	// number of lines as the original, and removed text is blanked with
	// spaces; OrigOffset maps its offsets back.
	Rewritten string

	Options   []Option
	Watermark *WatermarkDecl
	Computed  []ComputedCol
	// UnboundedVarchar holds the lower-cased names of columns declared as
	// bare VARCHAR or STRING (rewritten to VARCHAR(1048576)): bind them as
	// VARCHAR with Length 0.
	UnboundedVarchar map[string]bool
	// Casts maps the original-text offset of a CAST keyword to the type the
	// user wrote (upper-case, e.g. "BIGINT", "VARCHAR", "TIMESTAMP(3)"),
	// for the CASTs whose type was rewritten. Use Statement.CastType.
	Casts      map[int]string
	WindowTVFs []*WindowTVF
	Lookups    []*LookupRef
	Set        *SetStmt // hand-parsed; the TiDB parser is not run
	Show       *ShowStmt

	edits []edit
}

type edit struct {
	start, end       int // original text
	newStart, newEnd int // rewritten text
	repl             string
}

// OrigOffset maps a byte offset in Rewritten to the original text. Offsets
// inside replaced text map into the replaced original text.
func (r *Rewrite) OrigOffset(n int) int {
	shift := 0
	for _, e := range r.edits {
		if n < e.newStart {
			break
		}
		if n < e.newEnd {
			d := n - e.newStart
			if d >= e.end-e.start {
				d = max(e.end-e.start-1, 0)
			}
			return e.start + d
		}
		shift = e.end - e.newEnd
	}
	return n + shift
}

// NewOffset maps a byte offset in the original text to Rewritten.
func (r *Rewrite) NewOffset(o int) int {
	shift := 0
	for _, e := range r.edits {
		if o < e.start {
			break
		}
		if o < e.end {
			d := o - e.start
			if d >= e.newEnd-e.newStart {
				d = max(e.newEnd-e.newStart-1, 0)
			}
			return e.newStart + d
		}
		shift = e.newEnd - e.end
	}
	return o + shift
}

// posErr is a rewrite error at an offset of the statement's original text.
type posErr struct {
	off  int
	msg  string
	kind error
}

func (e *posErr) Error() string { return e.msg }

// RewriteStatement rewrites one statement (no ';'). Errors are *SQLError
// with positions relative to text.
func RewriteStatement(text string) (*Rewrite, error) {
	r, pe := rewriteStatement(text)
	if pe != nil {
		line, col := LineCol(text, pe.off)
		return nil, &SQLError{Line: line, Col: col, Msg: pe.msg, Kind: pe.kind}
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// The rewriter

type rewriter struct {
	src   string
	all   []token
	toks  []token // significant tokens
	match []int   // index of the matching parenthesis, -1 if none
	edits []edit
	r     *Rewrite
}

func rewriteStatement(text string) (*Rewrite, *posErr) {
	w := &rewriter{src: text, all: lex(text), r: &Rewrite{}}
	w.toks = significant(w.all)
	w.match = make([]int, len(w.toks))
	var stack []int
	for i, t := range w.toks {
		w.match[i] = -1
		switch {
		case t.isP("("):
			stack = append(stack, i)
		case t.isP(")") && len(stack) > 0:
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			w.match[o], w.match[i] = i, o
		}
	}

	handled, err := w.handParsed()
	if err != nil {
		return nil, err
	}
	if !handled {
		for _, pass := range []func() *posErr{w.windowTVFs, w.joins, w.createTable, w.casts, w.windowArgs, w.intervalUnits} {
			if err := pass(); err != nil {
				return nil, err
			}
		}
		// Line comments last: blank them so that the TiDB lexer (which needs
		// a space after "--") sees what we saw. Comments inside text that
		// was already replaced are covered by that edit.
		for _, t := range w.all {
			if t.kind == tComment && !strings.HasPrefix(t.text, "/*") {
				w.blank(t.start, t.end)
			}
		}
	}
	w.build()
	return w.r, nil
}

func (w *rewriter) errAt(off int, kind error, format string, args ...any) *posErr {
	return &posErr{off: off, msg: fmt.Sprintf(format, args...), kind: kind}
}

// add records a replacement of src[start:end]; it refuses (returns false)
// an edit overlapping an earlier one. The replacement keeps the line
// structure: newlines of the replaced text are appended, followed by
// spaces, so that text after the edit keeps its line and column.
func (w *rewriter) add(start, end int, repl string) bool {
	for _, e := range w.edits {
		if start < e.end && e.start < end {
			return false
		}
	}
	orig := w.src[start:end]
	if nl := strings.LastIndexByte(orig, '\n'); nl >= 0 {
		repl += strings.Repeat("\n", strings.Count(orig, "\n")) + strings.Repeat(" ", len(orig)-nl-1)
	} else if len(repl) < len(orig) {
		repl += strings.Repeat(" ", len(orig)-len(repl))
	}
	w.edits = append(w.edits, edit{start: start, end: end, repl: repl})
	return true
}

// blank replaces src[start:end] with spaces, keeping line breaks.
func (w *rewriter) blank(start, end int) bool {
	b := []byte(w.src[start:end])
	for i, c := range b {
		if c != '\n' && c != '\r' {
			b[i] = ' '
		}
	}
	for _, e := range w.edits {
		if start < e.end && e.start < end {
			return false
		}
	}
	w.edits = append(w.edits, edit{start: start, end: end, repl: string(b)})
	return true
}

// covered reports whether offset o lies in an earlier edit.
func (w *rewriter) covered(o int) bool {
	for _, e := range w.edits {
		if o >= e.start && o < e.end {
			return true
		}
	}
	return false
}

func (w *rewriter) build() {
	sort.Slice(w.edits, func(i, j int) bool { return w.edits[i].start < w.edits[j].start })
	var b strings.Builder
	prev := 0
	for i := range w.edits {
		e := &w.edits[i]
		b.WriteString(w.src[prev:e.start])
		e.newStart = b.Len()
		b.WriteString(e.repl)
		e.newEnd = b.Len()
		prev = e.end
	}
	b.WriteString(w.src[prev:])
	w.r.Rewritten = b.String()
	w.r.edits = w.edits
}

// tok returns significant token i, or a zero token past the end.
func (w *rewriter) tok(i int) token {
	if i >= 0 && i < len(w.toks) {
		return w.toks[i]
	}
	return token{kind: tSpace, start: len(w.src), end: len(w.src)}
}

// splitArgs splits the tokens strictly between the parentheses at open and
// match[open] on top-level commas: it returns [a,b) index ranges and the
// indexes of the commas.
func (w *rewriter) splitArgs(open int) (elems [][2]int, commas []int) {
	close := w.match[open]
	a := open + 1
	for i := open + 1; i < close; i++ {
		t := w.toks[i]
		if t.isP("(") && w.match[i] > 0 {
			i = w.match[i]
			continue
		}
		if t.isP(",") {
			elems = append(elems, [2]int{a, i})
			commas = append(commas, i)
			a = i + 1
		}
	}
	if a < close || len(elems) > 0 {
		elems = append(elems, [2]int{a, close})
	}
	return elems, commas
}

// text returns the original text of significant tokens [a,b).
func (w *rewriter) text(a, b int) string {
	if a >= b {
		return ""
	}
	return w.src[w.toks[a].start:w.toks[b-1].end]
}

// ---------------------------------------------------------------------------
// SET / RESET / SHOW JOBS: parsed by hand

var handShow = map[string]bool{"JOBS": true, "VIEWS": true, "CHECKPOINTS": true}

func (w *rewriter) handParsed() (bool, *posErr) {
	if len(w.toks) == 0 {
		return false, nil
	}
	first := w.toks[0]
	switch {
	case first.is("SET"), first.is("RESET"):
		reset := first.is("RESET")
		st := &SetStmt{Reset: reset}
		w.r.Set = st
		rest := w.toks[1:]
		if len(rest) == 0 {
			return true, nil
		}
		eq := len(rest)
		for i, t := range rest {
			if t.isP("=") {
				eq = i
				break
			}
		}
		key, err := w.setKey(rest[:eq], first)
		if err != nil {
			return true, err
		}
		st.Key = key
		if reset {
			if eq < len(rest) {
				return true, w.errAt(rest[eq].start, ErrSyntax, "RESET takes a key only: RESET 'key'")
			}
			return true, nil
		}
		if eq == len(rest) {
			return true, w.errAt(rest[len(rest)-1].end, ErrSyntax, "SET expects 'key' = 'value'")
		}
		val := rest[eq+1:]
		switch {
		case len(val) == 0:
			return true, w.errAt(rest[eq].end, ErrSyntax, "SET %s: missing value", key)
		case len(val) == 1 && (val[0].kind == tString || val[0].kind == tQuoted):
			st.Value = val[0].value()
		default:
			st.Value = w.src[val[0].start:val[len(val)-1].end]
		}
		return true, nil
	case first.is("SHOW") && len(w.toks) > 1 && handShow[strings.ToUpper(w.toks[1].text)] && w.toks[1].kind == tIdent:
		st := &ShowStmt{What: strings.ToUpper(w.toks[1].text)}
		for _, t := range w.toks[2:] {
			st.Args = append(st.Args, t.value())
		}
		w.r.Show = st
		return true, nil
	}
	return false, nil
}

// setKey reads the key of SET/RESET: one string or `quoted` token, or
// adjacent words, dots and dashes (table.exec.mini-batch.enabled).
func (w *rewriter) setKey(ks []token, kw token) (string, *posErr) {
	if len(ks) == 0 {
		return "", w.errAt(kw.end, ErrSyntax, "%s expects 'key'", strings.ToUpper(kw.text))
	}
	if len(ks) == 1 && (ks[0].kind == tString || ks[0].kind == tQuoted) {
		return ks[0].value(), nil
	}
	var b strings.Builder
	for i, t := range ks {
		ok := t.isName() || t.kind == tNumber || t.isP(".") || t.isP("-")
		if !ok || (i > 0 && ks[i-1].end != t.start) {
			return "", w.errAt(t.start, ErrSyntax, "%s expects 'key' = 'value'", strings.ToUpper(kw.text))
		}
		b.WriteString(t.value())
	}
	return b.String(), nil
}

// ---------------------------------------------------------------------------
// Intervals

var unitMs = map[string]int64{
	"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000,
}

// windowUnit normalises a window/watermark interval unit (plural allowed).
func windowUnit(u string) (string, int64, bool) {
	u = strings.ToUpper(u)
	if ms, ok := unitMs[u]; ok {
		return u, ms, true
	}
	if s := strings.TrimSuffix(u, "S"); s != u {
		if ms, ok := unitMs[s]; ok {
			return s, ms, true
		}
	}
	return u, 0, false
}

func intervalMs(num string, unit int64) (int64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	ms := v * float64(unit)
	if ms > math.MaxInt64/2 {
		return 0, false
	}
	return int64(math.Round(ms)), true
}

// ParseInterval parses the interval strings the rewrite leaves as window
// function arguments ('10 SECOND') and the forms users write directly:
// "<n> <unit>" with unit MILLISECOND, SECOND, MINUTE, HOUR or DAY, singular
// or plural, any case; n may have a fraction. It also accepts the short
// forms 500ms, 10s, 5m, 2h, 1d. The result is in milliseconds.
func ParseInterval(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (isDigit(t[i]) || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" || unit == "" {
		return 0, fmt.Errorf("invalid interval %q: want '<n> <unit>', e.g. '10 SECOND'", s)
	}
	var per int64
	switch strings.ToLower(unit) {
	case "ms":
		per = 1
	case "s":
		per = 1000
	case "m":
		per = 60_000
	case "h":
		per = 3_600_000
	case "d":
		per = 86_400_000
	default:
		var ok bool
		if _, per, ok = windowUnit(unit); !ok {
			return 0, fmt.Errorf("invalid interval %q: unit must be MILLISECOND, SECOND, MINUTE, HOUR or DAY", s)
		}
	}
	ms, ok := intervalMs(num, per)
	if !ok {
		return 0, fmt.Errorf("invalid interval %q", s)
	}
	return ms, nil
}

// interval reads `INTERVAL 'n' UNIT` or `INTERVAL n UNIT` at token i. It
// returns the value text, the normalised unit, the milliseconds and the
// index after the unit.
func (w *rewriter) interval(i int) (num, unit string, ms int64, next int, err *posErr) {
	kw, lit, u := w.tok(i), w.tok(i+1), w.tok(i+2)
	if !kw.is("INTERVAL") {
		return "", "", 0, 0, w.errAt(kw.start, ErrSyntax, "expected INTERVAL")
	}
	if lit.kind != tString && lit.kind != tNumber {
		return "", "", 0, 0, w.errAt(lit.start, ErrSyntax, "expected INTERVAL 'n' <unit>")
	}
	if u.kind != tIdent {
		return "", "", 0, 0, w.errAt(u.start, ErrSyntax, "expected an INTERVAL unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY)")
	}
	unit, per, ok := windowUnit(u.text)
	if !ok {
		return "", "", 0, 0, w.errAt(u.start, ErrUnsupported, "unsupported INTERVAL unit %s (use MILLISECOND, SECOND, MINUTE, HOUR or DAY)", u.text)
	}
	num = strings.TrimSpace(lit.value())
	ms, ok = intervalMs(num, per)
	if !ok {
		return "", "", 0, 0, w.errAt(lit.start, ErrSyntax, "invalid INTERVAL value %s", lit.text)
	}
	return num, unit, ms, i + 3, nil
}

// intervalUnits: `INTERVAL x SECONDS` (any plural unit) → `INTERVAL x
// SECOND`, and `INTERVAL x MILLISECOND[S]` → `INTERVAL x*1000 MICROSECOND`,
// which the TiDB parser accepts. Applies anywhere outside strings.
func (w *rewriter) intervalUnits() *posErr {
	plural := map[string]string{"MICROSECONDS": "MICROSECOND", "SECONDS": "SECOND", "MINUTES": "MINUTE",
		"HOURS": "HOUR", "DAYS": "DAY", "WEEKS": "WEEK", "MONTHS": "MONTH", "QUARTERS": "QUARTER", "YEARS": "YEAR"}
	for i, t := range w.toks {
		if !t.is("INTERVAL") || w.covered(t.start) {
			continue
		}
		lit, u := w.tok(i+1), w.tok(i+2)
		if (lit.kind != tString && lit.kind != tNumber) || u.kind != tIdent {
			continue
		}
		up := strings.ToUpper(u.text)
		if s, ok := plural[up]; ok {
			w.add(u.start, u.end, s)
			continue
		}
		if up == "MILLISECOND" || up == "MILLISECONDS" {
			us, ok := intervalMs(lit.value(), 1000)
			if !ok {
				return w.errAt(lit.start, ErrSyntax, "invalid INTERVAL value %s", lit.text)
			}
			w.add(lit.start, u.end, strconv.FormatInt(us, 10)+" MICROSECOND")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Window functions in GROUP BY / SELECT

var windowFuncs = map[string]bool{
	"TUMBLE": true, "HOP": true, "SESSION": true, "CUMULATE": true,
	"TUMBLE_START": true, "TUMBLE_END": true, "TUMBLE_ROWTIME": true, "TUMBLE_PROCTIME": true,
	"HOP_START": true, "HOP_END": true, "HOP_ROWTIME": true, "HOP_PROCTIME": true,
	"SESSION_START": true, "SESSION_END": true, "SESSION_ROWTIME": true, "SESSION_PROCTIME": true,
	"CUMULATE_START": true, "CUMULATE_END": true,
}

// windowArgs: `SESSION(` → `SESSION_WINDOW(`; an argument of a window
// function that is exactly `INTERVAL 'n' UNIT` or `INTERVAL n UNIT` →
// the string literal 'n UNIT' (UNIT singular, upper-case).
func (w *rewriter) windowArgs() *posErr {
	for i, t := range w.toks {
		if t.kind != tIdent || !windowFuncs[strings.ToUpper(t.text)] || !w.tok(i+1).isP("(") || w.match[i+1] < 0 {
			continue
		}
		if w.covered(t.start) || (i > 0 && w.toks[i-1].isP(".")) {
			continue
		}
		if t.is("SESSION") {
			w.add(t.start, t.end, "SESSION_WINDOW")
		}
		elems, _ := w.splitArgs(i + 1)
		for _, el := range elems {
			if el[1]-el[0] != 3 || !w.toks[el[0]].is("INTERVAL") {
				continue
			}
			num, unit, _, _, err := w.interval(el[0])
			if err != nil {
				return err
			}
			w.add(w.toks[el[0]].start, w.toks[el[1]-1].end, "'"+num+" "+unit+"'")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Window table-valued functions

// windowTVFs: FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...)) →
// FROM __weir_tvf_<n>.
func (w *rewriter) windowTVFs() *posErr {
	for i := 1; i+1 < len(w.toks); i++ {
		t := w.toks[i]
		prev := w.toks[i-1]
		if !t.is("TABLE") || !w.toks[i+1].isP("(") || !(prev.is("FROM") || prev.is("JOIN") || prev.isP(",")) {
			continue
		}
		outer := w.match[i+1]
		if outer < 0 {
			return w.errAt(w.toks[i+1].start, ErrSyntax, "unbalanced parenthesis")
		}
		fn := w.tok(i + 2)
		fname := strings.ToUpper(fn.text)
		if fn.kind != tIdent || !(fname == "TUMBLE" || fname == "HOP" || fname == "CUMULATE" || fname == "SESSION") {
			return w.errAt(fn.start, ErrUnsupported, "FROM TABLE(...) supports TUMBLE, HOP, CUMULATE and SESSION only")
		}
		if !w.tok(i+3).isP("(") || w.match[i+3] != outer-1 {
			return w.errAt(fn.start, ErrSyntax, "expected TABLE(%s(...))", fname)
		}
		tvf := &WindowTVF{Name: fmt.Sprintf("__weir_tvf_%d", len(w.r.WindowTVFs)), Func: fname, Offset: t.start}
		elems, _ := w.splitArgs(i + 3)
		for _, el := range elems {
			for k := el[0]; k < el[1]; k++ {
				if w.toks[k].isP("=>") {
					return w.errAt(w.toks[k].start, ErrUnsupported, "named arguments of %s are not supported: use TABLE t, DESCRIPTOR(col), INTERVAL ...", fname)
				}
			}
		}
		usage := fmt.Sprintf("expected %s(TABLE t, DESCRIPTOR(col), INTERVAL ...)", fname)
		if len(elems) < 3 {
			return w.errAt(fn.start, ErrSyntax, "%s", usage)
		}
		// TABLE name [PARTITION BY k | PARTITION BY (k, ...)]
		a, b := elems[0][0], elems[0][1]
		if !w.toks[a].is("TABLE") || a+1 >= b || !w.toks[a+1].isName() {
			return w.errAt(w.tok(a).start, ErrSyntax, "%s", usage)
		}
		k := a + 1
		tvf.Table = w.toks[k].value()
		for k+2 < b && w.toks[k+1].isP(".") && w.toks[k+2].isName() {
			tvf.Table += "." + w.toks[k+2].value()
			k += 2
		}
		k++
		if k < b {
			if fname != "SESSION" || !w.toks[k].is("PARTITION") || !w.tok(k+1).is("BY") || k+2 >= b {
				return w.errAt(w.toks[k].start, ErrSyntax, "%s", usage)
			}
			k += 2
			keys := [][2]int{{k, b}}
			if w.toks[k].isP("(") && w.match[k] == b-1 {
				keys, _ = w.splitArgs(k)
			}
			for _, key := range keys {
				if key[1]-key[0] != 1 || !w.toks[key[0]].isName() {
					return w.errAt(w.tok(key[0]).start, ErrSyntax, "PARTITION BY expects column names")
				}
				tvf.PartitionBy = append(tvf.PartitionBy, w.toks[key[0]].value())
			}
		}
		// DESCRIPTOR(col)
		a, b = elems[1][0], elems[1][1]
		if b-a != 4 || !w.toks[a].is("DESCRIPTOR") || !w.toks[a+1].isP("(") || !w.toks[a+2].isName() || !w.toks[a+3].isP(")") {
			return w.errAt(w.tok(a).start, ErrSyntax, "expected DESCRIPTOR(<time column>)")
		}
		tvf.TimeCol = w.toks[a+2].value()
		for _, el := range elems[2:] {
			if el[1]-el[0] != 3 {
				return w.errAt(w.tok(el[0]).start, ErrSyntax, "expected INTERVAL 'n' <unit>")
			}
			_, _, ms, _, err := w.interval(el[0])
			if err != nil {
				return err
			}
			tvf.Intervals = append(tvf.Intervals, ms)
		}
		lo, hi := map[string]int{"TUMBLE": 1, "HOP": 2, "CUMULATE": 2, "SESSION": 1}[fname], map[string]int{"TUMBLE": 2, "HOP": 3, "CUMULATE": 3, "SESSION": 1}[fname]
		if n := len(tvf.Intervals); n < lo || n > hi {
			return w.errAt(fn.start, ErrSyntax, "%s takes %d to %d INTERVAL arguments, got %d", fname, lo, hi, n)
		}
		w.add(t.start, w.toks[outer].end, tvf.Name)
		w.r.WindowTVFs = append(w.r.WindowTVFs, tvf)
		i = outer
	}
	return nil
}

// ---------------------------------------------------------------------------
// Joins

// joins: FULL [OUTER] JOIN → STRAIGHT_JOIN (MySQL has no full outer join;
// Weir reads every STRAIGHT_JOIN in the AST as FULL, so one written by the
// user is refused), and `JOIN t FOR SYSTEM_TIME AS OF x.y` → `JOIN
// __weir_lookup_<n>` (see LookupRef).
func (w *rewriter) joins() *posErr {
	for i := 0; i < len(w.toks); i++ {
		t := w.toks[i]
		if w.covered(t.start) {
			continue
		}
		switch {
		case t.is("STRAIGHT_JOIN"):
			return w.errAt(t.start, ErrUnsupported, "STRAIGHT_JOIN is not supported; write JOIN")
		case t.is("FULL"):
			j := i + 1
			if w.tok(j).is("OUTER") {
				j++
			}
			if w.tok(j).is("JOIN") {
				w.add(t.start, w.toks[j].end, "STRAIGHT_JOIN")
				i = j
			}
		case t.is("FOR") && w.tok(i+1).is("SYSTEM_TIME") && w.tok(i+2).is("AS") && w.tok(i+3).is("OF"):
			start := i - 1
			if start < 0 || !w.toks[start].isName() {
				return w.errAt(t.start, ErrSyntax, "FOR SYSTEM_TIME AS OF must follow a table name: JOIN t FOR SYSTEM_TIME AS OF s.proctime")
			}
			for start >= 2 && w.toks[start-1].isP(".") && w.toks[start-2].isName() {
				start -= 2
			}
			if start == 0 || !w.toks[start-1].is("JOIN") {
				return w.errAt(t.start, ErrUnsupported, "FOR SYSTEM_TIME AS OF is only supported on the table right of a JOIN: ... JOIN t FOR SYSTEM_TIME AS OF s.proctime")
			}
			e := i + 4
			if te := w.tok(e); !te.isName() || te.is("ON") || te.is("AS") || te.is("WHERE") || te.is("JOIN") {
				return w.errAt(w.tok(e).start, ErrSyntax, "FOR SYSTEM_TIME AS OF expects a time attribute column, e.g. s.proctime")
			}
			end := e
			for w.tok(end+1).isP(".") && w.tok(end+2).isName() {
				end += 2
			}
			ref := &LookupRef{Name: fmt.Sprintf("__weir_lookup_%d", len(w.r.Lookups)), Offset: w.toks[start].start}
			for k := start; k <= i-1; k += 2 {
				if k > start {
					ref.Table += "."
				}
				ref.Table += w.toks[k].value()
			}
			ref.TimeExpr = w.text(e, end+1)
			if !w.add(w.toks[start].start, w.toks[end].end, ref.Name) {
				return w.errAt(w.toks[start].start, ErrUnsupported, "FOR SYSTEM_TIME AS OF is not supported here")
			}
			w.r.Lookups = append(w.r.Lookups, ref)
			i = end
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// CAST types

// casts: CAST(x AS <flink type>) for types the TiDB parser rejects in CAST.
func (w *rewriter) casts() *posErr {
	for i, t := range w.toks {
		if !t.is("CAST") || !w.tok(i+1).isP("(") || w.match[i+1] < 0 || w.covered(t.start) {
			continue
		}
		close := w.match[i+1]
		as := -1
		for k := i + 2; k < close; k++ {
			if w.toks[k].isP("(") && w.match[k] > 0 {
				k = w.match[k]
				continue
			}
			if w.toks[k].is("AS") {
				as = k
			}
		}
		if as < 0 || as+1 >= close {
			continue
		}
		ty := w.toks[as+1]
		var repl string
		switch strings.ToUpper(ty.text) {
		case "VARCHAR", "STRING":
			repl = "CHAR"
		case "BIGINT", "INT", "INTEGER", "SMALLINT", "TINYINT", "BOOLEAN", "BOOL":
			repl = "SIGNED"
		case "TIMESTAMP", "TIMESTAMP_LTZ":
			repl = "DATETIME"
		default:
			continue
		}
		var orig strings.Builder
		for k := as + 1; k < close; k++ {
			if k > as+1 && w.toks[k].kind == tIdent && w.toks[k-1].kind == tIdent {
				orig.WriteByte(' ')
			}
			orig.WriteString(strings.ToUpper(w.toks[k].text))
		}
		w.add(ty.start, ty.end, repl)
		w.stripTimeZone(as+2, close)
		if w.r.Casts == nil {
			w.r.Casts = map[int]string{}
		}
		w.r.Casts[t.start] = orig.String()
	}
	return nil
}

// stripTimeZone blanks `WITH LOCAL TIME ZONE` / `WITHOUT TIME ZONE` after a
// TIMESTAMP type: k is the index after the type word, before an optional
// (precision).
func (w *rewriter) stripTimeZone(k, limit int) {
	if w.tok(k).isP("(") && w.match[k] > 0 {
		k = w.match[k] + 1
	}
	switch {
	case k+3 < limit && w.toks[k].is("WITH") && w.toks[k+1].is("LOCAL") && w.toks[k+2].is("TIME") && w.toks[k+3].is("ZONE"):
		w.blank(w.toks[k].start, w.toks[k+3].end)
	case k+2 < limit && w.toks[k].is("WITHOUT") && w.toks[k+1].is("TIME") && w.toks[k+2].is("ZONE"):
		w.blank(w.toks[k].start, w.toks[k+2].end)
	}
}

// ---------------------------------------------------------------------------
// CREATE TABLE

var constraintWords = map[string]bool{
	"PRIMARY": true, "UNIQUE": true, "KEY": true, "INDEX": true, "CONSTRAINT": true,
	"FOREIGN": true, "CHECK": true, "FULLTEXT": true, "SPATIAL": true,
}

func (w *rewriter) createTable() *posErr {
	if !w.tok(0).is("CREATE") {
		return nil
	}
	i := 1
	if w.tok(i).is("TEMPORARY") {
		i++
	}
	if !w.tok(i).is("TABLE") {
		return nil
	}
	i++
	if w.tok(i).is("IF") && w.tok(i+1).is("NOT") && w.tok(i+2).is("EXISTS") {
		i += 3
	}
	if !w.tok(i).isName() {
		return nil // let the parser report it
	}
	i++
	for w.tok(i).isP(".") && w.tok(i+1).isName() {
		i += 2
	}
	if w.tok(i).isP("(") && w.match[i] > 0 {
		if err := w.columnList(i); err != nil {
			return err
		}
		i = w.match[i] + 1
	}
	// Table options: find WITH ( ... ) at depth 0, before an AS SELECT / LIKE.
	for ; i < len(w.toks); i++ {
		t := w.toks[i]
		if t.is("AS") || t.is("SELECT") || t.is("LIKE") {
			break
		}
		if t.is("WITH") && w.tok(i+1).isP("(") {
			if w.r.Options != nil {
				return w.errAt(t.start, ErrSyntax, "duplicate WITH (...) clause")
			}
			if err := w.withOptions(i); err != nil {
				return err
			}
			i = w.match[i+1]
			continue
		}
		if t.isP("(") && w.match[i] > 0 {
			i = w.match[i]
		}
	}
	return nil
}

func (w *rewriter) withOptions(i int) *posErr {
	open := i + 1
	close := w.match[open]
	if close < 0 {
		return w.errAt(w.toks[open].start, ErrSyntax, "unbalanced parenthesis")
	}
	w.r.Options = []Option{}
	elems, _ := w.splitArgs(open)
	seen := map[string]bool{}
	for _, el := range elems {
		a, b := el[0], el[1]
		eq := -1
		for k := a; k < b; k++ {
			if w.toks[k].isP("=") {
				eq = k
				break
			}
		}
		if a == b || eq <= a || eq+1 >= b {
			return w.errAt(w.tok(a).start, ErrSyntax, "WITH options must be 'key' = 'value'")
		}
		var key string
		if eq == a+1 && (w.toks[a].kind == tString || w.toks[a].kind == tQuoted) {
			key = w.toks[a].value()
		} else {
			for k := a; k < eq; k++ {
				t := w.toks[k]
				if !(t.isName() || t.kind == tNumber || t.isP(".") || t.isP("-")) || (k > a && w.toks[k-1].end != t.start) {
					return w.errAt(t.start, ErrSyntax, "WITH options must be 'key' = 'value'")
				}
				key += t.value()
			}
		}
		key = strings.ToLower(key)
		if seen[key] {
			return w.errAt(w.toks[a].start, ErrSyntax, "duplicate option '%s'", key)
		}
		seen[key] = true
		var val string
		if eq+2 == b && (w.toks[eq+1].kind == tString || w.toks[eq+1].kind == tQuoted) {
			val = w.toks[eq+1].value()
		} else {
			val = w.text(eq+1, b)
		}
		w.r.Options = append(w.r.Options, Option{Key: key, Value: val, KeyOffset: w.toks[a].start, ValueOffset: w.toks[eq+1].start})
	}
	w.blank(w.toks[i].start, w.toks[close].end)
	return nil
}

func (w *rewriter) columnList(open int) *posErr {
	elems, commas := w.splitArgs(open)
	removed := make([]bool, len(elems))
	for ei, el := range elems {
		a, b := el[0], el[1]
		if a == b {
			continue
		}
		first := w.toks[a]
		switch {
		case first.is("WATERMARK") && w.tok(a+1).is("FOR"):
			if err := w.watermark(a, b); err != nil {
				return err
			}
			removed[ei] = true
		case first.isName() && b-a >= 2 && w.toks[a+1].is("AS"):
			if b-a != 5 || !w.toks[a+2].is("PROCTIME") || !w.toks[a+3].isP("(") || !w.toks[a+4].isP(")") {
				return w.errAt(w.tok(a+2).start, ErrUnsupported, "computed column %s: only AS PROCTIME() is supported", first.value())
			}
			w.r.Computed = append(w.r.Computed, ComputedCol{Name: first.value(), Kind: "PROCTIME", Offset: first.start})
			removed[ei] = true
		case first.kind == tIdent && constraintWords[strings.ToUpper(first.text)]:
			w.notEnforced(a, b)
		default:
			w.columnType(a, b)
			w.notEnforced(a, b)
		}
	}
	for ei, el := range elems {
		if removed[ei] {
			w.blank(w.toks[el[0]].start, w.toks[el[1]-1].end)
		}
	}
	// Keep comma j (between elements j and j+1) only if element j is kept
	// and some element after it is kept.
	for j, c := range commas {
		keep := !removed[j]
		if keep {
			keep = false
			for k := j + 1; k < len(elems); k++ {
				if !removed[k] {
					keep = true
					break
				}
			}
		}
		if !keep {
			w.blank(w.toks[c].start, w.toks[c].end)
		}
	}
	return nil
}

// notEnforced blanks Flink's NOT ENFORCED after PRIMARY KEY / UNIQUE.
func (w *rewriter) notEnforced(a, b int) {
	for k := a + 1; k+1 < b; k++ {
		if !w.toks[k].is("NOT") || !w.toks[k+1].is("ENFORCED") {
			continue
		}
		p := w.toks[k-1]
		ok := p.is("KEY") || p.is("UNIQUE")
		if p.isP(")") && w.match[k-1] > a {
			q := w.tok(w.match[k-1] - 1)
			ok = q.is("KEY") || q.is("UNIQUE")
		}
		if ok {
			w.blank(w.toks[k].start, w.toks[k+1].end)
		}
	}
}

// columnType rewrites the type of the column definition [a,b).
func (w *rewriter) columnType(a, b int) {
	if b-a < 2 || !w.toks[a].isName() {
		return
	}
	ty := w.toks[a+1]
	switch strings.ToUpper(ty.text) {
	case "VARCHAR", "STRING":
		if ty.kind != tIdent || (w.tok(a+2).isP("(") && a+2 < b) {
			return
		}
		w.add(ty.start, ty.end, "VARCHAR(1048576)")
		if w.r.UnboundedVarchar == nil {
			w.r.UnboundedVarchar = map[string]bool{}
		}
		w.r.UnboundedVarchar[strings.ToLower(w.toks[a].value())] = true
	case "TIMESTAMP_LTZ":
		w.add(ty.start, ty.end, "TIMESTAMP")
		w.stripTimeZone(a+2, b)
	case "TIMESTAMP":
		w.stripTimeZone(a+2, b)
	}
}

func (w *rewriter) watermark(a, b int) *posErr {
	col := w.tok(a + 2)
	if !col.isName() || !w.tok(a+3).is("AS") || a+4 >= b {
		return w.errAt(w.tok(a+2).start, ErrSyntax, "expected WATERMARK FOR <column> AS <column> [- INTERVAL 'n' <unit>]")
	}
	if w.r.Watermark != nil {
		return w.errAt(w.toks[a].start, ErrSyntax, "only one WATERMARK per table")
	}
	e := a + 4
	wm := &WatermarkDecl{Column: col.value(), Expr: w.text(e, b), Offset: w.toks[a].start, ColumnOffset: col.start, ExprOffset: w.toks[e].start}
	bad := w.errAt(w.toks[e].start, ErrUnsupported, "WATERMARK expression must be %s [- INTERVAL ...]", col.value())
	ec := w.toks[e]
	if !ec.isName() || !strings.EqualFold(ec.value(), col.value()) {
		return bad
	}
	switch b - e {
	case 1:
	case 5:
		if !w.toks[e+1].isP("-") || !w.toks[e+2].is("INTERVAL") {
			return bad
		}
		_, _, ms, _, err := w.interval(e + 2)
		if err != nil {
			return err
		}
		wm.DelayMs = ms
	default:
		return bad
	}
	w.r.Watermark = wm
	return nil
}
