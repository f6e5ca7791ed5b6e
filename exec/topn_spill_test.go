package exec

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// TestTopNSpillSameOutput: a TopN that spills (a budget with room for a
// few partitions of its tens) and one that keeps everything in memory are
// fed the same random input — batches, watermarks, and copy-on-write
// captures written a slice at a time (so that only clean partitions may
// spill) — and must emit the same rows in the same order at every step,
// in every mode. Spilling must actually happen (evictions and reloads),
// and at the end the spilling operator's partitions, resident and spilled,
// must be the in-memory one's; a window Top-N has fired everything and
// left nothing in the space.
func TestTopNSpillSameOutput(t *testing.T) {
	store := openTestSpill(t)
	var evicted, reloaded, firedSpilled int64
	modes := []string{"unbounded", "updating", "keep-last", "window", "keep-first", "keep-first-proctime"}
	for seed := range uint64(120) {
		mode := modes[seed%uint64(len(modes))]
		r := rand.New(rand.NewPCG(seed, 17))
		cfg := TopNConfig{Width: 3, Func: RankFunc(r.IntN(3)), Partition: []int{0},
			Order: []SortKey{{Col: 1, Desc: r.IntN(2) == 0}}, RankNumber: r.IntN(2) == 0}
		cfg.Lo = 1 + int64(r.IntN(2))
		cfg.Hi = cfg.Lo + int64(r.IntN(4))
		switch mode {
		case "updating":
			cfg.InputUpdating = true
		case "keep-last":
			cfg = TopNConfig{Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Lo: 1, Hi: 1, NewerFirst: true, RankNumber: cfg.RankNumber}
		case "window":
			cfg.Mode, cfg.Partition, cfg.WindowEnd = TopNWindow, []int{0, 2}, 2
		case "keep-first", "keep-first-proctime":
			cfg = TopNConfig{Width: 3, Mode: TopNKeepFirst, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2, Lo: 1, Hi: 1, RankNumber: cfg.RankNumber}
			if mode == "keep-first-proctime" {
				cfg.TimeCol = -1
			}
		}
		t.Run(fmt.Sprintf("seed%d-%s", seed, mode), func(t *testing.T) {
			mem, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// room for about three partitions of a few rows
			sp.EnableSpill(store.Space(), 3*(topnPartBytes+10+3*topnRowBytes(make(types.Row, 3))))
			defer sp.Close()
			tracking := (seed/uint64(len(modes)))%3 != 0
			if tracking {
				mem.TrackChanges()
				sp.TrackChanges()
			}
			var memOut, spOut aggCollector
			var memCk, spCk stateLog
			memModel, spModel := map[string]string{}, map[string]string{}
			open := false
			// a capture the spilling operator completed: both captures,
			// applied to models of the checkpoint, must give the same state
			captured := func(step int) {
				t.Helper()
				memCk.applyTo(t, memModel)
				spCk.applyTo(t, spModel)
				if !maps.Equal(memModel, spModel) {
					t.Fatalf("step %d: the checkpoints differ: %d keys vs %d in memory", step, len(spModel), len(memModel))
				}
				open = false
			}
			var live []types.Row
			wm, clock := int64(0), int64(1000)
			compare := func(step int, what string) {
				t.Helper()
				got, want := spOut.take(), memOut.take()
				if !slices.Equal(got, want) {
					t.Fatalf("step %d (%s), %s:\n spilling %s\n memory   %s", step, what, mode,
						strings.Join(got, "\n          "), strings.Join(want, "\n          "))
				}
			}
			for step := range 300 {
				switch p := r.IntN(100); {
				case p < 60:
					b := &types.Batch{}
					for range 1 + r.IntN(10) {
						if cfg.InputUpdating && len(live) > 0 && r.IntN(4) == 0 {
							j := r.IntN(len(live))
							b.Append(slices.Clone(live[j]), types.Delete)
							live = slices.Delete(live, j, j+1)
							continue
						}
						clock += int64(r.IntN(5))
						ts := clock - int64(r.IntN(40))
						if mode == "window" {
							ts = (ts/300 + 1) * 300 // window_end of a 300 ms tumbling window
						}
						row := types.Row{types.StringValue(fmt.Sprintf("k%02d", r.IntN(40))), types.BigIntValue(int64(r.IntN(30))), types.TimestampValue(ts)}
						if r.IntN(12) == 0 {
							row[1] = types.NullValue
						}
						b.Append(row, types.Insert)
						live = append(live, slices.Clone(row))
					}
					if err := mem.Process(0, cloneBatch(b), &memOut); err != nil {
						t.Fatal(err)
					}
					if err := sp.Process(0, cloneBatch(b), &spOut); err != nil {
						t.Fatal(err)
					}
					compare(step, "batch")
				case p < 75:
					wm = max(wm, clock-int64(r.IntN(60)))
					if err := mem.OnWatermark(wm, &memOut); err != nil {
						t.Fatal(err)
					}
					if err := sp.OnWatermark(wm, &spOut); err != nil {
						t.Fatal(err)
					}
					compare(step, "watermark")
				case p < 85 && tracking:
					if open {
						continue
					}
					full := r.IntN(3) == 0
					memCk, spCk = stateLog{}, stateLog{}
					if err := mem.CaptureState(uint64(step), full, &memCk); err != nil {
						t.Fatal(err)
					}
					if err := sp.CaptureState(uint64(step), full, &spCk); err != nil {
						t.Fatal(err)
					}
					if _, err := mem.ContinueSnapshot(0); err != nil {
						t.Fatal(err)
					}
					open = true
				case tracking && open:
					done, err := sp.ContinueSnapshot(1 + r.IntN(3))
					if err != nil {
						t.Fatal(err)
					}
					if done {
						captured(step)
					}
				}
			}
			if err := mem.OnWatermark(MaxWatermark, &memOut); err != nil {
				t.Fatal(err)
			}
			if err := sp.OnWatermark(MaxWatermark, &spOut); err != nil {
				t.Fatal(err)
			}
			compare(-1, "final watermark")
			if tracking {
				// finish the open capture, then one more: dead partitions
				// leave both operators' maps once their deletions are written
				for range 2 {
					if open {
						if _, err := sp.ContinueSnapshot(0); err != nil {
							t.Fatal(err)
						}
						captured(-1)
					}
					memCk, spCk = stateLog{}, stateLog{}
					if err := mem.CaptureState(1000, false, &memCk); err != nil {
						t.Fatal(err)
					}
					if err := sp.CaptureState(1000, false, &spCk); err != nil {
						t.Fatal(err)
					}
					if _, err := mem.ContinueSnapshot(0); err != nil {
						t.Fatal(err)
					}
					open = true
				}
				if _, err := sp.ContinueSnapshot(0); err != nil {
					t.Fatal(err)
				}
				captured(-1)
			}
			st := sp.SpillStats()
			evicted += st.Evicted
			reloaded += st.Reloaded
			firedSpilled += sp.sp.fired
			if n, want := int64(len(sp.parts))+st.Spilled, int64(len(mem.parts)); n != want {
				t.Errorf("%d partitions resident and %d spilled, want %d in all", len(sp.parts), st.Spilled, want)
			}
			// the estimate is kept right: it is what the resident
			// partitions count now
			var est int64
			for _, p := range sp.parts {
				est += topnPartBytes + int64(len(p.key))
				for _, e := range p.rows {
					est += topnRowBytes(e.row)
				}
			}
			if est != sp.sp.mem || mode == "window" && est != 0 {
				t.Errorf("the memory estimate is %d, the resident partitions count %d", sp.sp.mem, est)
			}
			if st.Spilled != sp.sp.spilled {
				t.Errorf("published %d spilled partitions, have %d", st.Spilled, sp.sp.spilled)
			}
			if mode == "window" {
				if st.Spilled != 0 || len(sp.sp.wins) != 0 || len(sp.windows) != 0 {
					t.Errorf("after the final watermark: %d partitions spilled, %d windows with spilled partitions, %d open", st.Spilled, len(sp.sp.wins), len(sp.windows))
				}
				n := 0
				if err := sp.sp.sp.Scan(0, nil, func(_, _ []byte) error { n++; return nil }); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%d entries left in the spill space", n)
				}
			}
		})
	}
	if evicted < 20000 || reloaded < 15000 || firedSpilled < 500 {
		t.Fatalf("evicted %d partitions, reloaded %d (%d fired from the space)", evicted, reloaded, firedSpilled)
	}
	t.Logf("evicted %d partitions, reloaded %d (%d fired from the space)", evicted, reloaded, firedSpilled)
}

