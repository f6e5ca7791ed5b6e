package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// seqSource emits rows [k, ts] for ts in [from, to) with k = ts % keys, in
// batches of 10, on one split.
type seqSource struct {
	from, to, keys int64
	block          bool // never end: wait for cancellation after emitting
}

func (s *seqSource) Splits() int { return 1 }
func (s *seqSource) Run(ctx context.Context, out SourceOutput) error {
	b := &types.Batch{}
	for ts := s.from; ts < s.to; ts++ {
		b.Rows = append(b.Rows, types.Row{types.BigIntValue(ts % s.keys), types.TimestampValue(ts)})
		if len(b.Rows) == 10 {
			if err := out.Emit(0, b); err != nil {
				return err
			}
			b = &types.Batch{}
		}
	}
	if len(b.Rows) > 0 {
		if err := out.Emit(0, b); err != nil {
			return err
		}
	}
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	out.SplitDone(0)
	return nil
}

// recorder is an operator that records what reaches each subtask.
type recorder struct {
	mu      *sync.Mutex
	subtask int
	rows    map[int][]types.Row
	wms     map[int][]int64
	failAt  int64 // fail when a row with this ts arrives (0 = never)
	lastWM  int64
	late    []string // rows that arrived at or below an earlier watermark
}

func (r *recorder) Process(_ int, b *types.Batch, out Emitter) error {
	r.mu.Lock()
	r.rows[r.subtask] = append(r.rows[r.subtask], b.Rows...)
	r.mu.Unlock()
	for _, row := range b.Rows {
		if r.lastWM != 0 && row[1].I <= r.lastWM {
			r.late = append(r.late, fmt.Sprintf("ts %d after watermark %d", row[1].I, r.lastWM))
		}
		if r.failAt != 0 && row[1].I == r.failAt {
			return errors.New("boom")
		}
	}
	return out.Emit(b)
}

func (r *recorder) OnWatermark(wm int64, _ Emitter) error {
	r.mu.Lock()
	r.wms[r.subtask] = append(r.wms[r.subtask], wm)
	r.mu.Unlock()
	r.lastWM = wm
	return nil
}

type nullSink struct{ finished, aborted *atomic.Int32 }

func (s nullSink) Write(*types.Batch) error { return nil }
func (s nullSink) Finish() error            { s.finished.Add(1); return nil }
func (s nullSink) Abort()                   { s.aborted.Add(1) }

func job(srcPar int, srcs func(i int) *seqSource, opPar int, rec func(tc *TaskContext) *recorder, sinkFinished, sinkAborted *atomic.Int32) *JobSpec {
	var mu sync.Mutex
	return &JobSpec{Vertices: []*Vertex{
		{Name: "src", Parallelism: srcPar, Source: SourceConfig{RowtimeCol: 1},
			NewSource: func(tc *TaskContext) (Source, error) { return srcs(tc.Subtask), nil }},
		{Name: "rec", Parallelism: opPar, Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
			NewOperator: func(tc *TaskContext) (Operator, error) { mu.Lock(); defer mu.Unlock(); return rec(tc), nil }},
		{Name: "sink", Parallelism: opPar, Inputs: []Edge{{From: 1, Kind: Forward}},
			NewSink: func(*TaskContext) (Sink, error) {
				mu.Lock()
				defer mu.Unlock()
				return nullSink{sinkFinished, sinkAborted}, nil
			}},
	}}
}

