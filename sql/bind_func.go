package sql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// call resolves a registered scalar function.
func (b *binder) call(n ast.Node, name string, args []expr.Expr) (expr.Expr, error) {
	def, ok := expr.Lookup(name)
	if !ok {
		return nil, b.errf(n, "unknown function %s", strings.ToUpper(name))
	}
	c, err := expr.NewCall(def, args)
	if err != nil {
		return nil, b.errf(n, "%v", err)
	}
	return c, nil
}

func unitLiteral(u ast.TimeUnitType) expr.Expr {
	return &expr.Literal{Val: types.StringValue(strings.ToUpper(u.String())), Typ: types.TVarchar}
}

func (b *binder) funcCall(t *ast.FuncCallExpr, sc *scope, ag *aggState) (expr.Expr, error) {
	name := t.FnName.L
	args := func(from int) ([]expr.Expr, error) {
		var out []expr.Expr
		for _, a := range t.Args[from:] {
			if tu, ok := a.(*ast.TimeUnitExpr); ok {
				out = append(out, unitLiteral(tu.Unit))
				continue
			}
			e, err := b.expr(a, sc, ag)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	switch {
	case name == strings.ToLower(ast.TimestampLiteral) || name == strings.ToLower(ast.DateLiteral):
		as, err := args(0)
		if err != nil {
			return nil, err
		}
		if len(as) == 1 {
			if v, err := as[0].Eval(nil); err == nil && v.Kind == types.Varchar {
				if ms, ok := types.ParseTimestamp(v.S); ok {
					return &expr.Literal{Val: types.TimestampValue(ms), Typ: types.TTimestamp}, nil
				}
			}
		}
		return nil, b.errf(t, "invalid timestamp literal %s", restore(t))
	case groupWindowFuncs[name]:
		return nil, b.errf(t, "%s(...) is a window: use it in GROUP BY", strings.ToUpper(t.FnName.O))
	case windowAuxFuncs[name] != [2]string{}:
		return nil, b.errf(t, "%s requires GROUP BY %s(...)", strings.ToUpper(t.FnName.O), strings.ToUpper(windowAuxFuncs[name][0]))
	case name == "date_add" || name == "date_sub" || name == "adddate" || name == "subdate":
		if len(t.Args) != 3 {
			return nil, b.errf(t, "%s expects (timestamp, INTERVAL n unit)", strings.ToUpper(name))
		}
		as, err := args(0)
		if err != nil {
			return nil, err
		}
		amount := as[1]
		if amount.Type().Kind == types.Varchar || amount.Type().Kind == types.Decimal || amount.Type().Kind == types.Double {
			amount = &expr.Cast{X: amount, Typ: types.TBigInt}
		}
		if name == "date_sub" || name == "subdate" {
			amount = &expr.Neg{X: amount}
		}
		if k := as[0].Type().Kind; k == types.Varchar {
			as[0] = &expr.Cast{X: as[0], Typ: types.TTimestamp}
		} else if k != types.Timestamp && k != types.Null {
			return nil, b.errf(t.Args[0], "INTERVAL arithmetic expects a TIMESTAMP, got %s", as[0].Type())
		}
		return b.call(t, "timestamp_add", []expr.Expr{as[0], expr.Fold(amount), as[2]})
	case name == "mod" && len(t.Args) == 2:
		// the same operator node as %, which evaluates without allocating
		as, err := args(0)
		if err != nil {
			return nil, err
		}
		if as[0].Type().IsNumeric() && as[1].Type().IsNumeric() {
			e, err := expr.NewBinary(expr.OpMod, as[0], as[1])
			if err != nil {
				return nil, b.errf(t, "MOD: %v", err)
			}
			return e, nil
		}
		return b.call(t, "mod", as)
	case name == "extract":
		as, err := args(0)
		if err != nil {
			return nil, err
		}
		return b.call(t, "extract", as)
	}
	as, err := args(0)
	if err != nil {
		return nil, err
	}
	return b.call(t, name, as)
}
