package sql_test

// Differential tests of joins: every join kind Weir plans (regular,
// interval, window, lookup) over seeded random tables l and r read from
// JSON files, against the same join run by SQLite. The inputs have NULL
// keys, duplicate rows and keys, keys on one side only (outer-join
// padding), and updating inputs (joins of GROUP BY results); event times
// rise with jitter below the watermark delay, so no row is late (late rows
// are covered by the operator tests in exec). Each case runs at
// parallelism 1 and 3 and must match row for row.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wsql "github.com/weirsql/weir/sql"
)

type joinGenRow struct {
	K  *int64  `json:"k"`
	V  int64   `json:"v"`
	S  *string `json:"s"`
	Ts int64   `json:"ts"`
}

// genJoinInput makes n rows over keys 0..keys-1 (NULL one row in 25), with
// an exact duplicate every 40 rows, timestamps 10 ms apart plus up to 1 s
// of jitter (the watermark delay is 2 s).
func genJoinInput(r *rand.Rand, n, keys int, base int64) []joinGenRow {
	ss := []string{"a", "b", "c", "d"}
	out := make([]joinGenRow, 0, n)
	clock := base
	for i := 0; i < n; i++ {
		clock += 10
		if i > 0 && r.Intn(40) == 0 {
			out = append(out, out[len(out)-1])
			continue
		}
		var row joinGenRow
		if r.Intn(25) > 0 {
			k := int64(r.Intn(keys))
			row.K = &k
		}
		row.V = int64(r.Intn(1000))
		if r.Intn(8) > 0 {
			s := ss[r.Intn(len(ss))]
			row.S = &s
		}
		row.Ts = clock + int64(r.Intn(1000))
		out = append(out, row)
	}
	return out
}

