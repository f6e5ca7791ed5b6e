package sql

// OVER aggregates: COUNT, SUM, AVG, MIN or MAX OVER (PARTITION BY ...
// ORDER BY ... frame) anywhere in a SELECT list, as Flink's over
// aggregation:
//
//	SELECT seller, AVG(price) OVER (PARTITION BY seller ORDER BY date_time
//	    ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
//	FROM q
//
// Every OVER aggregate of one SELECT shares one window (one planner.Over):
// the same PARTITION BY, ORDER BY and frame. The Over sits between the
// SELECT's WHERE and its list: its output is the input's columns (so the
// list's other expressions bind as usual), then one column per call, which
// the calls in the list resolve to (binder.overCols, consulted by
// binder.expr). Frames: ROWS BETWEEN n PRECEDING | UNBOUNDED PRECEDING
// AND CURRENT ROW, the same in short form (ROWS n PRECEDING), and RANGE
// BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, the default when none is
// written. The rest (FOLLOWING, RANGE with an offset, GROUPS) is refused
// at the function. planner.OverPlan picks the mode from the ORDER BY and
// the input.

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// overAggKinds are the aggregate functions allowed with OVER.
var overAggKinds = map[string]exec.AggKind{"count": exec.AggCount, "sum": exec.AggSum, "avg": exec.AggAvg, "min": exec.AggMin, "max": exec.AggMax}

func isOverAgg(wf *ast.WindowFuncExpr) bool {
	_, ok := overAggKinds[strings.ToLower(wf.Name)]
	return ok
}

// overCollector finds the OVER aggregates of an expression (not inside
// subqueries).
type overCollector struct{ found []*ast.WindowFuncExpr }

func (c *overCollector) Enter(n ast.Node) (ast.Node, bool) {
	switch t := n.(type) {
	case *ast.WindowFuncExpr:
		if isOverAgg(t) {
			c.found = append(c.found, t)
		}
		return n, true
	case *ast.SubqueryExpr:
		return n, true
	}
	return n, false
}
func (c *overCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// overCalls returns the OVER aggregates of a SELECT list, in order.
func overCalls(sel *ast.SelectStmt) []*ast.WindowFuncExpr {
	c := &overCollector{}
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			f.Expr.Accept(c)
		}
	}
	return c.found
}

