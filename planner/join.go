package planner

// Physical planning of joins: which operator runs a logical Join.
//
// The condition (ON, plus the WHERE conjuncts Optimize merged into an
// inner join) is split into conjuncts and each is classified:
//
//   - an equality (= or <=>) between an expression of the left input and
//     one of the right input, of comparable types, is a key pair; keys
//     that are not plain columns, or whose types differ, are computed by a
//     Calc below the join (cast to their common type, so that equal values
//     hash to the same key group);
//   - a comparison (<, <=, >, >=, BETWEEN) between the two inputs'
//     event-time columns, each plus or minus a fixed interval, bounds
//     right.ts - left.ts from below or above;
//   - anything else is the residual condition, evaluated on each pair.
//
// Then, in this order:
//
//   - Lookup set (FOR SYSTEM_TIME AS OF): a LookupJoin, INNER or LEFT,
//     with the right side loaded once when the job starts;
//   - both inputs append-only and windowed, with a key pair equating their
//     window_end columns: a WindowJoin (emits when the window closes);
//   - both inputs append-only with event time, and both a lower and an
//     upper bound on right.ts - left.ts: an IntervalJoin;
//   - otherwise a regular Join (the time bounds become residual).
//
// Joins with keys run at the default parallelism, both inputs hashed on
// their keys; a join without keys runs in one subtask.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

type joinKey struct {
	l, r     expr.Expr // over the left input and over the right input
	nullSafe bool
	text     string
}

type joinAnalysis struct {
	keys     []joinKey
	residual []expr.Expr // over [left..., right...]
	// time bounds on right.ts - left.ts, and the conjuncts they came from
	lower, upper       int64
	hasLower, hasUpper bool
	timeConj           []expr.Expr
}

// analyzeJoin classifies the conjuncts of t.Cond (see the file comment).
func analyzeJoin(t *Join) joinAnalysis {
	var a joinAnalysis
	nL := len(t.Left.Schema().Cols)
	for _, c := range conjuncts(t.Cond) {
		if isTrue(c) {
			continue
		}
		if k, ok := keyPair(c, nL); ok {
			a.keys = append(a.keys, k)
			continue
		}
		if t.LeftTime >= 0 && t.RightTime >= 0 && a.timeBound(c, t.LeftTime, nL+t.RightTime) {
			a.timeConj = append(a.timeConj, c)
			continue
		}
		a.residual = append(a.residual, c)
	}
	return a
}

// keyPair recognises l = r (or l <=> r) with l over the left input and r
// over the right one (either order), of types that compare as equal keys.
func keyPair(c expr.Expr, nL int) (joinKey, bool) {
	b, ok := c.(*expr.Binary)
	if !ok || b.Op != expr.OpEQ && b.Op != expr.OpNullSafeEQ {
		return joinKey{}, false
	}
	l, r := b.L, b.R
	ls, rs := joinSide(l, nL), joinSide(r, nL)
	if ls == 1 && rs == 0 {
		l, r, ls, rs = r, l, rs, ls
	}
	if ls != 0 || rs != 1 {
		return joinKey{}, false
	}
	lt, rt := l.Type(), r.Type()
	family := func(t types.Type) int {
		switch {
		case t.IsNumeric():
			return 1
		case t.Kind == types.Varchar:
			return 2
		case t.Kind == types.Timestamp:
			return 3
		case t.Kind == types.Bool:
			return 4
		}
		return 0
	}
	if family(lt) == 0 || family(lt) != family(rt) {
		return joinKey{}, false
	}
	if !sameKeyType(lt, rt) {
		ct, ok := expr.CommonType(lt, rt)
		if !ok {
			return joinKey{}, false
		}
		if !sameKeyType(lt, ct) {
			l = &expr.Cast{X: l, Typ: ct}
		}
		if !sameKeyType(rt, ct) {
			r = &expr.Cast{X: r, Typ: ct}
		}
	}
	text := sidedString(b.L, nL) + " " + b.Op.String() + " " + sidedString(b.R, nL)
	return joinKey{l: l, r: shiftCols(r, nL), nullSafe: b.Op == expr.OpNullSafeEQ, text: text}, true
}

// sidedString prints an expression over [left..., right...] with its
// columns named left.x / right.y (EXPLAIN).
func sidedString(e expr.Expr, nL int) string {
	return expr.Remap(e, func(c *expr.Column) expr.Expr {
		side := "left."
		if c.Index >= nL {
			side = "right."
		}
		return &expr.Column{Index: c.Index, Name: side + c.Name, Typ: c.Typ}
	}).String()
}

