package exec

import (
	"context"
	"time"

	"github.com/weirsql/weir/sql/types"
)

// MsgKind tags what travels on a channel between subtasks. Control travels
// in-band with data so that order is preserved.
type MsgKind uint8

const (
	MsgData      MsgKind = iota // Batch
	MsgWatermark                // Watermark: event time up to which input is complete
	MsgBarrier                  // Barrier: checkpoint id (checkpoints come later; the runtime already routes them)
	MsgEnd                      // end of stream from one upstream subtask
	// MsgIdle says the sender has no data for now (all its splits are idle):
	// receivers leave it out of their watermark until it sends again.
	MsgIdle
)

// Message is one unit on an exchange channel.
type Message struct {
	Kind      MsgKind
	From      int // index of the upstream channel within the receiving subtask's inputs
	Batch     *types.Batch
	Watermark int64
	Barrier   uint64
}

// MaxWatermark is the watermark of a finished input: every window fires.
const MaxWatermark = int64(1<<63 - 1)

// MinWatermark is the watermark before any input.
const MinWatermark = int64(-1 << 63)

// Emitter receives an operator's output. It is owned by the runtime and
// called only from the operator's own subtask goroutine. Emit takes
// ownership of b.
type Emitter interface {
	Emit(b *types.Batch) error
}

// Operator is the one method every operator implements. Process is called
// from the subtask goroutine, one batch at a time, with the index of the input
// (0 for single-input operators). The operator owns b from then on.
type Operator interface {
	Process(input int, b *types.Batch, out Emitter) error
}

// WatermarkHandler is implemented by operators that act on event time
// (windows). OnWatermark is called when the subtask's combined input
// watermark advances, before the runtime forwards it downstream; rows emitted
// here precede the watermark.
type WatermarkHandler interface {
	OnWatermark(wm int64, out Emitter) error
}

// Finisher is implemented by operators that hold rows until end of input.
// Finish is called once, after the final watermark, when every input has ended.
type Finisher interface {
	Finish(out Emitter) error
}

// Ticker is implemented by operators that act on processing time. The
// runtime calls OnTick every TickInterval from the subtask goroutine, also
// while no input arrives. A TickInterval ≤ 0 (asked once, when the subtask
// starts) means no ticks.
type Ticker interface {
	TickInterval() time.Duration
	OnTick(out Emitter) error
}

// Closer is implemented by operators holding resources; Close is called once
// when the subtask exits, whether the job succeeded or not.
type Closer interface {
	Close() error
}

// SourceOutput is how a source hands rows to the runtime. Split identifies
// the split (file, partition, generator stream) a batch came from, so the
// runtime can compute per-split watermarks (DESIGN §3). Emit blocks under
// back pressure and returns an error once the job is cancelled.
type SourceOutput interface {
	Emit(split int, b *types.Batch) error
	// SplitDone says a split will produce nothing more: it stops holding the
	// watermark back.
	SplitDone(split int)
	// AddSplit registers a split that appeared while running (a new Kafka
	// partition) and returns its id.
	AddSplit() int
	// SplitIdle says a split has had no data for the source's idle timeout:
	// it stops holding the watermark back until its next Emit. When every
	// unfinished split is idle, downstream operators stop waiting for this
	// subtask's watermark.
	SplitIdle(split int)
}

// Source reads one subtask's share of a table. Run is called once on the
// subtask goroutine; it returns nil when its bounded input is exhausted, or
// ctx.Err() when cancelled. Errors about bad data must say where the data
// was (file and line, topic/partition/offset).
type Source interface {
	// Splits is the number of splits this subtask reads (split ids are 0..n-1).
	Splits() int
	Run(ctx context.Context, out SourceOutput) error
}

// Sink writes one subtask's share of a query's output.
//
// Write is called with each batch (row kinds included). Finish is called once
// at end of input and must make everything durable (a file sink renames its
// temporary file into place). Abort is called instead of Finish when the job
// fails or is cancelled: nothing half-written may remain visible.
type Sink interface {
	Write(b *types.Batch) error
	Finish() error
	Abort()
}

