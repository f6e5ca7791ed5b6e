package shell

import (
	"context"
	"errors"
	"fmt"
	"github.com/weirsql/weir/cmd/internal/termtext"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/weirsql/weir/cmd/internal/server"
	"github.com/weirsql/weir/sql"
)

// Exit codes of Run and RunScript.
const (
	ExitOK          = 0
	ExitError       = 1   // a statement failed (RunScript), or the shell could not start
	ExitInterrupted = 130 // Ctrl-C during RunScript
)

// Config configures a shell.
type Config struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdoutTerminal: standard output is a terminal, so updating results
	// may be redrawn in place. TermSize returns its size.
	StdoutTerminal bool
	TermSize       func() (width, height int)
	// History is the history file; "" keeps no history.
	History string
	// Mode is the initial result mode: ModeTable (default) or
	// ModeChangelog.
	Mode string
	// Server, if set, runs statements in a weir serve; otherwise they run
	// in this process, configured by Local.
	Server *RemoteConfig
	Local  LocalConfig
	// Version is shown in the banner.
	Version string
	// RedrawEvery bounds how often a live table is redrawn [100ms].
	RedrawEvery time.Duration
}

// Shell is an interactive SQL shell, or a script runner (RunScript). Its
// methods are called from one goroutine, except Interrupt and Stop.
type Shell struct {
	cfg  Config
	be   backend
	disp *display
	comp *completer

	dmlSync bool // SET 'table.dml-sync' = 'true': INSERT waits for its job

	mu          sync.Mutex
	cancel      context.CancelFunc // the running statement's
	printer     *printer           // its output
	interrupted bool               // Interrupt cancelled it
	pending     string             // the unfinished input, for completion
	rl          *readline.Instance // while Run reads the terminal
	stopped     bool               // Stop was called

	// jobs started by this shell, with the state last shown, so that the
	// prompt can say when one ends
	jobStates map[string]string
}

// New starts a shell's backend: in this process, or a connection to
// cfg.Server (checked with a request).
func New(ctx context.Context, cfg Config) (*Shell, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.RedrawEvery <= 0 {
		cfg.RedrawEvery = 100 * time.Millisecond
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeTable
	case ModeTable, ModeChangelog:
	default:
		return nil, fmt.Errorf("unknown result mode %q (want %s or %s)", cfg.Mode, ModeTable, ModeChangelog)
	}
	s := &Shell{cfg: cfg, jobStates: map[string]string{}}
	s.disp = &display{out: cfg.Stdout, terminal: cfg.StdoutTerminal, size: cfg.TermSize, mode: cfg.Mode,
		every: cfg.RedrawEvery, now: time.Now,
		after: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }}
	s.comp = newCompleter(s)
	if cfg.Server != nil {
		r, err := newRemote(*cfg.Server)
		if err != nil {
			return nil, err
		}
		if err := r.ping(ctx); err != nil {
			return nil, err
		}
		s.be = r
	} else {
		l, err := newLocal(cfg.Local, cfg.Stderr)
		if err != nil {
			return nil, err
		}
		s.be = l
	}
	return s, nil
}

// Close stops the backend: in-process jobs still running are cancelled.
func (s *Shell) Close() error { return s.be.Close() }

// Interrupt cancels the running statement (Ctrl-C). It may be called from
// any goroutine; without a running statement it does nothing.
func (s *Shell) Interrupt() {
	s.mu.Lock()
	p := s.printer
	if s.cancel != nil {
		s.cancel()
		s.interrupted = true
	}
	s.mu.Unlock()
	if p != nil {
		p.halt()
	}
}

// Stop ends the shell (SIGTERM): it cancels the running statement and makes
// Run return at once, even while it waits for a line. It may be called from
// any goroutine.
func (s *Shell) Stop() {
	s.mu.Lock()
	s.stopped = true
	if s.cancel != nil {
		s.cancel()
		s.interrupted = true
	}
	rl := s.rl
	s.mu.Unlock()
	if rl != nil {
		rl.Close() // the pending Readline returns io.EOF; the terminal is restored
	}
}

