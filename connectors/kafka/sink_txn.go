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
	"strconv"
	"strings"
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
	// txnSlots is the number of transactional ids of an exactly-once sink
	// subtask, '<prefix>-<subtask>-<slot>' with slot in [0, txnSlots): one
	// holds the open transaction, the others transactions pre-committed
	// for checkpoints whose Commit has not come. A restore fences all of
	// them for every subtask the job ever ran.
	txnSlots = 16
	// fenceConcurrency bounds the InitProducerID calls a restore sends at
	// once.
	fenceConcurrency = 8
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

	// exactly-once: the subtask's transactional ids, index = slot. Rows
	// go into the transaction of slot cur; pending lists the transactions
	// pre-committed and not yet committed, in checkpoint order, none of
	// them in slot cur. The other slots are free (no transaction open).
	slots   []*txnState
	cur     int
	pending []pendingTxn

	// figures, for tests and status
	commits          int // transactions committed by Commit or Finish
	recoverCommitted int // recovered transactions this sink committed
	recoverDone      int // recovered transactions already completed
}

// pendingTxn is a transaction pre-committed for checkpoint txn.Checkpoint.
type pendingTxn struct {
	slot int
	txn  txnRef
}

// freeSlot returns the lowest slot holding no transaction, or -1.
func (c *ckState) freeSlot() int {
	used := make([]bool, len(c.slots))
	used[c.cur] = true
	for _, p := range c.pending {
		used[p.slot] = true
	}
	for i, u := range used {
		if !u {
			return i
		}
	}
	return -1
}

// txnHandle is what PreCommit returns in exactly-once mode (version 2):
// every transaction pre-committed and not yet committed, oldest first, the
// checkpoint's own last. Those of earlier checkpoints are there because
// their Commit had not come (the checkpoint was aborted, or its completion
// had not reached the sink): their rows precede this checkpoint's barrier,
// so a restore from it must commit them too. Each transaction has its own
// (producer id, epoch): the sink bumps a transactional id's epoch after
// every commit, so a handle never names a later transaction of the same
// id.
//
// Version 1 (one transactional id per subtask, '<prefix>-<subtask>')
// named one transaction in TxID, ProducerID, Epoch and Records;
// decodeHandle turns it into Txns.
type txnHandle struct {
	V          int      `json:"v"`
	Topic      string   `json:"topic"`
	Checkpoint uint64   `json:"checkpoint"`
	Slots      int      `json:"slots,omitempty"`        // v2: transactional ids per subtask
	Txns       []txnRef `json:"transactions,omitempty"` // v2

	// v1 only
	TxID       string `json:"transactional_id,omitempty"`
	ProducerID int64  `json:"producer_id,omitempty"`
	Epoch      int16  `json:"producer_epoch,omitempty"`
	Records    int64  `json:"records,omitempty"`
}

// txnRef names one pre-committed transaction.
type txnRef struct {
	TxID       string `json:"transactional_id"`
	ProducerID int64  `json:"producer_id"`
	Epoch      int16  `json:"producer_epoch"`
	Checkpoint uint64 `json:"checkpoint"` // the checkpoint whose pre-commit closed it
	Records    int64  `json:"records"`    // 0: nothing to commit
}

func decodeHandle(data []byte) (txnHandle, error) {
	var h txnHandle
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("not a Kafka sink transaction handle: %v", err)
	}
	switch {
	case h.V == 1 && h.TxID != "":
		h.Txns = []txnRef{{TxID: h.TxID, ProducerID: h.ProducerID, Epoch: h.Epoch, Checkpoint: h.Checkpoint, Records: h.Records}}
		return h, nil
	case h.V == 2 && h.Slots > 0 && h.Slots <= 1024:
		for _, t := range h.Txns {
			if t.TxID == "" {
				return h, errors.New("not a Kafka sink transaction handle: a transaction without transactional id")
			}
		}
		return h, nil
	}
	return h, fmt.Errorf("not a Kafka sink transaction handle (version %d, transactional id '%s', %d slots)", h.V, h.TxID, h.Slots)
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

// txnID is the transactional id of subtask i's slot k.
func (f *SinkFactory) txnID(subtask, slot int) string {
	return fmt.Sprintf("%s-%d-%d", f.txnPrefix, subtask, slot)
}

