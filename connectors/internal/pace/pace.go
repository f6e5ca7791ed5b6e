// Package pace spaces a generator's rows in wall-clock time, for the
// rate options of the nexmark and datagen connectors.
package pace

import (
	"context"
	"math"
	"time"
)

// Pacer spaces one subtask's rows perSec apart: row k (0-based) is due
// k/perSec seconds after the start. It sleeps (never spins), at least a
// quantum of rows (about 10 ms worth, at most a batch) at a time.
type Pacer struct {
	start   time.Time
	perSec  float64
	quantum int64
}

// New starts a pacer now.
func New(perSec float64, batch int) *Pacer {
	q := int64(perSec / 100)
	q = max(min(q, int64(batch)), 1)
	return &Pacer{start: time.Now(), perSec: perSec, quantum: q}
}

// Allowed is how many more rows may be generated now, given that consumed
// rows have been generated already.
func (p *Pacer) Allowed(consumed int64) int64 {
	due := time.Since(p.start).Seconds()*p.perSec + 1
	if due > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(due) - consumed
}

// Wait sleeps until a quantum of rows after consumed is due, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, consumed int64) error {
	at := p.start.Add(time.Duration(float64(consumed+p.quantum-1) / p.perSec * float64(time.Second)))
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
