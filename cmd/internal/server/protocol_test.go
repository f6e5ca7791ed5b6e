package server

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// TestStatementPages: the POST answer has no rows; pages follow nextUri;
// a repeated GET returns the same page; an older page is gone.
func TestStatementPages(t *testing.T) {
	_, hs := startServer(t, Config{PageBytes: 512})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE seq (id BIGINT) WITH ('connector'='datagen', 'number-of-rows'='2000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)

	first := c.post("SELECT id FROM seq")
	if bytes.Contains(first.raw, []byte(`"data"`)) || first.NextURI == "" || first.ID == "" || first.InfoURI == "" {
		t.Fatalf("POST answer: %s", first.raw)
	}
	if first.Stats.State != stateQueued {
		t.Fatalf("POST state %s", first.Stats.State)
	}
	var ids []string
	var pages int
	var sawColumns bool
	r := first
	for r.NextURI != "" {
		uri := r.NextURI
		r = c.get(uri)
		again := c.get(uri)
		if !bytes.Equal(r.raw, again.raw) {
			t.Fatalf("a repeated GET of %s returned a different page:\n%s\n%s", uri, r.raw, again.raw)
		}
		if r.ID != first.ID {
			t.Fatalf("page id %q, want %q", r.ID, first.ID)
		}
		if len(r.Data) > 0 && !sawColumns && r.Columns == nil {
			t.Fatalf("rows before columns: %s", r.raw)
		}
		sawColumns = sawColumns || r.Columns != nil
		for _, row := range r.Data {
			ids = append(ids, str(row[0]))
		}
		if len(r.Data) > 0 {
			pages++
			if len(r.raw) > 512+chunkBytes+2048 {
				t.Fatalf("page of %d bytes with PageBytes 512", len(r.raw))
			}
		}
		if r.NextURI != "" {
			// the page before the last is gone
			if status, _, _ := c.do(c.request("GET", uri[:strings.LastIndex(uri, "/")]+"/99", "", "")); status != http.StatusGone {
				t.Fatalf("GET of a page never served: %d, want 410", status)
			}
		}
	}
	if r.Stats.State != stateFinished || r.Error != nil {
		t.Fatalf("last page: %s", r.raw)
	}
	if len(ids) != 2000 {
		t.Fatalf("%d rows, want 2000", len(ids))
	}
	for i, id := range ids {
		if id != fmt.Sprint(i+1) {
			t.Fatalf("row %d is %s", i, id)
		}
	}
	if pages < 2 {
		t.Fatalf("2000 rows in %d page(s) with PageBytes 512", pages)
	}
}

// TestTypes: Weir's types as Trino type signatures and values.
func TestTypes(t *testing.T) {
	_, hs := startServer(t, Config{})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE one (v5 VARCHAR(5)) WITH ('connector'='datagen', 'number-of-rows'='1',
		'fields.v5.kind'='sequence', 'fields.v5.start'='42')`)
	pages := c.query(`SELECT CAST(7 AS INT) AS i, CAST(8 AS BIGINT) AS b, CAST(0.5 AS DOUBLE) AS d,
		CAST('12.5' AS DECIMAL(10,2)) AS dc, 'x' AS v, v5, TRUE AS t,
		CAST('2026-01-02 03:04:05.678' AS TIMESTAMP(3)) AS ts, NULL AS n, CAST(NULL AS BIGINT) AS nb
		FROM one`)
	var cols []wireColumn
	var data [][]any
	for _, p := range pages {
		if p.Error != nil {
			t.Fatal(p.Error.Message)
		}
		if p.Columns != nil {
			cols = p.Columns
		}
		data = append(data, p.Data...)
	}
	want := []struct{ name, typ, raw, args, value string }{
		{"i", "integer", "integer", "", "7"},
		{"b", "bigint", "bigint", "", "8"},
		{"d", "double", "double", "", "0.5"},
		{"dc", "decimal(10,2)", "decimal", "10,2", "12.50"},
		{"v", "varchar", "varchar", "2147483647", "x"},
		{"v5", "varchar(5)", "varchar", "5", "42"},
		{"t", "boolean", "boolean", "", "true"},
		{"ts", "timestamp(3)", "timestamp", "3", "2026-01-02 03:04:05.678"},
		{"n", "unknown", "unknown", "", "NULL"},
		{"nb", "bigint", "bigint", "", "NULL"},
	}
	if len(cols) != len(want) || len(data) != 1 {
		t.Fatalf("columns %+v rows %v", cols, data)
	}
	for i, w := range want {
		c := cols[i]
		var args []string
		for _, a := range c.TypeSignature.Arguments {
			if a.Kind != "LONG" {
				t.Errorf("%s: argument kind %q", c.Name, a.Kind)
			}
			args = append(args, fmt.Sprint(a.Value))
		}
		got := fmt.Sprintf("%s %s %s %s %s", c.Name, c.Type, c.TypeSignature.RawType, strings.Join(args, ","), str(data[0][i]))
		if exp := fmt.Sprintf("%s %s %s %s %s", w.name, w.typ, w.raw, w.args, w.value); got != exp {
			t.Errorf("column %d: got %q, want %q", i, got, exp)
		}
	}
	if _, ok := data[0][6].(bool); !ok {
		t.Errorf("BOOLEAN value %T, want a JSON boolean", data[0][6])
	}
}

func TestAppendValue(t *testing.T) {
	for _, c := range []struct {
		v    types.Value
		want string
	}{
		{types.DoubleValue(math.NaN()), `"NaN"`},
		{types.DoubleValue(math.Inf(1)), `"Infinity"`},
		{types.DoubleValue(math.Inf(-1)), `"-Infinity"`},
		{types.DoubleValue(1e21), `1e+21`},
		{types.DecimalValue(-5, 2), `"-0.05"`},
		{types.StringValue("a\"b\\\n\x01é"), `"a\"b\\\n\u0001é"`},
		{types.TimestampValue(0), `"1970-01-01 00:00:00.000"`},
		{types.NullValue, `null`},
		{types.BoolValue(false), `false`},
	} {
		if got := string(appendValue(nil, c.v)); got != c.want {
			t.Errorf("%v: %s, want %s", c.v, got, c.want)
		}
	}
	k := types.UpdateBefore
	if got := string(appendRow(nil, types.Row{types.BigIntValue(1)}, true, k)); got != `["-U",1]` {
		t.Errorf("changelog row %s", got)
	}
}

// TestErrors: a syntax error is answered at once, a semantic error on the
// first page; both with line and column.
func TestErrors(t *testing.T) {
	_, hs := startServer(t, Config{})
	c := &client{t: t, base: hs.URL, user: "alice"}

	r := c.post("SELECT 1;\nSELECT price\n  FORM bid")
	if r.Error == nil || r.NextURI != "" || r.Stats.State != stateFailed {
		t.Fatalf("two statements: %s", r.raw)
	}
	r = c.post("SELECT price\n  FORM bid")
	if r.Error == nil || r.NextURI != "" || r.Stats.State != stateFailed {
		t.Fatalf("syntax error: %s", r.raw)
	}
	e := r.Error
	if e.ErrorName != "SYNTAX_ERROR" || e.ErrorType != "USER_ERROR" || e.ErrorCode != 1 ||
		e.ErrorLocation == nil || e.ErrorLocation.LineNumber != 2 || e.ErrorLocation.ColumnNumber != 8 {
		t.Fatalf("syntax error: %+v %+v", e, e.ErrorLocation)
	}

	c.rows(`CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='10')`)
	e = c.mustError("SELECT auction,\n       prize\nFROM bid")
	if e.ErrorName != "GENERIC_USER_ERROR" || e.ErrorLocation == nil || e.ErrorLocation.LineNumber != 2 || e.ErrorLocation.ColumnNumber != 8 ||
		!strings.Contains(e.Message, "prize") {
		t.Fatalf("semantic error: %+v %+v", e, e.ErrorLocation)
	}
	e = c.mustError("SELECT * FROM nosuch")
	if e.ErrorLocation == nil || e.ErrorLocation.LineNumber != 1 || !strings.Contains(e.Message, "nosuch") {
		t.Fatalf("unknown table: %+v", e)
	}
}

// TestChangelog: an updating query's rows carry their kind first.
func TestChangelog(t *testing.T) {
	_, hs := startServer(t, Config{})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE bid (auction BIGINT, channel VARCHAR) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='20000')`)
	names, rows := c.rows("SELECT channel, COUNT(*) AS n FROM bid GROUP BY channel")
	if strings.Join(names, ",") != "_op,channel,n" {
		t.Fatalf("columns %v", names)
	}
	// replay the changelog: the final counts must add up to the bids
	counts := map[string]int64{}
	kinds := map[string]bool{}
	for _, r := range rows {
		op, ch := str(r[0]), str(r[1])
		var n int64
		fmt.Sscan(str(r[2]), &n)
		kinds[op] = true
		switch op {
		case "+I", "+U":
			counts[ch] = n
		case "-U", "-D":
			delete(counts, ch)
		default:
			t.Fatalf("row kind %q", op)
		}
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	_, bids := c.rows("SELECT auction FROM bid")
	if total != int64(len(bids)) || !kinds["+I"] || !kinds["-U"] || !kinds["+U"] {
		t.Fatalf("changelog adds up to %d of %d bids; kinds %v", total, len(bids), kinds)
	}
}