// sameKeyType: values of the two types encode and hash alike.
func sameKeyType(a, b types.Type) bool {
	return a.Kind == b.Kind && (a.Kind != types.Decimal || a.Scale == b.Scale)
}

// timeOffset recognises ts, or ts ± a fixed interval (TIMESTAMP_ADD of a
// constant amount in a unit of fixed length): column and offset in ms.
func timeOffset(e expr.Expr) (col int, off int64, ok bool) {
	switch x := e.(type) {
	case *expr.Column:
		if x.Typ.Kind == types.Timestamp {
			return x.Index, 0, true
		}
	case *expr.Call:
		if !strings.EqualFold(x.Def.Name, "timestamp_add") || len(x.Args) != 3 {
			return 0, 0, false
		}
		c, ok1 := x.Args[0].(*expr.Column)
		amt, ok2 := x.Args[1].(*expr.Literal)
		unit, ok3 := x.Args[2].(*expr.Literal)
		if !ok1 || !ok2 || !ok3 || !amt.Typ.IsInteger() || amt.Val.Kind == types.Null || unit.Val.Kind != types.Varchar {
			return 0, 0, false
		}
		n := amt.Val.I
		switch strings.ToUpper(unit.Val.S) {
		case "MICROSECOND":
			if n%1000 != 0 {
				return 0, 0, false
			}
			return c.Index, n / 1000, true
		case "MILLISECOND":
			return c.Index, n, true
		case "SECOND":
			return c.Index, n * 1000, true
		case "MINUTE":
			return c.Index, n * 60_000, true
		case "HOUR":
			return c.Index, n * 3_600_000, true
		case "DAY":
			return c.Index, n * 86_400_000, true
		case "WEEK":
			return c.Index, n * 7 * 86_400_000, true
		}
	}
	return 0, 0, false
}

// timeBound recognises a comparison of the left time column lt and the
// right one rt (indexes over [left..., right...]), each with an offset,
// and tightens the bounds on right.ts - left.ts.
func (a *joinAnalysis) timeBound(c expr.Expr, lt, rt int) bool {
	b, ok := c.(*expr.Binary)
	if !ok || b.Op < expr.OpLT || b.Op > expr.OpGE {
		return false
	}
	ac, ao, ok1 := timeOffset(b.L)
	bc, bo, ok2 := timeOffset(b.R)
	if !ok1 || !ok2 {
		return false
	}
	op := b.Op
	// normalise to left + lo OP right + ro
	var lo, ro int64
	switch {
	case ac == lt && bc == rt:
		lo, ro = ao, bo
	case ac == rt && bc == lt:
		lo, ro = bo, ao
		op = map[expr.BinOp]expr.BinOp{expr.OpLT: expr.OpGT, expr.OpLE: expr.OpGE, expr.OpGT: expr.OpLT, expr.OpGE: expr.OpLE}[op]
	default:
		return false
	}
	// left + lo OP right + ro  ⇔  right - left OP' lo - ro
	d := lo - ro
	switch op {
	case expr.OpLE: // right - left >= d
		a.setLower(d)
	case expr.OpLT:
		a.setLower(d + 1)
	case expr.OpGE: // right - left <= d
		a.setUpper(d)
	case expr.OpGT:
		a.setUpper(d - 1)
	}
	return true
}

func (a *joinAnalysis) setLower(v int64) {
	if !a.hasLower || v > a.lower {
		a.lower, a.hasLower = v, true
	}
}

func (a *joinAnalysis) setUpper(v int64) {
	if !a.hasUpper || v < a.upper {
		a.upper, a.hasUpper = v, true
	}
}

func (b *builder) joinErr(t *Join, format string, args ...any) error {
	if t.Errorf != nil {
		return t.Errorf(format, args...)
	}
	return fmt.Errorf(format, args...)
}

