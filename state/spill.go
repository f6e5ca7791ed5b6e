package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// SpillStore is where operators keep the part of their working state that
// does not fit their memory budget: one Badger DB per job run, in normal
// (not managed) mode, shared by every spilling operator subtask. It is
// scratch space, not checkpoint state: checkpoints hold everything an
// operator owns, resident or spilled, so the store is created empty for a
// run and removed when the run ends.
//
// Each subtask writes through its own SpillSpace (a key prefix). A space
// buffers writes until Flush (a Badger WriteBatch) and answers Get from the
// buffer first, so it reads its own writes; Snapshot flushes and opens a
// read-only Badger transaction: a consistent view of the space at that
// moment, readable while the subtask goes on writing (what a checkpoint's
// full capture walks).
type SpillStore struct {
	bdb *badger.DB
	dir string

	mu     sync.Mutex
	spaces uint32
	open   []*SpillSpace
	closed atomic.Bool
}

// spillOptions size Badger for scratch state: small memtables (the
// operators' own memory is the cache), a block cache so that reloads of
// recently spilled entries do not decode blocks again, no compression, no
// fsync (the store does not outlive the process).
func spillOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(10).
		WithCompression(options.None).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithValueLogFileSize(64 << 20).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithLogger(quietLogger{log.New(os.Stderr, "weir spill (badger): ", log.LstdFlags)})
}

// OpenSpill creates a spill store in dir, which must be absent or empty.
func OpenSpill(dir string) (*SpillStore, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("state: spill directory %s is not empty", dir)
	}
	bdb, err := badger.Open(spillOptions(dir))
	if err != nil {
		return nil, fmt.Errorf("state: open spill store %s: %w", dir, err)
	}
	return &SpillStore{bdb: bdb, dir: dir}, nil
}

// Dir returns the store's directory.
func (s *SpillStore) Dir() string { return s.dir }

// Close closes the store and removes its directory. Read transactions and
// snapshots its spaces still hold are released first; the spaces must not
// be used any more (their Close and their snapshots' Close do nothing).
func (s *SpillStore) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	for _, sp := range s.open {
		sp.release()
	}
	s.closed.Store(true)
	s.mu.Unlock()
	err := s.bdb.Close()
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

// Space returns a new, empty space of the store for one operator subtask.
// A space is used from one goroutine.
func (s *SpillStore) Space() *SpillSpace {
	sp := &SpillSpace{s: s, pending: map[string][]byte{}, snaps: map[*SpillSnapshot]bool{}}
	s.mu.Lock()
	s.spaces++
	binary.BigEndian.PutUint32(sp.prefix[:], s.spaces)
	s.open = append(s.open, sp)
	s.mu.Unlock()
	return sp
}

// SpillSpace is one subtask's part of a SpillStore: keys (key group, key)
// to values. See SpillStore.
type SpillSpace struct {
	s      *SpillStore
	prefix [4]byte
	// writes since the last Flush: key → value, nil for a deletion (values
	// are never nil: Put stores an empty value as a non-nil empty slice)
	pending      map[string][]byte
	pendingBytes int
	kbuf         []byte
	// a read transaction shared by the Gets between two flushes (opening
	// one per Get costs more than many lookups)
	rtxn  *badger.Txn
	snaps map[*SpillSnapshot]bool // open snapshots
}

// spillFlushBytes is how much a space buffers before Put or Delete flush.
const spillFlushBytes = 4 << 20

var emptyValue = []byte{}

func (sp *SpillSpace) key(dst []byte, kg uint16, key []byte) []byte {
	dst = append(dst, sp.prefix[:]...)
	dst = binary.BigEndian.AppendUint16(dst, kg)
	return append(dst, key...)
}

// Get returns a copy of the value of (kg, key), if there is one.
func (sp *SpillSpace) Get(kg uint16, key []byte) ([]byte, bool, error) {
	sp.kbuf = sp.key(sp.kbuf[:0], kg, key)
	if v, ok := sp.pending[string(sp.kbuf)]; ok {
		if v == nil {
			return nil, false, nil
		}
		return append(make([]byte, 0, len(v)), v...), true, nil
	}
	if sp.rtxn == nil {
		sp.rtxn = sp.s.bdb.NewTransaction(false)
	}
	var out []byte
	it, err := sp.rtxn.Get(sp.kbuf)
	if err == nil {
		out, err = it.ValueCopy(nil)
	}
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: spill store read: %w", err)
	}
	if out == nil {
		out = emptyValue
	}
	return out, true, nil
}

// Put sets (kg, key) to a copy of value.
func (sp *SpillSpace) Put(kg uint16, key, value []byte) error {
	v := append(make([]byte, 0, len(value)), value...)
	return sp.write(kg, key, v)
}

