package sql

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

type discard struct{}

func (discard) Columns([]types.Column, bool) error { return nil }
func (discard) Rows(*types.Batch) error            { return nil }
func (discard) Done() error                        { return nil }
func (discard) Message(string) error               { return nil }

func execAll(t *testing.T, s *Session, text string) {
	t.Helper()
	stmts, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if err := s.Exec(context.Background(), st, discard{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCatalogClone: a clone shares nothing mutable: DDL on it does not
// reach the original, and sessions over clones bind the same view at once
// (run with -race).
func TestCatalogClone(t *testing.T) {
	s := NewSession()
	execAll(t, s, `CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector'='nexmark', 'nexmark.table'='bid', 'nexmark.events'='10');
CREATE VIEW big AS SELECT auction FROM bid WHERE price > 10;`)
	base := s.Catalog()
	c, err := base.Clone()
	if err != nil {
		t.Fatal(err)
	}
	execAll(t, NewSessionWithCatalog(c), "DROP VIEW big; CREATE TABLE other (x BIGINT) WITH ('connector'='datagen')")
	if tables, views := base.Names(); strings.Join(tables, ",") != "bid" || strings.Join(views, ",") != "big" {
		t.Fatalf("the original changed: %v %v", tables, views)
	}
	if tables, views := c.Names(); strings.Join(tables, ",") != "bid,other" || len(views) != 0 {
		t.Fatalf("the clone: %v %v", tables, views)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := base.Clone()
			if err != nil {
				t.Error(err)
				return
			}
			st, err := ParseOne("EXPLAIN SELECT COUNT(*) FROM big")
			if err != nil {
				t.Error(err)
				return
			}
			if err := NewSessionWithCatalog(c).Exec(context.Background(), st, discard{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestStatementKindAndPlanInsert(t *testing.T) {
	for text, want := range map[string]StatementKind{
		"SELECT 1":                    KindQuery,
		"SELECT 1 UNION ALL SELECT 2": KindQuery,
		"CREATE VIEW v AS SELECT 1":   KindDDL,
		"DROP TABLE t":                KindDDL,
		"INSERT INTO t SELECT 1":      KindInsert,
		"SET parallelism = 2":         KindSet,
		"EXPLAIN SELECT 1":            KindOther,
		"SHOW TABLES":                 KindOther,
	} {
		st, err := ParseOne(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := st.Kind(); got != want {
			t.Errorf("%s: %v, want %v", text, got, want)
		}
	}
	s := NewSession()
	execAll(t, s, `CREATE TABLE src (x BIGINT) WITH ('connector'='datagen', 'number-of-rows'='5');
CREATE TABLE dst (x BIGINT) WITH ('connector'='blackhole');`)
	st, _ := ParseOne("INSERT INTO dst SELECT x FROM src")
	plan, err := s.PlanInsert(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Explain(), "table=dst") {
		t.Fatalf("plan:\n%s", plan.Explain())
	}
	if err := plan.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ = ParseOne("SELECT 1")
	if _, err := s.PlanInsert(st); err == nil {
		t.Fatal("PlanInsert of a SELECT")
	}
	if st, _ := ParseOne("INSERT INTO nosuch SELECT 1"); st != nil {
		if _, err := s.PlanInsert(st); err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Fatalf("unknown table: %v", err)
		}
	}
}
