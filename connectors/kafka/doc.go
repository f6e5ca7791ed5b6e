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
//   - Transactional ids: '<sink.transactional-id-prefix>-<subtask>'
//     (default prefix 'weir-<topic>'); one transaction at a time per
//     subtask. kafka-go has no transactional producer, so the sink uses
//     its low-level calls: InitProducerID, AddPartitionsToTxn before the
//     first record of a partition in a transaction, RawProduce with record
//     batches encoded by kafka-go and then patched (transactional
//     attribute, producer id, epoch, base sequence; CRC-32C recomputed),
//     and EndTxn. Sequence numbers make a retried batch a duplicate the
//     broker drops.
//   - PreCommit(n) flushes the open transaction and waits for every ack,
//     then returns a handle, JSON: transactional id, producer id, epoch,
//     checkpoint id, topic and record count. Rows written after it are held
//     in memory, not sent, until Commit.
//   - Commit(n), once checkpoint n (or a later one) is complete, ends the
//     transaction with EndTxn(commit), bumps the producer epoch with
//     InitProducerID(id, epoch) (KIP-360) and sends the held rows into the
//     next transaction. The bump gives every transaction its own
//     (producer id, epoch), so a handle can never commit a later
//     transaction of the same id. Commit of an older checkpoint, or a
//     repeated Commit, does nothing.
//   - An aborted checkpoint: the runtime never calls Commit(n), so the
//     pre-committed transaction stays open; at the next PreCommit(n+1) the
//     held rows join it and the handle names the same transaction with id
//     n+1; Commit(n+1) commits it all. This is exactly-once only if Commit(n)
//     for a checkpoint that did complete arrives before Barrier(n+1) reaches
//     the sink; otherwise a restore from n would commit rows of n+1 too.
//   - Held rows are bounded by 256 MiB (maxHeldBytes, record bytes + 64 per
//     record; Sink.Held reports them). Commit is called on the same
//     goroutine as Write, so Write cannot wait for it: past the bound Write
//     fails the job (restored from the last checkpoint) rather than grow.
//   - Finish commits the open transaction (held rows included). Abort
//     aborts it, best effort, unless it was pre-committed: such a
//     transaction may belong to a completed checkpoint whose Commit has not
//     arrived, so it is left to recovery.
//   - StartCheckpointing(mode, recovered) recovers: the transaction of each
//     recovered handle is committed with EndTxn(commit) and the recorded
//     producer id and epoch, without InitProducerID (which would abort it).
//     No error: committed (or already committed, a retry). PRODUCER_FENCED /
//     INVALID_PRODUCER_EPOCH or INVALID_PRODUCER_ID_MAPPING: the id has
//     moved to a later epoch or expired, so the transaction was completed
//     earlier (committed by Commit or an earlier recovery — both commit
//     before any bump). INVALID_TXN_STATE: it was aborted; the restore fails
//     saying its records are lost. Then InitProducerID(-1, -1) for this
//     subtask's id and every recovered subtask's id aborts whatever they
//     left open and fences zombies. A fenced producer (PRODUCER_FENCED or
//     INVALID_PRODUCER_EPOCH on produce, AddPartitionsToTxn or EndTxn) fails
//     the job at once with a *ProducerFencedError, never retried.
//   - Limits: a transaction open longer than 'sink.transaction-timeout'
//     (default 15 min, Kafka's default transaction.max.timeout.ms) is
//     aborted by the broker with a new epoch; if that happens to a
//     pre-committed transaction (a job down longer than the timeout), its
//     output is lost and recovery cannot tell it from a committed one.
//     Transactional ids of subtasks beyond both the old and new parallelism
//     (a parallelism several restores ago) are not fenced; a transaction
//     they left open holds read_committed readers back until it times out.
//     Read_committed consumers see the output when a checkpoint completes.
package kafka