// ---- Checkpointing capabilities (DESIGN §6–7) ----
//
// A job that checkpoints (JobSpec.Checkpoint set) asks more of its parts.
// Each capability is a small optional interface, found by type assertion;
// a part that lacks one makes the job refuse to checkpoint with an error
// naming it, never silently lose exactly-once.

// Resumable is implemented by sources that can resume from a checkpoint.
// Each split has a stable name ("3" for Kafka partition 3, a file path,
// "0" for generator stream 0) and a position: the offset of the next record
// to read (Kafka offset, byte offset, sequence number).
type Resumable interface {
	// SplitNames names splits 0..Splits()-1. Called once, before Run, from
	// the goroutine that calls exec.Run.
	SplitNames() []string
	// Resume sets where splits start. pos holds every position the
	// checkpoint recorded for this source vertex, from all of its old
	// subtasks (so a restore at another parallelism finds its splits);
	// a split that is not in pos starts as configured. Called once, before
	// Run, only when the job is restored. An error (a recorded offset no
	// longer in the topic, a file shorter than its offset) fails the
	// restore with a message saying exactly what is missing.
	Resume(pos map[string]int64) error
}

// PositionOutput is implemented by the SourceOutput the runtime hands to a
// Resumable source. Use EmitAt and AddNamedSplit through the package
// functions of the same names, which fall back for outputs (test fakes)
// that do not implement it.
type PositionOutput interface {
	// EmitAt is Emit, and records atomically with it that split resumes at
	// next once b has been delivered. A barrier is never injected between
	// the two.
	EmitAt(split int, b *types.Batch, next int64) error
	// SetPosition records that split resumes at next without emitting rows
	// (skipped bad records, transaction markers, an empty read).
	SetPosition(split int, next int64)
	// AddNamedSplit is AddSplit for a split named name.
	AddNamedSplit(name string) int
}

// EmitAt emits b on split and records that the split resumes at next.
func EmitAt(out SourceOutput, split int, b *types.Batch, next int64) error {
	if po, ok := out.(PositionOutput); ok {
		return po.EmitAt(split, b, next)
	}
	return out.Emit(split, b)
}

// SetPosition records a split's position when out supports positions.
func SetPosition(out SourceOutput, split int, next int64) {
	if po, ok := out.(PositionOutput); ok {
		po.SetPosition(split, next)
	}
}

// AddNamedSplit adds a split named name.
func AddNamedSplit(out SourceOutput, name string) int {
	if po, ok := out.(PositionOutput); ok {
		return po.AddNamedSplit(name)
	}
	return out.AddSplit()
}

// StateWriter receives an operator's changed state in its synchronous
// snapshot phase. Keys are (key group, key, namespace) as in state/; the
// slices are copied, so the operator may reuse them.
type StateWriter interface {
	Put(kg uint16, key, ns, value []byte)
	Delete(kg uint16, key, ns []byte)
}

// Snapshotter is implemented by stateful operators.
//
// SnapshotState is the synchronous phase of checkpoint id, called on the
// subtask goroutine after alignment and before the barrier is forwarded:
// the operator writes every entry it changed or removed since its previous
// SnapshotState or RestoreState (the first time: everything it holds) into w,
// each (key group, key, namespace) at most once. It must not block on
// I/O; the runtime persists w in the asynchronous phase.
type Snapshotter interface {
	SnapshotState(id uint64, w StateWriter) error
}

