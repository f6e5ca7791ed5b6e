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
// Not wired yet: no operator keeps its state here (they still keep it in
// memory); operator and state-name ids are not yet derived from the plan;
// the checkpoint coordinator, barriers and checkpoint storage (issue #4) do
// not call Commit/Snapshot/Acknowledge/Restore yet; the async phase is not
// throttled; cache bounds are per table, not a process-wide budget.
package state
