package kafka

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// DefaultBatchSize is the largest number of rows in an emitted batch.
const DefaultBatchSize = 1024

// Startup modes (option 'scan.startup.mode').
const (
	StartEarliest = "earliest-offset"
	StartLatest   = "latest-offset"
	StartGroup    = "group-offsets"
	StartTime     = "timestamp"
	StartSpecific = "specific-offsets"
)

// Error policies (option 'on-error').
const (
	OnErrorFail       = "fail"
	OnErrorSkip       = "skip"
	OnErrorDeadLetter = "dead-letter"
)

// Metadata fields a column can be read from ('metadata.<col>' = ...).
const (
	metaKey       = "key"
	metaTopic     = "topic"
	metaPartition = "partition"
	metaOffset    = "offset"
	metaTimestamp = "timestamp"
	metaHeaders   = "headers"
)

// SourceConfig is the validated configuration of a Kafka source.
type SourceConfig struct {
	commonConfig
	Schema types.Schema

	StartupMode     string
	StartupTime     int64         // ms, for StartTime
	SpecificOffsets map[int]int64 // for StartSpecific
	// StartOffsets, when not nil, overrides the startup mode: the next
	// offset to read per partition (restored from a checkpoint). Partitions
	// absent from it start as the startup mode says.
	StartOffsets map[int]int64

	GroupID           string
	IdleTimeout       time.Duration // 0: never idle
	DiscoveryInterval time.Duration // 0: no discovery
	ReadCommitted     bool
	OnError           string
	DeadLetterTopic   string
	BoundedLatest     bool   // scan.bounded.mode = latest-offset
	OffsetReset       string // "", "earliest" or "latest"
	TopicCreate       bool
	TopicPartitions   int
	BatchSize         int

	// metaCols maps a column index to the metadata field it is read from.
	metaCols map[int]string
}

// sourceOptionKeys are the options the source understands besides the
// common ones.
var sourceOptionKeys = []string{
	"scan.startup.mode", "scan.startup.timestamp-millis", "scan.startup.specific-offsets",
	"properties.group.id", "scan.watermark.idle-timeout", "scan.topic-partition-discovery.interval",
	"isolation.level", "properties.isolation.level", "on-error", "dead-letter.topic", "scan.bounded.mode",
	"scan.offset-reset", "topic.create", "topic.partitions", "metadata.columns", "batch-size",
}

