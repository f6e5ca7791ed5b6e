package sql

// Tokens and statement boundaries for tools that work on SQL text before
// it is parsed. 'weir shell' uses them to know when a statement typed over
// several lines is complete (a ';' outside strings, quoted identifiers and
// comments), to split a line holding several statements, to complete names,
// and to recognise its own job statements. They follow the lexical rules of
// Parse exactly (see the package documentation).

// TokenKind is the kind of a Token.
type TokenKind uint8

// Token kinds.
const (
	TokenSpace   = TokenKind(tSpace)
	TokenComment = TokenKind(tComment) // -- …, # …, /* … */ (possibly unterminated)
	TokenWord    = TokenKind(tIdent)   // an unquoted word, keywords included
	TokenQuoted  = TokenKind(tQuoted)  // `identifier`
	TokenString  = TokenKind(tString)  // '…' or "…" (possibly unterminated)
	TokenNumber  = TokenKind(tNumber)
	TokenPunct   = TokenKind(tPunct) // ( ) , ; = … and multi-byte operators
)

// Token is one token of a SQL text.
type Token struct {
	Kind       TokenKind
	Start, End int    // byte offsets in the text
	Text       string // as written
}

// Value is the unquoted text of a string or quoted identifier, and Text for
// the others.
func (t Token) Value() string { return token{kind: tokKind(t.Kind), text: t.Text}.value() }

// Tokens splits text into tokens, whitespace and comments included; the
// tokens cover text exactly. An unterminated string or comment runs to the
// end.
func Tokens(text string) []Token {
	toks := lex(text)
	out := make([]Token, len(toks))
	for i, t := range toks {
		out[i] = Token{Kind: TokenKind(t.kind), Start: t.start, End: t.end, Text: t.text}
	}
	return out
}

// SplitComplete finds the statements of text that are complete, that is
// ended by a ';' outside strings, quoted identifiers and comments. It
// returns their [start, end) byte spans, from the first token to the last
// one before the ';' (leading comments excluded, as Statement.Text; empty
// statements are skipped), and rest, the offset just after the last such
// ';' (0 if there is none): text[rest:] is the unfinished remainder.
func SplitComplete(text string) (spans [][2]int, rest int) {
	start, end := -1, -1
	for _, t := range lex(text) {
		switch {
		case t.isP(";"):
			if start >= 0 {
				spans = append(spans, [2]int{start, end})
			}
			start, end = -1, -1
			rest = t.end
		case t.kind == tSpace || t.kind == tComment:
		default:
			if start < 0 {
				start = t.start
			}
			end = t.end
		}
	}
	return spans, rest
}

// Blank reports whether text holds nothing but whitespace and complete
// comments (an unterminated /* comment is not blank: it awaits its end).
func Blank(text string) bool {
	for _, t := range lex(text) {
		switch t.kind {
		case tSpace:
		case tComment:
			if t.text[0] == '/' && (len(t.text) < 4 || t.text[len(t.text)-2:] != "*/") {
				return false
			}
		default:
			return false
		}
	}
	return true
}
