package shell

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/sql"
)

// startServer runs a weir serve in this process.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: t.TempDir(), Log: io.Discard, PollWait: 50 * time.Millisecond,
		CheckpointInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return hs
}

// runningQueries counts the queries the server is running.
func runningQueries(t *testing.T, base string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/query", nil)
	req.Header.Set("X-Trino-User", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var qs []struct{ State string }
	if err := json.NewDecoder(resp.Body).Decode(&qs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		if q.State == "RUNNING" || q.State == "QUEUED" {
			n++
		}
	}
	return n
}

// stopAfter is a sink that cancels the statement after n rows.
type stopAfter struct {
	capture
	n      int
	cancel context.CancelFunc
	once   sync.Once
}

func (s *stopAfter) Rows(rows [][]string, kinds []string) error {
	s.capture.Rows(rows, kinds)
	if len(s.rows) >= s.n {
		s.once.Do(s.cancel)
	}
	return nil
}

func TestRemote(t *testing.T) {
	hs := startServer(t)
	ts := newTestShell(t, Config{Server: &RemoteConfig{URL: hs.URL, User: "alice"}})
	if !strings.HasPrefix(ts.be.Where(), "server http://127.0.0.1:") {
		t.Fatalf("Where: %s", ts.be.Where())
	}
	if got := ts.must("CREATE TABLE few (channel VARCHAR, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='20')"); got != "Table few created.\n" {
		t.Fatalf("CREATE TABLE: %q", got)
	}
	want := "+-----+-------+-------+------+\n| one | d     | b     | n    |\n+-----+-------+-------+------+\n|   1 | 12.50 | true  | NULL |\n+-----+-------+-------+------+\n(1 row)\n"
	if got := ts.must("SELECT 1 AS one, CAST('12.5' AS DECIMAL(10,2)) AS d, 1 < 2 AS b, CAST(NULL AS BIGINT) AS n"); got != want {
		t.Fatalf("SELECT:\n%s\nwant\n%s", got, want)
	}
	// an updating query: the server's _op column becomes the kinds
	if got := ts.must("SELECT COUNT(*) AS n FROM few"); !strings.Contains(got, "| op | n  |\n") || !strings.Contains(got, "| +I |") {
		t.Fatalf("changelog:\n%s", got)
	}
	// EXPLAIN is text
	if got := ts.must("EXPLAIN SELECT channel FROM few"); !strings.Contains(got, "Source#1") || strings.Contains(got, "Query Plan") {
		t.Fatalf("EXPLAIN:\n%s", got)
	}
	// errors keep their position
	_, err := ts.be.Exec(context.Background(), "SELECT\n  prize FROM few", &capture{})
	var se *sql.SQLError
	if !errors.As(err, &se) || se.Line != 2 || se.Col != 3 || se.Msg != "unknown column prize" {
		t.Fatalf("error: %#v", err)
	}
	// a setting lasts for the next statements (X-Trino-Set-Session)
	if got := ts.must("SET parallelism = 3"); got != "Set parallelism = 3.\n" {
		t.Fatalf("SET: %q", got)
	}
	if got := ts.must("SET"); !strings.Contains(got, "| parallelism    | 3 ") {
		t.Fatalf("SET list:\n%s", got)
	}
	// INSERT answers with the job's id
	ts.must("CREATE TABLE sink (price BIGINT) WITH ('connector'='blackhole')")
	id, err := ts.be.Exec(context.Background(), "INSERT INTO sink SELECT price FROM few", &capture{})
	if err != nil || !strings.HasPrefix(id, "j-") {
		t.Fatalf("INSERT: %q, %v", id, err)
	}
	if err := ts.be.WaitJob(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if d, err := ts.be.Job(context.Background(), id); err != nil || d.State != server.JobFinished || d.Settings["parallelism"] != "3" {
		t.Fatalf("job: %+v, %v", d, err)
	}

	// Cancelling a streaming query stops it on the server.
	ts.must("CREATE TABLE bids (price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.rate'='1000')")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := &stopAfter{n: 5, cancel: cancel}
	if _, err := ts.be.Exec(ctx, "SELECT price FROM bids", stop); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query: %v", err)
	}
	if len(stop.rows) < 5 {
		t.Fatalf("%d rows before the cancel", len(stop.rows))
	}
	if n := runningQueries(t, hs.URL); n != 0 {
		t.Fatalf("%d queries still running on the server after the cancel", n)
	}
}
