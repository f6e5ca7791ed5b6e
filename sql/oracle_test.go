package sql_test

// Differential tests: Weir queries against hand-written SQLite oracles
// (modernc.org/sqlite) over the same bounded input. TestOracle uses a seeded
// synthetic table read through the file connector; TestNexmarkOracle runs the
// Nexmark queries of testdata/nexmark against their
// testdata/nexmark/qN.sqlite.sql oracles over nexmark.Rows (and, for a
// query's file tables, the rows Weir reads from them).

import (
	"context"
	gosql "database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	_ "github.com/weirsql/weir/connectors/all"
	"github.com/weirsql/weir/connectors/nexmark"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// ---------------------------------------------------------------------------
// Result collection

// oracleSink keeps the last query's result with its changelog applied.
type oracleSink struct {
	cols      []types.Column
	changelog bool
	counts    map[string]int
	rows      map[string]types.Row
	err       error
}

func (s *oracleSink) Columns(cols []types.Column, changelog bool) error {
	s.cols = cols
	s.changelog = changelog
	s.counts = map[string]int{}
	s.rows = map[string]types.Row{}
	return nil
}

func (s *oracleSink) Rows(b *types.Batch) error {
	for i, r := range b.Rows {
		var sb strings.Builder
		for j, v := range r {
			if j > 0 {
				sb.WriteByte('|')
			}
			fmt.Fprintf(&sb, "%d:%d:%d:%s", v.Kind, v.Scale, v.I, v.S)
		}
		key := sb.String()
		if b.Kind(i).IsRetract() {
			s.counts[key]--
			if s.counts[key] < 0 && s.err == nil {
				s.err = fmt.Errorf("retraction %s of a row not in the result: %s", b.Kind(i), renderWeirRow(r))
			}
		} else {
			s.counts[key]++
			if _, ok := s.rows[key]; !ok {
				s.rows[key] = append(types.Row(nil), r...)
			}
		}
	}
	return nil
}

func (s *oracleSink) Done() error               { return nil }
func (s *oracleSink) Message(text string) error { return nil }

// cell is one value in comparable form.
type cell struct {
	null  bool
	isInt bool
	isNum bool
	i     int64
	f     float64
	s     string
	tol   float64 // relative tolerance when numeric and not exact
	half  float64 // a DECIMAL's half unit in the last place (rounding to its scale)
}

type orow []cell

func weirCell(v types.Value) cell {
	switch v.Kind {
	case types.Null:
		return cell{null: true}
	case types.Int, types.BigInt, types.Timestamp, types.Bool:
		return cell{isInt: true, isNum: true, i: v.I, f: float64(v.I)}
	case types.Double:
		return cell{isNum: true, f: v.F(), tol: 1e-6}
	case types.Decimal:
		if v.Scale == 0 {
			return cell{isInt: true, isNum: true, i: v.I, f: float64(v.I)}
		}
		return cell{isNum: true, f: v.AsFloat(), tol: 1e-9, half: 0.5 / types.Pow10[v.Scale]}
	default:
		return cell{s: v.String()}
	}
}

func sqliteCell(x any) cell {
	switch v := x.(type) {
	case nil:
		return cell{null: true}
	case int64:
		return cell{isInt: true, isNum: true, i: v, f: float64(v)}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return cell{isNum: true, f: v, tol: 1e-6, i: int64(v)}
		}
		return cell{isNum: true, f: v, tol: 1e-6}
	case []byte:
		return cell{s: string(v)}
	case string:
		return cell{s: v}
	case bool:
		if v {
			return cell{isInt: true, isNum: true, i: 1, f: 1}
		}
		return cell{isInt: true, isNum: true}
	}
	return cell{s: fmt.Sprint(x)}
}

func (c cell) String() string {
	switch {
	case c.null:
		return "NULL"
	case c.isInt:
		return strconv.FormatInt(c.i, 10)
	case c.isNum:
		return strconv.FormatFloat(c.f, 'g', 6, 64)
	}
	return strconv.Quote(c.s)
}

func (r orow) String() string {
	p := make([]string, len(r))
	for i, c := range r {
		p[i] = c.String()
	}
	return "(" + strings.Join(p, ", ") + ")"
}

