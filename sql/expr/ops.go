package expr

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/weirsql/weir/sql/types"
)

// BinOp is an arithmetic or comparison operator.
type BinOp uint8

const (
	OpAdd BinOp = iota
	OpSub
	OpMul
	OpDiv // `/`: DOUBLE for DOUBLE operands, DECIMAL otherwise (MySQL), NULL on division by zero
	OpIntDiv
	OpMod
	OpEQ
	OpNE
	OpLT
	OpLE
	OpGT
	OpGE
	OpNullSafeEQ // <=>
)

var opNames = [...]string{"+", "-", "*", "/", "DIV", "%", "=", "<>", "<", "<=", ">", ">=", "<=>"}

func (o BinOp) String() string { return opNames[o] }

// IsComparison reports whether o yields a BOOLEAN.
func (o BinOp) IsComparison() bool { return o >= OpEQ }

// ErrOverflow is returned for integer overflow in arithmetic.
var ErrOverflow = errors.New("arithmetic overflow")

// Binary applies an arithmetic or comparison operator. Operands are already
// coerced to compatible types by NewBinary's caller or by NewBinary itself.
type Binary struct {
	Op   BinOp
	L, R Expr
	Typ  types.Type
	// mode picks the evaluation path once, at bind time.
	mode arithMode
}

type arithMode uint8

const (
	modeInt arithMode = iota
	modeFloat
	modeDecimal
	modeString
	modeTime // TIMESTAMP compared with TIMESTAMP
	modeGeneric
)

// NewBinary type-checks l op r.
func NewBinary(op BinOp, l, r Expr) (*Binary, error) {
	lt, rt := l.Type(), r.Type()
	b := &Binary{Op: op, L: l, R: r}
	if op.IsComparison() {
		b.Typ = types.TBool
		switch {
		case lt.IsInteger() && rt.IsInteger(), lt.Kind == types.Bool && rt.Kind == types.Bool:
			b.mode = modeInt
		case lt.Kind == types.Timestamp && rt.Kind == types.Timestamp:
			b.mode = modeTime
		case lt.Kind == types.Varchar && rt.Kind == types.Varchar:
			b.mode = modeString
		case (lt.Kind == types.Double && rt.IsNumeric()) || (rt.Kind == types.Double && lt.IsNumeric()):
			b.mode = modeFloat
		case lt.IsNumeric() && rt.IsNumeric():
			b.mode = modeGeneric
		case lt.Kind == types.Null || rt.Kind == types.Null:
			b.mode = modeGeneric
		case lt.Kind == types.Timestamp && rt.Kind == types.Varchar, lt.Kind == types.Varchar && rt.Kind == types.Timestamp:
			// compare a timestamp with a timestamp literal written as a string
			var err error
			if lt.Kind == types.Varchar {
				l, err = timestampOperand(l)
				b.L = l
			} else {
				r, err = timestampOperand(r)
				b.R = r
			}
			if err != nil {
				return nil, err
			}
			b.mode = modeTime
		case lt.Kind == types.Varchar || rt.Kind == types.Varchar:
			if lt.IsNumeric() || rt.IsNumeric() {
				b.mode = modeGeneric // MySQL compares a string with a number numerically; we compare via Compare
				return nil, fmt.Errorf("cannot compare %s with %s (use CAST)", lt, rt)
			}
			return nil, fmt.Errorf("cannot compare %s with %s", lt, rt)
		default:
			return nil, fmt.Errorf("cannot compare %s with %s", lt, rt)
		}
		return b, nil
	}
	if lt.Kind == types.Null || rt.Kind == types.Null {
		b.Typ = lt
		if lt.Kind == types.Null {
			b.Typ = rt
		}
		if b.Typ.Kind == types.Null {
			b.Typ = types.TBigInt
		}
		b.mode = modeGeneric
		return b, nil
	}
	if !lt.IsNumeric() || !rt.IsNumeric() {
		return nil, fmt.Errorf("operator %s expects numbers, got %s and %s", op, lt, rt)
	}
	switch {
	case op == OpIntDiv:
		b.Typ, b.mode = types.TBigInt, modeGeneric
	case lt.Kind == types.Double || rt.Kind == types.Double:
		b.Typ, b.mode = types.TDouble, modeFloat
	case op == OpDiv:
		// MySQL: integer / integer is DECIMAL with 4 more fraction digits.
		s := scaleOf(lt)
		if scaleOf(rt) > s {
			s = scaleOf(rt)
		}
		s += 4
		if s > 18 {
			s = 18
		}
		b.Typ, b.mode = types.TDecimal(18, s), modeDecimal
	case lt.Kind == types.Decimal || rt.Kind == types.Decimal:
		s := scaleOf(lt)
		if op == OpMul {
			s += scaleOf(rt)
		} else if scaleOf(rt) > s {
			s = scaleOf(rt)
		}
		if s > 18 {
			return nil, fmt.Errorf("operator %s: result scale %d exceeds 18", op, s)
		}
		b.Typ, b.mode = types.TDecimal(18, s), modeDecimal
	case lt.Kind == types.Int && rt.Kind == types.Int && op != OpMul:
		b.Typ, b.mode = types.TBigInt, modeInt
	default:
		b.Typ, b.mode = types.TBigInt, modeInt
	}
	return b, nil
}

