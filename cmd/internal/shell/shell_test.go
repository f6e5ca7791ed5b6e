package shell

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	_ "github.com/weirsql/weir/connectors/all" // register connectors
)

// testShell is an in-process shell writing into buffers, as when standard
// output is not a terminal.
type testShell struct {
	*Shell
	t        *testing.T
	out, err bytes.Buffer
}

func newTestShell(t *testing.T, cfg Config) *testShell {
	t.Helper()
	ts := &testShell{t: t}
	cfg.Stdout, cfg.Stderr, cfg.Stdin = &ts.out, &ts.err, strings.NewReader("")
	if cfg.Local.CheckpointInterval == 0 {
		cfg.Local.CheckpointInterval = 50 * time.Millisecond
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts.Shell = s
	return ts
}

// exec runs one statement as if typed, and returns what it printed on
// standard output and standard error.
func (ts *testShell) exec(text string) (stdout, stderr string) {
	ts.t.Helper()
	ts.out.Reset()
	ts.err.Reset()
	_ = ts.runStatement(context.Background(), text, [2]int{0, len(text)}, "")
	return ts.out.String(), ts.err.String()
}

// must runs a statement that must succeed.
func (ts *testShell) must(text string) string {
	ts.t.Helper()
	out, errOut := ts.exec(text)
	if errOut != "" {
		ts.t.Fatalf("%s: %s", text, errOut)
	}
	return out
}

// waitJob polls the job until cond holds.
func (ts *testShell) waitJob(id, what string, cond func(server.JobDetail) bool) server.JobDetail {
	ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := ts.be.Job(context.Background(), id)
		if err != nil {
			ts.t.Fatal(err)
		}
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("job %s: timed out waiting for %s: %+v", id, what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var jobIDRE = regexp.MustCompile(`Job (j-[a-z0-9]+) started`)

// readIDs reads the id column of a JSON-lines file.
func readIDs(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ ID int64 }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestScript: statements run in order; the last may lack its ';'; the
// first error stops the script with its position in the file and a caret.
func TestScript(t *testing.T) {
	ts := newTestShell(t, Config{})
	code := ts.RunScript(context.Background(), "a.sql", "SELECT 1 AS one;\n-- next\nSELECT 'x' AS s")
	if code != ExitOK || ts.err.String() != "" {
		t.Fatalf("exit %d, stderr %q", code, ts.err.String())
	}
	if want := "+-----+\n| one |\n+-----+\n|   1 |\n+-----+\n(1 row)\n+---+\n| s |\n+---+\n| x |\n+---+\n(1 row)\n"; ts.out.String() != want {
		t.Fatalf("stdout\n%s\nwant\n%s", ts.out.String(), want)
	}

	ts.out.Reset()
	script := "CREATE TABLE few (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='10');\n" +
		"SELECT 1;  SELECT auction,\n\tprize FROM few;\nSELECT 'never';\n"
	code = ts.RunScript(context.Background(), "b.sql", script)
	wantErr := "weir shell: b.sql: line 3, column 2: unknown column prize\n   prize FROM few;\n   ^\n"
	if code != ExitError || ts.err.String() != wantErr {
		t.Fatalf("exit %d, stderr %q; want 1, %q", code, ts.err.String(), wantErr)
	}
	if !strings.Contains(ts.out.String(), "Table few created.") || strings.Contains(ts.out.String(), "never") {
		t.Fatalf("stdout %q", ts.out.String())
	}

	// a syntax error on the first line of a statement that does not start
	// its line: the column is in the file
	ts.err.Reset()
	code = ts.RunScript(context.Background(), "c.sql", "SELECT 1; SELECT 2 FORM few;")
	if want := "weir shell: c.sql: line 1, column 25: syntax error near \"few\"\n"; code != ExitError || !strings.HasPrefix(ts.err.String(), want) {
		t.Fatalf("exit %d, stderr %q; want %q", code, ts.err.String(), want)
	}
}

// TestInProcessJobs: INSERT INTO runs in the background in the shell's
// process; the job statements list it, show it, take a savepoint, list
// its checkpoints, stop it with a savepoint, resume it from there and
// cancel it; the file sink has every row once.
func TestInProcessJobs(t *testing.T) {
	ts := newTestShell(t, Config{})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	ts.must(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='2000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	ts.must(`CREATE TABLE sink (id BIGINT) WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`)
	started := ts.must("INSERT INTO sink SELECT id FROM gen")
	m := jobIDRE.FindStringSubmatch(started)
	if m == nil {
		t.Fatalf("INSERT said %q", started)
	}
	id := m[1]
	if got := ts.must("SHOW JOBS"); !regexp.MustCompile(`\| ` + id + ` \| RUNNING \| .* \| INSERT INTO sink SELECT id FROM gen \|`).MatchString(got) {
		t.Fatalf("SHOW JOBS:\n%s", got)
	}
	ts.waitJob(id, "a checkpoint", func(d server.JobDetail) bool { return d.Checkpoints.Completed >= 1 })
	d := ts.must("DESCRIBE JOB '" + id + "'")
	for _, want := range []string{"Job " + id + ": RUNNING", "SQL: INSERT INTO sink SELECT id FROM gen", "Checkpoints: ", "  last:           #", "Operators:", "Plan:\n  Sink#"} {
		if !strings.Contains(d, want) {
			t.Errorf("DESCRIBE JOB lacks %q:\n%s", want, d)
		}
	}
	sp := ts.must("CREATE SAVEPOINT FOR JOB " + id)
	if !regexp.MustCompile(`^Savepoint \d+ of job ` + id + ` written to \S+/savepoints/sp-\S+\. \(in a temporary directory`).MatchString(sp) {
		t.Fatalf("savepoint: %q", sp)
	}
	// (an incomplete checkpoint in progress may widen the state column)
	if cks := ts.must("SHOW CHECKPOINTS " + id); !regexp.MustCompile(`\| savepoint +\| complete +\| full `).MatchString(cks) ||
		!regexp.MustCompile(`\| checkpoint \| complete +\|`).MatchString(cks) {
		t.Fatalf("SHOW CHECKPOINTS:\n%s", cks)
	}
	stopped := ts.must("STOP JOB '" + id + "' WITH SAVEPOINT")
	if !strings.HasPrefix(stopped, "Job "+id+" stopped with savepoint ") {
		t.Fatalf("stop: %q", stopped)
	}
	n := len(readIDs(t, out))
	if resumed := ts.must("RESUME JOB " + id); !strings.HasPrefix(resumed, "Job "+id+" resumed from savepoint ") {
		t.Fatalf("resume: %q", resumed)
	}
	// after the resume it writes more rows, then a plain stop cancels it
	ts.waitJob(id, "a checkpoint after the resume", func(d server.JobDetail) bool {
		return d.Checkpoints.Completed >= 1 && d.RestoredFrom != ""
	})
	for len(readIDs(t, out)) <= n {
		ts.waitJob(id, "another checkpoint", func(d server.JobDetail) bool { return true })
	}
	if got := ts.must("STOP JOB " + id); got != "Job "+id+" canceled.\n" {
		t.Fatalf("stop: %q", got)
	}
	ids := readIDs(t, out)
	seen := map[int64]bool{}
	for _, v := range ids {
		if seen[v] {
			t.Fatalf("id %d written twice", v)
		}
		seen[v] = true
	}
	for v := int64(1); v <= int64(len(ids)); v++ {
		if !seen[v] {
			t.Fatalf("id %d missing of %d", v, len(ids))
		}
	}

	// errors name the job
	if _, errOut := ts.exec("STOP JOB " + id); errOut != "ERROR: job "+id+": the job is not running\n" {
		t.Fatalf("stop again: %q", errOut)
	}
	if _, errOut := ts.exec("DESCRIBE JOB j-nosuch"); errOut != "ERROR: no job j-nosuch (SHOW JOBS lists the jobs)\n" {
		t.Fatalf("no such job: %q", errOut)
	}
}

// TestDMLSync: with table.dml-sync an INSERT waits for its job; a script
// waits for in-process jobs still running at its end.
func TestDMLSync(t *testing.T) {
	ts := newTestShell(t, Config{})
	dir := t.TempDir()
	ts.must(`CREATE TABLE seq (id BIGINT) WITH ('connector'='datagen', 'number-of-rows'='3000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	ts.must(`CREATE TABLE a (id BIGINT) WITH ('connector'='file', 'path'='` + a + `', 'format'='json')`)
	ts.must(`CREATE TABLE b (id BIGINT) WITH ('connector'='file', 'path'='` + b + `', 'format'='json')`)
	if got := ts.must("SET 'table.dml-sync' = 'true'"); got != "Set table.dml-sync = true.\n" {
		t.Fatalf("SET: %q", got)
	}
	got := ts.must("INSERT INTO a SELECT id FROM seq")
	if !regexp.MustCompile(`^Job j-\w+ started; waiting for it to finish \(Ctrl-C stops it\)\.\nJob j-\w+ finished\.\n$`).MatchString(got) {
		t.Fatalf("INSERT with dml-sync: %q", got)
	}
	if n := len(readIDs(t, a)); n != 3000 {
		t.Fatalf("%d rows after the INSERT returned", n)
	}
	ts.must("RESET 'table.dml-sync'")

	ts.out.Reset()
	if code := ts.RunScript(context.Background(), "s.sql", "INSERT INTO b SELECT id FROM seq;"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, ts.err.String())
	}
	if n := len(readIDs(t, b)); n != 3000 {
		t.Fatalf("%d rows when the script returned", n)
	}
	if !strings.Contains(ts.err.String(), "Waiting for job j-") {
		t.Errorf("stderr %q", ts.err.String())
	}
}

// TestSettings: the shell's own settings, and a bare SET listing both the
// engine's and the shell's.
func TestSettings(t *testing.T) {
	ts := newTestShell(t, Config{})
	ts.must("CREATE TABLE few (channel VARCHAR) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='20')")
	if got := ts.must("SET 'result-mode' = 'changelog'"); got != "Set result-mode = changelog.\n" {
		t.Fatalf("%q", got)
	}
	if ts.disp.mode != ModeChangelog {
		t.Fatal("mode not set")
	}
	if _, errOut := ts.exec("SET 'result-mode' = 'pretty'"); !strings.Contains(errOut, "result-mode must be 'table' or 'changelog', got 'pretty'") {
		t.Fatalf("%q", errOut)
	}
	list := ts.must("SET")
	for _, want := range []string{"| parallelism    | 1 ", "| result-mode    | changelog |", "| table.dml-sync | false "} {
		if !strings.Contains(list, want) {
			t.Errorf("SET lacks %q:\n%s", want, list)
		}
	}
	if got := ts.must("SET parallelism = 2"); got != "Set parallelism = 2.\n" {
		t.Fatalf("%q", got)
	}
	ts.must("RESET")
	if ts.disp.mode != ModeTable || !strings.Contains(ts.must("SET"), "| parallelism    | 1 ") {
		t.Fatal("RESET did not reset")
	}
	// an updating query when standard output is not a terminal: its
	// changes with their kinds
	if got := ts.must("SELECT COUNT(*) AS n FROM few"); !strings.Contains(got, "| op | n  |") || !strings.Contains(got, "| +I |") {
		t.Fatalf("%s", got)
	}
	// EXPLAIN's plan is text
	if got := ts.must("EXPLAIN SELECT channel FROM few"); !strings.HasPrefix(got, "Collect#") && !strings.Contains(got, "Source#1") {
		t.Fatalf("EXPLAIN: %q", got)
	}
}

func TestHistoryEntry(t *testing.T) {
	for text, want := range map[string]string{
		"SELECT 1;\n":                             "SELECT 1;",
		"SELECT a, -- the a\n  b\nFROM t;\n":      "SELECT a, b FROM t;",
		"SELECT 'two\n  lines' /* c\n */ FROM t;": "SELECT 'two   lines' /* c  */ FROM t;",
		"  \n": "",
	} {
		if got := historyEntry(text); got != want {
			t.Errorf("historyEntry(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestJobNotifications: the prompt says when a job started here ends.
func TestJobNotifications(t *testing.T) {
	ts := newTestShell(t, Config{})
	ts.must(`CREATE TABLE seq (id BIGINT) WITH ('connector'='datagen', 'number-of-rows'='100')`)
	ts.must(`CREATE TABLE sink (id BIGINT) WITH ('connector'='blackhole')`)
	id := jobIDRE.FindStringSubmatch(ts.must("INSERT INTO sink SELECT id FROM seq"))[1]
	ts.waitJob(id, "FINISHED", func(d server.JobDetail) bool { return d.State == server.JobFinished })
	ts.out.Reset()
	ts.notifyJobs(context.Background())
	if got := ts.out.String(); got != "Job "+id+" finished.\n" {
		t.Fatalf("notification %q", got)
	}
	ts.out.Reset()
	ts.notifyJobs(context.Background())
	if got := ts.out.String(); got != "" {
		t.Fatalf("said twice: %q", got)
	}
}

// TestScriptJobFails: a job that a script started and that fails makes the
// script fail, even after the statements are done.
func TestScriptJobFails(t *testing.T) {
	ts := newTestShell(t, Config{})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte("{\"id\": 1}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `CREATE TABLE src (id BIGINT) WITH ('connector'='file', 'path'='` + in + `', 'format'='json');
CREATE TABLE sink (id BIGINT) WITH ('connector'='blackhole');
INSERT INTO sink SELECT id FROM src;
/* the end`
	code := ts.RunScript(context.Background(), "f.sql", script)
	if code != ExitError || !strings.Contains(ts.err.String(), "line 4, column 1: unterminated comment") {
		t.Fatalf("exit %d, stderr %q", code, ts.err.String())
	}
	ts = newTestShell(t, Config{})
	code = ts.RunScript(context.Background(), "f.sql", strings.TrimSuffix(script, "/* the end"))
	if code != ExitError || !regexp.MustCompile(`weir shell: f\.sql: job j-\w+ failed: .*in\.jsonl`).MatchString(ts.err.String()) {
		t.Fatalf("exit %d, stderr %q", code, ts.err.String())
	}
}
