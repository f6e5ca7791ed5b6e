package exec

// Checkpointing in the runtime (DESIGN §6–7): who does what.
//
//   - The coordinator (checkpoint.Coordinator) runs on the driver goroutine.
//     Its Trigger creates the checkpoint directory and hands the id to every
//     source subtask's injector goroutine.
//   - A source injector takes the source's output lock (so it never cuts a
//     batch from the position recorded with it), copies the split positions
//     and emits Barrier(n) on every output, then acks with the positions.
//   - A subtask with inputs feeds every message through an Aligner. On
//     Snapshot(n): a Snapshotter operator captures its state for n (full
//     or incremental, as the trigger says) into an arena and forwards the
//     barrier; a CopyOnWriteSnapshotter only marks what belongs to n there
//     (the synchronous phase: no I/O, nothing per entry) and writes the
//     entries between later batches, after which the arena goes to the
//     state writer. A sink pre-commits and acks with its handle; other
//     operators ack at once. On Cancel(n) the subtask declines n.
//   - The state writer goroutine keeps every arena newer than the last
//     completed checkpoint. Once every stateful subtask's arena of n is in,
//     it writes them (state.WriteArenas) into the checkpoint directory: for
//     a full checkpoint the full captures of n, for an incremental one all
//     arenas since the parent, aborted checkpoints' included (the
//     asynchronous phase, on its own goroutine, a sequential write), and
//     acks for every stateful subtask and for the pseudo-task "state".
//     Badger is not on this path: restore rebuilds a Badger DB from the
//     chain and the operators read their key groups back from it. If the
//     arenas kept grow past maxKeptArenaBytes (checkpoints keep failing),
//     they are dropped and the coordinator is asked for a full checkpoint.
//     Arenas are reference counted; the chunks of one no checkpoint needs
//     any more are recycled for later captures (state.ChunkPool).
//   - On Complete the driver writes _metadata (with the plan fingerprint),
//     retains the newest checkpoints and signals the sinks, which Commit on
//     their own goroutine.
//   - A task that has finished (end of input) acks later checkpoints by
//     itself: a source with its final positions, a stateful operator with
//     a final full capture, used by every later checkpoint.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/checkpoint"
	"github.com/weirsql/weir/state"
)

// CheckpointConfig turns on checkpointing for a job (JobSpec.Checkpoint).
type CheckpointConfig struct {
	Mode    DeliveryMode
	Storage checkpoint.Storage
	// Coordinator settings; Tasks is filled in by Run.
	Coordinator checkpoint.Config
	// Retain is how many complete checkpoints are kept (default 3).
	Retain int
	// AlignTimeout and MaxHeld bound exactly-once alignment (defaults: the
	// checkpoint timeout, 1,000,000 rows). When one trips, the subtask
	// declines the checkpoint and releases what it held.
	AlignTimeout time.Duration
	MaxHeld      int
	// StateDir is an empty or absent directory where a restore rebuilds
	// the checkpoint's state in Badger for the operators to read back; it
	// is removed once they have. Empty: a temporary directory.
	StateDir string
	// Restore, if set, is the checkpoint or savepoint to resume from, as
	// Storage.Open or Storage.Latest return it (with its parent chain).
	Restore *checkpoint.Checkpoint
	// Fingerprint identifies the plan; a restore refuses a checkpoint taken
	// by a different plan.
	Fingerprint string
	// Clock drives the coordinator (nil: the wall clock).
	Clock checkpoint.Clock
	// Control, if set, is bound to the running job for savepoint requests.
	Control *CheckpointControl
	// OnEvent, if set, is told about completed and aborted checkpoints and
	// warnings. Called from the driver goroutine; must not block for long.
	OnEvent func(CheckpointEvent)
}

// CheckpointEvent reports what happened to a checkpoint.
type CheckpointEvent struct {
	Kind     string // "completed", "aborted", "warning"
	ID       uint64
	Dir      string
	Reason   string
	Metadata *checkpoint.Metadata
}

// CheckpointControl lets another goroutine ask a running job for savepoints.
type CheckpointControl struct {
	d atomic.Pointer[checkpoint.Driver]
}

// ErrNotCheckpointing is returned by CheckpointControl when no job runs.
var ErrNotCheckpointing = errors.New("the job is not running with checkpoints")

// Savepoint asks for a savepoint now.
func (c *CheckpointControl) Savepoint() error {
	if d := c.d.Load(); d != nil {
		return d.Savepoint()
	}
	return ErrNotCheckpointing
}

// StopWithSavepoint asks for a savepoint after which the job stops; Run then
// returns a *StoppedError.
func (c *CheckpointControl) StopWithSavepoint() error {
	if d := c.d.Load(); d != nil {
		return d.StopWithSavepoint()
	}
	return ErrNotCheckpointing
}

// StoppedError is returned by Run when the job stopped with a savepoint.
type StoppedError struct {
	SavepointID uint64
	Dir         string
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("stopped with savepoint %d at %s", e.SavepointID, e.Dir)
}

// RestoreError says why a job cannot resume from a checkpoint.
type RestoreError struct {
	Dir string
	Err error
}

func (e *RestoreError) Error() string { return fmt.Sprintf("restore from %s: %v", e.Dir, e.Err) }
func (e *RestoreError) Unwrap() error { return e.Err }

// stateTask is the pseudo-task that acks the asynchronous state snapshot.
var stateTask = checkpoint.TaskID{Vertex: "state", Subtask: 0}

// Properties stored in a checkpoint's metadata (Metadata.Job).
const (
	propPlan      = "plan"
	propKeyGroups = "max_key_groups"
	propMode      = "mode"
)

