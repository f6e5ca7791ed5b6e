package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/types"
)

// Sink option keys (besides the common ones: bootstrap servers, topic,
// format, key.format, key.fields).
const (
	OptDeliveryGuarantee = "sink.delivery-guarantee" // unset: the job's mode | at-least-once | exactly-once (sink_txn.go)
	OptSinkParallelism   = "sink.parallelism"        // caps the sink's parallelism
	OptSinkBatchSize     = "sink.batch-size"         // records per partition batch; default 1000
	OptSinkBatchTimeout  = "sink.batch-timeout"      // flush an incomplete batch after this; default 5ms
	OptTopicCreate       = "topic.create"            // 'true': create the topic if it is missing
	OptTopicPartitions   = "topic.partitions"        // partitions of a created topic; default 1
	OptTopicReplication  = "topic.replication-factor"
	// OptTransactionalIDPrefix names the exactly-once sink's transactional
	// ids: '<prefix>-<subtask>-<slot>'; default 'weir-<topic>'.
	OptTransactionalIDPrefix = "sink.transactional-id-prefix"
	// OptTransactionTimeout is the Kafka transaction timeout (default 15
	// min, Kafka's default transaction.max.timeout.ms): a transaction open
	// longer is aborted by the broker.
	OptTransactionTimeout = "sink.transaction-timeout"
)

// sinkOptionKeys lists the option keys only the sink understands; the
// source must accept them too (a table may be read and written).
func sinkOptionKeys() []string {
	return []string{OptDeliveryGuarantee, OptSinkParallelism, OptSinkBatchSize, OptSinkBatchTimeout,
		OptTopicCreate, OptTopicPartitions, OptTopicReplication, OptTransactionalIDPrefix, OptTransactionTimeout}
}

func init() {
	sinkFactory = func(t *connectors.Table) (connectors.SinkFactory, error) {
		c, err := parseCommon(t)
		if err != nil {
			return nil, err
		}
		return newSinkFactory(t, c)
	}
}

// Defaults of the producer.
const (
	defaultBatchSize    = 1000
	defaultBatchTimeout = 5 * time.Millisecond
	defaultBatchBytes   = 1 << 20  // Kafka's default max.message.bytes
	maxInflightBytes    = 32 << 20 // back pressure: Write blocks above this many unacknowledged bytes
	defaultMaxAttempts  = 0        // retry a failed batch until it succeeds or the job ends (sink_producer.go)
)

// SinkFactory creates the subtasks of a Kafka sink.
type SinkFactory struct {
	common      commonConfig
	schema      types.Schema
	upsert      bool  // the table has a PRIMARY KEY: key = PK, -D = tombstone
	keyCols     []int // columns of the record key; nil: no key
	keySchema   types.Schema
	keyFormat   string
	parallelism int

	batchSize    int
	batchTimeout time.Duration
	create       bool
	partitions   int
	replication  int

	// exactly-once (sink_txn.go)
	guarantee  string // OptDeliveryGuarantee as written: "", at-least-once, exactly-once
	txnPrefix  string
	txnTimeout time.Duration

	// for tests
	maxAttempts   int   // > 0: give up on a batch after this many attempts
	maxInflight   int64 // back-pressure limit in bytes; 0: maxInflightBytes
	metaAttempts  int
	metaBackoff   time.Duration
	openTimeout   time.Duration
	abortWaitTime time.Duration

	checkMu  sync.Mutex
	checked  bool
	checkErr error
}

