package exec

import (
	"slices"
	"testing"
)

func TestWindowAssign(t *testing.T) {
	w := func(s, e int64) Window { return Window{s, e} }
	tumble := WindowSpec{Kind: WindowTumble, Size: 10}
	tumbleOff := WindowSpec{Kind: WindowTumble, Size: 10, Offset: 3}
	hop := WindowSpec{Kind: WindowHop, Size: 10, Slide: 5}
	hopOdd := WindowSpec{Kind: WindowHop, Size: 10, Slide: 4} // size not a multiple of slide
	hopGap := WindowSpec{Kind: WindowHop, Size: 3, Slide: 5}  // size < slide: gaps
	hopOff := WindowSpec{Kind: WindowHop, Size: 10, Slide: 4, Offset: 1}
	cum := WindowSpec{Kind: WindowCumulate, Step: 5, Size: 15}
	cumOff := WindowSpec{Kind: WindowCumulate, Step: 5, Size: 15, Offset: -2}
	sess := WindowSpec{Kind: WindowSession, Gap: 7}
	tests := []struct {
		name string
		spec WindowSpec
		ts   int64
		want []Window
	}{
		{"tumble start", tumble, 0, []Window{w(0, 10)}},
		{"tumble middle", tumble, 7, []Window{w(0, 10)}},
		{"tumble last ms", tumble, 9, []Window{w(0, 10)}},
		{"tumble at end is next window", tumble, 10, []Window{w(10, 20)}},
		{"tumble negative", tumble, -1, []Window{w(-10, 0)}},
		{"tumble negative boundary", tumble, -10, []Window{w(-10, 0)}},
		{"tumble negative inside", tumble, -11, []Window{w(-20, -10)}},
		{"tumble offset", tumbleOff, 2, []Window{w(-7, 3)}},
		{"tumble offset boundary", tumbleOff, 3, []Window{w(3, 13)}},
		{"tumble offset negative", tumbleOff, -8, []Window{w(-17, -7)}},
		{"hop", hop, 7, []Window{w(0, 10), w(5, 15)}},
		{"hop boundary", hop, 10, []Window{w(5, 15), w(10, 20)}},
		{"hop last ms", hop, 9, []Window{w(0, 10), w(5, 15)}},
		{"hop negative", hop, -1, []Window{w(-10, 0), w(-5, 5)}},
		{"hop negative boundary", hop, -5, []Window{w(-10, 0), w(-5, 5)}},
		{"hop odd", hopOdd, 5, []Window{w(-4, 6), w(0, 10), w(4, 14)}},
		{"hop odd 2", hopOdd, 8, []Window{w(0, 10), w(4, 14), w(8, 18)}},
		{"hop odd 3", hopOdd, 6, []Window{w(0, 10), w(4, 14)}},
		{"hop odd negative", hopOdd, -3, []Window{w(-12, -2), w(-8, 2), w(-4, 6)}},
		{"hop gap inside", hopGap, 6, []Window{w(5, 8)}},
		{"hop gap last ms", hopGap, 7, []Window{w(5, 8)}},
		{"hop gap between", hopGap, 8, nil},
		{"hop gap between 2", hopGap, 9, nil},
		{"hop gap negative between", hopGap, -1, nil},
		{"hop gap negative", hopGap, -4, []Window{w(-5, -2)}},
		{"hop offset", hopOff, 1, []Window{w(-7, 3), w(-3, 7), w(1, 11)}},
		{"cumulate first step", cum, 3, []Window{w(0, 5), w(0, 10), w(0, 15)}},
		{"cumulate step boundary", cum, 5, []Window{w(0, 10), w(0, 15)}},
		{"cumulate last step", cum, 14, []Window{w(0, 15)}},
		{"cumulate next period", cum, 15, []Window{w(15, 20), w(15, 25), w(15, 30)}},
		{"cumulate negative", cum, -1, []Window{w(-15, 0)}},
		{"cumulate negative 2", cum, -15, []Window{w(-15, -10), w(-15, -5), w(-15, 0)}},
		{"cumulate negative 3", cum, -6, []Window{w(-15, -5), w(-15, 0)}},
		{"cumulate offset", cumOff, 0, []Window{w(-2, 3), w(-2, 8), w(-2, 13)}},
		{"cumulate offset 2", cumOff, -3, []Window{w(-17, -2)}},
		{"session", sess, -4, []Window{w(-4, 3)}},
	}
	for _, tt := range tests {
		if err := tt.spec.Validate(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := tt.spec.Assign(tt.ts, nil)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Assign(%d) = %v, want %v", tt.name, tt.ts, got, tt.want)
		}
		for _, win := range got {
			if tt.ts < win.Start || tt.ts > win.MaxTimestamp() {
				t.Errorf("%s: window %v does not contain %d", tt.name, win, tt.ts)
			}
		}
	}
}