type arenaMsg struct {
	id          uint64
	task        checkpoint.TaskID
	ch          *state.Changes
	sync, align time.Duration
	full        bool // a full capture
	final       bool // the task finished: counts for every later checkpoint
	wm          *int64
}

type pendingState struct {
	got map[checkpoint.TaskID]arenaMsg // arenas received so far, by task; each holds a reference
}

func (p *pendingState) release() {
	for _, m := range p.got {
		m.ch.Release()
	}
}

// maxKeptArenaBytes bounds the arenas the state writer keeps while
// checkpoints fail to complete (a variable for tests).
var maxKeptArenaBytes = 512 << 20

// maxPooledChunkBytes bounds the free arena chunks a job keeps for its next
// captures (state.ChunkPool); arenaChunkSize is their size (variables for
// tests: small chunks make every test recycle them).
var (
	maxPooledChunkBytes = 256 << 20
	arenaChunkSize      = state.ChunkSize
)

// ckptRun is one job's checkpointing.
type ckptRun struct {
	cfg      *CheckpointConfig
	spec     *JobSpec
	storage  checkpoint.Storage
	driver   *checkpoint.Driver
	db       *state.DB
	stateDir string
	props    map[string]string
	fail     func(error)
	stop     func(err error)

	mu        sync.Mutex
	locs      map[uint64]checkpoint.Location
	triggers  map[uint64]checkpoint.Trigger
	done      map[checkpoint.TaskID]checkpoint.AckInfo // finished tasks: their ack
	lastAck   map[checkpoint.TaskID]uint64
	injectors []*sourceOut
	sinks     []*task
	spDir     string // directory of the newest completed savepoint
	stopErr   atomic.Pointer[StoppedError]
	nStopped  int
	firstID   uint64
	declineAs checkpoint.TaskID // a task of the coordinator's, for the runtime's own declines

	stateful []checkpoint.TaskID
	arenas   chan arenaMsg
	chunks   *state.ChunkPool // the arenas' chunks, recycled
	asyncWG  sync.WaitGroup
	// the state writer's own
	pend      map[uint64]*pendingState
	finals    map[checkpoint.TaskID]state.ArenaAt // finished tasks' last captures
	kept      map[checkpoint.TaskID][]state.ArenaAt
	keptBytes int
	dropped   uint64        // arenas up to this epoch were dropped unpersisted
	completed atomic.Uint64 // newest completed checkpoint

	// restore inputs, by vertex name
	positions map[string]map[string]int64
	maxTimes  map[string]map[string]int64 // source → split → max event time
	// watermarks: vertex → the watermark its subtasks resume from
	watermarks map[string]int64
	sinkHands  map[string][]SinkHandle // vertex → old subtask handles (index = old subtask)
}

func newCkptRun(spec *JobSpec) (*ckptRun, error) {
	cfg := spec.Checkpoint
	if cfg.Storage == nil {
		return nil, errors.New("checkpointing needs checkpoint storage")
	}
	if cfg.Retain <= 0 {
		cfg.Retain = 3
	}
	if cfg.AlignTimeout <= 0 {
		cfg.AlignTimeout = cfg.Coordinator.Timeout
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 1_000_000
	}
	if cfg.Clock == nil {
		cfg.Clock = checkpoint.RealClock{}
	}
	ck := &ckptRun{
		cfg: cfg, spec: spec, storage: cfg.Storage,
		locs: map[uint64]checkpoint.Location{}, triggers: map[uint64]checkpoint.Trigger{},
		done: map[checkpoint.TaskID]checkpoint.AckInfo{}, lastAck: map[checkpoint.TaskID]uint64{},
		pend: map[uint64]*pendingState{}, finals: map[checkpoint.TaskID]state.ArenaAt{},
		kept:   map[checkpoint.TaskID][]state.ArenaAt{},
		chunks: state.NewChunkPool(arenaChunkSize, maxPooledChunkBytes),
		props: map[string]string{
			propPlan:      cfg.Fingerprint,
			propKeyGroups: strconv.Itoa(spec.MaxKeyGroups),
			propMode:      cfg.Mode.String(),
		},
	}
	dir := cfg.StateDir
	if dir == "" {
		d, err := os.MkdirTemp("", "weir-state-")
		if err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		if err := os.Remove(d); err != nil { // state.Restore wants it absent or empty
			return nil, err
		}
		dir = d
	}
	ck.stateDir = dir
	if cfg.Restore != nil {
		if err := ck.loadRestore(); err != nil {
			return nil, &RestoreError{Dir: cfg.Restore.Dir, Err: err}
		}
		ck.completed.Store(cfg.Restore.Metadata.ID)
	}
	return ck, nil
}

