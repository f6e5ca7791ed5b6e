// Package kafka is the Kafka connector ('connector' = 'kafka'), built on
// github.com/segmentio/kafka-go.
//
// # Source
//
// The source assigns partitions itself (subtask i of p reads partitions j
// with j mod p == i; no consumer-group assignment), fetches each partition
// with fetch requests of its own so that read_committed really filters
// aborted transactions and control records (kafka-go's Reader does not),
// and tracks the next offset of every partition (Source.Offsets). Offsets
// are committed to 'properties.group.id' for monitoring only.
//
// Checkpoints (exec.Resumable): split i is partition Partitions()[i],
// named by its number ("3"). Every batch is emitted with exec.EmitAt and
// the offset after its last record; records that give no rows (skipped or
// dead-lettered bad records, aborted transactional records, commit/abort
// markers) move the position with exec.SetPosition, and so does the start
// offset of every partition. Partitions discovered while running are added
// with exec.AddNamedSplit. Resume takes, from the positions of all old
// subtasks, those of the partitions this subtask owns (so a restore at
// another parallelism works) as start offsets, overriding the startup mode;
// partitions without a position start as configured. When Run starts it
// checks every such offset against the partition's log-start offset and
// high watermark and fails with an *OffsetGoneError ("kafka source orders:
// checkpoint offset 120 of partition 2 is no longer in the topic (available
// 500..900) ...") rather than skip or re-read data; 'scan.offset-reset'
// does not apply to checkpointed offsets.
//
// Source options (Flink names): properties.bootstrap.servers, topic,
// format (json, csv, raw), scan.startup.mode (earliest-offset,
// latest-offset, group-offsets, timestamp, specific-offsets),
// scan.startup.timestamp-millis, scan.startup.specific-offsets
// ('partition:0,offset:42;partition:1,offset:300'), properties.group.id,
// scan.watermark.idle-timeout, scan.topic-partition-discovery.interval,
// isolation.level (read_uncommitted, read_committed), on-error (fail, skip,
// dead-letter) with dead-letter.topic, scan.bounded.mode (unbounded,
// latest-offset), scan.offset-reset (earliest, latest), topic.create and
// topic.partitions, metadata.columns with metadata.<col> (key, topic,
// partition, offset, timestamp, headers), batch-size.
//
// # Sink
//
// Each sink subtask partitions records itself (murmur2 of the key, as
// Java clients do, or round robin) and sends them with one goroutine per
// partition, at most one request in flight per partition, retrying a
// failed batch until it is acknowledged by all in-sync replicas
// (sink_producer.go). Sink options: sink.delivery-guarantee,
// sink.parallelism, sink.batch-size, sink.batch-timeout, topic.create,
// topic.partitions, topic.replication-factor, key.format, key.fields,
// sink.transactional-id-prefix, sink.transaction-timeout.
//
// Delivery (exec.TwoPhaseSink). A job without checkpoints gets at-least-
// once delivery, as does a job checkpointing at-least-once, or any job
// when the table says 'sink.delivery-guarantee' = 'at-least-once': there
// PreCommit flushes and waits for every ack, and Commit does nothing. A
// table that says 'exactly-once' fails in a job that does not checkpoint
// exactly-once. Otherwise a job checkpointing exactly-once writes through
// Kafka transactions:
//
//   - One transaction per checkpoint (as Flink's KafkaSink), on a small
//     pool of transactional ids per subtask:
//     '<sink.transactional-id-prefix>-<subtask>-<slot>' (default prefix
//     'weir-<topic>'), slot 0..15 (txnSlots). One slot holds the open
//     transaction, which the rows go into; the others hold transactions
//     pre-committed for checkpoints whose Commit has not come yet, or are
//     free. kafka-go has no transactional producer, so the sink uses its
//     low-level calls: InitProducerID, AddPartitionsToTxn before the first
//     record of a partition in a transaction, RawProduce with record
//     batches encoded by kafka-go and then patched (transactional
//     attribute, producer id, epoch, base sequence; CRC-32C recomputed),
//     and EndTxn. Sequence numbers make a retried batch a duplicate the
//     broker drops.
//   - PreCommit(n) flushes the open transaction and waits for every ack.
//     If it holds anything, it becomes pending (pre-committed for n) and
//     the rows after barrier n go at once into a new transaction on the
//     lowest free slot; nothing is held in memory. The handle, JSON
//     version 2, names every pending transaction, oldest first:
//     transactional id, producer id, epoch, the checkpoint that closed it,
//     record count. Earlier checkpoints' transactions are there because
//     their Commit had not come (the checkpoint was aborted, or a savepoint
//     or MaxConcurrent > 1 pre-committed n before n-1 completed): their
//     rows precede barrier n, so a restore from n must commit them too.
//   - Commit(m) commits, oldest first, every pending transaction
//     pre-committed for a checkpoint ≤ m: an aborted checkpoint's
//     transaction is committed with the next completed one, and rows
//     after barrier m are never in them. After each EndTxn(commit) the
//     slot's epoch is bumped with InitProducerID(id, epoch) (KIP-360) and
//     the slot is free again. The bump gives every transaction its own
//     (producer id, epoch), so a handle can never commit a later
//     transaction of the same id. Commit of an older checkpoint, or a
//     repeated Commit, does nothing.
//   - At most 15 transactions can be pending. When PreCommit finds no
//     free slot for the rows after its barrier (15 checkpoints in a row
//     pre-committed without a Commit: aborted, or triggered faster than
//     they complete) it fails, saying so, and the runtime fails the job.
//     Nothing is lost or duplicated: Abort aborts only the open
//     transaction, and the restore from the last completed checkpoint
//     commits the transactions it names and aborts the others, while the
//     source replays what followed its barrier.
//   - Finish commits the pending transactions, then the open one. Abort
//     aborts the open one, best effort, and leaves the pending ones: such
//     a transaction may belong to a completed checkpoint whose Commit has
//     not arrived, so it is left to recovery.
//   - StartCheckpointing(mode, recovered) recovers: every transaction of
//     each recovered handle is committed with EndTxn(commit) and the
//     recorded producer id and epoch, without InitProducerID (which would
//     abort it). No error: committed (or already committed, a retry).
//     PRODUCER_FENCED / INVALID_PRODUCER_EPOCH or
//     INVALID_PRODUCER_ID_MAPPING: the id has moved to a later epoch or
//     expired, so the transaction was completed earlier (committed by
//     Commit or an earlier recovery — both commit before any bump).
//     INVALID_TXN_STATE: it was aborted; the restore fails saying its
//     records are lost. Then InitProducerID(-1, -1), 8 at a time, for
//     every slot of this subtask and of every recovered subtask aborts
//     whatever they left open and fences zombies. The runtime lists among
//     the recovered handles every sink subtask index the job ever ran
//     (exec's record '_sink-parallelism.json' in the checkpoint directory), with empty handles for those the
//     checkpoint has none for, so the ids of a run at a higher parallelism
//     are fenced too. A fenced producer (PRODUCER_FENCED or
//     INVALID_PRODUCER_EPOCH on produce, AddPartitionsToTxn or EndTxn)
//     fails the job at once with a *ProducerFencedError, never retried.
//   - Version 1 handles (checkpoints of Weir before the pool: one
//     transaction at a time under '<prefix>-<subtask>') are still
//     restored: their transaction is committed as above, and when one is
//     recovered the '<prefix>-<subtask>' ids of all recovered subtasks are
//     fenced as well.
//   - Limits: a transaction open longer than 'sink.transaction-timeout'
//     (default 15 min, Kafka's default transaction.max.timeout.ms) is
//     aborted by the broker with a new epoch; if that happens to a
//     pre-committed transaction (a job down longer than the timeout), its
//     output is lost and recovery cannot tell it from a committed one.
//     The pool size is fixed: a version with fewer slots would not fence
//     the higher ones (handles record it, 'slots', and a restore fences
//     as many as the largest recovered handle says, but empty handles say
//     nothing). Each subtask's 16 ids stay known to the brokers until
//     transactional.id.expiration.ms after their last use. Read_committed
//     consumers see the output when a checkpoint completes.
package kafka