// newSinkFactory validates the sink's options and schema. It does not
// contact the brokers: the topic is checked (or created) when the first
// subtask is created, i.e. when the job starts.
func newSinkFactory(t *connectors.Table, c commonConfig) (connectors.SinkFactory, error) {
	if err := checkSinkOptions(t); err != nil {
		return nil, err
	}
	f := &SinkFactory{common: c, schema: t.Schema, batchSize: defaultBatchSize, batchTimeout: defaultBatchTimeout,
		partitions: 1, replication: 1, maxAttempts: defaultMaxAttempts, metaAttempts: 3,
		metaBackoff: 500 * time.Millisecond, openTimeout: 5 * time.Second, abortWaitTime: 2 * time.Second}
	name := t.Name

	switch g := strings.ToLower(strings.TrimSpace(t.Option(OptDeliveryGuarantee, ""))); g {
	case "", guaranteeAtLeastOnce, guaranteeExactlyOnce:
		f.guarantee = g
	default:
		return nil, fmt.Errorf("table %s: option '%s' must be 'at-least-once' or 'exactly-once', got '%s'", name, OptDeliveryGuarantee, g)
	}
	f.txnPrefix = strings.TrimSpace(t.Option(OptTransactionalIDPrefix, "weir-"+c.Topic))
	if f.txnPrefix == "" {
		return nil, fmt.Errorf("table %s: option '%s' must not be empty", name, OptTransactionalIDPrefix)
	}
	f.txnTimeout = defaultTxnTimeout
	if v, ok := t.Options[OptTransactionTimeout]; ok {
		d, derr := parseDuration(v)
		if derr != nil || d < time.Second || d > 24*time.Hour {
			return nil, fmt.Errorf("table %s: option '%s' must be a duration between 1 s and 24 h such as '15 min', got '%s'", name, OptTransactionTimeout, v)
		}
		f.txnTimeout = d
	}
	var err error
	if f.parallelism, err = intOption(t, OptSinkParallelism, 0, 1, 1024); err != nil {
		return nil, err
	}
	if f.batchSize, err = intOption(t, OptSinkBatchSize, defaultBatchSize, 1, 1<<20); err != nil {
		return nil, err
	}
	if v, ok := t.Options[OptSinkBatchTimeout]; ok {
		d, derr := time.ParseDuration(strings.TrimSpace(v))
		if derr != nil || d <= 0 || d > time.Minute {
			return nil, fmt.Errorf("table %s: option '%s' must be a duration such as '5ms' (at most 1m), got '%s'", name, OptSinkBatchTimeout, v)
		}
		f.batchTimeout = d
	}
	switch v := strings.ToLower(strings.TrimSpace(t.Option(OptTopicCreate, "false"))); v {
	case "true":
		f.create = true
	case "false":
	default:
		return nil, fmt.Errorf("table %s: option '%s' must be 'true' or 'false', got '%s'", name, OptTopicCreate, v)
	}
	if f.partitions, err = intOption(t, OptTopicPartitions, 1, 1, 100000); err != nil {
		return nil, err
	}
	if f.replication, err = intOption(t, OptTopicReplication, 1, 1, 100); err != nil {
		return nil, err
	}

	// record key
	if len(t.PrimaryKey) > 0 {
		f.upsert = true
		f.keyCols = append([]int(nil), t.PrimaryKey...)
		if len(c.KeyFields) > 0 {
			same := len(c.KeyFields) == len(f.keyCols)
			for i, k := range c.KeyFields {
				if same && t.Schema.Index(k) != f.keyCols[i] {
					same = false
				}
			}
			if !same {
				return nil, fmt.Errorf("table %s: with a PRIMARY KEY the record key is the primary key (%s); option '%s' must be absent or name the same columns",
					name, strings.Join(colNames(&t.Schema, f.keyCols), ", "), OptKeyFields)
			}
		}
	} else {
		for _, k := range c.KeyFields {
			f.keyCols = append(f.keyCols, t.Schema.Index(k))
		}
	}
	if len(f.keyCols) > 0 {
		for _, i := range f.keyCols {
			f.keySchema.Cols = append(f.keySchema.Cols, t.Schema.Cols[i])
		}
		f.keyFormat = c.KeyFormat
		if f.keyFormat == "" {
			f.keyFormat = format.JSON
		}
		if _, err := newEncoder(f.keyFormat, &f.keySchema, nil); err != nil {
			return nil, fmt.Errorf("table %s: key: %v", name, err)
		}
	} else if c.KeyFormat != "" {
		return nil, fmt.Errorf("table %s: option '%s' needs '%s' (or a PRIMARY KEY)", name, OptKeyFormat, OptKeyFields)
	}
	if _, err := newEncoder(c.Format, &f.schema, c.Options); err != nil {
		return nil, fmt.Errorf("table %s: %v", name, err)
	}
	return f, nil
}

// checkSinkOptions rejects misspelt sink options. Other options are left to
// the source's check (CREATE TABLE validates the table as a source first).
func checkSinkOptions(t *connectors.Table) error {
	known := map[string]bool{OptKeyFormat: true, OptKeyFields: true}
	for _, k := range sinkOptionKeys() {
		known[k] = true
	}
	for k := range t.Options {
		if (strings.HasPrefix(k, "sink.") || strings.HasPrefix(k, "topic.") || strings.HasPrefix(k, "key.")) && !known[k] {
			keys := sinkOptionKeys()
			return fmt.Errorf("table %s: unknown option '%s' for a Kafka sink (sink options: %s)", t.Name, k, strings.Join(keys, ", "))
		}
	}
	return nil
}

func intOption(t *connectors.Table, key string, def, lo, hi int) (int, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("table %s: option '%s' must be an integer between %d and %d, got '%s'", t.Name, key, lo, hi, v)
	}
	return n, nil
}

func colNames(s *types.Schema, cols []int) []string {
	var out []string
	for _, c := range cols {
		out = append(out, s.Cols[c].Name)
	}
	return out
}

