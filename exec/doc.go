// Package exec is Weir's runtime: a Job is a DAG of vertices, each run as
// parallel subtasks (one goroutine each) that exchange Messages — batches,
// watermarks, barriers and end-of-stream — over bounded channels.
//
// Operators implement one method, Process; event-time handling, end of
// input, resource release and checkpointing are separate one-method
// interfaces (WatermarkHandler, Finisher, Closer, Snapshotter, Restorer)
// found by type assertion, as are the checkpointing capabilities of
// sources (Resumable) and sinks (TwoPhaseSink). The runtime, not the
// operator, combines watermarks across inputs and aligns checkpoint
// barriers (align.go, a pure state machine; checkpointing.go wires it to
// the coordinator, the state DB and the sinks — its file comment says who
// does what).
//
// Operators: Calc (filter and projection), WindowAgg, GroupAgg, the joins
// — Join (regular, with a changelog and a state TTL), IntervalJoin,
// WindowJoin and LookupJoin (join.go, interval_join.go, window_join.go,
// lookup_join.go; their checkpointed state in join_state.go), TopN (Top-N
// and deduplication, topn.go), OverAgg (aggregates OVER a window of rows,
// over.go; state in topn_state.go and over_state.go) — and
// ProcTimeWindow. A join has two inputs (0 left, 1 right): the runtime
// merges both into one channel and aligns their barriers like any other
// subtask's inputs; Process is told which input a batch came from.
package exec
