package exec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/sql/types"
)

// The checkpoint equivalence test for joins: two sources feed a regular
// LEFT JOIN (a changelog: left rows are padded, then matched, as right rows
// arrive) and an interval join (state dropped by the watermark). Both take
// their inputs through the runtime's aligned merge, so barriers from four
// upstream channels are aligned. Runs stopped after a savepoint and
// restored at another parallelism, or killed at random moments and
// restored from the latest checkpoint, must commit exactly the output of
// one uninterrupted run.

// ckRightRow is the right source's row [v, ts, w]: v = 2·(i mod 300) +
// 1000·stream equals the left column v of the left rows with an even i
// (ckRow's i + 1000·stream), each twice: once in the first half of the
// input and once in the second, so left rows gain a second match after a
// checkpoint taken halfway.
func ckRightRow(stream int, i int64) types.Row {
	return types.Row{
		types.BigIntValue(2*(i%300) + int64(stream)*1000),
		types.TimestampValue(i * 10),
		types.BigIntValue(i),
	}
}

func ckJoinJob(o ckJobOpts) *JobSpec {
	src := func(name string, row func(int, int64) types.Row) *Vertex {
		return &Vertex{Name: name, Parallelism: o.par, Source: SourceConfig{RowtimeCol: 1, Delay: 0},
			NewSource: func(tc *TaskContext) (Source, error) {
				s := &ckSource{gate: o.gate, reached: o.reached, pace: o.pace, row: row, gateAt: o.gateAt}
				for j := range ckStreams {
					if j%tc.Parallelism == tc.Subtask {
						s.streams = append(s.streams, j)
					}
				}
				s.pos = make([]int64, len(s.streams))
				return s, nil
			}}
	}
	left := src("Source#1", func(j int, i int64) types.Row { return ckRow(j, i, false) })
	right := src("Source#2", ckRightRow)
	// the interval join's right input carries its key w % 11 as column 3
	mod := &Vertex{Name: "Calc#3", Parallelism: o.par, Inputs: []Edge{{From: 1, Kind: Forward}},
		NewOperator: func(*TaskContext) (Operator, error) { return &ckModCalc{}, nil }}
	join := &Vertex{Name: "Join#4", Parallelism: o.par,
		Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{2}, Input: 0}, {From: 1, Kind: Hash, Keys: []int{0}, Input: 1}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			return NewJoin(JoinConfig{Kind: JoinLeft, LeftKeys: []int{2}, RightKeys: []int{0}, LeftWidth: 3, RightWidth: 3, MaxKeyGroups: tc.MaxKeyGroups})
		}}
	ij := &Vertex{Name: "IntervalJoin#5", Parallelism: o.par,
		Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}, Input: 0}, {From: 2, Kind: Hash, Keys: []int{3}, Input: 1}},
		NewOperator: func(tc *TaskContext) (Operator, error) {
			// left.k = right.w % 11, right.ts - left.ts in [-20, 20]
			return NewIntervalJoin(IntervalJoinConfig{Kind: JoinFull, LeftKeys: []int{0}, RightKeys: []int{3}, LeftWidth: 3, RightWidth: 3,
				LeftTime: 1, RightTime: 1, Lower: -20, Upper: 20, MaxKeyGroups: tc.MaxKeyGroups})
		}}
	sinkJ := &Vertex{Name: "Sink#6", Parallelism: 2, Inputs: []Edge{{From: 3, Kind: Hash, Keys: []int{2}}},
		NewSink: func(tc *TaskContext) (Sink, error) { return &ckSink{store: o.store, name: "join"}, nil }}
	sinkI := &Vertex{Name: "Sink#7", Parallelism: 1, Inputs: []Edge{{From: 4, Kind: Rebalance}},
		NewSink: func(tc *TaskContext) (Sink, error) { return &ckSink{store: o.store, name: "interval"}, nil }}
	return &JobSpec{Vertices: []*Vertex{left, right, mod, join, ij, sinkJ, sinkI}, Checkpoint: o.ck, StateMemory: o.memory}
}

// ckModCalc appends w % 11 to the right rows.
type ckModCalc struct{}

func (ckModCalc) Process(_ int, b *types.Batch, out Emitter) error {
	for i, r := range b.Rows {
		b.Rows[i] = append(slices.Clip(r), types.BigIntValue(r[2].I%11))
	}
	return out.Emit(b)
}

