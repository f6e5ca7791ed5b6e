// Aggregate accumulators shared by the window and group aggregate operators.
//
// Design. Each aggregate call of a group owns one Accumulator, a fixed-size
// slot (count, one Value, one pointer). A group's state is a []Accumulator
// with one slot per call, so a window bucket can keep the state of all its
// groups in one flat slice. The pointer (ext) is nil on the fast path; it is
// allocated only for DISTINCT (value → multiplicity map) and for MIN/MAX
// over an updating input (a sorted multiset, so that retracting the current
// extreme finds the next one). On append-only input COUNT, SUM, AVG, MIN and
// MAX therefore update a slot in place without allocating.
//
// Semantics (SQL): NULL arguments are ignored; COUNT(*) counts rows, COUNT(x)
// non-NULL x; SUM/AVG/MIN/MAX over no non-NULL value are NULL, COUNT is 0.
// Retraction (-U/-D input) undoes an earlier add. A retraction of a value
// that was never added (possible only after upstream state expiry) is
// ignored by MIN/MAX and DISTINCT, which can tell; COUNT/SUM/AVG just
// subtract. GroupAgg drops retractions for groups that have no rows.
//
// Result types (AggResultType):
//
//	COUNT(*), COUNT(x)         BIGINT
//	SUM(INT|BIGINT)            BIGINT
//	SUM(DECIMAL(p,s))          DECIMAL(18,s)
//	SUM(DOUBLE)                DOUBLE
//	AVG(INT|BIGINT|DOUBLE)     DOUBLE
//	AVG(DECIMAL(p,s))          DECIMAL(18,max(s,4)), rounded half away from zero
//	MIN(x), MAX(x)             the type of x (any comparable type)
//
// Integer and decimal sums use 64-bit two's-complement arithmetic and wrap
// on overflow (as Flink's Java longs do). Wrapping keeps add and retract
// exact inverses, so a result that fits is right even if an intermediate sum
// did not. DOUBLE sums are reset to 0 when their count returns to 0 so that
// retraction rounding error does not survive an empty group; adding and then
// retracting ±Inf or NaN leaves NaN (not tracked separately). DISTINCT is
// meaningless for MIN/MAX and is dropped there.
//
// State encoding (for the Badger-backed state of issue #4):
// Accumulator.Encode/Decode use a simple self-describing binary layout
// (flags, varint count, value, optional sorted distinct map and multiset);
// EncodeAccumulators prefixes a group's slots with a format version.
package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/weirsql/weir/sql/types"
)

// AggKind is an aggregate function.
type AggKind uint8

const (
	AggCountStar AggKind = iota // COUNT(*)
	AggCount                    // COUNT(x)
	AggSum                      // SUM(x)
	AggAvg                      // AVG(x)
	AggMin                      // MIN(x)
	AggMax                      // MAX(x)
)

var aggKindNames = [...]string{"COUNT", "COUNT", "SUM", "AVG", "MIN", "MAX"}

func (k AggKind) String() string {
	if int(k) < len(aggKindNames) {
		return aggKindNames[k]
	}
	return fmt.Sprintf("AggKind(%d)", uint8(k))
}

// AggCall is one aggregate call of a GROUP BY or window aggregation.
type AggCall struct {
	Kind     AggKind
	Arg      int  // input column index; -1 for COUNT(*)
	Distinct bool // COUNT(DISTINCT x), SUM(DISTINCT x), ...
	ArgType  types.Type
	// Type is the result type; the planner sets it with AggResultType. A
	// zero Type is filled in by the operator constructors.
	Type types.Type
}

// String prints the call deterministically, e.g. "COUNT(DISTINCT $2)".
func (c AggCall) String() string {
	if c.Kind == AggCountStar {
		return "COUNT(*)"
	}
	var b strings.Builder
	b.WriteString(c.Kind.String())
	b.WriteByte('(')
	if c.Distinct {
		b.WriteString("DISTINCT ")
	}
	fmt.Fprintf(&b, "$%d", c.Arg)
	b.WriteByte(')')
	return b.String()
}