func parseSourceConfig(t *connectors.Table) (*SourceConfig, error) {
	c, err := parseCommon(t)
	if err != nil {
		return nil, err
	}
	allowed := append(commonOptionKeys(t), sourceOptionKeys...)
	allowed = append(allowed, sinkOptionKeys()...) // a table may be read and written
	for _, col := range t.Schema.Cols {
		allowed = append(allowed, "metadata."+strings.ToLower(col.Name))
	}
	if err := t.CheckOptions(allowed...); err != nil {
		return nil, err
	}
	bad := func(key, want string) error {
		return fmt.Errorf("table %s: option '%s' must be %s, got '%s'", t.Name, key, want, t.Options[key])
	}
	cfg := &SourceConfig{commonConfig: c, Schema: t.Schema, BatchSize: DefaultBatchSize}
	// 'key.format' and 'key.fields' say how the sink writes keys; the value
	// holds every column, so the source reads the value only (the raw key
	// is available as a metadata column).

	cfg.StartupMode = strings.ToLower(strings.TrimSpace(t.Option("scan.startup.mode", StartEarliest)))
	switch cfg.StartupMode {
	case StartEarliest, StartLatest:
	case StartGroup:
		if t.Option("properties.group.id", "") == "" {
			return nil, fmt.Errorf("table %s: 'scan.startup.mode' = '%s' needs option 'properties.group.id'", t.Name, StartGroup)
		}
	case StartTime:
		v, ok := t.Options["scan.startup.timestamp-millis"]
		if !ok {
			return nil, fmt.Errorf("table %s: 'scan.startup.mode' = 'timestamp' needs option 'scan.startup.timestamp-millis'", t.Name)
		}
		if cfg.StartupTime, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || cfg.StartupTime < 0 {
			return nil, bad("scan.startup.timestamp-millis", "milliseconds since the epoch")
		}
	case StartSpecific:
		v, ok := t.Options["scan.startup.specific-offsets"]
		if !ok {
			return nil, fmt.Errorf("table %s: 'scan.startup.mode' = 'specific-offsets' needs option 'scan.startup.specific-offsets'", t.Name)
		}
		if cfg.SpecificOffsets, err = parseSpecificOffsets(v); err != nil {
			return nil, fmt.Errorf("table %s: option 'scan.startup.specific-offsets': %v", t.Name, err)
		}
	default:
		return nil, bad("scan.startup.mode", "one of earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets")
	}
	cfg.GroupID = strings.TrimSpace(t.Option("properties.group.id", ""))
	if v, ok := t.Options["scan.watermark.idle-timeout"]; ok {
		if cfg.IdleTimeout, err = parseDuration(v); err != nil || cfg.IdleTimeout < 0 {
			return nil, bad("scan.watermark.idle-timeout", "a duration such as '5 s'")
		}
	}
	if v, ok := t.Options["scan.topic-partition-discovery.interval"]; ok {
		if cfg.DiscoveryInterval, err = parseDuration(v); err != nil || cfg.DiscoveryInterval < 0 {
			return nil, bad("scan.topic-partition-discovery.interval", "a duration such as '10 s'")
		}
	}
	iso := t.Option("isolation.level", t.Option("properties.isolation.level", "read_uncommitted"))
	switch strings.ToLower(strings.TrimSpace(iso)) {
	case "read_uncommitted":
	case "read_committed":
		cfg.ReadCommitted = true
	default:
		return nil, fmt.Errorf("table %s: option 'isolation.level' must be 'read_uncommitted' or 'read_committed', got '%s'", t.Name, iso)
	}
	cfg.OnError = strings.ToLower(strings.TrimSpace(t.Option("on-error", OnErrorFail)))
	switch cfg.OnError {
	case OnErrorFail, OnErrorSkip:
	case OnErrorDeadLetter:
		cfg.DeadLetterTopic = strings.TrimSpace(t.Option("dead-letter.topic", ""))
		if cfg.DeadLetterTopic == "" {
			return nil, fmt.Errorf("table %s: 'on-error' = 'dead-letter' needs option 'dead-letter.topic'", t.Name)
		}
	default:
		return nil, bad("on-error", "'fail', 'skip' or 'dead-letter'")
	}
	switch v := strings.ToLower(strings.TrimSpace(t.Option("scan.bounded.mode", "unbounded"))); v {
	case "unbounded":
	case "latest-offset":
		cfg.BoundedLatest = true
	default:
		return nil, bad("scan.bounded.mode", "'unbounded' or 'latest-offset'")
	}
	switch v := strings.ToLower(strings.TrimSpace(t.Option("scan.offset-reset", ""))); v {
	case "", "none":
	case "earliest", "latest":
		cfg.OffsetReset = v
	default:
		return nil, bad("scan.offset-reset", "'earliest', 'latest' or 'none'")
	}
	switch v := strings.ToLower(strings.TrimSpace(t.Option("topic.create", "false"))); v {
	case "false":
	case "true":
		cfg.TopicCreate = true
	default:
		return nil, bad("topic.create", "'true' or 'false'")
	}
	cfg.TopicPartitions = 1
	if v, ok := t.Options["topic.partitions"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 100000 {
			return nil, bad("topic.partitions", "a positive integer")
		}
		cfg.TopicPartitions = n
	}
	if v, ok := t.Options["batch-size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1<<20 {
			return nil, bad("batch-size", "an integer in [1, 1048576]")
		}
		cfg.BatchSize = n
	}

	// metadata columns
	cfg.metaCols = map[int]string{}
	if v := strings.TrimSpace(t.Option("metadata.columns", "")); v != "" {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			i := t.Schema.Index(name)
			if i < 0 {
				return nil, fmt.Errorf("table %s: option 'metadata.columns': no column named '%s'", t.Name, name)
			}
			field := strings.ToLower(strings.TrimSpace(t.Option("metadata."+strings.ToLower(name), name)))
			col := t.Schema.Cols[i]
			var want types.Kind
			switch field {
			case metaKey, metaTopic, metaHeaders:
				want = types.Varchar
			case metaPartition, metaOffset:
				want = types.BigInt
			case metaTimestamp:
				want = types.Timestamp
			default:
				return nil, fmt.Errorf("table %s: column %s: unknown metadata field '%s' (valid: headers, key, offset, partition, timestamp, topic); set 'metadata.%s'", t.Name, col.Name, field, strings.ToLower(col.Name))
			}
			if col.Type.Kind != want && !(want == types.BigInt && col.Type.Kind == types.Int) {
				return nil, fmt.Errorf("table %s: metadata column %s (%s) must be %s, not %s", t.Name, col.Name, field, types.Type{Kind: want}, col.Type)
			}
			cfg.metaCols[i] = field
		}
	}
	for k := range t.Options {
		if strings.HasPrefix(k, "metadata.") && k != "metadata.columns" {
			if i := t.Schema.Index(k[len("metadata."):]); i >= 0 {
				if _, ok := cfg.metaCols[i]; !ok {
					return nil, fmt.Errorf("table %s: option '%s' names a column not listed in 'metadata.columns'", t.Name, k)
				}
			}
		}
	}
	if cfg.Format == formatRaw {
		vs := cfg.valueSchema()
		if len(vs.Cols) != 1 || vs.Cols[0].Type.Kind != types.Varchar {
			return nil, fmt.Errorf("table %s: 'format' = 'raw' needs exactly one VARCHAR column besides the metadata columns", t.Name)
		}
	}
	if _, err := cfg.newDecoder(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// valueSchema is the schema the value decoder sees: the non-metadata
// columns.
func (c *SourceConfig) valueSchema() types.Schema {
	var s types.Schema
	for i, col := range c.Schema.Cols {
		if _, ok := c.metaCols[i]; !ok {
			s.Cols = append(s.Cols, col)
		}
	}
	return s
}

// rawDecoder gives the whole value as the one VARCHAR column.
type rawDecoder struct{}

func (rawDecoder) Decode(data []byte, row types.Row) error {
	row[0] = types.StringValue(string(data))
	return nil
}

func (c *SourceConfig) newDecoder() (format.Decoder, error) {
	vs := c.valueSchema()
	if len(vs.Cols) == 0 {
		return nil, nil
	}
	if c.Format == formatRaw {
		return rawDecoder{}, nil
	}
	dec, _, err := format.New(c.Format, &vs, c.Options)
	if err != nil {
		return nil, fmt.Errorf("table %s: %v", c.Table, err)
	}
	return dec, nil
}

// parseSpecificOffsets reads 'partition:0,offset:42;partition:1,offset:300'.
func parseSpecificOffsets(v string) (map[int]int64, error) {
	out := map[int]int64{}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, o := int64(-1), int64(-1)
		for _, kv := range strings.Split(part, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), ":")
			if !ok {
				return nil, fmt.Errorf("expected 'partition:<n>,offset:<n>', got '%s'", part)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad number '%s' in '%s'", val, part)
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "partition":
				p = n
			case "offset":
				o = n
			default:
				return nil, fmt.Errorf("expected 'partition:<n>,offset:<n>', got '%s'", part)
			}
		}
		if p < 0 || o < 0 {
			return nil, fmt.Errorf("expected 'partition:<n>,offset:<n>', got '%s'", part)
		}
		out[int(p)] = o
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no offsets given")
	}
	return out, nil
}

