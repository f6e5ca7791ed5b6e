package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// producer is what a sink subtask writes through. The producer below sends
// per-partition batches itself; in exactly-once mode (sink_txn.go) the same
// producer writes into a Kafka transaction (partProducer.txn), and the sink
// pre-commits (Flush at the barrier) and commits on checkpoint completion.
type producer interface {
	// Send hands records over; it may return before they are delivered,
	// and blocks while too many bytes are unacknowledged (back pressure).
	// The producer keeps the key and value slices until delivery. It
	// returns the first fatal delivery error seen so far.
	Send(msgs []kafkago.Message) error
	// Err returns the first fatal delivery error seen so far, without
	// blocking.
	Err() error
	// Flush waits until every record sent is acknowledged (or failed).
	Flush() error
	// Close flushes, releases the connections and returns the first
	// delivery error.
	Close() error
	// Abort releases the producer without waiting for outstanding records
	// longer than a short bound.
	Abort()
}

// Retry policy of the producer.
const (
	produceBackoffMin = 100 * time.Millisecond
	produceBackoffMax = 5 * time.Second
	produceTimeout    = 30 * time.Second // one produce request, acks=all
	// A topic the brokers keep calling unknown was deleted while the job
	// ran: give up after this many consecutive answers (~20 s of backoff).
	unknownTopicAttempts = 10
	metadataRefresh      = 10 * time.Second // partition count refresh
)

// partProducer is the at-least-once producer (DESIGN §7, §8).
//
// Why not kafka-go's Writer: its async mode gives up on a batch after
// MaxAttempts, after which later batches of the same partition go ahead, so
// a batch re-sent from the Completion callback would land after them and
// break per-key order; and it offers no hook to tell the job it is waiting.
// Instead every partition of the topic has one goroutine (started on first
// use) that takes the records queued for its partition, up to batchSize
// records or defaultBatchBytes, lingering up to batchTimeout for a batch to
// fill, and sends them with one Produce request (acks=all). A failed
// request is retried, the same batch, with exponential backoff (100 ms
// doubling to 5 s) until it succeeds, the job ends (SetContext's context)
// or Abort: at most one request per partition is in flight, so a retry can
// never overtake or be overtaken by later records of its partition
// (at-least-once: a retried batch the broker had in fact written appears
// twice, in order). Errors that cannot heal (record too large,
// authorization, a topic deleted while the job ran) fail the job.
//
// Back pressure: Send blocks while more than maxInflight bytes are queued
// or in flight, so an outage stops the job's input instead of growing
// memory. While any partition is retrying, the subtask's status says
// "waiting for Kafka at <servers>: <error> (retrying, attempt N)"; it is
// cleared when every partition delivers again.
type partProducer struct {
	f       *SinkFactory
	table   string
	topic   string
	servers string
	keyed   bool
	cl      *kafkago.Client
	tr      *kafkago.Transport

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stopAf func() bool

	mu          sync.Mutex
	cond        sync.Cond // Send and Flush waiters
	queues      map[int]*partQueue
	nparts      int // partition count used for partitioning
	metaAt      time.Time
	inflight    int64 // bytes queued or in flight
	pending     int   // records queued or in flight
	flushing    int   // Flush/Close calls waiting: no lingering
	err         error
	closed      bool
	retrying    map[int]string // partition → status while it retries
	statusFn    func(string)
	rr          atomic.Uint64
	partIDs     []int // [0, nparts): used by Send only (one goroutine)
	maxInflight int64

	// txn, when set, is the sink's open Kafka transaction (sink_txn.go):
	// a batch goes into the transaction that was open when it was taken
	// from its queue. The sink changes it (setTxn) only while nothing is
	// queued or in flight, after a Flush.
	txn *txnState
}

// partQueue holds the records queued for one partition.
type partQueue struct {
	part  int
	msgs  []kafkago.Message
	bytes int64
	first time.Time     // arrival of msgs[0]
	wake  chan struct{} // cap 1: records arrived, a batch filled, or a flush
}