// loadRestore checks the checkpoint against the job and rebuilds the state DB.
func (ck *ckptRun) loadRestore() error {
	cp := ck.cfg.Restore
	md := cp.Metadata
	if got := md.Job[propPlan]; got != ck.cfg.Fingerprint {
		return fmt.Errorf("the checkpoint was taken by a different query or plan (plan %q, this job %q); restore it with the same SQL and options, or start without --restore", short(got), short(ck.cfg.Fingerprint))
	}
	if got := md.Job[propKeyGroups]; got != strconv.Itoa(ck.spec.MaxKeyGroups) {
		return fmt.Errorf("the checkpoint uses %s key groups, this job %d; key groups are fixed when a job is first created", got, ck.spec.MaxKeyGroups)
	}
	ck.positions = map[string]map[string]int64{}
	ck.maxTimes = map[string]map[string]int64{}
	ck.watermarks = map[string]int64{}
	noWm := map[string]bool{}
	ck.sinkHands = map[string][]SinkHandle{}
	for _, tm := range md.Tasks {
		for _, p := range tm.SourcePositions {
			m := ck.positions[p.Source]
			if m == nil {
				m = map[string]int64{}
				ck.positions[p.Source] = m
				ck.maxTimes[p.Source] = map[string]int64{}
			}
			name := p.Split
			if name == "" {
				name = strconv.Itoa(int(p.Partition))
			}
			m[name] = p.Offset
			if p.MaxEventTime != nil {
				ck.maxTimes[p.Source][name] = *p.MaxEventTime
			}
		}
		v := tm.Task.Vertex
		// a vertex resumes from the least watermark of its old subtasks
		switch w := tm.Watermark; {
		case w == nil:
			noWm[v] = true
		case !noWm[v]:
			if old, ok := ck.watermarks[v]; !ok || *w < old {
				ck.watermarks[v] = *w
			}
		}
		if ck.isSinkVertex(v) {
			hs := ck.sinkHands[v]
			for len(hs) <= tm.Task.Subtask {
				hs = append(hs, SinkHandle{Subtask: len(hs)})
			}
			hs[tm.Task.Subtask].Data = tm.SinkHandle
			ck.sinkHands[v] = hs
		}
	}
	for v := range noWm {
		delete(ck.watermarks, v)
	}
	// The chain: parents (nearest first) reversed, then this one.
	var files []string
	for i := len(cp.Parents) - 1; i >= 0; i-- {
		files = append(files, stateFiles(cp.Parents[i])...)
	}
	files = append(files, stateFiles(*cp)...)
	if len(files) == 0 {
		return nil // a job without state
	}
	var readers []io.Reader
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			for _, r := range readers {
				r.(*os.File).Close()
			}
			return fmt.Errorf("state file: %w", err)
		}
		readers = append(readers, fh)
	}
	defer func() {
		for _, r := range readers {
			r.(*os.File).Close()
		}
	}()
	db, err := state.Restore(ck.stateDir, readers[0], readers[1:], nil)
	if err != nil {
		return err
	}
	ck.db = db
	return nil
}