func cellsEqual(a, b cell) bool {
	if a.null || b.null {
		return a.null == b.null
	}
	if a.isNum != b.isNum {
		return false
	}
	if !a.isNum {
		return a.s == b.s
	}
	if a.isInt && b.isInt {
		return a.i == b.i
	}
	// The stricter side decides: a Weir DECIMAL is compared within 1e-9
	// relative, a DOUBLE within 1e-6 (six significant digits).
	tol := min(a.tol, b.tol)
	if a.isInt || b.isInt {
		tol = 1e-9
	}
	d := math.Abs(a.f - b.f)
	if h := max(a.half, b.half); h > 0 && d <= h*(1+1e-9) {
		return true // a DECIMAL result rounded to its declared scale
	}
	return d <= tol*math.Max(math.Abs(a.f), math.Abs(b.f)) || d < 1e-9
}

func rowsEqual(a, b orow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !cellsEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func renderWeirRow(r types.Row) string {
	o := make(orow, len(r))
	for i, v := range r {
		o[i] = weirCell(v)
	}
	return o.String()
}

// result returns the final multiset of the sink as comparable rows.
func (s *oracleSink) result() []orow {
	var out []orow
	for k, n := range s.counts {
		for ; n > 0; n-- {
			r := s.rows[k]
			o := make(orow, len(r))
			for i, v := range r {
				o[i] = weirCell(v)
			}
			out = append(out, o)
		}
	}
	return out
}

// runWeir runs a script and returns the last query's final result.
func runWeir(t *testing.T, script string, parallelism int) ([]orow, *wsql.Session, error) {
	t.Helper()
	s := wsql.NewSession()
	if err := s.Set("parallelism", strconv.Itoa(parallelism)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs := &oracleSink{}
	if err := s.ExecScript(ctx, script, rs); err != nil {
		return nil, s, err
	}
	if rs.err != nil {
		return nil, s, rs.err
	}
	return rs.result(), s, nil
}

func runSQLite(t *testing.T, db *gosql.DB, query string) []orow {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("sqlite: %v\n%s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []orow
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		o := make(orow, len(cols))
		for i, v := range vals {
			o[i] = sqliteCell(v)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffMultisets compares two multisets of rows: exact canonical strings first,
// then the leftovers pairwise within the numeric tolerances. It returns ""
// when they match, else a description of the first differing rows.
func diffMultisets(got, want []orow) string {
	gm := map[string][]orow{}
	for _, r := range got {
		k := r.String()
		gm[k] = append(gm[k], r)
	}
	var wantLeft []orow
	for _, r := range want {
		k := r.String()
		if l := gm[k]; len(l) > 0 && rowsEqual(l[0], r) {
			gm[k] = l[1:]
		} else {
			wantLeft = append(wantLeft, r)
		}
	}
	var gotLeft []orow
	for _, l := range gm {
		gotLeft = append(gotLeft, l...)
	}
	// Tolerant matching of what is left.
	used := make([]bool, len(gotLeft))
	var missing []orow
	for _, w := range wantLeft {
		found := false
		for i, g := range gotLeft {
			if !used[i] && rowsEqual(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []orow
	for i, g := range gotLeft {
		if !used[i] {
			extra = append(extra, g)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	str := func(rs []orow) []string {
		s := make([]string, len(rs))
		for i, r := range rs {
			s[i] = r.String()
		}
		sort.Strings(s)
		if len(s) > 10 {
			s = append(s[:10], fmt.Sprintf("... (%d more)", len(rs)-10))
		}
		return s
	}
	return fmt.Sprintf("weir %d rows, oracle %d rows\nonly in oracle (%d):\n  %s\nonly in weir (%d):\n  %s",
		len(got), len(want), len(missing), strings.Join(str(missing), "\n  "),
		len(extra), strings.Join(str(extra), "\n  "))
}

// ---------------------------------------------------------------------------
// Synthetic input

type genRow struct {
	K  int64    `json:"k"`
	G  *string  `json:"g"`
	X  *int64   `json:"x"`
	D  *float64 `json:"d"`
	M  *string  `json:"m"` // DECIMAL(10,2) as exact text
	Ts int64    `json:"ts"`
}

// genInput makes n rows: keys 0..7 (key 7 rare, so its sessions split),
// nullable g/x/d/m, and timestamps that advance 20 ms per row with
// occasional 7 s pauses plus a jitter in [0, 3000) ms, below the 4 s
// watermark delay so no row is late.
func genInput(n int, seed int64) []genRow {
	r := rand.New(rand.NewSource(seed))
	base := int64(1767225600000) // 2026-01-01 00:00:00 UTC
	groups := []string{"a", "b", "c", "d", "e"}
	out := make([]genRow, 0, n)
	clock := base
	for i := 0; i < n; i++ {
		clock += 20
		if r.Intn(200) == 0 {
			clock += 7000
		}
		var row genRow
		if r.Intn(20) == 0 {
			row.K = 7
		} else {
			row.K = int64(r.Intn(7))
		}
		row.Ts = clock + int64(r.Intn(3000))
		if r.Intn(6) > 0 {
			g := groups[r.Intn(len(groups))]
			row.G = &g
		}
		if r.Intn(7) > 0 {
			x := int64(r.Intn(1000)) - 200
			row.X = &x
		}
		if r.Intn(8) > 0 {
			d := math.Round(r.Float64()*1e6) / 1e3
			row.D = &d
		}
		if r.Intn(5) > 0 {
			m := types.FormatDecimal(int64(r.Intn(200000))-50000, 2)
			row.M = &m
		}
		out = append(out, row)
	}
	return out
}

func openSQLite(t *testing.T) *gosql.DB {
	t.Helper()
	db, err := gosql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: one in-memory database
	t.Cleanup(func() { db.Close() })
	return db
}

type oracleCase struct {
	name   string
	weir   string // the SELECT, over table t
	sqlite string // the oracle, over table t (ts as ms) and nums(j)
}

// Window helpers in SQLite, ts in ms.
const (
	tumble10 = "(ts - (((ts % 10000) + 10000) % 10000))"
)

var oracleCases = []oracleCase{
	// --- TUMBLE
	{
		name: "tumble_all_aggs",
		weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '10' SECOND) AS we,
		  COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), AVG(d), MIN(d), MAX(d), SUM(m), MIN(m), MAX(m)
		  FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, ` + tumble10 + ` + 10000 AS we,
		  COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), AVG(d), MIN(d), MAX(d), SUM(m), MIN(m), MAX(m)
		  FROM t GROUP BY k, ws`,
	},
	{
		name: "tumble_avg_decimal",
		weir: `SELECT g, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, AVG(m), COUNT(m)
		  FROM t GROUP BY g, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT g, ` + tumble10 + ` AS ws, AVG(m), COUNT(m) FROM t GROUP BY g, ws`,
	},
	{
		name: "tumble_having_where",
		weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, SUM(x) AS sx
		  FROM t WHERE x > 0 AND g <> 'e' GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) HAVING COUNT(*) > 30 AND SUM(x) > 10000`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) AS n, SUM(x) AS sx
		  FROM t WHERE x > 0 AND g <> 'e' GROUP BY k, ws HAVING COUNT(*) > 30 AND SUM(x) > 10000`,
	},
	{
		name: "tumble_no_key",
		weir: `SELECT TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*), COUNT(DISTINCT k), MAX(ts)
		  FROM t GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT ` + tumble10 + ` AS ws, COUNT(*), COUNT(DISTINCT k), MAX(ts) FROM t GROUP BY ws`,
	},
	{
		name: "tumble_tvf",
		weir: `SELECT window_start, window_end, g, COUNT(*), SUM(x), MAX(d)
		  FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, g`,
		sqlite: `SELECT ` + tumble10 + ` AS ws, ` + tumble10 + ` + 10000, g, COUNT(*), SUM(x), MAX(d) FROM t GROUP BY ws, g`,
	},
	// --- HOP: slide 3 s, size 10 s (not a multiple)
	{
		name: "hop_all_aggs",
		weir: `SELECT k, HOP_START(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND) AS ws, HOP_END(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND) AS we,
		  COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), MIN(m), MAX(m)
		  FROM t GROUP BY k, HOP(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND)`,
		sqlite: `WITH w AS (SELECT t.*, (ts - (((ts % 3000) + 3000) % 3000)) - nums.j * 3000 AS ws FROM t JOIN nums ON nums.j < 4)
		  SELECT k, ws, ws + 10000, COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), MIN(m), MAX(m)
		  FROM w WHERE ws + 10000 > ts GROUP BY k, ws`,
	},
	{
		name: "hop_having",
		weir: `SELECT g, HOP_START(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, AVG(d)
		  FROM t WHERE g IS NOT NULL GROUP BY g, HOP(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND) HAVING MAX(x) >= 790`,
		sqlite: `WITH w AS (SELECT t.*, (ts - (((ts % 3000) + 3000) % 3000)) - nums.j * 3000 AS ws FROM t JOIN nums ON nums.j < 4)
		  SELECT g, ws, COUNT(*) AS n, AVG(d) FROM w WHERE ws + 10000 > ts AND g IS NOT NULL GROUP BY g, ws HAVING MAX(x) >= 790`,
	},
	// --- CUMULATE: step 2 s, size 10 s
	{
		name: "cumulate_all_aggs",
		weir: `SELECT k, window_start, window_end, COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(m), MAX(d)
		  FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k`,
		sqlite: `WITH w AS (SELECT t.*, ` + tumble10 + ` AS ws, ` + tumble10 + ` + (nums.j + 1) * 2000 AS we FROM t JOIN nums ON nums.j < 5)
		  SELECT k, ws, we, COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(m), MAX(d)
		  FROM w WHERE we > ts GROUP BY k, ws, we`,
	},
	{
		name: "cumulate_group_fn_having",
		weir: `SELECT g, CUMULATE_START(ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND) AS ws, CUMULATE_END(ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND) AS we, COUNT(*) AS n, MIN(x)
		  FROM t GROUP BY g, CUMULATE(ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND) HAVING COUNT(*) > 50`,
		sqlite: `WITH w AS (SELECT t.*, ` + tumble10 + ` AS ws, ` + tumble10 + ` + (nums.j + 1) * 2000 AS we FROM t JOIN nums ON nums.j < 5)
		  SELECT g, ws, we, COUNT(*) AS n, MIN(x) FROM w WHERE we > ts GROUP BY g, ws, we HAVING COUNT(*) > 50`,
	},
	// --- SESSION: gap 5 s
	{
		name: "session_all_aggs",
		weir: `SELECT k, SESSION_START(ts, INTERVAL '5' SECOND) AS ss, SESSION_END(ts, INTERVAL '5' SECOND) AS se,
		  COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), MIN(m), MAX(m)
		  FROM t GROUP BY k, SESSION(ts, INTERVAL '5' SECOND)`,
		sqlite: `WITH a AS (SELECT t.*, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts) < 5000 THEN 0 ELSE 1 END AS brk FROM t),
		  b AS (SELECT a.*, SUM(brk) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM a)
		  SELECT k, MIN(ts), MAX(ts) + 5000, COUNT(*), COUNT(x), COUNT(DISTINCT g), SUM(x), AVG(x), MIN(x), MAX(x), SUM(d), MIN(m), MAX(m)
		  FROM b GROUP BY k, sid`,
	},
	{
		name: "session_where_having",
		weir: `SELECT k, SESSION_START(ts, INTERVAL '5' SECOND) AS ss, COUNT(*) AS n, MAX(d) AS md
		  FROM t WHERE d > 100 GROUP BY k, SESSION(ts, INTERVAL '5' SECOND) HAVING COUNT(*) >= 3`,
		sqlite: `WITH f AS (SELECT * FROM t WHERE d > 100),
		  a AS (SELECT f.*, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts) < 5000 THEN 0 ELSE 1 END AS brk FROM f),
		  b AS (SELECT a.*, SUM(brk) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM a)
		  SELECT k, MIN(ts), COUNT(*) AS n, MAX(d) AS md FROM b GROUP BY k, sid HAVING COUNT(*) >= 3`,
	},
	// --- Projections and filters
	{
		name: "select_expressions",
		weir: `SELECT k, ts, CASE WHEN x IS NULL THEN 'none' WHEN x < 0 THEN 'neg' WHEN x < 400 THEN 'low' ELSE 'high' END AS bucket,
		  x * 3 + k AS ax, COALESCE(g, 'zz') AS gg, COALESCE(x, -1) AS cx, d * 2 AS d2, k % 3 AS km
		  FROM t WHERE k <> 2 OR x > 500`,
		sqlite: `SELECT k, ts, CASE WHEN x IS NULL THEN 'none' WHEN x < 0 THEN 'neg' WHEN x < 400 THEN 'low' ELSE 'high' END AS bucket,
		  x * 3 + k AS ax, COALESCE(g, 'zz') AS gg, COALESCE(x, -1) AS cx, d * 2 AS d2, k % 3 AS km
		  FROM t WHERE k <> 2 OR x > 500`,
	},
	{
		name:   "where_null_logic",
		weir:   `SELECT k, x, g FROM t WHERE NOT (x > 100 AND g = 'a') AND (d IS NULL OR d < 500)`,
		sqlite: `SELECT k, x, g FROM t WHERE NOT (x > 100 AND g = 'a') AND (d IS NULL OR d < 500)`,
	},
	// --- Updating (changelog) queries
	{
		name: "groupby_changelog",
		weir: `SELECT k, g, COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM(x), AVG(x), MIN(x), MAX(x), SUM(m), MIN(d), MAX(d)
		  FROM t GROUP BY k, g`,
		sqlite: `SELECT k, g, COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM(x), AVG(x), MIN(x), MAX(x), SUM(m), MIN(d), MAX(d)
		  FROM t GROUP BY k, g`,
	},
	{
		name:   "groupby_having_changelog",
		weir:   `SELECT g, COUNT(*) AS n, SUM(x) AS sx FROM t WHERE k < 5 GROUP BY g HAVING SUM(x) > 40000 AND COUNT(x) > 10`,
		sqlite: `SELECT g, COUNT(*) AS n, SUM(x) AS sx FROM t WHERE k < 5 GROUP BY g HAVING SUM(x) > 40000 AND COUNT(x) > 10`,
	},
	{
		name:   "groupby_expression_key",
		weir:   `SELECT x % 10 AS r, COUNT(*), MAX(k) FROM t GROUP BY x % 10`,
		sqlite: `SELECT x % 10 AS r, COUNT(*), MAX(k) FROM t GROUP BY x % 10`,
	},
	{
		name:   "select_distinct",
		weir:   `SELECT DISTINCT k, g FROM t`,
		sqlite: `SELECT DISTINCT k, g FROM t`,
	},
	{
		name:   "union_all",
		weir:   `SELECT k, x FROM t WHERE x > 700 UNION ALL SELECT k, x FROM t WHERE g = 'b' UNION ALL SELECT k + 100, -x FROM t WHERE k = 7`,
		sqlite: `SELECT k, x FROM t WHERE x > 700 UNION ALL SELECT k, x FROM t WHERE g = 'b' UNION ALL SELECT k + 100, -x FROM t WHERE k = 7`,
	},
	{
		name: "cte_windowed",
		weir: `WITH f AS (SELECT k, x * 2 AS x2, ts FROM t WHERE g IS NOT NULL)
		  SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, SUM(x2), COUNT(*) FROM f GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `WITH f AS (SELECT k, x * 2 AS x2, ts FROM t WHERE g IS NOT NULL)
		  SELECT k, ts - (((ts % 10000) + 10000) % 10000) AS ws, SUM(x2), COUNT(*) FROM f GROUP BY k, ws`,
	},
	{
		name:   "subquery_in_from",
		weir:   `SELECT s.k, s.y + 1 AS y1 FROM (SELECT k, COALESCE(x, 0) * 10 AS y FROM t WHERE d > 900) AS s WHERE s.y >= 0`,
		sqlite: `SELECT s.k, s.y + 1 AS y1 FROM (SELECT k, COALESCE(x, 0) * 10 AS y FROM t WHERE d > 900) AS s WHERE s.y >= 0`,
	},
	{
		name:   "subquery_aggregate_changelog",
		weir:   `SELECT n, COUNT(*) AS c FROM (SELECT k, g, COUNT(*) AS n FROM t GROUP BY k, g) AS s GROUP BY n`,
		sqlite: `SELECT n, COUNT(*) AS c FROM (SELECT k, g, COUNT(*) AS n FROM t GROUP BY k, g) AS s GROUP BY n`,
	},
	{
		// Aggregates over an updating input: MIN/MAX/SUM/AVG/COUNT DISTINCT
		// must retract.
		name: "aggregate_over_retractions",
		weir: `SELECT k % 3 AS r, MIN(sx), MAX(sx), SUM(sx), AVG(sx), COUNT(DISTINCT n), COUNT(*)
		  FROM (SELECT k, g, COUNT(*) AS n, SUM(x) AS sx FROM t GROUP BY k, g) AS s GROUP BY k % 3`,
		sqlite: `SELECT k % 3 AS r, MIN(sx), MAX(sx), SUM(sx), AVG(sx), COUNT(DISTINCT n), COUNT(*)
		  FROM (SELECT k, g, COUNT(*) AS n, SUM(x) AS sx FROM t GROUP BY k, g) AS s GROUP BY k % 3`,
	},
	{
		name:   "distinct_over_retractions",
		weir:   `SELECT DISTINCT n % 7 AS r FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) AS s`,
		sqlite: `SELECT DISTINCT n % 7 AS r FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) AS s`,
	},
	{
		name: "union_all_windowed",
		weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)
		  UNION ALL SELECT k, SESSION_START(ts, INTERVAL '5' SECOND), COUNT(*) FROM t WHERE k = 7 GROUP BY k, SESSION(ts, INTERVAL '5' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) AS n FROM t GROUP BY k, ws
		  UNION ALL SELECT k, MIN(ts), COUNT(*) FROM (
		    SELECT k, ts, SUM(brk) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM (
		      SELECT k, ts, CASE WHEN ts - LAG(ts) OVER (ORDER BY ts) < 5000 THEN 0 ELSE 1 END AS brk FROM t WHERE k = 7))
		  GROUP BY k, sid`,
	},
	{
		name:   "negative_modulo_and_arith",
		weir:   `SELECT k, x % 7 AS r, x * x - 3 * x AS p, ABS(x) AS a FROM t WHERE x < 0`,
		sqlite: `SELECT k, x % 7 AS r, x * x - 3 * x AS p, ABS(x) AS a FROM t WHERE x < 0`,
	},
	{
		name: "window_over_subquery_projection",
		weir: `SELECT b, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*), SUM(y)
		  FROM (SELECT CASE WHEN d > 500 THEN 'hi' ELSE 'lo' END AS b, COALESCE(x, 0) + k AS y, ts FROM t) AS s
		  GROUP BY b, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT b, ts - (((ts % 10000) + 10000) % 10000) AS ws, COUNT(*), SUM(y)
		  FROM (SELECT CASE WHEN d > 500 THEN 'hi' ELSE 'lo' END AS b, COALESCE(x, 0) + k AS y, ts FROM t) AS s
		  GROUP BY b, ws`,
	},
}

func TestOracle(t *testing.T) {
	const n = 4000
	rows := genInput(n, 42)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.json")
	var sb strings.Builder
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	db := openSQLite(t)
	mustExec(t, db, `CREATE TABLE t (k INTEGER, g TEXT, x INTEGER, d REAL, m REAL, ts INTEGER)`)
	mustExec(t, db, `CREATE TABLE nums (j INTEGER)`)
	for j := 0; j < 20; j++ {
		mustExec(t, db, `INSERT INTO nums VALUES (?)`, j)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var m any
		if r.M != nil {
			f, _ := strconv.ParseFloat(*r.M, 64)
			m = f
		}
		if _, err := tx.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)`, r.K, r.G, r.X, r.D, m, r.Ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	ddl := fmt.Sprintf(`CREATE TABLE t (k BIGINT, g VARCHAR, x BIGINT, d DOUBLE, m DECIMAL(10, 2), ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
`, path)

	for _, c := range oracleCases {
		t.Run(c.name, func(t *testing.T) {
			want := runSQLite(t, db, c.sqlite)
			if len(want) == 0 {
				t.Fatalf("oracle returned no rows: the case tests nothing")
			}
			for _, p := range []int{1, 3} {
				got, _, err := runWeir(t, ddl+c.weir+";", p)
				if err != nil {
					t.Errorf("parallelism %d: weir: %v", p, err)
					continue
				}
				if d := diffMultisets(got, want); d != "" {
					t.Errorf("parallelism %d: mismatch\n%s", p, d)
				}
			}
		})
	}
}

