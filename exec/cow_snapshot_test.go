package exec

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// The copy-on-write snapshot test: an operator that tracks its changes is
// fed a random script of batches and watermarks with captures written a
// random slice at a time in between. Every completed capture, applied in
// order to a map, must equal the whole state of a fresh operator fed the
// same input up to the capture (its first SnapshotState writes everything);
// a full capture must also equal that state on its own.

// stateLog is a StateWriter that records writes in order.
type stateLog struct{ ops []stateOp }

type stateOp struct {
	del        bool
	key, value string
}

// stateMapKey encodes (kg, key, ns) reversibly: kg, len(key), key, ns.
func stateMapKey(kg uint16, key, ns []byte) string {
	b := binary.BigEndian.AppendUint16(nil, kg)
	b = binary.AppendUvarint(b, uint64(len(key)))
	return string(append(append(b, key...), ns...))
}

func splitStateMapKey(k string) (kg uint16, key, ns []byte) {
	b := []byte(k)
	kg = binary.BigEndian.Uint16(b)
	n, w := binary.Uvarint(b[2:])
	b = b[2+w:]
	return kg, b[:n], b[n:]
}

// restoreFrom builds an operator from a model of its state, in key order;
// each, if given, is called after the n-th entry is read (n from 1).
func restoreFrom(t *testing.T, op CopyOnWriteSnapshotter, m map[string]string, each ...func(n int)) {
	t.Helper()
	err := op.(Restorer).RestoreState(func(fn func(kg uint16, key, ns, value []byte) error) error {
		for i, k := range slices.Sorted(maps.Keys(m)) {
			kg, key, ns := splitStateMapKey(k)
			if err := fn(kg, key, ns, []byte(m[k])); err != nil {
				return err
			}
			for _, f := range each {
				f(i + 1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (l *stateLog) Put(kg uint16, key, ns, value []byte) {
	l.ops = append(l.ops, stateOp{key: stateMapKey(kg, key, ns), value: string(value)})
}

func (l *stateLog) Delete(kg uint16, key, ns []byte) {
	l.ops = append(l.ops, stateOp{del: true, key: stateMapKey(kg, key, ns)})
}

// applyTo applies the writes to m, failing on a key written twice in one
// snapshot (the contract says at most once).
func (l *stateLog) applyTo(t *testing.T, m map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, op := range l.ops {
		if seen[op.key] {
			t.Fatalf("key %s written twice in one snapshot", op.key)
		}
		seen[op.key] = true
		if op.del {
			delete(m, op.key)
		} else {
			m[op.key] = op.value
		}
	}
}

type cowStep struct {
	input     int          // the batch's input
	batch     *types.Batch // or
	wm        int64        // a watermark when batch is nil and wm != 0
	capture   bool
	full      bool // a full capture
	continue_ int  // ContinueSnapshot budget
	restore   bool // crash: restore from the last completed capture and replay from there
}

type discard struct{}

func (discard) Emit(*types.Batch) error { return nil }

// runCOWScript runs steps; canon, if set, maps an entry's value to a form
// that does not depend on what the operator numbers internally (arrival
// counters continue after a restore from the largest restored one, not
// from where a fresh operator would be).
func runCOWScript(t *testing.T, newOp func() CopyOnWriteSnapshotter, steps []cowStep, canon func(string) string) (captures, restores int) {
	t.Helper()
	canonical := func(m map[string]string) map[string]string {
		if canon == nil {
			return m
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = canon(v)
		}
		return out
	}
	feed := func(op CopyOnWriteSnapshotter, s cowStep) {
		switch {
		case s.batch != nil:
			if err := op.(Operator).Process(s.input, cloneBatch(s.batch), discard{}); err != nil {
				t.Fatal(err)
			}
		case s.wm != 0:
			if wh, ok := op.(WatermarkHandler); ok {
				if err := wh.OnWatermark(s.wm, discard{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	op := newOp()
	op.TrackChanges()
	model := map[string]string{}
	var open *stateLog
	openAt, openFull := -1, false
	lastDone, lastWM := -1, int64(0) // the last completed capture's step, the watermark then
	restored := map[int]bool{}
	finish := func(at int) {
		lastDone = at
		lastWM = 0
		for _, s := range steps[:at] {
			if s.batch == nil && s.wm != 0 {
				lastWM = s.wm
			}
		}
		open.applyTo(t, model)
		alone := map[string]string{}
		open.applyTo(t, alone)
		ref := newOp()
		for _, s := range steps[:at] {
			feed(ref, s)
		}
		var full stateLog
		if err := ref.SnapshotState(1, &full); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		full.applyTo(t, want)
		want, alone = canonical(want), canonical(alone)
		model := canonical(model)
		if openFull && !maps.Equal(alone, want) {
			t.Fatalf("full capture after step %d: %d keys on its own, want %d", at, len(alone), len(want))
		}
		if !maps.Equal(model, want) {
			keys := slices.Sorted(maps.Keys(want))
			for k := range model {
				if _, ok := want[k]; !ok {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				if model[k] != want[k] {
					t.Fatalf("capture after step %d: key %s: restored %q, want %q (%d keys vs %d)", at, k, model[k], want[k], len(model), len(want))
				}
			}
		}
		captures++
		open, openAt = nil, -1
	}
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		switch {
		case s.restore:
			if restored[i] || lastDone < 0 {
				continue
			}
			restored[i] = true
			// the crash loses the open capture and everything after the
			// last completed one; the input is replayed from there
			open, openAt = nil, -1
			op = newOp()
			restoreFrom(t, op, model)
			if wh, ok := op.(WatermarkHandler); ok && lastWM != 0 {
				// watermarks are not state; give it the one it had, so
				// that lateness is judged as in the reference
				if err := wh.OnWatermark(lastWM, discard{}); err != nil {
					t.Fatal(err)
				}
			}
			i = lastDone // the capture step itself is not replayed
			restores++
		case s.capture:
			if open != nil {
				if _, err := op.ContinueSnapshot(0); err != nil {
					t.Fatal(err)
				}
				finish(openAt)
			}
			open, openAt, openFull = &stateLog{}, i, s.full
			if err := op.CaptureState(uint64(i+1), s.full, open); err != nil {
				t.Fatal(err)
			}
		case s.continue_ > 0:
			if open == nil {
				continue
			}
			done, err := op.ContinueSnapshot(s.continue_)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				finish(openAt)
			}
		default:
			feed(op, s)
		}
	}
	if open != nil {
		if _, err := op.ContinueSnapshot(0); err != nil {
			t.Fatal(err)
		}
		finish(openAt)
	}
	return captures, restores
}

// cloneBatch copies a batch's slices (operators own and may keep them;
// the script is fed twice).
func cloneBatch(b *types.Batch) *types.Batch {
	c := &types.Batch{Rows: slices.Clone(b.Rows)}
	if b.Kinds != nil {
		c.Kinds = slices.Clone(b.Kinds)
	}
	return c
}

// joinCOWScript is cowScript for two inputs: each batch goes to one input,
// and a retraction goes to the input its row came from.
func joinCOWScript(r *rand.Rand, n int, retract bool) []cowStep {
	var steps []cowStep
	ts := int64(1000)
	wm := int64(0)
	var live [2][]types.Row
	for range n {
		switch p := r.IntN(100); {
		case p < 55:
			in := r.IntN(2)
			b := &types.Batch{}
			for range 1 + r.IntN(8) {
				if retract && len(live[in]) > 0 && r.IntN(4) == 0 {
					j := r.IntN(len(live[in]))
					b.Append(live[in][j], types.Delete)
					live[in] = slices.Delete(live[in], j, j+1)
					continue
				}
				ts += int64(r.IntN(30)) - 8
				row := types.Row{types.BigIntValue(int64(r.IntN(8))), types.TimestampValue(ts), types.BigIntValue(int64(r.IntN(4)))}
				b.Append(row, types.Insert)
				live[in] = append(live[in], row)
			}
			steps = append(steps, cowStep{input: in, batch: b})
		case p < 65:
			if w := ts - 60; w > wm {
				wm = w
				steps = append(steps, cowStep{wm: wm})
			}
		case p < 75:
			steps = append(steps, cowStep{capture: true, full: r.IntN(3) == 0})
		case p < 78:
			steps = append(steps, cowStep{restore: true})
		default:
			steps = append(steps, cowStep{continue_: 1 + r.IntN(6)})
		}
	}
	return steps
}

// cowScript builds a random script: batches of rows (key, ts, value[,
// retraction]) with timestamps that mostly advance, watermarks that trail
// them, captures and slices of writing.
func cowScript(r *rand.Rand, n int, retract bool) []cowStep {
	var steps []cowStep
	ts := int64(1000)
	wm := int64(0)
	var live []types.Row // rows that may be retracted
	for range n {
		switch p := r.IntN(100); {
		case p < 55:
			b := &types.Batch{}
			for range 1 + r.IntN(12) {
				if retract && len(live) > 0 && r.IntN(4) == 0 {
					j := r.IntN(len(live))
					b.Append(live[j], types.Delete)
					live = slices.Delete(live, j, j+1)
					continue
				}
				ts += int64(r.IntN(40)) - 10
				row := types.Row{types.BigIntValue(int64(r.IntN(12))), types.TimestampValue(ts), types.BigIntValue(int64(r.IntN(100)))}
				b.Append(row, types.Insert)
				live = append(live, row)
			}
			steps = append(steps, cowStep{batch: b})
		case p < 65:
			if w := ts - 60; w > wm {
				wm = w
				steps = append(steps, cowStep{wm: wm})
			}
		case p < 75:
			steps = append(steps, cowStep{capture: true, full: r.IntN(3) == 0})
		case p < 78:
			steps = append(steps, cowStep{restore: true})
		default:
			steps = append(steps, cowStep{continue_: 1 + r.IntN(6)})
		}
	}
	return steps
}

func TestCopyOnWriteSnapshots(t *testing.T) {
	spill, err := state.OpenSpill(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer spill.Close()
	aggs := []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}, {Kind: AggMax, Arg: 2, ArgType: types.TBigInt}}
	window := func(spec WindowSpec) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			w, err := NewWindowAgg(WindowAggConfig{Keys: []int{0}, Aggs: aggs, Window: spec})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
	}
	// room for about four (key, window) groups: the rest is spilled and
	// reloaded all the time
	windowSpill := func(spec WindowSpec) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			w := window(spec)().(*WindowAgg)
			w.EnableSpill(spill.Space(), 1200)
			t.Cleanup(func() { w.Close() })
			return w
		}
	}
	topn := func(cfg TopNConfig) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			cfg.Width = 3
			op, err := NewTopN(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return op
		}
	}
	// the same with a budget of room for two to four partitions: the
	// clean ones are spilled, reloaded and fired from the space all the time
	var topnSpilling []*TopN
	topnSpill := func(cfg TopNConfig, budget int64) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			op := topn(cfg)().(*TopN)
			op.EnableSpill(spill.Space(), budget)
			t.Cleanup(func() { op.Close() })
			topnSpilling = append(topnSpilling, op)
			return op
		}
	}
	over := func(cfg OverConfig) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			cfg.Width, cfg.Aggs = 3, aggs
			op, err := NewOverAgg(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return op
		}
	}
	// the same with room for two to four partitions (estimated): the
	// clean ones are spilled, and reloaded, all the time; each subtest
	// checks that its operators evicted and reloaded partitions, and in
	// event time that due partitions were reloaded by the watermark
	var overSpilled []*OverAgg
	overSpill := func(cfg OverConfig, budget int64) func() CopyOnWriteSnapshotter {
		return func() CopyOnWriteSnapshotter {
			op := over(cfg)().(*OverAgg)
			op.EnableSpill(spill.Space(), budget)
			t.Cleanup(func() { op.Close() })
			overSpilled = append(overSpilled, op)
			return op
		}
	}
	// Top-N rows carry arrival numbers; the canonical form numbers them by
	// rank, which is the order they stand for
	topnCanon := func(v string) string {
		op, err := NewTopN(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 2}}, Lo: 1, Hi: 1, Width: 3})
		if err != nil {
			t.Fatal(err)
		}
		p, err := op.decodePart(0, []byte("k"), []byte(v))
		if err != nil {
			t.Fatalf("top-n entry: %v", err)
		}
		for i := range p.rows {
			p.rows[i].seq = uint64(i)
		}
		return string(op.encodePart(nil, p))
	}
	var timedSpillers [2][]Spiller // the interval and window join's spill variants
	cases := []struct {
		name    string
		op      func() CopyOnWriteSnapshotter
		retract bool
		canon   func(string) string
	}{
		{"tumble", window(WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 100}), false, nil},
		{"hop", window(WindowSpec{Kind: WindowHop, TimeCol: 1, Size: 150, Slide: 50}), false, nil},
		{"cumulate", window(WindowSpec{Kind: WindowCumulate, TimeCol: 1, Size: 200, Step: 50}), false, nil},
		{"session", window(WindowSpec{Kind: WindowSession, TimeCol: 1, Gap: 30}), false, nil},
		{"tumble-spill", windowSpill(WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 100}), false, nil},
		{"hop-spill", windowSpill(WindowSpec{Kind: WindowHop, TimeCol: 1, Size: 150, Slide: 50}), false, nil},
		{"cumulate-spill", windowSpill(WindowSpec{Kind: WindowCumulate, TimeCol: 1, Size: 200, Step: 50}), false, nil},
		{"session-spill", windowSpill(WindowSpec{Kind: WindowSession, TimeCol: 1, Gap: 30}), false, nil},
		{"topn", topn(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Lo: 1, Hi: 3, RankNumber: true}), false, topnCanon},
		{"topn-updating", topn(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 2}}, Lo: 2, Hi: 4, InputUpdating: true}), true, topnCanon},
		{"topn-window", topn(TopNConfig{Mode: TopNWindow, Partition: []int{0, 1}, WindowEnd: 1, Order: []SortKey{{Col: 2}}, Lo: 1, Hi: 2}), false, topnCanon},
		{"dedup-first", topn(TopNConfig{Mode: TopNKeepFirst, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Lo: 1, Hi: 1}), false, topnCanon},
		{"dedup-first-proctime", topn(TopNConfig{Mode: TopNKeepFirst, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: -1, Lo: 1, Hi: 1}), false, topnCanon},
		{"dedup-last", topn(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Lo: 1, Hi: 1, NewerFirst: true}), false, topnCanon},
		{"topn-spill", topnSpill(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Lo: 1, Hi: 3, RankNumber: true}, 2000), false, topnCanon},
		{"topn-updating-spill", topnSpill(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 2}}, Lo: 2, Hi: 4, InputUpdating: true}, 3000), true, topnCanon},
		{"topn-window-spill", topnSpill(TopNConfig{Mode: TopNWindow, Partition: []int{0, 1}, WindowEnd: 1, Order: []SortKey{{Col: 2}}, Lo: 1, Hi: 2}, 1500), false, topnCanon},
		{"dedup-first-spill", topnSpill(TopNConfig{Mode: TopNKeepFirst, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Lo: 1, Hi: 1}, 1000), false, topnCanon},
		{"dedup-first-proctime-spill", topnSpill(TopNConfig{Mode: TopNKeepFirst, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: -1, Lo: 1, Hi: 1}, 800), false, topnCanon},
		{"dedup-last-spill", topnSpill(TopNConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Lo: 1, Hi: 1, NewerFirst: true}, 1000), false, topnCanon},
		{"over-event", over(OverConfig{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Preceding: 3}), false, nil},
		{"over-event-range", over(OverConfig{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Preceding: -1, Range: true}), false, nil},
		{"over-proctime", over(OverConfig{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, Preceding: -1}), false, nil},
		{"over-updating", over(OverConfig{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Preceding: 2, InputUpdating: true}), true, nil},
		{"over-updating-range", over(OverConfig{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: -1, Range: true, InputUpdating: true}), true, nil},
		{"over-event-spill", overSpill(OverConfig{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Preceding: 3}, 3000), false, nil},
		{"over-event-range-spill", overSpill(OverConfig{Mode: OverEventTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, TimeCol: 1, Preceding: -1, Range: true}, 2500), false, nil},
		{"over-proctime-spill", overSpill(OverConfig{Mode: OverProcTime, Partition: []int{0}, Order: []SortKey{{Col: 1}}, Preceding: -1}, 1400), false, nil},
		{"over-updating-spill", overSpill(OverConfig{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Preceding: 2, InputUpdating: true}, 10000), true, nil},
		{"over-updating-range-spill", overSpill(OverConfig{Mode: OverUpdating, Partition: []int{0}, Order: []SortKey{{Col: 2}}, Preceding: -1, Range: true, InputUpdating: true}, 10000), true, nil},
		{"group", func() CopyOnWriteSnapshotter {
			g, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InputUpdating: true,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}}})
			if err != nil {
				t.Fatal(err)
			}
			return g
		}, true, nil},
		// the same with room for two or three groups in memory: the rest
		// is spilled, and reloaded, all the time
		{"group-spill", func() CopyOnWriteSnapshotter {
			g, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InputUpdating: true,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}}})
			if err != nil {
				t.Fatal(err)
			}
			g.EnableSpill(spill.Space(), 1000)
			t.Cleanup(func() { g.Close() })
			return g
		}, true, nil},
	}
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinFull} {
		cases = append(cases, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"join/" + kind.String(), func() CopyOnWriteSnapshotter {
			j, err := NewJoin(JoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftUpdating: true, RightUpdating: true})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, true, nil}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"join-spill/" + kind.String(), func() CopyOnWriteSnapshotter {
			// room for a few keys: the clean ones are spilled all the time
			j, err := NewJoin(JoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftUpdating: true, RightUpdating: true})
			if err != nil {
				t.Fatal(err)
			}
			j.EnableSpill(spill.Space(), 1500)
			t.Cleanup(func() { j.Close() })
			return j
		}, true, nil}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"interval/" + kind.String(), func() CopyOnWriteSnapshotter {
			j, err := NewIntervalJoin(IntervalJoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftTime: 1, RightTime: 1, Lower: -40, Upper: 20})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, false, nil}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"window/" + kind.String(), func() CopyOnWriteSnapshotter {
			// column 1 serves as the window end
			j, err := NewWindowJoin(WindowJoinConfig{Kind: kind, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1}, LeftWidth: 3, RightWidth: 3,
				LeftEnd: 1, RightEnd: 1})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, false, nil}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"interval-spill/" + kind.String(), func() CopyOnWriteSnapshotter {
			// room for two to four keys: the clean ones are spilled, and
			// reloaded or expired from the space, all the time
			j, err := NewIntervalJoin(IntervalJoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftTime: 1, RightTime: 1, Lower: -40, Upper: 20})
			if err != nil {
				t.Fatal(err)
			}
			j.EnableSpill(spill.Space(), 1500)
			timedSpillers[0] = append(timedSpillers[0], j)
			t.Cleanup(func() { j.Close() })
			return j
		}, false, nil}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
			canon   func(string) string
		}{"window-spill/" + kind.String(), func() CopyOnWriteSnapshotter {
			// windows of 40 ms (coarseWindowJoin), so that keys get
			// several rows and are reloaded; room for a few keys
			j, err := NewWindowJoin(WindowJoinConfig{Kind: kind, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1}, LeftWidth: 3, RightWidth: 3,
				LeftEnd: 1, RightEnd: 1})
			if err != nil {
				t.Fatal(err)
			}
			j.EnableSpill(spill.Space(), 1500)
			timedSpillers[1] = append(timedSpillers[1], j)
			t.Cleanup(func() { j.Close() })
			return coarseWindowJoin{j}
		}, false, nil})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topnSpilling = topnSpilling[:0]
			total, restores := 0, 0
			overSpilled = nil
			seeds := uint64(60)
			if strings.HasSuffix(c.name, "-spill") && (strings.HasPrefix(c.name, "topn") || strings.HasPrefix(c.name, "dedup")) {
				seeds = 30 // each capture replays a spilling reference: keep the race run short
			}
			for seed := range seeds {
				r := rand.New(rand.NewPCG(seed, 7))
				script := cowScript(r, 150, c.retract)
				if strings.Contains(c.name, "/") {
					script = joinCOWScript(r, 150, c.retract)
				}
				n, m := runCOWScript(t, c.op, script, c.canon)
				total += n
				restores += m
			}
			if total < 100 || restores < 20 {
				t.Fatalf("only %d captures and %d restores checked", total, restores)
			}
			if strings.HasPrefix(c.name, "over-") && strings.HasSuffix(c.name, "-spill") {
				var st SpillStats
				var due int64
				for _, op := range overSpilled {
					s := op.SpillStats()
					st.Evicted += s.Evicted
					st.Reloaded += s.Reloaded
					due += op.sp.dueReloads
				}
				if st.Evicted < 1000 || st.Reloaded < 1000 || (strings.HasPrefix(c.name, "over-event") && due < 100) {
					t.Fatalf("%d partitions evicted, %d reloaded, %d of them by the watermark", st.Evicted, st.Reloaded, due)
				}
			}
			if strings.HasPrefix(c.name, "topn") || strings.HasPrefix(c.name, "dedup") {
				var st SpillStats
				for _, op := range topnSpilling {
					s := op.SpillStats()
					st.Evicted += s.Evicted
					st.Reloaded += s.Reloaded
				}
				if spilling := strings.HasSuffix(c.name, "-spill"); spilling && (st.Evicted < 500 || st.Reloaded < 200) || !spilling && len(topnSpilling) > 0 {
					t.Fatalf("%d spilling operators evicted %d partitions and reloaded %d", len(topnSpilling), st.Evicted, st.Reloaded)
				}
				t.Logf("%d spilling operators evicted %d partitions and reloaded %d", len(topnSpilling), st.Evicted, st.Reloaded)
			}
		})
	}
	for i, name := range []string{"interval-spill", "window-spill"} {
		var st SpillStats
		for _, sp := range timedSpillers[i] {
			st = st.add(sp.SpillStats())
		}
		t.Logf("%s: %d keys evicted, %d reloaded", name, st.Evicted, st.Reloaded)
		if len(timedSpillers[i]) > 0 && (st.Evicted < 1000 || st.Reloaded < 200) {
			t.Errorf("%s: %d keys evicted and %d reloaded: spilling is not exercised", name, st.Evicted, st.Reloaded)
		}
	}
}