func timestampOperand(e Expr) (Expr, error) {
	if lit, ok := e.(*Literal); ok {
		ms, ok := types.ParseTimestamp(lit.Val.S)
		if !ok {
			return nil, fmt.Errorf("cannot compare TIMESTAMP(3) with '%s': not a timestamp", lit.Val.S)
		}
		return &Literal{Val: types.TimestampValue(ms), Typ: types.TTimestamp}, nil
	}
	return nil, fmt.Errorf("cannot compare TIMESTAMP(3) with VARCHAR (use CAST)")
}

func scaleOf(t types.Type) uint8 {
	if t.Kind == types.Decimal {
		return t.Scale
	}
	return 0
}

func (b *Binary) Type() types.Type { return b.Typ }

func (b *Binary) String() string {
	return "(" + b.L.String() + " " + b.Op.String() + " " + b.R.String() + ")"
}

func (b *Binary) Eval(row types.Row) (types.Value, error) {
	l, err := b.L.Eval(row)
	if err != nil {
		return types.NullValue, err
	}
	r, err := b.R.Eval(row)
	if err != nil {
		return types.NullValue, err
	}
	if l.Kind == types.Null || r.Kind == types.Null {
		if b.Op == OpNullSafeEQ {
			return types.BoolValue(l.Kind == r.Kind), nil
		}
		return types.NullValue, nil
	}
	if b.Op.IsComparison() {
		var c int
		switch b.mode {
		case modeInt, modeTime:
			switch {
			case l.I < r.I:
				c = -1
			case l.I > r.I:
				c = 1
			}
		case modeString:
			c = strings.Compare(l.S, r.S)
		case modeFloat:
			lf, rf := l.AsFloat(), r.AsFloat()
			switch {
			case lf < rf:
				c = -1
			case lf > rf:
				c = 1
			}
		default:
			c = types.Compare(l, r)
		}
		return types.BoolValue(cmpResult(b.Op, c)), nil
	}
	switch b.mode {
	case modeInt:
		return intArith(b.Op, l.I, r.I)
	case modeFloat:
		return floatArith(b.Op, l.AsFloat(), r.AsFloat())
	case modeDecimal:
		return decArith(b.Op, l, r, b.Typ.Scale)
	}
	// generic: IntDiv or NULL-typed
	if b.Op == OpIntDiv {
		if r.AsFloat() == 0 {
			return types.NullValue, nil
		}
		if l.Kind != types.Double && r.Kind != types.Double && l.Kind != types.Decimal && r.Kind != types.Decimal {
			return types.BigIntValue(l.I / r.I), nil
		}
		return types.BigIntValue(int64(l.AsFloat() / r.AsFloat())), nil
	}
	return floatArith(b.Op, l.AsFloat(), r.AsFloat())
}

