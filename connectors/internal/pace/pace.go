// Package pace runs the generator connectors (nexmark, datagen): Sequence
// drives one split over its share of the row numbers in batches, Pacer
// spaces rows in wall-clock time for their rate options, and Subtask makes
// a generator subtask resumable from a checkpoint (see split.go).
package pace

import (
	"context"
	"math"
	"time"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
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

// Sequence drives one split of a generator subtask over the numbers First,
// First+Step, ... below Limit (math.MaxInt64: unbounded), building rows in
// batches and pacing to Rate numbers per second when Rate > 0.
//
// Every batch is emitted with exec.EmitAt on Split, recording as the split's
// position the next number the sequence would look at: every number below
// it (in the sequence) has been delivered. When numbers are looked at
// without yielding rows (Want false), the position is advanced with
// exec.SetPosition once no rows are pending, so a sparse sequence's position
// does not lag.
type Sequence struct {
	First, Step, Limit int64
	Split              int // the split the rows are emitted on
	Rate               float64
	Batch              int   // rows per batch
	MaxScan            int64 // numbers looked at per turn (bounds time between ctx checks)
	Width              int   // columns per row
	// Want reports whether number n yields a row (nil: every number does).
	Want func(n int64) bool
	// Fill writes number n's row into row.
	Fill func(n int64, row types.Row)
}

// Run generates until Limit, or until ctx ends. It calls out.SplitDone(Split)
// when the sequence is exhausted.
func (q Sequence) Run(ctx context.Context, out exec.SourceOutput) error {
	var pacer *Pacer
	if q.Rate > 0 {
		pacer = New(q.Rate, q.Batch)
	}
	var (
		arena    *types.RowArena
		rows     []types.Row
		consumed int64 // numbers looked at
	)
	n := q.First
	recorded := n // the position last handed to out
	emit := func() error {
		if len(rows) == 0 {
			if n != recorded {
				exec.SetPosition(out, q.Split, n)
				recorded = n
			}
			return nil
		}
		b := &types.Batch{Rows: rows}
		rows, arena = nil, nil
		recorded = n
		return exec.EmitAt(out, q.Split, b, n)
	}
	for n < q.Limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		budget := q.MaxScan
		if pacer != nil {
			allowed := pacer.Allowed(consumed)
			if allowed <= 0 {
				// ahead of schedule: hand over what we have, then sleep
				if err := emit(); err != nil {
					return err
				}
				if err := pacer.Wait(ctx, consumed); err != nil {
					return err
				}
				continue
			}
			budget = min(budget, allowed)
		}
		if rows == nil {
			arena = types.NewRowArena(q.Width, q.Batch)
			rows = make([]types.Row, 0, q.Batch)
		}
		for len(rows) < q.Batch && n < q.Limit && budget > 0 {
			if q.Want == nil || q.Want(n) {
				row := arena.Next()
				q.Fill(n, row)
				rows = append(rows, row)
			}
			budget--
			consumed++
			if n > q.Limit-q.Step { // the next one would pass the bound (or overflow)
				n = q.Limit
				break
			}
			n += q.Step
		}
		if len(rows) == q.Batch || len(rows) == 0 {
			if err := emit(); err != nil {
				return err
			}
		}
	}
	if err := emit(); err != nil {
		return err
	}
	out.SplitDone(q.Split)
	return nil
}