// keyColumns returns the input's columns holding keys, adding a Calc that
// computes the keys that are not plain columns.
func (b *builder) keyColumns(in *PNode, keys []expr.Expr) (*PNode, []int) {
	cols := make([]int, len(keys))
	var extra []expr.Expr
	width := len(in.Schema.Cols)
	for i, k := range keys {
		if c, ok := k.(*expr.Column); ok {
			cols[i] = c.Index
			continue
		}
		cols[i] = width + len(extra)
		extra = append(extra, expr.Fold(k))
	}
	if len(extra) == 0 {
		return in, cols
	}
	exprs := make([]expr.Expr, 0, width+len(extra))
	sch := &types.Schema{}
	for i, c := range in.Schema.Cols {
		exprs = append(exprs, &expr.Column{Index: i, Name: c.Name, Typ: c.Type})
		sch.Cols = append(sch.Cols, c)
	}
	var parts []string
	for i, e := range extra {
		exprs = append(exprs, e)
		sch.Cols = append(sch.Cols, types.Column{Name: fmt.Sprintf("$joinkey%d", i), Type: e.Type(), Nullable: true})
		parts = append(parts, e.String())
	}
	p := b.add(&PNode{Op: "Calc", Parallelism: in.Parallelism, Schema: sch, Changelog: in.Changelog,
		Details: []string{"join keys=[" + strings.Join(parts, ", ") + "]"}})
	p.Inputs = []PEdge{{From: in, Kind: exec.Forward}}
	p.operator = func(*exec.TaskContext) (exec.Operator, error) { return &exec.Calc{Exprs: exprs}, nil }
	return p, cols
}

func (b *builder) buildJoin(t *Join) (*PNode, error) {
	if t.Lookup {
		return b.buildLookupJoin(t)
	}
	left, err := b.build(t.Left)
	if err != nil {
		return nil, err
	}
	right, err := b.build(t.Right)
	if err != nil {
		return nil, err
	}
	a := analyzeJoin(t)
	nL, nR := len(t.Left.Schema().Cols), len(t.Right.Schema().Cols)
	appendOnly := !left.Changelog && !right.Changelog

	op := "Join"
	switch {
	case appendOnly && t.LeftWinEnd >= 0 && t.RightWinEnd >= 0 && a.hasWindowKey(t.LeftWinEnd, t.RightWinEnd):
		op = "WindowJoin"
	case appendOnly && a.hasLower && a.hasUpper:
		op = "IntervalJoin"
	}
	residual := a.residual
	if op != "IntervalJoin" {
		residual = append(residual, a.timeConj...)
	}
	var res expr.Expr
	if len(residual) > 0 {
		res = expr.Fold(conjunction(residual))
	}
	lk := make([]expr.Expr, len(a.keys))
	rk := make([]expr.Expr, len(a.keys))
	nullSafe := make([]bool, len(a.keys))
	var keyText []string
	for i, k := range a.keys {
		lk[i], rk[i], nullSafe[i] = k.l, k.r, k.nullSafe
		keyText = append(keyText, k.text)
	}
	left, lcols := b.keyColumns(left, lk)
	right, rcols := b.keyColumns(right, rk)

	par := b.opts.Parallelism
	if len(a.keys) == 0 {
		par = 1
	}
	changelog := op == "Join" && (left.Changelog || right.Changelog || t.Kind != exec.JoinInner)
	p := b.add(&PNode{Op: op, Parallelism: par, Schema: &t.Sch, Changelog: changelog})
	p.Details = append(p.Details, "type="+t.Kind.String())
	if len(keyText) > 0 {
		p.Details = append(p.Details, "keys=["+strings.Join(keyText, ", ")+"]")
	} else {
		p.Details = append(p.Details, "keys=[] (no equality: one subtask)")
	}
	ls, rs := t.Left.Schema(), t.Right.Schema()
	switch op {
	case "IntervalJoin":
		p.Details = append(p.Details, fmt.Sprintf("time=%s - %s in [%s, %s]", "right."+rs.Cols[t.RightTime].Name, "left."+ls.Cols[t.LeftTime].Name, signedDur(a.lower), signedDur(a.upper)))
	case "WindowJoin":
		p.Details = append(p.Details, "window ends=left."+ls.Cols[t.LeftWinEnd].Name+", right."+rs.Cols[t.RightWinEnd].Name)
	}
	if res != nil {
		p.Details = append(p.Details, "where="+sidedString(res, nL))
	}
	le := b.edgeTo(left, p, lcols)
	re := b.edgeTo(right, p, rcols)
	re.Input = 1
	p.Inputs = []PEdge{le, re}

	late := new(atomic.Int64)
	switch op {
	case "Join":
		ttl := b.opts.StateTTL
		if ttl > 0 {
			p.Details = append(p.Details, "ttl="+fmtDur(ttl.Milliseconds()))
			p.State = "rows of both inputs per key, expiring " + fmtDur(ttl.Milliseconds()) + " after their last write"
		} else {
			p.State = "rows of both inputs per key (kept until TTL: 'table.exec.state.ttl' is not set)"
		}
		cfg := exec.JoinConfig{Kind: t.Kind, LeftKeys: lcols, RightKeys: rcols, NullSafe: nullSafe,
			LeftWidth: nL, RightWidth: nR, Residual: res, LeftUpdating: left.Changelog, RightUpdating: right.Changelog, TTL: ttl}
		p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
			c := cfg
			c.MaxKeyGroups = tc.MaxKeyGroups
			return exec.NewJoin(c)
		}
	case "IntervalJoin":
		p.State = "rows per key until the watermark passes their time bound"
		p.Details = append(p.Details, "late-data=drop")
		b.plan.lateCounters = append(b.plan.lateCounters, lateCounter{op: p.label(), dest: "dropped", n: late})
		cfg := exec.IntervalJoinConfig{Kind: t.Kind, LeftKeys: lcols, RightKeys: rcols, NullSafe: nullSafe,
			LeftWidth: nL, RightWidth: nR, Residual: res, LeftTime: t.LeftTime, RightTime: t.RightTime,
			Lower: a.lower, Upper: a.upper, Late: func(int, types.Row) error { late.Add(1); return nil }}
		p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
			c := cfg
			c.MaxKeyGroups = tc.MaxKeyGroups
			return exec.NewIntervalJoin(c)
		}
	case "WindowJoin":
		p.State = "rows per window and key until the window closes"
		p.Details = append(p.Details, "late-data=drop")
		b.plan.lateCounters = append(b.plan.lateCounters, lateCounter{op: p.label(), dest: "dropped", n: late})
		cfg := exec.WindowJoinConfig{Kind: t.Kind, LeftKeys: lcols, RightKeys: rcols, NullSafe: nullSafe,
			LeftWidth: nL, RightWidth: nR, Residual: res, LeftEnd: t.LeftWinEnd, RightEnd: t.RightWinEnd,
			Late: func(int, types.Row) error { late.Add(1); return nil }}
		p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
			c := cfg
			c.MaxKeyGroups = tc.MaxKeyGroups
			return exec.NewWindowJoin(c)
		}
	}
	return p, nil
}

