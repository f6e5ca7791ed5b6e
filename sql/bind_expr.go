package sql

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

func (b *binder) boolExpr(n ast.ExprNode, sc *scope, ag *aggState, clause string) (expr.Expr, error) {
	e, err := b.expr(n, sc, ag)
	if err != nil {
		return nil, err
	}
	if k := e.Type().Kind; k != types.Bool && k != types.Null {
		return nil, b.errf(n, "%s must be a boolean condition, got %s", clause, e.Type())
	}
	return expr.Fold(e), nil
}

// groupedRef resolves n against a GROUP BY's output: an aggregate call, a
// GROUP BY key, or a window bound. ok is false when n is none of them.
func (b *binder) groupedRef(n ast.ExprNode, ag *aggState) (expr.Expr, bool, error) {
	text := restore(n)
	if a, isAgg := n.(*ast.AggregateFuncExpr); isAgg {
		for i, t := range ag.aggText {
			if t == text {
				return &expr.Column{Index: ag.aggCol(i), Name: t, Typ: ag.aggs[i].Type}, true, nil
			}
		}
		return nil, false, b.errf(a, "internal error: aggregate %s not collected", text)
	}
	for i, t := range ag.keyAST {
		if t == text {
			return &expr.Column{Index: i, Name: keyName(ag.keyExprs[i], i), Typ: ag.keyExprs[i].Type()}, true, nil
		}
	}
	switch t := n.(type) {
	case *ast.FuncCallExpr:
		if aux, ok := windowAuxFuncs[t.FnName.L]; ok {
			if ag.window == nil || ag.winCall == "" {
				return nil, false, b.errf(t, "%s requires GROUP BY %s(...)", strings.ToUpper(t.FnName.O), strings.ToUpper(aux[0]))
			}
			call := &ast.FuncCallExpr{FnName: ast.NewCIStr(aux[0]), Args: t.Args}
			if restore(call) != ag.winCall {
				return nil, false, b.errf(t, "%s arguments must match the GROUP BY window %s", strings.ToUpper(t.FnName.O), ag.winCall)
			}
			return b.windowBound(ag, aux[1]), true, nil
		}
	case *ast.ColumnNameExpr:
		name := t.Name.Name.L
		if ag.window != nil && (name == "window_start" || name == "window_end") {
			i := ag.in.index(t.Name.Table.O, name)
			if i < 0 || (ag.in.tvf != nil && (i == ag.in.tvf.startCol || i == ag.in.tvf.endCol)) {
				return b.windowBound(ag, strings.TrimPrefix(name, "window_")), true, nil
			}
		}
		i := ag.in.index(t.Name.Table.O, t.Name.Name.O)
		if i >= 0 {
			for k, ke := range ag.keyExprs {
				if c, ok := ke.(*expr.Column); ok && c.Index == i {
					return &expr.Column{Index: k, Name: c.Name, Typ: c.Typ}, true, nil
				}
			}
			return nil, false, b.errf(t, "column %s must appear in GROUP BY or be used in an aggregate function", t.Name.Name.O)
		}
		if i == -2 {
			return nil, false, b.errf(t, "column %s is ambiguous", t.Name.Name.O)
		}
		return nil, false, b.errf(t, "unknown column %s", columnText(t))
	}
	return nil, false, nil
}

func (b *binder) windowBound(ag *aggState, which string) expr.Expr {
	c := ag.startCol()
	name := "window_start"
	if which == "end" || which == "rowtime" {
		c++
		name = "window_end"
	}
	col := &expr.Column{Index: c, Name: name, Typ: types.TTimestamp}
	if which == "rowtime" {
		// the window's max timestamp, as Flink's *_ROWTIME
		one, _ := expr.Lookup("timestamp_add")
		if one != nil {
			if call, err := expr.NewCall(one, []expr.Expr{col, &expr.Literal{Val: types.BigIntValue(-1), Typ: types.TBigInt}, &expr.Literal{Val: types.StringValue("MILLISECOND"), Typ: types.TVarchar}}); err == nil {
				return call
			}
		}
	}
	return col
}

func columnText(c *ast.ColumnNameExpr) string {
	if c.Name.Table.O != "" {
		return c.Name.Table.O + "." + c.Name.Name.O
	}
	return c.Name.Name.O
}

func isConstAST(n ast.ExprNode) bool {
	switch t := n.(type) {
	case *test_driver.ValueExpr:
		return true
	case *ast.ParenthesesExpr:
		return isConstAST(t.Expr)
	case *ast.UnaryOperationExpr:
		return isConstAST(t.V)
	}
	return false
}

