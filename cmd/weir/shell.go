package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chzyer/readline"

	"github.com/weirsql/weir/cmd/internal/shell"
)

// shellOptions is the parsed command line of 'weir shell'.
type shellOptions struct {
	file        string // -f: run it and exit; "-" for stdin
	server      string
	user        string
	tokenFile   string
	caFile      string
	history     string
	historySet  bool
	mode        string
	parallelism int
	dataDir     string
	ckInterval  time.Duration
}

func parseShellArgs(args []string) (shellOptions, error) {
	var o shellOptions
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.file, "f", "", "")
	fs.StringVar(&o.server, "server", "", "")
	fs.StringVar(&o.user, "user", "", "")
	fs.StringVar(&o.tokenFile, "token-file", "", "")
	fs.StringVar(&o.caFile, "tls-ca", "", "")
	fs.StringVar(&o.history, "history", "", "")
	fs.StringVar(&o.mode, "mode", shell.ModeTable, "")
	fs.IntVar(&o.parallelism, "parallelism", 0, "")
	fs.StringVar(&o.dataDir, "data-dir", "", "")
	fs.DurationVar(&o.ckInterval, "checkpoint-interval", 10*time.Second, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (a file to run goes after -f)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.historySet = set["history"]
	if o.mode != shell.ModeTable && o.mode != shell.ModeChangelog {
		return o, fmt.Errorf("unknown --mode %q (want %s or %s)", o.mode, shell.ModeTable, shell.ModeChangelog)
	}
	if set["parallelism"] && (o.parallelism < 1 || o.parallelism > 1024) {
		return o, fmt.Errorf("--parallelism must be between 1 and 1024, got %d", o.parallelism)
	}
	if o.ckInterval < 10*time.Millisecond {
		return o, errors.New("--checkpoint-interval must be at least 10ms")
	}
	if o.server == "" {
		for _, f := range []string{"user", "token-file", "tls-ca"} {
			if set[f] {
				return o, fmt.Errorf("--%s needs --server", f)
			}
		}
	} else {
		for _, f := range []string{"data-dir", "checkpoint-interval"} {
			if set[f] {
				return o, fmt.Errorf("--%s is for in-process jobs; a server has its own (weir serve --%s)", f, f)
			}
		}
	}
	return o, nil
}

// historyFile is --history, else $WEIR_HISTORY, else ~/.weir_history; ""
// (given explicitly) keeps no history.
func (o *shellOptions) historyFile() string {
	if o.historySet {
		return o.history
	}
	if h, ok := os.LookupEnv("WEIR_HISTORY"); ok {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".weir_history")
}

func cmdShell(ctx context.Context, args []string, e *env) int {
	o, err := parseShellArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, shellHelp())
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "weir shell: %v\nRun 'weir help shell' for usage.\n", err)
		return exitUsage
	}
	settings := map[string]string{}
	if o.parallelism > 0 {
		settings["parallelism"] = strconv.Itoa(o.parallelism)
	}
	cfg := shell.Config{
		Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr,
		StdoutTerminal: e.isTerminal,
		TermSize: func() (int, int) {
			w, h, err := readline.GetSize(int(os.Stdout.Fd()))
			if err != nil {
				return 0, 0
			}
			return w, h
		},
		History: o.historyFile(),
		Mode:    o.mode,
		Local:   shell.LocalConfig{DataDir: o.dataDir, CheckpointInterval: o.ckInterval, Settings: settings},
		Version: strings.TrimPrefix(versionString(), "weir "),
	}
	if o.server != "" {
		rc := &shell.RemoteConfig{URL: o.server, User: o.user, CAFile: o.caFile, Settings: settings}
		if rc.User == "" {
			rc.User = os.Getenv("USER")
		}
		if rc.User == "" {
			rc.User = "weir"
		}
		rc.Token = os.Getenv("WEIR_TOKEN")
		if o.tokenFile != "" {
			b, err := os.ReadFile(o.tokenFile)
			if err != nil {
				fmt.Fprintf(e.stderr, "weir shell: %v\n", err)
				return exitError
			}
			rc.Token = strings.TrimSpace(string(b))
		}
		cfg.Server = rc
	}

	// The script to run, if any: -f FILE, or standard input that is not a
	// terminal.
	var script, name string
	switch {
	case o.file == "-" || (o.file == "" && !e.stdinTerminal):
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			fmt.Fprintf(e.stderr, "weir shell: reading standard input: %v\n", err)
			return exitError
		}
		script, name = string(b), "<stdin>"
	case o.file != "":
		b, err := os.ReadFile(o.file)
		if err != nil {
			fmt.Fprintf(e.stderr, "weir shell: %v\n", err)
			return exitError
		}
		script, name = string(b), o.file
	}

	sh, err := shell.New(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "weir shell: %v\n", err)
		return exitError
	}
	defer func() {
		if err := sh.Close(); err != nil {
			fmt.Fprintf(e.stderr, "weir shell: %v\n", err)
		}
	}()

	// Ctrl-C cancels the running statement, never the shell. SIGTERM
	// cancels it too, and then ends the shell.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGTERM {
					sh.Stop()
				} else {
					sh.Interrupt()
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	if name != "" {
		return sh.RunScript(ctx, name, script)
	}
	return sh.Run(ctx)
}

func shellHelp() string {
	return `Usage:
  weir shell [flags]                   interactive shell
  weir shell [flags] -f FILE.sql       run a file and exit (FILE may be -)

An interactive SQL shell. Statements end with ';' and may span lines.
SELECT results stream as they arrive; an updating query is shown as a table
updated in place (SET 'result-mode' = 'changelog' shows every change).
INSERT INTO starts a background job: SHOW JOBS, DESCRIBE JOB 'id',
SHOW CHECKPOINTS 'id', CREATE SAVEPOINT FOR JOB 'id',
STOP JOB 'id' [WITH SAVEPOINT] and RESUME JOB 'id' control it. Ctrl-C
cancels the running statement, Ctrl-D exits; \help lists the commands.

By default statements and jobs run in this process, with a catalog of the
shell's own; jobs end when the shell exits. With --server they run in a
weir serve, over the Trino client protocol and its JSON job endpoints.

When standard input is not a terminal, the shell runs it as a script, as
with -f: statements in order, stopping at the first error.

Flags (- and -- are equivalent):
  -f FILE                 run the statements of FILE, then exit
  --mode MODE             result mode: table (default) or changelog
  --parallelism N         default parallelism (as SET parallelism = N)
  --history FILE          history file (default $WEIR_HISTORY, else
                          ~/.weir_history; --history= keeps none)

In-process:
  --data-dir DIR          keep the jobs' checkpoints and savepoints in DIR
                          (default: a temporary directory removed at exit)
  --checkpoint-interval D jobs' checkpoint interval (default 10s)

Against a server:
  --server URL            http://HOST:PORT or https://HOST:PORT of weir serve
  --user NAME             the user statements run as (default $USER)
  --token-file FILE       bearer token for a server with --auth-token-file
                          (default: $WEIR_TOKEN)
  --tls-ca FILE           PEM certificates to trust for https

Exit status (-f and scripts): 0 when every statement succeeded and the
in-process jobs finished; 1 at the first error ("weir shell: FILE: line L,
column C: ..."); 2 usage error; 130 when Ctrl-C stopped it.
`
}
