package types

import (
	"fmt"
	"strings"
)

// Kind is the kind of a SQL type, and the tag of a Value.
type Kind uint8

const (
	Null Kind = iota // the type of the NULL literal; a Value with Kind Null is SQL NULL
	Bool
	Int    // INT: 32-bit range, stored in int64
	BigInt // BIGINT
	Double
	Decimal
	Varchar
	Timestamp // TIMESTAMP(3)/DATETIME(3): milliseconds since the epoch, UTC
)

var kindNames = [...]string{"NULL", "BOOLEAN", "INT", "BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "TIMESTAMP(3)"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Type is a SQL type with its parameters.
type Type struct {
	Kind      Kind
	Precision uint8 // DECIMAL precision
	Scale     uint8 // DECIMAL scale
	Length    int32 // VARCHAR length; 0 means unbounded
}

// Convenience types.
var (
	TNull      = Type{Kind: Null}
	TBool      = Type{Kind: Bool}
	TInt       = Type{Kind: Int}
	TBigInt    = Type{Kind: BigInt}
	TDouble    = Type{Kind: Double}
	TVarchar   = Type{Kind: Varchar}
	TTimestamp = Type{Kind: Timestamp}
)

// TDecimal returns DECIMAL(p,s).
func TDecimal(p, s uint8) Type { return Type{Kind: Decimal, Precision: p, Scale: s} }

func (t Type) String() string {
	switch t.Kind {
	case Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case Varchar:
		if t.Length > 0 {
			return fmt.Sprintf("VARCHAR(%d)", t.Length)
		}
		return "VARCHAR"
	}
	return t.Kind.String()
}

// IsNumeric reports whether t is INT, BIGINT, DOUBLE or DECIMAL.
func (t Type) IsNumeric() bool {
	switch t.Kind {
	case Int, BigInt, Double, Decimal:
		return true
	}
	return false
}

// IsInteger reports whether t is INT or BIGINT.
func (t Type) IsInteger() bool { return t.Kind == Int || t.Kind == BigInt }

// Column is one column of a schema.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
}

// Schema is the ordered list of columns of a table or an operator's output.
type Schema struct {
	Cols []Column
}

// Index returns the index of the column named name (case-insensitive), or -1.
func (s *Schema) Index(name string) int {
	for i, c := range s.Cols {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// Len is the number of columns.
func (s *Schema) Len() int { return len(s.Cols) }

// Names returns the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Cols))
	for i, c := range s.Cols {
		out[i] = c.Name
	}
	return out
}

func (s *Schema) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range s.Cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
	}
	b.WriteByte(']')
	return b.String()
}
