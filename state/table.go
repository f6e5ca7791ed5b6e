package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"
)

// TableOptions bound a table's write-back cache and set its TTL.
type TableOptions struct {
	// MaxEntries and MaxBytes bound the cache (defaults 65536 entries,
	// 64 MiB). Evicting a dirty entry writes it into the current epoch's
	// write batch, so state larger than memory spills to Badger.
	MaxEntries int
	MaxBytes   int64
	// SpillEntries is how many evicted-but-unflushed entries are held
	// before the batch is flushed so Badger reads see them (default
	// MaxEntries/4, at least 64).
	SpillEntries int
	// TTL > 0 makes entries whose last write is older than TTL (in the
	// units of SetTime) read as absent; they are removed lazily.
	TTL int64
}

func (o *TableOptions) fill() {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1 << 16
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.SpillEntries <= 0 {
		o.SpillEntries = max(o.MaxEntries/4, 64)
	}
}

// entryOverhead approximates the Go memory of one cache entry besides its
// key and value.
const entryOverhead = 96

type entry struct {
	key        string // full encoded key
	gk         int    // key[:gk] is the (key group, user key) prefix; key[gk:] the namespace
	val        []byte // stored value (flag, time, user value); nil when deleted
	deleted    bool
	dirty      bool // differs from Badger at the current epoch
	spilled    bool // written into the batch, batch not flushed yet
	inDirty    bool
	prev, next *entry
}

func (e *entry) size() int64 { return int64(len(e.key)+len(e.val)) + entryOverhead }

// Table is the keyed state of one (operator, state name). It is owned by
// one goroutine (the operator subtask): its methods are not safe for
// concurrent use, except that DB.Snapshot may run while it is written.
type Table struct {
	db      *DB
	op      uint32
	stateID uint16
	opt     TableOptions

	epoch uint64 // version the table writes at
	now   int64

	batch   *badger.WriteBatch
	readTxn *badger.Txn

	index   map[string]*entry
	nsIndex map[string]map[string]*entry // group key → namespace → entry (non-empty namespaces)
	head    *entry                       // LRU: most recent
	tail    *entry
	n       int
	bytes   int64
	dirty   []*entry
	spilled []*entry

	kbuf   []byte
	closed bool
}

// Table opens the state table (op, stateID). Operator ids must be stable
// across restarts of the same query (derived from the plan).
func (db *DB) Table(op uint32, stateID uint16, opt TableOptions) (*Table, error) {
	opt.fill()
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, errors.New("state: DB closed")
	}
	id := tableID(op, stateID)
	if _, ok := db.tables[id]; ok {
		return nil, fmt.Errorf("%w: operator %d state %d", errTableOpen, op, stateID)
	}
	t := &Table{
		db: db, op: op, stateID: stateID, opt: opt, epoch: db.epoch,
		index: map[string]*entry{}, nsIndex: map[string]map[string]*entry{},
	}
	db.tables[id] = t
	return t, nil
}

// Epoch returns the epoch (Badger version) the table currently writes at.
func (t *Table) Epoch() uint64 { return t.epoch }

// SetTime sets the logical or processing time used to stamp writes and to
// judge TTL expiry.
func (t *Table) SetTime(now int64) { t.now = now }

// Len returns the number of cache entries (for tests and metrics).
func (t *Table) Len() int { return t.n }

func (t *Table) key(kg uint16, key, ns []byte) (string, int) {
	t.kbuf = EncodeKey(t.kbuf[:0], t.op, t.stateID, kg, key, nil)
	gk := len(t.kbuf)
	t.kbuf = append(t.kbuf, ns...)
	return string(t.kbuf), gk
}

func (t *Table) groupPrefix(kg uint16, key []byte) []byte {
	return EncodeKey(nil, t.op, t.stateID, kg, key, nil)
}

// expired reports whether a stored value is past the table's TTL.
func (t *Table) expired(stored []byte) bool {
	if t.opt.TTL <= 0 || stored == nil {
		return false
	}
	_, ts, timed, err := decodeValue(stored)
	return err == nil && timed && t.now-ts >= t.opt.TTL
}