// expr binds an expression. With ag non-nil, column references resolve
// against the aggregation's output.
func (b *binder) expr(n ast.ExprNode, sc *scope, ag *aggState) (expr.Expr, error) {
	if ag != nil {
		e, ok, err := b.groupedRef(n, ag)
		if err != nil {
			return nil, err
		}
		if ok {
			return e, nil
		}
	}
	sub := func(x ast.ExprNode) (expr.Expr, error) { return b.expr(x, sc, ag) }
	switch t := n.(type) {
	case *test_driver.ValueExpr:
		return b.literal(t)
	case *ast.ParenthesesExpr:
		return sub(t.Expr)
	case *ast.ColumnNameExpr:
		i := sc.index(t.Name.Table.O, t.Name.Name.O)
		switch i {
		case -1:
			return nil, b.errf(t, "unknown column %s", columnText(t))
		case -2:
			return nil, b.errf(t, "column %s is ambiguous", columnText(t))
		}
		return sc.colExpr(i), nil
	case *ast.BinaryOperationExpr:
		l, err := sub(t.L)
		if err != nil {
			return nil, err
		}
		r, err := sub(t.R)
		if err != nil {
			return nil, err
		}
		return b.binary(t, t.Op, l, r)
	case *ast.UnaryOperationExpr:
		x, err := sub(t.V)
		if err != nil {
			return nil, err
		}
		switch t.Op {
		case opcode.Minus:
			if !x.Type().IsNumeric() && x.Type().Kind != types.Null {
				return nil, b.errf(t, "unary minus expects a number, got %s", x.Type())
			}
			return &expr.Neg{X: x}, nil
		case opcode.Plus:
			return x, nil
		case opcode.Not, opcode.Not2:
			if err := b.wantBool(t.V, x, "NOT"); err != nil {
				return nil, err
			}
			return &expr.Not{X: x}, nil
		}
		return nil, b.errf(t, "operator %s is not supported", t.Op)
	case *ast.IsNullExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{X: x, Negate: t.Not}, nil
	case *ast.IsTruthExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		return &expr.IsTrue{X: x, Want: t.True != 0, Negate: t.Not}, nil
	case *ast.BetweenExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		lo, err := sub(t.Left)
		if err != nil {
			return nil, err
		}
		hi, err := sub(t.Right)
		if err != nil {
			return nil, err
		}
		ge, err := b.binary(t, opcode.GE, x, lo)
		if err != nil {
			return nil, err
		}
		le, err := b.binary(t, opcode.LE, x, hi)
		if err != nil {
			return nil, err
		}
		var e expr.Expr = &expr.And{Args: []expr.Expr{ge, le}}
		if t.Not {
			e = &expr.Not{X: e}
		}
		return e, nil
	case *ast.PatternInExpr:
		if t.Sel != nil {
			return nil, b.errf(t, "IN (subquery) is not supported")
		}
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		list := make([]expr.Expr, len(t.List))
		for i, it := range t.List {
			e, err := sub(it)
			if err != nil {
				return nil, err
			}
			if _, err := expr.NewBinary(expr.OpEQ, x, e); err != nil {
				return nil, b.errf(it, "IN: %v", err)
			}
			list[i] = expr.Fold(e)
		}
		return expr.NewIn(x, list, t.Not), nil
	case *ast.PatternLikeOrIlikeExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		p, err := sub(t.Pattern)
		if err != nil {
			return nil, err
		}
		if !t.IsLike {
			lx, _ := b.call(t, "lower", []expr.Expr{x})
			lp, _ := b.call(t, "lower", []expr.Expr{p})
			if lx != nil && lp != nil {
				x, p = lx, lp
			}
		}
		args := []expr.Expr{x, p}
		if t.EscapeExplicit {
			args = append(args, &expr.Literal{Val: types.StringValue(string(t.Escape)), Typ: types.TVarchar})
		}
		e, err := b.call(t, "like", args)
		if err != nil {
			return nil, err
		}
		if t.Not {
			return &expr.Not{X: e}, nil
		}
		return e, nil
	case *ast.PatternRegexpExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		p, err := sub(t.Pattern)
		if err != nil {
			return nil, err
		}
		e, err := b.call(t, "regexp_like", []expr.Expr{x, p})
		if err != nil {
			return nil, err
		}
		if t.Not {
			return &expr.Not{X: e}, nil
		}
		return e, nil
	case *ast.CaseExpr:
		return b.caseExpr(t, sub)
	case *ast.FuncCastExpr:
		x, err := sub(t.Expr)
		if err != nil {
			return nil, err
		}
		to, err := b.castType(t)
		if err != nil {
			return nil, err
		}
		if !expr.CanCast(x.Type(), to) {
			return nil, b.errf(t, "cannot cast %s to %s", x.Type(), to)
		}
		return &expr.Cast{X: x, Typ: to}, nil
	case *ast.FuncCallExpr:
		return b.funcCall(t, sc, ag)
	case *ast.AggregateFuncExpr:
		return nil, b.errf(t, "aggregate function %s is not allowed here", strings.ToUpper(t.F))
	case *ast.WindowFuncExpr:
		if isOverAgg(t) {
			return b.overRef(t)
		}
		if _, ok := rankFuncs[strings.ToLower(t.Name)]; ok {
			return nil, b.errf(t, "%s() OVER (...) must be an item of its own in a SELECT list (for Top-N, filter it in an enclosing query: WHERE rn <= N)", strings.ToUpper(t.Name))
		}
		return nil, b.errf(t, "%s(...) OVER (...) is not supported: OVER windows take COUNT, SUM, AVG, MIN and MAX, or ROW_NUMBER(), RANK() and DENSE_RANK() filtered by an enclosing query (Top-N)", strings.ToUpper(t.Name))
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr:
		return nil, b.errf(n, "subqueries in expressions are not supported")
	case *ast.DefaultExpr, *ast.VariableExpr, *ast.ValuesExpr, *ast.RowExpr:
		return nil, b.errf(n, "%s is not supported", restore(n))
	}
	return nil, b.errf(n, "expression %s is not supported", restore(n))
}

