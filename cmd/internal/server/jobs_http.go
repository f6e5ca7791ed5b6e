package server

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/exec"
)

// The JSON endpoints for jobs. Every one needs the caller to own the job
// (with authentication; see Server.authorize).

// jobSummary is a job as GET /v1/jobs lists it.
type jobSummary struct {
	ID        string     `json:"id"`
	Owner     string     `json:"owner"`
	State     string     `json:"state"`
	SQL       string     `json:"sql"`
	Created   time.Time  `json:"created"`
	Ended     *time.Time `json:"ended,omitempty"`
	Error     string     `json:"error,omitempty"`
	Savepoint string     `json:"savepoint,omitempty"`
	Runs      int        `json:"runs"`
}

// jobDetail is GET /v1/jobs/{id}.
type jobDetail struct {
	jobSummary
	Settings      map[string]string `json:"settings"`
	CheckpointDir string            `json:"checkpoint_dir"`
	StartedAt     *time.Time        `json:"started_at,omitempty"` // of the current or last run
	RestoredFrom  string            `json:"restored_from,omitempty"`
	// Plan is the physical DAG as EXPLAIN prints it.
	Plan string `json:"plan,omitempty"`
	// Vertices are the running tasks with their record counters (chained
	// operators run inside their input's vertex and are listed with it).
	Vertices    []vertexMetrics `json:"vertices,omitempty"`
	Statuses    []string        `json:"statuses,omitempty"` // subtasks that are not running normally
	Checkpoints checkpointStats `json:"checkpoints"`
	Late        []string        `json:"late,omitempty"` // late rows per window operator
	Events      []jobEvent      `json:"events"`
}

type vertexMetrics struct {
	Name        string   `json:"name"`
	Parallelism int      `json:"parallelism"`
	Chained     []string `json:"chained,omitempty"`
	RecordsIn   int64    `json:"records_in"`
	RecordsOut  int64    `json:"records_out"`
	// Watermark is the vertex's event-time watermark (the least of its
	// subtasks'), absent until every subtask has one.
	Watermark *time.Time `json:"watermark,omitempty"`
	// Lag is the records the vertex's sources have yet to read (Kafka:
	// log end minus position, per partition), absent if they cannot say.
	Lag *int64 `json:"lag,omitempty"`
	// State is the spilling operators' state: estimated bytes in memory
	// and its budget ('state.memory'), groups in the spill store (Badger),
	// and how many were moved there and back; absent for other vertices.
	State *stateMetrics `json:"state,omitempty"`
}

type stateMetrics struct {
	BudgetBytes   int64 `json:"budget_bytes"`
	ResidentBytes int64 `json:"resident_bytes"`
	SpilledGroups int64 `json:"spilled_groups"`
	Evicted       int64 `json:"evicted"`
	Reloaded      int64 `json:"reloaded"`
}

type checkpointStats struct {
	ckStats
	Last          *checkpointSummary `json:"last,omitempty"`
	LastSavepoint *checkpointSummary `json:"last_savepoint,omitempty"`
}

// checkpointSummary is one checkpoint or savepoint.
type checkpointSummary struct {
	ID               uint64        `json:"id"`
	Kind             string        `json:"kind"`
	Dir              string        `json:"dir,omitempty"`
	Complete         bool          `json:"complete"`
	Problem          string        `json:"problem,omitempty"`
	Full             bool          `json:"full"`
	TriggerTime      *time.Time    `json:"trigger_time,omitempty"`
	CompleteTime     *time.Time    `json:"complete_time,omitempty"`
	DurationMs       float64       `json:"duration_ms"`
	BytesFull        int64         `json:"bytes_full"`
	BytesIncremental int64         `json:"bytes_incremental"`
	Parents          []uint64      `json:"parents,omitempty"`
	MaxSyncMs        float64       `json:"max_sync_ms"`
	MaxAsyncMs       float64       `json:"max_async_ms"`
	MaxAlignMs       float64       `json:"max_alignment_ms"`
	Tasks            []taskSummary `json:"tasks,omitempty"`
}

