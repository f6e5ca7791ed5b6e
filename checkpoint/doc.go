// Package checkpoint holds two parts of Weir's Chandy-Lamport checkpoints
// (DESIGN §6): the checkpoint coordinator and checkpoint storage. It
// imports nothing of Weir's.
//
// # What is here
//
// Coordinator (coordinator.go) is a pure state machine in the style of
// etcd-io/raft: no goroutines, no clock, no I/O. Events — Tick(now),
// Ack, Decline, Savepoint, StopWithSavepoint, CompletionFailed — return
// actions — Trigger, Complete, Abort, Fail, Stop — that the caller executes in
// order. It implements interval, timeout, max concurrent checkpoints, min
// pause after a completion, tolerable consecutive failures, a full checkpoint
// every k (incremental ones carry their parent chain), subsumption of older
// pending checkpoints by a newer completed one, savepoints and stop with
// savepoint. Its behaviour is specified by the scripts in
// testdata/coordinator (run with `go test ./checkpoint -rewrite` to
// regenerate, then review the diff).
//
// Driver (driver.go) is the thin shell: Run owns the coordinator on one
// goroutine, ticks it from an injected Clock, takes events from any goroutine
// through non-blocking methods (Ack, Decline, Savepoint, StopWithSavepoint)
// and executes actions through Callbacks. It returns on context cancellation,
// on Fail (*FailError) or after stop with savepoint, leaving no goroutine
// behind.
//
// Storage (storage.go) is checkpoint storage behind an interface;
// DirStorage implements it on a directory:
//
//	DIR/chk-<id>/<state files>, _metadata
//	DIR/savepoints/sp-<id>-<20060102T150405Z>/<state files>, _metadata
//
// _metadata is JSON (Metadata: id, kind, full, trigger and completion time,
// per-subtask sync/async/alignment durations and bytes, state handles,
// source positions, parent chain, bytes full and incremental) written
// atomically: temp file, fsync, rename, fsync of the directory. A directory
// without _metadata is incomplete: never restored, removed by
// CleanupIncomplete. Retain keeps the newest N complete checkpoints plus
// every parent they need; nothing deletes checkpoints on close (they are
// externalized) and savepoints are deleted only by an explicit Delete.
// Latest falls back past corrupt or partial checkpoints with a
// *FallbackWarning naming every problem. Paths in metadata are relative, so
// a savepoint directory can be moved and opened with Open.
//
// # Worked example
//
//	st, err := checkpoint.NewDirStorage(dir)           // clear error if not writable
//	coord, err := checkpoint.NewCoordinator(cfg, clock.Now())
//	var d *checkpoint.Driver
//	d = checkpoint.NewDriver(coord, checkpoint.RealClock{}, 100*time.Millisecond, checkpoint.Callbacks{
//		OnTrigger:  func(t checkpoint.Trigger) { /* sources: record positions, inject Barrier(t.ID) */ },
//		OnComplete: func(c checkpoint.Complete) error {
//			if err := st.Commit(locs[c.ID], c.Metadata); err != nil {
//				return err // the coordinator aborts it and counts a failure
//			}
//			/* notify: sinks commit */
//			_, err := st.Retain(3, c.InUse...) // keep parents of pending ones
//			return err
//		},
//		OnAbort: func(a checkpoint.Abort) { st.Discard(locs[a.ID]); /* sinks abort */ },
//	})
//	go d.Run(ctx)
//	// each subtask, when its async phase has written its files:
//	//   h, _ := st.WriteFile(loc, "agg-0.delta", r)
//	//   d.Ack(id, checkpoint.TaskID{Vertex: "agg", Subtask: 0}, checkpoint.AckInfo{Handles: []checkpoint.StateHandle{h}, ...})
//
// # Who uses it
//
// exec/checkpointing.go runs a Driver per checkpointing job: OnTrigger
// creates the directory and asks the sources to inject barriers; subtasks
// ack (sources with positions, sinks with their pre-commit handles, the
// state writer with the snapshot file); OnComplete adds the job's
// properties (plan fingerprint, key groups, mode) to Metadata.Job, commits
// it, acknowledges the epoch to the state DB, signals the sinks to commit
// and retains the newest N. cmd/weir lists them (weir checkpoints DIR).
//
// Known limits: StateHandle has a size but no checksum, so a file
// corrupted in place with its size intact is detected only when the
// snapshot's own frame checksums are read at restore; state file names are
// flat (no subdirectories); a stop-with-savepoint whose metadata cannot be
// persisted ends Run with *StopError instead of letting the job go on
// checkpointing.
package checkpoint
