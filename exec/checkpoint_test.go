package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/sql/types"
)

// The checkpoint equivalence tests (STYLE.md): a job with a keyed window
// aggregate feeding a non-windowed aggregate, two sinks (the window rows,
// and the aggregate's changelog), run
//   - to completion without checkpoints: the golden output;
//   - with checkpoints at parallelism 2, stopped abruptly after a savepoint,
//     then restored from the savepoint at parallelism 3;
//   - with periodic checkpoints, cancelled at random moments and restored
//     from the latest retained checkpoint, again and again;
// and the committed output of every sequence must equal the golden output
// exactly: nothing lost, nothing duplicated.

const (
	ckStreams   = 4   // generator streams (splits), independent of parallelism
	ckPerStream = 600 // rows per stream
)

// ckStore is the "external system" the test sinks write to: committed rows
// and pre-committed transactions survive the job, as in Kafka.
type ckStore struct {
	mu        sync.Mutex
	committed map[string][]string // sink → rows
	pending   map[string][]string // txn → rows (pre-committed)
	owner     map[string]string   // txn → sink
	nextTxn   int
}

func newCkStore() *ckStore {
	return &ckStore{committed: map[string][]string{}, pending: map[string][]string{}, owner: map[string]string{}}
}

func (s *ckStore) commitTxn(txn string) {
	if rows, ok := s.pending[txn]; ok {
		s.committed[s.owner[txn]] = append(s.committed[s.owner[txn]], rows...)
		delete(s.pending, txn)
	}
}

// ckSink is a TwoPhaseSink over ckStore.
type ckSink struct {
	store *ckStore
	name  string
	// slow, if set, says how long PreCommit of checkpoint id takes (a
	// slow sink, to make checkpoints time out after the operators' arenas
	// of id were taken)
	slow    func(id uint64) time.Duration
	cur     []string
	open    []string // pre-committed, not yet committed txns
	openIDs []uint64 // the checkpoint of each
	ck      bool
	commits []uint64
}

func (k *ckSink) Write(b *types.Batch) error {
	for i, r := range b.Rows {
		k.cur = append(k.cur, aggFmtRow(b.Kind(i), r))
	}
	return nil
}

func (k *ckSink) Finish() error {
	k.store.mu.Lock()
	defer k.store.mu.Unlock()
	for _, t := range k.open {
		k.store.commitTxn(t)
	}
	k.open, k.openIDs = nil, nil
	k.store.committed[k.name] = append(k.store.committed[k.name], k.cur...)
	k.cur = nil
	return nil
}

func (k *ckSink) Abort() { k.cur = nil }

func (k *ckSink) StartCheckpointing(mode DeliveryMode, recovered []SinkHandle) error {
	k.ck = true
	k.store.mu.Lock()
	defer k.store.mu.Unlock()
	for _, h := range recovered {
		if h.Data == nil {
			continue
		}
		var txns []string
		if err := json.Unmarshal(h.Data, &txns); err != nil {
			return err
		}
		for _, t := range txns {
			k.store.commitTxn(t)
		}
	}
	return nil
}

func (k *ckSink) PreCommit(id uint64) ([]byte, error) {
	if k.slow != nil {
		time.Sleep(k.slow(id))
	}
	k.store.mu.Lock()
	k.store.nextTxn++
	t := fmt.Sprintf("txn-%d", k.store.nextTxn)
	k.store.pending[t] = k.cur
	k.store.owner[t] = k.name
	k.store.mu.Unlock()
	k.cur = nil
	k.open = append(k.open, t)
	k.openIDs = append(k.openIDs, id)
	return json.Marshal(k.open)
}

// Commit commits the transactions pre-committed for checkpoints up to id.
func (k *ckSink) Commit(id uint64) error {
	k.commits = append(k.commits, id)
	k.store.mu.Lock()
	n := 0
	for n < len(k.open) && k.openIDs[n] <= id {
		k.store.commitTxn(k.open[n])
		n++
	}
	k.store.mu.Unlock()
	k.open, k.openIDs = k.open[n:], k.openIDs[n:]
	return nil
}