func TestHashRoutingAndWatermarks(t *testing.T) {
	var mu sync.Mutex
	rows := map[int][]types.Row{}
	wms := map[int][]int64{}
	var recs []*recorder
	var fin, ab atomic.Int32
	// two sources: one covers ts [0,500), the other [0,100) — the slower
	// one holds the combined watermark back until it ends.
	spec := job(2, func(i int) *seqSource {
		if i == 0 {
			return &seqSource{from: 0, to: 500, keys: 7}
		}
		return &seqSource{from: 0, to: 100, keys: 7}
	}, 3, func(tc *TaskContext) *recorder {
		r := &recorder{mu: &mu, subtask: tc.Subtask, rows: rows, wms: wms}
		recs = append(recs, r)
		return r
	}, &fin, &ab)
	if err := Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	total := 0
	owner := map[int64]int{}
	for st, rs := range rows {
		total += len(rs)
		for _, r := range rs {
			if o, ok := owner[r[0].I]; ok && o != st {
				t.Fatalf("key %d reached subtasks %d and %d", r[0].I, o, st)
			}
			owner[r[0].I] = st
		}
	}
	if total != 600 {
		t.Fatalf("got %d rows, want 600", total)
	}
	for st, ws := range wms {
		if !sort.SliceIsSorted(ws, func(i, j int) bool { return ws[i] < ws[j] }) {
			t.Fatalf("subtask %d: watermarks not increasing: %v", st, ws)
		}
		if ws[len(ws)-1] != MaxWatermark {
			t.Fatalf("subtask %d: last watermark %d, want the final +inf", st, ws[len(ws)-1])
		}
	}
	for _, r := range recs {
		if len(r.late) > 0 {
			t.Fatalf("subtask %d: rows behind the watermark: %v", r.subtask, r.late)
		}
	}
	if fin.Load() != 3 || ab.Load() != 0 {
		t.Fatalf("sinks finished %d, aborted %d; want 3, 0", fin.Load(), ab.Load())
	}
	if got := spec.Vertices[1].RecordsIn.Load(); got != 600 {
		t.Fatalf("RecordsIn = %d", got)
	}
}

func TestFailureNamesOperatorAndAbortsSinks(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	var fin, ab atomic.Int32
	spec := job(1, func(int) *seqSource { return &seqSource{from: 0, to: 100000, keys: 5, block: true} }, 2,
		func(tc *TaskContext) *recorder {
			return &recorder{mu: &mu, subtask: tc.Subtask, rows: map[int][]types.Row{}, wms: map[int][]int64{}, failAt: 777}
		}, &fin, &ab)
	err := Run(context.Background(), spec)
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Vertex != "rec" || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want an OperatorError from rec", err)
	}
	if !strings.HasPrefix(err.Error(), "rec (subtask ") {
		t.Fatalf("message %q does not name the subtask", err)
	}
	if fin.Load() != 0 || ab.Load() != 2 {
		t.Fatalf("sinks finished %d, aborted %d; want 0, 2", fin.Load(), ab.Load())
	}
	waitGoroutines(t, before)
}

func TestCancellationStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	var fin, ab atomic.Int32
	spec := job(2, func(int) *seqSource { return &seqSource{from: 0, to: 1000, keys: 3, block: true} }, 2,
		func(tc *TaskContext) *recorder {
			return &recorder{mu: &mu, subtask: tc.Subtask, rows: map[int][]types.Row{}, wms: map[int][]int64{}}
		}, &fin, &ab)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, spec) }()
	// wait until rows have flowed, then cancel
	for spec.Vertices[1].RecordsIn.Load() < 2000 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if fin.Load() != 0 || ab.Load() != 2 {
		t.Fatalf("sinks finished %d, aborted %d; want 0, 2", fin.Load(), ab.Load())
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails if goroutines started by the job are still alive
// once they have had a chance to exit.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestKeyGroupRanges(t *testing.T) {
	for _, p := range []int{1, 2, 3, 7, 128} {
		next := 0
		for i := 0; i < p; i++ {
			first, last := KeyGroupRange(128, p, i)
			if first != next {
				t.Fatalf("p=%d subtask %d starts at %d, want %d", p, i, first, next)
			}
			for g := first; g <= last; g++ {
				if s := SubtaskForKeyGroup(128, p, g); s != i {
					t.Fatalf("p=%d: group %d owned by %d, routed to %d", p, g, i, s)
				}
			}
			next = last + 1
		}
		if next != 128 {
			t.Fatalf("p=%d: ranges end at %d", p, next)
		}
	}
}

// countingSource emits n single-row batches, counting them.
type countingSource struct {
	n       int
	emitted *atomic.Int64
}

func (s *countingSource) Splits() int { return 1 }
func (s *countingSource) Run(_ context.Context, out SourceOutput) error {
	for i := 0; i < s.n; i++ {
		if err := out.Emit(0, &types.Batch{Rows: []types.Row{{types.BigIntValue(int64(i))}}}); err != nil {
			return err
		}
		s.emitted.Add(1)
	}
	out.SplitDone(0)
	return nil
}

