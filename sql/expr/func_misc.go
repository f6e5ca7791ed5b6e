package expr

import (
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

func init() {
	fnRegister([]string{"COALESCE"}, true, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) < 1 {
			return types.Type{}, nil, fnSigError(name, "(ANY[, ANY...])", args)
		}
		t, err := commonTypeOf(name, args)
		if err != nil {
			return types.Type{}, nil, err
		}
		return t, func(a []types.Value) (types.Value, error) {
			for _, v := range a {
				if v.Kind != types.Null {
					return castResult(name, v, t)
				}
			}
			return types.NullValue, nil
		}, nil
	})
	fnRegister([]string{"IFNULL"}, true, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) != 2 {
			return types.Type{}, nil, fnSigError(name, "(ANY, ANY)", args)
		}
		t, err := commonTypeOf(name, args)
		if err != nil {
			return types.Type{}, nil, err
		}
		return t, func(a []types.Value) (types.Value, error) {
			if a[0].Kind != types.Null {
				return castResult(name, a[0], t)
			}
			return castResult(name, a[1], t)
		}, nil
	})
	// NULLIF(a, b) is NullSafe: NULLIF(1, NULL) is 1.
	fnRegister([]string{"NULLIF"}, true, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) != 2 {
			return types.Type{}, nil, fnSigError(name, "(ANY, ANY)", args)
		}
		ct, err := commonTypeOf(name, args)
		if err != nil {
			return types.Type{}, nil, err
		}
		t := args[0]
		if t.Kind == types.Null {
			t = ct
		}
		return t, func(a []types.Value) (types.Value, error) {
			if a[0].Kind == types.Null || a[1].Kind == types.Null {
				return a[0], nil
			}
			x, err := castResult(name, a[0], ct)
			if err != nil {
				return types.NullValue, err
			}
			y, err := castResult(name, a[1], ct)
			if err != nil {
				return types.NullValue, err
			}
			if types.Compare(x, y) == 0 {
				return types.NullValue, nil
			}
			return a[0], nil
		}, nil
	})
	// IF(cond, a, b): a NULL condition selects b.
	fnRegister([]string{"IF"}, true, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(BOOLEAN, ANY, ANY)", args, 3, 3, argBoolish, argAny); err != nil {
			return types.Type{}, nil, err
		}
		t, err := commonTypeOf(name, args[1:])
		if err != nil {
			return types.Type{}, nil, err
		}
		return t, func(a []types.Value) (types.Value, error) {
			if argTruth(a[0]) {
				return castResult(name, a[1], t)
			}
			return castResult(name, a[2], t)
		}, nil
	})
}

// castResult converts a value to the function's unified result type.
func castResult(name string, v types.Value, t types.Type) (types.Value, error) {
	r, err := castTo(v, t)
	if err != nil {
		return types.NullValue, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}
