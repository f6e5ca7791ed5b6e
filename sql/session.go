package sql

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/planner"
	"github.com/weirsql/weir/sql/types"
	"github.com/weirsql/weir/state"
)

// Session executes statements against a catalog. It is not safe for
// concurrent use; each shell or HTTP session has its own.
type Session struct {
	cat      *Catalog
	settings map[string]string
	// RunJob, if set, runs the job of an INSERT INTO (for example with
	// checkpoints); nil runs the plan as is.
	RunJob func(ctx context.Context, p *planner.Plan) error
}

// settingDefaults are the settings SET understands, with defaults.
var settingDefaults = map[string]string{
	"parallelism":    "1",
	"max-key-groups": "128",
	"state.ttl":      "0",
	"state.memory":   "auto",
}

// settingAliases maps Flink's names onto Weir's.
var settingAliases = map[string]string{
	"parallelism.default":                     "parallelism",
	"table.exec.resource.default-parallelism": "parallelism",
	"pipeline.max-parallelism":                "max-key-groups",
	"table.exec.state.ttl":                    "state.ttl",
	"taskmanager.memory.managed.size":         "state.memory",
}

// NewSession makes a session with an empty catalog.
func NewSession() *Session {
	s := &Session{cat: NewCatalog(), settings: map[string]string{}}
	for k, v := range settingDefaults {
		s.settings[k] = v
	}
	return s
}

// Catalog returns the session's catalog.
func (s *Session) Catalog() *Catalog { return s.cat }

// Set changes a setting.
func (s *Session) Set(key, value string) error {
	k := strings.ToLower(strings.TrimSpace(key))
	if a, ok := settingAliases[k]; ok {
		k = a
	}
	if _, ok := settingDefaults[k]; !ok {
		var names []string
		for n := range settingDefaults {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("unknown setting '%s' (settings: %s)", key, strings.Join(names, ", "))
	}
	switch k {
	case "parallelism":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("parallelism must be an integer between 1 and 1024, got '%s'", value)
		}
	case "max-key-groups":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 32768 {
			return fmt.Errorf("max-key-groups must be an integer between 1 and 32768, got '%s'", value)
		}
	case "state.ttl":
		if _, err := parseTTL(value); err != nil {
			return err
		}
	case "state.memory":
		if _, err := parseStateMemory(value); err != nil {
			return err
		}
	}
	s.settings[k] = value
	return nil
}

func (s *Session) options() planner.Options {
	p, _ := strconv.Atoi(s.settings["parallelism"])
	m, _ := strconv.Atoi(s.settings["max-key-groups"])
	ttl, _ := parseTTL(s.settings["state.ttl"])
	mem, _ := parseStateMemory(s.settings["state.memory"])
	return planner.Options{Parallelism: p, MaxKeyGroups: m, StateTTL: ttl, StateMemory: mem}
}