func cmpResult(op BinOp, c int) bool {
	switch op {
	case OpEQ, OpNullSafeEQ:
		return c == 0
	case OpNE:
		return c != 0
	case OpLT:
		return c < 0
	case OpLE:
		return c <= 0
	case OpGT:
		return c > 0
	default:
		return c >= 0
	}
}

func intArith(op BinOp, a, b int64) (types.Value, error) {
	switch op {
	case OpAdd:
		s := a + b
		if (s > a) != (b > 0) {
			return types.NullValue, ErrOverflow
		}
		return types.BigIntValue(s), nil
	case OpSub:
		s := a - b
		if (s < a) != (b > 0) {
			return types.NullValue, ErrOverflow
		}
		return types.BigIntValue(s), nil
	case OpMul:
		if a == 0 || b == 0 {
			return types.BigIntValue(0), nil
		}
		p := a * b
		if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return types.NullValue, ErrOverflow
		}
		return types.BigIntValue(p), nil
	case OpMod:
		if b == 0 {
			return types.NullValue, nil
		}
		return types.BigIntValue(a % b), nil
	case OpIntDiv:
		if b == 0 {
			return types.NullValue, nil
		}
		return types.BigIntValue(a / b), nil
	}
	return types.NullValue, fmt.Errorf("operator %s not defined on integers", op)
}

func floatArith(op BinOp, a, b float64) (types.Value, error) {
	switch op {
	case OpAdd:
		return types.DoubleValue(a + b), nil
	case OpSub:
		return types.DoubleValue(a - b), nil
	case OpMul:
		return types.DoubleValue(a * b), nil
	case OpDiv:
		if b == 0 {
			return types.NullValue, nil
		}
		return types.DoubleValue(a / b), nil
	case OpMod:
		if b == 0 {
			return types.NullValue, nil
		}
		return types.DoubleValue(math.Mod(a, b)), nil
	}
	return types.NullValue, fmt.Errorf("operator %s not defined on DOUBLE", op)
}

// toScaled brings an integer or decimal value to the given scale.
func toScaled(v types.Value, scale uint8) (int64, bool) {
	s := uint8(0)
	if v.Kind == types.Decimal {
		s = v.Scale
	}
	x := v.I
	if s < scale {
		m := types.IPow10[scale-s]
		y := x * m
		if x != 0 && y/m != x {
			return 0, false
		}
		return y, true
	}
	if s > scale {
		return types.DivRound(x, types.IPow10[s-scale]), true
	}
	return x, true
}

func decArith(op BinOp, l, r types.Value, scale uint8) (types.Value, error) {
	switch op {
	case OpAdd, OpSub, OpMod:
		a, ok1 := toScaled(l, scale)
		b, ok2 := toScaled(r, scale)
		if !ok1 || !ok2 {
			return types.NullValue, ErrOverflow
		}
		v, err := intArith(op, a, b)
		if err != nil || v.Kind == types.Null {
			return v, err
		}
		return types.DecimalValue(v.I, scale), nil
	case OpMul:
		v, err := intArith(OpMul, l.I, r.I) // scales add up: ls + rs == scale
		if err != nil {
			return v, err
		}
		return types.DecimalValue(v.I, scale), nil
	case OpDiv:
		if r.I == 0 {
			return types.NullValue, nil
		}
		// value = (l.I / 10^ls) / (r.I / 10^rs), want unscaled at `scale`:
		// l.I * 10^(scale + rs - ls) / r.I
		ls, rs := int(decScale(l)), int(decScale(r))
		e := int(scale) + rs - ls
		num := l.I
		den := r.I
		for e > 0 {
			n2 := num * 10
			if n2/10 != num {
				return types.DecimalValue(int64(math.Round(l.AsFloat()/r.AsFloat()*types.Pow10[scale])), scale), nil
			}
			num = n2
			e--
		}
		for e < 0 {
			den *= 10
			e++
		}
		return types.DecimalValue(types.DivRound(num, den), scale), nil
	}
	return types.NullValue, fmt.Errorf("operator %s not defined on DECIMAL", op)
}