// bindOver builds the Over that computes calls over node (the FROM and
// WHERE of the SELECT, described by in) and records each call's output
// column in b.overCols.
func (b *binder) bindOver(calls []*ast.WindowFuncExpr, node planner.Node, in *scope) (*planner.Over, error) {
	first := calls[0]
	fname := func(wf *ast.WindowFuncExpr) string { return strings.ToUpper(wf.Name) + "(...) OVER (...)" }
	window := restore(&first.Spec)
	for _, wf := range calls {
		switch {
		case wf.Spec.Name.L != "" || wf.Spec.Ref.L != "":
			return nil, b.errf(wf, "%s: named windows are not supported; write the window in OVER (...)", fname(wf))
		case wf.Distinct:
			return nil, b.errf(wf, "%s: DISTINCT is not supported in an OVER aggregate", fname(wf))
		case restore(&wf.Spec) != window:
			line, col := b.st.Pos(max(b.st.NodeOffset(first), 0))
			return nil, b.errf(wf, "%s: all OVER aggregates of a SELECT must use the same window (PARTITION BY, ORDER BY and frame) as the first, %s at line %d, column %d", fname(wf), fname(first), line, col)
		}
	}
	spec := first.Spec
	if spec.OrderBy == nil || len(spec.OrderBy.Items) == 0 {
		return nil, b.errf(first, "%s needs an ORDER BY", fname(first))
	}
	preceding, rng, err := b.overFrame(first, spec.Frame)
	if err != nil {
		return nil, err
	}
	sch := node.Schema()
	pre := make([]expr.Expr, 0, len(sch.Cols)+4)
	preSch := types.Schema{}
	for i, c := range sch.Cols {
		pre = append(pre, &expr.Column{Index: i, Name: c.Name, Typ: c.Type})
		preSch.Cols = append(preSch.Cols, c)
	}
	// placeExpr gives e a column: its own, or one computed below the Over
	placeExpr := func(e expr.Expr, name string) int {
		if c, ok := e.(*expr.Column); ok {
			return c.Index
		}
		pre = append(pre, expr.Fold(e))
		preSch.Cols = append(preSch.Cols, types.Column{Name: name, Type: e.Type(), Nullable: true})
		return len(pre) - 1
	}
	place := func(n ast.ExprNode, what string) (int, error) {
		if _, ok := n.(*ast.PositionExpr); ok {
			return 0, b.errf(first, "%s: %sBY a position is not supported; name the column", fname(first), strings.ToUpper(what))
		}
		e, err := b.expr(n, in, nil)
		if err != nil {
			return 0, err
		}
		return placeExpr(e, "$"+what+restore(n)), nil
	}
	o := &planner.Over{Preceding: preceding, Range: rng}
	if spec.PartitionBy != nil {
		for _, it := range spec.PartitionBy.Items {
			c, err := place(it.Expr, "partition ")
			if err != nil {
				return nil, err
			}
			o.Partition = append(o.Partition, c)
		}
	}
	for _, it := range spec.OrderBy.Items {
		c, err := place(it.Expr, "order ")
		if err != nil {
			return nil, err
		}
		o.Order = append(o.Order, exec.SortKey{Col: c, Desc: it.Desc})
	}
	for i, k := range o.Order {
		if in.proctime >= 0 && k.Col == in.proctime && (i > 0 || k.Desc || len(o.Order) > 1) {
			return nil, b.errf(first, "%s: PROCTIME() must be the only ORDER BY key of an OVER window, ascending (rows are then taken in arrival order)", fname(first))
		}
	}
	if len(o.Order) == 1 && !o.Order[0].Desc {
		switch c := o.Order[0].Col; {
		case c == in.proctime:
			o.OrderTime = planner.ProcTime
		case c == in.rowtime1-1:
			o.OrderTime = planner.EventTime
		}
	}
	var names []string
	for _, wf := range calls {
		kind := overAggKinds[strings.ToLower(wf.Name)]
		if len(wf.Args) != 1 {
			return nil, b.errf(wf, "%s takes one argument", strings.ToUpper(wf.Name))
		}
		call := exec.AggCall{Kind: kind, Arg: -1}
		if kind == exec.AggCount && isConstAST(wf.Args[0]) {
			call.Kind, call.Type = exec.AggCountStar, types.TBigInt
		} else {
			nested := &overCollector{}
			wf.Args[0].Accept(nested)
			if hasAggregate(wf.Args[0]) || len(nested.found) > 0 {
				return nil, b.errf(wf, "%s: aggregate functions cannot be nested", fname(wf))
			}
			e, err := b.expr(wf.Args[0], in, nil)
			if err != nil {
				return nil, err
			}
			call.ArgType = e.Type()
			call.Type = exec.AggResultType(kind, e.Type())
			if call.Type.Kind == types.Null {
				return nil, b.errf(wf, "%s is not defined on %s", strings.ToUpper(wf.Name), e.Type())
			}
			call.Arg = placeExpr(e, "$arg "+restore(wf.Args[0]))
		}
		o.Aggs = append(o.Aggs, call)
		names = append(names, restore(wf))
	}
	o.Input = node
	if len(pre) > len(sch.Cols) {
		o.Input = &planner.Project{Input: node, Exprs: pre, Sch: preSch}
	}
	o.Sch = types.Schema{Cols: append([]types.Column(nil), preSch.Cols...)}
	if b.overCols == nil {
		b.overCols = map[*ast.WindowFuncExpr]*expr.Column{}
	}
	for i, a := range o.Aggs {
		col := &expr.Column{Index: len(o.Sch.Cols), Name: names[i], Typ: a.Type}
		o.Sch.Cols = append(o.Sch.Cols, types.Column{Name: names[i], Type: a.Type, Nullable: true})
		b.overCols[calls[i]] = col
	}
	st, off := b.st, max(b.st.NodeOffset(first), 0)
	o.Errorf = func(format string, args ...any) error { return st.Errorf(off, format, args...) }
	return o, nil
}

// overFrame reads a window frame: preceding (-1 for UNBOUNDED) and
// whether it is a RANGE frame. No frame is RANGE BETWEEN UNBOUNDED
// PRECEDING AND CURRENT ROW, as in SQL.
func (b *binder) overFrame(wf *ast.WindowFuncExpr, f *ast.FrameClause) (int64, bool, error) {
	name := strings.ToUpper(wf.Name) + "(...) OVER (...)"
	if f == nil {
		return -1, true, nil
	}
	start, end := f.Extent.Start, f.Extent.End
	unsupported := func(what string) (int64, bool, error) {
		return 0, false, b.errf(wf, "%s: %s; OVER windows take ROWS BETWEEN n PRECEDING AND CURRENT ROW, ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW or RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", name, what)
	}
	if end.Type != ast.CurrentRow || start.Type == ast.Following {
		return unsupported("frames reaching past the current row (FOLLOWING) are not supported")
	}
	switch f.Type {
	case ast.Rows:
		switch {
		case start.Type == ast.CurrentRow:
			return 0, false, nil
		case start.UnBounded:
			return -1, false, nil
		}
		n, err := b.constInt(start.Expr, "ROWS ... PRECEDING")
		if err != nil || n > 1<<30 {
			return 0, false, b.errf(wf, "%s: ROWS n PRECEDING takes a non-negative integer constant up to %d", name, 1<<30)
		}
		return n, false, nil
	case ast.Ranges:
		if start.Type == ast.Preceding && start.UnBounded {
			return -1, true, nil
		}
		return unsupported("RANGE frames with an offset are not supported")
	}
	return unsupported("GROUPS frames are not supported")
}

// overRef resolves an OVER aggregate of the SELECT list being bound.
func (b *binder) overRef(wf *ast.WindowFuncExpr) (expr.Expr, error) {
	if c, ok := b.overCols[wf]; ok {
		return c, nil
	}
	return nil, b.errf(wf, "%s(...) OVER (...) is only allowed in a SELECT list", strings.ToUpper(wf.Name))
}
