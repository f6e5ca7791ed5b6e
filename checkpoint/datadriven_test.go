package checkpoint

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata files")

// A tiny datadriven runner (in the style of cockroachdb/datadriven):
//
//	# comments and blank lines between cases are kept on -rewrite
//	command args...
//	----
//	expected output, up to the next blank line
//
// Each case's command line goes to run, which returns the actual output. An
// empty output is written as "ok".
type ddCase struct {
	pre      string // comments and blank lines before the case, verbatim
	cmd      string
	line     int
	expected string
}

func parseDD(t *testing.T, path string) (cases []ddCase, tail string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var pre strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			if i == len(lines)-1 && l == "" {
				break // final newline
			}
			pre.WriteString(l + "\n")
			continue
		}
		c := ddCase{pre: pre.String(), cmd: l, line: i + 1}
		pre.Reset()
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: expected ---- after %q", path, c.line, l)
		}
		var exp []string
		for i+1 < len(lines) && lines[i+1] != "" {
			i++
			exp = append(exp, lines[i])
		}
		c.expected = strings.Join(exp, "\n")
		cases = append(cases, c)
	}
	return cases, pre.String()
}

func runDD(t *testing.T, path string, run func(t *testing.T, cmd string) string) {
	t.Helper()
	cases, tail := parseDD(t, path)
	var out strings.Builder
	for _, c := range cases {
		got := strings.TrimRight(run(t, c.cmd), "\n")
		if got == "" {
			got = "ok"
		}
		out.WriteString(c.pre + c.cmd + "\n----\n" + got + "\n")
		if !*rewrite && got != c.expected {
			t.Errorf("%s:%d: %s\n--- expected\n%s\n--- got\n%s", filepath.Base(path), c.line, c.cmd, c.expected, got)
		}
	}
	out.WriteString(tail)
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