func decScale(v types.Value) uint8 {
	if v.Kind == types.Decimal {
		return v.Scale
	}
	return 0
}

// Neg is unary minus.
type Neg struct{ X Expr }

func (n *Neg) Type() types.Type { return n.X.Type() }
func (n *Neg) String() string   { return "-" + n.X.String() }
func (n *Neg) Eval(row types.Row) (types.Value, error) {
	v, err := n.X.Eval(row)
	if err != nil || v.Kind == types.Null {
		return v, err
	}
	if v.Kind == types.Double {
		return types.DoubleValue(-v.F()), nil
	}
	if v.I == math.MinInt64 {
		return types.NullValue, ErrOverflow
	}
	v.I = -v.I
	return v, nil
}

// And is SQL three-valued AND over two or more operands.
type And struct{ Args []Expr }

func (a *And) Type() types.Type { return types.TBool }
func (a *And) String() string   { return joinExprs(a.Args, " AND ") }
func (a *And) Eval(row types.Row) (types.Value, error) {
	null := false
	for _, x := range a.Args {
		v, err := x.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.Kind == types.Null {
			null = true
			continue
		}
		if v.I == 0 {
			return types.BoolValue(false), nil
		}
	}
	if null {
		return types.NullValue, nil
	}
	return types.BoolValue(true), nil
}

// Or is SQL three-valued OR.
type Or struct{ Args []Expr }

func (o *Or) Type() types.Type { return types.TBool }
func (o *Or) String() string   { return joinExprs(o.Args, " OR ") }
func (o *Or) Eval(row types.Row) (types.Value, error) {
	null := false
	for _, x := range o.Args {
		v, err := x.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.Kind == types.Null {
			null = true
			continue
		}
		if v.I != 0 {
			return types.BoolValue(true), nil
		}
	}
	if null {
		return types.NullValue, nil
	}
	return types.BoolValue(false), nil
}

