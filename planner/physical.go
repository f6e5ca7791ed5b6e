package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/exec"
	"github.com/weirsql/weir/sql/expr"
	"github.com/weirsql/weir/sql/types"
)

// Options are the settings that shape a physical plan.
type Options struct {
	Parallelism  int // default operator parallelism (SET parallelism = n)
	MaxKeyGroups int
	// StateTTL, when positive, expires the rows a regular join keeps and
	// the groups of a non-windowed GROUP BY this long after they were last
	// written ('table.exec.state.ttl').
	StateTTL time.Duration
	// StateMemory, when positive, is the memory the job's operators that
	// can spill keep their state in; the rest goes to Badger
	// (exec.JobSpec.StateMemory, 'state.memory').
	StateMemory int64
}

// PNode is one operator of the physical DAG.
type PNode struct {
	ID          int
	Op          string // Source, Calc, WindowAggregate, GroupAggregate, TopN, WindowTopN, Deduplicate, OverAggregate, Join, IntervalJoin, WindowJoin, LookupJoin, Union, Values, Sink, Collect
	Parallelism int
	Inputs      []PEdge
	Changelog   bool   // output carries -U/+U/-D rows
	State       string // what the operator keeps, "" for stateless
	Details     []string
	Schema      *types.Schema
	Chained     bool // runs in its input's goroutine (forward, same parallelism, stateless)

	vertex   *exec.Vertex
	source   func(tc *exec.TaskContext) (exec.Source, error)
	srcCfg   exec.SourceConfig
	operator func(tc *exec.TaskContext) (exec.Operator, error)
	sink     func(tc *exec.TaskContext) (exec.Sink, error)
	outputs  int
}

// PEdge is an input of a PNode.
type PEdge struct {
	From     *PNode
	Output   int
	Kind     exec.EdgeKind
	Keys     []int
	KeyNames []string
	Input    int
	// Spread: a hash on every column, chosen only so that a changelog
	// crossing a change of parallelism keeps each row's retraction behind
	// its insertion (not part of the plan's meaning: the fingerprint
	// leaves it out, as it does forward and rebalance edges).
	Spread bool
}

// Plan is a physical DAG in topological order; the last node is the sink.
type Plan struct {
	Nodes []*PNode
	opts  Options
	// Late counts rows dropped or diverted as late, per window operator.
	lateCounters []lateCounter
}

type lateCounter struct {
	op   string // the window operator, e.g. WindowAggregate#3
	dest string // "dropped" or "sent to <table>"
	n    *atomic.Int64
}

// Sink is where a query's rows go.
type Sink struct {
	// Table is set for INSERT INTO.
	Table *connectors.Table
	// Collect is set for a top-level SELECT: it receives every output batch
	// on one goroutine, in order.
	Collect func(b *types.Batch) error
}

type builder struct {
	plan *Plan
	opts Options
	// lateSinks: table name → sink node factory, for late-data side outputs
	lateTables func(name string) (*connectors.Table, error)
}

// Build turns an optimized logical plan into a physical DAG that writes to sink.
// lookup resolves table names used by 'late-data' options.
func Build(root Node, sink Sink, opts Options, lookup func(string) (*connectors.Table, error)) (*Plan, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 1
	}
	if opts.MaxKeyGroups <= 0 {
		opts.MaxKeyGroups = exec.DefaultMaxKeyGroups
	}
	b := &builder{plan: &Plan{opts: opts}, opts: opts, lateTables: lookup}
	var sortNode *Sort
	if s, ok := root.(*Sort); ok {
		sortNode = s
		root = s.Input
	}
	in, err := b.build(root)
	if err != nil {
		return nil, err
	}
	updating := in.Changelog
	switch {
	case sink.Table != nil:
		if sortNode != nil {
			return nil, fmt.Errorf("ORDER BY/LIMIT is only supported on a query whose rows go to the client")
		}
		if err := b.addTableSink(in, sink.Table, updating, 0); err != nil {
			return nil, err
		}
	default:
		collect := sink.Collect
		details := []string{}
		if sortNode != nil {
			collect, details = sortingCollector(sortNode, collect, updating)
		}
		n := b.add(&PNode{Op: "Collect", Parallelism: 1, Changelog: updating, Schema: in.Schema, Details: details})
		n.Inputs = []PEdge{b.edgeTo(in, n, nil)}
		n.sink = func(*exec.TaskContext) (exec.Sink, error) { return &collectSink{fn: collect}, nil }
	}
	b.markChains()
	return b.plan, nil
}

