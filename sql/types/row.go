package types

import (
	"hash/maphash"
	"strings"
)

// RowKind is the changelog kind of a row.
type RowKind uint8

const (
	Insert       RowKind = iota // +I
	UpdateBefore                // -U
	UpdateAfter                 // +U
	Delete                      // -D
)

var rowKindNames = [...]string{"+I", "-U", "+U", "-D"}

func (k RowKind) String() string { return rowKindNames[k&3] }

// IsRetract reports whether the row withdraws an earlier row (-U or -D).
func (k RowKind) IsRetract() bool { return k == UpdateBefore || k == Delete }

// Row is one row: a value per column.
type Row []Value

// Batch is a group of rows travelling together between operators.
// Kinds is nil when every row is +I; otherwise len(Kinds) == len(Rows).
type Batch struct {
	Rows  []Row
	Kinds []RowKind
}

// Len is the number of rows.
func (b *Batch) Len() int { return len(b.Rows) }

// Kind returns the row kind of row i.
func (b *Batch) Kind(i int) RowKind {
	if b.Kinds == nil {
		return Insert
	}
	return b.Kinds[i]
}

// Append adds a row with its kind, materialising Kinds on the first non-insert.
func (b *Batch) Append(r Row, k RowKind) {
	if k != Insert && b.Kinds == nil {
		b.Kinds = make([]RowKind, len(b.Rows), cap(b.Rows))
	}
	b.Rows = append(b.Rows, r)
	if b.Kinds != nil {
		b.Kinds = append(b.Kinds, k)
	}
}

// RowArena hands out rows carved from one backing array, so building a batch
// of n rows costs one allocation instead of n.
type RowArena struct {
	buf   []Value
	width int
}

// NewRowArena makes an arena for about n rows of width columns.
func NewRowArena(width, n int) *RowArena {
	return &RowArena{buf: make([]Value, 0, width*n), width: width}
}

// Next returns a fresh zeroed row of the arena's width.
func (a *RowArena) Next() Row {
	if len(a.buf)+a.width > cap(a.buf) {
		n := cap(a.buf)
		if n < a.width*64 {
			n = a.width * 64
		}
		a.buf = make([]Value, 0, n)
	}
	a.buf = a.buf[:len(a.buf)+a.width]
	return Row(a.buf[len(a.buf)-a.width : len(a.buf) : len(a.buf)])
}

var hashSeed = maphash.MakeSeed()

// HashSeed is the process-wide seed used for in-memory hash maps. Key-group
// routing must NOT use it (it must be stable across processes); see KeyHash.
func HashSeed() maphash.Seed { return hashSeed }

// KeyHash hashes the values of row at the given column indexes with a
// stable function (FNV-1a over a canonical encoding) so that key groups are
// the same in every process and every run: key-group assignment is part of
// the state format.
func KeyHash(r Row, cols []int) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range cols {
		v := r[c]
		h = fnvByte(h, byte(v.Kind))
		switch v.Kind {
		case Varchar:
			for i := 0; i < len(v.S); i++ {
				h ^= uint64(v.S[i])
				h *= 1099511628211
			}
		case Null:
		default:
			x := uint64(v.I)
			for i := 0; i < 8; i++ {
				h = fnvByte(h, byte(x))
				x >>= 8
			}
		}
	}
	// final avalanche so that mod small numbers spreads well
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	h *= 1099511628211
	return h
}

// String renders a row as [v1, v2, ...] for error messages and logs.
func (r Row) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		if v.Kind == Varchar {
			b.WriteByte('\'')
			b.WriteString(v.S)
			b.WriteByte('\'')
			continue
		}
		b.WriteString(v.String())
	}
	b.WriteByte(']')
	return b.String()
}
