package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
)

// The job manager without the HTTP server, for 'weir shell', whose
// INSERT INTO jobs run in the background inside the shell's process
// (cmd/internal/shell). The shell shows these documents whether they come
// from this API (in-process) or from the JSON endpoints of a weir serve
// (--server), so they are exported under the names below: the same Go types
// the endpoints encode.

type (
	// JobSummary is a job as GET /v1/jobs lists it.
	JobSummary = jobSummary
	// JobDetail is GET /v1/jobs/{id}.
	JobDetail = jobDetail
	// VertexMetrics is one running task of a job with its record counters.
	VertexMetrics = vertexMetrics
	// CheckpointSummary is one checkpoint or savepoint with its figures.
	CheckpointSummary = checkpointSummary
	// TaskSummary is one subtask's part of a checkpoint.
	TaskSummary = taskSummary
	// JobEvent is a line of a job's recent history.
	JobEvent = jobEvent
)

// Job states, as JobSummary.State says them.
const (
	JobRunning  = jobRunning
	JobFinished = jobFinished
	JobFailed   = jobFailed
	JobCanceled = jobCanceled
	JobStopped  = jobStopped
)

// Errors of the job API. Control requests on a job that is not in a state
// that allows them wrap ErrJobNotRunning or ErrJobRunning (HTTP 409).
var (
	ErrNoJob         = errors.New("no such job")
	ErrJobNotRunning = errJobNotRunning
	ErrJobRunning    = errJobRunning
)

// JobsConfig configures Jobs. Zero values take the defaults of Config.
type JobsConfig struct {
	// Dir holds a directory per job: job.json, checkpoints/ (with
	// savepoints/) and the working state. Required.
	Dir string
	// Checkpoint settings of every job: interval [10s], timeout [10m],
	// complete checkpoints kept [3], every K-th full [10], delivery
	// [exactly-once].
	CheckpointInterval  time.Duration
	CheckpointTimeout   time.Duration
	CheckpointRetain    int
	CheckpointFullEvery int
	Delivery            exec.DeliveryMode
	// Log receives messages about failures to save a job's state.
	Log io.Writer
}

// Jobs runs INSERT INTO plans as background jobs with checkpoints, as weir
// serve does, in the caller's process. It is safe for concurrent use. Jobs
// from an earlier process in the same directory are not loaded.
type Jobs struct {
	m     *jobManager
	owner string
}

// NewJobs makes a job manager over cfg.Dir; owner is recorded as the owner
// of every job it starts.
func NewJobs(cfg JobsConfig, owner string) (*Jobs, error) {
	if cfg.Dir == "" {
		return nil, errors.New("JobsConfig.Dir is required")
	}
	c := Config{CheckpointInterval: cfg.CheckpointInterval, CheckpointTimeout: cfg.CheckpointTimeout,
		CheckpointRetain: cfg.CheckpointRetain, CheckpointFullEvery: cfg.CheckpointFullEvery,
		Delivery: cfg.Delivery, Log: cfg.Log}
	if err := c.defaults(); err != nil {
		return nil, err
	}
	m, err := newJobManager(cfg.Dir, jobOptions{interval: c.CheckpointInterval, timeout: c.CheckpointTimeout,
		retain: c.CheckpointRetain, fullEvery: c.CheckpointFullEvery, delivery: c.Delivery}, c.Log)
	if err != nil {
		return nil, err
	}
	return &Jobs{m: m, owner: owner}, nil
}

// Submit starts plan (an INSERT INTO planned by sql.Session.PlanInsert) as
// a job and returns its id. sqlText and settings are recorded with it, for
// Resume.
func (js *Jobs) Submit(sqlText string, settings map[string]string, plan *planner.Plan) (string, error) {
	j, err := js.m.submit(js.owner, sqlText, settings, 0, plan)
	if err != nil {
		return "", err
	}
	return j.id, nil
}

func (js *Jobs) get(id string) (*job, error) {
	j := js.m.get(id)
	if j == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoJob, id)
	}
	return j, nil
}

// List returns the jobs, oldest first.
func (js *Jobs) List() []JobSummary {
	var out []JobSummary
	for _, j := range js.m.list() {
		out = append(out, j.summary())
	}
	return out
}

// Detail returns a job with its plan, counters, checkpoints and events.
func (js *Jobs) Detail(id string) (JobDetail, error) {
	j, err := js.get(id)
	if err != nil {
		return JobDetail{}, err
	}
	return j.detail(), nil
}

// Stop cancels a running job or, with savepoint, takes a savepoint and
// then stops it; it waits up to a minute for the job to end.
func (js *Jobs) Stop(id string, savepoint bool) (JobDetail, error) {
	j, err := js.get(id)
	if err != nil {
		return JobDetail{}, err
	}
	if err := j.stop(savepoint, controlWait); err != nil {
		return JobDetail{}, err
	}
	return j.detail(), nil
}

// Savepoint takes a savepoint of a running job and waits up to a minute for
// it; ok is false if it was not complete by then (it may complete later).
func (js *Jobs) Savepoint(id string) (sp *CheckpointSummary, ok bool, err error) {
	j, err := js.get(id)
	if err != nil {
		return nil, false, err
	}
	md, ok, err := j.savepoint(controlWait)
	if err != nil || !ok {
		return nil, ok, err
	}
	return summarize(&md, savepointDir(j, md.ID), true), true, nil
}

// Resume starts a job that is not running again: a stopped one from its
// savepoint, a cancelled or failed one from its newest checkpoint. plan
// plans the job's SQL again with its recorded settings.
func (js *Jobs) Resume(id string, plan func(sqlText string, settings map[string]string) (*planner.Plan, error)) (JobDetail, error) {
	j, err := js.get(id)
	if err != nil {
		return JobDetail{}, err
	}
	if err := j.resume(func(rec jobRecord) (*planner.Plan, error) { return plan(rec.SQL, rec.Settings) }); err != nil {
		return JobDetail{}, err
	}
	return j.detail(), nil
}

// Checkpoints lists the checkpoints and savepoints of a job on disk, with
// their figures.
func (js *Jobs) Checkpoints(id string) ([]*CheckpointSummary, error) {
	j, err := js.get(id)
	if err != nil {
		return nil, err
	}
	return j.checkpoints()
}

// Wait waits until the job's current run has ended or ctx is done.
func (js *Jobs) Wait(ctx context.Context, id string) error {
	j, err := js.get(id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	running, done := j.running, j.done
	j.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Running returns the ids of the running jobs.
func (js *Jobs) Running() []string {
	var out []string
	for _, j := range js.m.list() {
		j.mu.Lock()
		if j.running {
			out = append(out, j.id)
		}
		j.mu.Unlock()
	}
	return out
}

// Shutdown cancels every running job and waits up to timeout for them to
// stop; false if some did not.
func (js *Jobs) Shutdown(timeout time.Duration) bool { return js.m.shutdown(timeout) }
