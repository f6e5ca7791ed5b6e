package sql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	ptypes "github.com/pingcap/tidb/pkg/parser/types"
	"github.com/weirsql/weir/connectors"
	"github.com/weirsql/weir/sql/types"
)

// columnType maps a parsed column type to a Weir type.
func columnType(st *Statement, name string, tp *ptypes.FieldType) (types.Type, error) {
	switch tp.GetType() {
	case mysql.TypeLonglong:
		return types.TBigInt, nil
	case mysql.TypeLong, mysql.TypeInt24, mysql.TypeShort:
		return types.TInt, nil
	case mysql.TypeTiny:
		if tp.GetFlen() == 1 {
			return types.TBool, nil
		}
		return types.TInt, nil
	case mysql.TypeDouble, mysql.TypeFloat:
		return types.TDouble, nil
	case mysql.TypeNewDecimal:
		p, s := tp.GetFlen(), tp.GetDecimal()
		if p <= 0 {
			p = 10
		}
		if s < 0 {
			s = 0
		}
		if p > 18 {
			return types.Type{}, fmt.Errorf("column %s: DECIMAL(%d,%d): precision above 18 is not supported", name, p, s)
		}
		return types.TDecimal(uint8(p), uint8(s)), nil
	case mysql.TypeVarchar, mysql.TypeString, mysql.TypeVarString, mysql.TypeBlob, mysql.TypeTinyBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		if st.UnboundedVarchar[strings.ToLower(name)] {
			return types.TVarchar, nil
		}
		return types.Type{Kind: types.Varchar, Length: int32(tp.GetFlen())}, nil
	case mysql.TypeDatetime, mysql.TypeTimestamp:
		return types.TTimestamp, nil
	}
	return types.Type{}, fmt.Errorf("column %s: type %s is not supported (use BIGINT, INT, DOUBLE, DECIMAL(p,s), VARCHAR, BOOLEAN or TIMESTAMP(3))", name, tp.String())
}

// bindCreateTable turns CREATE TABLE into a TableDef, validating the
// connector options by building a source or sink.
func (s *Session) bindCreateTable(st *Statement, n *ast.CreateTableStmt) (*TableDef, error) {
	name := n.Table.Name.O
	if n.ReferTable != nil || n.Select != nil {
		return nil, st.Errorf(0, "CREATE TABLE ... LIKE/AS SELECT is not supported")
	}
	t := &TableDef{DDL: st.Text}
	t.Name = name
	t.RowtimeCol = -1
	t.Options = map[string]string{}
	for _, o := range st.Options {
		t.Options[o.Key] = o.Value
	}
	for _, c := range n.Cols {
		cn := c.Name.Name.O
		if t.Schema.Index(cn) >= 0 {
			first := st.LocateOffset(cn, 0)
			return nil, st.Errorf(st.LocateOffset(cn, first+len(cn)), "duplicate column %s", cn)
		}
		typ, err := columnType(st, cn, c.Tp)
		if err != nil {
			return nil, st.Errorf(st.LocateOffset(cn, 0), "%v", err)
		}
		nullable := true
		for _, o := range c.Options {
			switch o.Tp {
			case ast.ColumnOptionNotNull:
				nullable = false
			case ast.ColumnOptionPrimaryKey:
				t.PrimaryKey = append(t.PrimaryKey, len(t.Schema.Cols))
				nullable = false
			}
		}
		t.Schema.Cols = append(t.Schema.Cols, types.Column{Name: cn, Type: typ, Nullable: nullable})
	}
	for _, c := range n.Constraints {
		if c.Tp != ast.ConstraintPrimaryKey {
			continue
		}
		for _, k := range c.Keys {
			i := t.Schema.Index(k.Column.Name.O)
			if i < 0 {
				return nil, st.Errorf(st.LocateOffset(k.Column.Name.O, 0), "PRIMARY KEY column %s is not a column of %s", k.Column.Name.O, name)
			}
			t.PrimaryKey = append(t.PrimaryKey, i)
			t.Schema.Cols[i].Nullable = false
		}
	}
	for _, c := range st.Computed {
		if t.Schema.Index(c.Name) >= 0 || t.Proctime != "" {
			return nil, st.Errorf(c.Offset, "duplicate column %s", c.Name)
		}
		t.Proctime = c.Name
	}
	if w := st.Watermark; w != nil {
		i := t.Schema.Index(w.Column)
		if i < 0 {
			return nil, st.Errorf(w.ColumnOffset, "WATERMARK FOR %s: no such column in %s", w.Column, name)
		}
		if t.Schema.Cols[i].Type.Kind != types.Timestamp {
			return nil, st.Errorf(w.ColumnOffset, "WATERMARK FOR %s: the column is %s; it must be TIMESTAMP(3)", w.Column, t.Schema.Cols[i].Type)
		}
		t.RowtimeCol = i
		t.WatermarkDelay = w.DelayMs
	}
	conn := t.Options["connector"]
	if conn == "" {
		return nil, st.Errorf(0, "table %s: the 'connector' option is required, e.g. WITH ('connector' = 'file', 'path' = '...', 'format' = 'json')", name)
	}
	// Weir's own options are not the connector's.
	ct := t.Table
	ct.Options = map[string]string{}
	for k, v := range t.Options {
		if k != "late-data" {
			ct.Options[k] = v
		}
	}
	if ld, ok := t.Options["late-data"]; ok && ld != "drop" {
		if !s.cat.exists(ld) {
			return nil, st.Errorf(0, "table %s: late-data table %s does not exist (create it first, or use 'drop')", name, ld)
		}
	}
	c, err := connectors.Lookup(conn)
	if err != nil {
		return nil, st.Errorf(0, "table %s: %v", name, err)
	}
	if _, serr := c.NewSource(&ct); serr != nil {
		if _, kerr := c.NewSink(&ct); kerr != nil {
			return nil, st.Errorf(0, "%v", serr)
		}
	}
	return t, nil
}

func connectorTable(t *TableDef) *connectors.Table {
	ct := t.Table
	ct.Options = map[string]string{}
	for k, v := range t.Options {
		if k != "late-data" {
			ct.Options[k] = v
		}
	}
	return &ct
}

// describe renders a table's columns as rows: name, type, nullable, key, extra.
func describeRows(t *TableDef) []types.Row {
	var rows []types.Row
	pk := map[int]bool{}
	for _, k := range t.PrimaryKey {
		pk[k] = true
	}
	for i, c := range t.Schema.Cols {
		extra := ""
		if i == t.RowtimeCol {
			extra = "WATERMARK AS " + c.Name
			if t.WatermarkDelay > 0 {
				extra += " - INTERVAL '" + strconv.FormatInt(t.WatermarkDelay, 10) + "' MILLISECOND"
			}
		}
		key := ""
		if pk[i] {
			key = "PRI"
		}
		rows = append(rows, types.Row{types.StringValue(c.Name), types.StringValue(c.Type.String()),
			types.BoolValue(c.Nullable), types.StringValue(key), types.StringValue(extra)})
	}
	if t.Proctime != "" {
		rows = append(rows, types.Row{types.StringValue(t.Proctime), types.StringValue("TIMESTAMP(3)"),
			types.BoolValue(false), types.StringValue(""), types.StringValue("AS PROCTIME()")})
	}
	return rows
}
