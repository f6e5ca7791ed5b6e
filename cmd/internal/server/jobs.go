package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
)

// Job states.
const (
	jobRunning  = "RUNNING"
	jobFinished = "FINISHED" // its bounded inputs ended
	jobFailed   = "FAILED"
	jobCanceled = "CANCELED" // stopped without a savepoint
	jobStopped  = "STOPPED"  // stopped with a savepoint
)

// errJobCanceled is the cause of a job cancelled by POST .../stop.
var errJobCanceled = errors.New("job stopped by its owner")

// jobOptions are the checkpoint settings of every job.
type jobOptions struct {
	interval  time.Duration
	timeout   time.Duration
	retain    int
	fullEvery int
	delivery  exec.DeliveryMode
}

// jobManager runs INSERT INTO statements as background jobs. Each job has
// a directory <data>/jobs/<id> holding job.json (its SQL, owner, settings
// and state, rewritten atomically on every state change), checkpoints/ (a
// checkpoint.DirStorage root: chk-<n>/, savepoints/) and state/ (the Badger
// working directory of the current run, removed before each run).
//
// Jobs always run with checkpoints. At start, every job whose job.json says
// RUNNING is planned again from its SQL (against the replayed catalog, with
// its settings) and resumed from its newest complete checkpoint — what
// 'weir run --restore latest' does. A server shutdown cancels running jobs
// but leaves them RUNNING on disk, so that the next start resumes them.
type jobManager struct {
	dir    string
	opts   jobOptions
	log    io.Writer
	ctx    context.Context // cancelled with errShutdown at shutdown
	cancel context.CancelCauseFunc

	mu   sync.Mutex
	jobs map[string]*job
	wg   sync.WaitGroup
}

// jobRecord is job.json.
type jobRecord struct {
	ID       string            `json:"id"`
	Owner    string            `json:"owner"`
	SQL      string            `json:"sql"`
	Settings map[string]string `json:"settings"`
	// CatalogVersion is the catalog the job was planned against (the
	// number of DDL statements applied then); it is planned against it
	// again after a restart.
	CatalogVersion int        `json:"catalog_version"`
	Created        time.Time  `json:"created"`
	State          string     `json:"state"`
	Error          string     `json:"error,omitempty"`
	Savepoint      string     `json:"savepoint,omitempty"` // written by the last stop with savepoint
	Ended          *time.Time `json:"ended,omitempty"`
	Runs           int        `json:"runs"` // starts, counting resumes
}

const jobFile = "job.json"

// job is one background job.
type job struct {
	id  string
	m   *jobManager
	dir string

	mu        sync.Mutex
	rec       jobRecord
	plan      *planner.Plan
	spec      *exec.JobSpec // the current run's, for metrics; nil before it starts
	board     *exec.StatusBoard
	control   *exec.CheckpointControl
	cancel    context.CancelCauseFunc
	done      chan struct{} // closed when the current run ends
	running   bool
	startedAt time.Time
	restored  string // the checkpoint the current run resumed from
	ck        ckStats
	events    []jobEvent
	spWaiters []chan checkpoint.Metadata
}

// ckStats sums up a job's checkpoints since the server started it.
type ckStats struct {
	Completed     int64                `json:"completed"`
	Failed        int64                `json:"failed"`
	LastFailure   string               `json:"last_failure,omitempty"`
	Last          *checkpoint.Metadata `json:"-"`
	LastSavepoint *checkpoint.Metadata `json:"-"`
}

// jobEvent is a line of a job's recent history.
type jobEvent struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

const maxJobEvents = 100

func newJobManager(dir string, opts jobOptions, log io.Writer) (*jobManager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &jobManager{dir: dir, opts: opts, log: log, ctx: ctx, cancel: cancel, jobs: map[string]*job{}}, nil
}