// TestTopNSpillRestore: restoring a checkpoint of thousands of partitions
// into a TopN with room for a few hundred spills as it reads (every 1024
// partitions, and at the end); the restored operator then emits and
// checkpoints what an in-memory one restored from the same checkpoint does.
func TestTopNSpillRestore(t *testing.T) {
	store := openTestSpill(t)
	for _, mode := range []TopNMode{TopNUnbounded, TopNWindow, TopNKeepFirst} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := TopNConfig{Width: 3, Mode: mode, Partition: []int{0, 2}, WindowEnd: 2, TimeCol: 2, Order: []SortKey{{Col: 1}}, Lo: 1, Hi: 2, RankNumber: true}
			if mode == TopNKeepFirst {
				cfg.Partition, cfg.Order, cfg.Hi = []int{0}, []SortKey{{Col: 2}}, 1
			}
			r := rand.New(rand.NewPCG(5, uint64(mode)))
			row := func() types.Row {
				return types.Row{types.StringValue(fmt.Sprintf("k%04d", r.IntN(5000))), types.BigIntValue(int64(r.IntN(100))),
					types.TimestampValue(int64(1 + r.IntN(4)*100))}
			}
			src, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			b := &types.Batch{}
			for range 12000 {
				b.Append(row(), types.Insert)
			}
			if err := src.Process(0, b, discard{}); err != nil {
				t.Fatal(err)
			}
			var ck stateLog
			if err := src.SnapshotState(1, &ck); err != nil {
				t.Fatal(err)
			}
			model := map[string]string{}
			ck.applyTo(t, model)
			mem, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			budget := 300 * (topnPartBytes + 6 + 2*topnRowBytes(b.Rows[0]))
			sp.EnableSpill(store.Space(), budget)
			defer sp.Close()
			restoreFrom(t, mem, model)
			// the spilling one evicts every 1024 partitions as it reads:
			// its estimate never grows by much more than that
			peak := int64(0)
			err = sp.RestoreState(func(fn func(kg uint16, key, ns, value []byte) error) error {
				for _, k := range slices.Sorted(maps.Keys(model)) {
					kg, key, ns := splitStateMapKey(k)
					if err := fn(kg, key, ns, []byte(model[k])); err != nil {
						return err
					}
					peak = max(peak, sp.sp.mem)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if limit := budget + 1100*(topnPartBytes+6+2*topnRowBytes(b.Rows[0])); peak > limit {
				t.Fatalf("the estimate reached %d during the restore, budget %d", peak, budget)
			}
			st := sp.SpillStats()
			if st.Resident > budget || st.Spilled < int64(len(model))/2 || int64(len(sp.parts))+st.Spilled != int64(len(model)) {
				t.Fatalf("%d partitions restored: %+v, %d resident", len(model), st, len(sp.parts))
			}
			var memOut, spOut aggCollector
			b = &types.Batch{}
			for range 3000 {
				b.Append(row(), types.Insert)
			}
			if err := mem.Process(0, cloneBatch(b), &memOut); err != nil {
				t.Fatal(err)
			}
			if err := sp.Process(0, cloneBatch(b), &spOut); err != nil {
				t.Fatal(err)
			}
			if err := mem.OnWatermark(250, &memOut); err != nil {
				t.Fatal(err)
			}
			if err := sp.OnWatermark(250, &spOut); err != nil {
				t.Fatal(err)
			}
			if got, want := spOut.take(), memOut.take(); !slices.Equal(got, want) {
				t.Fatalf("after the restore: %d output rows, want %d", len(got), len(want))
			}
			var memCk, spCk stateLog
			memM, spM := maps.Clone(model), maps.Clone(model)
			if err := mem.SnapshotState(2, &memCk); err != nil {
				t.Fatal(err)
			}
			if err := sp.SnapshotState(2, &spCk); err != nil {
				t.Fatal(err)
			}
			memCk.applyTo(t, memM)
			spCk.applyTo(t, spM)
			if !maps.Equal(memM, spM) {
				t.Fatalf("the checkpoints after the restore differ: %d keys, want %d", len(spM), len(memM))
			}
			if st := sp.SpillStats(); st.Reloaded == 0 {
				t.Fatalf("nothing reloaded: %+v", st)
			}
		})
	}
}