// ckSource generates ckStreams streams of rows [k BIGINT, ts TIMESTAMP,
// v BIGINT]; subtask s reads the streams j with j mod parallelism = s.
type ckSource struct {
	streams []int
	pos     []int64
	gate    chan struct{} // if set, closed to release the second half
	gateAt  int64         // where the gate holds a stream (0: halfway)
	reached *sync.WaitGroup
	pace    time.Duration
	late    bool
	row     func(stream int, i int64) types.Row // nil: ckRow
}

// ckLateRow is the first row a gated source emits after the gate (it
// emits batches of 7 until it reaches half the stream).
const ckLateRow = (ckPerStream/2 + 6) / 7 * 7

// ckRow is row i of a stream. With late, row ckLateRow carries event time
// 0: late by about 3 s, as its window fired long before.
func ckRow(stream int, i int64, late bool) types.Row {
	ts := i * 10
	if late && i == ckLateRow {
		ts = 0
	}
	return types.Row{
		types.BigIntValue((i*7 + int64(stream)*3) % 11),
		types.TimestampValue(ts),
		types.BigIntValue(i + int64(stream)*1000),
	}
}

func (s *ckSource) Splits() int { return len(s.streams) }

func (s *ckSource) SplitNames() []string {
	var out []string
	for _, j := range s.streams {
		out = append(out, strconv.Itoa(j))
	}
	return out
}

func (s *ckSource) Resume(pos map[string]int64) error {
	for i, j := range s.streams {
		if p, ok := pos[strconv.Itoa(j)]; ok {
			s.pos[i] = p
		}
	}
	return nil
}

func (s *ckSource) Run(ctx context.Context, out SourceOutput) error {
	// record restored positions at once, as the connectors do: a stream
	// that had ended emits nothing more, and must keep its position in the
	// next checkpoint (without this a restore from that checkpoint starts
	// the stream again)
	for i, p := range s.pos {
		SetPosition(out, i, p)
		if p >= ckPerStream {
			out.SplitDone(i)
		}
	}
	gated := false
	for {
		progress := false
		for i, j := range s.streams {
			p := s.pos[i]
			if p >= ckPerStream {
				continue
			}
			gateAt := s.gateAt
			if gateAt == 0 {
				gateAt = ckPerStream / 2
			}
			if s.gate != nil && p >= gateAt {
				continue
			}
			progress = true
			n := min(int64(7), ckPerStream-p)
			b := &types.Batch{}
			row := s.row
			if row == nil {
				row = func(j int, i int64) types.Row { return ckRow(j, i, s.late) }
			}
			for k := int64(0); k < n; k++ {
				b.Rows = append(b.Rows, row(j, p+k))
			}
			s.pos[i] = p + n
			if err := EmitAt(out, i, b, p+n); err != nil {
				return err
			}
			if s.pos[i] >= ckPerStream {
				out.SplitDone(i)
			}
			if s.pace > 0 {
				select {
				case <-time.After(s.pace):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if progress {
			continue
		}
		if s.gate == nil {
			return nil
		}
		if !gated {
			gated = true
			s.reached.Done()
		}
		select {
		case <-s.gate:
			s.gate = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type ckJobOpts struct {
	par     int
	store   *ckStore
	gate    chan struct{}
	gateAt  int64
	reached *sync.WaitGroup
	pace    time.Duration
	ck      *CheckpointConfig
	slow    func(id uint64) time.Duration // the window sink's PreCommit
	late    bool                          // see ckRow
	memory  int64                         // JobSpec.StateMemory
}

func ckJob(o ckJobOpts) *JobSpec {
	src := &Vertex{Name: "Source#1", Parallelism: o.par, Source: SourceConfig{RowtimeCol: 1, Delay: 0},
		NewSource: func(tc *TaskContext) (Source, error) {
			s := &ckSource{gate: o.gate, gateAt: o.gateAt, reached: o.reached, pace: o.pace, late: o.late}
			for j := range ckStreams {
				if j%tc.Parallelism == tc.Subtask {
					s.streams = append(s.streams, j)
				}
			}
			s.pos = make([]int64, len(s.streams))
			return s, nil
		}}
	win := &Vertex{Name: "WindowAggregate#2", Parallelism: o.par,
		Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewWindowAgg(WindowAggConfig{Keys: []int{0}, MaxKeyGroups: tc.MaxKeyGroups,
				Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}},
				Window: WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 100}})
		}}
	grp := &Vertex{Name: "GroupAggregate#3", Parallelism: o.par,
		Inputs: []Edge{{From: 1, Kind: Hash, Keys: []int{0}}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewGroupAgg(GroupAggConfig{Keys: []int{0}, MaxKeyGroups: tc.MaxKeyGroups,
				Aggs: []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 3, ArgType: types.TBigInt}, {Kind: AggMax, Arg: 4, ArgType: types.TBigInt}}})
		}}
	sinkW := &Vertex{Name: "Sink#4", Parallelism: 1, Inputs: []Edge{{From: 1, Kind: Rebalance}},
		NewSink: func(tc *TaskContext) (Sink, error) {
			return &ckSink{store: o.store, name: "windows", slow: o.slow}, nil
		}}
	sinkG := &Vertex{Name: "Sink#5", Parallelism: 2, Inputs: []Edge{{From: 2, Kind: Hash, Keys: []int{0}}},
		NewSink: func(tc *TaskContext) (Sink, error) { return &ckSink{store: o.store, name: "groups"}, nil }}
	return &JobSpec{Vertices: []*Vertex{src, win, grp, sinkW, sinkG}, Checkpoint: o.ck, StateMemory: o.memory}
}

