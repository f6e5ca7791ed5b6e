package nexmark

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// Kind is the kind of a Nexmark event, and so the logical table a source
// yields.
type Kind uint8

// The three event kinds.
const (
	PersonKind Kind = iota
	AuctionKind
	BidKind
)

var kindNames = [...]string{"person", "auction", "bid"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses "person", "auction" or "bid" (case-insensitively).
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if strings.EqualFold(s, n) {
			return Kind(i), true
		}
	}
	return 0, false
}

// The standard Nexmark proportions: out of every 50 consecutive event
// numbers, the first is a person, the next three are auctions and the other
// 46 are bids.
const (
	PersonProportion  = 1
	AuctionProportion = 3
	BidProportion     = 46
	Denominator       = PersonProportion + AuctionProportion + BidProportion

	// FirstPersonID and FirstAuctionID are the ids of the first person and
	// the first auction; FirstCategoryID the lowest category.
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	NumCategories   = 5

	// Ids may run a little ahead of the last generated person/auction, so
	// that a bid can name an auction "from the future" (as the standard does).
	personIDLead  = 10
	auctionIDLead = 10

	// Hot sellers, bidders and auctions are the first (second for bidders)
	// of each group of this many people/auctions.
	hotSellerGroup  = 100
	hotBidderGroup  = 100
	hotAuctionGroup = 100

	hotChannelsRatio = 2
	numChannels      = 10000
	minStringLength  = 3
)

// KindOf returns the kind of event number n (n ≥ 0).
func KindOf(n int64) Kind {
	r := n % Denominator
	switch {
	case r < PersonProportion:
		return PersonKind
	case r < PersonProportion+AuctionProportion:
		return AuctionKind
	}
	return BidKind
}

// Config holds every parameter of a Nexmark stream. DefaultConfig returns
// the standard values; ParseTable builds one from a table's options.
type Config struct {
	Table           Kind    // which event kind a source yields ('nexmark.table')
	Events          int64   // total events of all kinds; 0 = unbounded ('nexmark.events')
	Seed            int64   // 'nexmark.seed'
	Rate            float64 // wall-clock events/s over the whole source; 0 = unthrottled ('nexmark.rate')
	EventsPerSecond int64   // event-time rate ('nexmark.events-per-second')
	BaseTime        int64   // event time of event 0, ms since the epoch ('nexmark.base-time')
	BatchSize       int     // rows per batch ('nexmark.batch-size')

	// Shape of the stream (no table options; the standard values by default).
	ActivePeople     int64 // people considered active for bids and auctions
	InFlightAuctions int64 // auctions considered open for bids
	HotAuctionRatio  int64 // P(bid on a hot auction) = 1 - 1/HotAuctionRatio
	HotBidderRatio   int64 // P(bid by a hot bidder) = 1 - 1/HotBidderRatio
	HotSellerRatio   int64 // P(auction by a hot seller) = 1 - 1/HotSellerRatio
	AvgPersonBytes   int   // padding target of a person ('extra' fills up to it)
	AvgAuctionBytes  int
	AvgBidBytes      int
}

// DefaultBaseTime is the default event time of event 0: 2026-01-01 00:00:00 UTC.
const DefaultBaseTime int64 = 1767225600000