// TestStreamingBackPressureAndCancel: an unbounded query keeps producing
// pages; the rows waiting for the client stay under the buffer bound (the
// query is paused, not buffered without end); DELETE stops it and frees it.
func TestStreamingBackPressureAndCancel(t *testing.T) {
	const buffer = 32 << 10
	s, hs := startServer(t, Config{ResultBufferBytes: buffer, PageBytes: 8 << 10})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE gen (id BIGINT, v VARCHAR(20)) WITH ('connector'='datagen', 'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	r := c.post("SELECT id, v FROM gen")
	q := s.queries.get(r.ID)
	if q == nil {
		t.Fatal("query not registered")
	}
	var rows int
	for i := 0; i < 5; i++ {
		r = c.get(r.NextURI)
		if r.Error != nil || r.NextURI == "" {
			t.Fatalf("streaming page %d: %s", i, r.raw)
		}
		rows += len(r.Data)
	}
	if rows == 0 {
		t.Fatal("no rows in 5 pages")
	}
	// the producer fills the buffer, then waits for the client
	waitFor(t, 20*time.Second, "the result buffer to fill", func() bool { return q.info().BufferedBytes >= buffer })
	for i := 0; i < 20; i++ {
		if in := q.info(); in.BufferedBytes > buffer+2*chunkBytes {
			t.Fatalf("%d bytes buffered with a bound of %d", in.BufferedBytes, buffer)
		}
	}
	produced := q.info().RowsProduced
	r = c.get(r.NextURI) // a page makes room
	waitFor(t, 20*time.Second, "the producer to resume", func() bool { return q.info().RowsProduced > produced })

	status, body, _ := c.do(c.request("DELETE", r.NextURI, "", ""))
	if status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	if status, _, _ := c.do(c.request("GET", r.NextURI, "", "")); status != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", status)
	}
	select {
	case <-q.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled query's statement did not return")
	}
	waitFor(t, 10*time.Second, "no statement running", func() bool { return s.executing.Load() == 0 })
	var list []queryInfo
	c.getJSON("/v1/query", &list)
	for _, in := range list {
		if in.QueryID == q.id {
			t.Fatalf("cancelled query still listed: %+v", in)
		}
	}
}

