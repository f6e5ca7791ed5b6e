package exec

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/sql/types"
)

// BenchmarkCheckpointedWindow is issue #4's benchmark: a keyed window
// aggregate holding `keys` groups of one open window (state of `keys`
// keys), fed as fast as the source goes, run without checkpoints and with
// 1-second checkpoints (incremental, full every 10). It reports throughput
// of both, the synchronous-phase p50/p99/max over all checkpoints and
// subtasks, the bytes of full and incremental checkpoints, and the time to
// restore the last checkpoint. Run with -benchtime 1x; WEIR_BENCH_KEYS
// selects the key counts (default 1000000).
//
//	go test ./exec -run '^$' -bench CheckpointedWindow -benchtime 1x -timeout 1h
func BenchmarkCheckpointedWindow(b *testing.B) {
	sizes := []int{1_000_000}
	if os.Getenv("WEIR_BENCH_KEYS") == "10m" {
		sizes = []int{10_000_000}
	}
	// hot = 0: every event updates a key drawn uniformly from all keys (the
	// worst case: almost every key changes between two checkpoints);
	// hot = h: after one event per key, events update h hot keys.
	for _, keys := range sizes {
		for _, hot := range []int{0, 50_000} {
			b.Run(fmt.Sprintf("keys=%d/hot=%d", keys, hot), func(b *testing.B) {
				benchCheckpointedWindow(b, keys, hot)
			})
		}
	}
}

func benchCheckpointedWindow(b *testing.B, keys, hot int) {
	{
		{
			events := int64(40 * keys)
			if keys > 1_000_000 {
				events = int64(3 * keys)
			}
			plain := benchWindowJob(b, keys, hot, events, nil)
			st, err := checkpoint.NewDirStorage(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			var mds []checkpoint.Metadata
			var dirs []string
			cfg := &CheckpointConfig{Storage: st, Retain: 3,
				Coordinator: checkpoint.Config{Interval: time.Second, Timeout: 10 * time.Minute, TolerableFailures: 1 << 20, FullEvery: 10},
				Fingerprint: "bench", StateDir: b.TempDir() + "/state",
				OnEvent: func(e CheckpointEvent) {
					if e.Kind == "completed" {
						mu.Lock()
						mds = append(mds, *e.Metadata)
						dirs = append(dirs, e.Dir)
						mu.Unlock()
					}
				}}
			withCk := benchWindowJob(b, keys, hot, events, cfg)
			var syncs []time.Duration
			var fullB, incrB []int64
			for _, md := range mds {
				for _, t := range md.Tasks {
					if t.Task.Vertex == "WindowAggregate#2" {
						syncs = append(syncs, t.SyncDur)
					}
				}
				if md.Full {
					fullB = append(fullB, md.BytesIncremental)
				} else {
					incrB = append(incrB, md.BytesIncremental)
				}
			}
			slices.Sort(syncs)
			pct := func(p float64) time.Duration {
				if len(syncs) == 0 {
					return 0
				}
				return syncs[min(len(syncs)-1, int(p*float64(len(syncs))))]
			}
			b.ReportMetric(float64(events)/plain.Seconds(), "events/s-plain")
			b.ReportMetric(float64(events)/withCk.Seconds(), "events/s-ckpt")
			b.ReportMetric(plain.Seconds()/withCk.Seconds()*100, "%-of-plain")
			b.ReportMetric(float64(len(mds)), "checkpoints")
			b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "sync-p50-ms")
			b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "sync-p99-ms")
			b.ReportMetric(float64(pct(1).Microseconds())/1000, "sync-max-ms")
			b.Logf("keys %d, hot %d, events %d: plain %v, with checkpoints %v; %d checkpoints; full bytes %v; incremental bytes %v",
				keys, hot, events, plain, withCk, len(mds), fullB, incrB)

			// restore the last checkpoint but one: the last may come after
			// the end of input, when the window fired and the state is empty
			if len(dirs) < 2 {
				b.Fatalf("%d checkpoints: nothing to restore", len(dirs))
			}
			cp, err := st.Open(dirs[len(dirs)-2])
			if err != nil {
				b.Fatal(err)
			}
			rcfg := *cfg
			rcfg.OnEvent = nil
			rcfg.Restore = &cp
			rcfg.StateDir = b.TempDir() + "/restored"
			start := time.Now()
			ck, err := newCkptRun(&JobSpec{MaxKeyGroups: DefaultMaxKeyGroups, Checkpoint: &rcfg})
			if err != nil {
				b.Fatal(err)
			}
			badger := time.Since(start)
			w, _ := NewWindowAgg(benchWindowCfg())
			if err := w.RestoreState(func(fn func(kg uint16, key, ns, value []byte) error) error {
				return ck.db.ScanOperator(2, 0, DefaultMaxKeyGroups-1, fn)
			}); err != nil {
				b.Fatal(err)
			}
			total := time.Since(start)
			ck.close()
			b.ReportMetric(total.Seconds(), "restore-s")
			b.Logf("restore of checkpoint %d (%d bytes read): Badger rebuilt in %v, operator state loaded in %v, total %v; %d groups",
				cp.Metadata.ID, cp.Metadata.BytesFull, badger, total-badger, total, len(w.keyIDs))
		}
	}
}

