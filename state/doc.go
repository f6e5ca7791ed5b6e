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
// working state in memory. In the synchronous phase of checkpoint n they
// capture what belongs to it (copy-on-write; full or only the entries
// changed since the previous capture) and write it into a Changes arena
// between later batches. The runtime's state writer then writes the arenas
// as the checkpoint's state file with WriteArenas (snapshot format 2: the
// arenas' own bytes, one checksummed frame per chunk; an incremental file
// holds every arena since the parent) — a sequential write, no Badger
// call, so the asynchronous phase costs a fraction of streaming Badger.
// Arenas grow by chunks, never by copying, and the runtime recycles the
// chunks of arenas no checkpoint needs any more (ChunkPool, with
// reference-counted arenas), so a capture allocates nothing in a steady
// state. A restore
// rebuilds a DB from full + deltas of either format (Restore) and each
// operator subtask reads its key-group range back (ScanOperator), whatever
// parallelism wrote it. Keys written this way use state name 0.
//
// State larger than memory (spill.go): a job run opens one SpillStore, a
// Badger DB in normal mode in a scratch directory, and gives each spilling
// operator subtask a SpillSpace in it (a key prefix, buffered writes that
// Get reads back, snapshots for full captures). The operator decides what
// to spill and keeps its checkpoint bookkeeping in the spilled values
// (exec/groupagg_spill.go); checkpoints still come from the operators'
// captures, never from the store. MemoryAvailable sizes the default
// budget.
//
// Not used by the runtime yet: Table (the write-back cache with spilling
// and TTL), DB.Commit/Apply/Snapshot (the path where Badger holds state
// while the job runs and checkpoints stream from it).
package state
