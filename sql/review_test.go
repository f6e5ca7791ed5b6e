package sql_test

import (
	"context"

	"encoding/json"
	"fmt"
	"github.com/weirsql/weir/connectors/nexmark"
	wsql "github.com/weirsql/weir/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// reviewCases are differential checks of Weir against SQLite over the
// synthetic table of TestOracle (see genInput), at parallelism 1 and 4.
var reviewCases = []oracleCase{
	{name: "order_limit_offset", weir: `SELECT k, x AS xx, ts FROM t WHERE x IS NOT NULL ORDER BY xx DESC, k DESC, ts LIMIT 5 OFFSET 3`, sqlite: `SELECT k, x AS xx, ts FROM t WHERE x IS NOT NULL ORDER BY xx DESC, k DESC, ts LIMIT 5 OFFSET 3`},
	{name: "order_limit_comma", weir: `SELECT k, x, ts FROM t WHERE x > 0 ORDER BY x, ts LIMIT 2, 3`, sqlite: `SELECT k, x, ts FROM t WHERE x > 0 ORDER BY x, ts LIMIT 3 OFFSET 2`},
	{name: "order_position", weir: `SELECT ts, x FROM t WHERE x > 0 ORDER BY 2 DESC, 1 LIMIT 4`, sqlite: `SELECT ts, x FROM t WHERE x > 0 ORDER BY 2 DESC, 1 LIMIT 4`},
	{name: "order_window_limit", weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) ORDER BY n DESC, ws, k LIMIT 7`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) AS n FROM t GROUP BY k, ws ORDER BY n DESC, ws, k LIMIT 7`},
	{name: "empty_window", weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*) FROM t WHERE k > 100 GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`, sqlite: `SELECT 1 WHERE 0`},
	{name: "empty_window_global", weir: `SELECT COUNT(*) FROM t WHERE k > 100 GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)`, sqlite: `SELECT 1 WHERE 0`},
	{name: "empty_groupby", weir: `SELECT k, COUNT(*) FROM t WHERE k > 100 GROUP BY k`, sqlite: `SELECT 1 WHERE 0`},
	{name: "empty_distinct", weir: `SELECT DISTINCT k FROM t WHERE k > 100`, sqlite: `SELECT 1 WHERE 0`},
	{name: "window_on_computed_ts", weir: `SELECT k, TUMBLE_START(t2, INTERVAL '10' SECOND), COUNT(*) FROM (SELECT k, ts AS t2, x FROM t WHERE x > 0) s GROUP BY k, TUMBLE(t2, INTERVAL '10' SECOND) HAVING COUNT(*) > 2`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) FROM t WHERE x > 0 GROUP BY k, ws HAVING COUNT(*) > 2`},
	{name: "window_end_rowtime", weir: `SELECT k, TUMBLE_END(ts, INTERVAL '10' SECOND), TUMBLE_ROWTIME(ts, INTERVAL '10' SECOND), window_start, window_end FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` + 10000 AS we, ` + tumble10 + ` + 9999, ` + tumble10 + `, ` + tumble10 + ` + 10000 FROM t GROUP BY k, we`},
	{name: "window_then_agg", weir: `SELECT n, COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)) s GROUP BY n`,
		sqlite: `SELECT n, COUNT(*) FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k, ` + tumble10 + `) s GROUP BY n`},
	{name: "nested_window", weir: `SELECT TUMBLE_START(rt, INTERVAL '20' SECOND), SUM(n) FROM (SELECT k, TUMBLE_ROWTIME(ts, INTERVAL '10' SECOND) AS rt, COUNT(*) AS n FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)) s GROUP BY TUMBLE(rt, INTERVAL '20' SECOND)`,
		sqlite: `SELECT (ts - (((ts % 20000) + 20000) % 20000)) AS ws, COUNT(*) FROM t GROUP BY ws`},
	{name: "distinct_agg", weir: `SELECT DISTINCT COUNT(*) > 500 FROM t GROUP BY k`, sqlite: `SELECT DISTINCT COUNT(*) > 500 FROM t GROUP BY k`},
	{name: "union_all_3_types", weir: `SELECT k, m FROM t WHERE k = 1 AND m > 900 UNION ALL SELECT k, x FROM t WHERE k = 2 AND x > 790`, sqlite: `SELECT k, m FROM t WHERE k = 1 AND m > 900 UNION ALL SELECT k, x FROM t WHERE k = 2 AND x > 790`},
	{name: "round_funcs", weir: `SELECT k, ROUND(d), FLOOR(m), CEIL(m), ABS(m), SIGN(x) FROM t`, sqlite: `SELECT k, ROUND(d), CAST(floor(m) AS INTEGER), CAST(ceil(m) AS INTEGER), ABS(m), SIGN(x) FROM t`},
	{name: "string_funcs", weir: `SELECT k, LENGTH(g), SUBSTRING(CONCAT(g, 'xyz'), 2, 2), REPLACE(g, 'a', 'AA'), LOWER(UPPER(g)) FROM t`, sqlite: `SELECT k, LENGTH(g), SUBSTR(g || 'xyz', 2, 2), REPLACE(g, 'a', 'AA'), g FROM t`},
	{name: "min_max_distinct", weir: `SELECT k, MIN(DISTINCT x), MAX(DISTINCT g), SUM(DISTINCT m) FROM t GROUP BY k`, sqlite: `SELECT k, MIN(DISTINCT x), MAX(DISTINCT g), SUM(DISTINCT m) FROM t GROUP BY k`},
	{name: "cmp_int_decimal", weir: `SELECT k, m FROM t WHERE m = 100 OR m > x OR m BETWEEN 5 AND 5.5`, sqlite: `SELECT k, m FROM t WHERE m = 100 OR m > x OR m BETWEEN 5 AND 5.5`},
	{name: "cmp_double_decimal", weir: `SELECT k FROM t WHERE d < m`, sqlite: `SELECT k FROM t WHERE d < m`},
	{name: "expr_over_group_expr", weir: `SELECT k % 3 + 1, (k % 3) * 10, COUNT(*) FROM t GROUP BY k % 3`, sqlite: `SELECT k % 3 + 1, (k % 3) * 10, COUNT(*) FROM t GROUP BY k % 3`},
	{name: "key_not_selected", weir: `SELECT COUNT(*), SUM(x) FROM t GROUP BY k, g`, sqlite: `SELECT COUNT(*), SUM(x) FROM t GROUP BY k, g`},
	{name: "having_key_not_selected", weir: `SELECT COUNT(*) FROM t GROUP BY k, g HAVING k > 3 AND g IS NOT NULL`, sqlite: `SELECT COUNT(*) FROM t GROUP BY k, g HAVING k > 3 AND g IS NOT NULL`},
	{name: "case_over_agg", weir: `SELECT k, CASE WHEN COUNT(*) > 500 THEN 'many' ELSE 'few' END, IF(SUM(x) > 100000, 1, 0) FROM t GROUP BY k`,
		sqlite: `SELECT k, CASE WHEN COUNT(*) > 500 THEN 'many' ELSE 'few' END, CASE WHEN SUM(x) > 100000 THEN 1 ELSE 0 END FROM t GROUP BY k`},
	{name: "agg_of_key_expr", weir: `SELECT k, SUM(x * k), SUM(x), SUM(x) + 1, COUNT(x) + COUNT(*) FROM t GROUP BY k`, sqlite: `SELECT k, SUM(x * k), SUM(x), SUM(x) + 1, COUNT(x) + COUNT(*) FROM t GROUP BY k`},
	{name: "window_having_start", weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) HAVING MIN(x) < -150`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) FROM t GROUP BY k, ws HAVING MIN(x) < -150`},
	{name: "window_key_expr_case", weir: `SELECT CASE WHEN g IN ('a','b') THEN 'ab' ELSE 'other' END AS c, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*), SUM(m) FROM t GROUP BY CASE WHEN g IN ('a','b') THEN 'ab' ELSE 'other' END, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT CASE WHEN g IN ('a','b') THEN 'ab' ELSE 'other' END AS c, ` + tumble10 + ` AS ws, COUNT(*), SUM(m) FROM t GROUP BY c, ws`},
	{name: "window_no_agg_cols", weir: `SELECT k FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`, sqlite: `SELECT k FROM t GROUP BY k, ` + tumble10},
	{name: "groupby_no_agg", weir: `SELECT k, g FROM t GROUP BY k, g`, sqlite: `SELECT k, g FROM t GROUP BY k, g`},
	{name: "where_on_agg_subquery", weir: `SELECT k, s FROM (SELECT k, SUM(x) AS s FROM t GROUP BY k) q WHERE s > 60000 OR s IS NULL`, sqlite: `SELECT k, s FROM (SELECT k, SUM(x) AS s FROM t GROUP BY k) q WHERE s > 60000 OR s IS NULL`},
	{name: "nullif_ifnull", weir: `SELECT k, NULLIF(g, 'a'), IFNULL(x, 0) FROM t`, sqlite: `SELECT k, NULLIF(g, 'a'), IFNULL(x, 0) FROM t`},
	{name: "greatest_least", weir: `SELECT k, GREATEST(x, k), LEAST(d, m) FROM t`, sqlite: `SELECT k, CASE WHEN x IS NULL THEN NULL ELSE MAX(x, k) END, CASE WHEN d IS NULL OR m IS NULL THEN NULL ELSE MIN(d, m) END FROM t`},
	{name: "groupby_mod_expr", weir: `SELECT k % 3, COUNT(*), SUM(x) FROM t GROUP BY k % 3`, sqlite: `SELECT k % 3, COUNT(*), SUM(x) FROM t GROUP BY k % 3`},
	{name: "groupby_mod_alias", weir: `SELECT k % 3 AS r, COUNT(*) FROM t GROUP BY r`, sqlite: `SELECT k % 3 AS r, COUNT(*) FROM t GROUP BY r`},
	{name: "null_group_keys", weir: `SELECT g, COUNT(*), COUNT(g), MIN(x) FROM t GROUP BY g`, sqlite: `SELECT g, COUNT(*), COUNT(g), MIN(x) FROM t GROUP BY g`},
	{name: "agg_over_case", weir: `SELECT k, SUM(CASE WHEN x > 0 THEN x ELSE 0 END), COUNT(CASE WHEN g = 'a' THEN 1 END), MAX(CASE WHEN d > 500 THEN d END) FROM t GROUP BY k`,
		sqlite: `SELECT k, SUM(CASE WHEN x > 0 THEN x ELSE 0 END), COUNT(CASE WHEN g = 'a' THEN 1 END), MAX(CASE WHEN d > 500 THEN d END) FROM t GROUP BY k`},
	{name: "count_distinct_nulls", weir: `SELECT k, COUNT(DISTINCT g), COUNT(DISTINCT x), SUM(DISTINCT k), COUNT(DISTINCT m) FROM t GROUP BY k`,
		sqlite: `SELECT k, COUNT(DISTINCT g), COUNT(DISTINCT x), SUM(DISTINCT k), COUNT(DISTINCT m) FROM t GROUP BY k`},
	{name: "sum_avg_decimal_double", weir: `SELECT g, SUM(m), AVG(m), SUM(d), AVG(d) FROM t GROUP BY g`, sqlite: `SELECT g, SUM(m), AVG(m), SUM(d), AVG(d) FROM t GROUP BY g`},
	{name: "minmax_varchar_ts", weir: `SELECT k, MIN(g), MAX(g), MIN(ts), MAX(ts) FROM t GROUP BY k`, sqlite: `SELECT k, MIN(g), MAX(g), MIN(ts), MAX(ts) FROM t GROUP BY k`},
	{name: "minmax_varchar_window", weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), MIN(g), MAX(g), MIN(ts), MAX(ts) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, MIN(g), MAX(g), MIN(ts), MAX(ts) FROM t GROUP BY k, ws`},
	{name: "having_agg_not_in_select", weir: `SELECT k, COUNT(*) FROM t GROUP BY k HAVING MAX(x) > 790 AND MIN(d) < 1`, sqlite: `SELECT k, COUNT(*) FROM t GROUP BY k HAVING MAX(x) > 790 AND MIN(d) < 1`},
	{name: "having_agg_not_in_select_window", weir: `SELECT k, COUNT(*) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) HAVING SUM(x) > 20000`,
		sqlite: `SELECT k, COUNT(*) FROM t GROUP BY k, ` + tumble10 + ` HAVING SUM(x) > 20000`},
	{name: "agg_expressions", weir: `SELECT k, SUM(x)/COUNT(*), MAX(x)-MIN(x), SUM(x)*2+1, COUNT(*)*1.0/COUNT(x) FROM t GROUP BY k`,
		sqlite: `SELECT k, SUM(x)*1.0/COUNT(*), MAX(x)-MIN(x), SUM(x)*2+1, COUNT(*)*1.0/COUNT(x) FROM t GROUP BY k`},
	{name: "agg_expressions_window", weir: `SELECT k, SUM(x)/COUNT(*), MAX(x)-MIN(x), MAX(ts) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT k, SUM(x)*1.0/COUNT(*), MAX(x)-MIN(x), MAX(ts) FROM t GROUP BY k, ` + tumble10},
	{name: "nested_3", weir: `SELECT a.k2, a.y FROM (SELECT b.k2, b.y + 1 AS y FROM (SELECT c.k * 2 AS k2, c.x AS y FROM (SELECT k, x FROM t WHERE x > 0) AS c WHERE c.k < 5) AS b) AS a WHERE a.y < 500`,
		sqlite: `SELECT a.k2, a.y FROM (SELECT b.k2, b.y + 1 AS y FROM (SELECT c.k * 2 AS k2, c.x AS y FROM (SELECT k, x FROM t WHERE x > 0) AS c WHERE c.k < 5) AS b) AS a WHERE a.y < 500`},
	{name: "cte_chain", weir: `WITH a AS (SELECT k, x FROM t WHERE x IS NOT NULL), b AS (SELECT k, x * 2 AS y FROM a WHERE k > 1), c AS (SELECT k, SUM(y) AS s FROM b GROUP BY k) SELECT k, s FROM c WHERE s > 0`,
		sqlite: `WITH a AS (SELECT k, x FROM t WHERE x IS NOT NULL), b AS (SELECT k, x * 2 AS y FROM a WHERE k > 1), c AS (SELECT k, SUM(y) AS s FROM b GROUP BY k) SELECT k, s FROM c WHERE s > 0`},
	{name: "qualified_t", weir: `SELECT t.k, t.x FROM t WHERE t.x > 700`, sqlite: `SELECT t.k, t.x FROM t WHERE t.x > 700`},
	{name: "qualified_alias", weir: `SELECT q.k, q.x FROM t q WHERE q.x > 700`, sqlite: `SELECT q.k, q.x FROM t q WHERE q.x > 700`},
	{name: "select_star_window_subq", weir: `SELECT * FROM (SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)) AS s WHERE n > 50`,
		sqlite: `SELECT * FROM (SELECT k, ` + tumble10 + ` AS ws, COUNT(*) AS n FROM t GROUP BY k, ws) AS s WHERE n > 50`},
	{name: "window_renamed_time", weir: `SELECT kk, TUMBLE_START(t2, INTERVAL '10' SECOND), COUNT(*) FROM (SELECT k AS kk, ts AS t2 FROM t) AS s GROUP BY kk, TUMBLE(t2, INTERVAL '10' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) FROM t GROUP BY k, ws`},
	{name: "two_windows_union", weir: `SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) UNION ALL SELECT k, TUMBLE_START(ts, INTERVAL '20' SECOND), SUM(x) FROM t GROUP BY k, TUMBLE(ts, INTERVAL '20' SECOND)`,
		sqlite: `SELECT k, ` + tumble10 + ` AS ws, COUNT(*) FROM t GROUP BY k, ws UNION ALL SELECT k, (ts - (((ts % 20000) + 20000) % 20000)) AS ws, SUM(x) FROM t GROUP BY k, ws`},
	{name: "distinct_expr", weir: `SELECT DISTINCT k % 3, x IS NULL FROM t`, sqlite: `SELECT DISTINCT k % 3, x IS NULL FROM t`},
	{name: "distinct_expr2", weir: `SELECT DISTINCT UPPER(g), k * 10 FROM t`, sqlite: `SELECT DISTINCT UPPER(g), k * 10 FROM t`},
	{name: "between_ts", weir: `SELECT k, ts FROM t WHERE ts BETWEEN TIMESTAMP '2026-01-01 00:00:10' AND TIMESTAMP '2026-01-01 00:00:20.500'`,
		sqlite: `SELECT k, ts FROM t WHERE ts BETWEEN 1767225610000 AND 1767225620500`},
	{name: "between_ts_str", weir: `SELECT k, ts FROM t WHERE ts BETWEEN '2026-01-01 00:00:10' AND '2026-01-01 00:00:20.500'`,
		sqlite: `SELECT k, ts FROM t WHERE ts BETWEEN 1767225610000 AND 1767225620500`},
	{name: "in_mixed", weir: `SELECT k, m FROM t WHERE m IN (1, 2.50, -3, 100.25) OR x IN (1, 2.0, 3.5)`, sqlite: `SELECT k, m FROM t WHERE m IN (1, 2.50, -3, 100.25) OR x IN (1, 2.0, 3.5)`},
	{name: "in_mixed2", weir: `SELECT k, x FROM t WHERE x IN (10, 20.0, 30.5) OR k IN (7.0)`, sqlite: `SELECT k, x FROM t WHERE x IN (10, 20.0, 30.5) OR k IN (7.0)`},
	{name: "not_in_null", weir: `SELECT k, x FROM t WHERE x NOT IN (1, 2, NULL)`, sqlite: `SELECT k, x FROM t WHERE x NOT IN (1, 2, NULL)`},
	{name: "string_cmp", weir: `SELECT k, g FROM t WHERE g > 'b' AND g <= 'd'`, sqlite: `SELECT k, g FROM t WHERE g > 'b' AND g <= 'd'`},
	{name: "like", weir: `SELECT k, g FROM t WHERE CONCAT(g, '_', k) LIKE 'a\_%' OR CONCAT(g, 'x') LIKE '_x'`, sqlite: `SELECT k, g FROM t WHERE g || '_' || k LIKE 'a\_%' ESCAPE '\' OR g || 'x' LIKE '_x'`},
	{name: "like_escape", weir: `SELECT k FROM t WHERE CONCAT(g, '%') LIKE 'b!%' ESCAPE '!'`, sqlite: `SELECT k FROM t WHERE g || '%' LIKE 'b!%' ESCAPE '!'`},
	{name: "cast_round", weir: `SELECT k, CAST(CAST(x AS VARCHAR) AS BIGINT), CAST(CAST(k AS DOUBLE) AS BIGINT), CAST(m AS VARCHAR), CAST(CAST(m AS VARCHAR) AS DECIMAL(10,2)) FROM t WHERE x IS NOT NULL`,
		sqlite: `SELECT k, x, k, CASE WHEN m IS NULL THEN NULL ELSE printf('%.2f', m) END, m FROM t WHERE x IS NOT NULL`},
	{name: "div_zero", weir: `SELECT k, x / (k - k), x % (k - k), d / 0 FROM t WHERE k = 1`, sqlite: `SELECT k, NULL, NULL, NULL FROM t WHERE k = 1`},
	{name: "div_zero_agg", weir: `SELECT k, SUM(x) / SUM(CASE WHEN k > 100 THEN 1 ELSE 0 END) FROM t GROUP BY k`, sqlite: `SELECT k, NULL FROM t GROUP BY k`},
	{name: "global_agg_changelog", weir: `SELECT COUNT(*), SUM(x), MIN(g), MAX(m) FROM t`, sqlite: `SELECT COUNT(*), SUM(x), MIN(g), MAX(m) FROM t`},
	{name: "global_agg_where", weir: `SELECT COUNT(*), SUM(x) FROM t WHERE k = 7 AND x > 700`, sqlite: `SELECT COUNT(*), SUM(x) FROM t WHERE k = 7 AND x > 700`},
	{name: "having_on_group_col", weir: `SELECT g, COUNT(*) FROM t GROUP BY g HAVING g IS NULL OR g > 'c'`, sqlite: `SELECT g, COUNT(*) FROM t GROUP BY g HAVING g IS NULL OR g > 'c'`},
	{name: "groupby_case_expr", weir: `SELECT CASE WHEN x > 300 THEN 'h' ELSE 'l' END AS b, COUNT(*) FROM t GROUP BY CASE WHEN x > 300 THEN 'h' ELSE 'l' END`,
		sqlite: `SELECT CASE WHEN x > 300 THEN 'h' ELSE 'l' END AS b, COUNT(*) FROM t GROUP BY b`},
	{name: "groupby_select_expr_of_key", weir: `SELECT k + 1, k * 2, COUNT(*) FROM t GROUP BY k`, sqlite: `SELECT k + 1, k * 2, COUNT(*) FROM t GROUP BY k`},
	{name: "union_distinct", weir: `SELECT k FROM t WHERE x > 700 UNION SELECT k + 1 FROM t WHERE x < -150`, sqlite: `SELECT k FROM t WHERE x > 700 UNION SELECT k + 1 FROM t WHERE x < -150`},
	{name: "avg_int", weir: `SELECT k, AVG(x), AVG(DISTINCT x) FROM t GROUP BY k`, sqlite: `SELECT k, AVG(x), AVG(DISTINCT x) FROM t GROUP BY k`},
	{name: "count_distinct_window_nulls", weir: `SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(DISTINCT g), COUNT(DISTINCT x), COUNT(DISTINCT m) FROM t GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT ` + tumble10 + ` AS ws, COUNT(DISTINCT g), COUNT(DISTINCT x), COUNT(DISTINCT m) FROM t GROUP BY ws`},
	{name: "hop_window_expr_key", weir: `SELECT k % 2, HOP_START(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND), COUNT(*) FROM t GROUP BY k % 2, HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)`,
		sqlite: `WITH w AS (SELECT t.*, (ts - (((ts % 5000) + 5000) % 5000)) - nums.j * 5000 AS ws FROM t JOIN nums ON nums.j < 2) SELECT k % 2, ws, COUNT(*) FROM w WHERE ws + 10000 > ts GROUP BY k % 2, ws`},
	{name: "window_null_key", weir: `SELECT g, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*), SUM(m) FROM t GROUP BY g, TUMBLE(ts, INTERVAL '10' SECOND)`,
		sqlite: `SELECT g, ` + tumble10 + ` AS ws, COUNT(*), SUM(m) FROM t GROUP BY g, ws`},
	{name: "coalesce_mixed", weir: `SELECT k, COALESCE(m, x, 0), COALESCE(d, x) FROM t`, sqlite: `SELECT k, COALESCE(m, x, 0), COALESCE(d, x) FROM t`},
	{name: "minmax_decimal_neg", weir: `SELECT k, MIN(m), MAX(m), SUM(m) FROM t WHERE m < 0 GROUP BY k`, sqlite: `SELECT k, MIN(m), MAX(m), SUM(m) FROM t WHERE m < 0 GROUP BY k`},
	{name: "arith_decimal", weir: `SELECT k, m * 2, m + x, m - d, m / 4, m * m FROM t`, sqlite: `SELECT k, m * 2, m + x, m - d, m / 4, m * m FROM t`},
	{name: "int_div", weir: `SELECT k, x DIV 7, x / 7, -x DIV 3 FROM t`, sqlite: `SELECT k, x / 7, x * 1.0 / 7, (-x) / 3 FROM t`},
	{name: "view_over_view", weir: `CREATE VIEW v1 AS SELECT k, x FROM t WHERE x > 0; CREATE VIEW v2 AS SELECT k, SUM(x) AS s FROM v1 GROUP BY k; SELECT k, s FROM v2 WHERE k < 6`,
		sqlite: `SELECT k, SUM(x) FROM t WHERE x > 0 AND k < 6 GROUP BY k`},
	{name: "view_cols", weir: `CREATE VIEW v1 (a, b) AS SELECT k, x FROM t WHERE x > 0; SELECT a, MAX(b) FROM v1 GROUP BY a`,
		sqlite: `SELECT k, MAX(x) FROM t WHERE x > 0 GROUP BY k`},
	{name: "where_subquery_agg_filter", weir: `SELECT * FROM (SELECT g, COUNT(*) AS n FROM t GROUP BY g) s WHERE s.n > 600`, sqlite: `SELECT * FROM (SELECT g, COUNT(*) AS n FROM t GROUP BY g) s WHERE s.n > 600`},
	{name: "case_simple_null", weir: `SELECT k, CASE g WHEN 'a' THEN 1 WHEN NULL THEN 2 ELSE 3 END FROM t`, sqlite: `SELECT k, CASE g WHEN 'a' THEN 1 WHEN NULL THEN 2 ELSE 3 END FROM t`},
	{name: "bool_expr_select", weir: `SELECT k, x > 100, g = 'a', x IS NULL FROM t`, sqlite: `SELECT k, x > 100, g = 'a', x IS NULL FROM t`},
	{name: "groupby_ordinal_like", weir: `SELECT g AS gg, k, COUNT(*) FROM t GROUP BY gg, k`, sqlite: `SELECT g AS gg, k, COUNT(*) FROM t GROUP BY gg, k`},
	{name: "alias_shadow", weir: `SELECT x AS k, k AS x FROM t WHERE k = 3`, sqlite: `SELECT x AS k, k AS x FROM t WHERE k = 3`},
	{name: "groupby_alias_shadow", weir: `SELECT k % 2 AS k, COUNT(*) FROM t GROUP BY k`, sqlite: `SELECT k % 2 AS kk, COUNT(*) FROM t GROUP BY t.k`},
	{name: "order_desc_limit", weir: `SELECT k, x FROM t WHERE x IS NOT NULL ORDER BY x DESC, k LIMIT 5`, sqlite: `SELECT k, x FROM t WHERE x IS NOT NULL ORDER BY x DESC, k LIMIT 5`},
}

