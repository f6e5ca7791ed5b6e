package state

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// TestWriteArenasRestore checks format-2 snapshots: a full snapshot and
// deltas made of arenas of several epochs restore to the state a map model
// holds, with key-group filtering, and damage is reported.
func TestWriteArenasRestore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type entry struct {
		kg  uint16
		key string
	}
	live := map[entry]string{}
	arena := func() *Changes {
		c := NewChanges(7, 0)
		seen := map[entry]bool{}
		for range 300 {
			e := entry{uint16(r.IntN(16)), fmt.Sprintf("k%03d", r.IntN(200))}
			if seen[e] {
				continue
			}
			seen[e] = true
			if r.IntN(4) == 0 {
				c.Delete(e.kg, []byte(e.key), []byte("ns"))
				delete(live, e)
				continue
			}
			v := fmt.Sprintf("v%d", r.IntN(1e6))
			c.Put(e.kg, []byte(e.key), []byte("ns"), []byte(v))
			live[e] = v
		}
		return c
	}
	write := func(epoch, since uint64, arenas ...ArenaAt) []byte {
		var b bytes.Buffer
		st, err := WriteArenas(&b, epoch, since, arenas)
		if err != nil {
			t.Fatal(err)
		}
		if st.Bytes != int64(b.Len()) {
			t.Fatalf("stats say %d bytes, wrote %d", st.Bytes, b.Len())
		}
		return b.Bytes()
	}
	// the full snapshot at epoch 2: a finished subtask's arena of epoch 1
	// and a capture of epoch 2
	full := write(2, 0, ArenaAt{1, arena()}, ArenaAt{2, arena()})
	d1 := write(4, 2, ArenaAt{3, arena()}, ArenaAt{4, arena()})
	d2 := write(5, 4, ArenaAt{5, arena()})
	keep := func(kg uint16) bool { return kg >= 4 && kg <= 11 }
	for _, filtered := range []bool{false, true} {
		var kf func(uint16) bool
		if filtered {
			kf = keep
		}
		db, err := Restore(t.TempDir(), bytes.NewReader(full), []io.Reader{bytes.NewReader(d1), bytes.NewReader(d2)}, kf)
		if err != nil {
			t.Fatal(err)
		}
		got := map[entry]string{}
		if err := db.ScanOperator(7, 0, 15, func(kg uint16, key, ns, value []byte) error {
			if string(ns) != "ns" {
				t.Errorf("namespace %q", ns)
			}
			got[entry{kg, string(key)}] = string(value)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := 0
		for e, v := range live {
			if filtered && !keep(e.kg) {
				continue
			}
			want++
			if got[e] != v {
				t.Errorf("filtered=%v: %v = %q, want %q", filtered, e, got[e], v)
			}
		}
		if len(got) != want || want == 0 {
			t.Errorf("filtered=%v: restored %d entries, want %d", filtered, len(got), want)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// damage: truncated, a flipped byte, a delta that does not follow
	if _, err := Restore(t.TempDir(), bytes.NewReader(full[:len(full)-3]), nil, nil); err == nil {
		t.Error("truncated full snapshot restored")
	}
	bad := bytes.Clone(d1)
	bad[40] ^= 1
	if _, err := Restore(t.TempDir(), bytes.NewReader(full), []io.Reader{bytes.NewReader(bad)}, nil); err == nil {
		t.Error("corrupt delta restored")
	}
	if _, err := Restore(t.TempDir(), bytes.NewReader(full), []io.Reader{bytes.NewReader(d2)}, nil); err == nil {
		t.Error("delta (4, 5] restored on a chain at 2")
	}
	if _, err := WriteArenas(io.Discard, 5, 4, []ArenaAt{{3, arena()}}); err == nil {
		t.Error("arena of epoch 3 accepted in (4, 5]")
	}
}