// stateFiles lists the state files of one checkpoint (the state task's).
func stateFiles(cp checkpoint.Checkpoint) []string {
	var out []string
	for _, tm := range cp.Metadata.Tasks {
		if tm.Task == stateTask {
			for _, h := range tm.Handles {
				out = append(out, filepath.Join(cp.Dir, h.Path))
			}
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (ck *ckptRun) isSinkVertex(name string) bool {
	for _, v := range ck.spec.Vertices {
		if v.Name == name {
			return v.NewSink != nil
		}
	}
	return false
}

// sinksFile is the job file (checkpoint.JobFiles) recording the highest
// parallelism each sink vertex ever ran at.
const sinksFile = "sink-parallelism.json"

// padSinkHandles makes every sink subtask index the job ever ran, in any
// run, appear among the recovered handles (empty if the checkpoint has
// none for it), so that the sinks fence what those subtasks may have left
// open: a run at parallelism 3 that died before its first checkpoint left
// Kafka transactions under subtask 2's transactional id, which a restore
// at parallelism 2 must abort, or read_committed consumers stall until the
// broker times them out. The record is written before any subtask starts.
func (ck *ckptRun) padSinkHandles() {
	jf, ok := ck.storage.(checkpoint.JobFiles)
	if !ok {
		return
	}
	high := map[string]int{}
	b, err := jf.ReadJobFile(sinksFile)
	if err == nil && b != nil {
		err = json.Unmarshal(b, &high)
	}
	if err != nil {
		ck.event(CheckpointEvent{Kind: "warning", Reason: "sink parallelism record: " + err.Error()})
		high = map[string]int{}
	}
	changed := false
	for _, v := range ck.spec.Vertices {
		if v.NewSink != nil && v.Parallelism > high[v.Name] {
			high[v.Name] = v.Parallelism
			changed = true
		}
	}
	if changed {
		b, _ := json.Marshal(high)
		if err := jf.WriteJobFile(sinksFile, b); err != nil {
			ck.event(CheckpointEvent{Kind: "warning", Reason: "sink parallelism record: " + err.Error()})
		}
	}
	if ck.sinkHands == nil {
		ck.sinkHands = map[string][]SinkHandle{}
	}
	for name, n := range high {
		hs := ck.sinkHands[name]
		for len(hs) < n {
			hs = append(hs, SinkHandle{Subtask: len(hs)})
		}
		ck.sinkHands[name] = hs
	}
}

// prepare wires the created tasks: restore hooks, sink recovery and the task
// list. Called on Run's goroutine before any subtask starts.
func (ck *ckptRun) prepare(tasks []*task) error {
	ck.padSinkHandles()
	var ids []checkpoint.TaskID
	for _, t := range tasks {
		id := t.taskID()
		ids = append(ids, id)
		t.ck = ck
		if w, ok := ck.watermarks[t.v.Name]; ok && t.source == nil {
			t.wm = w
		}
		switch {
		case t.source != nil:
			r, ok := t.source.(Resumable)
			if !ok {
				return fmt.Errorf("%s: this source cannot resume from a checkpoint; run the job without checkpoints", t.v.Name)
			}
			names := r.SplitNames()
			if len(names) != t.source.Splits() {
				return fmt.Errorf("%s: source names %d splits, has %d", t.v.Name, len(names), t.source.Splits())
			}
			if ck.cfg.Restore != nil {
				if err := r.Resume(ck.positions[t.v.Name]); err != nil {
					return &RestoreError{Dir: ck.cfg.Restore.Dir, Err: fmt.Errorf("%s: %w", t.v.Name, err)}
				}
			}
			t.so.names = names
			t.so.pos = make([]int64, len(names))
			t.so.restoredPos = ck.positions[t.v.Name]
			t.so.restoredMax = ck.maxTimes[t.v.Name]
			for i, n := range names {
				t.so.restoreSplit(i, n)
			}
			t.trig = make(chan uint64, 8)
			ck.injectors = append(ck.injectors, t.so)
		case t.sink != nil:
			tp, ok := t.sink.(TwoPhaseSink)
			if !ok {
				ck.event(CheckpointEvent{Kind: "warning", Reason: fmt.Sprintf("%s does not take part in checkpoints: its output is not exactly-once after a restore", t.v.Name)})
				break
			}
			var rec []SinkHandle
			for _, h := range ck.sinkHands[t.v.Name] {
				if h.Subtask%t.tc.Parallelism == t.tc.Subtask {
					rec = append(rec, h)
				}
			}
			if err := tp.StartCheckpointing(ck.cfg.Mode, rec); err != nil {
				return fmt.Errorf("%s: %w", t.v.Name, err)
			}
			t.commitSig = make(chan struct{}, 1)
			ck.sinks = append(ck.sinks, t)
		case t.op != nil:
			if _, ok := t.op.(Snapshotter); ok {
				ck.stateful = append(ck.stateful, id)
				t.opID = t.stateID()
			}
			if cow, ok := t.op.(CopyOnWriteSnapshotter); ok {
				cow.TrackChanges()
			}
			if r, ok := t.op.(Restorer); ok && ck.db != nil {
				op, first, last := uint32(t.stateID()), uint16(t.tc.FirstGroup), uint16(t.tc.LastGroup)
				err := r.RestoreState(func(fn func(kg uint16, key, ns, value []byte) error) error {
					return ck.db.ScanOperator(op, first, last, fn)
				})
				if err != nil {
					return &RestoreError{Dir: ck.cfg.Restore.Dir, Err: fmt.Errorf("%s (subtask %d): %w", t.v.Name, t.tc.Subtask+1, err)}
				}
			}
		}
		if t.source == nil {
			a, err := NewAligner(AlignerConfig{Inputs: max(1, t.io.nInputs), Mode: ck.cfg.Mode,
				Timeout: ck.cfg.AlignTimeout, MaxHeld: ck.cfg.MaxHeld})
			if err != nil {
				return err
			}
			t.aligner = a
		}
	}
	if ck.db != nil {
		// the operators hold the restored state now
		err := ck.db.Close()
		ck.db = nil
		_ = os.RemoveAll(ck.stateDir)
		if err != nil {
			return &RestoreError{Dir: ck.cfg.Restore.Dir, Err: err}
		}
	}
	if len(ck.stateful) > 0 {
		ids = append(ids, stateTask)
	}
	ck.arenas = make(chan arenaMsg, 4*len(ck.stateful)+4)
	cc := ck.cfg.Coordinator
	cc.Tasks = ids
	first := uint64(1)
	if ck.cfg.Restore != nil {
		first = ck.cfg.Restore.Metadata.ID + 1
	}
	// ids go on past every checkpoint and savepoint the storage holds (a
	// fresh start in a used directory, or a restore of an older one),
	// never reusing a directory name
	if ents, err := ck.storage.List(); err == nil {
		for _, e := range ents {
			first = max(first, e.ID+1)
		}
	}
	ck.firstID = first
	ck.declineAs = ids[0]
	if len(ck.stateful) > 0 {
		ck.declineAs = stateTask
	}
	coord, err := checkpoint.NewCoordinatorFrom(cc, ck.cfg.Clock.Now(), first)
	if err != nil {
		return err
	}
	tick := min(cc.Interval, cc.Timeout) / 10
	tick = max(tick, time.Millisecond)
	ck.driver = checkpoint.NewDriver(coord, ck.cfg.Clock, tick, checkpoint.Callbacks{
		OnTrigger:  ck.onTrigger,
		OnComplete: ck.onComplete,
		OnAbort:    ck.onAbort,
		OnStop:     ck.onStop,
	})
	if ck.cfg.Control != nil {
		ck.cfg.Control.d.Store(ck.driver)
	}
	if _, err := ck.storage.CleanupIncomplete(); err != nil {
		ck.event(CheckpointEvent{Kind: "warning", Reason: "cleaning up incomplete checkpoints: " + err.Error()})
	}
	return nil
}

// start runs the driver and the state writer; they stop when ctx ends.
func (ck *ckptRun) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(2)
	go func() {
		defer wg.Done()
		err := ck.driver.Run(ctx)
		var fe *checkpoint.FailError
		if errors.As(err, &fe) {
			ck.fail(fmt.Errorf("checkpointing: %s", fe.Reason))
		} else if err != nil && ctx.Err() == nil {
			ck.fail(fmt.Errorf("checkpointing: %w", err))
		}
	}()
	go func() {
		defer wg.Done()
		ck.stateWriter(ctx)
	}()
	for _, t := range ck.injectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.injectLoop(ctx)
		}()
	}
}

// close releases the state DB and directory after every goroutine stopped.
func (ck *ckptRun) close() {
	ck.asyncWG.Wait()
	if ck.driver != nil {
		// what was in flight will never complete
		_, _ = ck.storage.CleanupIncomplete()
	}
	if ck.cfg.Control != nil {
		ck.cfg.Control.d.Store(nil)
	}
	if ck.db != nil {
		_ = ck.db.Close()
	}
	_ = os.RemoveAll(ck.stateDir)
}

