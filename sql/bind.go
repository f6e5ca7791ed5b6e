package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// scopeCol is a column visible to expressions.
type scopeCol struct {
	qual string // table name or alias
	name string
	typ  types.Type
}

type scope struct {
	cols []scopeCol
	// windowed TVF: window_start/window_end columns of this scope belong to
	// this window spec (set when FROM is a window table-valued function)
	tvf *tvfInfo
	// proctime column index, -1 if none
	proctime int
	// rowtime1 is 1 + the index of the event-time column (the column a
	// WATERMARK is declared on, carried through projections); 0 if none.
	rowtime1 int
	// watermarked: a watermark is declared somewhere below, so windows must
	// be on the event-time column (or PROCTIME) to be judged correctly.
	watermarked bool
	// winStart1 and winEnd1 are 1 + the indexes of window_start and
	// window_end of an event-time windowed input (a window aggregation's
	// result, or an ungrouped TUMBLE table function), carried through
	// projections; 0 if none. A Top-N partitioned by both is per window.
	winStart1, winEnd1 int
	// rank is a Top-N whose bounds an enclosing WHERE must set, and
	// rankCol1 1 + the index of its rank number column (bind_rank.go)
	rank     *rankRef
	rankCol1 int
	// joined: the rows come out of a join, which keeps no event time.
	joined bool
	// overUpdating: the rows come out of an updating OVER aggregation,
	// which keeps no event time either.
	overUpdating bool
	// lookup is set on the scope of a FOR SYSTEM_TIME AS OF table.
	lookup *LookupRef
}

type tvfInfo struct {
	spec      exec.WindowSpec
	startCol  int
	endCol    int
	proctime  bool
	partition []int
	// clockOK: the window is on the event-time column, or no watermark is
	// declared (windows then fire at end of input)
	clockOK bool
}

func (s *scope) schema() types.Schema {
	out := types.Schema{Cols: make([]types.Column, len(s.cols))}
	for i, c := range s.cols {
		out.Cols[i] = types.Column{Name: c.name, Type: c.typ, Nullable: true}
	}
	return out
}

// binder binds one statement.
type binder struct {
	s    *Session
	st   *Statement
	ctes []map[string]*ast.CommonTableExpression
	// ranks are the window functions bound so far; checkRanks fails on
	// one that no WHERE bounded
	ranks []*rankRef
	// overCols: the output column of each OVER aggregate of the SELECT
	// lists bound so far (bind_over.go)
	overCols map[*ast.WindowFuncExpr]*expr.Column
}

func (b *binder) errf(node ast.Node, format string, args ...any) error {
	off := 0
	if node != nil {
		if o := b.st.NodeOffset(node); o >= 0 {
			off = o
		}
	}
	return b.st.Errorf(off, format, args...)
}

func (b *binder) errAtName(name string, format string, args ...any) error {
	off := b.st.LocateOffset(name, 0)
	if off < 0 {
		off = 0
	}
	return b.st.Errorf(off, format, args...)
}

// query binds a SELECT or UNION; names are the output column names.
func (b *binder) query(n ast.ResultSetNode) (planner.Node, *scope, error) {
	switch q := n.(type) {
	case *ast.SelectStmt:
		return b.selectStmt(q)
	case *ast.SetOprStmt:
		return b.setOpr(q)
	case *ast.SubqueryExpr:
		return b.query(q.Query)
	}
	return nil, nil, b.errf(nil, "unsupported query form %T", n)
}

func (b *binder) pushWith(w *ast.WithClause) {
	m := map[string]*ast.CommonTableExpression{}
	if w != nil {
		for _, c := range w.CTEs {
			m[c.Name.L] = c
		}
	}
	b.ctes = append(b.ctes, m)
}

func (b *binder) popWith() { b.ctes = b.ctes[:len(b.ctes)-1] }

