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
// Tracking starts at TrackChanges (the runtime calls it before the first
// row of a checkpointing job), at the first SnapshotState (which then
// writes everything) or at RestoreState; until then the hot path pays one
// predictable branch per row.
//
// Snapshots are copy-on-write (CopyOnWriteSnapshotter), with epochs
// numbered from 1: capture k closes epoch k. Every group of a window
// bucket records the last capture that wrote it or did not need it
// (done), and each bucket has two bitmaps over its groups: dirty (changed
// in the current epoch) and capt (captured, not written yet); buckets with
// a dirty group are on a list. A capture swaps the two bitmaps of the
// buckets on that list (capt is all clear by then), so it costs one step
// per bucket, never per group. An incremental capture k captures the
// groups of its capt bits; a full one every group with done < k, which
// includes those. A captured group is written when the runtime calls
// ContinueSnapshot between batches, in group order (the bucket's memory
// in order, not the order of the changes) or, if it is about to change or
// its window fires first, right before that, so the capture holds every
// group exactly as it was at the barrier; writing it clears its capt bit
// and sets done = k. Groups created after the capture start with done = k
// and no capt bit. A fired window whose groups had been written leaves
// deletions, written with the next capture, full or not (a full capture
// may stand in a delta when its own checkpoint was aborted). SESSION keys
// do the same per key, with a captured set of changed keys and, for a
// full capture, every key id.
//
// The operator's watermark is not part of the state: after a restore it
// climbs again from the replayed input, so a row that was late before the
// failure is judged again against the new watermark.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"unsafe"
)

// stringBytes views s as bytes without copying, for StateWriter, which
// copies what it is given and never writes to it.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// bucketCk is the checkpoint bookkeeping of one group of a window bucket
// (with the bucket's bitmaps).
type bucketCk struct {
	done      uint32 // last capture that wrote it or did not need it
	persisted bool   // written by some capture: firing it leaves a deletion
	ref       bool   // used since the spill clock last passed (windowagg_spill.go)
}

// groupCk is the checkpoint bookkeeping of one SESSION key (and GroupAgg
// group).
type groupCk struct {
	chg, done uint32 // epoch of the last change; last capture that wrote it
	persisted bool   // written by some capture: firing it leaves a deletion
}

type windowDelete struct {
	kg  uint16
	key string
	win Window
}

type windowAggState struct {
	track bool
	epoch uint32 // changes now belong to this epoch
	capN  uint32 // the last capture's number (epoch-1)
	full  bool   // the capture in progress is full

	dirtyBuckets []*windowBucket
	deletes      []windowDelete

	// the capture in progress: out is nil when there is none
	out         StateWriter
	captBuckets []*windowBucket
	captDeletes []windowDelete
	nextBucket  int // captBuckets[:nextBucket] are written
	sessDirty   sessionKeys
	sessCapt    sessionKeys
	nextKey     int32 // full SESSION capture: key ids below it are written
	vbuf, nsbuf []byte
}

// sessionKeys is a set of SESSION group keys with their key groups, in
// insertion order so that a capture can be written a slice at a time.
type sessionKeys struct {
	kg   map[string]uint16
	keys []string
	next int // keys[:next] are written (captured set only)
}

func (s *sessionKeys) add(key string, kg uint16) {
	if _, ok := s.kg[key]; !ok {
		s.kg[key] = kg
		s.keys = append(s.keys, key)
	}
}

func (s *sessionKeys) reset() {
	clear(s.kg)
	clear(s.keys)
	s.keys, s.next = s.keys[:0], 0
}

var (
	_ CopyOnWriteSnapshotter = (*WindowAgg)(nil)
	_ Restorer               = (*WindowAgg)(nil)
)

// TrackChanges implements CopyOnWriteSnapshotter.
func (w *WindowAgg) TrackChanges() {
	if !w.ckState.track {
		w.startTracking()
	}
}

func (w *WindowAgg) startTracking() {
	cs := &w.ckState
	cs.track = true
	cs.epoch = 1
	if w.spec.Kind == WindowSession {
		cs.sessDirty.kg = map[string]uint16{}
		cs.sessCapt.kg = map[string]uint16{}
	}
}

// captured says whether group gi of bw is part of the open capture and
// not written yet.
func (cs *windowAggState) captured(bw *windowBucket, gi int) bool {
	if cs.out == nil {
		return false
	}
	if cs.full {
		return bw.ck[gi].done < cs.capN
	}
	i := gi >> 6
	return i < len(bw.capt) && bw.capt[i]&(1<<(gi&63)) != 0
}

// changed says whether group gi of bw changed in the current epoch (the
// hot path's check before markDirty; inlined).
func (bw *windowBucket) changed(gi int) bool {
	i := gi >> 6
	return i < len(bw.dirty) && bw.dirty[i]&(1<<(gi&63)) != 0
}

