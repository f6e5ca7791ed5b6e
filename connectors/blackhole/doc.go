// Package blackhole is the 'blackhole' connector: a sink that discards every
// row, for benchmarks that should measure the query and not the output.
// Importing the package registers it.
//
// # Design
//
// Write only adds the batch's row count to three atomic counters: the
// sink's (Sink.Rows), its factory's (SinkFactory.Rows, over all subtasks)
// and the process's (TotalRows, for callers that only submit SQL). Every
// row kind is accepted, so updating queries can run into it. Finish and
// Abort do nothing. A blackhole cannot be read.
//
// # Options
//
// None besides 'connector'.
//
// # Example
//
//	CREATE TABLE sink (auction BIGINT, total DECIMAL(18,2)) WITH ('connector' = 'blackhole');
//	INSERT INTO sink SELECT auction, SUM(price) FROM bids GROUP BY auction;
package blackhole
