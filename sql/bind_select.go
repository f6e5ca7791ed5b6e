package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

func ciStr(s string) ast.CIStr { return ast.NewCIStr(s) }

// restore prints an AST expression back to SQL (used for default column
// names and for matching expressions against GROUP BY items).
func restore(n ast.Node) string {
	var sb strings.Builder
	ctx := format.NewRestoreCtx(format.RestoreStringSingleQuotes|format.RestoreKeyWordLowercase|format.RestoreNameLowercase, &sb)
	if err := n.Restore(ctx); err != nil {
		return ""
	}
	return sb.String()
}

// groupWindowFuncs are the window functions allowed in GROUP BY.
var groupWindowFuncs = map[string]bool{"tumble": true, "hop": true, "session_window": true, "cumulate": true}

// windowAuxFuncs map TUMBLE_START & co to (window function, start/end).
var windowAuxFuncs = map[string][2]string{
	"tumble_start": {"tumble", "start"}, "tumble_end": {"tumble", "end"}, "tumble_rowtime": {"tumble", "rowtime"},
	"hop_start": {"hop", "start"}, "hop_end": {"hop", "end"}, "hop_rowtime": {"hop", "rowtime"},
	"session_start": {"session_window", "start"}, "session_end": {"session_window", "end"}, "session_rowtime": {"session_window", "rowtime"},
	"cumulate_start": {"cumulate", "start"}, "cumulate_end": {"cumulate", "end"},
}

// aggState collects what a grouped SELECT needs while its expressions bind.
type aggState struct {
	in       *scope
	keyAST   []string    // restored text of each GROUP BY key, for matching
	keyExprs []expr.Expr // bound keys over the input
	window   *exec.WindowSpec
	winCall  string // restored text of the window call, for matching *_START args
	proctime bool
	// winClock: the window is on event time (its bounds can drive a
	// per-window Top-N)
	winClock bool
	aggs     []exec.AggCall
	aggArgs  []expr.Expr // argument expression of each agg (nil for COUNT(*))
	aggText  []string
	// output layout: keys..., [window_start, window_end], aggs...
}

func (a *aggState) nKeys() int    { return len(a.keyExprs) }
func (a *aggState) startCol() int { return len(a.keyExprs) }
func (a *aggState) aggCol(i int) int {
	if a.window != nil {
		return len(a.keyExprs) + 2 + i
	}
	return len(a.keyExprs) + i
}

