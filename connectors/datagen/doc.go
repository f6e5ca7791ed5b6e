// Package datagen is the 'datagen' connector: a source of random rows for
// any schema, for tests, demos and benchmarks. It is a source only.
//
// # Determinism
//
// Row r (0, 1, 2, ...) is a function of ('seed', r) alone: each column draws
// from a splitmix64 generator seeded by a hash of the seed, r and the
// column's name (so adding, removing or reordering columns does not change
// the values of the others). Subtask i of p generates the rows r ≡ i (mod p)
// in increasing order, so the table's contents are the same at every
// parallelism. Rows(t, from, to) computes rows [from, to) without the
// runtime, for test oracles.
//
// # Options
//
//	'rows-per-second'   wall-clock rows/s over the whole source; absent or 0 = unthrottled
//	'number-of-rows'    total rows over all subtasks; absent = unbounded
//	'seed'              integer, default 0
//
// and per column, 'fields.<column>.<property>':
//
//	kind       'random' (default) or 'sequence' (default for TIMESTAMP columns)
//	null-rate  probability in [0, 1] that a value is NULL (default 0)
//	min, max   random numbers/timestamps: inclusive bounds (DOUBLE: [min, max))
//	length     random VARCHAR: number of characters (default 10, at most n for VARCHAR(n))
//	start, end sequence: first and last value (end optional); the value of row r is start + r
//	base       TIMESTAMP sequence: the first timestamp (default '2026-01-01 00:00:00')
//
// A property that does not apply to a column's type and kind, or a column
// the table does not have, is an error naming it.
//
// # Values by type
//
//	BOOLEAN       random true/false (no sequence)
//	INT, BIGINT   random: uniform in [min, max], default the type's whole range;
//	              sequence: start + r
//	DOUBLE        random: uniform in [min, max), default [0, 1); sequence: start + r
//	DECIMAL(p,s)  random: uniform over the representable values in [min, max]
//	              (written as decimals, e.g. '0.05'), default the type's range;
//	              sequence: start + r, whole numbers
//	VARCHAR(n)    random: 'length' characters from [a-z0-9] (substrings of one
//	              prebuilt random text: no allocation per value); sequence: the
//	              decimal digits of start + r
//	TIMESTAMP(3)  sequence (default): base + r milliseconds, so that event time
//	              advances with the row number and watermarks work (monotone
//	              within each subtask); random: uniform in [min, max], default
//	              the year after the base
//
// # Bounded tables
//
// The source is bounded when 'number-of-rows' is set or a sequence column
// has an end (an INT or DECIMAL sequence without an end stops where the type
// does). The table then has min('number-of-rows', end - start + 1 of every
// such sequence) rows; each subtask calls SplitDone(0) and returns after its
// last row. Each subtask is one split (split 0; see Checkpoints for the
// splits a restore at another parallelism adds) and emits batches of up to
// 1024 rows; with 'rows-per-second' it paces its share (rate/p rows/s),
// handing over a partial batch before it sleeps.
//
// # Checkpoints
//
// The source is an exec.Resumable. Subtask i of p names its split "i/p" and
// emits every batch with exec.EmitAt; the position is the next row number of
// the split (numbers ≡ i mod p): every row of the split below it has been
// delivered, none at or above it. Since a row is a function of its number
// alone, resuming from a position yields exactly the rows (the TIMESTAMP
// sequence included) that the uninterrupted run produced after it, with or
// without a rate (pacing changes only when rows are handed over).
//
// Which numbers a subtask owns depends on the parallelism, so a restore at
// another parallelism p' cannot reuse the old splits as they are. With h the
// largest recorded position, each old split "i/p" at position x becomes a
// closing split "i/p<h", which delivers the numbers of its class in [x, h),
// and the new splits "j/p'" start at h: every number below h belongs to one
// old class and every number above to one new class, so each is delivered
// exactly once. Closing splits are handed out among the new subtasks,
// registered with exec.AddNamedSplit, and run to their end before the
// subtask's own split (they hold its watermark back meanwhile); one still
// running at the next checkpoint is recorded under its name and resumed like
// any split, at any parallelism. The runtime must record the positions of
// finished splits too (a finished split would otherwise start again).
//
// # Example
//
//	CREATE TABLE orders (
//	    id BIGINT, customer INT, amount DECIMAL(10,2), note VARCHAR(16),
//	    ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
//	) WITH (
//	    'connector' = 'datagen',
//	    'number-of-rows' = '100000',
//	    'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
//	    'fields.customer.min' = '1', 'fields.customer.max' = '1000',
//	    'fields.amount.min' = '0.01', 'fields.amount.max' = '500',
//	    'fields.note.length' = '16', 'fields.note.null-rate' = '0.2'
//	);
package datagen