// AggResultType is the result type of kind applied to an argument of type
// arg (see the file comment). It returns the NULL type for combinations that
// are not supported (SUM of VARCHAR, ...); the operator constructors reject
// those.
func AggResultType(kind AggKind, arg types.Type) types.Type {
	switch kind {
	case AggCountStar, AggCount:
		return types.TBigInt
	case AggSum:
		switch arg.Kind {
		case types.Int, types.BigInt:
			return types.TBigInt
		case types.Decimal:
			return types.TDecimal(18, arg.Scale)
		case types.Double, types.Null:
			return types.TDouble
		}
	case AggAvg:
		switch arg.Kind {
		case types.Int, types.BigInt, types.Double, types.Null:
			return types.TDouble
		case types.Decimal:
			return types.TDecimal(18, max(arg.Scale, 4))
		}
	case AggMin, AggMax:
		return arg
	}
	return types.TNull
}

// resolveAggCalls validates calls and fills in zero result types.
func resolveAggCalls(calls []AggCall) ([]AggCall, error) {
	out := make([]AggCall, len(calls))
	for i, c := range calls {
		if c.Kind > AggMax {
			return nil, fmt.Errorf("aggregate %d: unknown aggregate kind %d", i, c.Kind)
		}
		if c.Kind == AggCountStar {
			if c.Distinct {
				return nil, fmt.Errorf("aggregate %d: COUNT(DISTINCT *) is not valid", i)
			}
			c.Arg = -1
		} else if c.Arg < 0 {
			return nil, fmt.Errorf("aggregate %d: %s needs an argument column", i, c.Kind)
		}
		if c.Kind == AggMin || c.Kind == AggMax {
			c.Distinct = false
		}
		want := AggResultType(c.Kind, c.ArgType)
		if want.Kind == types.Null && !(c.ArgType.Kind == types.Null && (c.Kind == AggMin || c.Kind == AggMax)) {
			return nil, fmt.Errorf("aggregate %d: %s(%s) is not supported", i, c.Kind, c.ArgType)
		}
		if c.Type == (types.Type{}) {
			c.Type = want
		} else if c.Type != want {
			return nil, fmt.Errorf("aggregate %d: result type of %s(%s) is %s, not %s", i, c.Kind, c.ArgType, want, c.Type)
		}
		out[i] = c
	}
	return out, nil
}

// Accumulator is the state of one aggregate call for one group. The zero
// value is an empty accumulator.
type Accumulator struct {
	n   int64       // rows (COUNT(*)) or non-NULL (distinct) arguments counted
	v   types.Value // SUM/AVG: running sum in v.I (DOUBLE: float bits); MIN/MAX: current extreme
	ext *accExt     // nil unless DISTINCT or MIN/MAX over a changelog
}

type accExt struct {
	dInt map[int64]int64  // DISTINCT over non-VARCHAR: normalised payload → multiplicity
	dStr map[string]int64 // DISTINCT over VARCHAR
	ms   []msEntry        // MIN/MAX multiset, ascending
}

type msEntry struct {
	v types.Value
	n int64
}

// argClass decides how an argument is summed and compared.
type argClass uint8

const (
	classNull    argClass = iota // argument type NULL: every value is NULL
	classInt                     // INT, BIGINT, TIMESTAMP, BOOLEAN: payload I
	classDouble                  // DOUBLE: float bits in I
	classDecimal                 // DECIMAL: I unscaled at the argument's scale
	classString                  // VARCHAR
)

// aggOp is an AggCall compiled for the hot path.
type aggOp struct {
	kind     AggKind
	arg      int
	distinct bool
	multiset bool // MIN/MAX over an updating input
	class    argClass
	argKind  types.Kind
	scale    uint8 // argument scale (DECIMAL)
	resScale uint8 // AVG(DECIMAL) result scale
}

