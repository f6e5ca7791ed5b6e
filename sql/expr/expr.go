package expr

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/weirsql/weir/sql/types"
)

// Expr is a typed, bound scalar expression. Expressions are immutable after
// binding and safe to evaluate from many goroutines at once.
type Expr interface {
	// Type is the result type.
	Type() types.Type
	// Eval computes the value over one row. An error is a per-row data error
	// (a failed CAST, a bad JSON path): the caller applies the error policy.
	Eval(row types.Row) (types.Value, error)
	// String prints the expression deterministically (used by EXPLAIN).
	String() string
}

// Column reads column Index of the input row.
type Column struct {
	Index int
	Name  string
	Typ   types.Type
}

func (c *Column) Type() types.Type                        { return c.Typ }
func (c *Column) Eval(row types.Row) (types.Value, error) { return row[c.Index], nil }
func (c *Column) String() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("$%d", c.Index)
}

// Literal is a constant.
type Literal struct {
	Val types.Value
	Typ types.Type
}

func (l *Literal) Type() types.Type                    { return l.Typ }
func (l *Literal) Eval(types.Row) (types.Value, error) { return l.Val, nil }
func (l *Literal) String() string                      { return LiteralString(l.Val) }

// LiteralString prints a value as a SQL literal.
func LiteralString(v types.Value) string {
	switch v.Kind {
	case types.Varchar:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	case types.Timestamp:
		return "TIMESTAMP '" + v.String() + "'"
	}
	return v.String()
}

// Impl computes a function's value from its evaluated arguments. Unless the
// function is NullSafe, it is never called with a NULL argument. It must not
// keep args.
type Impl func(args []types.Value) (types.Value, error)

// FuncDef describes a scalar function.
type FuncDef struct {
	Name string
	// Resolve type-checks the argument types and returns the result type and
	// the implementation. Its error is shown to the user as is, so it names the
	// function and what was expected ("SUBSTRING expects (VARCHAR, INT[, INT]), got (INT)").
	Resolve func(args []types.Type) (types.Type, Impl, error)
	// Bind, when set, is used instead of Resolve and also sees the argument
	// expressions, so a constant argument can shape the result type
	// (ROUND(x, 2) on a DECIMAL has scale 2).
	Bind func(args []Expr) (types.Type, Impl, error)
	// NullSafe functions receive NULL arguments (COALESCE, IFNULL, CONCAT_WS).
	// Others return NULL when any argument is NULL, without calling Impl.
	NullSafe bool
	// Volatile functions (PROCTIME, RAND, NOW) are never constant-folded.
	Volatile bool
}

var (
	regMu sync.RWMutex
	reg   = map[string]*FuncDef{}
)

// Register adds a scalar function. Names are case-insensitive. It panics on
// a duplicate: registration happens in init functions.
func Register(d *FuncDef) {
	regMu.Lock()
	defer regMu.Unlock()
	k := strings.ToLower(d.Name)
	if _, dup := reg[k]; dup {
		panic("expr: function registered twice: " + d.Name)
	}
	reg[k] = d
}

// Lookup finds a scalar function by name.
func Lookup(name string) (*FuncDef, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	d, ok := reg[strings.ToLower(name)]
	return d, ok
}

// FuncNames lists registered functions, sorted (for shell completion and docs).
func FuncNames() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(reg))
	for _, d := range reg {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// Call applies a registered function.
type Call struct {
	Def  *FuncDef
	Args []Expr
	Typ  types.Type
	Fn   Impl
}

// NewCall resolves def against args.
func NewCall(def *FuncDef, args []Expr) (*Call, error) {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	var (
		t   types.Type
		fn  Impl
		err error
	)
	if def.Bind != nil {
		t, fn, err = def.Bind(args)
	} else {
		t, fn, err = def.Resolve(ts)
	}
	if err != nil {
		return nil, err
	}
	return &Call{Def: def, Args: args, Typ: t, Fn: fn}, nil
}

func (c *Call) Type() types.Type { return c.Typ }

func (c *Call) Eval(row types.Row) (types.Value, error) {
	var buf [4]types.Value
	var args []types.Value
	if len(c.Args) <= len(buf) {
		args = buf[:len(c.Args)]
	} else {
		args = make([]types.Value, len(c.Args))
	}
	for i, a := range c.Args {
		v, err := a.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.Kind == types.Null && !c.Def.NullSafe {
			return types.NullValue, nil
		}
		args[i] = v
	}
	return c.Fn(args)
}

func (c *Call) String() string {
	var b strings.Builder
	b.WriteString(strings.ToUpper(c.Def.Name))
	b.WriteByte('(')
	for i, a := range c.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}
