package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/fetch"

	"github.com/weirsql/weir/connectors/format"
	"github.com/weirsql/weir/sql/types"
)

const (
	fetchMaxWait      = 500 * time.Millisecond
	fetchMaxBytes     = 16 << 20
	fetchPartMaxBytes = 8 << 20
	maxBackoff        = 5 * time.Second
)

// Kafka error codes the fetcher treats specially.
const (
	errOffsetOutOfRange = 1
)

// fetcher reads one partition with fetch requests of its own (kafka-go's
// Reader filters neither aborted transactions nor control records), decodes
// the records into rows and hands batches to Run.
type fetcher struct {
	s     *Source
	cfg   *SourceConfig
	split int
	part  int
	off   int64 // next offset to fetch
	end   int64 // bounded end (exclusive), or -1
	out   chan<- fetchMsg
	dl    *deadLetter
	addr  interface {
		Network() string
		String() string
	}

	dec     format.Decoder
	width   int
	valIdx  []int // value-schema column i goes to row column valIdx[i]
	scratch types.Row
	buf     []byte

	batch *types.Batch
	arena *types.RowArena
	row   types.Row // taken from arena, not yet in batch

	// read_committed state
	aborted      []fetch.ResponseTransaction // pending, sorted by FirstOffset
	seenAborted  map[fetch.ResponseTransaction]bool
	abortedProds map[int64]bool
}

func newFetcher(s *Source, split, part int, start, end int64, out chan<- fetchMsg, dl *deadLetter) *fetcher {
	f := &fetcher{s: s, cfg: s.cfg, split: split, part: part, off: start, end: end, out: out, dl: dl,
		addr: kafka.TCP(s.cfg.Brokers...), width: s.cfg.Schema.Len()}
	f.dec, _ = s.cfg.newDecoder() // validated at planning
	if len(s.cfg.metaCols) > 0 {
		for i := range s.cfg.Schema.Cols {
			if _, ok := s.cfg.metaCols[i]; !ok {
				f.valIdx = append(f.valIdx, i)
			}
		}
		f.scratch = make(types.Row, len(f.valIdx))
	}
	if s.cfg.ReadCommitted {
		f.seenAborted = map[fetch.ResponseTransaction]bool{}
		f.abortedProds = map[int64]bool{}
	}
	return f
}

// send hands m to Run; false when ctx ended.
func (f *fetcher) send(ctx context.Context, m fetchMsg) bool {
	m.split, m.part = f.split, f.part
	select {
	case f.out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *fetcher) fail(ctx context.Context, err error) {
	f.send(ctx, fetchMsg{kind: fmError, err: err})
}

func (f *fetcher) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	attempt := 0
	retry := func(err error) bool {
		attempt++
		f.s.status.set(f.part, fmt.Sprintf("waiting for Kafka at %s: topic %s partition %d: %v (retrying, attempt %d)",
			f.cfg.Servers(), f.cfg.Topic, f.part, err, attempt))
		ok := sleepCtx(ctx, backoff)
		backoff = min(backoff*2, maxBackoff)
		return ok
	}
	for ctx.Err() == nil {
		if f.end >= 0 && f.off >= f.end {
			f.send(ctx, fetchMsg{kind: fmDone, next: f.off})
			return
		}
		req := &fetch.Request{
			ReplicaID:    -1,
			MaxWaitTime:  int32(fetchMaxWait / time.Millisecond),
			MinBytes:     1,
			MaxBytes:     fetchMaxBytes,
			SessionID:    0,
			SessionEpoch: -1,
			Topics: []fetch.RequestTopic{{
				Topic: f.cfg.Topic,
				Partitions: []fetch.RequestPartition{{
					Partition:          int32(f.part),
					CurrentLeaderEpoch: -1,
					FetchOffset:        f.off,
					LogStartOffset:     -1,
					PartitionMaxBytes:  fetchPartMaxBytes,
				}},
			}},
		}
		if f.cfg.ReadCommitted {
			req.IsolationLevel = 1
		}
		cctx, cancel := context.WithTimeout(ctx, fetchMaxWait+10*time.Second)
		resp, err := f.s.meta.tr.RoundTrip(cctx, f.addr, req)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// broker gone, leader moved, metadata stale: wait and retry
			if !retry(err) {
				return
			}
			continue
		}
		fr, ok := resp.(*fetch.Response)
		if !ok {
			f.fail(ctx, fmt.Errorf("topic %s partition %d: unexpected fetch response %T", f.cfg.Topic, f.part, resp))
			return
		}
		var pr *fetch.ResponsePartition
		for i := range fr.Topics {
			if fr.Topics[i].Topic != f.cfg.Topic {
				continue
			}
			for j := range fr.Topics[i].Partitions {
				if int(fr.Topics[i].Partitions[j].Partition) == f.part {
					pr = &fr.Topics[i].Partitions[j]
				}
			}
		}
		if pr == nil {
			if fr.ErrorCode != 0 && !kafka.Error(fr.ErrorCode).Temporary() {
				f.fail(ctx, fmt.Errorf("topic %s partition %d: fetch: %v", f.cfg.Topic, f.part, kafka.Error(fr.ErrorCode)))
				return
			}
			if !retry(fmt.Errorf("no answer for the partition (%v)", kafka.Error(fr.ErrorCode))) {
				return
			}
			continue
		}
		if pr.ErrorCode == errOffsetOutOfRange {
			if !f.outOfRange(ctx) {
				return
			}
			continue
		}
		if pr.ErrorCode != 0 {
			kerr := kafka.Error(pr.ErrorCode)
			if !kerr.Temporary() {
				f.fail(ctx, fmt.Errorf("topic %s partition %d offset %d: fetch: %v", f.cfg.Topic, f.part, f.off, kerr))
				return
			}
			if !retry(kerr) {
				return
			}
			continue
		}
		backoff = 50 * time.Millisecond
		if attempt > 0 {
			attempt = 0
			f.s.status.set(f.part, "")
		}
		if end := pr.HighWatermark; f.cfg.ReadCommitted && pr.LastStableOffset >= 0 {
			f.s.setLogEnd(f.part, pr.LastStableOffset)
		} else if end >= 0 {
			f.s.setLogEnd(f.part, end)
		}
		if f.cfg.ReadCommitted {
			f.addAborted(pr.AbortedTransactions)
		}
		if !f.consume(ctx, &pr.RecordSet) {
			return
		}
	}
}