func (ck *ckptRun) event(e CheckpointEvent) {
	if ck.cfg.OnEvent != nil {
		ck.cfg.OnEvent(e)
	}
}

func (ck *ckptRun) onTrigger(t checkpoint.Trigger) {
	loc, err := ck.storage.Create(t.ID, t.Kind, t.Time)
	if err != nil {
		_ = ck.driver.Decline(t.ID, ck.declineAs, err.Error())
		return
	}
	ck.mu.Lock()
	ck.locs[t.ID] = loc
	ck.triggers[t.ID] = t
	for id, info := range ck.done {
		ck.ackLocked(t.ID, id, info)
	}
	injectors := ck.injectors
	ck.mu.Unlock()
	for _, so := range injectors {
		select {
		case so.t.trig <- t.ID:
		default:
			_ = ck.driver.Decline(t.ID, so.t.taskID(), "source busy with earlier barriers")
		}
	}
	ck.arenas <- arenaMsg{id: t.ID} // tells the state writer about the trigger
}

func (ck *ckptRun) ackLocked(id uint64, task checkpoint.TaskID, info checkpoint.AckInfo) {
	if ck.lastAck[task] >= id {
		return
	}
	ck.lastAck[task] = id
	_ = ck.driver.Ack(id, task, info)
}

func (ck *ckptRun) ack(id uint64, task checkpoint.TaskID, info checkpoint.AckInfo) {
	ck.mu.Lock()
	ck.ackLocked(id, task, info)
	ck.mu.Unlock()
}

// finished records that a task ended: it acks every pending and later
// checkpoint with info (stateful operators go through the state writer).
func (ck *ckptRun) finished(task checkpoint.TaskID, info checkpoint.AckInfo) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.done[task] = info
	for id := range ck.triggers {
		ck.ackLocked(id, task, info)
	}
}

func (ck *ckptRun) onComplete(c checkpoint.Complete) error {
	ck.mu.Lock()
	loc, ok := ck.locs[c.ID]
	ck.mu.Unlock()
	if !ok {
		return fmt.Errorf("checkpoint %d: no directory", c.ID)
	}
	md := c.Metadata
	md.Job = ck.props
	if err := ck.storage.Commit(loc, md); err != nil {
		ck.event(CheckpointEvent{Kind: "aborted", ID: c.ID, Dir: loc.Dir, Reason: err.Error()})
		return err
	}
	if md.Kind == checkpoint.KindCheckpoint {
		ck.completed.Store(c.ID)
	}
	ck.mu.Lock()
	if md.Kind == checkpoint.KindSavepoint {
		ck.spDir = loc.Dir
	}
	for id := range ck.triggers {
		if id <= c.ID {
			delete(ck.triggers, id)
			delete(ck.locs, id)
		}
	}
	sinks := ck.sinks
	ck.mu.Unlock()
	for _, t := range sinks {
		t.signalCommit(c.ID)
	}
	if md.Kind == checkpoint.KindCheckpoint {
		if _, err := ck.storage.Retain(ck.cfg.Retain, c.InUse...); err != nil {
			ck.event(CheckpointEvent{Kind: "warning", ID: c.ID, Reason: "removing old checkpoints: " + err.Error()})
		}
	}
	ck.event(CheckpointEvent{Kind: "completed", ID: c.ID, Dir: loc.Dir, Metadata: &md})
	return nil
}

func (ck *ckptRun) onAbort(a checkpoint.Abort) {
	ck.mu.Lock()
	loc, ok := ck.locs[a.ID]
	delete(ck.locs, a.ID)
	delete(ck.triggers, a.ID)
	ck.mu.Unlock()
	if ok {
		// the async phase may still be writing into it; it fails harmlessly
		_ = ck.storage.Discard(loc)
	}
	ck.event(CheckpointEvent{Kind: "aborted", ID: a.ID, Dir: loc.Dir, Reason: a.Reason})
}

// onStop: the stop-with-savepoint completed. Sinks stop after committing it;
// if there is none the job stops now.
func (ck *ckptRun) onStop(s checkpoint.Stop) {
	ck.mu.Lock()
	sinks := ck.sinks
	serr := &StoppedError{SavepointID: s.SavepointID, Dir: ck.spDir} // Stop follows its savepoint's Complete
	ck.mu.Unlock()
	if len(sinks) == 0 {
		ck.stop(serr)
		return
	}
	ck.stopErr.Store(serr)
	for _, t := range sinks {
		t.signalCommit(s.SavepointID)
	}
}