func (b *builder) add(n *PNode) *PNode {
	n.ID = len(b.plan.Nodes) + 1
	b.plan.Nodes = append(b.plan.Nodes, n)
	return n
}

// edgeTo picks the edge from in to n: hash on keys when given; forward when
// parallelism matches; for a changelog into several subtasks, a hash on
// every column (rebalancing would let a row's retraction overtake its
// insertion on another subtask); rebalance otherwise.
func (b *builder) edgeTo(in, n *PNode, keys []int) PEdge {
	e := PEdge{From: in}
	switch {
	case keys != nil:
		e.Kind, e.Keys = exec.Hash, keys
	case in.Parallelism == n.Parallelism:
		e.Kind = exec.Forward
	case in.Changelog && n.Parallelism > 1:
		e.Kind, e.Keys, e.Spread = exec.Hash, seqInts(len(in.Schema.Cols)), true
	default:
		e.Kind = exec.Rebalance
	}
	for _, k := range e.Keys {
		e.KeyNames = append(e.KeyNames, in.Schema.Cols[k].Name)
	}
	return e
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (b *builder) addTableSink(in *PNode, t *connectors.Table, updating bool, output int) error {
	c, err := connectors.Lookup(t.Options["connector"])
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	f, err := c.NewSink(t)
	if err != nil {
		return err
	}
	if updating && !f.AcceptsUpdates() {
		return fmt.Errorf("table %s (connector '%s') is append-only and cannot take the updating (changelog) result of this query", t.Name, t.Options["connector"])
	}
	if len(in.Schema.Cols) != len(t.Schema.Cols) {
		return fmt.Errorf("INSERT INTO %s: the query has %d columns, the table %d", t.Name, len(in.Schema.Cols), len(t.Schema.Cols))
	}
	p := b.opts.Parallelism
	if m := f.MaxParallelism(); m > 0 && p > m {
		p = m
	}
	n := b.add(&PNode{Op: "Sink", Parallelism: p, Changelog: updating, Schema: &t.Schema,
		Details: []string{"table=" + t.Name, "connector=" + t.Options["connector"]}})
	var keys []int
	if updating && len(t.PrimaryKey) > 0 {
		keys = t.PrimaryKey // keep each key's changes in order on one subtask
	}
	e := b.edgeTo(in, n, keys)
	e.Output = output
	n.Inputs = []PEdge{e}
	n.sink = func(tc *exec.TaskContext) (exec.Sink, error) { return f.Create(tc.Subtask, tc.Parallelism) }
	return nil
}

func (b *builder) build(n Node) (*PNode, error) {
	switch t := n.(type) {
	case *Scan:
		return b.buildScan(t)
	case *Values:
		rows := make([]types.Row, len(t.Rows))
		for i, r := range t.Rows {
			rows[i] = make(types.Row, len(r))
			for j, e := range r {
				v, err := e.Eval(nil)
				if err != nil {
					return nil, err
				}
				rows[i][j] = v
			}
		}
		p := b.add(&PNode{Op: "Values", Parallelism: 1, Schema: &t.Sch,
			Details: []string{fmt.Sprintf("rows=%d", len(rows))}})
		p.srcCfg = exec.SourceConfig{RowtimeCol: -1}
		p.source = func(*exec.TaskContext) (exec.Source, error) { return &valuesSource{rows: rows}, nil }
		return p, nil
	case *Filter, *Project:
		return b.buildCalc(n)
	case *WindowAgg:
		in, err := b.build(t.Input)
		if err != nil {
			return nil, err
		}
		if in.Changelog {
			return nil, fmt.Errorf("window aggregation over an updating input is not supported")
		}
		par := b.opts.Parallelism
		if len(t.Keys) == 0 {
			par = 1
		}
		details := []string{"window=" + windowString(t.Window, in.Schema)}
		if len(t.Keys) > 0 {
			details = append(details, "keys=["+colNames(in.Schema, t.Keys)+"]")
		}
		details = append(details, "aggs=["+aggString(t.Aggs, in.Schema)+"]")
		if t.Proctime {
			details = append(details, "time=processing")
		}
		p := b.add(&PNode{Op: "WindowAggregate", Parallelism: par, Schema: &t.Sch,
			State: "accumulators per key and open window; dropped when the window fires"})
		keys := t.Keys
		if keys == nil {
			keys = []int{}
		}
		p.Inputs = []PEdge{b.edgeTo(in, p, keys)}
		late := new(atomic.Int64)
		lateTable := lateTableOf(t.Input)
		dest := "dropped"
		if lateTable != "" {
			dest = "sent to " + lateTable
		}
		b.plan.lateCounters = append(b.plan.lateCounters, lateCounter{op: p.label(), dest: dest, n: late})
		if lateTable != "" {
			lt, err := b.lateTables(lateTable)
			if err != nil {
				return nil, err
			}
			details = append(details, "late-data="+lateTable)
			p.outputs = 2
			// late rows leave through side output 1, shaped to the late table by name
			proj, err := lateProjection(in.Schema, lt)
			if err != nil {
				return nil, err
			}
			calc := b.add(&PNode{Op: "Calc", Parallelism: par, Schema: &lt.Schema,
				Details: []string{"late rows → " + lt.Name}})
			calc.Inputs = []PEdge{{From: p, Output: 1, Kind: exec.Forward}}
			calc.operator = func(*exec.TaskContext) (exec.Operator, error) { return &exec.Calc{Exprs: proj}, nil }
			if err := b.addTableSink(calc, lt, false, 0); err != nil {
				return nil, err
			}
		} else {
			details = append(details, "late-data=drop")
		}
		p.Details = details
		cfg := exec.WindowAggConfig{Keys: t.Keys, Aggs: t.Aggs, Window: t.Window}
		hasLate := lateTable != ""
		proctime := t.Proctime
		p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
			c := cfg
			c.MaxKeyGroups = tc.MaxKeyGroups
			var lateOut exec.Emitter
			if hasLate {
				lateOut = tc.Side(1)
			}
			c.Late = func(r types.Row) error {
				late.Add(1)
				if lateOut == nil {
					return nil
				}
				return lateOut.Emit(&types.Batch{Rows: []types.Row{r}})
			}
			w, err := exec.NewWindowAgg(c)
			if err != nil || !proctime {
				return w, err
			}
			return &exec.ProcTimeWindow{Inner: w, Now: func() int64 { return time.Now().UnixMilli() }}, nil
		}
		return p, nil
	case *Aggregate:
		in, err := b.build(t.Input)
		if err != nil {
			return nil, err
		}
		par := b.opts.Parallelism
		if len(t.Keys) == 0 {
			par = 1
		}
		p := b.add(&PNode{Op: "GroupAggregate", Parallelism: par, Schema: &t.Sch, Changelog: true,
			State: "accumulators per key (kept until TTL: 'table.exec.state.ttl' is not set)"})
		if len(t.Keys) > 0 {
			p.Details = append(p.Details, "keys=["+colNames(in.Schema, t.Keys)+"]")
		}
		p.Details = append(p.Details, "aggs=["+aggString(t.Aggs, in.Schema)+"]")
		ttl := b.opts.StateTTL
		if ttl > 0 {
			p.Details = append(p.Details, "ttl="+fmtDur(ttl.Milliseconds()))
			p.State = "accumulators per key, expiring " + fmtDur(ttl.Milliseconds()) + " after their last write"
		}
		keys := t.Keys
		if keys == nil {
			keys = []int{}
		}
		p.Inputs = []PEdge{b.edgeTo(in, p, keys)}
		cfg := exec.GroupAggConfig{Keys: t.Keys, Aggs: t.Aggs, InputUpdating: in.Changelog, TTL: ttl}
		p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
			c := cfg
			c.MaxKeyGroups = tc.MaxKeyGroups
			return exec.NewGroupAgg(c)
		}
		return p, nil
	case *Union:
		var ins []*PNode
		upd := false
		for _, c := range t.Inputs {
			in, err := b.build(c)
			if err != nil {
				return nil, err
			}
			upd = upd || in.Changelog
			ins = append(ins, in)
		}
		p := b.add(&PNode{Op: "Union", Parallelism: b.opts.Parallelism, Schema: t.Schema(), Changelog: upd,
			Details: []string{fmt.Sprintf("inputs=%d", len(ins))}})
		for _, in := range ins {
			p.Inputs = append(p.Inputs, b.edgeTo(in, p, nil))
		}
		p.operator = func(*exec.TaskContext) (exec.Operator, error) { return &exec.Calc{}, nil }
		return p, nil
	case *Rank:
		return b.buildRank(t)
	case *Over:
		return b.buildOver(t)
	case *Join:
		return b.buildJoin(t)
	case *Sort:
		return nil, fmt.Errorf("ORDER BY is only supported at the top of a query whose rows go to the client; for a streaming Top-N filter ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) in an enclosing query")
	}
	return nil, fmt.Errorf("planner: unhandled node %T", n)
}

