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
func (c *Calc) Process(_ int, b *types.Batch, out Emitter) error {
	rows := b.Rows
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
		if c.Filter != nil {
			v, err := c.Filter.Eval(r)
			if err != nil {
				return rowError(err, r)
			}
			if v.Kind == types.Null || v.I == 0 {
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

// rowError adds the input row to a per-row evaluation error so that the
// user can find the bad data.
func rowError(err error, r types.Row) error {
	if len(r) == 0 {
		return err
	}
	return fmt.Errorf("%w, in row %s", err, r)
}
