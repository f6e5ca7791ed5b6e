package server

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// GET /metrics: the Prometheus text exposition format (version 0.0.4).
//
// What the runtime exposes today, per job: records in and out per vertex
// (exec.Vertex counters), late rows (planner.Plan.LateRows), checkpoint
// counts and the last checkpoint's duration, sizes and slowest subtask's
// synchronous, asynchronous and alignment phases (from the checkpoint
// events), and the number of subtasks reporting a problem (StatusBoard).
// Not exposed by the runtime, so not here: watermarks, Kafka consumer lag,
// back-pressure (channel occupancy) and state size.
//
// Any authenticated user may read it (it names jobs and operators, not
// their SQL).

type family struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels [][2]string
	value  float64
}

func (f *family) add(v float64, labels ...string) {
	s := sample{value: v}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels = append(s.labels, [2]string{labels[i], labels[i+1]})
	}
	f.samples = append(f.samples, s)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func (f *family) write(b *bytes.Buffer) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
	for _, s := range f.samples {
		b.WriteString(f.name)
		if len(s.labels) > 0 {
			b.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(b, `%s="%s"`, l[0], labelEscaper.Replace(l[1]))
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(s.value, 'g', -1, 64))
		b.WriteByte('\n')
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if _, aerr := s.identify(r); aerr != nil {
		s.refuse(w, aerr)
		return
	}
	registered, total := s.queries.counts()
	running := s.executing.Load()
	up := &family{name: "weir_uptime_seconds", help: "Seconds since the server started.", typ: "gauge"}
	up.add(s.now().Sub(s.started).Seconds())
	qRunning := &family{name: "weir_queries_running", help: "Statements running now (a cancelled one until it has stopped).", typ: "gauge"}
	qRunning.add(float64(running))
	qHeld := &family{name: "weir_queries_held", help: "Queries the server holds (running, or finished and not yet expired).", typ: "gauge"}
	qHeld.add(float64(registered))
	qTotal := &family{name: "weir_queries_total", help: "Statements accepted since the server started.", typ: "counter"}
	qTotal.add(float64(total))

	jobsByState := &family{name: "weir_jobs", help: "Jobs by state.", typ: "gauge"}
	in := &family{name: "weir_job_records_in_total", help: "Records received by a vertex of a job's current run.", typ: "counter"}
	out := &family{name: "weir_job_records_out_total", help: "Records emitted by a vertex of a job's current run.", typ: "counter"}
	lagF := &family{name: "weir_job_source_lag_records", help: "Records a source vertex has yet to read (Kafka: log end minus position, summed over partitions).", typ: "gauge"}
	wmF := &family{name: "weir_job_watermark_seconds", help: "Event-time watermark of a vertex (the least of its subtasks'), Unix seconds; absent until every subtask has one.", typ: "gauge"}
	resident := &family{name: "weir_job_state_resident_bytes", help: "Estimated bytes of state a spilling vertex keeps in memory ('state.memory' bounds it).", typ: "gauge"}
	spilled := &family{name: "weir_job_state_spilled_groups", help: "Groups of state a vertex keeps in the spill store (Badger) rather than in memory.", typ: "gauge"}
	late := &family{name: "weir_job_late_rows_total", help: "Rows dropped or diverted as late by the job's window operators in its current run.", typ: "counter"}
	problems := &family{name: "weir_job_subtasks_with_status", help: "Subtasks reporting a problem (e.g. waiting for Kafka).", typ: "gauge"}
	ckOK := &family{name: "weir_job_checkpoints_completed_total", help: "Checkpoints and savepoints completed since the server started the job.", typ: "counter"}
	ckFail := &family{name: "weir_job_checkpoints_failed_total", help: "Checkpoints aborted since the server started the job.", typ: "counter"}
	ckID := &family{name: "weir_job_last_checkpoint_id", help: "Id of the last completed checkpoint.", typ: "gauge"}
	ckDur := &family{name: "weir_job_last_checkpoint_duration_seconds", help: "Trigger to completion of the last completed checkpoint.", typ: "gauge"}
	ckBytes := &family{name: "weir_job_last_checkpoint_bytes", help: "Size of the last completed checkpoint: full (what a restore reads) and incremental (what it added).", typ: "gauge"}
	ckSync := &family{name: "weir_job_last_checkpoint_sync_seconds", help: "Slowest subtask's synchronous phase in the last completed checkpoint.", typ: "gauge"}
	ckAsync := &family{name: "weir_job_last_checkpoint_async_seconds", help: "Slowest subtask's asynchronous phase in the last completed checkpoint.", typ: "gauge"}
	ckAlign := &family{name: "weir_job_last_checkpoint_alignment_seconds", help: "Longest barrier alignment in the last completed checkpoint.", typ: "gauge"}
	ckWhen := &family{name: "weir_job_last_checkpoint_timestamp_seconds", help: "Completion time of the last completed checkpoint (Unix seconds).", typ: "gauge"}

	states := map[string]int{jobRunning: 0, jobFinished: 0, jobFailed: 0, jobCanceled: 0, jobStopped: 0}
	for _, j := range s.jobs.list() {
		d := j.detail()
		states[d.State]++
		for _, v := range d.Vertices {
			in.add(float64(v.RecordsIn), "job", d.ID, "vertex", v.Name)
			out.add(float64(v.RecordsOut), "job", d.ID, "vertex", v.Name)
			if v.Lag != nil {
				lagF.add(float64(*v.Lag), "job", d.ID, "vertex", v.Name)
			}
			if v.Watermark != nil {
				wmF.add(float64(v.Watermark.UnixMilli())/1000, "job", d.ID, "vertex", v.Name)
			}
			if v.State != nil {
				resident.add(float64(v.State.ResidentBytes), "job", d.ID, "vertex", v.Name)
				spilled.add(float64(v.State.SpilledGroups), "job", d.ID, "vertex", v.Name)
			}
		}
		j.mu.Lock()
		plan := j.plan
		last := j.ck.Last
		ck := j.ck
		j.mu.Unlock()
		if plan != nil {
			late.add(float64(plan.LateRows()), "job", d.ID)
		}
		problems.add(float64(len(d.Statuses)), "job", d.ID)
		ckOK.add(float64(ck.Completed), "job", d.ID)
		ckFail.add(float64(ck.Failed), "job", d.ID)
		if last != nil {
			c := summarize(last, "", false)
			ckID.add(float64(c.ID), "job", d.ID)
			ckDur.add(c.DurationMs/1000, "job", d.ID)
			ckBytes.add(float64(c.BytesFull), "job", d.ID, "kind", "full")
			ckBytes.add(float64(c.BytesIncremental), "job", d.ID, "kind", "incremental")
			ckSync.add(c.MaxSyncMs/1000, "job", d.ID)
			ckAsync.add(c.MaxAsyncMs/1000, "job", d.ID)
			ckAlign.add(c.MaxAlignMs/1000, "job", d.ID)
			ckWhen.add(float64(last.CompleteTime.UnixMilli())/1000, "job", d.ID)
		}
	}
	names := make([]string, 0, len(states))
	for st := range states {
		names = append(names, st)
	}
	sort.Strings(names)
	for _, st := range names {
		jobsByState.add(float64(states[st]), "state", st)
	}

	var b bytes.Buffer
	for _, f := range []*family{up, qRunning, qHeld, qTotal, jobsByState, in, out, wmF, lagF, resident, spilled, late, problems,
		ckOK, ckFail, ckID, ckDur, ckBytes, ckSync, ckAsync, ckAlign, ckWhen} {
		f.write(&b)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}