// buildRank plans a Top-N, per-window Top-N or deduplication (RankPlan).
func (b *builder) buildRank(t *Rank) (*PNode, error) {
	in, err := b.build(t.Input)
	if err != nil {
		return nil, err
	}
	mode, op, newerFirst := RankPlan(t, in.Changelog)
	par := b.opts.Parallelism
	if len(t.Partition) == 0 {
		par = 1
	}
	p := b.add(&PNode{Op: op, Parallelism: par, Schema: &t.Sch, Changelog: mode == exec.TopNUnbounded})
	if len(t.Partition) > 0 {
		p.Details = append(p.Details, "partition=["+colNames(in.Schema, t.Partition)+"]")
	}
	order := make([]string, len(t.Order))
	for i, k := range t.Order {
		order[i] = in.Schema.Cols[k.Col].Name
		if k.Desc {
			order[i] += " DESC"
		}
	}
	p.Details = append(p.Details, "order=["+strings.Join(order, ", ")+"]")
	rng := fmt.Sprintf("%s <= %d", t.Func, t.Hi)
	if t.Lo > 1 {
		rng = fmt.Sprintf("%d <= %s <= %d", t.Lo, t.Func, t.Hi)
	}
	p.Details = append(p.Details, "rank="+rng)
	if t.RankUnused {
		p.Details = append(p.Details, "rank number=unused")
	} else {
		p.Details = append(p.Details, "rank number="+t.Sch.Cols[len(t.Sch.Cols)-1].Name)
	}
	timeCol := -1
	switch mode {
	case exec.TopNWindow:
		p.Details = append(p.Details, "window_end="+in.Schema.Cols[t.WindowEnd].Name)
		p.State = "top rows per partition of each open window; dropped when the window fires"
	case exec.TopNKeepFirst:
		if t.OrderTime == EventTime {
			timeCol = t.Order[0].Col
			p.Details = append(p.Details, "keep=first", "time=event (a row goes out when the watermark passes it)")
			p.State = "the first row per key, held until the watermark passes it; then a flag (no TTL yet)"
		} else {
			p.Details = append(p.Details, "keep=first", "time=processing")
			p.State = "a flag per key (no TTL yet)"
		}
	default:
		if op == "Deduplicate" {
			p.Details = append(p.Details, "keep=last")
		}
		if in.Changelog {
			p.Details = append(p.Details, "input=changelog")
			p.State = "every row per partition (kept until TTL; no TTL yet)"
		} else {
			p.State = "the top rows per partition (kept until TTL; no TTL yet)"
		}
	}
	keys := t.Partition
	if keys == nil {
		keys = []int{}
	}
	p.Inputs = []PEdge{b.edgeTo(in, p, keys)}
	var late *atomic.Int64
	if mode == exec.TopNWindow || timeCol >= 0 {
		late = new(atomic.Int64)
		b.plan.lateCounters = append(b.plan.lateCounters, lateCounter{op: p.label(), dest: "dropped", n: late})
	}
	cfg := exec.TopNConfig{Mode: mode, Func: t.Func, Width: len(in.Schema.Cols), Partition: t.Partition,
		Order: t.Order, Lo: t.Lo, Hi: t.Hi, RankNumber: !t.RankUnused, InputUpdating: in.Changelog,
		NewerFirst: newerFirst, WindowEnd: t.WindowEnd, TimeCol: timeCol}
	p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
		c := cfg
		c.MaxKeyGroups = tc.MaxKeyGroups
		if late != nil {
			c.Late = func(types.Row) error { late.Add(1); return nil }
		}
		return exec.NewTopN(c)
	}
	return p, nil
}