// stateWriter keeps arenas and starts the asynchronous snapshots.
//
// Arenas are reference counted (state.ChunkPool): a task hands its
// reference to the state writer, which keeps it while the arena is in
// kept; an arena also held by a pending checkpoint (pendingState.got), as
// a finished task's final capture (finals, never released) or by an
// asynchronous write has a reference for each. The last release recycles
// its chunks for later captures.
func (ck *ckptRun) stateWriter(ctx context.Context) {
	for {
		var m arenaMsg
		select {
		case m = <-ck.arenas:
		case <-ctx.Done():
			return
		}
		if m.ch == nil && !m.final {
			ck.pending(m.id) // a trigger
			ck.maybeSnapshot(ctx, m.id)
			continue
		}
		ck.prune()
		a := state.ArenaAt{Epoch: m.id, Changes: m.ch}
		if m.final {
			m.ch.Retain()
			ck.finals[m.task] = a
		}
		ck.kept[m.task] = append(ck.kept[m.task], a)
		ck.keptBytes += m.ch.Size()
		m.ch.Retain()
		p := ck.pending(m.id)
		if old, ok := p.got[m.task]; ok {
			old.ch.Release()
		}
		p.got[m.task] = m
		ck.maybeSnapshot(ctx, m.id)
		if ck.keptBytes > maxKeptArenaBytes {
			// Checkpoints keep failing: rather than hold every change
			// since the last one that completed, drop them and have the
			// next checkpoints be full.
			ck.dropped = m.id
			for _, as := range ck.kept {
				for _, a := range as {
					a.Changes.Release()
				}
			}
			clear(ck.kept)
			ck.keptBytes = 0
			_ = ck.driver.RequireFull()
			ck.event(CheckpointEvent{Kind: "warning", ID: m.id, Reason: fmt.Sprintf("more than %d MiB of state changes since the last completed checkpoint; the next checkpoint will be full", maxKeptArenaBytes>>20)})
		}
	}
}

// prune forgets arenas no checkpoint can need: those of epochs up to the
// last completed checkpoint and up to the parent of every pending one.
func (ck *ckptRun) prune() {
	upTo := ck.completed.Load()
	ck.mu.Lock()
	for id, t := range ck.triggers {
		if t.Full {
			upTo = min(upTo, id-1)
		} else {
			upTo = min(upTo, t.Parent)
		}
	}
	ck.mu.Unlock()
	for task, as := range ck.kept {
		i := 0
		for i < len(as) && as[i].Epoch <= upTo {
			ck.keptBytes -= as[i].Changes.Size()
			as[i].Changes.Release()
			i++
		}
		if i > 0 {
			clear(as[:i])
			ck.kept[task] = as[i:]
		}
	}
}

func (ck *ckptRun) pending(id uint64) *pendingState {
	p := ck.pend[id]
	if p == nil {
		p = &pendingState{got: map[checkpoint.TaskID]arenaMsg{}}
		ck.pend[id] = p
	}
	return p
}

// maybeSnapshot starts the asynchronous phase of checkpoint id once every
// stateful subtask's arena of id (or its final one) is in.
func (ck *ckptRun) maybeSnapshot(ctx context.Context, id uint64) {
	if len(ck.stateful) == 0 {
		return
	}
	p := ck.pend[id]
	if p == nil {
		return
	}
	for _, t := range ck.stateful {
		if _, ok := p.got[t]; !ok {
			if _, fin := ck.finals[t]; !fin {
				return
			}
		}
	}
	var done []*pendingState
	for old, q := range ck.pend {
		if old <= id {
			delete(ck.pend, old)
			done = append(done, q)
		}
	}
	defer func() { // once the write below holds its own references
		for _, q := range done {
			q.release()
		}
	}()
	ck.mu.Lock()
	trig, ok := ck.triggers[id]
	loc := ck.locs[id]
	ck.mu.Unlock()
	if !ok {
		return // aborted: its arenas stay for the next delta
	}
	since := trig.Parent
	if trig.Full {
		since = 0
	}
	parts, err := ck.parts(id, since, p)
	if err != nil {
		_ = ck.driver.Decline(id, stateTask, err.Error())
		return
	}
	got := p.got
	for _, a := range parts {
		a.Changes.Retain()
	}
	ck.asyncWG.Add(1)
	go func() {
		defer ck.asyncWG.Done()
		start := time.Now()
		src := &snapshotSource{write: func(w io.Writer) (int64, error) {
			st, err := state.WriteArenas(w, id, since, parts)
			return st.Bytes, err
		}}
		name := "state-" + strconv.FormatUint(id, 10)
		if since == 0 {
			name += ".full"
		} else {
			name += ".delta"
		}
		h, err := ck.storage.WriteFile(loc, name, src)
		// Nothing reads the arenas once close returns.
		src.close()
		for _, a := range parts {
			a.Changes.Release()
		}
		if err != nil {
			if ctx.Err() == nil {
				_ = ck.driver.Decline(id, stateTask, "writing state: "+err.Error())
			}
			return
		}
		async := time.Since(start)
		for _, t := range ck.stateful {
			m := got[t]
			ck.ack(id, t, checkpoint.AckInfo{SyncDur: m.sync, AlignDur: m.align, AsyncDur: async, Watermark: m.wm})
		}
		ck.ack(id, stateTask, checkpoint.AckInfo{AsyncDur: async, Bytes: h.Size, Handles: []checkpoint.StateHandle{h}})
	}()
}

// snapshotSource hands a snapshot to Storage.WriteFile as a reader. A
// storage that copies it with io.Copy gets WriteTo, which writes the
// arenas' chunks straight into its writer (for DirStorage the file: no
// copy, no goroutine); Read runs the write on a goroutine through a pipe.
// close waits for that goroutine.
type snapshotSource struct {
	write    func(io.Writer) (int64, error)
	pr       *io.PipeReader
	streamed chan struct{}
	used     bool
}

func (s *snapshotSource) WriteTo(w io.Writer) (int64, error) {
	if s.used {
		return 0, errors.New("state snapshot: read twice")
	}
	s.used = true
	return s.write(w)
}

func (s *snapshotSource) Read(p []byte) (int, error) {
	if s.pr == nil {
		if s.used {
			return 0, errors.New("state snapshot: read twice")
		}
		s.used = true
		pr, pw := io.Pipe()
		s.pr, s.streamed = pr, make(chan struct{})
		go func() {
			defer close(s.streamed)
			_, err := s.write(pw)
			pw.CloseWithError(err)
		}()
	}
	return s.pr.Read(p)
}

