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

// overSpillPair is an in-memory OverAgg and a spilling one fed the same
// input; their outputs, and the state their captures write, must agree.
type overSpillPair struct {
	t        *testing.T
	cfg      OverConfig
	budget   int64
	newSpace func() *OverAgg
	mem, sp  *OverAgg
	outM     aggCollector
	outS     aggCollector
	logM     *stateLog // the capture in progress, or nil
	logS     *stateLog
	full     bool              // it is a full capture
	modelM   map[string]string // the completed captures
	modelS   map[string]string
	stats    SpillStats // of the spilling operators replaced so far
	due      int64
	emitted  int
}

// compare checks that both operators emitted the same rows since the last
// call.
func (p *overSpillPair) compare(what string) {
	p.t.Helper()
	m, s := p.outM.take(), p.outS.take()
	if !slices.Equal(m, s) {
		p.t.Fatalf("%s: the spilling operator emitted\n  %s\nthe in-memory one\n  %s", what, strings.Join(s, "\n  "), strings.Join(m, "\n  "))
	}
	p.emitted += len(m)
	p.checkEstimate()
}

// checkEstimate checks that the spilling operator's running estimate is
// what its partitions and stubs add up to, and that the clock holds every
// resident live partition once.
func (p *overSpillPair) checkEstimate() {
	p.t.Helper()
	o := p.sp
	var want int64
	live := 0
	for _, q := range o.parts {
		if q.dead {
			continue
		}
		live++
		if q.mem != o.partBytes(q) || q.spilled || o.sp.all[q.idx] != q {
			p.t.Fatalf("partition %q: estimate %d, want %d (spilled %v)", q.key, q.mem, o.partBytes(q), q.spilled)
		}
		want += q.mem
	}
	for _, q := range o.sp.stubs {
		if !q.spilled || len(q.pending) != 0 {
			p.t.Fatalf("stub %q is not one", q.key)
		}
		want += q.mem
	}
	if o.sp.mem != want || len(o.sp.all)-o.sp.holes != live {
		p.t.Fatalf("estimate %d, the partitions add up to %d; %d in the clock, %d live", o.sp.mem, want, len(o.sp.all)-o.sp.holes, live)
	}
}

