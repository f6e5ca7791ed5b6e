package exec

// Checkpointed state of WindowAgg (Snapshotter, Restorer).
//
// Entries (key group, key, namespace → value):
//
//	TUMBLE, HOP, CUMULATE: (kg of the group key, group key, window start|end
//	    as 16 big-endian bytes, sign bit flipped) → EncodeAccumulators
//	SESSION: (kg, group key, empty) → every open session of the key:
//	    uvarint count, then per session varint start, end, uvarint seq,
//	    EncodeAccumulators
//
// Tracking starts at the first SnapshotState (which writes everything) or at
// RestoreState; until then the hot path pays one predictable branch per row.
// A group changed since the last snapshot is dirty (one byte per group and a
// list per bucket); a fired window that had been persisted leaves a
// deletion. The operator's watermark is not part of the state: after a
// restore it climbs again from the replayed input, so a row that was late
// before the failure is judged again against the new watermark.

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// stringBytes views s as bytes without copying, for StateWriter, which
// copies what it is given and never writes to it.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

const (
	groupDirty     = 1
	groupPersisted = 2
)

type windowDelete struct {
	kg  uint16
	key string
	win Window
}

type windowAggState struct {
	track        bool
	dirtyBuckets []*windowBucket
	deletes      []windowDelete
	sessDirty    map[string]uint16 // SESSION: dirty group keys → key group
	vbuf, nsbuf  []byte
}

var (
	_ Snapshotter = (*WindowAgg)(nil)
	_ Restorer    = (*WindowAgg)(nil)
)

func (w *WindowAgg) markDirty(bw *windowBucket, gi int) {
	if bw.st[gi]&groupDirty != 0 {
		return
	}
	bw.st[gi] |= groupDirty
	if len(bw.dirty) == 0 {
		w.ckState.dirtyBuckets = append(w.ckState.dirtyBuckets, bw)
	}
	bw.dirty = append(bw.dirty, int32(gi))
}

func (w *WindowAgg) markKeyDirty(id int32) {
	k := &w.keyInfo[id]
	w.ckState.sessDirty[k.str] = k.kg
}

// forgetBucket records the deletions of a firing bucket's persisted groups
// and drops it from the dirty list (the bucket is recycled).
func (w *WindowAgg) forgetBucket(bw *windowBucket) {
	cs := &w.ckState
	for gi, st := range bw.st {
		if st&groupPersisted != 0 {
			k := &w.keyInfo[bw.ids[gi]]
			cs.deletes = append(cs.deletes, windowDelete{kg: k.kg, key: k.str, win: bw.win})
		}
	}
	if len(bw.dirty) > 0 {
		for i, d := range cs.dirtyBuckets {
			if d == bw {
				cs.dirtyBuckets = append(cs.dirtyBuckets[:i], cs.dirtyBuckets[i+1:]...)
				break
			}
		}
	}
}

func appendWindowNS(dst []byte, win Window) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(win.Start)^(1<<63))
	return binary.BigEndian.AppendUint64(dst, uint64(win.End)^(1<<63))
}

func decodeWindowNS(ns []byte) (Window, error) {
	if len(ns) != 16 {
		return Window{}, fmt.Errorf("window state: namespace of %d bytes, want 16", len(ns))
	}
	return Window{Start: int64(binary.BigEndian.Uint64(ns) ^ (1 << 63)), End: int64(binary.BigEndian.Uint64(ns[8:]) ^ (1 << 63))}, nil
}

// SnapshotState implements Snapshotter.
func (w *WindowAgg) SnapshotState(_ uint64, out StateWriter) error {
	cs := &w.ckState
	if w.spec.Kind == WindowSession {
		return w.snapshotSessions(out)
	}
	n := w.nAggs
	put := func(bw *windowBucket, gi int) {
		k := &w.keyInfo[bw.ids[gi]]
		cs.vbuf = EncodeAccumulators(cs.vbuf[:0], bw.accs[gi*n:gi*n+n])
		cs.nsbuf = appendWindowNS(cs.nsbuf[:0], bw.win)
		out.Put(k.kg, stringBytes(k.str), cs.nsbuf, cs.vbuf)
		bw.st[gi] = groupPersisted
	}
	if !cs.track {
		cs.track = true
		for _, bw := range w.pending {
			for gi := range bw.ids {
				put(bw, gi)
			}
		}
		return nil
	}
	for _, d := range cs.deletes {
		cs.nsbuf = appendWindowNS(cs.nsbuf[:0], d.win)
		out.Delete(d.kg, stringBytes(d.key), cs.nsbuf)
	}
	clear(cs.deletes)
	cs.deletes = cs.deletes[:0]
	for _, bw := range cs.dirtyBuckets {
		for _, gi := range bw.dirty {
			put(bw, int(gi))
		}
		bw.dirty = bw.dirty[:0]
	}
	clear(cs.dirtyBuckets)
	cs.dirtyBuckets = cs.dirtyBuckets[:0]
	return nil
}