// submit starts a new job for an INSERT INTO planned as plan.
func (m *jobManager) submit(owner, sqlText string, settings map[string]string, catalogVersion int, plan *planner.Plan) (*job, error) {
	if m.ctx.Err() != nil {
		return nil, errShutdown
	}
	m.mu.Lock()
	var id string
	for {
		id = "j-" + randomID(6)
		if _, taken := m.jobs[id]; !taken {
			break
		}
	}
	j := &job{id: id, m: m, dir: filepath.Join(m.dir, id),
		rec: jobRecord{ID: id, Owner: owner, SQL: sqlText, Settings: settings, CatalogVersion: catalogVersion,
			Created: time.Now().UTC(), State: jobRunning}}
	m.jobs[id] = j
	m.mu.Unlock()
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		m.forget(id)
		return nil, err
	}
	if err := j.start(plan, ""); err != nil {
		m.forget(id)
		_ = os.RemoveAll(j.dir)
		return nil, err
	}
	return j, nil
}

func (m *jobManager) forget(id string) {
	m.mu.Lock()
	delete(m.jobs, id)
	m.mu.Unlock()
}

func (m *jobManager) get(id string) *job {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs[id]
}

// list returns the jobs, oldest first.
func (m *jobManager) list() []*job {
	m.mu.Lock()
	out := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		out = append(out, j)
	}
	m.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		ra, rb := out[a].record(), out[b].record()
		if !ra.Created.Equal(rb.Created) {
			return ra.Created.Before(rb.Created)
		}
		return ra.ID < rb.ID
	})
	return out
}

// load reads every job.json and resumes the jobs that were RUNNING. plan
// plans a job's SQL again.
func (m *jobManager) load(plan func(jobRecord) (*planner.Plan, error)) (resumed int, err error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(m.dir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, jobFile))
		if errors.Is(err, os.ErrNotExist) {
			continue // a job whose first write never finished
		}
		if err != nil {
			return resumed, err
		}
		var rec jobRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return resumed, fmt.Errorf("%s: %w", filepath.Join(dir, jobFile), err)
		}
		if rec.ID != e.Name() {
			return resumed, fmt.Errorf("%s: id %q does not match its directory", filepath.Join(dir, jobFile), rec.ID)
		}
		j := &job{id: rec.ID, m: m, dir: dir, rec: rec}
		m.mu.Lock()
		m.jobs[rec.ID] = j
		m.mu.Unlock()
		if rec.State != jobRunning {
			continue
		}
		p, err := plan(rec)
		if err != nil {
			j.mu.Lock()
			j.rec.State, j.rec.Error = jobFailed, "cannot resume after a server restart: "+err.Error()
			j.mu.Unlock()
			j.event("%s", j.record().Error)
			if err := j.persist(); err != nil {
				return resumed, err
			}
			continue
		}
		j.event("resuming after a server restart")
		if err := j.start(p, "latest"); err != nil {
			return resumed, err
		}
		resumed++
	}
	return resumed, nil
}

// shutdown cancels every running job (they stay RUNNING on disk) and waits
// up to timeout for them to stop.
func (m *jobManager) shutdown(timeout time.Duration) bool {
	m.cancel(errShutdown)
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// ---------------------------------------------------------------- one job

func (j *job) record() jobRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec
}

func (j *job) event(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, jobEvent{Time: time.Now().UTC(), Message: fmt.Sprintf(format, args...)})
	if len(j.events) > maxJobEvents {
		j.events = append(j.events[:0], j.events[len(j.events)-maxJobEvents:]...)
	}
}

// persist writes job.json atomically.
func (j *job) persist() error {
	j.mu.Lock()
	b, err := json.MarshalIndent(j.rec, "", "  ")
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(j.dir, jobFile), append(b, '\n'))
}

func (j *job) checkpointDir() string { return filepath.Join(j.dir, "checkpoints") }

// start runs plan in the background, resuming from restore: "" (from the
// beginning), "latest" (the newest complete checkpoint, if any) or the
// directory of a checkpoint or savepoint.
func (j *job) start(plan *planner.Plan, restore string) error {
	ctx, cancel := context.WithCancelCause(j.m.ctx)
	done := make(chan struct{})
	j.mu.Lock()
	if j.running {
		j.mu.Unlock()
		cancel(nil)
		return fmt.Errorf("job %s is already running", j.id)
	}
	j.plan, j.spec, j.board, j.control = plan, nil, &exec.StatusBoard{}, &exec.CheckpointControl{}
	j.cancel, j.done, j.running, j.startedAt, j.restored = cancel, done, true, time.Now().UTC(), ""
	j.rec.State, j.rec.Error, j.rec.Ended = jobRunning, "", nil
	j.rec.Runs++
	j.mu.Unlock()
	if err := j.persist(); err != nil {
		j.mu.Lock()
		j.running = false
		j.mu.Unlock()
		cancel(nil)
		close(done)
		return err
	}
	j.m.wg.Add(1)
	go func() {
		defer j.m.wg.Done()
		defer close(done)
		err := j.run(ctx, plan, restore)
		j.ended(ctx, err)
	}()
	return nil
}

