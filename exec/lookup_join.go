// LookupJoin: joins a stream (its only input) with a bounded table that was
// loaded once, before the job started, into a hash index (LookupTable) —
// Flink's lookup join, `JOIN t FOR SYSTEM_TIME AS OF s.proctime`, against
// a table that does not change while the job runs (Nexmark q13).
//
// Each input row is looked up by ProbeKeys (expressions over the input
// row) among the table rows with the same key values, filtered by
// Residual; every match is emitted joined, [input[:LeftWidth]...,
// table row...]. With Kind JoinLeft an input row without a match is
// emitted padded with NULLs. Accumulating rows (+I, +U) give +I rows,
// retractions (-U, -D) give -D rows for the same matches (the table does
// not change, so a retraction finds what its row found), so updating
// inputs work. The operator keeps no state: the table is re-read when a
// job is restored.
package exec

import (
	"fmt"

	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// LookupTable is a bounded table indexed by its join key. It is read-only
// once built and shared by every subtask of a lookup join.
type LookupTable struct {
	index map[string][]types.Row
	rows  int
	width int
}

// NewLookupTable indexes rows (all of width columns) by the values of
// keys; rows with a NULL key that is not null-safe can never match and are
// left out.
func NewLookupTable(rows []types.Row, width int, keys []expr.Expr, nullSafe []bool) (*LookupTable, error) {
	t := &LookupTable{index: make(map[string][]types.Row), width: width}
	kv := make(types.Row, len(keys))
	all := seqCols(len(keys))
	var buf []byte
	for _, r := range rows {
		if len(r) != width {
			return nil, fmt.Errorf("lookup table: a row has %d columns, want %d", len(r), width)
		}
		null := false
		for i, k := range keys {
			v, err := k.Eval(r)
			if err != nil {
				return nil, fmt.Errorf("lookup table: key of row %s: %w", r, err)
			}
			kv[i] = v
			null = null || v.Kind == types.Null && !(i < len(nullSafe) && nullSafe[i])
		}
		if null {
			continue
		}
		buf = appendGroupKey(buf[:0], kv, all)
		t.index[string(buf)] = append(t.index[string(buf)], r)
		t.rows++
	}
	return t, nil
}

// Rows is the number of rows indexed.
func (t *LookupTable) Rows() int { return t.rows }

func seqCols(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// LookupJoinConfig configures a LookupJoin.
type LookupJoinConfig struct {
	Kind      JoinKind // JoinInner or JoinLeft
	ProbeKeys []expr.Expr
	NullSafe  []bool
	// LeftWidth is how many leading input columns go to the output.
	LeftWidth int
	// Residual is over [input[:LeftWidth]..., table row...]; nil = none.
	Residual expr.Expr
	Table    *LookupTable
}

// LookupJoin is the lookup join operator. See the file comment.
type LookupJoin struct {
	joinShape
	probe  []expr.Expr
	table  *LookupTable
	keyRow types.Row
	all    []int
}

var _ Operator = (*LookupJoin)(nil)

// NewLookupJoin checks cfg and builds the operator.
func NewLookupJoin(cfg LookupJoinConfig) (*LookupJoin, error) {
	if cfg.Kind != JoinInner && cfg.Kind != JoinLeft {
		return nil, fmt.Errorf("lookup join: %s JOIN is not supported (INNER and LEFT are)", cfg.Kind)
	}
	if cfg.Table == nil {
		return nil, fmt.Errorf("lookup join: no table")
	}
	n := len(cfg.ProbeKeys)
	sh, err := newJoinShape(cfg.Kind, seqCols(n), seqCols(n), cfg.NullSafe, cfg.LeftWidth, cfg.Table.width, cfg.Residual, 0)
	if err != nil {
		return nil, fmt.Errorf("lookup %w", err)
	}
	return &LookupJoin{joinShape: sh, probe: cfg.ProbeKeys, table: cfg.Table, keyRow: make(types.Row, n), all: seqCols(n)}, nil
}

// Process looks up every input row.
func (j *LookupJoin) Process(_ int, b *types.Batch, out Emitter) error {
	for i, row := range b.Rows {
		if len(row) < j.width[0] {
			return fmt.Errorf("lookup join: input row has %d columns", len(row))
		}
		acc := !b.Kind(i).IsRetract()
		for k, e := range j.probe {
			v, err := e.Eval(row)
			if err != nil {
				return rowError(err, row)
			}
			j.keyRow[k] = v
		}
		matched := false
		if !j.nullKey(0, j.keyRow) {
			j.keyBuf = appendGroupKey(j.keyBuf[:0], j.keyRow, j.all)
			for _, m := range j.table.index[string(j.keyBuf)] {
				ok, err := j.match(row, m)
				if err != nil {
					return err
				}
				if ok {
					j.joined(accKind(acc), row, m)
					matched = true
				}
			}
		}
		if !matched && j.kind == JoinLeft {
			j.padded(accKind(acc), 0, row)
		}
		if err := j.flushIfFull(out); err != nil {
			return err
		}
	}
	return j.out.flush(out)
}
