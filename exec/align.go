package exec

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Barrier alignment (DESIGN §6.3).
//
// A subtask with several input channels reads them all from one Go channel,
// each Message tagged with From. The Aligner sits between that channel and
// the operator: the runtime hands it every inbound message and carries out
// the actions it returns, in order. Operators never see barriers and never
// count them; they only snapshot when told to.
//
// Because every input arrives on one Go channel, "not reading an input again
// until alignment completes" is done by holding back: in exactly-once mode a
// message that arrives on a channel which has already delivered Barrier(n),
// while checkpoint n is aligning, is kept in the aligner. When the last
// barrier arrives the aligner returns Snapshot(n) followed by the held
// messages, which are fed through the state machine again in arrival order
// (a held message may itself be the next barrier of its channel, which
// starts the next alignment and holds back what follows it).
//
// The Aligner is pure: no goroutines, no clock. Time is passed in; the driver
// calls Tick when Deadline passes and no message arrives. It is not safe for
// concurrent use; the subtask goroutine owns it.
//
// # Semantics
//
//   - Exactly-once: at most one checkpoint aligns at a time. Snapshot(n) is
//     returned when every input that has not ended has delivered Barrier(n);
//     everything delivered before it is exactly what the inputs sent before
//     their Barrier(n) (or before their end), and nothing they sent after.
//   - End of input: an input that ends counts as aligned for the pending
//     checkpoint (as Flink's EndOfPartition does), so alignment completes
//     with fewer barriers. The End message itself is delivered before the
//     Snapshot: it precedes, in its channel, the barrier it replaces. An End
//     that arrives behind a channel's barrier is held back like data.
//   - Superseded: a barrier with a larger id than the aligning checkpoint,
//     arriving on an input that has not delivered the aligning one (an
//     upstream aligner cancelled it and never forwarded it), cancels the
//     aligning checkpoint (CancelSuperseded), releases what it held, and
//     starts aligning the new one. Barriers with an id at or below the last
//     snapshotted or cancelled checkpoint, or below the aligning one, are
//     stale and dropped without an action.
//   - Timeout: if a checkpoint has not aligned within Timeout of its first
//     barrier (strictly after start+Timeout), it is cancelled
//     (CancelTimeout) and everything held is released; its remaining
//     barriers are dropped as stale when they arrive. It is not turned into
//     an unaligned snapshot: Weir does not persist in-flight data, so a
//     snapshot that let post-barrier data through would duplicate output on
//     restore. Expiry is checked before the message passed to OnMessage is
//     processed, and by Tick.
//   - Bound: held-back input is measured in rows (a data batch counts its
//     rows, at least 1; any other message counts 1). A message that would
//     make the held size exceed MaxHeld cancels the checkpoint (CancelBound)
//     and everything held, that message last, is released. A checkpoint
//     therefore never stalls the job: the worst case is a cancelled
//     checkpoint, which the coordinator counts as a failure and retries.
//   - At-least-once: nothing is ever held. Several checkpoints may be
//     pending at once; Snapshot(n) is returned as soon as every live input
//     has delivered Barrier(n) (or ended). Completing n cancels any
//     incomplete pending checkpoint below n (CancelSuperseded). There is no timeout and no bound:
//     nothing is held, so nothing stalls; the coordinator's own checkpoint
//     timeout covers a barrier that never arrives.
//   - Watermarks, idleness and End behind a barrier are held with the data of
//     their channel and stay in order with it. Idleness does not count as
//     aligned: an idle source still emits barriers.
//   - Abort(id) (the coordinator, or later an upstream cancellation marker,
//     abandons checkpoint id) cancels every pending checkpoint ≤ id with
//     CancelAborted and releases what was held; barriers ≤ id that arrive
//     later are stale. Cancellation markers are not modelled as a message
//     kind yet (api.go has none).
type Aligner struct {
	cfg    AlignerConfig
	ended  []bool
	last   uint64 // highest checkpoint id snapshotted or cancelled here
	hasAny bool   // last is meaningful

	// exactly-once: the one aligning checkpoint
	aligning bool
	cur      pendingCheckpoint
	held     []Message
	heldSize int

	// at-least-once: every pending checkpoint by id
	pending map[uint64]*pendingCheckpoint

	out []Action
}

type pendingCheckpoint struct {
	id      uint64
	start   time.Time
	arrived []bool
}

// AlignerConfig configures an Aligner.
type AlignerConfig struct {
	Inputs int          // number of input channels (Message.From is 0..Inputs-1); ≥ 1
	Mode   DeliveryMode // exactly-once holds back input that delivered Barrier(n); at-least-once never does
	// Timeout bounds how long an exactly-once alignment may take, from its
	// first barrier; must be > 0 in exactly-once mode.
	Timeout time.Duration
	// MaxHeld bounds held-back input, in rows (see Aligner); must be > 0 in
	// exactly-once mode.
	MaxHeld int
}