// ckResult is the committed output: window rows sorted, and the final
// table of the changelog (applied; a retraction of a missing row fails).
func ckResult(t *testing.T, s *ckStore) (windows []string, table []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	windows = slices.Clone(s.committed["windows"])
	slices.Sort(windows)
	m := map[string]int{}
	for _, r := range s.committed["groups"] {
		kind, row := r[:2], r[3:]
		switch kind {
		case "+I", "+U":
			m[row]++
		case "-U", "-D":
			if m[row] == 0 {
				t.Fatalf("changelog retracts a row that is not there: %s", r)
			}
			m[row]--
		}
	}
	for r, n := range m {
		for range n {
			table = append(table, r)
		}
	}
	slices.Sort(table)
	return windows, table
}

func ckGolden(t *testing.T, late bool) ([]string, []string) {
	t.Helper()
	st := newCkStore()
	if err := Run(context.Background(), ckJob(ckJobOpts{par: 1, store: st, late: late})); err != nil {
		t.Fatal(err)
	}
	w, g := ckResult(t, st)
	// windows: 11 keys over 60 windows of 100 ms (each stream's 600 rows at
	// 10 ms span 6 s)
	if len(w) < 100 || len(g) != 11 {
		t.Fatalf("golden run looks wrong: %d window rows, %d groups", len(w), len(g))
	}
	return w, g
}

