package exec

import (
	"time"

	"github.com/weirsql/weir/sql/types"
)

// ProcTimeWindow drives a window aggregate on processing time: the time
// column holds PROCTIME() values, and the window's watermark is the wall
// clock, advanced after every batch and on a timer, so windows fire on
// time even when no input arrives. Event-time watermarks from upstream are
// ignored, except the final one at end of input.
type ProcTimeWindow struct {
	Inner *WindowAgg
	// Now returns the wall clock in ms; injected for tests.
	Now func() int64
	// Tick is how often idle windows are checked (default 100 ms).
	Tick time.Duration
	last int64
}

var (
	_ Operator         = (*ProcTimeWindow)(nil)
	_ WatermarkHandler = (*ProcTimeWindow)(nil)
	_ Finisher         = (*ProcTimeWindow)(nil)
	_ Ticker           = (*ProcTimeWindow)(nil)
)

// Process implements Operator.
func (p *ProcTimeWindow) Process(input int, b *types.Batch, out Emitter) error {
	if err := p.Inner.Process(input, b, out); err != nil {
		return err
	}
	return p.advance(out)
}

func (p *ProcTimeWindow) advance(out Emitter) error {
	// the clock never goes back for the window, even if the wall clock does
	now := p.Now() - 1
	if now <= p.last {
		return nil
	}
	p.last = now
	return p.Inner.OnWatermark(now, out)
}

// OnWatermark implements WatermarkHandler: only end of input counts.
func (p *ProcTimeWindow) OnWatermark(wm int64, out Emitter) error {
	if wm == MaxWatermark {
		return p.Inner.OnWatermark(wm, out)
	}
	return nil
}

// Finish implements Finisher.
func (p *ProcTimeWindow) Finish(out Emitter) error { return p.Inner.Finish(out) }

// TickInterval implements Ticker.
func (p *ProcTimeWindow) TickInterval() time.Duration {
	if p.Tick <= 0 {
		return 100 * time.Millisecond
	}
	return p.Tick
}

// OnTick implements Ticker.
func (p *ProcTimeWindow) OnTick(out Emitter) error { return p.advance(out) }

// LateRows reports the inner operator's late rows.
func (p *ProcTimeWindow) LateRows() int64 { return p.Inner.LateRows() }

// SnapshotState implements Snapshotter.
func (p *ProcTimeWindow) SnapshotState(id uint64, w StateWriter) error {
	return p.Inner.SnapshotState(id, w)
}

// TrackChanges implements CopyOnWriteSnapshotter.
func (p *ProcTimeWindow) TrackChanges() { p.Inner.TrackChanges() }

// CaptureState implements CopyOnWriteSnapshotter.
func (p *ProcTimeWindow) CaptureState(id uint64, full bool, w StateWriter) error {
	return p.Inner.CaptureState(id, full, w)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (p *ProcTimeWindow) ContinueSnapshot(budget int) (bool, error) {
	return p.Inner.ContinueSnapshot(budget)
}

// RestoreState implements Restorer.
func (p *ProcTimeWindow) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	return p.Inner.RestoreState(scan)
}