func (b *binder) selectStmt(sel *ast.SelectStmt) (planner.Node, *scope, error) {
	if sel.With != nil {
		if sel.With.IsRecursive {
			return nil, nil, b.errf(nil, "recursive CTEs are not supported")
		}
		b.pushWith(sel.With)
		defer b.popWith()
	}
	if sel.WindowSpecs != nil {
		return nil, nil, b.errf(nil, "named WINDOW clauses are not supported")
	}
	node, in, err := b.from(sel.From)
	if err != nil {
		return nil, nil, err
	}
	if sel.Where != nil {
		if hasAggregate(sel.Where) {
			return nil, nil, b.errf(sel.Where, "aggregate functions are not allowed in WHERE (use HAVING)")
		}
		conds := []ast.ExprNode{sel.Where}
		if in.rank != nil && !in.rank.done {
			// a Top-N below: its bounds come out of this WHERE
			if conds, err = b.boundRank(sel.Where, in); err != nil {
				return nil, nil, err
			}
		}
		var preds []expr.Expr
		for _, c := range conds {
			pred, err := b.boolExpr(c, in, nil, "WHERE")
			if err != nil {
				return nil, nil, err
			}
			preds = append(preds, pred)
		}
		switch len(preds) {
		case 0:
		case 1:
			node = &planner.Filter{Input: node, Pred: preds[0]}
		default:
			node = &planner.Filter{Input: node, Pred: &expr.And{Args: preds}}
		}
	}
	grouped := sel.GroupBy != nil || sel.Having != nil
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil && hasAggregate(f.Expr) {
			grouped = true
		}
	}
	var ag *aggState
	if grouped {
		node, ag, err = b.groupBy(sel, node, in)
		if err != nil {
			return nil, nil, err
		}
	} else if in.tvf != nil && in.tvf.spec.Kind != exec.WindowTumble && usesWindowCols(sel, in) {
		return nil, nil, b.errf(nil, "%s window table function: window_start/window_end are only available when the query groups by them (only TUMBLE assigns each row to one window)", in.tvf.spec.Kind)
	}
	wfAt, err := b.windowFuncField(sel)
	if err != nil {
		return nil, nil, err
	}
	// OVER aggregates: computed between the WHERE and the SELECT list
	rowtime1, overUpdating := in.rowtime1, in.overUpdating
	overs := overCalls(sel)
	if len(overs) > 0 {
		switch {
		case ag != nil:
			return nil, nil, b.errf(overs[0], "%s(...) OVER (...) cannot be combined with GROUP BY or aggregate functions in one SELECT; aggregate in a subquery and apply the OVER window in an enclosing query", strings.ToUpper(overs[0].Name))
		case wfAt >= 0:
			return nil, nil, b.errf(sel.Fields.Fields[wfAt].Expr, "%s() OVER (...) and aggregates OVER (...) cannot be in one SELECT list; rank in a subquery", strings.ToUpper(sel.Fields.Fields[wfAt].Expr.(*ast.WindowFuncExpr).Name))
		}
		o, err := b.bindOver(overs, node, in)
		if err != nil {
			return nil, nil, err
		}
		node = o
		if planner.Updating(o) {
			rowtime1, overUpdating = 0, true // an updating result has no event time
		}
	}
	// A pending Top-N below passes its mark on through plain projections;
	// window bounds pass through projections, or come out of this
	// SELECT's event-time window.
	passRank := in.rank != nil && !in.rank.done && ag == nil && len(overs) == 0 && !sel.Distinct && sel.OrderBy == nil && sel.Limit == nil
	winStart, winEnd := in.winStart1-1, in.winEnd1-1
	if ag != nil {
		winStart, winEnd = -1, -1
		if ag.window != nil && ag.winClock {
			winStart, winEnd = ag.startCol(), ag.startCol()+1
		}
	}
	// track notes where input column j went: output column len(out.cols)-1
	out := &scope{proctime: -1, watermarked: in.watermarked, joined: in.joined, overUpdating: overUpdating}
	track := func(j int) {
		at := len(out.cols) // 1-based index of the column just added
		switch {
		case ag == nil && j == in.proctime:
			out.proctime = at - 1
		case ag == nil && j == rowtime1-1:
			out.rowtime1 = at
		}
		if passRank && j == in.rankCol1-1 && out.rank == nil {
			out.rank, out.rankCol1 = in.rank, at
		}
		if j >= 0 && j == winStart && out.winStart1 == 0 {
			out.winStart1 = at
		}
		if j >= 0 && j == winEnd && out.winEnd1 == 0 {
			out.winEnd1 = at
		}
	}
	// SELECT list
	var exprs []expr.Expr
	wfExpr := -1 // index in exprs of the window function's column
	for i, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			if ag != nil {
				return nil, nil, b.errf(nil, "SELECT * is not allowed with GROUP BY")
			}
			q := f.WildCard.Table.O
			n := 0
			for j, c := range in.cols {
				if q != "" && !strings.EqualFold(c.qual, q) {
					continue
				}
				exprs = append(exprs, in.colExpr(j))
				out.cols = append(out.cols, scopeCol{name: c.name, typ: c.typ})
				track(j)
				n++
			}
			if n == 0 && q != "" {
				return nil, nil, b.errAtName(q, "unknown table %s in %s.*", q, q)
			}
			continue
		}
		name := f.AsName.O
		if name == "" {
			name = defaultName(f, i)
		}
		if i == wfAt {
			// its column comes from the Rank, built below
			wfExpr = len(exprs)
			exprs = append(exprs, nil)
			out.cols = append(out.cols, scopeCol{name: name, typ: types.TBigInt})
			continue
		}
		e, err := b.expr(f.Expr, in, ag)
		if err != nil {
			return nil, nil, err
		}
		e = expr.Fold(e)
		exprs = append(exprs, e)
		out.cols = append(out.cols, scopeCol{name: name, typ: e.Type()})
		if c, ok := e.(*expr.Column); ok {
			track(c.Index)
		}
		if fc, ok := f.Expr.(*ast.FuncCallExpr); ok && ag != nil && ag.window != nil && windowAuxFuncs[fc.FnName.L][1] == "rowtime" {
			out.rowtime1 = len(out.cols) // *_ROWTIME is the window result's event time
		}
	}
	if ag != nil && sel.Having != nil {
		pred, err := b.boolExpr(sel.Having.Expr, in, ag, "HAVING")
		if err != nil {
			return nil, nil, err
		}
		node = &planner.Filter{Input: node, Pred: pred}
	}
	if wfAt >= 0 {
		wf := sel.Fields.Fields[wfAt].Expr.(*ast.WindowFuncExpr)
		name := out.cols[wfExpr].name
		r, err := b.bindRank(wf, name, node, in, ag)
		if err != nil {
			return nil, nil, err
		}
		node = r
		exprs[wfExpr] = &expr.Column{Index: len(r.Sch.Cols) - 1, Name: name, Typ: types.TBigInt}
		ref := &rankRef{colName: name, node: r, wf: wf, st: b.st, name: strings.ToUpper(wf.Name) + "()"}
		b.ranks = append(b.ranks, ref)
		if !sel.Distinct && sel.OrderBy == nil && sel.Limit == nil {
			out.rank, out.rankCol1 = ref, wfExpr+1
		}
	}
	// ORDER BY may name output aliases or input expressions; bind against
	// the output (aliases) first.
	node = &planner.Project{Input: node, Exprs: exprs, Sch: out.schema()}
	if sel.Distinct {
		node = &planner.Aggregate{Input: node, Keys: seq(len(out.cols)), Sch: out.schema()}
	}
	if sel.OrderBy != nil || sel.Limit != nil {
		node, err = b.orderLimit(node, out, sel.OrderBy, sel.Limit, sel.Fields)
		if err != nil {
			return nil, nil, err
		}
	}
	return node, out, nil
}