// aggregator applies a list of aggregate calls to a group's []Accumulator.
type aggregator struct {
	ops      []aggOp
	updating bool
}

func newAggregator(calls []AggCall, updating bool) *aggregator {
	g := &aggregator{ops: make([]aggOp, len(calls)), updating: updating}
	for i, c := range calls {
		op := aggOp{kind: c.Kind, arg: c.Arg, distinct: c.Distinct, argKind: c.ArgType.Kind, scale: c.ArgType.Scale}
		switch c.ArgType.Kind {
		case types.Null:
			op.class = classNull
		case types.Double:
			op.class = classDouble
		case types.Decimal:
			op.class = classDecimal
		case types.Varchar:
			op.class = classString
		default:
			op.class = classInt
		}
		if c.Kind == AggAvg && op.class == classDecimal {
			op.resScale = c.Type.Scale
		}
		op.multiset = updating && (c.Kind == AggMin || c.Kind == AggMax)
		g.ops[i] = op
	}
	return g
}

// add folds row into accs (len(accs) == len(g.ops)).
func (g *aggregator) add(accs []Accumulator, row types.Row) {
	accs = accs[:len(g.ops)]
	for i := range g.ops {
		op := &g.ops[i]
		a := &accs[i]
		if op.kind == AggCountStar {
			a.n++
			continue
		}
		v := row[op.arg]
		if v.Kind == types.Null {
			continue
		}
		if op.distinct && !op.distinctAdd(a, v, 1) {
			continue
		}
		op.addValue(a, v)
	}
}

// retract undoes an earlier add of row.
func (g *aggregator) retract(accs []Accumulator, row types.Row) {
	accs = accs[:len(g.ops)]
	for i := range g.ops {
		op := &g.ops[i]
		a := &accs[i]
		if op.kind == AggCountStar {
			a.n--
			continue
		}
		v := row[op.arg]
		if v.Kind == types.Null {
			continue
		}
		if op.distinct && !op.distinctRetract(a, v) {
			continue
		}
		op.retractValue(a, v)
	}
}

// merge folds src into dst (session windows merging).
func (g *aggregator) merge(dst, src []Accumulator) {
	for i := range g.ops {
		g.ops[i].merge(&dst[i], &src[i])
	}
}

// results writes one result value per call into out.
func (g *aggregator) results(accs []Accumulator, out []types.Value) {
	for i := range g.ops {
		out[i] = g.ops[i].result(&accs[i])
	}
}

func (op *aggOp) addValue(a *Accumulator, v types.Value) {
	switch op.kind {
	case AggCount:
		a.n++
	case AggSum, AggAvg:
		a.n++
		switch op.class {
		case classInt:
			a.v.I += v.I
		case classDouble:
			a.v.I = int64(math.Float64bits(math.Float64frombits(uint64(a.v.I)) + v.AsFloat()))
		case classDecimal:
			a.v.I += decUnscaled(v, op.scale)
		}
	case AggMin, AggMax:
		if op.class == classDecimal {
			v = types.DecimalValue(decUnscaled(v, op.scale), op.scale)
		}
		if op.multiset {
			op.msAdd(a, v, 1)
		}
		if a.n == 0 || op.better(v, a.v) {
			a.v = v
		}
		a.n++
	}
}

func (op *aggOp) retractValue(a *Accumulator, v types.Value) {
	switch op.kind {
	case AggCount:
		a.n--
	case AggSum, AggAvg:
		a.n--
		switch op.class {
		case classInt:
			a.v.I -= v.I
		case classDouble:
			a.v.I = int64(math.Float64bits(math.Float64frombits(uint64(a.v.I)) - v.AsFloat()))
		case classDecimal:
			a.v.I -= decUnscaled(v, op.scale)
		}
		if a.n == 0 {
			a.v = types.Value{}
		}
	case AggMin, AggMax:
		if op.class == classDecimal {
			v = types.DecimalValue(decUnscaled(v, op.scale), op.scale)
		}
		if !op.msRemove(a, v, 1) {
			return // never added: ignore
		}
		a.n--
		op.refreshExtreme(a)
	}
}

