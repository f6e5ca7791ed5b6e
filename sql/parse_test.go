package sql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"
)

// mustParseOne parses a one-statement script or fails the test.
func mustParseOne(t *testing.T, text string) *Statement {
	t.Helper()
	st, err := ParseOne(text)
	if err != nil {
		rw, _ := RewriteStatement(text)
		var r string
		if rw != nil {
			r = rw.Rewritten
		}
		t.Fatalf("Parse(%q): %v\nrewritten: %q", text, err, r)
	}
	return st
}

// Every construct of the brief must parse after the rewrite.
func TestParsesAfterRewrite(t *testing.T) {
	for _, q := range []string{
		`CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH ('connector'='nexmark','nexmark.table'='bid')`,
		`CREATE TABLE t (a VARCHAR, b STRING, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'kafka', 'topic' = 't')`,
		`CREATE TABLE t (a VARCHAR PRIMARY KEY NOT ENFORCED, b INT) WITH ('connector' = 'kafka')`,
		`CREATE TABLE t (a INT, ts TIMESTAMP_LTZ(3), pt AS PROCTIME()) WITH ('connector' = 'datagen')`,
		`CREATE TABLE t (ts TIMESTAMP(3) WITH LOCAL TIME ZONE, u TIMESTAMP(3) WITHOUT TIME ZONE)`,
		`CREATE TABLE IF NOT EXISTS db.t (a INT) WITH ('connector' = 'blackhole')`,
		`CREATE TABLE t (a INT) ENGINE = file CONNECTION = 'path=/tmp/x.json;format=json'`,
		`CREATE TABLE ` + "`out`" + ` (a INT) WITH ('connector' = 'print')`,
		`SELECT auction, TUMBLE_START(date_time, INTERVAL '10' SECOND) AS ws, COUNT(*) FROM bid GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND)`,
		`SELECT TUMBLE_END(date_time, INTERVAL 10 SECONDS) FROM bid GROUP BY TUMBLE(date_time, INTERVAL 10 SECONDS)`,
		`SELECT HOP_START(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND), HOP_END(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND), SUM(price) FROM bid GROUP BY HOP(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)`,
		`SELECT SESSION_START(date_time, INTERVAL '5' SECOND), SESSION_END(date_time, INTERVAL '5' SECOND) FROM bid GROUP BY SESSION(date_time, INTERVAL '5' SECOND)`,
		`SELECT CUMULATE_START(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND), COUNT(*) FROM bid GROUP BY CUMULATE(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)`,
		`SELECT TUMBLE_START(date_time, '10 seconds') FROM bid GROUP BY TUMBLE(date_time, '10 seconds')`,
		`SELECT window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`,
		`SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) AS w`,
		`SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY auction, DESCRIPTOR(date_time), INTERVAL '5' MINUTES)) w JOIN t ON w.auction = t.a`,
		`INSERT INTO sink SELECT auction, price FROM bid WHERE price > 10`,
		`WITH x AS (SELECT auction FROM bid) SELECT auction FROM x`,
		`CREATE VIEW v AS SELECT auction FROM bid`,
		`EXPLAIN SELECT auction FROM bid`,
		`DESCRIBE bid`,
		`SHOW TABLES`,
		`SHOW CREATE TABLE bid`,
		`DROP TABLE t`,
		`DROP TABLE IF EXISTS t`,
		`DROP VIEW v`,
		`SELECT 1 + 1`,
		`SELECT a FROM t WHERE ts BETWEEN a AND b`,
		`SELECT a FROM t WHERE x LIKE 'a%'`,
		`SELECT a FROM t WHERE x REGEXP 'a+'`,
		`SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END, CASE a WHEN 1 THEN 'one' END FROM t`,
		`SELECT CAST(x AS DECIMAL(10,2)) FROM t`,
		`SELECT CAST(x AS VARCHAR), CAST(x AS VARCHAR(10)), CAST(x AS STRING), CAST(x AS CHAR) FROM t`,
		`SELECT CAST(x AS BIGINT), CAST(x AS INT), CAST(x AS BOOLEAN), CAST(x AS DOUBLE) FROM t`,
		`SELECT CAST(x AS TIMESTAMP(3)), CAST(x AS TIMESTAMP), CAST(x AS TIMESTAMP_LTZ(3)) FROM t`,
		`SELECT EXTRACT(HOUR FROM ts) FROM t`,
		`SELECT DATE_ADD(ts, INTERVAL 1 HOUR) FROM t`,
		`SELECT ts + INTERVAL '1' MINUTE, ts - INTERVAL '2' MINUTES, ts + INTERVAL '500' MILLISECOND FROM t`,
		`SELECT JSON_EXTRACT(s, '$.a') FROM t`,
		`SELECT COUNT(DISTINCT x) FROM t`,
		`SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t`,
		`SELECT a FROM t UNION ALL SELECT a FROM u`,
		`SELECT a FROM t -- trailing comment`,
		`SELECT a --comment without space
FROM t`,
	} {
		mustParseOne(t, q)
	}
}