func usesWindowCols(sel *ast.SelectStmt, in *scope) bool {
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			return true
		}
		t := restore(f.Expr)
		if strings.Contains(t, "window_start") || strings.Contains(t, "window_end") {
			return true
		}
	}
	return false
}

func defaultName(f *ast.SelectField, i int) string {
	if c, ok := f.Expr.(*ast.ColumnNameExpr); ok {
		return c.Name.Name.O
	}
	if t := strings.Join(strings.Fields(f.Text()), " "); t != "" && len(t) <= 64 {
		return t
	}
	return fmt.Sprintf("EXPR$%d", i)
}

func (b *binder) orderLimit(node planner.Node, out *scope, order *ast.OrderByClause, limit *ast.Limit, fields *ast.FieldList) (planner.Node, error) {
	s := &planner.Sort{Input: node, Limit: -1}
	if order != nil {
		for _, it := range order.Items {
			col := -1
			switch e := it.Expr.(type) {
			case *ast.ColumnNameExpr:
				col = out.index("", e.Name.Name.O)
				if col == -2 {
					return nil, b.errf(e, "ORDER BY %s is ambiguous", e.Name.Name.O)
				}
			case *ast.PositionExpr:
				if e.N >= 1 && e.N <= len(out.cols) {
					col = e.N - 1
				}
			}
			if col < 0 && fields != nil {
				// an expression written the same way as a SELECT item
				t := restore(it.Expr)
				for j, f := range fields.Fields {
					if f.Expr != nil && restore(f.Expr) == t {
						col = j
					}
				}
			}
			if col < 0 {
				return nil, b.errf(it.Expr, "ORDER BY %s: order by an output column or its position", restore(it.Expr))
			}
			s.Keys = append(s.Keys, planner.SortKey{Col: col, Desc: it.Desc})
		}
	}
	if limit != nil {
		n, err := b.constInt(limit.Count, "LIMIT")
		if err != nil {
			return nil, err
		}
		s.Limit = n
		if limit.Offset != nil {
			o, err := b.constInt(limit.Offset, "OFFSET")
			if err != nil {
				return nil, err
			}
			s.Offset = o
		}
	}
	return s, nil
}