// DefaultConfig returns the standard configuration (bid table, unbounded).
func DefaultConfig() Config {
	return Config{
		Table:            BidKind,
		EventsPerSecond:  10000,
		BaseTime:         DefaultBaseTime,
		BatchSize:        1024,
		ActivePeople:     1000,
		InFlightAuctions: 100,
		HotAuctionRatio:  2,
		HotBidderRatio:   4,
		HotSellerRatio:   4,
		AvgPersonBytes:   200,
		AvgAuctionBytes:  500,
		AvgBidBytes:      100,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Table > BidKind:
		return fmt.Errorf("nexmark: bad table kind %d", c.Table)
	case c.Events < 0:
		return fmt.Errorf("nexmark: Events must be ≥ 0")
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("nexmark: Rate must be a finite number ≥ 0")
	case c.EventsPerSecond <= 0:
		return fmt.Errorf("nexmark: EventsPerSecond must be > 0")
	case c.BatchSize <= 0:
		return fmt.Errorf("nexmark: BatchSize must be > 0")
	case c.ActivePeople <= 0 || c.InFlightAuctions <= 0:
		return fmt.Errorf("nexmark: ActivePeople and InFlightAuctions must be > 0")
	case c.HotAuctionRatio <= 0 || c.HotBidderRatio <= 0 || c.HotSellerRatio <= 0:
		return fmt.Errorf("nexmark: hot ratios must be > 0")
	}
	return nil
}

// Person is a person event.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // ms since the epoch
	Extra        string
}

// Auction is an auction event.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64 // ms since the epoch
	Expires     int64 // ms since the epoch
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid event.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime int64 // ms since the epoch
	Extra    string
}

// Generator computes any event of a stream from its event number alone.
// It is immutable and safe for concurrent use. The Person/Auction/Bid
// methods do not allocate: every string is a prebuilt pool entry or a
// substring of a prebuilt random text.
type Generator struct {
	cfg      Config
	seedMix  uint64
	auctionH int64 // events until InFlightAuctions more auctions exist
}

// NewGenerator validates cfg and returns its generator.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	initPools()
	return &Generator{
		cfg:      cfg,
		seedMix:  mix64(uint64(cfg.Seed) + 0x632be59bd9b4e019),
		auctionH: cfg.InFlightAuctions * Denominator / AuctionProportion,
	}, nil
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

// EventTime returns the event time (ms) of event number n: BaseTime plus
// n inter-event delays of 1e6/EventsPerSecond µs, rounded down to the ms.
func (g *Generator) EventTime(n int64) int64 {
	return g.cfg.BaseTime + n*1000/g.cfg.EventsPerSecond
}

