// Package file is the 'file' connector: it reads JSON-lines or CSV files as
// a bounded source and writes a query's output to one file, atomically.
// Importing the package registers it. Record formats come from package
// connectors/format.
//
// # Source
//
// The 'path' option names a file, a directory (its regular files, sorted by
// name; names starting with '.' or '_' are skipped as hidden or temporary,
// subdirectories are not read), or a glob pattern such as '/data/bids-*.json'.
// The files are listed once, at planning time; a missing path or a pattern
// that matches nothing is an error then.
//
// Each file is a split. With parallelism p, subtask i reads the files j
// (in sorted order) with j mod p == i, one after the other, and its split
// ids are the positions of those files in its own list. MaxParallelism is
// the number of files (1 when there are none). The source is bounded.
//
// A file is read through a 1 MiB bufio.Reader and split into lines; a line
// may end in \n or \r\n, the last line need not end in a newline, empty
// lines are skipped, and a UTF-8 byte-order mark at the start of a file is
// dropped. With 'csv.header' = 'true' the first non-empty line of every file
// is skipped. Each line is decoded into a row carved from a types.RowArena
// (one allocation per batch) and rows are emitted in batches of 'batch-size'
// rows tagged with the split. The context is checked between batches, and
// SplitDone is called at the end of each file.
//
// A record that does not decode fails the job with
//
//	file /data/bids/part-0.json line 17: column price: cannot decode "abc" as BIGINT
//
// (line numbers count every physical line, from 1). So does a record whose
// WATERMARK column is NULL ("column ts: NULL in the event-time column
// (WATERMARK FOR ts)"): it has no event time. With 'on-error' = 'skip'
// such records are dropped and counted: Source.Skipped for one subtask,
// SourceFactory.Skipped for all of them; at the end of its files a subtask
// that skipped records reports the count and the first error through
// exec.StatusAware (weir run prints it on standard error). I/O errors
// always fail.
//
// # Source positions and resume
//
// The source is an exec.Resumable. A split is named by its file's path as
// listed at planning time (so names do not depend on the parallelism), and
// its position is the byte offset of the next unread line. Every batch is
// emitted with exec.EmitAt carrying the offset just past the line of its
// last row; when the lines at the end of a file yield no rows (records
// skipped with 'on-error' = 'skip', empty lines, a header) the position is
// moved past them with exec.SetPosition. A finished file's position is its
// size.
//
// Resume receives the positions of all the source's files (a restore may be
// at another parallelism) and uses those of the subtask's own files; a file
// it does not name is read from the start. Reading resumes at the recorded
// offset: the lines before it are read but not decoded, so line numbers in
// errors and the csv.header skip stay right. Run records each restored
// position at once (exec.SetPosition), so a file whose offset is its size,
// which emits nothing and is done at once, keeps it in later checkpoints. Resume fails, naming the file,
// the offset and the size, when the offset is beyond the file's end or not
// at the start of a line (the byte before it is not '\n'):
//
//	file source: checkpoint offset 5120 is beyond the end of /x/a.jsonl (4096 bytes); the file changed since the checkpoint
//
// and when the checkpoint names a file that the path no longer lists.
//
// # Sink
//
// The sink writes one file with parallelism 1 and accepts only +I rows (it
// is append-only: updating queries are refused at plan time, and a stray
// -U/+U/-D row is an error). It writes to a temporary file
// '.<name>.tmp-<random>' in the target's directory through a 1 MiB buffer.
// Finish flushes, fsyncs, gives the file the permissions of the file it
// replaces (0644 for a new one), renames it over the target and fsyncs the
// directory. Abort removes the temporary file, so a failed or cancelled
// job leaves neither a half-written file nor a damaged older one. Records
// end in \n; with 'csv.header' = 'true' a header line of column names comes
// first. The directory must exist when the sink is created.
//
// # Sink commit protocol (checkpoints)
//
// The sink is an exec.TwoPhaseSink. A job that checkpoints calls
// StartCheckpointing before the first Write; the sink then drops its
// temporary file and writes the target file itself, still one file.
//
// On a fresh start (no handle) StartCheckpointing replaces the target by an
// empty file (the header line only, with csv.header), keeping the old
// file's permissions, through a temporary file and a rename. It removes
// every pending file of the sink subtask ('.<name>.pending-<subtask>-<n>')
// and every temporary file of the sink ('.<name>.tmp-*') left in the
// directory.
//
// Exactly-once: the rows after each barrier go to a new pending file next
// to the target. PreCommit(id) flushes, fsyncs and closes it and returns the
// handle, JSON such as
//
//	{"path":"/out/t.json","base":4096,"pending":[{"file":".t.json.pending-0-3","length":812}]}
//
// meaning: the target at this checkpoint is its first 'base' bytes (the
// committed length) followed by the listed pending files, oldest first
// (there are several when earlier checkpoints were not committed yet).
// Commit(id) appends, in order, the pending files pre-committed for
// checkpoints ≤ id at the committed length, fsyncs the target, then removes
// them; it is idempotent, and a checkpoint that was aborted is committed
// with the next. Nothing is visible in the target before its commit.
// Finish pre-commits and commits everything. Abort closes and removes the
// pending file of the rows since the last barrier and leaves committed
// content; pre-committed pending files stay, because a restore from their
// (possibly already completed) checkpoint needs them; the next
// StartCheckpointing removes them (a restore first appends those its
// checkpoint names). A job that fails and is never started again leaves
// them behind: they may hold a completed checkpoint's rows that only a
// restore appends, so the sink cannot tell that they are garbage.
//
// At-least-once: rows go straight to the target; PreCommit flushes and
// fsyncs it and returns a handle with its length as 'base'; Commit does
// nothing.
//
// Restore: StartCheckpointing with a handle makes the target exactly
// 'base' bytes followed by the pending files. Because a commit appends in
// order, fsyncs and only then removes files in order, the pending files
// that are gone are a prefix of the list and are already in the target: for
// each listed file, if it is gone the target must already hold it; if it is
// present, the target is cut at its place and it is (re)appended (this
// covers a crash before, during or after the append). The target is then
// cut to the total, which drops rows committed after the checkpoint and, in
// at-least-once mode, rows written after it (they will be produced again).
// A target shorter than the base, a pending file gone while the target does
// not hold it, or a pending file shorter than recorded is an error saying
// so. Then all other pending and temporary files are removed. Recovery is
// idempotent. A handle may be restored in either mode.
//
// The sink's parallelism stays 1: the handle of one subtask describes the
// whole file.
//
// # Options
//
//	option             used by       default  meaning
//	path               source, sink  -        file, directory or glob (source); the output file (sink)
//	format             source, sink  -        'json' (JSON lines) or 'csv'
//	csv.header         source, sink  false    skip (source) or write (sink) a header line
//	csv.delimiter      source, sink  ,        see package format
//	csv.null-literal   source, sink  (empty)  see package format
//	json.path.<col>    source        -        read a column from a nested field, see package format
//	include-op         sink          false    add the row kind to each record, see package format
//	on-error           source        fail     'fail' or 'skip' records that do not decode
//	batch-size         source        1024     rows per batch
//
// Source and sink accept the same set of options, so one table definition
// can be read from and written to.
//
// # Example
//
//	CREATE TABLE bids (
//	  auction BIGINT,
//	  bidder  BIGINT,
//	  price   BIGINT,
//	  ts      TIMESTAMP(3),
//	  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
//	) WITH (
//	  'connector' = 'file',
//	  'path' = '/data/bids',
//	  'format' = 'json',
//	  'on-error' = 'skip'
//	);
//
//	CREATE TABLE totals (auction BIGINT, total BIGINT) WITH (
//	  'connector' = 'file',
//	  'path' = '/data/out/totals.csv',
//	  'format' = 'csv',
//	  'csv.header' = 'true'
//	);
//
//	INSERT INTO totals SELECT auction, SUM(price) FROM bids GROUP BY auction;
//
// (the aggregation must be append-only, e.g. windowed, for the file sink.)
package file