// runToSavepoint runs build(o) with checkpoints into st and its sources
// held at their gate (gated source subtasks reach it), takes a savepoint
// there, kills the job and returns the savepoint's completion event.
func runToSavepoint(t *testing.T, st checkpoint.Storage, build func(ckJobOpts) *JobSpec, o ckJobOpts, gated int) *CheckpointEvent {
	t.Helper()
	gate := make(chan struct{})
	defer close(gate)
	var reached sync.WaitGroup
	reached.Add(gated)
	events := make(chan CheckpointEvent, 100)
	o.gate, o.reached, o.ck = gate, &reached, ckConfig(t, st, time.Hour, events)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, build(o)) }()
	reached.Wait()
	// the job is running (sources wait at the gate): ask for a savepoint
	deadline := time.After(20 * time.Second)
	for o.ck.Control.Savepoint() != nil {
		select {
		case <-deadline:
			t.Fatal("job never accepted a savepoint request")
		case <-time.After(time.Millisecond):
		}
	}
	var sp *CheckpointEvent
	for sp == nil {
		select {
		case e := <-events:
			if e.Kind == "completed" && e.Metadata.Kind == checkpoint.KindSavepoint {
				sp = &e
			} else if e.Kind == "aborted" {
				t.Fatalf("savepoint aborted: %s", e.Reason)
			}
		case <-deadline:
			t.Fatal("no savepoint")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run 1: %v", err)
	}
	return sp
}

func ckConfig(t *testing.T, st checkpoint.Storage, interval time.Duration, events chan<- CheckpointEvent) *CheckpointConfig {
	smallArenaChunks(t)
	return &CheckpointConfig{
		Storage: st,
		Coordinator: checkpoint.Config{Interval: interval, Timeout: 10 * time.Second,
			TolerableFailures: 100, FullEvery: 3},
		StateDir:    t.TempDir() + "/state",
		Fingerprint: "test-plan",
		Control:     &CheckpointControl{},
		OnEvent: func(e CheckpointEvent) {
			if events != nil {
				select {
				case events <- e:
				default:
				}
			}
		},
	}
}

// smallArenaChunks makes the jobs of test t write their captures in chunks
// of 256 bytes, so that every checkpoint recycles the chunks of arenas no
// longer needed (while other checkpoints may still write theirs): a chunk
// recycled too early corrupts a checkpoint, which the restores and the
// race detector see.
func smallArenaChunks(t *testing.T) {
	old := arenaChunkSize
	arenaChunkSize = 256
	t.Cleanup(func() { arenaChunkSize = old })
}

