package exec

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// statusSink reports "waiting" then clears it, as a connector retrying an
// external system does.
type statusSink struct{ set func(string) }

func (s *statusSink) SetStatusFunc(fn func(string)) { s.set = fn }
func (s *statusSink) Write(*types.Batch) error {
	s.set("waiting for X")
	s.set("waiting for X") // deduplicated
	s.set("")
	return nil
}
func (s *statusSink) Finish() error { return nil }
func (s *statusSink) Abort()        {}

func statusJob() *JobSpec {
	return &JobSpec{Vertices: []*Vertex{
		{Name: "src", Parallelism: 1, NewSource: func(*TaskContext) (Source, error) {
			return &seqSource{from: 0, to: 3, keys: 1}, nil
		}, Source: SourceConfig{RowtimeCol: -1}},
		{Name: "sink", Parallelism: 1, Inputs: []Edge{{From: 0, Kind: Forward}},
			NewSink: func(*TaskContext) (Sink, error) { return &statusSink{}, nil }},
	}}
}

func TestStatusReported(t *testing.T) {
	for _, viaCtx := range []bool{false, true} {
		var mu sync.Mutex
		var got []string
		fn := func(v string, s int, st string) {
			mu.Lock()
			got = append(got, v+":"+st)
			mu.Unlock()
		}
		board := &StatusBoard{Next: fn}
		spec := statusJob()
		ctx := context.Background()
		if viaCtx {
			ctx = WithStatusFunc(ctx, board.Set)
		} else {
			spec.OnStatus = board.Set
		}
		if err := Run(ctx, spec); err != nil {
			t.Fatal(err)
		}
		want := []string{"sink:waiting for X", "sink:"}
		if !reflect.DeepEqual(got[:2], want) || len(got)%2 != 0 {
			t.Fatalf("viaCtx=%v: statuses %q", viaCtx, got)
		}
		if snap := board.Snapshot(); len(snap) != 0 {
			t.Fatalf("statuses left: %v", snap)
		}
	}
}

func TestStatusBoardSnapshot(t *testing.T) {
	var b StatusBoard
	b.Set("a", 1, "waiting")
	b.Set("b", 0, "x")
	b.Set("b", 0, "")
	if l := b.Lines(); !reflect.DeepEqual(l, []string{"a[1]: waiting"}) {
		t.Fatalf("lines %q", l)
	}
}