// parseDuration reads '5 s', '5s', '500 ms', '2 min', '1 h', or a Go duration.
func parseDuration(v string) (time.Duration, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return time.ParseDuration(s)
	}
	var u time.Duration
	switch unit {
	case "ms", "milli", "millis", "millisecond", "milliseconds":
		u = time.Millisecond
	case "", "s", "sec", "secs", "second", "seconds":
		u = time.Second
	case "m", "min", "mins", "minute", "minutes":
		u = time.Minute
	case "h", "hour", "hours":
		u = time.Hour
	default:
		return 0, fmt.Errorf("unknown unit '%s'", unit)
	}
	return time.Duration(f * float64(u)), nil
}

// ---------------------------------------------------------------- factory

// SourceFactory creates the subtasks of a Kafka source. The brokers are
// first contacted by MaxParallelism or Create, not by NewSource (which runs
// at CREATE TABLE).
type SourceFactory struct {
	cfg *SourceConfig

	mu      sync.Mutex
	meta    *metaClient
	parts   []int
	metaErr error

	skipped   atomic.Int64
	deadLettr atomic.Int64
}

func newSourceFactory(t *connectors.Table) (*SourceFactory, error) {
	cfg, err := parseSourceConfig(t)
	if err != nil {
		return nil, err
	}
	return &SourceFactory{cfg: cfg}, nil
}

