package exec

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// gaStep is one input batch: rows written "+I a 5" (key, value; "NULL" for
// NULL), and the exact output expected.
type gaStep struct {
	in   []string
	want []string
}

func gaParse(t *testing.T, lines []string) *types.Batch {
	t.Helper()
	b := &types.Batch{}
	kinds := map[string]types.RowKind{"+I": types.Insert, "-U": types.UpdateBefore, "+U": types.UpdateAfter, "-D": types.Delete}
	for _, l := range lines {
		f := strings.Fields(l)
		k, ok := kinds[f[0]]
		if !ok || len(f) != 3 {
			t.Fatalf("bad input line %q", l)
		}
		r := types.Row{types.StringValue(f[1]), types.NullValue}
		if f[2] != "NULL" {
			var v int64
			for _, c := range strings.TrimPrefix(f[2], "-") {
				v = v*10 + int64(c-'0')
			}
			if strings.HasPrefix(f[2], "-") {
				v = -v
			}
			r[1] = types.BigIntValue(v)
		}
		b.Append(r, k)
	}
	return b
}

func gaRun(t *testing.T, cfg GroupAggConfig, steps []gaStep) {
	t.Helper()
	op, err := NewGroupAgg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out aggCollector
	for i, s := range steps {
		n := len(out.batches)
		if err := op.Process(0, gaParse(t, s.in), &out); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(out.batches)-n > 1 {
			t.Errorf("step %d: %d output batches, want at most 1", i, len(out.batches)-n)
		}
		if got := out.take(); !slices.Equal(got, s.want) {
			t.Errorf("step %d %v:\n got %s\nwant %s", i, s.in, strings.Join(got, "\n     "), strings.Join(s.want, "\n     "))
		}
	}
}

func TestGroupAggChangelog(t *testing.T) {
	cfg := GroupAggConfig{
		Keys: []int{0},
		Aggs: []AggCall{
			{Kind: AggCountStar, Arg: -1},
			{Kind: AggSum, Arg: 1, ArgType: types.TBigInt},
			{Kind: AggMin, Arg: 1, ArgType: types.TBigInt},
			{Kind: AggMax, Arg: 1, ArgType: types.TBigInt},
		},
		InputUpdating: true,
	}
	gaRun(t, cfg, []gaStep{
		{[]string{"+I a 5"}, []string{"+I a,1,5,5,5"}},
		{[]string{"+I a 3", "+I b 7"}, []string{"-U a,1,5,5,5", "+U a,2,8,3,5", "+I b,1,7,7,7"}},
		// retract the minimum
		{[]string{"-D a 3"}, []string{"-U a,2,8,3,5", "+U a,1,5,5,5"}},
		// a duplicate of the extreme, then retracting one copy keeps it
		{[]string{"+I a 5"}, []string{"-U a,1,5,5,5", "+U a,2,10,5,5"}},
		{[]string{"-U a 5"}, []string{"-U a,2,10,5,5", "+U a,1,5,5,5"}},
		// retract the maximum
		{[]string{"+I b 9"}, []string{"-U b,1,7,7,7", "+U b,2,16,7,9"}},
		{[]string{"-D b 9"}, []string{"-U b,2,16,7,9", "+U b,1,7,7,7"}},
		// an update that changes nothing emits nothing
		{[]string{"-U b 7", "+U b 7"}, nil},
		// folded per batch: several changes of one key give one update
		{[]string{"+I b 1", "+I b 2", "-D b 1"}, []string{"-U b,1,7,7,7", "+U b,2,9,2,7"}},
		// the last row of a: -D of the last emitted row
		{[]string{"-D a 5"}, []string{"-D a,1,5,5,5"}},
		// retraction for a key with no rows is ignored
		{[]string{"-D a 5"}, nil},
		{[]string{"+I a NULL"}, []string{"+I a,1,NULL,NULL,NULL"}},
		// born and gone within one batch: nothing
		{[]string{"+I c 1", "-D c 1", "-D c 1"}, nil},
		// groups appear in the order the batch first touched them
		{[]string{"+I d 4", "-D b 2", "+I a 6", "-D b 7"}, []string{"+I d,1,4,4,4", "-D b,2,9,2,7", "-U a,1,NULL,NULL,NULL", "+U a,2,6,6,6"}},
		{[]string{"+I b 1"}, []string{"+I b,1,1,1,1"}},
	})
}