// Delete removes (kg, key).
func (sp *SpillSpace) Delete(kg uint16, key []byte) error { return sp.write(kg, key, nil) }

func (sp *SpillSpace) write(kg uint16, key, v []byte) error {
	sp.kbuf = sp.key(sp.kbuf[:0], kg, key)
	if old, ok := sp.pending[string(sp.kbuf)]; ok {
		sp.pendingBytes -= len(old)
	} else {
		sp.pendingBytes += len(sp.kbuf) + 48
	}
	sp.pending[string(sp.kbuf)] = v
	sp.pendingBytes += len(v)
	if sp.pendingBytes >= spillFlushBytes {
		return sp.Flush()
	}
	return nil
}

// Flush writes the buffered writes to Badger.
func (sp *SpillSpace) Flush() error {
	if len(sp.pending) == 0 {
		return nil
	}
	sp.endRead()
	wb := sp.s.bdb.NewWriteBatch()
	defer wb.Cancel()
	for k, v := range sp.pending {
		var err error
		if v == nil {
			err = wb.Delete([]byte(k))
		} else {
			err = wb.Set([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("state: spill store write: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("state: spill store write: %w", err)
	}
	clear(sp.pending)
	sp.pendingBytes = 0
	return nil
}

// Scan flushes the space and calls fn with every entry of key group kg
// whose key starts with prefix, in key order, as of the call: writes fn
// makes (deleting what it is handed, say) are not seen. The slices passed
// to fn are valid during the call only.
func (sp *SpillSpace) Scan(kg uint16, prefix []byte, fn func(key, value []byte) error) error {
	if err := sp.Flush(); err != nil {
		return err
	}
	txn := sp.s.bdb.NewTransaction(false)
	defer txn.Discard()
	p := sp.key(nil, kg, prefix)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	n := len(sp.prefix) + 2
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key()[n:], v) })
		if err != nil {
			return fmt.Errorf("state: spill store scan: %w", err)
		}
	}
	return nil
}

func (sp *SpillSpace) endRead() {
	if sp.rtxn != nil {
		sp.rtxn.Discard()
		sp.rtxn = nil
	}
}

// release discards the space's read transaction and snapshots (the store
// is closing, or the space).
func (sp *SpillSpace) release() {
	sp.endRead()
	for s := range sp.snaps {
		s.release()
	}
}

// Close releases the space's read transaction and open snapshots. The
// space's entries stay until the store is closed.
func (sp *SpillSpace) Close() {
	sp.s.mu.Lock()
	defer sp.s.mu.Unlock()
	if !sp.s.closed.Load() {
		sp.release()
	}
}

// Snapshot flushes the space and returns a consistent view of it as it is
// now. The caller must Close it.
func (sp *SpillSpace) Snapshot() (*SpillSnapshot, error) {
	if err := sp.Flush(); err != nil {
		return nil, err
	}
	s := &SpillSnapshot{sp: sp, txn: sp.s.bdb.NewTransaction(false)}
	sp.snaps[s] = true
	return s, nil
}

// SpillSnapshot is a read-only view of a space (see SpillSpace.Snapshot).
type SpillSnapshot struct {
	sp  *SpillSpace
	txn *badger.Txn
	it  *badger.Iterator
}

// Each calls fn for at most n entries of the snapshot, in key order,
// continuing where the previous call stopped; it reports whether the walk
// is complete. The slices passed to fn are valid during the call only.
func (s *SpillSnapshot) Each(n int, fn func(kg uint16, key, value []byte) error) (bool, error) {
	if s.it == nil {
		s.it = s.txn.NewIterator(badger.IteratorOptions{Prefix: s.sp.prefix[:], PrefetchValues: false})
		s.it.Seek(s.sp.prefix[:])
	}
	for ; s.it.ValidForPrefix(s.sp.prefix[:]); s.it.Next() {
		if n <= 0 {
			return false, nil
		}
		n--
		item := s.it.Item()
		k := item.Key()[len(s.sp.prefix):]
		if len(k) < 2 {
			return false, fmt.Errorf("state: spill store: short key %x", item.Key())
		}
		err := item.Value(func(v []byte) error {
			return fn(binary.BigEndian.Uint16(k), k[2:], v)
		})
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// Close releases the snapshot.
func (s *SpillSnapshot) Close() {
	if !s.sp.s.closed.Load() {
		s.release()
	}
}

func (s *SpillSnapshot) release() {
	if s.it != nil {
		s.it.Close()
		s.it = nil
	}
	s.txn.Discard()
	delete(s.sp.snaps, s)
}
