package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/weirsql/weir/exec"
)

// Checkpointing and exactly-once delivery of the Kafka sink (DESIGN §6–7;
// the design is described in doc.go).

// Values of OptDeliveryGuarantee.
const (
	guaranteeAtLeastOnce = "at-least-once"
	guaranteeExactlyOnce = "exactly-once"
)

const (
	// defaultTxnTimeout is Kafka's default transaction.max.timeout.ms.
	defaultTxnTimeout = 15 * time.Minute
	// maxHeldBytes bounds the output an exactly-once sink holds in memory
	// between a checkpoint's pre-commit and its commit (SinkFactory.maxHeld
	// overrides it in tests). Above it Write fails the job rather than grow.
	maxHeldBytes = 256 << 20
	// txnOpTimeout bounds the retries of one transaction call
	// (InitProducerID, EndTxn) while the coordinator cannot be reached.
	txnOpTimeout = 2 * time.Minute
	// txnRequestTimeout bounds one transaction request.
	txnRequestTimeout = 10 * time.Second
)

type ckMode uint8

const (
	ckNone        ckMode = iota // the job does not checkpoint
	ckAtLeastOnce               // PreCommit flushes
	ckExactlyOnce               // Kafka transactions
)

// ckState is a sink subtask's checkpointing state. It is used on the
// subtask goroutine only.
type ckState struct {
	mode ckMode
	txn  *txnState // exactly-once: the producer's transaction

	// precommitted: the open transaction holds everything written up to
	// the barrier of checkpoint lastPC and waits for Commit(id) with
	// id ≥ firstPC (its first pre-commit). Meanwhile Write holds rows back.
	precommitted    bool
	firstPC, lastPC uint64

	held        [][]kafkago.Message // rows written since the pre-commit
	heldBytes   int64
	heldRecords int

	// figures, for tests and status
	commits          int // transactions committed by Commit or Finish
	recoverCommitted int // recovered handles whose transaction this sink committed
	recoverDone      int // recovered handles whose transaction was already completed
}

func (c *ckState) holding() bool { return c.mode == ckExactlyOnce && c.precommitted }

// txnHandle is what PreCommit returns in exactly-once mode: enough to
// commit the transaction after a crash. Each transaction has its own
// (producer id, epoch): the sink bumps the epoch after every commit, so a
// handle never names a later transaction of the same transactional id.
type txnHandle struct {
	V          int    `json:"v"`
	TxID       string `json:"transactional_id"`
	ProducerID int64  `json:"producer_id"`
	Epoch      int16  `json:"producer_epoch"`
	Checkpoint uint64 `json:"checkpoint"`
	Topic      string `json:"topic"`
	Records    int64  `json:"records"` // 0: nothing to commit
}

func decodeHandle(data []byte) (txnHandle, error) {
	var h txnHandle
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("not a Kafka sink transaction handle: %v", err)
	}
	if h.V != 1 || h.TxID == "" {
		return h, fmt.Errorf("not a Kafka sink transaction handle (version %d, transactional id '%s')", h.V, h.TxID)
	}
	return h, nil
}

// ProducerFencedError says that the exactly-once sink's producer was
// fenced: another producer with the same transactional id started (a newer
// instance of the job after a restart, or another job with the same
// 'sink.transactional-id-prefix'). The fenced sink stops at once, without
// retrying; the broker aborts whatever it had not committed.
type ProducerFencedError struct {
	Table           string
	Topic           string
	TransactionalID string
	ProducerID      int64
	Epoch           int16
	Err             error // the broker's answer (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH)
}

func (e *ProducerFencedError) Error() string {
	return fmt.Sprintf("table %s: the Kafka sink for topic '%s' was fenced: another producer with transactional id '%s' has started (a newer instance of this job, or another job with the same '%s'), so this one (producer id %d, epoch %d) stops: %v",
		e.Table, e.Topic, e.TransactionalID, OptTransactionalIDPrefix, e.ProducerID, e.Epoch, e.Err)
}

func (e *ProducerFencedError) Unwrap() error { return e.Err }

func isFenced(err error) bool {
	return errors.Is(err, kafkago.ProducerFenced) || errors.Is(err, kafkago.InvalidProducerEpoch)
}

