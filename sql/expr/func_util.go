package expr

// Shared helpers of the scalar function library (func_*.go): signature
// checking, argument conversion and the bounded caches for compiled
// patterns. The helpers carry a fn/arg prefix to keep clear of the operator
// code living in the same package.

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weirsql/weir/sql/types"
)

// argClass is what a function accepts at one argument position. Every class
// accepts the type of the NULL literal (the call then yields NULL, or the
// NullSafe function sees a NULL value).
type argClass uint8

const (
	argAny     argClass = iota // any type (CONCAT converts it to a string)
	argStr                     // VARCHAR
	argNum                     // INT, BIGINT, DECIMAL, DOUBLE
	argInt                     // any numeric; non-integers are rounded half away from zero
	argTS                      // TIMESTAMP, or VARCHAR parsed as a timestamp
	argBoolish                 // BOOLEAN or a number (non-zero is true)
)

func (c argClass) accepts(t types.Type) bool {
	if t.Kind == types.Null {
		return true
	}
	switch c {
	case argAny:
		return true
	case argStr:
		return t.Kind == types.Varchar
	case argNum, argInt:
		return t.IsNumeric()
	case argTS:
		return t.Kind == types.Timestamp || t.Kind == types.Varchar
	case argBoolish:
		return t.Kind == types.Bool || t.IsNumeric()
	}
	return false
}

// fnTypeList prints argument types as "(INT, VARCHAR)".
func fnTypeList(args []types.Type) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	b.WriteByte(')')
	return b.String()
}

// fnSigError is the error of a call whose arguments do not fit the signature.
func fnSigError(name, sig string, args []types.Type) error {
	return fmt.Errorf("%s expects %s, got %s", name, sig, fnTypeList(args))
}

// fnCheckArgs checks the number of arguments against [min, max] (max < 0:
// unbounded) and each argument against classes; the last class repeats for
// variadic tails.
func fnCheckArgs(name, sig string, args []types.Type, min, max int, classes ...argClass) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return fnSigError(name, sig, args)
	}
	for i, t := range args {
		c := classes[len(classes)-1]
		if i < len(classes) {
			c = classes[i]
		}
		if !c.accepts(t) {
			return fnSigError(name, sig, args)
		}
	}
	return nil
}

// funcResolver resolves a call of the function registered under name.
type funcResolver func(name string, args []types.Type) (types.Type, Impl, error)

// fnRegister registers one FuncDef per name (aliases get their own def so
// that error messages name what the user wrote).
func fnRegister(names []string, nullSafe, volatile bool, r funcResolver) {
	for _, n := range names {
		name := n
		Register(&FuncDef{
			Name:     name,
			NullSafe: nullSafe,
			Volatile: volatile,
			Resolve: func(args []types.Type) (types.Type, Impl, error) {
				return r(name, args)
			},
		})
	}
}

// fnSimple registers a strict function with a fixed signature and result type.
func fnSimple(names []string, sig string, result types.Type, min, max int, classes []argClass, impl func(name string) Impl) {
	fnRegister(names, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, sig, args, min, max, classes...); err != nil {
			return types.Type{}, nil, err
		}
		return result, impl(name), nil
	})
}

// argInt64 converts a numeric (or BOOLEAN/TIMESTAMP) value to int64,
// rounding half away from zero and saturating at the int64 range.
func argInt64(v types.Value) int64 {
	switch v.Kind {
	case types.Double:
		f := math.Round(v.F())
		switch {
		case f != f:
			return 0
		case f >= 9.223372036854775807e18:
			return math.MaxInt64
		case f <= -9.223372036854775808e18:
			return math.MinInt64
		}
		return int64(f)
	case types.Decimal:
		if v.Scale == 0 {
			return v.I
		}
		if v.Scale > 18 {
			return 0
		}
		return types.DivRound(v.I, types.IPow10[v.Scale])
	case types.Varchar:
		x, err := CastValue(v, types.TBigInt)
		if err != nil {
			return 0
		}
		return x.I
	}
	return v.I
}

// argString renders any value as a string (CONCAT's conversion).
func argString(v types.Value) string {
	if v.Kind == types.Varchar {
		return v.S
	}
	return v.String()
}

// argTimestamp reads a TIMESTAMP argument, parsing a VARCHAR one.
func argTimestamp(name string, v types.Value) (int64, error) {
	if v.Kind == types.Timestamp {
		return v.I, nil
	}
	if v.Kind == types.Varchar {
		if ms, ok := types.ParseTimestamp(strings.TrimSpace(v.S)); ok {
			return ms, nil
		}
	}
	return 0, fmt.Errorf("%s: cannot cast %s to TIMESTAMP(3)", name, LiteralString(v))
}

// argTruth is the truth of a BOOLEAN or numeric value (NULL is false).
func argTruth(v types.Value) bool {
	switch v.Kind {
	case types.Null:
		return false
	case types.Double:
		return v.F() != 0
	}
	return v.I != 0
}

// fnFloorDiv divides rounding toward negative infinity (d > 0).
func fnFloorDiv(x, d int64) int64 {
	q := x / d
	if x%d < 0 {
		q--
	}
	return q
}

// fnMulOK multiplies with an overflow check.
func fnMulOK(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// fnAddOK adds with an overflow check.
func fnAddOK(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// ---- bounded caches of compiled patterns ----

// fnCacheMax bounds each pattern cache; when full it is emptied (patterns
// that are constants at their call site are memoised there anyway).
const fnCacheMax = 1024

// patternCache maps a pattern (regexp, LIKE pattern, date format, JSON path)
// to its compiled form. Safe for concurrent use.
type patternCache[V any] struct {
	m sync.Map
	n atomic.Int64
}

func (c *patternCache[V]) get(key string, compile func(string) (V, error)) (V, error) {
	if v, ok := c.m.Load(key); ok {
		return v.(V), nil
	}
	v, err := compile(key)
	if err != nil {
		return v, err
	}
	if _, loaded := c.m.LoadOrStore(key, v); !loaded {
		if c.n.Add(1) > fnCacheMax {
			c.m.Clear()
			c.n.Store(0)
		}
	}
	return v, nil
}

// siteMemo remembers, for one call site (one Impl closure), the first
// pattern it compiled: a constant pattern is then compiled once per call
// site and looked up without touching the shared cache.
type siteMemo[V any] struct {
	p atomic.Pointer[memoEntry[V]]
}

type memoEntry[V any] struct {
	key string
	val V
}

func (s *siteMemo[V]) get(key string, c *patternCache[V], compile func(string) (V, error)) (V, error) {
	if e := s.p.Load(); e != nil && e.key == key {
		return e.val, nil
	}
	v, err := c.get(key, compile)
	if err == nil && s.p.Load() == nil {
		s.p.CompareAndSwap(nil, &memoEntry[V]{key: key, val: v})
	}
	return v, err
}
