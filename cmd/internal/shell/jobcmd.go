package shell

import (
	"context"
	"errors"
	"fmt"
	"github.com/weirsql/weir/cmd/internal/termtext"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/sql"
)

// The job statements, which the shell runs itself (through the backend's
// job API) instead of sending them to the SQL engine:
//
//	SHOW JOBS
//	DESCRIBE JOB 'id'                 (or DESC JOB)
//	SHOW CHECKPOINTS 'id'
//	CREATE SAVEPOINT FOR JOB 'id'
//	STOP JOB 'id' [WITH SAVEPOINT]
//	RESUME JOB 'id'
//
// The id may be quoted ('j-abc', `j-abc`) or not (j-abc).

// jobCommand is a parsed job statement.
type jobCommand struct {
	op        string // jobs, describe, checkpoints, savepoint, stop, resume
	id        string
	savepoint bool // STOP ... WITH SAVEPOINT
}

// jobSyntax is how each job statement is written, for error messages.
var jobSyntax = map[string]string{
	"jobs":        "SHOW JOBS",
	"describe":    "DESCRIBE JOB 'id'",
	"checkpoints": "SHOW CHECKPOINTS 'id'",
	"savepoint":   "CREATE SAVEPOINT FOR JOB 'id'",
	"stop":        "STOP JOB 'id' [WITH SAVEPOINT]",
	"resume":      "RESUME JOB 'id'",
}

// parseJobCommand recognises a job statement. It returns nil, nil for any
// other statement, and a *sql.SQLError positioned in text for a job
// statement written wrong.
func parseJobCommand(text string) (*jobCommand, error) {
	var toks []sql.Token
	for _, t := range sql.Tokens(text) {
		if t.Kind != sql.TokenSpace && t.Kind != sql.TokenComment {
			toks = append(toks, t)
		}
	}
	word := func(i int, w string) bool {
		return i < len(toks) && toks[i].Kind == sql.TokenWord && strings.EqualFold(toks[i].Text, w)
	}
	var op string
	var idAt int // index of the id's first token
	switch {
	case word(0, "SHOW") && word(1, "JOBS"):
		op, idAt = "jobs", -1
	case word(0, "SHOW") && word(1, "CHECKPOINTS"):
		op, idAt = "checkpoints", 2
	case (word(0, "DESCRIBE") || word(0, "DESC")) && word(1, "JOB"):
		op, idAt = "describe", 2
	case word(0, "CREATE") && word(1, "SAVEPOINT"):
		op, idAt = "savepoint", 2
		if !word(2, "FOR") || !word(3, "JOB") {
			return nil, posError(text, toks, 2, "expected FOR JOB: %s", jobSyntax[op])
		}
		idAt = 4
	case word(0, "STOP") && word(1, "JOB"):
		op, idAt = "stop", 2
	case word(0, "RESUME") && word(1, "JOB"):
		op, idAt = "resume", 2
	default:
		return nil, nil
	}
	c := &jobCommand{op: op}
	if idAt < 0 {
		if len(toks) > 2 {
			return nil, posError(text, toks, 2, "unexpected %q: %s takes no arguments", toks[2].Text, jobSyntax[op])
		}
		return c, nil
	}
	// the id: one quoted token, or words, numbers and dashes written together
	end := idAt
	switch {
	case idAt < len(toks) && (toks[idAt].Kind == sql.TokenString || toks[idAt].Kind == sql.TokenQuoted):
		c.id = toks[idAt].Value()
		end = idAt + 1
	default:
		for end < len(toks) && (toks[end].Kind == sql.TokenWord || toks[end].Kind == sql.TokenNumber || toks[end].Text == "-") &&
			!word(end, "WITH") && (end == idAt || toks[end].Start == toks[end-1].End) {
			end++
		}
		if end > idAt {
			c.id = text[toks[idAt].Start:toks[end-1].End]
		}
	}
	if c.id == "" {
		return nil, posError(text, toks, idAt, "expected a job id: %s", jobSyntax[op])
	}
	if op == "stop" && word(end, "WITH") {
		if !word(end+1, "SAVEPOINT") {
			return nil, posError(text, toks, end+1, "expected SAVEPOINT: %s", jobSyntax[op])
		}
		c.savepoint = true
		end += 2
	}
	if end < len(toks) {
		return nil, posError(text, toks, end, "unexpected %q: %s", toks[end].Text, jobSyntax[op])
	}
	return c, nil
}

// posError is a syntax error at token i (or at the end of text).
func posError(text string, toks []sql.Token, i int, format string, args ...any) *sql.SQLError {
	off := len(text)
	if i < len(toks) {
		off = toks[i].Start
	}
	line, col := sql.LineCol(text, off)
	return &sql.SQLError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Kind: sql.ErrSyntax}
}