// NewSourceFactory builds a source factory from an explicit configuration
// (tests, and the checkpoint restore path).
func NewSourceFactory(t *connectors.Table, startOffsets map[int]int64) (*SourceFactory, error) {
	f, err := newSourceFactory(t)
	if err != nil {
		return nil, err
	}
	f.cfg.StartOffsets = startOffsets
	return f, nil
}

// Config returns the factory's configuration; StartOffsets may be set on it
// before Create.
func (f *SourceFactory) Config() *SourceConfig { return f.cfg }

// Bounded implements connectors.SourceFactory.
func (f *SourceFactory) Bounded() bool { return f.cfg.BoundedLatest }

// MaxParallelism is the number of partitions at planning time (0 if the
// brokers cannot be asked; Create then reports why).
func (f *SourceFactory) MaxParallelism() int {
	parts, err := f.partitions()
	if err != nil {
		return 0
	}
	return len(parts)
}

// Skipped returns the records skipped or dead-lettered by all subtasks.
func (f *SourceFactory) Skipped() int64 { return f.skipped.Load() }

func (f *SourceFactory) partitions() ([]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.meta == nil {
		f.meta = newMetaClient(f.cfg.commonConfig)
		f.parts, f.metaErr = f.meta.partitionsRetry(f.cfg.TopicCreate, f.cfg.TopicPartitions)
	}
	return f.parts, f.metaErr
}

// Create makes subtask i of n: it reads the partitions j with j mod n == i.
func (f *SourceFactory) Create(subtask, parallelism int) (exec.Source, error) {
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("kafka source: bad subtask %d of %d", subtask, parallelism)
	}
	parts, err := f.partitions()
	if err != nil {
		return nil, err
	}
	s := &Source{f: f, cfg: f.cfg, meta: f.meta, subtask: subtask, parallelism: parallelism, offsets: map[int]int64{}}
	for _, p := range parts {
		if p%parallelism == subtask {
			s.parts = append(s.parts, p)
		}
	}
	return s, nil
}

// ---------------------------------------------------------------- source

// Source is one subtask of a Kafka source. Each assigned partition is a
// split, in the order of Partitions().
type Source struct {
	f           *SourceFactory
	cfg         *SourceConfig
	meta        *metaClient
	subtask     int
	parallelism int
	parts       []int // split i reads partition parts[i]

	mu      sync.Mutex
	offsets map[int]int64 // next offset per partition, as emitted
	logEnds map[int]int64 // per partition, the end of the readable log at the last fetch

	skipped atomic.Int64
	status  retryStatus // "waiting for Kafka" while fetches retry (fetch.go)
}

var _ exec.Resumable = (*Source)(nil)

// SplitNames implements exec.Resumable: split i is named after its
// partition number ("3").
func (s *Source) SplitNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.parts))
	for i, p := range s.parts {
		names[i] = strconv.Itoa(p)
	}
	return names
}

