package sql

import (
	"github.com/weirsql/weir/sql/types"
)

// ResultSink receives what statements produce. Calls come from one goroutine
// at a time, in order: for a query, Columns once, then Rows for each batch
// (a nil batch never arrives), then Done.
type ResultSink interface {
	// Columns announces a result's columns; changelog says rows carry kinds
	// other than +I (an updating query).
	Columns(cols []types.Column, changelog bool) error
	// Rows delivers a batch; the sink may keep it.
	Rows(b *types.Batch) error
	// Done ends one statement's result.
	Done() error
	// Message reports a statement without rows ("Table bids created.") or a
	// text result such as EXPLAIN's plan.
	Message(text string) error
}
