package datagen

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/internal/pace"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Name is the connector name used in 'connector' = 'datagen'.
const Name = "datagen"

// Table-level option keys.
const (
	OptRowsPerSecond = "rows-per-second"
	OptNumberOfRows  = "number-of-rows"
	OptSeed          = "seed"
)

// Per-column properties: option 'fields.<column>.<property>'.
const (
	PropKind     = "kind"
	PropMin      = "min"
	PropMax      = "max"
	PropLength   = "length"
	PropStart    = "start"
	PropEnd      = "end"
	PropNullRate = "null-rate"
	PropBase     = "base"
)

// BatchSize is the number of rows per emitted batch.
const BatchSize = 1024

// DefaultBase is the default first value of a TIMESTAMP column:
// 2026-01-01 00:00:00 UTC.
const DefaultBase int64 = 1767225600000

// DefaultLength is the default length of random VARCHAR values.
const DefaultLength = 10

// maxLength bounds 'fields.<col>.length'.
const maxLength = 1 << 16

func init() { connectors.Register(Connector{}) }

// Connector is the datagen connector: a source only.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// NewSink always fails: a generator cannot be written.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	return nil, fmt.Errorf("table %s: connector 'datagen' is a source only; it cannot be written", t.Name)
}

// NewSource implements connectors.Connector.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	g, err := NewGenerator(t)
	if err != nil {
		return nil, err
	}
	return &SourceFactory{g: g}, nil
}

// genKind is how a column's values are made.
type genKind uint8

const (
	kindRandom   genKind = iota // uniform in [min, max] (strings: random letters)
	kindSequence                // start + row number (timestamps: base + row number ms)
)

var genKindNames = [...]string{"random", "sequence"}

// colGen generates one column.
type colGen struct {
	name     string
	typ      types.Type
	kind     genKind
	salt     uint64 // from the column name: a column's values don't depend on the others
	nullRate float64

	lo, hi   int64   // random integers/decimals (unscaled)/timestamps, inclusive
	flo, fhi float64 // random doubles, [flo, fhi)
	start    int64   // sequence start (timestamps: base)
	end      int64   // sequence end, inclusive, when hasEnd
	hasEnd   bool
	length   int // random strings
}

// Generator computes any row of a datagen table from its row number alone.
// It is immutable and safe for concurrent use.
type Generator struct {
	cols    []colGen
	seedMix uint64
	total   int64 // rows in the table; -1 = unbounded
	rate    float64
}

// Total returns the number of rows of the table: the smaller of
// 'number-of-rows' and the length of every sequence with an end; -1 when
// the table is unbounded.
func (g *Generator) Total() int64 { return g.total }

// NewGenerator validates a table's options and schema.
func NewGenerator(t *connectors.Table) (*Generator, error) {
	g := &Generator{total: -1}
	// split the options into table-level and per-column ones
	rest := map[string]string{}
	perCol := make([]map[string]string, len(t.Schema.Cols))
	var keys []string
	for k := range t.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := t.Options[k]
		if !strings.HasPrefix(k, "fields.") {
			rest[k] = v
			continue
		}
		body := k[len("fields."):]
		dot := strings.LastIndexByte(body, '.')
		if dot <= 0 || dot == len(body)-1 {
			return nil, fmt.Errorf("table %s: option '%s': want 'fields.<column>.<property>'", t.Name, k)
		}
		col, prop := body[:dot], body[dot+1:]
		i := t.Schema.Index(col)
		if i < 0 {
			return nil, fmt.Errorf("table %s: option '%s' names unknown column '%s' (columns: %s)",
				t.Name, k, col, strings.Join(t.Schema.Names(), ", "))
		}
		if perCol[i] == nil {
			perCol[i] = map[string]string{}
		}
		perCol[i][prop] = v
	}
	tl := *t
	tl.Options = rest
	if err := tl.CheckOptions(OptRowsPerSecond, OptNumberOfRows, OptSeed, "fields.<column>.<property>"); err != nil {
		return nil, err
	}
	bad := func(key, v, want string) error {
		return fmt.Errorf("table %s: option '%s': invalid value '%s' (want %s)", t.Name, key, v, want)
	}
	if v, ok := rest[OptRowsPerSecond]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad(OptRowsPerSecond, v, "a number ≥ 0; 0 = unthrottled")
		}
		g.rate = f
	}
	if v, ok := rest[OptNumberOfRows]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return nil, bad(OptNumberOfRows, v, "an integer ≥ 0")
		}
		g.total = n
	}
	var seed int64
	if v, ok := rest[OptSeed]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, bad(OptSeed, v, "an integer")
		}
		seed = n
	}
	g.seedMix = mix64(uint64(seed) + 0x2545f4914f6cdd1d)
	initPool()
	for i, c := range t.Schema.Cols {
		cg, err := newColGen(t.Name, c, perCol[i])
		if err != nil {
			return nil, err
		}
		if cg.kind == kindSequence && cg.hasEnd {
			n := cg.end - cg.start + 1
			if n <= 0 { // end - start overflowed: more rows than int64 counts
				n = math.MaxInt64
			}
			if g.total < 0 || n < g.total {
				g.total = n
			}
		}
		g.cols = append(g.cols, cg)
	}
	return g, nil
}

