// Window assigners: pure, clock-free functions from a row's timestamp (ms)
// to the windows it belongs to. The window aggregate operator (windowagg.go)
// drives them; processing-time windows use the same code with a wall-clock
// time column filled in by the planner.
//
// A window is the half-open interval [Start, End); its max timestamp is
// End-1, so a row at exactly End belongs to the next window, and a window
// fires once the watermark reaches End-1 (Flink's rule).
//
//	Tumble    [s, s+Size) with s = ts - windowFloorMod(ts-Offset, Size).
//	Hop       every [s, s+Size) with s ≡ Offset (mod Slide) and s ≤ ts < s+Size.
//	          Size need not be a multiple of Slide; if Size < Slide some rows
//	          fall between windows and belong to none.
//	Cumulate  within the Size-aligned period p: [p, p+Step), [p, p+2·Step), …,
//	          [p, p+Size); a row belongs to those ending after it. Size must be
//	          a multiple of Step.
//	Session   per key, a row opens [ts, ts+Gap); windows that overlap merge,
//	          so a session is [first, last+Gap) of rows less than Gap apart.
//	          Two rows exactly Gap apart are separate sessions (Flink merges
//	          touching sessions; we do not, which keeps the result independent
//	          of arrival order: a session that has fired can never be touched
//	          by a row that is not late).
//
// Assign returns windows in ascending (End, Start) order.
package exec

import "fmt"

// WindowKind is a kind of time window.
type WindowKind uint8

const (
	WindowTumble WindowKind = iota + 1
	WindowHop
	WindowSession
	WindowCumulate
)

var windowKindNames = [...]string{"", "TUMBLE", "HOP", "SESSION", "CUMULATE"}

func (k WindowKind) String() string {
	if k > 0 && int(k) < len(windowKindNames) {
		return windowKindNames[k]
	}
	return fmt.Sprintf("WindowKind(%d)", uint8(k))
}

// WindowSpec describes the windows of a window aggregation. All durations
// are milliseconds.
type WindowSpec struct {
	Kind    WindowKind
	TimeCol int   // input column holding the TIMESTAMP(3) (ms)
	Size    int64 // Tumble, Hop: window length; Cumulate: maximum length
	Slide   int64 // Hop
	Step    int64 // Cumulate
	Gap     int64 // Session
	Offset  int64 // alignment offset (Tumble, Hop, Cumulate); default 0
}

// Window is the half-open interval [Start, End) in ms.
type Window struct {
	Start, End int64
}

// MaxTimestamp is the last millisecond inside the window.
func (w Window) MaxTimestamp() int64 { return w.End - 1 }

// Validate checks the spec's parameters.
// MaxWindowsPerRow bounds how many HOP or CUMULATE windows one row may
// belong to: beyond it a query would exhaust memory, so it is refused.
const MaxWindowsPerRow = 10_000

func (s WindowSpec) Validate() error {
	if s.TimeCol < 0 {
		return fmt.Errorf("%s window: time column %d is invalid", s.Kind, s.TimeCol)
	}
	switch s.Kind {
	case WindowTumble:
		if s.Size <= 0 {
			return fmt.Errorf("TUMBLE window: size must be positive, got %d ms", s.Size)
		}
	case WindowHop:
		if s.Slide <= 0 {
			return fmt.Errorf("HOP window: slide must be positive, got %d ms", s.Slide)
		}
		if s.Size <= 0 {
			return fmt.Errorf("HOP window: size must be positive, got %d ms", s.Size)
		}
		if n := (s.Size + s.Slide - 1) / s.Slide; n > MaxWindowsPerRow {
			return fmt.Errorf("HOP window: size/slide puts every row in %d windows; at most %d are allowed", n, MaxWindowsPerRow)
		}
	case WindowCumulate:
		if s.Step <= 0 {
			return fmt.Errorf("CUMULATE window: step must be positive, got %d ms", s.Step)
		}
		if s.Size <= 0 || s.Size%s.Step != 0 {
			return fmt.Errorf("CUMULATE window: size (%d ms) must be a positive multiple of step (%d ms)", s.Size, s.Step)
		}
		if n := s.Size / s.Step; n > MaxWindowsPerRow {
			return fmt.Errorf("CUMULATE window: size/step puts a row in up to %d windows; at most %d are allowed", n, MaxWindowsPerRow)
		}
	case WindowSession:
		if s.Gap <= 0 {
			return fmt.Errorf("SESSION window: gap must be positive, got %d ms", s.Gap)
		}
	default:
		return fmt.Errorf("unknown window kind %d", s.Kind)
	}
	return nil
}

