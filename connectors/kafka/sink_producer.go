package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// producer is what a sink subtask writes through. The at-least-once
// producer below wraps kafka-go's asynchronous Writer; the exactly-once
// mode (issue #4) adds a transactional producer behind the same interface
// plus pre-commit (Flush at the barrier) and commit on checkpoint
// completion.
type producer interface {
	// Send hands records over; it may return before they are delivered,
	// and blocks while too many bytes are unacknowledged (back pressure).
	// The producer keeps the key and value slices until delivery. It
	// returns the first delivery error seen so far.
	Send(msgs []kafkago.Message) error
	// Err returns the first delivery error seen so far, without blocking.
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

// asyncProducer is the at-least-once producer: acks=all, batches per
// partition of up to BatchSize records flushed after BatchTimeout, failures
// collected from the Completion callback.
type asyncProducer struct {
	w         *kafkago.Writer
	tr        *kafkago.Transport
	table     string
	topic     string
	abortWait time.Duration
	ctx       context.Context
	cancel    context.CancelFunc

	mu       sync.Mutex
	cond     sync.Cond
	inflight int64 // bytes sent and not yet acknowledged
	pending  int   // records sent and not yet acknowledged
	err      error
	aborted  bool
}

func newAsyncProducer(f *SinkFactory, subtask int) *asyncProducer {
	p := &asyncProducer{table: f.common.Table, topic: f.common.Topic, abortWait: f.abortWaitTime}
	p.cond.L = &p.mu
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.tr = &kafkago.Transport{ClientID: fmt.Sprintf("weir-sink-%s-%d", f.common.Table, subtask), DialTimeout: f.openTimeout}
	p.w = &kafkago.Writer{
		Addr:         kafkago.TCP(f.common.Brokers...),
		Topic:        f.common.Topic,
		Balancer:     &sinkBalancer{keyed: len(f.keyCols) > 0},
		MaxAttempts:  f.maxAttempts,
		BatchSize:    f.batchSize,
		BatchBytes:   defaultBatchBytes,
		BatchTimeout: f.batchTimeout,
		RequiredAcks: kafkago.RequireAll, // the default is none: writes get lost silently
		Async:        true,
		Completion:   p.completion,
		Transport:    p.tr,
	}
	return p
}

func msgBytes(m *kafkago.Message) int64 { return int64(len(m.Key) + len(m.Value) + 64) }

// completion is called by the Writer's goroutines once per partition batch.
func (p *asyncProducer) completion(msgs []kafkago.Message, err error) {
	var n int64
	for i := range msgs {
		n += msgBytes(&msgs[i])
	}
	p.mu.Lock()
	p.inflight -= n
	p.pending -= len(msgs)
	if err != nil && p.err == nil {
		part := -1
		if len(msgs) > 0 {
			if pp, ok := msgs[0].WriterData.(*int32); ok {
				part = int(atomic.LoadInt32(pp))
			}
		}
		p.err = fmt.Errorf("table %s: delivery of %d records to Kafka topic '%s' partition %d failed: %v",
			p.table, len(msgs), p.topic, part, err)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *asyncProducer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *asyncProducer) Send(msgs []kafkago.Message) error {
	// The balancer writes each record's partition here, so a delivery
	// error can name it.
	parts := make([]int32, len(msgs))
	var n int64
	for i := range msgs {
		msgs[i].WriterData = &parts[i]
		n += msgBytes(&msgs[i])
	}
	p.mu.Lock()
	for p.err == nil && !p.aborted && p.inflight > maxInflightBytes {
		p.cond.Wait()
	}
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.inflight += n
	p.pending += len(msgs)
	p.mu.Unlock()
	if err := p.w.WriteMessages(p.ctx, msgs...); err != nil {
		p.mu.Lock()
		p.inflight -= n
		p.pending -= len(msgs)
		p.mu.Unlock()
		return fmt.Errorf("table %s: writing to Kafka topic '%s': %v", p.table, p.topic, err)
	}
	return nil
}

func (p *asyncProducer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.err == nil && p.pending > 0 {
		p.cond.Wait()
	}
	return p.err
}

func (p *asyncProducer) Close() error {
	err := p.w.Close() // sends what is batched and waits for every completion
	p.tr.CloseIdleConnections()
	p.cancel()
	if perr := p.Err(); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("table %s: closing the Kafka writer for topic '%s': %v", p.table, p.topic, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending != 0 {
		return fmt.Errorf("table %s: %d records to Kafka topic '%s' were not acknowledged", p.table, p.pending, p.topic)
	}
	return nil
}

func (p *asyncProducer) Abort() {
	p.mu.Lock()
	p.aborted = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.cancel()
	done := make(chan struct{})
	go func() {
		p.w.Close()
		p.tr.CloseIdleConnections()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(p.abortWait):
		// the Writer keeps retrying in the background; nothing waits for it
	}
}

// sinkBalancer chooses partitions like the Java client: murmur2 of the key
// for keyed records (kafka-go's Murmur2Balancer), round-robin otherwise. It
// records the choice through the record's WriterData (*int32) so that a
// delivery error names the partition.
type sinkBalancer struct {
	keyed bool
	next  atomic.Uint64
}

func (b *sinkBalancer) Balance(msg kafkago.Message, partitions ...int) int {
	var p int
	if b.keyed {
		p = kafkago.Murmur2Balancer{Consistent: true}.Balance(msg, partitions...)
	} else {
		p = partitions[int((b.next.Add(1)-1)%uint64(len(partitions)))]
	}
	if pp, ok := msg.WriterData.(*int32); ok {
		atomic.StoreInt32(pp, int32(p))
	}
	return p
}