func (b *binder) constInt(n ast.ExprNode, what string) (int64, error) {
	e, err := b.expr(n, &scope{proctime: -1}, nil)
	if err != nil {
		return 0, err
	}
	v, err := expr.Fold(e).Eval(nil)
	if err != nil || !e.Type().IsInteger() || v.IsNull() || v.I < 0 {
		return 0, b.errf(n, "%s expects a non-negative integer constant", what)
	}
	return v.I, nil
}

// groupBy builds the aggregation below the SELECT list.
func (b *binder) groupBy(sel *ast.SelectStmt, input planner.Node, in *scope) (planner.Node, *aggState, error) {
	ag := &aggState{in: in}
	var tvfStart, tvfEnd bool
	if sel.GroupBy != nil {
		for _, it := range sel.GroupBy.Items {
			if fc, ok := it.Expr.(*ast.FuncCallExpr); ok && groupWindowFuncs[fc.FnName.L] {
				if ag.window != nil {
					return nil, nil, b.errf(fc, "only one window function is allowed in GROUP BY")
				}
				spec, proctime, err := b.groupWindow(fc, in)
				if err != nil {
					return nil, nil, err
				}
				ag.window = &spec
				ag.proctime = proctime
				ag.winClock = !proctime
				ag.winCall = restore(fc)
				continue
			}
			if c, ok := it.Expr.(*ast.ColumnNameExpr); ok && in.tvf != nil {
				i := in.index(c.Name.Table.O, c.Name.Name.O)
				if i == in.tvf.startCol {
					tvfStart = true
					continue
				}
				if i == in.tvf.endCol {
					tvfEnd = true
					continue
				}
			}
			if hasAggregate(it.Expr) {
				return nil, nil, b.errf(it.Expr, "aggregate functions are not allowed in GROUP BY")
			}
			if p, ok := it.Expr.(*ast.PositionExpr); ok {
				return nil, nil, b.errf(p, "GROUP BY by position is not supported; name the column")
			}
			e, err := b.expr(it.Expr, in, nil)
			if err != nil {
				// GROUP BY an output alias (MySQL allows it)
				if c, ok := it.Expr.(*ast.ColumnNameExpr); ok && c.Name.Table.O == "" {
					if f := findAlias(sel.Fields, c.Name.Name.L); f != nil && !hasAggregate(f.Expr) {
						e2, err2 := b.expr(f.Expr, in, nil)
						if err2 == nil {
							ag.keyExprs = append(ag.keyExprs, e2)
							ag.keyAST = append(ag.keyAST, restore(f.Expr))
							continue
						}
					}
				}
				return nil, nil, err
			}
			ag.keyExprs = append(ag.keyExprs, e)
			ag.keyAST = append(ag.keyAST, restore(it.Expr))
		}
	}
	if tvfStart || tvfEnd {
		if !(tvfStart && tvfEnd) {
			return nil, nil, b.errf(sel.GroupBy, "a window table function query must GROUP BY both window_start and window_end")
		}
		if ag.window != nil {
			return nil, nil, b.errf(sel.GroupBy, "GROUP BY cannot combine a window table function with a group window function")
		}
		spec := in.tvf.spec
		ag.window = &spec
		ag.proctime = in.tvf.proctime
		ag.winClock = in.tvf.clockOK
	}
	// collect aggregate calls from SELECT and HAVING
	var collectErr error
	collect := func(n ast.Node) {
		ast.Node(n).Accept(&aggCollector{fn: func(a *ast.AggregateFuncExpr) {
			if collectErr == nil {
				collectErr = b.addAgg(ag, a, in)
			}
		}})
	}
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			collect(f.Expr)
		}
	}
	if sel.Having != nil {
		collect(sel.Having.Expr)
	}
	if collectErr != nil {
		return nil, nil, collectErr
	}
	// pre-projection: every input column (so late rows keep their shape),
	// then computed keys and agg arguments
	pre := make([]expr.Expr, 0, len(in.cols)+len(ag.keyExprs)+len(ag.aggs))
	preSch := types.Schema{}
	for i, c := range in.cols {
		pre = append(pre, in.colExpr(i))
		preSch.Cols = append(preSch.Cols, types.Column{Name: c.name, Type: c.typ, Nullable: true})
	}
	place := func(e expr.Expr, name string) int {
		if c, ok := e.(*expr.Column); ok {
			return c.Index
		}
		pre = append(pre, expr.Fold(e))
		preSch.Cols = append(preSch.Cols, types.Column{Name: name, Type: e.Type(), Nullable: true})
		return len(pre) - 1
	}
	var keys []int
	outSch := types.Schema{}
	for i, k := range ag.keyExprs {
		keys = append(keys, place(k, fmt.Sprintf("$key%d", i)))
		outSch.Cols = append(outSch.Cols, types.Column{Name: keyName(k, i), Type: k.Type(), Nullable: true})
	}
	for i := range ag.aggs {
		if ag.aggArgs[i] != nil {
			ag.aggs[i].Arg = place(ag.aggArgs[i], fmt.Sprintf("$arg%d", i))
		}
	}
	var node planner.Node = &planner.Project{Input: input, Exprs: pre, Sch: preSch}
	if ag.window != nil {
		outSch.Cols = append(outSch.Cols, types.Column{Name: "window_start", Type: types.TTimestamp},
			types.Column{Name: "window_end", Type: types.TTimestamp})
	}
	for i, a := range ag.aggs {
		outSch.Cols = append(outSch.Cols, types.Column{Name: ag.aggText[i], Type: a.Type, Nullable: true})
	}
	if ag.window != nil {
		node = &planner.WindowAgg{Input: node, Keys: keys, Window: *ag.window, Aggs: ag.aggs, Sch: outSch, Proctime: ag.proctime}
	} else {
		node = &planner.Aggregate{Input: node, Keys: keys, Aggs: ag.aggs, Sch: outSch}
	}
	return node, ag, nil
}