// hasWindowKey reports a key pair left.window_end = right.window_end.
func (a *joinAnalysis) hasWindowKey(l, r int) bool {
	for _, k := range a.keys {
		lc, ok1 := k.l.(*expr.Column)
		rc, ok2 := k.r.(*expr.Column)
		if ok1 && ok2 && lc.Index == l && rc.Index == r && !k.nullSafe {
			return true
		}
	}
	return false
}

func signedDur(ms int64) string {
	if ms == 0 {
		return "0s"
	}
	if ms < 0 {
		return "-" + fmtDur(-ms)
	}
	return fmtDur(ms)
}

// ---- lookup joins ----

func (b *builder) buildLookupJoin(t *Join) (*PNode, error) {
	if t.Kind != exec.JoinInner && t.Kind != exec.JoinLeft {
		return nil, b.joinErr(t, "a lookup join (FOR SYSTEM_TIME AS OF) must be an INNER or LEFT JOIN, not %s: the rows of the looked-up table are not a stream", t.Kind)
	}
	if err := lookupSide(t.Right); err != nil {
		return nil, b.joinErr(t, "FOR SYSTEM_TIME AS OF: %v", err)
	}
	left, err := b.build(t.Left)
	if err != nil {
		return nil, err
	}
	a := analyzeJoin(t)
	nL, nR := len(t.Left.Schema().Cols), len(t.Right.Schema().Cols)
	residual := append(a.residual, a.timeConj...)
	var res expr.Expr
	if len(residual) > 0 {
		res = expr.Fold(conjunction(residual))
	}
	probe := make([]expr.Expr, len(a.keys))
	build := make([]expr.Expr, len(a.keys))
	nullSafe := make([]bool, len(a.keys))
	var keyText []string
	for i, k := range a.keys {
		probe[i], build[i], nullSafe[i] = expr.Fold(k.l), expr.Fold(k.r), k.nullSafe
		keyText = append(keyText, k.text)
	}
	p := b.add(&PNode{Op: "LookupJoin", Parallelism: left.Parallelism, Schema: &t.Sch, Changelog: left.Changelog,
		State: "none; the table is read once when the job starts"})
	p.Details = append(p.Details, "type="+t.Kind.String(), "table="+lookupName(t.Right))
	if f := lookupFilter(t.Right); f != "" {
		p.Details = append(p.Details, "table where="+f)
	}
	p.Details = append(p.Details, "keys=["+strings.Join(keyText, ", ")+"]")
	if res != nil {
		p.Details = append(p.Details, "where="+sidedString(res, nL))
	}
	p.Inputs = []PEdge{{From: left, Kind: exec.Forward}}
	var (
		once    sync.Once
		table   *exec.LookupTable
		loadErr error
	)
	side, kind := t.Right, t.Kind
	p.operator = func(*exec.TaskContext) (exec.Operator, error) {
		once.Do(func() {
			rows, err := loadBounded(side)
			if err != nil {
				loadErr = fmt.Errorf("loading the lookup table %s: %w", lookupName(side), err)
				return
			}
			table, loadErr = exec.NewLookupTable(rows, nR, build, nullSafe)
		})
		if loadErr != nil {
			return nil, loadErr
		}
		return exec.NewLookupJoin(exec.LookupJoinConfig{Kind: kind, ProbeKeys: probe, NullSafe: nullSafe,
			LeftWidth: nL, Residual: res, Table: table})
	}
	return p, nil
}

