package sql

// Top-N and deduplication: ROW_NUMBER(), RANK() or DENSE_RANK() OVER
// (PARTITION BY ... ORDER BY ...) in a SELECT list, filtered on its result
// by an enclosing query, as Flink writes them:
//
//	SELECT * FROM (
//	  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn
//	  FROM bid)
//	WHERE rn <= 10
//
// The SELECT with the window function binds it to a planner.Rank whose
// bounds are still open and marks its output column as a pending rank
// (scope.rank). The column keeps that mark through plain projections and
// filters of enclosing queries; the first enclosing WHERE that bounds it
// (rn <= N, rn < N, rn = N, rn BETWEEN a AND b, and lower bounds, in any
// AND) sets Lo..Hi on the Rank and those conditions disappear; the rest of
// that WHERE stays a filter above the Rank. A rank that no WHERE bounds is
// an error at the window function, once the whole statement is bound
// (binder.checkRanks): an unbounded ranking would keep every row.

import (
	"fmt"
	"math"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// rankRef is a rank number column whose Rank has no bounds yet.
type rankRef struct {
	colName string // the rank column's name where the function is
	node    *planner.Rank
	wf      *ast.WindowFuncExpr
	st      *Statement // where wf is (a view's own statement)
	name    string     // the function as written, for messages
	view    string     // the view whose query holds it, if any
	done    bool       // bounded by a WHERE
}

var rankFuncs = map[string]exec.RankFunc{"row_number": exec.RankRowNumber, "rank": exec.RankRank, "dense_rank": exec.RankDense}

// windowFuncField returns the index of the SELECT item that is an OVER
// window function, -1 if none; more than one is an error.
func (b *binder) windowFuncField(sel *ast.SelectStmt) (int, error) {
	at := -1
	for i, f := range sel.Fields.Fields {
		if wf, ok := f.Expr.(*ast.WindowFuncExpr); !ok || isOverAgg(wf) {
			continue // OVER aggregates are bound apart (bind_over.go)
		}
		if at >= 0 {
			return -1, b.errf(f.Expr, "only one ROW_NUMBER() OVER (...) is allowed in a SELECT list")
		}
		at = i
	}
	return at, nil
}

// bindRank builds the Rank for window function wf over node (the FROM,
// WHERE, GROUP BY and HAVING of the SELECT, whose columns in and ag
// describe) and returns it with the index of its rank column.
func (b *binder) bindRank(wf *ast.WindowFuncExpr, name string, node planner.Node, in *scope, ag *aggState) (*planner.Rank, error) {
	fn, ok := rankFuncs[strings.ToLower(wf.Name)]
	if !ok {
		return nil, b.errf(wf, "%s(...) OVER (...) is not supported: OVER windows take COUNT, SUM, AVG, MIN and MAX, or ROW_NUMBER(), RANK() and DENSE_RANK() filtered by an enclosing query (Top-N)", strings.ToUpper(wf.Name))
	}
	fname := strings.ToUpper(wf.Name) + "()"
	switch {
	case len(wf.Args) > 0:
		return nil, b.errf(wf, "%s takes no arguments", fname)
	case wf.Spec.Name.L != "" || wf.Spec.Ref.L != "":
		return nil, b.errf(wf, "%s OVER a named window is not supported; write the window in OVER (...)", fname)
	case wf.Spec.Frame != nil:
		return nil, b.errf(wf, "%s OVER (...): a window frame (ROWS/RANGE ...) is not supported", fname)
	case wf.Spec.OrderBy == nil || len(wf.Spec.OrderBy.Items) == 0:
		return nil, b.errf(wf, "%s OVER (...) needs an ORDER BY", fname)
	}
	sch := node.Schema()
	pre := make([]expr.Expr, 0, len(sch.Cols)+4)
	preSch := types.Schema{}
	for i, c := range sch.Cols {
		pre = append(pre, &expr.Column{Index: i, Name: c.Name, Typ: c.Type})
		preSch.Cols = append(preSch.Cols, c)
	}
	place := func(n ast.ExprNode, what string) (int, error) {
		if _, ok := n.(*ast.PositionExpr); ok {
			return 0, b.errf(wf, "%s OVER (...): %sBY a position is not supported; name the column", fname, strings.ToUpper(what))
		}
		e, err := b.expr(n, in, ag)
		if err != nil {
			return 0, err
		}
		if c, ok := e.(*expr.Column); ok {
			return c.Index, nil
		}
		pre = append(pre, expr.Fold(e))
		preSch.Cols = append(preSch.Cols, types.Column{Name: "$" + what + restore(n), Type: e.Type(), Nullable: true})
		return len(pre) - 1, nil
	}
	r := &planner.Rank{Func: fn}
	if wf.Spec.PartitionBy != nil {
		for _, it := range wf.Spec.PartitionBy.Items {
			c, err := place(it.Expr, "partition ")
			if err != nil {
				return nil, err
			}
			r.Partition = append(r.Partition, c)
		}
	}
	for _, it := range wf.Spec.OrderBy.Items {
		c, err := place(it.Expr, "order ")
		if err != nil {
			return nil, err
		}
		r.Order = append(r.Order, exec.SortKey{Col: c, Desc: it.Desc})
	}
	// per-window Top-N: PARTITION BY holds both bounds of an event-time window
	start, end := in.winStart1-1, in.winEnd1-1
	if ag != nil {
		start, end = -1, -1
		if ag.window != nil && ag.winClock {
			start, end = ag.startCol(), ag.startCol()+1
		}
	}
	hasStart, hasEnd := false, false
	for _, c := range r.Partition {
		hasStart = hasStart || c == start
		hasEnd = hasEnd || c == end
	}
	if start >= 0 && hasStart && hasEnd {
		r.Window, r.WindowEnd = true, end
	}
	if ag == nil && len(r.Order) == 1 {
		switch c := r.Order[0].Col; {
		case c == in.proctime:
			r.OrderTime = planner.ProcTime
		case c == in.rowtime1-1:
			r.OrderTime = planner.EventTime
		}
	}
	var input planner.Node = node
	if len(pre) > len(sch.Cols) {
		input = &planner.Project{Input: node, Exprs: pre, Sch: preSch}
	}
	r.Input = input
	r.Sch = types.Schema{Cols: append(append([]types.Column(nil), preSch.Cols...), types.Column{Name: name, Type: types.TBigInt})}
	return r, nil
}

// boundRank takes the conditions on in's pending rank column out of a
// WHERE clause and sets the Rank's bounds. It returns the conjuncts left.
func (b *binder) boundRank(where ast.ExprNode, in *scope) ([]ast.ExprNode, error) {
	ref := in.rank
	var rest []ast.ExprNode
	lo, hi, hasHi := int64(1), int64(0), false
	for _, c := range conjuncts(where) {
		l, h, ok := b.rankBound(c, in)
		if !ok {
			rest = append(rest, c)
			continue
		}
		lo = max(lo, l)
		if h >= 0 {
			if !hasHi || h < hi {
				hi = h
			}
			hasHi = true
		}
	}
	if !hasHi {
		return []ast.ExprNode{where}, nil // not bounded here: the mark stays
	}
	if hi < lo {
		return nil, b.errf(where, "the condition on %s keeps no rows (%s counts from 1)", in.cols[in.rankCol1-1].name, ref.name)
	}
	ref.node.Lo, ref.node.Hi = lo, hi
	ref.done = true
	return rest, nil
}

// conjuncts splits a condition at its top-level ANDs.
func conjuncts(n ast.ExprNode) []ast.ExprNode {
	switch t := n.(type) {
	case *ast.ParenthesesExpr:
		return conjuncts(t.Expr)
	case *ast.BinaryOperationExpr:
		if t.Op == opcode.LogicAnd {
			return append(conjuncts(t.L), conjuncts(t.R)...)
		}
	}
	return []ast.ExprNode{n}
}

// rankBound reads a condition "rank column op constant" as a range:
// lo, and hi (-1 when the condition sets no upper bound).
func (b *binder) rankBound(n ast.ExprNode, in *scope) (lo, hi int64, ok bool) {
	isRank := func(e ast.ExprNode) bool {
		for {
			p, ok := e.(*ast.ParenthesesExpr)
			if !ok {
				break
			}
			e = p.Expr
		}
		c, ok := e.(*ast.ColumnNameExpr)
		return ok && in.index(c.Name.Table.O, c.Name.Name.O) == in.rankCol1-1
	}
	konst := func(e ast.ExprNode) (int64, bool) {
		if hasColumn(e) {
			return 0, false
		}
		x, err := b.expr(e, &scope{proctime: -1}, nil)
		if err != nil || !x.Type().IsInteger() {
			return 0, false
		}
		v, err := expr.Fold(x).Eval(nil)
		if err != nil || v.IsNull() {
			return 0, false
		}
		return v.I, true
	}
	switch t := n.(type) {
	case *ast.ParenthesesExpr:
		return b.rankBound(t.Expr, in)
	case *ast.BetweenExpr:
		if t.Not || !isRank(t.Expr) {
			return 0, 0, false
		}
		l, ok1 := konst(t.Left)
		h, ok2 := konst(t.Right)
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		return l, max(h, 0), true
	case *ast.BinaryOperationExpr:
		op := t.Op
		var k int64
		switch {
		case isRank(t.L):
			v, ok := konst(t.R)
			if !ok {
				return 0, 0, false
			}
			k = v
		case isRank(t.R):
			v, ok := konst(t.L)
			if !ok {
				return 0, 0, false
			}
			k = v
			// constant op rank: flip the comparison
			switch op {
			case opcode.LT:
				op = opcode.GT
			case opcode.LE:
				op = opcode.GE
			case opcode.GT:
				op = opcode.LT
			case opcode.GE:
				op = opcode.LE
			}
		default:
			return 0, 0, false
		}
		switch op {
		case opcode.LE:
			return 1, max(k, 0), true
		case opcode.LT:
			if k <= 0 {
				return 1, 0, true
			}
			return 1, k - 1, true
		case opcode.EQ:
			return k, max(k, 0), true
		case opcode.GE:
			return k, -1, true
		case opcode.GT:
			if k == math.MaxInt64 {
				return k, 0, true // nothing is greater
			}
			return k + 1, -1, true
		}
	}
	return 0, 0, false
}

// hasColumn reports whether n refers to a column.
func hasColumn(n ast.Node) bool {
	found := false
	n.Accept(&colFinder{found: &found})
	return found
}

type colFinder struct{ found *bool }

func (c *colFinder) Enter(n ast.Node) (ast.Node, bool) {
	if _, ok := n.(*ast.ColumnNameExpr); ok {
		*c.found = true
		return n, true
	}
	return n, false
}
func (c *colFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// checkRanks fails on the first rank that no WHERE bounded.
func (b *binder) checkRanks() error {
	for _, r := range b.ranks {
		if r.done {
			continue
		}
		err := r.st.Errorf(max(r.st.NodeOffset(r.wf), 0),
			"%s OVER (...) is only supported for Top-N: an enclosing query must keep the first rows with WHERE %s <= N (or < N, = N, BETWEEN ... AND ...)",
			r.name, r.colName)
		if r.view != "" {
			return fmt.Errorf("view %s: %w", r.view, err)
		}
		return err
	}
	return nil
}
