package shell

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// backend runs statements and controls jobs: in this process (local) or in
// a weir serve (remote).
type backend interface {
	// Exec runs one statement (its text, without the ';'). An INSERT INTO
	// starts a background job and returns its id. Errors in the user's SQL
	// are *sql.SQLError, positioned in text. When ctx is cancelled, Exec
	// stops the statement and returns an error.
	Exec(ctx context.Context, text string, out sink) (jobID string, err error)

	Jobs(ctx context.Context) ([]server.JobSummary, error)
	Job(ctx context.Context, id string) (server.JobDetail, error)
	StopJob(ctx context.Context, id string, savepoint bool) (server.JobDetail, error)
	Savepoint(ctx context.Context, id string) (sp *server.CheckpointSummary, complete bool, err error)
	ResumeJob(ctx context.Context, id string) (server.JobDetail, error)
	Checkpoints(ctx context.Context, id string) ([]*server.CheckpointSummary, error)
	// WaitJob waits until the job's run has ended or ctx is done.
	WaitJob(ctx context.Context, id string) error

	// Where says where statements run, for the banner.
	Where() string
	// Close stops what the backend runs in this process.
	Close() error
}

// ---------------------------------------------------------------- local

// local runs statements in this process, on a session of its own, and
// INSERT INTO jobs in the background with the job manager of weir serve.
type local struct {
	sess *sql.Session
	jobs *server.Jobs
	dir  string
	temp bool // dir is removed by Close
}

// LocalConfig configures the in-process backend.
type LocalConfig struct {
	// DataDir holds the jobs' checkpoints and savepoints; "" uses a
	// temporary directory removed at exit.
	DataDir            string
	CheckpointInterval time.Duration
	Delivery           exec.DeliveryMode
	// Settings are applied to the session first (SET name = value).
	Settings map[string]string
}

// newLocal starts the in-process backend; log receives the job manager's
// messages.
func newLocal(cfg LocalConfig, log io.Writer) (*local, error) {
	l := &local{sess: sql.NewSession(), dir: cfg.DataDir}
	for k, v := range cfg.Settings {
		if err := l.sess.Set(k, v); err != nil {
			return nil, err
		}
	}
	if l.dir == "" {
		d, err := os.MkdirTemp("", "weir-shell-")
		if err != nil {
			return nil, err
		}
		l.dir, l.temp = d, true
	}
	owner := os.Getenv("USER")
	if owner == "" {
		owner = "shell"
	}
	jobs, err := server.NewJobs(server.JobsConfig{Dir: l.dir, CheckpointInterval: cfg.CheckpointInterval,
		Delivery: cfg.Delivery, Log: log}, owner)
	if err != nil {
		l.removeTemp()
		return nil, err
	}
	l.jobs = jobs
	return l, nil
}

func (l *local) removeTemp() {
	if l.temp {
		_ = os.RemoveAll(l.dir)
	}
}

func (l *local) Where() string {
	if l.temp {
		return "in-process (jobs' checkpoints in a temporary directory, removed at exit)"
	}
	return "in-process (jobs' checkpoints and savepoints in " + l.dir + ")"
}

func (l *local) Exec(ctx context.Context, text string, out sink) (string, error) {
	stmts, err := sql.Parse(text)
	if err != nil {
		return "", err
	}
	var job string
	for _, st := range stmts {
		if st.Kind() == sql.KindInsert {
			plan, err := l.sess.PlanInsert(st)
			if err != nil {
				return job, err
			}
			if job, err = l.jobs.Submit(st.Text, l.sess.Settings(), plan); err != nil {
				return job, err
			}
			continue
		}
		if err := l.sess.Exec(ctx, st, localSink{out}); err != nil {
			return job, err
		}
	}
	return job, nil
}

// localSink turns the engine's results (sql.ResultSink) into cells.
type localSink struct{ out sink }

var (
	_ sql.ResultSink = localSink{}
	_ sql.TextSink   = localSink{}
)

func (s localSink) Columns(cols []types.Column, changelog bool) error {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Type: c.Type.String(), Numeric: c.Type.IsNumeric()}
	}
	return s.out.Columns(out, changelog)
}

func (s localSink) Rows(b *types.Batch) error {
	rows := make([][]string, len(b.Rows))
	for i, r := range b.Rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = v.String()
		}
		rows[i] = cells
	}
	var kinds []string // nil: every row is +I
	if b.Kinds != nil {
		kinds = make([]string, len(b.Rows))
		for i := range kinds {
			kinds[i] = b.Kind(i).String()
		}
	}
	return s.out.Rows(rows, kinds)
}

func (s localSink) Done() error               { return s.out.Done() }
func (s localSink) Message(text string) error { return s.out.Message(text) }
func (s localSink) Text(text string) error    { return s.out.Text(text) }

func (l *local) Jobs(context.Context) ([]server.JobSummary, error) { return l.jobs.List(), nil }

func (l *local) Job(_ context.Context, id string) (server.JobDetail, error) { return l.jobs.Detail(id) }

func (l *local) StopJob(_ context.Context, id string, savepoint bool) (server.JobDetail, error) {
	return l.jobs.Stop(id, savepoint)
}

func (l *local) Savepoint(_ context.Context, id string) (*server.CheckpointSummary, bool, error) {
	return l.jobs.Savepoint(id)
}

// ResumeJob plans the job's SQL again against the shell's catalog as it is
// now, with the settings the job was started with.
func (l *local) ResumeJob(_ context.Context, id string) (server.JobDetail, error) {
	return l.jobs.Resume(id, func(text string, settings map[string]string) (*planner.Plan, error) {
		st, err := sql.ParseOne(text)
		if err != nil {
			return nil, err
		}
		sess := sql.NewSessionWithCatalog(l.sess.Catalog())
		for k, v := range settings {
			if err := sess.Set(k, v); err != nil {
				return nil, err
			}
		}
		return sess.PlanInsert(st)
	})
}

func (l *local) Checkpoints(_ context.Context, id string) ([]*server.CheckpointSummary, error) {
	return l.jobs.Checkpoints(id)
}

func (l *local) WaitJob(ctx context.Context, id string) error { return l.jobs.Wait(ctx, id) }

// Close cancels the running jobs and removes a temporary data directory.
func (l *local) Close() error {
	ok := l.jobs.Shutdown(30 * time.Second)
	l.removeTemp()
	if !ok {
		return fmt.Errorf("some jobs did not stop within 30s")
	}
	return nil
}

// runningJobs lists the ids of the running jobs.
func (l *local) runningJobs() []string { return l.jobs.Running() }

// errorText is the message of err without the position that a *sql.SQLError
// puts in front of it.
func errorText(err error, se *sql.SQLError) string {
	if se != nil {
		return se.Msg
	}
	return strings.TrimSpace(err.Error())
}
