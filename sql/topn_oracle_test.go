package sql_test

// Randomized differential tests of Top-N, deduplication and the updating
// pipelines around them: seeded inputs with ties, NULLs and partitions
// smaller than N, run by Weir at parallelism 1 and 3 and by SQLite (which
// has ROW_NUMBER, RANK and DENSE_RANK), final tables compared row for row.
// ROW_NUMBER over ties is not deterministic in either engine, so each case
// either orders totally (a unique id or timestamp last) or outputs only
// columns that ties cannot change.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tnGenRow struct {
	ID int64   `json:"id"`
	P  *string `json:"p"`
	X  *int64  `json:"x"`
	Ts int64   `json:"ts"`
}

// tnGenInput: n rows, ids 0..n-1 in arrival order, partitions a..f (f
// rare, so it has fewer rows than most N) or NULL, x in 0..9 (many ties)
// or NULL, and unique timestamps about 128 ms apart with a jitter below
// the 4 s watermark delay, so that no row is late.
func tnGenInput(n int, seed int64) []tnGenRow {
	r := rand.New(rand.NewSource(seed))
	base := int64(1767225600000)
	parts := []string{"a", "b", "c", "d", "e"}
	out := make([]tnGenRow, n)
	for i := range out {
		row := tnGenRow{ID: int64(i)}
		switch k := r.Intn(40); {
		case k < 3:
		case k < 4:
			p := "f"
			row.P = &p
		default:
			p := parts[r.Intn(len(parts))]
			row.P = &p
		}
		if r.Intn(9) > 0 {
			x := int64(r.Intn(10))
			row.X = &x
		}
		// steps of 128 ms, a jitter of up to 24 steps (3.1 s), plus the
		// id's residue mod 128: no two rows share a timestamp
		row.Ts = base + (int64(i)+int64(r.Intn(25)))*128 + int64(i%128)
		out[i] = row
	}
	return out
}

