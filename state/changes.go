package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Changes is an append-only arena of state writes (puts and deletions) made
// by one operator subtask between two checkpoints. Building it touches no
// Badger structure, so an operator can fill it in its synchronous phase at
// the cost of copying the changed entries; WriteArenas writes it as a
// checkpoint's state, DB.Apply at the checkpoint's epoch. Not safe for
// concurrent use while it is written; once complete it may be read from
// several goroutines.
//
// The writes are encoded into chunks, a record never spanning two: the
// first chunks are small (an arena of a few entries costs a few KiB), then
// every chunk is ChunkSize bytes (or its pool's chunk size). An arena never
// grows by copying, and its full-size chunks can be recycled: an arena
// made by ChunkPool.NewChanges is reference counted (Retain, Release) and
// gives its chunks back to the pool when the last reference is released.
// WriteArenas writes each chunk as one frame.
type Changes struct {
	op        uint32
	chunks    [][]byte // the last one is being filled
	n         int
	size      int
	chunkSize int        // of a full-size chunk
	pool      *ChunkPool // nil: not pooled
	spare     [][]byte   // full-size chunks kept by Reset (not pooled)
	refs      atomic.Int32
}

// ChunkSize is the size of an arena's chunks after the first few.
const ChunkSize = 1 << 20

// firstChunk is the size of an arena's first chunk; each next one is
// four times larger, up to ChunkSize.
const firstChunk = 4 << 10

// NewChanges returns an empty arena for operator op, not pooled, with room
// for about sizeHint bytes in its first chunk.
func NewChanges(op uint32, sizeHint int) *Changes {
	c := &Changes{op: op, chunkSize: ChunkSize}
	if sizeHint > 0 {
		c.chunks = [][]byte{make([]byte, 0, sizeHint)}
	}
	return c
}

// Len is the number of writes recorded.
func (c *Changes) Len() int { return c.n }

// Size is the arena's size in bytes.
func (c *Changes) Size() int { return c.size }

// Reset empties the arena, keeping its full-size chunks for reuse (or
// giving them back to its pool: only while its one reference is the
// caller's).
func (c *Changes) Reset() {
	for _, b := range c.chunks {
		if cap(b) == c.chunkSize {
			if c.pool != nil {
				c.pool.put(b)
			} else {
				c.spare = append(c.spare, b[:0])
			}
		}
	}
	clear(c.chunks)
	c.chunks, c.n, c.size = c.chunks[:0], 0, 0
}

// room returns the chunk being filled with at least need bytes free,
// starting a new chunk if the current one has not.
func (c *Changes) room(need int) []byte {
	if k := len(c.chunks); k > 0 {
		if b := c.chunks[k-1]; cap(b)-len(b) >= need {
			return b
		}
	}
	var b []byte
	size := c.chunkSize
	if k := len(c.chunks); k < 8 {
		size = min(firstChunk<<(2*k), c.chunkSize)
	}
	switch {
	case need > c.chunkSize:
		b = make([]byte, 0, need) // one record larger than a chunk
	case size < c.chunkSize:
		b = make([]byte, 0, max(size, need))
	case len(c.spare) > 0:
		b = c.spare[len(c.spare)-1]
		c.spare = c.spare[:len(c.spare)-1]
	case c.pool != nil:
		b = c.pool.get()
	default:
		b = make([]byte, 0, c.chunkSize)
	}
	c.chunks = append(c.chunks, b)
	return b
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// add appends one record (see eachChange), encoding the state key in place.
func (c *Changes) add(del bool, kg uint16, key, ns, value []byte) {
	zeros := bytes.Count(key, []byte{0})
	kl := headerLen + len(key) + zeros + 2 + len(ns)
	need := 1 + uvarintLen(uint64(kl)) + kl
	if !del {
		need += uvarintLen(uint64(len(value)+1)) + 1 + len(value)
	}
	b := c.room(need)
	flag := byte(0)
	if del {
		flag = 1
	}
	b = append(b, flag)
	b = binary.AppendUvarint(b, uint64(kl))
	b = binary.BigEndian.AppendUint32(b, c.op)
	b = append(b, 0, 0) // state name 0
	b = binary.BigEndian.AppendUint16(b, kg)
	if zeros == 0 {
		b = append(b, key...)
		b = append(b, 0, 1)
	} else {
		b = appendEscaped(b, key)
	}
	b = append(b, ns...)
	if !del {
		b = binary.AppendUvarint(b, uint64(len(value)+1))
		b = append(b, valPlain)
		b = append(b, value...)
	}
	c.chunks[len(c.chunks)-1] = b
	c.n++
	c.size += need
}

// Put records that (kg, key, ns) holds value.
func (c *Changes) Put(kg uint16, key, ns, value []byte) { c.add(false, kg, key, ns, value) }

// Delete records that (kg, key, ns) was removed.
func (c *Changes) Delete(kg uint16, key, ns []byte) { c.add(true, kg, key, ns, nil) }

// each calls fn for every recorded write in order; value is nil for a
// deletion. The slices alias the arena.
func (c *Changes) each(fn func(del bool, k, v []byte) error) error {
	for _, b := range c.chunks {
		if err := eachChange(b, fn); err != nil {
			return err
		}
	}
	return nil
}

// Retain adds a reference to a pooled arena: its chunks stay out of the
// pool until every reference has been released. Safe from any goroutine.
func (c *Changes) Retain() {
	if c.pool != nil && c.refs.Add(1) <= 1 {
		panic("state: Retain of a released arena")
	}
}

// Release drops a reference to a pooled arena (NewChanges' arenas have
// none: Release does nothing). The last one gives its full-size chunks
// back to the pool; the arena must not be used after that. Safe from any
// goroutine.
func (c *Changes) Release() {
	if c.pool == nil {
		return
	}
	switch r := c.refs.Add(-1); {
	case r < 0:
		panic("state: arena released more often than retained")
	case r == 0:
		for _, b := range c.chunks {
			if cap(b) == c.chunkSize {
				c.pool.put(b)
			}
		}
		c.chunks = nil
	}
}

// released says whether a pooled arena was released.
func (c *Changes) released() bool { return c.pool != nil && c.refs.Load() <= 0 }

// ChunkPool recycles the full-size chunks of released arenas, keeping at
// most a given number of bytes of them. Safe for concurrent use.
type ChunkPool struct {
	mu        sync.Mutex
	free      [][]byte
	max       int // chunks
	chunkSize int
}

// NewChunkPool returns a pool of chunks of chunkSize bytes (ChunkSize if
// not positive; a small size makes tests recycle often) keeping at most
// maxBytes of free chunks.
func NewChunkPool(chunkSize, maxBytes int) *ChunkPool {
	if chunkSize <= 0 {
		chunkSize = ChunkSize
	}
	return &ChunkPool{max: maxBytes / chunkSize, chunkSize: chunkSize}
}

// NewChanges returns an empty arena for operator op whose full-size chunks
// come from the pool and return to it when its one reference (the
// caller's) and any added with Retain are released.
func (p *ChunkPool) NewChanges(op uint32) *Changes {
	c := &Changes{op: op, pool: p, chunkSize: p.chunkSize}
	c.refs.Store(1)
	return c
}

func (p *ChunkPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, 0, p.chunkSize)
}