func TestHandParsedSetAndShow(t *testing.T) {
	for _, c := range []struct {
		q          string
		key, value string
		reset      bool
	}{
		{`SET 'parallelism.default' = '4'`, "parallelism.default", "4", false},
		{`SET parallelism = 4`, "parallelism", "4", false},
		{`SET table.exec.mini-batch.enabled = true`, "table.exec.mini-batch.enabled", "true", false},
		{"SET `a.b` = 'it''s'", "a.b", "it's", false},
		{`SET execution.checkpointing.interval = 10s`, "execution.checkpointing.interval", "10s", false},
		{`SET`, "", "", false},
		{`RESET 'parallelism.default'`, "parallelism.default", "", true},
		{`RESET`, "", "", true},
	} {
		st := mustParseOne(t, c.q)
		if st.Node != nil || st.Set == nil {
			t.Fatalf("%q: want a hand-parsed SET, got %T", c.q, st.Node)
		}
		if st.Set.Key != c.key || st.Set.Value != c.value || st.Set.Reset != c.reset {
			t.Errorf("%q: got %+v", c.q, *st.Set)
		}
	}
	st := mustParseOne(t, `SHOW JOBS`)
	if st.Show == nil || st.Show.What != "JOBS" || st.Node != nil {
		t.Fatalf("SHOW JOBS: %+v", st)
	}
	st = mustParseOne(t, `show checkpoints 'job-1'`)
	if st.Show == nil || st.Show.What != "CHECKPOINTS" || len(st.Show.Args) != 1 || st.Show.Args[0] != "job-1" {
		t.Fatalf("SHOW CHECKPOINTS: %+v", st.Show)
	}
	if _, err := ParseOne(`SET @x = 1`); err == nil || !strings.Contains(err.Error(), "line 1, column 5: SET expects") {
		t.Errorf("SET @x: %v", err)
	}
	if _, err := ParseOne(`SET a.b =`); err == nil || err.Error() != "line 1, column 10: SET a.b: missing value" {
		t.Errorf("SET a.b =: %v", err)
	}
}

