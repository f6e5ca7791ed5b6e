package expr

import (
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestMiscFunctions(t *testing.T) {
	nullInt := ta(types.NullValue, types.TInt)
	nullStr := ta(types.NullValue, types.TVarchar)
	runCases(t, []fcase{
		{fn: "COALESCE", args: []any{nil, nullInt, 3}, want: 3},
		{fn: "COALESCE", args: []any{nullInt, int64(3)}, want: int64(3)},
		{fn: "COALESCE", args: []any{1, int64(3)}, want: int64(1)},
		{fn: "COALESCE", args: []any{nullInt, dec("2.50")}, want: dec("2.50")},
		{fn: "COALESCE", args: []any{7, dec("2.50")}, want: dec("7.00")},
		{fn: "COALESCE", args: []any{7, 2.5}, want: 7.0},
		{fn: "COALESCE", args: []any{nullStr, "x"}, want: "x"},
		{fn: "COALESCE", args: []any{nil, nil}, want: nil},
		{fn: "COALESCE", args: []any{nullInt}, want: nil},
		{fn: "COALESCE", args: []any{ta(types.NullValue, types.TTimestamp), "2024-01-02"}, want: tsv("2024-01-02")},
		{fn: "COALESCE", args: []any{ta(types.NullValue, types.TTimestamp), "junk"}, err: "COALESCE: cannot cast 'junk' to TIMESTAMP(3)"},
		{fn: "COALESCE", args: []any{1, "a"}, err: "COALESCE arguments have no common type: (INT, VARCHAR)"},
		{fn: "IFNULL", args: []any{nullInt, 2}, want: 2},
		{fn: "IFNULL", args: []any{1, 2}, want: 1},
		{fn: "IFNULL", args: []any{1, dec("0.5")}, want: dec("1.0")},
		{fn: "IFNULL", args: []any{nullStr, nullStr}, want: nil},
		{fn: "NULLIF", args: []any{1, 1}, want: nil},
		{fn: "NULLIF", args: []any{1, 2}, want: 1},
		{fn: "NULLIF", args: []any{1, nullInt}, want: 1},
		{fn: "NULLIF", args: []any{nullInt, 1}, want: nil},
		{fn: "NULLIF", args: []any{1, dec("1.00")}, want: nil},
		{fn: "NULLIF", args: []any{1, 1.5}, want: 1},
		{fn: "NULLIF", args: []any{"a", "a"}, want: nil},
		{fn: "NULLIF", args: []any{tsv("2024-01-02"), "2024-01-02"}, want: nil},
		{fn: "IF", args: []any{true, 1, 2}, want: 1},
		{fn: "IF", args: []any{false, 1, 2}, want: 2},
		{fn: "IF", args: []any{ta(types.NullValue, types.TBool), 1, 2}, want: 2},
		{fn: "IF", args: []any{0, "a", "b"}, want: "b"},
		{fn: "IF", args: []any{dec("0.1"), "a", "b"}, want: "a"},
		{fn: "IF", args: []any{0.0, "a", "b"}, want: "b"},
		{fn: "IF", args: []any{true, 1, dec("2.5")}, want: dec("1.0")},
		{fn: "IF", args: []any{true, nullInt, 2}, want: nil},
		{fn: "IF", args: []any{true, 1, "x"}, err: "IF arguments have no common type: (INT, VARCHAR)"},
	})
}

func TestMiscSignatures(t *testing.T) {
	v, i := types.TVarchar, types.TInt
	runSigCases(t, []sigCase{
		{"COALESCE", tys(), "COALESCE expects (ANY[, ANY...]), got ()"},
		{"COALESCE", tys(i, types.TTimestamp), "COALESCE arguments have no common type: (INT, TIMESTAMP(3))"},
		{"IFNULL", tys(i), "IFNULL expects (ANY, ANY), got (INT)"},
		{"NULLIF", tys(i, i, i), "NULLIF expects (ANY, ANY), got (INT, INT, INT)"},
		{"NULLIF", tys(i, v), "NULLIF arguments have no common type: (INT, VARCHAR)"},
		{"IF", tys(v, i, i), "IF expects (BOOLEAN, ANY, ANY), got (VARCHAR, INT, INT)"},
		{"IF", tys(types.TBool, i), "IF expects (BOOLEAN, ANY, ANY), got (BOOLEAN, INT)"},
	})
}

func TestNullSafeFlags(t *testing.T) {
	for name, want := range map[string]bool{
		"COALESCE": true, "IFNULL": true, "NULLIF": true, "IF": true, "CONCAT_WS": true,
		"CONCAT": false, "MOD": false, "LIKE": false, "JSON_EXTRACT": false,
	} {
		def, ok := Lookup(name)
		if !ok || def.NullSafe != want {
			t.Errorf("%s: NullSafe = %v, want %v", name, def != nil && def.NullSafe, want)
		}
	}
}