func (b *binder) wantBool(n ast.ExprNode, e expr.Expr, op string) error {
	if k := e.Type().Kind; k != types.Bool && k != types.Null {
		return b.errf(n, "%s expects a boolean, got %s", op, e.Type())
	}
	return nil
}

var binOps = map[opcode.Op]expr.BinOp{
	opcode.Plus: expr.OpAdd, opcode.Minus: expr.OpSub, opcode.Mul: expr.OpMul, opcode.Div: expr.OpDiv,
	opcode.IntDiv: expr.OpIntDiv, opcode.Mod: expr.OpMod, opcode.EQ: expr.OpEQ, opcode.NE: expr.OpNE,
	opcode.LT: expr.OpLT, opcode.LE: expr.OpLE, opcode.GT: expr.OpGT, opcode.GE: expr.OpGE, opcode.NullEQ: expr.OpNullSafeEQ,
}

func (b *binder) binary(n ast.Node, op opcode.Op, l, r expr.Expr) (expr.Expr, error) {
	switch op {
	case opcode.LogicAnd, opcode.LogicOr:
		for _, x := range []expr.Expr{l, r} {
			if k := x.Type().Kind; k != types.Bool && k != types.Null {
				return nil, b.errf(n, "%s expects booleans, got %s", strings.ToUpper(op.String()), x.Type())
			}
		}
		if op == opcode.LogicAnd {
			return &expr.And{Args: flatten[*expr.And](l, r)}, nil
		}
		return &expr.Or{Args: flatten[*expr.Or](l, r)}, nil
	}
	bop, ok := binOps[op]
	if !ok {
		return nil, b.errf(n, "operator %s is not supported", op)
	}
	e, err := expr.NewBinary(bop, l, r)
	if err != nil {
		return nil, b.errf(n, "%v", err)
	}
	return e, nil
}

func flatten[T interface {
	*expr.And | *expr.Or
}](l, r expr.Expr) []expr.Expr {
	var out []expr.Expr
	for _, x := range []expr.Expr{l, r} {
		switch t := any(x).(type) {
		case T:
			switch u := any(t).(type) {
			case *expr.And:
				out = append(out, u.Args...)
			case *expr.Or:
				out = append(out, u.Args...)
			}
		default:
			out = append(out, x)
		}
	}
	return out
}

func (b *binder) caseExpr(t *ast.CaseExpr, sub func(ast.ExprNode) (expr.Expr, error)) (expr.Expr, error) {
	c := &expr.Case{}
	var value expr.Expr
	if t.Value != nil {
		v, err := sub(t.Value)
		if err != nil {
			return nil, err
		}
		value = v
	}
	var typ types.Type = types.TNull
	for _, w := range t.WhenClauses {
		cond, err := sub(w.Expr)
		if err != nil {
			return nil, err
		}
		if value != nil {
			cond, err = b.binary(w.Expr, opcode.EQ, value, cond)
			if err != nil {
				return nil, err
			}
		} else if err := b.wantBool(w.Expr, cond, "CASE WHEN"); err != nil {
			return nil, err
		}
		res, err := sub(w.Result)
		if err != nil {
			return nil, err
		}
		ct, ok := expr.CommonType(typ, res.Type())
		if !ok {
			return nil, b.errf(w.Result, "CASE branches have incompatible types %s and %s", typ, res.Type())
		}
		typ = ct
		c.Whens = append(c.Whens, cond)
		c.Thens = append(c.Thens, res)
	}
	if t.ElseClause != nil {
		e, err := sub(t.ElseClause)
		if err != nil {
			return nil, err
		}
		ct, ok := expr.CommonType(typ, e.Type())
		if !ok {
			return nil, b.errf(t.ElseClause, "CASE branches have incompatible types %s and %s", typ, e.Type())
		}
		typ = ct
		c.Else = e
	}
	c.Typ = typ
	for i, x := range c.Thens {
		c.Thens[i] = coerce(x, typ)
	}
	if c.Else != nil {
		c.Else = coerce(c.Else, typ)
	}
	return c, nil
}

