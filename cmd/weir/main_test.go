package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseRunArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		terminal bool
		want     runOptions
	}{
		{[]string{"job.sql"}, true, runOptions{format: TerminalFormat, file: "job.sql"}},
		{[]string{"job.sql"}, false, runOptions{format: PipedFormat, file: "job.sql"}},
		{[]string{"-"}, false, runOptions{format: PipedFormat, file: "-"}},
		// flags before and after FILE, - and -- spellings
		{[]string{"--format", "csv", "job.sql", "-parallelism", "4"}, true, runOptions{format: FormatCSV, parallelism: 4, file: "job.sql"}},
		{[]string{"job.sql", "--format=table"}, false, runOptions{format: FormatTable, file: "job.sql"}},
		// "--" ends the flags
		{[]string{"--", "-odd.sql"}, true, runOptions{format: TerminalFormat, file: "-odd.sql"}},
		{[]string{"-e", "SELECT 1", "--format", "plain"}, true, runOptions{format: FormatPlain, inline: "SELECT 1", hasInline: true}},
		{[]string{"-e", ""}, true, runOptions{format: TerminalFormat, hasInline: true}},
		{[]string{"--cpuprofile", "cpu.pprof", "job.sql"}, false, runOptions{format: PipedFormat, file: "job.sql", cpuprofile: "cpu.pprof"}},
	} {
		got, err := parseRunArgs(tc.args, tc.terminal)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		got.ck = ckOptions{} // checkpoint flags: TestParseCheckpointArgs
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestParseRunArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing FILE"},
		{[]string{"a.sql", "b.sql"}, "too many arguments: b.sql"},
		{[]string{"-e", "SELECT 1", "a.sql"}, "not both"},
		{[]string{"--format", "xml", "a.sql"}, `unknown --format "xml"`},
		{[]string{"--format", "auto", "a.sql"}, `unknown --format "auto"`},
		{[]string{"--parallelism", "0", "a.sql"}, "at least 1"},
		{[]string{"--parallelism", "x", "a.sql"}, "invalid value"},
		{[]string{"--nosuch", "a.sql"}, "not defined"},
	} {
		_, err := parseRunArgs(tc.args, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseRunArgs([]string{"-h"}, false); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

// weir runs weirMain in process with the given stdin.
func weir(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = weirMain(context.Background(), args, &env{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e})
	return o.String(), e.String(), code
}

func TestDispatch(t *testing.T) {
	if out, _, code := weir(t, "", "help"); code != exitOK || !strings.Contains(out, "run ") || !strings.Contains(out, "shell        interactive SQL shell, in-process or against weir serve") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if out, _, code := weir(t, "", "--help"); code != exitOK || !strings.HasPrefix(out, "Weir is") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	if _, errOut, code := weir(t, ""); code != exitUsage || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no arguments: exit %d\n%s", code, errOut)
	}
	if out, _, code := weir(t, "", "help", "run"); code != exitOK || !strings.Contains(out, "--parallelism N") {
		t.Errorf("help run: exit %d\n%s", code, out)
	}
	if out, _, code := weir(t, "", "run", "-h"); code != exitOK || !strings.Contains(out, "Exit status:") {
		t.Errorf("run -h: exit %d\n%s", code, out)
	}
	if _, errOut, code := weir(t, "", "help", "nosuch"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("help nosuch: exit %d\n%s", code, errOut)
	}
	if out, _, code := weir(t, "", "version"); code != exitOK || !strings.HasPrefix(out, "weir ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	if _, _, code := weir(t, "", "version", "extra"); code != exitUsage {
		t.Errorf("version extra: exit %d", code)
	}
	if _, errOut, code := weir(t, "", "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "shell", "--bogus"); code != exitUsage || !strings.Contains(errOut, "weir shell: flag provided but not defined: -bogus") {
		t.Errorf("shell --bogus: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "shell", "--user", "bob"); code != exitUsage || !strings.Contains(errOut, "--user needs --server") {
		t.Errorf("shell --user without --server: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "serve", "--bogus"); code != exitUsage || !strings.Contains(errOut, "weir serve: flag provided but not defined: -bogus") {
		t.Errorf("serve --bogus: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "serve", "--delivery", "twice"); code != exitUsage || !strings.Contains(errOut, `unknown --delivery "twice"`) {
		t.Errorf("serve --delivery twice: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "run", "a.sql", "b.sql"); code != exitUsage || !strings.Contains(errOut, "weir run: too many arguments") {
		t.Errorf("run usage error: exit %d %q", code, errOut)
	}
}

func TestRunInProcess(t *testing.T) {
	if out, errOut, code := weir(t, "", "run", "--format", "plain", "-e", "SELECT 1 + 1"); out != "2\n" || code != exitOK {
		t.Errorf("-e: stdout %q stderr %q exit %d", out, errOut, code)
	}
	if out, errOut, code := weir(t, "SELECT 40 + 2;\n", "run", "--format", "plain", "-"); out != "42\n" || code != exitOK {
		t.Errorf("stdin: stdout %q stderr %q exit %d", out, errOut, code)
	}
	// SQL errors name the script: the file, <stdin>, or nothing for -e.
	bad := filepath.Join(t.TempDir(), "bad.sql")
	if err := os.WriteFile(bad, []byte("SELECT 1;\nSELECT nosuch FROM nowhere;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		stdin  string
		prefix string
	}{
		{[]string{"run", bad}, "", "weir: " + bad + ": line 2, column "},
		{[]string{"run", "-"}, "SELECT 1;\nSELECT nosuch FROM nowhere;\n", "weir: <stdin>: line 2, column "},
		{[]string{"run", "-e", "SELECT nosuch FROM nowhere"}, "", "weir: line 1, column "},
	} {
		_, errOut, code := weir(t, tc.stdin, tc.args...)
		if code != exitError || !strings.HasPrefix(errOut, tc.prefix) {
			t.Errorf("%q: exit %d stderr %q, want 1 and %q...", tc.args, code, errOut, tc.prefix)
		}
	}
	if _, errOut, code := weir(t, "", "run", filepath.Join(t.TempDir(), "missing.sql")); code != exitError || !strings.HasPrefix(errOut, "weir: open ") {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
	if _, errOut, code := weir(t, "", "run", "--parallelism", "100000", "-e", "SELECT 1"); code != exitUsage || !strings.HasPrefix(errOut, "weir run: --parallelism: ") {
		t.Errorf("parallelism refused by the session: exit %d %q", code, errOut)
	}
}

// --cpuprofile writes a CPU profile of the run (gzip-compressed protobuf);
// a path that cannot be created is a runtime error before anything runs.
func TestRunCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if out, errOut, code := weir(t, "", "run", "--format", "plain", "--cpuprofile", path, "-e", "SELECT 1 + 1"); out != "2\n" || code != exitOK {
		t.Fatalf("stdout %q stderr %q exit %d", out, errOut, code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile is not gzip data: %d bytes", len(b))
	}
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof")
	if out, errOut, code := weir(t, "", "run", "--cpuprofile", bad, "-e", "SELECT 1"); code != exitError || out != "" || !strings.HasPrefix(errOut, "weir run: --cpuprofile: ") {
		t.Fatalf("bad path: stdout %q stderr %q exit %d", out, errOut, code)
	}
}

// A cancelled context (what the first Ctrl-C does) ends the run with 130
// and "weir: cancelled".
func TestRunCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	code := weirMain(ctx, []string{"run", "--format", "plain", "-e", "SELECT 1"}, &env{stdin: strings.NewReader(""), stdout: &o, stderr: &e})
	if code != exitCancelled || !strings.HasSuffix(e.String(), "weir: cancelled\n") {
		t.Fatalf("exit %d stderr %q, want 130 and weir: cancelled", code, e.String())
	}
}

// TestRunSecondInterrupt: when the job cannot stop (here it is blocked
// writing to a pipe nobody reads), a second SIGINT exits at once with 130.
func TestRunSecondInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildWeir(t)
	cmd := exec.Command(bin, "run", "--format", "plain", "-e", `
CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid');
SELECT auction, price FROM bid;`)
	stdout, err := cmd.StdoutPipe() // never read: the pipe fills and the job blocks
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(time.Second) // let the unbounded source fill the pipe
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Skipf("the job stopped on the first SIGINT (the pipe was not full yet); stderr: %s", errBuf.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("weir did not exit within 10 s of the second SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitCancelled {
		t.Fatalf("exit: %v, want status 130; stderr: %s", err, errBuf.String())
	}
	if !strings.Contains(errBuf.String(), "weir: interrupted again") {
		t.Fatalf("stderr %q", errBuf.String())
	}
}

func TestParseCheckpointArgs(t *testing.T) {
	o, err := parseRunArgs([]string{"--checkpoint-dir", "/x", "--checkpoint-interval", "1s", "--restore", "latest",
		"--savepoint-on-stop", "--delivery", "at-least-once", "job.sql"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.ck.dir != "/x" || o.ck.interval != time.Second || o.ck.restore != "latest" || !o.ck.savepointOnStop ||
		o.ck.delivery != "at-least-once" || o.ck.retain != 3 || o.ck.fullEvery != 10 {
		t.Errorf("got %+v", o.ck)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--restore", "latest", "j.sql"}, "--restore needs --checkpoint-dir"},
		{[]string{"--savepoint-on-stop", "j.sql"}, "--savepoint-on-stop needs --checkpoint-dir"},
		{[]string{"--checkpoint-dir", "d", "--delivery", "twice", "j.sql"}, `unknown --delivery "twice"`},
		{[]string{"--checkpoint-dir", "d", "--checkpoint-interval", "1ms", "j.sql"}, "--checkpoint-interval must be at least 10ms"},
		{[]string{"--checkpoint-dir", "d", "--checkpoint-retain", "0", "j.sql"}, "--checkpoint-retain must be at least 1"},
	} {
		if _, err := parseRunArgs(tc.args, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