// typeRange returns the natural range of an integer-like type (decimals:
// unscaled).
func typeRange(t types.Type) (int64, int64) {
	switch t.Kind {
	case types.Int:
		return math.MinInt32, math.MaxInt32
	case types.Decimal:
		m := types.IPow10[decPrecision(t)] - 1
		return -m, m
	}
	return math.MinInt64, math.MaxInt64
}

func decPrecision(t types.Type) int {
	if t.Precision == 0 || t.Precision > 18 {
		return 18
	}
	return int(t.Precision)
}

func newColGen(table string, c types.Column, props map[string]string) (colGen, error) {
	cg := colGen{name: c.Name, typ: c.Type, salt: mix64(fnv(strings.ToLower(c.Name)))}
	key := func(p string) string { return "fields." + strings.ToLower(c.Name) + "." + p }
	bad := func(p, v, want string) error {
		return fmt.Errorf("table %s: option '%s': invalid value '%s' (want %s)", table, key(p), v, want)
	}
	switch c.Type.Kind {
	case types.Bool, types.Int, types.BigInt, types.Double, types.Decimal, types.Varchar:
	case types.Timestamp:
		cg.kind = kindSequence
	default:
		return cg, fmt.Errorf("table %s: column '%s': datagen cannot generate type %s", table, c.Name, c.Type)
	}
	if v, ok := props[PropKind]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "random":
			cg.kind = kindRandom
		case "sequence":
			if c.Type.Kind == types.Bool {
				return cg, bad(PropKind, v, "random: BOOLEAN has no sequence")
			}
			cg.kind = kindSequence
		default:
			if c.Type.Kind == types.Bool {
				return cg, bad(PropKind, v, "random")
			}
			return cg, bad(PropKind, v, "random or sequence")
		}
	}
	// which properties apply
	allowed := []string{PropKind, PropNullRate}
	switch {
	case c.Type.Kind == types.Bool:
	case cg.kind == kindSequence && c.Type.Kind == types.Timestamp:
		allowed = append(allowed, PropBase)
	case cg.kind == kindSequence:
		allowed = append(allowed, PropStart, PropEnd)
	case c.Type.Kind == types.Varchar:
		allowed = append(allowed, PropLength)
	default:
		allowed = append(allowed, PropMin, PropMax)
	}
	var props2 []string
	for p := range props {
		props2 = append(props2, p)
	}
	sort.Strings(props2)
	for _, p := range props2 {
		ok := false
		for _, a := range allowed {
			ok = ok || a == p
		}
		if !ok {
			sort.Strings(allowed)
			valid := make([]string, len(allowed))
			for i, a := range allowed {
				valid[i] = key(a)
			}
			return cg, fmt.Errorf("table %s: option '%s' does not apply to column '%s' (%s, kind '%s'; valid: %s)",
				table, key(p), c.Name, c.Type, genKindNames[cg.kind], strings.Join(valid, ", "))
		}
	}

	if v, ok := props[PropNullRate]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return cg, bad(PropNullRate, v, "a number between 0 and 1")
		}
		cg.nullRate = f
	}

	// parseVal parses a min/max/start/end in the column's terms.
	lo, hi := typeRange(c.Type)
	parseInt := func(p string, def int64) (int64, error) {
		v, ok := props[p]
		if !ok {
			return def, nil
		}
		s := strings.TrimSpace(v)
		switch {
		case c.Type.Kind == types.Decimal && cg.kind == kindRandom:
			u, ok := parseDecimal(s, c.Type.Scale)
			if !ok || u < lo || u > hi {
				return 0, bad(p, v, fmt.Sprintf("a number that fits %s", c.Type))
			}
			return u, nil
		case c.Type.Kind == types.Timestamp:
			ms, ok := types.ParseTimestamp(s)
			if !ok {
				return 0, bad(p, v, "a timestamp such as '2026-01-01 00:00:00'")
			}
			return ms, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, bad(p, v, "an integer")
		}
		if c.Type.Kind == types.Int && (n < lo || n > hi) {
			return 0, bad(p, v, "an integer that fits INT")
		}
		if c.Type.Kind == types.Decimal && cg.kind == kindSequence {
			intHi := hi / types.IPow10[c.Type.Scale]
			if n < -intHi || n > intHi {
				return 0, bad(p, v, fmt.Sprintf("an integer that fits %s", c.Type))
			}
		}
		return n, nil
	}
	var err error
	switch {
	case c.Type.Kind == types.Bool:
	case c.Type.Kind == types.Timestamp && cg.kind == kindSequence:
		if cg.start, err = parseInt(PropBase, DefaultBase); err != nil {
			return cg, err
		}
	case cg.kind == kindSequence:
		if cg.start, err = parseInt(PropStart, 0); err != nil {
			return cg, err
		}
		if _, ok := props[PropEnd]; ok {
			if cg.end, err = parseInt(PropEnd, 0); err != nil {
				return cg, err
			}
			if cg.end < cg.start {
				return cg, fmt.Errorf("table %s: option '%s' (%d) is less than '%s' (%d)",
					table, key(PropEnd), cg.end, key(PropStart), cg.start)
			}
			cg.hasEnd = true
		}
		// a sequence of INT (or DECIMAL) cannot go past its type: it ends there
		switch c.Type.Kind {
		case types.Int, types.Decimal:
			typeEnd := hi
			if c.Type.Kind == types.Decimal {
				typeEnd = hi / types.IPow10[c.Type.Scale]
			}
			if !cg.hasEnd {
				cg.end, cg.hasEnd = typeEnd, true
			}
		}
	case c.Type.Kind == types.Varchar:
		cg.length = DefaultLength
		if c.Type.Length > 0 && int(c.Type.Length) < cg.length {
			cg.length = int(c.Type.Length)
		}
		if v, ok := props[PropLength]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 || n > maxLength {
				return cg, bad(PropLength, v, fmt.Sprintf("an integer between 0 and %d", maxLength))
			}
			if c.Type.Length > 0 && n > int(c.Type.Length) {
				return cg, bad(PropLength, v, fmt.Sprintf("at most %d, the length of %s", c.Type.Length, c.Type))
			}
			cg.length = n
		}
	case c.Type.Kind == types.Double:
		cg.flo, cg.fhi = 0, 1
		for _, p := range []string{PropMin, PropMax} {
			v, ok := props[p]
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return cg, bad(p, v, "a finite number")
			}
			if p == PropMin {
				cg.flo = f
			} else {
				cg.fhi = f
			}
		}
		if cg.fhi < cg.flo || math.IsInf(cg.fhi-cg.flo, 0) {
			return cg, fmt.Errorf("table %s: option '%s' must be at least '%s' and the range finite",
				table, key(PropMax), key(PropMin))
		}
	default: // random INT, BIGINT, DECIMAL, TIMESTAMP
		defLo, defHi := lo, hi
		if c.Type.Kind == types.Timestamp {
			// a year from the base, by default
			defLo, defHi = DefaultBase, DefaultBase+365*24*3600*1000-1
		}
		if cg.lo, err = parseInt(PropMin, defLo); err != nil {
			return cg, err
		}
		if cg.hi, err = parseInt(PropMax, defHi); err != nil {
			return cg, err
		}
		if cg.hi < cg.lo {
			return cg, fmt.Errorf("table %s: option '%s' is less than '%s'", table, key(PropMax), key(PropMin))
		}
	}
	return cg, nil
}