// buildOver plans aggregates OVER a window (OverPlan).
func (b *builder) buildOver(t *Over) (*PNode, error) {
	in, err := b.build(t.Input)
	if err != nil {
		return nil, err
	}
	mode, err := OverPlan(t, in.Changelog)
	if err != nil {
		return nil, err
	}
	par := b.opts.Parallelism
	if len(t.Partition) == 0 {
		par = 1
	}
	p := b.add(&PNode{Op: "OverAggregate", Parallelism: par, Schema: &t.Sch, Changelog: mode == exec.OverUpdating})
	if len(t.Partition) > 0 {
		p.Details = append(p.Details, "partition=["+colNames(in.Schema, t.Partition)+"]")
	}
	order := make([]string, len(t.Order))
	for i, k := range t.Order {
		order[i] = in.Schema.Cols[k.Col].Name
		if k.Desc {
			order[i] += " DESC"
		}
	}
	p.Details = append(p.Details, "order=["+strings.Join(order, ", ")+"]")
	frame := fmt.Sprintf("ROWS BETWEEN %d PRECEDING AND CURRENT ROW", t.Preceding)
	switch {
	case t.Range && mode != exec.OverProcTime:
		frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	case t.Preceding < 0:
		frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	}
	p.Details = append(p.Details, "frame="+frame, "aggs=["+aggString(t.Aggs, in.Schema)+"]")
	var rows string
	switch t.Preceding {
	case -1:
		rows = "running aggregates"
	case 0:
		rows = "nothing"
	case 1:
		rows = "the last row"
	default:
		rows = fmt.Sprintf("the last %d rows", t.Preceding)
	}
	timeCol := -1
	switch mode {
	case exec.OverEventTime:
		timeCol = t.Order[0].Col
		p.Details = append(p.Details, "time=event (a row goes out when the watermark passes it)")
		p.State = rows + " per partition, and the rows the watermark has not reached (no TTL yet)"
	case exec.OverProcTime:
		p.Details = append(p.Details, "time=processing")
		p.State = rows + " per partition (no TTL yet)"
	default:
		if in.Changelog {
			p.Details = append(p.Details, "input=changelog")
		}
		p.State = "every row per partition (no TTL yet)"
	}
	keys := t.Partition
	if keys == nil {
		keys = []int{}
	}
	p.Inputs = []PEdge{b.edgeTo(in, p, keys)}
	var late *atomic.Int64
	if mode == exec.OverEventTime {
		late = new(atomic.Int64)
		b.plan.lateCounters = append(b.plan.lateCounters, lateCounter{op: p.label(), dest: "dropped", n: late})
	}
	cfg := exec.OverConfig{Mode: mode, Width: len(in.Schema.Cols), Partition: t.Partition, Order: t.Order,
		Preceding: t.Preceding, Range: t.Range, Aggs: t.Aggs, InputUpdating: in.Changelog, TimeCol: timeCol}
	if _, err := exec.NewOverAgg(cfg); err != nil {
		return nil, t.errorf("%v", err)
	}
	p.operator = func(tc *exec.TaskContext) (exec.Operator, error) {
		c := cfg
		c.MaxKeyGroups = tc.MaxKeyGroups
		if late != nil {
			c.Late = func(types.Row) error { late.Add(1); return nil }
		}
		return exec.NewOverAgg(c)
	}
	return p, nil
}