func (s *snapshotSource) close() {
	if s.pr != nil {
		// the writer stops once its writes fail
		s.pr.CloseWithError(errors.New("done"))
		<-s.streamed
	}
}

// parts lists the arenas checkpoint id writes: for a full one (since 0)
// every subtask's full capture of id, or its final one; for an incremental
// one every arena after since.
func (ck *ckptRun) parts(id, since uint64, p *pendingState) ([]state.ArenaAt, error) {
	if since > 0 && since < ck.dropped {
		return nil, fmt.Errorf("the changes since checkpoint %d were dropped; waiting for a full checkpoint", since)
	}
	var parts []state.ArenaAt
	for _, t := range ck.stateful {
		if since == 0 {
			if m, ok := p.got[t]; ok {
				if !m.full {
					return nil, fmt.Errorf("%s: the capture of full checkpoint %d is incremental", t, id)
				}
				parts = append(parts, state.ArenaAt{Epoch: id, Changes: m.ch})
			} else {
				parts = append(parts, ck.finals[t])
			}
			continue
		}
		for _, a := range ck.kept[t] {
			if a.Epoch > since && a.Epoch <= id {
				parts = append(parts, a)
			}
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].Epoch < parts[j].Epoch })
	return parts, nil
}

// ---- per-task parts ----

func (t *task) stateID() int {
	if t.v.StateID > 0 {
		return t.v.StateID
	}
	return t.vertexIndex + 1
}

func (t *task) taskID() checkpoint.TaskID {
	return checkpoint.TaskID{Vertex: t.v.Name, Subtask: t.tc.Subtask}
}

func (t *task) signalCommit(id uint64) {
	for {
		cur := t.commitID.Load()
		if id <= cur || t.commitID.CompareAndSwap(cur, id) {
			break
		}
	}
	select {
	case t.commitSig <- struct{}{}:
	default:
	}
}

// onCommitSignal commits a two-phase sink up to the newest completed id,
// and ends it once it has committed the stop savepoint, whichever of the
// commit signal and the stop came first.
func (t *task) onCommitSignal() error {
	if id := t.commitID.Load(); id > t.committed {
		t.committed = id
		if err := t.sink.(TwoPhaseSink).Commit(id); err != nil {
			return fmt.Errorf("committing checkpoint %d: %w", id, err)
		}
	}
	if se := t.ck.stopErr.Load(); se != nil && t.committed >= se.SavepointID {
		return errStopped
	}
	return nil
}

// finishSink ends a sink subtask of a checkpointing job at the end of its
// input. In exactly-once mode its last rows are not committed on their
// own: a crash after that, before the whole job ends, would restore an
// earlier checkpoint and write them again. They are pre-committed as part
// of the next checkpoint instead (the sink acks that one and every later
// one with the handle, by itself), a checkpoint is triggered at once, and
// the sink commits when one completes, then finishes (Flink's final
// checkpoint).
func (t *task) finishSink() error {
	ck := t.ck
	tp, ok := t.sink.(TwoPhaseSink)
	if !ok || ck.cfg.Mode != DeliveryExactlyOnce {
		if err := t.sink.Finish(); err != nil {
			return err
		}
		ck.finished(t.taskID(), checkpoint.AckInfo{})
		return nil
	}
	if err := t.onCommitSignal(); err != nil {
		return err
	}
	id := max(t.lastSnap+1, ck.firstID)
	h, err := tp.PreCommit(id)
	if err != nil {
		return fmt.Errorf("pre-commit of the last rows: %w", err)
	}
	ck.finished(t.taskID(), checkpoint.AckInfo{SinkHandle: h})
	_ = ck.driver.TriggerNow()
	for t.committed < id {
		select {
		case <-t.commitSig:
			if err := t.onCommitSignal(); err != nil {
				return err
			}
		case <-t.ctx.Done():
			return errCancelled
		}
	}
	return t.sink.Finish()
}

// sinkStopped counts sinks that committed the stop savepoint; the job stops
// when all have.
func (ck *ckptRun) sinkStopped() {
	ck.mu.Lock()
	ck.nStopped++
	all := ck.nStopped == len(ck.sinks)
	ck.mu.Unlock()
	if all {
		ck.stop(ck.stopErr.Load())
	}
}

// errStopped ends a sink after it committed the stop savepoint.
var errStopped = errors.New("stopped with savepoint")