func (b *binder) setOpr(q *ast.SetOprStmt) (planner.Node, *scope, error) {
	if q.With != nil {
		if q.With.IsRecursive {
			return nil, nil, b.errf(nil, "recursive CTEs are not supported")
		}
		b.pushWith(q.With)
		defer b.popWith()
	}
	var inputs []planner.Node
	var first *scope
	var unionRowtime int
	var unionWM bool
	distinct := false
	for i, sel := range q.SelectList.Selects {
		if i > 0 {
			var op *ast.SetOprType
			switch t := sel.(type) {
			case *ast.SelectStmt:
				op = t.AfterSetOperator
			case *ast.SetOprSelectList:
				op = t.AfterSetOperator
			}
			if op != nil {
				switch *op {
				case ast.UnionAll:
				case ast.Union:
					distinct = true
				default:
					return nil, nil, b.errf(nil, "%s is not supported (UNION and UNION ALL are)", op.String())
				}
			}
		}
		var (
			node planner.Node
			sc   *scope
			err  error
		)
		switch t := sel.(type) {
		case *ast.SelectStmt:
			node, sc, err = b.selectStmt(t)
		case *ast.SetOprSelectList:
			node, sc, err = b.setOpr(&ast.SetOprStmt{SelectList: t})
		default:
			err = b.errf(nil, "unsupported set operand %T", sel)
		}
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = sc
			unionRowtime, unionWM = sc.rowtime1, sc.watermarked
		} else {
			if sc.rowtime1 != unionRowtime {
				unionRowtime = 0
			}
			unionWM = unionWM || sc.watermarked
			if len(sc.cols) != len(first.cols) {
				return nil, nil, b.errf(nil, "UNION operands have %d and %d columns", len(first.cols), len(sc.cols))
			}
			for j := range sc.cols {
				if sc.cols[j].typ.Kind != first.cols[j].typ.Kind {
					ct, ok := expr.CommonType(sc.cols[j].typ, first.cols[j].typ)
					if !ok {
						return nil, nil, b.errf(nil, "UNION column %d: %s and %s are incompatible", j+1, first.cols[j].typ, sc.cols[j].typ)
					}
					first.cols[j].typ = ct
				}
			}
		}
		inputs = append(inputs, node)
	}
	// cast operands to the common types
	for i, in := range inputs {
		inputs[i] = castTo(in, first)
	}
	out := &scope{cols: first.cols, proctime: -1, rowtime1: unionRowtime, watermarked: unionWM}
	var node planner.Node = &planner.Union{Inputs: inputs}
	if distinct {
		node = &planner.Aggregate{Input: node, Keys: seq(len(out.cols)), Sch: out.schema()}
	}
	if q.OrderBy != nil || q.Limit != nil {
		var err error
		node, err = b.orderLimit(node, out, q.OrderBy, q.Limit, nil)
		if err != nil {
			return nil, nil, err
		}
	}
	return node, out, nil
}