// gateSink blocks every write until the gate opens.
type gateSink struct {
	gate    chan struct{}
	written *atomic.Int64
}

func (s *gateSink) Write(b *types.Batch) error { <-s.gate; s.written.Add(int64(b.Len())); return nil }
func (s *gateSink) Finish() error              { return nil }
func (s *gateSink) Abort()                     {}

// TestBackPressure: a sink that does not take input stops the source after
// the bounded channel fills, and everything arrives once it drains.
func TestBackPressure(t *testing.T) {
	const capacity, n = 2, 200
	var emitted, written atomic.Int64
	gate := make(chan struct{})
	spec := &JobSpec{ChannelCapacity: capacity, Vertices: []*Vertex{
		{Name: "src", Parallelism: 1, Source: SourceConfig{RowtimeCol: -1},
			NewSource: func(*TaskContext) (Source, error) { return &countingSource{n: n, emitted: &emitted}, nil }},
		{Name: "sink", Parallelism: 1, Inputs: []Edge{{From: 0, Kind: Forward}},
			NewSink: func(*TaskContext) (Sink, error) { return &gateSink{gate: gate, written: &written}, nil }},
	}}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), spec) }()
	// However long we look, the source can be at most the channel's
	// capacity plus the batch the sink holds plus the one being sent ahead.
	limit := int64(capacity + 2)
	for i := 0; i < 20000; i++ {
		if e := emitted.Load(); e > limit {
			t.Fatalf("source ran %d batches ahead of a blocked sink; bound is %d", e, limit)
		}
		runtime.Gosched()
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if emitted.Load() != n || written.Load() != n {
		t.Fatalf("emitted %d, written %d; want %d", emitted.Load(), written.Load(), n)
	}
}

// idleSource: subtask 0 emits ts 0..99, declares its split idle and waits
// for release; subtask 1 emits ts 0..999 and ends.
type idleSource struct {
	subtask int
	release chan struct{}
}

func (s *idleSource) Splits() int { return 1 }
func (s *idleSource) Run(ctx context.Context, out SourceOutput) error {
	to := int64(1000)
	if s.subtask == 0 {
		to = 100
	}
	for ts := int64(0); ts < to; ts += 10 {
		b := &types.Batch{}
		for i := ts; i < ts+10; i++ {
			b.Rows = append(b.Rows, types.Row{types.BigIntValue(i), types.TimestampValue(i)})
		}
		if err := out.Emit(0, b); err != nil {
			return err
		}
	}
	// Subtask 1 stays live until the release: had it ended first, its
	// watermark would no longer count, and whether it passed 500 would
	// depend on whether subtask 0's idleness arrived before that end.
	if s.subtask == 0 {
		out.SplitIdle(0)
	}
	{
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("the watermark never passed the idle split")
		}
	}
	out.SplitDone(0)
	return nil
}

// wmWatcher releases the idle source once it sees a watermark past 500.
type wmWatcher struct {
	release chan struct{}
	once    *sync.Once
}

func (w *wmWatcher) Process(_ int, b *types.Batch, out Emitter) error { return out.Emit(b) }
func (w *wmWatcher) OnWatermark(wm int64, _ Emitter) error {
	if wm > 500 && wm != MaxWatermark {
		w.once.Do(func() { close(w.release) })
	}
	return nil
}

// TestIdleSplitDoesNotHoldWatermark: an idle split stops holding the
// watermark back, across a hash exchange (DESIGN §3).
func TestIdleSplitDoesNotHoldWatermark(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	var fin, ab atomic.Int32
	spec := &JobSpec{Vertices: []*Vertex{
		{Name: "src", Parallelism: 2, Source: SourceConfig{RowtimeCol: 1},
			NewSource: func(tc *TaskContext) (Source, error) { return &idleSource{subtask: tc.Subtask, release: release}, nil }},
		{Name: "watch", Parallelism: 2, Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
			NewOperator: func(*TaskContext) (Operator, error) { return &wmWatcher{release: release, once: &once}, nil }},
		{Name: "sink", Parallelism: 2, Inputs: []Edge{{From: 1, Kind: Forward}},
			NewSink: func(*TaskContext) (Sink, error) { return nullSink{&fin, &ab}, nil }},
	}}
	if err := Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
}