// retryStatus is a source subtask's status: "waiting for Kafka ..." while
// any of its partitions retries, cleared when all fetch again.
type retryStatus struct {
	mu       sync.Mutex
	fn       func(string)
	retrying map[int]string // partition → status
}

// SetStatusFunc implements exec.StatusAware.
func (s *Source) SetStatusFunc(fn func(string)) {
	s.status.mu.Lock()
	s.status.fn = fn
	s.status.mu.Unlock()
}

// set records partition part's status ("" = fetching again) and reports
// the subtask's status.
func (r *retryStatus) set(part int, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if status == "" {
		if _, ok := r.retrying[part]; !ok {
			return
		}
		delete(r.retrying, part)
	} else {
		if r.retrying == nil {
			r.retrying = map[int]string{}
		}
		r.retrying[part] = status
	}
	if r.fn == nil {
		return
	}
	switch {
	case len(r.retrying) == 0:
		r.fn("")
	case status != "":
		r.fn(status)
	default:
		for _, s := range r.retrying {
			r.fn(s)
			break
		}
	}
}

// outOfRange handles OFFSET_OUT_OF_RANGE: reset per 'scan.offset-reset' or
// fail naming the earliest available offset. It returns false to stop.
func (f *fetcher) outOfRange(ctx context.Context) bool {
	parts := []int{f.part}
	first, err := f.s.meta.listOffsetsRetry(ctx, parts, offEarliest, 0, f.cfg.ReadCommitted)
	if err != nil {
		f.fail(ctx, err)
		return false
	}
	last, err := f.s.meta.listOffsetsRetry(ctx, parts, offLatest, 0, f.cfg.ReadCommitted)
	if err != nil {
		f.fail(ctx, err)
		return false
	}
	lo, hi := first[f.part], last[f.part]
	if f.off >= lo && f.off <= hi {
		return sleepCtx(ctx, 100*time.Millisecond) // transient (e.g. a leader change): fetch again
	}
	switch f.cfg.OffsetReset {
	case "earliest":
		f.off = lo
	case "latest":
		f.off = hi
	default:
		f.fail(ctx, fmt.Errorf("topic %s partition %d: offset %d is out of range: the earliest available offset is %d and the latest is %d (records were deleted by retention, or the offset is beyond the end); set 'scan.offset-reset' = 'earliest' or 'latest' to continue from there",
			f.cfg.Topic, f.part, f.off, lo, hi))
		return false
	}
	if f.end >= 0 && f.off > f.end {
		f.off = f.end
	}
	return f.send(ctx, fetchMsg{kind: fmBatch, next: f.off})
}

