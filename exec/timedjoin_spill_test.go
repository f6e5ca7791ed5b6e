package exec

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// timedSpillOp is an interval or window join.
type timedSpillOp interface {
	Operator
	WatermarkHandler
	CopyOnWriteSnapshotter
	Restorer
	Spiller
	Closer
}

// TestTimedJoinSpill runs interval and window joins of every kind in
// memory and with room for a few keys side by side on random input (both
// sides, 40 keys, rows [k, ts or window end, v], a residual l.v <> r.v),
// with watermarks, captures written a few entries at a time, and restores
// of each from its own captures: they must emit the same rows in the same
// order after every step, and their captures, applied in order, must hold
// the same state. The "wide" variants keep thousands of rows, so that
// restores spill while reading. At the end every spilled key must be gone
// and the spilling runs must have evicted, reloaded and (interval join)
// expired spilled keys.
func TestTimedJoinSpill(t *testing.T) {
	store := openTestSpill(t)
	res, err := expr.NewBinary(expr.OpNE, &expr.Column{Index: 2, Typ: types.TBigInt}, &expr.Column{Index: 5, Typ: types.TBigInt})
	if err != nil {
		t.Fatal(err)
	}
	type variant struct {
		window bool
		span   int64 // interval: -Lower and Upper; window: its size
	}
	variants := map[string]variant{
		"interval": {false, 150}, "interval-wide": {false, 16000},
		"window": {true, 400}, "window-wide": {true, 16000},
	}
	for _, name := range slices.Sorted(maps.Keys(variants)) {
		v := variants[name]
		for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinRight, JoinFull} {
			t.Run(name+"/"+kind.String(), func(t *testing.T) {
				newOp := func() timedSpillOp {
					if v.window {
						j, err := NewWindowJoin(WindowJoinConfig{Kind: kind, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1},
							LeftWidth: 3, RightWidth: 3, LeftEnd: 1, RightEnd: 1, Residual: res})
						if err != nil {
							t.Fatal(err)
						}
						return j
					}
					j, err := NewIntervalJoin(IntervalJoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0},
						LeftWidth: 3, RightWidth: 3, LeftTime: 1, RightTime: 1, Lower: -v.span, Upper: v.span / 2, Residual: res})
					if err != nil {
						t.Fatal(err)
					}
					return j
				}
				var stats SpillStats
				var spilledAtWM int64 // keys spilled when a watermark came
				bigRestores := 0      // restores of 1,100 entries or more
				for seed := uint64(1); seed <= 4; seed++ {
					rng := rand.New(rand.NewPCG(seed, 11))
					mem, sp := newOp(), newOp()
					mem.TrackChanges()
					sp.EnableSpill(store.Space(), 3000)
					sp.TrackChanges()
					var outMem, outSp aggCollector
					stMem, stSp := map[string]string{}, map[string]string{}
					check := func(step int, what string) {
						t.Helper()
						if a, b := outMem.take(), outSp.take(); !slices.Equal(a, b) {
							t.Fatalf("seed %d step %d (%s): output differs: %d rows in memory, %d spilling\n%s", seed, step, what, len(a), len(b), diffRows(b, a))
						}
					}
					ts, wm, captured := int64(1000), int64(0), false
					// captures stay open over the following steps and are
					// written a few entries at a time, by each operator at
					// its own pace (a spilled key is one space entry)
					var capMem, capSp *openCapture
					finished := func(step int) {
						t.Helper()
						if capMem == nil || !capMem.done || !capSp.done {
							return
						}
						capMem, capSp, captured = nil, nil, true
						if !maps.Equal(stMem, stSp) {
							t.Fatalf("seed %d step %d: captured state differs: %d entries in memory, %d spilling", seed, step, len(stMem), len(stSp))
						}
					}
					for step := range 1500 {
						if capMem != nil && rng.IntN(2) == 0 {
							capMem.cont(t, mem, 1+rng.IntN(4), stMem)
							capSp.cont(t, sp, 1+rng.IntN(4), stSp)
							finished(step)
						}
						switch p := rng.IntN(100); {
						case p < 70:
							side := rng.IntN(2)
							b := &types.Batch{}
							for range 1 + rng.IntN(6) {
								ts += int64(rng.IntN(12))
								at := ts + int64(rng.IntN(40)) // jitter, below the watermark lag
								if v.window {
									at = (at/v.span + 1) * v.span
								}
								b.Append(types.Row{types.BigIntValue(int64(rng.IntN(40))), types.TimestampValue(at), types.BigIntValue(int64(rng.IntN(4)))}, types.Insert)
							}
							if err := mem.Process(side, cloneBatch(b), &outMem); err != nil {
								t.Fatal(err)
							}
							if err := sp.Process(side, b, &outSp); err != nil {
								t.Fatal(err)
							}
							check(step, "batch")
						case p < 85:
							if ts-50 <= wm {
								continue
							}
							wm = ts - 50
							spilledAtWM += sp.SpillStats().Spilled
							if err := mem.OnWatermark(wm, &outMem); err != nil {
								t.Fatal(err)
							}
							if err := sp.OnWatermark(wm, &outSp); err != nil {
								t.Fatal(err)
							}
							check(step, "watermark")
						case p < 97:
							if capMem != nil {
								capMem.cont(t, mem, 0, stMem)
								capSp.cont(t, sp, 0, stSp)
								finished(step)
							}
							full := rng.IntN(3) == 0
							capMem, capSp = startCapture(t, mem, step, full), startCapture(t, sp, step, full)
						default:
							if capMem != nil {
								capMem.cont(t, mem, 0, stMem)
								capSp.cont(t, sp, 0, stSp)
								finished(step)
							}
							if !captured {
								continue
							}
							// restore both from their last captures; the
							// watermark is not state: hand it over
							st := sp.SpillStats()
							stats.Evicted += st.Evicted
							stats.Reloaded += st.Reloaded
							sp.Close()
							mem, sp = newOp(), newOp()
							sp.EnableSpill(store.Space(), 3000)
							restoreFrom(t, mem, stMem)
							// a restore of more than 1,024 entries spills
							// while it reads: the figures are published by
							// the eviction round after entry 1,024
							evictedEarly := int64(-1)
							restoreFrom(t, sp, stSp, func(n int) {
								if n == 1100 {
									evictedEarly = sp.SpillStats().Evicted
								}
							})
							if len(stSp) >= 1100 {
								bigRestores++
								if evictedEarly <= 0 {
									t.Fatalf("seed %d step %d: a restore of %d entries spilled nothing by entry 1,100", seed, step, len(stSp))
								}
							}
							if wm != 0 {
								if err := mem.OnWatermark(wm, &outMem); err != nil {
									t.Fatal(err)
								}
								if err := sp.OnWatermark(wm, &outSp); err != nil {
									t.Fatal(err)
								}
							}
							check(step, "restore")
						}
					}
					if err := mem.OnWatermark(MaxWatermark, &outMem); err != nil {
						t.Fatal(err)
					}
					if err := sp.OnWatermark(MaxWatermark, &outSp); err != nil {
						t.Fatal(err)
					}
					check(-1, "end")
					if capMem != nil {
						capMem.cont(t, mem, 0, stMem)
						capSp.cont(t, sp, 0, stSp)
						finished(-1)
					}
					st := sp.SpillStats()
					if st.Spilled != 0 || st.Resident != 0 {
						t.Fatalf("seed %d: %d keys spilled, %d bytes resident after the last watermark", seed, st.Spilled, st.Resident)
					}
					if n := spillSpaceLen(t, sp); n != 0 {
						t.Fatalf("seed %d: %d entries left in the spill space after the last watermark", seed, n)
					}
					captureInto(t, mem, 9999, false, stMem, rng)
					captureInto(t, sp, 9999, false, stSp, rng)
					if len(stMem) != 0 || len(stSp) != 0 {
						t.Fatalf("seed %d: %d and %d entries left after the last watermark", seed, len(stMem), len(stSp))
					}
					stats.Evicted += st.Evicted
					stats.Reloaded += st.Reloaded
					sp.Close()
				}
				t.Logf("%d keys evicted, %d reloaded; %d spilled at watermarks; %d restores of 1,100 entries or more", stats.Evicted, stats.Reloaded, spilledAtWM, bigRestores)
				if strings.HasSuffix(name, "-wide") && bigRestores == 0 {
					t.Fatal("no restore read 1,100 entries")
				}
				if stats.Evicted < 2000 || stats.Reloaded < 500 || spilledAtWM < 1000 {
					t.Fatalf("%d keys evicted, %d reloaded, %d spilled at watermarks: the test does not exercise spilling", stats.Evicted, stats.Reloaded, spilledAtWM)
				}
			})
		}
	}
}

