package checkpoint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind tells a periodic checkpoint from a savepoint.
type Kind int

const (
	// KindCheckpoint is a periodic checkpoint: full or incremental, retained
	// only while it is among the newest N (or a retained one depends on it).
	KindCheckpoint Kind = iota
	// KindSavepoint is a checkpoint a person asked for: always full,
	// self-contained, never deleted automatically.
	KindSavepoint
)

func (k Kind) String() string {
	switch k {
	case KindCheckpoint:
		return "checkpoint"
	case KindSavepoint:
		return "savepoint"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as "checkpoint" or "savepoint".
func (k Kind) MarshalText() ([]byte, error) {
	if k != KindCheckpoint && k != KindSavepoint {
		return nil, fmt.Errorf("checkpoint: unknown kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText is the inverse of MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "checkpoint":
		*k = KindCheckpoint
	case "savepoint":
		*k = KindSavepoint
	default:
		return fmt.Errorf("checkpoint: unknown kind %q", b)
	}
	return nil
}

// TaskID names one subtask that must acknowledge every checkpoint: a vertex
// of the physical DAG and a subtask index. Its text form is "vertex/subtask".
type TaskID struct {
	Vertex  string
	Subtask int
}

func (t TaskID) String() string { return t.Vertex + "/" + strconv.Itoa(t.Subtask) }

// MarshalText encodes the task as "vertex/subtask".
func (t TaskID) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses "vertex/subtask".
func (t *TaskID) UnmarshalText(b []byte) error {
	p, err := ParseTaskID(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// ParseTaskID parses "vertex/subtask" (the vertex may itself contain '/';
// the subtask is after the last one).
func ParseTaskID(s string) (TaskID, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return TaskID{}, fmt.Errorf("checkpoint: task %q is not vertex/subtask", s)
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return TaskID{}, fmt.Errorf("checkpoint: task %q has a bad subtask index", s)
	}
	return TaskID{Vertex: s[:i], Subtask: n}, nil
}

func compareTask(a, b TaskID) int {
	if c := strings.Compare(a.Vertex, b.Vertex); c != 0 {
		return c
	}
	return a.Subtask - b.Subtask
}

// StateHandle names one file of a checkpoint. Path is relative to the
// checkpoint's own directory (never absolute, never "..") so a savepoint
// directory can be moved; Size is checked on restore.
type StateHandle struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// SourcePosition is where a source subtask stood when it emitted the barrier:
// for Kafka the next offset of one partition, for a file its byte offset, for
// the generator its sequence number (Partition 0).
type SourcePosition struct {
	Source    string `json:"source"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Split names the split when it is not a partition number (a file
	// path, a generator stream); empty otherwise.
	Split string `json:"split,omitempty"`
	// MaxEventTime is the largest event time the split had read (its
	// watermark is this minus the source's delay); absent when it had read
	// no row with one. A restore starts the split's watermark from it, so
	// rows that were late before a crash are late after it too.
	MaxEventTime *int64 `json:"max_event_time,omitempty"`
}

// AckInfo is what a subtask reports when its part of a checkpoint is durable.
// The coordinator copies the slices it keeps; the caller may reuse them.
type AckInfo struct {
	SyncDur         time.Duration
	AsyncDur        time.Duration
	AlignDur        time.Duration
	Bytes           int64
	Handles         []StateHandle
	SourcePositions []SourcePosition
	// SinkHandle is what a sink's pre-commit returned (a transaction to
	// commit on restore), nil for other tasks.
	SinkHandle []byte
	// Watermark is the subtask's event-time watermark at the barrier, nil
	// if it had none.
	Watermark *int64
}

// TaskMetadata is one subtask's part of a completed checkpoint.
type TaskMetadata struct {
	Task            TaskID           `json:"task"`
	SyncDur         time.Duration    `json:"sync_ns"`
	AsyncDur        time.Duration    `json:"async_ns"`
	AlignDur        time.Duration    `json:"align_ns"`
	Bytes           int64            `json:"bytes"`
	Handles         []StateHandle    `json:"handles,omitempty"`
	SourcePositions []SourcePosition `json:"source_positions,omitempty"`
	SinkHandle      []byte           `json:"sink_handle,omitempty"`
	Watermark       *int64           `json:"watermark,omitempty"`
}

// MetadataVersion is the version written into every _metadata file.
const MetadataVersion = 1

// Metadata describes one completed checkpoint or savepoint. It is what the
// coordinator hands to the driver in Complete and what Storage.Commit writes
// as _metadata (JSON).
type Metadata struct {
	Version      int       `json:"version"`
	ID           uint64    `json:"id"`
	Kind         Kind      `json:"kind"`
	Full         bool      `json:"full"`
	TriggerTime  time.Time `json:"trigger_time"`
	CompleteTime time.Time `json:"complete_time"`
	// Parents is the chain an incremental checkpoint depends on, nearest
	// first, ending at a full checkpoint. Empty for a full checkpoint and for
	// every savepoint. Restore applies Parents in reverse, then this one.
	Parents []uint64 `json:"parents,omitempty"`
	// BytesIncremental is the sum of the bytes the subtasks wrote for this
	// checkpoint; BytesFull is what a restore reads: this checkpoint's bytes
	// plus its parents' (equal to BytesIncremental for a full one).
	BytesFull        int64          `json:"bytes_full"`
	BytesIncremental int64          `json:"bytes_incremental"`
	Tasks            []TaskMetadata `json:"tasks"`
	// Job holds what the job that wrote the checkpoint says about itself
	// (its plan fingerprint, key groups, delivery mode); the driver fills it
	// in before Storage.Commit.
	Job map[string]string `json:"job,omitempty"`
}

// Duration is the end-to-end duration, trigger to completion.
func (m *Metadata) Duration() time.Duration { return m.CompleteTime.Sub(m.TriggerTime) }

// Config configures a Coordinator. Zero values mean: MaxConcurrent 1,
// MinPause 0, TolerableFailures 0 (the first failure fails the job),
// FullEvery 1 (every checkpoint full). Interval and Timeout must be > 0 and
// Tasks non-empty.
type Config struct {
	Interval          time.Duration
	Timeout           time.Duration
	MaxConcurrent     int
	MinPause          time.Duration
	TolerableFailures int
	// FullEvery k: checkpoints 1, 1+k, 1+2k, ... (counted among periodic
	// checkpoints, savepoints excluded) are full; the others are incremental
	// on the last completed checkpoint. A checkpoint is also full when no
	// checkpoint has completed yet or the last completion was lost.
	FullEvery int
	// Tasks lists every subtask that must ack. Order does not matter.
	Tasks []TaskID
}

// Action is what the coordinator asks its driver to do: Trigger, Complete,
// Abort, Fail or Stop.
type Action interface{ action() }

// Trigger asks the driver to start checkpoint ID: sources record positions
// and inject Barrier(ID). An incremental checkpoint (Full false) must write
// the changes since checkpoint Parent.
type Trigger struct {
	ID     uint64
	Kind   Kind
	Full   bool
	Parent uint64 // 0 when Full
	Time   time.Time
}

// Complete says every task acked checkpoint ID. The driver persists Metadata
// (Storage.Commit) and only then notifies the subtasks (sinks commit). If
// persisting fails it must call Coordinator.CompletionFailed.
type Complete struct {
	ID       uint64
	Metadata Metadata
	// InUse lists, ascending, the completed checkpoints that checkpoints
	// still pending after this completion depend on (their parent chains).
	// Pass them to Storage.Retain so it does not delete them.
	InUse []uint64
}

// Abort says checkpoint ID will never complete: its files are removed and
// sinks abort their pre-committed transactions.
type Abort struct {
	ID     uint64
	Reason string
}

// Fail says the job must fail: more consecutive checkpoint failures than
// Config.TolerableFailures. The coordinator is finished afterwards.
type Fail struct{ Reason string }

// Stop says the stop-with-savepoint savepoint SavepointID completed: the
// driver stops the job. The coordinator is finished afterwards.
type Stop struct{ SavepointID uint64 }

func (Trigger) action()  {}
func (Complete) action() {}
func (Abort) action()    {}
func (Fail) action()     {}
func (Stop) action()     {}

type pending struct {
	id      uint64
	kind    Kind
	full    bool
	parents []uint64
	base    int64 // BytesFull of parents[0]
	trigger time.Time
	stop    bool // the stop-with-savepoint savepoint
	acks    map[TaskID]TaskMetadata
}

// Coordinator is the checkpoint coordinator as a pure state machine: it does
// no I/O, starts no goroutines and never reads a clock; time arrives with the
// events. It is not safe for concurrent use: one goroutine (the Driver) owns
// it. Every event method returns the actions to run, in order.
//
// Semantics (as Flink's CheckpointCoordinator):
//   - a periodic checkpoint is triggered when Interval has passed since the
//     previous periodic trigger, fewer than MaxConcurrent checkpoints are
//     pending and MinPause has passed since the last completion; a trigger
//     that is held back fires at the first Tick that allows it;
//   - a checkpoint not acked by every task within Timeout is aborted;
//   - a Decline aborts the checkpoint;
//   - acks and declines for unknown, aborted or completed ids are ignored;
//   - a completed checkpoint aborts the pending checkpoints older than it
//     (subsumed); savepoints are neither subsumed nor subsume;
//   - timeouts and declines of periodic checkpoints count as failures; more
//     than TolerableFailures in a row (a completion resets the count) abort
//     everything and Fail. Savepoint failures are reported but not counted;
//   - IDs strictly increase across checkpoints and savepoints and are never
//     reused, even after an abort.
type Coordinator struct {
	cfg  Config
	next uint64 // next id to hand out

	nextTrigger  time.Time // earliest time of the next periodic trigger
	lastComplete time.Time // zero: none yet
	nCheckpoints int       // periodic checkpoints triggered so far

	lastChain []uint64 // last completed periodic checkpoint, then its parents
	lastBytes int64    // its BytesFull
	// fullFrom > 0: periodic checkpoints are full until one with an id ≥
	// fullFrom completes (RequireFull)
	fullFrom uint64

	// the last completion, until the driver reports it was not persisted
	lastID             uint64
	lastKind           Kind
	failuresBeforeLast int

	pending  []*pending // by id ascending
	failures int        // consecutive
	stopping bool       // stop-with-savepoint pending: no periodic triggers
	done     bool       // after Fail or Stop
}

// NewCoordinator returns a coordinator whose first periodic checkpoint is due
// at start+Interval. The first checkpoint gets id 1 unless FirstID says
// otherwise (after a restore from n, start at n+1).
func NewCoordinator(cfg Config, start time.Time) (*Coordinator, error) {
	return NewCoordinatorFrom(cfg, start, 1)
}

// NewCoordinatorFrom is NewCoordinator with the first id given (> 0).
func NewCoordinatorFrom(cfg Config, start time.Time, firstID uint64) (*Coordinator, error) {
	if cfg.Interval <= 0 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("checkpoint: interval and timeout must be positive (got %v, %v)", cfg.Interval, cfg.Timeout)
	}
	if len(cfg.Tasks) == 0 {
		return nil, fmt.Errorf("checkpoint: no tasks to acknowledge checkpoints")
	}
	if firstID == 0 {
		return nil, fmt.Errorf("checkpoint: checkpoint ids start at 1")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1
	}
	if cfg.FullEvery <= 0 {
		cfg.FullEvery = 1
	}
	if cfg.TolerableFailures < 0 {
		cfg.TolerableFailures = 0
	}
	cfg.Tasks = slices.Clone(cfg.Tasks)
	slices.SortFunc(cfg.Tasks, compareTask)
	cfg.Tasks = slices.Compact(cfg.Tasks)
	return &Coordinator{cfg: cfg, next: firstID, nextTrigger: start.Add(cfg.Interval)}, nil
}

// Done reports whether the coordinator has emitted Fail or Stop; it ignores
// every event afterwards.
func (c *Coordinator) Done() bool { return c.done }

// Pending returns the ids of the pending checkpoints and savepoints, ascending.
func (c *Coordinator) Pending() []uint64 {
	ids := make([]uint64, len(c.pending))
	for i, p := range c.pending {
		ids[i] = p.id
	}
	return ids
}

// Tick advances time: it aborts timed-out checkpoints, then triggers a
// periodic checkpoint if one is due and allowed.
func (c *Coordinator) Tick(now time.Time) []Action {
	if c.done {
		return nil
	}
	var out []Action
	for _, p := range slices.Clone(c.pending) {
		if !now.Before(p.trigger.Add(c.cfg.Timeout)) {
			out = c.abort(out, p, fmt.Sprintf("timed out after %v", c.cfg.Timeout), true)
			if c.done {
				return out
			}
		}
	}
	if c.stopping || now.Before(c.nextTrigger) || c.periodicPending() >= c.cfg.MaxConcurrent {
		return out
	}
	if !c.lastComplete.IsZero() && now.Before(c.lastComplete.Add(c.cfg.MinPause)) {
		return out
	}
	c.nextTrigger = now.Add(c.cfg.Interval)
	full := c.nCheckpoints%c.cfg.FullEvery == 0 || len(c.lastChain) == 0 || c.fullFrom > 0
	c.nCheckpoints++
	p := &pending{id: c.next, kind: KindCheckpoint, full: full, trigger: now, acks: map[TaskID]TaskMetadata{}}
	if !full {
		p.parents = slices.Clone(c.lastChain)
		p.base = c.lastBytes
	}
	return append(out, c.start(p))
}

// TriggerNow triggers a periodic checkpoint without waiting for the
// interval: now if MaxConcurrent and MinPause allow, else at the first Tick
// that they do.
func (c *Coordinator) TriggerNow(now time.Time) []Action {
	c.nextTrigger = time.Time{}
	return c.Tick(now)
}

// RequireFull makes every periodic checkpoint triggered from now on full
// until one of them completes: the state behind the last completed
// checkpoint is no longer available as changes to build a delta from.
func (c *Coordinator) RequireFull() []Action {
	if c.fullFrom == 0 {
		c.fullFrom = c.next
	}
	return nil
}

// Savepoint triggers a savepoint now, regardless of MaxConcurrent, MinPause
// and Interval.
func (c *Coordinator) Savepoint(now time.Time) []Action {
	if c.done {
		return nil
	}
	return []Action{c.start(&pending{id: c.next, kind: KindSavepoint, full: true, trigger: now, acks: map[TaskID]TaskMetadata{}})}
}

// StopWithSavepoint triggers a savepoint and stops periodic checkpoints.
// When the savepoint completes the coordinator emits Complete, aborts what is
// still pending and emits Stop. If the savepoint is aborted, periodic
// checkpoints resume and the job keeps running. A second request while one is
// pending is ignored.
func (c *Coordinator) StopWithSavepoint(now time.Time) []Action {
	if c.done || c.stopping {
		return nil
	}
	c.stopping = true
	return []Action{c.start(&pending{id: c.next, kind: KindSavepoint, full: true, trigger: now, stop: true, acks: map[TaskID]TaskMetadata{}})}
}

// Ack records that task finished its part of checkpoint id. When the last
// task acks, the checkpoint completes: Complete, then Abort for every older
// pending periodic checkpoint (and, for a stop savepoint, every pending one,
// then Stop).
func (c *Coordinator) Ack(now time.Time, id uint64, task TaskID, info AckInfo) []Action {
	if c.done {
		return nil
	}
	p := c.find(id)
	if p == nil || !c.isTask(task) {
		return nil
	}
	if _, dup := p.acks[task]; dup {
		return nil
	}
	p.acks[task] = TaskMetadata{
		Task: task, SyncDur: info.SyncDur, AsyncDur: info.AsyncDur, AlignDur: info.AlignDur, Bytes: info.Bytes,
		Handles: slices.Clone(info.Handles), SourcePositions: slices.Clone(info.SourcePositions),
		SinkHandle: slices.Clone(info.SinkHandle), Watermark: info.Watermark,
	}
	if len(p.acks) < len(c.cfg.Tasks) {
		return nil
	}
	return c.complete(now, p)
}

// Decline records that task could not take its part of checkpoint id: the
// checkpoint is aborted (and counts as a failure if periodic).
func (c *Coordinator) Decline(now time.Time, id uint64, task TaskID, reason string) []Action {
	if c.done {
		return nil
	}
	p := c.find(id)
	if p == nil || !c.isTask(task) {
		return nil
	}
	return c.abort(nil, p, fmt.Sprintf("declined by %s: %s", task, reason), true)
}

// CompletionFailed tells the coordinator that the driver could not persist
// the metadata of a checkpoint it had reported Complete (call it right after
// the Complete, before other events): it is reported as Abort; for a
// periodic checkpoint it counts as a failure (the reset of the count by the
// completion is undone) and the next periodic checkpoint is full (its
// would-be parent does not exist). Pending checkpoints the completion
// subsumed stay aborted. A savepoint's lost completion is not counted.
func (c *Coordinator) CompletionFailed(now time.Time, id uint64, reason string) []Action {
	if c.done {
		return nil
	}
	out := []Action{Abort{ID: id, Reason: "metadata not persisted: " + reason}}
	if id == c.lastID {
		if c.lastKind == KindSavepoint {
			return out
		}
		c.failures = c.failuresBeforeLast
	}
	if len(c.lastChain) > 0 && c.lastChain[0] == id {
		c.lastChain, c.lastBytes = nil, 0
	}
	return c.countFailure(out, fmt.Sprintf("checkpoint %d: metadata not persisted: %s", id, reason))
}

func (c *Coordinator) start(p *pending) Action {
	c.next++
	c.pending = append(c.pending, p)
	var parent uint64
	if len(p.parents) > 0 {
		parent = p.parents[0]
	}
	return Trigger{ID: p.id, Kind: p.kind, Full: p.full, Parent: parent, Time: p.trigger}
}

func (c *Coordinator) complete(now time.Time, p *pending) []Action {
	c.remove(p)
	md := Metadata{
		Version: MetadataVersion, ID: p.id, Kind: p.kind, Full: p.full,
		TriggerTime: p.trigger, CompleteTime: now, Parents: p.parents,
	}
	for _, t := range c.cfg.Tasks {
		a := p.acks[t]
		md.Tasks = append(md.Tasks, a)
		md.BytesIncremental += a.Bytes
	}
	md.BytesFull = md.BytesIncremental
	c.lastComplete = now
	c.lastID, c.lastKind, c.failuresBeforeLast = p.id, p.kind, c.failures
	if p.kind == KindCheckpoint {
		md.BytesFull += p.base
		c.lastChain = append([]uint64{p.id}, p.parents...)
		c.lastBytes = md.BytesFull
		c.failures = 0
		if p.full && c.fullFrom > 0 && p.id >= c.fullFrom {
			c.fullFrom = 0
		}
	}
	out := []Action{Complete{ID: p.id, Metadata: md}}
	for _, q := range slices.Clone(c.pending) {
		switch {
		case p.stop:
			out = c.abort(out, q, "job stopped with savepoint "+strconv.FormatUint(p.id, 10), false)
		case p.kind == KindCheckpoint && q.kind == KindCheckpoint && q.id < p.id:
			out = c.abort(out, q, "subsumed by checkpoint "+strconv.FormatUint(p.id, 10), false)
		}
	}
	if p.stop {
		c.done = true
		out = append(out, Stop{SavepointID: p.id})
	}
	var inUse []uint64
	for _, q := range c.pending {
		inUse = append(inUse, q.parents...)
	}
	slices.Sort(inUse)
	out[0] = Complete{ID: p.id, Metadata: md, InUse: slices.Compact(inUse)}
	return out
}

// abort removes p, reports it, and counts a failure if asked and periodic.
func (c *Coordinator) abort(out []Action, p *pending, reason string, failure bool) []Action {
	c.remove(p)
	if p.stop {
		c.stopping = false
	}
	out = append(out, Abort{ID: p.id, Reason: reason})
	if failure && p.kind == KindCheckpoint {
		out = c.countFailure(out, fmt.Sprintf("checkpoint %d %s", p.id, reason))
	}
	return out
}

func (c *Coordinator) countFailure(out []Action, last string) []Action {
	c.failures++
	if c.failures <= c.cfg.TolerableFailures {
		return out
	}
	for _, q := range slices.Clone(c.pending) {
		c.remove(q)
		out = append(out, Abort{ID: q.id, Reason: "job failing"})
	}
	c.done = true
	return append(out, Fail{Reason: fmt.Sprintf("%d consecutive checkpoint failures (tolerable %d); last: %s",
		c.failures, c.cfg.TolerableFailures, last)})
}

func (c *Coordinator) periodicPending() int {
	n := 0
	for _, p := range c.pending {
		if p.kind == KindCheckpoint {
			n++
		}
	}
	return n
}

func (c *Coordinator) find(id uint64) *pending {
	for _, p := range c.pending {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (c *Coordinator) remove(p *pending) {
	c.pending = slices.DeleteFunc(c.pending, func(q *pending) bool { return q == p })
}

func (c *Coordinator) isTask(t TaskID) bool {
	_, ok := slices.BinarySearchFunc(c.cfg.Tasks, t, compareTask)
	return ok
}
