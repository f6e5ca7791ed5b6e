package sql

import (
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	src := "SELECT 'it''s; \\' -- no', \"a\\\"b\", `we``ird`, x--c;\n# h\n/* c; */ 1.5e3 <=> => ;"
	var got []string
	for _, tk := range lex(src) {
		if tk.kind != tSpace {
			got = append(got, tk.text)
		}
	}
	want := []string{"SELECT", `'it''s; \' -- no'`, ",", `"a\"b"`, ",", "`we``ird`", ",", "x", "--c;", "# h", "/* c; */", "1.5e3", "<=>", "=>", ";"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens:\n got %q\nwant %q", got, want)
	}
	// Tokens cover the input exactly.
	var b strings.Builder
	for _, tk := range lex(src) {
		b.WriteString(tk.text)
	}
	if b.String() != src {
		t.Error("tokens do not cover the input")
	}
	for lit, want := range map[string]string{
		`'it''s'`: "it's", `'a\nb'`: "a\nb", `"q\"q"`: `q"q`, `'100\%'`: `100\%`, `'x`: "x",
	} {
		if got := unquoteString(lit); got != want {
			t.Errorf("unquote %s: %q", lit, got)
		}
	}
	if v := (token{kind: tQuoted, text: "`a``b`"}).value(); v != "a`b" {
		t.Errorf("quoted value %q", v)
	}
}

// Keywords inside strings, quoted identifiers and comments are never
// rewritten.
func TestRewriteLeavesStringsAndComments(t *testing.T) {
	q := "SELECT 'SESSION(x)', \"TUMBLE(ts, INTERVAL 1 SECOND)\", `SESSION` /* SESSION(x) INTERVAL 1 SECONDS */ FROM t"
	rw, err := RewriteStatement(q)
	if err != nil {
		t.Fatal(err)
	}
	if rw.Rewritten != q {
		t.Errorf("rewritten:\n%s", rw.Rewritten)
	}
	q = "CREATE TABLE t (a INT COMMENT 'WATERMARK FOR a AS a, b STRING', b INT COMMENT 'WITH (x)') COMMENT 'WITH (''k''=''v'')'"
	rw, err = RewriteStatement(q)
	if err != nil {
		t.Fatal(err)
	}
	if rw.Rewritten != q || rw.Options != nil || rw.Watermark != nil || rw.UnboundedVarchar != nil {
		t.Errorf("rewritten %q, %+v", rw.Rewritten, rw)
	}
	// Line comments are blanked (the TiDB lexer wants a space after --);
	// block comments stay.
	rw, _ = RewriteStatement("SELECT a --x\n/* y */ FROM t # z")
	if rw.Rewritten != "SELECT a    \n/* y */ FROM t    " {
		t.Errorf("comments: %q", rw.Rewritten)
	}
}