// markDirty is called before group gi of bw changes for the first time in
// the current epoch.
func (w *WindowAgg) markDirty(bw *windowBucket, gi int) {
	i, bit := gi>>6, uint64(1)<<(gi&63)
	cs := &w.ckState
	if cs.captured(bw, gi) {
		w.putGroup(bw, gi) // copy on write
	}
	for i >= len(bw.dirty) {
		bw.dirty = append(bw.dirty, 0)
	}
	bw.dirty[i] |= bit
	if !bw.onDirty {
		bw.onDirty = true
		cs.dirtyBuckets = append(cs.dirtyBuckets, bw)
	}
}

// putGroup writes group gi of bw to the capture.
func (w *WindowAgg) putGroup(bw *windowBucket, gi int) {
	cs := &w.ckState
	n := w.nAggs
	k := &w.keyInfo[bw.ids[gi]]
	cs.vbuf = EncodeAccumulators(cs.vbuf[:0], bw.accs[gi*n:gi*n+n])
	cs.nsbuf = appendWindowNS(cs.nsbuf[:0], bw.win)
	cs.out.Put(k.kg, stringBytes(k.str), cs.nsbuf, cs.vbuf)
	bw.ck[gi] = bucketCk{done: cs.capN, persisted: true}
	if i := gi >> 6; i < len(bw.capt) {
		bw.capt[i] &^= 1 << (gi & 63)
	}
}

// markKeyDirty is called before the sessions of key id change.
func (w *WindowAgg) markKeyDirty(id int32) {
	cs := &w.ckState
	k := &w.keyInfo[id]
	if cs.out != nil {
		if _, ok := cs.sessCapt.kg[k.str]; ok {
			w.putSessions(k.str, k.kg) // copy on write
		} else if cs.full && k.ck.done < cs.capN {
			w.putSessions(k.str, k.kg)
		}
	}
	cs.sessDirty.add(k.str, k.kg)
}

// putSessions writes the sessions of a captured key (a deletion when it has
// none) and takes it out of the captured set.
func (w *WindowAgg) putSessions(key string, kg uint16) {
	cs := &w.ckState
	delete(cs.sessCapt.kg, key)
	id, ok := w.keyIDs[key]
	if !ok || int(id) >= len(w.sess) || len(w.sess[id].wins) == 0 {
		cs.out.Delete(kg, stringBytes(key), nil)
		return
	}
	w.keyInfo[id].ck.done = cs.capN
	cs.vbuf = w.encodeSessions(cs.vbuf[:0], &w.sess[id])
	cs.out.Put(kg, stringBytes(key), nil, cs.vbuf)
}

