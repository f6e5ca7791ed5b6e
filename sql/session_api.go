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

// TextSink is implemented by sinks that tell a text result (EXPLAIN's plan)
// apart from a notice: Text is where a person or a script expects the
// result (standard output), Message where notices go. Sinks without it
// receive text results through Message.
type TextSink interface {
	Text(text string) error
}

func sendText(rs ResultSink, text string) error {
	if t, ok := rs.(TextSink); ok {
		return t.Text(text)
	}
	return rs.Message(text)
}
