package state

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// DB is the process's one Badger database, opened in managed mode: the
// Badger version of every write is the checkpoint epoch it belongs to.
type DB struct {
	bdb *badger.DB
	dir string

	mu       sync.Mutex
	tables   map[uint64]*Table
	epoch    uint64         // the epoch new tables write at
	acked    uint64         // last acknowledged (completed) checkpoint epoch
	discard  uint64         // discard ts handed to Badger
	inflight map[uint64]int // SinceTs of snapshots being written → count
	closed   bool
}

// quietLogger drops Badger's info, debug and warning output (the default
// logger prints cache histograms as warnings) and keeps errors.
type quietLogger struct{ l *log.Logger }

func (q quietLogger) Errorf(f string, a ...any) { q.l.Printf("ERROR: "+f, a...) }
func (quietLogger) Warningf(string, ...any)     {}
func (quietLogger) Infof(string, ...any)        {}
func (quietLogger) Debugf(string, ...any)       {}

func badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithMemTableSize(16 << 20).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithValueLogFileSize(64 << 20).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithLogger(quietLogger{log.New(os.Stderr, "weir state (badger): ", log.LstdFlags)})
}

// Open opens (or creates) the state DB in dir. Writes start at the epoch after
// the highest version already in the DB (1 for an empty DB). To resume from a
// checkpoint use Restore into a fresh directory instead.
func Open(dir string) (*DB, error) {
	bdb, err := badger.OpenManaged(badgerOptions(dir))
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	return newDB(bdb, dir, bdb.MaxVersion()+1), nil
}

func newDB(bdb *badger.DB, dir string, epoch uint64) *DB {
	if epoch == 0 {
		epoch = 1
	}
	return &DB{
		bdb:      bdb,
		dir:      dir,
		tables:   map[uint64]*Table{},
		epoch:    epoch,
		inflight: map[uint64]int{},
	}
}

// Dir returns the DB's directory.
func (db *DB) Dir() string { return db.dir }

// Epoch returns the epoch that new writes (and newly opened tables) use.
func (db *DB) Epoch() uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.epoch
}

// Close closes the DB. Writes of an epoch that was not committed are lost
// (they belong to no checkpoint).
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	tables := make([]*Table, 0, len(db.tables))
	for _, t := range db.tables {
		tables = append(tables, t)
	}
	db.mu.Unlock()
	for _, t := range tables {
		t.abandon()
	}
	return db.bdb.Close()
}

// Commit runs the synchronous phase of checkpoint epoch for every open table
// (see Table.Commit). The caller must not write to the tables concurrently.
// A subtask that owns only some tables commits them itself with Table.Commit.
func (db *DB) Commit(epoch uint64) error {
	db.mu.Lock()
	tables := make([]*Table, 0, len(db.tables))
	for _, t := range db.tables {
		tables = append(tables, t)
	}
	db.mu.Unlock()
	for _, t := range tables {
		if err := t.Commit(epoch); err != nil {
			return err
		}
	}
	db.noteCommitted(epoch)
	return nil
}

func (db *DB) noteCommitted(epoch uint64) {
	db.mu.Lock()
	if epoch+1 > db.epoch {
		db.epoch = epoch + 1
	}
	db.mu.Unlock()
}

// Acknowledge records that checkpoint epoch is complete (its metadata is
// durable). Badger may then discard versions at or below it — but never above
// the SinceTs of an incremental snapshot still being written.
func (db *DB) Acknowledge(epoch uint64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if epoch > db.acked {
		db.acked = epoch
	}
	db.updateDiscardLocked()
}

func (db *DB) updateDiscardLocked() {
	ts := db.acked
	for s, n := range db.inflight {
		if n > 0 && s < ts {
			ts = s
		}
	}
	if ts > db.discard {
		db.discard = ts
		db.bdb.SetDiscardTs(ts)
	}
}

var errTableOpen = errors.New("state: table already open")

func tableID(op uint32, stateID uint16) uint64 { return uint64(op)<<16 | uint64(stateID) }
