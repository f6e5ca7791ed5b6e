// Package state holds Weir's keyed operator state in Badger (DESIGN §5).
//
// One DB per process (Open, Restore), opened in managed mode: the Badger
// version of a write is the checkpoint epoch it belongs to. Keys are
// [operator u32][state name u16][key group u16][escaped user key][namespace]
// (EncodeKey/DecodeKey). A Table is one operator's named state: Get/Put/Delete
// through a bounded write-back cache (evicted dirty entries spill into the
// epoch's WriteBatch), Scan of all namespaces of a key, DeleteRange for fired
// windows, ScanGroups/ExpireGroups over key-group ranges, optional TTL judged
// against a caller-set time.
//
// Checkpoints: Table.Commit / DB.Commit is the synchronous phase (dirty
// entries → batch → Flush, switch to epoch+1); DB.Snapshot is the
// asynchronous phase (a NewStreamAt(epoch) stream with SinceTs = since,
// deletions carried as tombstones in deltas, checksummed frames and a
// trailer); DB.Acknowledge raises Badger's discard ts, never above the since
// of a snapshot in flight; Restore rebuilds a fresh directory from a full
// snapshot (StreamWriter) and deltas (managed write batches), filtered by key
// group for restores at another parallelism.
//
// How the runtime uses it (exec/checkpointing.go): operators keep their
// working state in memory and, in the synchronous phase of checkpoint n,
// write the entries they changed since the previous checkpoint into a
// Changes arena (no Badger call); the runtime's state writer applies every
// arena at version n (DB.Apply) and, once all stateful subtasks' arenas of n
// are in, streams DB.Snapshot(n, since parent) into the checkpoint
// directory. A restore rebuilds the DB from full + deltas (Restore) and each
// operator subtask reads its key-group range back (ScanOperator), whatever
// parallelism wrote it. Keys written this way use state name 0.
//
// Not used yet: Table (the write-back cache with spilling and TTL) is
// tested but no operator reads its state from Badger while running, so
// state must fit in memory; the asynchronous phase is not throttled; cache
// bounds are per table, not a process-wide budget.
package state
