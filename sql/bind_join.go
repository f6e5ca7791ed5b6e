package sql

// Binding joins. A JOIN becomes a planner.Join over the two bound inputs;
// its scope holds the left columns then the right ones, each with its
// table's qualifier, so `a.k` and `b.k` resolve and a bare `k` present in
// both is ambiguous. The planner decides which operator runs it (see
// planner/join.go); the binder passes on what it knows about time: each
// input's event-time column and window_end column.
//
// Join forms: [INNER] JOIN, CROSS JOIN and ',' (inner; WHERE conjuncts
// are merged into the condition by the optimizer), LEFT [OUTER], RIGHT
// [OUTER] and FULL [OUTER] JOIN (rewritten to STRAIGHT_JOIN, see
// rewrite.go). `JOIN t FOR SYSTEM_TIME AS OF s.col` makes a lookup join.
// NATURAL JOIN and JOIN ... USING are refused.
//
// A join's output carries no event time (as in Flink, where a regular
// join's result has no time attribute), so windows over it are refused; a
// lookup join keeps the left input's event time and processing time, since
// its rows are the left rows, in their order.

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/types"
)

func (b *binder) join(j *ast.Join) (planner.Node, *scope, error) {
	pos := b.joinOffset(j)
	if j.NaturalJoin {
		return nil, nil, b.st.Errorf(pos, "NATURAL JOIN is not supported; write JOIN ... ON a.k = b.k")
	}
	if len(j.Using) > 0 {
		return nil, nil, b.st.Errorf(pos, "JOIN ... USING is not supported; write JOIN ... ON a.k = b.k")
	}
	ln, ls, err := b.tableRef(j.Left)
	if err != nil {
		return nil, nil, err
	}
	rn, rs, err := b.tableRef(j.Right)
	if err != nil {
		return nil, nil, err
	}
	if ls.lookup != nil {
		return nil, nil, b.st.Errorf(ls.lookup.Offset, "FOR SYSTEM_TIME AS OF: the looked-up table must be on the right of the JOIN")
	}
	kind := exec.JoinInner
	switch {
	case j.Tp == ast.LeftJoin:
		kind = exec.JoinLeft
	case j.Tp == ast.RightJoin:
		kind = exec.JoinRight
	case j.StraightJoin:
		kind = exec.JoinFull // FULL [OUTER] JOIN, see rewrite.go
	}
	out := &scope{proctime: -1, watermarked: ls.watermarked || rs.watermarked, joined: true}
	out.cols = make([]scopeCol, 0, len(ls.cols)+len(rs.cols))
	out.cols = append(append(out.cols, ls.cols...), rs.cols...)
	var cond ast.ExprNode
	if j.On != nil {
		cond = j.On.Expr
	}
	node := &planner.Join{Left: ln, Right: rn, Kind: kind,
		LeftTime: ls.rowtime1 - 1, RightTime: rs.rowtime1 - 1,
		LeftWinEnd: ls.winEnd1 - 1, RightWinEnd: rs.winEnd1 - 1,
		Errorf: func(format string, args ...any) error { return b.st.Errorf(pos, format, args...) }}
	if cond != nil {
		if hasAggregate(cond) {
			return nil, nil, b.errf(cond, "aggregate functions are not allowed in ON")
		}
		e, err := b.boolExpr(cond, out, nil, "ON")
		if err != nil {
			return nil, nil, err
		}
		node.Cond = e
	}
	if ref := rs.lookup; ref != nil {
		if err := b.lookupTime(ref, ls); err != nil {
			return nil, nil, err
		}
		node.Lookup = true
		// the rows are the left rows, in their order: their time stays
		out.proctime, out.rowtime1, out.joined = ls.proctime, ls.rowtime1, false
	}
	node.Sch = out.schema()
	return node, out, nil
}

// lookupTime checks the FOR SYSTEM_TIME AS OF expression: a column of the
// left input.
func (b *binder) lookupTime(ref *LookupRef, left *scope) error {
	qual, name := "", ref.TimeExpr
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		qual, name = name[:i], name[i+1:]
	}
	name = strings.Trim(name, "`")
	qual = strings.Trim(qual, "`")
	i := left.index(qual, name)
	switch i {
	case -1:
		return b.st.Errorf(ref.Offset, "FOR SYSTEM_TIME AS OF %s: no such column on the left of the join", ref.TimeExpr)
	case -2:
		return b.st.Errorf(ref.Offset, "FOR SYSTEM_TIME AS OF %s: the column is ambiguous", ref.TimeExpr)
	}
	if left.cols[i].typ.Kind != types.Timestamp {
		return b.st.Errorf(ref.Offset, "FOR SYSTEM_TIME AS OF %s: expects a time attribute (a TIMESTAMP column such as PROCTIME()), not %s", ref.TimeExpr, left.cols[i].typ)
	}
	return nil
}

// joinOffset is where errors about a join point: its ON condition, else
// the right table's name.
func (b *binder) joinOffset(j *ast.Join) int {
	if j.On != nil {
		if off := b.st.NodeOffset(j.On.Expr); off >= 0 {
			return off
		}
	}
	if ts, ok := j.Right.(*ast.TableSource); ok {
		if tn, ok := ts.Source.(*ast.TableName); ok {
			if ref := b.st.Lookup(tn.Name.O); ref != nil {
				return ref.Offset
			}
			if off := b.st.LocateOffset(tn.Name.O, 0); off >= 0 {
				return off
			}
		}
	}
	return 0
}