func TestRewrites(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		// WITH options and the WATERMARK (with its comma) are blanked.
		{"CREATE TABLE t (a INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('k'='v')",
			"CREATE TABLE t (a INT, ts TIMESTAMP(3)                        )               "},
		// A removed first element takes the following comma with it.
		{"CREATE TABLE t (WATERMARK FOR ts AS ts, ts TIMESTAMP(3), pt AS PROCTIME())",
			"CREATE TABLE t (                        ts TIMESTAMP(3)                  )"},
		{"CREATE TABLE t (a VARCHAR, b STRING NOT NULL, c VARCHAR(5))",
			"CREATE TABLE t (a VARCHAR(1048576), b VARCHAR(1048576) NOT NULL, c VARCHAR(5))"},
		{"CREATE TABLE t (a INT, PRIMARY KEY (a) NOT ENFORCED)",
			"CREATE TABLE t (a INT, PRIMARY KEY (a)             )"},
		{"CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, CHECK (a > 0) NOT ENFORCED)",
			"CREATE TABLE t (a INT PRIMARY KEY             , CHECK (a > 0) NOT ENFORCED)"},
		{"CREATE TABLE t (ts TIMESTAMP_LTZ(3), u TIMESTAMP(3) WITH LOCAL TIME ZONE)",
			"CREATE TABLE t (ts TIMESTAMP    (3), u TIMESTAMP(3)                     )"},
		{"SELECT 1 FROM t GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)",
			"SELECT 1 FROM t GROUP BY TUMBLE(ts, '10 SECOND'         )"},
		{"SELECT 1 FROM t GROUP BY HOP(ts, INTERVAL 2 seconds, INTERVAL '0.5' minute)",
			"SELECT 1 FROM t GROUP BY HOP(ts, '2 SECOND'        , '0.5 MINUTE'         )"},
		{"SELECT SESSION_START(ts, INTERVAL '1' HOUR) FROM t GROUP BY SESSION (ts, INTERVAL '1' HOUR)",
			"SELECT SESSION_START(ts, '1 HOUR'         ) FROM t GROUP BY SESSION_WINDOW (ts, '1 HOUR'         )"},
		// Intervals inside other expressions of a window call stay.
		{"SELECT 1 FROM t GROUP BY TUMBLE(ts + INTERVAL '1' SECOND, INTERVAL '1' DAY)",
			"SELECT 1 FROM t GROUP BY TUMBLE(ts + INTERVAL '1' SECOND, '1 DAY'         )"},
		{"SELECT ts - INTERVAL '2' HOURS, ts + INTERVAL 1.5 MILLISECOND FROM t",
			"SELECT ts - INTERVAL '2' HOUR , ts + INTERVAL 1500 MICROSECOND FROM t"},
		{"SELECT CAST(a AS VARCHAR(3)), CAST(a AS TIMESTAMP(3) WITH LOCAL TIME ZONE), CAST(a AS DOUBLE) FROM t",
			"SELECT CAST(a AS CHAR   (3)), CAST(a AS DATETIME (3)                     ), CAST(a AS DOUBLE) FROM t"},
		{"SELECT x FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' MINUTES)) JOIN TABLE(TUMBLE(TABLE ask, DESCRIPTOR(ts), INTERVAL '1' MINUTES)) b ON 1",
			"SELECT x FROM __weir_tvf_0                                                   JOIN __weir_tvf_1                                                   b ON 1"},
		// FULL [OUTER] JOIN → STRAIGHT_JOIN (longer: the rest shifts)
		{"SELECT 1 FROM a FULL OUTER JOIN b ON a.k = b.k FULL JOIN c ON 1",
			"SELECT 1 FROM a STRAIGHT_JOIN   b ON a.k = b.k STRAIGHT_JOIN c ON 1"},
		// a column named full is left alone
		{"SELECT full FROM a LEFT JOIN b ON a.full = b.full",
			"SELECT full FROM a LEFT JOIN b ON a.full = b.full"},
		{"SELECT 1 FROM s JOIN db.side FOR SYSTEM_TIME AS OF s.`pt` AS d ON s.k = d.k",
			"SELECT 1 FROM s JOIN __weir_lookup_0                      AS d ON s.k = d.k"},
	} {
		rw, err := RewriteStatement(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if rw.Rewritten != c.out {
			t.Errorf("rewrite\n  %s\ngot\n  %s\nwant\n  %s", c.in, rw.Rewritten, c.out)
		}
		if _, err := ParseOne(c.in); err != nil {
			t.Errorf("%q does not parse: %v", c.in, err)
		}
	}
}

func TestWatermarkDelays(t *testing.T) {
	for expr, ms := range map[string]int64{
		"ts":                                0,
		"`TS`":                              0,
		"ts - INTERVAL '4' SECOND":          4000,
		"ts - INTERVAL 4 SECONDS":           4000,
		"ts - INTERVAL '0.001' SECOND":      1,
		"ts - INTERVAL '250' MILLISECOND":   250,
		"ts - INTERVAL '5' MINUTE":          300_000,
		"ts - INTERVAL '2' hours":           7_200_000,
		"ts - INTERVAL '1' DAY":             86_400_000,
		"ts - INTERVAL '3' MILLISECONDS":    3,
		"ts -\n  INTERVAL\n  '3'\n  SECOND": 3000,
	} {
		rw, err := RewriteStatement("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS " + expr + ")")
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if rw.Watermark.DelayMs != ms || rw.Watermark.Column != "ts" || rw.Watermark.Expr != expr {
			t.Errorf("%s: %+v", expr, rw.Watermark)
		}
	}
	for _, expr := range []string{"ts + INTERVAL '1' SECOND", "ts - 1", "other", "ts - INTERVAL '-1' SECOND", "CAST(ts AS TIMESTAMP)"} {
		if _, err := RewriteStatement("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS " + expr + ")"); err == nil {
			t.Errorf("%s: no error", expr)
		}
	}
}

// Offsets map back across rewrites that change lengths.
func TestOffsetMapping(t *testing.T) {
	in := "CREATE TABLE t (a STRING, b VARCHAR, c INT)"
	rw, err := RewriteStatement(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c", "INT", ")"} {
		o := strings.LastIndex(in, name)
		n := rw.NewOffset(o)
		if !strings.HasPrefix(rw.Rewritten[n:], name) {
			t.Errorf("NewOffset(%s) = %d: %q", name, n, rw.Rewritten[n:])
		}
		if rw.OrigOffset(n) != o {
			t.Errorf("OrigOffset(NewOffset(%s)) = %d, want %d", name, rw.OrigOffset(n), o)
		}
	}
	// Inside a replacement: the start of the replaced text.
	n := strings.Index(rw.Rewritten, "(1048576)")
	if o := rw.OrigOffset(n + 3); o != strings.Index(in, "STRING")+5 {
		t.Errorf("inside replacement: %d", o)
	}
	if o := rw.OrigOffset(len(rw.Rewritten)); o != len(in) {
		t.Errorf("end: %d", o)
	}
	// Line structure survives a multi-line replacement.
	in = "SELECT 1 FROM t GROUP BY TUMBLE(ts, INTERVAL\n '10'\n SECOND), x"
	rw, _ = RewriteStatement(in)
	if rw.Rewritten != "SELECT 1 FROM t GROUP BY TUMBLE(ts, '10 SECOND'\n\n       ), x" {
		t.Errorf("multi-line: %q", rw.Rewritten)
	}
}