func newPartProducer(f *SinkFactory, subtask int) *partProducer {
	p := &partProducer{f: f, table: f.common.Table, topic: f.common.Topic, servers: f.common.Servers(),
		keyed: len(f.keyCols) > 0, queues: map[int]*partQueue{}, retrying: map[int]string{},
		maxInflight: f.maxInflight}
	if p.maxInflight <= 0 {
		p.maxInflight = maxInflightBytes
	}
	p.cond.L = &p.mu
	p.tr = &kafkago.Transport{ClientID: fmt.Sprintf("weir-sink-%s-%d", f.common.Table, subtask),
		DialTimeout: f.openTimeout, MetadataTTL: 2 * time.Second}
	p.cl = &kafkago.Client{Addr: kafkago.TCP(f.common.Brokers...), Transport: p.tr, Timeout: produceTimeout}
	p.setContext(context.Background())
	return p
}

// setContext makes the producer stop (Send, Flush and retries return) when
// ctx ends. Called before the first Send.
func (p *partProducer) setContext(ctx context.Context) {
	if p.cancel != nil {
		p.cancel()
		p.stopAf()
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.stopAf = context.AfterFunc(p.ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
}

func (p *partProducer) setStatusFunc(fn func(string)) {
	p.mu.Lock()
	p.statusFn = fn
	p.mu.Unlock()
}

func msgBytes(m *kafkago.Message) int64 { return int64(len(m.Key) + len(m.Value) + 64) }

func (p *partProducer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errLocked()
}

func (p *partProducer) errLocked() error {
	if p.err != nil {
		return p.err
	}
	if p.ctx.Err() != nil {
		return fmt.Errorf("table %s: Kafka sink for topic '%s' stopped: %w", p.table, p.topic, context.Cause(p.ctx))
	}
	return nil
}

// partitionCount returns the topic's partition count, looked up again
// every metadataRefresh (a topic may gain partitions). While the brokers
// are unreachable it keeps the last known count; before the first answer
// it retries like a produce request.
func (p *partProducer) partitionCount() (int, error) {
	p.mu.Lock()
	n, at := p.nparts, p.metaAt
	p.mu.Unlock()
	if n > 0 && time.Since(at) < metadataRefresh {
		return n, nil
	}
	backoff := produceBackoffMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(p.ctx, p.f.openTimeout)
		md, err := p.cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{p.topic}})
		cancel()
		if err == nil {
			for _, t := range md.Topics {
				if t.Name != p.topic {
					continue
				}
				if t.Error != nil {
					err = t.Error
				} else if len(t.Partitions) == 0 {
					err = kafkago.UnknownTopicOrPartition
				} else {
					n = len(t.Partitions)
				}
			}
		}
		if err == nil && n > 0 {
			p.mu.Lock()
			p.nparts, p.metaAt = n, time.Now()
			p.mu.Unlock()
			p.setRetrying(-1, "")
			return n, nil
		}
		if n > 0 { // keep the last count; produce requests report the outage
			p.mu.Lock()
			p.metaAt = time.Now()
			p.mu.Unlock()
			return n, nil
		}
		if p.ctx.Err() != nil {
			return 0, p.Err()
		}
		if err == nil {
			err = kafkago.UnknownTopicOrPartition
		}
		if ferr := p.fatal(err, attempt, -1, nil); ferr != nil {
			return 0, ferr
		}
		p.setRetrying(-1, p.waitingStatus(err, attempt))
		if !sleepCtx(p.ctx, backoff) {
			return 0, p.Err()
		}
		backoff = min(backoff*2, produceBackoffMax)
	}
}

func (p *partProducer) Send(msgs []kafkago.Message) error {
	if err := p.Err(); err != nil {
		return err
	}
	n, err := p.partitionCount()
	if err != nil {
		return p.setErr(err)
	}
	var size int64
	parts := make([]int, len(msgs))
	ids := seq(&p.partIDs, n)
	now := time.Now()
	for i := range msgs {
		m := &msgs[i]
		if m.Time.IsZero() {
			m.Time = now // else the record's timestamp is 0: retention deletes it at once
		}
		size += msgBytes(m)
		if p.keyed {
			parts[i] = kafkago.Murmur2Balancer{Consistent: true}.Balance(*m, ids...)
		} else {
			parts[i] = int((p.rr.Add(1) - 1) % uint64(n))
		}
	}
	p.mu.Lock()
	// Back pressure; a Send larger than the limit is admitted when
	// nothing else is outstanding.
	for p.errLocked() == nil && p.inflight > 0 && p.inflight+size > p.maxInflight {
		p.cond.Wait()
	}
	if err := p.errLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.inflight += size
	p.pending += len(msgs)
	for i := range msgs {
		q := p.queueLocked(parts[i])
		if len(q.msgs) == 0 {
			q.first = now
		}
		q.msgs = append(q.msgs, msgs[i])
		q.bytes += msgBytes(&msgs[i])
	}
	for _, q := range p.queues {
		if len(q.msgs) > 0 {
			wake(q.wake)
		}
	}
	p.mu.Unlock()
	return nil
}