// legacyTxnID is subtask i's transactional id in version 1 handles (one
// transaction at a time per subtask).
func (f *SinkFactory) legacyTxnID(subtask int) string {
	return fmt.Sprintf("%s-%d", f.txnPrefix, subtask)
}

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
// every transaction named by a recovered handle is committed (EndTxn with
// the recorded producer id and epoch, without InitProducerID, which would
// abort it). Then, in exactly-once mode (or when a handle was recovered),
// InitProducerID is called for every transactional id of this subtask and
// of every recovered subtask (all their slots, and their version 1 id when
// a version 1 handle was recovered): that aborts anything they left open
// and fences their zombies (a new epoch).
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
	subtasks := map[int]bool{} // old subtasks whose transactional ids are fenced
	slots, legacy, anyData := txnSlots, false, false
	named := map[string]bool{} // transactional ids the handles name
	for _, h := range recovered {
		subtasks[h.Subtask] = true
		if len(h.Data) == 0 {
			continue
		}
		anyData = true
		hd, err := decodeHandle(h.Data)
		if err != nil {
			return fmt.Errorf("table %s: the checkpoint's handle of Kafka sink subtask %d: %v", s.f.common.Table, h.Subtask, err)
		}
		legacy = legacy || hd.V == 1
		slots = max(slots, hd.Slots)
		for _, t := range hd.Txns {
			named[t.TxID] = true
			if t.Records > 0 {
				if err := s.recoverCommit(ctx, hd.Checkpoint, t); err != nil {
					return err
				}
			}
		}
	}
	if !exactly {
		s.ck.mode = ckAtLeastOnce
		if !anyData {
			return nil // never transactional: no transactional ids to fence
		}
	} else {
		subtasks[s.subtask] = true
	}
	for j := range subtasks {
		for k := range slots {
			named[s.f.txnID(j, k)] = true
		}
		if legacy {
			named[s.f.legacyTxnID(j)] = true
		}
	}
	ids := make([]string, 0, len(named))
	for id := range named {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fenced, err := s.fence(ctx, ids)
	if err != nil {
		return err
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
	c := &s.ck
	c.slots = make([]*txnState, txnSlots)
	for k := range c.slots {
		id := s.f.txnID(s.subtask, k)
		p := fenced[id]
		c.slots[k] = newTxnState(id, s.f.common.Table, s.f.common.Topic, p.pid, p.epoch)
	}
	if err := s.pp.setTxn(c.slots[0]); err != nil {
		return err
	}
	c.mode = ckExactlyOnce
	return nil
}

// producerEpoch is a producer id and epoch InitProducerID handed out.
type producerEpoch struct {
	pid   int64
	epoch int16
}

// fence calls InitProducerID(-1, -1) for every id, fenceConcurrency at a
// time, and returns the new producer ids and epochs.
func (s *Sink) fence(ctx context.Context, ids []string) (map[string]producerEpoch, error) {
	res := make([]producerEpoch, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, fenceConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i].pid, res[i].epoch, errs[i] = s.initProducer(ctx, id, -1, -1)
		})
	}
	wg.Wait()
	out := make(map[string]producerEpoch, len(ids))
	for i, id := range ids {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[id] = res[i]
	}
	return out, nil
}