func TestParseInterval(t *testing.T) {
	for s, ms := range map[string]int64{
		"10 SECOND": 10_000, "10 seconds": 10_000, "1 MINUTE": 60_000, "2 hours": 7_200_000, "1 DAY": 86_400_000,
		"500 MILLISECOND": 500, "0.5 SECOND": 500, "500ms": 500, "10s": 10_000, "5m": 300_000, "2h": 7_200_000, "1d": 86_400_000,
		" 3  Second ": 3000,
	} {
		if got, err := ParseInterval(s); err != nil || got != ms {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "SECOND", "10", "10 MONTH", "-1 SECOND", "ten seconds"} {
		if _, err := ParseInterval(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func TestRewriteStatementErrorPosition(t *testing.T) {
	_, err := RewriteStatement("CREATE TABLE t (\n  ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts * 2)")
	if err == nil || err.Error() != "line 3, column 23: WATERMARK expression must be ts [- INTERVAL ...]" {
		t.Errorf("got %v", err)
	}
}

func TestLineCol(t *testing.T) {
	text := "ab\ncdé\n\nx"
	for off, want := range map[int][2]int{0: {1, 1}, 2: {1, 3}, 3: {2, 1}, 5: {2, 3}, 7: {2, 4}, 8: {3, 1}, 9: {4, 1}, 10: {4, 2}, 99: {4, 2}, -1: {1, 1}} {
		if l, c := LineCol(text, off); l != want[0] || c != want[1] {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", off, l, c, want[0], want[1])
		}
	}
	e := PosError(text, 8, "bad %s", "x")
	if e.Error() != "line 3, column 1: bad x" {
		t.Errorf("PosError: %v", e)
	}
}

// Truncated and mangled statements must give errors, never panics.
func TestNoPanicOnPrefixes(t *testing.T) {
	for _, q := range []string{
		"CREATE TABLE bid (auction BIGINT, s STRING, pt AS PROCTIME(), date_time TIMESTAMP_LTZ(3) WITH LOCAL TIME ZONE, PRIMARY KEY (auction) NOT ENFORCED, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH ('connector'='nexmark','nexmark.table'='bid')",
		"SELECT TUMBLE_START(ts, INTERVAL '1' SECOND), CAST(a AS TIMESTAMP(3) WITH LOCAL TIME ZONE) FROM TABLE(SESSION(TABLE bid PARTITION BY (a, b), DESCRIPTOR(ts), INTERVAL '5' SECONDS)) w GROUP BY SESSION(ts, INTERVAL 5 SECOND)",
		"SET 'a.b' = 'c'; RESET x; SHOW JOBS 'j'",
		"CREATE TABLE t (a INT) ENGINE = file CONNECTION = 'path=/x;format=json'",
	} {
		for i := 0; i <= len(q); i++ {
			for _, s := range []string{q[:i], q[i:], q[:i] + ")" + q[i:], q[:i] + "(" + q[i:], q[:i] + "'" + q[i:]} {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("panic on %q: %v", s, r)
						}
					}()
					_, _ = Parse(s)
				}()
			}
		}
	}
}

func TestRewriteJoins(t *testing.T) {
	rw, err := RewriteStatement("SELECT * FROM s\n  JOIN side FOR SYSTEM_TIME AS OF s.proc_time ON s.k = side.k")
	if err != nil {
		t.Fatal(err)
	}
	if len(rw.Lookups) != 1 {
		t.Fatalf("lookups %v", rw.Lookups)
	}
	l := rw.Lookups[0]
	if l.Name != "__weir_lookup_0" || l.Table != "side" || l.TimeExpr != "s.proc_time" || l.Offset != 23 {
		t.Errorf("lookup %+v", *l)
	}
	// positions after a longer replacement map back to the original text
	st, err := ParseOne("SELECT * FROM a FULL JOIN b ON a.k = b.nope")
	if err != nil {
		t.Fatal(err)
	}
	off := strings.Index(st.Rewritten, "b.nope")
	if got := st.OrigOffset(off); got != strings.Index(st.Text, "b.nope") {
		t.Errorf("offset of b.nope maps to %d, want %d", got, strings.Index(st.Text, "b.nope"))
	}
}