// Get returns the value of (kg, key, ns). The returned slice must not be
// modified; it stays valid (values are never changed in place).
func (t *Table) Get(kg uint16, key, ns []byte) ([]byte, bool, error) {
	k, gk := t.key(kg, key, ns)
	e := t.index[k]
	if e == nil {
		stored, err := t.readBadger([]byte(k))
		if err != nil {
			return nil, false, err
		}
		e = &entry{key: k, gk: gk, val: stored, deleted: stored == nil}
		t.insert(e)
		if err := t.evict(); err != nil {
			return nil, false, err
		}
	} else if !e.spilled {
		t.touch(e)
	}
	if e.deleted {
		return nil, false, nil
	}
	if t.expired(e.val) {
		if err := t.Delete(kg, key, ns); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	v, _, _, err := decodeValue(e.val)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (t *Table) readBadger(k []byte) ([]byte, error) {
	if t.readTxn == nil {
		t.readTxn = t.db.bdb.NewTransactionAt(t.epoch, false)
	}
	item, err := t.readTxn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read: %w", err)
	}
	return item.ValueCopy(nil)
}

// Put sets (kg, key, ns) to value (copied) at the current epoch.
func (t *Table) Put(kg uint16, key, ns, value []byte) error {
	return t.write(kg, key, ns, encodeValue(value, t.opt.TTL > 0, t.now), false)
}

// Delete removes (kg, key, ns) at the current epoch (a tombstone is written
// so that later checkpoints and restores see the deletion).
func (t *Table) Delete(kg uint16, key, ns []byte) error {
	return t.write(kg, key, ns, nil, true)
}

func (t *Table) write(kg uint16, key, ns, stored []byte, deleted bool) error {
	if t.closed {
		return errors.New("state: table closed")
	}
	k, gk := t.key(kg, key, ns)
	e := t.index[k]
	if e == nil || e.spilled {
		// A spilled entry's value is already in the batch; a new entry
		// supersedes it (same version, written later).
		e = &entry{key: k, gk: gk}
		t.insert(e)
	} else {
		t.touch(e)
	}
	t.bytes -= int64(len(e.val))
	e.val, e.deleted = stored, deleted
	t.bytes += int64(len(e.val))
	if !e.dirty {
		e.dirty = true
	}
	if !e.inDirty {
		e.inDirty = true
		t.dirty = append(t.dirty, e)
	}
	return t.evict()
}

// insert adds a new entry to the index and the front of the LRU list.
func (t *Table) insert(e *entry) {
	t.index[e.key] = e
	if e.gk < len(e.key) {
		g := t.nsIndex[e.key[:e.gk]]
		if g == nil {
			g = map[string]*entry{}
			t.nsIndex[e.key[:e.gk]] = g
		}
		g[e.key[e.gk:]] = e
	}
	t.pushFront(e)
	t.n++
	t.bytes += e.size()
}

func (t *Table) unindex(e *entry) {
	if t.index[e.key] != e {
		return
	}
	delete(t.index, e.key)
	if e.gk < len(e.key) {
		g := t.nsIndex[e.key[:e.gk]]
		delete(g, e.key[e.gk:])
		if len(g) == 0 {
			delete(t.nsIndex, e.key[:e.gk])
		}
	}
}

func (t *Table) pushFront(e *entry) {
	e.prev, e.next = nil, t.head
	if t.head != nil {
		t.head.prev = e
	}
	t.head = e
	if t.tail == nil {
		t.tail = e
	}
}

func (t *Table) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *Table) touch(e *entry) {
	if t.head == e {
		return
	}
	t.unlink(e)
	t.pushFront(e)
}

func (t *Table) ensureBatch() {
	if t.batch == nil {
		t.batch = t.db.bdb.NewWriteBatchAt(t.epoch)
	}
}

// writeEntry puts a dirty entry into the current epoch's batch.
func (t *Table) writeEntry(e *entry) error {
	t.ensureBatch()
	k := []byte(e.key)
	if e.deleted {
		return t.batch.Delete(k)
	}
	return t.batch.Set(k, e.val)
}