// NewAligner returns an Aligner for cfg.
func NewAligner(cfg AlignerConfig) (*Aligner, error) {
	if cfg.Inputs < 1 {
		return nil, fmt.Errorf("exec: aligner needs at least one input, got %d", cfg.Inputs)
	}
	if cfg.Mode == DeliveryExactlyOnce {
		if cfg.Timeout <= 0 {
			return nil, errors.New("exec: exactly-once alignment needs a timeout > 0")
		}
		if cfg.MaxHeld <= 0 {
			return nil, errors.New("exec: exactly-once alignment needs a bound on held-back input > 0")
		}
	}
	return &Aligner{
		cfg:     cfg,
		ended:   make([]bool, cfg.Inputs),
		pending: map[uint64]*pendingCheckpoint{},
	}, nil
}

// ActionKind says what the runtime must do.
type ActionKind uint8

const (
	// ActDeliver: pass Msg (data, watermark, idle or end; never a barrier) to
	// the subtask's input handling now, as if it had just been read.
	ActDeliver ActionKind = iota
	// ActSnapshot: every input is aligned on Checkpoint. The operator
	// snapshots (synchronous phase), then the runtime forwards
	// Barrier(Checkpoint) on every output, then carries out the following
	// actions. Aligned is the alignment duration (first barrier to last).
	ActSnapshot
	// ActCancel: checkpoint Checkpoint is abandoned in this subtask for
	// Reason. The runtime declines it to the coordinator (and, once a
	// cancellation marker exists, forwards it downstream so downstream
	// aligners release early instead of waiting for their timeout).
	ActCancel
)

// CancelReason says why an aligner abandoned a checkpoint.
type CancelReason uint8

const (
	CancelSuperseded CancelReason = iota // a newer barrier arrived first
	CancelTimeout                        // alignment took longer than Timeout
	CancelBound                          // held-back input would exceed MaxHeld
	CancelAborted                        // Abort was called
)

func (r CancelReason) String() string {
	switch r {
	case CancelSuperseded:
		return "superseded"
	case CancelTimeout:
		return "timeout"
	case CancelBound:
		return "bound"
	case CancelAborted:
		return "aborted"
	}
	return fmt.Sprintf("CancelReason(%d)", uint8(r))
}

// Action is one step for the runtime. The slice returned by OnMessage, Tick
// and Abort is valid until the next call on the Aligner.
type Action struct {
	Kind       ActionKind
	Msg        Message       // ActDeliver
	Checkpoint uint64        // ActSnapshot, ActCancel
	Aligned    time.Duration // ActSnapshot
	Reason     CancelReason  // ActCancel
}

// OnMessage takes one inbound message at time now and returns what to do.
// m.From must be in 0..Inputs-1; a message on an input that has ended is a
// broken invariant and panics.
func (a *Aligner) OnMessage(now time.Time, m Message) []Action {
	if m.From < 0 || m.From >= a.cfg.Inputs {
		panic(fmt.Sprintf("exec: aligner: message from input %d of %d", m.From, a.cfg.Inputs))
	}
	a.out = a.out[:0]
	a.expire(now)
	a.step(now, m)
	return a.out
}

// Tick checks the alignment timeout when no message arrives. The driver
// calls it once Deadline has passed.
func (a *Aligner) Tick(now time.Time) []Action {
	a.out = a.out[:0]
	a.expire(now)
	return a.out
}

// Abort abandons checkpoint id and every older checkpoint still pending here
// (the coordinator declared id failed; checkpoints finish in id order, so an
// older one still aligning would only be superseded later). Pending ones are
// cancelled with CancelAborted, in id order, and what they held is released;
// barriers with an id at or below id are dropped as stale from then on.
func (a *Aligner) Abort(now time.Time, id uint64) []Action {
	a.out = a.out[:0]
	a.expire(now)
	if a.stale(id) {
		return a.out
	}
	for _, pid := range a.pendingIDs() { // at-least-once
		if pid <= id {
			delete(a.pending, pid)
			a.cancel(pid, CancelAborted)
		}
	}
	cur := a.aligning && a.cur.id <= id
	// mark id finished before releasing: held barriers ≤ id are stale
	a.last, a.hasAny = id, true
	if cur {
		a.emit(Action{Kind: ActCancel, Checkpoint: a.cur.id, Reason: CancelAborted})
		a.aligning = false
		a.release(now)
	}
	return a.out
}

// Deadline is when the aligning checkpoint times out (Tick must be called
// after it); ok is false when nothing is aligning.
func (a *Aligner) Deadline() (deadline time.Time, ok bool) {
	if !a.aligning {
		return time.Time{}, false
	}
	return a.cur.start.Add(a.cfg.Timeout), true
}

// Aligning reports the checkpoint being aligned in exactly-once mode.
func (a *Aligner) Aligning() (id uint64, ok bool) { return a.cur.id, a.aligning }

// Held is the size of held-back input, in the units of MaxHeld.
func (a *Aligner) Held() int { return a.heldSize }

func (a *Aligner) emit(act Action) { a.out = append(a.out, act) }

