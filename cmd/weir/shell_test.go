package main

// Tests of 'weir shell' as a real process on a pseudo-terminal
// (github.com/creack/pty), the way a person uses it: keystrokes go in
// through the terminal, what the terminal would show comes out. Ctrl-C and
// Ctrl-D are the bytes a terminal sends (0x03, 0x04): Ctrl-C reaches the
// shell as SIGINT from the terminal's line discipline while a statement
// runs, and as a key at the prompt. Every wait is for expected output with
// a deadline; nothing sleeps.

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyShell is a 'weir shell' process on a pseudo-terminal.
type ptyShell struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File // the terminal's master side
	done chan struct{}
	err  error

	mu   sync.Mutex
	out  bytes.Buffer // everything the shell wrote
	from int          // expect looks at the screen from this line on
}

// startShell starts 'weir shell args...' on a 160×40 terminal with the
// extra environment variables env.
func startShell(t *testing.T, bin string, env []string, args ...string) *ptyShell {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"shell"}, args...)...)
	cmd.Env = append(append(os.Environ(), "TERM=xterm"), env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyShell{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil { // EIO once the shell has exited
				return
			}
		}
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		tty.Close()
		if t.Failed() {
			t.Logf("terminal output:\n%s", p.screen(0))
		}
	})
	return p
}

// screen returns what the terminal shows from line from on: the output
// played on a small terminal emulator (see emulate), trailing blanks cut.
func (p *ptyShell) screen(from int) string {
	p.mu.Lock()
	raw := p.out.String()
	p.mu.Unlock()
	lines := emulate(raw)
	return strings.Join(lines[min(from, len(lines)):], "\n")
}

// emulate plays terminal output and returns the lines it leaves: what
// readline (carriage return, backspace, ESC [ J) and the live table
// (ESC [ n A, ESC [ J) do to the screen. There is no line wrapping; the
// test terminal is wide.
func emulate(out string) []string {
	lines := [][]rune{{}}
	row, col := 0, 0
	put := func(r rune) {
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
		if col < len(lines[row]) {
			lines[row][col] = r
		} else {
			lines[row] = append(lines[row], r)
		}
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\n':
			row++
			if row == len(lines) {
				lines = append(lines, []rune{})
			}
		case r == '\r':
			col = 0
		case r == '\b':
			col = max(col-1, 0)
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';' || rs[j] == '?') {
				j++
			}
			if j == len(rs) {
				i = j
				break
			}
			n, err := strconv.Atoi(string(rs[i+2 : j]))
			if err != nil || n < 1 {
				n = 1
			}
			switch rs[j] {
			case 'A':
				row = max(row-n, 0)
			case 'B':
				row += n
				for row >= len(lines) {
					lines = append(lines, []rune{})
				}
			case 'C':
				col += n
			case 'D':
				col = max(col-n, 0)
			case 'J': // to the end of the screen
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
				lines = lines[:row+1]
			case 'K':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
			case 'H':
				row, col = 0, 0
			}
			i = j
		case r < 0x20:
			// BEL and other controls show nothing
		default:
			put(r)
		}
	}
	out2 := make([]string, len(lines))
	for i, l := range lines {
		out2[i] = strings.TrimRight(string(l), " ")
	}
	return out2
}

// send types keys.
func (p *ptyShell) send(keys string) {
	p.t.Helper()
	if _, err := p.tty.Write([]byte(keys)); err != nil {
		p.t.Fatalf("typing %q: %v", keys, err)
	}
}

// mark makes the next expects look only at the screen from the line the
// cursor is on now.
func (p *ptyShell) mark() {
	p.mu.Lock()
	raw := p.out.String()
	p.mu.Unlock()
	n := len(emulate(raw)) - 1
	p.mu.Lock()
	p.from = n
	p.mu.Unlock()
}

// expect waits until the output since the mark matches re (a regular
// expression), and returns that output.
func (p *ptyShell) expect(re string) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(90 * time.Second)
	for {
		p.mu.Lock()
		from := p.from
		p.mu.Unlock()
		s := p.screen(from)
		if rx.MatchString(s) {
			return s
		}
		select {
		case <-p.done:
			p.t.Fatalf("the shell exited (%v) before printing %q; output since the mark:\n%s", p.err, re, s)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q within 90 s; output since the mark:\n%s", re, s)
		}
		time.Sleep(10 * time.Millisecond) // polling the captured output, not waiting for the shell
	}
}

// run types a statement's lines and waits for want in its output.
func (p *ptyShell) run(lines string, want string) string {
	p.t.Helper()
	p.mark()
	p.send(lines)
	return p.expect(want)
}