// AcceptsUpdates is true for a table with a PRIMARY KEY (upsert mode).
func (f *SinkFactory) AcceptsUpdates() bool { return f.upsert }

// MaxParallelism is 'sink.parallelism' (0: no cap).
func (f *SinkFactory) MaxParallelism() int { return f.parallelism }

// Upsert reports whether the sink writes in upsert mode.
func (f *SinkFactory) Upsert() bool { return f.upsert }

// Create makes subtask i of n. The first call checks that the topic exists
// (creating it when 'topic.create' = 'true').
func (f *SinkFactory) Create(subtask, parallelism int) (exec.Sink, error) {
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("kafka sink: bad subtask %d of %d", subtask, parallelism)
	}
	if err := f.checkTopic(); err != nil {
		return nil, err
	}
	s := &Sink{f: f, subtask: subtask, upsert: f.upsert, keyCols: f.keyCols}
	var err error
	if s.valEnc, err = newEncoder(f.common.Format, &f.schema, f.common.Options); err != nil {
		return nil, fmt.Errorf("table %s: %v", f.common.Table, err)
	}
	if len(f.keyCols) > 0 {
		if s.keyEnc, err = newEncoder(f.keyFormat, &f.keySchema, nil); err != nil {
			return nil, fmt.Errorf("table %s: key: %v", f.common.Table, err)
		}
		s.keyRow = make(types.Row, len(f.keyCols))
	}
	s.pp = newPartProducer(f, subtask)
	s.prod = s.pp
	return s, nil
}

// checkTopic runs once per factory: it looks the topic up (with bounded
// retries when the brokers are unreachable) and creates it if asked to.
func (f *SinkFactory) checkTopic() error {
	f.checkMu.Lock()
	defer f.checkMu.Unlock()
	if !f.checked {
		f.checkErr = f.doCheckTopic()
		f.checked = true
	}
	return f.checkErr
}

