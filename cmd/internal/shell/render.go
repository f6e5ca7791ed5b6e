package shell

// Showing results. A backend hands one statement's output to a printer (it
// implements sink); the printer picks a view when the columns arrive:
//
//   - streamView prints rows as they come in an aligned box, the header once;
//     column widths come from the header, the type and the first batch, and a
//     later, wider value widens its column from that row on. Append-only
//     results always use it; updating results use it in changelog mode, or
//     when standard output is not a terminal, with the row kind (+I, -U, +U,
//     -D) as a first column "op".
//   - liveView keeps an updating result as a table (a -U or -D removes its
//     row, the +U after a -U takes the row's place) and redraws it in place on
//     the terminal, at most every RedrawEvery, as many rows as the screen
//     holds. When the query ends the whole table is printed once more; when it
//     is cancelled the last view stays.
//
// Redrawing moves the cursor up over the previous drawing (ESC [ n A) and
// clears to the end of the screen (ESC [ J); every line is cut to the
// terminal's width so that the count of lines drawn is exact.

import (
	"bufio"
	"fmt"
	"github.com/weirsql/weir/cmd/internal/termtext"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Column is a result column as the shell shows it.
type Column struct {
	Name string
	// Type is the SQL type as the backend names it (BIGINT, VARCHAR(10),
	// timestamp(3)...), for the minimum width of the column.
	Type    string
	Numeric bool // right-aligned
}

// sink receives one statement's output from a backend. Calls come from one
// goroutine at a time, in order: Columns once, Rows for each batch, Done;
// Message and Text at any time.
type sink interface {
	// Columns announces the result's columns; changelog: rows carry kinds.
	Columns(cols []Column, changelog bool) error
	// Rows delivers rows as cells (NULL as "NULL"); kinds holds each row's
	// kind (+I, -U, +U, -D) for a changelog result, nil otherwise.
	Rows(rows [][]string, kinds []string) error
	// Done ends the result.
	Done() error
	// Message is a notice ("Table t created.").
	Message(text string) error
	// Text is a text result (EXPLAIN's plan).
	Text(text string) error
}

// Result modes (SET 'result-mode' = '...').
const (
	ModeTable     = "table"     // updating results as a table updated in place
	ModeChangelog = "changelog" // every change as a row with its kind
)

// display says how results are shown.
type display struct {
	out      io.Writer
	terminal bool              // out is a terminal: redrawing allowed
	size     func() (w, h int) // the terminal's size
	mode     string            // ModeTable or ModeChangelog
	every    time.Duration     // at most one redraw per interval
	now      func() time.Time  // clock
	after    func(time.Duration, func()) stopper
}

type stopper interface{ Stop() bool }

func (d *display) termSize() (int, int) {
	w, h := 0, 0
	if d.size != nil {
		w, h = d.size()
	}
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return w, h
}

// printer shows one statement's output. It implements sink.
type printer struct {
	d *display

	// mu serializes the sink's calls (from the statement's goroutine)
	// with halt (from the one that handles Ctrl-C).
	mu   sync.Mutex
	w    *bufio.Writer
	view view // nil until Columns
	// held are messages that came while a live table was on the screen;
	// they are printed after it.
	held []string
	// halted: Ctrl-C was pressed; rows still in flight are not printed
	halted bool
}

// view is the shape of a result on the screen. rows flushes what it
// writes; a live view may also write from a timer's goroutine, under its own
// lock, until end returns.
type view interface {
	rows(rows [][]string, kinds []string)
	// end finishes the result: complete (the query ended) or cut short.
	end(complete bool, note string)
	live() bool
}

func newPrinter(d *display) *printer {
	return &printer{d: d, w: bufio.NewWriterSize(d.out, 32<<10)}
}

var _ sink = (*printer)(nil)

func (p *printer) Columns(cols []Column, changelog bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.view != nil {
		p.view.end(true, "")
	}
	if changelog && p.d.terminal && p.d.mode == ModeTable {
		p.view = newLiveView(p, cols) // draws the empty table and flushes
		return nil
	}
	p.view = newStreamView(p, cols, changelog)
	return p.w.Flush()
}

func (p *printer) Rows(rows [][]string, kinds []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.view == nil:
		return fmt.Errorf("internal error: rows before columns")
	case p.halted && !p.view.live():
		return nil // the statement is being cancelled
	}
	p.view.rows(rows, kinds) // flushes
	return nil
}

