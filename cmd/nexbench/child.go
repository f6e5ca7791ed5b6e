package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// measurement is what one child process cost.
type measurement struct {
	wall    time.Duration // from start to exit
	cpu     time.Duration // user + system, from the child's rusage
	maxRSS  int64         // peak resident set size, bytes
	stderr  string        // what the child said (notices, late-row counts)
	command string        // for error messages
}

// runChild runs bin with args to completion and measures it. A non-zero
// exit or a timeout is an error carrying the child's standard error.
func runChild(ctx context.Context, timeout time.Duration, bin string, args ...string) (measurement, error) {
	m := measurement{command: bin + " " + strings.Join(args, " ")}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m.wall = time.Since(start)
	m.stderr = stderr.String()
	if ctx.Err() != nil {
		return m, fmt.Errorf("%s: stopped after %v (%v)\n%s", m.command, m.wall.Round(time.Millisecond), ctx.Err(), m.stderr)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return m, fmt.Errorf("%s: %v\n%s%s", m.command, err, m.stderr, stdout.String())
		}
		return m, fmt.Errorf("%s: %v", m.command, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return m, fmt.Errorf("%s: no rusage for the child on this system", m.command)
	}
	m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	m.maxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
	return m, nil
}

// loadAverage returns the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the CPU model name from /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