func TestGroupAggGlobal(t *testing.T) {
	cfg := GroupAggConfig{
		Aggs:          []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}, {Kind: AggAvg, Arg: 1, ArgType: types.TBigInt}},
		InputUpdating: true,
	}
	gaRun(t, cfg, []gaStep{
		{[]string{"+I x 1"}, []string{"+I 1,1,1"}},
		{[]string{"+I y 2"}, []string{"-U 1,1,1", "+U 2,3,1.5"}},
		{[]string{"+I y NULL"}, []string{"-U 2,3,1.5", "+U 3,3,1.5"}},
		{[]string{"-D x 1", "-D y 2", "-D y NULL"}, []string{"-D 3,3,1.5"}},
		{[]string{"+I x 4"}, []string{"+I 1,4,4"}},
	})
}

func TestGroupAggAppendOnly(t *testing.T) {
	cfg := GroupAggConfig{
		Keys: []int{0},
		Aggs: []AggCall{
			{Kind: AggCount, Arg: 1, ArgType: types.TBigInt, Distinct: true},
			{Kind: AggMax, Arg: 1, ArgType: types.TBigInt},
		},
	}
	gaRun(t, cfg, []gaStep{
		{[]string{"+I a 1", "+I a 1"}, []string{"+I a,1,1"}},
		{[]string{"+I a 1"}, nil},
		{[]string{"+I a 2", "+I b NULL"}, []string{"-U a,1,1", "+U a,2,2", "+I b,0,NULL"}},
	})
	op, _ := NewGroupAgg(cfg)
	var out aggCollector
	if err := op.Process(0, gaParse(t, []string{"+I a 1", "-D a 1"}), &out); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("retraction on append-only input: err = %v", err)
	}
}

func TestGroupAggDistinctRetract(t *testing.T) {
	cfg := GroupAggConfig{
		Keys: []int{0},
		Aggs: []AggCall{
			{Kind: AggCount, Arg: 1, ArgType: types.TBigInt, Distinct: true},
			{Kind: AggSum, Arg: 1, ArgType: types.TBigInt, Distinct: true},
			{Kind: AggMin, Arg: 1, ArgType: types.TBigInt},
		},
		InputUpdating: true,
	}
	gaRun(t, cfg, []gaStep{
		{[]string{"+I a 1", "+I a 1", "+I a 2"}, []string{"+I a,2,3,1"}},
		{[]string{"-D a 1"}, nil},
		{[]string{"-D a 1"}, []string{"-U a,2,3,1", "+U a,1,2,2"}},
		{[]string{"-U a 2", "+U a 3"}, []string{"-U a,1,2,2", "+U a,1,3,3"}},
	})
}

// TestGroupAggRandomized feeds a random changelog (inserts, and retractions
// of rows inserted earlier) and checks that applying the output changelog
// gives the aggregate of the live rows, computed by brute force.
func TestGroupAggRandomized(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testGroupAggRandomized(t, nil) })
	// with room for a few groups: most live in the spill store, and every
	// batch reloads some
	t.Run("spill", func(t *testing.T) {
		store := openTestSpill(t)
		testGroupAggRandomized(t, func(g *GroupAgg) {
			g.EnableSpill(store.Space(), 8<<10)
		})
	})
}