func (p *printer) Done() error {
	p.finish(true, "")
	return nil
}

func (p *printer) Message(text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.view != nil && p.view.live() {
		p.held = append(p.held, text)
		return nil
	}
	p.line(text)
	return p.w.Flush()
}

func (p *printer) Text(text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(text)
	return p.w.Flush()
}

// line writes text and a newline if it has none. Callers hold p.mu.
func (p *printer) line(text string) {
	p.w.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		p.w.WriteByte('\n')
	}
}

// halt is called when Ctrl-C cancels the statement: rows that arrive until
// the cancellation takes effect are dropped, and on a terminal the ^C it
// echoed at the start of the next line is erased. (A live table needs
// neither: its last drawing covers both.)
func (p *printer) halt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.halted = true
	if p.d.terminal && (p.view == nil || !p.view.live()) {
		p.w.WriteString("\r\x1b[K")
		_ = p.w.Flush()
	}
}

// finish ends the open result, if any: complete, or cut short with note
// ("cancelled", "failed"), then prints the held messages.
func (p *printer) finish(complete bool, note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.view != nil {
		p.view.end(complete, note)
		p.view = nil
	}
	for _, m := range p.held {
		p.line(m)
	}
	p.held = nil
	_ = p.w.Flush()
}

// ---------------------------------------------------------------- stream

type streamView struct {
	p       *printer
	header  []string
	right   []bool
	min     []int // width from the header and the type
	widths  []int
	op      bool // the first cell is the row kind
	started bool // header printed
	n       int64
	cells   []string
}

func newStreamView(p *printer, cols []Column, changelog bool) *streamView {
	v := &streamView{p: p, op: changelog}
	if changelog {
		v.header = append(v.header, "op")
		v.right = append(v.right, false)
		v.min = append(v.min, 2)
	}
	for _, c := range cols {
		v.header = append(v.header, termtext.OneLine(c.Name))
		v.right = append(v.right, c.Numeric)
		v.min = append(v.min, max(termtext.DisplayWidth(termtext.OneLine(c.Name)), typeWidth(c.Type)))
	}
	v.widths = append([]int(nil), v.min...)
	return v
}

func (v *streamView) live() bool { return false }

func (v *streamView) cellsOf(dst []string, row []string, kind string) []string {
	dst = dst[:0]
	if v.op {
		dst = append(dst, kind)
	}
	for _, c := range row {
		dst = append(dst, termtext.OneLine(c))
	}
	return dst
}

func (v *streamView) rows(rows [][]string, kinds []string) {
	kind := func(i int) string {
		if i < len(kinds) {
			return kinds[i]
		}
		return "+I"
	}
	if !v.started {
		// the first batch sizes the columns
		all := make([][]string, len(rows))
		for i, r := range rows {
			all[i] = v.cellsOf(nil, r, kind(i))
			v.widen(all[i])
		}
		v.printHeader()
		for _, c := range all {
			v.printCells(c, true)
		}
	} else {
		for i, r := range rows {
			v.cells = v.cellsOf(v.cells, r, kind(i))
			v.widen(v.cells)
			v.printCells(v.cells, true)
		}
	}
	v.n += int64(len(rows))
	_ = v.p.w.Flush()
}

func (v *streamView) widen(cells []string) {
	for i, c := range cells {
		if i < len(v.widths) {
			v.widths[i] = max(v.widths[i], termtext.DisplayWidth(c))
		}
	}
}

func (v *streamView) printHeader() {
	v.started = true
	writeRule(v.p.w, v.widths)
	v.printCells(v.header, false)
	writeRule(v.p.w, v.widths)
}

func (v *streamView) printCells(cells []string, align bool) {
	writeCells(v.p.w, cells, v.widths, v.right, align)
}