// snapshot is the synchronous phase of checkpoint id in a subtask with
// inputs, run when its aligner reports alignment.
func (t *task) snapshot(id uint64, aligned time.Duration) error {
	ck := t.ck
	start := time.Now()
	t.lastSnap = id
	switch {
	case t.sink != nil:
		var h []byte
		if tp, ok := t.sink.(TwoPhaseSink); ok {
			// A completed checkpoint's commit reaches the sink before the
			// next pre-commit, so that the sink has released what it holds
			// for it (Kafka: a transactional id of its small pool). The
			// completion signal is stored before the next checkpoint is
			// triggered, so it is seen here. Correctness does not depend
			// on it: a savepoint, or MaxConcurrent > 1, can pre-commit
			// before an earlier checkpoint's commit, and a sink must keep
			// each checkpoint's output apart (TwoPhaseSink).
			if err := t.onCommitSignal(); err != nil {
				return err
			}
			var err error
			if h, err = tp.PreCommit(id); err != nil {
				return fmt.Errorf("pre-commit of checkpoint %d: %w", id, err)
			}
		}
		ck.ack(id, t.taskID(), checkpoint.AckInfo{SyncDur: time.Since(start), AlignDur: aligned, SinkHandle: h})
		return nil
	case t.opID != 0:
		if err := t.continueCapture(0); err != nil {
			return err
		}
		ck.mu.Lock()
		full := ck.triggers[id].Full
		ck.mu.Unlock()
		// The arena grows by chunks as the capture is written, taken
		// from the chunks of arenas no checkpoint needs any more.
		ch := ck.chunks.NewChanges(uint32(t.opID))
		cow, _ := t.op.(CopyOnWriteSnapshotter)
		var err error
		switch {
		case cow != nil:
			err = cow.CaptureState(id, full, ch)
		case full:
			return fmt.Errorf("%s: full checkpoint %d: the operator only takes incremental snapshots", t.v.Name, id)
		default:
			err = t.op.(Snapshotter).SnapshotState(id, ch)
		}
		if err != nil {
			return fmt.Errorf("snapshot of checkpoint %d: %w", id, err)
		}
		m := &arenaMsg{id: id, task: t.taskID(), ch: ch, sync: time.Since(start), align: aligned, full: full, wm: t.watermark()}
		if err := t.broadcastControl(Message{Kind: MsgBarrier, Barrier: id}); err != nil {
			return err
		}
		t.capture = m
		if cow == nil {
			return t.continueCapture(0)
		}
		return nil
	}
	if err := t.broadcastControl(Message{Kind: MsgBarrier, Barrier: id}); err != nil {
		return err
	}
	ck.ack(id, t.taskID(), checkpoint.AckInfo{AlignDur: aligned, SyncDur: time.Since(start), Watermark: t.watermark()})
	return nil
}

// watermark is the task's watermark for its checkpoint metadata.
func (t *task) watermark() *int64 {
	if t.wm == MinWatermark {
		return nil
	}
	w := t.wm
	return &w
}

// captureSlice is how many captured entries a CopyOnWriteSnapshotter
// writes between two input messages: about 0.1 ms of work.
const captureSlice = 4096

// closedChan is always ready.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// continueCapture writes up to budget more entries of the open capture
// (all when budget <= 0) and hands the arena to the state writer once it
// is complete.
func (t *task) continueCapture(budget int) error {
	m := t.capture
	if m == nil {
		return nil
	}
	if cow, ok := t.op.(CopyOnWriteSnapshotter); ok {
		done, err := cow.ContinueSnapshot(budget)
		if err != nil {
			return fmt.Errorf("snapshot of checkpoint %d: %w", m.id, err)
		}
		if !done {
			return nil
		}
	}
	t.capture = nil
	select {
	case t.ck.arenas <- *m:
		return nil
	case <-t.ctx.Done():
		return errCancelled
	}
}

// finish is called when a subtask with inputs ended normally.
func (t *task) finishCheckpointing() error {
	ck := t.ck
	if err := t.continueCapture(0); err != nil {
		return err
	}
	if t.opID != 0 {
		// A full capture: later full checkpoints include it as it is.
		ch := ck.chunks.NewChanges(uint32(t.opID))
		cow, ok := t.op.(CopyOnWriteSnapshotter)
		if !ok {
			return fmt.Errorf("%s: the operator cannot take a full snapshot", t.v.Name)
		}
		if err := cow.CaptureState(0, true, ch); err != nil {
			return err
		}
		if _, err := cow.ContinueSnapshot(0); err != nil {
			return err
		}
		// The first checkpoint this task did not snapshot sees it finished:
		// the final arena belongs to that epoch and every later one.
		id := max(t.lastSnap+1, ck.firstID)
		select {
		case ck.arenas <- arenaMsg{id: id, task: t.taskID(), ch: ch, full: true, final: true, wm: t.watermark()}:
		case <-t.ctx.Done():
			return errCancelled
		}
		return nil
	}
	ck.finished(t.taskID(), checkpoint.AckInfo{Watermark: t.watermark()})
	return nil
}

// sourcePositions lists the split positions of a source subtask.
// restoreSplit starts split i (named n) where the restored checkpoint left
// it: its position, so that a split emitting nothing before the next
// barrier still records where it resumed (not 0), and its largest event
// time, so that the watermark resumes where it was.
func (s *sourceOut) restoreSplit(i int, n string) {
	if p, ok := s.restoredPos[n]; ok {
		s.pos[i] = p
	}
	if m, ok := s.restoredMax[n]; ok {
		s.maxTs[i] = m
	}
}

func (s *sourceOut) positions() []checkpoint.SourcePosition {
	out := make([]checkpoint.SourcePosition, len(s.names))
	for i, n := range s.names {
		out[i] = checkpoint.SourcePosition{Source: s.t.v.Name, Split: n, Offset: s.pos[i]}
		if m := s.maxTs[i]; m != MinWatermark {
			out[i].MaxEventTime = &m
		}
		if p, err := strconv.ParseInt(n, 10, 32); err == nil {
			out[i].Partition = int32(p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Split < out[j].Split })
	return out
}

// injectLoop emits a barrier for each triggered checkpoint.
func (s *sourceOut) injectLoop(ctx context.Context) {
	t := s.t
	for {
		var id uint64
		select {
		case id = <-t.trig:
		case <-ctx.Done():
			return
		}
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			continue // finished() acks for it
		}
		start := time.Now()
		pos := s.positions()
		err := t.broadcastControl(Message{Kind: MsgBarrier, Barrier: id})
		s.mu.Unlock()
		if err != nil {
			return
		}
		t.ck.ack(id, t.taskID(), checkpoint.AckInfo{SyncDur: time.Since(start), SourcePositions: pos})
	}
}