func lateTableOf(n Node) string {
	for {
		switch t := n.(type) {
		case *Scan:
			return t.Late
		case *Filter:
			n = t.Input
		case *Project:
			n = t.Input
		default:
			return ""
		}
	}
}

// lateProjection maps the window's input columns to a late table's columns by name.
func lateProjection(in *types.Schema, lt *connectors.Table) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(lt.Schema.Cols))
	for i, c := range lt.Schema.Cols {
		j := in.Index(c.Name)
		if j < 0 {
			return nil, fmt.Errorf("late-data table %s: column %s is not among the columns reaching the window (%s)", lt.Name, c.Name, strings.Join(in.Names(), ", "))
		}
		out[i] = &expr.Column{Index: j, Name: c.Name, Typ: in.Cols[j].Type}
	}
	return out, nil
}

// scanSource is the table a scan reads (narrowed to its columns) and its
// connector's source factory.
func scanSource(t *Scan) (*connectors.Table, connectors.SourceFactory, error) {
	tbl := t.Table
	if t.Cols != nil {
		// projection pushdown: the connector sees only the columns read
		nt := *tbl
		nt.Schema = t.Sch
		nt.RowtimeCol = -1
		nt.PrimaryKey = nil
		for i, c := range t.Cols {
			if c == tbl.RowtimeCol {
				nt.RowtimeCol = i
			}
		}
		tbl = &nt
	}
	c, err := connectors.Lookup(tbl.Options["connector"])
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", tbl.Name, err)
	}
	f, err := c.NewSource(tbl)
	if err != nil {
		return nil, nil, err
	}
	return tbl, f, nil
}

