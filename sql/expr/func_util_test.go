package expr

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

// typedArg is a test argument with an explicit type (e.g. a NULL VARCHAR).
type typedArg struct {
	v types.Value
	t types.Type
}

func ta(v types.Value, t types.Type) typedArg { return typedArg{v, t} }

// tval turns a Go test value into a SQL value: int → INT, int64 → BIGINT,
// float64 → DOUBLE, string → VARCHAR, bool → BOOLEAN, nil → NULL.
func tval(a any) types.Value {
	switch x := a.(type) {
	case nil:
		return types.NullValue
	case types.Value:
		return x
	case typedArg:
		return x.v
	case int:
		return types.IntValue(int64(x))
	case int64:
		return types.BigIntValue(x)
	case float64:
		return types.DoubleValue(x)
	case string:
		return types.StringValue(x)
	case bool:
		return types.BoolValue(x)
	}
	panic(fmt.Sprintf("tval: unsupported %T", a))
}

func typeOfValue(v types.Value) types.Type {
	if v.Kind == types.Decimal {
		return types.TDecimal(18, v.Scale)
	}
	return types.Type{Kind: v.Kind}
}

func tlit(a any) *Literal {
	if x, ok := a.(typedArg); ok {
		return &Literal{Val: x.v, Typ: x.t}
	}
	v := tval(a)
	return &Literal{Val: v, Typ: typeOfValue(v)}
}

// dec parses a decimal literal such as "-12.340" keeping its scale.
func dec(s string) types.Value {
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
	}
	n, ok := parseNumText(s)
	if !ok {
		panic("dec: " + s)
	}
	u, ok := n.scaled(scale)
	if !ok {
		panic("dec: " + s)
	}
	return types.DecimalValue(u, uint8(scale))
}

// tsv parses a timestamp literal.
func tsv(s string) types.Value {
	ms, ok := types.ParseTimestamp(s)
	if !ok {
		panic("tsv: " + s)
	}
	return types.TimestampValue(ms)
}

// newTestCall resolves a registered function over literal arguments.
func newTestCall(name string, args ...any) (*Call, error) {
	def, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no function %s", name)
	}
	es := make([]Expr, len(args))
	for i, a := range args {
		es[i] = tlit(a)
	}
	return NewCall(def, es)
}

// fcase is one function call and its expected value or error text.
type fcase struct {
	fn   string
	args []any
	want any    // expected value (see tval); ignored when err is set
	err  string // expected error, matched as a substring
}

func runCases(t *testing.T, cases []fcase) {
	t.Helper()
	for _, c := range cases {
		name := fmt.Sprintf("%s%v", c.fn, c.args)
		t.Run(name, func(t *testing.T) {
			call, err := newTestCall(c.fn, c.args...)
			if err != nil {
				if c.err != "" && strings.Contains(err.Error(), c.err) {
					return
				}
				t.Fatalf("resolve: %v", err)
			}
			got, err := call.Eval(nil)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got (%v, %v), want error containing %q", got, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			want := tval(c.want)
			if got.Kind != want.Kind || got.String() != want.String() {
				t.Fatalf("got %s %q, want %s %q", got.Kind, got.String(), want.Kind, want.String())
			}
			checkValueType(t, got, call.Type())
		})
	}
}

// checkValueType asserts that a result value agrees with the resolved type.
func checkValueType(t *testing.T, v types.Value, typ types.Type) {
	t.Helper()
	if v.Kind == types.Null {
		return
	}
	if v.Kind != typ.Kind {
		t.Fatalf("value kind %s but resolved type %s", v.Kind, typ)
	}
	if typ.Kind == types.Decimal {
		if v.Scale != typ.Scale {
			t.Fatalf("value scale %d but resolved type %s", v.Scale, typ)
		}
		if !decFits(v.I, decPrecision(typ)) {
			t.Fatalf("value %s does not fit %s", v, typ)
		}
	}
	if typ.Kind == types.Int && !intFits(v.I, types.Int) {
		t.Fatalf("value %s does not fit INT", v)
	}
}

// sigCase expects Resolve to fail with exactly msg.
type sigCase struct {
	fn   string
	args []types.Type
	msg  string // exact text; "" means "any error"
}

func runSigCases(t *testing.T, cases []sigCase) {
	t.Helper()
	for _, c := range cases {
		def, ok := Lookup(c.fn)
		if !ok {
			t.Fatalf("no function %s", c.fn)
		}
		_, _, err := def.Resolve(c.args)
		if err == nil {
			t.Errorf("%s%s: resolved, want error", c.fn, fnTypeList(c.args))
			continue
		}
		if c.msg != "" && err.Error() != c.msg {
			t.Errorf("%s%s: error %q, want %q", c.fn, fnTypeList(c.args), err, c.msg)
		}
		if !strings.HasPrefix(err.Error(), strings.ToUpper(c.fn)) {
			t.Errorf("%s: error %q does not name the function", c.fn, err)
		}
	}
}

func tys(ts ...types.Type) []types.Type { return ts }

func TestEveryFunctionResolvesWithNullArgs(t *testing.T) {
	// Every strict function must yield NULL for NULL arguments without
	// calling its Impl, and every function must accept the NULL type.
	for _, name := range FuncNames() {
		def, _ := Lookup(name)
		var call *Call
		var err error
		for n := 0; n <= 4 && call == nil; n++ {
			es := make([]Expr, n)
			for i := range es {
				es[i] = &Literal{Typ: types.TNull}
			}
			call, err = NewCall(def, es)
		}
		if call == nil {
			t.Errorf("%s: no arity accepts NULL arguments: %v", name, err)
			continue
		}
		if len(call.Args) == 0 || def.NullSafe {
			continue
		}
		v, err := call.Eval(nil)
		if err != nil || v.Kind != types.Null {
			t.Errorf("%s(NULL...) = %v, %v; want NULL", name, v, err)
		}
	}
}

func TestPatternCacheBounded(t *testing.T) {
	var c patternCache[int]
	for i := 0; i < 3*fnCacheMax; i++ {
		v, err := c.get(fmt.Sprint(i), func(s string) (int, error) { return len(s), nil })
		if err != nil || v != len(fmt.Sprint(i)) {
			t.Fatal(v, err)
		}
	}
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	if n > fnCacheMax {
		t.Fatalf("cache holds %d entries, bound %d", n, fnCacheMax)
	}
}

// TestDocListsEveryFunction keeps the function list in doc.go (the source
// of the README's SQL reference) in step with the registry.
func TestDocListsEveryFunction(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, name := range FuncNames() {
		if !strings.Contains(doc, "//\t"+name+"(") && !strings.Contains(doc, " "+name+"(") && !strings.Contains(doc, ", "+name+"(") {
			t.Errorf("doc.go does not list %s", name)
		}
	}
}
