package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// EdgeKind says how rows travel from an upstream vertex's subtasks to a
// downstream vertex's subtasks.
type EdgeKind uint8

const (
	// Forward connects subtask i to subtask i; both sides have the same parallelism.
	Forward EdgeKind = iota
	// Hash routes each row by the key group of its key columns (DESIGN §4).
	Hash
	// Broadcast sends every row to every downstream subtask.
	Broadcast
	// Rebalance spreads batches round-robin over downstream subtasks.
	Rebalance
)

func (k EdgeKind) String() string {
	return [...]string{"FORWARD", "HASH", "BROADCAST", "REBALANCE"}[k]
}

// DefaultMaxKeyGroups is the number of key groups when a job does not set one.
const DefaultMaxKeyGroups = 128

// Edge is one input of a vertex.
type Edge struct {
	From   int // index of the upstream vertex in JobSpec.Vertices
	Output int // which output of the upstream vertex: 0 main, 1.. side outputs
	Kind   EdgeKind
	Keys   []int // Hash: key column indexes in the upstream's output rows
	Input  int   // which logical input of this vertex the edge feeds (0 for single-input)
}

// TaskContext is what a vertex factory learns about the subtask it builds.
type TaskContext struct {
	Vertex      string
	Subtask     int
	Parallelism int
	// MaxKeyGroups and KeyGroups ([first, last]) describe this subtask's
	// share of the key space.
	MaxKeyGroups          int
	FirstGroup, LastGroup int
	side                  []*emitter
	status                *subtaskStatus // see SetStatus (status.go)
}

// Side returns an emitter for side output i (1-based; 0 is the main output).
// Rows emitted there travel on edges whose Output is i.
func (tc *TaskContext) Side(i int) Emitter { return tc.side[i] }

// SourceConfig describes how a source vertex derives event time.
type SourceConfig struct {
	// RowtimeCol is the output column carrying event time, or -1 for none.
	RowtimeCol int
	// Delay is the watermark delay (bounded out-of-orderness) in ms.
	Delay int64
}

// Vertex is one node of the job graph. Exactly one of NewSource,
// NewOperator, NewSink is set. Factories are called on the goroutine that
// calls Run, before any subtask starts.
type Vertex struct {
	Name string
	// StateID identifies the vertex's keyed state across runs of the same
	// plan (the planner's node id); 0 means index in JobSpec.Vertices + 1.
	StateID     int
	Parallelism int
	Inputs      []Edge
	Outputs     int // number of outputs (1 + side outputs); 0 is treated as 1

	NewSource   func(tc *TaskContext) (Source, error)
	Source      SourceConfig
	NewOperator func(tc *TaskContext) (Operator, error)
	NewSink     func(tc *TaskContext) (Sink, error)
	// Chain holds stateless operators (no WatermarkHandler or Finisher) run
	// in this vertex's goroutine on its main output before routing: Flink's
	// operator chaining, which saves a channel hop per chained operator.
	Chain []ChainedOperator

	// Metrics, updated while the job runs.
	RecordsIn, RecordsOut atomic.Int64
	watermarks            atomic.Pointer[[]atomic.Int64] // per subtask
	lags                  atomic.Pointer[[]LagReporter]  // per subtask, nil for those that do not report
	spills                atomic.Pointer[[]Spiller]      // the subtasks that spill
}

// Spill sums the spill figures of the vertex's subtasks while the job
// runs; ok is false for a vertex that does not spill.
func (v *Vertex) Spill() (st SpillStats, ok bool) {
	p := v.spills.Load()
	if p == nil {
		return st, false
	}
	for _, s := range *p {
		x := s.SpillStats()
		st.Budget += x.Budget
		st.Resident += x.Resident
		st.Spilled += x.Spilled
		st.Evicted += x.Evicted
		st.Reloaded += x.Reloaded
	}
	return st, true
}