// TestCheckpointSavepointRestoreAtOtherParallelism is the second sequence
// of the file comment. The second half starts with a late row in every
// stream: the restored job must resume from the savepoint's watermarks and
// drop it too.
func TestCheckpointSavepointRestoreAtOtherParallelism(t *testing.T) {
	goldW, goldG := ckGolden(t, true)
	if w, _ := ckGolden(t, false); slices.Equal(w, goldW) {
		t.Fatal("the late rows change nothing: the test cannot tell whether they were dropped")
	}
	st, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := newCkStore()

	// run 1: parallelism 2, paused halfway; savepoint; then killed
	sp := runToSavepoint(t, st, ckJob, ckJobOpts{par: 2, store: store, late: true}, 2)

	// run 2: restore from the savepoint at parallelism 3
	cp, err := st.Open(sp.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := ckConfig(t, st, 50*time.Millisecond, nil)
	cfg2.Restore = &cp
	if err := Run(context.Background(), ckJob(ckJobOpts{par: 3, store: store, ck: cfg2, late: true})); err != nil {
		t.Fatalf("run 2: %v", err)
	}
	w, g := ckResult(t, store)
	if !slices.Equal(w, goldW) {
		t.Errorf("window rows differ from the golden run: got %d rows, want %d\n%s", len(w), len(goldW), diffRows(w, goldW))
	}
	if !slices.Equal(g, goldG) {
		t.Errorf("aggregate table differs:\ngot  %v\nwant %v", g, goldG)
	}
}

func TestCheckpointCancelAndRestoreRepeatedly(t *testing.T) {
	cancelAndRestoreRepeatedly(t, 3, 0)
}

// TestCheckpointSpillCancelAndRestore is the same with room for a few
// groups of each stateful operator in memory: the rest is spilled to
// Badger, so checkpoints capture spilled groups, restores spill as they
// load and windows fire from the spill store.
func TestCheckpointSpillCancelAndRestore(t *testing.T) {
	spilled := cancelAndRestoreRepeatedly(t, 2, 2400)
	for i, name := range []string{"window aggregate", "aggregate"} {
		if st := spilled[i]; st.Evicted < 100 || st.Reloaded < 100 {
			t.Errorf("the %s evicted %d and reloaded %d groups: it did not spill", name, st.Evicted, st.Reloaded)
		}
	}
}

// cancelAndRestoreRepeatedly cancels ckJob at random moments and restores
// it from its latest checkpoint at random parallelisms until a run
// finishes, for seeds seeds; the committed output must be the golden
// one. It returns the window aggregate's and the aggregate's spill figures
// summed over all runs.
func cancelAndRestoreRepeatedly(t *testing.T, seeds int, memory int64) (spilled [2]SpillStats) {
	goldW, goldG := ckGolden(t, false)
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			st, err := checkpoint.NewDirStorage(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := newCkStore()
			var restored int
			for attempt := 0; ; attempt++ {
				par := 1 + rng.IntN(3)
				cfg := ckConfig(t, st, 15*time.Millisecond, nil)
				if cp, _, err := st.Latest(); err == nil {
					cfg.Restore = &cp
					restored++
				}
				ctx, cancel := context.WithCancel(context.Background())
				kill := time.Duration(20+rng.IntN(150)) * time.Millisecond
				if attempt >= 8 {
					kill = time.Hour // let it finish
				}
				timer := time.AfterFunc(kill, cancel)
				spec := ckJob(ckJobOpts{par: par, store: store, pace: 200 * time.Microsecond, ck: cfg, memory: memory})
				err := Run(ctx, spec)
				timer.Stop()
				cancel()
				for i := range spilled {
					if st, ok := spec.Vertices[1+i].Spill(); ok {
						spilled[i].Evicted += st.Evicted
						spilled[i].Reloaded += st.Reloaded
					}
				}
				if err == nil && restored == 0 && attempt < 20 {
					// it finished before any checkpoint was taken and
					// restored (a slow machine): start over
					t.Logf("attempt %d finished without a restore; starting over", attempt)
					if st, err = checkpoint.NewDirStorage(t.TempDir()); err != nil {
						t.Fatal(err)
					}
					store = newCkStore()
					continue
				}
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("attempt %d (parallelism %d): %v", attempt, par, err)
				}
				t.Logf("attempt %d: parallelism %d, killed after %v", attempt, par, kill)
			}
			if restored == 0 {
				t.Fatal("no run restored from a checkpoint: the test proves nothing")
			}
			w, g := ckResult(t, store)
			if !slices.Equal(w, goldW) {
				t.Errorf("window rows differ from the golden run: got %d rows, want %d\n%s", len(w), len(goldW), diffRows(w, goldW))
			}
			if !slices.Equal(g, goldG) {
				t.Errorf("aggregate table differs:\ngot  %v\nwant %v", g, goldG)
			}
		})
	}
	return spilled
}

