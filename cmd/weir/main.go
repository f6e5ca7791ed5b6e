// Command weir is Weir's command-line interface: one binary with
// subcommands.
//
//	weir run [flags] FILE.sql     run a SQL script (FILE may be - for stdin)
//	weir run [flags] -e 'SQL'     run an inline script
//	weir kafka [flags]            run a development Kafka broker (kfake)
//	weir version                  print the version
//	weir help [command]           show help
//
//	weir checkpoints DIR [ID]     list or inspect checkpoints and savepoints
//	weir serve [flags]            HTTP server: Trino client protocol, jobs
//	weir shell [flags]            interactive SQL shell (-f FILE runs a file)
//
// Exit status: 0 success; 1 runtime or SQL error; 2 usage error; 130 when
// cancelled by SIGINT (Ctrl-C) or SIGTERM. On the first signal the running
// job is cancelled and allowed to stop cleanly; a second signal exits at
// once. The shell handles signals itself: Ctrl-C cancels the running
// statement and the shell goes on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mattn/go-isatty"

	_ "github.com/weirsql/weir/connectors/all" // register connectors
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql"
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1   // runtime or SQL error
	exitUsage     = 2   // bad command line
	exitCancelled = 130 // SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C)
)

// version is set at link time: go build -ldflags "-X main.version=v0.1.0".
// When empty, the module version or VCS revision recorded by the Go
// toolchain is used.
var version = ""

// The printers are result sinks.
var _ sql.ResultSink = Printer(nil)

// env is what a command may touch of the process, so tests can replace it.
type env struct {
	stdin         io.Reader
	stdout        io.Writer
	stderr        io.Writer
	isTerminal    bool // stdout is a terminal
	stdinTerminal bool // stdin is a terminal
}

// command is one subcommand. A nil run means "not yet available".
type command struct {
	name    string
	summary string
	help    func() string // full help text; nil: the summary
	run     func(ctx context.Context, args []string, e *env) int
	// ownSignals: the command handles SIGINT and SIGTERM itself; main
	// installs no handler of its own.
	ownSignals bool
}

var commands []*command

func init() {
	commands = []*command{
		{name: "run", summary: "run a SQL script", help: runHelp, run: cmdRun},
		{name: "shell", summary: "interactive SQL shell, in-process or against weir serve", help: shellHelp, run: cmdShell, ownSignals: true},
		{name: "serve", summary: "HTTP server speaking the Trino client protocol", help: serveHelp, run: cmdServe},
		{name: "kafka", summary: "run a development Kafka broker (kfake) on 127.0.0.1", help: kafkaHelp, run: cmdKafka},
		{name: "checkpoints", summary: "list and inspect checkpoints and savepoints", help: checkpointsHelp, run: cmdCheckpoints},
		{name: "version", summary: "print the version", run: cmdVersion},
		{name: "help", summary: "show help for a command", run: cmdHelp},
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	fd := os.Stdout.Fd()
	e := &env{
		stdin:         os.Stdin,
		stdout:        os.Stdout,
		stderr:        os.Stderr,
		isTerminal:    isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd),
		stdinTerminal: isatty.IsTerminal(os.Stdin.Fd()) || isatty.IsCygwinTerminal(os.Stdin.Fd()),
	}
	if len(os.Args) > 1 {
		if c := lookup(os.Args[1]); c != nil && c.ownSignals {
			os.Exit(weirMain(context.Background(), os.Args[1:], e))
		}
	}

	// The first SIGINT/SIGTERM cancels ctx: the running job stops cleanly
	// and cmdRun reports "cancelled". A second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		<-sigs
		fmt.Fprintln(os.Stderr, "weir: interrupted again; exiting without waiting for the job to stop")
		os.Exit(exitCancelled)
	}()

	code := weirMain(ctx, os.Args[1:], e)
	stop()
	os.Exit(code)
}