func (f *fetcher) addAborted(txns []fetch.ResponseTransaction) {
	added := false
	for _, t := range txns {
		if t.FirstOffset < 0 || f.seenAborted[t] {
			continue
		}
		f.seenAborted[t] = true
		f.aborted = append(f.aborted, t)
		added = true
	}
	if added {
		sort.Slice(f.aborted, func(i, j int) bool { return f.aborted[i].FirstOffset < f.aborted[j].FirstOffset })
	}
}

// consume decodes a fetched record set and sends its rows. It returns false
// to stop.
func (f *fetcher) consume(ctx context.Context, rs *protocol.RecordSet) bool {
	if rs.Records == nil {
		return true
	}
	var readers []protocol.RecordReader
	if st, ok := rs.Records.(*protocol.RecordStream); ok {
		readers = st.Records
	} else {
		readers = []protocol.RecordReader{rs.Records}
	}
	start := f.off
	next := f.off
	for _, rd := range readers {
		switch b := rd.(type) {
		case *protocol.ControlBatch:
			for {
				r, err := b.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset >= start && (f.end < 0 || r.Offset < f.end) {
					next = r.Offset + 1
					if f.cfg.ReadCommitted {
						if cr, err := protocol.ReadControlRecord(r); err == nil && cr.Type == 0 { // ABORT marker
							delete(f.abortedProds, b.ProducerID)
						}
					}
				}
				closeRecord(r)
			}
			continue
		case *protocol.RecordBatch:
			if f.cfg.ReadCommitted && b.Attributes.Transactional() {
				for len(f.aborted) > 0 && f.aborted[0].FirstOffset <= b.BaseOffset {
					f.abortedProds[f.aborted[0].ProducerID] = true
					f.aborted = f.aborted[1:]
				}
				if f.abortedProds[b.ProducerID] {
					for {
						r, err := b.ReadRecord()
						if err != nil {
							break
						}
						if r.Offset >= start && (f.end < 0 || r.Offset < f.end) {
							next = r.Offset + 1
						}
						closeRecord(r)
					}
					continue
				}
			}
		}
		for {
			r, err := rd.ReadRecord()
			if err != nil {
				if err != io.EOF {
					f.fail(ctx, fmt.Errorf("topic %s partition %d offset %d: reading records: %v", f.cfg.Topic, f.part, next, err))
					return false
				}
				break
			}
			if r.Offset < start {
				closeRecord(r)
				continue
			}
			if f.end >= 0 && r.Offset >= f.end {
				closeRecord(r)
				break
			}
			ok := f.record(ctx, r)
			closeRecord(r)
			if !ok {
				return false
			}
			next = r.Offset + 1
			if f.batch != nil && len(f.batch.Rows) >= f.cfg.BatchSize {
				if !f.flush(ctx, next) {
					return false
				}
			}
		}
	}
	if next > f.off {
		if !f.flush(ctx, next) {
			return false
		}
	}
	return true
}

// flush sends the pending rows (if any) and the next offset.
func (f *fetcher) flush(ctx context.Context, next int64) bool {
	f.off = next
	b := f.batch
	f.batch = nil
	return f.send(ctx, fetchMsg{kind: fmBatch, batch: b, next: next})
}

