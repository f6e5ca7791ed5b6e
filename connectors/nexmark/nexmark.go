package nexmark

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/internal/pace"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Name is the connector name used in 'connector' = 'nexmark'.
const Name = "nexmark"

// Option keys.
const (
	OptTable           = "nexmark.table"
	OptEvents          = "nexmark.events"
	OptSeed            = "nexmark.seed"
	OptRate            = "nexmark.rate"
	OptEventsPerSecond = "nexmark.events-per-second"
	OptBaseTime        = "nexmark.base-time"
	OptBatchSize       = "nexmark.batch-size"
)

// maxBatchSize bounds 'nexmark.batch-size'.
const maxBatchSize = 1 << 16

func init() { connectors.Register(Connector{}) }

// Connector is the nexmark connector: a source only.
type Connector struct{}

// Name implements connectors.Connector.
func (Connector) Name() string { return Name }

// NewSink always fails: a generator cannot be written.
func (Connector) NewSink(t *connectors.Table) (connectors.SinkFactory, error) {
	return nil, fmt.Errorf("table %s: connector 'nexmark' is a source only; it cannot be written", t.Name)
}

// NewSource implements connectors.Connector: it validates the options and
// the declared columns.
func (Connector) NewSource(t *connectors.Table) (connectors.SourceFactory, error) {
	p, err := newPlan(t)
	if err != nil {
		return nil, err
	}
	return &SourceFactory{p: p}, nil
}

// column describes one column of a Nexmark table.
type column struct {
	name string
	kind types.Kind
}

var tableColumns = [...][]column{
	PersonKind: {
		{"id", types.BigInt}, {"name", types.Varchar}, {"email_address", types.Varchar},
		{"credit_card", types.Varchar}, {"city", types.Varchar}, {"state", types.Varchar},
		{"date_time", types.Timestamp}, {"extra", types.Varchar},
	},
	AuctionKind: {
		{"id", types.BigInt}, {"item_name", types.Varchar}, {"description", types.Varchar},
		{"initial_bid", types.BigInt}, {"reserve", types.BigInt}, {"date_time", types.Timestamp},
		{"expires", types.Timestamp}, {"seller", types.BigInt}, {"category", types.BigInt},
		{"extra", types.Varchar},
	},
	BidKind: {
		{"auction", types.BigInt}, {"bidder", types.BigInt}, {"price", types.BigInt},
		{"channel", types.Varchar}, {"url", types.Varchar}, {"date_time", types.Timestamp},
		{"extra", types.Varchar},
	},
}

// Field indexes within tableColumns, used by the row fillers.
const (
	pID, pName, pEmail, pCard, pCity, pState, pTime, pExtra = 0, 1, 2, 3, 4, 5, 6, 7

	aID, aItem, aDesc, aInitial, aReserve, aTime, aExpires, aSeller, aCategory, aExtra = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9

	bAuction, bBidder, bPrice, bChannel, bURL, bTime, bExtra = 0, 1, 2, 3, 4, 5, 6
)

// Schema returns the full standard schema of a Nexmark table (every column,
// in the standard order, NOT NULL).
func Schema(k Kind) types.Schema {
	var s types.Schema
	for _, c := range tableColumns[k] {
		s.Cols = append(s.Cols, types.Column{Name: c.name, Type: types.Type{Kind: c.kind}})
	}
	return s
}

func validColumns(k Kind) string {
	parts := make([]string, len(tableColumns[k]))
	for i, c := range tableColumns[k] {
		parts[i] = c.name + " " + c.kind.String()
	}
	return strings.Join(parts, ", ")
}

