package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readIDs reads the id column of a JSON-lines file sink ("" if absent).
func readIDs(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ ID int64 }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v in %q", path, err, sc.Text())
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// checkExactlyOnce: a sequence source delivered 1..n once each.
func checkExactlyOnce(t *testing.T, ids []int64) {
	t.Helper()
	seen := make(map[int64]bool, len(ids))
	var top int64
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %d written twice", id)
		}
		seen[id] = true
		top = max(top, id)
	}
	if int64(len(ids)) != top {
		t.Fatalf("%d ids up to %d: some are missing", len(ids), top)
	}
}

func (c *client) job(id string) jobDetail {
	c.t.Helper()
	var d jobDetail
	if status := c.getJSON("/v1/jobs/"+id, &d); status != http.StatusOK {
		c.t.Fatalf("GET /v1/jobs/%s: %d", id, status)
	}
	return d
}

func (c *client) waitJob(id string, what string, cond func(jobDetail) bool) jobDetail {
	c.t.Helper()
	var d jobDetail
	deadline := time.Now().Add(60 * time.Second)
	for d = c.job(id); !cond(d); d = c.job(id) {
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(d, "", "  ")
			c.t.Fatalf("timed out waiting for job %s: %s; job:\n%s", id, what, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d
}

// TestJobLifecycle: INSERT INTO runs in the background; a bounded job
// finishes; an unbounded one checkpoints, takes a savepoint, stops with a
// savepoint, resumes from it, is cancelled, resumes from its checkpoint —
// and its file sink has every row exactly once.
func TestJobLifecycle(t *testing.T) {
	_, hs := startServer(t, Config{CheckpointInterval: 50 * time.Millisecond})
	c := &client{t: t, base: hs.URL, user: "alice"}
	dir := t.TempDir()

	c.rows(`CREATE TABLE seq (id BIGINT) WITH ('connector'='datagen', 'number-of-rows'='5000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	bounded := filepath.Join(dir, "bounded.jsonl")
	c.rows(`CREATE TABLE bsink (id BIGINT) WITH ('connector'='file', 'path'='` + bounded + `', 'format'='json')`)
	pages := c.query("INSERT INTO bsink SELECT id FROM seq")
	last := pages[len(pages)-1]
	if last.UpdateType != "INSERT" || len(last.Warnings) != 1 || !strings.Contains(last.Warnings[0].Message, "started") {
		t.Fatalf("INSERT answer: %s", last.raw)
	}
	var id string
	for _, p := range pages {
		if len(p.Data) == 1 {
			id = str(p.Data[0][0])
		}
	}
	d := c.waitJob(id, "FINISHED", func(d jobDetail) bool { return d.State != jobRunning })
	if d.State != jobFinished || d.Error != "" {
		t.Fatalf("bounded job: %+v", d.jobSummary)
	}
	if !strings.Contains(d.Plan, "Sink#2") || !strings.Contains(d.Plan, "Source#1") {
		t.Fatalf("plan:\n%s", d.Plan)
	}
	var sinkIn int64
	for _, v := range d.Vertices {
		if strings.HasPrefix(v.Name, "Sink") {
			sinkIn = v.RecordsIn
		}
	}
	if sinkIn != 5000 {
		t.Fatalf("sink records_in %d, want 5000: %+v", sinkIn, d.Vertices)
	}
	if ids := readIDs(t, bounded); len(ids) != 5000 {
		t.Fatalf("bounded job wrote %d rows", len(ids))
	} else {
		checkExactlyOnce(t, ids)
	}

	// an unbounded job
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='2000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	out := filepath.Join(dir, "out.jsonl")
	c.rows(`CREATE TABLE sink (id BIGINT) WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`)
	_, rows := c.rows("INSERT INTO sink SELECT id FROM gen")
	id = str(rows[0][0])
	c.waitJob(id, "two checkpoints", func(d jobDetail) bool { return d.Checkpoints.Completed >= 2 })

	var cks []checkpointSummary
	if c.getJSON("/v1/jobs/"+id+"/checkpoints", &cks) != http.StatusOK || len(cks) == 0 {
		t.Fatalf("checkpoints: %+v", cks)
	}
	complete := 0
	for _, ck := range cks {
		if ck.Complete {
			complete++
			if len(ck.Tasks) == 0 || ck.TriggerTime == nil || ck.Kind != "checkpoint" {
				t.Fatalf("checkpoint without its figures: %+v", ck)
			}
		}
	}
	if complete == 0 {
		t.Fatalf("no complete checkpoint listed: %+v", cks)
	}

	var sp struct{ Savepoint checkpointSummary }
	if status, body := c.postJSON("/v1/jobs/"+id+"/savepoint", &sp); status != http.StatusOK || sp.Savepoint.Kind != "savepoint" ||
		!sp.Savepoint.Complete || sp.Savepoint.Dir == "" {
		t.Fatalf("savepoint: %d %s", status, body)
	}
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop?savepoint=true", &d); status != http.StatusOK {
		t.Fatalf("stop with savepoint: %d %s", status, body)
	}
	d = c.waitJob(id, "STOPPED", func(d jobDetail) bool { return d.State != jobRunning })
	if d.State != jobStopped || d.Savepoint == "" {
		t.Fatalf("after stop with savepoint: %+v", d.jobSummary)
	}
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop", nil); status != http.StatusConflict {
		t.Fatalf("stopping a stopped job: %d %s", status, body)
	}
	savepoint := d.Savepoint
	stoppedAt := len(readIDs(t, out))

	if status, body := c.postJSON("/v1/jobs/"+id+"/resume", &d); status != http.StatusOK {
		t.Fatalf("resume: %d %s", status, body)
	}
	d = c.waitJob(id, "restored from its savepoint", func(d jobDetail) bool { return d.RestoredFrom != "" })
	if d.RestoredFrom != savepoint || d.State != jobRunning || d.Runs != 2 {
		t.Fatalf("resumed from %q (want %q): %+v", d.RestoredFrom, savepoint, d.jobSummary)
	}
	waitFor(t, 60*time.Second, "rows after the resume", func() bool { return len(readIDs(t, out)) > stoppedAt+100 })
	c.waitJob(id, "a checkpoint after the resume", func(d jobDetail) bool { return d.Checkpoints.Last != nil && d.Checkpoints.Last.ID > sp.Savepoint.ID+1 })

	var m string
	if status, body, _ := c.do(c.request("GET", hs.URL+"/metrics", "", "")); status == http.StatusOK {
		m = string(body)
	}
	for _, want := range []string{`weir_job_records_out_total{job="` + id + `",vertex="Source#1"}`,
		`weir_job_checkpoints_completed_total{job="` + id + `"}`, `weir_jobs{state="RUNNING"} 1`,
		`weir_job_last_checkpoint_bytes{job="` + id + `",kind="full"}`} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %s:\n%s", want, m)
		}
	}

	if status, body := c.postJSON("/v1/jobs/"+id+"/stop", &d); status != http.StatusOK || d.State != jobCanceled {
		t.Fatalf("stop: %d %s", status, body)
	}
	completed := d.Checkpoints.Completed
	if status, body := c.postJSON("/v1/jobs/"+id+"/resume", &d); status != http.StatusOK {
		t.Fatalf("resume after cancel: %d %s", status, body)
	}
	d = c.waitJob(id, "restored from a checkpoint", func(d jobDetail) bool { return d.RestoredFrom != "" })
	if !strings.Contains(d.RestoredFrom, "chk-") {
		t.Fatalf("resumed after a cancel from %q, want its newest checkpoint", d.RestoredFrom)
	}
	c.waitJob(id, "a checkpoint after the second resume", func(d jobDetail) bool { return d.Checkpoints.Completed > completed })
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop?savepoint=true", &d); status != http.StatusOK {
		t.Fatalf("final stop: %d %s", status, body)
	}
	if d.State != jobStopped {
		b, _ := json.MarshalIndent(d, "", "  ")
		t.Fatalf("a minute after the stop with savepoint:\n%s", b)
	}
	c.waitJob(id, "STOPPED", func(d jobDetail) bool { return d.State == jobStopped })
	checkExactlyOnce(t, readIDs(t, out))

	if status, _ := c.postJSON("/v1/jobs/nosuch/stop", nil); status != http.StatusNotFound {
		t.Fatalf("unknown job: %d", status)
	}
}

// TestRestartInProcess: a server closed and opened again on its data
// directory has its catalog and resumes its running job from a checkpoint.
func TestRestartInProcess(t *testing.T) {
	data := t.TempDir()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cfg := Config{DataDir: data, CheckpointInterval: 50 * time.Millisecond, Log: &lockedBuffer{}}

	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs1 := httptest.NewServer(s1.Handler())
	c := &client{t: t, base: hs1.URL, user: "alice"}
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='2000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	c.rows(`CREATE TABLE sink (id BIGINT) WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`)
	c.rows(`CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='1000')`)
	c.rows(`CREATE VIEW cheap AS SELECT auction FROM bid WHERE price < 1000`)
	c.rows(`DROP TABLE IF EXISTS nothing`)
	_, want := c.rows("SELECT COUNT(*) FROM cheap")
	_, rows := c.rows("INSERT INTO sink SELECT id FROM gen")
	id := str(rows[0][0])
	c.waitJob(id, "a checkpoint", func(d jobDetail) bool { return d.Checkpoints.Completed >= 1 })
	// the job keeps the catalog it was planned against: a table replaced
	// since then does not change what it resumes as
	c.rows("DROP TABLE gen")
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'fields.id.kind'='sequence', 'fields.id.start'='1000000000')`)
	hs1.Close()
	s1.Close()

	var rec jobRecord
	b, err := os.ReadFile(filepath.Join(data, "jobs", id, jobFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.State != jobRunning {
		t.Fatalf("job.json after shutdown: %s", b)
	}

	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(s2.Handler())
	defer func() { hs2.Close(); s2.Close() }()
	c.base = hs2.URL
	_, got := c.rows("SELECT COUNT(*) FROM cheap")
	if str(got[0][0]) != str(want[0][0]) {
		t.Fatalf("the view after the restart counts %v, before %v", got, want)
	}
	if _, tables := c.rows("SHOW TABLES"); len(tables) != 4 {
		t.Fatalf("SHOW TABLES after the restart: %v", tables)
	}
	d := c.waitJob(id, "resumed", func(d jobDetail) bool { return d.RestoredFrom != "" })
	if d.State != jobRunning || d.Runs != 2 || !strings.Contains(d.RestoredFrom, "chk-") {
		t.Fatalf("after the restart: %+v restored from %q", d.jobSummary, d.RestoredFrom)
	}
	before := len(readIDs(t, out))
	waitFor(t, 60*time.Second, "rows after the restart", func() bool { return len(readIDs(t, out)) > before+100 })
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop?savepoint=true", &d); status != http.StatusOK {
		t.Fatalf("stop: %d %s", status, body)
	}
	c.waitJob(id, "STOPPED", func(d jobDetail) bool { return d.State == jobStopped })
	checkExactlyOnce(t, readIDs(t, out))

	// a second server on the same directory is refused
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on %s: %v", data, err)
	}
}

// TestJobWatermarkMetric: a job over an event-time table reports each
// vertex's watermark in its detail and in /metrics.
func TestJobWatermarkMetric(t *testing.T) {
	_, hs := startServer(t, Config{CheckpointInterval: time.Hour})
	c := &client{t: t, base: hs.URL, user: "alice"}
	c.rows(`CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
		date_time TIMESTAMP(3), extra VARCHAR, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
		WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events-per-second'='2000')`)
	c.rows(`CREATE TABLE sink (auction BIGINT, price BIGINT) WITH ('connector'='blackhole')`)
	_, rows := c.rows("INSERT INTO sink SELECT auction, price FROM bid")
	id := str(rows[0][0])
	d := c.waitJob(id, "a watermark on every vertex", func(d jobDetail) bool {
		for _, v := range d.Vertices {
			if v.Watermark == nil {
				return false
			}
		}
		return len(d.Vertices) > 0
	})
	base := time.UnixMilli(1767225600000) // the generator's default first event time
	for _, v := range d.Vertices {
		if v.Watermark.Before(base.Add(-4*time.Second)) || v.Watermark.After(base.Add(24*time.Hour)) {
			t.Fatalf("vertex %s watermark %v: not near the generator's event times (from %v)", v.Name, v.Watermark, base)
		}
	}
	_, body, _ := c.do(c.request("GET", hs.URL+"/metrics", "", ""))
	prefix := `weir_job_watermark_seconds{job="` + id + `",vertex="Source#1"} `
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < float64(base.Unix()-4) || f > float64(base.Unix()+86400) {
				t.Fatalf("metric %q: not near the generator's event times", line)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("metrics lack %s:\n%s", prefix, body)
	}
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop", &d); status != http.StatusOK {
		t.Fatalf("stop: %d %s", status, body)
	}
}

