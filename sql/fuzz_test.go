package sql_test

import (
	"context"
	"errors"
	"testing"

	_ "github.com/weirsql/weir/connectors/all"
	wsql "github.com/weirsql/weir/sql"
)

// FuzzExplain feeds arbitrary statements through parse, rewrite, bind and
// plan (EXPLAIN runs no job): every input must give a plan or an error,
// never a panic or a hang. Run longer with
// go test ./sql -run '^$' -fuzz FuzzExplain -fuzztime 60s.
func FuzzExplain(f *testing.F) {
	for _, s := range []string{
		"SELECT 1 + 1",
		"SELECT auction, COUNT(*) FROM bid GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND)",
		"SELECT window_start, SUM(price) FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end",
		"WITH x AS (SELECT auction, price FROM bid WHERE price > 10) SELECT auction, MAX(price) FROM x GROUP BY auction HAVING COUNT(*) > 1",
		"SELECT CASE WHEN price > 1 THEN 'a' ELSE NULL END, CAST(price AS DECIMAL(10,2)) FROM bid",
		"SELECT DISTINCT channel FROM bid UNION ALL SELECT url FROM bid",
		"SELECT SESSION_START(date_time, INTERVAL '5' SECOND), COUNT(DISTINCT bidder) FROM bid GROUP BY SESSION(date_time, INTERVAL '5' SECOND)",
		"SELECT a.auction, b.price FROM bid a JOIN bid b ON a.auction = b.auction AND b.date_time BETWEEN a.date_time - INTERVAL '1' SECOND AND a.date_time",
		"SELECT * FROM bid a FULL OUTER JOIN bid b ON a.bidder <=> b.bidder + 1 WHERE a.price > b.price",
		"SELECT a.url, b.channel FROM bid a LEFT JOIN bid FOR SYSTEM_TIME AS OF a.date_time AS b ON a.auction = b.auction",
		"SELECT x.auction FROM (SELECT auction, window_start, window_end FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND)) GROUP BY auction, window_start, window_end) x RIGHT JOIN (SELECT auction, window_start, window_end FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND))) y ON x.auction = y.auction AND x.window_end = y.window_end",
		"SELECT COUNT(*) FROM bid a, bid b, bid c WHERE a.auction = b.bidder AND c.price < a.price",
	} {
		f.Add(s)
	}
	const ddl = `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
  WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='10');`
	f.Fuzz(func(t *testing.T, q string) {
		s := wsql.NewSession()
		if err := s.ExecScript(context.Background(), ddl, discard{}); err != nil {
			t.Fatal(err)
		}
		stmts, err := wsql.Parse(q)
		if err != nil {
			return
		}
		for _, st := range stmts {
			if st.Node == nil {
				continue
			}
			// only EXPLAIN the statement: nothing runs
			ex, err := wsql.Parse("EXPLAIN " + st.Text)
			if err != nil || len(ex) != 1 {
				continue
			}
			// user errors are fine; a recovered panic is a Weir bug
			if err := s.Exec(context.Background(), ex[0], discard{}); errors.Is(err, wsql.ErrInternal) {
				t.Fatalf("%q: %v", st.Text, err)
			}
		}
	})
}