// exitCode waits for the shell to exit.
func (p *ptyShell) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatal("the shell did not exit within 60 s")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// The tables of the tests: bids is unbounded (a Nexmark bid stream paced
// at 2,000 events per second), few is bounded (50 events, 46 of them bids).
const (
	createBids = "CREATE TABLE bids (auction BIGINT, price BIGINT,\r" +
		"  -- a ; in a comment does not end the statement\r" +
		"  date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time)\r" +
		"WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.rate'='2000');\r"
	createFew = "CREATE TABLE few (auction BIGINT, price BIGINT, date_time TIMESTAMP(3))\r" +
		"WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='50');\r"
)

// TestShellTerminal drives the in-process shell through a terminal:
// multi-line statements, completion, a streaming query cancelled with
// Ctrl-C, an updating query, an error with its caret, Ctrl-C at the
// prompt, Ctrl-D, and the history across two runs.
func TestShellTerminal(t *testing.T) {
	bin := buildWeir(t)
	history := filepath.Join(t.TempDir(), "history")
	sh := startShell(t, bin, []string{"WEIR_HISTORY=" + history})
	sh.expect(`Weir shell .*in-process.*\n(.|\n)*weir>$`)

	// A statement over three lines: continuation prompts until the ';',
	// which a comment or a string does not provide.
	out := sh.run(createBids, `Table bids created\.`)
	if n := strings.Count(out, "   -> "); n < 3 {
		t.Errorf("want a continuation prompt for each of the 3 lines after the first, saw %d:\n%s", n, out)
	}
	sh.run(createFew, `Table few created\.`)
	sh.run("SELECT 'a;b' AS s,\r  2 AS n;\r", `\| a;b \| +2 \|\n\+-+\+-+\+\n\(1 row\)`)

	// Completion: a table after DESCRIBE, a column (auc → auction, the only
	// name that starts so), and a column qualified by its table.
	sh.run("DESCRIBE fe\t;\r", `\| auction +\| BIGINT`)
	sh.run("SELECT auc\t, price FROM few LIMIT 2;\r", `\| auction \| price +\|(.|\n)*\(2 rows\)`)
	sh.run("SELECT COUNT(*) AS n, MAX(few.pri\t) AS top FROM few;\r", `\| n +\| top +\|`)

	// A streaming query: rows arrive until Ctrl-C, and the shell answers
	// the next statement.
	sh.mark()
	sh.send("SELECT auction, price FROM bids;\r")
	sh.expect(`\| auction \| price +\|\n\+-+\+-+\+\n(\| +\d+ \| +\d+ \|\n){5}`)
	sh.send("\x03")
	// the result is closed, the ^C the terminal echoed erased
	sh.expect(`\n\| +\d+ \| +\d+ \|\n\+-+\+-+\+\n\(\d+ rows; cancelled\)\nCancelled\.\nweir>$`)
	sh.run("SELECT 42 AS answer;\r", `\| +42 \|`)

	// An updating query over the stream: one table, redrawn in place as
	// the counts grow, until Ctrl-C.
	sh.mark()
	sh.send("SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction;\r")
	sh.expect(`\| auction \| n +\|\n\+-+\+-+\+\n(\| +\d+ \| +\d+ \|\n)+\+-+\+-+\+\n\(\d+ rows, \d+ changes; updating, Ctrl-C stops\)`)
	sh.expect(`\| +\d+ \| +\d{3,} \|\n`) // a count of 100 or more: many redraws later
	sh.send("\x03")
	out = sh.expect(`\(\d+ rows, \d+ changes; cancelled\)\nCancelled\.\nweir>$`)
	if n := strings.Count(out, "| auction | n"); n != 1 {
		t.Errorf("the live table should be drawn over itself, but the screen shows %d headers:\n%s", n, out)
	}

	// An updating query (a global aggregate) over a bounded table: the
	// final table, with the number of changes it took.
	sh.run("SELECT COUNT(*) AS bids FROM few;\r", `\| +46 \|\n\+-+\+\n\(1 row, \d+ changes?\)`)

	// An error points at the line and column, with a caret.
	out = sh.run("SELECT auction,\r  prize FROM few;\r", `ERROR: line 2, column 3: unknown column prize`)
	sh.expect(`\n    prize FROM few;\n    \^\n`)
	_ = out

	// Ctrl-C at the prompt clears what was typed; the next statement runs.
	sh.mark()
	sh.send("SELECT no_such_thing")
	sh.expect(`weir> SELECT no_such_thing$`)
	sh.send("\x03")
	sh.expect(`\^C\n`)
	out = sh.run("SELECT 7 AS seven;\r", `\| +7 \|`)
	if strings.Contains(out, "no_such_thing") {
		t.Errorf("Ctrl-C did not clear the line:\n%s", out)
	}

	// Ctrl-D at an empty prompt exits with status 0.
	sh.send("\x04")
	if code := sh.exitCode(); code != 0 {
		t.Fatalf("Ctrl-D: exit status %d", code)
	}

	// The history file has each statement as one line, the multi-line
	// CREATE TABLE folded (its comment dropped).
	b, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	hist := string(b)
	for _, want := range []string{
		"CREATE TABLE bids (auction BIGINT, price BIGINT, date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.rate'='2000');\n",
		"SELECT 7 AS seven;\n",
	} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}

	// A second run recalls the last statement with the Up arrow.
	sh2 := startShell(t, bin, []string{"WEIR_HISTORY=" + history})
	sh2.expect(`weir>$`)
	sh2.run("\x1b[A", `weir> SELECT 7 AS seven;$`)
	sh2.run("\r", `\| +7 \|`)
	sh2.run("\\q\r", `weir> \\q\n`)
	if code := sh2.exitCode(); code != 0 {
		t.Fatalf("\\q: exit status %d", code)
	}
}

