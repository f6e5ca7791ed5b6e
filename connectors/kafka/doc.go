// Package kafka is the Kafka connector ('connector' = 'kafka'), built on
// github.com/segmentio/kafka-go.
//
// The source assigns partitions itself (subtask i of p reads partitions j
// with j mod p == i; no consumer-group assignment), fetches each partition
// with fetch requests of its own so that read_committed really filters
// aborted transactions and control records, and tracks the next offset of
// every partition (Source.Offsets) as the source's state. Offsets are
// committed to 'properties.group.id' for monitoring only.
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
package kafka