// TestJobStateSpillMetric: with a small 'state.memory', a GROUP BY job
// keeps most of its groups in the spill store, and says so in its detail
// and in /metrics.
func TestJobStateSpillMetric(t *testing.T) {
	_, hs := startServer(t, Config{CheckpointInterval: time.Hour})
	// the session setting, as a Trino client sends it back after a SET
	c := &client{t: t, base: hs.URL, user: "alice", props: []string{"state.memory=64kb"}}
	c.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'fields.id.kind'='sequence', 'fields.id.start'='1',
		'fields.id.end'='1000000000', 'rows-per-second'='20000')`)
	c.rows(`CREATE TABLE sink (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector'='blackhole')`)
	_, rows := c.rows("INSERT INTO sink SELECT id % 5000, COUNT(*) FROM gen GROUP BY id % 5000")
	id := str(rows[0][0])
	d := c.waitJob(id, "spilled groups", func(d jobDetail) bool {
		for _, v := range d.Vertices {
			if v.State != nil && v.State.SpilledGroups > 1000 && v.State.Reloaded > 0 {
				return true
			}
		}
		return false
	})
	for _, v := range d.Vertices {
		if v.State == nil {
			continue
		}
		if v.State.BudgetBytes != 64<<10 || v.State.ResidentBytes > 2*v.State.BudgetBytes {
			t.Fatalf("vertex %s: state %+v: want a 64 KiB budget, kept", v.Name, *v.State)
		}
	}
	_, body, _ := c.do(c.request("GET", hs.URL+"/metrics", "", ""))
	if !strings.Contains(string(body), `weir_job_state_spilled_groups{job="`+id+`",vertex="GroupAggregate#`) {
		t.Fatalf("metrics lack weir_job_state_spilled_groups for the aggregate:\n%s", body)
	}
	if status, body := c.postJSON("/v1/jobs/"+id+"/stop", &d); status != http.StatusOK {
		t.Fatalf("stop: %d %s", status, body)
	}
}