func TestSplitScript(t *testing.T) {
	script := "-- a script\n" +
		"CREATE TABLE bid (auction BIGINT, s VARCHAR(10)) WITH ('connector' = 'nexmark', 'note' = 'a;b');\n" +
		"\n" +
		"  ;; /* empty ; statements */ ;\n" +
		"SELECT 'x;y', `we;ird` FROM bid; # done; really\n" +
		"   INSERT INTO sink\n" +
		"   SELECT auction FROM bid /* ; */\n"
	stmts, err := Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("got %d statements", len(stmts))
	}
	want := []struct {
		line, col int
		prefix    string
	}{{2, 1, "CREATE TABLE bid"}, {5, 1, "SELECT 'x;y'"}, {6, 4, "INSERT INTO sink"}}
	for i, w := range want {
		s := stmts[i]
		if s.Line != w.line || s.Col != w.col || !strings.HasPrefix(s.Text, w.prefix) {
			t.Errorf("statement %d: line %d col %d text %q", i, s.Line, s.Col, s.Text)
		}
		if script[s.Offset:s.Offset+len(s.Text)] != s.Text {
			t.Errorf("statement %d: Offset does not point at Text", i)
		}
	}
	if got := stmts[0].Options[1]; got.Key != "note" || got.Value != "a;b" {
		t.Errorf("option: %+v", got)
	}
	if !strings.HasSuffix(stmts[2].Text, "FROM bid") {
		t.Errorf("trailing comments are not part of the text: %q", stmts[2].Text)
	}
	if _, ok := stmts[2].Node.(*ast.InsertStmt); !ok {
		t.Errorf("want InsertStmt, got %T", stmts[2].Node)
	}
	if stmts, err := Parse("  -- nothing\n ; /* x */ "); err != nil || len(stmts) != 0 {
		t.Errorf("empty script: %v %v", stmts, err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"SELECT 1;\nSELECT 2;\nSELECT * FORM t", `line 3, column 10: syntax error near "FORM t"`},
		{"SELECT 1;\n  SELECT *\n  FORM bids WHERE a = 1;", `line 3, column 3: syntax error near "FORM bids WHERE a = 1"`},
		{"SELECT * FROM", `line 1, column 14: syntax error at end of statement`},
		{"CREATE TABLE out (a INT)", `line 1, column 14: syntax error near "out (a INT)"`},
		// Positions after a rewrite that changed lengths before the error.
		{"CREATE TABLE t (a STRING, b VARCHAR, c INTT)", `line 1, column 40: syntax error near "INTT)"`},
		{"SELECT a FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' SECOND)) WHERE WHERE", `line 1, column 83: syntax error near "WHERE"`},
		{"SELECT SESSION_END(ts, INTERVAL '1' SECOND) FROM t GROUP BY SESSION(ts, INTERVAL '1' SECOND) HAVING", `line 1, column 100: syntax error at end of statement`},
		// Text removed by the rewrite keeps the following columns right.
		{"CREATE TABLE t (a INT,\n  WATERMARK FOR a AS a,\n  b INT) WITH ('x' = 'y') LIMIT", `line 3, column 27: syntax error near "LIMIT"`},
		// Multi-byte characters count as one column ('héhé' FORM is a
		// string with the alias FORM).
		{"SELECT 'héhé' FORM t", `line 1, column 20: syntax error near "t"`},
	} {
		_, err := Parse(c.script)
		if err == nil {
			t.Errorf("%q: no error", c.script)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.script, err, c.want)
		}
		var se *SQLError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: want a *SQLError of kind ErrSyntax, got %#v", c.script, err)
		}
	}
}

func TestRewriteErrors(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"SELECT 1;\nCREATE TABLE t (ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts + INTERVAL '1' SECOND)",
			`line 3, column 23: WATERMARK expression must be ts [- INTERVAL ...]`},
		{"CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS other - INTERVAL '1' SECOND)",
			`line 1, column 54: WATERMARK expression must be ts [- INTERVAL ...]`},
		{"CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' MONTH)",
			`line 1, column 72: unsupported INTERVAL unit MONTH (use MILLISECOND, SECOND, MINUTE, HOUR or DAY)`},
		{"CREATE TABLE t (a INT, b AS a + 1)", `line 1, column 29: computed column b: only AS PROCTIME() is supported`},
		{"CREATE TABLE t (a INT) WITH ('k' = 'v', 'K' = 'w')", `line 1, column 41: duplicate option 'k'`},
		{"CREATE TABLE t (a INT) WITH ('k' 'v')", `line 1, column 30: WITH options must be 'key' = 'value'`},
		{"SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts)))", `line 1, column 21: expected TUMBLE(TABLE t, DESCRIPTOR(col), INTERVAL ...)`},
		{"SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' SECOND))", `line 1, column 21: HOP takes 2 to 3 INTERVAL arguments, got 1`},
		{"SELECT * FROM TABLE(TUMBLE(DATA => TABLE bid, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' SECOND))", `line 1, column 33: named arguments of TUMBLE are not supported: use TABLE t, DESCRIPTOR(col), INTERVAL ...`},
		{"SELECT 1 FROM t GROUP BY TUMBLE(ts, INTERVAL '1' FORTNIGHT)", `line 1, column 50: unsupported INTERVAL unit FORTNIGHT (use MILLISECOND, SECOND, MINUTE, HOUR or DAY)`},
		{"CREATE TABLE t (a INT, e AS ENGINE_X()) ", `line 1, column 29: computed column e: only AS PROCTIME() is supported`},
		{"CREATE TABLE t (a INT) WITH ('k' = 'v') ENGINE = file", `line 1, column 41: use either WITH (...) or ENGINE/CONNECTION, not both`},
	} {
		_, err := Parse(c.script)
		if err == nil {
			t.Errorf("%q: no error", c.script)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.script, err, c.want)
		}
	}
}