// openCapture is a capture in progress, written a slice at a time.
type openCapture struct {
	log  stateLog
	full bool
	done bool
}

func startCapture(t *testing.T, op CopyOnWriteSnapshotter, id int, full bool) *openCapture {
	t.Helper()
	c := &openCapture{full: full}
	if err := op.CaptureState(uint64(id), full, &c.log); err != nil {
		t.Fatal(err)
	}
	return c
}

// cont writes up to budget entries (all if budget <= 0); once the capture
// is complete it is applied to m, which a full capture replaces.
func (c *openCapture) cont(t *testing.T, op CopyOnWriteSnapshotter, budget int, m map[string]string) {
	t.Helper()
	if c.done {
		return
	}
	done, err := op.ContinueSnapshot(budget)
	if err != nil {
		t.Fatal(err)
	}
	if !done {
		return
	}
	c.done = true
	if c.full {
		clear(m)
	}
	c.log.applyTo(t, m)
}

// spillSpaceLen counts the entries of a timed join's spill space.
func spillSpaceLen(t *testing.T, op timedSpillOp) int {
	t.Helper()
	var sp *state.SpillSpace
	switch j := op.(type) {
	case *IntervalJoin:
		sp = j.sp.sp
	case *WindowJoin:
		sp = j.sp.sp
	}
	snap, err := sp.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	n := 0
	if _, err := snap.Each(math.MaxInt, func(uint16, []byte, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