// rng is splitmix64: tiny, fast, and good enough for synthetic data.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rngFor seeds the generator of event n. mix64 is a bijection, so distinct
// event numbers start from distinct, well-scattered states.
func (g *Generator) rngFor(n int64) rng {
	return rng{s: mix64(g.seedMix ^ uint64(n)*0x9e3779b97f4a7c15)}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a uniform number in [0, n) for n > 0 (Lemire's multiply-high).
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 {
	return float64(r.next()>>11) * (1.0 / (1 << 53))
}

// lastBase0PersonID is the 0-based id of the last person generated at or
// before event n.
func lastBase0PersonID(n int64) int64 {
	epoch, off := n/Denominator, n%Denominator
	if off >= PersonProportion {
		off = PersonProportion - 1
	}
	return epoch*PersonProportion + off
}

// lastBase0AuctionID is the 0-based id of the last auction generated at or
// before event n (-1 before the first auction).
func lastBase0AuctionID(n int64) int64 {
	epoch, off := n/Denominator, n%Denominator
	switch {
	case off < PersonProportion:
		epoch--
		off = AuctionProportion - 1
	case off >= PersonProportion+AuctionProportion:
		off = AuctionProportion - 1
	default:
		off -= PersonProportion
	}
	return epoch*AuctionProportion + off
}

// nextBase0PersonID picks one of the active people, or a few ahead.
func (g *Generator) nextBase0PersonID(n int64, r *rng) int64 {
	numPeople := lastBase0PersonID(n) + 1
	active := min(numPeople, g.cfg.ActivePeople)
	return numPeople - active + r.intn(active+personIDLead)
}

// nextBase0AuctionID picks one of the auctions likely still open, or a few ahead.
func (g *Generator) nextBase0AuctionID(n int64, r *rng) int64 {
	maxA := lastBase0AuctionID(n)
	minA := max(maxA-g.cfg.InFlightAuctions, 0)
	return minA + r.intn(maxA-minA+1+auctionIDLead)
}

// nextPrice is log-uniform over [100, 100 000 000): round(10^(6u) × 100).
func nextPrice(r *rng) int64 {
	return int64(math.Round(math.Exp(r.float()*(6*math.Ln10)) * 100))
}

// nextString is a random string of 3..maxLen-1 letters with a space in
// about one position out of 13, trimmed: a substring of the spaced pool.
func nextString(r *rng, maxLen int) string {
	n := minStringLength + int(r.intn(int64(maxLen-minStringLength)))
	off := int(r.intn(int64(len(spacedPool) - maxLen)))
	return strings.TrimSpace(spacedPool[off : off+n])
}

// nextExtra pads an event of currentSize bytes towards avgSize: a random
// string of letters of length avgSize-currentSize ± 20%.
func nextExtra(r *rng, currentSize, avgSize int) string {
	if currentSize > avgSize {
		return ""
	}
	d := avgSize - currentSize
	delta := (2*d + 5) / 10 // round(d × 0.2)
	size := d - delta
	if delta > 0 {
		size += int(r.intn(int64(2 * delta)))
	}
	off := int(r.intn(int64(len(letterPool) - size)))
	return letterPool[off : off+size]
}

// Person returns event n as a person. The result is meaningful only when
// KindOf(n) == PersonKind.
func (g *Generator) Person(n int64) Person {
	r := g.rngFor(n)
	p := Person{ID: lastBase0PersonID(n) + FirstPersonID, DateTime: g.EventTime(n)}
	p.Name = fullNames[r.intn(int64(len(firstNames)))*int64(len(lastNames))+r.intn(int64(len(lastNames)))]
	p.EmailAddress = emailPool[r.intn(int64(len(emailPool)))]
	off := r.intn(creditCardGroups - 3)
	p.CreditCard = creditCardPool[off*5 : off*5+19]
	p.City = usCities[r.intn(int64(len(usCities)))]
	p.State = usStates[r.intn(int64(len(usStates)))]
	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = nextExtra(&r, size, g.cfg.AvgPersonBytes)
	return p
}

// Auction returns event n as an auction. The result is meaningful only when
// KindOf(n) == AuctionKind.
func (g *Generator) Auction(n int64) Auction {
	r := g.rngFor(n)
	ts := g.EventTime(n)
	a := Auction{ID: lastBase0AuctionID(n) + FirstAuctionID, DateTime: ts}
	if r.intn(g.cfg.HotSellerRatio) > 0 {
		a.Seller = lastBase0PersonID(n) / hotSellerGroup * hotSellerGroup
	} else {
		a.Seller = g.nextBase0PersonID(n, &r)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + r.intn(NumCategories)
	a.InitialBid = nextPrice(&r)
	// Auctions last on average until InFlightAuctions more auctions have
	// been created: uniform in [1, 2 × that horizon].
	horizon := g.EventTime(n+g.auctionH) - ts
	a.Expires = ts + 1 + r.intn(max(2*horizon, 1))
	a.ItemName = nextString(&r, 20)
	a.Description = nextString(&r, 100)
	a.Reserve = a.InitialBid + nextPrice(&r)
	size := 8 + len(a.ItemName) + len(a.Description) + 8 + 8 + 8 + 8 + 8
	a.Extra = nextExtra(&r, size, g.cfg.AvgAuctionBytes)
	return a
}

// Bid returns event n as a bid. The result is meaningful only when
// KindOf(n) == BidKind.
func (g *Generator) Bid(n int64) Bid {
	r := g.rngFor(n)
	b := Bid{DateTime: g.EventTime(n)}
	if r.intn(g.cfg.HotAuctionRatio) > 0 {
		b.Auction = lastBase0AuctionID(n) / hotAuctionGroup * hotAuctionGroup
	} else {
		b.Auction = g.nextBase0AuctionID(n, &r)
	}
	b.Auction += FirstAuctionID
	if r.intn(g.cfg.HotBidderRatio) > 0 {
		// the second person of the group, so hot bidders aren't hot sellers
		b.Bidder = lastBase0PersonID(n)/hotBidderGroup*hotBidderGroup + 1
	} else {
		b.Bidder = g.nextBase0PersonID(n, &r)
	}
	b.Bidder += FirstPersonID
	b.Price = nextPrice(&r)
	if r.intn(hotChannelsRatio) > 0 {
		i := r.intn(int64(len(hotChannels)))
		b.Channel, b.URL = hotChannels[i], hotURLs[i]
	} else {
		i := r.intn(numChannels)
		b.Channel, b.URL = channelNames[i], channelURLs[i]
	}
	b.Extra = nextExtra(&r, 8+8+8+8, g.cfg.AvgBidBytes)
	return b
}

// ---- prebuilt pools ----------------------------------------------------

var (
	firstNames  = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usStates    = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	hotChannels = [...]string{"Google", "Facebook", "Baidu", "Apple"}
)

const (
	letterPoolLen    = 1 << 20 // random lowercase letters: 'extra'
	spacedPoolLen    = 1 << 18 // letters with ~1/13 spaces: item names, descriptions
	emailPoolLen     = 1 << 14
	creditCardGroups = 1 << 16 // "dddd " groups
	poolSeed         = 0x5eed0f4e7a11
)

var (
	poolsOnce      sync.Once
	letterPool     string
	spacedPool     string
	creditCardPool string
	emailPool      []string
	fullNames      []string
	hotURLs        [len(hotChannels)]string
	channelNames   []string
	channelURLs    []string
)

// initPools builds the string pools once per process, from a fixed seed:
// they are the same in every run and every process.
func initPools() {
	poolsOnce.Do(func() {
		r := rng{s: poolSeed}
		randText := func(n int, special byte) string {
			b := make([]byte, n)
			for i := range b {
				if special != 0 && r.intn(13) == 0 {
					b[i] = special
				} else {
					b[i] = byte('a' + r.intn(26))
				}
			}
			return string(b)
		}
		// a random string of 3..maxLen-1 characters, trimmed (for the pools)
		poolString := func(maxLen int, special byte) string {
			s := randText(minStringLength+int(r.intn(int64(maxLen-minStringLength))), special)
			return strings.TrimSpace(s)
		}
		letterPool = randText(letterPoolLen, 0)
		spacedPool = randText(spacedPoolLen, ' ')

		var cc strings.Builder
		cc.Grow(creditCardGroups * 5)
		for i := 0; i < creditCardGroups; i++ {
			fmt.Fprintf(&cc, "%04d ", r.intn(10000))
		}
		creditCardPool = cc.String()

		emailPool = make([]string, emailPoolLen)
		for i := range emailPool {
			emailPool[i] = poolString(7, ' ') + "@" + poolString(5, ' ') + ".com"
		}
		fullNames = make([]string, 0, len(firstNames)*len(lastNames))
		for _, f := range firstNames {
			for _, l := range lastNames {
				fullNames = append(fullNames, f+" "+l)
			}
		}
		baseURL := func() string {
			return "https://www.nexmark.com/" + poolString(5, '_') + "/" + poolString(5, '_') + "/" +
				poolString(5, '_') + "/item.htm?query=1"
		}
		for i := range hotURLs {
			hotURLs[i] = baseURL()
		}
		channelNames = make([]string, numChannels)
		channelURLs = make([]string, numChannels)
		for i := range channelNames {
			channelNames[i] = "channel-" + strconv.Itoa(i)
			u := baseURL()
			if r.intn(10) > 0 {
				// |bit-reversed channel number as a signed 32-bit int|
				id := int64(int32(bits.Reverse32(uint32(i))))
				if id < 0 {
					id = -id
				}
				u += "&channel_id=" + strconv.FormatInt(id, 10)
			}
			channelURLs[i] = u
		}
	})
}