// runJob runs a job statement.
func (s *Shell) runJob(ctx context.Context, c *jobCommand, p *printer) error {
	switch c.op {
	case "jobs":
		jobs, err := s.be.Jobs(ctx)
		if err != nil {
			return err
		}
		s.noteStates(jobs)
		return showJobs(p, jobs)
	case "describe":
		d, err := s.be.Job(ctx, c.id)
		if err != nil {
			return jobErr(c, err)
		}
		return p.Text(describeJob(d))
	case "checkpoints":
		cks, err := s.be.Checkpoints(ctx, c.id)
		if err != nil {
			return jobErr(c, err)
		}
		return showCheckpoints(p, cks)
	case "savepoint":
		sp, ok, err := s.be.Savepoint(ctx, c.id)
		if err != nil {
			return jobErr(c, err)
		}
		if !ok {
			return p.Message(fmt.Sprintf("Savepoint of job %s requested; it is not complete yet (SHOW CHECKPOINTS '%s' shows it when it is).", c.id, c.id))
		}
		return p.Message(fmt.Sprintf("Savepoint %d of job %s written to %s.%s", sp.ID, c.id, sp.Dir, s.tempNote()))
	case "stop":
		d, err := s.be.StopJob(ctx, c.id, c.savepoint)
		if err != nil {
			return jobErr(c, err)
		}
		s.noteState(d.ID, d.State)
		switch {
		case d.State == server.JobStopped && d.Savepoint != "":
			return p.Message(fmt.Sprintf("Job %s stopped with savepoint %s.%s RESUME JOB '%s' starts it again from there.", c.id, d.Savepoint, s.tempNote(), c.id))
		case d.State == server.JobRunning:
			return p.Message(fmt.Sprintf("Job %s is stopping; SHOW JOBS shows when it has.", c.id))
		}
		return p.Message(fmt.Sprintf("Job %s %s.", c.id, strings.ToLower(d.State)))
	case "resume":
		before, err := s.be.Job(ctx, c.id)
		if err != nil {
			return jobErr(c, err)
		}
		d, err := s.be.ResumeJob(ctx, c.id)
		if err != nil {
			return jobErr(c, err)
		}
		s.noteState(d.ID, d.State)
		from := "from its newest checkpoint (from the beginning if it has none)"
		if before.State == server.JobStopped && before.Savepoint != "" {
			from = "from savepoint " + before.Savepoint
		}
		return p.Message(fmt.Sprintf("Job %s resumed %s.", c.id, from))
	}
	return fmt.Errorf("internal error: job command %q", c.op)
}

// jobErr names the job in an error of the job API.
func jobErr(c *jobCommand, err error) error {
	var re *remoteError
	switch {
	case errors.Is(err, server.ErrNoJob), errors.As(err, &re) && re.status == 404:
		return fmt.Errorf("no job %s (SHOW JOBS lists the jobs)", c.id)
	case errors.As(err, &re):
		return fmt.Errorf("job %s: %s", c.id, re.msg)
	}
	return fmt.Errorf("job %s: %w", c.id, err)
}

// tempNote warns that savepoints of in-process jobs in a temporary
// directory do not outlive the shell.
func (s *Shell) tempNote() string {
	if l, ok := s.be.(*local); ok && l.temp {
		return " (in a temporary directory that is removed when the shell exits; start the shell with --data-dir DIR to keep savepoints)"
	}
	return ""
}

func varchar(names ...string) []Column {
	out := make([]Column, len(names))
	for i, n := range names {
		out[i] = Column{Name: n, Type: "VARCHAR"}
	}
	return out
}

func showJobs(p *printer, jobs []server.JobSummary) error {
	cols := varchar("id", "state", "created", "ended", "sql")
	if err := p.Columns(cols, false); err != nil {
		return err
	}
	var rows [][]string
	for _, j := range jobs {
		ended := ""
		if j.Ended != nil {
			ended = clock(*j.Ended)
		}
		state := j.State
		if j.Error != "" {
			state += ": " + shorten(j.Error, 60)
		}
		rows = append(rows, []string{j.ID, state, clock(j.Created), ended, shorten(oneLineSQL(j.SQL), 70)})
	}
	if len(rows) > 0 {
		if err := p.Rows(rows, nil); err != nil {
			return err
		}
	}
	return p.Done()
}

func showCheckpoints(p *printer, cks []*server.CheckpointSummary) error {
	cols := []Column{{Name: "id", Numeric: true}, {Name: "kind"}, {Name: "state"}, {Name: "full"},
		{Name: "completed", Type: "VARCHAR"}, {Name: "duration_ms", Numeric: true}, {Name: "max_sync_ms", Numeric: true},
		{Name: "max_async_ms", Numeric: true}, {Name: "max_alignment_ms", Numeric: true}, {Name: "size"}, {Name: "dir"}}
	if err := p.Columns(cols, false); err != nil {
		return err
	}
	var rows [][]string
	for _, c := range cks {
		state := "complete"
		switch {
		case c.Problem != "":
			state = "unreadable: " + shorten(c.Problem, 40)
		case !c.Complete:
			state = "incomplete"
		}
		done := ""
		if c.CompleteTime != nil {
			done = clock(*c.CompleteTime)
		}
		full := "incremental"
		if c.Full {
			full = "full"
		}
		rows = append(rows, []string{strconv.FormatUint(c.ID, 10), c.Kind, state, full, done,
			msText(c.DurationMs), msText(c.MaxSyncMs), msText(c.MaxAsyncMs), msText(c.MaxAlignMs),
			byteSize(c.BytesFull + c.BytesIncremental), c.Dir})
	}
	if len(rows) > 0 {
		if err := p.Rows(rows, nil); err != nil {
			return err
		}
	}
	return p.Done()
}