func (b *builder) buildScan(t *Scan) (*PNode, error) {
	tbl, f, err := scanSource(t)
	if err != nil {
		return nil, err
	}
	p := b.opts.Parallelism
	if m := f.MaxParallelism(); m > 0 && p > m {
		p = m
	}
	details := []string{"table=" + tbl.Name, "connector=" + tbl.Options["connector"],
		"columns=[" + strings.Join(t.Sch.Names(), ", ") + "]"}
	if tbl.RowtimeCol >= 0 {
		details = append(details, fmt.Sprintf("watermark=%s - %dms", tbl.Schema.Cols[tbl.RowtimeCol].Name, tbl.WatermarkDelay))
	}
	if f.Bounded() {
		details = append(details, "bounded")
	} else {
		details = append(details, "unbounded")
	}
	n := b.add(&PNode{Op: "Source", Parallelism: p, Schema: &t.Sch, Details: details})
	n.srcCfg = exec.SourceConfig{RowtimeCol: tbl.RowtimeCol, Delay: tbl.WatermarkDelay}
	n.source = func(tc *exec.TaskContext) (exec.Source, error) { return f.Create(tc.Subtask, tc.Parallelism) }
	return n, nil
}

// buildCalc fuses a chain of Filter/Project nodes into one Calc.
func (b *builder) buildCalc(n Node) (*PNode, error) {
	var filter expr.Expr
	var exprs []expr.Expr
	// Walk down: Project(Filter(Project(...))) — compose from the top.
	// Only one Project over at most one Filter is fused; deeper stacks become
	// chained Calcs (still one goroutine).
	cur := n
	if p, ok := cur.(*Project); ok {
		exprs = p.Exprs
		cur = p.Input
	}
	if f, ok := cur.(*Filter); ok {
		filter = f.Pred
		cur = f.Input
	}
	in, err := b.build(cur)
	if err != nil {
		return nil, err
	}
	var details []string
	if filter != nil {
		details = append(details, "where="+filter.String())
	}
	if exprs != nil {
		parts := make([]string, len(exprs))
		for i, e := range exprs {
			parts[i] = e.String()
			if nm := n.Schema().Cols[i].Name; nm != "" && nm != parts[i] {
				parts[i] += " AS " + nm
			}
		}
		details = append(details, "select=["+strings.Join(parts, ", ")+"]")
	}
	p := b.add(&PNode{Op: "Calc", Parallelism: in.Parallelism, Schema: n.Schema(), Changelog: in.Changelog, Details: details})
	p.Inputs = []PEdge{{From: in, Kind: exec.Forward}}
	desc := strings.Join(details, ", ")
	p.operator = func(*exec.TaskContext) (exec.Operator, error) {
		return &exec.Calc{Filter: filter, Exprs: exprs, Describe: desc}, nil
	}
	return p, nil
}

// markChains chains stateless Calcs into their single forward input.
func (b *builder) markChains() {
	consumers := map[*PNode]int{}
	for _, n := range b.plan.Nodes {
		for _, e := range n.Inputs {
			consumers[e.From]++
		}
	}
	for _, n := range b.plan.Nodes {
		if n.Op == "Calc" && len(n.Inputs) == 1 && n.Inputs[0].Kind == exec.Forward &&
			n.Inputs[0].Output == 0 && consumers[n.Inputs[0].From] == 1 && n.Inputs[0].From.Op != "Values" {
			n.Chained = true
		}
	}
}

// Job converts the plan into an exec job. Chained Calcs run inside their
// producer's goroutine.
func (p *Plan) Job() *exec.JobSpec {
	spec := &exec.JobSpec{MaxKeyGroups: p.opts.MaxKeyGroups, StateMemory: p.opts.StateMemory}
	host := map[*PNode]*PNode{} // chained node → the node whose vertex runs it
	index := map[*PNode]int{}
	for _, n := range p.Nodes {
		if n.Chained {
			h := n.Inputs[0].From
			if hh, ok := host[h]; ok {
				h = hh
			}
			host[n] = h
			h.vertex.Chain = append(h.vertex.Chain, exec.ChainedOperator{Name: n.label(), New: n.operator})
			index[n] = index[h]
			continue
		}
		v := &exec.Vertex{Name: n.label(), StateID: n.ID, Parallelism: n.Parallelism, Outputs: n.outputs,
			NewSource: n.source, Source: n.srcCfg, NewOperator: n.operator, NewSink: n.sink}
		for _, e := range n.Inputs {
			from := e.From
			if h, ok := host[from]; ok {
				from = h
			}
			v.Inputs = append(v.Inputs, exec.Edge{From: index[from], Output: e.Output, Kind: e.Kind, Keys: e.Keys, Input: e.Input})
		}
		n.vertex = v
		index[n] = len(spec.Vertices)
		spec.Vertices = append(spec.Vertices, v)
	}
	return spec
}

