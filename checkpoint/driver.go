package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Clock is the driver's source of time. Production uses RealClock; tests
// inject a fake that fires ticks on demand.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker firing every d. The driver calls Stop on it
	// before Run returns.
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker the driver uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker wraps time.NewTicker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Callbacks execute the coordinator's actions. All of them are called from
// the goroutine running Driver.Run, one at a time, in the order the
// coordinator emitted the actions; a callback that blocks stops the driver
// (ticks and acks queue up). Callbacks may call the Driver's event methods
// (Ack, Decline, ...): those never block. A nil callback is skipped.
type Callbacks struct {
	// OnTrigger starts the checkpoint: sources record positions and inject
	// the barrier.
	OnTrigger func(Trigger)
	// OnComplete persists the metadata (Storage.Commit) and then notifies
	// the subtasks. A non-nil error means the metadata is not durable and
	// nothing was notified; the driver reports it to the coordinator
	// (CompletionFailed), which aborts the checkpoint.
	OnComplete func(Complete) error
	// OnAbort removes the checkpoint's files and tells sinks to abort.
	OnAbort func(Abort)
	// OnFail is called once; Run then returns a *FailError.
	OnFail func(Fail)
	// OnStop is called once when the stop-with-savepoint completed; Run
	// then returns nil.
	OnStop func(Stop)
}

// FailError is returned by Run when the coordinator failed the job.
type FailError struct{ Reason string }

func (e *FailError) Error() string { return "checkpoint: job failed: " + e.Reason }

// StopError is returned by Run when the stop-with-savepoint savepoint was
// acked by every task but its metadata could not be persisted: the job was
// not stopped by the driver (OnStop is not called) and has no savepoint; the
// caller decides whether to keep running (with a new driver) or cancel.
type StopError struct {
	SavepointID uint64
	Err         error
}

func (e *StopError) Error() string {
	return fmt.Sprintf("checkpoint: stop-with-savepoint %d not persisted: %v", e.SavepointID, e.Err)
}

func (e *StopError) Unwrap() error { return e.Err }

// Driver is the thin I/O shell around a Coordinator: one goroutine (Run)
// owns the coordinator, feeds it ticks from the Clock and events from the
// event methods, and executes the actions through Callbacks.
type Driver struct {
	c     *Coordinator
	clock Clock
	tick  time.Duration
	cb    Callbacks

	mu     sync.Mutex
	queue  []func(now time.Time) []Action
	wake   chan struct{} // capacity 1
	closed bool
}

// NewDriver returns a driver that ticks the coordinator every tick (a
// fraction of the checkpoint interval and timeout, e.g. 100ms: it bounds how
// late a trigger or a timeout can be).
func NewDriver(c *Coordinator, clock Clock, tick time.Duration, cb Callbacks) *Driver {
	return &Driver{c: c, clock: clock, tick: tick, cb: cb, wake: make(chan struct{}, 1)}
}

// ErrDriverStopped is returned by the event methods after Run has returned.
var ErrDriverStopped = errors.New("checkpoint: driver stopped")

// Ack queues an ack (any goroutine; never blocks). info's slices are owned
// by the driver afterwards.
func (d *Driver) Ack(id uint64, task TaskID, info AckInfo) error {
	return d.post(func(now time.Time) []Action { return d.c.Ack(now, id, task, info) })
}

// TriggerNow queues Coordinator.TriggerNow (any goroutine; never blocks).
func (d *Driver) TriggerNow() error {
	return d.post(d.c.TriggerNow)
}

// Decline queues a decline (any goroutine; never blocks).
func (d *Driver) Decline(id uint64, task TaskID, reason string) error {
	return d.post(func(now time.Time) []Action { return d.c.Decline(now, id, task, reason) })
}

// RequireFull queues Coordinator.RequireFull (any goroutine; never blocks).
func (d *Driver) RequireFull() error {
	return d.post(func(time.Time) []Action { return d.c.RequireFull() })
}

// Savepoint queues a savepoint request (any goroutine; never blocks).
func (d *Driver) Savepoint() error {
	return d.post(func(now time.Time) []Action { return d.c.Savepoint(now) })
}

// StopWithSavepoint queues a stop-with-savepoint request (any goroutine;
// never blocks). Run returns nil after OnStop.
func (d *Driver) StopWithSavepoint() error {
	return d.post(func(now time.Time) []Action { return d.c.StopWithSavepoint(now) })
}

func (d *Driver) post(ev func(time.Time) []Action) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrDriverStopped
	}
	d.queue = append(d.queue, ev)
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run drives the coordinator until ctx is cancelled (returns ctx.Err()), the
// coordinator fails the job (returns *FailError) or a stop-with-savepoint
// completes (returns nil; *StopError if its metadata could not be persisted). It stops its ticker and starts no goroutines, so
// nothing is left running when it returns. Call it once.
//
// Cancellation does not abort pending checkpoints: their files stay until
// Storage.CleanupIncomplete, and completed (retained) checkpoints are never
// touched — they are what the next run restores from.
func (d *Driver) Run(ctx context.Context) error {
	t := d.clock.NewTicker(d.tick)
	defer t.Stop()
	defer func() {
		d.mu.Lock()
		d.closed = true
		d.queue = nil
		d.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			if err, stop := d.exec(d.c.Tick(d.clock.Now())); stop {
				return err
			}
		case <-d.wake:
			for {
				d.mu.Lock()
				if len(d.queue) == 0 {
					d.mu.Unlock()
					break
				}
				ev := d.queue[0]
				d.queue = d.queue[1:]
				d.mu.Unlock()
				if err, stop := d.exec(ev(d.clock.Now())); stop {
					return err
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
}

// exec runs actions; stop reports that Run must return err.
func (d *Driver) exec(actions []Action) (err error, stop bool) {
	var notPersisted map[uint64]error
	for len(actions) > 0 {
		a := actions[0]
		actions = actions[1:]
		switch a := a.(type) {
		case Trigger:
			if d.cb.OnTrigger != nil {
				d.cb.OnTrigger(a)
			}
		case Complete:
			if d.cb.OnComplete != nil {
				if err := d.cb.OnComplete(a); err != nil {
					if notPersisted == nil {
						notPersisted = map[uint64]error{}
					}
					notPersisted[a.ID] = err
					actions = append(actions, d.c.CompletionFailed(d.clock.Now(), a.ID, err.Error())...)
				}
			}
		case Abort:
			if d.cb.OnAbort != nil {
				d.cb.OnAbort(a)
			}
		case Fail:
			if d.cb.OnFail != nil {
				d.cb.OnFail(a)
			}
			return &FailError{Reason: a.Reason}, true
		case Stop:
			if err := notPersisted[a.SavepointID]; err != nil {
				return &StopError{SavepointID: a.SavepointID, Err: err}, true
			}
			if d.cb.OnStop != nil {
				d.cb.OnStop(a)
			}
			return nil, true
		default:
			panic(fmt.Sprintf("checkpoint: unknown action %T", a))
		}
	}
	return nil, false
}