// add sums the counters of two operators' figures.
func (s SpillStats) add(o SpillStats) SpillStats {
	s.Evicted += o.Evicted
	s.Reloaded += o.Reloaded
	return s
}

// TestWindowCopyOnWriteManyGroups is TestCopyOnWriteSnapshots for window
// buckets of a few hundred groups (several words of their bitmaps), with
// slices of writing that stop in the middle of a word.
//
// The "spill" variants give the operator room for about 100 groups of its
// few hundred: groups are evicted, reloaded and fired from the spill
// space, and buckets are compacted, between the captures' slices.
func TestWindowCopyOnWriteManyGroups(t *testing.T) {
	spill, err := state.OpenSpill(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer spill.Close()
	aggs := []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}}
	var evicted, compacted int64
	for _, c := range []struct {
		spec   WindowSpec
		budget int64
	}{
		{WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 500}, 0},
		{WindowSpec{Kind: WindowHop, TimeCol: 1, Size: 600, Slide: 200}, 0},
		{WindowSpec{Kind: WindowCumulate, TimeCol: 1, Size: 800, Step: 200}, 0},
		{WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 500}, 20000},
		{WindowSpec{Kind: WindowHop, TimeCol: 1, Size: 600, Slide: 200}, 30000},
		{WindowSpec{Kind: WindowCumulate, TimeCol: 1, Size: 800, Step: 200}, 30000},
	} {
		spec := c.spec
		name := spec.Kind.String()
		if c.budget > 0 {
			name += "-spill"
		}
		t.Run(name, func(t *testing.T) {
			newOp := func() CopyOnWriteSnapshotter {
				w, err := NewWindowAgg(WindowAggConfig{Keys: []int{0}, Aggs: aggs, Window: spec})
				if err != nil {
					t.Fatal(err)
				}
				if c.budget > 0 {
					w.EnableSpill(spill.Space(), c.budget)
					w.sp.onCompact = func() { compacted++ }
					t.Cleanup(func() {
						evicted += w.SpillStats().Evicted
						w.Close()
					})
				}
				return w
			}
			total, seeds := 0, uint64(20)
			if c.budget > 0 {
				seeds = 8 // each costs several times more
			}
			for seed := range seeds {
				r := rand.New(rand.NewPCG(seed, 9))
				var steps []cowStep
				ts, wm := int64(1000), int64(0)
				for range 200 {
					switch p := r.IntN(100); {
					case p < 55:
						b := &types.Batch{}
						for range 1 + r.IntN(40) {
							ts += int64(r.IntN(4))
							b.Append(types.Row{types.BigIntValue(int64(r.IntN(400))), types.TimestampValue(ts), types.BigIntValue(int64(r.IntN(100)))}, types.Insert)
						}
						steps = append(steps, cowStep{batch: b})
					case p < 62:
						if w := ts - 100; w > wm {
							wm = w
							steps = append(steps, cowStep{wm: wm})
						}
					case p < 72:
						steps = append(steps, cowStep{capture: true, full: r.IntN(3) == 0})
					case p < 75:
						steps = append(steps, cowStep{restore: true})
					default:
						steps = append(steps, cowStep{continue_: 1 + r.IntN(100)})
					}
				}
				n, _ := runCOWScript(t, newOp, steps, nil)
				total += n
			}
			if total < 100 {
				t.Fatalf("only %d captures checked", total)
			}
		})
	}
	if evicted < 1000 || compacted < 10 {
		t.Fatalf("the spill variants evicted %d groups and compacted %d buckets", evicted, compacted)
	}
}

// coarseWindowJoin rounds the window end (column 1) of its input rows up
// to a multiple of 40 ms.
type coarseWindowJoin struct{ *WindowJoin }

func (c coarseWindowJoin) Process(input int, b *types.Batch, out Emitter) error {
	for i, r := range b.Rows {
		r = slices.Clone(r)
		if r[1].Kind == types.Timestamp {
			r[1].I = (r[1].I/40 + 1) * 40
		}
		b.Rows[i] = r
	}
	return c.WindowJoin.Process(input, b, out)
}