// LateRows is the number of late rows seen by the plan's window operators.
func (p *Plan) LateRows() int64 {
	var n int64
	for _, c := range p.lateCounters {
		n += c.n.Load()
	}
	return n
}

// LateReport describes, per window operator that saw any, how many late
// rows it had and where they went: "WindowAggregate#3: 12 late rows
// dropped". It is empty when no operator saw a late row.
func (p *Plan) LateReport() []string {
	var out []string
	for _, c := range p.lateCounters {
		if n := c.n.Load(); n > 0 {
			out = append(out, fmt.Sprintf("%s: %d late rows %s", c.op, n, c.dest))
		}
	}
	return out
}

// Run executes the plan.
func (p *Plan) Run(ctx context.Context) error {
	return exec.Run(ctx, p.Job())
}

// RunWithCheckpoints executes the plan taking checkpoints as ck says; the
// plan's fingerprint is filled in.
func (p *Plan) RunWithCheckpoints(ctx context.Context, ck *exec.CheckpointConfig) error {
	return exec.Run(ctx, p.CheckpointedJob(ck))
}

// CheckpointedJob is the job RunWithCheckpoints runs: Job with a copy of ck
// carrying the plan's fingerprint. Callers that run it themselves
// (exec.Run) can read the vertices' metrics while it runs.
func (p *Plan) CheckpointedJob(ck *exec.CheckpointConfig) *exec.JobSpec {
	spec := p.Job()
	c := *ck
	c.Fingerprint = p.Fingerprint()
	spec.Checkpoint = &c
	return spec
}

// Fingerprint identifies what a checkpoint of this plan contains: the
// operators, their ids, details, state and hash keys — not their
// parallelism or chaining, so a job can be restored at another parallelism.
func (p *Plan) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "weir plan v1 key-groups=%d\n", p.opts.MaxKeyGroups)
	for _, n := range p.Nodes {
		fmt.Fprintf(h, "%s changelog=%v state=%q\n", n.label(), n.Changelog, n.State)
		for _, d := range n.Details {
			fmt.Fprintf(h, "  %q\n", d)
		}
		for _, e := range n.Inputs {
			fmt.Fprintf(h, "  <- %s output=%d input=%d", e.From.label(), e.Output, e.Input)
			if e.Kind == exec.Hash && !e.Spread {
				fmt.Fprintf(h, " hash%q", e.KeyNames)
			}
			fmt.Fprintln(h)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (n *PNode) label() string {
	return fmt.Sprintf("%s#%d", n.Op, n.ID)
}

func colNames(s *types.Schema, cols []int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = s.Cols[c].Name
	}
	return strings.Join(parts, ", ")
}

func aggString(aggs []exec.AggCall, in *types.Schema) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		if a.Kind == exec.AggCountStar {
			parts[i] = "COUNT(*)"
			continue
		}
		d := ""
		if a.Distinct {
			d = "DISTINCT "
		}
		parts[i] = a.Kind.String() + "(" + d + in.Cols[a.Arg].Name + ")"
	}
	return strings.Join(parts, ", ")
}

func windowString(w exec.WindowSpec, in *types.Schema) string {
	ts := in.Cols[w.TimeCol].Name
	switch w.Kind {
	case exec.WindowTumble:
		return fmt.Sprintf("TUMBLE(%s, size=%s)", ts, fmtDur(w.Size))
	case exec.WindowHop:
		return fmt.Sprintf("HOP(%s, slide=%s, size=%s)", ts, fmtDur(w.Slide), fmtDur(w.Size))
	case exec.WindowCumulate:
		return fmt.Sprintf("CUMULATE(%s, step=%s, size=%s)", ts, fmtDur(w.Step), fmtDur(w.Size))
	case exec.WindowSession:
		return fmt.Sprintf("SESSION(%s, gap=%s)", ts, fmtDur(w.Gap))
	}
	return "?"
}