func (j *job) run(ctx context.Context, plan *planner.Plan, restore string) error {
	storage, err := checkpoint.NewDirStorage(j.checkpointDir())
	if err != nil {
		return err
	}
	stateDir := filepath.Join(j.dir, "state")
	// the working state of a run that died; the durable state is in the checkpoints
	if err := os.RemoveAll(stateDir); err != nil {
		return err
	}
	o := j.m.opts
	j.mu.Lock()
	control, board := j.control, j.board
	j.mu.Unlock()
	cfg := &exec.CheckpointConfig{
		Mode:    o.delivery,
		Storage: storage,
		Coordinator: checkpoint.Config{Interval: o.interval, Timeout: o.timeout,
			TolerableFailures: 1 << 30, FullEvery: o.fullEvery},
		Retain:   o.retain,
		StateDir: stateDir,
		Control:  control,
		OnEvent:  j.onCheckpointEvent,
	}
	switch restore {
	case "":
	case "latest":
		cp, warn, err := storage.Latest()
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			j.event("no complete checkpoint in %s: starting from the beginning", j.checkpointDir())
		case err != nil:
			return err
		default:
			if warn != nil {
				j.event("warning: %v", warn)
			}
			cfg.Restore = &cp
		}
	default:
		cp, err := storage.Open(restore)
		if err != nil {
			return fmt.Errorf("restore from %s: %w", restore, err)
		}
		cfg.Restore = &cp
	}
	if cfg.Restore != nil {
		j.mu.Lock()
		j.restored = cfg.Restore.Dir
		j.mu.Unlock()
		j.event("restoring from %s %d (%s)", cfg.Restore.Metadata.Kind, cfg.Restore.Metadata.ID, cfg.Restore.Dir)
	}
	spec := plan.CheckpointedJob(cfg)
	spec.OnStatus = board.Set
	j.mu.Lock()
	j.spec = spec
	j.mu.Unlock()
	return exec.Run(ctx, spec)
}

// ended records how a run ended.
func (j *job) ended(ctx context.Context, err error) {
	var stopped *exec.StoppedError
	now := time.Now().UTC()
	j.mu.Lock()
	j.running = false
	switch {
	case errors.As(err, &stopped):
		j.rec.State, j.rec.Savepoint = jobStopped, stopped.Dir
	case err == nil:
		j.rec.State = jobFinished
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errShutdown):
		// stays RUNNING on disk: the next start resumes it
		j.mu.Unlock()
		j.event("cancelled by the server's shutdown; it resumes at the next start")
		return
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errJobCanceled):
		j.rec.State = jobCanceled
	default:
		j.rec.State, j.rec.Error = jobFailed, err.Error()
	}
	j.rec.Ended = &now
	state := j.rec.State
	for _, w := range j.spWaiters {
		close(w)
	}
	j.spWaiters = nil
	j.mu.Unlock()
	if err != nil && state == jobFailed {
		j.event("failed: %v", err)
	} else {
		j.event("%s", state)
	}
	if perr := j.persist(); perr != nil {
		fmt.Fprintf(j.m.log, "weir serve: job %s: saving its state: %v\n", j.id, perr)
	}
}

// onCheckpointEvent is the job's CheckpointConfig.OnEvent (driver goroutine).
func (j *job) onCheckpointEvent(e exec.CheckpointEvent) {
	switch e.Kind {
	case "completed":
		j.mu.Lock()
		j.ck.Completed++
		if e.Metadata != nil {
			md := *e.Metadata
			if md.Kind == checkpoint.KindSavepoint {
				j.ck.LastSavepoint = &md
				for _, w := range j.spWaiters {
					w <- md
					close(w)
				}
				j.spWaiters = nil
			} else {
				j.ck.Last = &md
			}
		}
		j.mu.Unlock()
		if e.Metadata != nil && e.Metadata.Kind == checkpoint.KindSavepoint {
			j.event("savepoint %d written to %s", e.ID, e.Dir)
		}
	case "aborted":
		j.mu.Lock()
		j.ck.Failed++
		j.ck.LastFailure = e.Reason
		j.mu.Unlock()
		if e.Reason != "" {
			j.event("checkpoint %d failed: %s", e.ID, e.Reason)
		}
	case "warning":
		j.event("warning: %s", e.Reason)
	}
}