// coerce casts e to t when their types differ.
func coerce(e expr.Expr, t types.Type) expr.Expr {
	if e.Type() == t || e.Type().Kind == types.Null {
		return e
	}
	if e.Type().Kind == t.Kind && t.Kind != types.Decimal {
		return e
	}
	return &expr.Cast{X: e, Typ: t}
}

func (b *binder) castType(t *ast.FuncCastExpr) (types.Type, error) {
	if written, ok := b.st.CastType(t); ok {
		switch strings.ToUpper(written) {
		case "VARCHAR", "STRING", "CHAR":
			return types.TVarchar, nil
		case "BIGINT", "SIGNED":
			return types.TBigInt, nil
		case "INT", "INTEGER", "SMALLINT", "TINYINT":
			return types.TInt, nil
		case "BOOLEAN":
			return types.TBool, nil
		case "TIMESTAMP", "TIMESTAMP_LTZ", "DATETIME":
			return types.TTimestamp, nil
		}
	}
	tp := t.Tp
	switch tp.GetType() {
	case mysql.TypeLonglong:
		return types.TBigInt, nil
	case mysql.TypeDouble, mysql.TypeFloat:
		return types.TDouble, nil
	case mysql.TypeNewDecimal:
		p, s := tp.GetFlen(), tp.GetDecimal()
		if p <= 0 {
			p = 10
		}
		if s < 0 {
			s = 0
		}
		if p > 18 {
			return types.Type{}, b.errf(t, "DECIMAL(%d,%d): precision above 18 is not supported", p, s)
		}
		return types.TDecimal(uint8(p), uint8(s)), nil
	case mysql.TypeVarString, mysql.TypeString, mysql.TypeVarchar:
		return types.TVarchar, nil
	case mysql.TypeDatetime, mysql.TypeTimestamp:
		return types.TTimestamp, nil
	}
	return types.Type{}, b.errf(t, "CAST to %s is not supported", tp.String())
}

func (b *binder) literal(v *test_driver.ValueExpr) (expr.Expr, error) {
	d := v.Datum
	switch d.Kind() {
	case test_driver.KindNull:
		return &expr.Literal{Val: types.NullValue, Typ: types.TNull}, nil
	case test_driver.KindInt64:
		if mysql.HasIsBooleanFlag(v.Type.GetFlag()) {
			return &expr.Literal{Val: types.BoolValue(d.GetInt64() != 0), Typ: types.TBool}, nil
		}
		return &expr.Literal{Val: types.BigIntValue(d.GetInt64()), Typ: types.TBigInt}, nil
	case test_driver.KindUint64:
		u := d.GetUint64()
		if u > 1<<63-1 {
			return nil, b.errf(v, "integer literal %d is out of range", u)
		}
		return &expr.Literal{Val: types.BigIntValue(int64(u)), Typ: types.TBigInt}, nil
	case test_driver.KindFloat64, test_driver.KindFloat32:
		return &expr.Literal{Val: types.DoubleValue(d.GetFloat64()), Typ: types.TDouble}, nil
	case test_driver.KindString, test_driver.KindBytes:
		return &expr.Literal{Val: types.StringValue(d.GetString()), Typ: types.TVarchar}, nil
	case test_driver.KindMysqlDecimal:
		s := d.GetMysqlDecimal().String()
		val, scale, ok := parseDecimalLiteral(s)
		if !ok {
			return nil, b.errf(v, "decimal literal %s does not fit DECIMAL(18,s)", s)
		}
		return &expr.Literal{Val: types.DecimalValue(val, scale), Typ: types.TDecimal(18, scale)}, nil
	}
	return nil, b.errf(v, "unsupported literal %s", restore(v))
}

func parseDecimalLiteral(s string) (int64, uint8, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	if len(intPart)+len(frac) > 18 {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if neg {
		v = -v
	}
	return v, uint8(len(frac)), true
}