// TestExpiry: a query nobody polls is cancelled and forgotten.
func TestExpiry(t *testing.T) {
	s, hs := startServer(t, Config{QueryExpiry: 300 * time.Millisecond})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen')`)
	r := c.post("SELECT id FROM gen")
	q := s.queries.get(r.ID)
	if q == nil {
		t.Fatal("query not registered")
	}
	select {
	case <-q.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the abandoned query was not cancelled")
	}
	waitFor(t, 10*time.Second, "the query to be forgotten", func() bool { return s.queries.get(r.ID) == nil })
	if status, _, _ := c.do(c.request("GET", r.NextURI, "", "")); status != http.StatusNotFound {
		t.Fatalf("GET of an expired query: %d", status)
	}
	if q.info().Error == "" || !strings.Contains(q.info().Error, "abandoned") {
		t.Fatalf("expired query's error: %q", q.info().Error)
	}
}

// TestCatalogSharedAndSessions: DDL from one client is visible to all;
// SET answers X-Trino-Set-Session; X-Trino-Session applies settings.
func TestCatalogSharedAndSessions(t *testing.T) {
	_, hs := startServer(t, Config{})
	alice := &client{t: t, base: hs.URL, user: "alice"}
	bob := &client{t: t, base: hs.URL, user: "bob"}
	pages := alice.query(`CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='100')`)
	last := pages[len(pages)-1]
	if last.UpdateType != "CREATE TABLE" || len(last.Warnings) != 1 || last.Warnings[0].Message != "Table bid created." {
		t.Fatalf("CREATE TABLE: %s", last.raw)
	}
	alice.rows("CREATE VIEW big AS SELECT auction, price FROM bid WHERE price > 1000")
	if _, rows := bob.rows("SELECT COUNT(*) FROM big"); len(rows) != 1 {
		t.Fatalf("bob sees %v", rows)
	}
	if e := bob.mustError(`CREATE TABLE bid (x BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid')`); !strings.Contains(e.Message, "already exists") {
		t.Fatalf("second CREATE: %+v", e)
	}

	pages = alice.query("SET parallelism = 2")
	last = pages[len(pages)-1]
	if got := last.header.Values("X-Trino-Set-Session"); strings.Join(got, ";") != "parallelism=2" {
		t.Fatalf("SET: X-Trino-Set-Session %q", got)
	}
	alice.props = []string{"parallelism=3"}
	_, rows := alice.rows("SET")
	found := false
	for _, r := range rows {
		if str(r[0]) == "parallelism" {
			found = str(r[1]) == "3"
		}
	}
	if !found {
		t.Fatalf("X-Trino-Session parallelism=3 not applied: %v", rows)
	}
	_, rows = bob.rows("SET")
	for _, r := range rows {
		if str(r[0]) == "parallelism" && str(r[1]) != "1" {
			t.Fatalf("bob's session has alice's settings: %v", rows)
		}
	}
	alice.props = []string{"nosuch=1"}
	if e := alice.mustError("SELECT 1"); !strings.Contains(e.Message, "unknown setting") {
		t.Fatalf("unknown session property: %+v", e)
	}
}