// describeJob renders a job's detail as text.
func describeJob(d server.JobDetail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s: %s", d.ID, d.State)
	if d.Owner != "" {
		fmt.Fprintf(&b, ", owner %s", d.Owner)
	}
	fmt.Fprintf(&b, ", created %s", d.Created.Local().Format("2006-01-02 15:04:05"))
	if d.StartedAt != nil {
		fmt.Fprintf(&b, ", run %d started %s", d.Runs, clock(*d.StartedAt))
	}
	if d.Ended != nil {
		fmt.Fprintf(&b, ", ended %s", clock(*d.Ended))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "SQL: %s\n", oneLineSQL(d.SQL))
	if d.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", d.Error)
	}
	if d.RestoredFrom != "" {
		fmt.Fprintf(&b, "Restored from: %s\n", d.RestoredFrom)
	}
	if d.Savepoint != "" {
		fmt.Fprintf(&b, "Savepoint (of its stop): %s\n", d.Savepoint)
	}
	if len(d.Settings) > 0 {
		keys := make([]string, 0, len(d.Settings))
		for k := range d.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+d.Settings[k])
		}
		fmt.Fprintf(&b, "Settings: %s\n", strings.Join(kv, ", "))
	}
	ck := d.Checkpoints
	fmt.Fprintf(&b, "Checkpoints: %d completed, %d failed", ck.Completed, ck.Failed)
	if d.CheckpointDir != "" {
		fmt.Fprintf(&b, ", in %s", d.CheckpointDir)
	}
	b.WriteString("\n")
	if ck.Last != nil {
		fmt.Fprintf(&b, "  last:           %s\n", checkpointLine(ck.Last))
	}
	if ck.LastSavepoint != nil {
		fmt.Fprintf(&b, "  last savepoint: %s\n", checkpointLine(ck.LastSavepoint))
	}
	if ck.LastFailure != "" {
		fmt.Fprintf(&b, "  last failure:   %s\n", ck.LastFailure)
	}
	if len(d.Vertices) > 0 {
		b.WriteString("Operators:\n")
		nameW := len("operator")
		for _, v := range d.Vertices {
			nameW = max(nameW, termtext.DisplayWidth(vertexName(v)))
		}
		fmt.Fprintf(&b, "  %-*s  %11s  %12s  %12s\n", nameW, "operator", "parallelism", "records in", "records out")
		for _, v := range d.Vertices {
			fmt.Fprintf(&b, "  %-*s  %11d  %12d  %12d\n", nameW, vertexName(v), v.Parallelism, v.RecordsIn, v.RecordsOut)
		}
	}
	if len(d.Statuses) > 0 {
		b.WriteString("Subtasks not running normally:\n")
		for _, s := range d.Statuses {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	for _, l := range d.Late {
		fmt.Fprintf(&b, "Late rows: %s\n", l)
	}
	if d.Plan != "" {
		b.WriteString("Plan:\n")
		for _, l := range strings.Split(strings.TrimRight(d.Plan, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	if len(d.Events) > 0 {
		b.WriteString("Recent events:\n")
		events := d.Events
		if len(events) > 10 {
			events = events[len(events)-10:]
		}
		for _, e := range events {
			fmt.Fprintf(&b, "  %s  %s\n", clock(e.Time), e.Message)
		}
	}
	return b.String()
}

func vertexName(v server.VertexMetrics) string {
	if len(v.Chained) == 0 {
		return v.Name
	}
	return v.Name + " → " + strings.Join(v.Chained, " → ")
}

func checkpointLine(c *server.CheckpointSummary) string {
	s := fmt.Sprintf("#%d", c.ID)
	if c.CompleteTime != nil {
		s += " at " + clock(*c.CompleteTime)
	}
	kind := "incremental"
	if c.Full {
		kind = "full"
	}
	return s + fmt.Sprintf(", %s, %s ms (sync %s ms, async %s ms, alignment %s ms), %s", kind,
		msText(c.DurationMs), msText(c.MaxSyncMs), msText(c.MaxAsyncMs), msText(c.MaxAlignMs),
		byteSize(c.BytesFull+c.BytesIncremental))
}

// clock is a time of day in the local zone; with the date when it is not
// today.
func clock(t time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("15:04:05")
}

func msText(ms float64) string {
	switch {
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64)
	case ms >= 1:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 3, 64)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " B"
}

// oneLineSQL folds a statement onto one line.
func oneLineSQL(s string) string { return strings.Join(strings.Fields(s), " ") }

func shorten(s string, n int) string {
	if termtext.DisplayWidth(s) <= n {
		return s
	}
	return cut(s, n)
}
