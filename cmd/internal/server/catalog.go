package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

// catalogStore is the server's one catalog, shared by every client.
//
// A published *sql.Catalog is never changed: a statement gets its own
// Clone (see sql/shared.go), and a DDL statement runs on a clone that
// replaces the published catalog only if the statement succeeded and, with
// a data directory, was appended to the DDL log. DDL statements are
// serialized; queries never wait for them.
//
// The DDL log (catalog.jsonl in the data directory) holds one JSON object
// per successful DDL statement, in order, fsynced before the client is
// answered. At start the statements are run again, in order, to rebuild the
// catalog. A torn last line (the server died while appending) is a
// statement that was never acknowledged: it is cut off the file.
//
// Versions. The catalog's version is the number of DDL statements applied.
// A job records the version it was planned against and is planned again,
// after a restart or on resume, against that version (catalogAt), not the
// current one: a table dropped, or a view replaced, after the job started
// does not change what the job computes or make its checkpoints unusable.
type catalogStore struct {
	mu      sync.Mutex // serializes DDL; guards applied
	cur     atomic.Pointer[versioned]
	applied []ddlRecord // the statements applied, in order (len = version)
	path    string      // "" without a data directory
	log     io.Writer
}

// versioned is a published catalog and its version.
type versioned struct {
	cat     *sql.Catalog
	version int
}

// ddlRecord is one line of the DDL log.
type ddlRecord struct {
	Time time.Time `json:"time"`
	User string    `json:"user"`
	SQL  string    `json:"sql"`
}

func newCatalogStore(path string, log io.Writer) *catalogStore {
	c := &catalogStore{path: path, log: log}
	c.cur.Store(&versioned{cat: sql.NewCatalog()})
	return c
}

// snapshot returns a private copy of the current catalog and its version.
func (c *catalogStore) snapshot() (*sql.Catalog, int, error) {
	v := c.cur.Load()
	cat, err := v.cat.Clone()
	return cat, v.version, err
}

// catalogAt rebuilds the catalog as it was at version.
func (c *catalogStore) catalogAt(version int) (*sql.Catalog, error) {
	c.mu.Lock()
	if version < 0 || version > len(c.applied) {
		n := len(c.applied)
		c.mu.Unlock()
		return nil, fmt.Errorf("catalog version %d does not exist (the catalog has %d statements)", version, n)
	}
	recs := c.applied[:version:version]
	c.mu.Unlock()
	cat := sql.NewCatalog()
	for _, r := range recs {
		if err := apply(cat, r.SQL); err != nil {
			return nil, fmt.Errorf("rebuilding the catalog: %q: %w", r.SQL, err)
		}
	}
	return cat, nil
}

func apply(cat *sql.Catalog, text string) error {
	st, err := sql.ParseOne(text)
	if err != nil {
		return err
	}
	return sql.NewSessionWithCatalog(cat).Exec(context.Background(), st, discardSink{})
}

// ddl runs fn, a DDL statement, on a copy of the catalog and publishes the
// copy if fn succeeds and the statement was logged.
func (c *catalogStore) ddl(user, text string, fn func(*sql.Catalog) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.cur.Load()
	cat, err := cur.cat.Clone()
	if err != nil {
		return err
	}
	if err := fn(cat); err != nil {
		return err
	}
	r := ddlRecord{Time: time.Now().UTC(), User: user, SQL: text}
	if err := c.append(r); err != nil {
		return fmt.Errorf("the statement succeeded but could not be saved, so it was not applied: %w", err)
	}
	c.applied = append(c.applied, r)
	c.cur.Store(&versioned{cat: cat, version: cur.version + 1})
	return nil
}

func (c *catalogStore) append(r ddlRecord) error {
	if c.path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replay rebuilds the catalog from the DDL log. A statement that fails now
// (a file that vanished...) is reported and skipped: the log keeps it, but
// it does not count as a version.
func (c *catalogStore) replay() (int, error) {
	if c.path == "" {
		return 0, nil
	}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// Every acknowledged statement ends with a newline (written with it,
	// then fsynced): text after the last newline is a torn append.
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		fmt.Fprintf(c.log, "weir serve: %s: dropping a torn last line (a statement never acknowledged)\n", c.path)
		if err := os.Truncate(c.path, int64(i+1)); err != nil {
			return 0, err
		}
		data = data[:i+1]
	}
	cat := sql.NewCatalog()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var r ddlRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return 0, fmt.Errorf("%s line %d: %w", c.path, i+1, err)
		}
		if err := apply(cat, r.SQL); err != nil {
			fmt.Fprintf(c.log, "weir serve: %s line %d: %q no longer runs, skipped: %v\n", c.path, i+1, r.SQL, err)
			continue
		}
		c.applied = append(c.applied, r)
	}
	c.cur.Store(&versioned{cat: cat, version: len(c.applied)})
	return len(c.applied), nil
}

// discardSink swallows what replayed DDL reports.
type discardSink struct{}

func (discardSink) Columns([]types.Column, bool) error { return nil }
func (discardSink) Rows(*types.Batch) error            { return nil }
func (discardSink) Done() error                        { return nil }
func (discardSink) Message(string) error               { return nil }