func openTestSpill(t testing.TB) *state.SpillStore {
	store, err := state.OpenSpill(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func testGroupAggRandomized(t *testing.T, spill func(*GroupAgg)) {
	calls := waRandomAggs
	var evicted, reloaded int64
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0, 5}, Aggs: calls, InputUpdating: true})
		if err != nil {
			t.Fatal(err)
		}
		if spill != nil {
			spill(op)
		}
		pool := waRandomRows(rng, 3000, 0)
		var live []types.Row
		view := map[string]string{} // key → row, from the output changelog
		var out aggCollector
		for step := 0; step < 300; step++ {
			b := &types.Batch{}
			for range 1 + rng.IntN(20) {
				if len(live) > 0 && rng.IntN(3) == 0 {
					i := rng.IntN(len(live))
					b.Append(live[i], []types.RowKind{types.UpdateBefore, types.Delete}[rng.IntN(2)])
					live = slices.Delete(live, i, i+1)
				} else {
					r := pool[rng.IntN(len(pool))]
					b.Append(r, []types.RowKind{types.Insert, types.UpdateAfter}[rng.IntN(2)])
					live = append(live, r)
				}
			}
			if err := op.Process(0, b, &out); err != nil {
				t.Fatal(err)
			}
			for _, ob := range out.batches[out.next:] {
				for i, r := range ob.Rows {
					key := r[0].String() + "|" + r[1].String()
					row := aggFmtRow(types.Insert, r)
					switch k := ob.Kind(i); k {
					case types.Insert, types.UpdateAfter:
						if _, ok := view[key]; ok != (k == types.UpdateAfter) {
							t.Fatalf("seed %d step %d: %s for %s (present=%v)", seed, step, k, row, ok)
						}
						view[key] = row
					case types.UpdateBefore, types.Delete:
						if view[key] != row {
							t.Fatalf("seed %d step %d: %s %s does not match the last row %s", seed, step, k, row, view[key])
						}
						if k == types.Delete {
							delete(view, key)
						} else if i+1 >= len(ob.Rows) || ob.Kind(i+1) != types.UpdateAfter {
							t.Fatalf("seed %d step %d: -U not followed by +U", seed, step)
						}
					}
				}
			}
			out.next = len(out.batches)
			// brute force over the live rows
			groups := map[string][]types.Row{}
			for _, r := range live {
				key := r[0].String() + "|" + r[5].String()
				groups[key] = append(groups[key], r)
			}
			if len(groups) != len(view) {
				t.Fatalf("seed %d step %d: %d groups in the output view, want %d", seed, step, len(view), len(groups))
			}
			for key, rs := range groups {
				want := aggFmtRow(types.Insert, types.Row{rs[0][0], rs[0][5]}) + "," + strings.Join(waBruteResult(rs), ",")
				if view[key] != want {
					t.Fatalf("seed %d step %d: group %s is %s, want %s", seed, step, key, view[key], want)
				}
			}
		}
		st := op.SpillStats()
		evicted += st.Evicted
		reloaded += st.Reloaded
	}
	if spill != nil && (evicted < 1000 || reloaded < 1000) {
		t.Errorf("%d groups evicted and %d reloaded: the budget does not make the operator spill", evicted, reloaded)
	}
}

func BenchmarkGroupAggCountSum(b *testing.B) {
	const nRows, nKeys, batchSize = 1 << 20, 1000, 1024
	rng := rand.New(rand.NewPCG(1, 2))
	var batches []*types.Batch
	for i := 0; i < nRows; i += batchSize {
		rows := make([]types.Row, batchSize)
		for j := range rows {
			rows[j] = types.Row{types.BigIntValue(int64(rng.IntN(nKeys))), types.BigIntValue(rng.Int64N(1000))}
		}
		batches = append(batches, &types.Batch{Rows: rows})
	}
	op, _ := NewGroupAgg(GroupAggConfig{Keys: []int{0}, Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}}})
	var out benchSink
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := op.Process(0, batches[i%len(batches)], &out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*batchSize), "ns/row")
}

