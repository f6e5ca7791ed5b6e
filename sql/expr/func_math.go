package expr

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/weirsql/weir/sql/types"
)

func init() {
	fnRegister([]string{"MOD"}, false, false, resolveMod)
	fnRegister([]string{"ABS"}, false, false, resolveAbs)
	fnRegister([]string{"ROUND"}, false, false, resolveRound)
	if d, ok := Lookup("round"); ok {
		d.Bind = bindRound
	}
	fnRegister([]string{"FLOOR"}, false, false, resolveFloorCeil(false))
	fnRegister([]string{"CEIL", "CEILING"}, false, false, resolveFloorCeil(true))
	fnRegister([]string{"SIGN"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(NUMERIC)", args, 1, 1, argNum); err != nil {
			return types.Type{}, nil, err
		}
		return types.TInt, func(a []types.Value) (types.Value, error) {
			var s int64
			if a[0].Kind == types.Double {
				f := a[0].F()
				switch {
				case f > 0:
					s = 1
				case f < 0:
					s = -1
				}
			} else {
				switch {
				case a[0].I > 0:
					s = 1
				case a[0].I < 0:
					s = -1
				}
			}
			return types.IntValue(s), nil
		}, nil
	})
	fnRegister([]string{"POWER", "POW"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(NUMERIC, NUMERIC)", args, 2, 2, argNum); err != nil {
			return types.Type{}, nil, err
		}
		return types.TDouble, func(a []types.Value) (types.Value, error) {
			return doubleResult(name, math.Pow(a[0].AsFloat(), a[1].AsFloat()))
		}, nil
	})
	unary := func(names []string, f func(float64) float64, domainOK func(float64) bool) {
		fnRegister(names, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
			if err := fnCheckArgs(name, "(NUMERIC)", args, 1, 1, argNum); err != nil {
				return types.Type{}, nil, err
			}
			return types.TDouble, func(a []types.Value) (types.Value, error) {
				x := a[0].AsFloat()
				if domainOK != nil && !domainOK(x) {
					return types.NullValue, nil
				}
				return doubleResult(name, f(x))
			}, nil
		})
	}
	positive := func(x float64) bool { return x > 0 }
	unary([]string{"SQRT"}, math.Sqrt, func(x float64) bool { return x >= 0 })
	unary([]string{"LN"}, math.Log, positive)
	unary([]string{"LOG10"}, math.Log10, positive)
	unary([]string{"LOG2"}, math.Log2, positive)
	unary([]string{"EXP"}, math.Exp, nil)
	fnRegister([]string{"LOG"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "([NUMERIC base, ] NUMERIC)", args, 1, 2, argNum); err != nil {
			return types.Type{}, nil, err
		}
		return types.TDouble, func(a []types.Value) (types.Value, error) {
			if len(a) == 1 {
				x := a[0].AsFloat()
				if x <= 0 {
					return types.NullValue, nil
				}
				return types.DoubleValue(math.Log(x)), nil
			}
			b, x := a[0].AsFloat(), a[1].AsFloat()
			if x <= 0 || b <= 0 || b == 1 {
				return types.NullValue, nil
			}
			return types.DoubleValue(math.Log(x) / math.Log(b)), nil
		}, nil
	})
	fnRegister([]string{"PI"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) != 0 {
			return types.Type{}, nil, fnSigError(name, "()", args)
		}
		return types.TDouble, func([]types.Value) (types.Value, error) { return types.DoubleValue(math.Pi), nil }, nil
	})
	fnRegister([]string{"GREATEST"}, false, false, resolveExtreme(1))
	fnRegister([]string{"LEAST"}, false, false, resolveExtreme(-1))
}

// doubleResult refuses an infinite result (MySQL: "DOUBLE value is out of
// range") and turns NaN into NULL.
func doubleResult(name string, f float64) (types.Value, error) {
	if math.IsInf(f, 0) {
		return types.NullValue, fmt.Errorf("%s: DOUBLE value is out of range", name)
	}
	if f != f {
		return types.NullValue, nil
	}
	return types.DoubleValue(f), nil
}

// numArgType treats the NULL literal as BIGINT for result typing.
func numArgType(t types.Type) types.Type {
	if t.Kind == types.Null {
		return types.TBigInt
	}
	return t
}

// scaledOf brings an integer, BOOLEAN or DECIMAL value to scale s.
func scaledOf(v types.Value, s uint8) (int64, bool) {
	from := uint8(0)
	if v.Kind == types.Decimal {
		from = v.Scale
	}
	return rescaleDecimal(v.I, from, s)
}

