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

// The copy-on-write snapshot test: an operator that tracks its changes is
// fed a random script of batches and watermarks with captures written a
// random slice at a time in between. Every completed capture, applied in
// order to a map, must equal the whole state of a fresh operator fed the
// same input up to the capture (its first SnapshotState writes everything).

// stateLog is a StateWriter that records writes in order.
type stateLog struct{ ops []stateOp }

type stateOp struct {
	del        bool
	key, value string
}

func stateMapKey(kg uint16, key, ns []byte) string {
	return fmt.Sprintf("%d|%q|%x", kg, key, ns)
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
	continue_ int // ContinueSnapshot budget
}

type discard struct{}

func (discard) Emit(*types.Batch) error { return nil }

func runCOWScript(t *testing.T, newOp func() CopyOnWriteSnapshotter, steps []cowStep) (captures int) {
	t.Helper()
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
	openAt := -1
	finish := func(at int) {
		open.applyTo(t, model)
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
	for i, s := range steps {
		switch {
		case s.capture:
			if open != nil {
				if _, err := op.ContinueSnapshot(0); err != nil {
					t.Fatal(err)
				}
				finish(openAt)
			}
			open, openAt = &stateLog{}, i
			if err := op.CaptureState(uint64(i+1), open); err != nil {
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
	return captures
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
			steps = append(steps, cowStep{capture: true})
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
			steps = append(steps, cowStep{capture: true})
		default:
			steps = append(steps, cowStep{continue_: 1 + r.IntN(6)})
		}
	}
	return steps
}

func TestCopyOnWriteSnapshots(t *testing.T) {
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
	cases := []struct {
		name    string
		op      func() CopyOnWriteSnapshotter
		retract bool
	}{
		{"tumble", window(WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 100}), false},
		{"hop", window(WindowSpec{Kind: WindowHop, TimeCol: 1, Size: 150, Slide: 50}), false},
		{"cumulate", window(WindowSpec{Kind: WindowCumulate, TimeCol: 1, Size: 200, Step: 50}), false},
		{"session", window(WindowSpec{Kind: WindowSession, TimeCol: 1, Gap: 30}), false},
		{"group", func() CopyOnWriteSnapshotter {
			g, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InputUpdating: true,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}}})
			if err != nil {
				t.Fatal(err)
			}
			return g
		}, true},
	}
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinFull} {
		cases = append(cases, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
		}{"join/" + kind.String(), func() CopyOnWriteSnapshotter {
			j, err := NewJoin(JoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftUpdating: true, RightUpdating: true})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, true}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
		}{"interval/" + kind.String(), func() CopyOnWriteSnapshotter {
			j, err := NewIntervalJoin(IntervalJoinConfig{Kind: kind, LeftKeys: []int{0}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3,
				LeftTime: 1, RightTime: 1, Lower: -40, Upper: 20})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, false}, struct {
			name    string
			op      func() CopyOnWriteSnapshotter
			retract bool
		}{"window/" + kind.String(), func() CopyOnWriteSnapshotter {
			// column 1 serves as the window end
			j, err := NewWindowJoin(WindowJoinConfig{Kind: kind, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1}, LeftWidth: 3, RightWidth: 3,
				LeftEnd: 1, RightEnd: 1})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}, false})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			total := 0
			for seed := range uint64(30) {
				r := rand.New(rand.NewPCG(seed, 7))
				script := cowScript(r, 120, c.retract)
				if strings.Contains(c.name, "/") {
					script = joinCOWScript(r, 120, c.retract)
				}
				total += runCOWScript(t, c.op, script)
			}
			if total < 100 {
				t.Fatalf("only %d captures checked", total)
			}
		})
	}
}