// parseDecimal parses [-+]digits[.digits] into an unscaled value at scale.
func parseDecimal(s string, scale uint8) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" && fp == "" || len(fp) > int(scale) {
		return 0, false
	}
	var u int64
	digits := 0
	for _, part := range []string{ip, fp + strings.Repeat("0", int(scale)-len(fp))} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if u == 0 && c == '0' {
				continue
			}
			digits++
			if digits > 18 {
				return 0, false
			}
			u = u*10 + int64(c-'0')
		}
	}
	if neg {
		u = -u
	}
	return u, true
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rng is splitmix64.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * (1.0 / (1 << 53)) }

// between returns a uniform number in [lo, hi].
func (r *rng) between(lo, hi int64) int64 {
	span := uint64(hi-lo) + 1
	if span == 0 { // the whole int64 range
		return int64(r.next())
	}
	h, _ := bits.Mul64(r.next(), span)
	return lo + int64(h)
}

// pool is random text; random strings are substrings of it.
const poolLen = 1 << 20

var (
	poolOnce sync.Once
	pool     string
)

func initPool() {
	poolOnce.Do(func() {
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		r := rng{s: 0xda7a9e11}
		b := make([]byte, poolLen+maxLength)
		for i := range b {
			h, _ := bits.Mul64(r.next(), uint64(len(alphabet)))
			b[i] = alphabet[h]
		}
		pool = string(b)
	})
}