// lookupSide checks that n is a bounded table, optionally filtered and
// projected.
func lookupSide(n Node) error {
	switch t := n.(type) {
	case *Scan:
		_, f, err := scanSource(t)
		if err != nil {
			return err
		}
		if !f.Bounded() {
			return fmt.Errorf("table %s is unbounded; the looked-up table must be bounded (a file, or a generator with a row count)", t.Table.Name)
		}
		return nil
	case *Filter:
		return lookupSide(t.Input)
	case *Project:
		return lookupSide(t.Input)
	case *Values:
		return nil
	}
	return fmt.Errorf("the looked-up side must be a table, optionally filtered or projected (it is read once, not joined as a stream)")
}

// lookupFilter prints the filters applied to the looked-up table's rows.
func lookupFilter(n Node) string {
	var parts []string
	for {
		switch t := n.(type) {
		case *Filter:
			parts = append(parts, t.Pred.String())
			n = t.Input
		case *Project:
			n = t.Input
		default:
			return strings.Join(parts, " AND ")
		}
	}
}

func lookupName(n Node) string {
	for {
		switch t := n.(type) {
		case *Scan:
			return t.Table.Name
		case *Filter:
			n = t.Input
		case *Project:
			n = t.Input
		default:
			return "(values)"
		}
	}
}

// loadBounded reads a lookup side: its scan to the end, then its filters
// and projections.
func loadBounded(n Node) ([]types.Row, error) {
	switch t := n.(type) {
	case *Scan:
		_, f, err := scanSource(t)
		if err != nil {
			return nil, err
		}
		src, err := f.Create(0, 1)
		if err != nil {
			return nil, err
		}
		c := &rowCollector{}
		if err := src.Run(context.Background(), c); err != nil {
			return nil, err
		}
		return c.rows, nil
	case *Filter:
		in, err := loadBounded(t.Input)
		if err != nil {
			return nil, err
		}
		out := in[:0]
		for _, r := range in {
			v, err := t.Pred.Eval(r)
			if err != nil {
				return nil, fmt.Errorf("%w, in row %s", err, r)
			}
			if v.Kind == types.Bool && v.I != 0 {
				out = append(out, r)
			}
		}
		return out, nil
	case *Project:
		in, err := loadBounded(t.Input)
		if err != nil {
			return nil, err
		}
		for i, r := range in {
			nr := make(types.Row, len(t.Exprs))
			for j, e := range t.Exprs {
				if nr[j], err = e.Eval(r); err != nil {
					return nil, fmt.Errorf("%w, in row %s", err, r)
				}
			}
			in[i] = nr
		}
		return in, nil
	case *Values:
		var out []types.Row
		for _, r := range t.Rows {
			row := make(types.Row, len(r))
			for j, e := range r {
				v, err := e.Eval(nil)
				if err != nil {
					return nil, err
				}
				row[j] = v
			}
			out = append(out, row)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot read %T as a lookup table", n)
}

// rowCollector is the SourceOutput of a lookup table's scan.
type rowCollector struct {
	rows   []types.Row
	splits int
}

func (c *rowCollector) Emit(_ int, b *types.Batch) error {
	for i, r := range b.Rows {
		if b.Kind(i) != types.Insert {
			return fmt.Errorf("a lookup table must be append-only, got a %s row", b.Kind(i))
		}
		c.rows = append(c.rows, r)
	}
	return nil
}
func (c *rowCollector) SplitDone(int) {}
func (c *rowCollector) SplitIdle(int) {}
func (c *rowCollector) AddSplit() int { c.splits++; return c.splits - 1 }