func (v *streamView) end(complete bool, note string) {
	if !v.started {
		v.printHeader()
	}
	writeRule(v.p.w, v.widths)
	v.p.w.WriteString(countLine(v.n, "", note))
}

// countLine is "(3 rows)", "(1 row; cancelled)", "(3 rows, 10 changes)".
func countLine(n int64, extra, note string) string {
	s := "(" + strconv.FormatInt(n, 10) + " row"
	if n != 1 {
		s += "s"
	}
	if extra != "" {
		s += ", " + extra
	}
	if note != "" {
		s += "; " + note
	}
	return s + ")\n"
}

func writeRule(w *bufio.Writer, widths []int) {
	w.WriteByte('+')
	for _, n := range widths {
		w.WriteString(strings.Repeat("-", n+2))
		w.WriteByte('+')
	}
	w.WriteByte('\n')
}

func writeCells(w *bufio.Writer, cells []string, widths []int, right []bool, align bool) {
	w.WriteByte('|')
	for i, c := range cells {
		pad := 0
		if i < len(widths) {
			pad = max(widths[i]-termtext.DisplayWidth(c), 0)
		}
		w.WriteByte(' ')
		if align && i < len(right) && right[i] {
			w.WriteString(strings.Repeat(" ", pad))
			w.WriteString(c)
		} else {
			w.WriteString(c)
			w.WriteString(strings.Repeat(" ", pad))
		}
		w.WriteString(" |")
	}
	w.WriteByte('\n')
}

// typeWidth is the least width a column of type t gets, so that a
// streaming result's first batch does not leave it too narrow.
func typeWidth(t string) int {
	t = strings.ToLower(t)
	switch {
	case strings.HasPrefix(t, "timestamp"), strings.HasPrefix(t, "datetime"):
		return len("2006-01-02 15:04:05.000")
	case t == "boolean" || t == "bool":
		return len("false")
	}
	return 1
}

// ---------------------------------------------------------------- live

// liveRow is one row of a live table. A removed row stays in place, dead,
// until the table is compacted, so that removal is O(1).
type liveRow struct {
	cells []string
	key   string
	dead  bool
}

type liveView struct {
	p      *printer
	header []string
	right  []bool
	min    []int

	mu      sync.Mutex
	rowsAll []*liveRow            // in order of arrival; dead ones included
	byKey   map[string][]*liveRow // alive rows by their cells
	alive   int
	changes int64
	slot    *liveRow // the row a -U just removed: the next +U takes its place

	drawn    int       // lines of the last drawing, to move back over
	lastDraw time.Time // when it was drawn
	timer    stopper   // a pending redraw
	ended    bool
}

func newLiveView(p *printer, cols []Column) *liveView {
	v := &liveView{p: p, byKey: map[string][]*liveRow{}}
	for _, c := range cols {
		v.header = append(v.header, termtext.OneLine(c.Name))
		v.right = append(v.right, c.Numeric)
		v.min = append(v.min, max(termtext.DisplayWidth(termtext.OneLine(c.Name)), typeWidth(c.Type)))
	}
	v.draw(false, "")
	_ = p.w.Flush()
	return v
}

func (v *liveView) live() bool { return true }

func rowKey(cells []string) string { return strings.Join(cells, "\x00") }

func (v *liveView) rows(rows [][]string, kinds []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, r := range rows {
		kind := "+I"
		if i < len(kinds) {
			kind = kinds[i]
		}
		cells := make([]string, len(r))
		for j, c := range r {
			cells[j] = termtext.OneLine(c)
		}
		v.apply(kind, cells)
	}
	v.changes += int64(len(rows))
	v.schedule()
	_ = v.p.w.Flush()
}