func (op *aggOp) refreshExtreme(a *Accumulator) {
	ms := a.ext.ms
	switch {
	case len(ms) == 0:
		a.v = types.Value{}
	case op.kind == AggMin:
		a.v = ms[0].v
	default:
		a.v = ms[len(ms)-1].v
	}
}

func (op *aggOp) merge(dst, src *Accumulator) {
	if op.kind == AggCountStar {
		dst.n += src.n
		return
	}
	if op.distinct {
		if src.ext == nil {
			return
		}
		// Add the values new to dst in a fixed order so that DOUBLE sums
		// do not depend on map iteration order.
		if m := src.ext.dInt; m != nil {
			for _, k := range aggSortedKeys(m) {
				if op.distinctAddKey(dst, k, "", m[k]) {
					op.addValue(dst, op.distinctValue(k, ""))
				}
			}
		}
		if m := src.ext.dStr; m != nil {
			for _, k := range aggSortedKeys(m) {
				if op.distinctAddKey(dst, 0, k, m[k]) {
					op.addValue(dst, op.distinctValue(0, k))
				}
			}
		}
		return
	}
	switch op.kind {
	case AggCount:
		dst.n += src.n
	case AggSum, AggAvg:
		if src.n == 0 {
			return
		}
		dst.n += src.n
		if op.class == classDouble {
			dst.v.I = int64(math.Float64bits(math.Float64frombits(uint64(dst.v.I)) + math.Float64frombits(uint64(src.v.I))))
		} else {
			dst.v.I += src.v.I
		}
	case AggMin, AggMax:
		if src.n == 0 {
			return
		}
		if dst.n == 0 || op.better(src.v, dst.v) {
			dst.v = src.v
		}
		dst.n += src.n
		if src.ext != nil {
			for _, e := range src.ext.ms {
				op.msAdd(dst, e.v, e.n)
			}
		}
	}
}

func (op *aggOp) result(a *Accumulator) types.Value {
	switch op.kind {
	case AggCountStar, AggCount:
		return types.BigIntValue(a.n)
	}
	if a.n <= 0 {
		return types.NullValue
	}
	switch op.kind {
	case AggSum:
		switch op.class {
		case classInt:
			return types.BigIntValue(a.v.I)
		case classDouble:
			return types.Value{Kind: types.Double, I: a.v.I}
		case classDecimal:
			return types.DecimalValue(a.v.I, op.scale)
		}
		return types.NullValue
	case AggAvg:
		switch op.class {
		case classInt:
			return types.DoubleValue(float64(a.v.I) / float64(a.n))
		case classDouble:
			return types.DoubleValue(math.Float64frombits(uint64(a.v.I)) / float64(a.n))
		case classDecimal:
			return types.DecimalValue(avgDecimal(a.v.I, a.n, op.resScale-op.scale), op.resScale)
		}
		return types.NullValue
	}
	return a.v // MIN/MAX
}

// better reports whether v should replace cur as the extreme.
func (op *aggOp) better(v, cur types.Value) bool {
	c := op.compare(v, cur)
	if op.kind == AggMin {
		return c < 0
	}
	return c > 0
}

func (op *aggOp) compare(a, b types.Value) int {
	switch op.class {
	case classInt, classDecimal: // decimals are normalised to the argument scale
		switch {
		case a.I < b.I:
			return -1
		case a.I > b.I:
			return 1
		}
		return 0
	case classString:
		return strings.Compare(a.S, b.S)
	}
	return types.Compare(a, b)
}

