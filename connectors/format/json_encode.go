package format

import (
	"fmt"

	"github.com/weirsql/weir/sql/types"
)

// JSONEncoder writes one JSON object per row: column names as keys in
// schema order, NULL as null, DECIMAL as an exact JSON number, TIMESTAMP
// as a "2006-01-02 15:04:05.000" string, DOUBLE infinities and NaN as the
// strings "Infinity", "-Infinity", "NaN". With IncludeOp an "_op" field
// holding the row kind comes first.
type JSONEncoder struct {
	keys      [][]byte // `"name":` per column, escaped
	includeOp bool
}

// NewJSONEncoder builds an encoder for schema.
func NewJSONEncoder(schema *types.Schema, o JSONOptions) *JSONEncoder {
	e := &JSONEncoder{includeOp: o.IncludeOp}
	for _, c := range schema.Cols {
		k := appendJSONString(nil, c.Name)
		e.keys = append(e.keys, append(k, ':'))
	}
	return e
}

// Encode implements Encoder.
func (e *JSONEncoder) Encode(dst []byte, row types.Row, kind types.RowKind) ([]byte, error) {
	if len(row) != len(e.keys) {
		return dst, fmt.Errorf("row has %d columns, schema has %d", len(row), len(e.keys))
	}
	dst = append(dst, '{')
	if e.includeOp {
		dst = append(dst, `"_op":"`...)
		dst = append(dst, kind.String()...)
		dst = append(dst, '"')
		if len(row) > 0 {
			dst = append(dst, ',')
		}
	}
	for i, v := range row {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.keys[i]...)
		dst = appendJSONValue(dst, v)
	}
	return append(dst, '}'), nil
}