func benchWindowCfg() WindowAggConfig {
	return WindowAggConfig{Keys: []int{0},
		Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}, {Kind: AggSum, Arg: 2, ArgType: types.TBigInt}},
		Window: WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 1 << 40}}
}

// benchSource emits events (k, ts, v) with k cycling over keys in a
// scrambled order; it is Resumable so the job can checkpoint.
type benchSource struct {
	keys   int
	hot    int
	events int64
	pos    int64
}

func (s *benchSource) Splits() int                       { return 1 }
func (s *benchSource) SplitNames() []string              { return []string{"0"} }
func (s *benchSource) Resume(pos map[string]int64) error { s.pos = pos["0"]; return nil }
func (s *benchSource) Run(ctx context.Context, out SourceOutput) error {
	const bs = 1024
	for s.pos < s.events {
		n := min(bs, s.events-s.pos)
		b := &types.Batch{Rows: make([]types.Row, n)}
		vals := make([]types.Value, 3*n)
		for i := range n {
			e := s.pos + i
			k := (e * 2654435761) % int64(s.keys)
			if s.hot > 0 && e >= int64(s.keys) {
				k = (e * 2654435761) % int64(s.hot)
			}
			r := vals[3*i : 3*i+3 : 3*i+3]
			r[0], r[1], r[2] = types.BigIntValue(k), types.TimestampValue(1), types.BigIntValue(e)
			b.Rows[i] = r
		}
		s.pos += n
		if err := EmitAt(out, 0, b, s.pos); err != nil {
			return err
		}
	}
	return nil
}

func benchWindowJob(b *testing.B, keys, hot int, events int64, ck *CheckpointConfig) time.Duration {
	b.Helper()
	spec := &JobSpec{Checkpoint: ck, Vertices: []*Vertex{
		{Name: "Source#1", Parallelism: 1, Source: SourceConfig{RowtimeCol: 1},
			NewSource: func(*TaskContext) (Source, error) { return &benchSource{keys: keys, hot: hot, events: events}, nil }},
		{Name: "WindowAggregate#2", Parallelism: 1, StateID: 2, Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
			NewOperator: func(tc *TaskContext) (Operator, error) { return NewWindowAgg(benchWindowCfg()) }},
		{Name: "Sink#3", Parallelism: 1, Inputs: []Edge{{From: 1, Kind: Forward}},
			NewSink: func(*TaskContext) (Sink, error) { return &ckSink{store: newCkStore(), name: "x"}, nil }},
	}}
	start := time.Now()
	if err := Run(context.Background(), spec); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
