package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirsql/weir/sql"
)

// TestCatalogLog: DDL is logged, replayed in order with versions, and a
// torn last line (a statement never acknowledged) is cut off.
func TestCatalogLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.jsonl")
	logs := &lockedBuffer{}
	c := newCatalogStore(path, logs)
	for _, text := range []string{
		`CREATE TABLE a (x BIGINT) WITH ('connector'='datagen')`,
		`CREATE VIEW v AS SELECT x FROM a`,
		`DROP VIEW v`,
	} {
		if err := c.ddl("alice", text, func(cat *sql.Catalog) error { return apply(cat, text) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ddl("alice", "DROP TABLE nosuch", func(cat *sql.Catalog) error { return apply(cat, "DROP TABLE nosuch") }); err == nil {
		t.Fatal("a failing statement was applied")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-01-01T00:00:00Z","user":"alice","sql":"CREATE TA`)
	f.Close()

	c2 := newCatalogStore(path, logs)
	n, err := c2.replay()
	if err != nil || n != 3 {
		t.Fatalf("replay: %d statements, %v", n, err)
	}
	if !strings.Contains(logs.String(), "torn last line") {
		t.Fatalf("log: %s", logs.String())
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasSuffix(data, []byte("}\n")) || bytes.Count(data, []byte("\n")) != 3 {
		t.Fatalf("the torn line was not cut off:\n%s", data)
	}
	cat, version, err := c2.snapshot()
	if err != nil || version != 3 {
		t.Fatalf("version %d, %v", version, err)
	}
	if tables, views := cat.Names(); len(tables) != 1 || len(views) != 0 {
		t.Fatalf("after replay: %v %v", tables, views)
	}
	old, err := c2.catalogAt(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, views := old.Names(); len(views) != 1 {
		t.Fatalf("version 2 should have the view: %v", views)
	}
	if _, err := c2.catalogAt(4); err == nil {
		t.Fatal("a future version exists")
	}
	// appending after the cut keeps the file well-formed
	text := `CREATE TABLE b (x BIGINT) WITH ('connector'='datagen')`
	if err := c2.ddl("bob", text, func(cat *sql.Catalog) error { return apply(cat, text) }); err != nil {
		t.Fatal(err)
	}
	if n, err := newCatalogStore(path, logs).replay(); err != nil || n != 4 {
		t.Fatalf("second replay: %d, %v", n, err)
	}
}
