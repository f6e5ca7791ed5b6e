package exec

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// TestIntervalJoinLeft: right.ts - left.ts in [0, 1000] on k. Matches are
// emitted on arrival; rows are dropped when the watermark passes their
// bound, an unmatched left row then padded; late rows are counted.
func TestIntervalJoinLeft(t *testing.T) {
	j, err := NewIntervalJoin(IntervalJoinConfig{Kind: JoinLeft, LeftKeys: []int{0}, RightKeys: []int{0},
		LeftWidth: 3, RightWidth: 3, LeftTime: 2, RightTime: 2, Lower: 0, Upper: 1000})
	if err != nil {
		t.Fatal(err)
	}
	runJoinScript(t, j, []joinStep{
		{[]string{"L +I 1 a @1000"}, nil},
		{[]string{"R +I 1 x @1500"}, []string{"+I 1,a,1000,1,x,1500"}},
		{[]string{"R +I 1 y @2500", "R +I 1 early @999"}, nil},
		{[]string{"L +I 2 b @1200"}, nil},
		{[]string{"L +I NULL n @1300", "L +I 3 nots NULL"}, []string{"+I NULL,n,1300,NULL,NULL,NULL", "+I 3,nots,NULL,NULL,NULL,NULL"}},
		{[]string{"WM 1500"}, nil},
		{[]string{"L +I 1 c @1600"}, []string{"+I 1,c,1600,1,y,2500"}},
		{[]string{"WM 2000"}, nil},
		{[]string{"WM 2200"}, []string{"+I 2,b,1200,NULL,NULL,NULL"}},
		{[]string{"L +I 1 late @2100"}, nil},
		{[]string{"L +I 1 d @2300"}, []string{"+I 1,d,2300,1,y,2500"}},
		{[]string{"WM 9000"}, nil},
	})
	if n := j.LateRows(); n != 1 {
		t.Errorf("late rows %d, want 1", n)
	}
	if len(j.entries) != 0 || len(j.expiry) != 0 {
		t.Errorf("state left after the last watermark: %d keys, %d rows", len(j.entries), len(j.expiry))
	}
}

// TestIntervalJoinFullNegativeBounds: right.ts - left.ts in [-2000, -1000]
// (the right row is 1 to 2 s older); both sides are padded when dropped
// unmatched, and a row that arrives after its bound has passed is padded at
// once.
func TestIntervalJoinFullNegativeBounds(t *testing.T) {
	j, err := NewIntervalJoin(IntervalJoinConfig{Kind: JoinFull, LeftKeys: []int{0}, RightKeys: []int{0},
		LeftWidth: 3, RightWidth: 3, LeftTime: 2, RightTime: 2, Lower: -2000, Upper: -1000})
	if err != nil {
		t.Fatal(err)
	}
	runJoinScript(t, j, []joinStep{
		// right rows are kept until wm ≥ ts + 2000, left rows until wm ≥ ts - 1000
		{[]string{"R +I 1 x @1000"}, nil},
		{[]string{"L +I 1 a @2500"}, []string{"+I 1,a,2500,1,x,1000"}},
		{[]string{"R +I 2 y @1000"}, nil},
		{[]string{"WM 1600"}, nil}, // a dropped (matched)
		// b's partners are ≤ 700, all seen (y is 1000: no match): padded at once
		{[]string{"L +I 2 b @1700"}, []string{"+I 2,b,1700,NULL,NULL,NULL"}},
		{[]string{"WM 3000"}, []string{"+I NULL,NULL,NULL,2,y,1000"}},
	})
}

