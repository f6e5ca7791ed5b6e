package exec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/state"
)

// stallStorage holds the first full state file's write in its first
// Write until release is closed, then checks what was written.
type stallStorage struct {
	*checkpoint.DirStorage
	once    sync.Once
	stalled chan struct{} // closed when the write stalls
	release chan struct{}
	result  chan error
	tempDir string // where the stalled file is restored, to check it
}

type stallWriter struct {
	bytes.Buffer
	s     *stallStorage
	first bool
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		close(w.s.stalled)
		<-w.s.release
	}
	return w.Buffer.Write(p)
}

func (s *stallStorage) WriteFile(loc checkpoint.Location, name string, r io.Reader) (checkpoint.StateHandle, error) {
	mine := false
	if strings.HasSuffix(name, ".full") {
		s.once.Do(func() { mine = true })
	}
	if !mine {
		return s.DirStorage.WriteFile(loc, name, r)
	}
	w := &stallWriter{s: s}
	_, err := io.Copy(w, r)
	if err == nil {
		// the file on its own restores: checksums and counts hold
		var db *state.DB
		db, err = state.Restore(s.tempDir, bytes.NewReader(w.Bytes()), nil, nil)
		if err == nil {
			err = db.Close()
		}
	}
	s.result <- err
	return s.DirStorage.WriteFile(loc, name, bytes.NewReader(w.Bytes()))
}

// TestArenaChunksOutliveStalledWrite: a state file whose write stalls
// while later checkpoints complete (its own times out, and the later ones
// prune its arenas) still writes the arenas as they were captured: the
// write holds references to them, so their chunks are not recycled for
// later captures under it.
func TestArenaChunksOutliveStalledWrite(t *testing.T) {
	smallArenaChunks(t)
	dir, err := checkpoint.NewDirStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &stallStorage{DirStorage: dir, stalled: make(chan struct{}), release: make(chan struct{}), result: make(chan error, 1)}
	st.tempDir = t.TempDir() + "/check"
	completed := make(chan uint64, 1000)
	cfg := &CheckpointConfig{Storage: st, Retain: 3,
		Coordinator: checkpoint.Config{Interval: 5 * time.Millisecond, Timeout: 100 * time.Millisecond, TolerableFailures: 1 << 20, FullEvery: 3},
		Fingerprint: "stall", StateDir: t.TempDir() + "/state",
		OnEvent: func(e CheckpointEvent) {
			if e.Kind == "completed" {
				select {
				case completed <- e.ID:
				default:
				}
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(st.release) // also when the test ends early
		select {
		case <-st.stalled:
		case <-ctx.Done():
			return
		}
		// three checkpoints complete after it (it is the first): by
		// then its arenas were pruned
		for n := 0; n < 3; {
			select {
			case <-completed:
				n++
			case <-ctx.Done():
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		spec := &JobSpec{Checkpoint: cfg, Vertices: []*Vertex{
			{Name: "Source#1", Parallelism: 1, Source: SourceConfig{RowtimeCol: 1},
				NewSource: func(*TaskContext) (Source, error) { return &benchSource{keys: 20_000, events: 1 << 40}, nil }},
			{Name: "WindowAggregate#2", Parallelism: 1, StateID: 2, Inputs: []Edge{{From: 0, Kind: Hash, Keys: []int{0}}},
				NewOperator: func(tc *TaskContext) (Operator, error) { return NewWindowAgg(benchWindowCfg()) }},
			{Name: "Sink#3", Parallelism: 1, Inputs: []Edge{{From: 1, Kind: Forward}},
				NewSink: func(*TaskContext) (Sink, error) { return &ckSink{store: newCkStore(), name: "x"}, nil }},
		}}
		done <- Run(ctx, spec)
	}()
	select {
	case err := <-st.result:
		if err != nil {
			t.Errorf("the stalled state file: %v", err)
		}
	case err := <-done:
		t.Fatalf("the job ended before the stalled write did: %v", err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
