package main

// Tests of 'weir serve' as a real process, driven by the Trino Go driver
// (github.com/trinodb/trino-go-client v1.1.0) through database/sql, as a
// user's program would: DDL, a bounded query compared with its expected
// rows, a streaming query read and cancelled (and the server freeing it), an
// abandoned query expiring, an SQL error with its position, concurrent
// sessions, authentication and ownership, and a SIGKILL of the server
// whose INSERT job resumes from its checkpoint at the next start.

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"
)

var listeningRE = regexp.MustCompile(`listening on (https?://[0-9.:\[\]]+)`)

// serveProc is a running 'weir serve'.
type serveProc struct {
	*crashJob
	url string // http://127.0.0.1:PORT
}

// startServe starts 'weir serve --listen 127.0.0.1:0 args...' and waits
// until it says where it listens.
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	j := startCrashJob(t, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := listeningRE.FindStringSubmatch(j.errb.String()); m != nil {
			return &serveProc{crashJob: j, url: m[1]}
		}
		if j.exited() || time.Now().After(deadline) {
			t.Fatalf("weir serve did not start; stderr:\n%s", j.errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dsn is the driver's data source name for user, as the README shows it.
func (p *serveProc) dsn(user, extra string) string {
	return "http://" + user + "@" + strings.TrimPrefix(p.url, "http://") + "?catalog=weir&schema=default" + extra
}

func (p *serveProc) open(t *testing.T, user, extra string) *dbsql.DB {
	t.Helper()
	db, err := dbsql.Open("trino", p.dsn(user, extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// getJSON GETs a JSON endpoint with an optional bearer token.
func (p *serveProc) getJSON(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func (p *serveProc) do(t *testing.T, method, url, token, user, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Trino-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// queryIDs lists the ids of the queries the server holds.
func (p *serveProc) queryIDs(t *testing.T, token string) map[string]string {
	t.Helper()
	var list []struct{ QueryID, State string }
	if status := p.getJSON(t, "/v1/query", token, &list); status != http.StatusOK {
		t.Fatalf("GET /v1/query: %d", status)
	}
	out := map[string]string{}
	for _, q := range list {
		out[q.QueryID] = q.State
	}
	return out
}

// metric reads one sample of /metrics.
func (p *serveProc) metric(t *testing.T, token, name string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

func pollUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const bidTable = `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP(3), extra VARCHAR, WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='50000')`

// TestServeTrinoDriver drives a real server with the Go Trino driver.
func TestServeTrinoDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildWeir(t)
	srv := startServe(t, bin) // queries expire after 5 minutes: a cancel is the driver's DELETE
	db := srv.open(t, "alice", "")
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	// DDL, visible to every session
	if _, err := db.Exec(bidTable); err != nil {
		t.Fatalf("CREATE TABLE: %v", err)
	}
	if _, err := db.Exec(`CREATE TABLE forever (auction BIGINT, price BIGINT, channel VARCHAR)
		WITH ('connector'='nexmark', 'nexmark.table'='bid')`); err != nil {
		t.Fatalf("CREATE TABLE: %v", err)
	}

	t.Run("bounded query", func(t *testing.T) {
		rows, err := db.Query(`SELECT TUMBLE_START(date_time, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
			FROM bid GROUP BY TUMBLE(date_time, INTERVAL '1' SECOND)`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		types, _ := rows.ColumnTypes()
		if strings.Join(cols, ",") != "ws,n" || types[0].DatabaseTypeName() != "TIMESTAMP" || types[1].DatabaseTypeName() != "BIGINT" {
			t.Fatalf("columns %v %s %s", cols, types[0].DatabaseTypeName(), types[1].DatabaseTypeName())
		}
		var got []string
		for rows.Next() {
			var ws time.Time
			var n int64
			if err := rows.Scan(&ws, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %d", ws.Format("2006-01-02 15:04:05.000"), n))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		// 50,000 events at 10,000 events/s of event time: 5 one-second
		// windows of 9,200 bids each (46 of every 50 events are bids)
		want := []string{"2026-01-01 00:00:00.000 9200", "2026-01-01 00:00:01.000 9200", "2026-01-01 00:00:02.000 9200",
			"2026-01-01 00:00:03.000 9200", "2026-01-01 00:00:04.000 9200"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("windows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("types", func(t *testing.T) {
		var (
			d  string
			v  string
			b  bool
			f  float64
			i  int32
			nb dbsql.NullInt64
		)
		err := db.QueryRow(`SELECT CAST('12.5' AS DECIMAL(10,2)), 'héllo', 1 < 2, CAST(0.25 AS DOUBLE), CAST(7 AS INT), CAST(NULL AS BIGINT)`).
			Scan(&d, &v, &b, &f, &i, &nb)
		if err != nil {
			t.Fatal(err)
		}
		if d != "12.50" || v != "héllo" || !b || f != 0.25 || i != 7 || nb.Valid {
			t.Fatalf("got %q %q %v %v %v %v", d, v, b, f, i, nb)
		}
	})

	t.Run("changelog", func(t *testing.T) {
		rows, err := db.Query("SELECT channel, COUNT(*) AS n FROM bid GROUP BY channel")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		if strings.Join(cols, ",") != "_op,channel,n" {
			t.Fatalf("columns %v", cols)
		}
		kinds := map[string]int{}
		for rows.Next() {
			var op, ch string
			var n int64
			if err := rows.Scan(&op, &ch, &n); err != nil {
				t.Fatal(err)
			}
			kinds[op]++
		}
		if kinds["+I"] == 0 || kinds["-U"] == 0 || kinds["-U"] != kinds["+U"] {
			t.Fatalf("row kinds %v", kinds)
		}
	})

	t.Run("error position", func(t *testing.T) {
		_, err := db.Query("SELECT auction,\n       prize\nFROM bid")
		var qf *trino.ErrQueryFailed
		var te *trino.ErrTrino
		if !errors.As(err, &qf) || !errors.As(qf.Reason, &te) {
			t.Fatalf("error %T %v", err, err)
		}
		if te.ErrorLocation.LineNumber != 2 || te.ErrorLocation.ColumnNumber != 8 || te.ErrorType != "USER_ERROR" ||
			!strings.Contains(te.Message, "prize") {
			t.Fatalf("error %+v", te)
		}
		_, err = db.Exec("SELECT price\n  FORM bid")
		if !errors.As(err, &qf) || !errors.As(qf.Reason, &te) || te.ErrorName != "SYNTAX_ERROR" ||
			te.ErrorLocation.LineNumber != 2 || te.ErrorLocation.ColumnNumber != 8 {
			t.Fatalf("syntax error %v", err)
		}
	})

	t.Run("streaming query cancelled", func(t *testing.T) {
		before := srv.queryIDs(t, "")
		rows, err := db.Query("SELECT auction, price FROM forever")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for n < 20000 && rows.Next() {
			n++
		}
		if n != 20000 {
			t.Fatalf("read %d rows of an unbounded query: %v", n, rows.Err())
		}
		var id string
		for q, state := range srv.queryIDs(t, "") {
			if _, old := before[q]; !old && state == "RUNNING" {
				id = q
			}
		}
		if id == "" {
			t.Fatal("the streaming query is not listed as RUNNING")
		}
		if err := rows.Close(); err != nil { // the driver sends DELETE /v1/query/{id}
			t.Fatal(err)
		}
		pollUntil(t, 30*time.Second, "the cancelled query to go", func() bool {
			_, listed := srv.queryIDs(t, "")[id]
			return !listed && srv.metric(t, "", "weir_queries_running") == "0"
		})
	})

	t.Run("abandoned query expires", func(t *testing.T) {
		srv := startServe(t, bin, "--query-expiry", "1s")
		db := srv.open(t, "alice", "")
		if _, err := db.Exec(`CREATE TABLE forever (auction BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid')`); err != nil {
			t.Fatal(err)
		}
		before := srv.queryIDs(t, "")
		qctx, cancel := context.WithCancel(ctx)
		rows, err := db.QueryContext(qctx, "SELECT auction FROM forever")
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		var id string
		for q := range srv.queryIDs(t, "") {
			if _, old := before[q]; !old {
				id = q
			}
		}
		cancel() // the driver sends no DELETE: the server must expire it
		rows.Close()
		if id == "" {
			t.Fatal("query not listed")
		}
		pollUntil(t, 60*time.Second, "the abandoned query to expire", func() bool {
			_, listed := srv.queryIDs(t, "")[id]
			return !listed && srv.metric(t, "", "weir_queries_running") == "0"
		})
	})

	t.Run("concurrent sessions", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sdb, err := dbsql.Open("trino", srv.dsn(fmt.Sprintf("user%d", i), ""))
				if err != nil {
					errs <- err
					return
				}
				defer sdb.Close()
				name := fmt.Sprintf("t%d", i)
				if _, err := sdb.Exec(fmt.Sprintf(`CREATE TABLE %s (id BIGINT) WITH ('connector'='datagen', 'number-of-rows'='%d',
					'fields.id.kind'='sequence', 'fields.id.start'='1')`, name, 1000*(i+1))); err != nil {
					errs <- err
					return
				}
				for k := 0; k < 3; k++ {
					// a global aggregate is an updating query: the last
					// +I/+U row of its changelog is the result
					rows, err := sdb.Query("SELECT COUNT(*), SUM(id) FROM " + name)
					if err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
					var n, sum int64
					for rows.Next() {
						var op string
						var rn, rsum int64
						if err := rows.Scan(&op, &rn, &rsum); err != nil {
							errs <- fmt.Errorf("%s: %w", name, err)
							return
						}
						if op == "+I" || op == "+U" {
							n, sum = rn, rsum
						}
					}
					if err := rows.Err(); err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
					m := int64(1000 * (i + 1))
					if n != m || sum != m*(m+1)/2 {
						errs <- fmt.Errorf("%s: COUNT %d SUM %d, want %d %d", name, n, sum, m, m*(m+1)/2)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var tables []string
		rows, err := db.Query("SHOW TABLES")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, kind string
			rows.Scan(&name, &kind)
			tables = append(tables, name)
		}
		if strings.Join(tables, ",") != "bid,forever,t0,t1,t2,t3" {
			t.Fatalf("tables %v", tables)
		}
	})
}

// TestServeAuth: a server with a token file refuses unauthenticated and
// cross-user requests; one bound beyond loopback without it does not start.
func TestServeAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildWeir(t)
	if _, errOut, code := runWeir(t, bin, "serve", "--listen", "0.0.0.0:0"); code != exitError || !strings.Contains(errOut, "refusing to listen") {
		t.Fatalf("0.0.0.0 without auth: exit %d %s", code, errOut)
	}
	const alice, bob = "alice-secret-token-0001", "bob-secret-token-000002"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("alice "+alice+"\nbob "+bob+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, "--auth-token-file", tokens, "--checkpoint-interval", "100ms")

	adb := srv.open(t, "alice", "&accessToken="+alice)
	if err := adb.Ping(); err != nil {
		t.Fatalf("alice's Ping: %v", err)
	}
	if err := srv.open(t, "alice", "").Ping(); err == nil {
		t.Fatal("Ping without a token succeeded")
	}
	if _, err := srv.open(t, "alice", "").Exec("SELECT 1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("query without a token: %v", err)
	}
	if _, err := srv.open(t, "bob", "&accessToken="+alice).Exec("SELECT 1"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("alice's token as bob: %v", err)
	}
	if _, err := adb.Exec(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='1000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`); err != nil {
		t.Fatal(err)
	}

	// alice's query, polled by bob
	status, body := srv.do(t, "POST", srv.url+"/v1/statement", alice, "alice", "SELECT id FROM gen")
	var first struct{ ID, NextURI string }
	if err := json.Unmarshal([]byte(body), &first); status != http.StatusOK || err != nil || first.NextURI == "" {
		t.Fatalf("POST: %d %s", status, body)
	}
	for _, c := range []struct {
		method, url, token string
		want               int
	}{
		{"GET", first.NextURI, "", http.StatusUnauthorized},
		{"GET", first.NextURI, bob, http.StatusForbidden},
		{"DELETE", first.NextURI, bob, http.StatusForbidden},
		{"DELETE", srv.url + "/v1/query/" + first.ID, bob, http.StatusForbidden},
		{"GET", first.NextURI, alice, http.StatusOK},
		{"DELETE", srv.url + "/v1/query/" + first.ID, alice, http.StatusNoContent},
	} {
		if status, body := srv.do(t, c.method, c.url, c.token, "", ""); status != c.want {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.url, c.token, status, body, c.want)
		}
	}

	// alice's job, controlled by bob
	out := filepath.Join(t.TempDir(), "out.jsonl")
	if _, err := adb.Exec(`CREATE TABLE sink (id BIGINT) WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`); err != nil {
		t.Fatal(err)
	}
	var job string
	if err := adb.QueryRow("INSERT INTO sink SELECT id FROM gen").Scan(&job); err != nil || !strings.HasPrefix(job, "j-") {
		t.Fatalf("INSERT: %q %v", job, err)
	}
	for _, path := range []string{"/v1/jobs/" + job + "/stop", "/v1/jobs/" + job + "/stop?savepoint=true", "/v1/jobs/" + job + "/savepoint"} {
		if status, body := srv.do(t, "POST", srv.url+path, bob, "", ""); status != http.StatusForbidden {
			t.Errorf("bob: POST %s: %d %s", path, status, body)
		}
		if status, _ := srv.do(t, "POST", srv.url+path, "", "", ""); status != http.StatusUnauthorized {
			t.Errorf("no token: POST %s: %d", path, status)
		}
	}
	if status := srv.getJSON(t, "/v1/jobs/"+job, bob, nil); status != http.StatusForbidden {
		t.Errorf("bob: GET job: %d", status)
	}
	var detail struct{ State string }
	if status := srv.getJSON(t, "/v1/jobs/"+job, alice, &detail); status != http.StatusOK || detail.State != "RUNNING" {
		t.Fatalf("alice: GET job: %d %+v", status, detail)
	}
	if status, body := srv.do(t, "POST", srv.url+"/v1/jobs/"+job+"/stop", alice, "", ""); status != http.StatusOK || !strings.Contains(body, `"state": "CANCELED"`) {
		t.Fatalf("alice stops her job: %d %s", status, body)
	}
}

// TestServeRestart: SIGKILL the server while an INSERT job runs; started
// again on the same --data-dir, it has its catalog and resumes the job from
// its newest checkpoint, and the job's output equals the uninterrupted
// query's.
func TestServeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildWeir(t)
	data := t.TempDir()
	out := filepath.Join(t.TempDir(), "volume.jsonl")
	args := []string{"--data-dir", data, "--checkpoint-interval", "200ms"}
	srv := startServe(t, bin, args...)
	db := srv.open(t, "alice", "")
	for _, stmt := range []string{
		// 400,000 events paced at 40,000/s: about 10 s
		`CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
		  date_time TIMESTAMP(3), extra VARCHAR, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
		 WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='400000', 'nexmark.rate'='40000')`,
		`CREATE TABLE volume (auction BIGINT, window_start TIMESTAMP(3), bids BIGINT, volume BIGINT)
		 WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`,
		`CREATE VIEW per_window AS SELECT auction, TUMBLE_START(date_time, INTERVAL '10' SECOND) AS window_start,
		   COUNT(*) AS bids, SUM(price) AS volume FROM bid GROUP BY auction, TUMBLE(date_time, INTERVAL '10' SECOND)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var job string
	if err := db.QueryRow("INSERT INTO volume SELECT * FROM per_window").Scan(&job); err != nil {
		t.Fatal(err)
	}
	type ck struct {
		ID       uint64
		Kind     string
		Complete bool
	}
	pollUntil(t, 2*time.Minute, "a complete checkpoint", func() bool {
		var cks []ck
		srv.getJSON(t, "/v1/jobs/"+job+"/checkpoints", "", &cks)
		for _, c := range cks {
			if c.Complete && c.Kind == "checkpoint" {
				return true
			}
		}
		return false
	})
	srv.kill() // SIGKILL
	db.Close()

	srv = startServe(t, bin, args...)
	db = srv.open(t, "alice", "")
	type jobDetail struct {
		State, Error string
		RestoredFrom string `json:"restored_from"`
		Runs         int
		Events       []struct{ Message string }
	}
	var d jobDetail
	pollUntil(t, 3*time.Minute, "the resumed job to finish", func() bool {
		d = jobDetail{}
		srv.getJSON(t, "/v1/jobs/"+job, "", &d)
		return d.State != "RUNNING"
	})
	if d.State != "FINISHED" || d.Runs != 2 || !strings.Contains(d.RestoredFrom, "chk-") {
		t.Fatalf("after the restart: %+v; stderr:\n%s", d, srv.errb.String())
	}
	if !strings.Contains(srv.errb.String(), "resumed 1 job(s)") {
		t.Fatalf("stderr:\n%s", srv.errb.String())
	}

	// the catalog survived: the view answers the same query uninterrupted
	rows, err := db.Query("SELECT * FROM per_window")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var auction, bids, volume int64
		var ws time.Time
		if err := rows.Scan(&auction, &ws, &bids, &volume); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d %s %d %d", auction, ws.Format("2006-01-02 15:04:05.000"), bids, volume))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Auction     int64
			WindowStart string `json:"window_start"`
			Bids        int64
			Volume      int64
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%d %s %d %d", r.Auction, r.WindowStart, r.Bids, r.Volume))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) < 1000 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the resumed job wrote %d rows, the uninterrupted query gives %d; they differ", len(got), len(want))
	}
}
