package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"sync"
	"testing"
)

func openT(t testing.TB) *DB {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestKeyRoundTripAndOrder(t *testing.T) {
	keys := [][]byte{nil, {0}, {0, 0}, {0, 1}, {1}, {1, 0}, []byte("a"), []byte("ab"), {0xFF}}
	var enc [][]byte
	for _, k := range keys {
		for _, ns := range [][]byte{nil, {0, 0, 0, 1}, {0xFF}} {
			e := EncodeKey(nil, 7, 3, 513, k, ns)
			op, sid, kg, k2, ns2, err := DecodeKey(e)
			if err != nil || op != 7 || sid != 3 || kg != 513 || !bytes.Equal(k, k2) || !bytes.Equal(ns, ns2) {
				t.Fatalf("round trip %x/%x: %d %d %d %x %x %v", k, ns, op, sid, kg, k2, ns2, err)
			}
			if g, _ := KeyGroupOf(e); g != 513 {
				t.Fatal("KeyGroupOf")
			}
			enc = append(enc, e)
		}
	}
	// Order: by key group first, then user key bytes, then namespace.
	a := EncodeKey(nil, 1, 1, 1, []byte("zz"), nil)
	b := EncodeKey(nil, 1, 1, 2, []byte("a"), nil)
	if bytes.Compare(a, b) >= 0 {
		t.Fatal("key group must dominate")
	}
	sorted := append([][]byte(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	for i := 1; i < len(sorted); i++ {
		x := EncodeKey(nil, 1, 1, 1, sorted[i-1], []byte{0xFF, 0xFF})
		y := EncodeKey(nil, 1, 1, 1, sorted[i], nil)
		if bytes.Compare(x, y) >= 0 && !bytes.Equal(sorted[i-1], sorted[i]) {
			t.Fatalf("order %x < %x not kept", sorted[i-1], sorted[i])
		}
	}
	// Prefix-freeness: key "a" + any ns never starts with the prefix of key "ab".
	if bytes.HasPrefix(EncodeKey(nil, 1, 1, 1, []byte("a"), []byte("b")), EncodeKey(nil, 1, 1, 1, []byte("ab"), nil)) {
		t.Fatal("not prefix free")
	}
	if f, l := KeyGroupRange(128, 3, 0); f != 0 || l != 42 {
		t.Fatal(f, l)
	}
	if f, l := KeyGroupRange(128, 3, 2); f != 86 || l != 127 {
		t.Fatal(f, l)
	}
}

func k(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }

func TestCacheEvictionSpillsAndReadsBack(t *testing.T) {
	db := openT(t)
	tb, err := db.Table(1, 1, TableOptions{MaxEntries: 100, SpillEntries: 30})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		if err := tb.Put(uint16(i%128), k(i), nil, k(i*2)); err != nil {
			t.Fatal(err)
		}
	}
	if tb.Len() > 100 {
		t.Fatalf("cache holds %d entries", tb.Len())
	}
	for i := range n {
		v, ok, err := tb.Get(uint16(i%128), k(i), nil)
		if err != nil || !ok || !bytes.Equal(v, k(i*2)) {
			t.Fatalf("get %d: %q %v %v", i, v, ok, err)
		}
	}
	// Overwrite and delete while evicting, then commit and re-read.
	for i := 0; i < n; i += 2 {
		if err := tb.Delete(uint16(i%128), k(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Commit(1); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		_, ok, err := tb.Get(uint16(i%128), k(i), nil)
		if err != nil || ok != (i%2 == 1) {
			t.Fatalf("after commit %d: %v %v", i, ok, err)
		}
	}
}

func TestCommitEpochSwitching(t *testing.T) {
	db := openT(t)
	tb, _ := db.Table(2, 1, TableOptions{})
	if tb.Epoch() != 1 {
		t.Fatal(tb.Epoch())
	}
	tb.Put(1, []byte("a"), nil, []byte("v1"))
	if err := tb.Commit(2); err == nil {
		t.Fatal("commit of wrong epoch accepted")
	}
	if err := tb.Commit(1); err != nil {
		t.Fatal(err)
	}
	tb.Put(1, []byte("a"), nil, []byte("v2"))
	if err := tb.Commit(2); err != nil {
		t.Fatal(err)
	}
	if tb.Epoch() != 3 || db.Epoch() != 3 {
		t.Fatal(tb.Epoch(), db.Epoch())
	}
	// Read at each epoch straight from Badger.
	for ep, want := range map[uint64]string{1: "v1", 2: "v2"} {
		txn := db.bdb.NewTransactionAt(ep, false)
		it, err := txn.Get(EncodeKey(nil, 2, 1, 1, []byte("a"), nil))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := it.ValueCopy(nil)
		if string(v[1:]) != want || it.Version() != ep {
			t.Fatalf("epoch %d: %q v%d", ep, v, it.Version())
		}
		txn.Discard()
	}
}

func TestScanAndDeleteRange(t *testing.T) {
	db := openT(t)
	tb, _ := db.Table(3, 1, TableOptions{MaxEntries: 4, SpillEntries: 64})
	ns := func(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }
	for w := uint64(1); w <= 10; w++ {
		tb.Put(5, []byte("k"), ns(w*10), ns(w))
		tb.Put(5, []byte("k\x00"), ns(w), ns(w)) // neighbouring key must not leak in
	}
	tb.Commit(1)
	tb.Put(5, []byte("k"), ns(55), ns(55)) // cached only
	tb.Delete(5, []byte("k"), ns(30))
	var got []uint64
	err := tb.Scan(5, []byte("k"), func(n, v []byte) bool {
		got = append(got, binary.BigEndian.Uint64(n))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{10, 20, 40, 50, 55, 60, 70, 80, 90, 100}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scan %v want %v", got, want)
	}
	if err := tb.DeleteRange(5, []byte("k"), nil, ns(60)); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	tb.Scan(5, []byte("k"), func(n, v []byte) bool { got = append(got, binary.BigEndian.Uint64(n)); return true })
	if fmt.Sprint(got) != "[60 70 80 90 100]" {
		t.Fatal(got)
	}
	tb.DeleteKey(5, []byte("k"))
	got = got[:0]
	tb.Scan(5, []byte("k"), func(n, v []byte) bool { got = append(got, 1); return true })
	if len(got) != 0 {
		t.Fatal(got)
	}
	cnt := 0
	tb.ScanGroups(0, 10, func(kg uint16, key, n, v []byte) bool { cnt++; return true })
	if cnt != 10 {
		t.Fatalf("ScanGroups saw %d", cnt)
	}
}

func TestTTL(t *testing.T) {
	db := openT(t)
	tb, _ := db.Table(4, 1, TableOptions{TTL: 100, MaxEntries: 10})
	tb.SetTime(1000)
	for i := range 50 {
		tb.Put(uint16(i), k(i), nil, []byte("v"))
	}
	tb.SetTime(1050)
	tb.Put(0, k(0), nil, []byte("fresh"))
	tb.SetTime(1099)
	if _, ok, _ := tb.Get(1, k(1), nil); !ok {
		t.Fatal("expired too early")
	}
	tb.SetTime(1100)
	if _, ok, _ := tb.Get(1, k(1), nil); ok {
		t.Fatal("not expired")
	}
	if v, ok, _ := tb.Get(0, k(0), nil); !ok || string(v) != "fresh" {
		t.Fatal("fresh entry lost")
	}
	n, err := tb.ExpireGroups(0, 127)
	if err != nil || n != 48 {
		t.Fatalf("expired %d %v", n, err)
	}
	tb.SetTime(0)
	if _, ok, _ := tb.Get(2, k(2), nil); ok {
		t.Fatal("expired entry not removed")
	}
}

// model is the expected state: key → value.
type model map[string]string

func dump(t testing.TB, db *DB) model {
	t.Helper()
	m := model{}
	txn := db.bdb.NewTransactionAt(^uint64(0)-1, false)
	defer txn.Discard()
	it := txn.NewIterator(badgerIterOpts())
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, _ := it.Item().ValueCopy(nil)
		m[string(it.Item().Key())] = string(v)
	}
	return m
}

func dumpAt(t testing.TB, db *DB, ts uint64) model {
	m := model{}
	txn := db.bdb.NewTransactionAt(ts, false)
	defer txn.Discard()
	it := txn.NewIterator(badgerIterOpts())
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, _ := it.Item().ValueCopy(nil)
		m[string(it.Item().Key())] = string(v)
	}
	return m
}

func eq(t *testing.T, what string, got, want model) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: key %x = %q want %q", what, k, got[k], v)
		}
	}
}