// msAdd adds n copies of v to the multiset.
func (op *aggOp) msAdd(a *Accumulator, v types.Value, n int64) {
	if a.ext == nil {
		a.ext = &accExt{}
	}
	ms := a.ext.ms
	i, found := slices.BinarySearchFunc(ms, v, func(e msEntry, v types.Value) int { return op.compare(e.v, v) })
	if found {
		ms[i].n += n
		return
	}
	a.ext.ms = slices.Insert(ms, i, msEntry{v: v, n: n})
}

// msRemove removes n copies of v; false if v is not in the multiset.
func (op *aggOp) msRemove(a *Accumulator, v types.Value, n int64) bool {
	if a.ext == nil {
		return false
	}
	ms := a.ext.ms
	i, found := slices.BinarySearchFunc(ms, v, func(e msEntry, v types.Value) int { return op.compare(e.v, v) })
	if !found {
		return false
	}
	ms[i].n -= n
	if ms[i].n <= 0 {
		a.ext.ms = slices.Delete(ms, i, i+1)
	}
	return true
}

// distinctPayload is the map key of a non-VARCHAR distinct value.
func (op *aggOp) distinctPayload(v types.Value) int64 {
	switch op.class {
	case classDecimal:
		return decUnscaled(v, op.scale)
	case classDouble:
		f := v.AsFloat()
		if f == 0 {
			f = 0 // -0 and +0 are one value
		}
		if f != f {
			f = math.NaN()
		}
		return int64(math.Float64bits(f))
	}
	return v.I
}

func (op *aggOp) distinctValue(k int64, s string) types.Value {
	switch op.class {
	case classString:
		return types.StringValue(s)
	case classDecimal:
		return types.DecimalValue(k, op.scale)
	}
	return types.Value{Kind: op.argKind, I: k}
}

// distinctAdd records one occurrence of v; true if v is new to the group.
func (op *aggOp) distinctAdd(a *Accumulator, v types.Value, n int64) bool {
	if op.class == classString {
		return op.distinctAddKey(a, 0, v.S, n)
	}
	return op.distinctAddKey(a, op.distinctPayload(v), "", n)
}

func (op *aggOp) distinctAddKey(a *Accumulator, k int64, s string, n int64) bool {
	if a.ext == nil {
		a.ext = &accExt{}
	}
	if op.class == classString {
		if a.ext.dStr == nil {
			a.ext.dStr = make(map[string]int64)
		}
		c := a.ext.dStr[s]
		a.ext.dStr[s] = c + n
		return c == 0
	}
	if a.ext.dInt == nil {
		a.ext.dInt = make(map[int64]int64)
	}
	c := a.ext.dInt[k]
	a.ext.dInt[k] = c + n
	return c == 0
}

// distinctRetract removes one occurrence of v; true if it was the last one.
func (op *aggOp) distinctRetract(a *Accumulator, v types.Value) bool {
	if a.ext == nil {
		return false
	}
	if op.class == classString {
		c, ok := a.ext.dStr[v.S]
		if !ok {
			return false
		}
		if c <= 1 {
			delete(a.ext.dStr, v.S)
			return true
		}
		a.ext.dStr[v.S] = c - 1
		return false
	}
	k := op.distinctPayload(v)
	c, ok := a.ext.dInt[k]
	if !ok {
		return false
	}
	if c <= 1 {
		delete(a.ext.dInt, k)
		return true
	}
	a.ext.dInt[k] = c - 1
	return false
}