// TestCheckpointDeltaAfterAbortedCheckpoints: a slow sink makes every second
// checkpoint time out after the stateful operators captured it and the
// other sinks pre-committed for it, and holds the sources back (so a split
// may emit nothing between two barriers). The checkpoints that complete
// after an aborted one must still cover the aborted one's changes, sink
// transactions and source positions, so restores from them, at random
// moments and parallelisms, end in the golden output. It caught a split
// recorded at position 0 when it emitted nothing after a restore, and
// sinks committing their last rows outside any checkpoint.
//
// With a tiny bound on the changes kept for the next delta, the state
// writer drops them instead and the coordinator must take a full
// checkpoint next.
func TestCheckpointDeltaAfterAbortedCheckpoints(t *testing.T) {
	goldW, goldG := ckGolden(t, false)
	deltasAfterAbort := 0
	defer func() {
		if deltasAfterAbort == 0 && !t.Failed() {
			t.Error("no incremental checkpoint completed right after an aborted one in any seed: the test proves nothing")
		}
	}()
	for seed := range 4 {
		tiny := seed == 3
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			if tiny {
				defer func(n int) { maxKeptArenaBytes = n }(maxKeptArenaBytes)
				maxKeptArenaBytes = 2 << 10
			}
			warnings, fullAfterWarning := 0, 0
			warned := false
			rng := rand.New(rand.NewPCG(uint64(seed), 11))
			st, err := checkpoint.NewDirStorage(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := newCkStore()
			var mu sync.Mutex
			aborted, deltaAfterAbort := 0, 0
			lastAborted := false
			restored := 0
			for attempt := 0; ; attempt++ {
				cfg := ckConfig(t, st, 10*time.Millisecond, nil)
				cfg.Coordinator.Timeout = 40 * time.Millisecond
				cfg.OnEvent = func(e CheckpointEvent) {
					mu.Lock()
					defer mu.Unlock()
					switch e.Kind {
					case "aborted":
						aborted++
						lastAborted = true
					case "warning":
						warnings++
						warned = true
					case "completed":
						if lastAborted && !e.Metadata.Full {
							deltaAfterAbort++
						}
						if warned && e.Metadata.Full {
							fullAfterWarning++
							warned = false
						}
						lastAborted = false
					}
				}
				if cp, _, err := st.Latest(); err == nil {
					cfg.Restore = &cp
					restored++
				}
				ctx, cancel := context.WithCancel(context.Background())
				kill := time.Duration(60+rng.IntN(200)) * time.Millisecond
				if attempt >= 8 {
					kill = time.Hour
				}
				timer := time.AfterFunc(kill, cancel)
				err := Run(ctx, ckJob(ckJobOpts{par: 1 + rng.IntN(3), store: store, pace: 300 * time.Microsecond, ck: cfg,
					slow: func(id uint64) time.Duration {
						if id%2 == 0 {
							return 60 * time.Millisecond
						}
						return 0
					}}))
				timer.Stop()
				cancel()
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
			}
			mu.Lock()
			t.Logf("%d restores, %d checkpoints aborted, %d incremental checkpoints completed right after an abort; %d warnings, %d full checkpoints after one",
				restored, aborted, deltaAfterAbort, warnings, fullAfterWarning)
			// After a restore checkpoints are full until one completes, so
			// whether an incremental one follows an aborted one depends on
			// timing: one seed where it did is enough.
			if !tiny {
				deltasAfterAbort += deltaAfterAbort
			}
			if restored == 0 || aborted == 0 || tiny && fullAfterWarning == 0 {
				t.Fatal("no restore, no aborted checkpoint, or no full one after dropped changes: the test proves nothing")
			}
			mu.Unlock()
			w, g := ckResult(t, store)
			if !slices.Equal(w, goldW) {
				t.Errorf("window rows differ from the golden run: got %d rows, want %d\n%s", len(w), len(goldW), diffRows(w, goldW))
			}
			if !slices.Equal(g, goldG) {
				t.Errorf("aggregate table differs:\ngot  %v\nwant %v", g, goldG)
			}
		})
	}
}

// diffRows lists up to 10 rows missing from or extra in got.
func diffRows(got, want []string) string {
	cnt := map[string]int{}
	for _, r := range want {
		cnt[r]++
	}
	for _, r := range got {
		cnt[r]--
	}
	var out string
	n := 0
	for r, c := range cnt {
		if c != 0 && n < 10 {
			out += fmt.Sprintf("  %+d %s\n", -c, r)
			n++
		}
	}
	return out
}

