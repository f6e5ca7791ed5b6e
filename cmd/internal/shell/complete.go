package shell

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/expr"
)

// Tab completion (readline.AutoCompleter). What is offered depends on the
// word before the cursor:
//
//   - after FROM, JOIN, INTO, TABLE, VIEW, DESCRIBE / DESC / EXPLAIN's
//     DESCRIBE: table and view names;
//   - after JOB or CHECKPOINTS: job ids;
//   - after "name." where name is a table, view or an alias of one in the
//     statement: that table's columns;
//   - at the start of a line with nothing typed before it: backslash
//     commands if the word starts with \;
//   - elsewhere: keywords, function names, and the columns of the tables the
//     statement names (of every table, when it names none and the catalog is
//     small).
//
// Names come from the backend (SHOW TABLES, DESCRIBE t) and are cached
// until the next statement runs (Shell.forget). Matching ignores case;
// keywords keep the case of what was typed (sel → select, SEL → SELECT).

// keywords offered by completion.
var keywords = []string{
	"ALL", "AND", "AS", "ASC", "BETWEEN", "BIGINT", "BOOLEAN", "BY", "CASE", "CAST", "CHECKPOINTS",
	"CREATE", "DECIMAL", "DESC", "DESCRIBE", "DISTINCT", "DOUBLE", "DROP", "ELSE", "END",
	"ENFORCED", "EXISTS", "EXPLAIN", "FALSE", "FOR", "FROM", "GROUP", "HAVING", "IF", "IN",
	"INSERT", "INT", "INTERVAL", "INTO", "IS", "JOB", "JOBS", "KEY", "LIKE", "LIMIT", "NOT", "NULL",
	"ON", "OR", "ORDER", "PRIMARY", "REPLACE", "RESET", "RESUME", "SAVEPOINT", "SECOND",
	"MINUTE", "HOUR", "DAY", "MILLISECOND", "SELECT", "SET", "SHOW", "STOP", "TABLE",
	"TABLES", "THEN", "TIMESTAMP", "TRUE", "UNION", "VARCHAR", "VIEW", "VIEWS", "WATERMARK",
	"WHEN", "WHERE", "WITH",
}

// functions the binder knows besides the scalar ones of expr.FuncNames:
// aggregates, group windows and their bounds.
var moreFunctions = []string{
	"AVG", "CAST", "COUNT", "CUMULATE", "CUMULATE_END", "CUMULATE_START", "DATE_ADD", "DATE_SUB", "DESCRIPTOR",
	"HOP", "HOP_END", "HOP_START", "MAX", "MIN", "SESSION", "SESSION_END", "SESSION_START", "SUM",
	"TUMBLE", "TUMBLE_END", "TUMBLE_ROWTIME", "TUMBLE_START",
}

// tableWords are words after which a table name comes.
var tableWords = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "TABLE": true, "VIEW": true,
	"DESCRIBE": true, "DESC": true, "EXISTS": true}

// backslashCommands offered at the start of a line.
var backslashCommands = []string{`\help`, `\q`, `\quit`, `\mode`, `\jobs`, `\d`}

// completer implements readline.AutoCompleter for a shell.
type completer struct {
	s *Shell

	mu      sync.Mutex
	tables  []string // nil: not fetched
	columns map[string][]string
}

func newCompleter(s *Shell) *completer { return &completer{s: s, columns: map[string][]string{}} }

// forget drops the cached names (a statement may have changed them).
func (c *completer) forget() {
	c.mu.Lock()
	c.tables, c.columns = nil, map[string][]string{}
	c.mu.Unlock()
}

// Do is readline's AutoCompleter: line is the line being edited, pos the
// cursor. It returns the texts to append after the word being typed and
// that word's length.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	pos = min(max(pos, 0), len(line))
	before := string(line[:pos])
	start := pos
	for start > 0 && isWordRune(line[start-1]) {
		start--
	}
	prefix := string(line[start:pos])
	pending := c.s.pendingInput()

	// backslash commands
	if start > 0 && line[start-1] == '\\' && strings.TrimSpace(string(line[:start-1])) == "" && sql.Blank(pending) {
		return suffixes(`\`+prefix, backslashCommands, ""), len(prefix) + 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	// a job id (j-abc...) has dashes and may be quoted
	idStart := start
	for idStart > 0 && (isWordRune(line[idStart-1]) || line[idStart-1] == '-') {
		idStart--
	}
	ctxEnd := idStart
	if ctxEnd > 0 && (line[ctxEnd-1] == '\'' || line[ctxEnd-1] == '`') {
		ctxEnd--
	}
	if prev, _ := c.context(pending+string(line[:ctxEnd]), false); prev == "JOB" || prev == "CHECKPOINTS" {
		id := string(line[idStart:pos])
		return suffixes(id, c.jobIDs(ctx), ""), len([]rune(id))
	}

	var cands []string
	sep := ""
	switch prev, qualifier := c.context(pending+string(line[:start]), start > 0 && line[start-1] == '.'); {
	case qualifier != "":
		cands = c.columnsOf(ctx, c.resolve(ctx, pending+string(line), qualifier))
	case tableWords[prev]:
		cands, sep = c.tableNames(ctx), " "
		if prev == "DESCRIBE" || prev == "DESC" {
			cands = append(cands, keywordCase("JOB", prefix))
		}
	default:
		kw := make([]string, 0, len(keywords))
		for _, k := range keywords {
			kw = append(kw, keywordCase(k, prefix))
		}
		out := suffixes(prefix, kw, " ")
		var fn []string
		for _, f := range append(expr.FuncNames(), moreFunctions...) {
			fn = append(fn, keywordCase(f, prefix))
		}
		out = append(out, suffixes(prefix, fn, "(")...)
		out = append(out, suffixes(prefix, c.statementColumns(ctx, pending+before+string(line[pos:])), "")...)
		return dedupe(out), len([]rune(prefix))
	}
	return suffixes(prefix, cands, sep), len([]rune(prefix))
}