func joinExprs(xs []Expr, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// Not is SQL NOT.
type Not struct{ X Expr }

func (n *Not) Type() types.Type { return types.TBool }
func (n *Not) String() string   { return "NOT " + n.X.String() }
func (n *Not) Eval(row types.Row) (types.Value, error) {
	v, err := n.X.Eval(row)
	if err != nil || v.Kind == types.Null {
		return v, err
	}
	return types.BoolValue(v.I == 0), nil
}

// IsNull is `x IS [NOT] NULL`.
type IsNull struct {
	X      Expr
	Negate bool
}

func (n *IsNull) Type() types.Type { return types.TBool }
func (n *IsNull) String() string {
	if n.Negate {
		return n.X.String() + " IS NOT NULL"
	}
	return n.X.String() + " IS NULL"
}
func (n *IsNull) Eval(row types.Row) (types.Value, error) {
	v, err := n.X.Eval(row)
	if err != nil {
		return types.NullValue, err
	}
	return types.BoolValue((v.Kind == types.Null) != n.Negate), nil
}

// IsTrue is `x IS [NOT] TRUE/FALSE`.
type IsTrue struct {
	X      Expr
	Want   bool
	Negate bool
}

func (n *IsTrue) Type() types.Type { return types.TBool }
func (n *IsTrue) String() string {
	s := " IS "
	if n.Negate {
		s += "NOT "
	}
	if n.Want {
		return n.X.String() + s + "TRUE"
	}
	return n.X.String() + s + "FALSE"
}
func (n *IsTrue) Eval(row types.Row) (types.Value, error) {
	v, err := n.X.Eval(row)
	if err != nil {
		return types.NullValue, err
	}
	r := v.Kind != types.Null && (v.I != 0) == n.Want
	return types.BoolValue(r != n.Negate), nil
}

// Case is CASE WHEN c1 THEN r1 ... ELSE e END (the simple form is desugared
// by the binder into equality conditions).
type Case struct {
	Whens []Expr
	Thens []Expr
	Else  Expr // nil = NULL
	Typ   types.Type
}

func (c *Case) Type() types.Type { return c.Typ }
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for i := range c.Whens {
		b.WriteString(" WHEN " + c.Whens[i].String() + " THEN " + c.Thens[i].String())
	}
	if c.Else != nil {
		b.WriteString(" ELSE " + c.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}
func (c *Case) Eval(row types.Row) (types.Value, error) {
	for i, w := range c.Whens {
		v, err := w.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.Kind != types.Null && v.I != 0 {
			return c.Thens[i].Eval(row)
		}
	}
	if c.Else == nil {
		return types.NullValue, nil
	}
	return c.Else.Eval(row)
}

// In is `x [NOT] IN (list)`. With constant list items a hash set is used.
type In struct {
	X      Expr
	List   []Expr
	Negate bool
	set    map[types.Value]struct{} // non-nil when every item is a non-NULL literal of X's comparable kind
	hasNul bool
}

// NewIn builds an IN predicate; literal lists become a set lookup.
func NewIn(x Expr, list []Expr, negate bool) *In {
	in := &In{X: x, List: list, Negate: negate}
	set := map[types.Value]struct{}{}
	for _, it := range list {
		lit, ok := it.(*Literal)
		if !ok {
			return in
		}
		if lit.Val.Kind == types.Null {
			in.hasNul = true
			continue
		}
		if lit.Val.Kind != x.Type().Kind && !(x.Type().IsInteger() && lit.Val.Kind != types.Double && lit.Typ.IsInteger()) {
			return in
		}
		v := lit.Val
		if x.Type().IsInteger() {
			v.Kind = x.Type().Kind
		}
		set[v] = struct{}{}
	}
	in.set = set
	return in
}

func (n *In) Type() types.Type { return types.TBool }
func (n *In) String() string {
	s := n.X.String()
	if n.Negate {
		s += " NOT"
	}
	return s + " IN " + joinExprs(n.List, ", ")
}
func (n *In) Eval(row types.Row) (types.Value, error) {
	v, err := n.X.Eval(row)
	if err != nil || v.Kind == types.Null {
		return types.NullValue, err
	}
	if n.set != nil {
		if _, ok := n.set[v]; ok {
			return types.BoolValue(!n.Negate), nil
		}
		if n.hasNul {
			return types.NullValue, nil
		}
		return types.BoolValue(n.Negate), nil
	}
	null := false
	for _, it := range n.List {
		w, err := it.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if w.Kind == types.Null {
			null = true
			continue
		}
		if types.Compare(v, w) == 0 {
			return types.BoolValue(!n.Negate), nil
		}
	}
	if null {
		return types.NullValue, nil
	}
	return types.BoolValue(n.Negate), nil
}

// Cast converts X to Typ with CastValue; a failed conversion is a data error.
type Cast struct {
	X   Expr
	Typ types.Type
}

func (c *Cast) Type() types.Type { return c.Typ }
func (c *Cast) String() string   { return "CAST(" + c.X.String() + " AS " + c.Typ.String() + ")" }
func (c *Cast) Eval(row types.Row) (types.Value, error) {
	v, err := c.X.Eval(row)
	if err != nil || v.Kind == types.Null {
		return types.NullValue, err
	}
	return CastValue(v, c.Typ)
}

// IsConstant reports whether e depends on no column and no volatile function.
func IsConstant(e Expr) bool {
	constant := true
	Walk(e, func(x Expr) {
		switch t := x.(type) {
		case *Column:
			constant = false
		case *Call:
			if t.Def.Volatile {
				constant = false
			}
		}
	})
	return constant
}

// Children returns the direct sub-expressions of e.
func Children(e Expr) []Expr {
	switch t := e.(type) {
	case *Binary:
		return []Expr{t.L, t.R}
	case *Neg:
		return []Expr{t.X}
	case *And:
		return t.Args
	case *Or:
		return t.Args
	case *Not:
		return []Expr{t.X}
	case *IsNull:
		return []Expr{t.X}
	case *IsTrue:
		return []Expr{t.X}
	case *Case:
		out := append(append([]Expr{}, t.Whens...), t.Thens...)
		if t.Else != nil {
			out = append(out, t.Else)
		}
		return out
	case *In:
		return append([]Expr{t.X}, t.List...)
	case *Cast:
		return []Expr{t.X}
	case *Call:
		return t.Args
	}
	return nil
}

// Walk calls f for e and every sub-expression, parents first.
func Walk(e Expr, f func(Expr)) {
	f(e)
	for _, c := range Children(e) {
		Walk(c, f)
	}
}

// Columns returns the sorted distinct column indexes e reads.
func Columns(e Expr) []int {
	seen := map[int]bool{}
	var out []int
	Walk(e, func(x Expr) {
		if c, ok := x.(*Column); ok && !seen[c.Index] {
			seen[c.Index] = true
			out = append(out, c.Index)
		}
	})
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Transform rebuilds e bottom-up: children first, then f on the rebuilt
// node. Nodes f returns unchanged are shared, not copied.
func Transform(e Expr, f func(Expr) Expr) Expr {
	switch t := e.(type) {
	case *Binary:
		c := *t
		c.L, c.R = Transform(t.L, f), Transform(t.R, f)
		return f(&c)
	case *Neg:
		return f(&Neg{X: Transform(t.X, f)})
	case *And:
		return f(&And{Args: transformAll(t.Args, f)})
	case *Or:
		return f(&Or{Args: transformAll(t.Args, f)})
	case *Not:
		return f(&Not{X: Transform(t.X, f)})
	case *IsNull:
		return f(&IsNull{X: Transform(t.X, f), Negate: t.Negate})
	case *IsTrue:
		return f(&IsTrue{X: Transform(t.X, f), Want: t.Want, Negate: t.Negate})
	case *Case:
		c := &Case{Whens: transformAll(t.Whens, f), Thens: transformAll(t.Thens, f), Typ: t.Typ}
		if t.Else != nil {
			c.Else = Transform(t.Else, f)
		}
		return f(c)
	case *In:
		return f(NewIn(Transform(t.X, f), transformAll(t.List, f), t.Negate))
	case *Cast:
		return f(&Cast{X: Transform(t.X, f), Typ: t.Typ})
	case *Call:
		c := *t
		c.Args = transformAll(t.Args, f)
		return f(&c)
	}
	return f(e) // leaves: Column, Literal, and node types defined elsewhere
}

func transformAll(xs []Expr, f func(Expr) Expr) []Expr {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		out[i] = Transform(x, f)
	}
	return out
}

// Remap returns a copy of e whose column references are replaced by f.
func Remap(e Expr, f func(c *Column) Expr) Expr {
	return Transform(e, func(x Expr) Expr {
		if c, ok := x.(*Column); ok {
			return f(c)
		}
		return x
	})
}

// Fold evaluates constant sub-expressions once (constant folding). An
// evaluation error leaves the expression unfolded so that the error surfaces
// per row, where the table's error policy applies.
func Fold(e Expr) Expr {
	return Transform(e, func(x Expr) Expr {
		switch x.(type) {
		case *Literal, *Column:
			return x
		}
		if IsConstant(x) {
			if v, err := x.Eval(nil); err == nil {
				return &Literal{Val: v, Typ: x.Type()}
			}
		}
		return x
	})
}
