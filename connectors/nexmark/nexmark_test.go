package nexmark

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

// collector is a SourceOutput that keeps everything.
type collector struct {
	mu      sync.Mutex
	rows    []types.Row
	batches int
	done    []int
	splits  map[int]bool
}

func (c *collector) Emit(split int, b *types.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if split != 0 {
		return fmt.Errorf("emit on split %d", split)
	}
	if b.Kinds != nil {
		return errors.New("nexmark batches must be append-only")
	}
	c.rows = append(c.rows, b.Rows...)
	c.batches++
	return nil
}

func (c *collector) SplitDone(split int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, split)
}

// discard is a SourceOutput that drops rows but counts them.
type discard struct{ rows int }

func (d *discard) Emit(split int, b *types.Batch) error { d.rows += len(b.Rows); return nil }
func (d *discard) SplitDone(int)                        {}

func table(kind string, opts map[string]string, cols ...types.Column) *connectors.Table {
	o := map[string]string{"connector": "nexmark", "nexmark.table": kind}
	for k, v := range opts {
		o[k] = v
	}
	if cols == nil {
		k, _ := ParseKind(kind)
		cols = Schema(k).Cols
	}
	return &connectors.Table{Name: kind, Schema: types.Schema{Cols: cols}, Options: o, RowtimeCol: -1}
}

func newFactory(t testing.TB, tb *connectors.Table) *SourceFactory {
	t.Helper()
	c, err := connectors.Lookup("nexmark")
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.NewSource(tb)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*SourceFactory)
}