// CopyOnWriteSnapshotter is a Snapshotter that splits its synchronous
// phase so that the part before the barrier is forwarded costs nothing
// that grows with the entries changed. The runtime uses it in place of
// SnapshotState; all calls come from the subtask goroutine.
//
// TrackChanges is called once before the first row of a job that takes
// checkpoints (not on restore: RestoreState implies it), so that the first
// capture holds only what changed since, which is everything, without a
// pass over the state.
//
// CaptureState(id, full, w) marks what belongs to checkpoint id and
// returns; the entries are written to w later. An incremental capture
// holds the entries changed or removed since the previous capture; a full
// one holds every entry the operator has, plus those removals (so that it
// can also stand in a delta). Until ContinueSnapshot reports done, the
// operator may write to w from any of its calls (Process, OnWatermark,
// Finish): an entry about to change or to be dropped is written first, as
// it was at the barrier (copy on write). ContinueSnapshot(budget) writes
// up to about budget more captured entries (all when budget <= 0); the
// runtime calls it between inputs and owns w again once it reports done.
// Each (key group, key, namespace) is written at most once per capture.
// The runtime never calls CaptureState or SnapshotState while a capture is
// still open.
type CopyOnWriteSnapshotter interface {
	Snapshotter
	TrackChanges()
	CaptureState(id uint64, full bool, w StateWriter) error
	ContinueSnapshot(budget int) (done bool, err error)
}

// LagReporter is implemented by a Source that knows how far behind its
// input it is: Lag is the number of records available to it that it has
// not emitted yet (ok false while it does not know). Safe for concurrent
// use; the runtime reads it for Vertex.Lag.
type LagReporter interface {
	Lag() (records int64, ok bool)
}

// Restorer is implemented by stateful operators. RestoreState is called
// once before the first Process when the job is restored: scan yields every
// entry of the operator's key groups (TaskContext.FirstGroup..LastGroup),
// whichever subtask wrote it, so a restore at another parallelism gets
// exactly its share. Slices passed to fn are valid only during the call.
type Restorer interface {
	RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error
}

// DeliveryMode is the guarantee a checkpointing job gives.
type DeliveryMode uint8

const (
	// DeliveryExactlyOnce aligns barriers and commits sinks transactionally.
	DeliveryExactlyOnce DeliveryMode = iota
	// DeliveryAtLeastOnce neither aligns nor uses transactions: after a
	// failure some output may repeat, none is lost.
	DeliveryAtLeastOnce
)

func (m DeliveryMode) String() string {
	if m == DeliveryAtLeastOnce {
		return "at-least-once"
	}
	return "exactly-once"
}

// SinkHandle is what one sink subtask's PreCommit returned for a completed
// checkpoint.
type SinkHandle struct {
	Subtask int    // the subtask that wrote it (in the checkpointed job)
	Data    []byte // nil if it returned none
}

// TwoPhaseSink is implemented by sinks that take part in checkpoints. All
// methods are called on the sink's subtask goroutine.
type TwoPhaseSink interface {
	Sink
	// StartCheckpointing is called once before the first Write of a job that
	// checkpoints. On a restore, recovered lists the handles of the old
	// subtasks this subtask inherits (old subtask j goes to new subtask
	// j mod parallelism; an old subtask with no handle is listed with nil
	// Data): the sink commits what they name and aborts anything else they
	// left open (transactions, pending files), fencing zombie writers.
	StartCheckpointing(mode DeliveryMode, recovered []SinkHandle) error
	// PreCommit is called when Barrier(id) reaches the sink: everything
	// written since the previous PreCommit is made durable but, in
	// exactly-once mode, not visible. The returned bytes go into the
	// checkpoint's metadata. In at-least-once mode PreCommit flushes.
	// PreCommit(id) may come before the Commit of an earlier checkpoint
	// (a savepoint, MaxConcurrent > 1), so the sink keeps what it wrote
	// before each barrier apart from what it wrote after. An error fails
	// the job, which is then restored from its last completed checkpoint.
	PreCommit(id uint64) ([]byte, error)
	// Commit makes visible everything pre-committed for checkpoints ≤ id,
	// and nothing written after Barrier(id), once checkpoint id is
	// complete (its metadata durable). An aborted
	// checkpoint's data is committed by the next completed one. Commit is
	// idempotent. Finish still commits everything at end of input.
	//
	// Abort (failure or cancellation) must not discard pre-committed data:
	// the checkpoint it belongs to may have completed an instant ago. It
	// may discard what was written after the last PreCommit; a restart's
	// StartCheckpointing commits or aborts the rest.
	Commit(id uint64) error
}