func mustExec(t *testing.T, db *gosql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("sqlite: %v\n%s", err, q)
	}
}

// ---------------------------------------------------------------------------
// Nexmark

var nexmarkQueries = []string{"q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "q14", "q15", "q16", "q17", "q18", "q19", "q20", "q21", "q22"}

func TestNexmarkOracle(t *testing.T) {
	for _, q := range nexmarkQueries {
		t.Run(q, func(t *testing.T) {
			script, err := os.ReadFile(filepath.Join("..", "testdata", "nexmark", q+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			oracle, err := os.ReadFile(filepath.Join("..", "testdata", "nexmark", q+".sqlite.sql"))
			if err != nil {
				t.Fatal(err)
			}
			// file paths in the queries are relative to the repository root
			text := strings.ReplaceAll(string(script), "'testdata/", "'../testdata/")
			got, s, err := runWeir(t, text, 2)
			if err != nil {
				t.Fatalf("weir: %v", err)
			}
			db := openSQLite(t)
			loaded := 0
			for _, name := range []string{"person", "auction", "bid"} {
				def, ok := s.Catalog().Table(name)
				if !ok {
					continue
				}
				events, err := strconv.ParseInt(def.Table.Option("nexmark.events", "0"), 10, 64)
				if err != nil || events <= 0 {
					t.Fatalf("table %s: needs a bounded 'nexmark.events'", name)
				}
				rows, err := nexmark.Rows(&def.Table, 0, events)
				if err != nil {
					t.Fatal(err)
				}
				loadTable(t, db, name, def.Table.Schema, rows)
				loaded++
			}
			if loaded == 0 {
				t.Fatal("no nexmark table declared")
			}
			// other tables (a lookup join's file) as Weir reads them
			tables, _ := s.Catalog().Names()
			for _, name := range tables {
				def, _ := s.Catalog().Table(name)
				if def.Table.Options["connector"] == "nexmark" {
					continue
				}
				rs := &oracleSink{}
				if err := s.ExecScript(context.Background(), "SELECT * FROM `"+name+"`;", rs); err != nil {
					t.Fatalf("reading table %s: %v", name, err)
				}
				var rows []types.Row
				for k, n := range rs.counts {
					for ; n > 0; n-- {
						rows = append(rows, rs.rows[k])
					}
				}
				loadTable(t, db, name, def.Table.Schema, rows)
			}
			want := runSQLite(t, db, string(oracle))
			if len(want) == 0 {
				t.Fatalf("oracle returned no rows: the query tests nothing")
			}
			if d := diffMultisets(got, want); d != "" {
				t.Errorf("mismatch\n%s", d)
			}
		})
	}
}

func loadTable(t *testing.T, db *gosql.DB, name string, schema types.Schema, rows []types.Row) {
	t.Helper()
	var cols, marks []string
	for _, c := range schema.Cols {
		typ := "TEXT"
		switch c.Type.Kind {
		case types.Int, types.BigInt, types.Timestamp, types.Bool:
			typ = "INTEGER"
		case types.Double, types.Decimal:
			typ = "REAL"
		}
		cols = append(cols, `"`+c.Name+`" `+typ)
		marks = append(marks, "?")
	}
	mustExec(t, db, fmt.Sprintf("CREATE TABLE %s (%s)", name, strings.Join(cols, ", ")))
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(fmt.Sprintf("INSERT INTO %s VALUES (%s)", name, strings.Join(marks, ", ")))
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(schema.Cols))
	for _, r := range rows {
		for i, v := range r {
			switch v.Kind {
			case types.Null:
				args[i] = nil
			case types.Int, types.BigInt, types.Timestamp, types.Bool:
				args[i] = v.I
			case types.Double, types.Decimal:
				args[i] = v.AsFloat()
			default:
				args[i] = v.S
			}
		}
		if _, err := stmt.Exec(args...); err != nil {
			t.Fatal(err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestOracleComparator checks that the multiset comparison catches
// differences in multiplicity, values and NULLs, and tolerates float noise.
func TestOracleComparator(t *testing.T) {
	i := func(v int64) cell { return cell{isInt: true, isNum: true, i: v, f: float64(v)} }
	f := func(v float64) cell { return cell{isNum: true, f: v, tol: 1e-6} }
	dec := func(v float64) cell { return cell{isNum: true, f: v, tol: 1e-9} }
	s := func(v string) cell { return cell{s: v} }
	null := cell{null: true}
	a := []orow{{i(1), f(0.1 + 0.2)}, {i(1), f(0.3)}, {s("x"), null}}
	if d := diffMultisets(a, []orow{{s("x"), null}, {i(1), f(0.3)}, {i(1), f(0.3)}}); d != "" {
		t.Errorf("equal multisets differ:\n%s", d)
	}
	for name, b := range map[string][]orow{
		"multiplicity": {{i(1), f(0.3)}, {s("x"), null}},
		"value":        {{i(1), f(0.3)}, {i(1), f(0.31)}, {s("x"), null}},
		"null":         {{i(1), f(0.3)}, {i(1), f(0.3)}, {s("x"), s("")}},
		"int":          {{i(2), f(0.3)}, {i(1), f(0.3)}, {s("x"), null}},
		"decimal":      {{i(1), dec(0.3000001)}, {i(1), f(0.3)}, {s("x"), null}},
	} {
		if diffMultisets(a, b) == "" {
			t.Errorf("%s: difference not detected", name)
		}
	}
}
