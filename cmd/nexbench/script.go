package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/weirsql/weir/connectors/nexmark"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// sinkTable is the name of the blackhole table a benchmark script inserts
// into; a query file must not use it.
const sinkTable = "nexbench_sink"

// option is a 'key' = 'value' table option to set on every nexmark table.
type option struct{ key, value string }

// benchScript is a query file made ready to run as a benchmark.
type benchScript struct {
	name    string   // "q5"
	text    string   // the script the child process runs
	explain string   // EXPLAIN of the benchmark's INSERT
	tables  []string // the nexmark tables, as declared
	sources []source // the plan's nexmark sources
}

// source is one nexmark source of a benchmark's plan.
type source struct {
	table string
	kind  nexmark.Kind
}

var (
	queryStart = regexp.MustCompile(`(?i)^(SELECT|WITH)\b|^\(`)
	setupStart = regexp.MustCompile(`(?i)^(CREATE|SET|RESET|DROP)\b`)
)

// edit replaces text[start:end] by repl.
type edit struct {
	start, end int
	repl       string
}

// prepare turns a query file into a benchmark script: every table with
// 'connector' = 'nexmark' gets the options in set (replaced where the file
// has them, added at the end of its WITH list where not), and the file's
// last statement, which must be a query, becomes
//
//	CREATE TABLE nexbench_sink (<the query's columns>) WITH ('connector' = 'blackhole');
//	INSERT INTO nexbench_sink
//	<the query, as written>;
//
// The statements before it must be CREATE, SET, RESET or DROP: nothing else
// may run. Everything else in the file, comments included, is kept byte for
// byte. The result is checked in this process: it parses, every nexmark
// table carries the options, and the INSERT plans at the given parallelism
// (its EXPLAIN and its nexmark sources are kept).
func prepare(name, text string, set []option, parallelism int) (*benchScript, error) {
	stmts, err := wsql.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("%s: no statements", name)
	}
	last := stmts[len(stmts)-1]
	if !queryStart.MatchString(last.Text) {
		return nil, fmt.Errorf("%s: line %d: the last statement must be the query (SELECT or WITH), not %q",
			name, last.Line, firstWords(last.Text))
	}
	var edits []edit
	for _, st := range stmts[:len(stmts)-1] {
		if !setupStart.MatchString(st.Text) {
			return nil, fmt.Errorf("%s: line %d: only CREATE, SET, RESET and DROP may come before the query, not %q",
				name, st.Line, firstWords(st.Text))
		}
		if !isNexmark(st) {
			continue
		}
		for _, o := range set {
			edits = append(edits, setOption(st, o))
		}
	}
	prefix := applyEdits(text[:last.Offset], edits)

	// The query's columns, from a view over it in a session that ran the
	// statements before it (this also checks that they run).
	s := wsql.NewSession()
	if err := s.Set("parallelism", strconv.Itoa(parallelism)); err != nil {
		return nil, err
	}
	rec := &recorder{}
	probe := prefix + ";\nCREATE VIEW nexbench_result AS " + last.Text + ";\nDESCRIBE nexbench_result;\n"
	if err := s.ExecScript(context.Background(), probe, rec); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if _, ok := s.Catalog().Table(sinkTable); ok {
		return nil, fmt.Errorf("%s: the file declares %s, the benchmark's sink", name, sinkTable)
	}
	for _, r := range rec.rows {
		if r[1].S == types.TNull.String() {
			return nil, fmt.Errorf("%s: result column %s has no type (a bare NULL): CAST it", name, r[0].S)
		}
	}
	sink := sinkDDL(rec.rows)
	b := &benchScript{name: name}
	b.text = prefix + sink + "INSERT INTO " + sinkTable + "\n" + text[last.Offset:]

	// Check what the child will run: the options reached the tables and
	// the INSERT plans.
	tables, _ := s.Catalog().Names()
	for _, tn := range tables {
		t, _ := s.Catalog().Table(tn)
		if !strings.EqualFold(t.Options["connector"], "nexmark") {
			continue
		}
		b.tables = append(b.tables, t.Name)
		for _, o := range set {
			if got := t.Options[o.key]; got != o.value {
				return nil, fmt.Errorf("%s: table %s: option '%s' is '%s' after rewriting, want '%s'", name, t.Name, o.key, got, o.value)
			}
		}
	}
	if len(b.tables) == 0 {
		return nil, fmt.Errorf("%s: no table with 'connector' = 'nexmark'", name)
	}
	if err := s.ExecScript(context.Background(), sink, rec); err != nil {
		return nil, fmt.Errorf("%s: the benchmark's sink: %v", name, err)
	}
	ins, err := wsql.ParseOne("INSERT INTO " + sinkTable + "\n" + last.Text)
	if err != nil {
		return nil, fmt.Errorf("%s: the benchmark's INSERT: %v", name, err)
	}
	plan, err := s.PlanInsert(ins)
	if err != nil {
		return nil, fmt.Errorf("%s: the benchmark's INSERT: %v", name, err)
	}
	b.explain = plan.Explain()
	// The sources the job will run: a table read twice (q7) is two.
	for _, n := range plan.Nodes {
		if n.Op != "Source" {
			continue
		}
		for _, d := range n.Details {
			tn, ok := strings.CutPrefix(d, "table=")
			if !ok {
				continue
			}
			if t, ok := s.Catalog().Table(tn); ok && strings.EqualFold(t.Options["connector"], "nexmark") {
				k, ok := nexmark.ParseKind(strings.TrimSpace(t.Options[nexmark.OptTable]))
				if !ok {
					return nil, fmt.Errorf("%s: table %s: bad '%s'", name, tn, nexmark.OptTable)
				}
				b.sources = append(b.sources, source{table: t.Name, kind: k})
			}
		}
	}
	if len(b.sources) == 0 {
		return nil, fmt.Errorf("%s: the plan reads no nexmark table", name)
	}
	if _, err := wsql.Parse(b.text); err != nil { // the child parses the whole text first
		return nil, fmt.Errorf("%s: the benchmark script: %v", name, err)
	}
	return b, nil
}

