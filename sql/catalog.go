package sql

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

// TableDef is a catalog table: what the connector sees plus the columns
// Weir computes itself (PROCTIME).
type TableDef struct {
	connectors.Table
	// Proctime is the name of a `name AS PROCTIME()` column, or "".
	Proctime string
	DDL      string
}

// ViewDef is a stored query, bound anew at each use.
type ViewDef struct {
	Name  string
	Query ast.ResultSetNode
	Stmt  *Statement
	Cols  []string // explicit column names, optional
}

// Catalog holds the tables and views of a session. Names are case-insensitive.
type Catalog struct {
	tables map[string]*TableDef
	views  map[string]*ViewDef
}

// NewCatalog makes an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{tables: map[string]*TableDef{}, views: map[string]*ViewDef{}}
}

// Table looks a table up.
func (c *Catalog) Table(name string) (*TableDef, bool) {
	t, ok := c.tables[strings.ToLower(name)]
	return t, ok
}

// View looks a view up.
func (c *Catalog) View(name string) (*ViewDef, bool) {
	v, ok := c.views[strings.ToLower(name)]
	return v, ok
}

// Names lists tables and views, sorted, with their kind.
func (c *Catalog) Names() (tables, views []string) {
	for _, t := range c.tables {
		tables = append(tables, t.Name)
	}
	for _, v := range c.views {
		views = append(views, v.Name)
	}
	sort.Strings(tables)
	sort.Strings(views)
	return
}

func (c *Catalog) exists(name string) bool {
	_, t := c.Table(name)
	_, v := c.View(name)
	return t || v
}

// schemaOf returns the visible schema of a table: its columns plus PROCTIME.
func (t *TableDef) visible() types.Schema {
	s := types.Schema{Cols: append([]types.Column(nil), t.Schema.Cols...)}
	if t.Proctime != "" {
		s.Cols = append(s.Cols, types.Column{Name: t.Proctime, Type: types.TTimestamp})
	}
	return s
}

func (c *Catalog) lookupConnectorTable(name string) (*connectors.Table, error) {
	t, ok := c.Table(name)
	if !ok {
		return nil, fmt.Errorf("late-data table %s does not exist", name)
	}
	return &t.Table, nil
}