// Errors of job control, for the HTTP status.
var (
	errJobNotRunning = errors.New("the job is not running")
	errJobRunning    = errors.New("the job is running")
)

// stop cancels the job, or with savepoint asks for a savepoint after which
// it stops; it waits up to wait for the job to end.
func (j *job) stop(savepoint bool, wait time.Duration) error {
	j.mu.Lock()
	running, control, cancel, done := j.running, j.control, j.cancel, j.done
	j.mu.Unlock()
	if !running {
		return errJobNotRunning
	}
	if savepoint {
		if err := j.whenCheckpointing(control, done, wait, control.StopWithSavepoint); err != nil {
			return err
		}
		j.event("stop with savepoint requested")
	} else {
		j.event("stop requested")
		cancel(errJobCanceled)
	}
	select {
	case <-done:
	case <-time.After(wait):
	}
	return nil
}

// savepoint takes a savepoint and waits up to wait for it to complete. ok
// is false if it did not complete in time (it may still complete later).
func (j *job) savepoint(wait time.Duration) (md checkpoint.Metadata, ok bool, err error) {
	w := make(chan checkpoint.Metadata, 1)
	j.mu.Lock()
	running, control, done := j.running, j.control, j.done
	if running {
		j.spWaiters = append(j.spWaiters, w)
	}
	j.mu.Unlock()
	if !running {
		return md, false, errJobNotRunning
	}
	if err := j.whenCheckpointing(control, done, wait, control.Savepoint); err != nil {
		j.dropWaiter(w)
		return md, false, err
	}
	j.event("savepoint requested")
	select {
	case md, ok = <-w:
		if !ok {
			return md, false, fmt.Errorf("%w: it ended before the savepoint completed", errJobNotRunning)
		}
		return md, true, nil
	case <-time.After(wait):
		j.dropWaiter(w)
		return md, false, nil
	}
}

// whenCheckpointing calls request (a CheckpointControl method) once the
// run's checkpoint driver is bound: a run that is starting (restoring its
// state) is not yet, and says exec.ErrNotCheckpointing. It gives up when
// the run ends or after wait.
func (j *job) whenCheckpointing(control *exec.CheckpointControl, done <-chan struct{}, wait time.Duration, request func() error) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := request()
		if !errors.Is(err, exec.ErrNotCheckpointing) {
			return err
		}
		select {
		case <-done:
			return fmt.Errorf("%w: it ended", errJobNotRunning)
		case <-deadline.C:
			return fmt.Errorf("%w: it has not started checkpointing within %v", errJobNotRunning, wait)
		case <-tick.C:
		}
	}
}

func (j *job) dropWaiter(w chan checkpoint.Metadata) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, o := range j.spWaiters {
		if o == w {
			j.spWaiters = append(j.spWaiters[:i], j.spWaiters[i+1:]...)
			return
		}
	}
}

// resume starts a job that is not running again: a STOPPED job from its
// savepoint, any other from its newest complete checkpoint (or from the
// beginning if it has none).
func (j *job) resume(plan func(jobRecord) (*planner.Plan, error)) error {
	rec := j.record()
	j.mu.Lock()
	running := j.running
	j.mu.Unlock()
	if running {
		return errJobRunning
	}
	if rec.State == jobFinished {
		return fmt.Errorf("%w: the job finished; submit the INSERT again to run it again", errJobNotRunning)
	}
	p, err := plan(rec)
	if err != nil {
		return err
	}
	restore := "latest"
	if rec.State == jobStopped && rec.Savepoint != "" {
		restore = rec.Savepoint
	}
	j.event("resume requested")
	return j.start(p, restore)
}

// ---------------------------------------------------------------- files

// writeFileAtomic writes data to path through a temporary file, fsync and
// rename, then fsyncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
