package sql_test

// Randomized differential tests of OVER aggregates: the Top-N oracle's
// seeded input (unique timestamps, ties and NULLs in x, partitions of
// every size), run by Weir at parallelism 1 and 3 and by SQLite (whose
// window functions take the same frames), final tables compared row for
// row. Each case orders totally (a timestamp or an id last), except the
// RANGE cases, whose peers share their results in both engines.

import (
	"strings"
	"testing"
)

// overAll applies each aggregate over the window w, in both engines' syntax.
func overAll(w string, args ...string) string {
	var calls []string
	for _, a := range args {
		calls = append(calls, a+" OVER ("+w+")")
	}
	return strings.Join(calls, ", ")
}

var overOracleCases = func() []oracleCase {
	aggs := []string{"SUM(x)", "AVG(x)", "MIN(x)", "MAX(x)", "COUNT(x)", "COUNT(*)"}
	same := func(name, q string) oracleCase { return oracleCase{name: name, weir: q, sqlite: q} }
	return []oracleCase{
		// event time (append-only): rows wait for the watermark
		same("event_time_rows", `SELECT id, p, x, `+overAll("PARTITION BY p ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW", aggs...)+` FROM t`),
		same("event_time_rows_zero", `SELECT id, x, SUM(x) OVER (PARTITION BY p ORDER BY ts ROWS BETWEEN CURRENT ROW AND CURRENT ROW) FROM t`),
		same("event_time_unbounded_global", `SELECT id, `+overAll("ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", aggs...)+` FROM t`),
		same("event_time_default_range", `SELECT id, p, `+overAll("PARTITION BY p ORDER BY ts", "SUM(x)", "MAX(p)", "COUNT(*)")+` FROM t`),
		same("event_time_computed_keys_and_args", `SELECT id, SUM(x * 2 + 1) OVER (PARTITION BY id % 4 ORDER BY ts ROWS 5 PRECEDING) AS s,
		  MAX(CASE WHEN x > 4 THEN p END) OVER (PARTITION BY id % 4 ORDER BY ts ROWS 5 PRECEDING) AS m FROM t WHERE id % 3 <> 1`),
		same("event_time_filter_above", `SELECT * FROM (SELECT id, p, AVG(x) OVER (PARTITION BY p ORDER BY ts ROWS 2 PRECEDING) AS a FROM t) WHERE a > 4.5`),
		// any other order: updating, every row kept
		same("value_order_rows", `SELECT id, p, x, `+overAll("PARTITION BY p ORDER BY x DESC, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW", aggs...)+` FROM t`),
		same("value_order_range_peers", `SELECT id, p, x, `+overAll("PARTITION BY p ORDER BY x", "SUM(x)", "COUNT(*)", "MIN(id)")+` FROM t`),
		same("value_order_unbounded_rows", `SELECT id, `+overAll("PARTITION BY p ORDER BY x, ts DESC ROWS UNBOUNDED PRECEDING", "SUM(x)", "MAX(id)")+` FROM t`),
		// over updating inputs
		same("over_group_by", `SELECT p, g, n, `+overAll("PARTITION BY p ORDER BY g ROWS 1 PRECEDING", "SUM(n)", "MIN(n)")+`
		  FROM (SELECT p, x % 3 AS g, COUNT(*) AS n FROM t GROUP BY p, x % 3)`),
		same("over_group_by_range", `SELECT g, n, SUM(n) OVER (ORDER BY n DESC) FROM (SELECT x AS g, COUNT(*) AS n FROM t GROUP BY x)`),
		same("over_dedup_nexmark_q6_shape", `SELECT p, x, AVG(x) OVER (PARTITION BY p ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS a
		  FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p, id % 7 ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1)`),
		same("over_top_n_unbounded", `SELECT id, p, x, COUNT(*) OVER (PARTITION BY p ORDER BY ts ROWS UNBOUNDED PRECEDING) AS c
		  FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 4)`),
		// an event-time OVER keeps the event time: a window over its result
		// (re-partitioned, so the watermark crosses an exchange)
		{name: "window_over_event_time_over",
			weir: `SELECT TUMBLE_START(ts, INTERVAL '10' SECOND) AS w, g, SUM(s), COUNT(*) FROM (
			  SELECT x % 3 AS g, ts, SUM(x) OVER (PARTITION BY p ORDER BY ts ROWS 3 PRECEDING) AS s FROM t)
			  GROUP BY g, TUMBLE(ts, INTERVAL '10' SECOND)`,
			sqlite: `SELECT ts - ts % 10000 AS w, g, SUM(s), COUNT(*) FROM (
			  SELECT x % 3 AS g, ts, SUM(x) OVER (PARTITION BY p ORDER BY ts ROWS 3 PRECEDING) AS s FROM t)
			  GROUP BY w, g`},
		// an OVER result aggregated again
		same("aggregate_over_over", `SELECT p, SUM(s), COUNT(*), MAX(s) FROM (SELECT p, SUM(x) OVER (PARTITION BY p ORDER BY x, id ROWS 3 PRECEDING) AS s FROM t) GROUP BY p`),
	}
}()

func TestOverOracle(t *testing.T) {
	runTnOracle(t, []int64{3, 4}, func(seed int64) int { return 1200 * int(seed-2) }, overOracleCases)
}