func (p *overSpillPair) process(b *types.Batch) {
	p.t.Helper()
	if err := p.mem.Process(0, cloneBatch(b), &p.outM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.sp.Process(0, cloneBatch(b), &p.outS); err != nil {
		p.t.Fatal(err)
	}
	p.compare(fmt.Sprintf("batch %v", b.Rows))
}

func (p *overSpillPair) watermark(wm int64) {
	p.t.Helper()
	if err := p.mem.OnWatermark(wm, &p.outM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.sp.OnWatermark(wm, &p.outS); err != nil {
		p.t.Fatal(err)
	}
	p.compare(fmt.Sprintf("watermark %d", wm))
}

// finish completes the capture in progress and checks that both models
// are the same.
func (p *overSpillPair) finish() {
	p.t.Helper()
	if p.logM == nil {
		return
	}
	for _, op := range []*OverAgg{p.mem, p.sp} {
		if _, err := op.ContinueSnapshot(0); err != nil {
			p.t.Fatal(err)
		}
	}
	p.apply(p.logM, p.logS, p.full)
	p.logM, p.logS = nil, nil
}

// apply applies the logs of a completed capture to the models and checks
// that they are the same, and for a full capture that the logs alone are.
func (p *overSpillPair) apply(logM, logS *stateLog, full bool) {
	p.t.Helper()
	logM.applyTo(p.t, p.modelM)
	logS.applyTo(p.t, p.modelS)
	if !maps.Equal(p.modelM, p.modelS) {
		p.t.Fatalf("the checkpoints differ: %d keys from the spilling operator, %d from the in-memory one", len(p.modelS), len(p.modelM))
	}
	if full {
		m, s := map[string]string{}, map[string]string{}
		logM.applyTo(p.t, m)
		logS.applyTo(p.t, s)
		if !maps.Equal(m, s) {
			p.t.Fatalf("full captures differ: %d keys from the spilling operator, %d from the in-memory one", len(s), len(m))
		}
	}
}

// capture starts a capture; without finishFirst, the capture in progress,
// if any, is left for CaptureState to complete.
func (p *overSpillPair) capture(full, finishFirst bool) {
	p.t.Helper()
	if finishFirst {
		p.finish()
	}
	oldM, oldS, oldFull := p.logM, p.logS, p.full
	p.logM, p.logS, p.full = &stateLog{}, &stateLog{}, full
	if err := p.mem.CaptureState(1, full, p.logM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.sp.CaptureState(1, full, p.logS); err != nil {
		p.t.Fatal(err)
	}
	if oldM != nil {
		p.apply(oldM, oldS, oldFull)
	}
}

func (p *overSpillPair) cont(budget int) {
	p.t.Helper()
	if p.logM == nil {
		return
	}
	for _, op := range []*OverAgg{p.mem, p.sp} {
		if _, err := op.ContinueSnapshot(budget); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *overSpillPair) addStats() {
	st := p.sp.SpillStats()
	p.stats.Evicted += st.Evicted
	p.stats.Reloaded += st.Reloaded
	p.due += p.sp.sp.dueReloads
}

// restore replaces both operators with ones restored from the last
// completed capture (both models are the same), given watermark wm.
func (p *overSpillPair) restore(wm int64) {
	p.t.Helper()
	p.finish()
	p.addStats()
	p.sp.Close()
	mem, err := NewOverAgg(p.cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mem, p.sp = mem, p.newSpace()
	restoreFrom(p.t, p.mem, p.modelM)
	restoreFrom(p.t, p.sp, p.modelS)
	if wm != 0 {
		p.watermark(wm)
	}
}

// end fires everything, compares full snapshots of both and returns the
// figures of every spilling operator used.
func (p *overSpillPair) end() {
	p.t.Helper()
	p.finish()
	if p.cfg.Mode == OverEventTime {
		p.watermark(MaxWatermark)
	}
	if p.mem.LateRows() != p.sp.LateRows() {
		p.t.Fatalf("%d late rows in memory, %d spilling", p.mem.LateRows(), p.sp.LateRows())
	}
	var m, s stateLog
	if err := p.mem.SnapshotState(1, &m); err != nil {
		p.t.Fatal(err)
	}
	if err := p.sp.SnapshotState(1, &s); err != nil {
		p.t.Fatal(err)
	}
	mm, ms := map[string]string{}, map[string]string{}
	m.applyTo(p.t, mm)
	s.applyTo(p.t, ms)
	if !maps.Equal(mm, ms) {
		p.t.Fatalf("final snapshots differ: %d keys spilling, %d in memory", len(ms), len(mm))
	}
	p.addStats()
	p.sp.Close()
}

// overSpillRow is a row [k VARCHAR, v BIGINT, ts TIMESTAMP] of one of 40
// partitions (or the NULL one).
func overSpillRow(r *rand.Rand, ts int64) types.Row {
	row := types.Row{types.StringValue(fmt.Sprintf("k%02d", r.IntN(40))), types.BigIntValue(int64(r.IntN(12))), types.TimestampValue(ts)}
	if r.IntN(30) == 0 {
		row[0] = types.NullValue
	}
	if r.IntN(8) == 0 {
		row[1] = types.NullValue
	}
	return row
}

// TestOverSpillRandomized feeds the same random input — batches, late
// rows, watermarks, retractions (OverUpdating), captures full and
// incremental written in slices, restores — to an in-memory OverAgg and to
// one with room for a few of its 40 partitions, and checks that they emit
// the same rows in the same order after every step and that their
// captures write the same state. It also checks that the spilling
// operators evicted and reloaded partitions, and in event time that due
// partitions with waiting rows came back for the watermark.
func TestOverSpillRandomized(t *testing.T) {
	store := openTestSpill(t)
	for _, mode := range []OverMode{OverEventTime, OverProcTime, OverUpdating} {
		var evicted, reloaded, due int64
		emitted := 0
		for _, fr := range overFrames {
			for _, budget := range []int64{1500, 12000} {
				name := fmt.Sprintf("%s/%s/budget=%d", mode, fr.name, budget)
				t.Run(name, func(t *testing.T) {
					cfg := OverConfig{Mode: mode, Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2,
						Preceding: fr.preceding, Range: fr.rng, Aggs: overAggs}
					if mode == OverUpdating {
						cfg.Order = []SortKey{{Col: 1, Desc: true}, {Col: 2}}
						cfg.InputUpdating = true
					}
					for seed := range uint64(8) {
						r := rand.New(rand.NewPCG(seed, 21))
						p := &overSpillPair{t: t, cfg: cfg, budget: budget, modelM: map[string]string{}, modelS: map[string]string{}}
						p.newSpace = func() *OverAgg {
							op, err := NewOverAgg(cfg)
							if err != nil {
								t.Fatal(err)
							}
							op.EnableSpill(store.Space(), budget)
							return op
						}
						var err error
						if p.mem, err = NewOverAgg(cfg); err != nil {
							t.Fatal(err)
						}
						p.sp = p.newSpace()
						clock, wm := int64(1000), int64(0)
						var live []types.Row
						for range 150 {
							switch x := r.IntN(100); {
							case x < 55:
								b := &types.Batch{}
								for range 1 + r.IntN(10) {
									switch y := r.IntN(10); {
									case mode == OverUpdating && y < 3 && len(live) > 0:
										j := r.IntN(len(live))
										b.Append(live[j], []types.RowKind{types.Delete, types.UpdateBefore}[r.IntN(2)])
										live = slices.Delete(live, j, j+1)
									case mode == OverUpdating && y == 3:
										b.Append(overSpillRow(r, -1), types.Delete) // matches no row
									default:
										clock += int64(r.IntN(6))
										row := overSpillRow(r, clock-int64(r.IntN(40)))
										if mode == OverUpdating {
											row[2] = types.TimestampValue(int64(r.IntN(30))) // ties
										}
										b.Append(row, types.Insert)
										live = append(live, row)
									}
								}
								p.process(b)
							case x < 70:
								if w := clock - 25; w > wm {
									wm = w
									p.watermark(wm)
								}
							case x < 80:
								p.capture(r.IntN(3) == 0, r.IntN(2) == 0)
							case x < 95:
								p.cont(1 + r.IntN(4))
							default:
								p.restore(wm)
							}
						}
						p.end()
						evicted += p.stats.Evicted
						reloaded += p.stats.Reloaded
						due += p.due
						emitted += p.emitted
					}
				})
			}
		}
		t.Logf("%s: %d rows out, %d partitions evicted, %d reloaded, %d by the watermark", mode, emitted, evicted, reloaded, due)
		if evicted < 2000 || reloaded < 2000 || emitted < 10000 || (mode == OverEventTime && due < 500) {
			t.Fatalf("%s: %d rows out, %d partitions evicted, %d reloaded, %d by the watermark: the test proves little",
				mode, emitted, evicted, reloaded, due)
		}
	}
}

// TestOverSpillRestore restores 5,000 event-time partitions, most with
// rows waiting for the watermark, into an operator with room for a few
// hundred: the restore spills as it reads (stubs for the waiting rows), and
// what the watermark and more input then bring out is what an in-memory
// operator restored from the same checkpoint emits.
func TestOverSpillRestore(t *testing.T) {
	cfg := OverConfig{Mode: OverEventTime, Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2,
		Preceding: 2, Aggs: overAggs}
	src, err := NewOverAgg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	row := func(k int, ts int64) types.Row {
		return types.Row{types.StringValue(fmt.Sprintf("p%04d", k)), types.BigIntValue(int64(r.IntN(100))), types.TimestampValue(ts)}
	}
	b := &types.Batch{}
	for i := range 20_000 {
		b.Append(row(r.IntN(5000), int64(1000+i)), types.Insert)
	}
	if err := src.Process(0, b, discard{}); err != nil {
		t.Fatal(err)
	}
	if err := src.OnWatermark(11_000, discard{}); err != nil { // half the rows
		t.Fatal(err)
	}
	var ck stateLog
	if err := src.SnapshotState(1, &ck); err != nil {
		t.Fatal(err)
	}
	model := map[string]string{}
	ck.applyTo(t, model)

	p := &overSpillPair{t: t, cfg: cfg, modelM: model, modelS: model}
	store := openTestSpill(t)
	const budget = 100_000
	p.newSpace = func() *OverAgg {
		op, err := NewOverAgg(cfg)
		if err != nil {
			t.Fatal(err)
		}
		op.EnableSpill(store.Space(), budget)
		return op
	}
	p.mem, p.sp = src, p.newSpace() // replaced by restore
	p.restore(0)
	st := p.sp.SpillStats()
	if st.Evicted < 4000 || st.Spilled < 4000 || len(p.sp.sp.stubs) < 3000 {
		t.Fatalf("after the restore: %+v, %d stubs", st, len(p.sp.sp.stubs))
	}
	p.process(&types.Batch{}) // an eviction round for the last partitions read
	var stubs int64
	for _, s := range p.sp.sp.stubs {
		stubs += s.mem
	}
	if st := p.sp.SpillStats(); st.Resident-stubs > budget {
		t.Fatalf("after a batch: %+v, of which %d bytes are stubs", st, stubs)
	}
	for wm := int64(12_000); wm <= 21_000; wm += 1000 {
		b := &types.Batch{}
		for range 500 {
			b.Append(row(r.IntN(5000), wm+int64(r.IntN(3000))), types.Insert)
		}
		p.process(b)
		p.watermark(wm)
	}
	p.end()
	if p.due < 2500 || p.emitted < 10_000 {
		t.Fatalf("%d stubs reloaded by the watermark, %d rows out", p.due, p.emitted)
	}
}

// TestOverSpillManyDue: without checkpoints (nothing is ever marked
// changed) and with no room at all, every partition is a stub after each
// batch; one watermark then brings back thousands of them, with eviction
// rounds in between, and the output is the in-memory operator's.
func TestOverSpillManyDue(t *testing.T) {
	for _, fr := range overFrames {
		t.Run(fr.name, func(t *testing.T) {
			cfg := OverConfig{Mode: OverEventTime, Width: 3, Partition: []int{0}, Order: []SortKey{{Col: 2}}, TimeCol: 2,
				Preceding: fr.preceding, Range: fr.rng, Aggs: overAggs}
			store := openTestSpill(t)
			p := &overSpillPair{t: t, cfg: cfg}
			var err error
			if p.mem, err = NewOverAgg(cfg); err != nil {
				t.Fatal(err)
			}
			if p.sp, err = NewOverAgg(cfg); err != nil {
				t.Fatal(err)
			}
			p.sp.EnableSpill(store.Space(), 1)
			r := rand.New(rand.NewPCG(3, 4))
			for round := range 3 {
				for range 8 {
					b := &types.Batch{}
					for range 1000 {
						ts := int64(round*10_000 + r.IntN(10_000))
						b.Append(types.Row{types.StringValue(fmt.Sprintf("p%04d", r.IntN(3000))), types.BigIntValue(int64(r.IntN(100))), types.TimestampValue(ts)}, types.Insert)
					}
					p.process(b)
				}
				if n := len(p.sp.sp.stubs); n < 2000 {
					t.Fatalf("%d stubs after the batches", n)
				}
				p.watermark(int64(round*10_000 + 9_999))
			}
			p.end()
			if p.due < 6000 || p.emitted != 24_000 {
				t.Fatalf("%d stubs reloaded by the watermark, %d rows out", p.due, p.emitted)
			}
		})
	}
}