func (s *Shell) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// errInterrupted is what a statement cancelled by Interrupt returns.
var errInterrupted = errors.New("cancelled")

// running registers the cancel function and printer (nil if none) of the
// statement that starts, and returns a function to call when it ends, which
// says whether it was interrupted.
func (s *Shell) running(cancel context.CancelFunc, p *printer) func() bool {
	s.mu.Lock()
	s.cancel, s.printer, s.interrupted = cancel, p, false
	if s.stopped { // Stop came first: nothing more runs
		cancel()
		s.interrupted = true
	}
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cancel, s.printer = nil, nil
		cancel()
		return s.interrupted
	}
}

func (s *Shell) pendingInput() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

func (s *Shell) setPending(text string) {
	s.mu.Lock()
	s.pending = text
	s.mu.Unlock()
}

// ---------------------------------------------------------------- interactive

const (
	prompt     = "weir> "
	contPrompt = "   -> "
)

// Run reads statements from the terminal until Ctrl-D or \q and returns
// the exit code: ExitOK, or ExitInterrupted after Stop.
func (s *Shell) Run(ctx context.Context) int {
	stdin, ok := s.cfg.Stdin.(io.ReadCloser)
	if !ok {
		stdin = io.NopCloser(s.cfg.Stdin)
	}
	// prompts go where the person is: standard error when standard output
	// is redirected
	promptOut := s.cfg.Stdout
	if !s.cfg.StdoutTerminal {
		promptOut = s.cfg.Stderr
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 prompt,
		HistoryFile:            s.cfg.History,
		HistoryLimit:           1000,
		DisableAutoSaveHistory: true, // a statement's lines are saved as one entry
		HistorySearchFold:      true,
		AutoComplete:           s.comp,
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n",
		Stdin:                  readline.NewCancelableStdin(stdin),
		Stdout:                 promptOut,
		Stderr:                 s.cfg.Stderr,
		FuncIsTerminal:         func() bool { return true },
		FuncGetWidth: func() int {
			if w, _ := s.disp.termSize(); w > 0 {
				return w
			}
			return 80
		},
	})
	if err != nil {
		fmt.Fprintf(s.cfg.Stderr, "weir shell: %v\n", err)
		return ExitError
	}
	defer rl.Close()
	s.mu.Lock()
	s.rl = rl
	stopped := s.stopped
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.rl = nil
		s.mu.Unlock()
	}()
	if stopped {
		return ExitInterrupted
	}
	fmt.Fprintf(promptOut, "Weir shell %s, %s.\nStatements end with ';'. \\help for help, Ctrl-D to exit.\n\n", s.cfg.Version, s.be.Where())

	var buf string
	for {
		if sql.Blank(buf) {
			buf = ""
			s.notifyJobs(ctx)
			rl.SetPrompt(prompt)
		} else {
			rl.SetPrompt(contPrompt)
		}
		s.setPending(buf)
		line, err := rl.Readline()
		switch {
		case s.isStopped():
			s.exitMessage()
			return ExitInterrupted
		case errors.Is(err, readline.ErrInterrupt):
			buf = "" // Ctrl-C clears what was typed
			continue
		case errors.Is(err, io.EOF):
			s.exitMessage()
			return ExitOK
		case err != nil:
			fmt.Fprintf(s.cfg.Stderr, "weir shell: reading input: %v\n", err)
			return ExitError
		}
		if buf == "" && strings.HasPrefix(strings.TrimSpace(line), `\`) {
			cmd := strings.TrimSpace(line)
			_ = rl.SaveHistory(cmd)
			if quit := s.backslash(ctx, cmd); quit {
				s.exitMessage()
				return ExitOK
			}
			continue
		}
		buf += line + "\n"
		spans, rest := sql.SplitComplete(buf)
		if rest == 0 {
			continue // not finished: the continuation prompt
		}
		if entry := historyEntry(buf[:rest]); entry != "" {
			_ = rl.SaveHistory(entry)
		}
		for _, sp := range spans {
			if err := s.runStatement(ctx, buf, sp, ""); errors.Is(err, errInterrupted) {
				break // the rest of what was typed with it is dropped
			}
		}
		if s.isStopped() {
			s.exitMessage()
			return ExitInterrupted
		}
		buf = buf[rest:]
	}
}

// historyEntry folds the lines of what was typed into one history entry
// (the history file has one entry per line): line comments are dropped
// (they would swallow what follows), runs of blanks become one space, and so
// does a line break inside a string or a /* comment */.
func historyEntry(text string) string {
	var b strings.Builder
	space := false
	for _, t := range sql.Tokens(text) {
		switch {
		case t.Kind == sql.TokenSpace:
			space = true
			continue
		case t.Kind == sql.TokenComment && !strings.HasPrefix(t.Text, "/*"):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(strings.ReplaceAll(t.Text, "\n", " "))
	}
	return b.String()
}

// exitMessage says what happens to in-process jobs still running.
func (s *Shell) exitMessage() {
	l, ok := s.be.(*local)
	if !ok {
		return
	}
	if ids := l.runningJobs(); len(ids) > 0 {
		fmt.Fprintf(s.cfg.Stdout, "Stopping %d running job(s): %s.\n", len(ids), strings.Join(ids, ", "))
	}
}

// notifyJobs says which of the jobs started here ended since the last
// prompt.
func (s *Shell) notifyJobs(ctx context.Context) {
	if len(s.jobStates) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	jobs, err := s.be.Jobs(ctx)
	if err != nil {
		return
	}
	for _, j := range jobs {
		last, mine := s.jobStates[j.ID]
		if !mine || last == j.State {
			continue
		}
		s.jobStates[j.ID] = j.State
		switch j.State {
		case server.JobFailed:
			fmt.Fprintf(s.cfg.Stdout, "Job %s failed: %s\n", j.ID, j.Error)
		case server.JobRunning:
			fmt.Fprintf(s.cfg.Stdout, "Job %s is running again.\n", j.ID)
		default:
			fmt.Fprintf(s.cfg.Stdout, "Job %s %s.\n", j.ID, strings.ToLower(j.State))
		}
	}
}

// noteState records the state a job is known to be in, so that the prompt
// does not announce it again.
func (s *Shell) noteState(id, state string) {
	if _, mine := s.jobStates[id]; mine && id != "" {
		s.jobStates[id] = state
	}
}

func (s *Shell) noteStates(jobs []server.JobSummary) {
	for _, j := range jobs {
		s.noteState(j.ID, j.State)
	}
}

// ---------------------------------------------------------------- scripts

// RunScript runs the statements of a script in order and returns the exit
// code: at the first error it stops, printing the error with name, its line
// and column; Ctrl-C (Interrupt) stops it with ExitInterrupted. In-process
// jobs still running at the end are waited for: they live in this process.
func (s *Shell) RunScript(ctx context.Context, name, text string) int {
	spans, rest := sql.SplitComplete(text)
	if !sql.Blank(text[rest:]) {
		// the last statement may lack its ';'
		first, last := -1, -1
		for _, t := range sql.Tokens(text[rest:]) {
			switch {
			case t.Kind == sql.TokenSpace:
			case t.Kind == sql.TokenComment && sql.Blank(t.Text):
			default: // a token, or a /* comment that never ends
				if first < 0 {
					first = t.Start
				}
				last = t.End
			}
		}
		spans = append(spans, [2]int{rest + first, rest + last})
	}
	for _, sp := range spans {
		if s.isStopped() {
			return ExitInterrupted
		}
		switch err := s.runStatement(ctx, text, sp, name); {
		case errors.Is(err, errInterrupted):
			return ExitInterrupted
		case err != nil:
			return ExitError
		}
	}
	return s.waitJobs(ctx, name)
}

// waitJobs waits for the in-process jobs the script started (they would
// die with the process) and reports those that failed: ExitError if one
// did, ExitInterrupted if Ctrl-C stopped the wait.
func (s *Shell) waitJobs(ctx context.Context, name string) int {
	l, ok := s.be.(*local)
	if !ok {
		return ExitOK // a server's jobs outlive the shell
	}
	running := map[string]bool{}
	for _, id := range l.runningJobs() {
		running[id] = true
	}
	ids := make([]string, 0, len(s.jobStates))
	for id := range s.jobStates {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	code := ExitOK
	for _, id := range ids {
		if running[id] {
			fmt.Fprintf(s.cfg.Stderr, "Waiting for job %s to finish (Ctrl-C cancels it).\n", id)
			wctx, cancel := context.WithCancel(ctx)
			done := s.running(cancel, nil)
			err := s.be.WaitJob(wctx, id)
			if done() {
				fmt.Fprintln(s.cfg.Stderr, "Cancelled.")
				return ExitInterrupted
			}
			if err != nil {
				fmt.Fprintf(s.cfg.Stderr, "weir shell: %s: job %s: %v\n", name, id, err)
				return ExitError
			}
		}
		d, err := s.be.Job(ctx, id)
		if err == nil && d.State == server.JobFailed {
			fmt.Fprintf(s.cfg.Stderr, "weir shell: %s: job %s failed: %s\n", name, id, d.Error)
			code = ExitError
		}
	}
	return code
}

// ---------------------------------------------------------------- statements

// runStatement runs the statement at span of src. Its errors are shown
// here, positioned in src (and named after the file name, if any); it
// returns errInterrupted if Ctrl-C cancelled it, or the error shown.
func (s *Shell) runStatement(ctx context.Context, src string, span [2]int, name string) error {
	text := src[span[0]:span[1]]
	sctx, cancel := context.WithCancel(ctx)
	p := newPrinter(s.disp)
	done := s.running(cancel, p)
	err := s.dispatch(sctx, text, p)
	interrupted := done()
	defer s.comp.forget() // the statement may have changed the tables
	switch {
	case interrupted:
		p.finish(false, "cancelled")
		fmt.Fprintln(s.cfg.Stderr, "Cancelled.")
		return errInterrupted
	case err != nil:
		p.finish(false, "failed")
		s.showError(err, src, span[0], name)
		return err
	}
	p.finish(true, "")
	return nil
}

// dispatch runs one statement: a job statement or a shell setting here, the
// rest in the backend.
func (s *Shell) dispatch(ctx context.Context, text string, p *printer) error {
	jc, err := parseJobCommand(text)
	if err != nil {
		return err
	}
	if jc != nil {
		return s.runJob(ctx, jc, p)
	}
	if handled, err := s.shellSetting(ctx, text, p); handled || err != nil {
		return err
	}
	id, err := s.be.Exec(ctx, text, p)
	if err != nil {
		return err
	}
	if id == "" {
		return nil
	}
	s.jobStates[id] = server.JobRunning
	if !s.dmlSync {
		return p.Message(fmt.Sprintf("Job %s started. SHOW JOBS lists the jobs; STOP JOB '%s' stops it.", id, id))
	}
	p.Message(fmt.Sprintf("Job %s started; waiting for it to finish (Ctrl-C stops it).", id))
	if err := s.be.WaitJob(ctx, id); err != nil {
		if ctx.Err() != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, err := s.be.StopJob(sctx, id, false); err == nil {
				s.jobStates[id] = server.JobCanceled
			}
		}
		return err
	}
	d, err := s.be.Job(ctx, id)
	if err != nil {
		return err
	}
	s.jobStates[id] = d.State
	if d.State == server.JobFailed {
		return fmt.Errorf("job %s failed: %s", id, d.Error)
	}
	return p.Message(fmt.Sprintf("Job %s %s.", id, strings.ToLower(d.State)))
}

// Shell settings, set with SET like the engine's.
var shellSettings = map[string]string{
	"result-mode":                      "result-mode",
	"sql-client.execution.result-mode": "result-mode", // Flink's name
	"table.dml-sync":                   "table.dml-sync",
}

// shellSetting runs SET and RESET of the shell's own settings; handled is
// false for anything else. A bare SET lists the engine's settings, then the
// shell's.
func (s *Shell) shellSetting(ctx context.Context, text string, p *printer) (handled bool, err error) {
	if !firstWordIs(text, "SET") && !firstWordIs(text, "RESET") {
		return false, nil
	}
	rw, err := sql.RewriteStatement(text)
	if err != nil || rw.Set == nil {
		return false, nil // the engine reports it
	}
	set := rw.Set
	key, ok := shellSettings[strings.ToLower(strings.TrimSpace(set.Key))]
	switch {
	case set.Key == "" && !set.Reset:
		if _, err := s.be.Exec(ctx, text, p); err != nil {
			return true, err
		}
		if err := p.Columns(varchar("shell setting", "value"), false); err != nil {
			return true, err
		}
		if err := p.Rows([][]string{{"result-mode", s.disp.mode}, {"table.dml-sync", fmt.Sprint(s.dmlSync)}}, nil); err != nil {
			return true, err
		}
		return true, p.Done()
	case set.Key == "" && set.Reset:
		s.disp.mode, s.dmlSync = s.cfg.Mode, false
		_, err := s.be.Exec(ctx, text, p)
		return true, err
	case !ok:
		return false, nil
	}
	value := strings.ToLower(strings.TrimSpace(set.Value))
	switch key {
	case "result-mode":
		if set.Reset {
			value = s.cfg.Mode
		}
		if value != ModeTable && value != ModeChangelog {
			line, col := sql.LineCol(text, 0)
			return true, &sql.SQLError{Line: line, Col: col, Kind: sql.ErrSemantic,
				Msg: fmt.Sprintf("result-mode must be '%s' or '%s', got '%s'", ModeTable, ModeChangelog, set.Value)}
		}
		s.disp.mode = value
	case "table.dml-sync":
		switch {
		case set.Reset:
			value = "false"
		case value != "true" && value != "false":
			line, col := sql.LineCol(text, 0)
			return true, &sql.SQLError{Line: line, Col: col, Kind: sql.ErrSemantic,
				Msg: fmt.Sprintf("table.dml-sync must be 'true' or 'false', got '%s'", set.Value)}
		}
		s.dmlSync = value == "true"
	}
	if set.Reset {
		return true, p.Message("Reset.")
	}
	return true, p.Message(fmt.Sprintf("Set %s = %s.", key, value))
}

// query runs a statement and returns its rows as cells (for completion).
func (s *Shell) query(ctx context.Context, text string) ([][]string, error) {
	c := &capture{}
	_, err := s.be.Exec(ctx, text, c)
	return c.rows, err
}

// capture is a sink that keeps the rows.
type capture struct{ rows [][]string }

func (c *capture) Columns([]Column, bool) error { return nil }
func (c *capture) Rows(rows [][]string, _ []string) error {
	c.rows = append(c.rows, rows...)
	return nil
}
func (c *capture) Done() error          { return nil }
func (c *capture) Message(string) error { return nil }
func (c *capture) Text(string) error    { return nil }

// ---------------------------------------------------------------- errors

// showError prints err. A *sql.SQLError gets its line and column in src
// (the statement starts at byte offset base of src), the line itself and a
// caret under the column. name is the script's file name, "" when typed.
func (s *Shell) showError(err error, src string, base int, name string) {
	w := s.cfg.Stderr
	var se *sql.SQLError
	if !errors.As(err, &se) {
		if name != "" {
			fmt.Fprintf(w, "weir shell: %s: %v\n", name, err)
		} else {
			fmt.Fprintf(w, "ERROR: %v\n", err)
		}
		return
	}
	// the error's position is in the statement's text: move it into src
	sLine, sCol := sql.LineCol(src, base)
	line, col := sLine+se.Line-1, se.Col
	if se.Line == 1 {
		col = sCol + se.Col - 1
	}
	if name != "" {
		fmt.Fprintf(w, "weir shell: %s: line %d, column %d: %s\n", name, line, col, se.Msg)
	} else {
		fmt.Fprintf(w, "ERROR: line %d, column %d: %s\n", line, col, se.Msg)
	}
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return
	}
	text, caret := caretLine(lines[line-1], col)
	fmt.Fprintf(w, "  %s\n  %s^\n", text, strings.Repeat(" ", caret))
}

// caretLine returns the line as shown (tabs as one space, cut around the
// column when long) and how many cells precede column col (1-based, in
// characters).
func caretLine(line string, col int) (string, int) {
	line = strings.TrimRight(line, "\r")
	runes := []rune(strings.ReplaceAll(line, "\t", " "))
	col = min(max(col, 1), len(runes)+1)
	from, to := 0, len(runes)
	const half = 50
	prefix, suffix := "", ""
	if col-1 > half+10 {
		from, prefix = col-1-half, "…"
	}
	if to-from > 2*half+10 {
		to, suffix = from+2*half, "…"
	}
	shown := prefix + string(runes[from:to]) + suffix
	return shown, termtext.DisplayWidth(prefix + string(runes[from:col-1]))
}

// ---------------------------------------------------------------- backslash

// backslash runs a shell command; quit says the shell should exit.
func (s *Shell) backslash(ctx context.Context, cmd string) (quit bool) {
	fields := strings.Fields(cmd)
	name, args := fields[0], fields[1:]
	stmt := ""
	switch name {
	case `\q`, `\quit`:
		return true
	case `\?`, `\h`, `\help`:
		fmt.Fprint(s.cfg.Stdout, helpText)
		return false
	case `\mode`:
		switch {
		case len(args) == 0:
			fmt.Fprintf(s.cfg.Stdout, "Result mode: %s.\n", s.disp.mode)
		case len(args) == 1 && (args[0] == ModeTable || args[0] == ModeChangelog):
			s.disp.mode = args[0]
			fmt.Fprintf(s.cfg.Stdout, "Result mode: %s.\n", s.disp.mode)
		default:
			fmt.Fprintf(s.cfg.Stderr, "ERROR: usage: \\mode [%s|%s]\n", ModeTable, ModeChangelog)
		}
		return false
	case `\jobs`:
		stmt = "SHOW JOBS"
	case `\d`:
		switch len(args) {
		case 0:
			stmt = "SHOW TABLES"
		case 1:
			stmt = "DESCRIBE " + quoteName(strings.Trim(args[0], "`"))
		}
	}
	if stmt == "" {
		fmt.Fprintf(s.cfg.Stderr, "ERROR: unknown command %s (\\help lists the commands)\n", cmd)
		return false
	}
	_ = s.runStatement(ctx, stmt, [2]int{0, len(stmt)}, "")
	return false
}

