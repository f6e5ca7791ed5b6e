package exec

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Job status (DESIGN §8: a job that cannot make progress says so).
//
// A subtask's status is a short line such as "waiting for Kafka at
// localhost:9092: connection refused (retrying, attempt 4)"; the empty
// string means "running normally". Statuses are reported per job, never
// through process-global state (DESIGN §10): Run delivers every change to
// JobSpec.OnStatus, or, when that is nil, to the StatusFunc carried by the
// context given to Run (WithStatusFunc), so that callers which only hand a
// context down (weir run → sql.Session → planner.Plan.Run) can observe it.

// StatusFunc receives a status change of one subtask of a vertex. status ""
// means the subtask's earlier status is cleared (it is making progress
// again). Calls for one subtask are serialized and deduplicated (the same
// status twice in a row is reported once); calls for different subtasks may
// be concurrent.
type StatusFunc func(vertex string, subtask int, status string)

// StatusAware is implemented by a Source or Sink (or operator) that reports
// its own status, typically a connector retrying an external system. Run
// calls SetStatusFunc once, after the vertex factory returned the
// subtask's instance and before any subtask starts; set("") clears.
// set is safe for concurrent use.
type StatusAware interface {
	SetStatusFunc(set func(status string))
}

// ContextAware is implemented by a Sink whose Write or Finish may block on
// an external system (retries, back pressure). Run calls SetContext once,
// before any subtask starts, with the job's context: it is cancelled when
// the job fails or is cancelled, and the sink must then return promptly
// from a blocked Write or Finish (Abort follows).
type ContextAware interface {
	SetContext(ctx context.Context)
}

type statusCtxKey struct{}

// WithStatusFunc returns a context carrying fn: Run reports status changes
// of the jobs started with it (or a context derived from it) to fn, unless
// the JobSpec has its own OnStatus.
func WithStatusFunc(ctx context.Context, fn StatusFunc) context.Context {
	return context.WithValue(ctx, statusCtxKey{}, fn)
}

// StatusFuncFrom returns the StatusFunc carried by ctx, or nil.
func StatusFuncFrom(ctx context.Context) StatusFunc {
	fn, _ := ctx.Value(statusCtxKey{}).(StatusFunc)
	return fn
}

// SetStatus sets this subtask's status ("" clears it). Operators built
// with a TaskContext may call it from their goroutine; it is safe for
// concurrent use.
func (tc *TaskContext) SetStatus(status string) {
	if tc.status != nil {
		tc.status.set(status)
	}
}

// subtaskStatus deduplicates and forwards one subtask's status changes.
type subtaskStatus struct {
	mu      sync.Mutex
	cur     string
	vertex  string
	subtask int
	fn      StatusFunc
}

func (s *subtaskStatus) set(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == s.cur {
		return
	}
	s.cur = status
	if s.fn != nil {
		s.fn(s.vertex, s.subtask, status)
	}
}

// attachStatus wires tc's status to fn and hands the setter to any of the
// subtask's components that are StatusAware.
func attachStatus(tc *TaskContext, fn StatusFunc, parts ...any) {
	tc.status = &subtaskStatus{vertex: tc.Vertex, subtask: tc.Subtask, fn: fn}
	for _, p := range parts {
		if sa, ok := p.(StatusAware); ok {
			sa.SetStatusFunc(tc.status.set)
		}
	}
}

// StatusBoard collects the current statuses of one or more jobs: pass its
// Set as JobSpec.OnStatus (or to WithStatusFunc) and read Snapshot.
type StatusBoard struct {
	mu sync.Mutex
	m  map[StatusKey]string
	// Next, if set, is called with every change after it is recorded.
	Next StatusFunc
}

// StatusKey names one subtask.
type StatusKey struct {
	Vertex  string
	Subtask int
}

func (k StatusKey) String() string { return fmt.Sprintf("%s[%d]", k.Vertex, k.Subtask) }

// Set records a status change; it has the StatusFunc signature.
func (b *StatusBoard) Set(vertex string, subtask int, status string) {
	b.mu.Lock()
	if b.m == nil {
		b.m = map[StatusKey]string{}
	}
	k := StatusKey{vertex, subtask}
	if status == "" {
		delete(b.m, k)
	} else {
		b.m[k] = status
	}
	next := b.Next
	b.mu.Unlock()
	if next != nil {
		next(vertex, subtask, status)
	}
}

// Snapshot returns the subtasks that have a status now.
func (b *StatusBoard) Snapshot() map[StatusKey]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[StatusKey]string, len(b.m))
	for k, v := range b.m {
		out[k] = v
	}
	return out
}

// Lines returns the snapshot as sorted "vertex[subtask]: status" lines.
func (b *StatusBoard) Lines() []string {
	var out []string
	for k, v := range b.Snapshot() {
		out = append(out, k.String()+": "+v)
	}
	sort.Strings(out)
	return out
}