func (f *SinkFactory) doCheckTopic() error {
	c := f.common
	tr := &kafkago.Transport{ClientID: "weir", DialTimeout: f.openTimeout}
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Timeout: f.openTimeout, Transport: tr}
	var md *kafkago.MetadataResponse
	var err error
	start := time.Now()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), f.openTimeout)
		md, err = cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.Topic}})
		cancel()
		if err == nil || attempt >= f.metaAttempts {
			break
		}
		time.Sleep(f.metaBackoff * time.Duration(attempt))
	}
	if err != nil {
		return fmt.Errorf("table %s: cannot reach the Kafka brokers %s (%d attempts over %s): %v",
			c.Table, c.Servers(), f.metaAttempts, time.Since(start).Round(time.Millisecond), err)
	}
	missing := true
	for _, tp := range md.Topics {
		if tp.Name != c.Topic {
			continue
		}
		if tp.Error == nil && len(tp.Partitions) > 0 {
			missing = false
		} else if tp.Error != nil && !errors.Is(tp.Error, kafkago.UnknownTopicOrPartition) {
			return fmt.Errorf("table %s: topic '%s' on %s: %v", c.Table, c.Topic, c.Servers(), tp.Error)
		}
	}
	if !missing {
		return nil
	}
	if !f.create {
		return fmt.Errorf("table %s: topic '%s' does not exist on the Kafka brokers %s (create it, or set '%s' = 'true' and '%s')",
			c.Table, c.Topic, c.Servers(), OptTopicCreate, OptTopicPartitions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.openTimeout)
	defer cancel()
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: c.Topic, NumPartitions: f.partitions, ReplicationFactor: f.replication}}})
	if err == nil {
		err = res.Errors[c.Topic]
	}
	if err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("table %s: creating topic '%s' on %s: %v", c.Table, c.Topic, c.Servers(), err)
	}
	// wait until the new topic's partitions have leaders
	for {
		md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.Topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("table %s: topic '%s' created on %s but not visible after %s", c.Table, c.Topic, c.Servers(), f.openTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Sink is one subtask of a Kafka sink: it encodes each row into a record
// and hands the batch to its producer.
type Sink struct {
	f       *SinkFactory
	subtask int
	upsert  bool
	keyCols []int
	valEnc  format.Encoder
	keyEnc  format.Encoder // nil: records have no key
	keyRow  types.Row
	prod    producer
	pp      *partProducer // the at-least-once producer (prod), for status and context
	spans   []span
	bufHint int
	done    bool

	ck ckState // checkpointing (sink_txn.go); zero: the job does not checkpoint
}

// span locates one record's key and value in a Write's buffer.
type span struct {
	ks, ke, vs, ve int32
	tomb           bool
}

// Write encodes b into records and sends them. It blocks while too many
// bytes are unacknowledged (back pressure; during a broker outage that is
// until the brokers are back or the job ends). It returns a fatal delivery
// error of an earlier batch, if any, so the job fails promptly.
func (s *Sink) Write(b *types.Batch) error {
	if err := s.checkMode(); err != nil {
		return err
	}
	n := b.Len()
	if n == 0 {
		return s.prod.Err()
	}
	// The producer keeps the key and value slices until they are delivered:
	// each Write gets a fresh buffer.
	buf := make([]byte, 0, max(s.bufHint, 256))
	spans := s.spans[:0]
	var err error
	for i, row := range b.Rows {
		kind := b.Kind(i)
		if kind != types.Insert {
			if !s.upsert {
				return fmt.Errorf("table %s: the Kafka sink is append-only (no PRIMARY KEY) but received a %s row", s.f.common.Table, kind)
			}
			if kind == types.UpdateBefore {
				continue // the following +U overwrites the key
			}
		}
		var sp span
		sp.ks = int32(len(buf))
		if s.keyEnc != nil {
			for j, c := range s.keyCols {
				s.keyRow[j] = row[c]
			}
			if buf, err = s.keyEnc.Encode(buf, s.keyRow, types.Insert); err != nil {
				return fmt.Errorf("table %s: encoding the record key: %v", s.f.common.Table, err)
			}
		}
		sp.ke = int32(len(buf))
		sp.vs = sp.ke
		if kind == types.Delete {
			sp.tomb = true
		} else if buf, err = s.valEnc.Encode(buf, row, kind); err != nil {
			return fmt.Errorf("table %s: encoding a record: %v", s.f.common.Table, err)
		}
		sp.ve = int32(len(buf))
		if len(buf) > 1<<30 {
			return fmt.Errorf("table %s: batch too large to encode", s.f.common.Table)
		}
		spans = append(spans, sp)
	}
	s.spans = spans
	s.bufHint = len(buf) + len(buf)/8
	if len(spans) == 0 {
		return s.prod.Err()
	}
	msgs := make([]kafkago.Message, len(spans))
	for i, sp := range spans {
		m := &msgs[i]
		if s.keyEnc != nil {
			m.Key = buf[sp.ks:sp.ke:sp.ke]
		}
		if !sp.tomb {
			m.Value = buf[sp.vs:sp.ve:sp.ve]
			if m.Value == nil {
				m.Value = []byte{}
			}
		}
	}
	return s.prod.Send(msgs)
}

// SetStatusFunc implements exec.StatusAware: while the producer retries,
// the subtask's status says it is waiting for Kafka.
func (s *Sink) SetStatusFunc(fn func(string)) { s.pp.setStatusFunc(fn) }

// SetContext implements exec.ContextAware: when the job ends, a Write
// blocked by back pressure and the producer's retries stop.
func (s *Sink) SetContext(ctx context.Context) { s.pp.setContext(ctx) }

// Finish waits until every record is acknowledged by all in-sync replicas
// and returns the first delivery error.
//
// In exactly-once mode it also commits the transactions pre-committed for
// checkpoints not yet committed, then the open one.
func (s *Sink) Finish() error {
	if s.done {
		return nil
	}
	if err := s.checkMode(); err != nil {
		s.Abort()
		return err
	}
	s.done = true
	if s.ck.mode == ckExactlyOnce {
		return s.finishTxn()
	}
	return s.prod.Close()
}

// Abort stops the producer. Records already handed to Kafka may still be
// delivered (at-least-once has no transactions to abort).
//
// In exactly-once mode the open transaction (the rows since the last
// barrier) is aborted. Pre-committed transactions are not: one may belong
// to a completed checkpoint whose commit has not arrived yet; they are
// left to the recovery (which commits those its checkpoint names) or to
// the next instance's fencing (which aborts the others).
func (s *Sink) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.prod.Abort()
	if s.ck.mode == ckExactlyOnce {
		s.abortTxn()
	}
}

// newEncoder builds a value or key encoder; "raw" writes the one column's
// text.
func newEncoder(name string, schema *types.Schema, options map[string]string) (format.Encoder, error) {
	if name == formatRaw {
		if schema.Len() != 1 {
			return nil, fmt.Errorf("format 'raw' needs exactly one column, got %d", schema.Len())
		}
		return rawEncoder{}, nil
	}
	_, enc, err := format.New(name, schema, options)
	return enc, err
}

// rawEncoder writes the single column as text (VARCHAR as is); NULL is an
// empty value.
type rawEncoder struct{}

func (rawEncoder) Encode(dst []byte, row types.Row, _ types.RowKind) ([]byte, error) {
	v := row[0]
	switch v.Kind {
	case types.Null:
		return dst, nil
	case types.Varchar:
		return append(dst, v.S...), nil
	}
	return append(dst, v.String()...), nil
}