// apply changes the table by one row. Callers hold v.mu.
func (v *liveView) apply(kind string, cells []string) {
	key := rowKey(cells)
	switch kind {
	case "-U", "-D":
		rs := v.byKey[key]
		if len(rs) == 0 {
			return // a retraction of a row never seen: nothing to remove
		}
		r := rs[len(rs)-1]
		if len(rs) == 1 {
			delete(v.byKey, key)
		} else {
			v.byKey[key] = rs[:len(rs)-1]
		}
		r.dead = true
		v.alive--
		v.slot = nil
		if kind == "-U" {
			v.slot = r
		}
	default: // +I, +U
		r := v.slot
		v.slot = nil
		if kind != "+U" || r == nil {
			r = &liveRow{}
			v.rowsAll = append(v.rowsAll, r)
		}
		r.cells, r.key, r.dead = cells, key, false
		v.byKey[key] = append(v.byKey[key], r)
		v.alive++
	}
	if dead := len(v.rowsAll) - v.alive; dead > 64 && dead > v.alive {
		v.compact()
	}
}

func (v *liveView) compact() {
	out := v.rowsAll[:0]
	for _, r := range v.rowsAll {
		if !r.dead || r == v.slot {
			out = append(out, r)
		}
	}
	clear(v.rowsAll[len(out):])
	v.rowsAll = out
}

// schedule redraws now if the last drawing is old enough, else once the
// interval has passed. Callers hold v.mu.
func (v *liveView) schedule() {
	d := v.p.d
	if wait := v.lastDraw.Add(d.every).Sub(d.now()); wait > 0 {
		if v.timer == nil {
			v.timer = d.after(wait, func() {
				v.mu.Lock()
				defer v.mu.Unlock()
				v.timer = nil
				if !v.ended {
					v.draw(false, "")
					_ = v.p.w.Flush()
				}
			})
		}
		return
	}
	v.draw(false, "")
}

func (v *liveView) end(complete bool, note string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ended = true
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	v.draw(complete, note)
}

// draw replaces the previous drawing. final: the query ended, so every row
// is shown. Callers hold v.mu.
func (v *liveView) draw(final bool, note string) {
	w := v.p.w
	termW, termH := v.p.d.termSize()
	maxRows := v.alive
	if !final {
		maxRows = min(maxRows, max(termH-6, 1))
	}
	shown := make([][]string, 0, maxRows)
	for _, r := range v.rowsAll {
		if len(shown) == maxRows {
			break
		}
		if !r.dead {
			shown = append(shown, r.cells)
		}
	}
	widths := append([]int(nil), v.min...)
	for _, cells := range shown {
		for i, c := range cells {
			if i < len(widths) {
				widths[i] = max(widths[i], termtext.DisplayWidth(c))
			}
		}
	}
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	writeRule(bw, widths)
	writeCells(bw, v.header, widths, v.right, false)
	writeRule(bw, widths)
	for _, cells := range shown {
		writeCells(bw, cells, widths, v.right, true)
	}
	if len(shown) > 0 {
		writeRule(bw, widths)
	}
	extra := strconv.FormatInt(v.changes, 10) + " change"
	if v.changes != 1 {
		extra += "s"
	}
	if len(shown) < v.alive {
		extra += ", " + strconv.Itoa(len(shown)) + " shown"
	}
	switch {
	case note != "":
	case !final && !v.ended:
		note = "updating, Ctrl-C stops"
	}
	bw.WriteString(countLine(int64(v.alive), extra, note))
	bw.Flush()

	if v.drawn > 0 {
		fmt.Fprintf(w, "\x1b[%dA\r\x1b[J", v.drawn)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	v.drawn = 0
	for _, l := range lines {
		if l == "" {
			continue
		}
		w.WriteString(cut(strings.TrimSuffix(l, "\n"), termW))
		w.WriteByte('\n')
		v.drawn++
	}
	v.lastDraw = v.p.d.now()
	if final {
		v.drawn = 0 // never drawn over again
	}
}

// cut shortens s to n terminal cells, marking the cut with "…".
func cut(s string, n int) string {
	if termtext.DisplayWidth(s) <= n {
		return s
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := termtext.RuneWidth(r)
		if used+rw > n-1 {
			break
		}
		b.WriteRune(r)
		used += rw
	}
	b.WriteString("…")
	return b.String()
}

// ---------------------------------------------------------------- text
