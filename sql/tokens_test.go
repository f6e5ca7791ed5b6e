package sql

import (
	"strings"
	"testing"
)

func TestSplitComplete(t *testing.T) {
	cases := []struct {
		text  string
		stmts []string // the complete statements' texts
		rest  string   // the unfinished remainder
	}{
		{"", nil, ""},
		{"SELECT 1", nil, "SELECT 1"},
		{"SELECT 1;", []string{"SELECT 1"}, ""},
		{"SELECT 1;\n", []string{"SELECT 1"}, "\n"},
		{"SELECT 1; SELECT 2;  SELECT", []string{"SELECT 1", "SELECT 2"}, "  SELECT"},
		{"SELECT 'a;b'", nil, "SELECT 'a;b'"},
		{"SELECT 'a;b';", []string{"SELECT 'a;b'"}, ""},
		{"SELECT 'it''s;'\n;", []string{"SELECT 'it''s;'"}, ""},
		{"SELECT 'unterminated;\n", nil, "SELECT 'unterminated;\n"},
		{"SELECT 1 -- not the end;\n", nil, "SELECT 1 -- not the end;\n"},
		{"SELECT 1 # nor this;\n, 2;", []string{"SELECT 1 # nor this;\n, 2"}, ""},
		{"SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1"}, ""},
		{"SELECT /* ;\n", nil, "SELECT /* ;\n"},
		{"SELECT `a;b` FROM t;", []string{"SELECT `a;b` FROM t"}, ""},
		{";;  ;", nil, ""},
		{"-- lead\nSELECT 1 ; -- trail", []string{"SELECT 1"}, " -- trail"},
	}
	for _, c := range cases {
		spans, rest := SplitComplete(c.text)
		var got []string
		for _, sp := range spans {
			got = append(got, c.text[sp[0]:sp[1]])
		}
		if strings.Join(got, "|") != strings.Join(c.stmts, "|") || c.text[rest:] != c.rest {
			t.Errorf("SplitComplete(%q) = %q, rest %q; want %q, rest %q", c.text, got, c.text[rest:], c.stmts, c.rest)
		}
	}
}

// The spans are those Parse gives its statements.
func TestSplitCompleteMatchesParse(t *testing.T) {
	text := "-- first\nSELECT 1;\n\nSELECT 'x;y' AS s\n  FROM t; /* c */ SHOW TABLES;"
	spans, _ := SplitComplete(text)
	stmts, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != len(spans) {
		t.Fatalf("%d spans, %d statements", len(spans), len(stmts))
	}
	for i, st := range stmts {
		if st.Offset != spans[i][0] || st.Text != text[spans[i][0]:spans[i][1]] {
			t.Errorf("statement %d: Parse %d %q, SplitComplete %v %q", i, st.Offset, st.Text, spans[i], text[spans[i][0]:spans[i][1]])
		}
	}
}

func TestBlank(t *testing.T) {
	for text, want := range map[string]bool{
		"": true, " \n\t": true, "-- c\n": true, "# c": true, "/* c */": true,
		"/* open": false, "x": false, "  ;": false, "'": false,
	} {
		if got := Blank(text); got != want {
			t.Errorf("Blank(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	text := "STOP JOB 'j-a''b' -- x\n`q``n` 12"
	var got []string
	end := 0
	for _, tok := range Tokens(text) {
		if tok.Start != end {
			t.Fatalf("token %q starts at %d, want %d: tokens must cover the text", tok.Text, tok.Start, end)
		}
		end = tok.End
		if tok.Kind != TokenSpace {
			got = append(got, tok.Value())
		}
	}
	if end != len(text) {
		t.Fatalf("tokens end at %d of %d", end, len(text))
	}
	want := []string{"STOP", "JOB", "j-a'b", "-- x", "q`n", "12"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("values %q, want %q", got, want)
	}
}
