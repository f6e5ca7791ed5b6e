package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildWeir compiles the binary once per test run.
func buildWeir(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "weir")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runWeir(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestRunProcess drives the real binary: results, exit codes and errors.
func TestRunProcess(t *testing.T) {
	bin := buildWeir(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	one := write("one.sql", "SELECT 1 + 1;\n")
	if out, errOut, code := runWeir(t, bin, "run", one); out != "2\n" || code != 0 {
		t.Fatalf("SELECT 1 + 1: stdout %q stderr %q exit %d; want \"2\\n\", 0", out, errOut, code)
	}
	if out, _, code := runWeir(t, bin, "run", "--format", "csv", one); out != "1 + 1\n2\n" || code != 0 {
		t.Fatalf("csv: %q exit %d", out, code)
	}

	// MySQL reads FORM as an alias of price, so the error is at bid
	bad := write("bad.sql", "SELECT 1;\n\nSELECT price\n  FORM bid;\n")
	out, errOut, code := runWeir(t, bin, "run", bad)
	if code != 1 || !strings.Contains(errOut, "bad.sql: line 4, column 8: syntax error near \"bid\"") {
		t.Fatalf("syntax error: stderr %q exit %d", errOut, code)
	}
	if out != "" {
		t.Fatalf("the script is parsed whole before it runs, so nothing should have run: stdout %q", out)
	}

	if _, errOut, code := runWeir(t, bin, "run", filepath.Join(dir, "missing.sql")); code != 1 || !strings.Contains(errOut, "missing.sql") {
		t.Fatalf("missing file: %q exit %d", errOut, code)
	}
	if _, _, code := runWeir(t, bin, "run", "--format", "yaml", one); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}

	win := write("win.sql", `
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='50000');
SELECT TUMBLE_START(date_time, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
FROM bid GROUP BY TUMBLE(date_time, INTERVAL '1' SECOND);`)
	out, errOut, code = runWeir(t, bin, "run", "--parallelism", "2", win)
	if code != 0 {
		t.Fatalf("windowed query: exit %d: %s", code, errOut)
	}
	// 50,000 events at 10,000 events/s of event time: 5 one-second windows
	// of 9,200 bids each (46 of every 50 events are bids).
	want := `{"ws":"2026-01-01 00:00:00.000","n":9200}
{"ws":"2026-01-01 00:00:01.000","n":9200}
{"ws":"2026-01-01 00:00:02.000","n":9200}
{"ws":"2026-01-01 00:00:03.000","n":9200}
{"ws":"2026-01-01 00:00:04.000","n":9200}
`
	if out != want {
		t.Fatalf("windowed query printed\n%s\nwant\n%s", out, want)
	}
}

// TestRunInterrupt: Ctrl-C (SIGINT) stops an unbounded job cleanly with
// exit status 130, after rows have been printed.
func TestRunInterrupt(t *testing.T) {
	bin := buildWeir(t)
	script := filepath.Join(t.TempDir(), "forever.sql")
	if err := os.WriteFile(script, []byte(`
CREATE TABLE bid (auction BIGINT, date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time)
WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.rate'='20000');
SELECT TUMBLE_START(date_time, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
FROM bid GROUP BY TUMBLE(date_time, INTERVAL '1' SECOND);`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait for the first window result: the job is running
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("no output before interrupt; stderr: %s", errBuf.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("weir did not stop within 30 s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130; stderr: %s", err, errBuf.String())
	}
	if !strings.Contains(errBuf.String(), "weir: cancelled") {
		t.Fatalf("stderr %q does not say it was cancelled", errBuf.String())
	}
}
