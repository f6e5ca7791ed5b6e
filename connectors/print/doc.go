// Package print is the 'print' connector: a sink that writes each row as a
// line of text, for trying queries out and for tests. Importing the
// package registers it.
//
// # Design
//
// Each row prints as its row kind followed by its values, like Flink's print
// sink:
//
//	+I[1001, 2026-01-01 00:00:00.000, foo]
//	-U[1001, 3]
//	+U[1001, 4]
//
// Values print the way SQL clients show them (types.Value.String): NULL as
// NULL, timestamps as "2006-01-02 15:04:05.000", decimals with their scale.
// With an identifier each line starts with "id> "; with parallelism > 1 with
// the 1-based subtask number, "2> ", or "id:2> " when both apply. Each
// batch is formatted into one buffer and written with a single call under a
// package mutex, so lines from parallel subtasks never interleave. Output
// goes to the package variable Output (os.Stdout by default; tests replace
// it). The sink accepts updating queries. It cannot be read.
//
// # Options
//
//	option             default  meaning
//	print-identifier   (none)   prefix every line with "<identifier>> "
//	standard-error     false    write to os.Stderr instead of Output
//
// # Example
//
//	CREATE TABLE out (auction BIGINT, bids BIGINT) WITH (
//	  'connector' = 'print',
//	  'print-identifier' = 'counts'
//	);
//	INSERT INTO out SELECT auction, COUNT(*) FROM bids GROUP BY auction;
//
// prints lines such as "counts> +I[1001, 1]", "counts> -U[1001, 1]",
// "counts> +U[1001, 2]".
package print