// TestShellServer drives 'weir shell --server' against a real 'weir serve'
// with token authentication: DDL, completion from the server's catalog, a
// streaming query cancelled with Ctrl-C (and gone from the server), an
// updating query, an error with its caret, a session setting kept across
// statements, and a job: started, listed, described, a savepoint, its
// checkpoints, stopped with a savepoint, resumed and stopped.
func TestShellServer(t *testing.T) {
	bin := buildWeir(t)
	dir := t.TempDir()
	const token = "alice-secret-token-0001"
	tokens := filepath.Join(dir, "tokens")
	tokenFile := filepath.Join(dir, "alice.token")
	if err := os.WriteFile(tokens, []byte("alice "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, "--auth-token-file", tokens, "--checkpoint-interval", "100ms")

	// without the token the shell does not start
	if _, errOut, code := runWeir(t, bin, "shell", "--server", srv.url, "--user", "alice", "-f", "/dev/null"); code != 1 || !strings.Contains(errOut, "refused the credentials (401 Unauthorized)") {
		t.Fatalf("no token: exit %d, stderr %q", code, errOut)
	}

	sh := startShell(t, bin, []string{"WEIR_HISTORY="}, "--server", srv.url, "--user", "alice", "--token-file", tokenFile)
	sh.expect(`Weir shell .*server http://127\.0\.0\.1:\d+ as alice(.|\n)*weir>$`)
	sh.run(createBids, `Table bids created\.`)
	sh.run(createFew, `Table few created\.`)
	sh.run("DESCRIBE fe\t;\r", `\| auction +\| BIGINT`)

	sh.mark()
	sh.send("SELECT auction, price FROM bids;\r")
	sh.expect(`\| auction \| price +\|\n\+-+\+-+\+\n(\| +\d+ \| +\d+ \|\n){5}`)
	sh.send("\x03")
	sh.expect(`\(\d+ rows; cancelled\)\nCancelled\.\nweir>$`)
	pollUntil(t, 30*time.Second, "the cancelled query to leave the server", func() bool {
		for _, state := range srv.queryIDs(t, token) {
			if state == "RUNNING" || state == "QUEUED" {
				return false
			}
		}
		return true
	})

	sh.run("SELECT COUNT(*) AS bids FROM few;\r", `\| +46 \|\n\+-+\+\n\(1 row, \d+ changes?\)`)
	sh.run("SELECT prize FROM few;\r", `ERROR: line 1, column 8: unknown column prize\n  SELECT prize FROM few;\n         \^\n`)
	sh.run("SET parallelism = 2;\r", `Set parallelism = 2\.`)
	sh.run("SET;\r", `\| parallelism +\| 2 +\|`)

	out := filepath.Join(dir, "out.jsonl")
	sh.run("CREATE TABLE sink (auction BIGINT, price BIGINT) WITH ('connector'='file', 'path'='"+out+"', 'format'='json');\r", `Table sink created\.`)
	started := sh.run("INSERT INTO sink SELECT auction, price FROM bids;\r", `Job j-[a-z0-9]+ started\.`)
	id := regexp.MustCompile(`Job (j-[a-z0-9]+) started`).FindStringSubmatch(started)[1]
	sh.run("SHOW JOBS;\r", `\| `+id+` \| RUNNING \|`)
	sh.run("DESCRIBE JOB \t;\r", `Job `+id+`: RUNNING, owner alice(.|\n)*Operators:`) // the id completed
	sh.mark()
	sh.send("CREATE SAVEPOINT FOR JOB '" + id + "';\r")
	sh.expect(`Savepoint \d+ of job ` + id + ` written to \S+savepoints/sp-\S+\.\n`)
	sh.run("SHOW CHECKPOINTS '"+id+"';\r", `\| +\d+ \| savepoint +\| complete +\| full`)
	sh.run("STOP JOB '"+id+"' WITH SAVEPOINT;\r", `Job `+id+` stopped with savepoint \S+\. RESUME JOB '`+id+`' starts it again from there\.`)
	sh.run("RESUME JOB "+id+";\r", `Job `+id+` resumed from savepoint \S+savepoints/sp-`)
	sh.run("STOP JOB "+id+";\r", `Job `+id+` canceled\.`)
	sh.run("STOP JOB "+id+";\r", `ERROR: job `+id+`: the job is not running`)

	sh.send("\x04")
	if code := sh.exitCode(); code != 0 {
		t.Fatalf("Ctrl-D: exit status %d", code)
	}
}

// TestShellFile: 'weir shell -f FILE' runs the file and exits: 0 when every
// statement succeeded and its jobs finished, 1 at the first error with the
// file, line and column, 130 when interrupted.
func TestShellFile(t *testing.T) {
	bin := buildWeir(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := filepath.Join(dir, "out.jsonl")
	good := write("good.sql", `CREATE TABLE few (auction BIGINT, price BIGINT)
  WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='50');
CREATE TABLE sink (auction BIGINT, price BIGINT) WITH ('connector'='file', 'path'='`+out+`', 'format'='json');
-- a job in the background: the shell waits for it before it exits
INSERT INTO sink SELECT auction, price FROM few;
SELECT COUNT(*) AS n FROM few WHERE price > 0
`)
	stdout, stderr, code := runWeir(t, bin, "shell", "-f", good)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !regexp.MustCompile(`Table few created\.\nTable sink created\.\nJob j-\w+ started\. `).MatchString(stdout) ||
		!strings.Contains(stdout, "| op | n  |\n") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.Count(string(b), "\n") != 46 {
		t.Fatalf("the job's file has %d lines (%v), want 46 bids", strings.Count(string(b), "\n"), err)
	}

	bad := write("bad.sql", "SELECT 1 AS one;\n\nSELECT price\n  FORM few;\nSELECT 2;\n")
	stdout, stderr, code = runWeir(t, bin, "shell", "-f", bad)
	if want := bad + ": line 4, column 8: syntax error near \"few\"\n    FORM few;\n         ^\n"; code != 1 || stderr != "weir shell: "+want {
		t.Fatalf("exit %d, stderr %q; want 1, %q", code, stderr, "weir shell: "+want)
	}
	if !strings.Contains(stdout, "| one |") || strings.Contains(stdout, "| 2 |") {
		t.Fatalf("statements before the error run, none after: %q", stdout)
	}

	// '-f -' and a standard input that is not a terminal: the same
	cmd := exec.Command(bin, "shell", "-f", "-")
	cmd.Stdin = strings.NewReader("SELECT 40 + 2 AS answer;")
	if b, err := cmd.Output(); err != nil || !strings.Contains(string(b), "|     42 |") {
		t.Fatalf("-f -: %v %q", err, b)
	}
	cmd = exec.Command(bin, "shell")
	cmd.Stdin = strings.NewReader("SELECT 40 + 2 AS answer;")
	if b, err := cmd.Output(); err != nil || !strings.Contains(string(b), "|     42 |") {
		t.Fatalf("piped: %v %q", err, b)
	}

	if _, stderr, code := runWeir(t, bin, "shell", "-f", filepath.Join(dir, "missing.sql")); code != 1 || !strings.Contains(stderr, "missing.sql") {
		t.Fatalf("missing file: exit %d %q", code, stderr)
	}

	// SIGINT during a streaming query, once rows are coming: exit 130
	forever := write("forever.sql", strings.ReplaceAll(createBids, "\r", "\n")+"SELECT auction, price FROM bids;\n")
	cmd = exec.Command(bin, "shell", "-f", forever)
	rows, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errBuf lockedBuffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rows)
	for n := 0; n < 3 && sc.Scan(); {
		if regexp.MustCompile(`^\| +\d+ \| +\d+ \|$`).MatchString(sc.Text()) {
			n++
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	kill := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() }) // fails the test below
	defer kill.Stop()
	for sc.Scan() {
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(errBuf.String(), "Cancelled.") {
		t.Fatalf("SIGINT: %v, stderr %q; want exit 130 and Cancelled.", err, errBuf.String())
	}
}
