package shell

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock drives a display's redraws by hand.
type fakeClock struct {
	now     time.Time
	pending []func()
}

type fakeTimer struct {
	c *fakeClock
	i int
}

func (t fakeTimer) Stop() bool {
	t.c.pending[t.i] = nil
	return true
}

func (c *fakeClock) after(_ time.Duration, f func()) stopper {
	c.pending = append(c.pending, f)
	return fakeTimer{c, len(c.pending) - 1}
}

// fire runs the timers due, as time.AfterFunc would.
func (c *fakeClock) fire() {
	p := c.pending
	c.pending = nil
	for _, f := range p {
		if f != nil {
			f()
		}
	}
}

func testDisplay(out *bytes.Buffer, terminal bool, mode string, c *fakeClock) *display {
	return &display{out: out, terminal: terminal, mode: mode, every: 100 * time.Millisecond,
		size: func() (int, int) { return 60, 12 },
		now:  func() time.Time { return c.now }, after: c.after}
}

var cols = []Column{{Name: "channel", Type: "VARCHAR"}, {Name: "n", Type: "BIGINT", Numeric: true}}

func TestStreamView(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(testDisplay(&out, false, ModeTable, &fakeClock{}))
	p.Columns([]Column{{Name: "id", Type: "BIGINT", Numeric: true}, {Name: "ts", Type: "TIMESTAMP(3)"}, {Name: "s", Type: "VARCHAR"}}, false)
	p.Rows([][]string{{"1", "2026-01-01 00:00:00.000", "a"}}, nil)
	p.Rows([][]string{{"22", "NULL", "tab\there, and wider"}}, nil)
	p.Done()
	p.Message("1 late row dropped.")
	p.finish(true, "")
	want := `+----+-------------------------+---+
| id | ts                      | s |
+----+-------------------------+---+
|  1 | 2026-01-01 00:00:00.000 | a |
| 22 | NULL                    | tab\there, and wider |
+----+-------------------------+----------------------+
(2 rows)
1 late row dropped.
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// An updating result on something other than a terminal, and in
// changelog mode on a terminal, is printed row by row with its kinds.
func TestChangelogRows(t *testing.T) {
	for _, c := range []struct {
		terminal bool
		mode     string
	}{{false, ModeTable}, {true, ModeChangelog}} {
		var out bytes.Buffer
		p := newPrinter(testDisplay(&out, c.terminal, c.mode, &fakeClock{}))
		p.Columns(cols, true)
		p.Rows([][]string{{"Apple", "1"}, {"Apple", "1"}, {"Apple", "2"}}, []string{"+I", "-U", "+U"})
		p.finish(false, "cancelled")
		want := `+----+---------+---+
| op | channel | n |
+----+---------+---+
| +I | Apple   | 1 |
| -U | Apple   | 1 |
| +U | Apple   | 2 |
+----+---------+---+
(3 rows; cancelled)
`
		if out.String() != want {
			t.Errorf("terminal=%v mode=%s: got\n%s\nwant\n%s", c.terminal, c.mode, out.String(), want)
		}
	}
}

// lastDrawing is what a terminal shows after out: the text after the last
// "move up and clear" of the live view.
func lastDrawing(out string) string {
	if i := strings.LastIndex(out, "\x1b[J"); i >= 0 {
		return out[i+len("\x1b[J"):]
	}
	return out
}

func TestLiveView(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{now: time.Unix(0, 0)}
	p := newPrinter(testDisplay(&out, true, ModeTable, clock))
	p.Columns(cols, true)
	if got := out.String(); !strings.Contains(got, "| channel | n |") || !strings.Contains(got, "(0 rows, 0 changes; updating, Ctrl-C stops)") {
		t.Fatalf("the empty table is drawn at once:\n%s", got)
	}

	// Within the redraw interval nothing is drawn until the timer fires.
	clock.now = clock.now.Add(10 * time.Millisecond)
	before := out.Len()
	p.Rows([][]string{{"Apple", "1"}, {"Google", "1"}, {"Baidu", "1"}}, []string{"+I", "+I", "+I"})
	if out.Len() != before {
		t.Fatalf("redrawn within the interval:\n%q", out.String()[before:])
	}
	// -U/+U keeps the row in its place; -D removes it.
	p.Rows([][]string{{"Apple", "1"}, {"Apple", "2"}, {"Google", "1"}}, []string{"-U", "+U", "-D"})
	clock.now = clock.now.Add(100 * time.Millisecond)
	clock.fire()
	got := out.String()[before:]
	if !strings.HasPrefix(got, "\x1b[4A\r\x1b[J") {
		t.Fatalf("the redraw does not start by moving up over the 4 lines of the empty table: %q", got)
	}
	want := `+---------+---+
| channel | n |
+---------+---+
| Apple   | 2 |
| Baidu   | 1 |
+---------+---+
(2 rows, 6 changes; updating, Ctrl-C stops)
`
	if d := lastDrawing(got); d != want {
		t.Fatalf("drawing:\n%s\nwant\n%s", d, want)
	}

	// More rows than the screen holds: the first ones, and the count.
	var many [][]string
	var kinds []string
	for i := range 20 {
		many = append(many, []string{"channel-" + string(rune('a'+i)), "1"})
		kinds = append(kinds, "+I")
	}
	clock.now = clock.now.Add(time.Second)
	p.Rows(many, kinds)
	d := lastDrawing(out.String())
	if n := strings.Count(d, "\n"); n != 12-6+5 {
		t.Fatalf("a 12-line terminal shows 6 rows (%d lines):\n%s", n, d)
	}
	if !strings.Contains(d, "(22 rows, 26 changes, 6 shown; updating, Ctrl-C stops)") {
		t.Fatalf("footer:\n%s", d)
	}
	// At the end every row is printed once more, and never drawn over.
	p.Done()
	d = lastDrawing(out.String())
	if n := strings.Count(d, "\n"); n != 22+5 || !strings.HasSuffix(d, "(22 rows, 26 changes)\n") {
		t.Fatalf("final drawing:\n%s", d)
	}
	p.Message("after")
	if !strings.HasSuffix(out.String(), "(22 rows, 26 changes)\nafter\n") {
		t.Fatalf("a message after the table: %q", out.String()[len(out.String())-60:])
	}
	clock.fire() // a timer left over must not draw again
	if !strings.HasSuffix(out.String(), "after\n") {
		t.Fatal("drawn after the end")
	}
}

// Messages that arrive while a live table is on the screen come after it.
func TestLiveViewHoldsMessages(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(testDisplay(&out, true, ModeTable, &fakeClock{}))
	p.Columns(cols, true)
	p.Message("3 late rows dropped.")
	if strings.Contains(out.String(), "late") {
		t.Fatal("a message was printed inside the live table")
	}
	p.finish(false, "cancelled")
	if !strings.HasSuffix(out.String(), "(0 rows, 0 changes; cancelled)\n3 late rows dropped.\n") {
		t.Fatalf("got %q", out.String())
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abcdef", 6, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"日本語です", 6, "日本…"},
	} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestCaretLine(t *testing.T) {
	for _, c := range []struct {
		line  string
		col   int
		shown string
		caret int
	}{
		{"SELECT prize", 8, "SELECT prize", 7},
		{"\tSELECT x", 2, " SELECT x", 1},            // a tab counts as one column
		{"SELECT '日本', x", 13, "SELECT '日本', x", 14}, // wide characters take two cells
		{"x", 5, "x", 1}, // clamped to the end of the line
		{strings.Repeat("a", 200) + " bad", 202, "…" + strings.Repeat("a", 49) + " bad", 51}, // long: 50 characters before the column
	} {
		shown, caret := caretLine(c.line, c.col)
		if shown != c.shown || caret != c.caret {
			t.Errorf("caretLine(%q, %d) = %q, %d; want %q, %d", c.line, c.col, shown, caret, c.shown, c.caret)
		}
	}
}

// After Ctrl-C (halt) rows still in flight are dropped, and on a terminal
// the ^C the terminal echoed is erased before the result is closed.
func TestHalt(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(testDisplay(&out, true, ModeTable, &fakeClock{}))
	p.Columns([]Column{{Name: "n", Type: "BIGINT", Numeric: true}}, false)
	p.Rows([][]string{{"1"}}, nil)
	p.halt()
	p.Rows([][]string{{"2"}}, nil)
	p.finish(false, "cancelled")
	want := "+---+\n| n |\n+---+\n| 1 |\n\r\x1b[K+---+\n(1 row; cancelled)\n"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}
