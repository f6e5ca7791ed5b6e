package state

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestChangesChunks checks an arena spread over many chunks, with keys
// that need escaping and a record larger than a chunk: its writes come
// back in order, and a snapshot of it restores them.
func TestChangesChunks(t *testing.T) {
	c := NewChanges(3, 0)
	type w struct {
		del        bool
		key, value string
	}
	var want []w
	for i := range 40_000 {
		key := fmt.Sprintf("k\x00%06d", i)
		if i%7 == 0 {
			c.Delete(uint16(i%9), []byte(key), []byte{1, 2})
			want = append(want, w{true, key, ""})
			continue
		}
		v := strings.Repeat("v", i%100)
		if i == 20_000 {
			v = strings.Repeat("x", ChunkSize+100)
		}
		c.Put(uint16(i%9), []byte(key), []byte{1, 2}, []byte(v))
		want = append(want, w{false, key, v})
	}
	if len(c.chunks) < 4 {
		t.Fatalf("%d chunks, want several", len(c.chunks))
	}
	size := 0
	for _, b := range c.chunks {
		size += len(b)
	}
	if c.Size() != size || c.Len() != len(want) {
		t.Fatalf("Size %d Len %d, chunks hold %d bytes, want %d writes", c.Size(), c.Len(), size, len(want))
	}
	i := 0
	err := c.each(func(del bool, k, v []byte) error {
		_, _, kg, key, ns, err := DecodeKey(k)
		if err != nil {
			return err
		}
		g := want[i]
		if del != g.del || string(key) != g.key || kg != uint16(i%9) || !bytes.Equal(ns, []byte{1, 2}) || (!del && string(v[1:]) != g.value) {
			return fmt.Errorf("write %d: del %v key %q kg %d ns %x, want %+v", i, del, key, kg, ns, g)
		}
		i++
		return nil
	})
	if err != nil || i != len(want) {
		t.Fatalf("%d writes read: %v", i, err)
	}
	var b bytes.Buffer
	if _, err := WriteArenas(&b, 1, 0, []ArenaAt{{1, c}}); err != nil {
		t.Fatal(err)
	}
	db, err := Restore(t.TempDir(), bytes.NewReader(b.Bytes()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.ScanOperator(3, 0, 8, func(kg uint16, key, ns, value []byte) error {
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if live := len(want) - (len(want)+6)/7; n != live {
		t.Errorf("restored %d keys, want %d", n, live)
	}
}

// TestArenaOneFrame: an arena in one chunk larger than ChunkSize is
// written as one frame, as every arena was before arenas had chunks, and
// such a file restores.
func TestArenaOneFrame(t *testing.T) {
	c := NewChanges(3, 4*ChunkSize)
	for i := range 100_000 {
		c.Put(uint16(i%9), []byte(fmt.Sprintf("key%06d", i)), nil, []byte("value"))
	}
	if len(c.chunks) != 1 || c.Size() <= ChunkSize {
		t.Fatalf("%d chunks, %d bytes: want one chunk above ChunkSize", len(c.chunks), c.Size())
	}
	var b bytes.Buffer
	if _, err := WriteArenas(&b, 1, 0, []ArenaAt{{1, c}}); err != nil {
		t.Fatal(err)
	}
	db, err := Restore(t.TempDir(), bytes.NewReader(b.Bytes()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.ScanOperator(3, 0, 8, func(kg uint16, key, ns, value []byte) error {
		if string(value) != "value" {
			return fmt.Errorf("key %q: value %q", key, value)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 100_000 {
		t.Errorf("restored %d keys, want 100000", n)
	}
}

// TestChunkPool checks that a pooled arena's chunks go back to the pool
// only when its last reference is released, are reused by the next arena,
// and that misuse is caught.
func TestChunkPool(t *testing.T) {
	p := NewChunkPool(0, 64*ChunkSize)
	fill := func(c *Changes) {
		for i := range 60_000 {
			c.Put(1, []byte(fmt.Sprintf("key%06d", i)), nil, []byte("some value"))
		}
	}
	a := p.NewChanges(1)
	fill(a)
	var full [][]byte
	for _, b := range a.chunks {
		if cap(b) == ChunkSize {
			full = append(full, b)
		}
	}
	if len(full) == 0 {
		t.Fatal("no full-size chunk")
	}
	a.Retain()
	a.Release()
	if len(p.free) != 0 || a.released() {
		t.Fatal("chunks pooled while a reference is held")
	}
	if _, err := WriteArenas(io.Discard, 1, 0, []ArenaAt{{1, a}}); err != nil {
		t.Fatal(err)
	}
	a.Release()
	if len(p.free) != len(full) || !a.released() {
		t.Fatalf("%d chunks pooled, want %d", len(p.free), len(full))
	}
	if _, err := WriteArenas(io.Discard, 1, 0, []ArenaAt{{1, a}}); err == nil {
		t.Error("released arena written")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second release did not panic")
			}
		}()
		a.Release()
	}()
	b := p.NewChanges(1)
	fill(b)
	reused := 0
	for _, c := range b.chunks {
		for _, f := range full {
			if cap(c) == ChunkSize && &c[:1][0] == &f[:1][0] {
				reused++
			}
		}
	}
	if reused != len(full) {
		t.Errorf("%d of %d pooled chunks reused", reused, len(full))
	}
	// an unpooled arena keeps its chunks over Reset
	u := NewChanges(1, 0)
	fill(u)
	u.Reset()
	if u.Len() != 0 || u.Size() != 0 || len(u.spare) == 0 {
		t.Fatalf("after Reset: Len %d Size %d, %d spare chunks", u.Len(), u.Size(), len(u.spare))
	}
	fill(u)
	if len(u.spare) != 0 {
		t.Errorf("%d spare chunks left unused", len(u.spare))
	}
}
