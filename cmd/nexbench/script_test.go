package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirsql/weir/connectors/nexmark"
	wsql "github.com/weirsql/weir/sql"
)

const testQuery = `-- a comment that stays
CREATE TABLE bid (
    auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'nexmark.table' = 'bid',
    'nexmark.events' = '20000',
    'nexmark.events-per-second' = "100"
);

-- the query
SELECT auction, auction, price FROM bid WHERE price > 10;
`

func TestPrepare(t *testing.T) {
	set := []option{{"nexmark.events", "12345"}, {"nexmark.rate", "0"}, {"nexmark.events-per-second", "1000"}}
	b, err := prepare("qt", testQuery, set, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-- a comment that stays\n",
		"'nexmark.events' = '12345',\n",
		"'nexmark.events-per-second' = '1000', 'nexmark.rate' = '0'\n);",
		"-- the query\n-- nexbench:",
		"CREATE TABLE nexbench_sink (\n    `auction` BIGINT,\n    `auction_2` BIGINT,\n    `price` BIGINT\n) WITH ('connector' = 'blackhole');\n" +
			"INSERT INTO nexbench_sink\nSELECT auction, auction, price FROM bid WHERE price > 10;\n",
	} {
		if !strings.Contains(b.text, want) {
			t.Errorf("script lacks %q:\n%s", want, b.text)
		}
	}
	if strings.Contains(b.text, "20000") || strings.Contains(b.text, `"100"`) {
		t.Errorf("old values left:\n%s", b.text)
	}
	if len(b.tables) != 1 || b.tables[0] != "bid" || len(b.sources) != 1 || b.sources[0] != (source{"bid", nexmark.BidKind}) {
		t.Errorf("tables %q, sources %v", b.tables, b.sources)
	}
	if !strings.Contains(b.explain, "Sink#") || !strings.Contains(b.explain, "parallelism=2") || !strings.Contains(b.explain, "blackhole") {
		t.Errorf("explain:\n%s", b.explain)
	}
	// The script is one more statement (the sink) and ends with the INSERT.
	stmts, err := wsql.Parse(b.text)
	if err != nil || len(stmts) != 3 || !strings.HasPrefix(stmts[2].Text, "INSERT INTO nexbench_sink") {
		t.Fatalf("%d statements, %v", len(stmts), err)
	}
}

func TestPrepareErrors(t *testing.T) {
	set := []option{{"nexmark.events", "100"}}
	bid := "CREATE TABLE bid (auction BIGINT) WITH ('connector' = 'nexmark', 'nexmark.table' = 'bid');\n"
	for _, tc := range []struct{ text, want string }{
		{bid + "CREATE TABLE o (auction BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO o SELECT auction FROM bid;",
			"qe: line 3: the last statement must be the query (SELECT or WITH), not \"INSERT INTO o\""},
		{bid + "SELECT 1;\nSELECT auction FROM bid;", "qe: line 2: only CREATE, SET, RESET and DROP may come before the query"},
		{"CREATE TABLE o (auction BIGINT) WITH ('connector' = 'datagen');\nSELECT auction FROM o;", "no table with 'connector' = 'nexmark'"},
		{bid + "CREATE TABLE nexbench_sink (a BIGINT) WITH ('connector' = 'blackhole');\nSELECT auction FROM bid;", "the benchmark's sink"},
		{bid + "SELECT nosuch FROM bid;", "nosuch"},
		{bid + "SELECT auction FROM bid", ""}, // fine: the check below is for a ';'-less query
	} {
		_, err := prepare("qe", tc.text, set, 1)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.text, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.text, err, tc.want)
		}
	}
}

// Every query file of the suite, including ones added later, becomes a
// benchmark script. (q13's side input path is relative to the repository
// root, where nexbench runs.)
func TestPrepareSuite(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	names, paths, err := queryFiles("testdata/nexmark")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 || names[0] != "q0" || names[1] != "q1" || names[2] != "q2" {
		t.Fatalf("query files %q", names)
	}
	for _, q := range names {
		text, err := os.ReadFile(paths[q])
		if err != nil {
			t.Fatal(err)
		}
		b, err := prepare(q, string(text), []option{{"nexmark.events", "777"}, {"nexmark.rate", "0"}}, 1)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if n := strings.Count(b.text, "'nexmark.events' = '777'"); n != len(b.tables) || n == 0 {
			t.Errorf("%s: %d tables, events set %d times", q, len(b.tables), n)
		}
		if len(b.sources) < len(b.tables) {
			t.Errorf("%s: %d nexmark sources for %d tables", q, len(b.sources), len(b.tables))
		}
		if q == "q7" && (len(b.sources) != 2 || b.sources[0].kind != nexmark.BidKind || b.sources[1].kind != nexmark.BidKind) {
			t.Errorf("q7 reads bid twice: sources %v", b.sources)
		}
	}
}