// forgetBucket is called before a bucket fires and is recycled: captured
// groups are written first, then the groups ever written leave deletions,
// and the bucket leaves the dirty list.
func (w *WindowAgg) forgetBucket(bw *windowBucket) {
	cs := &w.ckState
	if cs.out != nil {
		for gi := range bw.ck {
			if cs.captured(bw, gi) {
				w.putGroup(bw, gi)
			}
		}
	}
	cs.deletes = slices.Grow(cs.deletes, len(bw.ck))
	for gi := range bw.ck {
		if bw.ck[gi].persisted {
			k := &w.keyInfo[bw.ids[gi]]
			cs.deletes = append(cs.deletes, windowDelete{kg: k.kg, key: k.str, win: bw.win})
		}
	}
	if bw.onDirty {
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

// SnapshotState implements Snapshotter: an incremental capture written out
// at once.
func (w *WindowAgg) SnapshotState(id uint64, out StateWriter) error {
	if err := w.CaptureState(id, false, out); err != nil {
		return err
	}
	_, err := w.ContinueSnapshot(0)
	return err
}

// CaptureState implements CopyOnWriteSnapshotter.
func (w *WindowAgg) CaptureState(_ uint64, full bool, out StateWriter) error {
	cs := &w.ckState
	if cs.out != nil {
		if _, err := w.ContinueSnapshot(0); err != nil {
			return err
		}
	}
	if !cs.track {
		w.startTracking()
		full = true // everything held so far is new to the checkpoint
	}
	cs.out, cs.full = out, full
	cs.capN = cs.epoch
	cs.epoch++
	cs.captDeletes, cs.deletes = cs.deletes, cs.captDeletes[:0]
	if w.spec.Kind == WindowSession {
		cs.sessDirty, cs.sessCapt = cs.sessCapt, cs.sessDirty
		cs.nextKey = 0
		return w.captureSpilled(full)
	}
	// the groups changed in the epoch just closed become the captured
	// ones (a full capture writes them too: all have done < capN)
	for _, bw := range cs.dirtyBuckets {
		bw.capt, bw.dirty = bw.dirty, bw.capt
		bw.captNext, bw.onDirty = 0, false
	}
	if full {
		cs.dirtyBuckets = cs.dirtyBuckets[:0]
		cs.captBuckets = append(cs.captBuckets[:0], w.pending...)
		for _, bw := range cs.captBuckets {
			bw.fullNext = 0
		}
	} else {
		cs.captBuckets, cs.dirtyBuckets = cs.dirtyBuckets, cs.captBuckets[:0]
	}
	cs.nextBucket = 0
	return w.captureSpilled(full)
}

// ContinueSnapshot implements CopyOnWriteSnapshotter.
func (w *WindowAgg) ContinueSnapshot(budget int) (bool, error) {
	cs := &w.ckState
	if cs.out == nil {
		return true, nil
	}
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	if w.spec.Kind == WindowSession {
		sc := &cs.sessCapt
		for ; sc.next < len(sc.keys) && budget > 0; sc.next++ {
			if kg, ok := sc.kg[sc.keys[sc.next]]; ok {
				w.putSessions(sc.keys[sc.next], kg)
				budget--
			}
		}
		if sc.next < len(sc.keys) {
			return false, nil
		}
		if cs.full {
			for ; int(cs.nextKey) < len(w.sess) && budget > 0; cs.nextKey++ {
				k := &w.keyInfo[cs.nextKey]
				if k.ck.done < cs.capN && len(w.sess[cs.nextKey].wins) > 0 {
					w.putSessions(k.str, k.kg)
					budget--
				}
			}
			if int(cs.nextKey) < len(w.sess) {
				return false, nil
			}
		}
		if done, err := w.continueSpilled(budget); !done || err != nil {
			return false, err
		}
		sc.reset()
		cs.out = nil
		return true, nil
	}
	for _, d := range cs.captDeletes {
		cs.nsbuf = appendWindowNS(cs.nsbuf[:0], d.win)
		cs.out.Delete(d.kg, stringBytes(d.key), cs.nsbuf)
	}
	budget -= len(cs.captDeletes)
	clear(cs.captDeletes)
	cs.captDeletes = cs.captDeletes[:0]
	for ; cs.nextBucket < len(cs.captBuckets); cs.nextBucket++ {
		bw := cs.captBuckets[cs.nextBucket]
		if cs.full {
			for ; bw.fullNext < len(bw.ck); bw.fullNext++ {
				if budget <= 0 {
					return false, nil
				}
				if bw.ck[bw.fullNext].done < cs.capN {
					w.putGroup(bw, bw.fullNext)
					budget--
				}
			}
			continue
		}
		// putGroup clears the bits it writes: the word read here holds
		// the groups not written yet, and a word is clear once passed
		for ; bw.captNext < len(bw.capt); bw.captNext++ {
			for word := bw.capt[bw.captNext]; word != 0; word &= word - 1 {
				if budget <= 0 {
					return false, nil
				}
				w.putGroup(bw, bw.captNext<<6|bits.TrailingZeros64(word))
				budget--
			}
		}
	}
	if done, err := w.continueSpilled(budget); !done || err != nil {
		return false, err
	}
	clear(cs.captBuckets)
	cs.captBuckets = cs.captBuckets[:0]
	cs.out = nil
	return true, nil
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

// RestoreState implements Restorer: it rebuilds the open windows of the
// subtask's key groups. Groups restored into one window come first in that
// window's output, in key order.
func (w *WindowAgg) RestoreState(scan func(fn func(kg uint16, key, ns, value []byte) error) error) error {
	w.startTracking()
	n, restored := w.nAggs, 0
	err := scan(func(kg uint16, key, ns, value []byte) error {
		if restored++; restored%1024 == 0 { // before an id is taken: eviction may free ids
			if err := w.maybeEvict(); err != nil {
				return err
			}
		}
		id := w.internKey(string(key), kg)
		if w.spec.Kind == WindowSession {
			return w.restoreSessions(id, value, nil)
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
		bw.ck[gi].persisted = true
		return nil
	})
	if err != nil {
		return err
	}
	return w.maybeEvict()
}

// restoreSessions decodes the sessions of key id (as encodeSessions wrote
// them). Restored (sids nil), each gets a new sid, a timer and a reference
// to its key; reloaded from the spill space, each takes back its sid from
// sids and still has its timer and reference.
func (w *WindowAgg) restoreSessions(id int32, value []byte, sids []uint64) error {
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
		ks.wins = append(ks.wins, win)
		if sids != nil {
			if i >= len(sids) {
				return fmt.Errorf("session state: %d sessions for %d timers", cnt, len(sids))
			}
			ks.st = append(ks.st, sessionState{sid: sids[i], seq: seq, accs: accs})
			continue
		}
		st := sessionState{sid: w.nextSID, seq: seq, accs: accs}
		w.nextSID++
		w.nextSeq = max(w.nextSeq, seq+1)
		ks.st = append(ks.st, st)
		w.keyInfo[id].refs++
		w.pushTimer(sessionTimer{end: win.End, id: id, sid: st.sid})
		if w.sp != nil {
			w.sp.mem += w.sessionBytes()
		}
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
	w.keyInfo[id] = windowKey{str: s, kg: kg, ck: groupCk{done: w.ckState.capN}}
	if w.sp != nil {
		w.sp.mem += w.keyBytes(s)
	}
	w.keyIDs[s] = id
	return id
}
