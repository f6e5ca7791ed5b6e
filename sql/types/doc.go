// Package types is Weir's leaf package: SQL types, values, rows, batches and
// row kinds. Every other package may import it; it imports nothing of Weir.
//
// # Values
//
// A Value is a small struct, not an interface, so that rows are flat arrays
// and per-row work does not allocate. The payload lives in two fields:
//
//	Kind      Int, BigInt, Timestamp, Bool, Decimal use I; Double uses I as
//	          IEEE-754 bits (see F); Varchar uses S; Null uses neither.
//	Timestamp milliseconds since the Unix epoch, UTC (TIMESTAMP(3)).
//	Decimal   I is the unscaled value, Scale the number of fraction digits
//	          (DECIMAL(p,s) with p ≤ 18 fits; wider precisions are refused
//	          at bind time).
//
// # Batches
//
// Operators exchange *Batch values. A batch is owned by whoever holds it:
// once emitted, the producer must not touch it again, and the consumer may
// keep its rows (rows are never reused by the runtime). Kinds is nil for an
// append-only batch (every row +I) and parallel to Rows otherwise.
package types