// Lag is the sum of the source subtasks' lags (LagReporter) while the job
// runs; ok is false for a vertex whose sources do not report one.
func (v *Vertex) Lag() (records int64, ok bool) {
	p := v.lags.Load()
	if p == nil {
		return 0, false
	}
	for _, r := range *p {
		if r == nil {
			continue
		}
		if n, rok := r.Lag(); rok {
			records += n
			ok = true
		}
	}
	return records, ok
}

// Watermark is the vertex's event-time watermark while the job runs: the
// least of its subtasks' (a source's is what it sends downstream); ok is
// false before every subtask has one.
func (v *Vertex) Watermark() (wm int64, ok bool) {
	p := v.watermarks.Load()
	if p == nil || len(*p) == 0 {
		return 0, false
	}
	wm = MaxWatermark
	for i := range *p {
		w := (*p)[i].Load()
		if w == MinWatermark {
			return 0, false
		}
		wm = min(wm, w)
	}
	return wm, true
}

// setWatermark records subtask's watermark for Vertex.Watermark.
func (t *task) setWatermark(wm int64) {
	if p := t.v.watermarks.Load(); p != nil {
		(*p)[t.tc.Subtask].Store(wm)
	}
}

// ChainedOperator is a stateless operator run inside another vertex's
// goroutine. Its errors are reported under its own Name.
type ChainedOperator struct {
	Name string
	New  func(tc *TaskContext) (Operator, error)
}

// JobSpec is a whole job graph. Vertices are in topological order: every
// edge points to an earlier vertex.
type JobSpec struct {
	Vertices     []*Vertex
	MaxKeyGroups int
	// ChannelCapacity is the number of messages an input channel buffers
	// before its senders block (back pressure). Default 16.
	ChannelCapacity int
	// OnStatus, if set, receives the status changes of the job's subtasks
	// (status.go); when nil, Run uses the StatusFunc carried by its
	// context (WithStatusFunc), if any.
	OnStatus StatusFunc
	// Checkpoint, if set, makes the job take checkpoints (checkpointing.go).
	Checkpoint *CheckpointConfig
	// StateMemory, when positive, is the memory (bytes, estimated) the
	// operators that can spill (Spiller) may keep their state in, shared
	// equally among their subtasks; the rest goes to a spill store in
	// SpillDir (an absent or empty directory; empty: a temporary one),
	// removed when Run returns. Zero: state stays in memory.
	StateMemory int64
	SpillDir    string
}

// OperatorError reports which subtask failed.
type OperatorError struct {
	Vertex      string
	Subtask     int
	Parallelism int
	Err         error
}