func keyName(e expr.Expr, i int) string {
	if c, ok := e.(*expr.Column); ok {
		return c.Name
	}
	return fmt.Sprintf("$key%d", i)
}

func findAlias(fl *ast.FieldList, name string) *ast.SelectField {
	for _, f := range fl.Fields {
		if f.AsName.L == name {
			return f
		}
	}
	return nil
}

func (b *binder) groupWindow(fc *ast.FuncCallExpr, in *scope) (exec.WindowSpec, bool, error) {
	var spec exec.WindowSpec
	if len(fc.Args) < 2 {
		return spec, false, b.errf(fc, "%s expects (time_column, interval...)", strings.ToUpper(fc.FnName.O))
	}
	ts, err := b.expr(fc.Args[0], in, nil)
	if err != nil {
		return spec, false, err
	}
	col, ok := ts.(*expr.Column)
	if !ok || col.Typ.Kind != types.Timestamp {
		return spec, false, b.errf(fc.Args[0], "%s: the first argument must be a TIMESTAMP(3) column (event time with a WATERMARK, or PROCTIME())", strings.ToUpper(fc.FnName.O))
	}
	if in.joined && in.watermarked && col.Index != in.proctime && col.Index != in.rowtime1-1 {
		return spec, false, b.errf(fc.Args[0], "%s(%s, ...): windows over the result of a join are not supported, as a join keeps no event time; window each input before joining them (a window join)", strings.ToUpper(fc.FnName.O), col.Name)
	}
	if in.overUpdating && in.watermarked && col.Index != in.proctime && col.Index != in.rowtime1-1 {
		return spec, false, b.errf(fc.Args[0], "%s(%s, ...): windows over the result of an updating OVER aggregation are not supported, as it keeps no event time", strings.ToUpper(fc.FnName.O), col.Name)
	}
	if in.watermarked && col.Index != in.proctime && col.Index != in.rowtime1-1 {
		// The watermark follows another column: rows would be judged late
		// against the wrong clock and dropped. Flink refuses this too.
		want := "the column the WATERMARK is declared on"
		if in.rowtime1 > 0 {
			want = in.cols[in.rowtime1-1].name
		}
		return spec, false, b.errf(fc.Args[0], "%s(%s, ...): %s is not the event-time column; window on %s (or on PROCTIME()), or declare the WATERMARK on the column you window on", strings.ToUpper(fc.FnName.O), col.Name, col.Name, want)
	}
	var ivs []int64
	for _, a := range fc.Args[1:] {
		ms, err := b.intervalArg(a)
		if err != nil {
			return spec, false, err
		}
		ivs = append(ivs, ms)
	}
	spec, err = windowSpecFrom(fc.FnName.L, ivs)
	if err != nil {
		return spec, false, b.errf(fc, "%v", err)
	}
	spec.TimeCol = col.Index
	return spec, col.Index == in.proctime, nil
}