func castTo(n planner.Node, want *scope) planner.Node {
	sch := n.Schema()
	need := false
	exprs := make([]expr.Expr, len(sch.Cols))
	for i, c := range sch.Cols {
		var e expr.Expr = &expr.Column{Index: i, Name: c.Name, Typ: c.Type}
		if c.Type != want.cols[i].typ {
			e = &expr.Cast{X: e, Typ: want.cols[i].typ}
			need = true
		}
		exprs[i] = e
	}
	if !need {
		return n
	}
	return &planner.Project{Input: n, Exprs: exprs, Sch: want.schema()}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// from binds the FROM clause.
func (b *binder) from(f *ast.TableRefsClause) (planner.Node, *scope, error) {
	if f == nil {
		return &planner.Values{Rows: [][]expr.Expr{{}}}, &scope{proctime: -1}, nil
	}
	return b.tableRef(f.TableRefs)
}

func (b *binder) tableRef(r ast.ResultSetNode) (planner.Node, *scope, error) {
	switch t := r.(type) {
	case *ast.Join:
		if t.Right != nil {
			return b.join(t)
		}
		return b.tableRef(t.Left)
	case *ast.TableSource:
		alias := t.AsName.O
		switch src := t.Source.(type) {
		case *ast.TableName:
			return b.namedTable(src, alias)
		case *ast.SelectStmt, *ast.SetOprStmt:
			node, sc, err := b.query(src.(ast.ResultSetNode))
			if err != nil {
				return nil, nil, err
			}
			return node, requalify(sc, alias), nil
		}
		return nil, nil, b.errf(nil, "unsupported FROM item %T", t.Source)
	case *ast.SelectStmt, *ast.SetOprStmt:
		return b.query(t)
	}
	return nil, nil, b.errf(nil, "unsupported FROM item %T", r)
}

func requalify(sc *scope, alias string) *scope {
	out := &scope{cols: make([]scopeCol, len(sc.cols)), tvf: sc.tvf, proctime: sc.proctime, rowtime1: sc.rowtime1, watermarked: sc.watermarked,
		winStart1: sc.winStart1, winEnd1: sc.winEnd1, rank: sc.rank, rankCol1: sc.rankCol1, joined: sc.joined, overUpdating: sc.overUpdating}
	for i, c := range sc.cols {
		c.qual = alias
		out.cols[i] = c
	}
	return out
}

func (b *binder) namedTable(tn *ast.TableName, alias string) (planner.Node, *scope, error) {
	name := tn.Name.O
	if alias == "" {
		alias = name
	}
	if strings.HasPrefix(tn.Name.L, "__weir_tvf_") {
		return b.windowTVF(b.st.WindowTVF(name), alias)
	}
	if strings.HasPrefix(tn.Name.L, "__weir_lookup_") {
		ref := b.st.Lookup(name)
		if ref == nil {
			return nil, nil, b.errf(nil, "internal error: unknown lookup table %s", name)
		}
		if alias == name {
			alias = ref.Table
		}
		t, ok := b.s.cat.Table(ref.Table)
		if !ok {
			if _, isView := b.s.cat.View(ref.Table); isView {
				return nil, nil, b.st.Errorf(ref.Offset, "FOR SYSTEM_TIME AS OF: %s is a view; a lookup join reads a table", ref.Table)
			}
			return nil, nil, b.st.Errorf(ref.Offset, "table %s does not exist", ref.Table)
		}
		node, sc, err := b.scan(t, alias)
		if err != nil {
			return nil, nil, err
		}
		sc.lookup = ref
		return node, sc, nil
	}
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if cte, ok := b.ctes[i][tn.Name.L]; ok {
			// bind the CTE body with only the CTEs visible where it was defined
			saved := b.ctes
			b.ctes = b.ctes[:i+1]
			node, sc, err := b.query(cte.Query.Query)
			b.ctes = saved
			if err != nil {
				return nil, nil, err
			}
			sc = requalify(sc, alias)
			if len(cte.ColNameList) > 0 {
				if len(cte.ColNameList) != len(sc.cols) {
					return nil, nil, b.errAtName(name, "CTE %s names %d columns but its query has %d", name, len(cte.ColNameList), len(sc.cols))
				}
				for j, c := range cte.ColNameList {
					sc.cols[j].name = c.O
				}
				node = rename(node, sc)
			}
			return node, sc, nil
		}
	}
	if v, ok := b.s.cat.View(name); ok {
		vb := &binder{s: b.s, st: v.Stmt}
		node, sc, err := vb.query(v.Query)
		if err != nil {
			return nil, nil, fmt.Errorf("view %s: %w", v.Name, err)
		}
		for _, r := range vb.ranks {
			if r.view == "" {
				r.view = v.Name
			}
		}
		b.ranks = append(b.ranks, vb.ranks...)
		sc = requalify(sc, alias)
		if len(v.Cols) > 0 {
			for j := range sc.cols {
				if j < len(v.Cols) {
					sc.cols[j].name = v.Cols[j]
				}
			}
			node = rename(node, sc)
		}
		return node, sc, nil
	}
	t, ok := b.s.cat.Table(name)
	if !ok {
		return nil, nil, b.errAtName(name, "table or view %s does not exist", name)
	}
	return b.scan(t, alias)
}