// permanentError marks a produce error that retrying cannot heal.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// txnRetriable reports whether a transaction call may succeed if repeated:
// network errors, retriable Kafka errors, CONCURRENT_TRANSACTIONS (the
// coordinator is still completing the previous transaction).
func txnRetriable(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr == kafkago.ConcurrentTransactions
	}
	return true
}

// txnState is the transaction the producer's partition goroutines write
// into. The sink goroutine changes it only while nothing is in flight
// (after a Flush).
type txnState struct {
	txid    string
	table   string
	topic   string
	addMu   sync.Mutex // serializes AddPartitionsToTxn
	mu      sync.Mutex // guards the fields below
	pid     int64
	epoch   int16
	added   map[int]bool  // partitions added to the open transaction
	seq     map[int]int32 // next base sequence per partition (this epoch)
	records int64         // records acknowledged in the open transaction
}

func newTxnState(txid, table, topic string, pid int64, epoch int16) *txnState {
	return &txnState{txid: txid, table: table, topic: topic, pid: pid, epoch: epoch,
		added: map[int]bool{}, seq: map[int]int32{}}
}

// fresh starts the next transaction with a new producer epoch.
func (t *txnState) fresh(pid int64, epoch int16) {
	t.mu.Lock()
	t.pid, t.epoch = pid, epoch
	t.added = map[int]bool{}
	t.seq = map[int]int32{} // sequences restart at 0 with a new epoch
	t.records = 0
	t.mu.Unlock()
}

func (t *txnState) snapshot() (pid int64, epoch int16, parts int, records int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pid, t.epoch, len(t.added), t.records
}

func (t *txnState) fencedErr(err error) error {
	pid, epoch, _, _ := t.snapshot()
	return &ProducerFencedError{Table: t.table, Topic: t.topic, TransactionalID: t.txid, ProducerID: pid, Epoch: epoch, Err: err}
}

// fatal classifies the transactional errors of a produce (see
// partProducer.fatal); ok is false for errors it leaves to the caller.
func (t *txnState) fatal(kerr kafkago.Error, err error, table, where, servers string) (ferr error, ok bool) {
	switch kerr {
	case kafkago.ProducerFenced, kafkago.InvalidProducerEpoch:
		return t.fencedErr(err), true
	case kafkago.ConcurrentTransactions:
		return nil, true
	case kafkago.InvalidTransactionState, kafkago.OutOfOrderSequenceNumber, kafkago.InvalidProducerIDMapping,
		kafkago.UnknownProducerId, kafkago.TransactionalIDAuthorizationFailed, kafkago.InvalidTransactionTimeout:
		pid, epoch, _, _ := t.snapshot()
		return fmt.Errorf("table %s: writing to %s on %s in transaction '%s' (producer id %d, epoch %d): %v",
			table, where, servers, t.txid, pid, epoch, err), true
	}
	return nil, false
}

// produce sends one batch to partition part inside the open transaction:
// the partition is added to the transaction first, and the batch carries
// the producer id, epoch and the partition's next sequence number, so that
// a retry of a batch the broker already has is recognized as a duplicate.
// At most one batch per partition is in flight (partProducer.run).
func (t *txnState) produce(ctx context.Context, cl *kafkago.Client, topic string, part int, batch []kafkago.Message) error {
	t.mu.Lock()
	pid, epoch, added, seq := t.pid, t.epoch, t.added[part], t.seq[part]
	t.mu.Unlock()
	if !added {
		if err := t.addPartition(ctx, cl, topic, part, pid, epoch); err != nil {
			return err
		}
	}
	raw, err := encodeTxnBatch(batch, pid, epoch, seq)
	if err != nil {
		return &permanentError{err}
	}
	cctx, cancel := context.WithTimeout(ctx, produceTimeout)
	defer cancel()
	res, err := cl.RawProduce(cctx, &kafkago.RawProduceRequest{Topic: topic, Partition: part,
		RequiredAcks: kafkago.RequireAll, TransactionalID: t.txid, RawRecords: raw})
	if err != nil {
		return err
	}
	if res == nil {
		return errors.New("no produce response")
	}
	if errors.Is(res.Error, kafkago.InvalidTransactionState) {
		// Some brokers (kfake) answer INVALID_TXN_STATE, not
		// INVALID_PRODUCER_EPOCH, when a newer producer aborted the
		// transaction and bumped the epoch: ask the coordinator, whose
		// answer names the fencing.
		if perr := t.probe(ctx, cl, topic, part, pid, epoch); isFenced(perr) {
			return perr
		}
	}
	if res.Error != nil && !errors.Is(res.Error, kafkago.DuplicateSequenceNumber) {
		for i, rerr := range res.RecordErrors {
			return fmt.Errorf("%w (record %d of the batch: %v)", res.Error, i, rerr)
		}
		return res.Error
	}
	t.mu.Lock()
	if t.pid == pid && t.epoch == epoch {
		t.seq[part] = nextSeq(seq, len(batch))
		t.records += int64(len(batch))
	}
	t.mu.Unlock()
	return nil
}