func (w *WindowAgg) encodeSessions(dst []byte, ks *keySessions) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ks.wins)))
	for i, win := range ks.wins {
		dst = binary.AppendVarint(dst, win.Start)
		dst = binary.AppendVarint(dst, win.End)
		dst = binary.AppendUvarint(dst, ks.st[i].seq)
		dst = EncodeAccumulators(dst, ks.st[i].accs)
	}
	return dst
}

func (w *WindowAgg) snapshotSessions(out StateWriter) error {
	cs := &w.ckState
	if !cs.track {
		cs.track = true
		cs.sessDirty = map[string]uint16{}
		for id := range w.sess {
			ks := &w.sess[id]
			if len(ks.wins) == 0 {
				continue
			}
			k := &w.keyInfo[id]
			cs.vbuf = w.encodeSessions(cs.vbuf[:0], ks)
			out.Put(k.kg, stringBytes(k.str), nil, cs.vbuf)
		}
		return nil
	}
	for key, kg := range cs.sessDirty {
		id, ok := w.keyIDs[key]
		if !ok || int(id) >= len(w.sess) || len(w.sess[id].wins) == 0 {
			out.Delete(kg, stringBytes(key), nil)
			continue
		}
		cs.vbuf = w.encodeSessions(cs.vbuf[:0], &w.sess[id])
		out.Put(kg, stringBytes(key), nil, cs.vbuf)
	}
	clear(cs.sessDirty)
	return nil
}

// RestoreState implements Restorer: it rebuilds the open windows of the
// subtask's key groups. Groups restored into one window come first in that
// window's output, in key order.
func (w *WindowAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	cs := &w.ckState
	cs.track = true
	if w.spec.Kind == WindowSession {
		cs.sessDirty = map[string]uint16{}
	}
	n := w.nAggs
	return scan(func(kg uint16, key, ns, value []byte) error {
		id := w.internKey(string(key), kg)
		if w.spec.Kind == WindowSession {
			return w.restoreSessions(id, value)
		}
		win, err := decodeWindowNS(ns)
		if err != nil {
			return err
		}
		bw := w.bucket(win)
		gi := int(w.group(bw, id, w.way(win)))
		if _, err := DecodeAccumulators(value, bw.accs[gi*n:gi*n+n]); err != nil {
			return fmt.Errorf("window state of window [%d, %d): %w", win.Start, win.End, err)
		}
		bw.st[gi] = groupPersisted
		return nil
	})
}

func (w *WindowAgg) restoreSessions(id int32, value []byte) error {
	d := accDecoder{b: value}
	cnt := d.count()
	if int(id) >= len(w.sess) {
		w.sess = append(w.sess, make([]keySessions, int(id)+1-len(w.sess))...)
	}
	ks := &w.sess[id]
	for i := 0; i < cnt && d.err == nil; i++ {
		win := Window{Start: d.varint(), End: d.varint()}
		seq := d.uvarint()
		if d.err != nil {
			break
		}
		accs := w.newAccs()
		rest, err := DecodeAccumulators(d.b, accs)
		if err != nil {
			return fmt.Errorf("session state: %w", err)
		}
		d.b = rest
		st := sessionState{sid: w.nextSID, seq: seq, accs: accs}
		w.nextSID++
		w.nextSeq = max(w.nextSeq, seq+1)
		ks.wins = append(ks.wins, win)
		ks.st = append(ks.st, st)
		w.keyInfo[id].refs++
		w.pushTimer(sessionTimer{end: win.End, id: id, sid: st.sid})
	}
	if d.err != nil {
		return fmt.Errorf("session state: %w", d.err)
	}
	return nil
}

// internKey is intern for a restored key.
func (w *WindowAgg) internKey(s string, kg uint16) int32 {
	if id, ok := w.keyIDs[s]; ok {
		return id
	}
	var id int32
	if n := len(w.freeIDs); n > 0 {
		id = w.freeIDs[n-1]
		w.freeIDs = w.freeIDs[:n-1]
	} else {
		id = int32(len(w.keyInfo))
		w.keyInfo = append(w.keyInfo, windowKey{})
		if w.spec.Kind != WindowSession {
			w.keyCache = append(w.keyCache, make([]windowGroupCache, w.ways)...)
		}
	}
	w.keyInfo[id] = windowKey{str: s, kg: kg}
	w.keyIDs[s] = id
	return id
}