// recoverCommit commits a transaction of a recovered handle of checkpoint
// ckpt.
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
func (s *Sink) recoverCommit(ctx context.Context, ckpt uint64, h txnRef) error {
	err := s.endTxn(ctx, h.TxID, h.ProducerID, h.Epoch, true)
	switch {
	case err == nil:
		s.ck.recoverCommitted++
		return nil
	case isFenced(err), errors.Is(err, kafkago.InvalidProducerIDMapping):
		s.ck.recoverDone++
		return nil
	case errors.Is(err, kafkago.InvalidTransactionState):
		return fmt.Errorf("table %s: restoring checkpoint %d: Kafka transaction '%s' (producer id %d, epoch %d, pre-committed for checkpoint %d) of topic '%s' cannot be committed: the broker says it was aborted (%v), so the %d records it held are lost",
			s.f.common.Table, ckpt, h.TxID, h.ProducerID, h.Epoch, h.Checkpoint, s.f.common.Topic, err, h.Records)
	default:
		return fmt.Errorf("table %s: restoring checkpoint %d: committing Kafka transaction '%s' (producer id %d, epoch %d) on %s: %v",
			s.f.common.Table, ckpt, h.TxID, h.ProducerID, h.Epoch, s.f.common.Servers(), err)
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
// waits for every ack; if the transaction holds anything it becomes
// pending (pre-committed for checkpoint id) and the rows after the barrier
// go into a new transaction, on a free slot. The handle names every
// pending transaction. With no free slot (txnSlots-1 transactions pending)
// it fails, and so does the job (see poolFull).
func (s *Sink) PreCommit(id uint64) ([]byte, error) {
	switch s.ck.mode {
	case ckNone:
		return nil, fmt.Errorf("table %s: Kafka sink: PreCommit without StartCheckpointing", s.f.common.Table)
	case ckAtLeastOnce:
		return nil, s.prod.Flush()
	}
	c := &s.ck
	if err := s.prod.Flush(); err != nil {
		return nil, err
	}
	t := c.slots[c.cur]
	pid, epoch, parts, records := t.snapshot()
	if parts > 0 {
		next := c.freeSlot()
		if next < 0 {
			return nil, s.poolFull(id)
		}
		if err := s.pp.setTxn(c.slots[next]); err != nil {
			return nil, err
		}
		c.pending = append(c.pending, pendingTxn{slot: c.cur,
			txn: txnRef{TxID: t.txid, ProducerID: pid, Epoch: epoch, Checkpoint: id, Records: records}})
		c.cur = next
	}
	h := txnHandle{V: 2, Topic: s.f.common.Topic, Checkpoint: id, Slots: txnSlots, Txns: make([]txnRef, 0, len(c.pending))}
	for _, p := range c.pending {
		h.Txns = append(h.Txns, p.txn)
	}
	return json.Marshal(h)
}

// poolFull is PreCommit's error when every slot holds a transaction. The
// runtime fails the job on it; the sink's Abort aborts only the open
// transaction, and the restore commits what its checkpoint names and
// aborts the rest (the source replays those rows).
func (s *Sink) poolFull(id uint64) error {
	c := &s.ck
	ids := make([]string, len(c.pending))
	for i, p := range c.pending {
		ids[i] = strconv.FormatUint(p.txn.Checkpoint, 10)
	}
	return fmt.Errorf("table %s: the Kafka sink cannot pre-commit checkpoint %d: all %d transactional ids of subtask %d ('%s' to '%s') hold transactions, %d of them pre-committed for checkpoints %s whose completion has not reached the sink (checkpoints are aborted or triggered faster than they complete); the job fails here rather than put rows of two checkpoints into one transaction: a restore from the last completed checkpoint commits the transactions it names and aborts the others, so no row is lost or written twice",
		s.f.common.Table, id, len(c.slots), s.subtask, s.f.txnID(s.subtask, 0), s.f.txnID(s.subtask, len(c.slots)-1),
		len(c.pending), strings.Join(ids, ", "))
}

// Commit implements exec.TwoPhaseSink: it commits, oldest first, every
// transaction pre-committed for a checkpoint ≤ id (those of aborted
// checkpoints included: their rows precede barrier id), bumping each one's
// epoch for the slot's next transaction. Commit of an older checkpoint,
// or a repeated Commit, does nothing.
func (s *Sink) Commit(id uint64) error {
	c := &s.ck
	if c.mode != ckExactlyOnce {
		return nil
	}
	for len(c.pending) > 0 && c.pending[0].txn.Checkpoint <= id {
		if err := s.commitSlot(c.pending[0].slot, true); err != nil {
			return err
		}
		c.pending = append(c.pending[:0], c.pending[1:]...)
	}
	return nil
}

// commitSlot commits the transaction of a slot, if it holds anything; with
// next, the epoch is bumped for the slot's next transaction. Nothing may be
// in flight in it.
func (s *Sink) commitSlot(slot int, next bool) error {
	t := s.ck.slots[slot]
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

// finishTxn commits everything at end of input: the pending transactions,
// oldest first, then the open one.
func (s *Sink) finishTxn() error {
	c := &s.ck
	err := s.prod.Flush()
	for err == nil && len(c.pending) > 0 {
		if err = s.commitSlot(c.pending[0].slot, false); err == nil {
			c.pending = append(c.pending[:0], c.pending[1:]...)
		}
	}
	if err == nil {
		err = s.commitSlot(c.cur, false)
	}
	if err != nil {
		s.prod.Abort()
		s.abortTxn()
		return err
	}
	return s.prod.Close()
}

// abortTxn aborts the open transaction, best effort; pre-committed ones
// are left to recovery (see Abort). The producer is stopped already.
func (s *Sink) abortTxn() {
	t := s.ck.slots[s.ck.cur]
	pid, epoch, parts, _ := t.snapshot()
	if parts == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.f.abortWaitTime)
	defer cancel()
	_, _ = s.pp.cl.EndTxn(ctx, &kafkago.EndTxnRequest{TransactionalID: t.txid, ProducerID: int(pid), ProducerEpoch: int(epoch), Committed: false})
}