// nextSeq advances a sequence number; Kafka wraps it to 0 after MaxInt32.
func nextSeq(seq int32, n int) int32 {
	next := int64(seq) + int64(n)
	if next > math.MaxInt32 {
		next -= math.MaxInt32 + 1
	}
	return int32(next)
}

// addPartitionRequest sends AddPartitionsToTxn for one partition and
// returns the coordinator's answer for it: errNoAnswer when it has none,
// PRODUCER_FENCED when the epoch is stale.
func (t *txnState) addPartitionRequest(ctx context.Context, cl *kafkago.Client, topic string, part int, pid int64, epoch int16) error {
	cctx, cancel := context.WithTimeout(ctx, txnRequestTimeout)
	defer cancel()
	res, err := cl.AddPartitionsToTxn(cctx, &kafkago.AddPartitionsToTxnRequest{
		TransactionalID: t.txid, ProducerID: int(pid), ProducerEpoch: int(epoch),
		Topics: map[string][]kafkago.AddPartitionToTxn{topic: {{Partition: part}}},
	})
	if err != nil {
		return err
	}
	for _, pr := range res.Topics[topic] {
		if pr.Partition == part {
			return pr.Error
		}
	}
	return errNoAnswer
}

var errNoAnswer = errors.New("no answer for the partition")

// probe asks the coordinator whether the epoch is stale; it is used only on
// the way to failing the job.
func (t *txnState) probe(ctx context.Context, cl *kafkago.Client, topic string, part int, pid int64, epoch int16) error {
	if err := t.addPartitionRequest(ctx, cl, topic, part, pid, epoch); err != errNoAnswer {
		return err
	}
	return nil
}

func (t *txnState) addPartition(ctx context.Context, cl *kafkago.Client, topic string, part int, pid int64, epoch int16) error {
	t.addMu.Lock()
	defer t.addMu.Unlock()
	t.mu.Lock()
	done := t.added[part]
	t.mu.Unlock()
	if done {
		return nil
	}
	if err := t.addPartitionRequest(ctx, cl, topic, part, pid, epoch); err == errNoAnswer {
		return fmt.Errorf("adding partition %d to transaction '%s': %w", part, t.txid, err)
	} else if err != nil {
		return err
	}
	t.mu.Lock()
	t.added[part] = true
	t.mu.Unlock()
	return nil
}