// Row fills dst (of the table's width) with row number r (r ≥ 0).
func (g *Generator) Row(r int64, dst types.Row) {
	row := mix64(g.seedMix ^ uint64(r)*0x9e3779b97f4a7c15)
	for j := range g.cols {
		c := &g.cols[j]
		rg := rng{s: row ^ c.salt}
		if c.nullRate > 0 && rg.float() < c.nullRate {
			dst[j] = types.NullValue
			continue
		}
		dst[j] = c.value(r, &rg)
	}
}

func (c *colGen) value(r int64, rg *rng) types.Value {
	k := c.typ.Kind
	if c.kind == kindSequence {
		n := c.start + r
		switch k {
		case types.Int:
			return types.IntValue(n)
		case types.BigInt:
			return types.BigIntValue(n)
		case types.Double:
			return types.DoubleValue(float64(n))
		case types.Decimal:
			return types.DecimalValue(n*types.IPow10[c.typ.Scale], c.typ.Scale)
		case types.Varchar:
			return types.StringValue(strconv.FormatInt(n, 10))
		case types.Timestamp:
			return types.TimestampValue(n)
		}
		return types.NullValue
	}
	switch k {
	case types.Bool:
		return types.BoolValue(rg.next()&1 != 0)
	case types.Int:
		return types.IntValue(rg.between(c.lo, c.hi))
	case types.BigInt:
		return types.BigIntValue(rg.between(c.lo, c.hi))
	case types.Double:
		return types.DoubleValue(c.flo + rg.float()*(c.fhi-c.flo))
	case types.Decimal:
		return types.DecimalValue(rg.between(c.lo, c.hi), c.typ.Scale)
	case types.Varchar:
		off := rg.between(0, poolLen-1)
		return types.StringValue(pool[off : off+int64(c.length)])
	case types.Timestamp:
		return types.TimestampValue(rg.between(c.lo, c.hi))
	}
	return types.NullValue
}

// Rows returns rows [from, to) of the table (clipped to its row count),
// exactly as its sources emit them: the test oracle for datagen tables.
func Rows(t *connectors.Table, from, to int64) ([]types.Row, error) {
	if from < 0 || to < from {
		return nil, fmt.Errorf("datagen.Rows: bad range [%d, %d)", from, to)
	}
	g, err := NewGenerator(t)
	if err != nil {
		return nil, err
	}
	if g.total >= 0 {
		to = min(to, g.total)
	}
	var out []types.Row
	if to <= from {
		return out, nil
	}
	arena := types.NewRowArena(len(g.cols), int(min(to-from, BatchSize)))
	for r := from; r < to; r++ {
		row := arena.Next()
		g.Row(r, row)
		out = append(out, row)
	}
	return out, nil
}

// SourceFactory makes the subtasks of a datagen source.
type SourceFactory struct {
	g *Generator
}

// Generator returns the table's generator.
func (f *SourceFactory) Generator() *Generator { return f.g }

// Bounded reports whether the table has a row count ('number-of-rows' or a
// sequence with an end).
func (f *SourceFactory) Bounded() bool { return f.g.total >= 0 }

// MaxParallelism is 0: no cap.
func (f *SourceFactory) MaxParallelism() int { return 0 }

// Create makes subtask i of n: it generates the row numbers ≡ i (mod n).
func (f *SourceFactory) Create(subtask, parallelism int) (exec.Source, error) {
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("datagen: bad subtask %d of %d", subtask, parallelism)
	}
	return &Source{g: f.g, sub: pace.NewSubtask("datagen source", subtask, parallelism)}, nil
}

// Source is one subtask of a datagen source: one split (0), plus the
// closing splits a restore at another parallelism hands it (see Resume).
type Source struct {
	g   *Generator
	sub *pace.Subtask
}

var _ exec.Resumable = (*Source)(nil)

// Splits is 1.
func (s *Source) Splits() int { return 1 }

// SplitNames implements exec.Resumable: subtask i of p names its split
// "i/p", the residue class of row numbers it generates.
func (s *Source) SplitNames() []string { return s.sub.SplitNames() }

// Resume implements exec.Resumable. A position is the next row number of a
// split. Restoring at another parallelism is exact: see the package
// documentation.
func (s *Source) Resume(pos map[string]int64) error { return s.sub.Resume(pos) }

// Run generates the subtask's rows until the row count is reached, or
// forever when unbounded, pacing to 'rows-per-second' when set.
func (s *Source) Run(ctx context.Context, out exec.SourceOutput) error {
	limit := s.g.total
	if limit < 0 {
		limit = math.MaxInt64
	}
	return s.sub.Run(ctx, out, pace.Sequence{
		Limit: limit,
		Rate:  s.g.rate / float64(s.sub.Parallelism),
		Batch: BatchSize, MaxScan: BatchSize, Width: len(s.g.cols),
		Fill: s.g.Row,
	}, nil)
}