// String prints the spec deterministically (for EXPLAIN).
func (s WindowSpec) String() string {
	switch s.Kind {
	case WindowTumble:
		return fmt.Sprintf("TUMBLE(time=$%d, size=%dms, offset=%dms)", s.TimeCol, s.Size, s.Offset)
	case WindowHop:
		return fmt.Sprintf("HOP(time=$%d, slide=%dms, size=%dms, offset=%dms)", s.TimeCol, s.Slide, s.Size, s.Offset)
	case WindowCumulate:
		return fmt.Sprintf("CUMULATE(time=$%d, step=%dms, size=%dms, offset=%dms)", s.TimeCol, s.Step, s.Size, s.Offset)
	case WindowSession:
		return fmt.Sprintf("SESSION(time=$%d, gap=%dms)", s.TimeCol, s.Gap)
	}
	return s.Kind.String()
}

// windowFloorMod is a mod m in [0, m) for m > 0, also for negative a.
func windowFloorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// TumbleWindow is the tumbling window of length size containing ts.
func TumbleWindow(ts, size, offset int64) Window {
	start := ts - windowFloorMod(ts-offset, size)
	return Window{start, start + size}
}

// Assign appends to dst the windows containing ts, in ascending
// (End, Start) order, and returns it. For sessions it returns the row's own
// window [ts, ts+Gap) (merging is SessionMerge's job). The spec must be
// valid.
func (s WindowSpec) Assign(ts int64, dst []Window) []Window {
	switch s.Kind {
	case WindowTumble:
		return append(dst, TumbleWindow(ts, s.Size, s.Offset))
	case WindowHop:
		last := ts - windowFloorMod(ts-s.Offset, s.Slide) // latest start ≤ ts
		// earliest start with start+Size > ts: last - k·Slide with k maximal
		num := last - ts + s.Size - 1
		if num < 0 {
			return dst // ts falls between two windows (Size < Slide)
		}
		for start := last - (num/s.Slide)*s.Slide; start <= last; start += s.Slide {
			dst = append(dst, Window{start, start + s.Size})
		}
		return dst
	case WindowCumulate:
		period := ts - windowFloorMod(ts-s.Offset, s.Size)
		for end := period + ((ts-period)/s.Step+1)*s.Step; end <= period+s.Size; end += s.Step {
			dst = append(dst, Window{period, end})
		}
		return dst
	case WindowSession:
		return append(dst, Window{ts, ts + s.Gap})
	}
	return dst
}

// SessionMerge finds where a row at ts with session gap lands among open,
// a key's sessions sorted by Start and pairwise disjoint. The row's window
// [ts, ts+gap) overlaps exactly open[lo:hi] (empty when lo == hi, in which
// case the new session belongs at index lo); merged is the union of the
// row's window and open[lo:hi].
func SessionMerge(open []Window, ts, gap int64) (lo, hi int, merged Window) {
	end := ts + gap
	// Disjoint and sorted by Start means sorted by End as well.
	lo, hi = 0, len(open)
	for lo < hi { // first session ending after ts
		m := int(uint(lo+hi) >> 1)
		if open[m].End > ts {
			hi = m
		} else {
			lo = m + 1
		}
	}
	hi = lo
	for hi < len(open) && open[hi].Start < end {
		hi++
	}
	merged = Window{ts, end}
	if lo < hi {
		merged.Start = min(merged.Start, open[lo].Start)
		merged.End = max(merged.End, open[hi-1].End)
	}
	return lo, hi, merged
}