func TestCreateTableExtraction(t *testing.T) {
	st := mustParseOne(t, "CREATE TABLE bid (\n"+
		"  auction BIGINT,\n"+
		"  price BIGINT,\n"+
		"  date_time TIMESTAMP(3),\n"+
		"  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND\n"+
		") WITH ('connector'='nexmark','Nexmark.Table'='bid', 'rate' = 1000)")
	ct, ok := st.Node.(*ast.CreateTableStmt)
	if !ok {
		t.Fatalf("got %T", st.Node)
	}
	if len(ct.Cols) != 3 || ct.Cols[2].Name.Name.L != "date_time" || ct.Cols[2].Tp.GetType() != mysql.TypeTimestamp || ct.Cols[2].Tp.GetDecimal() != 3 {
		t.Fatalf("columns: %v", ct.Cols)
	}
	wm := st.Watermark
	if wm == nil || wm.Column != "date_time" || wm.DelayMs != 4000 || wm.Expr != "date_time - INTERVAL '4' SECOND" {
		t.Fatalf("watermark: %+v", wm)
	}
	if l, c := st.Pos(wm.Offset); l != 5 || c != 3 {
		t.Errorf("watermark at %d:%d", l, c)
	}
	if l, c := st.Pos(wm.ColumnOffset); l != 5 || c != 17 {
		t.Errorf("watermark column at %d:%d", l, c)
	}
	want := []Option{{"connector", "nexmark", 0, 0}, {"nexmark.table", "bid", 0, 0}, {"rate", "1000", 0, 0}}
	if len(st.Options) != len(want) {
		t.Fatalf("options: %+v", st.Options)
	}
	for i, o := range st.Options {
		if o.Key != want[i].Key || o.Value != want[i].Value {
			t.Errorf("option %d: %+v", i, o)
		}
	}
	if l, c := st.Pos(st.Options[1].ValueOffset); l != 6 || c != 47 {
		t.Errorf("option value at %d:%d", l, c)
	}
	if n := strings.Count(st.Rewritten, "\n"); n != 5 {
		t.Errorf("rewritten text has %d newlines, want 5", n)
	}

	st = mustParseOne(t, `CREATE TABLE t (a VARCHAR, b STRING, c VARCHAR(20), pt AS PROCTIME(), `+"`String`"+` STRING, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'kafka')`)
	ct = st.Node.(*ast.CreateTableStmt)
	if len(ct.Cols) != 4 {
		t.Fatalf("columns: %d", len(ct.Cols))
	}
	for i, c := range ct.Cols {
		if c.Tp.GetType() != mysql.TypeVarchar {
			t.Errorf("column %d: type %v", i, c.Tp)
		}
	}
	if !st.UnboundedVarchar["a"] || !st.UnboundedVarchar["b"] || st.UnboundedVarchar["c"] || !st.UnboundedVarchar["string"] {
		t.Errorf("unbounded: %v", st.UnboundedVarchar)
	}
	if len(st.Computed) != 1 || st.Computed[0].Name != "pt" || st.Computed[0].Kind != "PROCTIME" {
		t.Errorf("computed: %+v", st.Computed)
	}
	if len(ct.Constraints) != 1 || ct.Constraints[0].Tp != ast.ConstraintPrimaryKey {
		t.Errorf("constraints: %+v", ct.Constraints)
	}

	st = mustParseOne(t, `CREATE TABLE t (a INT) ENGINE = File CONNECTION = 'path=/tmp/x.json; Format=json'`)
	if len(st.Options) != 3 || st.Options[0] != (Option{"connector", "file", -1, -1}) || st.Options[2] != (Option{"format", "json", -1, -1}) {
		t.Errorf("engine options: %+v", st.Options)
	}
	st = mustParseOne(t, `CREATE TABLE t (ts TIMESTAMP_LTZ(3), u TIMESTAMP(3) WITH LOCAL TIME ZONE)`)
	for _, c := range st.Node.(*ast.CreateTableStmt).Cols {
		if c.Tp.GetType() != mysql.TypeTimestamp || c.Tp.GetDecimal() != 3 {
			t.Errorf("%s: %v", c.Name, c.Tp)
		}
	}
	if st.Options != nil {
		t.Errorf("no WITH clause: Options should be nil, got %v", st.Options)
	}
}