// Offsets in a v2 record batch (the Kafka protocol's RecordBatch).
const (
	batchCRC        = 17
	batchAttributes = 21
	batchProducerID = 43
	batchEpoch      = 51
	batchBaseSeq    = 53
	batchHeaderLen  = 61
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// encodeTxnBatch encodes msgs as one transactional v2 record batch.
// kafka-go's encoder writes -1 for the producer id, epoch and base
// sequence: they are set in the header afterwards and the CRC-32C (over
// everything after the CRC field) is computed again.
func encodeTxnBatch(msgs []kafkago.Message, pid int64, epoch int16, seq int32) (protocol.RawRecordSet, error) {
	recs := make([]kafkago.Record, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		recs[i] = kafkago.Record{Time: m.Time, Key: kafkago.NewBytes(m.Key), Value: kafkago.NewBytes(m.Value), Headers: m.Headers}
	}
	rs := protocol.RecordSet{Version: 2, Attributes: protocol.Transactional, Records: kafkago.NewRecordReader(recs...)}
	var buf bytes.Buffer
	if _, err := rs.WriteTo(&buf); err != nil {
		return protocol.RawRecordSet{}, fmt.Errorf("encoding a record batch: %v", err)
	}
	raw := buf.Bytes()
	// The record set starts with its size (int32), then the batch.
	if len(raw) < 4+batchHeaderLen || raw[4+16] != 2 {
		return protocol.RawRecordSet{}, fmt.Errorf("encoding a record batch: unexpected layout (%d bytes)", len(raw))
	}
	b := raw[4:]
	if protocol.Attributes(binary.BigEndian.Uint16(b[batchAttributes:]))&protocol.Transactional == 0 {
		return protocol.RawRecordSet{}, errors.New("encoding a record batch: the transactional attribute is missing")
	}
	binary.BigEndian.PutUint64(b[batchProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[batchEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[batchBaseSeq:], uint32(seq))
	binary.BigEndian.PutUint32(b[batchCRC:], crc32.Checksum(b[batchAttributes:], crc32c))
	return protocol.RawRecordSet{Reader: bytes.NewReader(raw)}, nil
}

// ---------------------------------------------------------------- sink side

var _ exec.TwoPhaseSink = (*Sink)(nil)

// txnID is subtask i's transactional id.
func (f *SinkFactory) txnID(subtask int) string { return fmt.Sprintf("%s-%d", f.txnPrefix, subtask) }

// TransactionalID is the transactional id the sink uses in exactly-once
// mode: '<sink.transactional-id-prefix>-<subtask>'.
func (s *Sink) TransactionalID() string { return s.f.txnID(s.subtask) }

// Held returns the rows held back since a pre-commit whose commit has not
// come yet (exactly-once mode): records and bytes.
func (s *Sink) Held() (records int, bytes int64) { return s.ck.heldRecords, s.ck.heldBytes }

// checkMode fails a sink asked for exactly-once in a job that does not
// checkpoint: without checkpoints no transaction would ever commit.
func (s *Sink) checkMode() error {
	if s.f.guarantee == guaranteeExactlyOnce && s.ck.mode == ckNone {
		return fmt.Errorf("table %s: '%s' = 'exactly-once' needs a job with exactly-once checkpoints (its Kafka transactions commit when a checkpoint completes), and this job does not checkpoint",
			s.f.common.Table, OptDeliveryGuarantee)
	}
	return nil
}

// StartCheckpointing implements exec.TwoPhaseSink.
//
// The sink is exactly-once when the job is and the table does not say
// 'sink.delivery-guarantee' = 'at-least-once'. Recovery, in either mode:
// the transaction named by each recovered handle is committed (EndTxn with
// the recorded producer id and epoch, without InitProducerID, which would
// abort it). Then, in exactly-once mode (or when a handle was recovered),
// InitProducerID is called for this subtask's transactional id and for
// every recovered subtask's: that aborts anything they left open and
// fences their zombies (a new epoch).
func (s *Sink) StartCheckpointing(mode exec.DeliveryMode, recovered []exec.SinkHandle) error {
	if s.ck.mode != ckNone {
		return fmt.Errorf("table %s: Kafka sink: StartCheckpointing called twice", s.f.common.Table)
	}
	if s.f.guarantee == guaranteeExactlyOnce && mode == exec.DeliveryAtLeastOnce {
		return fmt.Errorf("table %s: '%s' = 'exactly-once' needs exactly-once checkpoints, but the job checkpoints %s",
			s.f.common.Table, OptDeliveryGuarantee, mode)
	}
	exactly := mode == exec.DeliveryExactlyOnce && s.f.guarantee != guaranteeAtLeastOnce
	ctx := s.pp.ctx
	fence := map[string]bool{}
	for _, h := range recovered {
		fence[s.f.txnID(h.Subtask)] = true
		if len(h.Data) == 0 {
			continue
		}
		hd, err := decodeHandle(h.Data)
		if err != nil {
			return fmt.Errorf("table %s: the checkpoint's handle of Kafka sink subtask %d: %v", s.f.common.Table, h.Subtask, err)
		}
		fence[hd.TxID] = true
		if hd.Records > 0 {
			if err := s.recoverCommit(ctx, hd); err != nil {
				return err
			}
		}
	}
	own := s.f.txnID(s.subtask)
	if !exactly {
		s.ck.mode = ckAtLeastOnce
		anyData := false
		for _, h := range recovered {
			anyData = anyData || len(h.Data) > 0
		}
		if !anyData {
			return nil // never transactional: no transactional ids to fence
		}
		delete(fence, own)
	} else {
		fence[own] = true
	}
	ids := make([]string, 0, len(fence))
	for id := range fence {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var pid int64
	var epoch int16
	for _, id := range ids {
		p, e, err := s.initProducer(ctx, id, -1, -1)
		if err != nil {
			return err
		}
		if id == own {
			pid, epoch = p, e
		}
	}
	if !exactly {
		return nil
	}
	s.pp.mu.Lock()
	started := len(s.pp.queues) > 0
	s.pp.mu.Unlock()
	if started {
		return fmt.Errorf("table %s: Kafka sink: StartCheckpointing after the first Write", s.f.common.Table)
	}
	t := newTxnState(own, s.f.common.Table, s.f.common.Topic, pid, epoch)
	s.pp.txn = t
	s.ck.mode = ckExactlyOnce
	s.ck.txn = t
	return nil
}

// recoverCommit commits the transaction of a recovered handle.
//
// What the broker answers to EndTxn(commit) with the recorded producer id
// and epoch (checked against kfake and the Kafka protocol):
//   - no error: committed now, or it had been committed and nothing
//     happened since (a retried commit);
//   - PRODUCER_FENCED / INVALID_PRODUCER_EPOCH: the transactional id has a
//     later epoch, so the transaction was completed before: the sink
//     bumps the epoch right after each commit, and an earlier recovery
//     commits before it fences. (The broker's transaction timeout also
//     aborts with a new epoch: that cannot be told apart; see doc.go);
//   - INVALID_PRODUCER_ID_MAPPING: the producer id expired
//     (transactional.id.expiration.ms), long after its last transaction
//     completed;
//   - INVALID_TXN_STATE: the transaction was aborted under the same epoch:
//     its output is lost, and the restore fails saying so.
func (s *Sink) recoverCommit(ctx context.Context, h txnHandle) error {
	err := s.endTxn(ctx, h.TxID, h.ProducerID, h.Epoch, true)
	switch {
	case err == nil:
		s.ck.recoverCommitted++
		return nil
	case isFenced(err), errors.Is(err, kafkago.InvalidProducerIDMapping):
		s.ck.recoverDone++
		return nil
	case errors.Is(err, kafkago.InvalidTransactionState):
		return fmt.Errorf("table %s: restoring checkpoint %d: Kafka transaction '%s' (producer id %d, epoch %d) of topic '%s' cannot be committed: the broker says it was aborted (%v), so the %d records it held are lost",
			s.f.common.Table, h.Checkpoint, h.TxID, h.ProducerID, h.Epoch, h.Topic, err, h.Records)
	default:
		return fmt.Errorf("table %s: restoring checkpoint %d: committing Kafka transaction '%s' (producer id %d, epoch %d) on %s: %v",
			s.f.common.Table, h.Checkpoint, h.TxID, h.ProducerID, h.Epoch, s.f.common.Servers(), err)
	}
}

// initProducer calls InitProducerID for txid: with pid/epoch -1/-1 it
// starts (or takes over) the transactional id, aborting its open
// transaction and fencing older epochs; with the current pid/epoch it
// bumps the epoch (KIP-360). It retries while the coordinator cannot be
// reached, up to txnOpTimeout.
func (s *Sink) initProducer(ctx context.Context, txid string, pid int64, epoch int16) (int64, int16, error) {
	var out *kafkago.InitProducerIDResponse
	err := s.txnCall(ctx, txid, "init producer id", func(cctx context.Context) error {
		res, err := s.pp.cl.InitProducerID(cctx, &kafkago.InitProducerIDRequest{TransactionalID: txid,
			TransactionTimeoutMs: int(s.f.txnTimeout / time.Millisecond), ProducerID: int(pid), ProducerEpoch: int(epoch)})
		if err != nil {
			return err
		}
		if res.Error != nil {
			return res.Error
		}
		if res.Producer == nil {
			return errors.New("no producer in the answer")
		}
		out = res
		return nil
	})
	switch {
	case err == nil:
		return int64(out.Producer.ProducerID), int16(out.Producer.ProducerEpoch), nil
	case isFenced(err):
		return 0, 0, &ProducerFencedError{Table: s.f.common.Table, Topic: s.f.common.Topic, TransactionalID: txid, ProducerID: pid, Epoch: epoch, Err: err}
	case errors.Is(err, kafkago.InvalidTransactionTimeout):
		return 0, 0, fmt.Errorf("table %s: Kafka transactional id '%s' on %s: the brokers refuse a transaction timeout of %s (%v): set '%s' to at most the brokers' transaction.max.timeout.ms",
			s.f.common.Table, txid, s.f.common.Servers(), s.f.txnTimeout, err, OptTransactionTimeout)
	}
	return 0, 0, fmt.Errorf("table %s: Kafka transactional id '%s' on %s: init producer id: %v", s.f.common.Table, txid, s.f.common.Servers(), err)
}

// endTxn commits or aborts a transaction; it returns the broker's error
// for the caller to interpret.
func (s *Sink) endTxn(ctx context.Context, txid string, pid int64, epoch int16, commit bool) error {
	what := "abort"
	if commit {
		what = "commit"
	}
	return s.txnCall(ctx, txid, what, func(cctx context.Context) error {
		res, err := s.pp.cl.EndTxn(cctx, &kafkago.EndTxnRequest{TransactionalID: txid, ProducerID: int(pid), ProducerEpoch: int(epoch), Committed: commit})
		if err != nil {
			return err
		}
		return res.Error
	})
}

// txnCall runs a transaction request, retrying what may heal (network,
// coordinator moving or loading, CONCURRENT_TRANSACTIONS) with backoff
// for up to txnOpTimeout or until the job ends. While it retries, the
// subtask's status says so.
func (s *Sink) txnCall(ctx context.Context, txid, what string, call func(context.Context) error) error {
	deadline := time.Now().Add(txnOpTimeout)
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, txnRequestTimeout)
		err := call(cctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				s.pp.setRetrying(-2, "")
			}
			return nil
		}
		if !txnRetriable(err) || ctx.Err() != nil || time.Now().After(deadline) {
			if attempt > 1 {
				s.pp.setRetrying(-2, "")
			}
			if ctx.Err() != nil && txnRetriable(err) {
				return fmt.Errorf("%s of transaction '%s': %w (%v)", what, txid, context.Cause(ctx), err)
			}
			return err
		}
		s.pp.setRetrying(-2, fmt.Sprintf("waiting for the Kafka transaction coordinator at %s: %s of transaction '%s': %v (retrying, attempt %d)",
			s.f.common.Servers(), what, txid, err, attempt))
		if !sleepCtx(ctx, backoff) {
			return fmt.Errorf("%s of transaction '%s': %w", what, txid, context.Cause(ctx))
		}
		backoff = min(backoff*2, produceBackoffMax)
	}
}

// PreCommit implements exec.TwoPhaseSink. At-least-once: it flushes and
// returns no handle. Exactly-once: it flushes the open transaction and
// waits for every ack, then returns the transaction's handle; rows written
// until Commit are held back. If the transaction was already pre-committed
// for an earlier checkpoint whose Commit never came (that checkpoint was
// aborted), the held rows join it and the handle names the same
// transaction with the new checkpoint id.
func (s *Sink) PreCommit(id uint64) ([]byte, error) {
	switch s.ck.mode {
	case ckNone:
		return nil, fmt.Errorf("table %s: Kafka sink: PreCommit without StartCheckpointing", s.f.common.Table)
	case ckAtLeastOnce:
		return nil, s.prod.Flush()
	}
	c := &s.ck
	if c.precommitted {
		if err := s.release(); err != nil {
			return nil, err
		}
	}
	if err := s.prod.Flush(); err != nil {
		return nil, err
	}
	if !c.precommitted {
		c.precommitted, c.firstPC = true, id
	}
	c.lastPC = id
	pid, epoch, _, records := c.txn.snapshot()
	return json.Marshal(txnHandle{V: 1, TxID: c.txn.txid, ProducerID: pid, Epoch: epoch, Checkpoint: id,
		Topic: s.f.common.Topic, Records: records})
}

// Commit implements exec.TwoPhaseSink: once a checkpoint at or after the
// open transaction's first pre-commit is complete, the transaction is
// committed, the producer's epoch is bumped for the next one, and the rows
// held since the pre-commit go into it. Otherwise (nothing pre-committed,
// or an older checkpoint) it does nothing.
func (s *Sink) Commit(id uint64) error {
	c := &s.ck
	if c.mode != ckExactlyOnce || !c.precommitted || id < c.firstPC {
		return nil
	}
	if err := s.commitOpen(true); err != nil {
		return err
	}
	c.precommitted, c.firstPC, c.lastPC = false, 0, 0
	return s.release()
}

// commitOpen commits the open transaction, if it holds anything; with
// next, the epoch is bumped for the next transaction. Nothing may be in
// flight.
func (s *Sink) commitOpen(next bool) error {
	t := s.ck.txn
	pid, epoch, parts, _ := t.snapshot()
	if parts == 0 {
		return nil // nothing written: there is no transaction on the broker
	}
	if err := s.endTxn(s.pp.ctx, t.txid, pid, epoch, true); err != nil {
		if isFenced(err) {
			return t.fencedErr(err)
		}
		return fmt.Errorf("table %s: committing Kafka transaction '%s' (producer id %d, epoch %d) on %s: %v",
			s.f.common.Table, t.txid, pid, epoch, s.f.common.Servers(), err)
	}
	s.ck.commits++
	if !next {
		return nil
	}
	npid, nepoch, err := s.initProducer(s.pp.ctx, t.txid, pid, epoch)
	if err != nil {
		return err
	}
	t.fresh(npid, nepoch)
	return nil
}

// hold keeps rows written after a pre-commit for the next transaction.
func (s *Sink) hold(msgs []kafkago.Message) error {
	c := &s.ck
	var n int64
	now := time.Now()
	for i := range msgs {
		if msgs[i].Time.IsZero() {
			msgs[i].Time = now
		}
		n += msgBytes(&msgs[i])
	}
	limit := s.f.maxHeld
	if limit <= 0 {
		limit = maxHeldBytes
	}
	if c.heldBytes > 0 && c.heldBytes+n > limit {
		return fmt.Errorf("table %s: the Kafka sink holds %d records (%d bytes) written after the pre-commit of checkpoint %d, waiting for that checkpoint to complete; that is the limit of %d bytes (the checkpoint takes too long to complete)",
			s.f.common.Table, c.heldRecords, c.heldBytes, c.lastPC, limit)
	}
	c.held = append(c.held, msgs)
	c.heldBytes += n
	c.heldRecords += len(msgs)
	return s.prod.Err()
}

// release sends the held rows into the open transaction.
func (s *Sink) release() error {
	c := &s.ck
	held := c.held
	c.held, c.heldBytes, c.heldRecords = nil, 0, 0
	for _, msgs := range held {
		if err := s.prod.Send(msgs); err != nil {
			return err
		}
	}
	return nil
}

// finishTxn commits everything at end of input.
func (s *Sink) finishTxn() error {
	err := s.release()
	if err == nil {
		err = s.prod.Flush()
	}
	if err == nil {
		err = s.commitOpen(false)
	}
	if err != nil {
		s.prod.Abort()
		s.abortTxn()
		return err
	}
	s.ck.precommitted = false
	return s.prod.Close()
}

// abortTxn aborts the open transaction, best effort, unless it was
// pre-committed (see Abort). The producer is stopped already.
func (s *Sink) abortTxn() {
	c := &s.ck
	if c.precommitted {
		return
	}
	pid, epoch, parts, _ := c.txn.snapshot()
	if parts == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.f.abortWaitTime)
	defer cancel()
	_, _ = s.pp.cl.EndTxn(ctx, &kafkago.EndTxnRequest{TransactionalID: c.txn.txid, ProducerID: int(pid), ProducerEpoch: int(epoch), Committed: false})
}
