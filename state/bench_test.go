package state

import (
	"encoding/binary"
	"testing"
)

// BenchmarkTablePut: 1M puts of distinct 24-byte keys, 64-byte values,
// cache smaller than the state (spills), committed at the end.
func BenchmarkTablePut(b *testing.B) {
	for _, distinct := range []int{1 << 20, 1 << 14} {
		name := "distinct1M"
		if distinct != 1<<20 {
			name = "repeated16k"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				db := openT(b)
				tb, _ := db.Table(1, 1, TableOptions{MaxEntries: 1 << 16})
				key := make([]byte, 24)
				val := make([]byte, 64)
				for i := range 1 << 20 {
					binary.BigEndian.PutUint64(key[16:], uint64(i%distinct))
					if err := tb.Put(uint16(i%128), key, nil, val); err != nil {
						b.Fatal(err)
					}
				}
				if err := tb.Commit(tb.Epoch()); err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
		})
	}
}

// BenchmarkCommit: the synchronous phase with 10k dirty keys over 1M keys of state.
func BenchmarkCommit(b *testing.B) {
	db := openT(b)
	tb, _ := db.Table(1, 1, TableOptions{MaxEntries: 1 << 16})
	key := make([]byte, 24)
	val := make([]byte, 64)
	for i := range 1 << 20 {
		binary.BigEndian.PutUint64(key[16:], uint64(i))
		tb.Put(uint16(i%128), key, nil, val)
	}
	tb.Commit(tb.Epoch())
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for j := range 10000 {
			binary.BigEndian.PutUint64(key[16:], uint64((i*10000+j)%(1<<20)))
			tb.Put(uint16(j%128), key, nil, val)
		}
		b.StartTimer()
		if err := tb.Commit(tb.Epoch()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChangesPut: puts of a window aggregate's capture into a pooled
// arena (a 9-byte group key with zero bytes, a 16-byte window namespace, a
// 20-byte value), recycled every 1M puts as the runtime does.
func BenchmarkChangesPut(b *testing.B) {
	p := NewChunkPool(0, 256<<20)
	c := p.NewChanges(2)
	key := []byte{byte(5), 0x40, 0x42, 0x0f, 0, 0, 0, 0, 0}
	ns := make([]byte, 16)
	val := make([]byte, 20)
	i := 0
	for b.Loop() {
		binary.LittleEndian.PutUint32(key[1:], uint32(i))
		c.Put(uint16(i&1023), key, ns, val)
		if i++; i%(1<<20) == 0 {
			c.Release()
			c = p.NewChanges(2)
		}
	}
}