func TestWindowFunctionShapes(t *testing.T) {
	st := mustParseOne(t, `SELECT auction, TUMBLE_START(date_time, INTERVAL '10' SECOND) AS ws, COUNT(*) FROM bid GROUP BY auction, SESSION(date_time, INTERVAL 5 SECONDS)`)
	sel := st.Node.(*ast.SelectStmt)
	f := sel.Fields.Fields[1].Expr.(*ast.FuncCallExpr)
	if f.FnName.L != "tumble_start" || len(f.Args) != 2 {
		t.Fatalf("TUMBLE_START: %+v", f)
	}
	if _, ok := f.Args[0].(*ast.ColumnNameExpr); !ok {
		t.Errorf("arg 0: %T", f.Args[0])
	}
	if v, ok := f.Args[1].(*test_driver.ValueExpr); !ok || v.GetString() != "10 SECOND" {
		t.Errorf("arg 1: %#v", f.Args[1])
	}
	g := sel.GroupBy.Items[1].Expr.(*ast.FuncCallExpr)
	if g.FnName.L != "session_window" || g.Args[1].(*test_driver.ValueExpr).GetString() != "5 SECOND" {
		t.Errorf("SESSION: %s %#v", g.FnName, g.Args)
	}
	// Positions of expressions map back to the original text.
	if l, c := PositionOf(st, g); l != 1 || c != 106 {
		t.Errorf("SESSION at %d:%d", l, c)
	}
	if l, c := PositionOf(st, g.Args[0]); l != 1 || c != 114 {
		t.Errorf("SESSION arg at %d:%d", l, c)
	}
	if l, c := PositionOf(st, g.Args[1]); l != 1 || c != 125 {
		t.Errorf("SESSION interval at %d:%d (INTERVAL keyword expected)", l, c)
	}
	if ms, err := ParseInterval(f.Args[1].(*test_driver.ValueExpr).GetString()); err != nil || ms != 10000 {
		t.Errorf("ParseInterval: %d %v", ms, err)
	}
}