// evict shrinks the cache to its bounds. Dirty victims are written to the
// batch and kept (indexed, "spilled") until the batch is flushed.
func (t *Table) evict() error {
	for (t.n > t.opt.MaxEntries || t.bytes > t.opt.MaxBytes) && t.tail != nil {
		e := t.tail
		t.unlink(e)
		t.n--
		t.bytes -= e.size()
		if !e.dirty {
			t.unindex(e)
			continue
		}
		if err := t.writeEntry(e); err != nil {
			return fmt.Errorf("state: spill: %w", err)
		}
		e.dirty, e.spilled = false, true
		t.spilled = append(t.spilled, e)
	}
	if len(t.spilled) >= t.opt.SpillEntries {
		return t.flushBatch()
	}
	return nil
}

// flushBatch makes everything written to the batch visible to reads and
// drops spilled entries from the index.
func (t *Table) flushBatch() error {
	if t.batch != nil {
		err := t.batch.Flush()
		t.batch = nil
		if err != nil {
			return fmt.Errorf("state: flush: %w", err)
		}
	}
	for _, e := range t.spilled {
		t.unindex(e)
	}
	t.spilled = t.spilled[:0]
	return nil
}

// writeDirty writes every dirty cached entry into the batch and flushes it.
// Its cost is proportional to the entries written since the last call.
func (t *Table) writeDirty() error {
	for _, e := range t.dirty {
		e.inDirty = false
		if !e.dirty || e.spilled {
			continue
		}
		if err := t.writeEntry(e); err != nil {
			return fmt.Errorf("state: commit: %w", err)
		}
		e.dirty = false
	}
	clear(t.dirty)
	t.dirty = t.dirty[:0]
	return t.flushBatch()
}

// Commit is the synchronous phase of checkpoint epoch for this table: the
// dirty entries go into the epoch's write batch, the batch is flushed, and
// writes switch to epoch+1. Nothing here scales with total state.
func (t *Table) Commit(epoch uint64) error {
	if epoch != t.epoch {
		return fmt.Errorf("state: commit epoch %d but table writes at %d", epoch, t.epoch)
	}
	if err := t.writeDirty(); err != nil {
		return err
	}
	if t.readTxn != nil {
		t.readTxn.Discard()
		t.readTxn = nil
	}
	t.epoch = epoch + 1
	t.db.noteCommitted(epoch)
	return nil
}

// Close releases the table without committing its current epoch.
func (t *Table) Close() {
	t.abandon()
	t.db.mu.Lock()
	delete(t.db.tables, tableID(t.op, t.stateID))
	t.db.mu.Unlock()
}

func (t *Table) abandon() {
	if t.closed {
		return
	}
	t.closed = true
	if t.batch != nil {
		t.batch.Cancel()
		t.batch = nil
	}
	if t.readTxn != nil {
		t.readTxn.Discard()
		t.readTxn = nil
	}
}

