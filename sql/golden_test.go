package sql_test

// A small sqllogictest-style golden runner of Weir's own (see STYLE.md,
// "Tests are data"). Each testdata/sql/*.test file runs in a fresh Session
// as a subtest. A file is a sequence of records separated by blank lines:
//
//	# a comment
//	statement ok
//	CREATE TABLE ...
//
//	statement error
//	CREATE TABLE ...
//	----
//	line 1, column 14: table t already exists
//
//	query rowsort|nosort|changelog|error
//	SELECT ...
//	----
//	<one line per row: values rendered with types.Value.String(), single
//	spaces; changelog rows are prefixed by their kind (+I, -U, +U, -D),
//	in the order produced; rowsort and nosort show an updating result
//	materialized (each -U/-D removes an equal earlier row)>
//
//	explain
//	SELECT ...
//	----
//	<the EXPLAIN text>
//
//	set parallelism=4
//
// ${TESTDATA} in SQL expands to the absolute testdata/sql directory and
// ${TMPDIR} to a fresh temporary directory per file; in actual output both
// are replaced back by the placeholders before comparing, so expected texts
// are machine-independent. `go test ./sql/ -run Golden -rewrite` rewrites
// the expected outputs in place.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"

	_ "github.com/weirsql/weir/connectors/all"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of testdata/sql/*.test")

// goldenRecord is one directive of a .test file.
type goldenRecord struct {
	line     int      // 1-based line of the directive
	header   string   // "statement ok", "query rowsort", "explain", "set parallelism=4"
	sql      []string // statement lines
	hasSep   bool     // a ---- line was present
	expected []string // lines after ----
}

// goldenChunk is either verbatim text (comments, blank lines) or a record.
type goldenChunk struct {
	text []string
	rec  *goldenRecord
}

func parseGolden(t *testing.T, path string) []goldenChunk {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var chunks []goldenChunk
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			chunks = append(chunks, goldenChunk{text: []string{l}})
			i++
			continue
		}
		r := &goldenRecord{line: i + 1, header: strings.TrimSpace(l)}
		i++
		if strings.HasPrefix(r.header, "set ") {
			chunks = append(chunks, goldenChunk{rec: r})
			continue
		}
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" && lines[i] != "----" {
			r.sql = append(r.sql, lines[i])
			i++
		}
		if i < len(lines) && lines[i] == "----" {
			r.hasSep = true
			i++
			for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
				r.expected = append(r.expected, lines[i])
				i++
			}
		}
		if len(r.sql) == 0 {
			t.Fatalf("%s:%d: %q has no SQL", path, r.line, r.header)
		}
		chunks = append(chunks, goldenChunk{rec: r})
	}
	return chunks
}

// goldenSink renders what a statement produces. In changelog mode rows are
// prefixed by their kind; otherwise an updating result is materialized:
// -U/-D rows withdraw an equal earlier row, so rowsort and nosort show the
// final table whatever the batching.
type goldenSink struct {
	changelog bool // prefix rows by their kind
	updating  bool // the result carries kinds other than +I
	rows      []string
	messages  []string
	err       error
}

func (g *goldenSink) Columns(_ []types.Column, changelog bool) error {
	g.updating = changelog
	return nil
}

func (g *goldenSink) Rows(b *types.Batch) error {
	for i, r := range b.Rows {
		parts := make([]string, 0, len(r)+1)
		if g.changelog {
			parts = append(parts, b.Kind(i).String())
		}
		for _, v := range r {
			parts = append(parts, v.String())
		}
		line := strings.Join(parts, " ")
		if !g.changelog && g.updating && b.Kind(i).IsRetract() {
			j := len(g.rows) - 1
			for j >= 0 && g.rows[j] != line {
				j--
			}
			if j < 0 {
				g.err = fmt.Errorf("%s %s withdraws a row that is not there", b.Kind(i), line)
				continue
			}
			g.rows = append(g.rows[:j], g.rows[j+1:]...)
			continue
		}
		g.rows = append(g.rows, line)
	}
	return nil
}

func (g *goldenSink) Done() error { return nil }

func (g *goldenSink) Message(text string) error {
	g.messages = append(g.messages, text)
	return nil
}

func TestGolden(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "sql"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .test files in %s", dir)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".test"), func(t *testing.T) {
			runGoldenFile(t, path, dir)
		})
	}
}

func runGoldenFile(t *testing.T, path, testdata string) {
	tmp := t.TempDir()
	chunks := parseGolden(t, path)
	s := wsql.NewSession()
	changed := false
	expand := func(q string) string {
		q = strings.ReplaceAll(q, "${TESTDATA}", testdata)
		return strings.ReplaceAll(q, "${TMPDIR}", tmp)
	}
	unexpand := func(out string) string {
		out = strings.ReplaceAll(out, tmp, "${TMPDIR}")
		return strings.ReplaceAll(out, testdata, "${TESTDATA}")
	}
	for _, c := range chunks {
		r := c.rec
		if r == nil {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, r.line)
		kind, mode, _ := strings.Cut(r.header, " ")
		if kind == "set" {
			k, v, ok := strings.Cut(mode, "=")
			if !ok {
				t.Fatalf("%s: set expects key=value", where)
			}
			if err := s.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			continue
		}
		wantErr := mode == "error"
		switch {
		case kind == "statement" && (mode == "ok" || mode == "error"):
		case kind == "query" && (mode == "rowsort" || mode == "nosort" || mode == "changelog" || mode == "error"):
		case kind == "explain" && mode == "":
		default:
			t.Fatalf("%s: unknown directive %q", where, r.header)
		}
		sink := &goldenSink{changelog: mode == "changelog"}
		q := expand(strings.Join(r.sql, "\n"))
		if kind == "explain" {
			q = "EXPLAIN " + q
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := s.ExecScript(ctx, q, sink)
		cancel()
		var actual []string
		switch {
		case wantErr && err == nil:
			t.Errorf("%s: expected an error, the statement succeeded", where)
			continue
		case wantErr:
			actual = strings.Split(unexpand(err.Error()), "\n")
		case err != nil:
			t.Errorf("%s: unexpected error: %v", where, unexpand(err.Error()))
			continue
		case sink.err != nil:
			t.Errorf("%s: %v", where, sink.err)
			continue
		case kind == "statement":
			continue // statement ok checks only that there is no error
		case kind == "explain":
			actual = strings.Split(strings.TrimRight(unexpand(strings.Join(sink.messages, "\n")), "\n"), "\n")
		default:
			actual = sink.rows
			for i := range actual {
				actual[i] = unexpand(actual[i])
			}
			if mode == "rowsort" {
				sort.Strings(actual)
			}
		}
		if equalLines(actual, r.expected) {
			continue
		}
		if *rewrite {
			r.hasSep = true
			r.expected = actual
			changed = true
			continue
		}
		t.Errorf("%s: %s\n%s\n--- expected\n%s\n--- actual\n%s\n--- diff\n%s", where, r.header,
			strings.Join(r.sql, "\n"), strings.Join(r.expected, "\n"), strings.Join(actual, "\n"),
			lineDiff(r.expected, actual))
	}
	if changed {
		var out []string
		for _, c := range chunks {
			if c.rec == nil {
				out = append(out, c.text...)
				continue
			}
			out = append(out, c.rec.header)
			out = append(out, c.rec.sql...)
			if c.rec.hasSep {
				out = append(out, "----")
				out = append(out, c.rec.expected...)
			}
		}
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", path)
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lineDiff marks lines only in want with '-' and only in got with '+'
// (a longest-common-subsequence diff; inputs are small).
func lineDiff(want, got []string) string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			b.WriteString("  " + want[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			b.WriteString("- " + want[i] + "\n")
			i++
		default:
			b.WriteString("+ " + got[j] + "\n")
			j++
		}
	}
	return b.String()
}
