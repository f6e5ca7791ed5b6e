// Package shell is 'weir shell': an interactive SQL shell, and the runner
// of 'weir shell -f FILE'.
//
// # Where statements run
//
// A backend (backend.go) runs statements and controls jobs:
//
//   - local, the default: a sql.Session of the shell's own (its catalog
//     lives as long as the shell) runs statements in this process; an
//     INSERT INTO is planned at once (errors come back at once) and runs in
//     the background as a job with checkpoints, through server.Jobs, the job
//     manager of weir serve. Jobs end when the shell exits; their
//     checkpoints and savepoints are in --data-dir, or in a temporary
//     directory removed at exit.
//   - remote (--server URL): a weir serve, over the Trino client protocol
//     for statements (remote.go: POST /v1/statement, GET each nextUri,
//     DELETE it to cancel) and its JSON endpoints for jobs
//     (/v1/jobs/...), with a bearer token when the server wants one.
//
// Both hand results to the same printer as rows of cells, so the shell
// looks the same in both modes, and both report errors in the user's SQL
// as *sql.SQLError positioned in the statement's text (the remote one
// rebuilds it from the protocol's errorLocation).
//
// # Input
//
// Lines are read with github.com/chzyer/readline and gathered until
// sql.SplitComplete finds a ';' outside strings, quoted identifiers and
// comments (the engine's own lexer, so the shell and the parser agree on
// where a statement ends); until then the prompt is "   -> ". A line may
// hold several statements. What was typed is saved in the history file as
// one line (line comments dropped). A line starting with \ at the start of
// a statement is a shell command (\help, \q, \mode, \d, \jobs).
//
// A statement is, in order: a job statement (jobcmd.go: SHOW JOBS,
// DESCRIBE JOB, SHOW CHECKPOINTS, CREATE SAVEPOINT FOR JOB, STOP JOB [WITH
// SAVEPOINT], RESUME JOB), which the shell runs through the backend's job
// API; a SET or RESET of a shell setting (result-mode, table.dml-sync);
// anything else goes to the backend.
//
// # Ctrl-C and Ctrl-D
//
// readline puts the terminal in raw mode only while it reads a line. At
// the prompt Ctrl-C is a key: it clears what was typed (all lines of an
// unfinished statement) and Ctrl-D on an empty line exits. While a
// statement runs the terminal is in its normal mode, so Ctrl-C is a SIGINT
// from the terminal; cmd/weir passes it to Interrupt, which cancels that
// statement's context: a local query's job stops, a remote query gets its
// DELETE. The result printed so far is closed with "(n rows; cancelled)"
// and the shell prompts again. SIGTERM (Stop) ends the shell.
//
// # Results
//
// render.go: rows are printed as they arrive in an aligned box, the header
// once. An updating result (rows with kinds +I, -U, +U, -D) is, on a
// terminal and in result mode "table", a table kept up to date and redrawn
// in place (cursor up, clear to the end of the screen) at most every
// 100 ms, as many rows as the screen holds; in result mode "changelog", or
// when standard output is not a terminal, every change is a row with its
// kind in a first column "op". Nothing but text and, for the live table,
// those two escape sequences is written: output to a file or a pipe has no
// escape sequences at all.
//
// # Completion
//
// complete.go: Tab offers table and view names after FROM, JOIN, INTO,
// DESCRIBE...; the columns of a table (or of the table an alias stands
// for) after "name."; job ids after JOB; otherwise keywords, functions and
// the columns of the tables the statement names. Names come from the
// backend (SHOW TABLES, DESCRIBE) and are cached until the next statement.
//
// # Scripts
//
// RunScript (-f FILE, or standard input that is not a terminal) runs the
// statements in order and stops at the first error, reported as
// "weir shell: FILE: line L, column C: message" with the line and a caret,
// exit status 1; Ctrl-C gives 130. In-process jobs still running at the end
// are waited for, since they die with the process.
//
// # Libraries
//
//   - github.com/chzyer/readline (v1.5.1): line editing, history with
//     search, and the completion hook, in pure Go. It reads the terminal
//     only while a line is being read (its reader waits to be asked), so
//     keys typed while a statement runs are left to the terminal and Ctrl-C
//     arrives as a signal.
//   - golang.org/x/text/width: East Asian wide characters take two cells
//     when columns are aligned.
//   - github.com/creack/pty (v1.1.24), in cmd/weir's tests only: the tests
//     drive the real binary through a pseudo-terminal, as a person at a
//     terminal would. Opening a pty, making it the child's controlling
//     terminal (so that Ctrl-C becomes SIGINT) and setting its size is
//     what that small, long-maintained library does; golang.org/x/sys
//     alone would mean writing the ptmx/unlockpt/ptsname and setsid/setctty
//     dance again.
//
// The remote backend is a client of its own rather than the database/sql
// driver github.com/trinodb/trino-go-client: the driver returns from Query
// only with the first row (a streaming query may produce none for a long
// time, and the header should show), hides the notices and the session
// settings the server sends back, and sends no DELETE when its context is
// cancelled (FACTS.md), which Ctrl-C needs.
//
// # Example
//
//	$ weir shell
//	weir> CREATE TABLE bids (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
//	   ->   WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
//	   -> WITH ('connector' = 'nexmark', 'nexmark.table' = 'bid', 'nexmark.rate' = '1000');
//	Table bids created.
//	weir> SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction;   -- redrawn in place; Ctrl-C stops
//	weir> INSERT INTO big_bids SELECT auction, price FROM bids WHERE price > 1000000;
//	Job j-ivec3k3gne started. SHOW JOBS lists the jobs; STOP JOB 'j-ivec3k3gne' stops it.
//	weir> STOP JOB 'j-ivec3k3gne' WITH SAVEPOINT;
package shell
