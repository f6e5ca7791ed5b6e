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
package exec
