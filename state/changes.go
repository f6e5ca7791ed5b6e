package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Changes is an append-only arena of state writes (puts and deletions) made
// by one operator subtask between two checkpoints. Building it touches no
// Badger structure, so an operator can fill it in its synchronous phase at
// the cost of copying the changed entries; DB.Apply writes it at the
// checkpoint's epoch in the asynchronous phase. Not safe for concurrent use.
type Changes struct {
	op   uint32
	buf  []byte
	n    int
	kbuf []byte
}

// NewChanges returns an empty arena for operator op with room for about
// sizeHint bytes.
func NewChanges(op uint32, sizeHint int) *Changes {
	return &Changes{op: op, buf: make([]byte, 0, max(sizeHint, 0))}
}

// Len is the number of writes recorded.
func (c *Changes) Len() int { return c.n }

// Size is the arena's size in bytes.
func (c *Changes) Size() int { return len(c.buf) }

// Reset empties the arena, keeping its memory.
func (c *Changes) Reset() { c.buf, c.n = c.buf[:0], 0 }

func (c *Changes) add(del bool, kg uint16, key, ns, value []byte) {
	c.kbuf = EncodeKey(c.kbuf[:0], c.op, 0, kg, key, ns)
	flag := byte(0)
	if del {
		flag = 1
	}
	c.buf = append(c.buf, flag)
	c.buf = binary.AppendUvarint(c.buf, uint64(len(c.kbuf)))
	c.buf = append(c.buf, c.kbuf...)
	if !del {
		c.buf = binary.AppendUvarint(c.buf, uint64(len(value)+1))
		c.buf = append(c.buf, valPlain)
		c.buf = append(c.buf, value...)
	}
	c.n++
}

// Put records that (kg, key, ns) holds value.
func (c *Changes) Put(kg uint16, key, ns, value []byte) { c.add(false, kg, key, ns, value) }

// Delete records that (kg, key, ns) was removed.
func (c *Changes) Delete(kg uint16, key, ns []byte) { c.add(true, kg, key, ns, nil) }

// each calls fn for every recorded write in order; value is nil for a
// deletion. The slices alias the arena.
func (c *Changes) each(fn func(del bool, k, v []byte) error) error {
	return eachChange(c.buf, fn)
}

// eachChange walks an arena's encoding (Changes.buf).
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
