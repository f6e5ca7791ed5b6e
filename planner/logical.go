package planner

import (
	"fmt"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// Node is a logical plan node. The set is closed: every switch over nodes
// in this package handles each type below.
type Node interface {
	Schema() *types.Schema
	Children() []Node
	node()
}

// Scan reads a table through its connector.
type Scan struct {
	Table *connectors.Table
	// Cols are the table columns read, in output order (projection
	// pushdown narrows them). Nil means all.
	Cols []int
	Sch  types.Schema
	// Late names the table receiving rows that arrive after their windows
	// fired ('late-data' table option); empty = drop (counted).
	Late string
}

// Values produces constant rows (SELECT without FROM).
type Values struct {
	Rows [][]expr.Expr
	Sch  types.Schema
}

// Filter keeps rows where Pred is true.
type Filter struct {
	Input Node
	Pred  expr.Expr
}

// Project computes Exprs per row.
type Project struct {
	Input Node
	Exprs []expr.Expr
	Sch   types.Schema
}

// WindowAgg is a keyed event-time (or processing-time) window aggregation.
// Output: [keys..., window_start, window_end, aggs...].
type WindowAgg struct {
	Input  Node
	Keys   []int
	Window exec.WindowSpec
	Aggs   []exec.AggCall
	Sch    types.Schema
	// Proctime: the window runs on processing time.
	Proctime bool
}

// Aggregate is a non-windowed GROUP BY: an updating (changelog) result.
// Output: [keys..., aggs...].
type Aggregate struct {
	Input Node
	Keys  []int
	Aggs  []exec.AggCall
	Sch   types.Schema
}

// Union is UNION ALL of inputs with the same schema.
type Union struct {
	Inputs []Node
}

// Rank is ROW_NUMBER(), RANK() or DENSE_RANK() OVER (PARTITION BY ...
// ORDER BY ...) kept to the rank numbers Lo..Hi: Top-N and deduplication.
// Output: the input columns, then the rank number (BIGINT). RankPlan says
// which operator runs it.
type Rank struct {
	Input     Node
	Func      exec.RankFunc
	Partition []int
	Order     []exec.SortKey
	Lo, Hi    int64 // 1 <= Lo <= Hi
	// RankUnused: nothing above reads the rank number (set by pruning).
	// The column is then NULL, and a row whose rank changes but stays in
	// Lo..Hi is not an update.
	RankUnused bool
	// Window: PARTITION BY holds window_start and window_end of an
	// event-time windowed input; WindowEnd is window_end's input column.
	Window    bool
	WindowEnd int
	// OrderTime says whether the only ORDER BY key is a time attribute.
	OrderTime TimeAttr
	Sch       types.Schema
}

// Over is aggregate functions OVER (PARTITION BY ... ORDER BY ... frame):
// COUNT, SUM, AVG, MIN, MAX over the rows of a partition up to the current
// row, all calls over the same window. Output: the input columns, then one
// column per call. OverPlan says which mode runs it.
type Over struct {
	Input     Node
	Partition []int
	Order     []exec.SortKey
	// Preceding is n of ROWS BETWEEN n PRECEDING AND CURRENT ROW, -1 for
	// UNBOUNDED PRECEDING; Range: RANGE BETWEEN UNBOUNDED PRECEDING AND
	// CURRENT ROW (the row's peers are in its frame).
	Preceding int64
	Range     bool
	Aggs      []exec.AggCall
	// OrderTime says whether the only ORDER BY key, ascending, is a time
	// attribute.
	OrderTime TimeAttr
	Sch       types.Schema
	// Errorf reports a problem at the OVER's place in the SQL text (nil: a
	// plain error).
	Errorf func(format string, args ...any) error
}

// OverPlan is how an Over runs over an input that is (or is not) a
// changelog:
//
//	ORDER BY the event-time column ASC, append-only input   event-time, append-only
//	ORDER BY PROCTIME() ASC, append-only input               processing-time, append-only
//	ORDER BY PROCTIME() over an updating input               refused
//	anything else                                            updating
func OverPlan(o *Over, inputUpdating bool) (exec.OverMode, error) {
	switch {
	case o.OrderTime == ProcTime && inputUpdating:
		return 0, o.errorf("an OVER window ordered by PROCTIME() needs an append-only input; this one is updating (a retraction could not find its row's processing time)")
	case o.OrderTime == ProcTime:
		return exec.OverProcTime, nil
	case o.OrderTime == EventTime && !inputUpdating:
		return exec.OverEventTime, nil
	}
	return exec.OverUpdating, nil
}

func (o *Over) errorf(format string, args ...any) error {
	if o.Errorf != nil {
		return o.Errorf(format, args...)
	}
	return fmt.Errorf(format, args...)
}

// TimeAttr is the kind of time a column carries.
type TimeAttr uint8

const (
	NoTime    TimeAttr = iota
	EventTime          // the column a WATERMARK is declared on
	ProcTime           // PROCTIME()
)

// RankPlan is how a Rank runs over an input that is (or is not) a
// changelog: the operator's mode and name, and whether equal rows rank the
// later first.
//
//	Window over an append-only input          WindowTopN, append-only
//	ROW_NUMBER, rank 1, ORDER BY time ASC     Deduplicate keep=first, append-only
//	  over an append-only input
//	ROW_NUMBER, rank 1, ORDER BY time DESC    Deduplicate keep=last, updating
//	anything else                             TopN, updating
func RankPlan(r *Rank, inputUpdating bool) (mode exec.TopNMode, op string, newerFirst bool) {
	if r.Window && !inputUpdating {
		return exec.TopNWindow, "WindowTopN", false
	}
	if r.Func == exec.RankRowNumber && r.Lo == 1 && r.Hi == 1 && len(r.Order) == 1 && r.OrderTime != NoTime {
		if r.Order[0].Desc {
			return exec.TopNUnbounded, "Deduplicate", true
		}
		if !inputUpdating {
			return exec.TopNKeepFirst, "Deduplicate", false
		}
	}
	return exec.TopNUnbounded, "TopN", false
}

// Join joins two inputs. Its output is the left input's columns followed
// by the right input's. Which operator runs it (a regular, interval,
// window or lookup join) is decided when the physical plan is built, from
// the condition and what the binder knows about the inputs' time.
type Join struct {
	Left, Right Node
	Kind        exec.JoinKind
	// Cond is the ON condition (with WHERE conjuncts merged into an inner
	// join by Optimize), over [left columns..., right columns...]; nil is
	// TRUE.
	Cond expr.Expr
	Sch  types.Schema
	// LeftTime and RightTime are the inputs' event-time columns (the
	// column a WATERMARK follows, kept through projections), -1 if none.
	LeftTime, RightTime int
	// LeftWinEnd and RightWinEnd are the window_end columns of windowed
	// inputs (a window aggregate, a TUMBLE table function), -1 if none.
	LeftWinEnd, RightWinEnd int
	// Lookup: Right is a bounded table read once, before the job starts,
	// into an index (JOIN t FOR SYSTEM_TIME AS OF ...).
	Lookup bool
	// Errorf reports a problem with this join at its place in the SQL text
	// (nil: a plain error).
	Errorf func(format string, args ...any) error
}

// Sort orders a bounded result and optionally limits it. It is only valid as
// the top of a query whose output is collected by the client.
type Sort struct {
	Input  Node
	Keys   []SortKey
	Limit  int64 // -1 = none
	Offset int64
}

// SortKey is one ORDER BY item.
type SortKey struct {
	Col  int
	Desc bool
}

func (n *Scan) Schema() *types.Schema      { return &n.Sch }
func (n *Values) Schema() *types.Schema    { return &n.Sch }
func (n *Filter) Schema() *types.Schema    { return n.Input.Schema() }
func (n *Project) Schema() *types.Schema   { return &n.Sch }
func (n *WindowAgg) Schema() *types.Schema { return &n.Sch }
func (n *Aggregate) Schema() *types.Schema { return &n.Sch }
func (n *Union) Schema() *types.Schema     { return n.Inputs[0].Schema() }
func (n *Join) Schema() *types.Schema      { return &n.Sch }
func (n *Sort) Schema() *types.Schema      { return n.Input.Schema() }
func (n *Rank) Schema() *types.Schema      { return &n.Sch }
func (n *Over) Schema() *types.Schema      { return &n.Sch }

func (n *Scan) Children() []Node      { return nil }
func (n *Values) Children() []Node    { return nil }
func (n *Filter) Children() []Node    { return []Node{n.Input} }
func (n *Project) Children() []Node   { return []Node{n.Input} }
func (n *WindowAgg) Children() []Node { return []Node{n.Input} }
func (n *Aggregate) Children() []Node { return []Node{n.Input} }
func (n *Union) Children() []Node     { return n.Inputs }
func (n *Join) Children() []Node      { return []Node{n.Left, n.Right} }
func (n *Sort) Children() []Node      { return []Node{n.Input} }
func (n *Rank) Children() []Node      { return []Node{n.Input} }
func (n *Over) Children() []Node      { return []Node{n.Input} }

func (*Scan) node()      {}
func (*Values) node()    {}
func (*Filter) node()    {}
func (*Project) node()   {}
func (*WindowAgg) node() {}
func (*Aggregate) node() {}
func (*Union) node()     {}
func (*Join) node()      {}
func (*Sort) node()      {}
func (*Rank) node()      {}
func (*Over) node()      {}

// Updating reports whether n's output is a changelog (contains -U/+U/-D).
func Updating(n Node) bool {
	switch t := n.(type) {
	case *Aggregate:
		return true
	case *Scan, *Values:
		return false
	case *WindowAgg:
		return false
	case *Rank:
		mode, _, _ := RankPlan(t, Updating(t.Input))
		return mode == exec.TopNUnbounded
	case *Over:
		mode, err := OverPlan(t, Updating(t.Input))
		return err != nil || mode == exec.OverUpdating
	case *Join:
		// outer joins retract padded rows; interval and window joins
		// (append-only) are only recognised when the physical plan is built
		return t.Kind != exec.JoinInner || Updating(t.Left) || Updating(t.Right)
	case *Union:
		for _, c := range t.Inputs {
			if Updating(c) {
				return true
			}
		}
		return false
	default:
		for _, c := range n.Children() {
			if Updating(c) {
				return true
			}
		}
		return false
	}
}

// Bounded reports whether every source under n ends by itself.
func Bounded(n Node) (bool, error) {
	if s, ok := n.(*Scan); ok {
		f, err := sourceFactory(s)
		if err != nil {
			return false, err
		}
		return f.Bounded(), nil
	}
	for _, c := range n.Children() {
		b, err := Bounded(c)
		if err != nil || !b {
			return b, err
		}
	}
	return true, nil
}

func sourceFactory(s *Scan) (connectors.SourceFactory, error) {
	c, err := connectors.Lookup(s.Table.Options["connector"])
	if err != nil {
		return nil, err
	}
	return c.NewSource(s.Table)
}
