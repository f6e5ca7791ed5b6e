package sql

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values
)

// Statement is one statement of a script.
type Statement struct {
	// Text is the statement as written in the script, from its first token
	// to its last (leading comments, the ';' and trailing blanks excluded).
	Text string
	// Line and Col are the 1-based position of Text in the script, Offset
	// its byte offset.
	Line, Col, Offset int
	// Node is the TiDB AST of Rewritten; nil for statements parsed by hand
	// (Set, Show). Node offsets (OriginTextPosition, SelectField.Offset)
	// are offsets in Rewritten: use PositionOf / NodeOffset.
	Node ast.StmtNode

	// Rewrite holds the rewritten text and what the rewrite extracted:
	// Options, Watermark, Computed, UnboundedVarchar, Casts, WindowTVFs,
	// Lookups, Set, Show.
	Rewrite

	script string
}

var nearRE = regexp.MustCompile(`^line (\d+) column (\d+) near "`)

// Parse splits a script into statements on ';' outside strings, quoted
// identifiers and comments (empty statements are skipped), rewrites each one
// (see the package documentation) and parses it with the TiDB parser. The
// first error is returned as a *SQLError with its position in the script.
func Parse(text string) ([]*Statement, error) {
	// An unterminated /* comment would silently swallow the rest of the
	// script (the splitter drops trailing comments): refuse it.
	for _, t := range lex(text) {
		if t.kind == tComment && strings.HasPrefix(t.text, "/*") && (len(t.text) < 4 || !strings.HasSuffix(t.text, "*/")) {
			line, col := LineCol(text, t.start)
			return nil, &SQLError{Line: line, Col: col, Msg: "unterminated comment: /* has no closing */", Kind: ErrSyntax}
		}
	}
	var out []*Statement
	p := parser.New()
	for _, span := range splitStatements(text) {
		st := &Statement{Text: text[span[0]:span[1]], Offset: span[0], script: text}
		st.Line, st.Col = LineCol(text, span[0])
		rw, perr := rewriteStatement(st.Text)
		if perr != nil {
			return nil, st.errorKind(perr.off, perr.kind, "%s", perr.msg)
		}
		st.Rewrite = *rw
		if st.Set == nil && st.Show == nil {
			node, err := p.ParseOneStmt(st.Rewritten, "", "")
			if err != nil {
				return nil, st.parserError(err)
			}
			st.Node = node
			if err := st.engineOptions(); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// ParseOne parses a script that must hold exactly one statement.
func ParseOne(text string) (*Statement, error) {
	stmts, err := Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		line, col := LineCol(text, len(text))
		if len(stmts) > 1 {
			line, col = stmts[1].Line, stmts[1].Col
		}
		return nil, &SQLError{Line: line, Col: col, Msg: "expected exactly one statement, got " + strconv.Itoa(len(stmts)), Kind: ErrSyntax}
	}
	return stmts[0], nil
}

// splitStatements returns the [start,end) byte spans of the non-empty
// statements of a script.
func splitStatements(text string) [][2]int {
	var spans [][2]int
	start, end := -1, -1
	for _, t := range lex(text) {
		switch {
		case t.isP(";"):
			if start >= 0 {
				spans = append(spans, [2]int{start, end})
			}
			start, end = -1, -1
		case t.kind == tSpace || t.kind == tComment:
		default:
			if start < 0 {
				start = t.start
			}
			end = t.end
		}
	}
	if start >= 0 {
		spans = append(spans, [2]int{start, end})
	}
	return spans
}

// Pos converts a byte offset in the statement's original Text into a
// position in the script.
func (s *Statement) Pos(offset int) (line, col int) {
	if s.script == "" {
		return LineCol(s.Text, offset)
	}
	offset = min(max(offset, 0), len(s.Text))
	return LineCol(s.script, s.Offset+offset)
}

// Errorf returns a *SQLError (kind ErrSemantic) at a byte offset of the
// statement's original Text, positioned in the script.
func (s *Statement) Errorf(offset int, format string, args ...any) *SQLError {
	return s.errorKind(offset, ErrSemantic, format, args...)
}

func (s *Statement) errorKind(offset int, kind error, format string, args ...any) *SQLError {
	line, col := s.Pos(offset)
	return &SQLError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// NodeOffset returns the byte offset in the original Text where node
// starts, or -1 when the parser recorded no position for it. Expression
// nodes (ast.ExprNode: column references, literals, function calls,
// operators — the offset of their first token) and *ast.SelectField have
// positions; other nodes (TableName, ColumnDef, ByItem, ...) do not: use
// Locate for those.
func (s *Statement) NodeOffset(node ast.Node) int {
	var off int
	switch n := node.(type) {
	case *ast.SelectField:
		off = n.Offset
	default:
		off = node.OriginTextPosition()
	}
	if off <= 0 || off > len(s.Rewritten) {
		return -1
	}
	return s.OrigOffset(off)
}

// PositionOf returns the script position of node, or the statement's start
// when the node has no recorded position (see NodeOffset).
func PositionOf(stmt *Statement, node ast.Node) (line, col int) {
	off := stmt.NodeOffset(node)
	if off < 0 {
		return stmt.Line, stmt.Col
	}
	return stmt.Pos(off)
}

// LocateOffset returns the byte offset in Text of the first identifier
// token equal to name (case-insensitive; `quoted` or not) at or after byte
// offset after, skipping strings and comments; -1 if there is none. For a
// qualified name (t.a) pass the last part.
func (s *Statement) LocateOffset(name string, after int) int {
	for _, t := range lex(s.Text) {
		if t.start < after || !t.isName() {
			continue
		}
		if strings.EqualFold(t.value(), name) {
			return t.start
		}
	}
	return -1
}

// Locate is LocateOffset as a script position; the statement's start when
// the name is not found.
func (s *Statement) Locate(name string, after int) (line, col int) {
	off := s.LocateOffset(name, after)
	if off < 0 {
		return s.Line, s.Col
	}
	return s.Pos(off)
}

// CastType returns the type a user wrote in a CAST that the rewrite had to
// change (e.g. "BIGINT" for a FuncCastExpr typed SIGNED, "VARCHAR" for
// CHAR, "TIMESTAMP(3)" for DATETIME(3)); ok is false for CASTs left as
// written.
func (s *Statement) CastType(n *ast.FuncCastExpr) (string, bool) {
	off := s.NodeOffset(n)
	if off < 0 {
		return "", false
	}
	t, ok := s.Casts[off]
	return t, ok
}

// Lookup returns the FOR SYSTEM_TIME AS OF table that the rewrite replaced
// by the placeholder name, or nil.
func (s *Statement) Lookup(name string) *LookupRef {
	for _, l := range s.Lookups {
		if strings.EqualFold(l.Name, name) {
			return l
		}
	}
	return nil
}

// WindowTVF returns the window table function that the rewrite replaced by
// the table name name (e.g. "__weir_tvf_0"), or nil.
func (s *Statement) WindowTVF(name string) *WindowTVF {
	for _, t := range s.WindowTVFs {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

// parserError converts a TiDB parser error into a *SQLError positioned in
// the original script.
func (s *Statement) parserError(err error) *SQLError {
	msg := err.Error()
	loc := nearRE.FindStringSubmatchIndex(msg)
	if loc == nil {
		if errors.Is(err, parser.ErrSyntax) || strings.Contains(msg, "syntax error") {
			return s.errorKind(0, ErrSyntax, "syntax error")
		}
		return s.errorKind(0, ErrSyntax, "%s", strings.TrimSpace(stripErrCode(msg)))
	}
	rest := msg[loc[1]:]
	line, _ := strconv.Atoi(msg[loc[2]:loc[3]])
	col, _ := strconv.Atoi(msg[loc[4]:loc[5]])
	src := s.Rewritten
	// The lexer reports the end of the offending token; the near text is
	// the rest of the input from the token's start (at most 2048 bytes).
	end := len(src)
	if l, o := 1, 0; line >= 1 {
		for o < len(src) && l < line {
			if src[o] == '\n' {
				l++
			}
			o++
		}
		if line == 1 {
			end = min(o+col, len(src))
		} else {
			end = min(o+col-1, len(src))
		}
	}
	k := -1
	for _, hi := range []int{end, len(src)} {
		for c := hi; c >= 0 && k < 0; c-- {
			v := src[c:]
			if len(v) > 2048 {
				v = v[:2048]
			}
			if strings.HasPrefix(rest, v+`"`) {
				k = c
			}
		}
		if k >= 0 {
			break
		}
	}
	extra := ""
	if k >= 0 {
		v := src[k:]
		if len(v) > 2048 {
			v = v[:2048]
		}
		extra = strings.TrimSpace(rest[len(v)+1:])
		if i := strings.Index(extra, "(total length"); i >= 0 {
			extra = strings.TrimSpace(extra[:i])
		}
	} else {
		k = end
	}
	off := s.OrigOffset(k)
	what := "syntax error"
	if extra != "" {
		what = stripErrCode(extra)
	}
	near := nearText(s.Text, off)
	if near == "" {
		return s.errorKind(off, ErrSyntax, "%s at end of statement", what)
	}
	return s.errorKind(off, ErrSyntax, "%s near %q", what, near)
}

// stripErrCode drops a leading "[parser:1064]"-style code.
func stripErrCode(msg string) string {
	if strings.HasPrefix(msg, "[") {
		if i := strings.Index(msg, "]"); i > 0 {
			return strings.TrimSpace(msg[i+1:])
		}
	}
	return msg
}

// nearText is the rest of the line of text from off, at most 40
// characters.
func nearText(text string, off int) string {
	off = min(max(off, 0), len(text))
	s := text[off:]
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:40]) + "..."
	}
	return s
}

// engineOptions turns the MySQL-native table options ENGINE = x
// CONNECTION = 'k=v;k=v' into Options (connector=x, then the pairs), when
// there is no WITH (...) clause.
func (s *Statement) engineOptions() *SQLError {
	ct, ok := s.Node.(*ast.CreateTableStmt)
	if !ok {
		return nil
	}
	var engine, conn *ast.TableOption
	for _, o := range ct.Options {
		switch o.Tp {
		case ast.TableOptionEngine:
			engine = o
		case ast.TableOptionConnection:
			conn = o
		}
	}
	if engine == nil && conn == nil {
		return nil
	}
	if s.Options != nil {
		return s.errorKind(s.LocateOffset(map[bool]string{true: "ENGINE", false: "CONNECTION"}[engine != nil], 0), ErrSyntax,
			"use either WITH (...) or ENGINE/CONNECTION, not both")
	}
	opts := []Option{}
	if engine != nil {
		opts = append(opts, Option{Key: "connector", Value: strings.ToLower(engine.StrValue), KeyOffset: -1, ValueOffset: -1})
	}
	if conn != nil {
		for _, kv := range strings.Split(conn.StrValue, ";") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k = strings.ToLower(strings.TrimSpace(k))
			if !ok || k == "" {
				return s.errorKind(max(s.LocateOffset("CONNECTION", 0), 0), ErrSyntax, "CONNECTION must be 'key=value;key=value', got %q", kv)
			}
			for _, o := range opts {
				if o.Key == k {
					return s.errorKind(max(s.LocateOffset("CONNECTION", 0), 0), ErrSyntax, "duplicate option '%s'", k)
				}
			}
			opts = append(opts, Option{Key: k, Value: strings.TrimSpace(v), KeyOffset: -1, ValueOffset: -1})
		}
	}
	s.Options = opts
	return nil
}
