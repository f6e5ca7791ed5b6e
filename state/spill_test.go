package state

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpillSpaceModel drives two spaces of one store with random puts,
// deletes, flushes and snapshots against a map per space: Get always sees
// the space's own latest writes, a snapshot keeps what the space held when
// it was taken whatever is written afterwards, and spaces never see each
// other's keys.
func TestSpillSpaceModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	s, err := OpenSpill(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	spaces := []*SpillSpace{s.Space(), s.Space()}
	models := []map[string]string{{}, {}}
	type snap struct {
		s     *SpillSnapshot
		model map[string]string
		space int
	}
	var snaps []snap
	key := func() (uint16, []byte) {
		kg := uint16(rng.IntN(4))
		return kg, []byte(fmt.Sprintf("k%03d", rng.IntN(300)))
	}
	mk := func(kg uint16, k []byte) string { return fmt.Sprintf("%d/%s", kg, k) }
	for step := 0; step < 20000; step++ {
		i := rng.IntN(2)
		sp, m := spaces[i], models[i]
		switch r := rng.IntN(100); {
		case r < 45:
			kg, k := key()
			v := fmt.Sprintf("v%d-%d", i, step)
			if rng.IntN(20) == 0 {
				v = ""
			}
			if err := sp.Put(kg, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
			m[mk(kg, k)] = v
		case r < 65:
			kg, k := key()
			if err := sp.Delete(kg, k); err != nil {
				t.Fatal(err)
			}
			delete(m, mk(kg, k))
		case r < 95:
			kg, k := key()
			v, ok, err := sp.Get(kg, k)
			if err != nil {
				t.Fatal(err)
			}
			want, wok := m[mk(kg, k)]
			if ok != wok || string(v) != want || (ok && v == nil) {
				t.Fatalf("step %d space %d: Get(%s) = %q %v, want %q %v", step, i, mk(kg, k), v, ok, want, wok)
			}
		case r < 96:
			if err := sp.Flush(); err != nil {
				t.Fatal(err)
			}
		case r < 97:
			// a prefix scan that deletes some of what it is handed: it
			// sees the space as it was at the call
			kg := uint16(rng.IntN(4))
			prefix := []byte(fmt.Sprintf("k%d", rng.IntN(3)))
			want := map[string]string{}
			for k, v := range m {
				if strings.HasPrefix(k, mk(kg, prefix)) {
					want[k] = v
				}
			}
			got := map[string]string{}
			err := sp.Scan(kg, prefix, func(k, v []byte) error {
				got[mk(kg, k)] = string(v)
				if rng.IntN(2) == 0 {
					delete(m, mk(kg, k))
					return sp.Delete(kg, k)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Fatalf("step %d space %d: Scan(%d, %s) = %v, want %v", step, i, kg, prefix, got, want)
			}
		default:
			ss, err := sp.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			cp := map[string]string{}
			for k, v := range m {
				cp[k] = v
			}
			snaps = append(snaps, snap{ss, cp, i})
		}
	}
	if len(snaps) < 5 {
		t.Fatalf("only %d snapshots", len(snaps))
	}
	for n, sn := range snaps {
		got := map[string]string{}
		for {
			done, err := sn.s.Each(7, func(kg uint16, k, v []byte) error {
				got[mk(kg, k)] = string(v)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
		if len(got) != len(sn.model) {
			t.Fatalf("snapshot %d (space %d): %d entries, want %d", n, sn.space, len(got), len(sn.model))
		}
		for k, v := range sn.model {
			if got[k] != v {
				t.Fatalf("snapshot %d: %s = %q, want %q", n, k, got[k], v)
			}
		}
		sn.s.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("spill directory left behind: %v", err)
	}
}

// TestSpillStoreCloseFirst: closing the store releases what its spaces
// still hold (a read transaction, an unfinished snapshot walk), and
// closing those afterwards does nothing, instead of blocking on a closed
// Badger.
func TestSpillStoreCloseFirst(t *testing.T) {
	s, err := OpenSpill(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	sp := s.Space()
	for i := range 10 {
		if err := sp.Put(uint16(i%3), []byte{byte(i)}, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sp.Get(0, []byte{0}); err != nil { // opens the read transaction
		t.Fatal(err)
	}
	snap, err := sp.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if done, err := snap.Each(3, func(uint16, []byte, []byte) error { return nil }); done || err != nil {
		t.Fatalf("walk of 3 of 10: done %v, %v", done, err)
	}
	if _, _, err := sp.Get(1, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sp.Close()
	snap.Close()
}