// Resume implements exec.Resumable. pos holds the next offset of every
// partition the checkpoint recorded (all subtasks'); this subtask takes
// the partitions it owns (p mod parallelism == subtask) as start offsets,
// overriding the startup mode. The offsets are checked against the topic
// when Run starts (see OffsetGoneError). A recorded partition the topic
// no longer has fails at once.
func (s *Source) Resume(pos map[string]int64) error {
	cfg := *s.cfg // the configuration is shared by the factory's subtasks
	starts := make(map[int]int64, len(cfg.StartOffsets)+len(pos))
	for p, o := range cfg.StartOffsets {
		starts[p] = o
	}
	owned := map[int]bool{}
	for _, p := range s.parts {
		owned[p] = true
	}
	names := make([]string, 0, len(pos))
	for name := range pos {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o := pos[name]
		p, err := strconv.Atoi(name)
		if err != nil || p < 0 {
			return fmt.Errorf("kafka source %s: the checkpoint names split '%s' of topic %s, which is not a partition number (was the table's connector changed?)", s.cfg.Table, name, s.cfg.Topic)
		}
		if p%s.parallelism != s.subtask {
			continue
		}
		if !owned[p] {
			return &OffsetGoneError{Table: s.cfg.Table, Topic: s.cfg.Topic, Partition: p, Offset: o, Earliest: -1, Latest: -1}
		}
		if o < 0 {
			return fmt.Errorf("kafka source %s: the checkpoint records offset %d for partition %d of topic %s", s.cfg.Table, o, p, s.cfg.Topic)
		}
		starts[p] = o
	}
	cfg.StartOffsets = starts
	s.cfg = &cfg
	return nil
}

// OffsetGoneError says that a partition's offset recorded in a checkpoint
// (or given as a start offset) is not in the topic any more: the records
// before it were deleted by retention (Offset < Earliest), the topic was
// deleted and re-created (Offset > Latest), or the partition is gone
// (Earliest = Latest = -1). Restoring would silently skip or re-read data,
// so the source fails instead.
type OffsetGoneError struct {
	Table     string // the table read by the source
	Topic     string
	Partition int
	Offset    int64 // the offset recorded in the checkpoint
	Earliest  int64 // the partition's log-start offset now; -1: no such partition
	Latest    int64 // the partition's high watermark now; -1: no such partition
}

func (e *OffsetGoneError) Error() string {
	switch {
	case e.Earliest < 0:
		return fmt.Sprintf("kafka source %s: checkpoint offset %d of partition %d is no longer in the topic: topic %s has no partition %d any more (was it deleted and re-created?)",
			e.Table, e.Offset, e.Partition, e.Topic, e.Partition)
	case e.Offset < e.Earliest:
		return fmt.Sprintf("kafka source %s: checkpoint offset %d of partition %d is no longer in the topic (available %d..%d): topic %s deleted the records before offset %d (retention)",
			e.Table, e.Offset, e.Partition, e.Earliest, e.Latest, e.Topic, e.Earliest)
	default:
		return fmt.Sprintf("kafka source %s: checkpoint offset %d of partition %d is no longer in the topic (available %d..%d): it is beyond the end of topic %s (was the topic deleted and re-created?)",
			e.Table, e.Offset, e.Partition, e.Earliest, e.Latest, e.Topic)
	}
}

// checkResumed checks that the topic still holds the checkpointed start
// offset of every partition in starts that came from a checkpoint: it lies
// between the partition's log-start offset and its high watermark.
func (s *Source) checkResumed(ctx context.Context, starts map[int]int64) error {
	var parts []int
	for p := range starts {
		if _, ok := s.cfg.StartOffsets[p]; ok {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	sort.Ints(parts)
	lo, err := s.meta.listOffsetsRetry(ctx, parts, offEarliest, 0, false)
	if err != nil {
		return err
	}
	hi, err := s.meta.listOffsetsRetry(ctx, parts, offLatest, 0, false)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if o := starts[p]; o < lo[p] || o > hi[p] {
			return &OffsetGoneError{Table: s.cfg.Table, Topic: s.cfg.Topic, Partition: p, Offset: o, Earliest: lo[p], Latest: hi[p]}
		}
	}
	return nil
}

// Splits is the number of partitions assigned at creation.
func (s *Source) Splits() int { return len(s.parts) }

// Partitions returns the partitions this subtask reads; split i is
// Partitions()[i] (partitions discovered later are appended).
func (s *Source) Partitions() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.parts...)
}

// Offsets returns the next offset to read per partition: every record
// before it has been emitted (or skipped under the error policy).
func (s *Source) Offsets() map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int64, len(s.offsets))
	for p, o := range s.offsets {
		out[p] = o
	}
	return out
}

// Skipped returns the number of records this subtask skipped or sent to
// the dead-letter topic.
func (s *Source) Skipped() int64 { return s.skipped.Load() }