func TestSnapshotDeltasRestore(t *testing.T) {
	db := openT(t)
	tb, _ := db.Table(9, 1, TableOptions{MaxEntries: 500, SpillEntries: 100})
	rng := rand.New(rand.NewSource(1))
	var snaps [][]byte
	var live []model
	var since uint64
	for ep := uint64(1); ep <= 3; ep++ {
		for i := range 3000 {
			j := rng.Intn(2000)
			if ep > 1 && i%3 == 0 {
				tb.Delete(uint16(j%128), k(j), nil)
			} else {
				tb.Put(uint16(j%128), k(j), nil, []byte(fmt.Sprintf("e%d-%d", ep, i)))
			}
		}
		if err := db.Commit(ep); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		st, err := db.Snapshot(ep, since, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if ep > 1 && st.Tombstones == 0 {
			t.Fatal("delta without tombstones")
		}
		t.Logf("epoch %d since %d: %+v", ep, since, st)
		db.Acknowledge(ep)
		since = ep
		snaps = append(snaps, buf.Bytes())
		live = append(live, dumpAt(t, db, ep))
	}
	// Writes after the last checkpoint must not appear in the restore.
	tb.Put(0, []byte("late"), nil, []byte("x"))

	for upto := 1; upto <= 3; upto++ {
		var deltas []io.Reader
		for _, s := range snaps[1:upto] {
			deltas = append(deltas, bytes.NewReader(s))
		}
		r, err := Restore(t.TempDir(), bytes.NewReader(snaps[0]), deltas, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, fmt.Sprintf("restore to %d", upto), dump(t, r), live[upto-1])
		if r.Epoch() != uint64(upto)+1 {
			t.Fatal("restored epoch", r.Epoch())
		}
		// The restored DB works: a table reads and writes.
		rt, _ := r.Table(9, 1, TableOptions{})
		if err := rt.Put(1, []byte("new"), nil, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := rt.Commit(uint64(upto) + 1); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}

	// Truncated snapshots are refused.
	if _, err := Restore(t.TempDir(), bytes.NewReader(snaps[0][:len(snaps[0])-5]), nil, nil); err == nil {
		t.Fatal("truncated full accepted")
	}
	// A delta out of order is refused.
	if _, err := Restore(t.TempDir(), bytes.NewReader(snaps[0]), []io.Reader{bytes.NewReader(snaps[2])}, nil); err == nil {
		t.Fatal("gap accepted")
	}

	// Rescaling: keep only groups 10..20.
	keep := func(g uint16) bool { return g >= 10 && g <= 20 }
	r, err := Restore(t.TempDir(), bytes.NewReader(snaps[0]), []io.Reader{bytes.NewReader(snaps[1]), bytes.NewReader(snaps[2])}, keep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := model{}
	for kk, v := range live[2] {
		if g, _ := KeyGroupOf([]byte(kk)); keep(g) {
			want[kk] = v
		}
	}
	eq(t, "filtered restore", dump(t, r), want)
}

func TestSnapshotUnderConcurrentWrites(t *testing.T) {
	db := openT(t)
	tb, _ := db.Table(11, 1, TableOptions{MaxEntries: 1000})
	for i := range 20000 {
		tb.Put(uint16(i%128), k(i), nil, []byte("epoch1"))
	}
	if err := tb.Commit(1); err != nil {
		t.Fatal(err)
	}
	want := dumpAt(t, db, 1)
	for round := range 5 {
		var wg sync.WaitGroup
		wg.Add(1)
		stop := make(chan struct{})
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				j := i % 20000
				if i%5 == 0 {
					tb.Delete(uint16(j%128), k(j), nil)
				} else {
					tb.Put(uint16(j%128), k(j), nil, []byte(fmt.Sprintf("later-%d-%d", round, i)))
				}
				tb.Put(uint16(j%128), k(j+100000), nil, []byte("new"))
			}
		}()
		var buf bytes.Buffer
		_, err := db.Snapshot(1, 0, &buf)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		r, err := Restore(t.TempDir(), &buf, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "snapshot under writes", dump(t, r), want)
		r.Close()
	}
}