func rename(n planner.Node, sc *scope) planner.Node {
	sch := n.Schema()
	exprs := make([]expr.Expr, len(sch.Cols))
	for i, c := range sch.Cols {
		exprs[i] = &expr.Column{Index: i, Name: c.Name, Typ: c.Type}
	}
	return &planner.Project{Input: n, Exprs: exprs, Sch: sc.schema()}
}

func (b *binder) scan(t *TableDef, alias string) (planner.Node, *scope, error) {
	ct := connectorTable(t)
	scan := &planner.Scan{Table: ct, Sch: types.Schema{Cols: append([]types.Column(nil), t.Schema.Cols...)}}
	if ld := t.Options["late-data"]; ld != "" && ld != "drop" {
		scan.Late = ld
	}
	sc := &scope{proctime: -1, rowtime1: t.RowtimeCol + 1, watermarked: t.RowtimeCol >= 0}
	for _, c := range t.Schema.Cols {
		sc.cols = append(sc.cols, scopeCol{qual: alias, name: c.Name, typ: c.Type})
	}
	var node planner.Node = scan
	if t.Proctime != "" {
		def, ok := expr.Lookup("proctime")
		if !ok {
			return nil, nil, fmt.Errorf("PROCTIME() is not available")
		}
		call, err := expr.NewCall(def, nil)
		if err != nil {
			return nil, nil, err
		}
		exprs := make([]expr.Expr, 0, len(sc.cols)+1)
		for i, c := range sc.cols {
			exprs = append(exprs, &expr.Column{Index: i, Name: c.name, Typ: c.typ})
		}
		exprs = append(exprs, call)
		sc.proctime = len(sc.cols)
		sc.cols = append(sc.cols, scopeCol{qual: alias, name: t.Proctime, typ: types.TTimestamp})
		node = &planner.Project{Input: scan, Exprs: exprs, Sch: sc.schema()}
	}
	return node, sc, nil
}

// windowTVF binds TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ...)): the table's
// columns plus window_start and window_end. The window is recognised when
// the query groups by window_start and window_end.
func (b *binder) windowTVF(w *WindowTVF, alias string) (planner.Node, *scope, error) {
	if w == nil {
		return nil, nil, b.errf(nil, "internal error: unknown window table function")
	}
	node, sc, err := b.namedTable(&ast.TableName{Name: ciStr(w.Table)}, alias)
	if err != nil {
		return nil, nil, err
	}
	tc := sc.index("", w.TimeCol)
	if tc < 0 {
		return nil, nil, b.errAtName(w.TimeCol, "DESCRIPTOR(%s): no such column in %s", w.TimeCol, w.Table)
	}
	if sc.cols[tc].typ.Kind != types.Timestamp {
		return nil, nil, b.errAtName(w.TimeCol, "DESCRIPTOR(%s): the time column must be TIMESTAMP(3), not %s", w.TimeCol, sc.cols[tc].typ)
	}
	spec, err := windowSpecFrom(strings.ToLower(w.Func), w.Intervals)
	if err != nil {
		return nil, nil, b.errAtName(w.Func, "%v", err)
	}
	spec.TimeCol = tc
	info := &tvfInfo{spec: spec, proctime: tc == sc.proctime, clockOK: tc != sc.proctime && (!sc.watermarked || tc == sc.rowtime1-1)}
	for _, p := range w.PartitionBy {
		i := sc.index("", p)
		if i < 0 {
			return nil, nil, b.errAtName(p, "PARTITION BY %s: no such column", p)
		}
		info.partition = append(info.partition, i)
	}
	out := &scope{cols: append([]scopeCol(nil), sc.cols...), proctime: sc.proctime, tvf: info, rowtime1: sc.rowtime1, watermarked: sc.watermarked}
	info.startCol = len(out.cols)
	info.endCol = len(out.cols) + 1
	if spec.Kind == exec.WindowTumble && info.clockOK {
		out.winStart1, out.winEnd1 = info.startCol+1, info.endCol+1
	}
	out.cols = append(out.cols, scopeCol{qual: alias, name: "window_start", typ: types.TTimestamp},
		scopeCol{qual: alias, name: "window_end", typ: types.TTimestamp})
	// Rows of a TVF not grouped by window: only TUMBLE maps a row to exactly
	// one window, which can be computed per row.
	exprs := make([]expr.Expr, 0, len(out.cols))
	for i, c := range sc.cols {
		exprs = append(exprs, &expr.Column{Index: i, Name: c.name, Typ: c.typ})
	}
	ts := &expr.Column{Index: tc, Name: sc.cols[tc].name, Typ: types.TTimestamp}
	size := &expr.Literal{Val: types.BigIntValue(spec.Size), Typ: types.TBigInt}
	offset := &expr.Literal{Val: types.BigIntValue(spec.Offset), Typ: types.TBigInt}
	startCall, err := expr.NewCall(tumbleStartDef, []expr.Expr{ts, size, offset})
	if err != nil {
		return nil, nil, err
	}
	endCall, err := expr.NewCall(tumbleEndDef, []expr.Expr{ts, size, offset})
	if err != nil {
		return nil, nil, err
	}
	exprs = append(exprs, startCall, endCall)
	return &planner.Project{Input: node, Exprs: exprs, Sch: out.schema()}, out, nil
}