func TestReview(t *testing.T) {
	rows := genInput(4000, 42)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.json")
	var sb strings.Builder
	for _, r := range rows {
		b, _ := json.Marshal(r)
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
	for _, r := range rows {
		var m any
		if r.M != nil {
			f, _ := strconv.ParseFloat(*r.M, 64)
			m = f
		}
		mustExec(t, db, `INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)`, r.K, r.G, r.X, r.D, m, r.Ts)
	}
	ddl := fmt.Sprintf(`CREATE TABLE t (k BIGINT, g VARCHAR, x BIGINT, d DOUBLE, m DECIMAL(10, 2), ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
`, path)
	for _, c := range reviewCases {
		t.Run(c.name, func(t *testing.T) {
			want := runSQLite(t, db, c.sqlite)
			for _, p := range []int{1, 4} {
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

const reviewNexmarkDDL = `CREATE TABLE bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'nexmark.table' = 'bid', 'nexmark.events' = '20000', 'nexmark.events-per-second' = '100');
`

var reviewNexmarkCases = []oracleCase{
	{name: "channel_counts", weir: `SELECT channel, COUNT(*), COUNT(DISTINCT bidder), SUM(price), MIN(url), MAX(date_time) FROM bid GROUP BY channel`,
		sqlite: `SELECT channel, COUNT(*), COUNT(DISTINCT bidder), SUM(price), MIN(url), MAX(date_time) FROM bid GROUP BY channel`},
	{name: "price_bucket_window", weir: `SELECT price % 5 AS r, TUMBLE_START(date_time, INTERVAL '10' SECOND), COUNT(*), MAX(price) - MIN(price) FROM bid GROUP BY price % 5, TUMBLE(date_time, INTERVAL '10' SECOND)`,
		sqlite: `SELECT price % 5 AS r, date_time - (date_time % 10000) AS ws, COUNT(*), MAX(price) - MIN(price) FROM bid GROUP BY r, ws`},
	{name: "tvf_over_view_renamed", weir: `CREATE VIEW v AS SELECT auction % 10 AS a, price, date_time AS dt FROM bid WHERE price > 1000; SELECT a, window_start, COUNT(*), SUM(price) FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(dt), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, a`,
		sqlite: `SELECT auction % 10 AS a, date_time - date_time % 5000 AS ws, COUNT(*), SUM(price) FROM bid WHERE price > 1000 GROUP BY a, ws`},
	{name: "hop_then_updating", weir: `SELECT n, COUNT(*) FROM (SELECT auction, COUNT(*) AS n FROM bid GROUP BY auction, HOP(date_time, INTERVAL '5' SECOND, INTERVAL '10' SECOND)) s GROUP BY n`,
		sqlite: `WITH w AS (SELECT bid.*, (date_time - (date_time % 5000)) - nums.j * 5000 AS ws FROM bid JOIN nums ON nums.j < 2)
		  SELECT n, COUNT(*) FROM (SELECT auction, COUNT(*) AS n FROM w WHERE ws + 10000 > date_time GROUP BY auction, ws) s GROUP BY n`},
	{name: "session_bidder", weir: `SELECT bidder, SESSION_START(date_time, INTERVAL '10' SECOND), COUNT(*) FROM bid WHERE bidder % 50 = 3 GROUP BY bidder, SESSION(date_time, INTERVAL '10' SECOND)`,
		sqlite: `WITH f AS (SELECT * FROM bid WHERE bidder % 50 = 3),
		  a AS (SELECT f.*, CASE WHEN date_time - LAG(date_time) OVER (PARTITION BY bidder ORDER BY date_time) < 10000 THEN 0 ELSE 1 END AS brk FROM f),
		  b AS (SELECT a.*, SUM(brk) OVER (PARTITION BY bidder ORDER BY date_time ROWS UNBOUNDED PRECEDING) AS sid FROM a)
		  SELECT bidder, MIN(date_time), COUNT(*) FROM b GROUP BY bidder, sid`},
	{name: "distinct_expr_union", weir: `SELECT DISTINCT channel, price > 5000 FROM bid UNION ALL SELECT 'x', COUNT(*) > 0 FROM bid GROUP BY TUMBLE(date_time, INTERVAL '60' SECOND)`,
		sqlite: `SELECT DISTINCT channel, price > 5000 FROM bid UNION ALL SELECT 'x', COUNT(*) > 0 FROM bid GROUP BY date_time - date_time % 60000`},
}

func TestReviewNexmark(t *testing.T) {
	_, s, err := runWeir(t, reviewNexmarkDDL+"SELECT 1;", 1)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := s.Catalog().Table("bid")
	rows, err := nexmark.Rows(&def.Table, 0, 20000)
	if err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t)
	loadTable(t, db, "bid", def.Table.Schema, rows)
	mustExec(t, db, `CREATE TABLE nums (j INTEGER)`)
	for j := 0; j < 20; j++ {
		mustExec(t, db, `INSERT INTO nums VALUES (?)`, j)
	}
	for _, c := range reviewNexmarkCases {
		t.Run(c.name, func(t *testing.T) {
			want := runSQLite(t, db, c.sqlite)
			for _, p := range []int{1, 4} {
				got, _, err := runWeir(t, reviewNexmarkDDL+c.weir+";", p)
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

// TestReviewColumnNames: a projection that only renames columns must keep
// its names (it was dropped as an identity, so SELECT k AS kk ... WHERE and
// SELECT k, COUNT(*) ... GROUP BY k reported the input's names).
func TestReviewColumnNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.json")
	if err := os.WriteFile(path, []byte(`{"k":1,"s":"a","ts":"2026-01-01 00:00:01"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ddl := fmt.Sprintf(`CREATE TABLE t (k BIGINT, s VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector'='file','path'='%s','format'='json');`, path)
	for q, want := range map[string]string{
		`SELECT k AS kk, s AS ss, ts FROM t WHERE k > 0`:                         "kk,ss,ts",
		`SELECT k AS kk, s, ts FROM t`:                                           "kk,s,ts",
		`SELECT k, COUNT(*), SUM(k) FROM t GROUP BY k`:                           "k,COUNT(*),SUM(k)",
		`SELECT k AS a, COUNT(*) AS n FROM t GROUP BY k`:                         "a,n",
		`SELECT DISTINCT k AS kk, s AS ss FROM t`:                                "kk,ss",
		`SELECT * FROM (SELECT k AS kk, s AS ss, ts AS t2 FROM t WHERE k = 1) q`: "kk,ss,t2",
		`SELECT k AS a, window_start AS b, window_end AS c, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k`: "a,b,c,n",
	} {
		s := wsql.NewSession()
		rs := &oracleSink{}
		if err := s.ExecScript(context.Background(), ddl+q, rs); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var names []string
		for _, c := range rs.cols {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("%s: columns %s, want %s", q, got, want)
		}
	}
}