// ckJoinResult: the LEFT JOIN's changelog applied (a retraction of a
// missing row fails), and the interval join's rows, both sorted.
func ckJoinResult(t *testing.T, s *ckStore) (table, interval []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, r := range s.committed["join"] {
		kind, row := r[:2], r[3:]
		switch kind {
		case "+I", "+U":
			m[row]++
		default:
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
	interval = slices.Clone(s.committed["interval"])
	slices.Sort(interval)
	return table, interval
}

func ckJoinGolden(t *testing.T) ([]string, []string) {
	t.Helper()
	st := newCkStore()
	if err := Run(context.Background(), ckJoinJob(ckJobOpts{par: 1, store: st})); err != nil {
		t.Fatal(err)
	}
	tbl, iv := ckJoinResult(t, st)
	// every left row is in the table once per match or padded
	if len(tbl) < ckStreams*ckPerStream || len(iv) < 1000 {
		t.Fatalf("golden run looks wrong: %d joined rows, %d interval rows", len(tbl), len(iv))
	}
	padded, joined := 0, 0
	for _, r := range tbl {
		if r[len(r)-4:] == "NULL" {
			padded++
		} else {
			joined++
		}
	}
	if padded == 0 || joined == 0 {
		t.Fatalf("golden run: %d padded and %d joined rows; the test needs both", padded, joined)
	}
	return tbl, iv
}

func TestCheckpointJoinSavepointRestoreAtOtherParallelism(t *testing.T) {
	goldT, goldI := ckJoinGolden(t)
	st, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := newCkStore()
	sp := runToSavepoint(t, st, ckJoinJob, ckJobOpts{par: 2, store: store}, 4)
	var joinBytes int64
	for _, tm := range sp.Metadata.Tasks {
		if tm.Task == stateTask {
			joinBytes = tm.Bytes
		}
	}
	if joinBytes == 0 {
		t.Fatal("the savepoint holds no state")
	}

	cp, err := st.Open(sp.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := ckConfig(t, st, 50*time.Millisecond, nil)
	cfg2.Restore = &cp
	if err := Run(context.Background(), ckJoinJob(ckJobOpts{par: 3, store: store, ck: cfg2})); err != nil {
		t.Fatalf("run 2: %v", err)
	}
	tbl, iv := ckJoinResult(t, store)
	if !slices.Equal(tbl, goldT) {
		t.Errorf("join table differs from the golden run: %d rows, want %d\n%s", len(tbl), len(goldT), diffRows(tbl, goldT))
	}
	if !slices.Equal(iv, goldI) {
		t.Errorf("interval join rows differ from the golden run: %d rows, want %d\n%s", len(iv), len(goldI), diffRows(iv, goldI))
	}
}

// TestCheckpointJoinCancelAndRestoreRepeatedly kills runs at random
// moments and restores each from the latest checkpoint, at a random
// parallelism. The sources hold their last rows until the test lets them
// go, so a kill never lands after a sink has finished: Finish commits
// everything, and a restore from an earlier checkpoint would then repeat
// that sink's rows (a limit of end-of-input commits, not of the joins).
// A run whose sources get to the end before its kill is killed there,
// after one more checkpoint; from the eighth run on (once some run has
// been restored) the sources are let go and the job completes.
func TestCheckpointJoinCancelAndRestoreRepeatedly(t *testing.T) {
	joinCancelAndRestoreRepeatedly(t, 0)
}

// TestCheckpointJoinSpillCancelAndRestore is the same with room for a few
// of the regular join's keys in memory: the rest is spilled to Badger.
func TestCheckpointJoinSpillCancelAndRestore(t *testing.T) {
	st := joinCancelAndRestoreRepeatedly(t, 16<<10)
	if st.Evicted < 100 || st.Reloaded < 100 {
		t.Fatalf("the join evicted %d and reloaded %d keys: it did not spill", st.Evicted, st.Reloaded)
	}
}

// joinCancelAndRestoreRepeatedly kills ckJoinJob at random moments and
// restores it, two seeds, with JobSpec.StateMemory memory; it returns the
// regular join's spill figures summed over all runs.
func joinCancelAndRestoreRepeatedly(t *testing.T, memory int64) (spilled SpillStats) {
	goldT, goldI := ckJoinGolden(t)
	for seed := range 2 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 13))
			st, err := checkpoint.NewDirStorage(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := newCkStore()
			restored, killed := 0, 0
			for attempt := 0; ; attempt++ {
				if attempt == 40 {
					t.Fatalf("no run completed in %d attempts", attempt)
				}
				par := 1 + rng.IntN(3)
				events := make(chan CheckpointEvent, 1000)
				cfg := ckConfig(t, st, 15*time.Millisecond, events)
				if cp, _, err := st.Latest(); err == nil {
					cfg.Restore = &cp
					restored++
				}
				finish := attempt >= 8 && restored > 0
				gate := make(chan struct{})
				var reached sync.WaitGroup
				reached.Add(2 * par)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				spec := ckJoinJob(ckJobOpts{par: par, store: store, gate: gate, reached: &reached,
					gateAt: ckPerStream, pace: 200 * time.Microsecond, ck: cfg, memory: memory})
				go func() { done <- Run(ctx, spec) }()
				atEnd := make(chan struct{})
				go func() { reached.Wait(); close(atEnd) }()
				var kill <-chan time.Time
				if !finish {
					kill = time.After(time.Duration(20+rng.IntN(120)) * time.Millisecond)
				}
				var err error
				select {
				case <-kill:
					cancel()
					err = <-done
				case err = <-done:
					t.Fatalf("attempt %d ended before its sources were let go: %v", attempt, err)
				case <-atEnd:
					if finish {
						close(gate)
						err = <-done
						break
					}
					// killed at the end, once a checkpoint holds the positions
					waitCompleted(t, events, done)
					cancel()
					err = <-done
				}
				cancel()
				for _, v := range spec.Vertices {
					if st, ok := v.Spill(); ok {
						spilled.Evicted += st.Evicted
						spilled.Reloaded += st.Reloaded
					}
				}
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("attempt %d (parallelism %d): %v", attempt, par, err)
				}
				killed++
			}
			if restored == 0 || killed == 0 {
				t.Fatalf("%d runs killed, %d restored: the test proves nothing", killed, restored)
			}
			tbl, iv := ckJoinResult(t, store)
			if !slices.Equal(tbl, goldT) {
				t.Errorf("join table differs: %d rows, want %d\n%s", len(tbl), len(goldT), diffRows(tbl, goldT))
			}
			if !slices.Equal(iv, goldI) {
				t.Errorf("interval join rows differ: %d rows, want %d\n%s", len(iv), len(goldI), diffRows(iv, goldI))
			}
		})
	}
	return spilled
}

// waitCompleted waits for a completed checkpoint.
func waitCompleted(t *testing.T, events <-chan CheckpointEvent, done <-chan error) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == "completed" {
				return
			}
		case err := <-done:
			t.Fatalf("the job ended while waiting for a checkpoint: %v", err)
		case <-deadline:
			t.Fatal("no checkpoint completed")
		}
	}
}
