package planner

import (
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// Optimize applies the logical rules, bottom-up, until nothing changes:
//
//   - constant folding of every expression;
//   - predicate pushdown: a Filter moves below a Project (its columns
//     substituted) and adjacent Filters merge, so predicates sit right on
//     top of the scan;
//   - projection merging: Project over Project composes into one when no
//     non-trivial expression would be computed twice;
//   - projection pushdown: a Scan reads only the columns used above it,
//     so connectors decode and generate less; a Rank whose rank number
//     nothing reads is marked RankUnused (no Filter moves below a Rank
//     or an Over: it would change the ranks or the frames);
//   - joins: a WHERE over an inner join becomes part of its condition; a
//     condition (ON or WHERE) that reads one input only moves below the
//     join onto that input when the result stays the same (see
//     pushJoinCond and filterJoin). Which join operator runs is decided in
//     Build (join.go).
func Optimize(n Node) Node {
	n = rewrite(n)
	n = prune(n, nil)
	return n
}

func rewrite(n Node) Node {
	switch t := n.(type) {
	case *Filter:
		in := rewrite(t.Input)
		pred := expr.Fold(t.Pred)
		if lit, ok := pred.(*expr.Literal); ok && lit.Val.Kind == types.Bool && lit.Val.I != 0 {
			return in
		}
		switch c := in.(type) {
		case *Filter:
			return &Filter{Input: c.Input, Pred: &expr.And{Args: []expr.Expr{c.Pred, pred}}}
		case *Project:
			if !hasVolatile(c.Exprs) {
				sub := substitute(pred, c.Exprs)
				return &Project{Input: rewrite(&Filter{Input: c.Input, Pred: sub}), Exprs: c.Exprs, Sch: c.Sch}
			}
		case *Join:
			return filterJoin(c, pred)
		}
		return &Filter{Input: in, Pred: pred}
	case *Project:
		in := rewrite(t.Input)
		exprs := make([]expr.Expr, len(t.Exprs))
		for i, e := range t.Exprs {
			exprs[i] = expr.Fold(e)
		}
		if inner, ok := in.(*Project); ok && composable(exprs, inner.Exprs) {
			out := make([]expr.Expr, len(exprs))
			for i, e := range exprs {
				out[i] = expr.Fold(substitute(e, inner.Exprs))
			}
			return &Project{Input: inner.Input, Exprs: out, Sch: t.Sch}
		}
		if isIdentity(exprs, in.Schema()) {
			if sameNames(&t.Sch, in.Schema()) {
				return in
			}
			// Only the names differ: rename an aggregate's output rather
			// than keep a projection (a scan's names are its table's).
			switch a := in.(type) {
			case *Aggregate:
				c := *a
				c.Sch = t.Sch
				return &c
			case *WindowAgg:
				c := *a
				c.Sch = t.Sch
				return &c
			}
		}
		return &Project{Input: in, Exprs: exprs, Sch: t.Sch}
	case *WindowAgg:
		c := *t
		c.Input = rewrite(t.Input)
		return &c
	case *Aggregate:
		c := *t
		c.Input = rewrite(t.Input)
		return &c
	case *Union:
		ins := make([]Node, len(t.Inputs))
		for i, x := range t.Inputs {
			ins[i] = rewrite(x)
		}
		return &Union{Inputs: ins}
	case *Sort:
		c := *t
		c.Input = rewrite(t.Input)
		return &c
	case *Rank:
		// a Filter above a Rank stays there: below, it would change the ranks
		c := *t
		c.Input = rewrite(t.Input)
		return &c
	case *Over:
		// likewise above an Over: below, it would change the frames
		c := *t
		c.Input = rewrite(t.Input)
		return &c
	case *Join:
		c := *t
		c.Left, c.Right = rewrite(t.Left), rewrite(t.Right)
		return pushJoinCond(&c)
	}
	return n
}

// conjuncts splits an AND (nested ones too) into its terms; nil is none.
func conjuncts(e expr.Expr) []expr.Expr {
	if e == nil {
		return nil
	}
	if a, ok := e.(*expr.And); ok {
		var out []expr.Expr
		for _, x := range a.Args {
			out = append(out, conjuncts(x)...)
		}
		return out
	}
	return []expr.Expr{e}
}

// conjunction is the AND of es (nil when empty).
func conjunction(es []expr.Expr) expr.Expr {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return &expr.And{Args: es}
}

func isTrue(e expr.Expr) bool {
	lit, ok := e.(*expr.Literal)
	return ok && lit.Val.Kind == types.Bool && lit.Val.I != 0
}

// joinSide says which input a conjunct over [left..., right...] reads: 0
// left only, 1 right only, -1 both or neither (or a volatile function).
func joinSide(e expr.Expr, nLeft int) int {
	cols := expr.Columns(e)
	if len(cols) == 0 || hasVolatile([]expr.Expr{e}) {
		return -1
	}
	switch {
	case cols[len(cols)-1] < nLeft:
		return 0
	case cols[0] >= nLeft:
		return 1
	}
	return -1
}

// shiftCols moves a right-only conjunct onto the right input's columns.
func shiftCols(e expr.Expr, by int) expr.Expr {
	return expr.Remap(e, func(c *expr.Column) expr.Expr {
		return &expr.Column{Index: c.Index - by, Name: c.Name, Typ: c.Typ}
	})
}

// pushJoinCond moves ON conjuncts that read one input below the join when
// that does not change the result: onto an input whose unmatched rows are
// not preserved (a condition on the right side of a LEFT JOIN filters the
// right rows before matching; one on the left side must stay, or left rows
// would vanish instead of being padded).
func pushJoinCond(j *Join) Node {
	nL := len(j.Left.Schema().Cols)
	var toSide [2][]expr.Expr
	var rest []expr.Expr
	for _, c := range conjuncts(j.Cond) {
		c = expr.Fold(c)
		if isTrue(c) {
			continue
		}
		s := joinSide(c, nL)
		if s >= 0 && !j.Kind.Preserves(s) {
			if s == 1 {
				c = shiftCols(c, nL)
			}
			toSide[s] = append(toSide[s], c)
			continue
		}
		rest = append(rest, c)
	}
	j.Cond = conjunction(rest)
	if len(toSide[0]) > 0 {
		j.Left = rewrite(&Filter{Input: j.Left, Pred: conjunction(toSide[0])})
	}
	if len(toSide[1]) > 0 {
		j.Right = rewrite(&Filter{Input: j.Right, Pred: conjunction(toSide[1])})
	}
	return j
}

// filterJoin places a WHERE predicate over a join: into an inner join's
// condition (where pushJoinCond takes what reads one input further down);
// below an outer join, the conjuncts that read only a preserved input (a
// preserved row passes or fails with all its output rows); above it, the
// rest.
func filterJoin(j *Join, pred expr.Expr) Node {
	if j.Kind == exec.JoinInner {
		c := *j
		c.Cond = conjunction(append(conjuncts(j.Cond), conjuncts(pred)...))
		return pushJoinCond(&c)
	}
	nL := len(j.Left.Schema().Cols)
	var down [2][]expr.Expr
	var rest []expr.Expr
	for _, c := range conjuncts(pred) {
		s := joinSide(c, nL)
		if s >= 0 && j.Kind.Preserves(s) {
			if s == 1 {
				c = shiftCols(c, nL)
			}
			down[s] = append(down[s], c)
			continue
		}
		rest = append(rest, c)
	}
	c := *j
	if len(down[0]) > 0 {
		c.Left = rewrite(&Filter{Input: j.Left, Pred: conjunction(down[0])})
	}
	if len(down[1]) > 0 {
		c.Right = rewrite(&Filter{Input: j.Right, Pred: conjunction(down[1])})
	}
	if len(rest) == 0 {
		return &c
	}
	return &Filter{Input: &c, Pred: conjunction(rest)}
}

func hasVolatile(es []expr.Expr) bool {
	for _, e := range es {
		v := false
		expr.Walk(e, func(x expr.Expr) {
			if c, ok := x.(*expr.Call); ok && c.Def.Volatile {
				v = true
			}
		})
		if v {
			return true
		}
	}
	return false
}

// substitute replaces column i of e by defs[i].
func substitute(e expr.Expr, defs []expr.Expr) expr.Expr {
	return expr.Remap(e, func(c *expr.Column) expr.Expr { return defs[c.Index] })
}

// composable: merging outer over inner computes no non-trivial inner
// expression more than once.
func composable(outer, inner []expr.Expr) bool {
	uses := make([]int, len(inner))
	for _, e := range outer {
		expr.Walk(e, func(x expr.Expr) {
			if c, ok := x.(*expr.Column); ok {
				uses[c.Index]++
			}
		})
	}
	for i, e := range inner {
		switch e.(type) {
		case *expr.Column, *expr.Literal:
			continue
		}
		if uses[i] > 1 {
			return false
		}
	}
	return true
}

func isIdentity(exprs []expr.Expr, in *types.Schema) bool {
	if len(exprs) != len(in.Cols) {
		return false
	}
	for i, e := range exprs {
		c, ok := e.(*expr.Column)
		if !ok || c.Index != i {
			return false
		}
	}
	return true
}

// sameNames reports whether two schemas name their columns alike: a
// projection that only renames (SELECT k AS kk) must not be dropped, or the
// result's column names would be the input's.
func sameNames(a, b *types.Schema) bool {
	if a == nil || b == nil || len(a.Cols) != len(b.Cols) {
		return a == b
	}
	for i := range a.Cols {
		if a.Cols[i].Name != b.Cols[i].Name {
			return false
		}
	}
	return true
}

// prune narrows scans to the columns used above them. need is the set of
// output columns of n that its parent uses (nil = all). It returns a node
// with the same output schema.
func prune(n Node, need []bool) Node {
	switch t := n.(type) {
	case *Project:
		// what does this project need from its input?
		inNeed := make([]bool, len(t.Input.Schema().Cols))
		for i, e := range t.Exprs {
			if need != nil && !need[i] {
				continue
			}
			for _, c := range expr.Columns(e) {
				inNeed[c] = true
			}
		}
		// Filter directly below: its predicate's columns are needed too
		child := t.Input
		var filter *Filter
		if f, ok := child.(*Filter); ok {
			filter = f
			child = f.Input
			for _, c := range expr.Columns(f.Pred) {
				inNeed[c] = true
			}
		}
		if s, ok := child.(*Scan); ok && s.Cols == nil && s.Late == "" {
			ns, remap := narrowScan(s, inNeed)
			var in Node = ns
			if filter != nil {
				in = &Filter{Input: ns, Pred: remapCols(filter.Pred, remap)}
			}
			exprs := make([]expr.Expr, len(t.Exprs))
			for i, e := range t.Exprs {
				if need != nil && !need[i] {
					exprs[i] = &expr.Literal{Val: types.NullValue, Typ: e.Type()}
					continue
				}
				exprs[i] = remapCols(e, remap)
			}
			return &Project{Input: in, Exprs: exprs, Sch: t.Sch}
		}
		c := *t
		c.Input = prune(t.Input, inNeed)
		return &c
	case *Filter:
		var inNeed []bool
		if need != nil {
			inNeed = append([]bool(nil), need...)
			for _, c := range expr.Columns(t.Pred) {
				inNeed[c] = true
			}
		}
		return &Filter{Input: prune(t.Input, inNeed), Pred: t.Pred}
	case *WindowAgg:
		c := *t
		c.Input = prune(t.Input, aggNeed(len(t.Input.Schema().Cols), t.Keys, t.Aggs, t.Window.TimeCol, lateTableOf(t.Input) != ""))
		return &c
	case *Aggregate:
		c := *t
		c.Input = prune(t.Input, aggNeed(len(t.Input.Schema().Cols), t.Keys, t.Aggs, -1, false))
		return &c
	case *Union:
		ins := make([]Node, len(t.Inputs))
		for i, x := range t.Inputs {
			ins[i] = prune(x, need)
		}
		return &Union{Inputs: ins}
	case *Sort:
		c := *t
		c.Input = prune(t.Input, nil)
		return &c
	case *Rank:
		c := *t
		nIn := len(t.Input.Schema().Cols)
		if need != nil && !need[nIn] {
			c.RankUnused = true
		}
		inNeed := make([]bool, nIn)
		for i := range inNeed {
			inNeed[i] = need == nil || need[i]
		}
		for _, k := range t.Partition {
			inNeed[k] = true
		}
		for _, k := range t.Order {
			inNeed[k.Col] = true
		}
		if t.Window {
			inNeed[t.WindowEnd] = true
		}
		c.Input = prune(t.Input, inNeed)
		return &c
	case *Over:
		c := *t
		inNeed := make([]bool, len(t.Input.Schema().Cols))
		for i := range inNeed {
			inNeed[i] = need == nil || need[i]
		}
		for _, k := range t.Partition {
			inNeed[k] = true
		}
		for _, k := range t.Order {
			inNeed[k.Col] = true
		}
		for _, a := range t.Aggs {
			if a.Arg >= 0 {
				inNeed[a.Arg] = true
			}
		}
		c.Input = prune(t.Input, inNeed)
		return &c
	case *Join:
		nL, nR := len(t.Left.Schema().Cols), len(t.Right.Schema().Cols)
		ln, rn := make([]bool, nL), make([]bool, nR)
		for i := range ln {
			ln[i] = need == nil || need[i]
		}
		for i := range rn {
			rn[i] = need == nil || need[nL+i]
		}
		if t.Cond != nil {
			for _, c := range expr.Columns(t.Cond) {
				if c < nL {
					ln[c] = true
				} else {
					rn[c-nL] = true
				}
			}
		}
		for _, c := range []int{t.LeftTime, t.LeftWinEnd} {
			if c >= 0 {
				ln[c] = true
			}
		}
		for _, c := range []int{t.RightTime, t.RightWinEnd} {
			if c >= 0 {
				rn[c] = true
			}
		}
		c := *t
		c.Left, c.Right = prune(t.Left, ln), prune(t.Right, rn)
		return &c
	case *Scan:
		if need == nil || t.Cols != nil || t.Late != "" {
			return t
		}
		// Read only what is needed; unread columns become NULL constants
		// (nothing above reads them) so the output schema is unchanged.
		ns, remap := narrowScan(t, need)
		if len(ns.Cols) == len(t.Sch.Cols) {
			return t
		}
		exprs := make([]expr.Expr, len(t.Sch.Cols))
		for i, c := range t.Sch.Cols {
			if remap[i] < 0 {
				exprs[i] = &expr.Literal{Val: types.NullValue, Typ: c.Type}
			} else {
				exprs[i] = &expr.Column{Index: remap[i], Name: c.Name, Typ: c.Type}
			}
		}
		return &Project{Input: ns, Exprs: exprs, Sch: t.Sch}
	}
	return n
}

func aggNeed(n int, keys []int, aggs []exec.AggCall, timeCol int, all bool) []bool {
	need := make([]bool, n)
	for i := range need {
		need[i] = all
	}
	for _, k := range keys {
		need[k] = true
	}
	for _, a := range aggs {
		if a.Arg >= 0 {
			need[a.Arg] = true
		}
	}
	if timeCol >= 0 {
		need[timeCol] = true
	}
	return need
}

// narrowScan returns a scan of the needed columns and the old→new index map.
func narrowScan(s *Scan, need []bool) (*Scan, []int) {
	remap := make([]int, len(need))
	ns := &Scan{Table: s.Table, Late: s.Late}
	for i, nd := range need {
		remap[i] = -1
		if nd || i == s.Table.RowtimeCol {
			remap[i] = len(ns.Cols)
			ns.Cols = append(ns.Cols, i)
			ns.Sch.Cols = append(ns.Sch.Cols, s.Sch.Cols[i])
		}
	}
	return ns, remap
}

func remapCols(e expr.Expr, remap []int) expr.Expr {
	return expr.Remap(e, func(c *expr.Column) expr.Expr {
		return &expr.Column{Index: remap[c.Index], Name: c.Name, Typ: c.Typ}
	})
}