func (p *ChunkPool) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, b[:0])
	}
}

// eachChange walks the records of one chunk: flag (1: deletion) | uvarint
// key length | state key | (puts) uvarint value length | stored value.
func eachChange(b []byte, fn func(del bool, k, v []byte) error) error {
	for len(b) > 0 {
		del := b[0] == 1
		b = b[1:]
		kl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < kl {
			return fmt.Errorf("state: corrupt change arena")
		}
		k := b[n : n+int(kl)]
		b = b[n+int(kl):]
		var v []byte
		if !del {
			vl, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < vl {
				return fmt.Errorf("state: corrupt change arena")
			}
			v = b[n : n+int(vl)]
			b = b[n+int(vl):]
		}
		if err := fn(del, k, v); err != nil {
			return err
		}
	}
	return nil
}

// Apply writes the arenas at version epoch (the asynchronous phase of
// checkpoint epoch: a managed WriteBatch, which splits itself). Within one
// arena a later write of a key wins. Arenas of different operator subtasks
// hold disjoint keys (each owns its key groups). Apply must be called for
// epochs in increasing order per subtask; a snapshot of epoch may start when
// every subtask's arena of epoch (or of any earlier epoch not yet applied)
// has been applied.
func (db *DB) Apply(epoch uint64, arenas ...*Changes) error {
	wb := db.bdb.NewManagedWriteBatch()
	defer wb.Cancel()
	for _, c := range arenas {
		if c == nil {
			continue
		}
		err := c.each(func(del bool, k, v []byte) error {
			// the batch keeps the slices until Flush; the arena outlives it
			if del {
				return wb.DeleteAt(k, epoch)
			}
			return wb.SetEntryAt(badger.NewEntry(k, v), epoch)
		})
		if err != nil {
			return fmt.Errorf("state: apply epoch %d: %w", epoch, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("state: apply epoch %d: %w", epoch, err)
	}
	db.noteCommitted(epoch)
	return nil
}

// ScanOperator calls fn for every live entry of operator op in key groups
// [first, last], in key order, reading the newest version. The slices are
// valid only during the call. It is how an operator subtask restores its
// share of state, whatever parallelism wrote it.
func (db *DB) ScanOperator(op uint32, first, last uint16, fn func(kg uint16, key, ns, value []byte) error) error {
	txn := db.bdb.NewTransactionAt(^uint64(0)-1, false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	lo := EncodeKey(nil, op, 0, first, nil, nil)
	opts.Prefix = lo[:6]
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(lo); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		_, _, kg, key, ns, err := DecodeKey(k)
		if err != nil {
			return fmt.Errorf("state: scan operator %d: %w", op, err)
		}
		if kg > last {
			break
		}
		raw, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("state: scan operator %d: %w", op, err)
		}
		v, _, _, err := decodeValue(raw)
		if err != nil {
			return fmt.Errorf("state: scan operator %d key %x: %w", op, k, err)
		}
		if err := fn(kg, key, bytes.Clone(ns), v); err != nil {
			return err
		}
	}
	return nil
}
