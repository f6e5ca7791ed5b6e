package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/planner"
)

// What a long-running server (cmd/internal/server) needs from this package:
// many sessions over one catalog, statements classified without the TiDB
// AST, and an INSERT planned without running it (the server runs it as a
// background job).
//
// Sharing a catalog. A Catalog is not safe for concurrent use, and a view's
// AST is walked (and written to, by the TiDB visitors) each time the view is
// bound. A server therefore never lets two sessions use the same Catalog
// value: each statement runs on Clone(), which copies the maps and re-parses
// the views, and a DDL statement's clone replaces the shared catalog only
// when the statement succeeded. Published catalogs are never changed.

// NewSessionWithCatalog makes a session over cat with default settings. The
// session changes cat when it runs DDL; cat must not be used by anything
// else while the session runs.
func NewSessionWithCatalog(cat *Catalog) *Session {
	s := NewSession()
	s.cat = cat
	return s
}

// Settings returns a copy of the session's settings under their canonical
// names ("parallelism", "max-key-groups").
func (s *Session) Settings() map[string]string {
	out := make(map[string]string, len(s.settings))
	for k, v := range s.settings {
		out[k] = v
	}
	return out
}

// Clone returns a copy of c that shares nothing mutable with c: table
// definitions (immutable once created) are shared, views are parsed again
// from the text of their CREATE VIEW so that each copy has its own AST.
// Errors inside a view keep their positions in the view's statement.
func (c *Catalog) Clone() (*Catalog, error) {
	out := NewCatalog()
	for k, t := range c.tables {
		out.tables[k] = t
	}
	for k, v := range c.views {
		nv, err := v.clone()
		if err != nil {
			return nil, err
		}
		out.views[k] = nv
	}
	return out, nil
}

func (v *ViewDef) clone() (*ViewDef, error) {
	st, err := ParseOne(v.Stmt.Text)
	if err != nil {
		return nil, fmt.Errorf("view %s: parsing its definition again: %w", v.Name, err)
	}
	n, ok := st.Node.(*ast.CreateViewStmt)
	if !ok {
		return nil, fmt.Errorf("view %s: its statement is not CREATE VIEW", v.Name)
	}
	// positions as in the original script
	st.Line, st.Col, st.Offset, st.script = v.Stmt.Line, v.Stmt.Col, v.Stmt.Offset, v.Stmt.script
	return &ViewDef{Name: v.Name, Query: n.Select.(ast.ResultSetNode), Stmt: st, Cols: v.Cols}, nil
}

// StatementKind classifies a statement for callers that do not see the AST.
type StatementKind int

const (
	// KindOther: EXPLAIN, SHOW, DESCRIBE and statements Exec refuses.
	KindOther StatementKind = iota
	// KindQuery: SELECT (and UNION): rows for the client.
	KindQuery
	// KindDDL: CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW: the only
	// statements that change the catalog.
	KindDDL
	// KindInsert: INSERT INTO ... SELECT, a job.
	KindInsert
	// KindSet: SET and RESET: change the session's settings.
	KindSet
)

func (k StatementKind) String() string {
	switch k {
	case KindQuery:
		return "query"
	case KindDDL:
		return "DDL"
	case KindInsert:
		return "insert"
	case KindSet:
		return "set"
	}
	return "other"
}

// Kind classifies the statement.
func (s *Statement) Kind() StatementKind {
	switch {
	case s.Set != nil:
		return KindSet
	case s.Show != nil:
		return KindOther
	}
	switch s.Node.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		return KindQuery
	case *ast.CreateTableStmt, *ast.CreateViewStmt, *ast.DropTableStmt:
		return KindDDL
	case *ast.InsertStmt:
		return KindInsert
	}
	return KindOther
}

// UpdateType is the name Trino clients show for a statement without rows:
// "CREATE TABLE", "DROP VIEW", "INSERT", "SET SESSION"; "" for queries.
func (s *Statement) UpdateType() string {
	switch n := s.Node.(type) {
	case *ast.CreateTableStmt:
		return "CREATE TABLE"
	case *ast.CreateViewStmt:
		return "CREATE VIEW"
	case *ast.DropTableStmt:
		if n.IsView {
			return "DROP VIEW"
		}
		return "DROP TABLE"
	case *ast.InsertStmt:
		return "INSERT"
	}
	if s.Set != nil {
		if s.Set.Reset {
			return "RESET SESSION"
		}
		return "SET SESSION"
	}
	return ""
}

// PlanInsert binds and plans an INSERT INTO without running it; the caller
// runs the plan (Plan.Run or Plan.RunWithCheckpoints), for example as a
// background job. Errors are *SQLError. A panic while planning becomes an
// ErrInternal error, as in Exec.
func (s *Session) PlanInsert(st *Statement) (plan *planner.Plan, err error) {
	if st.Kind() != KindInsert {
		return nil, st.Errorf(0, "expected INSERT INTO, got %s", strings.SplitN(strings.TrimSpace(st.Text), " ", 2)[0])
	}
	defer func() {
		if p := recover(); p != nil {
			plan, err = nil, st.errorKind(0, ErrInternal, "internal error in Weir while planning this statement (please report it): %v", p)
		}
	}()
	return s.planStatement(st, st.Node, nil)
}