func resolveMod(name string, args []types.Type) (types.Type, Impl, error) {
	if err := fnCheckArgs(name, "(NUMERIC, NUMERIC)", args, 2, 2, argNum); err != nil {
		return types.Type{}, nil, err
	}
	a, b := args[0], args[1]
	if a.Kind == types.Null {
		a = numArgType(b)
	}
	if b.Kind == types.Null {
		b = a
	}
	switch {
	case a.Kind == types.Double || b.Kind == types.Double:
		return types.TDouble, func(v []types.Value) (types.Value, error) {
			y := v[1].AsFloat()
			if y == 0 {
				return types.NullValue, nil
			}
			return types.DoubleValue(math.Mod(v[0].AsFloat(), y)), nil
		}, nil
	case a.IsInteger() && b.IsInteger():
		t := types.TBigInt
		if a.Kind == types.Int && b.Kind == types.Int {
			t = types.TInt
		}
		return t, func(v []types.Value) (types.Value, error) {
			if v[1].I == 0 {
				return types.NullValue, nil
			}
			return types.Value{Kind: t.Kind, I: v[0].I % v[1].I}, nil
		}, nil
	}
	t := decimalUnion(a, b)
	return t, func(v []types.Value) (types.Value, error) {
		x, ok1 := scaledOf(v[0], t.Scale)
		y, ok2 := scaledOf(v[1], t.Scale)
		if ok2 && y == 0 || v[1].I == 0 {
			return types.NullValue, nil
		}
		if ok1 && ok2 {
			return types.DecimalValue(x%y, t.Scale), nil
		}
		// a scaled operand overflows int64: do it in big integers
		bx := bigScaled(v[0], t.Scale)
		by := bigScaled(v[1], t.Scale)
		r := new(big.Int).Rem(bx, by)
		if !r.IsInt64() || !decFits(r.Int64(), decPrecision(t)) {
			return types.NullValue, fmt.Errorf("%s: DECIMAL value is out of range", name)
		}
		return types.DecimalValue(r.Int64(), t.Scale), nil
	}, nil
}

func bigScaled(v types.Value, s uint8) *big.Int {
	from := uint8(0)
	if v.Kind == types.Decimal {
		from = v.Scale
	}
	x := big.NewInt(v.I)
	if s > from {
		x.Mul(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s-from)), nil))
	}
	return x
}

func resolveAbs(name string, args []types.Type) (types.Type, Impl, error) {
	if err := fnCheckArgs(name, "(NUMERIC)", args, 1, 1, argNum); err != nil {
		return types.Type{}, nil, err
	}
	t := numArgType(args[0])
	return t, func(a []types.Value) (types.Value, error) {
		v := a[0]
		switch v.Kind {
		case types.Double:
			return types.DoubleValue(math.Abs(v.F())), nil
		case types.Int, types.BigInt, types.Decimal:
			if v.I < 0 {
				if v.I == math.MinInt64 || (v.Kind == types.Int && -v.I > math.MaxInt32) {
					return types.NullValue, fmt.Errorf("%s: %s value is out of range", name, t)
				}
				v.I = -v.I
			}
			return v, nil
		}
		return CastValue(v, t)
	}, nil
}

// bindRound gives ROUND(decimal, d) with a constant d the scale d, as
// MySQL does: ROUND(2.567, 2) is 2.57, not 2.570.
func bindRound(args []Expr) (types.Type, Impl, error) {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	t, fn, err := resolveRound("ROUND", ts)
	if err != nil || len(args) != 2 || t.Kind != types.Decimal {
		return t, fn, err
	}
	lit, ok := Fold(args[1]).(*Literal)
	if !ok || lit.Val.Kind == types.Null || !lit.Typ.IsInteger() || lit.Val.I >= int64(t.Scale) {
		return t, fn, nil
	}
	d := uint8(0) // a negative d rounds to tens, hundreds...: no fraction left
	if lit.Val.I > 0 {
		d = uint8(lit.Val.I)
	}
	drop := types.IPow10[t.Scale-d]
	out := decimalType(int(decPrecision(t))-int(t.Scale), int(d))
	return out, func(a []types.Value) (types.Value, error) {
		v, err := fn(a)
		if err != nil || v.Kind == types.Null {
			return v, err
		}
		return types.DecimalValue(v.I/drop, d), nil // exact: the dropped digits are zero
	}, nil
}