func closeRecord(r *protocol.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

func readBytes(b protocol.Bytes, buf []byte) ([]byte, error) {
	n := b.Len()
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// record decodes one record into the pending batch, applying the error
// policy. It returns false to stop.
func (f *fetcher) record(ctx context.Context, r *protocol.Record) bool {
	if r.Value == nil && f.dec != nil {
		return true // a tombstone: nothing to read from an append-only table
	}
	if f.batch == nil {
		f.batch = &types.Batch{Rows: make([]types.Row, 0, f.cfg.BatchSize)}
		f.arena = types.NewRowArena(f.width, f.cfg.BatchSize)
		f.row = nil
	}
	var val []byte
	if r.Value != nil {
		var err error
		if f.buf, err = readBytes(r.Value, f.buf); err != nil {
			f.fail(ctx, fmt.Errorf("topic %s partition %d offset %d: reading value: %v", f.cfg.Topic, f.part, r.Offset, err))
			return false
		}
		val = f.buf
	}
	if f.row == nil {
		f.row = f.arena.Next()
	}
	row := f.row
	var derr error
	if f.dec != nil {
		if f.valIdx == nil {
			derr = f.dec.Decode(val, row)
		} else if derr = f.dec.Decode(val, f.scratch); derr == nil {
			for i, c := range f.valIdx {
				row[c] = f.scratch[i]
			}
		}
	}
	if derr == nil && len(f.cfg.metaCols) > 0 {
		derr = f.fillMeta(r, row)
	}
	if derr != nil {
		switch f.cfg.OnError {
		case OnErrorSkip:
			f.s.skipped.Add(1)
			f.s.f.skipped.Add(1)
			return true
		case OnErrorDeadLetter:
			if err := f.dl.send(ctx, f.part, r, val, derr); err != nil {
				if ctx.Err() == nil {
					f.fail(ctx, err)
				}
				return false
			}
			f.s.skipped.Add(1)
			f.s.f.skipped.Add(1)
			return true
		}
		f.fail(ctx, fmt.Errorf("topic %s partition %d offset %d: %w", f.cfg.Topic, f.part, r.Offset, derr))
		return false
	}
	f.batch.Rows = append(f.batch.Rows, row)
	f.row = nil
	return true
}

func (f *fetcher) fillMeta(r *protocol.Record, row types.Row) error {
	for c, field := range f.cfg.metaCols {
		switch field {
		case metaKey:
			if r.Key == nil {
				row[c] = types.Value{}
			} else {
				k, err := readBytes(r.Key, nil)
				if err != nil {
					return err
				}
				row[c] = types.StringValue(string(k))
			}
		case metaTopic:
			row[c] = types.StringValue(f.cfg.Topic)
		case metaPartition:
			row[c] = f.intValue(c, int64(f.part))
		case metaOffset:
			row[c] = f.intValue(c, r.Offset)
		case metaTimestamp:
			row[c] = types.TimestampValue(r.Time.UnixMilli())
		case metaHeaders:
			row[c] = types.StringValue(headersJSON(r.Headers))
		}
	}
	return nil
}

func (f *fetcher) intValue(c int, v int64) types.Value {
	if f.cfg.Schema.Cols[c].Type.Kind == types.Int {
		return types.IntValue(v)
	}
	return types.BigIntValue(v)
}

// headersJSON renders headers as a JSON object (a repeated key keeps its
// last value).
func headersJSON(hs []protocol.Header) string {
	if len(hs) == 0 {
		return "{}"
	}
	b := []byte{'{'}
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(h.Key)
		v, _ := json.Marshal(string(h.Value))
		b = append(b, k...)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(append(b, '}'))
}

// ---------------------------------------------------------------- dead letter

// deadLetter produces records that do not decode to the dead-letter topic.
type deadLetter struct {
	cfg *SourceConfig
	w   *kafka.Writer
}

func newDeadLetter(cfg *SourceConfig) *deadLetter {
	if cfg.OnError != OnErrorDeadLetter {
		return nil
	}
	return &deadLetter{cfg: cfg, w: &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.DeadLetterTopic,
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		Balancer:     &kafka.Hash{},
		MaxAttempts:  3,
	}}
}

func (d *deadLetter) close() {
	if d != nil {
		d.w.Close()
	}
}

// send writes the raw record with headers naming where it came from and
// why, retrying until it is acknowledged or ctx ends.
func (d *deadLetter) send(ctx context.Context, part int, r *protocol.Record, val []byte, cause error) error {
	m := kafka.Message{Value: append([]byte(nil), val...), Time: r.Time}
	if r.Key != nil {
		k, err := readBytes(r.Key, nil)
		if err != nil {
			return err
		}
		m.Key = k
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	m.Headers = append(m.Headers,
		kafka.Header{Key: "weir.source.topic", Value: []byte(d.cfg.Topic)},
		kafka.Header{Key: "weir.source.partition", Value: []byte(strconv.Itoa(part))},
		kafka.Header{Key: "weir.source.offset", Value: []byte(strconv.FormatInt(r.Offset, 10))},
		kafka.Header{Key: "weir.error", Value: []byte(cause.Error())},
	)
	backoff := 100 * time.Millisecond
	for {
		err := d.w.WriteMessages(ctx, m)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, kafka.UnknownTopicOrPartition) {
			return fmt.Errorf("dead-letter topic %s: %v", d.cfg.DeadLetterTopic, err)
		}
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}
