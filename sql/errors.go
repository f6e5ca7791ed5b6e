package sql

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error kinds. A *SQLError wraps one of them (see SQLError.Kind), so callers
// can test errors.Is(err, sql.ErrSyntax) without parsing messages.
var (
	// ErrSyntax: the text is not valid Weir SQL (reported by the rewrite or
	// by the TiDB parser).
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported: the text is recognised but Weir does not support it
	// (for example a computed column other than AS PROCTIME()).
	ErrUnsupported = errors.New("unsupported")
	// ErrSemantic: the statement parses but is wrong (unknown table or
	// column, type mismatch...). Reserved for the binder.
	ErrSemantic = errors.New("semantic error")
	// ErrInternal: a broken invariant in Weir itself, not the user's fault.
	ErrInternal = errors.New("internal error")
)

// SQLError is an error at a position of a SQL script. Line and Col are
// 1-based; Col counts characters (Unicode code points, a tab is one), not
// bytes.
type SQLError struct {
	Line, Col int
	Msg       string
	// Kind is ErrSyntax, ErrUnsupported, ErrSemantic or nil.
	Kind error
}

// Error renders "line 3, column 15: <msg>".
func (e *SQLError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap returns the error kind, so errors.Is(err, ErrSyntax) works.
func (e *SQLError) Unwrap() error { return e.Kind }

// LineCol converts a byte offset in text into a 1-based line and column
// (the column counts characters). Offsets outside text are clamped; an
// offset equal to len(text) is the position just after the last character.
func LineCol(text string, offset int) (line, col int) {
	if offset < 0 {
		offset = 0
	}
	if offset > len(text) {
		offset = len(text)
	}
	line, col = 1, 1
	lineStart := 0
	for i := 0; i < offset; i++ {
		if text[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	col = 1 + utf8.RuneCountInString(text[lineStart:offset])
	return line, col
}

// PosError builds a *SQLError (kind ErrSemantic) positioned at the byte
// offset of text. Pass the whole script and an offset in it to get script
// positions; Statement.Errorf does that for an offset in a statement's
// original text.
func PosError(text string, offset int, format string, args ...any) *SQLError {
	line, col := LineCol(text, offset)
	return &SQLError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Kind: ErrSemantic}
}