// weirMain dispatches to a subcommand and returns the exit code.
func weirMain(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, mainHelp())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, mainHelp())
		return exitOK
	case "-version", "--version":
		return cmdVersion(ctx, nil, e)
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "weir: unknown command %q\nRun 'weir help' for usage.\n", args[0])
		return exitUsage
	}
	if c.run == nil {
		fmt.Fprintf(e.stderr, "weir %s: not yet available\n", c.name)
		return exitUsage
	}
	return c.run(ctx, args[1:], e)
}

func mainHelp() string {
	var b strings.Builder
	b.WriteString("Weir is a streaming SQL engine.\n\nUsage:\n  weir <command> [arguments]\n\nCommands:\n")
	for _, c := range commands {
		s := c.summary
		if c.run == nil {
			s += " (not yet available)"
		}
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, s)
	}
	b.WriteString("\nRun 'weir help <command>' for details.\n")
	return b.String()
}

// ---------------------------------------------------------------- help, version

func cmdHelp(_ context.Context, args []string, e *env) int {
	switch len(args) {
	case 0:
		fmt.Fprint(e.stdout, mainHelp())
		return exitOK
	case 1:
		c := lookup(args[0])
		if c == nil {
			fmt.Fprintf(e.stderr, "weir help: unknown command %q\nRun 'weir help' for usage.\n", args[0])
			return exitUsage
		}
		switch {
		case c.help != nil:
			fmt.Fprint(e.stdout, c.help())
		case c.run == nil:
			fmt.Fprintf(e.stdout, "weir %s: %s (not yet available)\n", c.name, c.summary)
		default:
			fmt.Fprintf(e.stdout, "Usage: weir %s\n\n%s.\n", c.name, strings.ToUpper(c.summary[:1])+c.summary[1:])
		}
		return exitOK
	}
	fmt.Fprintln(e.stderr, "usage: weir help [command]")
	return exitUsage
}

func cmdVersion(_ context.Context, args []string, e *env) int {
	if len(args) > 0 {
		fmt.Fprintln(e.stderr, "usage: weir version")
		return exitUsage
	}
	fmt.Fprintln(e.stdout, versionString())
	return exitOK
}

// versionString is "weir <version> <go version> <os>/<arch>".
func versionString() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok && v == "" {
		if mv := info.Main.Version; mv != "" && mv != "(devel)" {
			v = mv
		} else {
			var rev, dirty string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "+dirty"
					}
				}
			}
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" {
				v = "devel-" + rev + dirty
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	return fmt.Sprintf("weir %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// ---------------------------------------------------------------- run

// runOptions is the parsed command line of 'weir run'.
type runOptions struct {
	format      string // one of Formats
	parallelism int    // 0: not given
	inline      string // the -e script
	hasInline   bool   // -e was given
	file        string // FILE, "-" for stdin; "" with -e
	cpuprofile  string // write a CPU profile of the run here; "" = none
	ck          ckOptions
}

// parseRunArgs parses 'weir run' arguments. Flags may come before or after
// FILE; "--" ends the flags. terminal says whether stdout is a terminal,
// which decides the default format.
func parseRunArgs(args []string, terminal bool) (runOptions, error) {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.format, "format", "", "")
	fs.IntVar(&o.parallelism, "parallelism", 0, "")
	fs.StringVar(&o.inline, "e", "", "")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "")
	o.ck.register(fs)

	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		rest := fs.Args()
		used := len(args) - len(rest)
		if used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	parallelismSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "e":
			o.hasInline = true
		case "parallelism":
			parallelismSet = true
		}
	})

	switch {
	case o.format == "" && terminal:
		o.format = TerminalFormat
	case o.format == "":
		o.format = PipedFormat
	default:
		ok := false
		for _, f := range Formats {
			ok = ok || o.format == f
		}
		if !ok {
			return o, fmt.Errorf("unknown --format %q (want %s)", o.format, strings.Join(Formats, ", "))
		}
	}
	if parallelismSet && o.parallelism < 1 {
		return o, fmt.Errorf("--parallelism must be at least 1, got %d", o.parallelism)
	}
	if err := o.ck.check(); err != nil {
		return o, err
	}
	switch {
	case o.hasInline && len(pos) > 0:
		return o, errors.New("give either FILE or -e SQL, not both")
	case o.hasInline:
	case len(pos) == 0:
		return o, errors.New("missing FILE (or -e SQL)")
	case len(pos) > 1:
		return o, fmt.Errorf("too many arguments: %s", strings.Join(pos[1:], " "))
	default:
		o.file = pos[0]
	}
	return o, nil
}