func aggSortedKeys[K int64 | string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// decUnscaled returns v as an unscaled integer at the given scale.
func decUnscaled(v types.Value, scale uint8) int64 {
	switch v.Kind {
	case types.Decimal:
		switch {
		case v.Scale == scale:
			return v.I
		case v.Scale < scale:
			return v.I * types.IPow10[scale-v.Scale]
		default:
			return types.DivRound(v.I, types.IPow10[v.Scale-scale])
		}
	case types.Double:
		return int64(math.Round(v.F() * types.Pow10[scale]))
	}
	return v.I * types.IPow10[scale]
}

// avgDecimal computes round(sum·10^k / n) half away from zero with a
// 128-bit intermediate; a quotient beyond 64 bits wraps (see file comment).
func avgDecimal(sum, n int64, k uint8) int64 {
	neg := sum < 0
	us := uint64(sum)
	if neg {
		us = uint64(-sum)
	}
	un := uint64(n)
	hi, lo := bits.Mul64(us, uint64(types.IPow10[k]))
	q, r := bits.Div64(hi%un, lo, un)
	if r >= un-r {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// appendGroupKey appends a compact, injective encoding of row's values at
// cols: the map key of a group. Each value is its kind byte then its
// payload; -0.0 and NaN are canonicalised (GROUP BY puts them in one group).
// A column has one type, so values of different kinds never need to be
// equal. decodeGroupKey reverses it.
func appendGroupKey(dst []byte, row types.Row, cols []int) []byte {
	for _, c := range cols {
		v := row[c]
		switch v.Kind {
		case types.Null:
			dst = append(dst, 0)
		case types.Varchar:
			dst = append(dst, byte(types.Varchar))
			dst = binary.AppendUvarint(dst, uint64(len(v.S)))
			dst = append(dst, v.S...)
		case types.Double:
			f := v.F()
			if f == 0 {
				f = 0
			}
			if f != f {
				f = math.NaN()
			}
			dst = append(dst, byte(types.Double))
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		case types.Decimal:
			dst = append(dst, byte(types.Decimal), v.Scale)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
		default:
			dst = append(dst, byte(v.Kind))
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
		}
	}
	return dst
}

// decodeGroupKey fills dst with the values encoded in key by
// appendGroupKey. VARCHAR values share key's memory.
func decodeGroupKey(key string, dst []types.Value) {
	for i := range dst {
		k := types.Kind(key[0])
		key = key[1:]
		switch k {
		case types.Null:
			dst[i] = types.NullValue
		case types.Varchar:
			n, w := strUvarint(key)
			dst[i] = types.StringValue(key[w : w+int(n)])
			key = key[w+int(n):]
		case types.Decimal:
			dst[i] = types.DecimalValue(int64(leUint64(key[1:])), key[0])
			key = key[9:]
		default:
			dst[i] = types.Value{Kind: k, I: int64(leUint64(key))}
			key = key[8:]
		}
	}
}

// strUvarint decodes a uvarint at the start of s (well-formed input).
func strUvarint(s string) (uint64, int) {
	var x uint64
	for i := 0; ; i++ {
		c := s[i]
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
}

func leUint64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// ---- state encoding ----

const accFormatVersion = 1

const (
	accFlagDistinctInt = 1 << iota
	accFlagDistinctStr
	accFlagMultiset
)

var errAccCorrupt = errors.New("aggregate state: corrupt encoding")

// Encode appends the accumulator's binary encoding to dst. The layout is
// self-describing: flags byte, varint count, value, then the distinct map
// (sorted by key) and multiset when present.
func (a *Accumulator) Encode(dst []byte) []byte {
	var flags byte
	if e := a.ext; e != nil {
		if e.dInt != nil {
			flags |= accFlagDistinctInt
		}
		if e.dStr != nil {
			flags |= accFlagDistinctStr
		}
		if e.ms != nil {
			flags |= accFlagMultiset
		}
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, a.n)
	dst = appendAccValue(dst, a.v)
	if flags&accFlagDistinctInt != 0 {
		m := a.ext.dInt
		dst = binary.AppendUvarint(dst, uint64(len(m)))
		for _, k := range aggSortedKeys(m) {
			dst = binary.AppendVarint(dst, k)
			dst = binary.AppendVarint(dst, m[k])
		}
	}
	if flags&accFlagDistinctStr != 0 {
		m := a.ext.dStr
		dst = binary.AppendUvarint(dst, uint64(len(m)))
		for _, k := range aggSortedKeys(m) {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			dst = binary.AppendVarint(dst, m[k])
		}
	}
	if flags&accFlagMultiset != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(a.ext.ms)))
		for _, e := range a.ext.ms {
			dst = appendAccValue(dst, e.v)
			dst = binary.AppendVarint(dst, e.n)
		}
	}
	return dst
}

// Decode replaces a with the accumulator encoded at the start of src and
// returns the rest of src.
func (a *Accumulator) Decode(src []byte) ([]byte, error) {
	d := accDecoder{b: src}
	flags := d.byte()
	*a = Accumulator{n: d.varint(), v: d.value()}
	if flags&^(accFlagDistinctInt|accFlagDistinctStr|accFlagMultiset) != 0 {
		return nil, errAccCorrupt
	}
	if flags != 0 {
		a.ext = &accExt{}
	}
	if flags&accFlagDistinctInt != 0 {
		n := d.count()
		a.ext.dInt = make(map[int64]int64, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.varint()
			a.ext.dInt[k] = d.varint()
		}
	}
	if flags&accFlagDistinctStr != 0 {
		n := d.count()
		a.ext.dStr = make(map[string]int64, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.string()
			a.ext.dStr[k] = d.varint()
		}
	}
	if flags&accFlagMultiset != 0 {
		n := d.count()
		a.ext.ms = make([]msEntry, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			v := d.value()
			a.ext.ms = append(a.ext.ms, msEntry{v: v, n: d.varint()})
		}
	}
	if d.err != nil {
		*a = Accumulator{}
		return nil, d.err
	}
	return d.b, nil
}

// EncodeAccumulators appends a group's state: a format version, the number
// of slots, then each slot.
func EncodeAccumulators(dst []byte, accs []Accumulator) []byte {
	dst = append(dst, accFormatVersion)
	dst = binary.AppendUvarint(dst, uint64(len(accs)))
	for i := range accs {
		dst = accs[i].Encode(dst)
	}
	return dst
}

// DecodeAccumulators decodes what EncodeAccumulators wrote into accs, which
// must have the encoded number of slots, and returns the rest of src.
func DecodeAccumulators(src []byte, accs []Accumulator) ([]byte, error) {
	if len(src) == 0 {
		return nil, errAccCorrupt
	}
	if src[0] != accFormatVersion {
		return nil, fmt.Errorf("aggregate state: format version %d, want %d", src[0], accFormatVersion)
	}
	n, k := binary.Uvarint(src[1:])
	if k <= 0 {
		return nil, errAccCorrupt
	}
	if n != uint64(len(accs)) {
		return nil, fmt.Errorf("aggregate state: %d accumulators encoded, want %d", n, len(accs))
	}
	src = src[1+k:]
	for i := range accs {
		var err error
		if src, err = accs[i].Decode(src); err != nil {
			return nil, err
		}
	}
	return src, nil
}

func appendAccValue(dst []byte, v types.Value) []byte {
	dst = append(dst, byte(v.Kind), v.Scale)
	dst = binary.AppendVarint(dst, v.I)
	dst = binary.AppendUvarint(dst, uint64(len(v.S)))
	return append(dst, v.S...)
}

type accDecoder struct {
	b   []byte
	err error
}

func (d *accDecoder) fail() {
	if d.err == nil {
		d.err = errAccCorrupt
	}
	d.b = nil
}

func (d *accDecoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *accDecoder) varint() int64 {
	x, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return x
}

func (d *accDecoder) uvarint() uint64 {
	x, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return x
}

// count reads a length that must not exceed the remaining bytes.
func (d *accDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *accDecoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *accDecoder) value() types.Value {
	kind := types.Kind(d.byte())
	scale := d.byte()
	i := d.varint()
	s := d.string()
	if kind > types.Timestamp {
		d.fail()
	}
	return types.Value{Kind: kind, Scale: scale, I: i, S: s}
}