func writeJSONLines(t *testing.T, path string, rows any) {
	t.Helper()
	var sb strings.Builder
	switch rs := rows.(type) {
	case []joinGenRow:
		for _, r := range rs {
			b, _ := json.Marshal(r)
			sb.Write(b)
			sb.WriteByte('\n')
		}
	case [][2]any:
		for _, r := range rs {
			b, _ := json.Marshal(map[string]any{"id": r[0], "name": r[1]})
			sb.Write(b)
			sb.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Tumbling 2 s windows in SQLite.
const tumble2 = "(ts - (ts % 2000))"

// joinCase is an oracle case and the join operator EXPLAIN must show.
type joinCase struct {
	oracleCase
	op string // Join, IntervalJoin, WindowJoin or LookupJoin
}

var joinOracleCases = []joinCase{
	// --- regular joins
	{oracleCase{
		name:   "inner_residual",
		weir:   `SELECT l.k, l.v, l.s, r.v, r.s FROM l JOIN r ON l.k = r.k AND l.v < r.v + 300`,
		sqlite: `SELECT l.k, l.v, l.s, r.v, r.s FROM l JOIN r ON l.k = r.k AND l.v < r.v + 300`,
	}, "Join"},
	{oracleCase{
		name:   "comma_join_where",
		weir:   `SELECT l.k, l.v, r.v FROM l, r WHERE l.k = r.k AND l.s = 'a' AND r.v > 500`,
		sqlite: `SELECT l.k, l.v, r.v FROM l, r WHERE l.k = r.k AND l.s = 'a' AND r.v > 500`,
	}, "Join"},
	{oracleCase{
		name:   "left_on_right_filter",
		weir:   `SELECT l.k, l.v, r.v, r.s FROM l LEFT JOIN r ON l.k = r.k AND r.s <> 'c' AND l.v > r.v`,
		sqlite: `SELECT l.k, l.v, r.v, r.s FROM l LEFT JOIN r ON l.k = r.k AND r.s <> 'c' AND l.v > r.v`,
	}, "Join"},
	{oracleCase{
		name:   "left_on_left_filter_where",
		weir:   `SELECT l.k, l.v, r.v FROM l LEFT OUTER JOIN r ON l.k = r.k AND l.s = 'b' WHERE l.v < 600 AND (r.v IS NULL OR r.v > 200)`,
		sqlite: `SELECT l.k, l.v, r.v FROM l LEFT OUTER JOIN r ON l.k = r.k AND l.s = 'b' WHERE l.v < 600 AND (r.v IS NULL OR r.v > 200)`,
	}, "Join"},
	{oracleCase{
		name:   "right",
		weir:   `SELECT l.v, r.k, r.v FROM l RIGHT JOIN r ON l.k = r.k AND l.v + r.v > 1500`,
		sqlite: `SELECT l.v, r.k, r.v FROM l RIGHT JOIN r ON l.k = r.k AND l.v + r.v > 1500`,
	}, "Join"},
	{oracleCase{
		name:   "full",
		weir:   `SELECT l.k, l.v, r.k, r.v FROM l FULL OUTER JOIN r ON l.k = r.k AND l.s = r.s AND l.v < r.v`,
		sqlite: `SELECT l.k, l.v, r.k, r.v FROM l FULL OUTER JOIN r ON l.k = r.k AND l.s = r.s AND l.v < r.v`,
	}, "Join"},
	{oracleCase{
		name:   "null_safe_key",
		weir:   `SELECT l.k, l.v, r.v FROM l JOIN r ON l.k <=> r.k AND l.s <=> r.s AND l.v < 100`,
		sqlite: `SELECT l.k, l.v, r.v FROM l JOIN r ON l.k IS r.k AND l.s IS r.s AND l.v < 100`,
	}, "Join"},
	{oracleCase{
		name:   "computed_key_and_cast",
		weir:   `SELECT l.k, r.k, l.v FROM l JOIN r ON l.k + 1 = CAST(r.k AS INT) AND l.v > 900`,
		sqlite: `SELECT l.k, r.k, l.v FROM l JOIN r ON l.k + 1 = r.k AND l.v > 900`,
	}, "Join"},
	{oracleCase{
		name:   "no_equality",
		weir:   `SELECT a.v, b.v FROM (SELECT v FROM l WHERE v >= 985) a JOIN (SELECT v FROM r WHERE v >= 985) b ON a.v < b.v`,
		sqlite: `SELECT a.v, b.v FROM (SELECT v FROM l WHERE v >= 985) a JOIN (SELECT v FROM r WHERE v >= 985) b ON a.v < b.v`,
	}, "Join"},
	{oracleCase{
		name:   "three_way",
		weir:   `SELECT l.k, l.v, r.v, d.name FROM l JOIN r ON l.k = r.k AND l.v > 950 LEFT JOIN dim d ON r.v % 150 = d.id`,
		sqlite: `SELECT l.k, l.v, r.v, d.name FROM l JOIN r ON l.k = r.k AND l.v > 950 LEFT JOIN dim d ON r.v % 150 = d.id`,
	}, "Join"},
	// --- updating inputs: the changelogs of the aggregates are joined
	{oracleCase{
		name: "left_over_aggregates",
		weir: `SELECT a.k, a.n, a.sv, b.m FROM (SELECT k, COUNT(*) AS n, SUM(v) AS sv FROM l GROUP BY k) a
		  LEFT JOIN (SELECT k, MAX(v) AS m FROM r WHERE s = 'a' GROUP BY k) b ON a.k = b.k AND a.n <= b.m`,
		sqlite: `SELECT a.k, a.n, a.sv, b.m FROM (SELECT k, COUNT(*) AS n, SUM(v) AS sv FROM l GROUP BY k) a
		  LEFT JOIN (SELECT k, MAX(v) AS m FROM r WHERE s = 'a' GROUP BY k) b ON a.k = b.k AND a.n <= b.m`,
	}, "Join"},
	{oracleCase{
		name: "full_over_aggregates_then_aggregate",
		weir: `SELECT COUNT(*), SUM(x.n), SUM(x.c), COUNT(x.n), COUNT(x.c) FROM
		  (SELECT a.n, b.c FROM (SELECT k, COUNT(*) AS n FROM l GROUP BY k) a FULL JOIN (SELECT s, COUNT(*) AS c FROM r GROUP BY s) b ON a.n % 4 = b.c % 4) x`,
		sqlite: `SELECT COUNT(*), SUM(x.n), SUM(x.c), COUNT(x.n), COUNT(x.c) FROM
		  (SELECT a.n, b.c FROM (SELECT k, COUNT(*) AS n FROM l GROUP BY k) a FULL JOIN (SELECT s, COUNT(*) AS c FROM r GROUP BY s) b ON a.n % 4 = b.c % 4) x`,
	}, "Join"},
	{oracleCase{
		name:   "join_then_group_by",
		weir:   `SELECT l.s, COUNT(*), COUNT(r.v), MAX(r.v) FROM l LEFT JOIN r ON l.k = r.k AND r.v < l.v GROUP BY l.s`,
		sqlite: `SELECT l.s, COUNT(*), COUNT(r.v), MAX(r.v) FROM l LEFT JOIN r ON l.k = r.k AND r.v < l.v GROUP BY l.s`,
	}, "Join"},
	// --- interval joins (event time on both sides)
	{oracleCase{
		name:   "interval_inner_between",
		weir:   `SELECT l.k, l.v, r.v, l.ts, r.ts FROM l JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '2' SECOND`,
		sqlite: `SELECT l.k, l.v, r.v, l.ts, r.ts FROM l JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - 1000 AND l.ts + 2000`,
	}, "IntervalJoin"},
	{oracleCase{
		name:   "interval_left_ge_lt",
		weir:   `SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.ts >= r.ts AND l.ts < r.ts + INTERVAL '1500' MILLISECOND AND r.s <> 'a'`,
		sqlite: `SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.ts >= r.ts AND l.ts < r.ts + 1500 AND r.s <> 'a'`,
	}, "IntervalJoin"},
	{oracleCase{
		name:   "interval_full_residual",
		weir:   `SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r ON l.k = r.k AND r.ts > l.ts AND r.ts <= l.ts + INTERVAL '1' SECOND AND l.v < r.v`,
		sqlite: `SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r ON l.k = r.k AND r.ts > l.ts AND r.ts <= l.ts + 1000 AND l.v < r.v`,
	}, "IntervalJoin"},
	{oracleCase{
		name:   "interval_right_where",
		weir:   `SELECT l.v, r.k, r.v FROM l RIGHT JOIN r ON l.k = r.k AND l.ts BETWEEN r.ts - INTERVAL '3' SECOND AND r.ts - INTERVAL '1' SECOND`,
		sqlite: `SELECT l.v, r.k, r.v FROM l RIGHT JOIN r ON l.k = r.k AND l.ts BETWEEN r.ts - 3000 AND r.ts - 1000`,
	}, "IntervalJoin"},
	// --- window joins (per key and 2 s window, emitted when it closes)
	{oracleCase{
		name: "window_inner",
		weir: `SELECT a.k, a.window_start, a.n, b.m FROM
		  (SELECT k, window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE l, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY k, window_start, window_end) a
		  JOIN (SELECT k, window_start, window_end, MAX(v) AS m FROM TABLE(TUMBLE(TABLE r, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY k, window_start, window_end) b
		  ON a.k = b.k AND a.window_start = b.window_start AND a.window_end = b.window_end`,
		sqlite: `SELECT a.k, a.ws, a.n, b.m FROM
		  (SELECT k, ` + tumble2 + ` AS ws, COUNT(*) AS n FROM l GROUP BY k, ws) a
		  JOIN (SELECT k, ` + tumble2 + ` AS ws, MAX(v) AS m FROM r GROUP BY k, ws) b ON a.k = b.k AND a.ws = b.ws`,
	}, "WindowJoin"},
	{oracleCase{
		name: "window_full_group_window",
		weir: `SELECT a.k, a.ws, a.n, b.k, b.ws, b.m FROM
		  (SELECT k, TUMBLE_START(ts, INTERVAL '2' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '2' SECOND) AS we, COUNT(*) AS n FROM l WHERE v < 500 GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) a
		  FULL JOIN (SELECT k, TUMBLE_START(ts, INTERVAL '2' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '2' SECOND) AS we, MAX(v) AS m FROM r WHERE v >= 500 GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) b
		  ON a.k = b.k AND a.we = b.we AND a.n * 10 < b.m`,
		sqlite: `SELECT a.k, a.ws, a.n, b.k, b.ws, b.m FROM
		  (SELECT k, ` + tumble2 + ` AS ws, COUNT(*) AS n FROM l WHERE v < 500 GROUP BY k, ws) a
		  FULL JOIN (SELECT k, ` + tumble2 + ` AS ws, MAX(v) AS m FROM r WHERE v >= 500 GROUP BY k, ws) b ON a.k = b.k AND a.ws = b.ws AND a.n * 10 < b.m`,
	}, "WindowJoin"},
	{oracleCase{
		name: "window_left_tvf_rows",
		weir: `SELECT a.k, a.v, b.n FROM
		  (SELECT k, v, window_start, window_end FROM TABLE(TUMBLE(TABLE l, DESCRIPTOR(ts), INTERVAL '2' SECOND)) WHERE v < 50) a
		  LEFT JOIN (SELECT k, window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE r, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY k, window_start, window_end) b
		  ON a.k = b.k AND a.window_start = b.window_start AND a.window_end = b.window_end`,
		sqlite: `SELECT a.k, a.v, b.n FROM
		  (SELECT k, v, ` + tumble2 + ` AS ws FROM l WHERE v < 50) a
		  LEFT JOIN (SELECT k, ` + tumble2 + ` AS ws, COUNT(*) AS n FROM r GROUP BY k, ws) b ON a.k = b.k AND a.ws = b.ws`,
	}, "WindowJoin"},
	// --- lookup joins against the bounded file table dim
	{oracleCase{
		name:   "lookup_inner",
		weir:   `SELECT l.k, l.v, d.name FROM l JOIN dim FOR SYSTEM_TIME AS OF l.pt AS d ON l.k = d.id`,
		sqlite: `SELECT l.k, l.v, d.name FROM l JOIN dim d ON l.k = d.id`,
	}, "LookupJoin"},
	{oracleCase{
		name:   "lookup_left_residual",
		weir:   `SELECT l.k, l.v, d.id, d.name FROM l LEFT JOIN dim FOR SYSTEM_TIME AS OF l.pt AS d ON l.v % 150 = d.id AND d.name <> 'n7'`,
		sqlite: `SELECT l.k, l.v, d.id, d.name FROM l LEFT JOIN dim d ON l.v % 150 = d.id AND d.name <> 'n7'`,
	}, "LookupJoin"},
	{oracleCase{
		name: "lookup_over_updating",
		weir: `SELECT a.k, a.n, d.name FROM (SELECT k, COUNT(*) AS n, PROCTIME() AS pt FROM l GROUP BY k) a
		  LEFT JOIN dim FOR SYSTEM_TIME AS OF a.pt AS d ON a.n = d.id`,
		sqlite: `SELECT a.k, a.n, d.name FROM (SELECT k, COUNT(*) AS n FROM l GROUP BY k) a LEFT JOIN dim d ON a.n = d.id`,
	}, "LookupJoin"},
}

func TestJoinOracle(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	base := int64(1767225600000)
	lrows := genJoinInput(rng, 2000, 200, base)
	rrows := genJoinInput(rng, 2000, 220, base) // keys 200..219 only on the right
	var dim [][2]any
	for id := 0; id < 150; id++ {
		if id%9 == 4 {
			continue // missing: lookups pad or drop
		}
		dim = append(dim, [2]any{id, fmt.Sprintf("n%d", id%40)})
		if id%11 == 0 {
			dim = append(dim, [2]any{id, fmt.Sprintf("m%d", id)}) // two rows for one key
		}
	}
	dim = append(dim, [2]any{nil, "nullkey"})
	dir := t.TempDir()
	lp, rp, dp := filepath.Join(dir, "l.json"), filepath.Join(dir, "r.json"), filepath.Join(dir, "dim.json")
	writeJSONLines(t, lp, lrows)
	writeJSONLines(t, rp, rrows)
	writeJSONLines(t, dp, dim)

	db := openSQLite(t)
	for name, rows := range map[string][]joinGenRow{"l": lrows, "r": rrows} {
		mustExec(t, db, fmt.Sprintf(`CREATE TABLE %s (k INTEGER, v INTEGER, s TEXT, ts INTEGER)`, name))
		for _, r := range rows {
			mustExec(t, db, fmt.Sprintf(`INSERT INTO %s VALUES (?, ?, ?, ?)`, name), r.K, r.V, r.S, r.Ts)
		}
	}
	mustExec(t, db, `CREATE TABLE dim (id INTEGER, name TEXT)`)
	for _, d := range dim {
		mustExec(t, db, `INSERT INTO dim VALUES (?, ?)`, d[0], d[1])
	}

	ddl := fmt.Sprintf(`
CREATE TABLE l (k BIGINT, v BIGINT, s VARCHAR, ts TIMESTAMP(3), pt AS PROCTIME(),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
CREATE TABLE r (k BIGINT, v BIGINT, s VARCHAR, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
CREATE TABLE dim (id BIGINT, name VARCHAR) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
`, lp, rp, dp)

	for _, c := range joinOracleCases {
		t.Run(c.name, func(t *testing.T) {
			want := runSQLite(t, db, c.sqlite)
			if len(want) == 0 {
				t.Fatalf("oracle returned no rows: the case tests nothing")
			}
			t.Logf("%d rows", len(want))
			plan := explain(t, ddl+"EXPLAIN "+c.weir+";")
			if !strings.Contains(plan, "\n"+c.op+"#") {
				t.Fatalf("the plan has no %s:\n%s", c.op, plan)
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
			// with room for a few keys in memory: regular joins and
			// aggregates spill the rest to Badger
			got, _, err := runWeir(t, "SET 'state.memory' = '24kb';\n"+ddl+c.weir+";", 2)
			if err != nil {
				t.Errorf("spilling: weir: %v", err)
			} else if d := diffMultisets(got, want); d != "" {
				t.Errorf("spilling: mismatch\n%s", d)
			}
		})
	}
}

// textSink keeps the text results (EXPLAIN) of a script.
type textSink struct {
	oracleSink
	text strings.Builder
}

func (s *textSink) Text(text string) error { s.text.WriteString(text); return nil }

func explain(t *testing.T, script string) string {
	t.Helper()
	s := wsql.NewSession()
	rs := &textSink{}
	if err := s.ExecScript(context.Background(), script, rs); err != nil {
		t.Fatalf("explain: %v", err)
	}
	return "\n" + rs.text.String()
}