func (e *OperatorError) Error() string {
	if e.Parallelism > 1 {
		return fmt.Sprintf("%s (subtask %d of %d): %v", e.Vertex, e.Subtask+1, e.Parallelism, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Vertex, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// KeyGroupRange returns the first and last key group owned by subtask i of p
// (Flink's contiguous assignment).
func KeyGroupRange(maxGroups, p, i int) (int, int) {
	first := (i*maxGroups + p - 1) / p
	last := ((i+1)*maxGroups+p-1)/p - 1
	return first, last
}

// SubtaskForKeyGroup returns the subtask of p owning key group g.
func SubtaskForKeyGroup(maxGroups, p, g int) int { return g * p / maxGroups }

// channel endpoints for one subtask
type subtaskIO struct {
	in      chan Message
	nInputs int   // number of upstream channels
	inputOf []int // upstream channel index → logical input
}

// Run executes the job until every sink has seen end of input, the first
// subtask fails, or ctx is cancelled. It returns after every goroutine it
// started has exited. On failure the first error is returned as an
// *OperatorError; on cancellation ctx.Err().
func Run(ctx context.Context, spec *JobSpec) error {
	if spec.MaxKeyGroups <= 0 {
		spec.MaxKeyGroups = DefaultMaxKeyGroups
	}
	capacity := spec.ChannelCapacity
	if capacity <= 0 {
		capacity = 16
	}
	nv := len(spec.Vertices)
	ios := make([][]*subtaskIO, nv)
	for vi, v := range spec.Vertices {
		if v.Parallelism <= 0 {
			v.Parallelism = 1
		}
		if v.Outputs <= 0 {
			v.Outputs = 1
		}
		ios[vi] = make([]*subtaskIO, v.Parallelism)
		for s := range ios[vi] {
			ios[vi][s] = &subtaskIO{in: make(chan Message, capacity)}
		}
		for _, e := range v.Inputs {
			if e.From >= vi {
				return fmt.Errorf("exec: vertex %s: edge from a later vertex %d", v.Name, e.From)
			}
			up := spec.Vertices[e.From]
			if e.Kind == Forward && up.Parallelism != v.Parallelism {
				return fmt.Errorf("exec: vertex %s: forward edge between parallelism %d and %d", v.Name, up.Parallelism, v.Parallelism)
			}
		}
	}
	// Wire outputs: for each vertex/subtask/output, the list of routes.
	routes := make([][][][]*route, nv) // [vertex][subtask][output] → routes
	for vi, v := range spec.Vertices {
		routes[vi] = make([][][]*route, v.Parallelism)
		for s := range routes[vi] {
			routes[vi][s] = make([][]*route, v.Outputs)
		}
	}
	for vi, v := range spec.Vertices {
		for _, e := range v.Inputs {
			up := spec.Vertices[e.From]
			for us := 0; us < up.Parallelism; us++ {
				r := &route{kind: e.Kind, keys: e.Keys, maxGroups: spec.MaxKeyGroups}
				if e.Kind == Forward {
					io := ios[vi][us]
					r.targets = []chan Message{io.in}
					r.from = []int{io.nInputs}
					io.nInputs++
					io.inputOf = append(io.inputOf, e.Input)
				} else {
					for ds := 0; ds < v.Parallelism; ds++ {
						io := ios[vi][ds]
						r.targets = append(r.targets, io.in)
						r.from = append(r.from, io.nInputs)
						io.nInputs++
						io.inputOf = append(io.inputOf, e.Input)
					}
				}
				routes[e.From][us][e.Output] = append(routes[e.From][us][e.Output], r)
			}
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel(err)
		})
	}
	onStatus := spec.OnStatus
	if onStatus == nil {
		onStatus = StatusFuncFrom(ctx)
	}
	var ck *ckptRun
	if spec.Checkpoint != nil {
		var err error
		if ck, err = newCkptRun(spec); err != nil {
			return err
		}
		defer ck.close()
		ck.fail = fail
		ck.stop = func(err error) { cancel(err) }
	}
	var runs []func()
	var tasks []*task
	for vi, v := range spec.Vertices {
		wms := make([]atomic.Int64, v.Parallelism)
		for i := range wms {
			wms[i].Store(MinWatermark)
		}
		v.watermarks.Store(&wms)
		lags := make([]LagReporter, v.Parallelism)
		v.lags.Store(&lags)
		for s := 0; s < v.Parallelism; s++ {
			first, last := KeyGroupRange(spec.MaxKeyGroups, v.Parallelism, s)
			tc := &TaskContext{Vertex: v.Name, Subtask: s, Parallelism: v.Parallelism,
				MaxKeyGroups: spec.MaxKeyGroups, FirstGroup: first, LastGroup: last}
			outs := make([]*emitter, v.Outputs)
			for o := range outs {
				outs[o] = &emitter{ctx: ctx, routes: routes[vi][s][o], vertex: v, counts: o == 0}
			}
			tc.side = outs
			t := &task{ctx: ctx, v: v, tc: tc, io: ios[vi][s], outs: outs, main: outs[0], vertexIndex: vi, wm: MinWatermark}
			tasks = append(tasks, t)
			var err error
			for ci := len(v.Chain) - 1; ci >= 0 && err == nil; ci-- {
				var op Operator
				op, err = v.Chain[ci].New(tc)
				if err == nil {
					if _, ok := op.(WatermarkHandler); ok {
						err = errors.New("chained operator handles watermarks")
					}
					t.main = &chained{op: op, next: t.main, name: v.Chain[ci].Name}
				}
			}
			switch {
			case err != nil:
			case v.NewSource != nil:
				t.source, err = v.NewSource(tc)
				if err == nil {
					t.so = newSourceOut(t)
					if lr, ok := t.source.(LagReporter); ok {
						lags := slices.Clone(*v.lags.Load()) // readers may hold the old one
						lags[s] = lr
						v.lags.Store(&lags)
					}
				}
			case v.NewOperator != nil:
				t.op, err = v.NewOperator(tc)
			case v.NewSink != nil:
				t.sink, err = v.NewSink(tc)
			default:
				err = errors.New("vertex has no factory")
			}
			if err != nil {
				cancel(err)
				return &OperatorError{Vertex: v.Name, Subtask: s, Parallelism: v.Parallelism, Err: err}
			}
			attachStatus(tc, onStatus, t.source, t.op, t.sink)
			if ca, ok := t.sink.(ContextAware); ok {
				ca.SetContext(ctx)
			}
			runs = append(runs, func() {
				defer wg.Done()
				err := t.run()
				if errors.Is(err, errStopped) {
					ck.sinkStopped()
					return
				}
				if err != nil && !errors.Is(err, errCancelled) {
					name := v.Name
					var ce *chainError
					if errors.As(err, &ce) {
						name, err = ce.name, ce.err
					}
					fail(&OperatorError{Vertex: name, Subtask: s, Parallelism: v.Parallelism, Err: err})
				}
			})
		}
	}
	if spec.StateMemory > 0 {
		store, err := enableSpill(spec, tasks)
		if err != nil {
			cancel(err)
			return err
		}
		if store != nil {
			defer store.Close()
		}
	}
	var ckWG sync.WaitGroup
	ckCtx, ckCancel := context.WithCancel(ctx)
	defer ckCancel()
	if ck != nil {
		if err := ck.prepare(tasks); err != nil {
			cancel(err)
			return err
		}
		ck.start(ckCtx, &ckWG)
	}
	wg.Add(len(runs))
	for _, r := range runs {
		go r()
	}
	wg.Wait()
	ckCancel()
	ckWG.Wait()
	if firstErr != nil {
		return firstErr
	}
	var se *StoppedError
	if err := context.Cause(ctx); errors.As(err, &se) {
		return se
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// errCancelled marks a subtask that stopped because the job was cancelled.
var errCancelled = errors.New("cancelled")

// route delivers one output of one subtask along one edge.
type route struct {
	kind      EdgeKind
	keys      []int
	maxGroups int
	targets   []chan Message
	from      []int // channel index of this sender at each target
	next      int   // rebalance cursor
	parts     []*types.Batch
}

type emitter struct {
	ctx    context.Context
	routes []*route
	vertex *Vertex
	counts bool
}

func (e *emitter) send(ch chan Message, m Message) error {
	select {
	case ch <- m:
		return nil
	case <-e.ctx.Done():
		return errCancelled
	}
}

// Emit routes b along every edge of this output.
func (e *emitter) Emit(b *types.Batch) error {
	if b == nil || len(b.Rows) == 0 {
		return nil
	}
	if e.counts {
		e.vertex.RecordsOut.Add(int64(len(b.Rows)))
	}
	for ri, r := range e.routes {
		bb := b
		if ri < len(e.routes)-1 {
			// every consumer owns its batch: give the others a copy of the slices
			bb = &types.Batch{Rows: append([]types.Row(nil), b.Rows...)}
			if b.Kinds != nil {
				bb.Kinds = append([]types.RowKind(nil), b.Kinds...)
			}
		}
		if err := r.emit(e, bb); err != nil {
			return err
		}
	}
	return nil
}

func (r *route) emit(e *emitter, b *types.Batch) error {
	switch r.kind {
	case Forward:
		return e.send(r.targets[0], Message{Kind: MsgData, From: r.from[0], Batch: b})
	case Rebalance:
		i := r.next % len(r.targets)
		r.next++
		return e.send(r.targets[i], Message{Kind: MsgData, From: r.from[i], Batch: b})
	case Broadcast:
		for i, t := range r.targets {
			bb := b
			if i < len(r.targets)-1 {
				bb = &types.Batch{Rows: append([]types.Row(nil), b.Rows...)}
				if b.Kinds != nil {
					bb.Kinds = append([]types.RowKind(nil), b.Kinds...)
				}
			}
			if err := e.send(t, Message{Kind: MsgData, From: r.from[i], Batch: bb}); err != nil {
				return err
			}
		}
		return nil
	}
	n := len(r.targets)
	if n == 1 {
		return e.send(r.targets[0], Message{Kind: MsgData, From: r.from[0], Batch: b})
	}
	if r.parts == nil {
		r.parts = make([]*types.Batch, n)
	}
	for i := range r.parts {
		r.parts[i] = nil
	}
	per := len(b.Rows)/n + 8
	for i, row := range b.Rows {
		g := int(types.KeyHash(row, r.keys) % uint64(r.maxGroups))
		t := SubtaskForKeyGroup(r.maxGroups, n, g)
		p := r.parts[t]
		if p == nil {
			p = &types.Batch{Rows: make([]types.Row, 0, per)}
			r.parts[t] = p
		}
		p.Append(row, b.Kind(i))
	}
	for i, p := range r.parts {
		if p != nil {
			if err := e.send(r.targets[i], Message{Kind: MsgData, From: r.from[i], Batch: p}); err != nil {
				return err
			}
		}
	}
	return nil
}

// control sends a watermark or end marker to every target of every route.
func (e *emitter) control(m Message) error {
	for _, r := range e.routes {
		for i, t := range r.targets {
			m.From = r.from[i]
			if err := e.send(t, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// task is one subtask.
type task struct {
	ctx    context.Context
	v      *Vertex
	tc     *TaskContext
	io     *subtaskIO
	outs   []*emitter
	main   Emitter // outs[0] behind any chained operators
	source Source
	op     Operator
	sink   Sink

	// checkpointing (checkpointing.go); ck is nil when the job does not
	// checkpoint
	vertexIndex int
	ck          *ckptRun
	so          *sourceOut
	trig        chan uint64 // source: checkpoints to inject
	aligner     *Aligner
	opID        int // state operator id (vertex index + 1) of a Snapshotter
	lastSnap    uint64
	capture     *arenaMsg // a CopyOnWriteSnapshotter's capture being written
	commitSig   chan struct{}
	commitID    atomic.Uint64
	committed   uint64
	// wm is the watermark of a task with inputs: it starts from the
	// restored checkpoint's, so rows late before a restore are late after.
	wm int64
}

func (t *task) run() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (panic): %v", p)
		}
		if err != nil && t.sink != nil {
			if t.commitSig != nil && !errors.Is(err, errStopped) {
				// commit what completed before giving up on the rest
				if cerr := t.onCommitSignal(); cerr != nil && !errors.Is(cerr, errStopped) {
					err = errors.Join(err, cerr)
				}
			}
			t.sink.Abort()
		}
		if c, ok := t.op.(Closer); ok {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	if t.source != nil {
		return t.runSource()
	}
	return t.runInputs()
}

// broadcastControl sends m on every output.
func (t *task) broadcastControl(m Message) error {
	for _, o := range t.outs {
		if err := o.control(m); err != nil {
			return err
		}
	}
	return nil
}

func newSourceOut(t *task) *sourceOut {
	so := &sourceOut{t: t, cfg: t.v.Source, wm: MinWatermark}
	n := t.source.Splits()
	so.maxTs = make([]int64, n)
	so.done = make([]bool, n)
	so.idle = make([]bool, n)
	for i := range so.maxTs {
		so.maxTs[i] = MinWatermark
	}
	so.active = n
	return so
}

func (t *task) runSource() error {
	so := t.so
	if len(so.restoredMax) > 0 {
		// the restored watermark goes out before the first row, or rows
		// that were late before the restore would be taken as on time
		so.mu.Lock()
		err := so.advance()
		so.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := t.source.Run(t.ctx, so); err != nil {
		if t.ctx.Err() != nil {
			return errCancelled
		}
		return err
	}
	so.mu.Lock()
	so.ended = true
	err := t.broadcastControl(Message{Kind: MsgEnd})
	var pos []checkpoint.SourcePosition
	if t.ck != nil {
		pos = so.positions()
	}
	so.mu.Unlock()
	if err == nil && t.ck != nil {
		t.ck.finished(t.taskID(), checkpoint.AckInfo{SourcePositions: pos})
	}
	return err
}

// sourceOut implements SourceOutput: it forwards batches and derives the
// source's watermark as the minimum over its unfinished splits of
// (max event time seen − delay).
type sourceOut struct {
	t        *task
	cfg      SourceConfig
	maxTs    []int64
	done     []bool
	idle     []bool
	active   int
	wm       int64
	idleSent bool // downstream was told this subtask is idle

	// mu serialises the source goroutine's output with barrier injection
	// (injectLoop); names and pos are the splits' names and positions.
	mu    sync.Mutex
	names []string
	pos   []int64
	ended bool
	// restoredPos and restoredMax: the restored checkpoint's positions and
	// largest event times by split name (nil without a restore).
	restoredPos, restoredMax map[string]int64
}

func (s *sourceOut) Emit(split int, b *types.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emit(split, b)
}

// EmitAt implements PositionOutput.
func (s *sourceOut) EmitAt(split int, b *types.Batch, next int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.emit(split, b); err != nil {
		return err
	}
	if split < len(s.pos) {
		s.pos[split] = next
	}
	return nil
}

// SetPosition implements PositionOutput.
func (s *sourceOut) SetPosition(split int, next int64) {
	s.mu.Lock()
	if split < len(s.pos) {
		s.pos[split] = next
	}
	s.mu.Unlock()
}

// AddNamedSplit implements PositionOutput.
func (s *sourceOut) AddNamedSplit(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.addSplit()
	if s.names != nil {
		s.names = append(s.names, name)
		s.pos = append(s.pos, 0)
		s.restoreSplit(i, name)
	}
	return i
}

func (s *sourceOut) emit(split int, b *types.Batch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	s.idle[split] = false
	s.idleSent = false // the data itself tells receivers we are active again
	if s.cfg.RowtimeCol >= 0 {
		m := s.maxTs[split]
		c := s.cfg.RowtimeCol
		for _, r := range b.Rows {
			if v := r[c]; v.Kind != types.Null && v.I > m {
				m = v.I
			}
		}
		s.maxTs[split] = m
	}
	if err := s.t.main.Emit(b); err != nil {
		return err
	}
	return s.advance()
}

func (s *sourceOut) SplitDone(split int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done[split] {
		s.done[split] = true
		s.active--
	}
}

func (s *sourceOut) AddSplit() int { return s.AddNamedSplit(strconv.Itoa(len(s.maxTs))) }

func (s *sourceOut) addSplit() int {
	s.maxTs = append(s.maxTs, MinWatermark)
	s.done = append(s.done, false)
	s.idle = append(s.idle, false)
	s.active++
	return len(s.maxTs) - 1
}

// SplitIdle leaves the split out of the watermark until it emits again.
// Errors sending downstream surface at the source's next Emit.
func (s *sourceOut) SplitIdle(split int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[split] || s.idle[split] {
		return
	}
	s.idle[split] = true
	_ = s.advance()
}

func (s *sourceOut) advance() error {
	if s.cfg.RowtimeCol < 0 {
		return nil
	}
	wm := MaxWatermark
	busy := 0
	for i, m := range s.maxTs {
		if s.done[i] || s.idle[i] {
			continue
		}
		busy++
		if m == MinWatermark {
			return nil // a split with no data yet holds the watermark back
		}
		if m-s.cfg.Delay < wm {
			wm = m - s.cfg.Delay
		}
	}
	if busy == 0 && s.active > 0 {
		if s.idleSent {
			return nil
		}
		s.idleSent = true
		return s.t.broadcastControl(Message{Kind: MsgIdle})
	}
	if wm == MaxWatermark || wm <= s.wm {
		return nil
	}
	s.wm = wm
	s.t.setWatermark(wm)
	return s.t.broadcastControl(Message{Kind: MsgWatermark, Watermark: wm})
}

func (t *task) runInputs() error {
	n := t.io.nInputs
	wms := make([]int64, n)
	ended := make([]bool, n)
	idle := make([]bool, n)
	idleSent := false
	for i := range wms {
		wms[i] = MinWatermark
	}
	remaining := n
	out := t.main
	wh, _ := t.op.(WatermarkHandler)
	if t.wm != MinWatermark {
		t.setWatermark(t.wm)
	}
	if t.wm != MinWatermark && wh != nil {
		// windows up to it fired before the checkpoint: this fires none,
		// it tells the operator which rows are late
		if err := wh.OnWatermark(t.wm, out); err != nil {
			return err
		}
	}
	advance := func() error {
		m := MaxWatermark
		for i, w := range wms {
			if !ended[i] && !idle[i] && w < m {
				m = w
			}
		}
		if m <= t.wm || m == MaxWatermark && remaining > 0 {
			return nil // nothing new, or every live input is idle
		}
		t.wm = m
		t.setWatermark(m)
		if wh != nil {
			if err := wh.OnWatermark(m, out); err != nil {
				return err
			}
		}
		if m == MaxWatermark {
			return nil // end of stream follows
		}
		return t.broadcastControl(Message{Kind: MsgWatermark, Watermark: m})
	}
	var tick <-chan time.Time
	ticker, _ := t.op.(Ticker)
	if ticker != nil && ticker.TickInterval() > 0 {
		tk := time.NewTicker(ticker.TickInterval())
		defer tk.Stop()
		tick = tk.C
	}
	deliver := func(msg Message) error {
		if msg.Kind != MsgIdle {
			idle[msg.From] = false
			idleSent = false // our own data or watermark will tell receivers
		}
		switch msg.Kind {
		case MsgData:
			t.v.RecordsIn.Add(int64(len(msg.Batch.Rows)))
			if t.sink != nil {
				return t.sink.Write(msg.Batch)
			}
			return t.op.Process(t.io.inputOf[msg.From], msg.Batch, out)
		case MsgWatermark:
			if msg.Watermark > wms[msg.From] {
				wms[msg.From] = msg.Watermark
				return advance() // a sink's only shows in Vertex.Watermark
			}
		case MsgIdle:
			idle[msg.From] = true
			if t.sink == nil {
				if err := advance(); err != nil {
					return err
				}
				// pass idleness on when every live input is idle
				all := true
				for i := range idle {
					if !ended[i] && !idle[i] {
						all = false
					}
				}
				if all && !idleSent {
					idleSent = true
					return t.broadcastControl(Message{Kind: MsgIdle})
				}
			}
		case MsgBarrier:
			// only without checkpointing: nothing to align
		case MsgEnd:
			ended[msg.From] = true
			remaining--
			if t.sink == nil {
				return advance()
			}
		}
		return nil
	}
	// act carries out the aligner's actions (checkpointing only).
	act := func(acts []Action) error {
		for _, a := range acts {
			var err error
			switch a.Kind {
			case ActDeliver:
				err = deliver(a.Msg)
			case ActSnapshot:
				err = t.snapshot(a.Checkpoint, a.Aligned)
			case ActCancel:
				_ = t.ck.driver.Decline(a.Checkpoint, t.taskID(), "alignment "+a.Reason.String())
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	var (
		deadline   *time.Timer
		deadlineC  <-chan time.Time
		deadlineAt time.Time
	)
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for remaining > 0 {
		if t.aligner != nil {
			if d, ok := t.aligner.Deadline(); ok {
				if !d.Equal(deadlineAt) {
					deadlineAt = d
					if deadline == nil {
						deadline = time.NewTimer(time.Until(d) + time.Millisecond)
					} else {
						deadline.Reset(time.Until(d) + time.Millisecond)
					}
					deadlineC = deadline.C
				}
			} else {
				deadlineC = nil
			}
		}
		var drain <-chan struct{}
		if t.capture != nil {
			drain = closedChan // interleave writing the capture with input
		}
		var msg Message
		select {
		case msg = <-t.io.in:
		case <-drain:
			if err := t.continueCapture(captureSlice); err != nil {
				return err
			}
			continue
		case <-tick:
			if err := ticker.OnTick(out); err != nil {
				return err
			}
			continue
		case <-deadlineC:
			deadlineAt = time.Time{}
			if err := act(t.aligner.Tick(time.Now())); err != nil {
				return err
			}
			continue
		case <-t.commitSig:
			if err := t.onCommitSignal(); err != nil {
				return err
			}
			continue
		case <-t.ctx.Done():
			return errCancelled
		}
		var err error
		if t.aligner != nil {
			err = act(t.aligner.OnMessage(time.Now(), msg))
		} else {
			err = deliver(msg)
		}
		if err != nil {
			return err
		}
	}
	if t.sink != nil {
		if t.ck != nil {
			return t.finishSink()
		}
		return t.sink.Finish()
	}
	if wh != nil && t.wm != MaxWatermark {
		t.wm = MaxWatermark
		if err := wh.OnWatermark(MaxWatermark, out); err != nil {
			return err
		}
	}
	if f, ok := t.op.(Finisher); ok {
		if err := f.Finish(out); err != nil {
			return err
		}
	}
	if err := t.broadcastControl(Message{Kind: MsgEnd}); err != nil {
		return err
	}
	if t.ck != nil {
		return t.finishCheckpointing()
	}
	return nil
}

// chained runs a stateless operator inline on its producer's goroutine.
type chained struct {
	op   Operator
	next Emitter
	name string
}

func (c *chained) Emit(b *types.Batch) error {
	err := c.op.Process(0, b, c.next)
	if err == nil || errors.Is(err, errCancelled) {
		return err
	}
	var ce *chainError
	if errors.As(err, &ce) {
		return err // raised further down the chain, already named
	}
	return &chainError{name: c.name, err: err}
}

// chainError names the chained operator that failed; Run reports it in
// place of the hosting vertex.
type chainError struct {
	name string
	err  error
}

func (e *chainError) Error() string { return e.name + ": " + e.err.Error() }
func (e *chainError) Unwrap() error { return e.err }

// enableSpill opens the job's spill store and gives every Spiller subtask
// its space and share of spec.StateMemory; no store if there is none.
func enableSpill(spec *JobSpec, tasks []*task) (*state.SpillStore, error) {
	var sps []Spiller
	byVertex := map[*Vertex][]Spiller{}
	for _, t := range tasks {
		if s, ok := t.op.(Spiller); ok {
			sps = append(sps, s)
			byVertex[t.v] = append(byVertex[t.v], s)
		}
	}

	if len(sps) == 0 {
		return nil, nil
	}
	dir := spec.SpillDir
	if dir == "" {
		d, err := os.MkdirTemp("", "weir-spill-")
		if err != nil {
			return nil, fmt.Errorf("spill directory: %w", err)
		}
		dir = d
	}
	store, err := state.OpenSpill(dir)
	if err != nil {
		return nil, err
	}
	budget := max(spec.StateMemory/int64(len(sps)), 1)
	for _, s := range sps {
		s.EnableSpill(store.Space(), budget)
	}
	for v, s := range byVertex { // after EnableSpill: readers may call SpillStats
		v.spills.Store(&s)
	}
	return store, nil
}