func (a *Aligner) cancel(id uint64, r CancelReason) {
	a.emit(Action{Kind: ActCancel, Checkpoint: id, Reason: r})
	if id > a.last || !a.hasAny {
		a.last, a.hasAny = id, true
	}
}

// stale reports whether a barrier id is at or below a finished checkpoint.
func (a *Aligner) stale(id uint64) bool { return a.hasAny && id <= a.last }

func (a *Aligner) expire(now time.Time) {
	if a.aligning && now.Sub(a.cur.start) > a.cfg.Timeout {
		a.cancelAligning(now, CancelTimeout)
	}
}

func heldSize(m Message) int {
	if m.Kind == MsgData && m.Batch != nil && len(m.Batch.Rows) > 1 {
		return len(m.Batch.Rows)
	}
	return 1
}

func (a *Aligner) step(now time.Time, m Message) {
	if a.cfg.Mode == DeliveryAtLeastOnce {
		a.stepAtLeastOnce(now, m)
		return
	}
	if a.ended[m.From] {
		panic(fmt.Sprintf("exec: aligner: message kind %d on input %d after its end", m.Kind, m.From))
	}
	if a.aligning && a.cur.arrived[m.From] {
		a.held = append(a.held, m)
		a.heldSize += heldSize(m)
		if a.heldSize > a.cfg.MaxHeld {
			a.cancelAligning(now, CancelBound)
		}
		return
	}
	switch m.Kind {
	case MsgBarrier:
		id := m.Barrier
		if a.stale(id) || a.aligning && id < a.cur.id {
			return
		}
		if a.aligning && id > a.cur.id {
			a.cancelAligning(now, CancelSuperseded)
			// released messages may have started aligning id, or an
			// id in between; process the barrier against that state
			a.step(now, m)
			return
		}
		if !a.aligning {
			a.aligning = true
			a.cur = pendingCheckpoint{id: id, start: now, arrived: make([]bool, a.cfg.Inputs)}
		}
		a.cur.arrived[m.From] = true
		a.maybeComplete(now)
	case MsgEnd:
		a.ended[m.From] = true
		a.emit(Action{Kind: ActDeliver, Msg: m})
		if a.aligning {
			a.maybeComplete(now)
		}
	default:
		a.emit(Action{Kind: ActDeliver, Msg: m})
	}
}

func (a *Aligner) complete(p *pendingCheckpoint) bool {
	for i, ok := range p.arrived {
		if !ok && !a.ended[i] {
			return false
		}
	}
	return true
}

func (a *Aligner) maybeComplete(now time.Time) {
	if !a.complete(&a.cur) {
		return
	}
	id := a.cur.id
	a.emit(Action{Kind: ActSnapshot, Checkpoint: id, Aligned: now.Sub(a.cur.start)})
	a.last, a.hasAny = id, true
	a.aligning = false
	a.release(now)
}

func (a *Aligner) cancelAligning(now time.Time, r CancelReason) {
	a.cancel(a.cur.id, r)
	a.aligning = false
	a.release(now)
}

// release feeds held messages through the state machine again, in arrival
// order. Messages held again during this (behind a later barrier) arrived
// before anything not yet released, so per-input order is kept.
func (a *Aligner) release(now time.Time) {
	q := a.held
	a.held, a.heldSize = nil, 0
	for _, m := range q {
		a.step(now, m)
	}
}

func (a *Aligner) stepAtLeastOnce(now time.Time, m Message) {
	if a.ended[m.From] {
		panic(fmt.Sprintf("exec: aligner: message kind %d on input %d after its end", m.Kind, m.From))
	}
	switch m.Kind {
	case MsgBarrier:
		id := m.Barrier
		if a.stale(id) {
			return
		}
		p := a.pending[id]
		if p == nil {
			p = &pendingCheckpoint{id: id, start: now, arrived: make([]bool, a.cfg.Inputs)}
			a.pending[id] = p
		}
		p.arrived[m.From] = true
		a.completeAtLeastOnce(now)
	case MsgEnd:
		a.ended[m.From] = true
		a.emit(Action{Kind: ActDeliver, Msg: m})
		a.completeAtLeastOnce(now)
	default:
		a.emit(Action{Kind: ActDeliver, Msg: m})
	}
}

func (a *Aligner) pendingIDs() []uint64 {
	ids := make([]uint64, 0, len(a.pending))
	for id := range a.pending {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// completeAtLeastOnce snapshots, in id order, every complete pending
// checkpoint up to the newest complete one, and cancels the incomplete ones
// below it: every live input has passed their barrier, so they never will
// complete.
func (a *Aligner) completeAtLeastOnce(now time.Time) {
	ids := a.pendingIDs()
	newest := -1
	for i, id := range ids {
		if a.complete(a.pending[id]) {
			newest = i
		}
	}
	for _, id := range ids[:newest+1] {
		p := a.pending[id]
		delete(a.pending, id)
		if a.complete(p) {
			a.emit(Action{Kind: ActSnapshot, Checkpoint: id, Aligned: now.Sub(p.start)})
			a.last, a.hasAny = id, true
		} else {
			a.cancel(id, CancelSuperseded)
		}
	}
}
