package main

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNexbench runs the command as a user would (it builds weir and runs
// each query in a weir run process) on 20,000 events for q0 and q5, twice
// each, and checks the table: its columns, one row per query in order, the
// event count, positive and consistent figures, and the target column.
func TestNexbench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs it")
	}
	o, err := parseArgs([]string{"-events", "20000", "-queries", "q5,q0", "-count", "2", "-parallelism", "2",
		"-dir", "../../testdata/nexmark", "-timeout", "2m"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), o, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	report := out.String()
	t.Logf("\n%s", report)
	for _, want := range []string{
		"Nexmark: 20,000 events per query, parallelism 2, median of 2 runs per query by CPU time (the faster of the middle two).",
		"bids (400, 1,200 and 18,400)",
		"`weir run --parallelism 2` process",
		"Stateful target, ≥ 100,000 events per CPU-second (q4, q5, q7, q8, q9, q18, q19, q20):",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	_, notRun, _ := strings.Cut(report, "not run: ")
	notRun, _, _ = strings.Cut(notRun, "\n")
	if !slices.Contains(strings.FieldsFunc(notRun, func(r rune) bool { return r == ',' || r == ' ' || r == ';' || r == '.' }), "q7") ||
		strings.Contains(notRun, "q5") {
		t.Errorf("the verdict should cover q5 and list q7 as not run")
	}

	var rows [][]string
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "|") {
			if !strings.HasSuffix(line, "|") {
				t.Fatalf("table line %q", line)
			}
			cells := strings.Split(strings.Trim(line, "|"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			rows = append(rows, cells)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("%d table lines, want header, separator and 2 rows", len(rows))
	}
	if got := strings.Join(rows[0], "|"); got != strings.Join(columns, "|") {
		t.Fatalf("header %q", got)
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
		if err != nil {
			t.Fatalf("not a number: %q", s)
		}
		return f
	}
	for i, name := range []string{"q5", "q0"} { // the order of -queries
		r := rows[2+i]
		if len(r) != len(columns) {
			t.Fatalf("row %q: %d cells", r, len(r))
		}
		if r[0] != name || r[1] != "bid" || r[2] != "20,000" || r[3] != "18,400" {
			t.Errorf("row %q: want %s, bid, 20,000 events, 18,400 rows read", r, name)
		}
		wall, perSec, cpu, perCPU, rss := num(r[4]), num(r[5]), num(r[6]), num(r[7]), num(r[8])
		if wall <= 0 || perSec <= 0 || cpu <= 0 || perCPU <= 0 || rss <= 0 {
			t.Errorf("row %q: figures must be positive", r)
			continue
		}
		// events/s and events/CPU-s agree with the times (printed to 1 ms)
		if d := perSec*wall/20000 - 1; d > 0.05 || d < -0.05 {
			t.Errorf("row %q: events/s × wall s = %.0f, want 20,000", r, perSec*wall)
		}
		if d := perCPU*cpu/20000 - 1; d > 0.05 || d < -0.05 {
			t.Errorf("row %q: events/CPU-s × CPU s = %.0f, want 20,000", r, perCPU*cpu)
		}
		if rss < 5 || rss > 10_000 {
			t.Errorf("row %q: peak RSS %v MB is implausible", r, rss)
		}
		lo, hi, ok := strings.Cut(r[9], "–")
		if !ok || num(lo) > perCPU || num(hi) < perCPU {
			t.Errorf("row %q: the runs' range %q must hold the median %v", r, r[9], perCPU)
		}
		switch want := map[string][]string{"q5": {"met", "**not met**"}, "q0": {"–"}}[name]; {
		case r[10] != want[0] && (len(want) == 1 || r[10] != want[1]):
			t.Errorf("row %q: target column %q, want one of %q", r, r[10], want)
		}
	}
	if n := strings.Count(errOut.String(), " run "); n != 4 {
		t.Errorf("%d progress lines, want 4:\n%s", n, errOut.String())
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-queries", " Q5, q0,,", "-option", "nexmark.events-per-second = 10000"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.queries, ",") != "q5,q0" || len(o.set) != 1 || o.set[0] != (option{"nexmark.events-per-second", "10000"}) ||
		o.events != 10_000_000 || o.parallelism != 1 || o.count != 3 || o.timeout != 30*time.Minute {
		t.Errorf("got %+v", o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-events", "0"}, "-events must be at least 1"},
		{[]string{"-parallelism", "0"}, "-parallelism must be at least 1"},
		{[]string{"-count", "0"}, "-count must be at least 1"},
		{[]string{"-option", "nexmark.events=5"}, "use -events"},
		{[]string{"-option", "novalue"}, "want key=value"},
		{[]string{"extra"}, "unexpected arguments: extra"},
	} {
		if _, err := parseArgs(tc.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := run(context.Background(), options{dir: "../../testdata/nexmark", queries: []string{"q99"}, events: 1, count: 1, parallelism: 1}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no query q99 in ../../testdata/nexmark (have q0, q1, q2,") {
		t.Errorf("unknown query: %v", err)
	}
}

func TestMedianAndCounts(t *testing.T) {
	q := &queryResult{}
	for _, c := range []int{5, 1, 4, 2} {
		q.runs = append(q.runs, measurement{cpu: time.Duration(c)})
	}
	if m := q.median(); m.cpu != 2 {
		t.Errorf("median of 1, 2, 4, 5: %v, want 2 (the faster middle one)", m.cpu)
	}
	q.runs = q.runs[:3]
	if m := q.median(); m.cpu != 4 {
		t.Errorf("median of 5, 1, 4: %v, want 4", m.cpu)
	}
	for n, want := range map[int64][3]int64{1: {1, 0, 0}, 4: {1, 3, 0}, 5: {1, 3, 1}, 50: {1, 3, 46}, 1_000_000: {20_000, 60_000, 920_000}} {
		if got := kindCounts(n); got != want {
			t.Errorf("kindCounts(%d) = %v, want %v", n, got, want)
		}
	}
	if got := kindCounts(1_000_051); got != [3]int64{20_002, 60_003, 920_046} {
		t.Errorf("kindCounts(1,000,051) = %v", got)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
