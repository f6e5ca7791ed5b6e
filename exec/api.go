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
// while no input arrives.
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