// TestWindowJoinFull: rows wait for their window to close; per key the
// matches, then unmatched rows padded; late rows are counted.
func TestWindowJoinFull(t *testing.T) {
	res, _ := expr.NewBinary(expr.OpNE, &expr.Column{Index: 3, Typ: types.TVarchar}, &expr.Column{Index: 7, Typ: types.TVarchar})
	j, err := NewWindowJoin(WindowJoinConfig{Kind: JoinFull, LeftKeys: []int{0, 2}, RightKeys: []int{0, 2},
		LeftWidth: 4, RightWidth: 4, LeftEnd: 2, RightEnd: 2, Residual: res})
	if err != nil {
		t.Fatal(err)
	}
	runJoinScript(t, j, []joinStep{
		{[]string{"L +I 1 @0 @10 a", "L +I 1 @10 @20 b"}, nil},
		{[]string{"R +I 2 @0 @10 y", "R +I 1 @0 @10 x", "R +I 1 @0 @10 a"}, nil},
		{[]string{"WM 8"}, nil},
		{[]string{"WM 9"}, []string{"+I 1,0,10,a,1,0,10,x", "+I NULL,NULL,NULL,NULL,1,0,10,a", "+I NULL,NULL,NULL,NULL,2,0,10,y"}},
		{[]string{"L +I 1 @0 @10 late"}, nil},
		{[]string{"R +I 1 @10 @20 z", "R +I 1 @10 @20 w", "R +I NULL @10 @20 n"}, []string{"+I NULL,NULL,NULL,NULL,NULL,10,20,n"}},
		{[]string{"WM 100"}, []string{"+I 1,10,20,b,1,10,20,z", "+I 1,10,20,b,1,10,20,w"}},
	})
	if n := j.LateRows(); n != 1 {
		t.Errorf("late rows %d, want 1", n)
	}
	if len(j.wins) != 0 || len(j.pending) != 0 {
		t.Error("windows left after the last watermark")
	}
}