// TestGroupAggStateTTL: with a TTL, a group not written for that long is
// dropped without output, by the sweep (OnTick) or when its key comes
// back; a later row starts a new group (+I), a retraction for a dropped
// group is ignored; a write keeps a group alive; a checkpoint capture
// writes the dropped group's deletion.
func TestGroupAggStateTTL(t *testing.T) {
	var now int64
	op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InputUpdating: true,
		Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}},
		TTL:  100 * time.Millisecond, Now: func() int64 { return now }})
	if err != nil {
		t.Fatal(err)
	}
	op.TrackChanges()
	var out aggCollector
	step := func(at int64, in []string, want ...string) {
		t.Helper()
		now = at
		if in == nil {
			if err := op.OnTick(&out); err != nil {
				t.Fatal(err)
			}
		} else if err := op.Process(0, gaParse(t, in), &out); err != nil {
			t.Fatal(err)
		}
		if got := out.take(); !slices.Equal(got, want) {
			t.Fatalf("at %d %v:\n got %s\nwant %s", at, in, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
	}
	capture := func() map[string]string {
		var log stateLog
		if err := op.CaptureState(1, false, &log); err != nil {
			t.Fatal(err)
		}
		if _, err := op.ContinueSnapshot(0); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{"": ""} // so that a deletion has something to show
		for _, o := range log.ops {
			if o.del {
				m[o.key] = "deleted"
			} else {
				m[o.key] = "put"
			}
		}
		return m
	}
	step(0, []string{"+I a 1"}, "+I a,1,1")
	step(50, []string{"+I b 2", "+I c 3"}, "+I b,1,2", "+I c,1,3")
	if m := capture(); len(m) != 4 {
		t.Fatalf("first capture: %v", m)
	}
	step(90, []string{"+I b 5"}, "-U b,1,2", "+U b,2,7") // b stays alive
	step(120, nil)                                       // a expires (written at 0), silently
	if n := op.ExpiredGroups(); n != 1 {
		t.Fatalf("%d groups expired at 120, want 1 (a)", n)
	}
	m := capture()
	var deleted, put int
	for _, v := range m {
		switch v {
		case "deleted":
			deleted++
		case "put":
			put++
		}
	}
	if deleted != 1 || put != 1 { // a's deletion, b's new value
		t.Fatalf("capture after the expiry: %v", m)
	}
	step(130, []string{"+I a 4"}, "+I a,1,4")           // a new group, not an update
	step(160, []string{"-D c 3"})                       // c was written at 50: expired when touched, retraction ignored
	step(170, []string{"+I c 9"}, "+I c,1,9")           // a new c
	step(200, nil)                                      // b (90) and a (130) and c (170) are fresh enough
	step(195+100, nil)                                  // b expires (90 + 100 <= 295)
	step(300, []string{"+I b 1"}, "+I b,1,1")           // a new b
	step(400, []string{"-U a 4", "+U a 6"}, "+I a,1,6") // a expired (130): the retraction is ignored, a new group
	if n := op.ExpiredGroups(); n < 4 {
		t.Fatalf("%d groups expired, want at least 4", n)
	}
}

// TestGroupAggSpillTTL runs one operator in memory and one that spills
// all but a few groups side by side, with a state TTL, random batches,
// sweeps and captures: they must emit the same changelog, expire the
// same groups, and their captures, applied in order, the same state.
func TestGroupAggSpillTTL(t *testing.T) {
	store := openTestSpill(t)
	var evicted, expired int64
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var now int64
		newOp := func() *GroupAgg {
			op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InputUpdating: true,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 1, ArgType: types.TBigInt}},
				TTL:  100 * time.Millisecond, Now: func() int64 { return now }})
			if err != nil {
				t.Fatal(err)
			}
			op.TrackChanges()
			return op
		}
		mem, sp := newOp(), newOp()
		sp.EnableSpill(store.Space(), 1500)
		var outMem, outSp aggCollector
		stMem, stSp := map[string]string{}, map[string]string{}
		var live []string
		for step := 0; step < 400; step++ {
			now += int64(rng.IntN(15))
			switch p := rng.IntN(10); {
			case p < 6:
				var lines []string
				for range 1 + rng.IntN(6) {
					if len(live) > 0 && rng.IntN(4) == 0 {
						i := rng.IntN(len(live))
						lines = append(lines, "-D "+live[i])
						live = slices.Delete(live, i, i+1)
						continue
					}
					r := fmt.Sprintf("k%d %d", rng.IntN(25), rng.IntN(100))
					lines = append(lines, "+I "+r)
					live = append(live, r)
				}
				for _, op := range []*GroupAgg{mem, sp} {
					out := &outMem
					if op == sp {
						out = &outSp
					}
					if err := op.Process(0, gaParse(t, lines), out); err != nil {
						t.Fatal(err)
					}
				}
			case p < 8:
				if err := mem.OnTick(&outMem); err != nil {
					t.Fatal(err)
				}
				if err := sp.OnTick(&outSp); err != nil {
					t.Fatal(err)
				}
			default:
				full := rng.IntN(3) == 0
				captureInto(t, mem, step, full, stMem, rng)
				captureInto(t, sp, step, full, stSp, rng)
				if !maps.Equal(stMem, stSp) {
					t.Fatalf("seed %d step %d: captured state differs:\n memory %v\n spill  %v", seed, step, stMem, stSp)
				}
			}
			if a, b := outMem.take(), outSp.take(); !slices.Equal(a, b) {
				t.Fatalf("seed %d step %d: output differs:\n memory %v\n spill  %v", seed, step, a, b)
			}
			if mem.ExpiredGroups() != sp.ExpiredGroups() {
				t.Fatalf("seed %d step %d: %d groups expired in memory, %d with spilling", seed, step, mem.ExpiredGroups(), sp.ExpiredGroups())
			}
		}
		evicted += sp.SpillStats().Evicted
		expired += sp.ExpiredGroups()
		sp.Close()
	}
	if evicted < 500 || expired < 100 {
		t.Fatalf("%d evictions and %d expiries: the test does not exercise spilled expiry", evicted, expired)
	}
}

// captureInto takes a capture of op (written a few entries at a time) and
// applies it to m, which a full capture replaces.
func captureInto(t *testing.T, op CopyOnWriteSnapshotter, id int, full bool, m map[string]string, rng *rand.Rand) {
	t.Helper()
	var log stateLog
	if err := op.CaptureState(uint64(id), full, &log); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		var err error
		if done, err = op.ContinueSnapshot(1 + rng.IntN(4)); err != nil {
			t.Fatal(err)
		}
	}
	if full {
		clear(m)
	}
	log.applyTo(t, m)
}