// setLogEnd records where partition p's readable log ended at a fetch
// (the last stable offset under read_committed, else the high watermark).
func (s *Source) setLogEnd(p int, end int64) {
	s.mu.Lock()
	if s.logEnds == nil {
		s.logEnds = map[int]int64{}
	}
	s.logEnds[p] = end
	s.mu.Unlock()
}

// Lag implements exec.LagReporter: the records the subtask's partitions
// held beyond what it emitted, as of each partition's last fetch.
func (s *Source) Lag() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lag int64
	for p, end := range s.logEnds {
		if o, ok := s.offsets[p]; ok && end > o {
			lag += end - o
		}
	}
	return lag, len(s.logEnds) > 0
}

func (s *Source) setOffset(p int, o int64) {
	s.mu.Lock()
	s.offsets[p] = o
	s.mu.Unlock()
}

// startOffsets resolves where each partition starts.
func (s *Source) startOffsets(ctx context.Context, parts []int, discovered bool) (map[int]int64, error) {
	out := map[int]int64{}
	var todo []int
	for _, p := range parts {
		if o, ok := s.cfg.StartOffsets[p]; ok {
			out[p] = o
		} else {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	mode := s.cfg.StartupMode
	if discovered {
		mode = StartEarliest // a new partition is read from its beginning
	}
	rc := s.cfg.ReadCommitted
	var got map[int]int64
	var err error
	switch mode {
	case StartEarliest:
		got, err = s.meta.listOffsetsRetry(ctx, todo, offEarliest, 0, rc)
	case StartLatest:
		got, err = s.meta.listOffsetsRetry(ctx, todo, offLatest, 0, rc)
	case StartTime:
		got, err = s.meta.listOffsetsRetry(ctx, todo, offTime, s.cfg.StartupTime, rc)
	case StartSpecific:
		got = map[int]int64{}
		var rest []int
		for _, p := range todo {
			if o, ok := s.cfg.SpecificOffsets[p]; ok {
				got[p] = o
			} else {
				rest = append(rest, p)
			}
		}
		var e map[int]int64
		if e, err = s.meta.listOffsetsRetry(ctx, rest, offEarliest, 0, rc); err == nil {
			for p, o := range e {
				got[p] = o
			}
		}
	case StartGroup:
		var g map[int]int64
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			g, err = s.meta.groupOffsets(cctx, s.cfg.GroupID, todo)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
			if !sleepCtx(ctx, backoff) {
				break
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("topic %s: offsets of group %s: %v", s.cfg.Topic, s.cfg.GroupID, err)
		}
		var rest []int
		for _, p := range todo {
			if _, ok := g[p]; !ok {
				rest = append(rest, p)
			}
		}
		kind := offEarliest
		if s.cfg.OffsetReset == "latest" {
			kind = offLatest
		}
		var e map[int]int64
		if e, err = s.meta.listOffsetsRetry(ctx, rest, kind, 0, rc); err == nil {
			for p, o := range e {
				g[p] = o
			}
		}
		got = g
	}
	if err != nil {
		return nil, err
	}
	for p, o := range got {
		out[p] = o
	}
	return out, nil
}

// msgKind tags what a partition fetcher sends to Run.
type msgKind uint8

const (
	fmBatch msgKind = iota // rows, then next offset
	fmDone                 // the partition reached its bounded end
	fmError                // a fatal error
)

type fetchMsg struct {
	kind  msgKind
	split int
	part  int
	batch *types.Batch
	next  int64 // next offset after this message
	err   error
}

// Run reads the assigned partitions until ctx ends (or, in bounded mode,
// until every partition reaches the end offset seen at start).
func (s *Source) Run(ctx context.Context, out exec.SourceOutput) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait

	starts, err := s.startOffsets(ctx, s.parts, false)
	if err != nil {
		return err
	}
	if err := s.checkResumed(ctx, starts); err != nil {
		return err
	}
	var ends map[int]int64
	if s.cfg.BoundedLatest {
		if ends, err = s.meta.listOffsetsRetry(ctx, s.parts, offLatest, 0, s.cfg.ReadCommitted); err != nil {
			return err
		}
	}
	msgs := make(chan fetchMsg, 2*len(s.parts)+2)
	dl := newDeadLetter(s.cfg)
	defer dl.close()

	lastData := make([]time.Time, 0, len(s.parts))
	idle := make([]bool, 0, len(s.parts))
	done := make([]bool, 0, len(s.parts))
	known := map[int]bool{}
	remaining := 0
	now := time.Now()
	startPart := func(split, p int, start, end int64) {
		s.setOffset(p, start)
		exec.SetPosition(out, split, start)
		lastData = append(lastData, now)
		idle = append(idle, false)
		done = append(done, false)
		known[p] = true
		if s.cfg.BoundedLatest && start >= end {
			done[split] = true
			out.SplitDone(split)
			return
		}
		remaining++
		fr := newFetcher(s, split, p, start, end, msgs, dl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr.run(ctx)
		}()
	}
	for split, p := range s.parts {
		end := int64(-1)
		if ends != nil {
			end = ends[p]
		}
		startPart(split, p, starts[p], end)
	}
	if s.cfg.BoundedLatest && remaining == 0 {
		s.commitGroup(ctx)
		return nil
	}

	var idleTick, discTick, commitTick <-chan time.Time
	if s.cfg.IdleTimeout > 0 {
		t := time.NewTicker(max(s.cfg.IdleTimeout/4, 10*time.Millisecond))
		defer t.Stop()
		idleTick = t.C
	}
	if s.cfg.DiscoveryInterval > 0 && !s.cfg.BoundedLatest {
		t := time.NewTicker(s.cfg.DiscoveryInterval)
		defer t.Stop()
		discTick = t.C
	}
	if s.cfg.GroupID != "" {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		commitTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			s.commitGroup(ctx) // best effort, bounded by a short timeout
			return ctx.Err()
		case m := <-msgs:
			switch m.kind {
			case fmError:
				return m.err
			case fmBatch:
				// The position goes with the rows (EmitAt) so that a
				// barrier never separates them; records that gave no
				// rows (skipped, aborted, transaction markers) advance
				// it alone.
				if m.batch != nil && len(m.batch.Rows) > 0 {
					if err := exec.EmitAt(out, m.split, m.batch, m.next); err != nil {
						if cerr := ctx.Err(); cerr != nil {
							return cerr
						}
						return err
					}
					lastData[m.split] = time.Now()
					idle[m.split] = false
				} else {
					exec.SetPosition(out, m.split, m.next)
				}
				s.setOffset(m.part, m.next)
			case fmDone:
				exec.SetPosition(out, m.split, m.next)
				s.setOffset(m.part, m.next)
				if !done[m.split] {
					done[m.split] = true
					out.SplitDone(m.split)
					remaining--
				}
				if s.cfg.BoundedLatest && remaining == 0 {
					s.commitGroup(ctx)
					return nil
				}
			}
		case now := <-idleTick:
			for i := range lastData {
				if !done[i] && !idle[i] && now.Sub(lastData[i]) >= s.cfg.IdleTimeout {
					idle[i] = true
					out.SplitIdle(i)
				}
			}
		case <-discTick:
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			parts, err := s.meta.partitions(cctx)
			ccancel()
			if err != nil {
				continue // try again at the next tick
			}
			var fresh []int
			for _, p := range parts {
				if p%s.parallelism == s.subtask && !known[p] {
					fresh = append(fresh, p)
				}
			}
			if len(fresh) == 0 {
				continue
			}
			sort.Ints(fresh)
			st, err := s.startOffsets(ctx, fresh, true)
			if err != nil {
				return err
			}
			if err := s.checkResumed(ctx, st); err != nil {
				return err
			}
			for _, p := range fresh {
				split := exec.AddNamedSplit(out, strconv.Itoa(p))
				s.mu.Lock()
				s.parts = append(s.parts, p)
				s.mu.Unlock()
				now = time.Now()
				startPart(split, p, st[p], -1)
			}
		case <-commitTick:
			s.commitGroup(ctx)
		}
	}
}

// commitGroup commits the current offsets to the group (monitoring only;
// failures are ignored: the offsets Weir restores from are its own).
func (s *Source) commitGroup(ctx context.Context) {
	if s.cfg.GroupID == "" {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	_ = s.meta.commitOffsets(cctx, s.cfg.GroupID, s.Offsets())
}