// keywordCase writes a keyword in lower case when what was typed of it
// is.
func keywordCase(k, typed string) string {
	if typed != "" && typed == strings.ToLower(typed) {
		return strings.ToLower(k)
	}
	return k
}

func isWordRune(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// context returns the word before the one being completed (upper-case),
// and, when qualified is set (a '.' precedes the word), the qualifier.
func (c *completer) context(text string, qualified bool) (prev, qualifier string) {
	var sig []sql.Token
	for _, t := range sql.Tokens(text) {
		if t.Kind != sql.TokenSpace && t.Kind != sql.TokenComment {
			sig = append(sig, t)
		}
	}
	if qualified && len(sig) >= 2 && sig[len(sig)-1].Text == "." {
		q := sig[len(sig)-2]
		if q.Kind == sql.TokenWord || q.Kind == sql.TokenQuoted {
			return "", q.Value()
		}
	}
	if len(sig) > 0 && sig[len(sig)-1].Kind == sql.TokenWord {
		prev = strings.ToUpper(sig[len(sig)-1].Text)
	}
	return prev, ""
}

// resolve maps a qualifier to a table: a table or view of that name, or
// the table an alias in the statement stands for ("FROM bids b", "bids AS
// b").
func (c *completer) resolve(ctx context.Context, stmt, qualifier string) string {
	tables := c.tableNames(ctx)
	isTable := func(n string) (string, bool) {
		for _, t := range tables {
			if strings.EqualFold(t, n) {
				return t, true
			}
		}
		return "", false
	}
	if t, ok := isTable(qualifier); ok {
		return t
	}
	var sig []sql.Token
	for _, t := range sql.Tokens(stmt) {
		if t.Kind != sql.TokenSpace && t.Kind != sql.TokenComment {
			sig = append(sig, t)
		}
	}
	for i, t := range sig {
		name, ok := isTable(t.Value())
		if !ok || (t.Kind != sql.TokenWord && t.Kind != sql.TokenQuoted) {
			continue
		}
		j := i + 1
		if j < len(sig) && sig[j].Kind == sql.TokenWord && strings.EqualFold(sig[j].Text, "AS") {
			j++
		}
		if j < len(sig) && strings.EqualFold(sig[j].Value(), qualifier) {
			return name
		}
	}
	return ""
}

// statementColumns returns the columns of the tables the statement names,
// or of every table when it names none and there are at most 20 tables.
func (c *completer) statementColumns(ctx context.Context, stmt string) []string {
	tables := c.tableNames(ctx)
	named := map[string]bool{}
	for _, t := range sql.Tokens(stmt) {
		if t.Kind != sql.TokenWord && t.Kind != sql.TokenQuoted {
			continue
		}
		for _, name := range tables {
			if strings.EqualFold(name, t.Value()) {
				named[name] = true
			}
		}
	}
	if len(named) == 0 && len(tables) <= 20 {
		for _, t := range tables {
			named[t] = true
		}
	}
	var out []string
	for t := range named {
		out = append(out, c.columnsOf(ctx, t)...)
	}
	return out
}

// tableNames lists tables and views (SHOW TABLES), cached.
func (c *completer) tableNames(ctx context.Context) []string {
	c.mu.Lock()
	t := c.tables
	c.mu.Unlock()
	if t != nil {
		return t
	}
	rows, err := c.s.query(ctx, "SHOW TABLES")
	t = []string{}
	if err == nil {
		for _, r := range rows {
			if len(r) > 0 {
				t = append(t, r[0])
			}
		}
	}
	c.mu.Lock()
	c.tables = t
	c.mu.Unlock()
	return t
}

// columnsOf lists a table's columns (DESCRIBE t), cached.
func (c *completer) columnsOf(ctx context.Context, table string) []string {
	if table == "" {
		return nil
	}
	key := strings.ToLower(table)
	c.mu.Lock()
	cols, ok := c.columns[key]
	c.mu.Unlock()
	if ok {
		return cols
	}
	rows, err := c.s.query(ctx, "DESCRIBE "+quoteName(table))
	cols = []string{}
	if err == nil {
		for _, r := range rows {
			if len(r) > 0 {
				cols = append(cols, r[0])
			}
		}
	}
	c.mu.Lock()
	c.columns[key] = cols
	c.mu.Unlock()
	return cols
}

// jobIDs lists the ids of the jobs (not cached: they come and go).
func (c *completer) jobIDs(ctx context.Context) []string {
	jobs, err := c.s.be.Jobs(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

// quoteName backquotes a name for a statement.
func quoteName(n string) string { return "`" + strings.ReplaceAll(n, "`", "``") + "`" }

// suffixes returns, for each candidate that starts with prefix (ignoring
// case), the rest of it followed by sep, sorted.
func suffixes(prefix string, cands []string, sep string) [][]rune {
	var out []string
	p := []rune(prefix)
	for _, c := range cands {
		r := []rune(c)
		if len(r) >= len(p) && strings.EqualFold(string(r[:len(p)]), prefix) {
			out = append(out, string(r[len(p):])+sep)
		}
	}
	sort.Strings(out)
	res := make([][]rune, 0, len(out))
	for _, s := range out {
		res = append(res, []rune(s))
	}
	return dedupe(res)
}

func dedupe(in [][]rune) [][]rune {
	seen := map[string]bool{}
	out := in[:0]
	for _, r := range in {
		if s := string(r); !seen[s] {
			seen[s] = true
			out = append(out, r)
		}
	}
	return out
}