func TestWindowTVF(t *testing.T) {
	st := mustParseOne(t, "SELECT window_start, COUNT(*)\nFROM TABLE(\n  HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) AS w\nGROUP BY window_start")
	if len(st.WindowTVFs) != 1 {
		t.Fatalf("tvfs: %v", st.WindowTVFs)
	}
	tvf := st.WindowTVFs[0]
	if tvf.Name != "__weir_tvf_0" || tvf.Func != "HOP" || tvf.Table != "bid" || tvf.TimeCol != "date_time" ||
		len(tvf.Intervals) != 2 || tvf.Intervals[0] != 2000 || tvf.Intervals[1] != 10000 {
		t.Errorf("tvf: %+v", tvf)
	}
	if l, c := st.Pos(tvf.Offset); l != 2 || c != 6 {
		t.Errorf("tvf at %d:%d", l, c)
	}
	ts := st.Node.(*ast.SelectStmt).From.TableRefs.Left.(*ast.TableSource)
	tn := ts.Source.(*ast.TableName)
	if st.WindowTVF(tn.Name.O) != tvf || ts.AsName.O != "w" {
		t.Errorf("table source: %s AS %s", tn.Name, ts.AsName)
	}
	if n := strings.Count(st.Rewritten, "\n"); n != 3 {
		t.Errorf("rewritten has %d newlines", n)
	}
	st = mustParseOne(t, "SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY (auction, bidder), DESCRIPTOR(ts), INTERVAL '1' MINUTE))")
	if tvf := st.WindowTVFs[0]; tvf.Func != "SESSION" || len(tvf.PartitionBy) != 2 || tvf.PartitionBy[1] != "bidder" || tvf.Intervals[0] != 60000 {
		t.Errorf("session tvf: %+v", tvf)
	}
}

func TestCastTypes(t *testing.T) {
	st := mustParseOne(t, `SELECT CAST(a AS BIGINT), CAST(a AS VARCHAR), CAST(a AS TIMESTAMP(3)), CAST(a AS DECIMAL(10, 2)), CAST(a AS INT) FROM t`)
	fields := st.Node.(*ast.SelectStmt).Fields.Fields
	want := []struct {
		orig string
		tp   byte
	}{{"BIGINT", mysql.TypeLonglong}, {"VARCHAR", mysql.TypeVarString}, {"TIMESTAMP(3)", mysql.TypeDatetime}, {"", mysql.TypeNewDecimal}, {"INT", mysql.TypeLonglong}}
	for i, w := range want {
		c := fields[i].Expr.(*ast.FuncCastExpr)
		got, ok := st.CastType(c)
		if got != w.orig || ok != (w.orig != "") || c.Tp.GetType() != w.tp {
			t.Errorf("cast %d: %q %v %v", i, got, ok, c.Tp)
		}
	}
}

// The AST shapes the binder must handle; this pins them down.
func TestExpressionShapes(t *testing.T) {
	st := mustParseOne(t, `SELECT EXTRACT(HOUR FROM ts), DATE_ADD(ts, INTERVAL 1 HOUR), ts + INTERVAL '1' MINUTE, ts - INTERVAL 2 SECONDS,
		x BETWEEN 1 AND 2, x LIKE 'a%', x REGEXP 'a+', CASE WHEN x > 1 THEN 1 END, JSON_EXTRACT(s, '$.a'), COUNT(DISTINCT x),
		ts + INTERVAL '250' MILLISECOND, 1 + 1
		FROM t`)
	fs := st.Node.(*ast.SelectStmt).Fields.Fields
	ex := fs[0].Expr.(*ast.FuncCallExpr)
	if ex.FnName.L != "extract" || ex.Args[0].(*ast.TimeUnitExpr).Unit != ast.TimeUnitHour {
		t.Errorf("EXTRACT: %#v", ex)
	}
	for i, w := range []struct {
		fn   string
		unit ast.TimeUnitType
		val  any
	}{{"date_add", ast.TimeUnitHour, int64(1)}, {"date_add", ast.TimeUnitMinute, "1"}, {"date_sub", ast.TimeUnitSecond, int64(2)}} {
		f := fs[1+i].Expr.(*ast.FuncCallExpr)
		if f.FnName.L != w.fn || len(f.Args) != 3 || f.Args[2].(*ast.TimeUnitExpr).Unit != w.unit || f.Args[1].(*test_driver.ValueExpr).GetValue() != w.val {
			t.Errorf("field %d: %s %#v", 1+i, f.FnName, f.Args)
		}
	}
	if _, ok := fs[4].Expr.(*ast.BetweenExpr); !ok {
		t.Errorf("BETWEEN: %T", fs[4].Expr)
	}
	if _, ok := fs[5].Expr.(*ast.PatternLikeOrIlikeExpr); !ok {
		t.Errorf("LIKE: %T", fs[5].Expr)
	}
	if _, ok := fs[6].Expr.(*ast.PatternRegexpExpr); !ok {
		t.Errorf("REGEXP: %T", fs[6].Expr)
	}
	if _, ok := fs[7].Expr.(*ast.CaseExpr); !ok {
		t.Errorf("CASE: %T", fs[7].Expr)
	}
	if f, ok := fs[8].Expr.(*ast.FuncCallExpr); !ok || f.FnName.L != "json_extract" {
		t.Errorf("JSON_EXTRACT: %T", fs[8].Expr)
	}
	if a, ok := fs[9].Expr.(*ast.AggregateFuncExpr); !ok || !strings.EqualFold(a.F, "count") || !a.Distinct {
		t.Errorf("COUNT(DISTINCT): %#v", fs[9].Expr)
	}
	ms := fs[10].Expr.(*ast.FuncCallExpr)
	if ms.Args[1].(*test_driver.ValueExpr).GetValue() != int64(250000) || ms.Args[2].(*ast.TimeUnitExpr).Unit != ast.TimeUnitMicrosecond {
		t.Errorf("MILLISECOND: %#v", ms.Args)
	}
	if b, ok := fs[11].Expr.(*ast.BinaryOperationExpr); !ok || b.Op != opcode.Plus {
		t.Errorf("1 + 1: %#v", fs[11].Expr)
	}
	// Field and expression positions on line 2.
	if l, c := PositionOf(st, fs[4]); l != 2 || c != 3 {
		t.Errorf("field 4 at %d:%d", l, c)
	}
	if l, c := PositionOf(st, fs[5].Expr); l != 2 || c != 22 {
		t.Errorf("LIKE at %d:%d", l, c)
	}
}

