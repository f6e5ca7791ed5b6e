package exec

import (
	"fmt"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// Calc is a fused filter and projection (Flink's Calc): rows for which Filter
// is true are projected through Exprs. A nil Filter keeps every row; nil
// Exprs forwards rows unchanged. Row kinds pass through untouched, so Calc
// works on append-only and updating streams alike.
type Calc struct {
	Filter expr.Expr
	Exprs  []expr.Expr
	// Describe names the operator in errors, e.g. "Calc(price > 100)".
	Describe string
}

var _ Operator = (*Calc)(nil)

// Process implements Operator.
//
// On a changelog, a filter must keep the changelog consistent: when only
// one row of an update pair (-U old, +U new) passes, the pair becomes a
// delete (-D old) or an insert (+I new), so that downstream operators and
// upsert sinks never see a retraction without its match or an update of a
// row they never saw.
func (c *Calc) Process(_ int, b *types.Batch, out Emitter) error {
	rows := b.Rows
	var pass []bool // filter results, computed ahead only for changelogs
	if c.Filter != nil && b.Kinds != nil {
		pass = make([]bool, len(rows))
		for i, r := range rows {
			ok, err := c.keep(r)
			if err != nil {
				return err
			}
			pass[i] = ok
		}
		fixUpdatePairs(b.Kinds, pass)
	}
	kept := rows[:0]
	var kinds []types.RowKind
	if b.Kinds != nil {
		kinds = b.Kinds[:0]
	}
	var arena *types.RowArena
	if c.Exprs != nil {
		arena = types.NewRowArena(len(c.Exprs), len(rows))
	}
	for i, r := range rows {
		switch {
		case pass != nil:
			if !pass[i] {
				continue
			}
		case c.Filter != nil:
			ok, err := c.keep(r)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		if arena != nil {
			nr := arena.Next()
			for j, e := range c.Exprs {
				v, err := e.Eval(r)
				if err != nil {
					return rowError(err, r)
				}
				nr[j] = v
			}
			r = nr
		}
		kept = append(kept, r)
		if b.Kinds != nil {
			kinds = append(kinds, b.Kinds[i])
		}
	}
	if len(kept) == 0 {
		return nil
	}
	b.Rows = kept
	b.Kinds = kinds
	return out.Emit(b)
}

// keep evaluates the filter on one row: NULL counts as false.
func (c *Calc) keep(r types.Row) (bool, error) {
	v, err := c.Filter.Eval(r)
	if err != nil {
		return false, rowError(err, r)
	}
	return v.Kind != types.Null && v.I != 0, nil
}

// fixUpdatePairs rewrites the kinds of update pairs (-U directly followed
// by +U) of which the filter keeps only one row.
func fixUpdatePairs(kinds []types.RowKind, pass []bool) {
	for i := 0; i+1 < len(kinds); i++ {
		if kinds[i] != types.UpdateBefore || kinds[i+1] != types.UpdateAfter {
			continue
		}
		switch {
		case pass[i] && !pass[i+1]:
			kinds[i] = types.Delete // the old row leaves the result
		case !pass[i] && pass[i+1]:
			kinds[i+1] = types.Insert // the new row enters it
		}
		i++
	}
}

// rowError adds the input row to a per-row evaluation error so that the
// user can find the bad data.
func rowError(err error, r types.Row) error {
	if len(r) == 0 {
		return err
	}
	return fmt.Errorf("%w, in row %s", err, r)
}