// script returns the text to run and the name to put in front of SQL
// errors ("" for -e).
func (o *runOptions) script(stdin io.Reader) (text, name string, err error) {
	switch {
	case o.hasInline:
		return o.inline, "", nil
	case o.file == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", "", fmt.Errorf("reading standard input: %w", err)
		}
		return string(b), "<stdin>", nil
	}
	b, err := os.ReadFile(o.file)
	if err != nil {
		return "", "", err
	}
	return string(b), o.file, nil
}

func cmdRun(ctx context.Context, args []string, e *env) int {
	o, err := parseRunArgs(args, e.isTerminal)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, runHelp())
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "weir run: %v\nRun 'weir help run' for usage.\n", err)
		return exitUsage
	}
	text, name, err := o.script(e.stdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir: %v\n", err)
		return exitError
	}
	p, err := NewPrinter(o.format, e.stdout, e.stderr)
	if err != nil { // parseRunArgs checked the format
		fmt.Fprintf(e.stderr, "weir run: %v\n", err)
		return exitUsage
	}

	if o.cpuprofile != "" {
		stop, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			fmt.Fprintf(e.stderr, "weir run: --cpuprofile: %v\n", err)
			return exitError
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintf(e.stderr, "weir run: --cpuprofile: %v\n", err)
			}
		}()
	}

	s := sql.NewSession()
	if o.parallelism > 0 {
		if err := s.Set("parallelism", strconv.Itoa(o.parallelism)); err != nil {
			fmt.Fprintf(e.stderr, "weir run: --parallelism: %v\n", err)
			return exitUsage
		}
	}
	jobCtx := ctx
	var stopped *exec.StoppedError
	if o.ck.dir != "" {
		r := &jobRunner{o: o.ck, stderr: e.stderr, control: &exec.CheckpointControl{}}
		s.RunJob = r.run
		// SIGUSR1 asks the running job for a savepoint (kill -USR1 PID).
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go func() {
			for {
				select {
				case <-usr1:
					if err := r.control.Savepoint(); err != nil {
						fmt.Fprintf(e.stderr, "weir: savepoint: %v\n", err)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		if o.ck.savepointOnStop {
			// The first signal asks the job for a savepoint and a stop
			// instead of cancelling it; nothing to stop yet: cancel.
			var cancel context.CancelFunc
			jobCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			defer cancel()
			go func() {
				select {
				case <-ctx.Done():
				case <-jobCtx.Done():
					return
				}
				if err := r.control.StopWithSavepoint(); err != nil {
					cancel()
					return
				}
				fmt.Fprintln(e.stderr, "weir: stopping with a savepoint (Ctrl-C again to exit at once)")
			}()
		}
	}
	err = s.ExecScript(exec.WithStatusFunc(jobCtx, statusPrinter(e.stderr)), text, p)
	closeErr := p.Close() // ends a result cut short and flushes

	if errors.As(err, &stopped) {
		fmt.Fprintf(e.stderr, "weir: %v\nResume with: weir run --checkpoint-dir %s --restore %s ...\n", stopped, o.ck.dir, stopped.Dir)
		return exitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintln(e.stderr, "weir: cancelled")
		return exitCancelled
	}
	if err == nil {
		err = closeErr
	}
	if err != nil {
		var se *sql.SQLError
		if name != "" && errors.As(err, &se) {
			fmt.Fprintf(e.stderr, "weir: %s: %v\n", name, err)
		} else {
			fmt.Fprintf(e.stderr, "weir: %v\n", err)
		}
		return exitError
	}
	return exitOK
}

// statusPrinter reports job status changes (exec/status.go) on w:
// "weir: <vertex>: waiting for Kafka at ...", then "weir: <vertex>: resumed".
func statusPrinter(w io.Writer) exec.StatusFunc {
	var mu sync.Mutex
	return func(vertex string, subtask int, status string) {
		if subtask > 0 {
			vertex = fmt.Sprintf("%s (subtask %d)", vertex, subtask+1)
		}
		if status == "" {
			status = "resumed"
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "weir: %s: %s\n", vertex, status)
	}
}

// startCPUProfile starts the CPU profiler writing to path; stop ends the
// profile and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func runHelp() string {
	return `Usage:
  weir run [flags] FILE.sql
  weir run [flags] -e 'SQL'

Runs the statements of a SQL script in order. FILE may be - to read the
script from standard input. A query prints its result as it arrives; an
INSERT INTO runs as a job until its sources end. Ctrl-C cancels the
running job and waits for it to stop; a second Ctrl-C exits at once.

Flags (- and -- are equivalent; flags may also follow FILE):
  --format FORMAT     table, plain, json or csv (default: table when standard
                      output is a terminal, JSON lines otherwise, where a
                      one-column result prints bare JSON values: SELECT 1 + 1
                      prints 2)
  --parallelism N     default parallelism of jobs (as SET 'parallelism' = 'N')
  -e SQL              run SQL given on the command line instead of a file
  --cpuprofile FILE   write a CPU profile of the whole run to FILE, for
                      go tool pprof (the binary, then FILE)

Checkpoints (for INSERT INTO jobs; see README "Checkpoints and recovery"):
  --checkpoint-dir DIR          take checkpoints into DIR (local or shared
                                file system); they outlive the job
  --checkpoint-interval D       time between checkpoints (default 10s)
  --checkpoint-timeout D        a checkpoint not complete by then fails
                                (default 10m)
  --checkpoint-retain N         complete checkpoints kept (default 3)
  --checkpoint-full-every K     every K-th checkpoint is full, the others
                                incremental (default 10)
  --checkpoint-tolerable-failures N
                                fail the job after N+1 failed checkpoints in
                                a row (default: never)
  --delivery MODE               exactly-once (default: aligned barriers,
                                transactional sinks) or at-least-once
  --restore latest|PATH         resume from the newest complete checkpoint in
                                --checkpoint-dir (falling back past corrupt
                                ones, with a warning), or from a checkpoint
                                or savepoint directory
  --savepoint-on-stop           Ctrl-C takes a savepoint, then stops the job
                                (exit 0); a second Ctrl-C exits at once.
                                kill -USR1 PID takes a savepoint at any time
  --state-dir DIR               where the job's working state (Badger) lives
                                (default: a temporary directory)

Formats:
  table   a box with aligned columns; widths come from the header and the
          first batch of rows, later wider values widen their column
  plain   tab-separated values, one row per line, no header; NULL as NULL;
          \, tab, newline in values written \\, \t, \n
  json    one JSON object per row, keys in column order; DECIMAL as an exact
          number, TIMESTAMP as "2006-01-02 15:04:05.000", NULL as null
  csv     a header line, then one line per row; NULL as an empty field,
          the empty string as ""
An updating (changelog) result gets an extra first column, op, holding
the row kind: +I, -U, +U or -D.

Notices ("Table t created.") go to standard output with table and plain,
to standard error with json and csv (and the default piped output).
EXPLAIN plans always go to standard output.

Exit status:
  0    success
  1    runtime or SQL error ("weir: FILE: line L, column C: ...")
  2    usage error
  130  cancelled (SIGINT or SIGTERM)
`
}