// TestLookupJoin: probe keys are expressions (k % 10); a left lookup join
// pads misses and retracts what a row found.
func TestLookupJoin(t *testing.T) {
	rows := []types.Row{
		{types.BigIntValue(1), types.StringValue("one")},
		{types.BigIntValue(2), types.StringValue("two")},
		{types.BigIntValue(2), types.StringValue("deux")},
		{types.NullValue, types.StringValue("null")},
	}
	tbl, err := NewLookupTable(rows, 2, []expr.Expr{&expr.Column{Index: 0, Typ: types.TBigInt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rows() != 3 {
		t.Errorf("indexed %d rows, want 3 (the NULL key cannot match)", tbl.Rows())
	}
	mod, _ := expr.NewBinary(expr.OpMod, &expr.Column{Index: 0, Typ: types.TBigInt}, &expr.Literal{Val: types.BigIntValue(10), Typ: types.TBigInt})
	j, err := NewLookupJoin(LookupJoinConfig{Kind: JoinLeft, ProbeKeys: []expr.Expr{mod}, LeftWidth: 2, Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	runJoinScript(t, j, []joinStep{
		{[]string{"L +I 11 a", "L +I 12 b", "L +I 13 c", "L +I NULL d"}, []string{"+I 11,a,1,one", "+I 12,b,2,two", "+I 12,b,2,deux", "+I 13,c,NULL,NULL", "+I NULL,d,NULL,NULL"}},
		{[]string{"L -U 12 b", "L +U 21 b"}, []string{"-D 12,b,2,two", "-D 12,b,2,deux", "+I 21,b,1,one"}},
	})
	if _, err := NewLookupJoin(LookupJoinConfig{Kind: JoinRight, ProbeKeys: []expr.Expr{mod}, LeftWidth: 2, Table: tbl}); err == nil {
		t.Error("a RIGHT lookup join was accepted")
	}
}

// timedScript makes a random append-only input for the interval and window
// join restore tests: rows [k, ts, v] with ts rising with jitter, keys 0..5,
// watermarks every few rows (no late rows: jitter < watermark lag).
type timedStep struct {
	side int
	row  types.Row
	wm   int64 // > 0: a watermark instead of a row
}

func timedScript(rng *rand.Rand, n int, window bool) []timedStep {
	var out []timedStep
	clock := int64(1000)
	for i := range n {
		clock += int64(rng.IntN(40))
		ts := clock + int64(rng.IntN(200))
		k := types.BigIntValue(int64(rng.IntN(6)))
		var row types.Row
		if window {
			end := (ts/100 + 1) * 100
			row = types.Row{k, types.TimestampValue(end - 100), types.TimestampValue(end), types.BigIntValue(int64(i))}
		} else {
			row = types.Row{k, types.TimestampValue(ts), types.BigIntValue(int64(i))}
		}
		out = append(out, timedStep{side: rng.IntN(2), row: row})
		if rng.IntN(8) == 0 {
			out = append(out, timedStep{wm: clock - 250})
		}
	}
	return out
}

func feedTimed(t *testing.T, op Operator, steps []timedStep, c *aggCollector) {
	t.Helper()
	for _, s := range steps {
		var err error
		if s.wm > 0 {
			err = op.(WatermarkHandler).OnWatermark(s.wm, c)
		} else {
			err = op.Process(s.side, &types.Batch{Rows: []types.Row{slices.Clone(s.row)}}, c)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestTimedJoinSnapshotRestoreRescale: interval and window joins,
// snapshotted incrementally, restored into three subtasks (key groups
// split three ways) and fed the rest give the same rows as one
// uninterrupted run, and leave no state behind.
func TestTimedJoinSnapshotRestoreRescale(t *testing.T) {
	const groups = 16
	type mk func() interface {
		Operator
		WatermarkHandler
		Snapshotter
		Restorer
	}
	cases := map[string]struct {
		window bool
		new    mk
	}{}
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinRight, JoinFull} {
		cases["interval/"+kind.String()] = struct {
			window bool
			new    mk
		}{false, func() interface {
			Operator
			WatermarkHandler
			Snapshotter
			Restorer
		} {
			j, err := NewIntervalJoin(IntervalJoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0},
				LeftWidth: 3, RightWidth: 3, LeftTime: 1, RightTime: 1, Lower: -100, Upper: 50, MaxKeyGroups: groups})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}}
		cases["window/"+kind.String()] = struct {
			window bool
			new    mk
		}{true, func() interface {
			Operator
			WatermarkHandler
			Snapshotter
			Restorer
		} {
			j, err := NewWindowJoin(WindowJoinConfig{Kind: kind, LeftKeys: []int{0, 1, 2}, RightKeys: []int{0, 1, 2},
				LeftWidth: 4, RightWidth: 4, LeftEnd: 2, RightEnd: 2, MaxKeyGroups: groups})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}}
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		for seed := range 3 {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(seed), 5))
				script := timedScript(rng, 400, c.window)
				keys := []int{0}
				if c.window {
					keys = []int{0, 1, 2}
				}
				gold := c.new()
				var gc aggCollector
				feedTimed(t, gold, script, &gc)
				if err := gold.OnWatermark(MaxWatermark, &gc); err != nil {
					t.Fatal(err)
				}
				want := gc.take()
				slices.Sort(want)
				if len(want) < 50 {
					t.Fatalf("only %d rows: the script tests little", len(want))
				}

				cut := 150 + rng.IntN(150)
				op := c.new()
				st := newMemState()
				var oc aggCollector
				prev := 0
				for _, p := range []int{cut / 4, cut / 2, cut} {
					feedTimed(t, op, script[prev:p], &oc)
					prev = p
					if err := op.SnapshotState(1, st); err != nil {
						t.Fatal(err)
					}
				}
				got := oc.take()
				parts := make([][]timedStep, 3)
				for _, s := range script[cut:] {
					if s.wm > 0 {
						for i := range parts {
							parts[i] = append(parts[i], s)
						}
						continue
					}
					g := int(types.KeyHash(s.row, keys) % groups)
					sub := SubtaskForKeyGroup(groups, 3, g)
					parts[sub] = append(parts[sub], s)
				}
				for sub := range 3 {
					first, last := KeyGroupRange(groups, 3, sub)
					nop := c.new()
					if err := nop.RestoreState(st.scan(first, last)); err != nil {
						t.Fatal(err)
					}
					var nc aggCollector
					feedTimed(t, nop, parts[sub], &nc)
					if err := nop.OnWatermark(MaxWatermark, &nc); err != nil {
						t.Fatal(err)
					}
					got = append(got, nc.take()...)
					// all state gone: its deletions balance its writes
					if err := nop.SnapshotState(2, st); err != nil {
						t.Fatal(err)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("restored run differs: %d rows, want %d\n%s", len(got), len(want), diffRows(got, want))
				}
				for k := range st.m {
					t.Errorf("state entry left after the end: %s", k)
					break
				}
			})
		}
	}
}