// TestLimits: statement size, running statements, Host header.
func TestLimits(t *testing.T) {
	s, hs := startServer(t, Config{MaxBodyBytes: 100, MaxRunningQueries: 1})
	c := &client{t: t, base: hs.URL, user: "alice"}
	status, body, _ := c.do(c.request("POST", hs.URL+"/v1/statement", "SELECT '"+strings.Repeat("x", 200)+"'", "alice"))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("long statement: %d %s", status, body)
	}
	status, _, _ = c.do(c.request("POST", hs.URL+"/v1/statement", "SELECT 1", ""))
	if status != http.StatusBadRequest {
		t.Fatalf("POST without a user: %d", status)
	}
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen')`)
	r := c.post("SELECT id FROM gen")
	if r.Error != nil {
		t.Fatal(r.Error.Message)
	}
	if full := c.post("SELECT 1"); full.Error == nil || full.Error.ErrorName != nameQueryQueueFull {
		t.Fatalf("second statement with MaxRunningQueries 1: %s", full.raw)
	}
	c.do(c.request("DELETE", r.NextURI, "", ""))
	waitFor(t, 30*time.Second, "the cancelled query to stop", func() bool { return s.executing.Load() == 0 })
	if _, rows := c.rows("SELECT 1"); len(rows) != 1 {
		t.Fatal("no room after the cancel")
	}

	req := c.request("GET", hs.URL+"/v1/info", "", "")
	req.Host = "evil.example:8080"
	if status, _, _ := c.do(req); status != http.StatusForbidden {
		t.Fatalf("foreign Host without auth: %d", status)
	}
	req = c.request("POST", hs.URL+"/v1/statement", "SELECT 1", "alice")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if status, _, _ := c.do(req); status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", status)
	}
}