// runAll runs every subtask of a parallelism-p source and returns each
// subtask's rows.
func runAll(t *testing.T, tb *connectors.Table, p int) [][]types.Row {
	t.Helper()
	f := newFactory(t, tb)
	out := make([][]types.Row, p)
	var wg sync.WaitGroup
	errs := make([]error, p)
	for i := 0; i < p; i++ {
		src, err := f.Create(i, p)
		if err != nil {
			t.Fatal(err)
		}
		if src.Splits() != 1 {
			t.Fatalf("Splits() = %d", src.Splits())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &collector{}
			errs[i] = src.Run(context.Background(), c)
			if len(c.done) != 1 || c.done[0] != 0 {
				errs[i] = fmt.Errorf("subtask %d: SplitDone calls %v", i, c.done)
			}
			out[i] = c.rows
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func rowKey(r types.Row) string {
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = v.Kind.String() + ":" + v.String()
	}
	return strings.Join(parts, "|")
}

func sameRows(a, b []types.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if rowKey(a[i]) != rowKey(b[i]) {
			return false
		}
	}
	return true
}

func TestProportions(t *testing.T) {
	var counts [3]int
	for n := int64(0); n < 50000; n++ {
		counts[KindOf(n)]++
	}
	if counts != [3]int{1000, 3000, 46000} {
		t.Fatalf("KindOf counts %v, want [1000 3000 46000]", counts)
	}
	// and what the sources emit over a 50k-event stream
	for kind, want := range map[string]int{"person": 1000, "auction": 3000, "bid": 46000} {
		got := 0
		for _, rows := range runAll(t, table(kind, map[string]string{"nexmark.events": "50000"}), 2) {
			got += len(rows)
		}
		if got != want {
			t.Errorf("%s: %d rows, want %d", kind, got, want)
		}
	}
}

func TestIDsFollowEventNumbers(t *testing.T) {
	g, err := NewGenerator(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if p := g.Person(0); p.ID != 1000 {
		t.Errorf("first person id %d", p.ID)
	}
	if p := g.Person(50); p.ID != 1001 {
		t.Errorf("second person id %d", p.ID)
	}
	for n, want := range map[int64]int64{1: 1000, 2: 1001, 3: 1002, 51: 1003, 53: 1005} {
		if a := g.Auction(n); a.ID != want {
			t.Errorf("auction at event %d: id %d, want %d", n, a.ID, want)
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, kind := range []string{"person", "auction", "bid"} {
		tb := table(kind, map[string]string{"nexmark.events": "20000", "nexmark.seed": "42", "nexmark.batch-size": "100"})
		a, err := Rows(tb, 0, 20000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Rows(tb, 0, 20000)
		if !sameRows(a, b) {
			t.Fatalf("%s: two calls differ", kind)
		}
		other := table(kind, map[string]string{"nexmark.seed": "43"})
		c, _ := Rows(other, 0, 20000)
		if sameRows(a, c) {
			t.Fatalf("%s: seed 42 and 43 gave the same rows", kind)
		}

		// parallelism 1 emits exactly Rows, in order
		p1 := runAll(t, tb, 1)[0]
		if !sameRows(p1, a) {
			t.Fatalf("%s: parallelism 1 differs from Rows", kind)
		}
		// parallelism 3: subtask i emits the events ≡ i (mod 3), each equal
		// to Rows of that single event number
		byEvent := map[int64]types.Row{} // event number -> its row
		k := 0
		for n := int64(0); n < 20000; n++ {
			if KindOf(n).String() == kind {
				byEvent[n] = a[k]
				k++
			}
		}
		for _, n := range []int64{0, 1, 2, 3, 4, 7777, 19950, 19999} {
			one, _ := Rows(tb, n, n+1)
			want, ok := byEvent[n]
			if ok != (len(one) == 1) || ok && !sameRows(one, []types.Row{want}) {
				t.Fatalf("%s: Rows of event %d alone differs", kind, n)
			}
		}
		p3 := runAll(t, tb, 3)
		var all []string
		for i, rows := range p3 {
			k := 0
			for n := int64(i); n < 20000; n += 3 {
				want, ok := byEvent[n]
				if !ok {
					continue
				}
				if k >= len(rows) || rowKey(rows[k]) != rowKey(want) {
					t.Fatalf("%s: subtask %d row %d is not event %d", kind, i, k, n)
				}
				k++
			}
			if k != len(rows) {
				t.Fatalf("%s: subtask %d emitted %d rows, want %d", kind, i, len(rows), k)
			}
			for _, r := range rows {
				all = append(all, rowKey(r))
			}
		}
		var ref []string
		for _, r := range a {
			ref = append(ref, rowKey(r))
		}
		sort.Strings(all)
		sort.Strings(ref)
		if strings.Join(all, "\n") != strings.Join(ref, "\n") {
			t.Fatalf("%s: parallelism 3 multiset differs from parallelism 1", kind)
		}
	}
}

func TestBoundedCount(t *testing.T) {
	const events = 1234
	want := 0
	for n := int64(0); n < events; n++ {
		if KindOf(n) == BidKind {
			want++
		}
	}
	tb := table("bid", map[string]string{"nexmark.events": fmt.Sprint(events), "nexmark.batch-size": "7"})
	f := newFactory(t, tb)
	if !f.Bounded() || f.MaxParallelism() != 0 {
		t.Fatalf("Bounded %v MaxParallelism %d", f.Bounded(), f.MaxParallelism())
	}
	for _, p := range []int{1, 4, 7} {
		got := 0
		for _, rows := range runAll(t, tb, p) {
			got += len(rows)
		}
		if got != want {
			t.Errorf("parallelism %d: %d rows, want %d", p, got, want)
		}
	}
	if newFactory(t, table("bid", nil)).Bounded() {
		t.Error("no nexmark.events: want unbounded")
	}
	// batches are at most batch-size rows
	src, _ := f.Create(0, 1)
	c := &collector{}
	if err := src.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if c.batches != (want+6)/7 {
		t.Errorf("%d batches of ≤7 rows for %d rows", c.batches, want)
	}
}

func TestColumnSubsetAndOrder(t *testing.T) {
	full, err := Rows(table("auction", nil), 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := Rows(table("auction", nil,
		types.Column{Name: "SELLER", Type: types.TBigInt},
		types.Column{Name: "Expires", Type: types.TTimestamp},
		types.Column{Name: "id", Type: types.TBigInt},
		types.Column{Name: "item_name", Type: types.Type{Kind: types.Varchar, Length: 5}},
	), 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) != len(full) || len(sub) != 300 {
		t.Fatalf("%d vs %d rows", len(sub), len(full))
	}
	for i := range full {
		f, s := full[i], sub[i]
		name := f[aItem].S
		if len(name) > 5 {
			name = name[:5]
		}
		if s[0] != f[aSeller] || s[1] != f[aExpires] || s[2] != f[aID] || s[3].S != name || s[3].Kind != types.Varchar {
			t.Fatalf("row %d: subset %v vs full %v", i, s, f)
		}
	}
}

func TestErrors(t *testing.T) {
	c, _ := connectors.Lookup("nexmark")
	cases := []struct {
		tb   *connectors.Table
		want string
	}{
		{table("bid", nil, types.Column{Name: "price", Type: types.TBigInt}, types.Column{Name: "bogus", Type: types.TBigInt}),
			"table bid: unknown column 'bogus' for nexmark table 'bid' (valid: auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP(3), extra VARCHAR)"},
		{table("bid", nil, types.Column{Name: "price", Type: types.TInt}),
			"table bid: column 'price' of nexmark table 'bid' must be BIGINT, not INT (valid: auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP(3), extra VARCHAR)"},
		{table("person", nil, types.Column{Name: "date_time", Type: types.TBigInt}),
			"table person: column 'date_time' of nexmark table 'person' must be TIMESTAMP(3), not BIGINT (valid: id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR, city VARCHAR, state VARCHAR, date_time TIMESTAMP(3), extra VARCHAR)"},
		{table("bid", map[string]string{"nexmark.evnts": "10"}),
			"table bid: unknown option 'nexmark.evnts' for connector 'nexmark' (valid: nexmark.base-time, nexmark.batch-size, nexmark.events, nexmark.events-per-second, nexmark.rate, nexmark.seed, nexmark.table)"},
		{table("bids", nil, types.Column{Name: "price", Type: types.TBigInt}),
			"table bids: option 'nexmark.table': invalid value 'bids' (want person, auction or bid)"},
		{&connectors.Table{Name: "t", Options: map[string]string{"connector": "nexmark"}},
			"table t: option 'nexmark.table' is required (person, auction or bid)"},
		{table("bid", map[string]string{"nexmark.events": "-1"}),
			"table bid: option 'nexmark.events': invalid value '-1' (want an integer ≥ 0; 0 = unbounded)"},
		{table("bid", map[string]string{"nexmark.seed": "x"}),
			"table bid: option 'nexmark.seed': invalid value 'x' (want an integer)"},
		{table("bid", map[string]string{"nexmark.rate": "fast"}),
			"table bid: option 'nexmark.rate': invalid value 'fast' (want a number ≥ 0 of events per second; 0 = unthrottled)"},
		{table("bid", map[string]string{"nexmark.events-per-second": "0"}),
			"table bid: option 'nexmark.events-per-second': invalid value '0' (want an integer between 1 and 1000000000000)"},
		{table("bid", map[string]string{"nexmark.base-time": "yesterday"}),
			"table bid: option 'nexmark.base-time': invalid value 'yesterday' (want a timestamp such as '2026-01-01 00:00:00')"},
		{table("bid", map[string]string{"nexmark.batch-size": "0"}),
			"table bid: option 'nexmark.batch-size': invalid value '0' (want an integer between 1 and 65536)"},
	}
	for _, tc := range cases {
		_, err := c.NewSource(tc.tb)
		if err == nil || err.Error() != tc.want {
			t.Errorf("got  %v\nwant %s", err, tc.want)
		}
	}
	if _, err := c.NewSink(table("bid", nil)); err == nil ||
		err.Error() != "table bid: connector 'nexmark' is a source only; it cannot be written" {
		t.Errorf("NewSink: %v", err)
	}
	// upper-case option values are fine
	if _, err := c.NewSource(table("BID", map[string]string{"nexmark.rate": "0.5"})); err != nil {
		t.Error(err)
	}
}

func mustTS(s string) int64 {
	ms, ok := types.ParseTimestamp(s)
	if !ok {
		panic(s)
	}
	return ms
}

func TestEventTime(t *testing.T) {
	base := "2026-01-01 00:00:00"
	baseMs, _ := types.ParseTimestamp(base)
	// default: 10 000 events/s = 100 µs apart, 10 events per ms
	cols := []types.Column{{Name: "date_time", Type: types.TTimestamp}}
	for _, tc := range []struct {
		opts   map[string]string
		base   int64
		perSec int64
	}{
		{map[string]string{"nexmark.events": "5000"}, baseMs, 10000},
		{map[string]string{"nexmark.events": "5000", "nexmark.events-per-second": "1000", "nexmark.base-time": "2020-02-29 12:00:00.5"},
			mustTS("2020-02-29 12:00:00.500"), 1000},
		{map[string]string{"nexmark.events": "5000", "nexmark.events-per-second": "3"}, baseMs, 3},
	} {
		tb := table("bid", tc.opts, cols...)
		per := runAll(t, tb, 3)
		for i, rows := range per {
			prev := int64(-1 << 62)
			k := 0
			for n := int64(i); n < 5000; n += 3 {
				if KindOf(n) != BidKind {
					continue
				}
				want := tc.base + n*1000/tc.perSec
				got := rows[k][0]
				if got.Kind != types.Timestamp || got.I != want {
					t.Fatalf("%v: event %d at %v, want %s", tc.opts, n, got, types.FormatTimestamp(want))
				}
				if got.I < prev {
					t.Fatalf("%v: time goes back on subtask %d", tc.opts, i)
				}
				prev = got.I
				k++
			}
		}
	}
	g, _ := NewGenerator(DefaultConfig())
	if g.EventTime(10)-g.EventTime(0) != 1 || g.EventTime(9) != g.EventTime(0) {
		t.Error("default spacing is not 10 events per ms")
	}
}

func TestValueRanges(t *testing.T) {
	g, _ := NewGenerator(DefaultConfig())
	channels := map[string]bool{}
	for n := int64(0); n < 200000; n++ {
		switch KindOf(n) {
		case PersonKind:
			p := g.Person(n)
			if p.ID != n/50+1000 || !strings.Contains(p.EmailAddress, "@") || !strings.HasSuffix(p.EmailAddress, ".com") ||
				len(p.CreditCard) != 19 || strings.Count(p.CreditCard, " ") != 3 || p.City == "" || len(p.State) != 2 ||
				strings.Count(p.Name, " ") != 1 || len(p.Extra) == 0 {
				t.Fatalf("person %d: %+v", n, p)
			}
		case AuctionKind:
			a := g.Auction(n)
			last := lastBase0PersonID(n) + 1000
			if a.Category < 10 || a.Category > 14 || a.InitialBid < 100 || a.InitialBid > 1e8 ||
				a.Reserve < a.InitialBid || a.Expires <= a.DateTime || a.Seller < 1000 || a.Seller > last+personIDLead ||
				len(a.ItemName) > 19 || len(a.Description) > 99 || len(a.Extra) < 200 {
				t.Fatalf("auction %d: %+v", n, a)
			}
		case BidKind:
			b := g.Bid(n)
			if b.Price < 100 || b.Price > 1e8 || b.Auction < 1000 || b.Auction > lastBase0AuctionID(n)+1000+auctionIDLead ||
				b.Bidder < 1000 || b.Bidder > lastBase0PersonID(n)+1000+personIDLead ||
				!strings.HasPrefix(b.URL, "https://www.nexmark.com/") || len(b.Extra) < 54 || len(b.Extra) >= 82 {
				t.Fatalf("bid %d: %+v", n, b)
			}
			if strings.HasPrefix(b.Channel, "channel-") {
				channels["channel-N"] = true
			} else {
				channels[b.Channel] = true
			}
		}
	}
	for _, c := range []string{"Google", "Facebook", "Baidu", "Apple", "channel-N"} {
		if !channels[c] {
			t.Errorf("channel %s never seen", c)
		}
	}
	if len(channels) != 5 {
		t.Errorf("channels %v", channels)
	}
}

func TestHotAuctionSkew(t *testing.T) {
	g, _ := NewGenerator(DefaultConfig())
	bids, hot, hotBidder := 0, 0, 0
	perAuction := map[int64]int{}
	for n := int64(0); n < 500000; n++ {
		if KindOf(n) != BidKind {
			continue
		}
		b := g.Bid(n)
		bids++
		perAuction[b.Auction]++
		if (b.Auction-FirstAuctionID)%hotAuctionGroup == 0 {
			hot++
		}
		if (b.Bidder-FirstPersonID)%hotBidderGroup == 1 {
			hotBidder++
		}
	}
	// P(hot auction) = 1 - 1/2 (plus cold picks that land on a hot id)
	if f := float64(hot) / float64(bids); f < 0.49 || f > 0.53 {
		t.Errorf("hot auction share %.3f, want ≈ 0.5", f)
	}
	if f := float64(hotBidder) / float64(bids); f < 0.74 || f > 0.77 {
		t.Errorf("hot bidder share %.3f, want ≈ 0.75", f)
	}
	// the busiest auction gets far more than an even share
	maxCount := 0
	for _, c := range perAuction {
		maxCount = max(maxCount, c)
	}
	if even := bids / len(perAuction); maxCount < 50*even {
		t.Errorf("busiest auction has %d bids, even share %d: no skew", maxCount, even)
	}
}

func TestCancel(t *testing.T) {
	f := newFactory(t, table("bid", nil))
	src, _ := f.Create(0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, &discard{}) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	// a throttled source stops promptly too, even mid-sleep
	f = newFactory(t, table("bid", map[string]string{"nexmark.rate": "1"}))
	src, _ = f.Create(0, 1)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- src.Run(ctx, &discard{}) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("throttled Run did not stop after cancel")
	}
}

func TestEmptySubtask(t *testing.T) {
	// parallelism 50: only subtask 0 sees person events; the others end at
	// once even though the source is unbounded.
	f := newFactory(t, table("person", nil))
	src, _ := f.Create(1, 50)
	c := &collector{}
	done := make(chan error)
	go func() { done <- src.Run(context.Background(), c) }()
	select {
	case err := <-done:
		if err != nil || len(c.rows) != 0 || len(c.done) != 1 {
			t.Fatalf("err %v rows %d done %v", err, len(c.rows), c.done)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("empty subtask did not end")
	}
	if !hasKind(0, 50, PersonKind) || hasKind(3, 50, PersonKind) || !hasKind(1, 3, PersonKind) || !hasKind(7, 10, BidKind) {
		t.Fatal("hasKind")
	}
}

func TestRate(t *testing.T) {
	// 400 events at 2000 events/s over 2 subtasks: about 200 ms
	tb := table("bid", map[string]string{"nexmark.events": "400", "nexmark.rate": "2000"})
	start := time.Now()
	got := 0
	for _, rows := range runAll(t, tb, 2) {
		got += len(rows)
	}
	el := time.Since(start)
	if got != 368 {
		t.Fatalf("%d rows", got)
	}
	if el < 150*time.Millisecond || el > 2*time.Second {
		t.Fatalf("took %v, want about 200ms", el)
	}
}

func TestGenerationDoesNotAllocate(t *testing.T) {
	g, _ := NewGenerator(DefaultConfig())
	n := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		_ = g.Bid(n)
		_ = g.Auction(n)
		_ = g.Person(n)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs per event", allocs)
	}
}

// BenchmarkBidGeneration measures the bid source end to end (generation
// plus row building), per event number consumed.
func BenchmarkBidGeneration(b *testing.B) {
	tb := table("bid", map[string]string{"nexmark.events": fmt.Sprint(max(b.N, 1))})
	f := newFactory(b, tb)
	src, _ := f.Create(0, 1)
	d := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	if err := src.Run(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(b.N, 1)), "ns/event")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGeneratorBid measures Generator.Bid alone.
func BenchmarkGeneratorBid(b *testing.B) {
	g, _ := NewGenerator(DefaultConfig())
	b.ReportAllocs()
	var sink int64
	for i := 0; b.Loop(); i++ {
		sink += g.Bid(int64(i)).Price
	}
	_ = sink
}

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*collector) AddSplit() int       { panic("unexpected AddSplit") }
func (*collector) SplitIdle(split int) {}

// AddSplit and SplitIdle complete exec.SourceOutput; these sources have a
// fixed set of splits and never go idle.
func (*discard) AddSplit() int       { panic("unexpected AddSplit") }
func (*discard) SplitIdle(split int) {}