// intervalArg reads a window size: '10 SECOND', '10 seconds', '10s'.
func (b *binder) intervalArg(a ast.ExprNode) (int64, error) {
	e, err := b.expr(a, &scope{proctime: -1}, nil)
	if err == nil {
		if v, err2 := expr.Fold(e).Eval(nil); err2 == nil && v.Kind == types.Varchar {
			ms, err3 := ParseInterval(v.S)
			if err3 != nil {
				return 0, b.errf(a, "%v", err3)
			}
			if ms <= 0 {
				return 0, b.errf(a, "window interval must be positive")
			}
			return ms, nil
		}
	}
	return 0, b.errf(a, "window sizes are intervals: INTERVAL '10' SECOND or '10 seconds'")
}

type aggCollector struct {
	fn func(*ast.AggregateFuncExpr)
}

func (c *aggCollector) Enter(n ast.Node) (ast.Node, bool) {
	if a, ok := n.(*ast.AggregateFuncExpr); ok {
		c.fn(a)
		return n, true
	}
	if _, ok := n.(*ast.SubqueryExpr); ok {
		return n, true
	}
	return n, false
}
func (c *aggCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func hasAggregate(n ast.Node) bool {
	found := false
	n.Accept(&aggCollector{fn: func(*ast.AggregateFuncExpr) { found = true }})
	return found
}

var aggKinds = map[string]exec.AggKind{"count": exec.AggCount, "sum": exec.AggSum, "avg": exec.AggAvg, "min": exec.AggMin, "max": exec.AggMax}

func (b *binder) addAgg(ag *aggState, a *ast.AggregateFuncExpr, in *scope) error {
	text := restore(a)
	for _, t := range ag.aggText {
		if t == text {
			return nil
		}
	}
	name := strings.ToLower(a.F)
	kind, ok := aggKinds[name]
	if !ok {
		return b.errf(a, "aggregate function %s is not supported (COUNT, SUM, AVG, MIN, MAX)", strings.ToUpper(a.F))
	}
	if len(a.Args) != 1 {
		return b.errf(a, "%s takes one argument", strings.ToUpper(a.F))
	}
	for _, arg := range a.Args {
		if hasAggregate(arg) {
			return b.errf(arg, "aggregate functions cannot be nested")
		}
	}
	call := exec.AggCall{Kind: kind, Distinct: a.Distinct, Arg: -1}
	var argExpr expr.Expr
	if kind == exec.AggCount && !a.Distinct && isCountStar(a) {
		call.Kind = exec.AggCountStar
		call.Type = types.TBigInt
	} else {
		e, err := b.expr(a.Args[0], in, nil)
		if err != nil {
			return err
		}
		call.ArgType = e.Type()
		call.Type = exec.AggResultType(kind, e.Type())
		if call.Type.Kind == types.Null {
			return b.errf(a, "%s is not defined on %s", strings.ToUpper(a.F), e.Type())
		}
		argExpr = e
	}
	ag.aggs = append(ag.aggs, call)
	ag.aggArgs = append(ag.aggArgs, argExpr)
	ag.aggText = append(ag.aggText, text)
	return nil
}

func isCountStar(a *ast.AggregateFuncExpr) bool {
	if len(a.Args) != 1 {
		return false
	}
	if _, ok := a.Args[0].(*ast.ColumnNameExpr); ok {
		return false
	}
	// COUNT(*) arrives as COUNT(1); COUNT(<constant>) counts rows too
	return isConstAST(a.Args[0])
}