const helpText = `Statements end with ';' and may span lines. Ctrl-C cancels the running
statement (or clears what you typed), Ctrl-D exits, Tab completes keywords,
tables, columns and job ids, Up/Down and Ctrl-R browse the history.

SQL (see the README's SQL reference):
  CREATE TABLE / CREATE VIEW / DROP, SHOW TABLES, DESCRIBE t, EXPLAIN ...,
  SELECT ...              rows stream as they arrive; an updating query
                          (GROUP BY without a window) is a table updated in
                          place, or a changelog (see result-mode)
  INSERT INTO t SELECT .. starts a job in the background and returns its id
  SET key = value, RESET  session settings (SET lists them)

Jobs:
  SHOW JOBS                        the jobs, their state and SQL
  DESCRIBE JOB 'id'                plan, records in/out per operator,
                                   checkpoints, recent events
  SHOW CHECKPOINTS 'id'            checkpoints and savepoints, with their
                                   sync, async and alignment times and sizes
  CREATE SAVEPOINT FOR JOB 'id'    take a savepoint; the job keeps running
  STOP JOB 'id' [WITH SAVEPOINT]   cancel it, or take a savepoint and stop
  RESUME JOB 'id'                  start it again from that savepoint (or a
                                   cancelled or failed job from its newest
                                   checkpoint)

Shell settings:
  SET 'result-mode' = 'table'      updating results as a table (default)
  SET 'result-mode' = 'changelog'  every change as a row: +I, -U, +U, -D
  SET 'table.dml-sync' = 'true'    INSERT waits for its job to finish

Commands (one line, no ';'):
  \help            this text
  \mode [table|changelog]
  \d [name]        SHOW TABLES, or DESCRIBE name
  \jobs            SHOW JOBS
  \q               exit (so does Ctrl-D)
`