func TestLocate(t *testing.T) {
	st := mustParseOne(t, "SELECT 'price', -- price\n  `Price` + price FROM bid")
	if l, c := st.Locate("price", 0); l != 2 || c != 3 {
		t.Errorf("Locate: %d:%d", l, c)
	}
	off := st.LocateOffset("price", 0)
	if l, c := st.Locate("PRICE", off+1); l != 2 || c != 13 {
		t.Errorf("Locate after: %d:%d", l, c)
	}
	if st.LocateOffset("nope", 0) != -1 {
		t.Error("LocateOffset of a missing name")
	}
	tn := st.Node.(*ast.SelectStmt).From.TableRefs.Left.(*ast.TableSource).Source.(*ast.TableName)
	if l, c := PositionOf(st, tn); l != 1 || c != 1 {
		t.Errorf("TableName has no position: want the statement start, got %d:%d", l, c)
	}
	if l, c := st.Locate(tn.Name.O, 0); l != 2 || c != 24 {
		t.Errorf("Locate table: %d:%d", l, c)
	}
	e := st.Errorf(st.LocateOffset("bid", 0), "unknown table %s", "bid")
	if e.Error() != "line 2, column 24: unknown table bid" || !errors.Is(e, ErrSemantic) {
		t.Errorf("Errorf: %v", e)
	}
}

func TestStatementKinds(t *testing.T) {
	for q, want := range map[string]string{
		`INSERT INTO sink SELECT a FROM t`:          "*ast.InsertStmt",
		`CREATE VIEW v AS SELECT a FROM t`:          "*ast.CreateViewStmt",
		`EXPLAIN SELECT a FROM t`:                   "*ast.ExplainStmt",
		`DESCRIBE bid`:                              "*ast.ExplainStmt",
		`SHOW TABLES`:                               "*ast.ShowStmt",
		`DROP TABLE t`:                              "*ast.DropTableStmt",
		`DROP VIEW v`:                               "*ast.DropTableStmt",
		`WITH x AS (SELECT 1) SELECT * FROM x`:      "*ast.SelectStmt",
		`SELECT a FROM t UNION ALL SELECT a FROM u`: "*ast.SetOprStmt",
	} {
		st := mustParseOne(t, q)
		if got := typeName(st.Node); got != want {
			t.Errorf("%q: %s, want %s", q, got, want)
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
