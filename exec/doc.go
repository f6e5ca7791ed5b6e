// Package exec is Weir's runtime: a Job is a DAG of vertices, each run as
// parallel subtasks (one goroutine each) that exchange Messages — batches,
// watermarks, barriers and end-of-stream — over bounded channels.
//
// Operators implement one method, Process; event-time handling, end of
// input and resource release are separate one-method interfaces
// (WatermarkHandler, Finisher, Closer) found by type assertion. The runtime,
// not the operator, combines watermarks across inputs and (later) aligns
// checkpoint barriers.
package exec
