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