func fmtDur(ms int64) string {
	switch {
	case ms%3600000 == 0:
		return fmt.Sprintf("%dh", ms/3600000)
	case ms%60000 == 0:
		return fmt.Sprintf("%dmin", ms/60000)
	case ms%1000 == 0:
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%dms", ms)
}

// Explain prints the DAG deterministically, sink first, one operator per
// line with its parallelism, changelog mode, state and input edges.
func (p *Plan) Explain() string {
	var b strings.Builder
	nodes := append([]*PNode(nil), p.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].ID > nodes[j].ID })
	for _, n := range nodes {
		mode := "append"
		if n.Changelog {
			mode = "changelog(+I,-U,+U,-D)"
		}
		fmt.Fprintf(&b, "%s#%d parallelism=%d mode=%s", n.Op, n.ID, n.Parallelism, mode)
		if n.Chained {
			b.WriteString(" chained")
		}
		b.WriteByte('\n')
		for _, d := range n.Details {
			fmt.Fprintf(&b, "    %s\n", d)
		}
		if n.State != "" {
			fmt.Fprintf(&b, "    state: %s\n", n.State)
		}
		for _, e := range n.Inputs {
			fmt.Fprintf(&b, "    <- %s#%d", e.From.Op, e.From.ID)
			if e.Output > 0 {
				fmt.Fprintf(&b, " (side output %d)", e.Output)
			}
			fmt.Fprintf(&b, " %s", e.Kind)
			if e.Kind == exec.Hash {
				fmt.Fprintf(&b, "[%s]", strings.Join(e.KeyNames, ", "))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// valuesSource emits constant rows.
type valuesSource struct{ rows []types.Row }

func (v *valuesSource) Splits() int { return 1 }
func (v *valuesSource) Run(_ context.Context, out exec.SourceOutput) error {
	if err := out.Emit(0, &types.Batch{Rows: append([]types.Row(nil), v.rows...)}); err != nil {
		return err
	}
	out.SplitDone(0)
	return nil
}

// collectSink hands batches to the client callback.
type collectSink struct{ fn func(*types.Batch) error }

func (c *collectSink) Write(b *types.Batch) error { return c.fn(b) }
func (c *collectSink) Finish() error              { return c.fn(nil) }
func (c *collectSink) Abort()                     {}

// sortingCollector buffers a bounded result (an updating one with its
// changelog applied), sorts it, applies LIMIT/OFFSET and hands it on at
// end of input.
func sortingCollector(s *Sort, next func(*types.Batch) error, updating bool) (func(*types.Batch) error, []string) {
	var rows []types.Row
	var details []string
	if len(s.Keys) > 0 {
		var ks []string
		for _, k := range s.Keys {
			d := ""
			if k.Desc {
				d = " DESC"
			}
			ks = append(ks, fmt.Sprintf("$%d%s", k.Col, d))
		}
		details = append(details, "order by="+strings.Join(ks, ", "))
	}
	if s.Limit >= 0 {
		details = append(details, fmt.Sprintf("limit=%d", s.Limit))
	}
	if s.Offset > 0 {
		details = append(details, fmt.Sprintf("offset=%d", s.Offset))
	}
	// an updating result is materialized first: a retraction removes the
	// latest equal row
	at := map[string][]int{}
	var kb strings.Builder
	key := func(r types.Row) string {
		kb.Reset()
		for _, v := range r {
			fmt.Fprintf(&kb, "%d:%d:%d:%d:%s|", v.Kind, v.Scale, v.I, len(v.S), v.S)
		}
		return kb.String()
	}
	return func(b *types.Batch) error {
		if b != nil {
			for i, r := range b.Rows {
				if !updating {
					rows = append(rows, r)
					continue
				}
				k := key(r)
				if b.Kind(i).IsRetract() {
					if idx := at[k]; len(idx) > 0 {
						rows[idx[len(idx)-1]] = nil
						at[k] = idx[:len(idx)-1]
					}
					continue
				}
				at[k] = append(at[k], len(rows))
				rows = append(rows, r)
			}
			return nil
		}
		if updating {
			rows = slices.DeleteFunc(rows, func(r types.Row) bool { return r == nil })
		}
		sort.SliceStable(rows, func(i, j int) bool {
			for _, k := range s.Keys {
				c := types.Compare(rows[i][k.Col], rows[j][k.Col])
				if c != 0 {
					if k.Desc {
						return c > 0
					}
					return c < 0
				}
			}
			return false
		})
		if s.Offset > 0 {
			if s.Offset >= int64(len(rows)) {
				rows = nil
			} else {
				rows = rows[s.Offset:]
			}
		}
		if s.Limit >= 0 && int64(len(rows)) > s.Limit {
			rows = rows[:s.Limit]
		}
		if len(rows) > 0 {
			if err := next(&types.Batch{Rows: rows}); err != nil {
				return err
			}
		}
		return next(nil)
	}, details
}