// TestCheckpointStorageFailsAndReturns: while the checkpoint directory is
// unusable (replaced by a file, which stops root too) checkpoints fail and
// are reported, the job keeps running; when it is back they complete again,
// and the output is still exact.
func TestCheckpointStorageFailsAndReturns(t *testing.T) {
	goldW, goldG := ckGolden(t, false)
	root := t.TempDir() + "/ck"
	st, err := checkpoint.NewDirStorage(root)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan CheckpointEvent, 10000)
	cfg := ckConfig(t, st, 10*time.Millisecond, events)
	store := newCkStore()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), ckJob(ckJobOpts{par: 2, store: store, pace: 2 * time.Millisecond, ck: cfg}))
	}()
	wait := func(kind string, what string) CheckpointEvent {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind == kind {
					return e
				}
			case err := <-done:
				t.Fatalf("job ended (%v) while waiting for %s", err, what)
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("completed", "a first checkpoint")
	if err := os.Rename(root, root+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := wait("aborted", "a failed checkpoint")
	t.Logf("checkpoint %d failed as expected: %s", failed.ID, failed.Reason)
	if failed.Reason == "" {
		t.Error("the failure has no reason")
	}
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(root+".away", root); err != nil {
		t.Fatal(err)
	}
	// drain, then a checkpoint must complete again
	for {
		e := wait("completed", "a checkpoint after the storage returned")
		if e.ID > failed.ID {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("job failed: %v", err)
	}
	w, g := ckResult(t, store)
	if !slices.Equal(w, goldW) || !slices.Equal(g, goldG) {
		t.Errorf("output differs from the golden run\n%s", diffRows(w, goldW))
	}
}

// TestCheckpointFallbackPastTruncatedNewest: the newest checkpoint's state
// file is truncated; Latest falls back to the previous complete one with a
// warning naming the problem, and the restored run completes without losing
// a row. (Sinks had committed the newest checkpoint already, so what came
// between the two is written again: falling back past a committed
// checkpoint cannot be exactly-once.)
func TestCheckpointFallbackPastTruncatedNewest(t *testing.T) {
	goldW, _ := ckGolden(t, false)
	st, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan CheckpointEvent, 10000)
	cfg := ckConfig(t, st, 10*time.Millisecond, events)
	cfg.Coordinator.FullEvery = 1 // every checkpoint stands alone
	store := newCkStore()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ckJob(ckJobOpts{par: 2, store: store, pace: time.Millisecond, ck: cfg}))
	}()
	completed := 0
	deadline := time.After(30 * time.Second)
	for completed < 3 {
		select {
		case e := <-events:
			if e.Kind == "completed" {
				completed++
			}
		case <-deadline:
			t.Fatal("no checkpoints")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run 1: %v", err)
	}
	newest, _, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	var truncated string
	for _, tm := range newest.Metadata.Tasks {
		for _, h := range tm.Handles {
			truncated = newest.Dir + "/" + h.Path
		}
	}
	if truncated == "" {
		t.Fatal("newest checkpoint has no state file")
	}
	if err := os.Truncate(truncated, 10); err != nil {
		t.Fatal(err)
	}
	cp, warn, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	var fw *checkpoint.FallbackWarning
	if !errors.As(warn, &fw) || cp.Metadata.ID >= newest.Metadata.ID {
		t.Fatalf("Latest after truncation: checkpoint %d, warning %v; want a fallback below %d", cp.Metadata.ID, warn, newest.Metadata.ID)
	}
	t.Logf("fell back to %d: %v", cp.Metadata.ID, warn)
	cfg2 := ckConfig(t, st, 50*time.Millisecond, nil)
	cfg2.Restore = &cp
	if err := Run(context.Background(), ckJob(ckJobOpts{par: 3, store: store, ck: cfg2})); err != nil {
		t.Fatalf("run 2: %v", err)
	}
	store.mu.Lock()
	w := slices.Clone(store.committed["windows"])
	store.mu.Unlock()
	have := map[string]int{}
	for _, r := range w {
		have[r]++
	}
	dups := 0
	for _, r := range goldW {
		if have[r] == 0 {
			t.Errorf("row lost: %s", r)
		}
		dups += have[r] - 1
	}
	t.Logf("%d window rows written twice (between checkpoints %d and %d)", dups, cp.Metadata.ID, newest.Metadata.ID)
}