// seq returns [0, n), the partition list for the balancer.
func seq(cache *[]int, n int) []int {
	if len(*cache) != n {
		*cache = make([]int, n)
		for i := range *cache {
			(*cache)[i] = i
		}
	}
	return *cache
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// queueLocked returns partition part's queue, starting its goroutine.
func (p *partProducer) queueLocked(part int) *partQueue {
	q := p.queues[part]
	if q == nil {
		q = &partQueue{part: part, wake: make(chan struct{}, 1)}
		p.queues[part] = q
		p.wg.Add(1)
		go p.run(q)
	}
	return q
}

// run is partition q's goroutine.
func (p *partProducer) run(q *partQueue) {
	defer p.wg.Done()
	batchSize, batchBytes, linger := p.f.batchSize, int64(defaultBatchBytes), p.f.batchTimeout
	var timer *time.Timer
	for {
		p.mu.Lock()
		n := len(q.msgs)
		wait := time.Duration(0)
		if n > 0 && n < batchSize && q.bytes < batchBytes && p.flushing == 0 && !p.closed {
			wait = time.Until(q.first.Add(linger))
		}
		p.mu.Unlock()
		if n == 0 || wait > 0 {
			var tc <-chan time.Time
			if n > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				tc = timer.C
			}
			select {
			case <-q.wake:
			case <-tc:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		// take a batch
		p.mu.Lock()
		k, size := 0, int64(0)
		for k < len(q.msgs) && k < batchSize {
			b := msgBytes(&q.msgs[k])
			if k > 0 && size+b > batchBytes {
				break
			}
			size += b
			k++
		}
		batch := q.msgs[:k:k]
		txn := p.txn
		if k == len(q.msgs) {
			q.msgs = nil
		} else {
			q.msgs = q.msgs[k:]
			q.first = time.Now()
		}
		q.bytes -= size
		p.mu.Unlock()

		if err := p.deliver(q.part, batch, txn); err != nil {
			p.setErr(err)
			return
		}
		p.mu.Lock()
		p.inflight -= size
		p.pending -= k
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// deliver sends one batch to its partition (in transaction txn, if not
// nil), retrying until it is acknowledged, the producer stops, or the
// error cannot heal.
func (p *partProducer) deliver(part int, batch []kafkago.Message, txn *txnState) error {
	backoff := produceBackoffMin
	for attempt := 1; ; attempt++ {
		err := p.produce(part, batch, txn)
		if err == nil {
			if attempt > 1 {
				p.setRetrying(part, "")
			}
			return nil
		}
		if p.ctx.Err() != nil {
			return p.Err()
		}
		if ferr := p.fatal(err, attempt, part, txn); ferr != nil {
			return ferr
		}
		if p.f.maxAttempts > 0 && attempt >= p.f.maxAttempts {
			return fmt.Errorf("table %s: delivery of %d records to Kafka topic '%s' partition %d at %s failed after %d attempts: %v",
				p.table, len(batch), p.topic, part, p.servers, attempt, err)
		}
		p.setRetrying(part, p.waitingStatus(err, attempt))
		if !sleepCtx(p.ctx, backoff) {
			return p.Err()
		}
		backoff = min(backoff*2, produceBackoffMax)
	}
}

func (p *partProducer) produce(part int, batch []kafkago.Message, txn *txnState) error {
	if txn != nil {
		return txn.produce(p.ctx, p.cl, p.topic, part, batch)
	}
	recs := make([]kafkago.Record, len(batch))
	for i := range batch {
		m := &batch[i]
		recs[i] = kafkago.Record{Time: m.Time, Key: kafkago.NewBytes(m.Key), Value: kafkago.NewBytes(m.Value), Headers: m.Headers}
	}
	ctx, cancel := context.WithTimeout(p.ctx, produceTimeout)
	defer cancel()
	res, err := p.cl.Produce(ctx, &kafkago.ProduceRequest{Topic: p.topic, Partition: part,
		RequiredAcks: kafkago.RequireAll, Records: kafkago.NewRecordReader(recs...)})
	if err != nil {
		return err
	}
	if res == nil {
		return errors.New("no produce response")
	}
	if res.Error != nil {
		if len(res.RecordErrors) > 0 {
			for i, rerr := range res.RecordErrors {
				return fmt.Errorf("%w (record %d of the batch: %v)", res.Error, i, rerr)
			}
		}
		return res.Error
	}
	return nil
}

// fatal returns the job's error when err will not heal by retrying, nil
// otherwise. attempt counts consecutive failures of the request; txn is
// the transaction the request wrote into, if any.
func (p *partProducer) fatal(err error, attempt, part int, txn *txnState) error {
	where := fmt.Sprintf("Kafka topic '%s'", p.topic)
	if part >= 0 {
		where += fmt.Sprintf(" partition %d", part)
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return fmt.Errorf("table %s: writing to %s on %s: %v", p.table, where, p.servers, perm.err)
	}
	var kerr kafkago.Error
	if !errors.As(err, &kerr) {
		return nil // network: broker gone, connection refused, timeouts
	}
	if txn != nil {
		if ferr, ok := txn.fatal(kerr, err, p.table, where, p.servers); ok {
			return ferr
		}
	}
	switch kerr {
	case kafkago.UnknownTopicOrPartition:
		if attempt >= unknownTopicAttempts {
			return fmt.Errorf("table %s: %s on %s: the brokers have answered %d times that it does not exist (deleted while the job ran?): %v",
				p.table, where, p.servers, attempt, err)
		}
		return nil
	case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge:
		return fmt.Errorf("table %s: %s on %s rejected a record as too large (the broker's or topic's max.message.bytes): %v",
			p.table, where, p.servers, err)
	}
	if kerr.Temporary() {
		return nil
	}
	return fmt.Errorf("table %s: writing to %s on %s: %v", p.table, where, p.servers, err)
}

func (p *partProducer) waitingStatus(err error, attempt int) string {
	return fmt.Sprintf("waiting for Kafka at %s: %v (retrying, attempt %d)", p.servers, err, attempt)
}

// setRetrying records partition part's status ("" = delivering again;
// part -1 is the metadata lookup) and reports the subtask's status.
func (p *partProducer) setRetrying(part int, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == "" {
		if _, ok := p.retrying[part]; !ok {
			return
		}
		delete(p.retrying, part)
	} else {
		p.retrying[part] = status
	}
	if p.statusFn == nil {
		return
	}
	if len(p.retrying) == 0 {
		p.statusFn("")
	} else if status != "" {
		p.statusFn(status)
	} else {
		for _, s := range p.retrying {
			p.statusFn(s)
			break
		}
	}
}

func (p *partProducer) setErr(err error) error {
	p.mu.Lock()
	if p.err == nil && p.ctx.Err() == nil {
		p.err = err
	}
	err = p.errLocked()
	p.cond.Broadcast()
	p.mu.Unlock()
	p.cancel() // stop every partition: the job fails
	return err
}

// setTxn makes t the transaction later batches go into. Nothing may be
// queued or in flight.
func (p *partProducer) setTxn(t *txnState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending != 0 {
		return fmt.Errorf("table %s: Kafka sink: switching transactions with %d records not yet acknowledged", p.table, p.pending)
	}
	p.txn = t
	return nil
}

func (p *partProducer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushing++
	defer func() { p.flushing-- }()
	for _, q := range p.queues {
		wake(q.wake)
	}
	for p.errLocked() == nil && p.pending > 0 {
		p.cond.Wait()
	}
	return p.errLocked()
}

func (p *partProducer) Close() error {
	err := p.Flush()
	p.mu.Lock()
	p.closed = true
	pending := p.pending
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.stopAf()
	p.tr.CloseIdleConnections()
	if err != nil {
		return err
	}
	if pending != 0 {
		return fmt.Errorf("table %s: %d records to Kafka topic '%s' were not acknowledged", p.table, pending, p.topic)
	}
	return nil
}

func (p *partProducer) Abort() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		p.tr.CloseIdleConnections()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(p.f.abortWaitTime):
	}
	p.stopAf()
}