type taskSummary struct {
	Task    string  `json:"task"`
	SyncMs  float64 `json:"sync_ms"`
	AsyncMs float64 `json:"async_ms"`
	AlignMs float64 `json:"alignment_ms"`
	Bytes   int64   `json:"bytes"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(md *checkpoint.Metadata, dir string, tasks bool) *checkpointSummary {
	tt, ct := md.TriggerTime, md.CompleteTime
	c := &checkpointSummary{ID: md.ID, Kind: md.Kind.String(), Dir: dir, Complete: true, Full: md.Full,
		TriggerTime: &tt, CompleteTime: &ct, DurationMs: ms(md.Duration()), BytesFull: md.BytesFull,
		BytesIncremental: md.BytesIncremental, Parents: md.Parents}
	ts := append([]checkpoint.TaskMetadata(nil), md.Tasks...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Task.String() < ts[j].Task.String() })
	for _, t := range ts {
		c.MaxSyncMs = max(c.MaxSyncMs, ms(t.SyncDur))
		c.MaxAsyncMs = max(c.MaxAsyncMs, ms(t.AsyncDur))
		c.MaxAlignMs = max(c.MaxAlignMs, ms(t.AlignDur))
		if tasks {
			c.Tasks = append(c.Tasks, taskSummary{Task: t.Task.String(), SyncMs: ms(t.SyncDur),
				AsyncMs: ms(t.AsyncDur), AlignMs: ms(t.AlignDur), Bytes: t.Bytes})
		}
	}
	return c
}

func (j *job) summary() jobSummary {
	r := j.record()
	return jobSummary{ID: r.ID, Owner: r.Owner, State: r.State, SQL: r.SQL, Created: r.Created,
		Ended: r.Ended, Error: r.Error, Savepoint: r.Savepoint, Runs: r.Runs}
}

// vertices reads the current run's record counters.
func vertices(spec *exec.JobSpec) []vertexMetrics {
	if spec == nil {
		return nil
	}
	out := make([]vertexMetrics, 0, len(spec.Vertices))
	for _, v := range spec.Vertices {
		m := vertexMetrics{Name: v.Name, Parallelism: v.Parallelism,
			RecordsIn: v.RecordsIn.Load(), RecordsOut: v.RecordsOut.Load()}
		if lag, ok := v.Lag(); ok {
			m.Lag = &lag
		}
		if st, ok := v.Spill(); ok {
			m.State = &stateMetrics{BudgetBytes: st.Budget, ResidentBytes: st.Resident,
				SpilledGroups: st.Spilled, Evicted: st.Evicted, Reloaded: st.Reloaded}
		}
		if wm, ok := v.Watermark(); ok && wm != exec.MaxWatermark {
			t := time.UnixMilli(wm).UTC()
			m.Watermark = &t
		}
		for _, c := range v.Chain {
			m.Chained = append(m.Chained, c.Name)
		}
		out = append(out, m)
	}
	return out
}

func (j *job) detail() jobDetail {
	d := jobDetail{jobSummary: j.summary(), CheckpointDir: j.checkpointDir()}
	j.mu.Lock()
	d.Settings = j.rec.Settings
	if !j.startedAt.IsZero() {
		t := j.startedAt
		d.StartedAt = &t
	}
	d.RestoredFrom = j.restored
	plan, spec, board := j.plan, j.spec, j.board
	d.Checkpoints.ckStats = j.ck
	if j.ck.Last != nil {
		d.Checkpoints.Last = summarize(j.ck.Last, "", false)
	}
	if j.ck.LastSavepoint != nil {
		d.Checkpoints.LastSavepoint = summarize(j.ck.LastSavepoint, "", false)
	}
	d.Events = append([]jobEvent{}, j.events...)
	j.mu.Unlock()
	if plan != nil {
		d.Plan = plan.Explain()
		d.Late = plan.LateReport()
	}
	d.Vertices = vertices(spec)
	if board != nil {
		d.Statuses = board.Lines()
	}
	return d
}

// jobTarget finds /v1/jobs/{id} and checks that the caller owns it.
func (s *Server) jobTarget(w http.ResponseWriter, r *http.Request) *job {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	j := s.jobs.get(r.PathValue("id"))
	if j == nil {
		http.Error(w, "no such job", http.StatusNotFound)
		return nil
	}
	if aerr := s.authorize(user, j.record().Owner, "job "+j.id); aerr != nil {
		s.refuse(w, aerr)
		return nil
	}
	return j
}

// handleJobList: GET /v1/jobs. With authentication, the caller's jobs;
// without, those of the X-Trino-User named, or all.
func (s *Server) handleJobList(w http.ResponseWriter, r *http.Request) {
	user, aerr := s.identify(r)
	if aerr != nil {
		s.refuse(w, aerr)
		return
	}
	out := []jobSummary{}
	for _, j := range s.jobs.list() {
		if sum := j.summary(); user == "" || sum.Owner == user {
			out = append(out, sum)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	if j := s.jobTarget(w, r); j != nil {
		writeJSON(w, http.StatusOK, j.detail())
	}
}

// controlWait bounds how long stop and savepoint requests wait.
const controlWait = time.Minute

// jobError answers a job-control error: 409 when the job is not in a state
// that allows the request.
func jobError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, errJobNotRunning) || errors.Is(err, errJobRunning) {
		status = http.StatusConflict
	}
	http.Error(w, err.Error(), status)
}

// handleJobStop: POST /v1/jobs/{id}/stop[?savepoint=true]. It waits up to a
// minute for the job to stop and answers its detail.
func (s *Server) handleJobStop(w http.ResponseWriter, r *http.Request) {
	j := s.jobTarget(w, r)
	if j == nil {
		return
	}
	var savepoint bool
	switch strings.ToLower(r.URL.Query().Get("savepoint")) {
	case "", "false", "0":
	case "true", "1":
		savepoint = true
	default:
		http.Error(w, "savepoint must be true or false", http.StatusBadRequest)
		return
	}
	if err := j.stop(savepoint, controlWait); err != nil {
		jobError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j.detail())
}

// handleJobSavepoint: POST /v1/jobs/{id}/savepoint. It waits up to a minute
// for the savepoint: 200 with it, or 202 if it is still being written.
func (s *Server) handleJobSavepoint(w http.ResponseWriter, r *http.Request) {
	j := s.jobTarget(w, r)
	if j == nil {
		return
	}
	md, ok, err := j.savepoint(controlWait)
	switch {
	case err != nil:
		jobError(w, err)
	case !ok:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "savepoint requested; not complete yet: see GET /v1/jobs/" + j.id + "/checkpoints"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"savepoint": summarize(&md, savepointDir(j, md.ID), true)})
	}
}

// savepointDir finds the directory of savepoint id.
func savepointDir(j *job, id uint64) string {
	st, err := checkpoint.NewDirStorage(j.checkpointDir())
	if err != nil {
		return ""
	}
	entries, err := st.List()
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.Kind == checkpoint.KindSavepoint && e.ID == id {
			return e.Dir
		}
	}
	return ""
}

// handleJobResume: POST /v1/jobs/{id}/resume starts a stopped, cancelled or
// failed job again (from its savepoint or newest checkpoint).
func (s *Server) handleJobResume(w http.ResponseWriter, r *http.Request) {
	j := s.jobTarget(w, r)
	if j == nil {
		return
	}
	if err := j.resume(s.planJob); err != nil {
		jobError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j.detail())
}

// handleJobCheckpoints: GET /v1/jobs/{id}/checkpoints, every checkpoint and
// savepoint on disk with its figures (per subtask: synchronous,
// asynchronous and alignment durations, bytes).
func (s *Server) handleJobCheckpoints(w http.ResponseWriter, r *http.Request) {
	j := s.jobTarget(w, r)
	if j == nil {
		return
	}
	out, err := j.checkpoints()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// checkpoints lists the job's checkpoints and savepoints on disk.
func (j *job) checkpoints() ([]*checkpointSummary, error) {
	st, err := checkpoint.NewDirStorage(j.checkpointDir())
	if err != nil {
		return nil, err
	}
	entries, err := st.List()
	if err != nil {
		return nil, err
	}
	out := []*checkpointSummary{}
	for _, e := range entries {
		c := &checkpointSummary{ID: e.ID, Kind: e.Kind.String(), Dir: e.Dir}
		if e.Complete {
			if cp, err := st.Open(e.Dir); err != nil {
				c.Problem = err.Error()
			} else {
				c = summarize(&cp.Metadata, e.Dir, true)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