// TestCheckpointRestoreRefusesOtherPlan: a checkpoint of another plan is
// refused with a clear error.
func TestCheckpointRestoreRefusesOtherPlan(t *testing.T) {
	st, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := ckConfig(t, st, 10*time.Millisecond, nil)
	if err := Run(context.Background(), ckJob(ckJobOpts{par: 1, store: newCkStore(), pace: time.Millisecond, ck: cfg})); err != nil {
		t.Fatal(err)
	}
	cp, _, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := ckConfig(t, st, 10*time.Millisecond, nil)
	cfg2.Restore = &cp
	cfg2.Fingerprint = "another-plan"
	err = Run(context.Background(), ckJob(ckJobOpts{par: 1, store: newCkStore(), ck: cfg2}))
	var re *RestoreError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "different query") {
		t.Fatalf("got %v, want a RestoreError about a different query", err)
	}
}

// recSink is a ckSink that records which subtasks' handles it recovered.
type recSink struct {
	ckSink
	sub  int
	mu   *sync.Mutex
	seen map[int][]int // subtask → recovered handles' subtasks
}

func (r *recSink) StartCheckpointing(mode DeliveryMode, recovered []SinkHandle) error {
	r.mu.Lock()
	for _, h := range recovered {
		r.seen[r.sub] = append(r.seen[r.sub], h.Subtask)
	}
	r.mu.Unlock()
	return r.ckSink.StartCheckpointing(mode, recovered)
}

// TestSinkHandlesCoverEveryParallelismEverRun: a job ran its sink at
// parallelism 3; started afresh at parallelism 2 with the same checkpoint
// directory, its sinks must still be handed subtask 2's (empty) handle, so
// that they fence what it may have left open (a Kafka transaction). The
// second run's checkpoint ids go on after the first run's (a reused id
// names an existing directory: the checkpoint would fail).
func TestSinkHandlesCoverEveryParallelismEverRun(t *testing.T) {
	st, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var aborts []string
	run := func(par int) map[int][]int {
		var mu sync.Mutex
		seen := map[int][]int{}
		src := &Vertex{Name: "Source#1", Parallelism: 1, Source: SourceConfig{RowtimeCol: 1},
			NewSource: func(tc *TaskContext) (Source, error) {
				return &ckSource{streams: []int{0}, pos: make([]int64, 1)}, nil
			}}
		sink := &Vertex{Name: "Sink#2", Parallelism: par, Inputs: []Edge{{From: 0, Kind: Rebalance}},
			NewSink: func(tc *TaskContext) (Sink, error) {
				return &recSink{ckSink: ckSink{store: newCkStore(), name: "out"}, sub: tc.Subtask, mu: &mu, seen: seen}, nil
			}}
		cfg := ckConfig(t, st, time.Hour, nil)
		cfg.OnEvent = func(e CheckpointEvent) {
			if e.Kind == "aborted" {
				mu.Lock()
				aborts = append(aborts, fmt.Sprintf("%d: %s", e.ID, e.Reason))
				mu.Unlock()
			}
		}
		if err := Run(context.Background(), &JobSpec{Vertices: []*Vertex{src, sink}, Checkpoint: cfg}); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	if got := run(3); fmt.Sprint(got) != "map[0:[0] 1:[1] 2:[2]]" {
		t.Fatalf("first run recovered handles by subtask: %v, want each its own (empty)", got)
	}
	// (the first run completed its final checkpoint: restoring from it is
	// not the point; a fresh start must fence all the same)
	got := run(2)
	for s := range got {
		slices.Sort(got[s])
	}
	if fmt.Sprint(got) != "map[0:[0 2] 1:[1]]" {
		t.Fatalf("recovered handles by subtask: %v, want subtask 2's handed to subtask 0", got)
	}
	// the second run's ids go on after the first run's checkpoint
	if len(aborts) > 0 {
		t.Fatalf("checkpoints aborted: %v", aborts)
	}
}