// isNexmark reports whether st is a CREATE TABLE of the nexmark connector.
func isNexmark(st *wsql.Statement) bool {
	for _, o := range st.Options {
		if o.Key == "connector" && strings.EqualFold(strings.TrimSpace(o.Value), "nexmark") {
			return true
		}
	}
	return false
}

// setOption returns the edit (in script offsets) that gives st's option
// o.key the value o.value: its value replaced, or a new last option.
func setOption(st *wsql.Statement, o option) edit {
	lit := quote(o.value)
	for _, have := range st.Options {
		if have.Key == o.key && have.ValueOffset >= 0 {
			end := valueEnd(st.Text, have.ValueOffset)
			return edit{st.Offset + have.ValueOffset, st.Offset + end, lit}
		}
	}
	lastOpt := st.Options[len(st.Options)-1] // isNexmark: there is a 'connector'
	at := st.Offset + valueEnd(st.Text, lastOpt.ValueOffset)
	return edit{at, at, ", " + quote(o.key) + " = " + lit}
}

// valueEnd returns the end of the option value that starts at off: a
// quoted literal (a doubled quote or a backslash escapes), or a bare word.
func valueEnd(text string, off int) int {
	if q := text[off]; q == '\'' || q == '"' {
		for i := off + 1; i < len(text); i++ {
			switch text[i] {
			case '\\':
				i++
			case q:
				if i+1 < len(text) && text[i+1] == q {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(text)
	}
	i := off
	for i < len(text) && !strings.ContainsRune(",) \t\r\n", rune(text[i])) {
		i++
	}
	return i
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// applyEdits applies non-overlapping edits to text.
func applyEdits(text string, edits []edit) string {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	for _, e := range edits {
		text = text[:e.start] + e.repl + text[e.end:]
	}
	return text
}

// sinkDDL declares the blackhole sink with the query's columns (name, type
// rows of DESCRIBE). Repeated names (q20 selects date_time and extra of
// both inputs) get a suffix: the INSERT matches columns by position.
func sinkDDL(rows []types.Row) string {
	var b strings.Builder
	b.WriteString("-- nexbench: the query's rows go to a blackhole (discarded, counted).\n")
	b.WriteString("CREATE TABLE " + sinkTable + " (\n")
	seen := map[string]int{}
	for i, r := range rows {
		name := r[0].S
		k := strings.ToLower(name)
		seen[k]++
		if seen[k] > 1 {
			name = fmt.Sprintf("%s_%d", name, seen[k])
		}
		sep := ","
		if i == len(rows)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    `%s` %s%s\n", strings.ReplaceAll(name, "`", "``"), r[1].S, sep)
	}
	b.WriteString(") WITH ('connector' = 'blackhole');\n")
	return b.String()
}

func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// recorder is a ResultSink that keeps rows and text.
type recorder struct {
	rows []types.Row
	text []string
}

func (r *recorder) Columns([]types.Column, bool) error { return nil }
func (r *recorder) Rows(b *types.Batch) error {
	for _, row := range b.Rows {
		r.rows = append(r.rows, append(types.Row(nil), row...))
	}
	return nil
}
func (r *recorder) Done() error            { return nil }
func (r *recorder) Message(string) error   { return nil }
func (r *recorder) Text(text string) error { r.text = append(r.text, text); return nil }