func resolveRound(name string, args []types.Type) (types.Type, Impl, error) {
	if err := fnCheckArgs(name, "(NUMERIC[, INT])", args, 1, 2, argNum, argInt); err != nil {
		return types.Type{}, nil, err
	}
	in := numArgType(args[0])
	digits := func(a []types.Value) int64 {
		if len(a) < 2 {
			return 0
		}
		return argInt64(a[1])
	}
	switch in.Kind {
	case types.Double:
		return types.TDouble, func(a []types.Value) (types.Value, error) {
			return types.DoubleValue(roundFloat(a[0].AsFloat(), digits(a))), nil
		}, nil
	case types.Int, types.BigInt:
		return in, func(a []types.Value) (types.Value, error) {
			r, ok := roundInt(a[0].I, digits(a))
			if !ok || !intFits(r, in.Kind) {
				return types.NullValue, fmt.Errorf("%s: %s value is out of range", name, in)
			}
			return types.Value{Kind: in.Kind, I: r}, nil
		}, nil
	}
	// DECIMAL(p,s). The result type cannot depend on the value of d (Resolve
	// only sees types), so ROUND(x, d) keeps scale s and zero-fills the
	// dropped digits; ROUND(x) has scale 0.
	p, s := int(decPrecision(in)), int(in.Scale)
	out := decimalType(p-s+1, 0)
	if len(args) == 2 {
		out = decimalType(p-s+1, s)
	} else if s == 0 {
		out = in
	}
	return out, func(a []types.Value) (types.Value, error) {
		u, ok := scaledOf(a[0], uint8(s))
		if !ok {
			return types.NullValue, fmt.Errorf("%s: %s value is out of range", name, out)
		}
		d := digits(a)
		if len(a) == 1 {
			d = 0
		}
		var r int64
		if d < int64(s) {
			drop := int64(s) - d
			if drop > 18 {
				r = 0 // |u| < 10^18 is less than half of 10^drop
			} else {
				m := types.IPow10[drop]
				r, ok = fnMulOK(types.DivRound(u, m), m)
			}
		} else {
			r = u
		}
		if len(a) == 1 {
			r /= types.IPow10[s] // exact: the fraction is zero now
		}
		if !ok || !decFits(r, decPrecision(out)) {
			return types.NullValue, fmt.Errorf("%s: %s value is out of range", name, out)
		}
		return types.DecimalValue(r, out.Scale), nil
	}, nil
}

// roundInt rounds x to 10^-d (only d < 0 changes anything), half away from zero.
func roundInt(x, d int64) (int64, bool) {
	if d >= 0 {
		return x, true
	}
	drop := -d
	switch {
	case drop > 19:
		return 0, true
	case drop == 19:
		if x >= 5e18 || x <= -5e18 {
			return 0, false
		}
		return 0, true
	}
	m := types.IPow10[drop]
	return fnMulOK(types.DivRound(x, m), m)
}

// roundFloat rounds to d decimals half away from zero, working on the
// shortest decimal spelling of f so that ROUND(2.675, 2) is 2.68 as written.
func roundFloat(f float64, d int64) float64 {
	if math.IsInf(f, 0) || f != f || f == 0 {
		return f
	}
	if d > 400 {
		return f
	}
	if d < -400 {
		return 0
	}
	n, _ := parseNumText(strconv.FormatFloat(f, 'e', -1, 64))
	return n.roundAt(int(d)).float()
}

func resolveFloorCeil(ceil bool) funcResolver {
	return func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(NUMERIC)", args, 1, 1, argNum); err != nil {
			return types.Type{}, nil, err
		}
		in := numArgType(args[0])
		switch in.Kind {
		case types.Double:
			f := math.Floor
			if ceil {
				f = math.Ceil
			}
			return types.TDouble, func(a []types.Value) (types.Value, error) {
				return types.DoubleValue(f(a[0].AsFloat())), nil
			}, nil
		case types.Int, types.BigInt:
			return in, func(a []types.Value) (types.Value, error) { return a[0], nil }, nil
		}
		if in.Scale == 0 {
			return in, func(a []types.Value) (types.Value, error) { return CastValue(a[0], in) }, nil
		}
		out := decimalType(int(decPrecision(in))-int(in.Scale)+1, 0)
		return out, func(a []types.Value) (types.Value, error) {
			v := a[0]
			if v.Kind != types.Decimal {
				return CastValue(v, out)
			}
			if v.Scale > 18 {
				return types.DecimalValue(0, 0), nil
			}
			m := types.IPow10[v.Scale]
			var r int64
			if ceil {
				r = -fnFloorDiv(-v.I, m)
			} else {
				r = fnFloorDiv(v.I, m)
			}
			return types.DecimalValue(r, 0), nil
		}, nil
	}
}

// resolveExtreme is GREATEST (dir 1) and LEAST (dir -1).
func resolveExtreme(dir int) funcResolver {
	return func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) < 2 {
			return types.Type{}, nil, fnSigError(name, "(ANY, ANY[, ANY...])", args)
		}
		t, err := commonTypeOf(name, args)
		if err != nil {
			return types.Type{}, nil, err
		}
		return t, func(a []types.Value) (types.Value, error) {
			best, err := castTo(a[0], t)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			for _, v := range a[1:] {
				w, err := castTo(v, t)
				if err != nil {
					return types.NullValue, fmt.Errorf("%s: %w", name, err)
				}
				if types.Compare(w, best)*dir > 0 {
					best = w
				}
			}
			return best, nil
		}, nil
	}
}

// commonTypeOf unifies all argument types or explains why it cannot.
func commonTypeOf(name string, args []types.Type) (types.Type, error) {
	t := types.TNull
	for _, a := range args {
		u, ok := CommonType(t, a)
		if !ok {
			return types.Type{}, fmt.Errorf("%s arguments have no common type: %s", name, fnTypeList(args))
		}
		t = u
	}
	return t, nil
}