// Scan calls fn for every live namespace of (kg, key) in namespace byte
// order, merging the cache with Badger. fn must not retain ns; it may write
// to the table only after Scan returns (collect first).
func (t *Table) Scan(kg uint16, key []byte, fn func(ns, value []byte) bool) error {
	gp := t.groupPrefix(kg, key)
	type item struct {
		ns string
		e  *entry
	}
	var cached []item
	if e := t.index[string(gp)]; e != nil {
		cached = append(cached, item{"", e})
	}
	for ns, e := range t.nsIndex[string(gp)] {
		cached = append(cached, item{ns, e})
	}
	sort.Slice(cached, func(i, j int) bool { return cached[i].ns < cached[j].ns })

	txn := t.db.bdb.NewTransactionAt(t.epoch, false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	opts.Prefix = gp
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Rewind()

	emit := func(ns []byte, stored []byte) (bool, error) {
		if stored == nil || t.expired(stored) {
			return true, nil
		}
		v, _, _, err := decodeValue(stored)
		if err != nil {
			return false, err
		}
		return fn(ns, v), nil
	}
	ci := 0
	for {
		var bns []byte
		if it.Valid() {
			bns = it.Item().Key()[len(gp):]
		}
		switch {
		case !it.Valid() && ci >= len(cached):
			return nil
		case ci < len(cached) && (!it.Valid() || cached[ci].ns <= string(bns)):
			c := cached[ci]
			ci++
			if it.Valid() && c.ns == string(bns) {
				it.Next()
			}
			var stored []byte
			if !c.e.deleted {
				stored = c.e.val
			}
			more, err := emit([]byte(c.ns), stored)
			if err != nil || !more {
				return err
			}
		default:
			stored, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ns := append([]byte(nil), bns...)
			it.Next()
			more, err := emit(ns, stored)
			if err != nil || !more {
				return err
			}
		}
	}
}

// DeleteKey removes every namespace of (kg, key).
func (t *Table) DeleteKey(kg uint16, key []byte) error {
	return t.DeleteRange(kg, key, nil, nil)
}

// DeleteRange removes the namespaces ns of (kg, key) with from <= ns < to
// (nil to = no upper bound), for example every window that ended by a
// watermark. Deletions are versioned tombstones (Badger's DropPrefix is not
// epoch-aware and would corrupt checkpoints).
func (t *Table) DeleteRange(kg uint16, key, from, to []byte) error {
	var doomed [][]byte
	err := t.Scan(kg, key, func(ns, _ []byte) bool {
		if bytes.Compare(ns, from) < 0 {
			return true
		}
		if to != nil && bytes.Compare(ns, to) >= 0 {
			return false
		}
		doomed = append(doomed, append([]byte(nil), ns...))
		return true
	})
	if err != nil {
		return err
	}
	for _, ns := range doomed {
		if err := t.Delete(kg, key, ns); err != nil {
			return err
		}
	}
	return nil
}

// ScanGroups calls fn for every live entry whose key group is in
// [first, last], in key order. It first writes and flushes the dirty cache
// (within the current epoch), so it is meant for rare whole-range work
// (TTL sweeps, timers, inspection), not per record.
func (t *Table) ScanGroups(first, last uint16, fn func(kg uint16, key, ns, value []byte) bool) error {
	if err := t.writeDirty(); err != nil {
		return err
	}
	var lo, hi []byte
	lo = binary.BigEndian.AppendUint32(lo, t.op)
	lo = binary.BigEndian.AppendUint16(lo, t.stateID)
	hi = append(hi, lo...)
	lo = binary.BigEndian.AppendUint16(lo, first)
	txn := t.db.bdb.NewTransactionAt(t.epoch, false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	opts.Prefix = hi
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(lo); it.Valid(); it.Next() {
		k := it.Item().Key()
		kg, _ := KeyGroupOf(k)
		if kg > last {
			return nil
		}
		stored, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if t.expired(stored) {
			continue
		}
		_, _, _, key, ns, err := DecodeKey(k)
		if err != nil {
			return err
		}
		v, _, _, err := decodeValue(stored)
		if err != nil {
			return err
		}
		if !fn(kg, key, ns, v) {
			return nil
		}
	}
	return nil
}

// ExpireGroups deletes every entry in key groups [first, last] that is past
// the TTL and returns how many it deleted.
func (t *Table) ExpireGroups(first, last uint16) (int, error) {
	if t.opt.TTL <= 0 {
		return 0, nil
	}
	type doomed struct {
		kg      uint16
		key, ns []byte
	}
	var ds []doomed
	if err := t.writeDirty(); err != nil {
		return 0, err
	}
	var lo, pre []byte
	pre = binary.BigEndian.AppendUint32(pre, t.op)
	pre = binary.BigEndian.AppendUint16(pre, t.stateID)
	lo = binary.BigEndian.AppendUint16(append(lo, pre...), first)
	txn := t.db.bdb.NewTransactionAt(t.epoch, false)
	opts := badger.DefaultIteratorOptions
	opts.Prefix = pre
	it := txn.NewIterator(opts)
	for it.Seek(lo); it.Valid(); it.Next() {
		k := it.Item().Key()
		kg, _ := KeyGroupOf(k)
		if kg > last {
			break
		}
		stored, err := it.Item().ValueCopy(nil)
		if err != nil {
			it.Close()
			txn.Discard()
			return 0, err
		}
		if !t.expired(stored) {
			continue
		}
		_, _, _, key, ns, err := DecodeKey(k)
		if err != nil {
			it.Close()
			txn.Discard()
			return 0, err
		}
		ds = append(ds, doomed{kg, key, append([]byte(nil), ns...)})
	}
	it.Close()
	txn.Discard()
	for _, d := range ds {
		if err := t.Delete(d.kg, d.key, d.ns); err != nil {
			return 0, err
		}
	}
	return len(ds), nil
}