// parseStateMemory reads 'state.memory', the memory a job's spilling
// operators may keep state in before the rest goes to Badger: 'auto' (half
// of the memory available to the process), 'unlimited' or '0' (never
// spill), or a size: '512mb', '2 GB', '64k', or bytes.
func parseStateMemory(v string) (int64, error) {
	l := strings.ToLower(strings.TrimSpace(v))
	switch l {
	case "auto", "":
		return state.MemoryAvailable() / 2, nil
	case "unlimited", "0":
		return 0, nil
	}
	bad := fmt.Errorf("state.memory must be 'auto', 'unlimited' or a size such as '512mb' or '2 GB', got '%s'", v)
	num := strings.TrimRight(l, "kmgtib ")
	unit := strings.TrimSpace(l[len(num):])
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 {
		return 0, bad
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[unit]
	if mult == 0 || n*mult < 1 || n*mult > 1<<62 {
		return 0, bad
	}
	return int64(n * mult), nil
}

// parseTTL reads 'state.ttl': 0 (keep state forever) or an interval
// ('1 h', '30 min', '90s', '3600000 ms').
func parseTTL(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" || v == "" {
		return 0, nil
	}
	l := strings.ToLower(v)
	for _, short := range []string{"min", "mins"} { // Flink writes '30 min'
		if strings.HasSuffix(l, short) && !strings.HasSuffix(l, "m"+short) {
			l = strings.TrimSuffix(l, short) + "minute"
		}
	}
	ms, err := ParseInterval(l)
	if err != nil || ms <= 0 {
		return 0, fmt.Errorf("state.ttl must be 0 (no expiry) or a positive interval such as '1 h' or '30 min', got '%s'", v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// ExecScript parses and runs every statement of text in order. It stops
// at the first error: a *SQLError for the user's SQL, or the job's error.
func (s *Session) ExecScript(ctx context.Context, text string, rs ResultSink) error {
	stmts, err := Parse(text)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := s.Exec(ctx, st, rs); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs one parsed statement. Queries run to completion (bounded
// inputs) or until ctx is cancelled. A panic while binding or planning (a
// bug in Weir, never the user's fault) becomes an error naming the
// statement instead of crashing the process.
func (s *Session) Exec(ctx context.Context, st *Statement, rs ResultSink) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = st.errorKind(0, ErrInternal, "internal error in Weir while running this statement (please report it): %v", p)
		}
	}()
	return s.exec(ctx, st, rs)
}

func (s *Session) exec(ctx context.Context, st *Statement, rs ResultSink) error {
	if st.Set != nil {
		return s.execSet(st, rs)
	}
	if st.Show != nil {
		return st.Errorf(0, "SHOW %s is not available yet", strings.ToUpper(st.Show.What))
	}
	switch n := st.Node.(type) {
	case *ast.CreateTableStmt:
		name := n.Table.Name.O
		if s.cat.exists(name) {
			if n.IfNotExists {
				return rs.Message(fmt.Sprintf("Table %s already exists.", name))
			}
			return st.Errorf(st.LocateOffset(name, 0), "table %s already exists", name)
		}
		t, err := s.bindCreateTable(st, n)
		if err != nil {
			return err
		}
		s.cat.tables[strings.ToLower(name)] = t
		return rs.Message(fmt.Sprintf("Table %s created.", name))
	case *ast.CreateViewStmt:
		name := n.ViewName.Name.O
		if s.cat.exists(name) && !n.OrReplace {
			return st.Errorf(st.LocateOffset(name, 0), "table or view %s already exists", name)
		}
		if _, isTable := s.cat.Table(name); isTable {
			return st.Errorf(st.LocateOffset(name, 0), "%s is a table, not a view", name)
		}
		v := &ViewDef{Name: name, Query: n.Select.(ast.ResultSetNode), Stmt: st}
		for _, c := range n.Cols {
			v.Cols = append(v.Cols, c.O)
		}
		// bind once now so that errors surface at CREATE VIEW
		b := &binder{s: s, st: st}
		if _, _, err := b.query(v.Query); err != nil {
			return err
		}
		s.cat.views[strings.ToLower(name)] = v
		return rs.Message(fmt.Sprintf("View %s created.", name))
	case *ast.DropTableStmt:
		for _, t := range n.Tables {
			name := t.Name.O
			_, isTable := s.cat.Table(name)
			_, isView := s.cat.View(name)
			switch {
			case n.IsView && isView:
				delete(s.cat.views, strings.ToLower(name))
			case !n.IsView && isTable:
				delete(s.cat.tables, strings.ToLower(name))
			case n.IfExists:
			case n.IsView && isTable:
				return st.Errorf(st.LocateOffset(name, 0), "%s is a table: use DROP TABLE", name)
			case !n.IsView && isView:
				return st.Errorf(st.LocateOffset(name, 0), "%s is a view: use DROP VIEW", name)
			default:
				return st.Errorf(st.LocateOffset(name, 0), "table or view %s does not exist", name)
			}
		}
		return rs.Message("Dropped.")
	case *ast.ShowStmt:
		return s.show(st, n, rs)
	case *ast.ExplainStmt:
		if show, ok := n.Stmt.(*ast.ShowStmt); ok {
			return s.show(st, show, rs)
		}
		plan, err := s.planStatement(st, n.Stmt, func(*types.Batch) error { return nil })
		if err != nil {
			return err
		}
		return sendText(rs, plan.Explain())
	case *ast.SelectStmt, *ast.SetOprStmt:
		return s.runQuery(ctx, st, n, rs)
	case *ast.InsertStmt:
		plan, err := s.planStatement(st, n, nil)
		if err != nil {
			return err
		}
		run := s.RunJob
		if run == nil {
			run = func(ctx context.Context, p *planner.Plan) error { return p.Run(ctx) }
		}
		if err := run(ctx, plan); err != nil {
			return err
		}
		if err := reportLate(plan, rs); err != nil {
			return err
		}
		return rs.Message("Insert job finished.")
	case nil:
		return st.Errorf(0, "empty statement")
	}
	return st.Errorf(0, "this kind of statement is not supported: %s", strings.SplitN(strings.TrimSpace(st.Text), " ", 2)[0])
}

func (s *Session) execSet(st *Statement, rs ResultSink) error {
	set := st.Set
	if set.Key == "" && set.Reset {
		for k, v := range settingDefaults {
			s.settings[k] = v
		}
		return rs.Message("Reset.")
	}
	if set.Key == "" {
		var keys []string
		for k := range s.settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if err := rs.Columns([]types.Column{{Name: "key", Type: types.TVarchar}, {Name: "value", Type: types.TVarchar}}, false); err != nil {
			return err
		}
		b := &types.Batch{}
		for _, k := range keys {
			b.Rows = append(b.Rows, types.Row{types.StringValue(k), types.StringValue(s.settings[k])})
		}
		if err := rs.Rows(b); err != nil {
			return err
		}
		return rs.Done()
	}
	if set.Reset {
		k := strings.ToLower(set.Key)
		if a, ok := settingAliases[k]; ok {
			k = a
		}
		if d, ok := settingDefaults[k]; ok {
			s.settings[k] = d
			return rs.Message("Reset.")
		}
	}
	if err := s.Set(set.Key, set.Value); err != nil {
		return st.Errorf(0, "%v", err)
	}
	return rs.Message(fmt.Sprintf("Set %s = %s.", set.Key, set.Value))
}

func (s *Session) show(st *Statement, n *ast.ShowStmt, rs ResultSink) error {
	switch n.Tp {
	case ast.ShowTables:
		tables, views := s.cat.Names()
		if err := rs.Columns([]types.Column{{Name: "name", Type: types.TVarchar}, {Name: "kind", Type: types.TVarchar}}, false); err != nil {
			return err
		}
		b := &types.Batch{}
		for _, t := range tables {
			b.Rows = append(b.Rows, types.Row{types.StringValue(t), types.StringValue("TABLE")})
		}
		for _, v := range views {
			b.Rows = append(b.Rows, types.Row{types.StringValue(v), types.StringValue("VIEW")})
		}
		if len(b.Rows) > 0 {
			if err := rs.Rows(b); err != nil {
				return err
			}
		}
		return rs.Done()
	case ast.ShowColumns:
		name := n.Table.Name.O
		cols := []types.Column{{Name: "name", Type: types.TVarchar}, {Name: "type", Type: types.TVarchar},
			{Name: "null", Type: types.TBool}, {Name: "key", Type: types.TVarchar}, {Name: "extras", Type: types.TVarchar}}
		var rows []types.Row
		if t, ok := s.cat.Table(name); ok {
			rows = describeRows(t)
		} else if v, ok := s.cat.View(name); ok {
			b := &binder{s: s, st: v.Stmt}
			_, sc, err := b.query(v.Query)
			if err != nil {
				return err
			}
			for i, c := range sc.cols {
				nm := c.name
				if i < len(v.Cols) {
					nm = v.Cols[i]
				}
				rows = append(rows, types.Row{types.StringValue(nm), types.StringValue(c.typ.String()), types.BoolValue(true), types.StringValue(""), types.StringValue("")})
			}
		} else {
			return st.Errorf(st.LocateOffset(name, 0), "table or view %s does not exist", name)
		}
		if err := rs.Columns(cols, false); err != nil {
			return err
		}
		if err := rs.Rows(&types.Batch{Rows: rows}); err != nil {
			return err
		}
		return rs.Done()
	}
	return st.Errorf(0, "this SHOW statement is not supported (SHOW TABLES, DESCRIBE t)")
}

// planStatement binds and plans a SELECT (collect != nil) or INSERT.
func (s *Session) planStatement(st *Statement, n ast.StmtNode, collect func(*types.Batch) error) (*planner.Plan, error) {
	b := &binder{s: s, st: st}
	lookup := func(name string) (*connectors.Table, error) {
		t, ok := s.cat.Table(name)
		if !ok {
			return nil, fmt.Errorf("late-data table %s does not exist", name)
		}
		return connectorTable(t), nil
	}
	switch q := n.(type) {
	case *ast.InsertStmt:
		tn, ok := q.Table.TableRefs.Left.(*ast.TableSource)
		if !ok {
			return nil, st.Errorf(0, "INSERT INTO expects a table name")
		}
		name := tn.Source.(*ast.TableName).Name.O
		t, ok := s.cat.Table(name)
		if !ok {
			return nil, st.Errorf(st.LocateOffset(name, 0), "table %s does not exist", name)
		}
		if q.Select == nil {
			return nil, st.Errorf(0, "INSERT ... VALUES is not supported; use INSERT INTO t SELECT ...")
		}
		if len(q.Columns) > 0 {
			return nil, st.Errorf(0, "INSERT with a column list is not supported; select the columns in the table's order")
		}
		node, sc, err := b.query(q.Select.(ast.ResultSetNode))
		if err != nil {
			return nil, err
		}
		if err := b.checkRanks(); err != nil {
			return nil, err
		}
		if len(sc.cols) != len(t.Schema.Cols) {
			return nil, st.Errorf(0, "INSERT INTO %s: the query produces %d column(s), the table has %d", name, len(sc.cols), len(t.Schema.Cols))
		}
		want := &scope{}
		for _, c := range t.Schema.Cols {
			want.cols = append(want.cols, scopeCol{name: c.Name, typ: c.Type})
		}
		for i, c := range sc.cols {
			tc := t.Schema.Cols[i]
			if c.typ != tc.Type && c.typ.Kind != types.Null {
				if c.typ.Kind == tc.Type.Kind && c.typ.Kind == types.Varchar {
					continue
				}
				if !castable(c.typ, tc.Type) {
					return nil, st.Errorf(0, "INSERT INTO %s: column %d (%s) is %s, the query gives %s", name, i+1, tc.Name, tc.Type, c.typ)
				}
			}
		}
		node = castTo(node, want)
		node = planner.Optimize(node)
		plan, err := planner.Build(node, planner.Sink{Table: connectorTable(t)}, s.options(), lookup)
		if err != nil {
			// a planning error with a position of its own keeps it; the
			// others point at the table: they are about what it can take
			var se *SQLError
			if errors.As(err, &se) {
				return nil, se
			}
			return nil, st.Errorf(max(st.LocateOffset(name, 0), 0), "%v", err)
		}
		return plan, nil
	case *ast.SelectStmt, *ast.SetOprStmt:
		node, _, err := b.query(q.(ast.ResultSetNode))
		if err != nil {
			return nil, err
		}
		if err := b.checkRanks(); err != nil {
			return nil, err
		}
		node = planner.Optimize(node)
		plan, err := planner.Build(node, planner.Sink{Collect: collect}, s.options(), lookup)
		if err != nil {
			return nil, planError(st, err)
		}
		return plan, nil
	}
	return nil, st.Errorf(0, "EXPLAIN supports SELECT and INSERT")
}

// planError positions a planning error: errors the binder already placed
// (a join's, at its ON clause) keep their position, others point at the
// statement.
func planError(st *Statement, err error) error {
	var se *SQLError
	if errors.As(err, &se) {
		return se
	}
	return st.Errorf(0, "%v", err)
}

func castable(from, to types.Type) bool {
	if from.IsNumeric() && to.IsNumeric() {
		return true
	}
	return from.Kind == to.Kind
}

func (s *Session) runQuery(ctx context.Context, st *Statement, n ast.StmtNode, rs ResultSink) error {
	var started bool
	var cols []types.Column
	var changelog bool
	collect := func(b *types.Batch) error {
		if !started {
			started = true
			if err := rs.Columns(cols, changelog); err != nil {
				return err
			}
		}
		if b == nil {
			return nil
		}
		return rs.Rows(b)
	}
	plan, err := s.planStatement(st, n, collect)
	if err != nil {
		return err
	}
	last := plan.Nodes[len(plan.Nodes)-1]
	cols = last.Schema.Cols
	changelog = last.Changelog
	if err := plan.Run(ctx); err != nil {
		return err
	}
	if !started {
		if err := rs.Columns(cols, changelog); err != nil {
			return err
		}
	}
	if err := rs.Done(); err != nil {
		return err
	}
	return reportLate(plan, rs)
}

// reportLate tells the user about late rows, per window operator.
func reportLate(plan *planner.Plan, rs ResultSink) error {
	for _, line := range plan.LateReport() {
		if err := rs.Message(line + "."); err != nil {
			return err
		}
	}
	return nil
}