// ParseOptions reads a table's 'nexmark.*' options into a Config (the stream
// shape fields keep their standard values). Errors name the table and the
// option.
func ParseOptions(t *connectors.Table) (Config, error) {
	cfg := DefaultConfig()
	if err := t.CheckOptions(OptTable, OptEvents, OptSeed, OptRate, OptEventsPerSecond, OptBaseTime, OptBatchSize); err != nil {
		return cfg, err
	}
	bad := func(key, v, want string) error {
		return fmt.Errorf("table %s: option '%s': invalid value '%s' (want %s)", t.Name, key, v, want)
	}
	v, ok := t.Options[OptTable]
	if !ok {
		return cfg, fmt.Errorf("table %s: option '%s' is required (person, auction or bid)", t.Name, OptTable)
	}
	if cfg.Table, ok = ParseKind(strings.TrimSpace(v)); !ok {
		return cfg, bad(OptTable, v, "person, auction or bid")
	}
	parseInt := func(key string, def, lo, hi int64, want string) (int64, error) {
		v, ok := t.Options[key]
		if !ok {
			return def, nil
		}
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || i < lo || i > hi {
			return 0, bad(key, v, want)
		}
		return i, nil
	}
	var err error
	if cfg.Events, err = parseInt(OptEvents, 0, 0, math.MaxInt64, "an integer ≥ 0; 0 = unbounded"); err != nil {
		return cfg, err
	}
	if cfg.Seed, err = parseInt(OptSeed, 0, math.MinInt64, math.MaxInt64, "an integer"); err != nil {
		return cfg, err
	}
	if cfg.EventsPerSecond, err = parseInt(OptEventsPerSecond, cfg.EventsPerSecond, 1, 1e12, "an integer between 1 and 1000000000000"); err != nil {
		return cfg, err
	}
	bs, err := parseInt(OptBatchSize, int64(cfg.BatchSize), 1, maxBatchSize, "an integer between 1 and "+strconv.Itoa(maxBatchSize))
	if err != nil {
		return cfg, err
	}
	cfg.BatchSize = int(bs)
	if v, ok := t.Options[OptRate]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return cfg, bad(OptRate, v, "a number ≥ 0 of events per second; 0 = unthrottled")
		}
		cfg.Rate = f
	}
	if v, ok := t.Options[OptBaseTime]; ok {
		ms, ok := types.ParseTimestamp(strings.TrimSpace(v))
		if !ok {
			return cfg, bad(OptBaseTime, v, "a timestamp such as '2026-01-01 00:00:00'")
		}
		cfg.BaseTime = ms
	}
	return cfg, nil
}

// plan is a validated table: its generator and how declared columns map to
// event fields.
type plan struct {
	gen    *Generator
	kind   Kind
	fields []int // per declared column: index into tableColumns[kind]
	maxLen []int // per declared column: VARCHAR(n) length, 0 = unbounded
}

func newPlan(t *connectors.Table) (*plan, error) {
	cfg, err := ParseOptions(t)
	if err != nil {
		return nil, err
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, fmt.Errorf("table %s: %v", t.Name, err)
	}
	p := &plan{gen: g, kind: cfg.Table}
	cols := tableColumns[cfg.Table]
	for _, c := range t.Schema.Cols {
		f := -1
		for i, tc := range cols {
			if strings.EqualFold(c.Name, tc.name) {
				f = i
				break
			}
		}
		if f < 0 {
			return nil, fmt.Errorf("table %s: unknown column '%s' for nexmark table '%s' (valid: %s)",
				t.Name, c.Name, cfg.Table, validColumns(cfg.Table))
		}
		if c.Type.Kind != cols[f].kind {
			return nil, fmt.Errorf("table %s: column '%s' of nexmark table '%s' must be %s, not %s (valid: %s)",
				t.Name, c.Name, cfg.Table, cols[f].kind, c.Type, validColumns(cfg.Table))
		}
		p.fields = append(p.fields, f)
		l := 0
		if c.Type.Kind == types.Varchar {
			l = int(c.Type.Length)
		}
		p.maxLen = append(p.maxLen, l)
	}
	return p, nil
}

// str truncates v to the declared VARCHAR(n) length of column j (a
// substring: no allocation).
func (p *plan) str(j int, v string) types.Value {
	if l := p.maxLen[j]; l > 0 && len(v) > l {
		v = v[:l]
	}
	return types.Value{Kind: types.Varchar, S: v}
}

// fill writes event n (of the plan's kind) into row.
func (p *plan) fill(row types.Row, n int64) {
	switch p.kind {
	case PersonKind:
		e := p.gen.Person(n)
		for j, f := range p.fields {
			switch f {
			case pID:
				row[j] = types.Value{Kind: types.BigInt, I: e.ID}
			case pName:
				row[j] = p.str(j, e.Name)
			case pEmail:
				row[j] = p.str(j, e.EmailAddress)
			case pCard:
				row[j] = p.str(j, e.CreditCard)
			case pCity:
				row[j] = p.str(j, e.City)
			case pState:
				row[j] = p.str(j, e.State)
			case pTime:
				row[j] = types.Value{Kind: types.Timestamp, I: e.DateTime}
			case pExtra:
				row[j] = p.str(j, e.Extra)
			}
		}
	case AuctionKind:
		e := p.gen.Auction(n)
		for j, f := range p.fields {
			switch f {
			case aID:
				row[j] = types.Value{Kind: types.BigInt, I: e.ID}
			case aItem:
				row[j] = p.str(j, e.ItemName)
			case aDesc:
				row[j] = p.str(j, e.Description)
			case aInitial:
				row[j] = types.Value{Kind: types.BigInt, I: e.InitialBid}
			case aReserve:
				row[j] = types.Value{Kind: types.BigInt, I: e.Reserve}
			case aTime:
				row[j] = types.Value{Kind: types.Timestamp, I: e.DateTime}
			case aExpires:
				row[j] = types.Value{Kind: types.Timestamp, I: e.Expires}
			case aSeller:
				row[j] = types.Value{Kind: types.BigInt, I: e.Seller}
			case aCategory:
				row[j] = types.Value{Kind: types.BigInt, I: e.Category}
			case aExtra:
				row[j] = p.str(j, e.Extra)
			}
		}
	default:
		e := p.gen.Bid(n)
		for j, f := range p.fields {
			switch f {
			case bAuction:
				row[j] = types.Value{Kind: types.BigInt, I: e.Auction}
			case bBidder:
				row[j] = types.Value{Kind: types.BigInt, I: e.Bidder}
			case bPrice:
				row[j] = types.Value{Kind: types.BigInt, I: e.Price}
			case bChannel:
				row[j] = p.str(j, e.Channel)
			case bURL:
				row[j] = p.str(j, e.URL)
			case bTime:
				row[j] = types.Value{Kind: types.Timestamp, I: e.DateTime}
			case bExtra:
				row[j] = p.str(j, e.Extra)
			}
		}
	}
}