var topnOracleCases = []oracleCase{
	{
		name:   "row_number_ties_tie_insensitive_columns",
		weir:   `SELECT p, x, rn FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC) AS rn FROM t) WHERE rn <= 3`,
		sqlite: `SELECT p, x, rn FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC) AS rn FROM t) WHERE rn <= 3`,
	},
	{
		name:   "row_number_total_order_range",
		weir:   `SELECT * FROM (SELECT id, p, x, ts, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x, id DESC) AS rn FROM t) WHERE rn BETWEEN 2 AND 5`,
		sqlite: `SELECT * FROM (SELECT id, p, x, ts, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x, id DESC) AS rn FROM t) WHERE rn BETWEEN 2 AND 5`,
	},
	{
		name:   "rank_ties",
		weir:   `SELECT id, p, x, r FROM (SELECT id, p, x, RANK() OVER (PARTITION BY p ORDER BY x) AS r FROM t) WHERE r <= 4`,
		sqlite: `SELECT id, p, x, r FROM (SELECT id, p, x, RANK() OVER (PARTITION BY p ORDER BY x) AS r FROM t) WHERE r <= 4`,
	},
	{
		name:   "dense_rank_exact",
		weir:   `SELECT id, p, x FROM (SELECT id, p, x, DENSE_RANK() OVER (PARTITION BY p ORDER BY x DESC) AS dr FROM t) WHERE dr = 2`,
		sqlite: `SELECT id, p, x FROM (SELECT id, p, x, DENSE_RANK() OVER (PARTITION BY p ORDER BY x DESC) AS dr FROM t) WHERE dr = 2`,
	},
	{
		name:   "n_larger_than_every_partition",
		weir:   `SELECT * FROM (SELECT id, p, ROW_NUMBER() OVER (PARTITION BY p ORDER BY ts DESC) AS rn FROM t) WHERE rn <= 100000`,
		sqlite: `SELECT * FROM (SELECT id, p, ROW_NUMBER() OVER (PARTITION BY p ORDER BY ts DESC) AS rn FROM t) WHERE rn <= 100000`,
	},
	{
		name:   "global_top_n",
		weir:   `SELECT * FROM (SELECT id, x, ROW_NUMBER() OVER (ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 7`,
		sqlite: `SELECT * FROM (SELECT id, x, ROW_NUMBER() OVER (ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 7`,
	},
	{
		name:   "dedup_keep_last",
		weir:   `SELECT id, p, x, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, x ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1`,
		sqlite: `SELECT id, p, x, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, x ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1`,
	},
	{
		name:   "dedup_keep_first_event_time",
		weir:   `SELECT id, p, x, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, x ORDER BY ts) AS rn FROM t) WHERE rn = 1`,
		sqlite: `SELECT id, p, x, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, x ORDER BY ts) AS rn FROM t) WHERE rn = 1`,
	},
	{
		name: "top_n_over_updating_input",
		weir: `SELECT * FROM (SELECT p, g, n, ROW_NUMBER() OVER (PARTITION BY p ORDER BY n DESC, g) AS rn
		  FROM (SELECT p, x % 4 AS g, COUNT(*) AS n FROM t GROUP BY p, x % 4)) WHERE rn <= 2`,
		sqlite: `SELECT * FROM (SELECT p, g, n, ROW_NUMBER() OVER (PARTITION BY p ORDER BY n DESC, g) AS rn
		  FROM (SELECT p, x % 4 AS g, COUNT(*) AS n FROM t GROUP BY p, x % 4)) WHERE rn <= 2`,
	},
	{
		name: "rank_over_updating_input_without_rank_column",
		weir: `SELECT p, g, s FROM (SELECT p, g, s, RANK() OVER (PARTITION BY g ORDER BY s) AS r
		  FROM (SELECT p, x % 3 AS g, SUM(x) AS s FROM t GROUP BY p, x % 3)) WHERE r <= 2`,
		sqlite: `SELECT p, g, s FROM (SELECT p, g, s, RANK() OVER (PARTITION BY g ORDER BY s) AS r
		  FROM (SELECT p, x % 3 AS g, SUM(x) AS s FROM t GROUP BY p, x % 3)) WHERE r <= 2`,
	},
	{
		name: "window_top_n_tvf",
		weir: `SELECT * FROM (SELECT id, p, x, window_start, window_end,
		  ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY x DESC, id) AS rn
		  FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 3`,
		sqlite: `SELECT * FROM (SELECT id, p, x, ws, ws + 10000,
		  ROW_NUMBER() OVER (PARTITION BY ws ORDER BY x DESC, id) AS rn
		  FROM (SELECT *, ts - ts % 10000 AS ws FROM t)) WHERE rn <= 3`,
	},
	{
		name: "window_top_n_over_window_aggregate_rank",
		weir: `SELECT p, n, ws FROM (SELECT p, n, ws, RANK() OVER (PARTITION BY ws, we ORDER BY n DESC) AS r
		  FROM (SELECT p, COUNT(*) AS n, window_start AS ws, window_end AS we
		        FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '3' SECOND, INTERVAL '9' SECOND))
		        GROUP BY p, window_start, window_end)) WHERE r = 1`,
		sqlite: `WITH w AS (SELECT t.*, (ts - ts % 3000) - j.j * 3000 AS ws
		                FROM t, (SELECT 0 AS j UNION ALL SELECT 1 UNION ALL SELECT 2) j),
		  c AS (SELECT p, COUNT(*) AS n, ws FROM w GROUP BY p, ws)
		  SELECT p, n, ws FROM (SELECT p, n, ws, RANK() OVER (PARTITION BY ws ORDER BY n DESC) AS r FROM c) WHERE r = 1`,
	},
	{
		name: "aggregate_over_dedup_retracts_max",
		weir: `SELECT p, MAX(x), MIN(x), COUNT(*), SUM(x), AVG(x), COUNT(DISTINCT x)
		  FROM (SELECT p, x FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, id % 5 ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1)
		  GROUP BY p`,
		sqlite: `SELECT p, MAX(x), MIN(x), COUNT(*), SUM(x), AVG(x), COUNT(DISTINCT x)
		  FROM (SELECT p, x FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, id % 5 ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1)
		  GROUP BY p`,
	},
	{
		name:   "avg_over_max_nexmark_q4_shape",
		weir:   `SELECT g, AVG(m), MAX(m), MIN(m) FROM (SELECT p, x % 3 AS g, MAX(id) AS m FROM t GROUP BY p, x % 3) GROUP BY g`,
		sqlite: `SELECT g, AVG(m), MAX(m), MIN(m) FROM (SELECT p, x % 3 AS g, MAX(id) AS m FROM t GROUP BY p, x % 3) GROUP BY g`,
	},
	{
		name: "union_all_updating_and_append_then_aggregate",
		weir: `SELECT p, COUNT(*), MAX(x), SUM(x) FROM (
		    SELECT p, x FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY ts DESC) AS rn FROM t) WHERE rn <= 2
		    UNION ALL SELECT p, x FROM t WHERE x > 7
		    UNION ALL SELECT p, COUNT(*) FROM t GROUP BY p) GROUP BY p`,
		sqlite: `SELECT p, COUNT(*), MAX(x), SUM(x) FROM (
		    SELECT p, x FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY ts DESC) AS rn FROM t) WHERE rn <= 2
		    UNION ALL SELECT p, x FROM t WHERE x > 7
		    UNION ALL SELECT p, COUNT(*) FROM t GROUP BY p) GROUP BY p`,
	},
	{
		// a global aggregate runs on one subtask and the union on three:
		// its changelog must not be spread round-robin
		name: "union_all_global_aggregates_into_aggregate",
		weir: `SELECT k, SUM(n), COUNT(*), MAX(n) FROM (SELECT -1 AS k, COUNT(*) AS n FROM t
		    UNION ALL SELECT -2, MAX(id) FROM t WHERE x > 2 UNION ALL SELECT x, id FROM t WHERE id % 10 = 0) GROUP BY k`,
		sqlite: `SELECT k, SUM(n), COUNT(*), MAX(n) FROM (SELECT -1 AS k, COUNT(*) AS n FROM t
		    UNION ALL SELECT -2, MAX(id) FROM t WHERE x > 2 UNION ALL SELECT x, id FROM t WHERE id % 10 = 0) GROUP BY k`,
	},
	{
		name:   "union_all_global_aggregates_to_client",
		weir:   `SELECT COUNT(*) AS n, MAX(ts) FROM t UNION ALL SELECT SUM(x), MIN(ts) FROM t WHERE p = 'a' UNION ALL SELECT id, ts FROM t WHERE id < 20`,
		sqlite: `SELECT COUNT(*) AS n, MAX(ts) FROM t UNION ALL SELECT SUM(x), MIN(ts) FROM t WHERE p = 'a' UNION ALL SELECT id, ts FROM t WHERE id < 20`,
	},
	{
		name:   "union_all_of_top_n_results",
		weir:   `SELECT p, x, rn FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC) AS rn FROM t) WHERE rn = 1 UNION ALL SELECT p, COUNT(*), 0 FROM t GROUP BY p`,
		sqlite: `SELECT p, x, rn FROM (SELECT p, x, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC) AS rn FROM t) WHERE rn = 1 UNION ALL SELECT p, COUNT(*), 0 FROM t GROUP BY p`,
	},
	{
		name:   "filter_above_top_n",
		weir:   `SELECT id, p, x FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 4 AND x % 2 = 1 AND rn > 1`,
		sqlite: `SELECT id, p, x FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 4 AND x % 2 = 1 AND rn > 1`,
	},
}

func TestTopNOracle(t *testing.T) {
	runTnOracle(t, []int64{1, 2}, func(seed int64) int { return 1500 * int(seed) }, topnOracleCases)
}

// runTnOracle runs cases over the tnGenInput table t (size(seed) rows per
// seed) in Weir, at parallelism 1 and 3, and in SQLite, and compares.
func runTnOracle(t *testing.T, seeds []int64, size func(seed int64) int, cases []oracleCase) {
	for _, seed := range seeds {
		rows := tnGenInput(size(seed), seed)
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
		mustExec(t, db, `CREATE TABLE t (id INTEGER, p TEXT, x INTEGER, ts INTEGER)`)
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if _, err := tx.Exec(`INSERT INTO t VALUES (?, ?, ?, ?)`, r.ID, r.P, r.X, r.Ts); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// small batches, so that changelogs go through many states
		ddl := fmt.Sprintf(`CREATE TABLE t (id BIGINT, p VARCHAR, x BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'batch-size' = '7');
`, path)
		for _, c := range cases {
			t.Run(fmt.Sprintf("seed%d/%s", seed, c.name), func(t *testing.T) {
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
}