// TestWindowAssignBrute checks the assigners against enumeration for many
// timestamps, sizes and offsets.
func TestWindowAssignBrute(t *testing.T) {
	mod := func(a, m int64) int64 { return ((a % m) + m) % m }
	for size := int64(1); size <= 9; size++ {
		for slide := int64(1); slide <= 9; slide++ {
			for off := int64(-5); off <= 5; off += 3 {
				hop := WindowSpec{Kind: WindowHop, Size: size, Slide: slide, Offset: off}
				tumble := WindowSpec{Kind: WindowTumble, Size: size, Offset: off}
				var cum WindowSpec
				if size%slide == 0 {
					cum = WindowSpec{Kind: WindowCumulate, Size: size, Step: slide, Offset: off}
				}
				for ts := int64(-30); ts <= 30; ts++ {
					var wantHop, wantTumble, wantCum []Window
					for s := ts - size + 1; s <= ts; s++ {
						if mod(s-off, slide) == 0 {
							wantHop = append(wantHop, Window{s, s + size})
						}
						if mod(s-off, size) == 0 {
							wantTumble = append(wantTumble, Window{s, s + size})
							for e := s + slide; e <= s+size; e += slide {
								if e > ts {
									wantCum = append(wantCum, Window{s, e})
								}
							}
						}
					}
					if got := hop.Assign(ts, nil); !slices.Equal(got, wantHop) {
						t.Fatalf("%v ts=%d: got %v, want %v", hop, ts, got, wantHop)
					}
					if got := tumble.Assign(ts, nil); !slices.Equal(got, wantTumble) {
						t.Fatalf("%v ts=%d: got %v, want %v", tumble, ts, got, wantTumble)
					}
					if cum.Kind != 0 {
						if got := cum.Assign(ts, nil); !slices.Equal(got, wantCum) {
							t.Fatalf("%v ts=%d: got %v, want %v", cum, ts, got, wantCum)
						}
					}
				}
			}
		}
	}
}

func TestWindowSpecValidate(t *testing.T) {
	bad := []WindowSpec{
		{},
		{Kind: WindowTumble},
		{Kind: WindowTumble, Size: 10, TimeCol: -1},
		{Kind: WindowHop, Size: 10},
		{Kind: WindowHop, Slide: 10},
		{Kind: WindowHop, Size: 10, Slide: -1},
		{Kind: WindowCumulate, Size: 10},
		{Kind: WindowCumulate, Size: 10, Step: 3},
		{Kind: WindowCumulate, Size: 0, Step: 3},
		{Kind: WindowSession},
		{Kind: WindowSession, Gap: -5},
		{Kind: 9, Size: 10},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: Validate succeeded, want an error", s)
		}
	}
}

func TestSessionMerge(t *testing.T) {
	w := func(s, e int64) Window { return Window{s, e} }
	open := []Window{w(-20, -10), w(0, 10), w(20, 30), w(30, 40)}
	tests := []struct {
		name   string
		open   []Window
		ts     int64
		lo, hi int
		merged Window
	}{
		{"empty", nil, 5, 0, 0, w(5, 15)},
		{"before all", open, -40, 0, 0, w(-40, -30)},
		{"touching before is separate", open, -30, 0, 0, w(-30, -20)},
		{"overlap first from before", open, -29, 0, 1, w(-29, -10)},
		{"inside", open, 3, 1, 2, w(0, 13)},
		{"inside no growth", open, 0, 1, 2, w(0, 10)},
		{"at end is separate", open, 10, 2, 2, w(10, 20)},
		{"last ms extends", open, 9, 1, 2, w(0, 19)},
		{"bridges", open, 12, 2, 3, w(12, 30)},
		{"bridge gap", []Window{w(0, 10), w(15, 25)}, 8, 0, 2, w(0, 25)},
		{"bridge three", []Window{w(0, 10), w(12, 14), w(16, 25)}, 9, 0, 3, w(0, 25)},
		{"between", []Window{w(0, 10), w(30, 40)}, 15, 1, 1, w(15, 25)},
		{"after all", open, 45, 4, 4, w(45, 55)},
		{"extends last", open, 35, 3, 4, w(30, 45)},
		{"negative", open, -15, 0, 1, w(-20, -5)},
	}
	for _, tt := range tests {
		lo, hi, merged := SessionMerge(tt.open, tt.ts, 10)
		if lo != tt.lo || hi != tt.hi || merged != tt.merged {
			t.Errorf("%s: SessionMerge(%d) = %d, %d, %v; want %d, %d, %v", tt.name, tt.ts, lo, hi, merged, tt.lo, tt.hi, tt.merged)
		}
	}
}