// Rows returns the rows the table's source emits for the event numbers in
// [from, to) that are of the table's kind, in event-number order, with the
// table's declared columns. It ignores 'nexmark.events' (the caller chooses
// the range). It is the test oracle for queries over nexmark tables.
func Rows(t *connectors.Table, from, to int64) ([]types.Row, error) {
	if from < 0 || to < from {
		return nil, fmt.Errorf("nexmark.Rows: bad range [%d, %d)", from, to)
	}
	p, err := newPlan(t)
	if err != nil {
		return nil, err
	}
	var out []types.Row
	arena := types.NewRowArena(len(p.fields), int(min(to-from, 1024)))
	for n := from; n < to; n++ {
		if KindOf(n) == p.kind {
			row := arena.Next()
			p.fill(row, n)
			out = append(out, row)
		}
	}
	return out, nil
}

// SourceFactory makes the subtasks of a nexmark table's source.
type SourceFactory struct {
	p *plan
}

// Config returns the table's configuration.
func (f *SourceFactory) Config() Config { return f.p.gen.cfg }

// Bounded reports whether 'nexmark.events' is set (> 0).
func (f *SourceFactory) Bounded() bool { return f.p.gen.cfg.Events > 0 }

// MaxParallelism is 0: any parallelism splits the event numbers.
func (f *SourceFactory) MaxParallelism() int { return 0 }

// Create makes subtask i of n: it generates the event numbers ≡ i (mod n).
func (f *SourceFactory) Create(subtask, parallelism int) (exec.Source, error) {
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("nexmark: bad subtask %d of %d", subtask, parallelism)
	}
	return &Source{p: f.p, sub: pace.NewSubtask("nexmark source", subtask, parallelism)}, nil
}

// Source is one subtask of a nexmark source: one split (0), plus the
// closing splits a restore at another parallelism hands it (see Resume).
type Source struct {
	p   *plan
	sub *pace.Subtask
}

var _ exec.Resumable = (*Source)(nil)

// Splits is 1: each subtask is one generator stream.
func (s *Source) Splits() int { return 1 }

// SplitNames implements exec.Resumable: subtask i of p names its split
// "i/p", the residue class of event numbers it generates.
func (s *Source) SplitNames() []string { return s.sub.SplitNames() }

// Resume implements exec.Resumable. A position is the next event number of
// a split. Restoring at another parallelism is exact: see the package
// documentation.
func (s *Source) Resume(pos map[string]int64) error { return s.sub.Resume(pos) }

// maxScan bounds how many event numbers one pass of Run looks at before it
// checks for cancellation (matters for sparse kinds such as person).
const maxScan = 1 << 16

// hasKind reports whether event numbers ≡ i (mod p) include any of kind k:
// they reach exactly the residues mod 50 that are ≡ i (mod gcd(p, 50)).
func hasKind(i, p int64, k Kind) bool {
	g := gcd(p, Denominator)
	for r := i % g; r < Denominator; r += g {
		if KindOf(r) == k {
			return true
		}
	}
	return false
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Run generates the subtask's rows until the bound, or forever when
// unbounded, pacing to 'nexmark.rate' when set.
func (s *Source) Run(ctx context.Context, out exec.SourceOutput) error {
	cfg := &s.p.gen.cfg
	limit := cfg.Events
	if limit == 0 {
		limit = math.MaxInt64
	}
	kind := s.p.kind
	return s.sub.Run(ctx, out, pace.Sequence{
		Limit: limit,
		Rate:  cfg.Rate / float64(s.sub.Parallelism),
		Batch: cfg.BatchSize, MaxScan: maxScan, Width: len(s.p.fields),
		Want: func(n int64) bool { return KindOf(n) == kind },
		Fill: func(n int64, row types.Row) { s.p.fill(row, n) },
	}, func(i, p int64) bool { return hasKind(i, p, kind) })
}