func TestInfo(t *testing.T) {
	_, hs := startServer(t, Config{Version: "weir test"})
	c := &client{t: t, base: hs.URL}
	var info struct {
		NodeVersion struct{ Version string } `json:"nodeVersion"`
		Coordinator bool                     `json:"coordinator"`
		Starting    bool                     `json:"starting"`
		Uptime      string                   `json:"uptime"`
	}
	if c.getJSON("/v1/info", &info) != http.StatusOK || info.NodeVersion.Version != "weir test" || !info.Coordinator ||
		info.Starting || !strings.HasSuffix(info.Uptime, "s") {
		t.Fatalf("info %+v", info)
	}
	if status, _, _ := c.do(c.request("HEAD", hs.URL+"/v1/statement", "", "")); status != http.StatusOK {
		t.Fatalf("HEAD /v1/statement: %d", status)
	}
}

// TestPollOwnerWithoutAuth: without authentication, a poll naming another
// user is refused; one naming nobody (the Go driver) holds the nextUri as
// its capability.
func TestPollOwnerWithoutAuth(t *testing.T) {
	_, hs := startServer(t, Config{})
	c := &client{t: t, base: hs.URL, user: "alice"}
	r := c.post("SELECT 1")
	if status, _, _ := c.do(c.request("GET", r.NextURI, "", "bob")); status != http.StatusForbidden {
		t.Fatalf("bob polls alice's query: %d", status)
	}
	if status, _, _ := c.do(c.request("DELETE", hs.URL+"/v1/query/"+r.ID, "", "bob")); status != http.StatusForbidden {
		t.Fatalf("bob cancels alice's query: %d", status)
	}
	if status, _, _ := c.do(c.request("GET", r.NextURI, "", "alice")); status != http.StatusOK {
		t.Fatalf("alice polls her query: %d", status)
	}
	wrongSlug := strings.Replace(r.NextURI, "/executing/"+r.ID+"/", "/executing/"+r.ID+"/x", 1)
	if status, _, _ := c.do(c.request("GET", wrongSlug, "", "")); status != http.StatusNotFound {
		t.Fatalf("a nextUri with the wrong secret: %d", status)
	}
}

func TestErrorOf(t *testing.T) {
	for _, c := range []struct {
		err        error
		name, typ  string
		code, line int
	}{
		{&sql.SQLError{Line: 3, Col: 4, Msg: "x", Kind: sql.ErrSyntax}, "SYNTAX_ERROR", errorTypeUser, 1, 3},
		{&sql.SQLError{Line: 1, Col: 1, Msg: "x", Kind: sql.ErrUnsupported}, "NOT_SUPPORTED", errorTypeUser, 13, 1},
		{&sql.SQLError{Line: 1, Col: 1, Msg: "x", Kind: sql.ErrSemantic}, "GENERIC_USER_ERROR", errorTypeUser, 0, 1},
		{fmt.Errorf("%w: boom", sql.ErrInternal), nameGenericInternal, errorTypeInternal, codeGenericInternal, 0},
		{fmt.Errorf("Calc#2: %w", expr.ErrOverflow), "NUMERIC_VALUE_OUT_OF_RANGE", errorTypeUser, 19, 0},
		{errors.New("dial tcp: connection refused"), "GENERIC_EXTERNAL", errorTypeExternal, codeGenericExternal, 0},
	} {
		e := errorOf(c.err)
		line := 0
		if e.ErrorLocation != nil {
			line = e.ErrorLocation.LineNumber
		}
		if e.ErrorName != c.name || e.ErrorType != c.typ || e.ErrorCode != c.code || line != c.line || e.Message != c.err.Error() {
			t.Errorf("%v: %+v", c.err, e)
		}
	}
}
