// Package termtext measures and cleans text for a terminal: the widths
// `weir run --format table` and `weir shell` align columns with, and the
// escaping that keeps a cell on one line. East Asian widths come from
// golang.org/x/text/width (the Unicode tables, kept by the Go team).
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// DisplayWidth is the number of terminal cells s takes: two for East Asian
// wide and fullwidth characters, one for the others. (Combining marks and
// zero-width characters count as one: good enough for alignment in the
// common cases.)
func DisplayWidth(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			for _, r := range s[i:] {
				n += RuneWidth(r)
			}
			return n
		}
		n++
	}
	return n
}

// RuneWidth is the number of terminal cells r takes.
func RuneWidth(r rune) int {
	if r < utf8.RuneSelf {
		return 1
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// OneLine escapes control characters (\n, \r, \t, and \xNN for the
// others, DEL included) so that s prints on one line.
func OneLine(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] != 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