func windowSpecFrom(fn string, iv []int64) (exec.WindowSpec, error) {
	var s exec.WindowSpec
	need := func(n int, sig string) error {
		if len(iv) < n || len(iv) > n+1 {
			return fmt.Errorf("%s expects %s", strings.ToUpper(fn), sig)
		}
		if len(iv) == n+1 {
			s.Offset = iv[n]
		}
		return nil
	}
	switch fn {
	case "tumble":
		if err := need(1, "(time_col, size)"); err != nil {
			return s, err
		}
		s.Kind, s.Size = exec.WindowTumble, iv[0]
	case "hop":
		if err := need(2, "(time_col, slide, size)"); err != nil {
			return s, err
		}
		s.Kind, s.Slide, s.Size = exec.WindowHop, iv[0], iv[1]
		if s.Slide > s.Size {
			// rows between windows would belong to no window and vanish
			return s, fmt.Errorf("HOP window: slide (%d ms) must not exceed size (%d ms)", s.Slide, s.Size)
		}
	case "cumulate":
		if err := need(2, "(time_col, step, max_size)"); err != nil {
			return s, err
		}
		s.Kind, s.Step, s.Size = exec.WindowCumulate, iv[0], iv[1]
	case "session", "session_window":
		if len(iv) != 1 {
			return s, fmt.Errorf("SESSION expects (time_col, gap)")
		}
		s.Kind, s.Gap = exec.WindowSession, iv[0]
	default:
		return s, fmt.Errorf("unknown window function %s", fn)
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// index finds a column by optional qualifier and name; -1 if absent, -2 if ambiguous.
func (s *scope) index(qual, name string) int {
	found := -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.name, name) {
			continue
		}
		if qual != "" && !strings.EqualFold(c.qual, qual) {
			continue
		}
		if found >= 0 {
			return -2
		}
		found = i
	}
	return found
}

func (s *scope) colExpr(i int) *expr.Column {
	return &expr.Column{Index: i, Name: s.cols[i].name, Typ: s.cols[i].typ}
}

// tumbleStartDef and tumbleEndDef compute a TUMBLE window's bounds per row;
// they back window_start/window_end of an ungrouped TUMBLE table function.
var (
	tumbleStartDef = &expr.FuncDef{Name: "tumble_window_start", Resolve: tumbleBound(false)}
	tumbleEndDef   = &expr.FuncDef{Name: "tumble_window_end", Resolve: tumbleBound(true)}
)

func tumbleBound(end bool) func([]types.Type) (types.Type, expr.Impl, error) {
	return func([]types.Type) (types.Type, expr.Impl, error) {
		return types.TTimestamp, func(a []types.Value) (types.Value, error) {
			w := exec.TumbleWindow(a[0].I, a[1].I, a[2].I)
			if end {
				return types.TimestampValue(w.End), nil
			}
			return types.TimestampValue(w.Start), nil
		}, nil
	}
}
